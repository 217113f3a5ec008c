//! The pod mutation flags of the webhook, named and defaulted as in the reference webhook.

use std::path::PathBuf;

use clap::Args;
use podpass_podmutation::{
    AwsEndpoints, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
    DEFAULT_CONTAINER_CREDENTIALS_FULL_URI, DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
    DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH, DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
    DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION, DEFAULT_TOKEN_MOUNT_PATH, WebhookConfig,
};

/// Pod mutation settings of the webhook (flags of the reference `amazon-eks-pod-identity-webhook`):
/// the mutation's [`WebhookConfig`], plus the Pod Identity association file to watch.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct MutationArgs {
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

    /// Inject `AWS_ENDPOINT_URL_STS` with this URL into mutated containers that do not set it:
    /// where podpass stands in for AWS, pods' SDKs exchange their tokens with it (not in the
    /// reference webhook; leave unset when pods use real AWS)
    #[arg(long, env = "PODPASS_WEBHOOK_STS_ENDPOINT_URL")]
    pub sts_endpoint_url: Option<String>,

    /// Inject `AWS_ENDPOINT_URL` (every service) into mutated containers that do not set it
    #[arg(long, env = "PODPASS_WEBHOOK_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Inject `AWS_ENDPOINT_URL_S3` into mutated containers that do not set it
    #[arg(long, env = "PODPASS_WEBHOOK_S3_ENDPOINT_URL")]
    pub s3_endpoint_url: Option<String>,
}

impl Default for MutationArgs {
    /// The reference's defaults: [`WebhookConfig::default`] and no association file.
    fn default() -> Self {
        let config = WebhookConfig::default();
        Self {
            annotation_prefix: config.annotation_prefix,
            token_audience: config.token_audience,
            token_mount_path: config.token_mount_path,
            token_expiration: config.token_expiration,
            aws_default_region: config.aws_default_region,
            sts_regional_endpoint: config.sts_regional_endpoint,
            container_credentials_audience: config.container_credentials_audience,
            container_credentials_token_mount_path: config.container_credentials_token_mount_path,
            container_credentials_token_volume_name: config.container_credentials_token_volume_name,
            container_credentials_token_path: config.container_credentials_token_path,
            container_credentials_full_uri: config.container_credentials_full_uri,
            sts_endpoint_url: config.endpoints.sts,
            endpoint_url: config.endpoints.all,
            s3_endpoint_url: config.endpoints.s3,
            watch_container_credentials_config: None,
        }
    }
}

impl From<MutationArgs> for WebhookConfig {
    /// The mutation's settings; the association file is the server's to watch.
    fn from(args: MutationArgs) -> Self {
        Self {
            annotation_prefix: args.annotation_prefix,
            token_audience: args.token_audience,
            token_mount_path: args.token_mount_path,
            token_expiration: args.token_expiration,
            aws_default_region: args.aws_default_region,
            sts_regional_endpoint: args.sts_regional_endpoint,
            container_credentials_audience: args.container_credentials_audience,
            container_credentials_token_mount_path: args.container_credentials_token_mount_path,
            container_credentials_token_volume_name: args.container_credentials_token_volume_name,
            container_credentials_token_path: args.container_credentials_token_path,
            container_credentials_full_uri: args.container_credentials_full_uri,
            endpoints: AwsEndpoints {
                sts: args.sts_endpoint_url,
                all: args.endpoint_url,
                s3: args.s3_endpoint_url,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        webhook: MutationArgs,
    }

    fn parse(args: &[&str]) -> MutationArgs {
        Cli::try_parse_from(std::iter::once("podpass").chain(args.iter().copied()))
            .unwrap()
            .webhook
    }

    #[test]
    fn defaults_match_the_reference() {
        assert_eq!(parse(&[]), MutationArgs::default());
        assert_eq!(parse(&[]).watch_container_credentials_config, None);
        assert_eq!(WebhookConfig::from(parse(&[])), WebhookConfig::default());
    }

    #[test]
    fn flags_parse_with_reference_names() {
        let args = parse(&[
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
        assert_eq!(
            args.watch_container_credentials_config,
            Some(PathBuf::from("/etc/pi.json"))
        );
        let config = WebhookConfig::from(args);
        assert_eq!(config.annotation_prefix, "example.com");
        assert_eq!(config.token_audience, "aud");
        assert_eq!(config.token_mount_path, "/m");
        assert_eq!(config.token_expiration, -1);
        assert_eq!(config.effective_token_expiration(), 600);
        assert_eq!(config.aws_default_region, "eu-west-1");
        assert!(config.sts_regional_endpoint);
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
}
