//! Managed policies: customer managed ones in the store, AWS managed ones from the catalogue,
//! and their versions.

use podpass_policy::catalogue::{self, MANAGED_POLICIES};
use podpass_store::{ManagedPolicy, PolicyVersion, StoreError, Tag};

use super::documents::{DocumentUse, check_document};
use super::store_error;
use super::tags::check_unique_keys;
use crate::ids::unique_id;
use crate::{Control, Ctx, Error, Result, now};

/// Versions IAM keeps per managed policy.
const MAX_VERSIONS: usize = 5;
/// When AWS published the managed policies podpass ships (IAM reports such fixed dates).
const AWS_POLICY_CREATED: i64 = 1_423_248_000; // 2015-02-06T18:40:00Z

/// A managed policy, AWS or customer managed, as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// Policy name.
    pub name: String,
    /// `ANPA...` id.
    pub id: String,
    /// Policy ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Default version id.
    pub default_version_id: String,
    /// Roles it is attached to.
    pub attachment_count: i64,
    /// Description.
    pub description: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// Last default-version change, epoch seconds.
    pub updated_at: i64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Which policies ListPolicies returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyScope {
    /// AWS managed and customer managed.
    #[default]
    All,
    /// AWS managed only.
    Aws,
    /// This account's only.
    Local,
}

/// A customer managed policy to create.
#[derive(Debug, Clone, Default)]
pub struct NewPolicy<'a> {
    /// Policy name, unique in the account.
    pub name: &'a str,
    /// Path (`/` when absent).
    pub path: Option<&'a str>,
    /// Description (empty means none).
    pub description: Option<&'a str>,
    /// The document of version `v1`.
    pub document: &'a str,
    /// Tags.
    pub tags: Vec<Tag>,
}

fn policy_not_found(arn: &str) -> Error {
    Error::not_found(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version_id: &str) -> Error {
    Error::not_found(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

/// A store error about one version of a policy, in IAM's words.
fn version_error(error: StoreError, arn: &str, version_id: &str) -> Error {
    match error {
        StoreError::NotFound(_) => version_not_found(arn, version_id),
        other => store_error(other),
    }
}

/// A stable `ANPA` id for an AWS managed policy, derived from its name (FNV-1a; not secret).
fn aws_policy_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let bits =
        (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4));
    let id: String = (0..17)
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect();
    format!("ANPA{id}")
}

fn aws_info(policy: &catalogue::ManagedPolicy, attachment_count: i64) -> PolicyInfo {
    PolicyInfo {
        name: policy.name.to_owned(),
        id: aws_policy_id(policy.name),
        arn: policy.arn(),
        path: policy.path.to_owned(),
        default_version_id: policy.default_version_id.to_owned(),
        attachment_count,
        description: Some(policy.description.to_owned()),
        created_at: AWS_POLICY_CREATED,
        updated_at: AWS_POLICY_CREATED,
        tags: Vec::new(),
    }
}

impl From<ManagedPolicy> for PolicyInfo {
    fn from(policy: ManagedPolicy) -> Self {
        PolicyInfo {
            name: policy.policy_name,
            id: policy.policy_id,
            arn: policy.arn,
            path: policy.path,
            default_version_id: policy.default_version_id,
            attachment_count: policy.attachment_count,
            description: policy.description,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
            tags: policy.tags,
        }
    }
}

/// The number of a `vN` version id (0 for anything else), for ordering.
fn version_number(version_id: &str) -> u64 {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Control {
    /// A customer managed policy of the store, or IAM's `NoSuchEntity`.
    async fn customer_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        match self.store().policy(arn).await {
            Ok(policy) => Ok(policy),
            Err(StoreError::NotFound(_)) => Err(policy_not_found(arn)),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// CreatePolicy: version `v1` is the default; names are unique in the account whatever
    /// their path.
    pub async fn create_policy(&self, ctx: &Ctx, new: NewPolicy<'_>) -> Result<PolicyInfo> {
        let path = new.path.unwrap_or("/");
        let arn = podpass_arn::policy(self.account_id(), path, new.name);
        self.authorize(ctx, "iam:CreatePolicy", &arn).await?;
        check_unique_keys(&new.tags)?;
        check_document(new.document, DocumentUse::Managed)?;
        let existing = self.store().list_policies("/").await.map_err(store_error)?;
        if existing.iter().any(|p| p.policy_name == new.name) {
            return Err(Error::AlreadyExists {
                why: format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    new.name
                ),
            });
        }
        let now = now();
        let policy = ManagedPolicy {
            arn,
            policy_id: unique_id("ANPA").map_err(Error::internal)?,
            policy_name: new.name.to_owned(),
            path: path.to_owned(),
            description: new.description.filter(|d| !d.is_empty()).map(str::to_owned),
            default_version_id: "v1".to_owned(),
            tags: new.tags,
            created_at: now,
            updated_at: now,
            attachment_count: 0,
        };
        self.store()
            .create_policy(&policy, new.document)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, policy = %policy.arn, "created policy");
        Ok(policy.into())
    }

    /// GetPolicy (AWS managed or customer managed).
    pub async fn get_policy(&self, ctx: &Ctx, arn: &str) -> Result<PolicyInfo> {
        self.authorize(ctx, "iam:GetPolicy", arn).await?;
        match catalogue::by_arn(arn) {
            Some(aws) => {
                let attached = self
                    .store()
                    .attachment_count(arn)
                    .await
                    .map_err(Error::internal)?;
                Ok(aws_info(aws, attached))
            }
            None => Ok(self.customer_policy(arn).await?.into()),
        }
    }

    /// ListPolicies: those of `scope` under `path_prefix` (only the attached ones when asked),
    /// by name then ARN.
    pub async fn list_policies(
        &self,
        ctx: &Ctx,
        scope: PolicyScope,
        only_attached: bool,
        path_prefix: &str,
    ) -> Result<Vec<PolicyInfo>> {
        self.authorize(ctx, "iam:ListPolicies", "*").await?;
        let mut policies: Vec<PolicyInfo> = Vec::new();
        if scope != PolicyScope::Local {
            for aws in MANAGED_POLICIES
                .iter()
                .filter(|p| p.path.starts_with(path_prefix))
            {
                let attached = self
                    .store()
                    .attachment_count(&aws.arn())
                    .await
                    .map_err(Error::internal)?;
                policies.push(aws_info(aws, attached));
            }
        }
        if scope != PolicyScope::Aws {
            let local = self
                .store()
                .list_policies(path_prefix)
                .await
                .map_err(store_error)?;
            policies.extend(local.into_iter().map(PolicyInfo::from));
        }
        policies.retain(|p| !only_attached || p.attachment_count > 0);
        policies.sort_by(|a, b| (&a.name, &a.arn).cmp(&(&b.name, &b.arn)));
        Ok(policies)
    }

    /// DeletePolicy: [`Error::InUse`] while attached or while other versions remain.
    pub async fn delete_policy(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        self.authorize(ctx, "iam:DeletePolicy", arn).await?;
        self.customer_policy(arn).await?;
        self.store().delete_policy(arn).await.map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, policy = %arn, "deleted policy");
        Ok(())
    }

    /// CreatePolicyVersion, within IAM's five versions.
    pub async fn create_policy_version(
        &self,
        ctx: &Ctx,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        self.authorize(ctx, "iam:CreatePolicyVersion", arn).await?;
        self.customer_policy(arn).await?;
        check_document(document, DocumentUse::Managed)?;
        let versions = self
            .store()
            .policy_versions(arn)
            .await
            .map_err(Error::internal)?;
        if versions.len() >= MAX_VERSIONS {
            return Err(Error::limit_exceeded(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        let version = PolicyVersion {
            version_id: self
                .store()
                .next_policy_version_id(arn)
                .await
                .map_err(store_error)?,
            document: document.to_owned(),
            created_at: now(),
        };
        self.store()
            .create_policy_version(arn, &version, set_as_default)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(version)
    }

    /// GetPolicyVersion: the version and whether it is the default (AWS managed policies
    /// have only their default version).
    pub async fn get_policy_version(
        &self,
        ctx: &Ctx,
        arn: &str,
        version_id: &str,
    ) -> Result<(PolicyVersion, bool)> {
        self.authorize(ctx, "iam:GetPolicyVersion", arn).await?;
        match catalogue::by_arn(arn) {
            Some(aws) if aws.default_version_id == version_id => Ok((
                PolicyVersion {
                    version_id: version_id.to_owned(),
                    document: aws.document.to_owned(),
                    created_at: AWS_POLICY_CREATED,
                },
                true,
            )),
            Some(_) => Err(version_not_found(arn, version_id)),
            None => {
                let policy = self.customer_policy(arn).await?;
                let version = self
                    .store()
                    .policy_versions(arn)
                    .await
                    .map_err(Error::internal)?
                    .into_iter()
                    .find(|v| v.version_id == version_id)
                    .ok_or_else(|| version_not_found(arn, version_id))?;
                Ok((version, policy.default_version_id == version_id))
            }
        }
    }

    /// ListPolicyVersions: the versions, oldest first (without their documents for AWS
    /// managed policies), and the default version's id.
    pub async fn list_policy_versions(
        &self,
        ctx: &Ctx,
        arn: &str,
    ) -> Result<(Vec<PolicyVersion>, String)> {
        self.authorize(ctx, "iam:ListPolicyVersions", arn).await?;
        let (mut versions, default_id) = match catalogue::by_arn(arn) {
            Some(aws) => (
                vec![PolicyVersion {
                    version_id: aws.default_version_id.to_owned(),
                    document: String::new(),
                    created_at: AWS_POLICY_CREATED,
                }],
                aws.default_version_id.to_owned(),
            ),
            None => {
                let policy = self.customer_policy(arn).await?;
                let versions = self
                    .store()
                    .policy_versions(arn)
                    .await
                    .map_err(Error::internal)?;
                (versions, policy.default_version_id)
            }
        };
        versions.sort_by_key(|v| version_number(&v.version_id));
        Ok((versions, default_id))
    }

    /// DeletePolicyVersion (never the default one).
    pub async fn delete_policy_version(
        &self,
        ctx: &Ctx,
        arn: &str,
        version_id: &str,
    ) -> Result<()> {
        self.authorize(ctx, "iam:DeletePolicyVersion", arn).await?;
        self.customer_policy(arn).await?;
        self.store()
            .delete_policy_version(arn, version_id)
            .await
            .map_err(|e| version_error(e, arn, version_id))?;
        self.iam_written();
        Ok(())
    }

    /// SetDefaultPolicyVersion.
    pub async fn set_default_policy_version(
        &self,
        ctx: &Ctx,
        arn: &str,
        version_id: &str,
    ) -> Result<()> {
        self.authorize(ctx, "iam:SetDefaultPolicyVersion", arn)
            .await?;
        self.customer_policy(arn).await?;
        self.store()
            .set_default_policy_version(arn, version_id, now())
            .await
            .map_err(|e| version_error(e, arn, version_id))?;
        self.iam_written();
        Ok(())
    }
}

/// The key that orders policy versions (for pagination markers).
pub fn version_order_key(version_id: &str) -> String {
    format!("{:020}", version_number(version_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_policy_ids_are_stable_and_distinct() {
        let a = aws_policy_id("AmazonS3ReadOnlyAccess");
        assert_eq!(a, aws_policy_id("AmazonS3ReadOnlyAccess"));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("ANPA"));
        let ids: std::collections::HashSet<String> = MANAGED_POLICIES
            .iter()
            .map(|p| aws_policy_id(p.name))
            .collect();
        assert_eq!(ids.len(), MANAGED_POLICIES.len());
    }

    #[test]
    fn version_numbers_order_versions() {
        assert_eq!(version_number("v12"), 12);
        assert_eq!(version_number("v2.beta"), 0);
        assert_eq!(version_number("x"), 0);
        assert!(version_order_key("v9") < version_order_key("v10"));
    }
}
