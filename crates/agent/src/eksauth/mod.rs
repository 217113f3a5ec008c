//! EKS Auth `AssumeRoleForPodIdentity`: the trait the cache and server call, its HTTP client, the
//! response model and errors.

mod client;
mod error;
mod wire;

pub use client::{EksAuthSetupError, HttpEksAuth, HttpEksAuthSettings, default_endpoint};
pub use error::{EksAuthError, Fault, ServiceError};

use std::fmt;

use jiff::Timestamp;

use crate::BoxFuture;

/// Exchanges a pod's service-account token for role credentials.
pub trait EksAuth: Send + Sync + fmt::Debug {
    /// Calls `AssumeRoleForPodIdentity` for `token` (the raw JWT).
    fn assume_role_for_pod_identity<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<PodCredentials, EksAuthError>>;
}

/// The credentials EKS Auth returned for a pod.
#[derive(Clone, PartialEq, Eq)]
pub struct PodCredentials {
    /// `credentials.accessKeyId`.
    pub access_key_id: String,
    /// `credentials.secretAccessKey`.
    pub secret_access_key: String,
    /// `credentials.sessionToken`.
    pub session_token: String,
    /// `credentials.expiration`.
    pub expiration: Timestamp,
    /// `assumedRoleUser.arn`.
    pub assumed_role_arn: String,
    /// `podIdentityAssociation.associationId` (for logs).
    pub association_id: String,
}

impl PodCredentials {
    /// The account id: the fifth field of the assumed-role ARN, when the ARN is well formed.
    pub fn account_id(&self) -> Option<&str> {
        podpass_arn::Arn::parse(&self.assumed_role_arn)
            .map(|arn| arn.account)
            .filter(|account| !account.is_empty())
    }
}

impl fmt::Debug for PodCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .field("assumed_role_arn", &self.assumed_role_arn)
            .field("association_id", &self.association_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_arn(arn: &str) -> PodCredentials {
        PodCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: Timestamp::UNIX_EPOCH,
            assumed_role_arn: arn.into(),
            association_id: "a-1".into(),
        }
    }

    #[test]
    fn account_id_is_the_fifth_arn_field() {
        assert_eq!(
            with_arn("arn:aws:sts::111122223333:assumed-role/r/eks-c1-pod-abc").account_id(),
            Some("111122223333")
        );
        assert_eq!(with_arn("arn:aws:sts::111122223333").account_id(), None);
        assert_eq!(
            with_arn("arn:aws:sts:::assumed-role/r/s").account_id(),
            None
        );
        assert_eq!(with_arn("not-an-arn:aws:sts::1:x").account_id(), None);
        assert_eq!(with_arn("").account_id(), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", with_arn("arn:aws:sts::1:assumed-role/r/s"));
        assert!(!shown.contains("secret"));
        assert!(!shown.contains("\"token\""));
    }
}

#[cfg(test)]
mod http_tests;
