//! The agent's own AWS credentials, used to sign its EKS Auth calls.

use std::fmt;

use crate::BoxFuture;

/// AWS credentials for SigV4 signing.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why the agent's credentials are unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The provider (the AWS SDK's credential chain, say) has none to give.
    #[error("no credentials: {0}")]
    Unavailable(String),
}

/// Supplies the agent's credentials for each EKS Auth call (so rotation is picked up).
pub trait CredentialsProvider: Send + Sync + fmt::Debug {
    /// Current credentials.
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, CredentialsError>>;
}

/// Fixed credentials (local runs and tests).
#[derive(Debug, Clone)]
pub struct StaticCredentialsProvider(pub AwsCredentials);

impl CredentialsProvider for StaticCredentialsProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, CredentialsError>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let creds = AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("tok".into()),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKID"));
        assert!(!shown.contains("very-secret"));
        assert!(!shown.contains("tok\""));
    }

    #[tokio::test]
    async fn static_provider_returns_its_credentials() {
        let creds = AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            session_token: None,
        };
        let provider = StaticCredentialsProvider(creds.clone());
        assert_eq!(provider.credentials().await, Ok(creds));
    }
}
