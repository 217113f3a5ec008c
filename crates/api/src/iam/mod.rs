//! IAM (query protocol): roles, inline and managed policies, OIDC providers, simulation.

use podpass_awsproto::{AwsError, RenderedResponse};

use crate::AppState;
use crate::query::{Call, IAM, unknown_action};

/// Runs one IAM action.
pub async fn dispatch(state: &AppState, action: &str, call: &Call) -> Result<RenderedResponse, AwsError> {
    let _ = (state, call);
    Err(unknown_action(action, IAM))
}
