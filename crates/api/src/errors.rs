//! The domain's errors on the wire: one table per protocol, from [`podpass_control::Error`] to
//! the code, HTTP status and message the real service answers with.

use podpass_awsproto::AwsError;
use podpass_control::{Error, Invalid};

const INTERNAL: &str = "An internal error occurred.";
const INVALID_CLIENT_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_CLIENT_TOKEN: &str = "The security token included in the request is expired";
const MISSING_AUTHENTICATION: &str = "Request is missing Authentication Token";

/// STS and IAM (query protocol).
pub(crate) fn query(error: Error) -> AwsError {
    match error {
        Error::Unauthenticated => AwsError::missing_authentication_token(MISSING_AUTHENTICATION),
        Error::BadCredentials => AwsError::invalid_client_token_id(INVALID_CLIENT_TOKEN),
        Error::CredentialsExpired => AwsError::expired_token(EXPIRED_CLIENT_TOKEN),
        Error::NotAuthorized { why } | Error::Denied { why } => AwsError::access_denied(why),
        Error::NotFound { what } => AwsError::no_such_entity(what),
        Error::AlreadyExists { why } => AwsError::entity_already_exists(why),
        Error::InUse { why } => AwsError::delete_conflict(why),
        Error::LimitExceeded { why } => AwsError::limit_exceeded(why),
        Error::Invalid { kind, why } => match kind {
            Invalid::Parameter => AwsError::invalid_parameter_value(why),
            Invalid::Input => AwsError::invalid_input(why),
            Invalid::Validation => AwsError::validation_error(why),
            Invalid::Token => AwsError::invalid_identity_token(why),
            Invalid::PolicyDocument => AwsError::malformed_policy_document(why),
            Invalid::PolicySize => AwsError::packed_policy_too_large(why),
            Invalid::AuthorizationMessage => AwsError::invalid_authorization_message(why),
        },
        Error::TokenExpired { why } => AwsError::expired_token_exception(why),
        Error::Unavailable { why } => AwsError::idp_communication_error(why),
        Error::Throttled { why } => AwsError::throttling(why),
        Error::Internal { why } => internal(why),
    }
}

/// EKS and EKS Auth (rest-json).
pub(crate) fn rest(error: Error) -> AwsError {
    match error {
        Error::Unauthenticated => AwsError::missing_authentication_token(MISSING_AUTHENTICATION),
        Error::BadCredentials => AwsError::invalid_client_token_id(INVALID_CLIENT_TOKEN),
        Error::CredentialsExpired => AwsError::expired_token(EXPIRED_CLIENT_TOKEN),
        // The caller's own policies refuse the call: IAM's AccessDenied, as every service.
        Error::NotAuthorized { why } => AwsError::access_denied(why),
        Error::Denied { why } => AwsError::access_denied_exception(why),
        Error::NotFound { what } => AwsError::resource_not_found_exception(what),
        Error::AlreadyExists { why } | Error::InUse { why } => {
            AwsError::resource_in_use_exception(why)
        }
        Error::LimitExceeded { why } => AwsError::resource_limit_exceeded_exception(why),
        Error::Invalid { kind, why } => match kind {
            Invalid::Token => AwsError::invalid_token_exception(why),
            Invalid::Parameter
            | Invalid::Input
            | Invalid::Validation
            | Invalid::PolicyDocument
            | Invalid::PolicySize
            | Invalid::AuthorizationMessage => AwsError::invalid_parameter_exception(why),
        },
        Error::TokenExpired { why } => AwsError::expired_token_exception(why),
        Error::Unavailable { why } => AwsError::service_unavailable_exception(why),
        Error::Throttled { why } => AwsError::throttling_exception(why),
        Error::Internal { why } => {
            tracing::error!(error = %why, "internal error");
            AwsError::internal_server_exception(INTERNAL)
        }
    }
}

/// An internal failure: the details go to the log, the caller gets `InternalFailure`.
pub(crate) fn internal(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "internal error");
    AwsError::internal_failure(INTERNAL)
}
