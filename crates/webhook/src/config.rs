//! Command-line settings of the webhook, named and defaulted as in the reference webhook.

use std::path::PathBuf;

use clap::Args;

/// Default `--annotation-prefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// Default `--token-audience` (IRSA projected token audience).
pub const DEFAULT_TOKEN_AUDIENCE: &str = "sts.amazonaws.com";
/// Default `--token-mount-path` (IRSA token directory inside containers).
pub const DEFAULT_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Default `--token-expiration` in seconds, and the reference's `DefaultTokenExpiration`.
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86400;
/// Lowest projected-token lifetime the API server accepts; smaller values are raised to it.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
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

/// Pod mutation settings of the webhook (flags of the reference `amazon-eks-pod-identity-webhook`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Prefix of the ServiceAccount and Pod annotations the webhook reads, e.g.
    /// `<prefix>/role-arn`, `<prefix>/audience`, `<prefix>/token-expiration`.
    #[arg(long, env = "PODPASS_WEBHOOK_ANNOTATION_PREFIX", default_value = DEFAULT_ANNOTATION_PREFIX)]
    pub annotation_prefix: String,

    /// Audience of the projected IRSA token, used when the ServiceAccount has no
    /// `<prefix>/audience` annotation. Must match the client ID of the IAM OIDC provider.
    #[arg(long, env = "PODPASS_WEBHOOK_TOKEN_AUDIENCE", default_value = DEFAULT_TOKEN_AUDIENCE)]
    pub token_audience: String,

    /// Directory where the IRSA token volume is mounted in each container;
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` points to `<this>/token`.
    #[arg(long, env = "PODPASS_WEBHOOK_TOKEN_MOUNT_PATH", default_value = DEFAULT_TOKEN_MOUNT_PATH)]
    pub token_mount_path: String,

    /// Lifetime in seconds of projected tokens when neither the Pod nor the ServiceAccount sets
    /// `<prefix>/token-expiration`. Values below 600 are raised to 600 (the API server minimum).
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_TOKEN_EXPIRATION",
        default_value_t = DEFAULT_TOKEN_EXPIRATION,
        allow_negative_numbers = true
    )]
    pub token_expiration: i64,

    /// Region injected as `AWS_DEFAULT_REGION` and `AWS_REGION` into containers that set
    /// neither. Empty (the default) injects no region.
    #[arg(long, env = "PODPASS_WEBHOOK_AWS_DEFAULT_REGION", default_value = "")]
    pub aws_default_region: String,

    /// Inject `AWS_STS_REGIONAL_ENDPOINTS=regional` unless the ServiceAccount annotation
    /// `<prefix>/sts-regional-endpoints` says otherwise (the annotation wins both ways).
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_STS_REGIONAL_ENDPOINT",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub sts_regional_endpoint: bool,

    /// Path of the Pod Identity association file
    /// (`{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}`). Listed ServiceAccounts get
    /// container-credentials injection, which wins over IRSA. Unset disables Pod Identity.
    #[arg(long, env = "PODPASS_WEBHOOK_WATCH_CONTAINER_CREDENTIALS_CONFIG")]
    pub watch_container_credentials_config: Option<PathBuf>,

    /// Audience of the projected Pod Identity token (what the EKS Auth endpoint expects).
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_AUDIENCE",
        default_value = DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE
    )]
    pub container_credentials_audience: String,

    /// Directory where the Pod Identity token volume is mounted in each container.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_TOKEN_MOUNT_PATH",
        default_value = DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH
    )]
    pub container_credentials_token_mount_path: String,

    /// Name of the projected Pod Identity token volume added to the Pod.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_TOKEN_VOLUME_NAME",
        default_value = DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME
    )]
    pub container_credentials_token_volume_name: String,

    /// File name of the Pod Identity token inside its mount;
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` points to `<mount path>/<this>`.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_TOKEN_PATH",
        default_value = DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH
    )]
    pub container_credentials_token_path: String,

    /// Value of `AWS_CONTAINER_CREDENTIALS_FULL_URI`: where SDKs fetch Pod Identity credentials.
    /// SDKs accept only https, loopback, 169.254.170.2, 169.254.170.23 or `[fd00:ec2::23]`.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_FULL_URI",
        default_value = DEFAULT_CONTAINER_CREDENTIALS_FULL_URI
    )]
    pub container_credentials_full_uri: String,
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
            watch_container_credentials_config: None,
            container_credentials_audience: DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE.to_owned(),
            container_credentials_token_mount_path: DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH
                .to_owned(),
            container_credentials_token_volume_name: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME
                .to_owned(),
            container_credentials_token_path: DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH.to_owned(),
            container_credentials_full_uri: DEFAULT_CONTAINER_CREDENTIALS_FULL_URI.to_owned(),
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
pub fn clamp_token_expiration(seconds: i64) -> i64 {
    seconds.max(MIN_TOKEN_EXPIRATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        webhook: WebhookConfig,
    }

    fn parse(args: &[&str]) -> WebhookConfig {
        Cli::try_parse_from(std::iter::once("podpass").chain(args.iter().copied()))
            .unwrap()
            .webhook
    }

    #[test]
    fn defaults_match_the_reference() {
        assert_eq!(parse(&[]), WebhookConfig::default());
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
    fn flags_parse_with_reference_names() {
        let config = parse(&[
            "--annotation-prefix=example.com",
            "--token-audience",
            "aud",
            "--token-mount-path=/m",
            "--token-expiration=-1",
            "--aws-default-region=eu-west-1",
            "--sts-regional-endpoint",
            "--watch-container-credentials-config=/etc/pi.json",
            "--container-credentials-audience=a",
            "--container-credentials-token-mount-path=/p",
            "--container-credentials-token-volume-name=v",
            "--container-credentials-token-path=t",
            "--container-credentials-full-uri=http://127.0.0.1/creds",
        ]);
        assert_eq!(config.annotation_prefix, "example.com");
        assert_eq!(config.token_audience, "aud");
        assert_eq!(config.token_mount_path, "/m");
        assert_eq!(config.token_expiration, -1);
        assert_eq!(config.effective_token_expiration(), 600);
        assert_eq!(config.aws_default_region, "eu-west-1");
        assert!(config.sts_regional_endpoint);
        assert_eq!(
            config.watch_container_credentials_config,
            Some(PathBuf::from("/etc/pi.json"))
        );
        assert_eq!(config.container_credentials_audience, "a");
        assert_eq!(config.container_credentials_token_mount_path, "/p");
        assert_eq!(config.container_credentials_token_volume_name, "v");
        assert_eq!(config.container_credentials_token_path, "t");
        assert_eq!(
            config.container_credentials_full_uri,
            "http://127.0.0.1/creds"
        );
        assert!(!parse(&["--sts-regional-endpoint=false"]).sts_regional_endpoint);
        assert!(Cli::try_parse_from(["podpass", "--token-expiration=1h"]).is_err());
    }

    #[test]
    fn every_flag_has_env_and_help() {
        for arg in Cli::command()
            .get_arguments()
            .filter(|a| a.get_long().is_some())
        {
            let long = arg.get_long().unwrap_or_default();
            if long == "help" {
                continue;
            }
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            let expected = format!("PODPASS_WEBHOOK_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(env, expected, "--{long}");
            assert!(arg.get_help().is_some(), "--{long}");
        }
    }

    #[test]
    fn clamp_raises_to_minimum_only() {
        assert_eq!(clamp_token_expiration(0), 600);
        assert_eq!(clamp_token_expiration(599), 600);
        assert_eq!(clamp_token_expiration(601), 601);
        assert_eq!(clamp_token_expiration(1_000_000), 1_000_000);
    }
}
