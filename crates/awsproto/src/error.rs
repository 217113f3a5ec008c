//! AWS errors and their query-protocol (XML) and rest-json renderings.

use std::borrow::Cow;

use crate::ERROR_TYPE_HEADER;
use crate::response::RenderedResponse;
use crate::xml::escape_into;

/// Whether the caller (`Sender`, 4xx) or the service (`Receiver`, 5xx) is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Client error.
    Sender,
    /// Server error.
    Receiver,
}

impl ErrorType {
    /// `Sender` or `Receiver`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sender => "Sender",
            Self::Receiver => "Receiver",
        }
    }
}

/// An AWS error: code (as clients match it), message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// Error code, e.g. `NoSuchEntity`.
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub message: String,
    /// HTTP status.
    pub status: u16,
}

/// Declares one constructor per AWS error code.
macro_rules! error_constructors {
    ($($(#[$meta:meta])* $name:ident => $code:literal, $status:literal;)*) => {
        impl AwsError {
            $(
                #[doc = concat!("`", $code, "` (HTTP ", stringify!($status), ").")]
                $(#[$meta])*
                pub fn $name(message: impl Into<String>) -> Self {
                    Self::new($code, message, $status)
                }
            )*
        }

        #[cfg(test)]
        pub(crate) const ALL_CODES: &[(&str, u16)] = &[$(($code, $status)),*];
    };
}

error_constructors! {
    // Common to every query service.
    access_denied => "AccessDenied", 403;
    invalid_client_token_id => "InvalidClientTokenId", 403;
    signature_does_not_match => "SignatureDoesNotMatch", 403;
    incomplete_signature => "IncompleteSignature", 400;
    missing_authentication_token => "MissingAuthenticationToken", 403;
    expired_token => "ExpiredToken", 403;
    request_expired => "RequestExpired", 400;
    throttling => "Throttling", 400;
    validation_error => "ValidationError", 400;
    invalid_action => "InvalidAction", 400;
    missing_parameter => "MissingParameter", 400;
    invalid_parameter_value => "InvalidParameterValue", 400;
    service_unavailable => "ServiceUnavailable", 503;
    internal_failure => "InternalFailure", 500;
    // STS modeled errors.
    malformed_policy_document => "MalformedPolicyDocument", 400;
    packed_policy_too_large => "PackedPolicyTooLarge", 400;
    idp_rejected_claim => "IDPRejectedClaim", 403;
    idp_communication_error => "IDPCommunicationError", 400;
    invalid_identity_token => "InvalidIdentityToken", 400;
    /// Also the EKS Auth code (same status).
    expired_token_exception => "ExpiredTokenException", 400;
    region_disabled => "RegionDisabledException", 403;
    invalid_authorization_message => "InvalidAuthorizationMessageException", 400;
    invalid_context_assertion => "InvalidContextAssertion", 400;
    // IAM modeled errors.
    no_such_entity => "NoSuchEntity", 404;
    entity_already_exists => "EntityAlreadyExists", 409;
    delete_conflict => "DeleteConflict", 409;
    limit_exceeded => "LimitExceeded", 409;
    invalid_input => "InvalidInput", 400;
    concurrent_modification => "ConcurrentModification", 409;
    unmodifiable_entity => "UnmodifiableEntity", 400;
    service_failure => "ServiceFailure", 500;
    policy_evaluation => "PolicyEvaluation", 500;
    policy_not_attachable => "PolicyNotAttachable", 400;
    open_id_idp_communication_error => "OpenIdIdpCommunicationError", 400;
    // EKS and EKS Auth (rest-json) modeled errors.
    invalid_parameter_exception => "InvalidParameterException", 400;
    invalid_request_exception => "InvalidRequestException", 400;
    resource_not_found_exception => "ResourceNotFoundException", 404;
    resource_in_use_exception => "ResourceInUseException", 409;
    resource_limit_exceeded_exception => "ResourceLimitExceededException", 400;
    server_exception => "ServerException", 500;
    client_exception => "ClientException", 400;
    service_unavailable_exception => "ServiceUnavailableException", 503;
    throttling_exception => "ThrottlingException", 429;
    /// EKS Auth models it with status 400, not 403.
    access_denied_exception => "AccessDeniedException", 400;
    internal_server_exception => "InternalServerException", 500;
    invalid_token_exception => "InvalidTokenException", 400;
}

impl AwsError {
    /// An error with any code.
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        status: u16,
    ) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
        }
    }

    /// `Sender` for 4xx statuses, `Receiver` otherwise.
    pub fn error_type(&self) -> ErrorType {
        if (400..500).contains(&self.status) {
            ErrorType::Sender
        } else {
            ErrorType::Receiver
        }
    }

    /// Query-protocol rendering: an `ErrorResponse` XML document in namespace `namespace`.
    pub fn render_query(&self, namespace: &str, request_id: &str) -> RenderedResponse {
        let mut body = String::with_capacity(256 + self.message.len());
        body.push_str("<ErrorResponse xmlns=\"");
        escape_into(&mut body, namespace);
        body.push_str("\"><Error><Type>");
        body.push_str(self.error_type().as_str());
        body.push_str("</Type><Code>");
        escape_into(&mut body, &self.code);
        body.push_str("</Code><Message>");
        escape_into(&mut body, &self.message);
        body.push_str("</Message></Error><RequestId>");
        escape_into(&mut body, request_id);
        body.push_str("</RequestId></ErrorResponse>");
        RenderedResponse::new(self.status, "text/xml", request_id, body.into_bytes())
    }

    /// rest-json rendering: `x-amzn-ErrorType: <Code>` and `{"__type":"<Code>","message":".."}`.
    pub fn render_json(&self, request_id: &str) -> RenderedResponse {
        let body = serde_json::json!({ "__type": self.code, "message": self.message });
        let mut response = RenderedResponse::new(
            self.status,
            "application/json",
            request_id,
            body.to_string().into_bytes(),
        );
        response
            .headers
            .push((ERROR_TYPE_HEADER, self.code.clone().into_owned()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NS_STS;

    #[test]
    fn renders_query_error_like_sts() {
        let error = AwsError::invalid_identity_token(
            "No OpenIDConnect provider found in your account for https://oidc.example.com",
        );
        let response = error.render_query(NS_STS, "c0e7a4b6-0000-0000-0000-000000000000");
        assert_eq!(response.status, 400);
        assert_eq!(response.header("content-type"), Some("text/xml"));
        assert_eq!(
            response.header("x-amzn-RequestId"),
            Some("c0e7a4b6-0000-0000-0000-000000000000")
        );
        assert_eq!(
            response.body_text().unwrap(),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found in your account for https://oidc.example.com</Message></Error><RequestId>c0e7a4b6-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn server_errors_are_receiver_and_messages_are_escaped() {
        let error = AwsError::service_failure("a < b & \"c\"");
        assert_eq!(error.error_type(), ErrorType::Receiver);
        let body = error.render_query(crate::xml::NS_IAM, "r").body;
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("<Type>Receiver</Type><Code>ServiceFailure</Code><Message>a &lt; b &amp; &quot;c&quot;</Message>"));
        assert_eq!(error.render_query(crate::xml::NS_IAM, "r").status, 500);
    }

    #[test]
    fn renders_rest_json_error() {
        let error = AwsError::resource_not_found_exception("No pod identity association found");
        let response = error.render_json("rid");
        assert_eq!(response.status, 404);
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some("ResourceNotFoundException")
        );
        assert_eq!(response.header("x-amzn-RequestId"), Some("rid"));
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"__type": "ResourceNotFoundException", "message": "No pod identity association found"})
        );
    }

    #[test]
    fn constructors_carry_modeled_statuses() {
        let expected = [
            (AwsError::no_such_entity("m"), "NoSuchEntity", 404),
            (
                AwsError::entity_already_exists("m"),
                "EntityAlreadyExists",
                409,
            ),
            (AwsError::idp_rejected_claim("m"), "IDPRejectedClaim", 403),
            (
                AwsError::expired_token_exception("m"),
                "ExpiredTokenException",
                400,
            ),
            (
                AwsError::access_denied_exception("m"),
                "AccessDeniedException",
                400,
            ),
            (
                AwsError::throttling_exception("m"),
                "ThrottlingException",
                429,
            ),
            (AwsError::request_expired("m"), "RequestExpired", 400),
            (
                AwsError::missing_authentication_token("m"),
                "MissingAuthenticationToken",
                403,
            ),
        ];
        for (error, code, status) in expected {
            assert_eq!((error.code.as_ref(), error.status), (code, status));
            assert_eq!(error.message, "m");
        }
        let mut codes: Vec<&str> = ALL_CODES.iter().map(|(code, _)| *code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "duplicate error codes");
        assert!(
            ALL_CODES
                .iter()
                .all(|(_, status)| (400..600).contains(status))
        );
    }

    #[test]
    fn display_shows_code_and_message() {
        assert_eq!(
            AwsError::new("Custom", "text", 418).to_string(),
            "Custom: text"
        );
    }
}
