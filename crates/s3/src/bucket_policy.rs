//! Bucket policies: validated documents kept in the store, so that replicas of the endpoint share
//! them, compiled and cached for the authorizer.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use podpass_policy::{
    NamedPolicy, Policy, PolicyError, PolicyKind, PolicyType, SizedDocument, check_size,
};
use podpass_store::{Store, StoreError};

/// How long a bucket's policy (or its absence) is reused before the store is read again: a write
/// through another replica takes effect within this time, IAM's own kind of eventual consistency.
/// Writes through this endpoint take effect at once.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// Buckets whose policy is cached at once (names come from requests, so the cache is bounded).
const CACHE_CAPACITY: u64 = 10_000;

/// Why a bucket policy could not be stored or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BucketPolicyError {
    /// The document is not a valid resource policy (S3's `MalformedPolicy`).
    #[error("{0}")]
    Malformed(#[from] PolicyError),
    /// A stored document no longer parses.
    #[error("stored policy of bucket {bucket} is invalid: {source}")]
    Corrupt {
        /// The bucket.
        bucket: String,
        /// Parser error.
        source: PolicyError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A policy file of an earlier podpass could not be read or set aside.
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

/// The bucket policies of the store, cached for [`CACHE_TTL`].
pub(crate) struct BucketPolicies {
    store: Store,
    cache: moka::sync::Cache<String, Option<Arc<StoredPolicy>>>,
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
    /// The policies kept in `store`.
    pub(crate) fn new(store: Store) -> Self {
        BucketPolicies {
            store,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }

    /// The bucket's policy, if it has one.
    pub(crate) async fn get(
        &self,
        bucket: &str,
    ) -> Result<Option<Arc<StoredPolicy>>, BucketPolicyError> {
        if let Some(policy) = self.cache.get(bucket) {
            return Ok(policy);
        }
        let policy = match self.store.bucket_policy(bucket).await? {
            Some(text) => {
                let compiled =
                    compile(bucket, &text).map_err(|source| BucketPolicyError::Corrupt {
                        bucket: bucket.to_owned(),
                        source,
                    })?;
                Some(Arc::new(StoredPolicy { text, compiled }))
            }
            None => None,
        };
        self.cache.insert(bucket.to_owned(), policy.clone());
        Ok(policy)
    }

    /// Validates and stores `text` as the bucket's policy, replacing any previous one. A
    /// document over S3's 20 KB is refused before it is parsed.
    pub(crate) async fn put(&self, bucket: &str, text: String) -> Result<(), BucketPolicyError> {
        check_size(SizedDocument::BucketPolicy, [text.as_str()]).map_err(PolicyError::from)?;
        let compiled = compile(bucket, &text)?;
        self.store
            .put_bucket_policy(bucket, &text, podpass_control::now())
            .await?;
        self.cache.insert(
            bucket.to_owned(),
            Some(Arc::new(StoredPolicy { text, compiled })),
        );
        Ok(())
    }

    /// Removes the bucket's policy; `false` when it had none.
    pub(crate) async fn delete(&self, bucket: &str) -> Result<bool, BucketPolicyError> {
        let existed = self.store.delete_bucket_policy(bucket).await?;
        self.cache.insert(bucket.to_owned(), None);
        Ok(existed)
    }

    /// Moves the policies an earlier podpass kept as files (`<dir>/<bucket>.json`) into the
    /// store, unless the bucket has one there already, and renames each file to
    /// `<bucket>.json.imported`. Returns how many were imported.
    pub(crate) async fn import_files(&self, dir: &Path) -> Result<usize, BucketPolicyError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| BucketPolicyError::Io { path, source }
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(io(dir)(source)),
        };
        let mut imported = 0;
        for entry in entries {
            let path = entry.map_err(io(dir))?.path();
            let Some(bucket) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".json"))
                .filter(|bucket| !bucket.starts_with('.'))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            compile(bucket, &text).map_err(|source| BucketPolicyError::Corrupt {
                bucket: bucket.to_owned(),
                source,
            })?;
            if self
                .store
                .add_bucket_policy(bucket, &text, podpass_control::now())
                .await?
            {
                imported += 1;
            }
            self.cache.invalidate(bucket);
            let mut done = path.clone().into_os_string();
            done.push(".imported");
            std::fs::rename(&path, &done).map_err(io(&path))?;
        }
        Ok(imported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    async fn store(dir: &Path) -> Store {
        Store::open_sqlite_file(&dir.join("podpass.db"))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn stores_reads_back_and_deletes_and_replicas_agree() {
        let dir = tempfile::tempdir().unwrap();
        let policies = BucketPolicies::new(store(dir.path()).await);
        let replica = BucketPolicies::new(store(dir.path()).await);
        assert!(policies.get("b").await.unwrap().is_none());
        assert!(replica.get("b").await.unwrap().is_none());
        policies.put("b", POLICY.to_owned()).await.unwrap();
        assert_eq!(policies.get("b").await.unwrap().unwrap().text, POLICY);
        // The other replica cached the absence; it sees the policy once that expires.
        tokio::time::sleep(CACHE_TTL + Duration::from_millis(100)).await;
        assert_eq!(replica.get("b").await.unwrap().unwrap().text, POLICY);
        assert!(policies.delete("b").await.unwrap());
        assert!(!policies.delete("b").await.unwrap());
        assert!(policies.get("b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn rejects_malformed_policies() {
        let dir = tempfile::tempdir().unwrap();
        let policies = BucketPolicies::new(store(dir.path()).await);
        let missing_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert!(matches!(
            policies.put("b", missing_principal.to_owned()).await,
            Err(BucketPolicyError::Malformed(_))
        ));
        assert!(policies.get("b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refuses_policies_over_20_kb_before_parsing_them() {
        let dir = tempfile::tempdir().unwrap();
        let policies = BucketPolicies::new(store(dir.path()).await);
        // Valid, and one byte over 20 KB.
        let statement = r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        let frame = r#"{"Version":"2012-10-17","Statement":[]}"#.len();
        let count = (20 * 1024 - frame) / (statement.len() + 1);
        let mut statements = vec![statement; count].join(",");
        statements.push_str(&" ".repeat(20 * 1024 + 1 - frame - statements.len()));
        let big = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
        assert_eq!(big.len(), 20 * 1024 + 1);
        let refused = policies.put("b", big.clone()).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Policy exceeds the maximum allowed document size."
        );
        assert!(matches!(
            refused,
            BucketPolicyError::Malformed(PolicyError::TooLarge(_))
        ));
        assert!(policies.get("b").await.unwrap().is_none());
        // Not parsed: a megabyte of anything is refused for its size alone.
        assert!(matches!(
            policies.put("b", "[".repeat(1 << 20)).await,
            Err(BucketPolicyError::Malformed(PolicyError::TooLarge(_)))
        ));
        // 20 KB exactly is fine.
        let fits = big.replacen(' ', "", 1);
        policies.put("b", fits).await.unwrap();
    }

    #[tokio::test]
    async fn imports_the_files_of_an_earlier_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("policies");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("b.json"), POLICY).unwrap();
        std::fs::write(files.join(".b.json.tmp"), "half-written").unwrap();
        let policies = BucketPolicies::new(store(dir.path()).await);
        assert!(policies.get("b").await.unwrap().is_none());
        assert_eq!(policies.import_files(&files).await.unwrap(), 1);
        assert_eq!(policies.get("b").await.unwrap().unwrap().text, POLICY);
        assert!(files.join("b.json.imported").exists() && !files.join("b.json").exists());
        assert_eq!(policies.import_files(&files).await.unwrap(), 0);
        assert_eq!(
            policies
                .import_files(&dir.path().join("none"))
                .await
                .unwrap(),
            0
        );
    }
}
