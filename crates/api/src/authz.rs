//! Authorization of API calls by role sessions, with the engine's explanation in the log (never
//! in the response).

use std::sync::Arc;

use podpass_awsproto::AwsError;
use podpass_control::authz::{AuthzError, session_policies, session_principal};
use podpass_policy::{
    Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request, evaluate,
    evaluate_explained,
};
use podpass_session::SessionClaims;

use crate::AppState;
use crate::auth::Caller;
use crate::query::Call;

/// Maps a failure to assemble policies to an internal error (details go to the log).
pub fn internal(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "internal error");
    AwsError::internal_failure("An internal error occurred.")
}

/// The engine's principal and applicable policies for a caller. The account root is
/// implicitly allowed everything, which an allow-all identity policy expresses.
pub async fn caller_policies(
    state: &AppState,
    caller: &Caller,
) -> Result<(Principal, PolicySet), AwsError> {
    match caller {
        Caller::Root { account, .. } => Ok((
            Principal::AccountRoot {
                account: account.clone(),
            },
            root_policies(),
        )),
        Caller::Session(session) => session_context(state, session).await,
    }
}

/// Principal (with role tags overlaid by session tags) and policies of a role session.
pub async fn session_context(
    state: &AppState,
    session: &SessionClaims,
) -> Result<(Principal, PolicySet), AwsError> {
    let policies = session_policies(state.store(), session)
        .await
        .map_err(|e: AuthzError| internal(e))?;
    let role_tags = state
        .store()
        .role(&session.identity.role_name)
        .await
        .map(|r| r.tags)
        .unwrap_or_default();
    Ok((session_principal(session, &role_tags), policies))
}

fn root_policies() -> PolicySet {
    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let mut set = PolicySet::default();
    if let Ok(policy) = Policy::parse(ALLOW_ALL, PolicyKind::Identity) {
        set.identity.push(Arc::new(NamedPolicy::new(
            "account root",
            PolicyType::Inline,
            policy,
        )));
    }
    set
}

/// Standard request context: time and source address.
pub fn request(principal: Principal, action: &str, resource: &str, call: &Call) -> Request {
    Request::new(principal, action, resource)
        .with_time(jiff::Timestamp::now())
        .with("aws:SourceIp", call.source_ip.to_string())
        .with("aws:SecureTransport", "false")
}

/// Allows the call or returns AWS's `AccessDenied`, logging why.
pub async fn authorize(
    state: &AppState,
    call: &Call,
    action: &str,
    resource: &str,
) -> Result<(), AwsError> {
    let caller = call.require_caller()?;
    let Caller::Session(_) = caller else {
        return Ok(());
    };
    let (principal, policies) = caller_policies(state, caller).await?;
    let request = request(principal, action, resource, call);
    match evaluate(&policies, &request) {
        Decision::Allow => Ok(()),
        decision => {
            let explanation = evaluate_explained(&policies, &request);
            tracing::info!(
                request_id = %call.request_id,
                principal = %caller.arn(),
                %action,
                %resource,
                decision = decision.as_simulator_str(),
                reason = %explanation,
                "access denied"
            );
            let why = match decision {
                Decision::ExplicitDeny => {
                    "with an explicit deny in an identity-based policy".to_owned()
                }
                _ => format!("because no identity-based policy allows the {action} action"),
            };
            Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
                caller.arn()
            )))
        }
    }
}
