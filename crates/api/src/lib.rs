//! podpass's HTTP surface: the OIDC issuer endpoints, the AWS-compatible APIs and the
//! operational endpoints (health, readiness, metrics), as one axum router.

pub mod metrics;
pub mod oidc;
mod ops;
mod state;

pub use state::{AppState, Settings};

use axum::Router;

/// The complete router of a podpass API server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(oidc::routes())
        .merge(ops::routes())
        .with_state(state)
}
