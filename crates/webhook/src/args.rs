//! The `podpass webhook` command line: the reference webhook's server and cluster flags, around
//! the pod mutation flags of [`MutationArgs`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::config::MutationArgs;
use crate::duration::parse_duration;
use crate::tls::TlsMinVersion;

/// Default `--port` (HTTPS: `/mutate` and `/healthz`).
pub const DEFAULT_PORT: u16 = 443;
/// Default `--metrics-port` (plain HTTP: `/metrics`).
pub const DEFAULT_METRICS_PORT: u16 = 9999;
/// Default `--tls-cert`.
pub const DEFAULT_TLS_CERT: &str = "/etc/webhook/certs/tls.crt";
/// Default `--tls-key`.
pub const DEFAULT_TLS_KEY: &str = "/etc/webhook/certs/tls.key";
/// Default `--namespace`.
pub const DEFAULT_NAMESPACE: &str = "eks";

/// Flags of `podpass webhook`, named and defaulted as in the reference
/// `amazon-eks-pod-identity-webhook`; each also reads `PODPASS_WEBHOOK_<FLAG>`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct WebhookArgs {
    /// Pod mutation settings.
    #[command(flatten)]
    pub webhook: MutationArgs,

    /// HTTPS port serving `POST /mutate` (the AdmissionReview endpoint) and `GET /healthz`.
    #[arg(long, env = "PODPASS_WEBHOOK_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Plain-HTTP port serving `GET /metrics` (Prometheus/OpenMetrics text).
    #[arg(long, env = "PODPASS_WEBHOOK_METRICS_PORT", default_value_t = DEFAULT_METRICS_PORT)]
    pub metrics_port: u16,

    /// PEM certificate chain served on `--port`. Reloaded when the file changes (a Secret
    /// volume's `..data` swap included); an unusable new pair keeps the current one.
    #[arg(long, env = "PODPASS_WEBHOOK_TLS_CERT", default_value = DEFAULT_TLS_CERT)]
    pub tls_cert: PathBuf,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching `--tls-cert`, reloaded with it.
    #[arg(long, env = "PODPASS_WEBHOOK_TLS_KEY", default_value = DEFAULT_TLS_KEY)]
    pub tls_key: PathBuf,

    /// Oldest TLS version accepted: 1.2 or 1.3 (also VersionTLS12, VersionTLS13). Empty means
    /// 1.2. 1.0 and 1.1 are accepted for compatibility and mean 1.2, the oldest rustls speaks.
    #[arg(long, env = "PODPASS_WEBHOOK_TLS_MIN_VERSION", default_value = "")]
    pub tls_min_version: TlsMinVersion,

    /// Comma-separated TLS 1.2 cipher suites to allow, by Go/IANA name (e.g.
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). Empty allows every suite rustls offers (all AEAD
    /// with forward secrecy); suites rustls lacks are logged and skipped. TLS 1.3 suites are
    /// always on, as in Go.
    #[arg(long, env = "PODPASS_WEBHOOK_TLS_CIPHER_SUITES", value_delimiter = ',')]
    pub tls_cipher_suites: Vec<String>,

    /// How long a pod waits for its ServiceAccount when the watch cache does not know it yet
    /// (a ServiceAccount created just before its pod). The webhook then asks the API server and
    /// waits up to this long; 0 (the default) never waits. Go duration, e.g. 100ms.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_SERVICE_ACCOUNT_LOOKUP_GRACE_PERIOD",
        default_value = "0",
        value_parser = parse_duration
    )]
    pub service_account_lookup_grace_period: Duration,

    /// Informer resync period of the reference. Accepted for compatibility: the ServiceAccount
    /// watch cache here is event driven and re-lists on its own when the watch breaks.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_RESYNC_PERIOD",
        default_value = "60s",
        value_parser = parse_duration
    )]
    pub resync_period: Duration,

    /// Namespace of the `pod-identity-webhook` ConfigMap read with `--watch-config-map` (the
    /// reference also keeps its CSR-mode TLS Secret there; here the certificate always comes
    /// from `--tls-cert` and `--tls-key`).
    #[arg(long, env = "PODPASS_WEBHOOK_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,

    /// Also take roles from ConfigMap `pod-identity-webhook` in `--namespace`, key `config`:
    /// `{"<namespace>/<serviceaccount>": {"RoleARN": "...", "Audience": "...",
    /// "UseRegionalSTS": true, "TokenExpiration": 3600}}`; `*` as namespace matches any.
    /// ServiceAccount annotations win. Needs get/list/watch on configmaps in `--namespace`.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_WATCH_CONFIG_MAP",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub watch_config_map: bool,

    /// The reference's legacy CSR mode switch. Accepted for compatibility (either value): no
    /// certificate is requested through the CSR API. The Kubernetes client uses `--kubeconfig`
    /// when given, else the in-cluster service account, else `~/.kube/config`.
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_IN_CLUSTER",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub in_cluster: bool,

    /// Kubernetes API server URL for running outside the cluster; overrides the server of
    /// `--kubeconfig` (without a kubeconfig, requests are unauthenticated).
    #[arg(long, env = "PODPASS_WEBHOOK_KUBE_API")]
    pub kube_api: Option<String>,

    /// Kubeconfig file for running outside the cluster (ServiceAccounts are read from the
    /// cluster it points to; needs get/list/watch on serviceaccounts).
    #[arg(long, env = "PODPASS_WEBHOOK_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        Self {
            webhook: MutationArgs::default(),
            port: DEFAULT_PORT,
            metrics_port: DEFAULT_METRICS_PORT,
            tls_cert: PathBuf::from(DEFAULT_TLS_CERT),
            tls_key: PathBuf::from(DEFAULT_TLS_KEY),
            tls_min_version: TlsMinVersion::default(),
            tls_cipher_suites: Vec::new(),
            service_account_lookup_grace_period: Duration::ZERO,
            resync_period: Duration::from_secs(60),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            watch_config_map: false,
            in_cluster: true,
            kube_api: None,
            kubeconfig: None,
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
        args: WebhookArgs,
    }

    fn parse(args: &[&str]) -> Result<WebhookArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("podpass").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_match_the_reference() {
        assert_eq!(parse(&[]).unwrap(), WebhookArgs::default());
        let args = WebhookArgs::default();
        assert_eq!(args.port, 443);
        assert_eq!(args.metrics_port, 9999);
        assert_eq!(args.tls_cert, PathBuf::from("/etc/webhook/certs/tls.crt"));
        assert_eq!(args.tls_key, PathBuf::from("/etc/webhook/certs/tls.key"));
        assert_eq!(args.service_account_lookup_grace_period, Duration::ZERO);
        assert_eq!(args.resync_period, Duration::from_secs(60));
        assert!(args.in_cluster);
    }

    #[test]
    fn flags_parse_with_reference_names() {
        let args = parse(&[
            "--port=8443",
            "--metrics-port",
            "9000",
            "--tls-cert=/c",
            "--tls-key=/k",
            "--tls-min-version=VersionTLS13",
            "--service-account-lookup-grace-period=250ms",
            "--resync-period=1m30s",
            "--namespace=kube-system",
            "--watch-config-map",
            "--in-cluster=false",
            "--kubeconfig=/kc",
            "--kube-api=https://10.0.0.1:6443",
            "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "--annotation-prefix=example.com",
        ])
        .unwrap();
        assert_eq!(args.port, 8443);
        assert_eq!(args.metrics_port, 9000);
        assert_eq!(args.tls_cert, PathBuf::from("/c"));
        assert_eq!(args.tls_key, PathBuf::from("/k"));
        assert_eq!(args.tls_min_version, TlsMinVersion::Tls13);
        assert_eq!(
            args.service_account_lookup_grace_period,
            Duration::from_millis(250)
        );
        assert_eq!(args.resync_period, Duration::from_secs(90));
        assert_eq!(args.namespace, "kube-system");
        assert!(args.watch_config_map);
        assert!(!args.in_cluster);
        assert_eq!(args.kubeconfig, Some(PathBuf::from("/kc")));
        assert_eq!(args.kube_api.as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(
            args.tls_cipher_suites,
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert_eq!(args.webhook.annotation_prefix, "example.com");
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["--service-account-lookup-grace-period=100"]).is_err());
        assert!(parse(&["--tls-min-version=1.4"]).is_err());
        assert!(parse(&["--port=70000"]).is_err());
    }

    #[test]
    fn every_flag_has_env_and_help() {
        let command = Cli::command();
        let longs: Vec<_> = command
            .get_arguments()
            .filter_map(|a| a.get_long().map(|long| (long, a)))
            .filter(|(long, _)| *long != "help")
            .collect();
        assert_eq!(longs.len(), 28);
        for (long, arg) in longs {
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            let expected = format!("PODPASS_WEBHOOK_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(env, expected, "--{long}");
            assert!(arg.get_help().is_some(), "--{long}");
        }
    }
}
