//! Feeds arbitrary bytes (as UTF-8 when valid) to `Policy::parse` for every policy kind, and
//! evaluates, explains and lints whatever parses. Any panic is a finding.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use podpass_policy::{
    ContextValue, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request,
    RoleSession, evaluate, evaluate_explained, evaluate_trust, evaluate_trust_explained, lint,
};

const KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Session,
    PolicyKind::Boundary,
    PolicyKind::Resource,
    PolicyKind::Trust,
];

/// Built once: requests that exercise every principal shape and the common context keys, including
/// multivalued and empty ones.
static REQUESTS: LazyLock<Vec<Request>> = LazyLock::new(|| {
    let session = Principal::AssumedRole(RoleSession {
        account: "111122223333".into(),
        role_name: "app".into(),
        role_path: "/team/".into(),
        role_id: "AROAEXAMPLE".into(),
        session_name: "pod-1".into(),
        tags: vec![("team".into(), "blue".into())],
        source_identity: None,
    });
    let web = Principal::WebIdentity {
        provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/1".into(),
    };
    let service = Principal::Service {
        name: "pods.eks.amazonaws.com".into(),
    };
    let mut full = Request::new(session, "s3:GetObject", "arn:aws:s3:::blue/key")
        .with("aws:SourceIp", "203.0.113.9")
        .with("aws:SecureTransport", "true")
        .with("s3:max-keys", "10")
        .with("aws:CurrentTime", "2020-01-01T00:00:00Z")
        .with("aws:EpochTime", "1577836800")
        .with_request_tags(&[("team", "blue"), ("env", "prod")]);
    full.set_value("aws:CalledVia", ContextValue::Multi(Vec::new()));
    vec![
        full,
        Request::new(
            web,
            "sts:AssumeRoleWithWebIdentity",
            "arn:aws:iam::111122223333:role/app",
        )
        .with_web_identity_claims(
            "oidc.example/id/1",
            "system:serviceaccount:default:app",
            "sts.amazonaws.com",
            Some(&["pwd"]),
        ),
        Request::new(service, "sts:TagSession", "*"),
        Request::new(Principal::Anonymous, "iam:PassRole", "not-an-arn"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        let Ok(policy) = Policy::parse(source, kind) else {
            continue;
        };
        let _ = lint::lint(&policy, kind);
        let named = Arc::new(NamedPolicy::new("fuzz", PolicyType::Inline, policy));
        let mut set = PolicySet::default();
        match kind {
            PolicyKind::Identity => set.identity.push(named.clone()),
            PolicyKind::Session => set.session.push(named.clone()),
            PolicyKind::Boundary => set.boundary = Some(named.clone()),
            PolicyKind::Resource => set.resource = Some(named.clone()),
            PolicyKind::Trust => {}
        }
        for request in REQUESTS.iter() {
            let (fast, explained) = if kind == PolicyKind::Trust {
                (
                    evaluate_trust(&named, &set, request),
                    evaluate_trust_explained(&named, &set, request),
                )
            } else {
                (evaluate(&set, request), evaluate_explained(&set, request))
            };
            assert_eq!(
                fast, explained.decision,
                "fast and explained paths disagree"
            );
        }
    }
});
