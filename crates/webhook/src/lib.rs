//! podpass-webhook: a drop-in replacement for the `amazon-eks-pod-identity-webhook` mutating
//! admission webhook. It injects IRSA (`AWS_ROLE_ARN` + projected token) or EKS Pod Identity
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + projected token) settings into pods, producing the
//! same JSON Patch as the reference.

pub mod config;
mod gocompat;
pub mod jitter;
pub mod mutate;
pub mod pod;
pub mod resolver;
pub mod review;
pub mod server;
pub mod settings;

pub use config::WebhookConfig;
pub use jitter::{Jitter, RandomJitter};
pub use mutate::{InjectionMethod, Mutation, mutate_pod, mutate_view};
pub use pod::{PodError, PodView};
pub use resolver::{IdentityFileError, IdentityResolver, PodIdentityAssociations, StaticResolver};
pub use review::{ReviewOutcome, Webhook};
pub use server::{WebhookMetrics, metrics_router, webhook_router};
pub use settings::ServiceAccountSettings;
