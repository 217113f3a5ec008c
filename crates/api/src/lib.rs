//! podpass's HTTP surface: the OIDC issuer endpoints, the AWS-compatible APIs and the
//! operational endpoints (health, readiness, metrics), as one axum router.

pub mod admin;
pub mod auth;
pub mod authz;
pub mod cache;
pub mod eks;
pub mod eksauth;
pub mod iam;
mod imds;
pub mod jwks;
pub mod metrics;
pub mod oidc;
mod ops;
pub mod query;
mod rest;
mod state;
pub mod sts;

pub use state::{AppState, Decided, Settings};

use axum::Router;

/// The complete router of a podpass API server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", axum::routing::post(query::handle).get(query::handle))
        .merge(oidc::routes())
        .merge(eks::routes())
        .merge(eksauth::routes())
        .merge(imds::routes())
        .merge(ops::routes())
        .with_state(state)
}
