//! The node's instance metadata service, as EC2's IMDSv2 serves it: the node role's credentials
//! at `/latest/meta-data/iam/security-credentials/ROLE`. A pod without an IRSA or Pod Identity
//! token falls through the SDK credential chain to here, exactly as on an EKS node, and gets the
//! node role, which has no permissions beyond the node's own needs.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use podpass_awsproto::new_request_id;
use podpass_control::Ctx;
use serde_json::json;

use crate::AppState;

const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/latest/api/token", put(token))
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(role_name),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/{role}",
            get(credentials),
        )
}

/// IMDSv2 session token: the TTL header is required (1..21600), as EC2's.
async fn token(headers: HeaderMap) -> Response {
    let ttl = headers
        .get(TOKEN_TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|ttl| (1..=21_600).contains(ttl));
    match ttl {
        Some(_) => podpass_control::ids::unique_id("IMDS")
            .map(|t| t.into_response())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

fn node_role(state: &AppState) -> Option<&str> {
    state.control.settings().node_role.as_deref()
}

async fn role_name(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !headers.contains_key(TOKEN_HEADER) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match node_role(&state) {
        Some(role) => role.to_owned().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(role): Path<String>,
) -> Response {
    if !headers.contains_key(TOKEN_HEADER) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let ctx = Ctx {
        request_id: new_request_id(),
        caller: None,
        source_ip: peer.ip(),
    };
    match state.control.node_credentials(&ctx, &role).await {
        Ok(Some(issued)) => {
            let time = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .unwrap_or_default()
                    .to_string()
            };
            let credentials = &issued.credentials;
            axum::Json(json!({
                "Code": "Success",
                "LastUpdated": time(podpass_control::now()),
                "Type": "AWS-HMAC",
                "AccessKeyId": credentials.access_key_id,
                "SecretAccessKey": credentials.secret_access_key,
                "Token": credentials.session_token,
                "Expiration": time(credentials.expiration),
            }))
            .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "issuing the node role's credentials");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
