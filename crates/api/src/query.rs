//! The query-protocol front door (`POST /` with a form body, or `GET /?Action=...`): routes STS
//! and IAM calls, authenticates them, and renders results and errors as AWS does.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::Request;
use podpass_awsproto::{
    AwsError, IAM_VERSION, NS_IAM, NS_STS, QueryParams, RenderedResponse, STS_VERSION,
    new_request_id,
};

use crate::auth::{Caller, authenticate};
use crate::{AppState, iam, sts};

/// Largest query-protocol body accepted (IAM's largest documents are 128 KiB, URL-encoded).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One query-protocol call, as handlers see it.
pub struct Call {
    /// Request id echoed in the response and logs.
    pub request_id: String,
    /// Decoded parameters.
    pub params: QueryParams,
    /// The authenticated caller, `None` for unsigned calls.
    pub caller: Option<Caller>,
    /// Client address (`aws:SourceIp`).
    pub source_ip: IpAddr,
}

impl Call {
    /// The caller, or AWS's error for an unsigned call to an operation that needs a signature.
    pub fn require_caller(&self) -> Result<&Caller, AwsError> {
        self.caller.as_ref().ok_or_else(|| {
            AwsError::missing_authentication_token("Request is missing Authentication Token")
        })
    }
}

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
pub async fn handle(
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
    let payload_hash = podpass_sigv4::sha256_hex(&body);
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
        let caller = authenticate(&state, &parts, &payload_hash, &[service.name()]).await?;
        let call = Call {
            request_id: request_id.clone(),
            params,
            caller,
            source_ip: peer.ip(),
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
    state.metrics().record(
        service.name(),
        &action,
        &code,
        started.elapsed().as_secs_f64(),
    );
    to_response(rendered)
}

/// Converts a framework-free rendered response into axum's.
pub fn to_response(rendered: RenderedResponse) -> Response {
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
pub fn unknown_action(action: &str, version: &str) -> AwsError {
    AwsError::invalid_action(format!(
        "Could not find operation {action} for version {version}"
    ))
}

/// What AWS names the version of a request without `Version` in `InvalidAction`.
const NO_VERSION: &str = "NO_VERSION_SPECIFIED";

/// The STS version string (for `unknown_action`).
pub const STS: &str = STS_VERSION;
/// The IAM version string (for `unknown_action`).
pub const IAM: &str = IAM_VERSION;
