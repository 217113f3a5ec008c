//! Guards podpass's own admin APIs (the local kubelet's pod API): SigV4 with the admin keys,
//! signing name `podpass`, as the account root only.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use podpass_awsproto::{AwsError, new_request_id};
use podpass_control::Caller;

use crate::AppState;
use crate::auth::authenticate;
use crate::call::to_response;

/// SigV4 signing name of podpass's own APIs.
pub const SERVICE: &str = "podpass";
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Middleware: lets the request through only when it is signed by an admin key.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let checked = async {
        let body = to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| AwsError::new("RequestEntityTooLarge", "Request body too large", 413))?;
        match authenticate(&state, &parts, &body, &[SERVICE]).await? {
            Some(Caller::Root { .. }) => Ok(body),
            Some(caller) => Err(AwsError::access_denied(format!(
                "User: {} is not authorized: podpass admin APIs are for the account's admin keys",
                caller.arn()
            ))),
            None => Err(AwsError::missing_authentication_token(
                "Missing Authentication Token",
            )),
        }
    }
    .await;
    match checked {
        Ok(body) => next.run(Request::from_parts(parts, Body::from(body))).await,
        Err(error) => to_response(error.render_json(&request_id)),
    }
}
