//! Lint tests: one per finding, plus clean IRSA and Pod Identity trust policies.

use podpass_policy::lint::{Finding, Severity, lint};
use podpass_policy::{Policy, PolicyKind};

const ISSUER: &str = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

fn irsa_trust(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"}},"Action":"sts:AssumeRoleWithWebIdentity"{condition}}}]}}"#
    )
}

fn findings(source: &str, kind: PolicyKind) -> Vec<Finding> {
    lint(&Policy::parse(source, kind).unwrap(), kind)
}

fn codes(source: &str, kind: PolicyKind) -> Vec<(&'static str, Severity)> {
    findings(source, kind)
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

#[test]
fn clean_irsa_trust_has_no_findings() {
    let source = irsa_trust(&format!(
        r#","Condition":{{"StringEquals":{{"{ISSUER}:sub":"system:serviceaccount:default:my-service-account","{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
    ));
    assert_eq!(findings(&source, PolicyKind::Trust), vec![]);
}

#[test]
fn clean_pod_identity_trust_has_no_findings() {
    let source = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    assert_eq!(findings(source, PolicyKind::Trust), vec![]);
}

#[test]
fn missing_sub_and_aud() {
    let found = findings(&irsa_trust(""), PolicyKind::Trust);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].code, found[0].severity),
        ("trust-missing-sub", Severity::Error)
    );
    assert_eq!(
        found[0].message,
        format!("any pod of the cluster can assume this role: no {ISSUER}:sub condition")
    );
    assert_eq!(
        found[0].fix,
        format!(
            r#"add "Condition": {{"StringEquals": {{"{ISSUER}:sub": "system:serviceaccount:<namespace>:<serviceaccount>"}}}}"#
        )
    );
    assert_eq!(
        (found[1].code, found[1].severity),
        ("trust-missing-aud", Severity::Warning)
    );
    assert_eq!(
        found[1].fix,
        format!(r#"add "StringEquals": {{"{ISSUER}:aud": "sts.amazonaws.com"}}"#)
    );
}

#[test]
fn negated_sub_condition_does_not_count() {
    let source = irsa_trust(&format!(
        r#","Condition":{{"StringNotEquals":{{"{ISSUER}:sub":"system:serviceaccount:kube-system:x"}},"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
    ));
    assert_eq!(
        codes(&source, PolicyKind::Trust),
        [("trust-missing-sub", Severity::Error)]
    );
}

fn sub_like(pattern: &str) -> Vec<(&'static str, Severity)> {
    let source = irsa_trust(&format!(
        r#","Condition":{{"StringLike":{{"{ISSUER}:sub":"{pattern}"}},"StringEquals":{{"{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
    ));
    codes(&source, PolicyKind::Trust)
}

#[test]
fn sub_wildcards() {
    assert_eq!(
        sub_like("system:serviceaccount:*"),
        [("sub-wildcard-namespace", Severity::Error)]
    );
    assert_eq!(
        sub_like("system:serviceaccount:team-*:app"),
        [("sub-wildcard-namespace", Severity::Error)]
    );
    assert_eq!(sub_like("*"), [("sub-wildcard-namespace", Severity::Error)]);
    assert_eq!(
        sub_like("system:serviceaccount:apps:*"),
        [("sub-namespace-wide", Severity::Warning)]
    );
    assert_eq!(
        sub_like("system:serviceaccount:apps:web-*"),
        [("sub-wildcard-serviceaccount", Severity::Warning)]
    );
    assert_eq!(sub_like("system:serviceaccount:apps:web"), []);
}

#[test]
fn namespace_wide_fix_names_the_namespace() {
    let source = irsa_trust(&format!(
        r#","Condition":{{"StringLike":{{"{ISSUER}:sub":"system:serviceaccount:apps:*","{ISSUER}:aud":"sts.amazonaws.com"}}}}"#
    ));
    let found = findings(&source, PolicyKind::Trust);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        r#"any ServiceAccount of namespace "apps" can assume this role"#
    );
    assert_eq!(
        found[0].fix,
        format!(
            r#"use "StringEquals": {{"{ISSUER}:sub": "system:serviceaccount:apps:<serviceaccount>"}}"#
        )
    );
}

#[test]
fn wildcard_principal_in_trust() {
    for principal in [r#""*""#, r#"{"AWS":"*"}"#] {
        let source = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}}}"#
        );
        assert_eq!(
            codes(&source, PolicyKind::Trust),
            [("trust-wildcard-principal", Severity::Error)]
        );
    }
    // A Deny with Principal "*" is not a finding.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/a"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":"*","Action":"sts:TagSession"}]}"#;
    assert_eq!(codes(deny, PolicyKind::Trust), []);
}

#[test]
fn not_principal_with_allow() {
    let source = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    assert_eq!(
        codes(source, PolicyKind::Resource),
        [("notprincipal-with-allow", Severity::Error)]
    );
}

#[test]
fn pod_identity_without_tag_session() {
    let source = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    let found = findings(source, PolicyKind::Trust);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].code, found[0].severity),
        ("pod-identity-missing-tagsession", Severity::Error)
    );
    assert_eq!(
        found[0].fix,
        r#"use "Action": ["sts:AssumeRole", "sts:TagSession"]"#
    );
    // TagSession granted by a separate statement is fine.
    let split = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:TagSession"}]}"#;
    assert_eq!(codes(split, PolicyKind::Trust), []);
}

#[test]
fn allow_all_actions_on_all_resources() {
    let admin =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let found = findings(admin, PolicyKind::Identity);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].code, found[0].severity, found[0].statement),
        ("allow-all", Severity::Warning, 0)
    );
    let scoped = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}}"#;
    assert_eq!(codes(scoped, PolicyKind::Identity), []);
    let deny =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;
    assert_eq!(codes(deny, PolicyKind::Identity), []);
}

#[test]
fn trust_checks_only_for_trust_kind() {
    // The same statement linted as a resource policy has no trust findings.
    assert_eq!(
        codes(&irsa_trust(r#","Resource":"*""#), PolicyKind::Resource),
        []
    );
}

#[test]
fn broker_trust_needs_the_brokers_role_with_assume_role_and_tag_session() {
    const BROKER: &str = "arn:aws:iam::111122223333:role/podpass-broker";
    let broker_codes = |principal: &str, actions: &str| {
        let source = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":{actions}}}]}}"#
        );
        let policy = Policy::parse(&source, PolicyKind::Trust).unwrap();
        podpass_policy::lint::lint_broker_trust(&policy, BROKER)
            .into_iter()
            .map(|f| f.code)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        broker_codes(BROKER, r#"["sts:AssumeRole","sts:TagSession"]"#),
        Vec::<&str>::new()
    );
    assert_eq!(broker_codes(BROKER, r#""sts:*""#), Vec::<&str>::new());
    assert_eq!(
        broker_codes(BROKER, r#""sts:AssumeRole""#),
        ["broker-missing-tagsession"]
    );
    assert_eq!(
        broker_codes(BROKER, r#""sts:TagSession""#),
        ["broker-missing-assumerole"]
    );
    assert_eq!(
        broker_codes(
            "arn:aws:iam::111122223333:role/someone-else",
            r#"["sts:AssumeRole","sts:TagSession"]"#
        ),
        ["broker-not-trusted"]
    );
}
