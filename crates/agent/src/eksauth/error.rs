//! EKS Auth errors, keeping what the agent needs to pass them through to the pod.

use std::fmt;

/// Who is at fault for a service error (smithy's `ErrorFault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller (modeled `sender` errors).
    Client,
    /// The service.
    Server,
    /// A code the model does not know.
    Unknown,
}

impl Fault {
    /// The fault of a modeled EKS Auth error code.
    pub fn of_code(code: &str) -> Self {
        match code {
            "AccessDeniedException"
            | "ExpiredTokenException"
            | "InvalidTokenException"
            | "InvalidParameterException"
            | "InvalidRequestException"
            | "ResourceNotFoundException"
            | "ThrottlingException" => Self::Client,
            "InternalServerException" | "ServiceUnavailableException" => Self::Server,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Server => "server",
            Self::Unknown => "unknown",
        })
    }
}

/// An error response from EKS Auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status EKS Auth answered with (the agent answers with the same).
    pub status: u16,
    /// Error code, e.g. `ResourceNotFoundException`.
    pub code: String,
    /// Error message.
    pub message: String,
    /// `x-amzn-RequestId` of the response ("" when absent).
    pub request_id: String,
}

impl ServiceError {
    /// Errors after which retrying the same token cannot succeed: the cache evicts on these.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.code.as_str(),
            "ResourceNotFoundException"
                | "ExpiredTokenException"
                | "InvalidTokenException"
                | "AccessDeniedException"
        )
    }
}

impl fmt::Display for ServiceError {
    /// The reference agent's pass-through text: `[<requestId>]: (<Code>): <message>, fault: <fault>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}]: ({}): {}, fault: {}",
            self.request_id,
            self.code,
            self.message,
            Fault::of_code(&self.code)
        )
    }
}

/// Why an `AssumeRoleForPodIdentity` call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksAuthError {
    /// EKS Auth answered with an error status.
    #[error("{0}")]
    Service(ServiceError),
    /// No HTTP response: connect failure, timeout, reset.
    #[error("EKS Auth request failed: {0}")]
    Transport(String),
    /// A 200 response whose body is not a valid `AssumeRoleForPodIdentity` output.
    #[error("EKS Auth returned an invalid response: {0}")]
    InvalidResponse(String),
    /// The agent could not obtain or use its own credentials to sign the call.
    #[error("cannot sign the EKS Auth request: {0}")]
    Signing(String),
}

impl EksAuthError {
    /// The service error, if EKS Auth answered with one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, status: u16) -> ServiceError {
        ServiceError {
            status,
            code: code.into(),
            message: "msg".into(),
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn display_matches_the_reference_format() {
        assert_eq!(
            error("ResourceNotFoundException", 404).to_string(),
            "[req-1]: (ResourceNotFoundException): msg, fault: client"
        );
        assert_eq!(
            error("InternalServerException", 500).to_string(),
            "[req-1]: (InternalServerException): msg, fault: server"
        );
        assert_eq!(
            error("SomethingNew", 418).to_string(),
            "[req-1]: (SomethingNew): msg, fault: unknown"
        );
    }

    #[test]
    fn terminal_codes_are_exactly_the_four_irrecoverable_ones() {
        for code in [
            "ResourceNotFoundException",
            "ExpiredTokenException",
            "InvalidTokenException",
            "AccessDeniedException",
        ] {
            assert!(error(code, 400).is_terminal(), "{code}");
        }
        for code in [
            "ThrottlingException",
            "InternalServerException",
            "ServiceUnavailableException",
            "InvalidParameterException",
            "InvalidRequestException",
        ] {
            assert!(!error(code, 400).is_terminal(), "{code}");
        }
    }
}
