//! The mutation's settings, named and defaulted as the reference webhook's flags.

/// Default `--annotation-prefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// Default `--token-audience` (IRSA projected token audience).
pub const DEFAULT_TOKEN_AUDIENCE: &str = "sts.amazonaws.com";
/// Default `--token-mount-path` (IRSA token directory inside containers).
pub const DEFAULT_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Default `--token-expiration` in seconds, and the reference's `DefaultTokenExpiration`.
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86400;
/// Lowest projected-token lifetime the API server accepts; smaller values are raised to it.
pub(crate) const MIN_TOKEN_EXPIRATION: i64 = 600;
/// Default `--container-credentials-audience` (Pod Identity token audience).
pub const DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE: &str = "pods.eks.amazonaws.com";
/// Default `--container-credentials-token-mount-path`.
pub const DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH: &str =
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
/// Default `--container-credentials-token-volume-name`.
pub const DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME: &str = "eks-pod-identity-token";
/// Default `--container-credentials-token-path` (file name inside the mount).
pub const DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH: &str = "eks-pod-identity-token";
/// Default `--container-credentials-full-uri` (the Pod Identity agent's link-local address).
pub const DEFAULT_CONTAINER_CREDENTIALS_FULL_URI: &str = "http://169.254.170.23/v1/credentials";

/// The mutation's settings: the reference webhook's flags (`podpass-webhook` parses them from its
/// command line; the kubelet takes the defaults with its own region and agent address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Prefix of the ServiceAccount and Pod annotations read (`--annotation-prefix`).
    pub annotation_prefix: String,
    /// IRSA token audience when the ServiceAccount sets none (`--token-audience`).
    pub token_audience: String,
    /// IRSA token directory inside containers (`--token-mount-path`).
    pub token_mount_path: String,
    /// Projected token lifetime in seconds when neither Pod nor ServiceAccount sets one
    /// (`--token-expiration`; raised to 600 when used).
    pub token_expiration: i64,
    /// `AWS_DEFAULT_REGION` and `AWS_REGION` injected where neither is set; empty injects none
    /// (`--aws-default-region`).
    pub aws_default_region: String,
    /// Inject `AWS_STS_REGIONAL_ENDPOINTS=regional` unless the ServiceAccount says otherwise
    /// (`--sts-regional-endpoint`).
    pub sts_regional_endpoint: bool,
    /// Pod Identity token audience (`--container-credentials-audience`).
    pub container_credentials_audience: String,
    /// Pod Identity token directory inside containers
    /// (`--container-credentials-token-mount-path`).
    pub container_credentials_token_mount_path: String,
    /// Name of the Pod Identity token volume (`--container-credentials-token-volume-name`).
    pub container_credentials_token_volume_name: String,
    /// File name of the Pod Identity token inside its mount
    /// (`--container-credentials-token-path`).
    pub container_credentials_token_path: String,
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` (`--container-credentials-full-uri`).
    pub container_credentials_full_uri: String,
    /// AWS endpoints injected with the credentials, where podpass stands in for AWS (podpass's
    /// `--sts-endpoint-url`, `--endpoint-url`, `--s3-endpoint-url`; none in the reference).
    pub endpoints: AwsEndpoints,
}

/// The SDKs' endpoint variables a mutated container gets, each unless it sets it itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEndpoints {
    /// `AWS_ENDPOINT_URL_STS`: where web identity tokens are exchanged.
    pub sts: Option<String>,
    /// `AWS_ENDPOINT_URL`: every service.
    pub all: Option<String>,
    /// `AWS_ENDPOINT_URL_S3`.
    pub s3: Option<String>,
}

impl AwsEndpoints {
    /// The variables to inject, by name.
    pub fn env(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("AWS_ENDPOINT_URL_STS", &self.sts),
            ("AWS_ENDPOINT_URL", &self.all),
            ("AWS_ENDPOINT_URL_S3", &self.s3),
        ]
        .into_iter()
        .filter_map(|(name, url)| url.as_deref().map(|url| (name, url)))
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.to_owned(),
            token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
            token_mount_path: DEFAULT_TOKEN_MOUNT_PATH.to_owned(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            aws_default_region: String::new(),
            sts_regional_endpoint: false,
            container_credentials_audience: DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE.to_owned(),
            container_credentials_token_mount_path: DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH
                .to_owned(),
            container_credentials_token_volume_name: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME
                .to_owned(),
            container_credentials_token_path: DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH.to_owned(),
            container_credentials_full_uri: DEFAULT_CONTAINER_CREDENTIALS_FULL_URI.to_owned(),
            endpoints: AwsEndpoints::default(),
        }
    }
}

impl WebhookConfig {
    /// The default token expiration after the reference's startup clamp (at least 600 s).
    pub fn effective_token_expiration(&self) -> i64 {
        clamp_token_expiration(self.token_expiration)
    }
}

/// Raises a token lifetime to the API server minimum of 600 s (no upper bound, as upstream).
pub(crate) fn clamp_token_expiration(seconds: i64) -> i64 {
    seconds.max(MIN_TOKEN_EXPIRATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference() {
        let config = WebhookConfig::default();
        assert_eq!(config.annotation_prefix, "eks.amazonaws.com");
        assert_eq!(config.token_expiration, 86400);
        assert!(!config.sts_regional_endpoint);
        assert_eq!(
            config.container_credentials_full_uri,
            "http://169.254.170.23/v1/credentials"
        );
    }

    #[test]
    fn effective_expiration_is_clamped() {
        let config = WebhookConfig {
            token_expiration: -1,
            ..WebhookConfig::default()
        };
        assert_eq!(config.effective_token_expiration(), 600);
    }

    #[test]
    fn clamp_raises_to_minimum_only() {
        assert_eq!(clamp_token_expiration(0), 600);
        assert_eq!(clamp_token_expiration(599), 600);
        assert_eq!(clamp_token_expiration(601), 601);
        assert_eq!(clamp_token_expiration(1_000_000), 1_000_000);
    }
}
