//! The crate's error type; each variant carries the context the CLI shows.

use std::path::Path;

/// Everything that can go wrong admitting, running or inspecting a pod.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The manifest is not a Pod we can read.
    #[error("invalid Pod manifest: {0}")]
    Manifest(String),
    /// The request is well-formed but not acceptable (namespace mismatch, bad container name...).
    #[error("{0}")]
    BadRequest(String),
    /// No such pod.
    #[error("pods \"{0}\" not found")]
    NotFound(String),
    /// A pod with this name already exists in the namespace.
    #[error("pods \"{0}\" already exists")]
    AlreadyExists(String),
    /// The webhook mutation or its patch failed.
    #[error("admission webhook \"pod-identity-webhook\" denied the request: {0}")]
    Admission(String),
    /// A volume could not be materialised.
    #[error("MountVolume.SetUp failed for volume \"{volume}\": {message}")]
    Volume {
        /// Volume name.
        volume: String,
        /// What failed.
        message: String,
    },
    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

impl KubeletError {
    /// An I/O error about `path`.
    pub(crate) fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context: format!("{action} {}", path.display()),
            source,
        }
    }

    /// The HTTP status the router answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Manifest(_) | Self::BadRequest(_) => 400,
            Self::NotFound(_) => 404,
            Self::AlreadyExists(_) => 409,
            Self::Admission(_) => 403,
            Self::Volume { .. } | Self::Io { .. } => 500,
        }
    }

    /// The Kubernetes `Status.reason` matching [`Self::http_status`].
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Manifest(_) => "Invalid",
            Self::BadRequest(_) => "BadRequest",
            Self::NotFound(_) => "NotFound",
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::Admission(_) => "Forbidden",
            Self::Volume { .. } | Self::Io { .. } => "InternalError",
        }
    }
}
