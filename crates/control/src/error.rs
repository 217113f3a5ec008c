//! The one error of every domain operation. Each protocol adapter maps it to its service's
//! code and status with one table (`podpass-api`'s `errors` module), so the wire form of a
//! refusal is decided in one place per protocol.

/// Why an operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation needs a signed request and this one is not.
    #[error("the request is not signed")]
    Unauthenticated,
    /// The access key is unknown, or a temporary key came without its session token.
    #[error("the security token included in the request is invalid")]
    BadCredentials,
    /// The caller's session token has expired.
    #[error("the security token included in the request is expired")]
    CredentialsExpired,
    /// The caller's own policies do not allow the API call.
    #[error("{why}")]
    NotAuthorized {
        /// The message for the caller.
        why: String,
    },
    /// Credentials were refused: a role's trust policy, or a role that cannot be used.
    #[error("{why}")]
    Denied {
        /// The message for the caller (the engine's explanation goes to the log and audit).
        why: String,
    },
    /// A named entity does not exist.
    #[error("{what}")]
    NotFound {
        /// The message for the caller.
        what: String,
    },
    /// An entity of that name exists already.
    #[error("{why}")]
    AlreadyExists {
        /// The message for the caller.
        why: String,
    },
    /// The entity cannot be deleted while others use it.
    #[error("{why}")]
    InUse {
        /// The message for the caller.
        why: String,
    },
    /// The operation would take an entity past one of its quotas.
    #[error("{why}")]
    LimitExceeded {
        /// The message for the caller.
        why: String,
    },
    /// The request is well formed on the wire but not acceptable.
    #[error("{why}")]
    Invalid {
        /// Which rule it breaks.
        kind: Invalid,
        /// The message for the caller.
        why: String,
    },
    /// An identity token (web identity, pod token) has expired.
    #[error("{why}")]
    TokenExpired {
        /// The message for the caller.
        why: String,
    },
    /// A dependency (an issuer's keys, an upstream) cannot be reached.
    #[error("{why}")]
    Unavailable {
        /// The message for the caller.
        why: String,
    },
    /// Too many requests.
    #[error("{why}")]
    Throttled {
        /// The message for the caller.
        why: String,
    },
    /// A fault of podpass or its store; `why` is logged, never shown to the caller.
    #[error("internal error: {why}")]
    Internal {
        /// What failed.
        why: String,
    },
}

/// Which rule an [`Error::Invalid`] request breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A parameter's value (STS/IAM `InvalidParameterValue`).
    Parameter,
    /// A value IAM refuses as input (`InvalidInput`): bad URL, duplicate tag keys, bad marker.
    Input,
    /// A value outside a limit of the operation (STS/IAM `ValidationError`).
    Validation,
    /// An identity token that does not verify or lacks what the operation needs.
    Token,
    /// A policy document that does not parse.
    PolicyDocument,
    /// Session policies and tags beyond STS's packed size.
    PolicySize,
    /// An encoded authorization message that this podpass did not seal, or that was altered.
    AuthorizationMessage,
}

impl Error {
    /// [`Error::Internal`] from anything displayable.
    pub fn internal(why: impl std::fmt::Display) -> Self {
        Error::Internal {
            why: why.to_string(),
        }
    }

    /// [`Error::Invalid`].
    pub fn invalid(kind: Invalid, why: impl Into<String>) -> Self {
        Error::Invalid {
            kind,
            why: why.into(),
        }
    }

    /// [`Error::Denied`].
    pub fn denied(why: impl Into<String>) -> Self {
        Error::Denied { why: why.into() }
    }

    /// [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    /// [`Error::LimitExceeded`].
    pub fn limit_exceeded(why: impl Into<String>) -> Self {
        Error::LimitExceeded { why: why.into() }
    }
}

/// The result of a domain operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
