//! podpass's HTTP surface: the OIDC issuer endpoints, the AWS-compatible APIs and the
//! operational endpoints (health, readiness, metrics), as one axum router. Handlers are
//! adapters: they decode the wire form, call the domain layer (`podpass-control`) and encode
//! its answer or its error (`errors`: one table per protocol).

pub mod admin;
mod auth;
mod call;
mod eks;
mod eksauth;
mod errors;
mod iam;
mod imds;
mod metrics;
mod oidc;
mod ops;
mod query;
mod rest;
mod state;
mod sts;

pub use state::AppState;

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
