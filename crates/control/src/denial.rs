//! Encoded authorization messages, the caller's half of "why was I denied": a call refused by
//! the caller's own policies carries its decision context sealed with the session key ring,
//! and STS `DecodeAuthorizationMessage` opens it for a caller allowed to, in AWS's JSON shape
//! plus podpass's explanation (the deciding statements, the near misses with each condition's
//! values, the missing keys).
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html>

use podpass_policy::{ConditionTrace, Decision, Effect, Explanation, MatchedStatement, Request};
use serde_json::{Value, json};

use crate::{Control, Ctx, Error, Invalid, Result};

/// AWS's `{"items": [...]}` list.
fn items(values: impl IntoIterator<Item = Value>) -> Value {
    json!({"items": values.into_iter().collect::<Vec<_>>()})
}

fn values(values: &[String]) -> Value {
    items(values.iter().map(|value| json!({"value": value})))
}

fn statement(matched: &MatchedStatement) -> Value {
    json!({
        "statementId": matched.sid.clone().unwrap_or_default(),
        "effect": match matched.effect {
            Effect::Allow => "ALLOW",
            Effect::Deny => "DENY",
        },
        "principals": items([]),
        "principalGroups": items([]),
        "actions": items([]),
        "resources": items([]),
        "conditions": items(matched.conditions.iter().map(condition)),
        "podpass": {
            "policy": matched.policy_arn.clone().unwrap_or_else(|| matched.policy_name.clone()),
            "statementIndex": matched.index,
        },
    })
}

fn condition(trace: &ConditionTrace) -> Value {
    json!({
        "key": trace.key,
        "values": values(&trace.policy_values),
        "podpass": {
            "operator": trace.operator,
            "requestValues": trace.request_values,
            "held": trace.held,
        },
    })
}

/// The decision context of a denied `request`, as `DecodeAuthorizationMessage` shows it: AWS's
/// members, and podpass's explanation under `podpass`.
fn decision_context(action: &str, request: &Request, explanation: &Explanation) -> Value {
    let principal_arn = request.principal().arn().unwrap_or_default();
    let principal_id = request
        .get("aws:userid")
        .and_then(|id| id.as_slice().first().cloned())
        .unwrap_or_default();
    json!({
        "allowed": explanation.decision == Decision::Allow,
        "explicitDeny": explanation.decision == Decision::ExplicitDeny,
        "matchedStatements": items(explanation.statements.iter().map(statement)),
        "failures": items([]),
        "context": {
            "principal": {"id": principal_id, "arn": principal_arn},
            "action": action,
            "resource": request.resource(),
            "conditions": items(request.context().map(|(key, value)| {
                json!({"key": key, "values": values(value.as_slice())})
            })),
        },
        "podpass": {
            "explanation": explanation.to_string(),
            "nearMisses": explanation.unmet.iter().map(statement).collect::<Vec<_>>(),
            "missingKeys": explanation.missing_keys,
        },
    })
}

impl Control {
    /// The sealed decision context of a denied call, for its error message (`None` if it
    /// could not be sealed: the denial stands without it).
    pub(crate) fn encoded_denial(
        &self,
        action: &str,
        request: &Request,
        explanation: &Explanation,
    ) -> Option<String> {
        let context = decision_context(action, request, explanation).to_string();
        self.key_ring()
            .sealer()
            .seal_message(context.as_bytes())
            .inspect_err(|error| tracing::warn!(%error, "cannot seal an authorization message"))
            .ok()
    }

    /// STS `DecodeAuthorizationMessage`: the decision context a denial carried, for a caller
    /// allowed `sts:DecodeAuthorizationMessage` (the account root always is).
    pub async fn decode_authorization_message(&self, ctx: &Ctx, encoded: &str) -> Result<String> {
        self.authorize(ctx, "sts:DecodeAuthorizationMessage", "*")
            .await?;
        let opened = self
            .key_ring()
            .sealer()
            .open_message(encoded)
            .map_err(|why| {
                tracing::info!(request_id = %ctx.request_id, %why, "authorization message refused");
                Error::invalid(
                    Invalid::AuthorizationMessage,
                    "The encoded authorization message is invalid.",
                )
            })?;
        String::from_utf8(opened).map_err(Error::internal)
    }
}
