//! The decision algorithm of iam-eval.md §3: explicit deny first, then resource-policy allow
//! (role-ARN vs session-ARN rule), then identity allow intersected with boundary and session policies.

use std::sync::Arc;

use crate::context::Request;
use crate::document::{Effect, Policy, PolicyKind, Statement};
use crate::principal::PrincipalMatch;

/// Where a policy came from (reported by explanations and the simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// Inline policy of a role or user.
    Inline,
    /// AWS managed policy (`arn:aws:iam::aws:policy/...`).
    AwsManaged,
    /// Customer managed policy.
    CustomerManaged,
    /// Resource-based policy (e.g. bucket policy).
    Resource,
    /// Role trust policy.
    Trust,
    /// Permissions boundary.
    Boundary,
    /// Inline session policy passed to AssumeRole*.
    SessionInline,
    /// Managed session policy (`PolicyArns`) passed to AssumeRole*.
    SessionManaged,
}

impl PolicyType {
    /// Short lowercase label for logs and explanations.
    pub fn label(self) -> &'static str {
        match self {
            PolicyType::Inline => "inline",
            PolicyType::AwsManaged => "aws-managed",
            PolicyType::CustomerManaged => "customer-managed",
            PolicyType::Resource => "resource",
            PolicyType::Trust => "trust",
            PolicyType::Boundary => "boundary",
            PolicyType::SessionInline => "session",
            PolicyType::SessionManaged => "managed-session",
        }
    }
}

/// A compiled policy with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPolicy {
    /// Policy name (inline name or managed policy name).
    pub name: String,
    /// Managed policy ARN, if any.
    pub arn: Option<String>,
    /// Provenance.
    pub policy_type: PolicyType,
    /// The compiled document.
    pub policy: Policy,
}

impl NamedPolicy {
    /// Wraps a compiled policy.
    pub fn new(name: impl Into<String>, policy_type: PolicyType, policy: Policy) -> Self {
        NamedPolicy {
            name: name.into(),
            arn: None,
            policy_type,
            policy,
        }
    }

    /// Sets the managed policy ARN.
    pub fn with_arn(mut self, arn: impl Into<String>) -> Self {
        self.arn = Some(arn.into());
        self
    }
}

/// Every policy that applies to one principal and request. Build once per principal and reuse.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies (inline and managed).
    pub identity: Vec<Arc<NamedPolicy>>,
    /// Resource-based policy of the target resource.
    pub resource: Option<Arc<NamedPolicy>>,
    /// Permissions boundary of the principal.
    pub boundary: Option<Arc<NamedPolicy>>,
    /// Session policies (inline and managed) of the session.
    pub session: Vec<Arc<NamedPolicy>>,
}

impl PolicySet {
    /// Whether any of the policies tests a key starting with `prefix`
    /// ([`Policy::tests_keys_starting`]).
    pub fn tests_keys_starting(&self, prefix: &str) -> bool {
        self.identity
            .iter()
            .chain(&self.resource)
            .chain(&self.boundary)
            .chain(&self.session)
            .any(|named| named.policy.tests_keys_starting(prefix))
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// A Deny statement applied.
    ExplicitDeny,
    /// Nothing allowed it.
    ImplicitDeny,
}

impl Decision {
    /// The IAM simulator's `EvalDecision` value.
    pub fn as_simulator_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    /// True for [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// The decision and, for an implicit deny, which kind of policy lacked an allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub decision: Decision,
    pub lacking: Option<PolicyKind>,
}

impl Outcome {
    fn allow() -> Self {
        Outcome {
            decision: Decision::Allow,
            lacking: None,
        }
    }

    fn implicit(kind: PolicyKind) -> Self {
        Outcome {
            decision: Decision::ImplicitDeny,
            lacking: Some(kind),
        }
    }
}

/// Sees every statement that applied; the fast path uses a no-op observer.
pub(crate) trait Observer<'a> {
    /// Keep scanning after the first deciding statement (explanations list them all).
    const EXHAUSTIVE: bool;
    /// Called for each statement that applies to the request.
    fn matched(&mut self, kind: PolicyKind, policy: &'a NamedPolicy, statement: &'a Statement);
}

/// The no-op observer of the fast path.
struct Quiet;

impl Observer<'_> for Quiet {
    const EXHAUSTIVE: bool = false;
    fn matched(&mut self, _: PolicyKind, _: &NamedPolicy, _: &Statement) {}
}

/// Whether the statement applies to the request, and how its principal element named the caller.
pub(crate) fn applies(statement: &Statement, request: &Request) -> Option<PrincipalMatch> {
    if !statement.covers_action(request.action())
        || !statement.covers_resource(request.resource(), request)
    {
        return None;
    }
    let how = statement.principal_match(request)?;
    statement.conditions_hold(request).then_some(how)
}

/// The policies of one evaluation, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Policies<'a> {
    pub identity: &'a [Arc<NamedPolicy>],
    pub resource: Option<&'a NamedPolicy>,
    pub boundary: Option<&'a NamedPolicy>,
    pub session: &'a [Arc<NamedPolicy>],
    /// Trust mode: the resource (trust) policy must allow.
    pub resource_must_allow: bool,
}

impl<'a> Policies<'a> {
    pub(crate) fn of(set: &'a PolicySet) -> Self {
        Policies {
            identity: &set.identity,
            resource: set.resource.as_deref(),
            boundary: set.boundary.as_deref(),
            session: &set.session,
            resource_must_allow: false,
        }
    }

    pub(crate) fn trust(trust: &'a NamedPolicy, caller: &'a PolicySet) -> Self {
        Policies {
            resource: Some(trust),
            resource_must_allow: true,
            ..Policies::of(caller)
        }
    }

    /// Every policy with the role it plays, in evaluation order.
    pub(crate) fn all(self) -> impl Iterator<Item = (PolicyKind, &'a NamedPolicy)> {
        let resource_kind = if self.resource_must_allow {
            PolicyKind::Trust
        } else {
            PolicyKind::Resource
        };
        let identity = self.identity.iter().map(|p| (PolicyKind::Identity, &**p));
        let resource = self.resource.map(|p| (resource_kind, p));
        let boundary = self.boundary.map(|p| (PolicyKind::Boundary, p));
        let session = self.session.iter().map(|p| (PolicyKind::Session, &**p));
        identity.chain(resource).chain(boundary).chain(session)
    }
}

/// The strongest principal match among applicable statements with `effect`.
fn scan<'a, O: Observer<'a>>(
    policies: impl Iterator<Item = (PolicyKind, &'a NamedPolicy)>,
    effect: Effect,
    request: &Request,
    observer: &mut O,
) -> Option<PrincipalMatch> {
    let mut best = None;
    for (kind, policy) in policies {
        for statement in policy.policy.statements() {
            if statement.effect != effect {
                continue;
            }
            let Some(how) = applies(statement, request) else {
                continue;
            };
            observer.matched(kind, policy, statement);
            best = best.max(Some(how));
            let decisive = effect == Effect::Deny || how == PrincipalMatch::Direct;
            if decisive && !O::EXHAUSTIVE {
                return best;
            }
        }
    }
    best
}

/// The full algorithm, generic over the observer so the explained path shares it.
pub(crate) fn decide<'a, O: Observer<'a>>(
    policies: Policies<'a>,
    request: &Request,
    observer: &mut O,
) -> Outcome {
    if scan(policies.all(), Effect::Deny, request, observer).is_some() {
        return Outcome {
            decision: Decision::ExplicitDeny,
            lacking: None,
        };
    }
    let mut boundary_allows: Option<bool> = None;
    let mut session_allows: Option<bool> = None;
    let mut intersection = |observer: &mut O| -> Result<(), PolicyKind> {
        let boundary = *boundary_allows.get_or_insert_with(|| {
            policies.boundary.is_none_or(|boundary| {
                let only = std::iter::once((PolicyKind::Boundary, boundary));
                scan(only, Effect::Allow, request, observer).is_some()
            })
        });
        if !boundary {
            return Err(PolicyKind::Boundary);
        }
        let session = *session_allows.get_or_insert_with(|| {
            policies.session.is_empty() || {
                let sessions = policies.session.iter().map(|p| (PolicyKind::Session, &**p));
                scan(sessions, Effect::Allow, request, observer).is_some()
            }
        });
        if session {
            Ok(())
        } else {
            Err(PolicyKind::Session)
        }
    };
    let resource_kind = if policies.resource_must_allow {
        PolicyKind::Trust
    } else {
        PolicyKind::Resource
    };
    let resource_allow = policies.resource.and_then(|resource| {
        let only = std::iter::once((resource_kind, resource));
        scan(only, Effect::Allow, request, observer)
    });
    match resource_allow {
        Some(PrincipalMatch::Direct) => return Outcome::allow(),
        Some(PrincipalMatch::Role) if intersection(observer).is_ok() => return Outcome::allow(),
        None if policies.resource_must_allow => return Outcome::implicit(PolicyKind::Trust),
        _ => {}
    }
    let identities = policies
        .identity
        .iter()
        .map(|p| (PolicyKind::Identity, &**p));
    if scan(identities, Effect::Allow, request, observer).is_none() {
        return Outcome::implicit(PolicyKind::Identity);
    }
    match intersection(observer) {
        Ok(()) => Outcome::allow(),
        Err(kind) => Outcome::implicit(kind),
    }
}

/// Evaluates a request against a policy set (fast path: no allocation, stops at the first deny).
pub fn evaluate(set: &PolicySet, request: &Request) -> Decision {
    decide(Policies::of(set), request, &mut Quiet).decision
}

/// Evaluates a role trust policy for an AssumeRole* request. Only the trust policy is consulted
/// unless it names the caller's account, in which case `caller`'s identity policies must allow too
/// (pass `PolicySet::default()` for web-identity and service callers).
pub fn evaluate_trust(trust: &NamedPolicy, caller: &PolicySet, request: &Request) -> Decision {
    decide(Policies::trust(trust, caller), request, &mut Quiet).decision
}
