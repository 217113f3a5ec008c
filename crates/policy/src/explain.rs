//! Explained evaluation: the same algorithm as [`crate::evaluate`], recording the deciding
//! statements, each condition with the values it saw, and the context keys that were missing.

use std::fmt;

use crate::condition::Clause;
use crate::context::{ContextValue, Request};
use crate::document::{Effect, PolicyKind, Statement};
use crate::eval::{Decision, NamedPolicy, Observer, Policies, PolicySet, PolicyType, decide};
use crate::span::Span;

/// One condition clause as evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionTrace {
    /// Operator as written, e.g. `StringLike`.
    pub operator: String,
    /// Context key as written.
    pub key: String,
    /// Policy values as written.
    pub policy_values: Vec<String>,
    /// Request values seen (`None` when the key was absent).
    pub request_values: Option<Vec<String>>,
    /// Whether the clause held.
    pub held: bool,
}

/// A statement that decided the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// Policy name.
    pub policy_name: String,
    /// Managed policy ARN, if any.
    pub policy_arn: Option<String>,
    /// Provenance of the policy.
    pub policy_type: PolicyType,
    /// Role the policy played in this evaluation.
    pub kind: PolicyKind,
    /// Statement effect.
    pub effect: Effect,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// 0-based statement index.
    pub index: usize,
    /// Source position of the statement.
    pub span: Option<Span>,
    /// Each condition clause with what it saw.
    pub conditions: Vec<ConditionTrace>,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision (identical to the fast path's).
    pub decision: Decision,
    /// For an implicit deny: which kind of policy lacked an allow.
    pub implicit_deny_in: Option<PolicyKind>,
    /// The statements that decided: the denies for an explicit deny, the allows for an allow.
    pub statements: Vec<MatchedStatement>,
    /// For an implicit deny: the Allow statements that cover the action, resource and caller
    /// but whose conditions failed, each condition with the values it saw (the near misses).
    pub unmet: Vec<MatchedStatement>,
    /// Context keys referenced by conditions or variables of relevant statements but absent.
    pub missing_keys: Vec<String>,
    /// The action evaluated (lowercased).
    pub action: String,
    /// The resource evaluated.
    pub resource: String,
}

/// Collects every applicable statement.
#[derive(Default)]
struct Recorder<'a> {
    matched: Vec<(PolicyKind, &'a NamedPolicy, &'a Statement)>,
}

impl<'a> Observer<'a> for Recorder<'a> {
    const EXHAUSTIVE: bool = true;
    fn matched(&mut self, kind: PolicyKind, policy: &'a NamedPolicy, statement: &'a Statement) {
        self.matched.push((kind, policy, statement));
    }
}

/// Like [`crate::evaluate`], with reasons.
pub fn evaluate_explained(set: &PolicySet, request: &Request) -> Explanation {
    explain(Policies::of(set), request)
}

/// Like [`crate::evaluate_trust`], with reasons.
pub fn evaluate_trust_explained(
    trust: &NamedPolicy,
    caller: &PolicySet,
    request: &Request,
) -> Explanation {
    explain(Policies::trust(trust, caller), request)
}

fn explain(policies: Policies<'_>, request: &Request) -> Explanation {
    let mut recorder = Recorder::default();
    let outcome = decide(policies, request, &mut recorder);
    let deciding_effect = match outcome.decision {
        Decision::Allow => Some(Effect::Allow),
        Decision::ExplicitDeny => Some(Effect::Deny),
        Decision::ImplicitDeny => None,
    };
    let statements = recorder
        .matched
        .iter()
        .filter(|(_, _, statement)| Some(statement.effect) == deciding_effect)
        .map(|(kind, policy, statement)| traced(*kind, policy, statement, request))
        .collect();
    let unmet = if outcome.decision == Decision::ImplicitDeny {
        policies
            .all()
            .flat_map(|(kind, policy)| {
                policy
                    .policy
                    .statements()
                    .iter()
                    .map(move |statement| (kind, policy, statement))
            })
            .filter(|(_, _, statement)| {
                statement.effect == Effect::Allow
                    && statement.covers_action(request.action())
                    && statement.covers_resource(request.resource(), request)
                    && statement.principal_match(request).is_some()
                    && !statement.conditions_hold(request)
            })
            .map(|(kind, policy, statement)| traced(kind, policy, statement, request))
            .collect()
    } else {
        Vec::new()
    };
    Explanation {
        decision: outcome.decision,
        implicit_deny_in: outcome.lacking,
        statements,
        unmet,
        missing_keys: missing_keys(policies, request),
        action: request.action().to_owned(),
        resource: request.resource().to_owned(),
    }
}

fn traced(
    kind: PolicyKind,
    policy: &NamedPolicy,
    statement: &Statement,
    request: &Request,
) -> MatchedStatement {
    MatchedStatement {
        policy_name: policy.name.clone(),
        policy_arn: policy.arn.clone(),
        policy_type: policy.policy_type,
        kind,
        effect: statement.effect,
        sid: statement.sid.clone(),
        index: statement.index,
        span: statement.span,
        conditions: statement
            .conditions
            .iter()
            .map(|clause| trace(clause, request))
            .collect(),
    }
}

fn trace(clause: &Clause, request: &Request) -> ConditionTrace {
    ConditionTrace {
        operator: clause.operator_text().to_owned(),
        key: clause.key().to_owned(),
        policy_values: clause.values().map(str::to_owned).collect(),
        request_values: request
            .get_lowercase(clause.lookup_key())
            .map(|v| ContextValue::as_slice(v).to_vec()),
        held: clause.holds(request),
    }
}

/// Keys used by conditions/variables of statements whose action matches, that the request lacks.
fn missing_keys(policies: Policies<'_>, request: &Request) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    for (_, policy) in policies.all() {
        for statement in policy.policy.statements() {
            if !statement.covers_action(request.action()) {
                continue;
            }
            let resource_vars = statement
                .resources
                .iter()
                .flat_map(|m| m.entries.iter())
                .flat_map(|p| p.variable_keys());
            let condition_keys = statement.conditions.iter().flat_map(|clause| {
                std::iter::once(clause.lookup_key()).chain(clause.variable_keys())
            });
            for key in resource_vars.chain(condition_keys) {
                if request.get_lowercase(key).is_none() && !missing.iter().any(|m| m == key) {
                    missing.push(key.to_owned());
                }
            }
        }
    }
    missing
}

fn kind_label(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "identity-based policy",
        PolicyKind::Session => "session policy",
        PolicyKind::Boundary => "permissions boundary",
        PolicyKind::Resource => "resource-based policy",
        PolicyKind::Trust => "trust policy",
    }
}

impl fmt::Display for MatchedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) if !sid.is_empty() => write!(f, "statement \"{sid}\"")?,
            _ => write!(f, "statement #{}", self.index)?,
        }
        write!(
            f,
            " of {} ({}, {})",
            self.policy_name,
            self.policy_type.label(),
            kind_label(self.kind)
        )?;
        if let Some(span) = self.span {
            write!(f, " at line {}", span.start.line)?;
        }
        for condition in &self.conditions {
            let seen = condition
                .request_values
                .as_ref()
                .map_or_else(|| "absent".to_owned(), |v| format!("{v:?}"));
            write!(
                f,
                "; {} {} {:?} saw {} -> {}",
                condition.operator, condition.key, condition.policy_values, seen, condition.held
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {}: ",
            self.decision.as_simulator_str(),
            self.action,
            self.resource
        )?;
        match (self.decision, self.implicit_deny_in) {
            (Decision::ImplicitDeny, Some(PolicyKind::Identity)) => {
                write!(f, "no identity-based policy allows it")?
            }
            (Decision::ImplicitDeny, Some(kind)) => {
                write!(f, "the {} does not allow it", kind_label(kind))?
            }
            (Decision::ImplicitDeny, None) => write!(f, "nothing allows it")?,
            (Decision::Allow, _) => write!(f, "allowed by ")?,
            (Decision::ExplicitDeny, _) => write!(f, "denied by ")?,
        }
        for (i, statement) in self.statements.iter().enumerate() {
            if i > 0 {
                write!(f, " and ")?;
            }
            write!(f, "{statement}")?;
        }
        for statement in &self.unmet {
            write!(f, "; its condition failed in {statement}")?;
        }
        if !self.missing_keys.is_empty() {
            write!(
                f,
                " (missing context keys: {})",
                self.missing_keys.join(", ")
            )?;
        }
        Ok(())
    }
}
