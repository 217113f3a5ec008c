//! One API call as every handler sees it (request context and parameters), and what every
//! handler needs around it: authorization, unknown actions, axum responses.

use axum::response::{IntoResponse, Response};
use podpass_awsproto::{AwsError, IAM_VERSION, QueryParams, RenderedResponse, STS_VERSION};
use podpass_control::{Caller, Ctx};

use crate::{AppState, errors};

/// One call, as handlers see it: the request context and the decoded parameters.
pub(crate) struct Call {
    /// Request id, caller and source address.
    pub ctx: Ctx,
    /// Decoded parameters (the query string of a rest-json call).
    pub params: QueryParams,
}

impl Call {
    /// The caller, or AWS's error for an unsigned call to an operation that needs a signature.
    pub(crate) fn require_caller(&self) -> Result<&Caller, AwsError> {
        self.ctx.caller().map_err(errors::query)
    }
}

/// Allows the call or returns AWS's `AccessDenied` (the account root is allowed everything).
pub(crate) async fn authorize(
    state: &AppState,
    call: &Call,
    action: &str,
    resource: &str,
) -> Result<(), AwsError> {
    state
        .control
        .authorize(&call.ctx, action, resource)
        .await
        .map_err(errors::query)
}

/// Converts a framework-free rendered response into axum's.
pub(crate) fn to_response(rendered: RenderedResponse) -> Response {
    let status = http::StatusCode::from_u16(rendered.status)
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, rendered.body).into_response();
    for (name, value) in rendered.headers {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// An action this service does not implement.
pub(crate) fn unknown_action(action: &str, version: &str) -> AwsError {
    AwsError::invalid_action(format!(
        "Could not find operation {action} for version {version}"
    ))
}

/// The STS version string (for `unknown_action`).
pub(crate) const STS: &str = STS_VERSION;
/// The IAM version string (for `unknown_action`).
pub(crate) const IAM: &str = IAM_VERSION;
