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
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
}

/// Supplies the agent's credentials for each EKS Auth call (so rotation is picked up).
pub trait CredentialsProvider: Send + Sync + fmt::Debug {
    /// Current credentials.
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, CredentialsError>>;
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN` on every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvCredentialsProvider;

impl EnvCredentialsProvider {
    /// Builds credentials from `lookup` (the environment in production); empty values count as unset.
    fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<AwsCredentials, CredentialsError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.is_empty());
        Ok(AwsCredentials {
            access_key_id: var("AWS_ACCESS_KEY_ID")
                .ok_or(CredentialsError::MissingEnv("AWS_ACCESS_KEY_ID"))?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .ok_or(CredentialsError::MissingEnv("AWS_SECRET_ACCESS_KEY"))?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

impl CredentialsProvider for EnvCredentialsProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, CredentialsError>> {
        Box::pin(std::future::ready(Self::read(|name| {
            std::env::var(name).ok()
        })))
    }
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

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn environment_provides_keys_and_optional_session_token() {
        let full = [
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ];
        assert_eq!(
            EnvCredentialsProvider::read(lookup(&full)),
            Ok(AwsCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: Some("session".into()),
            })
        );
        let no_session = [
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", ""),
        ];
        assert_eq!(
            EnvCredentialsProvider::read(lookup(&no_session)).map(|c| c.session_token),
            Ok(None)
        );
        assert_eq!(
            EnvCredentialsProvider::read(lookup(&[("AWS_ACCESS_KEY_ID", "AKID")])),
            Err(CredentialsError::MissingEnv("AWS_SECRET_ACCESS_KEY"))
        );
        assert_eq!(
            EnvCredentialsProvider::read(lookup(&[("AWS_ACCESS_KEY_ID", "")])),
            Err(CredentialsError::MissingEnv("AWS_ACCESS_KEY_ID"))
        );
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
