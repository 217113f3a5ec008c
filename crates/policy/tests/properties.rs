//! Property tests: denies never grant, boundaries and session policies never widen,
//! `NotAction` is the complement of `Action`, and the explained path agrees with the fast path.

use std::sync::Arc;

use podpass_policy::{
    Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request,
    RoleSession, evaluate, evaluate_explained,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:GetRole",
    "sqs:SendMessage",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:?utObject",
    "iam:*",
    "sqs:SendMessage",
    "S3:GETOBJECT",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::c/*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:s3:::${aws:PrincipalTag/team}/*",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b",
    "arn:aws:s3:::c/x",
    "arn:aws:iam::111122223333:role/r",
    "arn:aws:s3:::blue/x",
];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(options)
}

fn statement(effect: &'static str) -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(pick(ACTION_PATTERNS), 1..3),
        any::<bool>(),
        prop::collection::vec(pick(RESOURCE_PATTERNS), 1..3),
        any::<bool>(),
        prop::option::of(pick(&["blue", "red"])),
    )
        .prop_map(
            move |(actions, not_action, resources, not_resource, team)| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(team) = team {
                    s["Condition"] = json!({"StringEquals": {"aws:PrincipalTag/team": team}});
                }
                s
            },
        )
}

fn any_statement() -> impl Strategy<Value = Value> {
    prop_oneof![statement("Allow"), statement("Deny")]
}

fn policy(
    statements: impl Strategy<Value = Value>,
    kind: PolicyKind,
) -> impl Strategy<Value = Arc<NamedPolicy>> {
    prop::collection::vec(statements, 1..4).prop_map(move |statements| {
        let source = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let policy = Policy::parse(&source, kind).unwrap();
        Arc::new(NamedPolicy::new("generated", PolicyType::Inline, policy))
    })
}

fn identity_set() -> impl Strategy<Value = PolicySet> {
    prop::collection::vec(policy(any_statement(), PolicyKind::Identity), 0..3).prop_map(
        |identity| PolicySet {
            identity,
            ..PolicySet::default()
        },
    )
}

fn request() -> impl Strategy<Value = Request> {
    (
        pick(ACTIONS),
        pick(RESOURCES),
        prop::option::of(pick(&["blue", "red"])),
    )
        .prop_map(|(action, resource, team)| {
            let principal = Principal::AssumedRole(RoleSession {
                account: "111122223333".into(),
                role_name: "app".into(),
                role_path: "/".into(),
                role_id: "AROAEXAMPLEID".into(),
                session_name: "s".into(),
                tags: team
                    .map(|t| ("team".to_owned(), t.to_owned()))
                    .into_iter()
                    .collect(),
                source_identity: None,
            });
            Request::new(principal, action, resource)
        })
}

proptest! {
    #[test]
    fn adding_a_deny_never_grants(
        set in identity_set(),
        deny in policy(statement("Deny"), PolicyKind::Identity),
        request in request(),
    ) {
        let before = evaluate(&set, &request);
        let mut with_deny = set.clone();
        with_deny.identity.push(deny);
        let after = evaluate(&with_deny, &request);
        if after == Decision::Allow {
            prop_assert_eq!(before, Decision::Allow);
        }
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
    }

    #[test]
    fn boundary_never_widens(
        set in identity_set(),
        boundary in policy(any_statement(), PolicyKind::Boundary),
        request in request(),
    ) {
        let before = evaluate(&set, &request);
        let mut bounded = set.clone();
        bounded.boundary = Some(boundary);
        if evaluate(&bounded, &request) == Decision::Allow {
            prop_assert_eq!(before, Decision::Allow);
        }
    }

    #[test]
    fn session_policy_never_widens(
        set in identity_set(),
        sessions in prop::collection::vec(policy(any_statement(), PolicyKind::Session), 1..3),
        request in request(),
    ) {
        let before = evaluate(&set, &request);
        let mut scoped = set.clone();
        scoped.session = sessions;
        if evaluate(&scoped, &request) == Decision::Allow {
            prop_assert_eq!(before, Decision::Allow);
        }
    }

    #[test]
    fn not_action_is_the_complement_of_action(
        actions in prop::collection::vec(pick(ACTION_PATTERNS), 1..4),
        action in pick(ACTIONS),
    ) {
        let with = |element: &str| {
            let source = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", element: actions, "Resource": "*"}}).to_string();
            PolicySet {
                identity: vec![Arc::new(NamedPolicy::new("p", PolicyType::Inline, Policy::parse(&source, PolicyKind::Identity).unwrap()))],
                ..PolicySet::default()
            }
        };
        let request = Request::new(Principal::AccountRoot { account: "111122223333".into() }, action, "*");
        let by_action = evaluate(&with("Action"), &request) == Decision::Allow;
        let by_not_action = evaluate(&with("NotAction"), &request) == Decision::Allow;
        prop_assert_ne!(by_action, by_not_action);
    }

    #[test]
    fn explained_agrees_with_fast_path(
        set in identity_set(),
        boundary in prop::option::of(policy(any_statement(), PolicyKind::Boundary)),
        request in request(),
    ) {
        let mut set = set;
        set.boundary = boundary;
        prop_assert_eq!(evaluate_explained(&set, &request).decision, evaluate(&set, &request));
    }

    #[test]
    fn parser_never_panics(source in ".{0,200}") {
        let _ = Policy::parse(&source, PolicyKind::Identity);
    }

    #[test]
    fn parser_never_panics_on_near_policies(
        sid in "[ -~]{0,8}",
        action in "[ -~]{0,12}",
        resource in "[ -~]{0,24}",
        key in "[ -~]{0,12}",
        value in "[ -~]{0,12}",
    ) {
        let source = json!({"Version": "2012-10-17", "Statement": {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource, "Condition": {"StringLike": {key.clone(): value}}}}).to_string();
        if let Ok(policy) = Policy::parse(&source, PolicyKind::Identity) {
            let set = PolicySet {
                identity: vec![Arc::new(NamedPolicy::new("p", PolicyType::Inline, policy))],
                ..PolicySet::default()
            };
            let request = Request::new(Principal::Anonymous, "s3:GetObject", "arn:aws:s3:::b/k").with(&key, value.clone());
            let _ = evaluate(&set, &request);
        }
    }
}
