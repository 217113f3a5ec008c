//! What a session token carries: who the session is and the keys it signs with.

use std::fmt;

use podpass_arn::{Arn, PARTITION};
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
    /// STS `GetSessionToken`: the account root's own temporary credentials, no role (the
    /// `role_*` fields name the account root).
    SessionToken,
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

impl SessionIdentity {
    /// A session of `kind` for the role `role_arn` (id, name, path) of `account`, named
    /// `session_name`, with nothing else set: no policies, tags, source or web identity.
    pub fn new(
        kind: SessionKind,
        account: &str,
        role_arn: &str,
        role_id: &str,
        role_name: &str,
        role_path: &str,
        session_name: &str,
    ) -> Self {
        SessionIdentity {
            kind,
            account: account.to_owned(),
            role_arn: role_arn.to_owned(),
            role_id: role_id.to_owned(),
            role_name: role_name.to_owned(),
            role_path: role_path.to_owned(),
            session_name: session_name.to_owned(),
            source_identity: None,
            session_policy: None,
            session_policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            federated: None,
            chained: false,
        }
    }
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
        let resource = format!(
            "assumed-role/{}/{}",
            identity.role_name, identity.session_name
        );
        let partition = Arn::parse(&identity.role_arn)
            .map(|arn| arn.partition)
            .filter(|partition| !partition.is_empty())
            .unwrap_or(PARTITION);
        Arn {
            partition,
            service: "sts",
            region: "",
            account: &identity.account,
            resource: &resource,
        }
        .to_string()
    }

    /// Who signs with the session: its assumed role's ARN, or for `GetSessionToken`'s
    /// credentials the account root (`role_arn` names it).
    pub fn principal_arn(&self) -> String {
        match self.identity.kind {
            SessionKind::SessionToken => self.identity.role_arn.clone(),
            _ => self.assumed_role_arn(),
        }
    }

    /// `ROLE_ID:SESSION_NAME`, the `AssumedRoleId` / `UserId` of the session.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.identity.role_id, self.identity.session_name)
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

    fn session_of(role_arn: &str) -> SessionClaims {
        SessionClaims {
            identity: SessionIdentity {
                kind: SessionKind::AssumeRole,
                account: "1".into(),
                role_arn: role_arn.into(),
                role_id: "AROA1".into(),
                role_name: "r".into(),
                role_path: "/".into(),
                session_name: "s".into(),
                source_identity: None,
                session_policy: None,
                session_policy_arns: Vec::new(),
                tags: Vec::new(),
                transitive_tag_keys: Vec::new(),
                federated: None,
                chained: false,
            },
            issued_at: 0,
            expires_at: 1,
            access_key_id: "ASIA1".into(),
            secret_access_key: "secret".into(),
        }
    }

    #[test]
    fn partition_comes_from_the_role_arn() {
        let arn = |role_arn: &str| session_of(role_arn).assumed_role_arn();
        assert_eq!(
            arn("arn:aws-cn:iam::1:role/r"),
            "arn:aws-cn:sts::1:assumed-role/r/s"
        );
        assert_eq!(
            arn("arn:aws:iam::1:role/r"),
            "arn:aws:sts::1:assumed-role/r/s"
        );
        assert_eq!(arn("not-an-arn"), "arn:aws:sts::1:assumed-role/r/s");
        assert_eq!(arn("arn::iam::1:role/r"), "arn:aws:sts::1:assumed-role/r/s");
    }
}
