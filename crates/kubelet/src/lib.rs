//! podpass-kubelet: the kubelet's part on one machine. It admits a Pod manifest as the API
//! server would (ServiceAccount defaulting, the `kube-api-access-*` volume, the pod-identity
//! webhook), materialises its volumes with the kubelet's atomic `..data` layout, runs its
//! containers as local processes (no images: `command` + `args` are host binaries, and
//! [`Images`] says what an image's entrypoint stands for on this host) and rotates
//! its projected tokens at 80% of their lifetime.
//!
//! State lives under `<base>/pods/<namespace>/<name>/`: `pod.json` (the admitted Pod),
//! `status.json`, `volumes/<volume>/` and `logs/<container>.log`.
//!
//! **How containers see their volumes.** When podpass runs as root and `unshare --mount` works,
//! each container runs in a private mount namespace where every volume is bind-mounted at its
//! `mountPath` (read-only when asked); mount points that do not exist are created on the host
//! as empty directories. Otherwise ([`MountMode::Rewrite`]) nothing is mounted: every
//! occurrence of a `mountPath` as a whole path prefix in the container's env values, `command`,
//! `args` and `workingDir` is rewritten to the volume's directory on the host, so
//! `AWS_WEB_IDENTITY_TOKEN_FILE` points at the real file. Paths a program computes itself
//! (not from its env or argv) are not rewritten in that mode.
//!
//! Collaborators come in through traits the caller wires: [`TokenSource`] (TokenRequest),
//! [`ObjectSource`] (ConfigMaps and Secrets, `kube-root-ca.crt` included),
//! [`podpass_podmutation::IdentityResolver`] (ServiceAccount settings, Pod Identity associations)
//! and [`Clock`].

pub mod admission;
pub mod atomic_writer;
pub mod documents;
pub mod env;
pub mod error;
pub mod fields;
pub mod images;
pub mod kubelet;
pub mod manifest;
pub mod metrics;
mod names;
pub mod probes;
pub mod process;
pub mod rotation;
pub mod router;
pub mod runner;
pub mod sources;
pub mod status;
pub mod volumes;

pub use admission::{Admission, Admitted};
pub use documents::{ConfigKind, ConfigObject, Document};
pub use error::KubeletError;
pub use images::{ImageCommand, Images};
pub use kubelet::{Kubelet, KubeletConfig, KubeletDeps};
pub use manifest::{Pod, parse_document, parse_documents};
pub use metrics::KubeletMetrics;
pub use process::MountMode;
pub use router::router;
pub use runner::ExecOutput;
pub use sources::{
    BoxFuture, Clock, IssuedToken, MutatingWebhooks, ObjectData, ObjectRef, ObjectSource,
    SourceError, StaticObjects, SystemClock, TokenParams, TokenSource,
};
pub use status::{ContainerState, ContainerStatus, PodPhase, PodRecord, PodStatus};
pub use volumes::{PodVolumes, VolumeDeps};
