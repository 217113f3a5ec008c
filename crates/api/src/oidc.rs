//! The clusters' ServiceAccount issuers: OIDC discovery and JWKS, as kube-apiserver serves them
//! (`<issuer>/.well-known/openid-configuration` and `<issuer>/openid/v1/jwks`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use podpass_control::clusters::ClusterError;
use podpass_store::StoreError;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/id/{cluster_id}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/id/{cluster_id}/openid/v1/jwks", get(jwks))
}

// kube-apiserver lets clients cache these for an hour; keys rotate with overlap, so that is safe.
const CACHE_CONTROL: &str = "public, max-age=3600";

async fn discovery(State(state): State<AppState>, Path(cluster_id): Path<String>) -> Response {
    let now = podpass_control::now();
    let result = async {
        let cluster = state.control.clusters().by_id(&cluster_id).await?;
        let doc = state.control.clusters().discovery(&cluster, now).await?;
        Ok::<_, ClusterError>(doc.to_json().unwrap_or_default())
    }
    .await;
    json_response(result)
}

async fn jwks(State(state): State<AppState>, Path(cluster_id): Path<String>) -> Response {
    let now = podpass_control::now();
    let result = async {
        let cluster = state.control.clusters().by_id(&cluster_id).await?;
        let jwks = state.control.clusters().jwks(&cluster.name, now).await?;
        Ok::<_, ClusterError>(jwks.to_json().unwrap_or_default())
    }
    .await;
    json_response(result)
}

fn json_response(result: Result<String, ClusterError>) -> Response {
    match result {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, CACHE_CONTROL),
            ],
            body,
        )
            .into_response(),
        Err(ClusterError::Store(StoreError::NotFound(_))) => {
            (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "serving issuer metadata failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}
