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
pub mod filewatch;
mod gocompat;
pub mod https;
pub mod jitter;
pub mod mutate;
pub mod pod;
pub mod resolver;
pub mod review;
pub mod run;
pub mod sa_cache;
pub mod server;
pub mod settings;
mod stop;
pub mod tls;
pub mod watched;

pub use args::WebhookArgs;
pub use cluster::{ClusterResolver, KubeLookup, ServiceAccountLookup};
pub use config::WebhookConfig;
pub use jitter::{Jitter, RandomJitter};
pub use mutate::{InjectionMethod, Mutation, mutate_pod, mutate_view};
pub use pod::{PodError, PodView};
pub use resolver::{
    IdentityFileError, IdentityResolver, LookupFuture, PodIdentityAssociations, StaticResolver,
};
pub use review::{ReviewOutcome, Webhook};
pub use run::{RunError, run};
pub use sa_cache::ServiceAccountCache;
pub use server::{
    BoundServer, ServeConfig, ServeError, WebhookMetrics, bind, metrics_router, serve,
    webhook_router,
};
pub use settings::ServiceAccountSettings;
pub use tls::{ReloadingCertResolver, TlsMinVersion};
pub use watched::WatchedAssociations;
