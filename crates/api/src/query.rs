//! The query-protocol front door (`POST /` with a form body, or `GET /?Action=...`): routes STS
//! and IAM calls, authenticates them, and renders results and errors as AWS does.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::Request;
use podpass_awsproto::{
    AwsError, IAM_VERSION, NS_IAM, NS_STS, QueryParams, STS_VERSION, new_request_id,
};

use podpass_control::Ctx;

use crate::auth::authenticate;
use crate::call::{Call, to_response, unknown_action};
use crate::{AppState, errors, iam, sts};

/// Largest query-protocol body accepted (IAM's largest documents are 128 KiB, URL-encoded).
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Sts,
    Iam,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Iam => "iam",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Sts => NS_STS,
            Service::Iam => NS_IAM,
        }
    }
}

/// Handles `POST /` and `GET /` query-protocol calls.
pub(crate) async fn handle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let error = AwsError::new("RequestEntityTooLarge", "Request body too large", 413);
            return to_response(error.render_query(NS_STS, &request_id));
        }
    };
    let params = if body.is_empty() {
        QueryParams::parse(parts.uri.query().unwrap_or_default().as_bytes())
    } else {
        QueryParams::parse(&body)
    };
    let version = params.version().map(str::to_owned);
    let service = match version.as_deref() {
        Some(IAM_VERSION) => Service::Iam,
        _ => Service::Sts,
    };
    let action = params.action().unwrap_or_default().to_owned();
    let outcome = async {
        if action.is_empty() {
            return Err(AwsError::new("MissingAction", "Missing Action", 400));
        }
        // The version picks the API, as on AWS's endpoints: without a known one no operation
        // exists (the SDKs and the CLI always send it).
        match version.as_deref() {
            Some(IAM_VERSION | STS_VERSION) => {}
            None | Some("") => return Err(unknown_action(&action, NO_VERSION)),
            Some(other) => return Err(unknown_action(&action, other)),
        }
        let caller = authenticate(&state, &parts, &body, &[service.name()]).await?;
        if let Some(caller) = &caller {
            state
                .control
                .admit(caller, service.name())
                .map_err(errors::query)?;
        }
        let call = Call {
            ctx: Ctx {
                request_id: request_id.clone(),
                caller,
                source_ip: peer.ip(),
            },
            params,
        };
        match service {
            Service::Sts => sts::dispatch(&state, &action, &call).await,
            Service::Iam => iam::dispatch(&state, &action, &call).await,
        }
    }
    .await;
    let (rendered, code) = match outcome {
        Ok(rendered) => (rendered, "OK".to_owned()),
        Err(error) => {
            tracing::info!(
                request_id = %request_id,
                service = service.name(),
                action = %action,
                code = %error.code,
                message = %error.message,
                "request failed"
            );
            let code = error.code.to_string();
            (error.render_query(service.namespace(), &request_id), code)
        }
    };
    state.metrics.record(
        service.name(),
        &action,
        &code,
        started.elapsed().as_secs_f64(),
    );
    to_response(rendered)
}

/// What AWS names the version of a request without `Version` in `InvalidAction`.
const NO_VERSION: &str = "NO_VERSION_SPECIFIED";
