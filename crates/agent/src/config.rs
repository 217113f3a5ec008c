//! `podpass agent` settings: the reference agent's flags, each also readable from
//! `PODPASS_AGENT_<NAME>`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;

use crate::aws_credentials::CredentialsProvider;
use crate::cache::CacheSettings;
use crate::eksauth::{EksAuthSetupError, HttpEksAuth, HttpEksAuthSettings, default_endpoint};

/// Settings of the node agent.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentConfig {
    /// Name of the cluster, sent to EKS Auth with every token.
    #[arg(long, short = 'c', env = "PODPASS_AGENT_CLUSTER_NAME")]
    pub cluster_name: String,

    /// Port of the credentials servers (the SDKs call http://169.254.170.23/v1/credentials, so 80).
    #[arg(long, short = 'p', env = "PODPASS_AGENT_PORT", default_value_t = 80)]
    pub port: u16,

    /// Port of the probe server (/healthz, /readyz), bound to 127.0.0.1.
    #[arg(long, env = "PODPASS_AGENT_PROBE_PORT", default_value_t = 2703)]
    pub probe_port: u16,

    /// Address of the metrics server (/metrics plus the probes).
    #[arg(long, env = "PODPASS_AGENT_METRICS_ADDRESS", default_value = "0.0.0.0")]
    pub metrics_address: IpAddr,

    /// Port of the metrics server.
    #[arg(long, env = "PODPASS_AGENT_METRICS_PORT", default_value_t = 2705)]
    pub metrics_port: u16,

    /// Addresses to serve credentials on (comma-separated or repeated), one server each; only
    /// these are accepted in the Host header. SDKs accept 169.254.170.23, [fd00:ec2::23] and
    /// loopback (use 127.0.0.1 locally).
    #[arg(
        long,
        short = 'b',
        env = "PODPASS_AGENT_BIND_HOSTS",
        value_delimiter = ',',
        value_parser = parse_bind_host,
        default_values = ["169.254.170.23", "[fd00:ec2::23]"],
    )]
    pub bind_hosts: Vec<IpAddr>,

    /// Longest time cached credentials are served before being renewed in the background, e.g.
    /// 3h, 45m, 90s; 0 disables caching.
    #[arg(
        long,
        env = "PODPASS_AGENT_MAX_CREDENTIAL_RETENTION_BEFORE_RENEWAL",
        value_parser = parse_duration,
        default_value = "3h",
    )]
    pub max_credential_retention_before_renewal: Duration,

    /// Maximum number of cached tokens (least recently used are dropped); 0 disables caching.
    #[arg(long, env = "PODPASS_AGENT_MAX_CACHE_SIZE", default_value_t = 2000)]
    pub max_cache_size: usize,

    /// Background refreshes per second towards EKS Auth; QPS x retention (s) must be at least
    /// half the cache size.
    #[arg(long, env = "PODPASS_AGENT_MAX_SERVICE_QPS", default_value_t = 3)]
    pub max_service_qps: u32,

    /// Credential requests per second each address serves before answering 429 (the reference
    /// agent's fixed 1000); raise it for nodes whose pods ask more often.
    #[arg(
        long,
        env = "PODPASS_AGENT_MAX_REQUESTS_PER_SECOND",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_requests_per_second: u32,

    /// Requests served at once above that rate before the limit applies (the reference's 500).
    #[arg(
        long,
        env = "PODPASS_AGENT_REQUEST_BURST",
        default_value_t = 500,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub request_burst: u32,

    /// EKS Auth base URL (e.g. a podpass server); default https://eks-auth.<region>.api.aws.
    #[arg(long, env = "PODPASS_AGENT_ENDPOINT")]
    pub endpoint: Option<String>,

    /// Region for signing and the default endpoint; falls back to AWS_REGION, then
    /// AWS_DEFAULT_REGION.
    #[arg(long, env = "PODPASS_AGENT_REGION")]
    pub region: Option<String>,

    /// TCP connect timeout of EKS Auth calls, e.g. 500ms.
    #[arg(
        long,
        env = "PODPASS_AGENT_EKS_AUTH_CONNECT_TIMEOUT",
        value_parser = parse_duration,
        default_value = "500ms",
    )]
    pub eks_auth_connect_timeout: Duration,

    /// Overall timeout of one EKS Auth call, e.g. 1s.
    #[arg(
        long,
        env = "PODPASS_AGENT_EKS_AUTH_TIMEOUT",
        value_parser = parse_duration,
        default_value = "1s",
    )]
    pub eks_auth_timeout: Duration,

    /// Limits of the agent's listeners (header-read and idle timeouts, connection cap);
    /// `podpass up` passes its own, `podpass agent` uses podpass-http's defaults.
    #[arg(skip)]
    pub listener: podpass_http::ServeOptions,
}

/// Inconsistent or incomplete agent settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No bind host.
    #[error("at least one --bind-hosts address is required")]
    NoBindHosts,
    /// The refresher could not keep up with a full cache.
    #[error(
        "--max-service-qps ({qps}) x --max-credential-retention-before-renewal ({retention_seconds}s) \
         must be at least half of --max-cache-size ({cache_size})"
    )]
    RefreshTooSlow {
        /// Configured QPS.
        qps: u32,
        /// Configured retention in seconds.
        retention_seconds: u64,
        /// Configured cache size.
        cache_size: usize,
    },
    /// No region anywhere.
    #[error("no region: pass --region or set AWS_REGION")]
    NoRegion,
    /// The EKS Auth client could not be built.
    #[error(transparent)]
    EksAuth(#[from] EksAuthSetupError),
}

impl AgentConfig {
    /// A configuration with the reference defaults for `cluster_name`.
    pub fn new(cluster_name: impl Into<String>) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            port: 80,
            probe_port: 2703,
            metrics_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            metrics_port: 2705,
            bind_hosts: vec![
                IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
                IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
            ],
            max_credential_retention_before_renewal: Duration::from_secs(3 * 3600),
            max_cache_size: 2000,
            max_service_qps: 3,
            max_requests_per_second: 1000,
            request_burst: 500,
            endpoint: None,
            region: None,
            eks_auth_connect_timeout: Duration::from_millis(500),
            eks_auth_timeout: Duration::from_secs(1),
            listener: podpass_http::ServeOptions::default(),
        }
    }

    /// Checks what the flags cannot express on their own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bind_hosts.is_empty() {
            return Err(ConfigError::NoBindHosts);
        }
        let cache = self.cache_settings();
        let retention_seconds = cache.max_retention.as_secs();
        let budget = u64::from(cache.refresh_qps).saturating_mul(retention_seconds);
        if cache.is_enabled() && budget < (cache.max_entries / 2) as u64 {
            return Err(ConfigError::RefreshTooSlow {
                qps: cache.refresh_qps,
                retention_seconds,
                cache_size: cache.max_entries,
            });
        }
        Ok(())
    }

    /// The credentials route's rate limit.
    pub fn rate_limit(&self) -> crate::RateLimit {
        crate::RateLimit {
            per_second: f64::from(self.max_requests_per_second),
            burst: self.request_burst,
        }
    }

    /// The cache part of the settings.
    pub fn cache_settings(&self) -> CacheSettings {
        CacheSettings {
            max_retention: self.max_credential_retention_before_renewal,
            max_entries: self.max_cache_size,
            refresh_qps: self.max_service_qps,
        }
    }

    /// Settings of the EKS Auth client; the region comes from the flag, `AWS_REGION` or
    /// `AWS_DEFAULT_REGION`.
    pub fn eks_auth_settings(&self) -> Result<HttpEksAuthSettings, ConfigError> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = self
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| from_env("AWS_REGION"))
            .or_else(|| from_env("AWS_DEFAULT_REGION"))
            .ok_or(ConfigError::NoRegion)?;
        Ok(HttpEksAuthSettings {
            endpoint: self
                .endpoint
                .clone()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| default_endpoint(&region)),
            cluster_name: self.cluster_name.clone(),
            region,
            connect_timeout: self.eks_auth_connect_timeout,
            request_timeout: self.eks_auth_timeout,
        })
    }

    /// The EKS Auth client these settings describe, signing with `credentials`.
    pub fn eks_auth_client(
        &self,
        credentials: Arc<dyn CredentialsProvider>,
    ) -> Result<HttpEksAuth, ConfigError> {
        Ok(HttpEksAuth::new(&self.eks_auth_settings()?, credentials)?)
    }
}

/// An IP address, IPv6 optionally in brackets (`[fd00:ec2::23]`).
pub fn parse_bind_host(value: &str) -> Result<IpAddr, String> {
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse()
        .map_err(|_| format!("{value:?} is not an IP address"))
}

/// A non-negative duration such as `3h`, `1h30m`, `500ms` or `0`.
fn parse_duration(value: &str) -> Result<Duration, String> {
    if value.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let signed: SignedDuration = value
        .parse()
        .map_err(|e| format!("{value:?} is not a duration such as 3h or 500ms: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{value:?} must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        agent: AgentConfig,
    }

    #[test]
    fn defaults_match_the_reference_agent() {
        let cli = Cli::try_parse_from(["agent", "--cluster-name", "c1"]).unwrap();
        let expected = AgentConfig::new("c1");
        assert_eq!(format!("{:?}", cli.agent), format!("{expected:?}"));
        assert_eq!(cli.agent.port, 80);
        assert_eq!(
            cli.agent.bind_hosts,
            vec![
                "169.254.170.23".parse::<IpAddr>().unwrap(),
                "fd00:ec2::23".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(
            cli.agent.max_credential_retention_before_renewal,
            Duration::from_secs(10_800)
        );
        assert!(cli.agent.validate().is_ok());
    }

    #[test]
    fn help_names_every_environment_variable_and_default() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for expected in [
            "PODPASS_AGENT_CLUSTER_NAME",
            "PODPASS_AGENT_BIND_HOSTS",
            "PODPASS_AGENT_MAX_CREDENTIAL_RETENTION_BEFORE_RENEWAL",
            "PODPASS_AGENT_ENDPOINT",
            "PODPASS_AGENT_REGION",
            "PODPASS_AGENT_MAX_REQUESTS_PER_SECOND",
            "PODPASS_AGENT_REQUEST_BURST",
            "[default: 3h]",
            "[default: 169.254.170.23 [fd00:ec2::23]]",
            "[default: 500ms]",
        ] {
            assert!(help.contains(expected), "{expected} missing from:\n{help}");
        }
    }

    #[test]
    fn the_rate_limit_is_the_references_unless_raised() {
        let default = AgentConfig::new("c1").rate_limit();
        assert_eq!((default.per_second, default.burst), (1000.0, 500));
        let cli = Cli::try_parse_from([
            "agent",
            "-c",
            "c1",
            "--max-requests-per-second",
            "20000",
            "--request-burst",
            "5000",
        ])
        .unwrap();
        let raised = cli.agent.rate_limit();
        assert_eq!((raised.per_second, raised.burst), (20000.0, 5000));
        // No limit of zero: that would refuse every pod.
        assert!(
            Cli::try_parse_from(["agent", "-c", "c1", "--max-requests-per-second", "0"]).is_err()
        );
        assert!(Cli::try_parse_from(["agent", "-c", "c1", "--request-burst", "0"]).is_err());
    }

    #[test]
    fn cluster_name_is_required() {
        assert!(Cli::try_parse_from(["agent"]).is_err());
    }

    #[test]
    fn flags_parse_durations_and_host_lists() {
        let cli = Cli::try_parse_from([
            "agent",
            "-c",
            "c1",
            "-b",
            "127.0.0.1,[::1]",
            "--max-credential-retention-before-renewal",
            "1h30m",
            "--eks-auth-timeout",
            "250ms",
            "--port",
            "0",
        ])
        .unwrap();
        assert_eq!(
            cli.agent.bind_hosts,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(
            cli.agent.max_credential_retention_before_renewal,
            Duration::from_secs(5400)
        );
        assert_eq!(cli.agent.eks_auth_timeout, Duration::from_millis(250));
        assert!(Cli::try_parse_from(["agent", "-c", "c1", "-b", "localhost"]).is_err());
        assert!(Cli::try_parse_from(["agent", "-c", "c1", "--eks-auth-timeout=-1s"]).is_err());
        assert!(Cli::try_parse_from(["agent", "-c", "c1", "--eks-auth-timeout", "soon"]).is_err());
    }

    #[test]
    fn zero_retention_or_size_disables_the_cache() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        let mut config = AgentConfig::new("c1");
        config.max_credential_retention_before_renewal = Duration::ZERO;
        assert!(!config.cache_settings().is_enabled());
        assert!(config.validate().is_ok());
        let mut config = AgentConfig::new("c1");
        config.max_cache_size = 0;
        assert!(!config.cache_settings().is_enabled());
    }

    #[test]
    fn refresh_budget_must_cover_half_the_cache() {
        let mut config = AgentConfig::new("c1");
        config.max_credential_retention_before_renewal = Duration::from_secs(300);
        config.max_service_qps = 3;
        config.max_cache_size = 1800;
        assert!(config.validate().is_ok());
        config.max_cache_size = 1802;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::RefreshTooSlow {
                qps: 3,
                retention_seconds: 300,
                cache_size: 1802
            })
        ));
        config.bind_hosts.clear();
        assert!(matches!(config.validate(), Err(ConfigError::NoBindHosts)));
    }

    #[test]
    fn eks_auth_settings_use_the_region_for_the_default_endpoint() {
        let mut config = AgentConfig::new("c1");
        config.region = Some("eu-west-1".into());
        let settings = config.eks_auth_settings().unwrap();
        assert_eq!(settings.endpoint, "https://eks-auth.eu-west-1.api.aws");
        assert_eq!(settings.region, "eu-west-1");
        assert_eq!(settings.connect_timeout, Duration::from_millis(500));
        config.endpoint = Some("http://127.0.0.1:8080".into());
        assert_eq!(
            config.eks_auth_settings().unwrap().endpoint,
            "http://127.0.0.1:8080"
        );
    }
}
