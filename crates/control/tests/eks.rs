//! The domain layer's EKS operations, from `eks.json`: each case names the AWS document it
//! follows and runs steps against one instance; `${ID}` is the association the last create or
//! describe returned, `${NEXT}` the last list's next token.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use podpass_control::credentials::{AssumeRole, SessionRequest};
use podpass_control::eks::{AssociationChange, AssociationFilter, NewAssociation};
use podpass_control::{Caller, Error};
use podpass_store::{Cluster, PodIdentityAssociation, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{
    ACCOUNT, CLUSTER, Documented, Failures, Instance, admin_user, ctx, load_cases, root,
    wrong_refusal,
};

impl Documented for Case {
    fn name(&self) -> &str {
        &self.name
    }
    fn doc(&self) -> &str {
        &self.doc
    }
}

#[derive(Deserialize)]
struct Case {
    name: String,
    doc: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    op: String,
    /// `"session"`: a session of a role allowed only to list associations.
    #[serde(rename = "as")]
    caller: Option<String>,
    cluster: Option<String>,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    filter: Value,
    expect: Option<Value>,
    error: Option<String>,
    message: Option<String>,
}

/// What the steps of a case remember.
#[derive(Default)]
struct Memory {
    id: String,
    next: String,
}

impl Memory {
    fn substitute(&self, text: &str) -> String {
        text.replace("${ACCOUNT}", ACCOUNT)
            .replace("${ID}", &self.id)
            .replace("${NEXT}", &self.next)
    }

    fn value(&self, value: &Value) -> Value {
        serde_json::from_str(&self.substitute(&value.to_string())).unwrap()
    }
}

fn text(input: &Value, key: &str) -> Option<String> {
    input[key].as_str().map(str::to_owned)
}

/// The role `name` of the account, created if absent, trusted by the account.
async fn ensure_role(instance: &Instance, name: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]});
    let arn = podpass_arn::role(ACCOUNT, "/", name);
    if instance.store.role(name).await.is_err() {
        instance
            .store
            .create_role(&Role {
                role_name: name.into(),
                role_id: format!("AROA{}", name.to_uppercase()),
                path: "/".into(),
                arn: arn.clone(),
                trust_policy: trust.to_string(),
                description: None,
                max_session_duration: 3600,
                permissions_boundary: None,
                tags: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
    }
    arn
}

/// A session of a role that may only list associations.
async fn viewer(instance: &Instance) -> Caller {
    let arn = ensure_role(instance, "viewer").await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:ListPodIdentityAssociations", "Resource": "*"}]});
    instance
        .store
        .put_inline_policy(
            podpass_store::Holder::Role("viewer"),
            "list",
            &policy.to_string(),
        )
        .await
        .unwrap();
    let input = AssumeRole {
        session: SessionRequest {
            role_arn: &arn,
            session_name: "viewer",
            ..SessionRequest::default()
        },
        ..AssumeRole::default()
    };
    let admin = admin_user(&instance.control, "admin").await;
    let issued = instance
        .control
        .assume_role(&ctx(Some(admin)), &input)
        .await
        .unwrap();
    Caller::Session(Arc::new(issued.session))
}

enum Outcome {
    Cluster(Box<Cluster>),
    One(Box<PodIdentityAssociation>),
    Page { count: usize, next: Option<String> },
}

async fn run(instance: &Instance, step: &Step, memory: &Memory) -> Result<Outcome, Error> {
    let caller = match step.caller.as_deref() {
        Some("session") => viewer(instance).await,
        _ => root(),
    };
    let ctx = ctx(Some(caller));
    let control = &instance.control;
    let cluster = step.cluster.as_deref().unwrap_or(CLUSTER);
    let input = memory.value(&step.input);
    let id = memory.id.as_str();
    match step.op.as_str() {
        "create" => {
            let new = NewAssociation {
                namespace: text(&input, "namespace"),
                service_account: text(&input, "serviceAccount"),
                role_arn: text(&input, "roleArn"),
                tags: serde_json::from_value(input["tags"].clone()).unwrap_or_default(),
                disable_session_tags: input["disableSessionTags"].as_bool().unwrap_or(false),
                target_role_arn: text(&input, "targetRoleArn"),
                policy: text(&input, "policy"),
            };
            control
                .create_association(&ctx, cluster, new)
                .await
                .map(|a| Outcome::One(Box::new(a)))
        }
        "createCluster" => {
            // The cluster role of EKS's guide, when a case names it.
            ensure_role(instance, "eks-cluster").await;
            control
                .create_cluster(
                    &ctx,
                    input["name"].as_str().unwrap_or_default(),
                    input["roleArn"].as_str().unwrap_or_default(),
                )
                .await
                .map(|c| Outcome::Cluster(Box::new(c)))
        }
        "deleteCluster" => control
            .delete_cluster(&ctx, input["name"].as_str().unwrap_or_default())
            .await
            .map(|c| Outcome::Cluster(Box::new(c))),
        "describe" => control
            .describe_association(&ctx, cluster, id)
            .await
            .map(|a| Outcome::One(Box::new(a))),
        "update" => {
            let change = AssociationChange {
                role_arn: text(&input, "roleArn"),
                disable_session_tags: input["disableSessionTags"].as_bool(),
                target_role_arn: text(&input, "targetRoleArn"),
                policy: text(&input, "policy"),
            };
            control
                .update_association(&ctx, cluster, id, change)
                .await
                .map(|a| Outcome::One(Box::new(a)))
        }
        "delete" => control
            .delete_association(&ctx, cluster, id)
            .await
            .map(|a| Outcome::One(Box::new(a))),
        "list" => {
            let filter = memory.value(&step.filter);
            let next = text(&filter, "nextToken");
            let namespace = text(&filter, "namespace");
            let page = control
                .list_associations(
                    &ctx,
                    cluster,
                    AssociationFilter {
                        namespace: namespace.as_deref(),
                        service_account: None,
                        max_results: filter["maxResults"].as_i64(),
                        next_token: next.as_deref(),
                    },
                )
                .await?;
            Ok(Outcome::Page {
                count: page.associations.len(),
                next: page.next_token,
            })
        }
        other => panic!("unknown step {other}"),
    }
}

/// An association as EKS's JSON shape names its members (what a case's `expect` lists).
fn fields(a: &PodIdentityAssociation) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("namespace", json!(a.namespace)),
        ("serviceAccount", json!(a.service_account)),
        ("roleArn", json!(a.role_arn)),
        ("associationArn", json!(a.association_arn)),
        ("tags", json!(a.tags)),
        ("disableSessionTags", json!(a.disable_session_tags)),
        ("targetRoleArn", json!(a.target_role_arn)),
        ("externalId", json!(a.external_id)),
        ("policy", json!(a.session_policy)),
    ])
}

/// Differences between a step's expectation and its outcome; remembers ids and tokens.
fn check(step: &Step, got: Result<Outcome, Error>, memory: &mut Memory) -> Vec<String> {
    let mut wrong = Vec::new();
    match (got, &step.error) {
        (Err(error), Some(want)) => {
            let message = step.message.as_deref().map(|m| memory.substitute(m));
            for what in wrong_refusal(&error, want, message.as_deref()) {
                wrong.push(format!("{}: {what}", step.op));
            }
        }
        (Err(error), None) => wrong.push(format!("{}: refused: {error:?}", step.op)),
        (Ok(_), Some(want)) => wrong.push(format!("{}: succeeded, want {want}", step.op)),
        (Ok(Outcome::Cluster(cluster)), None) => {
            let expect = step.expect.clone().unwrap_or_default();
            if let Some(name) = expect["name"].as_str()
                && cluster.name != name
            {
                wrong.push(format!(
                    "{}: cluster {}, want {name}",
                    step.op, cluster.name
                ));
            }
            if let Some(prefix) = expect["issuerPrefix"].as_str()
                && !cluster.issuer_url.starts_with(prefix)
            {
                wrong.push(format!(
                    "{}: issuer {}, want under {prefix}",
                    step.op, cluster.issuer_url
                ));
            }
        }
        (Ok(Outcome::One(association)), None) => {
            memory.id = association.association_id.clone();
            if !(association.association_id.starts_with("a-")
                && association.association_id.len() == 19)
            {
                wrong.push(format!(
                    "id {} is not EKS's shape",
                    association.association_id
                ));
            }
            let have = fields(&association);
            let expect = step.expect.as_ref().map(|e| memory.value(e));
            for (key, want) in expect.iter().flat_map(|e| e.as_object()).flatten() {
                let got = have.get(key.as_str()).unwrap_or(&Value::Null);
                let matches = if want == "present" {
                    !got.is_null()
                } else {
                    got == want
                };
                if !matches {
                    wrong.push(format!("{}: {key} is {got}, want {want}", step.op));
                }
            }
        }
        (Ok(Outcome::Page { count, next }), None) => {
            memory.next = next.clone().unwrap_or_default();
            if let Some(expect) = &step.expect {
                if expect["count"].as_u64() != Some(count as u64) {
                    wrong.push(format!(
                        "list: {count} associations, want {}",
                        expect["count"]
                    ));
                }
                if expect["more"].as_bool() != Some(next.is_some()) {
                    wrong.push(format!(
                        "list: next token {next:?}, want more = {}",
                        expect["more"]
                    ));
                }
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread")]
async fn eks_associations_follow_the_aws_documents() {
    let cases: Vec<Case> = load_cases(include_str!("eks.json"), 10);
    let mut failures = Failures::default();
    for case in &cases {
        let instance = Instance::new().await;
        let mut memory = Memory::default();
        for step in &case.steps {
            let got = run(&instance, step, &memory).await;
            let wrong = check(step, got, &mut memory);
            failures.add(&case.name, &case.doc, &wrong);
        }
    }
    failures.assert_none();
}
