//! Table-driven conformance suite: `tests/data/conformance.json`, cases written from the AWS IAM
//! and EKS documentation (each case names its source page in `source`).
//!
//! Case fields: `identity` (list of policies), `managed` (catalogue names), `resource_policy`,
//! `boundary`, `session` (list), `trust` (switches to trust evaluation), `principal`, `tags`
//! (principal tags), `request_tags`, `context`, `action`, `resource`, `expect`.
//! A policy is a full document (has `Statement`), a statement list, or a single statement.

use std::sync::Arc;

use podpass_policy::{
    ContextValue, IamUser, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal,
    Request, RoleSession, catalogue, evaluate, evaluate_explained, evaluate_trust,
    evaluate_trust_explained,
};
use serde_json::{Value, json};

const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

fn document(policy: &Value) -> String {
    let doc = match policy {
        Value::Object(map) if map.contains_key("Statement") => policy.clone(),
        other => json!({"Version": "2012-10-17", "Statement": other}),
    };
    doc.to_string()
}

fn compile(
    policy: &Value,
    kind: PolicyKind,
    policy_type: PolicyType,
    name: &str,
) -> Arc<NamedPolicy> {
    let source = document(policy);
    let compiled = Policy::parse(&source, kind)
        .unwrap_or_else(|e| panic!("{name}: {source} does not parse: {}", e.message()));
    Arc::new(NamedPolicy::new(name, policy_type, compiled))
}

fn list<'a>(case: &'a Value, field: &str) -> &'a [Value] {
    case.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn tags(case: &Value, field: &str) -> Vec<(String, String)> {
    case.get(field)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn principal(case: &Value) -> Principal {
    let spec = case
        .get("principal")
        .and_then(Value::as_str)
        .unwrap_or("role");
    let tags = tags(case, "tags");
    let session = |path: &str, name: &str| {
        Principal::AssumedRole(RoleSession {
            account: "111122223333".into(),
            role_name: name.into(),
            role_path: path.into(),
            role_id: "AROAEXAMPLEID".into(),
            session_name: "pod-session".into(),
            tags: tags.clone(),
            source_identity: None,
        })
    };
    match spec.split(':').collect::<Vec<_>>().as_slice() {
        ["role"] => session("/", "app"),
        ["role", _account, path, name] => session(path, name),
        ["user"] => Principal::User(IamUser {
            account: "111122223333".into(),
            name: "alice".into(),
            path: "/".into(),
            user_id: "AIDAEXAMPLE".into(),
            tags: tags.clone(),
        }),
        ["web"] => Principal::WebIdentity {
            provider_arn: PROVIDER.into(),
        },
        ["service", name] => Principal::Service {
            name: (*name).into(),
        },
        ["anonymous"] => Principal::Anonymous,
        other => panic!("unknown principal spec {other:?}"),
    }
}

fn request(case: &Value) -> Request {
    let mut request = Request::new(
        principal(case),
        case["action"].as_str().unwrap(),
        case["resource"].as_str().unwrap(),
    );
    let request_tags = tags(case, "request_tags");
    if !request_tags.is_empty() {
        let pairs: Vec<(&str, &str)> = request_tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        request = request.with_request_tags(&pairs);
    }
    if let Some(context) = case.get("context").and_then(Value::as_object) {
        for (key, value) in context {
            match value {
                Value::Array(items) => request.set_value(
                    key,
                    ContextValue::Multi(
                        items
                            .iter()
                            .map(|v| v.as_str().unwrap().to_owned())
                            .collect(),
                    ),
                ),
                other => request.set(key, other.as_str().unwrap()),
            }
        }
    }
    request
}

fn policy_set(case: &Value) -> PolicySet {
    let mut identity: Vec<Arc<NamedPolicy>> = list(case, "identity")
        .iter()
        .enumerate()
        .map(|(i, p)| {
            compile(
                p,
                PolicyKind::Identity,
                PolicyType::Inline,
                &format!("inline-{i}"),
            )
        })
        .collect();
    for name in list(case, "managed") {
        let managed = catalogue::by_name(name.as_str().unwrap()).unwrap();
        identity.push(Arc::new(managed.compile().unwrap()));
    }
    PolicySet {
        identity,
        resource: case.get("resource_policy").map(|p| {
            compile(
                p,
                PolicyKind::Resource,
                PolicyType::Resource,
                "bucket-policy",
            )
        }),
        boundary: case
            .get("boundary")
            .map(|p| compile(p, PolicyKind::Boundary, PolicyType::Boundary, "boundary")),
        session: list(case, "session")
            .iter()
            .map(|p| compile(p, PolicyKind::Session, PolicyType::SessionInline, "session"))
            .collect(),
    }
}

#[test]
fn conformance_cases() {
    // Read at run time: a test binary reused from another checkout must not read that one's.
    let path = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/data/conformance.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let source = case["source"].as_str().unwrap();
        assert!(!source.is_empty(), "{name}: no source");
        let set = policy_set(case);
        let request = request(case);
        let (fast, explained) = match case.get("trust") {
            Some(trust) => {
                let trust = compile(trust, PolicyKind::Trust, PolicyType::Trust, "trust");
                (
                    evaluate_trust(&trust, &set, &request),
                    evaluate_trust_explained(&trust, &set, &request),
                )
            }
            None => (evaluate(&set, &request), evaluate_explained(&set, &request)),
        };
        let expected = case["expect"].as_str().unwrap();
        if fast.as_simulator_str() != expected {
            failures.push(format!(
                "[{source}] {name}: expected {expected}, got {}",
                fast.as_simulator_str()
            ));
        }
        assert_eq!(explained.decision, fast, "{name}: explained path disagrees");
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
