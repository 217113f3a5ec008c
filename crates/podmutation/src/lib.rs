//! podpass-podmutation: the pod mutation of the `amazon-eks-pod-identity-webhook`, as pure
//! functions over raw Pod JSON. [`mutate_pod`] injects IRSA (`AWS_ROLE_ARN` + projected token)
//! or EKS Pod Identity (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + projected token) settings and
//! returns the same JSON Patch as the reference, byte for byte.
//!
//! The admission webhook (`podpass-webhook`) serves it over AdmissionReview; the kubelet
//! (`podpass-kubelet`) applies it when it admits a Pod. Both pass the ServiceAccounts and Pod
//! Identity associations through an [`IdentityResolver`] and the Pod Identity token lifetime
//! through a [`Jitter`].
//!
//! No I/O: no network, no files, no clock. The only effect is [`RandomJitter`]'s draw from the
//! thread-local RNG.

mod config;
mod gocompat;
mod jitter;
mod mutate;
mod pod;
mod resolver;
mod settings;

pub use config::{
    AwsEndpoints, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
    DEFAULT_CONTAINER_CREDENTIALS_FULL_URI, DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
    DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH, DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
    DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION, DEFAULT_TOKEN_MOUNT_PATH, WebhookConfig,
};
pub use jitter::{Jitter, MAX_JITTERED_EXPIRATION, MIN_JITTERED_EXPIRATION, RandomJitter};
pub use mutate::{InjectionMethod, Mutation, mutate_pod, mutate_view};
pub use pod::{PodError, PodView, json_kind};
pub use resolver::{
    IdentityFileError, IdentityResolver, LookupFuture, PodIdentityAssociations, StaticResolver,
};
pub use settings::{ServiceAccountSettings, parse_go_bool};
