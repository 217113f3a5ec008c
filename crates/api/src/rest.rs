//! rest-json plumbing shared by EKS and EKS Auth: body limits, SigV4, JSON errors, metrics.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, Bytes, to_bytes};
use axum::response::Response;
use http::Request;
use podpass_awsproto::{AwsError, QueryParams, json_response, new_request_id};
use podpass_control::Ctx;

use crate::AppState;
use crate::auth::authenticate;
use crate::call::{Call, to_response};

/// Largest rest-json body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Runs a rest-json operation of `service` (also its SigV4 signing name): authenticates the
/// request, passes the call and its body to `handler`, renders the JSON result or the error.
pub(crate) async fn serve<F, Fut>(
    state: AppState,
    peer: SocketAddr,
    request: Request<Body>,
    service: &'static str,
    operation: &'static str,
    handler: F,
) -> Response
where
    F: FnOnce(Call, Bytes) -> Fut,
    Fut: Future<Output = Result<(u16, serde_json::Value), AwsError>>,
{
    let started = Instant::now();
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let outcome = async {
        let body = to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| AwsError::invalid_request_exception("Request body too large"))?;
        let caller = authenticate(&state, &parts, &body, &[service]).await?;
        let call = Call {
            ctx: Ctx {
                request_id: request_id.clone(),
                caller,
                source_ip: peer.ip(),
            },
            params: QueryParams::parse(parts.uri.query().unwrap_or_default().as_bytes()),
        };
        call.require_caller()?;
        handler(call, body).await
    }
    .await;
    let (rendered, code) = match outcome.and_then(|(status, value)| {
        json_response(status, &request_id, &value).map_err(crate::errors::internal)
    }) {
        Ok(rendered) => (rendered, "OK".to_owned()),
        Err(error) => {
            tracing::info!(%request_id, service, operation, code = %error.code, message = %error.message, "request failed");
            let code = error.code.to_string();
            (error.render_json(&request_id), code)
        }
    };
    state
        .metrics
        .record(service, operation, &code, started.elapsed().as_secs_f64());
    to_response(rendered)
}

/// Parses a JSON body into `T`, with EKS's error for a body that does not fit.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|e| AwsError::invalid_parameter_exception(format!("Invalid request body: {e}")))
}
