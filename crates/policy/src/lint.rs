//! Workload-identity lint: trust and permission mistakes that let the wrong pod take a role.

use crate::condition::{Clause, Operator, SetQualifier};
use crate::document::{Effect, Policy, PolicyKind, Statement};
use crate::principal::PrincipalEntry;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational.
    Info,
    /// Probably wider than intended.
    Warning,
    /// Lets principals assume or do what they should not (or cannot work at all).
    Error,
}

/// One lint result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `trust-missing-sub`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// A concrete suggestion.
    pub fix: String,
    /// Index of the statement concerned.
    pub statement: usize,
}

/// The service principal of EKS Pod Identity.
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";
/// The audience IRSA tokens carry.
pub const IRSA_AUDIENCE: &str = "sts.amazonaws.com";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Lints a compiled policy used as `kind`.
pub fn lint(policy: &Policy, kind: PolicyKind) -> Vec<Finding> {
    let mut findings = Vec::new();
    for statement in policy.statements() {
        let mut push = |severity, code, message: String, fix: String| {
            findings.push(Finding {
                severity,
                code,
                message,
                fix,
                statement: statement.index,
            })
        };
        if statement.effect != Effect::Allow {
            continue;
        }
        if statement.principals.as_ref().is_some_and(|p| p.negated) {
            push(
                Severity::Error,
                "notprincipal-with-allow",
                "NotPrincipal with Effect Allow grants access to every principal not listed".into(),
                "use Principal listing exactly who may act, or use NotPrincipal only with Deny"
                    .into(),
            );
        }
        if statement.covers_all_actions() && statement.covers_all_resources() {
            push(
                Severity::Warning,
                "allow-all",
                "Action \"*\" on Resource \"*\" grants full administrator access".into(),
                "list the specific actions and resource ARNs the workload needs".into(),
            );
        }
        if kind == PolicyKind::Trust {
            lint_trust_statement(statement, &mut push);
        }
    }
    if kind == PolicyKind::Trust {
        lint_pod_identity(policy, &mut findings);
    }
    findings
}

fn allowed_principals(statement: &Statement) -> &[PrincipalEntry] {
    match &statement.principals {
        Some(m) if !m.negated => &m.entries,
        _ => &[],
    }
}

fn lint_trust_statement(
    statement: &Statement,
    push: &mut impl FnMut(Severity, &'static str, String, String),
) {
    let principals = allowed_principals(statement);
    if principals.contains(&PrincipalEntry::Everyone) {
        push(
            Severity::Error,
            "trust-wildcard-principal",
            "the trust policy lets any principal (Principal \"*\") assume the role".into(),
            format!(
                "name the OIDC provider ({{\"Federated\":\"arn:aws:iam::<account>:oidc-provider/<issuer>\"}}) \
                 or {{\"Service\":\"{POD_IDENTITY_SERVICE}\"}} instead of \"*\""
            ),
        );
    }
    if !statement.covers_action("sts:assumerolewithwebidentity") {
        return;
    }
    for entry in principals {
        let PrincipalEntry::Federated(provider) = entry else {
            continue;
        };
        let issuer = provider
            .split_once(":oidc-provider/")
            .map_or(provider.as_str(), |(_, issuer)| issuer);
        let sub_key = format!("{issuer}:sub").to_lowercase();
        let aud_key = format!("{issuer}:aud").to_lowercase();
        let subs: Vec<&Clause> = statement
            .conditions
            .iter()
            .filter(|c| c.lookup_key() == sub_key && restricts(c))
            .collect();
        if subs.is_empty() {
            push(
                Severity::Error,
                "trust-missing-sub",
                format!("any pod of the cluster can assume this role: no {issuer}:sub condition"),
                format!(
                    "add \"Condition\": {{\"StringEquals\": {{\"{issuer}:sub\": \
                     \"system:serviceaccount:<namespace>:<serviceaccount>\"}}}}"
                ),
            );
        }
        for clause in &subs {
            for value in clause.values() {
                lint_sub_pattern(issuer, clause, value, push);
            }
        }
        if !statement
            .conditions
            .iter()
            .any(|c| c.lookup_key() == aud_key && restricts(c))
        {
            push(
                Severity::Warning,
                "trust-missing-aud",
                format!("no {issuer}:aud condition: tokens minted for any audience are accepted"),
                format!("add \"StringEquals\": {{\"{issuer}:aud\": \"{IRSA_AUDIENCE}\"}}"),
            );
        }
    }
}

/// A positive string test that narrows who matches (not negated, not vacuous `ForAllValues`).
fn restricts(clause: &Clause) -> bool {
    matches!(
        clause.operator(),
        Operator::StringEquals | Operator::StringLike | Operator::StringEqualsIgnoreCase
    ) && clause.qualifier() != SetQualifier::ForAllValues
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

fn lint_sub_pattern(
    issuer: &str,
    clause: &Clause,
    value: &str,
    push: &mut impl FnMut(Severity, &'static str, String, String),
) {
    if clause.operator() != Operator::StringLike || !has_wildcard(value) {
        return;
    }
    let exact_fix = format!(
        "use \"StringEquals\": {{\"{issuer}:sub\": \"system:serviceaccount:<namespace>:<serviceaccount>\"}}"
    );
    let Some((namespace, service_account)) = value
        .strip_prefix(SERVICE_ACCOUNT_PREFIX)
        .and_then(|rest| rest.split_once(':'))
    else {
        push(
            Severity::Error,
            "sub-wildcard-namespace",
            format!("sub pattern \"{value}\" matches ServiceAccounts of every namespace"),
            exact_fix,
        );
        return;
    };
    if has_wildcard(namespace) {
        push(
            Severity::Error,
            "sub-wildcard-namespace",
            format!("sub pattern \"{value}\" matches ServiceAccounts across namespaces"),
            exact_fix,
        );
    } else if service_account == "*" {
        push(
            Severity::Warning,
            "sub-namespace-wide",
            format!("any ServiceAccount of namespace \"{namespace}\" can assume this role"),
            format!(
                "use \"StringEquals\": {{\"{issuer}:sub\": \"system:serviceaccount:{namespace}:<serviceaccount>\"}}"
            ),
        );
    } else {
        push(
            Severity::Warning,
            "sub-wildcard-serviceaccount",
            format!("sub pattern \"{value}\" matches several ServiceAccounts of \"{namespace}\""),
            format!(
                "use \"StringEquals\": {{\"{issuer}:sub\": \"system:serviceaccount:{namespace}:<serviceaccount>\"}}"
            ),
        );
    }
}

fn lint_pod_identity(policy: &Policy, findings: &mut Vec<Finding>) {
    let trusts_pods = |s: &&Statement| {
        s.effect == Effect::Allow
            && allowed_principals(s)
                .iter()
                .any(|p| matches!(p, PrincipalEntry::Service(s) if s == POD_IDENTITY_SERVICE))
    };
    let pod_statements: Vec<&Statement> = policy.statements().iter().filter(trusts_pods).collect();
    let Some(first) = pod_statements.first() else {
        return;
    };
    if !pod_statements
        .iter()
        .any(|s| s.covers_action("sts:tagsession"))
    {
        findings.push(Finding {
            severity: Severity::Error,
            code: "pod-identity-missing-tagsession",
            message: format!(
                "{POD_IDENTITY_SERVICE} is trusted without sts:TagSession: EKS Pod Identity sets session tags and AssumeRole will fail"
            ),
            fix: "use \"Action\": [\"sts:AssumeRole\", \"sts:TagSession\"]".into(),
            statement: first.index,
        });
    }
}

/// Checks that a role's trust policy lets a podpass broker whose own identity is the role
/// `broker_role` hand its sessions to pods: the broker's `AssumeRole` carries EKS's session tags,
/// so the trust policy must allow it `sts:AssumeRole` and `sts:TagSession`.
pub fn lint_broker_trust(policy: &Policy, broker_role: &str) -> Vec<Finding> {
    let trusts_broker = |s: &&Statement| {
        s.effect == Effect::Allow
            && allowed_principals(s)
                .iter()
                .any(|p| matches!(p, PrincipalEntry::Role(arn) if arn == broker_role))
    };
    let statements: Vec<&Statement> = policy.statements().iter().filter(trusts_broker).collect();
    let finding = |code, message: String, fix: String, statement| Finding {
        severity: Severity::Error,
        code,
        message,
        fix,
        statement,
    };
    let Some(first) = statements.first() else {
        return vec![finding(
            "broker-not-trusted",
            format!(
                "the trust policy does not name the broker's role {broker_role}: the broker cannot hand this role to pods"
            ),
            format!(
                "add {{\"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"{broker_role}\"}}, \"Action\": [\"sts:AssumeRole\", \"sts:TagSession\"]}}"
            ),
            0,
        )];
    };
    let covers = |action: &str| statements.iter().any(|s| s.covers_action(action));
    let mut findings = Vec::new();
    for (action, why) in [
        ("sts:assumerole", "it cannot assume the role"),
        (
            "sts:tagsession",
            "EKS's session tags make AssumeRole fail unless the association disables them",
        ),
    ] {
        if !covers(action) {
            findings.push(finding(
                if action == "sts:assumerole" {
                    "broker-missing-assumerole"
                } else {
                    "broker-missing-tagsession"
                },
                format!("the broker's role {broker_role} is trusted without {action}: {why}"),
                "use \"Action\": [\"sts:AssumeRole\", \"sts:TagSession\"]".into(),
                first.index,
            ));
        }
    }
    findings
}
