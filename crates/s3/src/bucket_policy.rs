//! Bucket policies: validated documents in a file per bucket, compiled and cached for the
//! authorizer.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use podpass_policy::{NamedPolicy, Policy, PolicyError, PolicyKind, PolicyType};

/// Why a bucket policy could not be stored or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BucketPolicyError {
    /// The document is not a valid resource policy (S3's `MalformedPolicy`).
    #[error("{0}")]
    Malformed(#[from] PolicyError),
    /// The bucket name cannot name a file.
    #[error("invalid bucket name {0:?}")]
    BucketName(String),
    /// A stored document no longer parses.
    #[error("stored policy of bucket {bucket} is invalid: {source}")]
    Corrupt {
        /// The bucket.
        bucket: String,
        /// Parser error.
        source: PolicyError,
    },
    /// Reading or writing the policy file failed.
    #[error("bucket policy file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A bucket's policy: its text as given and compiled.
#[derive(Debug)]
pub(crate) struct StoredPolicy {
    /// The document as the client sent it (GetBucketPolicy returns it verbatim).
    pub text: String,
    /// The compiled resource policy.
    pub compiled: Arc<NamedPolicy>,
}

/// The bucket policies under one directory, cached after first read.
#[derive(Debug)]
pub(crate) struct BucketPolicies {
    dir: PathBuf,
    cache: RwLock<HashMap<String, Option<Arc<StoredPolicy>>>>,
}

fn compile(bucket: &str, text: &str) -> Result<Arc<NamedPolicy>, PolicyError> {
    let policy = Policy::parse(text, PolicyKind::Resource)?;
    let named = NamedPolicy::new(
        format!("bucket policy of {bucket}"),
        PolicyType::Inline,
        policy,
    );
    Ok(Arc::new(named))
}

impl BucketPolicies {
    /// Policies stored under `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        BucketPolicies {
            dir,
            cache: RwLock::new(HashMap::new()),
        }
    }

    fn path(&self, bucket: &str) -> Result<PathBuf, BucketPolicyError> {
        // s3s validates bucket names already; this keeps the file name safe regardless.
        let safe = !bucket.is_empty()
            && !bucket.starts_with('.')
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !safe {
            return Err(BucketPolicyError::BucketName(bucket.to_owned()));
        }
        Ok(self.dir.join(format!("{bucket}.json")))
    }

    fn cached(&self, bucket: &str) -> Option<Option<Arc<StoredPolicy>>> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(bucket).cloned()
    }

    fn remember(&self, bucket: &str, policy: Option<Arc<StoredPolicy>>) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(bucket.to_owned(), policy);
    }

    /// The bucket's policy, if it has one.
    pub async fn get(&self, bucket: &str) -> Result<Option<Arc<StoredPolicy>>, BucketPolicyError> {
        if let Some(policy) = self.cached(bucket) {
            return Ok(policy);
        }
        let path = self.path(bucket)?;
        let policy = match tokio::fs::read_to_string(&path).await {
            Ok(text) => {
                let compiled =
                    compile(bucket, &text).map_err(|source| BucketPolicyError::Corrupt {
                        bucket: bucket.to_owned(),
                        source,
                    })?;
                Some(Arc::new(StoredPolicy { text, compiled }))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(BucketPolicyError::Io { path, source }),
        };
        self.remember(bucket, policy.clone());
        Ok(policy)
    }

    /// Validates and stores `text` as the bucket's policy, replacing any previous one.
    pub async fn put(&self, bucket: &str, text: String) -> Result<(), BucketPolicyError> {
        let compiled = compile(bucket, &text)?;
        let path = self.path(bucket)?;
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| BucketPolicyError::Io { path, source }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        // Write then rename: a crash never leaves a half-written policy behind.
        let temporary = self.dir.join(format!(".{bucket}.json.tmp"));
        tokio::fs::write(&temporary, text.as_bytes())
            .await
            .map_err(io(&temporary))?;
        tokio::fs::rename(&temporary, &path)
            .await
            .map_err(io(&path))?;
        self.remember(bucket, Some(Arc::new(StoredPolicy { text, compiled })));
        Ok(())
    }

    /// Removes the bucket's policy; `false` when it had none.
    pub async fn delete(&self, bucket: &str) -> Result<bool, BucketPolicyError> {
        let path = self.path(bucket)?;
        let existed = match tokio::fs::remove_file(&path).await {
            Ok(()) => true,
            Err(error) if error.kind() == io::ErrorKind::NotFound => false,
            Err(source) => return Err(BucketPolicyError::Io { path, source }),
        };
        self.remember(bucket, None);
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    #[tokio::test]
    async fn stores_reads_back_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let policies = BucketPolicies::new(dir.path().join("policies"));
        assert!(policies.get("b").await.unwrap().is_none());
        policies.put("b", POLICY.to_owned()).await.unwrap();
        assert_eq!(policies.get("b").await.unwrap().unwrap().text, POLICY);
        // A fresh instance reads the file.
        let reopened = BucketPolicies::new(dir.path().join("policies"));
        assert_eq!(reopened.get("b").await.unwrap().unwrap().text, POLICY);
        assert!(policies.delete("b").await.unwrap());
        assert!(!policies.delete("b").await.unwrap());
        assert!(policies.get("b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn rejects_malformed_policies_and_unsafe_names() {
        let dir = tempfile::tempdir().unwrap();
        let policies = BucketPolicies::new(dir.path().to_owned());
        let missing_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert!(matches!(
            policies.put("b", missing_principal.to_owned()).await,
            Err(BucketPolicyError::Malformed(_))
        ));
        assert!(matches!(
            policies.put("../x", POLICY.to_owned()).await,
            Err(BucketPolicyError::BucketName(_))
        ));
        assert!(policies.get("b").await.unwrap().is_none());
    }
}
