//! podpass-webhook: a drop-in replacement for the `amazon-eks-pod-identity-webhook` mutating
//! admission webhook. It serves the pod mutation of `podpass-podmutation` (IRSA or EKS Pod
//! Identity settings, with the reference's JSON Patch) over AdmissionReview ([`review`]).
//!
//! [`run()`] is `podpass webhook`: HTTPS `/mutate` + `/healthz` with a hot-reloaded certificate
//! ([`tls`], [`https`]), plain-HTTP `/metrics`, and ServiceAccounts either from the Kubernetes API
//! ([`cluster`]: watch cache plus lookup grace period) or from a caller-supplied
//! [`IdentityResolver`](podpass_podmutation::IdentityResolver) (local mode).

pub mod args;
pub mod certificate;
pub mod cluster;
pub mod config;
pub mod config_map;
mod duration;
pub mod filewatch;
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
pub use review::{ReviewOutcome, Webhook};
pub use run::{RunError, run};
pub use sa_cache::ServiceAccountCache;
pub use server::{
    BoundServer, ServeConfig, ServeError, WebhookMetrics, bind, metrics_router, serve,
    webhook_router,
};
pub use tls::{ReloadingCertResolver, TlsMinVersion};
pub use watched::{
    AssociationSource, PolledAssociations, ReloadError, WatchedAssociations, WithAssociations,
};
