//! podpass-webhook: a drop-in replacement for the `amazon-eks-pod-identity-webhook` mutating
//! admission webhook. It injects IRSA (`AWS_ROLE_ARN` + projected token) or EKS Pod Identity
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + projected token) settings into pods, producing the
//! same JSON Patch as the reference.
//!
//! [`run()`] is `podpass webhook`: HTTPS `/mutate` + `/healthz` with a hot-reloaded certificate
//! ([`tls`], [`https`]), plain-HTTP `/metrics`, and ServiceAccounts either from the Kubernetes API
//! ([`cluster`]: watch cache plus lookup grace period) or from a caller-supplied
//! [`IdentityResolver`] (local mode).

pub mod args;
pub mod cluster;
pub mod config;
pub mod config_map;
mod duration;
pub mod filewatch;
pub mod https;
pub mod review;
pub mod run;
pub mod sa_cache;
pub mod server;
mod stop;
pub mod tls;
pub mod watched;

pub use args::WebhookArgs;
pub use cluster::{ClusterResolver, KubeLookup, ServiceAccountLookup};
pub use config::MutationArgs;
// Temporary, until the kubelet and the binary import the mutation from podpass-podmutation.
pub use podpass_podmutation::{
    IdentityResolver, Jitter, RandomJitter, ServiceAccountSettings, StaticResolver, WebhookConfig,
    mutate_pod,
};
pub use review::{ReviewOutcome, Webhook};
pub use run::{RunError, run};
pub use sa_cache::ServiceAccountCache;
pub use server::{
    BoundServer, ServeConfig, ServeError, WebhookMetrics, bind, metrics_router, serve,
    webhook_router,
};
pub use tls::{ReloadingCertResolver, TlsMinVersion};
pub use watched::{ReloadError, WatchedAssociations};
