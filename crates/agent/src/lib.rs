//! The EKS Pod Identity node agent (`podpass agent`): serves AWS container credentials on
//! `/v1/credentials` to pods presenting their projected service-account token, fetched from EKS Auth
//! (`AssumeRoleForPodIdentity`) through a refreshing, single-flight cache. Wire behaviour follows the
//! reference `eks-pod-identity-agent` 0.1.37.

pub mod aws_credentials;
pub mod cache;
pub mod clock;
pub mod config;
pub mod eksauth;
pub mod jwt;
pub mod link;
pub mod metrics;
pub mod server;
mod time_util;
mod token_bucket;

/// A boxed, sendable future: the return type of the agent's object-safe async traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use aws_credentials::{
    AwsCredentials, CredentialsError, CredentialsProvider, StaticCredentialsProvider,
};
pub use cache::{CacheSettings, CredentialCache, FetchError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AgentConfig, ConfigError};
pub use eksauth::{
    EksAuth, EksAuthError, EksAuthSetupError, HttpEksAuth, HttpEksAuthSettings, PodCredentials,
};
pub use link::{DEFAULT_LINK_NAME, LinkError, set_up_link};
pub use metrics::AgentMetrics;
pub use server::{AgentError, RateLimit, RunningAgent, run, start};

#[cfg(test)]
mod test_support;
