//! The policy simulator: SimulateCustomPolicy and SimulatePrincipalPolicy, evaluated by the same
//! engine as real requests, with the deciding statements' source positions.

use std::sync::Arc;

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation, XmlWriter};
use podpass_control::simulate::arn_principal;
use podpass_policy::{
    ContextValue, Decision, Explanation, NamedPolicy, PolicyKind, PolicySet, PolicyType, Principal,
    PrincipalContext, Request, Span, evaluate, evaluate_explained,
};

use podpass_control::iam::{DocumentUse, check_document};

use super::common::{check_max_len, required, response};
use super::context::read_context_entries;
use super::pagination::PageRequest;
use crate::call::{Call, authorize};
use crate::{AppState, errors};

/// What both simulator operations read from the request.
struct Simulation {
    identity: Vec<Arc<NamedPolicy>>,
    boundary: Option<Arc<NamedPolicy>>,
    resource: Option<Arc<NamedPolicy>>,
    actions: Vec<String>,
    resources: Vec<String>,
    caller: Option<Principal>,
    context: Vec<(String, ContextValue)>,
    page: PageRequest,
}

/// Parses the documents of a list member as `kind`, named `<List>.N` as IAM reports them. The
/// simulator models malformed documents as `InvalidInput`.
fn documents(
    call: &Call,
    validation: &mut Validation,
    member: &str,
    kind: PolicyKind,
    policy_type: PolicyType,
) -> Result<Vec<Arc<NamedPolicy>>, AwsError> {
    let texts = call.params.list(member).unwrap_or_default();
    for (i, text) in texts.iter().enumerate() {
        validation.check(
            &format!("{member}.member.{}", i + 1),
            Some(text),
            MemberType::PolicyDocument,
        );
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let policy = check_document(text, DocumentUse::Simulated(kind))
                .map_err(|e| AwsError::invalid_input(e.to_string()))?;
            Ok(Arc::new(NamedPolicy::new(
                format!("{member}.{}", i + 1),
                policy_type,
                policy,
            )))
        })
        .collect()
}

/// The principal a `CallerArn` names: the account root, a user, a role (as a session) or a
/// role session.
fn caller_principal(arn: &str) -> Result<Principal, AwsError> {
    arn_principal(arn).ok_or_else(|| AwsError::invalid_input(format!("Invalid CallerArn: {arn}")))
}

fn read_simulation(call: &Call, validation: &mut Validation) -> Result<Simulation, AwsError> {
    let params = &call.params;
    let identity = documents(
        call,
        validation,
        "PolicyInputList",
        PolicyKind::Identity,
        PolicyType::Inline,
    )?;
    let boundaries = documents(
        call,
        validation,
        "PermissionsBoundaryPolicyInputList",
        PolicyKind::Boundary,
        PolicyType::Boundary,
    )?;
    if boundaries.len() > 1 {
        return Err(AwsError::invalid_input(
            "Only one permissions boundary policy can be simulated.",
        ));
    }
    let actions = params.list("ActionNames");
    if actions.is_none() {
        validation.require("ActionNames", None);
    }
    let actions = actions.unwrap_or_default();
    for (i, action) in actions.iter().enumerate() {
        let member = format!("ActionNames.member.{}", i + 1);
        if action.encode_utf16().count() < 3 {
            validation.violation(
                &member,
                Some(action),
                "Member must have length greater than or equal to 3",
            );
        }
        check_max_len(validation, &member, Some(action), 128);
    }
    let resources = params.list("ResourceArns").unwrap_or_default();
    for (i, resource) in resources.iter().enumerate() {
        let member = format!("ResourceArns.member.{}", i + 1);
        if resource.is_empty() {
            validation.violation(
                &member,
                Some(resource),
                "Member must have length greater than or equal to 1",
            );
        }
        check_max_len(validation, &member, Some(resource), 2048);
    }
    let resource_policy = params.get("ResourcePolicy");
    validation.check(
        "ResourcePolicy",
        resource_policy,
        MemberType::PolicyDocument,
    );
    let caller_arn = params.get("CallerArn");
    check_max_len(validation, "CallerArn", caller_arn, 2048);
    let context = read_context_entries(params, validation)?;
    let page = PageRequest::read(params, validation)?;
    validation.finish()?;
    let resource = resource_policy
        .map(|text| {
            let policy = check_document(text, DocumentUse::Simulated(PolicyKind::Resource))
                .map_err(|e| AwsError::invalid_input(e.to_string()))?;
            Ok::<_, AwsError>(Arc::new(NamedPolicy::new(
                "ResourcePolicy",
                PolicyType::Resource,
                policy,
            )))
        })
        .transpose()?;
    Ok(Simulation {
        identity,
        boundary: boundaries.into_iter().next(),
        resource,
        actions: actions.into_iter().map(str::to_owned).collect(),
        resources: if resources.is_empty() {
            vec!["*".to_owned()]
        } else {
            resources.into_iter().map(str::to_owned).collect()
        },
        caller: caller_arn.map(caller_principal).transpose()?,
        context,
        page,
    })
}

/// One evaluated (action, resource) pair.
struct Evaluation {
    action: String,
    resource: String,
    explanation: Explanation,
    /// `Some` when a permissions boundary took part.
    allowed_by_boundary: Option<bool>,
}

/// The engine reports missing keys lowercased; IAM reports them as the policies spell them.
fn as_written(set: &PolicySet, missing: Vec<String>) -> Vec<String> {
    let policies = set
        .identity
        .iter()
        .chain(set.resource.iter())
        .chain(set.boundary.iter());
    let written: Vec<&str> = policies
        .flat_map(|p| p.policy.statements())
        .flat_map(|s| s.conditions.iter().map(|c| c.key()))
        .collect();
    missing
        .into_iter()
        .map(|key| {
            written
                .iter()
                .find(|w| w.eq_ignore_ascii_case(&key))
                .map_or(key, |w| (*w).to_owned())
        })
        .collect()
}

fn evaluate_all(simulation: Simulation, principal: Principal) -> (Vec<Evaluation>, PageRequest) {
    let set = PolicySet {
        identity: simulation.identity,
        resource: simulation.resource,
        boundary: simulation.boundary.clone(),
        session: Vec::new(),
    };
    let boundary_only = simulation.boundary.map(|boundary| PolicySet {
        identity: vec![boundary],
        ..PolicySet::default()
    });
    // Derived once for every action and resource simulated.
    let principal: Arc<PrincipalContext> = principal.into();
    let mut results = Vec::new();
    for action in &simulation.actions {
        for resource in &simulation.resources {
            let mut request = Request::new(principal.clone(), action, resource.as_str());
            for (key, value) in &simulation.context {
                request.set_value(key, value.clone());
            }
            let mut explanation = evaluate_explained(&set, &request);
            explanation.missing_keys = as_written(&set, explanation.missing_keys);
            results.push(Evaluation {
                action: action.clone(),
                resource: resource.clone(),
                explanation,
                allowed_by_boundary: boundary_only
                    .as_ref()
                    .map(|b| evaluate(b, &request) == Decision::Allow),
            });
        }
    }
    (results, simulation.page)
}

fn write_position(w: &mut XmlWriter, name: &str, line: u32, column: u32) {
    w.nest(name, |w| {
        w.int("Line", i64::from(line))
            .int("Column", i64::from(column));
    });
}

fn write_span(w: &mut XmlWriter, span: Span) {
    write_position(w, "StartPosition", span.start.line, span.start.column);
    write_position(w, "EndPosition", span.end.line, span.end.column);
}

fn write_evaluation(w: &mut XmlWriter, evaluation: &Evaluation) {
    let explanation = &evaluation.explanation;
    w.elem("EvalActionName", &evaluation.action)
        .elem("EvalResourceName", &evaluation.resource)
        .elem("EvalDecision", explanation.decision.as_simulator_str());
    w.list(
        "MatchedStatements",
        &explanation.statements,
        |w, statement| {
            let source_type = match statement.kind {
                PolicyKind::Resource => "Resource Policy",
                _ => "IAM Policy",
            };
            w.elem("SourcePolicyId", &statement.policy_name)
                .elem("SourcePolicyType", source_type);
            if let Some(span) = statement.span {
                write_span(w, span);
            }
        },
    );
    w.text_list("MissingContextValues", &explanation.missing_keys);
    if let Some(allowed) = evaluation.allowed_by_boundary {
        w.nest("PermissionsBoundaryDecisionDetail", |w| {
            w.bool("AllowedByPermissionsBoundary", allowed);
        });
    }
}

fn render(
    operation: &str,
    call: &Call,
    results: Vec<Evaluation>,
    page_request: &PageRequest,
) -> RenderedResponse {
    let indexed: Vec<(usize, Evaluation)> = results.into_iter().enumerate().collect();
    let page = page_request.page(indexed, |(i, _)| format!("{i:010}"));
    response(operation, call).result(|w| {
        w.list("EvaluationResults", &page.items, |w, (_, evaluation)| {
            write_evaluation(w, evaluation);
        });
        page.write_truncation(w);
    })
}

/// SimulateCustomPolicy: the given documents only, as the caller (`CallerArn`, default the
/// account root).
pub(super) async fn simulate_custom_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    if call.params.list("PolicyInputList").is_none() {
        validation.require("PolicyInputList", None);
    }
    let simulation = read_simulation(call, &mut validation)?;
    authorize(state, call, "iam:SimulateCustomPolicy", "*").await?;
    let principal = simulation
        .caller
        .clone()
        .unwrap_or_else(|| Principal::AccountRoot {
            account: state.control.account_id().to_owned(),
        });
    let (results, page) = evaluate_all(simulation, principal);
    Ok(render("SimulateCustomPolicy", call, results, &page))
}

/// SimulatePrincipalPolicy: a role's or user's inline, attached (and, for a user, its groups')
/// and boundary policies, plus any given documents, evaluated as a session of the role or as
/// the user.
pub(super) async fn simulate_principal_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let source = required(call, &mut validation, "PolicySourceArn", MemberType::Arn);
    let mut simulation = read_simulation(call, &mut validation)?;
    authorize(state, call, "iam:SimulatePrincipalPolicy", source).await?;
    let (source_principal, stored) = state
        .control
        .simulation_source(source)
        .await
        .map_err(errors::query)?;
    let mut identity = stored.identity;
    identity.append(&mut simulation.identity);
    simulation.identity = identity;
    if simulation.boundary.is_none() {
        simulation.boundary = stored.boundary;
    }
    let principal = simulation.caller.clone().unwrap_or(source_principal);
    let (results, page) = evaluate_all(simulation, principal);
    Ok(render("SimulatePrincipalPolicy", call, results, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_are_reported_as_the_policy_spells_them() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        let policy = podpass_policy::Policy::parse(text, PolicyKind::Identity).unwrap();
        let set = PolicySet {
            identity: vec![Arc::new(NamedPolicy::new("p", PolicyType::Inline, policy))],
            ..PolicySet::default()
        };
        assert_eq!(
            as_written(&set, vec!["aws:sourceip".into(), "aws:username".into()]),
            ["aws:SourceIp", "aws:username"]
        );
    }
}
