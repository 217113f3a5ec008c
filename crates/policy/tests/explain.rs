//! Explained evaluation: deciding statements, condition traces, missing keys, Display, positions.

use std::sync::Arc;

use podpass_policy::{
    ConditionTrace, Decision, Effect, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType,
    Position, Principal, Request, RoleSession, Span, catalogue, evaluate_explained,
    evaluate_trust_explained,
};

const INLINE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "TeamPrefix",
      "Effect": "Allow",
      "Action": "s3:PutObject",
      "Resource": "arn:aws:s3:::data/${aws:PrincipalTag/team}/*",
      "Condition": {"StringEquals": {"aws:PrincipalTag/env": "prod"}}
    },
    {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
  ]
}"#;

fn named(source: &str, kind: PolicyKind, policy_type: PolicyType, name: &str) -> Arc<NamedPolicy> {
    Arc::new(NamedPolicy::new(
        name,
        policy_type,
        Policy::parse(source, kind).unwrap(),
    ))
}

fn session(tags: &[(&str, &str)]) -> Principal {
    Principal::AssumedRole(RoleSession {
        account: "111122223333".into(),
        role_name: "app".into(),
        role_path: "/".into(),
        role_id: "AROAEXAMPLEID".into(),
        session_name: "pod".into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        source_identity: None,
    })
}

fn set() -> PolicySet {
    PolicySet {
        identity: vec![
            Arc::new(
                catalogue::by_name("AmazonS3ReadOnlyAccess")
                    .unwrap()
                    .compile()
                    .unwrap(),
            ),
            named(
                INLINE,
                PolicyKind::Identity,
                PolicyType::Inline,
                "team-data",
            ),
        ],
        ..PolicySet::default()
    }
}

#[test]
fn statement_positions() {
    let policy = Policy::parse(INLINE, PolicyKind::Identity).unwrap();
    let spans: Vec<Option<Span>> = policy.statements().iter().map(|s| s.span).collect();
    assert_eq!(
        spans,
        [
            Some(Span {
                start: Position { line: 4, column: 5 },
                end: Position {
                    line: 10,
                    column: 6
                }
            }),
            Some(Span {
                start: Position {
                    line: 11,
                    column: 5
                },
                end: Position {
                    line: 11,
                    column: 69
                }
            }),
        ]
    );
}

#[test]
fn allow_lists_statement_with_condition_trace() {
    let request = Request::new(
        session(&[("team", "blue"), ("env", "prod")]),
        "s3:PutObject",
        "arn:aws:s3:::data/blue/report.csv",
    );
    let explanation = evaluate_explained(&set(), &request);
    assert_eq!(explanation.decision, Decision::Allow);
    assert_eq!(explanation.implicit_deny_in, None);
    assert_eq!(explanation.missing_keys, Vec::<String>::new());
    assert_eq!(explanation.statements.len(), 1);
    let matched = &explanation.statements[0];
    assert_eq!(matched.policy_name, "team-data");
    assert_eq!(matched.policy_type, PolicyType::Inline);
    assert_eq!(matched.kind, PolicyKind::Identity);
    assert_eq!(matched.effect, Effect::Allow);
    assert_eq!(matched.sid.as_deref(), Some("TeamPrefix"));
    assert_eq!(matched.index, 0);
    assert_eq!(matched.span.map(|s| s.start.line), Some(4));
    assert_eq!(
        matched.conditions,
        [ConditionTrace {
            operator: "StringEquals".into(),
            key: "aws:PrincipalTag/env".into(),
            policy_values: vec!["prod".into()],
            request_values: Some(vec!["prod".into()]),
            held: true,
        }]
    );
    assert_eq!(
        explanation.to_string(),
        "allowed s3:putobject on arn:aws:s3:::data/blue/report.csv: allowed by statement \"TeamPrefix\" \
         of team-data (inline, identity-based policy) at line 4; StringEquals aws:PrincipalTag/env [\"prod\"] \
         saw [\"prod\"] -> true"
    );
}

#[test]
fn managed_policy_allow_is_reported_with_arn() {
    let request = Request::new(session(&[]), "s3:GetObject", "arn:aws:s3:::data/x");
    let explanation = evaluate_explained(&set(), &request);
    assert_eq!(explanation.decision, Decision::Allow);
    assert_eq!(explanation.statements.len(), 1);
    assert_eq!(
        explanation.statements[0].policy_arn.as_deref(),
        Some("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    );
    assert_eq!(
        explanation.statements[0].policy_type,
        PolicyType::AwsManaged
    );
}

#[test]
fn explicit_deny_names_the_deny() {
    let request = Request::new(session(&[]), "s3:DeleteObject", "arn:aws:s3:::data/x");
    let explanation = evaluate_explained(&set(), &request);
    assert_eq!(explanation.decision, Decision::ExplicitDeny);
    assert_eq!(explanation.statements.len(), 1);
    assert_eq!(explanation.statements[0].effect, Effect::Deny);
    assert_eq!(explanation.statements[0].index, 1);
    assert_eq!(
        explanation.to_string(),
        "explicitDeny s3:deleteobject on arn:aws:s3:::data/x: denied by statement #1 of team-data \
         (inline, identity-based policy) at line 11"
    );
}

#[test]
fn implicit_deny_reports_missing_keys() {
    let request = Request::new(session(&[]), "s3:PutObject", "arn:aws:s3:::data/blue/x");
    let explanation = evaluate_explained(&set(), &request);
    assert_eq!(explanation.decision, Decision::ImplicitDeny);
    assert_eq!(explanation.implicit_deny_in, Some(PolicyKind::Identity));
    assert_eq!(explanation.statements, vec![]);
    assert_eq!(
        explanation.missing_keys,
        ["aws:principaltag/team", "aws:principaltag/env"]
    );
    assert_eq!(
        explanation.to_string(),
        "implicitDeny s3:putobject on arn:aws:s3:::data/blue/x: no identity-based policy allows it \
         (missing context keys: aws:principaltag/team, aws:principaltag/env)"
    );
}

#[test]
fn implicit_deny_by_boundary_and_session() {
    let mut policies = set();
    policies.boundary = Some(named(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#,
        PolicyKind::Boundary,
        PolicyType::CustomerManaged,
        "boundary",
    ));
    let request = Request::new(session(&[]), "s3:GetObject", "arn:aws:s3:::data/x");
    let explanation = evaluate_explained(&policies, &request);
    assert_eq!(explanation.implicit_deny_in, Some(PolicyKind::Boundary));
    assert!(
        explanation
            .to_string()
            .ends_with("the permissions boundary does not allow it")
    );

    let mut policies = set();
    policies.session = vec![named(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#,
        PolicyKind::Session,
        PolicyType::SessionInline,
        "session",
    )];
    let explanation = evaluate_explained(&policies, &request);
    assert_eq!(explanation.implicit_deny_in, Some(PolicyKind::Session));
    assert!(
        explanation
            .to_string()
            .ends_with("the session policy does not allow it")
    );
}

#[test]
fn trust_explanation() {
    let trust = NamedPolicy::new(
        "trust",
        PolicyType::Trust,
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"Irsa","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/issuer.example/id/1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"issuer.example/id/1:sub":"system:serviceaccount:apps:web"}}}}"#,
            PolicyKind::Trust,
        )
        .unwrap(),
    );
    let caller = Principal::WebIdentity {
        provider_arn: "arn:aws:iam::111122223333:oidc-provider/issuer.example/id/1".into(),
    };
    let role = "arn:aws:iam::111122223333:role/web";
    let denied = Request::new(caller.clone(), "sts:AssumeRoleWithWebIdentity", role).with(
        "issuer.example/id/1:sub",
        "system:serviceaccount:apps:other",
    );
    let explanation = evaluate_trust_explained(&trust, &PolicySet::default(), &denied);
    assert_eq!(explanation.decision, Decision::ImplicitDeny);
    assert_eq!(explanation.implicit_deny_in, Some(PolicyKind::Trust));
    // The near miss: the statement that would have let it in, and the `sub` it saw instead.
    let text = explanation.to_string();
    assert!(
        text.ends_with(
            "the trust policy does not allow it; its condition failed in statement \"Irsa\" of trust \
             (trust, trust policy) at line 1; StringEquals issuer.example/id/1:sub \
             [\"system:serviceaccount:apps:web\"] saw [\"system:serviceaccount:apps:other\"] -> false"
        ),
        "{text}"
    );
    assert_eq!(explanation.unmet.len(), 1);
    assert!(explanation.statements.is_empty());
    // A caller the statement does not name is no near miss: nothing is said about it.
    let stranger = Principal::WebIdentity {
        provider_arn: "arn:aws:iam::111122223333:oidc-provider/other.example".into(),
    };
    let unrelated = Request::new(stranger, "sts:AssumeRoleWithWebIdentity", role);
    let explanation = evaluate_trust_explained(&trust, &PolicySet::default(), &unrelated);
    assert!(explanation.unmet.is_empty(), "{explanation}");

    let allowed = Request::new(caller, "sts:AssumeRoleWithWebIdentity", role)
        .with("issuer.example/id/1:sub", "system:serviceaccount:apps:web");
    let explanation = evaluate_trust_explained(&trust, &PolicySet::default(), &allowed);
    assert_eq!(explanation.decision, Decision::Allow);
    assert_eq!(explanation.statements[0].kind, PolicyKind::Trust);
    assert_eq!(explanation.statements[0].sid.as_deref(), Some("Irsa"));
}

#[test]
fn explicit_deny_lists_every_applicable_deny() {
    let policies = PolicySet {
        identity: vec![named(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
            PolicyType::Inline,
            "deny",
        )],
        ..PolicySet::default()
    };
    let request = Request::new(session(&[]), "s3:GetObject", "*");
    let explanation = evaluate_explained(&policies, &request);
    assert_eq!(
        explanation
            .statements
            .iter()
            .map(|s| s.index)
            .collect::<Vec<_>>(),
        [0, 1]
    );
}

#[test]
fn simulator_strings() {
    assert_eq!(Decision::Allow.as_simulator_str(), "allowed");
    assert_eq!(Decision::ExplicitDeny.as_simulator_str(), "explicitDeny");
    assert_eq!(Decision::ImplicitDeny.as_simulator_str(), "implicitDeny");
}
