//! What a session token carries: who the session is and the keys it signs with.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// STS `AssumeRoleWithWebIdentity` (IRSA).
    WebIdentity,
    /// STS `AssumeRole`.
    AssumeRole,
    /// EKS Auth `AssumeRoleForPodIdentity`.
    PodIdentity,
}

/// A session tag (`aws:PrincipalTag/KEY` during the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// The web identity a federated session was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedIdentity {
    /// The IAM OIDC provider (ARN or issuer, as the STS response reports it).
    pub provider: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token audience that matched the provider's client ids.
    pub audience: String,
}

/// Everything about a session except its keys and lifetime: what the caller decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionIdentity {
    /// How the session was obtained.
    pub kind: SessionKind,
    /// The role's account id.
    pub account: String,
    /// The role ARN (with path).
    pub role_arn: String,
    /// The role's unique id (`AROA...`).
    pub role_id: String,
    /// The role name (without path).
    pub role_name: String,
    /// The role path (`/` by default).
    pub role_path: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `SourceIdentity`, once set it sticks through role chaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Inline session policy JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs (`PolicyArns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_policy_arns: Vec<String>,
    /// Session tags, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SessionTag>,
    /// Keys of the tags that pass on to chained sessions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// The web identity, for `WebIdentity` sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated: Option<FederatedIdentity>,
    /// Whether the session came from role chaining (capped at one hour by STS).
    #[serde(default)]
    pub chained: bool,
}

/// A minted session, as sealed inside its session token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Who the session is.
    pub identity: SessionIdentity,
    /// Issue time, unix seconds.
    pub issued_at: i64,
    /// Expiry, unix seconds (the session is invalid from this second on).
    pub expires_at: i64,
    /// The session's access key id (`ASIA...`).
    pub access_key_id: String,
    /// The session's secret access key, needed to check SigV4 signatures.
    pub secret_access_key: String,
}

impl SessionClaims {
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME` (role name, no path).
    pub fn assumed_role_arn(&self) -> String {
        let identity = &self.identity;
        format!(
            "arn:{}:sts::{}:assumed-role/{}/{}",
            partition_of(&identity.role_arn),
            identity.account,
            identity.role_name,
            identity.session_name
        )
    }

    /// `ROLE_ID:SESSION_NAME`, the `AssumedRoleId` / `UserId` of the session.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.identity.role_id, self.identity.session_name)
    }
}

/// The partition of an ARN (`aws`, `aws-cn`, ...), `aws` when the ARN is not one.
fn partition_of(arn: &str) -> &str {
    let mut fields = arn.splitn(3, ':');
    match (fields.next(), fields.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => partition,
        _ => "aws",
    }
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionClaims")
            .field("identity", &self.identity)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_comes_from_the_role_arn() {
        assert_eq!(partition_of("arn:aws-cn:iam::1:role/r"), "aws-cn");
        assert_eq!(partition_of("arn:aws:iam::1:role/r"), "aws");
        assert_eq!(partition_of("not-an-arn"), "aws");
        assert_eq!(partition_of("arn::iam::1:role/r"), "aws");
    }
}
