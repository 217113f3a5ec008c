//! Plain records the store reads and writes.

use serde::{Deserialize, Serialize};

/// A tag as IAM models it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Tag value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// Long-term access key, of the account root or of an IAM user; temporary keys are sealed,
/// never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA...` id.
    pub access_key_id: String,
    /// Secret key.
    pub secret_access_key: String,
    /// Principal the key acts as, e.g. `arn:aws:iam::000000000000:root` or a user's ARN.
    pub principal_arn: String,
    /// The user's unique id (`AIDA...`) for a user's key, `None` for the account root's.
    pub user_id: Option<String>,
    /// Whether the key signs (`Active`); an `Inactive` key is refused.
    pub active: bool,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// A cluster: one podpass issues ServiceAccount tokens for, or a registered one whose
/// kube-apiserver does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Cluster name (`demo`).
    pub name: String,
    /// EKS-style 32-hex id (the issuer path of podpass's own clusters).
    pub cluster_id: String,
    /// Issuer URL written into tokens' `iss`.
    pub issuer_url: String,
    /// Where the keys that verify its tokens come from.
    pub token_keys: TokenKeys,
    /// Whether its kube-apiserver also reviews each token (TokenReview), refusing those of
    /// deleted pods and ServiceAccounts.
    pub token_review: bool,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// Where the keys that verify a cluster's ServiceAccount tokens come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKeys {
    /// podpass signs them (its own cluster): the signing keys of the store.
    Podpass,
    /// The cluster's kube-apiserver signs them; its issuer publishes the keys (OIDC discovery).
    Discovery,
    /// The cluster's kube-apiserver signs them; this JWKS (registered with the cluster, for an
    /// issuer whose discovery endpoint podpass cannot reach) verifies them.
    Jwks(String),
}

impl TokenKeys {
    /// The stored name of the source.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenKeys::Podpass => "podpass",
            TokenKeys::Discovery => "discovery",
            TokenKeys::Jwks(_) => "jwks",
        }
    }
}

/// A token-signing key of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id as published in the JWKS.
    pub kid: String,
    /// Owning cluster.
    pub cluster_name: String,
    /// `RS256` or `ES256`.
    pub algorithm: String,
    /// PKCS#8 PEM of the private key.
    pub private_key_pem: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// When a newer key took over signing.
    pub retired_at: Option<i64>,
    /// Expiry of the longest-lived token the key signed: a retired key stays in the JWKS until then.
    pub publish_until: Option<i64>,
}

/// A ServiceAccount of a podpass cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Owning cluster.
    pub cluster_name: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID written into tokens.
    pub uid: String,
    /// Annotations, ordered by key.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// What a [`ClusterObject`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

impl ObjectKind {
    /// The Kubernetes kind, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "Secret",
            Self::ConfigMap => "ConfigMap",
        }
    }
}

/// A Secret or ConfigMap of a podpass cluster: keys and their bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterObject {
    /// Owning cluster.
    pub cluster_name: String,
    /// Namespace.
    pub namespace: String,
    /// Secret or ConfigMap.
    pub kind: ObjectKind,
    /// Name.
    pub name: String,
    /// Keys and their values.
    pub data: std::collections::BTreeMap<String, Vec<u8>>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// A Kubernetes object of a podpass cluster, kept as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterResource {
    /// Owning cluster.
    pub cluster_name: String,
    /// Namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// `kind` (`ClusterRole`, `Service`, ...).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// The object, as JSON.
    pub object: String,
}

/// An IAM role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Role name as created (case preserved).
    pub role_name: String,
    /// `AROA...` unique id.
    pub role_id: String,
    /// Path, `/` by default.
    pub path: String,
    /// `arn:aws:iam::ACCOUNT:role{path}{name}`.
    pub arn: String,
    /// Trust policy JSON text as given.
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Maximum session duration, seconds.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An IAM user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// User name as created (case preserved).
    pub user_name: String,
    /// `AIDA...` unique id.
    pub user_id: String,
    /// Path, `/` by default.
    pub path: String,
    /// `arn:aws:iam::ACCOUNT:user{path}{name}`.
    pub arn: String,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An IAM group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Group name as created (case preserved).
    pub group_name: String,
    /// `AGPA...` unique id.
    pub group_id: String,
    /// Path, `/` by default.
    pub path: String,
    /// `arn:aws:iam::ACCOUNT:group{path}{name}`.
    pub arn: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// What inline policies and managed policy attachments belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A role, by name.
    Role(&'a str),
    /// A user, by unique id.
    User(&'a str),
    /// A group, by unique id.
    Group(&'a str),
}

/// A customer managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// Policy ARN.
    pub arn: String,
    /// `ANPA...` unique id.
    pub policy_id: String,
    /// Policy name.
    pub policy_name: String,
    /// Path.
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// Version id of the default version (`v1`, ...).
    pub default_version_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// Last update (new default version), epoch seconds.
    pub updated_at: i64,
    /// Number of roles it is attached to.
    pub attachment_count: i64,
}

/// One version of a managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersion {
    /// Version id (`v1`, ...).
    pub version_id: String,
    /// Policy JSON text.
    pub document: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An IAM OpenID Connect identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProvider {
    /// `arn:aws:iam::ACCOUNT:oidc-provider/<host/path>`.
    pub arn: String,
    /// Issuer URL without scheme, as IAM returns it.
    pub url: String,
    /// Accepted audiences.
    pub client_ids: Vec<String>,
    /// Certificate thumbprints.
    pub thumbprints: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// A session-sealing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealingKeyRecord {
    /// Key id carried in tokens.
    pub key_id: i64,
    /// Raw key bytes.
    pub key_material: Vec<u8>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An EKS Pod Identity association: (cluster, namespace, ServiceAccount) -> role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentityAssociation {
    /// `a-` + 17 lower-case alphanumerics.
    pub association_id: String,
    /// Cluster.
    pub cluster_name: String,
    /// Namespace.
    pub namespace: String,
    /// ServiceAccount name.
    pub service_account: String,
    /// Role assumed for the pod.
    pub role_arn: String,
    /// `arn:aws:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID`.
    pub association_arn: String,
    /// Tags.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Owner (an EKS add-on), if any.
    pub owner_arn: Option<String>,
    /// Whether the session tags are left out.
    pub disable_session_tags: bool,
    /// Role chained to from `role_arn`.
    pub target_role_arn: Option<String>,
    /// External id used when chaining to the target role.
    pub external_id: Option<String>,
    /// Session policy applied to the pod's session.
    pub session_policy: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// Last change, epoch seconds.
    pub modified_at: i64,
}
