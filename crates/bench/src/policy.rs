//! Authorization scenarios, each written twice: as IAM policies for podpass-policy and as Cedar
//! policies plus entities for cedar-policy, with requests on which both must decide the same.
//!
//! Cedar has no wildcards on actions and no policy variables inside resource strings, so the
//! Cedar side models them the idiomatic way: an IAM action wildcard such as `s3:Get*` becomes an
//! action group `Action::"s3:Get*"` that every matching action entity is a member of, a resource
//! wildcard becomes `resource.arn like "..."`, and `${aws:PrincipalTag/k}` inside a resource
//! becomes an attribute comparison with the principal's `tags` record.

use std::collections::BTreeSet;
use std::sync::Arc;

use podpass_policy::{
    NamedPolicy, Policy, PolicyError, PolicyKind, PolicySet, PolicyType, Principal, RoleSession,
    catalogue,
};
use serde_json::{Map, Value, json};
use thiserror::Error;

/// Account of every fixture principal.
pub const ACCOUNT: &str = "111122223333";
/// Cedar entity type of the caller (a role session).
pub const CEDAR_PRINCIPAL_TYPE: &str = "Iam::RoleSession";
/// Cedar entity type of actions.
pub const CEDAR_ACTION_TYPE: &str = "Action";
/// Cedar entity type of S3 objects.
pub const CEDAR_RESOURCE_TYPE: &str = "S3::Object";

/// Why a scenario could not be built.
#[derive(Debug, Error)]
pub enum FixtureError {
    /// A managed policy the scenario attaches is missing from podpass's catalogue.
    #[error("managed policy {0} is not in podpass's catalogue")]
    UnknownManagedPolicy(&'static str),
    /// A fixture policy does not compile.
    #[error("fixture policy does not compile: {0}")]
    Policy(#[from] PolicyError),
}

/// One request to authorize and the decision both engines must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Short name used in benchmark ids.
    pub label: &'static str,
    /// IAM action, e.g. `s3:PutObject` (also the Cedar action id).
    pub action: String,
    /// Resource ARN (also the Cedar resource id).
    pub resource: String,
    /// Whether the request is allowed.
    pub allowed: bool,
}

/// One principal with its policies in both languages, and the requests it makes.
pub struct Scenario {
    /// Short name used in benchmark group names.
    pub name: &'static str,
    /// The caller.
    pub principal: Principal,
    /// The caller's IAM policies, compiled.
    pub iam: PolicySet,
    /// The same permissions as Cedar source text.
    pub cedar_policies: String,
    /// Cedar entities (principal, actions with their groups, resources) in Cedar's JSON format.
    pub cedar_entities: Value,
    /// The requests.
    pub cases: Vec<Case>,
}

impl Scenario {
    /// The caller's session ARN, its Cedar entity id.
    pub fn principal_id(&self) -> String {
        self.principal.arn().unwrap_or_default()
    }
}

/// (a) A typical IRSA role: `AmazonS3ReadOnlyAccess` plus an inline policy that lets the pod
/// write under its namespace's prefix when its team tag matches (a condition and a policy
/// variable). The inline policy grants `s3:PutObject`, which the managed policy does not, so the
/// allowed write is decided by the condition and the variable, not by the first statement.
pub fn irsa_role() -> Result<Scenario, FixtureError> {
    const INLINE: &str = r#"{
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "NamespacePrefixWrite",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::bucket/${aws:PrincipalTag/kubernetes-namespace}/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "payments"}}
        }]
    }"#;
    const CEDAR: &str = r#"
        // AmazonS3ReadOnlyAccess
        permit (
            principal,
            action in [Action::"s3:Get*", Action::"s3:List*", Action::"s3:Describe*",
                       Action::"s3-object-lambda:Get*", Action::"s3-object-lambda:List*"],
            resource
        );
        // Inline NamespacePrefixWrite
        permit (principal, action in [Action::"s3:PutObject", Action::"s3:DeleteObject"], resource)
        when {
            resource.bucket == "bucket" &&
            principal.tags has "kubernetes-namespace" &&
            resource.prefix == principal.tags["kubernetes-namespace"] &&
            principal.tags has team && principal.tags.team == "payments"
        };
    "#;
    const ACTION_GROUPS: &[&str] = &[
        "s3:Get*",
        "s3:List*",
        "s3:Describe*",
        "s3-object-lambda:Get*",
        "s3-object-lambda:List*",
    ];
    let managed = catalogue::by_name("AmazonS3ReadOnlyAccess")
        .ok_or(FixtureError::UnknownManagedPolicy("AmazonS3ReadOnlyAccess"))?
        .compile()?;
    let inline = NamedPolicy::new(
        "namespace-prefix-write",
        PolicyType::Inline,
        Policy::parse(INLINE, PolicyKind::Identity)?,
    );
    let principal = role_session(&[
        ("kubernetes-namespace", "payments-ns"),
        ("team", "payments"),
    ]);
    let cases = vec![
        case(
            "inline-allow",
            "s3:PutObject",
            "arn:aws:s3:::bucket/payments-ns/invoices/2026/11.json",
            true,
        ),
        case(
            "managed-allow",
            "s3:GetObject",
            "arn:aws:s3:::shared-assets/logo.png",
            true,
        ),
        case(
            "implicit-deny",
            "s3:PutObject",
            "arn:aws:s3:::bucket/orders-ns/invoices/2026/11.json",
            false,
        ),
    ];
    Ok(scenario(
        "irsa-role",
        principal,
        vec![managed, inline],
        CEDAR.to_owned(),
        ACTION_GROUPS,
        cases,
    ))
}

/// Statements per customer managed policy in [`generated`] (keeps each under IAM's size limit).
const STATEMENTS_PER_POLICY: usize = 10;

/// (b) `count` statements with action and resource wildcards and a condition each, spread over
/// customer managed policies of ten statements. Statement `i`:
/// * is a `Deny` when `i % 10 == 9`, else an `Allow`;
/// * covers `s3:Get*`/`s3:List*` when `i` is even, `s3:Put*`/`s3:Delete*` when odd;
/// * covers `arn:aws:s3:::bucket-{i/10}/team-{i%10}/*`;
/// * requires `aws:PrincipalTag/team` = `team-{i%4}` (even) or
///   `aws:PrincipalTag/project` like `proj-{i%5}*` (odd).
///
/// The requests hit the last allow statement, nothing (a full scan), and a deny statement.
pub fn generated(count: usize) -> Result<Scenario, FixtureError> {
    let statements: Vec<GeneratedStatement> = (0..count).map(GeneratedStatement::new).collect();
    let policies = statements
        .chunks(STATEMENTS_PER_POLICY)
        .enumerate()
        .map(|(index, chunk)| {
            let document = json!({
                "Version": "2012-10-17",
                "Statement": chunk.iter().map(GeneratedStatement::iam).collect::<Vec<_>>(),
            });
            let policy = Policy::parse(&document.to_string(), PolicyKind::Identity)?;
            Ok(NamedPolicy::new(
                format!("generated-{index}"),
                PolicyType::CustomerManaged,
                policy,
            ))
        })
        .collect::<Result<Vec<_>, PolicyError>>()?;
    let cedar = statements
        .iter()
        .map(GeneratedStatement::cedar)
        .collect::<Vec<_>>()
        .join("\n");
    let principal = role_session(&[("team", "team-2"), ("project", "proj-4-alpha")]);
    // The last allow statement whose condition the principal meets (team-2, even).
    let last_allow = (0..count).rev().find(|i| i % 4 == 2).unwrap_or(0);
    let cases = vec![
        case(
            "allow",
            "s3:GetObject",
            &format!(
                "arn:aws:s3:::bucket-{}/team-{}/reports/q3.csv",
                last_allow / 10,
                last_allow % 10
            ),
            true,
        ),
        case(
            "implicit-deny",
            "s3:PutObject",
            &format!(
                "arn:aws:s3:::bucket-{}/team-{}/reports/q3.csv",
                last_allow / 10,
                last_allow % 10
            ),
            false,
        ),
        case(
            "explicit-deny",
            "s3:PutObject",
            "arn:aws:s3:::bucket-3/team-9/reports/q3.csv",
            false,
        ),
    ];
    Ok(scenario(
        "generated-100",
        principal,
        policies,
        cedar,
        &["s3:Get*", "s3:List*", "s3:Put*", "s3:Delete*"],
        cases,
    ))
}

/// One statement of [`generated`], in both languages.
struct GeneratedStatement {
    deny: bool,
    actions: [&'static str; 2],
    resource: String,
    /// `(IAM operator, tag key, value)`.
    condition: (&'static str, &'static str, String),
}

impl GeneratedStatement {
    fn new(i: usize) -> Self {
        let even = i.is_multiple_of(2);
        GeneratedStatement {
            deny: i % 10 == 9,
            actions: if even {
                ["s3:Get*", "s3:List*"]
            } else {
                ["s3:Put*", "s3:Delete*"]
            },
            resource: format!("arn:aws:s3:::bucket-{}/team-{}/*", i / 10, i % 10),
            condition: if even {
                ("StringEquals", "team", format!("team-{}", i % 4))
            } else {
                ("StringLike", "project", format!("proj-{}*", i % 5))
            },
        }
    }

    fn iam(&self) -> Value {
        let (operator, tag, value) = &self.condition;
        json!({
            "Effect": if self.deny { "Deny" } else { "Allow" },
            "Action": self.actions,
            "Resource": self.resource,
            "Condition": {*operator: {format!("aws:PrincipalTag/{tag}"): value}},
        })
    }

    fn cedar(&self) -> String {
        let (operator, tag, value) = &self.condition;
        let comparison = if *operator == "StringLike" {
            "like"
        } else {
            "=="
        };
        format!(
            "{effect} (principal, action in [{actions}], resource) when {{ resource.arn like \"{resource}\" && principal.tags has {tag} && principal.tags.{tag} {comparison} \"{value}\" }};",
            effect = if self.deny { "forbid" } else { "permit" },
            actions = self
                .actions
                .iter()
                .map(|action| format!("{CEDAR_ACTION_TYPE}::\"{action}\""))
                .collect::<Vec<_>>()
                .join(", "),
            resource = self.resource,
        )
    }
}

fn case(label: &'static str, action: &str, resource: &str, allowed: bool) -> Case {
    Case {
        label,
        action: action.to_owned(),
        resource: resource.to_owned(),
        allowed,
    }
}

/// A pod's role session with the given session tags.
fn role_session(tags: &[(&str, &str)]) -> Principal {
    Principal::AssumedRole(RoleSession {
        account: ACCOUNT.to_owned(),
        role_name: "payments-app".to_owned(),
        role_path: "/".to_owned(),
        role_id: "AROAEXAMPLEPAYMENTS01".to_owned(),
        session_name: "bench".to_owned(),
        tags: tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        source_identity: None,
    })
}

fn scenario(
    name: &'static str,
    principal: Principal,
    policies: Vec<NamedPolicy>,
    cedar_policies: String,
    action_groups: &[&str],
    cases: Vec<Case>,
) -> Scenario {
    let cedar_entities = cedar_entities(&principal, action_groups, &cases);
    Scenario {
        name,
        principal,
        iam: PolicySet {
            identity: policies.into_iter().map(Arc::new).collect(),
            ..PolicySet::default()
        },
        cedar_policies,
        cedar_entities,
        cases,
    }
}

/// The principal with its tags, each requested action as a member of the groups whose wildcard
/// it matches, and each requested S3 object with its `arn`, `bucket` and key `prefix`.
fn cedar_entities(principal: &Principal, action_groups: &[&str], cases: &[Case]) -> Value {
    let tags: Map<String, Value> = match principal {
        Principal::AssumedRole(session) => session
            .tags
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
            .collect(),
        _ => Map::new(),
    };
    let mut entities = vec![json!({
        "uid": {"type": CEDAR_PRINCIPAL_TYPE, "id": principal.arn().unwrap_or_default()},
        "attrs": {"tags": tags},
        "parents": [],
    })];
    let actions: BTreeSet<&str> = cases.iter().map(|c| c.action.as_str()).collect();
    entities.extend(actions.into_iter().map(|action| {
        let parents: Vec<Value> = action_groups
            .iter()
            .filter(|group| wildcard_matches(group, action))
            .map(|group| json!({"type": CEDAR_ACTION_TYPE, "id": group}))
            .collect();
        json!({"uid": {"type": CEDAR_ACTION_TYPE, "id": action}, "attrs": {}, "parents": parents})
    }));
    let resources: BTreeSet<&str> = cases.iter().map(|c| c.resource.as_str()).collect();
    entities.extend(resources.into_iter().map(|arn| {
        let (bucket, key) = arn
            .strip_prefix("arn:aws:s3:::")
            .and_then(|path| path.split_once('/'))
            .unwrap_or(("", ""));
        let prefix = key.split_once('/').map_or("", |(prefix, _)| prefix);
        json!({
            "uid": {"type": CEDAR_RESOURCE_TYPE, "id": arn},
            "attrs": {"arn": arn, "bucket": bucket, "prefix": prefix},
            "parents": [],
        })
    }));
    Value::Array(entities)
}

/// Whether an action group name (`s3:Get*` or an exact action) covers `action`.
fn wildcard_matches(group: &str, action: &str) -> bool {
    match group.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => action == group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podpass_policy::{Decision, Request, evaluate};

    fn decisions(scenario: &Scenario) -> Vec<Decision> {
        scenario
            .cases
            .iter()
            .map(|case| {
                let request = Request::new(
                    scenario.principal.clone(),
                    &case.action,
                    case.resource.as_str(),
                );
                evaluate(&scenario.iam, &request)
            })
            .collect()
    }

    #[test]
    fn irsa_role_decides_as_labelled() {
        let scenario = irsa_role().unwrap();
        assert_eq!(
            decisions(&scenario),
            [Decision::Allow, Decision::Allow, Decision::ImplicitDeny]
        );
    }

    #[test]
    fn generated_policies_decide_as_labelled() {
        let scenario = generated(100).unwrap();
        assert_eq!(scenario.iam.identity.len(), 10);
        assert_eq!(scenario.cedar_policies.lines().count(), 100);
        assert_eq!(
            scenario.cases[0].resource,
            "arn:aws:s3:::bucket-9/team-8/reports/q3.csv"
        );
        assert_eq!(
            decisions(&scenario),
            [
                Decision::Allow,
                Decision::ImplicitDeny,
                Decision::ExplicitDeny
            ]
        );
    }

    #[test]
    fn actions_join_only_the_groups_they_match() {
        let scenario = irsa_role().unwrap();
        let get = scenario.cedar_entities[1].clone();
        assert_eq!(get["uid"]["id"], "s3:GetObject");
        assert_eq!(get["parents"], json!([{"type": "Action", "id": "s3:Get*"}]));
        let put = scenario.cedar_entities[2].clone();
        assert_eq!(put["parents"], json!([]));
        assert!(!wildcard_matches("s3:Get*", "s3-object-lambda:GetObject"));
    }
}
