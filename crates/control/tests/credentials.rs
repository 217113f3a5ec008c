//! The domain layer's credential issuance, case by case from `credentials.json`, without HTTP
//! or the binary: each case names the AWS document it follows, sets up roles, associations
//! and tokens of one cluster, makes one call and states the session or the error expected.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use podpass_control::credentials::{
    AssumeRole, Issued, PodCredentials, SessionRequest, WebIdentity,
};
use podpass_control::{Caller, Control, Error};
use podpass_session::SessionTag;
use podpass_store::{Cluster, OidcProvider, PodIdentityAssociation, Role};
use podpass_token::{ObjectRef, TokenRequest};
use serde::Deserialize;
use serde_json::Value;
use support::{
    ACCOUNT, CLUSTER, Documented, Failures, Instance, admin_user, ctx, load_cases, root,
    wrong_refusal,
};

const EXTERNAL_ID: &str = "ext-7c1f";

impl Documented for Case {
    fn name(&self) -> &str {
        &self.name
    }
    fn doc(&self) -> &str {
        &self.doc
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    doc: String,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
    #[serde(default)]
    associations: Vec<AssociationSpec>,
    #[serde(default)]
    no_provider: bool,
    call: Call,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleSpec {
    trust: Value,
    policy: Option<Value>,
    max_session_duration: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationSpec {
    namespace: String,
    service_account: String,
    role: String,
    target_role: Option<String>,
    #[serde(default)]
    disable_session_tags: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Call {
    op: String,
    role: Option<String>,
    caller: Option<Value>,
    duration: Option<i64>,
    policy: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    transitive_tag_keys: Vec<String>,
    external_id: Option<String>,
    source_identity: Option<String>,
    token: Option<TokenSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenSpec {
    namespace: String,
    service_account: String,
    audience: String,
    pod: Option<String>,
    #[serde(default)]
    issued_seconds_ago: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expect {
    error: Option<String>,
    message: Option<String>,
    role: Option<String>,
    seconds: Option<i64>,
    tags: Option<BTreeMap<String, String>>,
    transitive: Option<Vec<String>>,
    #[serde(default)]
    chained: bool,
    subject: Option<String>,
    source_identity: Option<String>,
}

/// One cluster's world: the domain layer over a fresh store.
struct World {
    control: Control,
    cluster: Cluster,
    _instance: Instance,
}

impl World {
    async fn new(case: &Case) -> World {
        let instance = Instance::new().await;
        let store = instance.store.clone();
        let now = podpass_control::now();
        let world = World {
            control: instance.control.clone(),
            cluster: instance.cluster.clone(),
            _instance: instance,
        };
        if !case.no_provider {
            store
                .create_oidc_provider(&OidcProvider {
                    arn: world.provider_arn(),
                    url: world.issuer_host(),
                    client_ids: vec!["sts.amazonaws.com".to_owned()],
                    thumbprints: Vec::new(),
                    tags: Vec::new(),
                    created_at: now,
                })
                .await
                .unwrap();
        }
        for (name, spec) in &case.roles {
            let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [spec.trust]});
            store
                .create_role(&Role {
                    role_name: name.clone(),
                    role_id: format!("AROA{}", name.to_ascii_uppercase()),
                    path: "/".to_owned(),
                    arn: world.role_arn(name),
                    trust_policy: world.substitute(&trust.to_string()),
                    description: None,
                    max_session_duration: spec.max_session_duration.unwrap_or(3600),
                    permissions_boundary: None,
                    tags: Vec::new(),
                    created_at: now,
                })
                .await
                .unwrap();
            if let Some(policy) = &spec.policy {
                let document = serde_json::json!({"Version": "2012-10-17", "Statement": [policy]});
                store
                    .put_inline_policy(
                        podpass_store::Holder::Role(name),
                        "inline",
                        &document.to_string(),
                    )
                    .await
                    .unwrap();
            }
        }
        for (i, spec) in case.associations.iter().enumerate() {
            let id = format!("a-{i:017}");
            store
                .create_association(&PodIdentityAssociation {
                    association_arn: podpass_arn::pod_identity_association(
                        "us-east-1",
                        ACCOUNT,
                        CLUSTER,
                        &id,
                    ),
                    association_id: id,
                    cluster_name: CLUSTER.to_owned(),
                    namespace: spec.namespace.clone(),
                    service_account: spec.service_account.clone(),
                    role_arn: world.role_arn(&spec.role),
                    tags: BTreeMap::new(),
                    owner_arn: None,
                    disable_session_tags: spec.disable_session_tags,
                    target_role_arn: spec.target_role.as_ref().map(|r| world.role_arn(r)),
                    external_id: spec.target_role.as_ref().map(|_| EXTERNAL_ID.to_owned()),
                    session_policy: None,
                    created_at: now,
                    modified_at: now,
                })
                .await
                .unwrap();
        }
        world
    }

    fn issuer_host(&self) -> String {
        self.cluster
            .issuer_url
            .trim_start_matches("https://")
            .to_owned()
    }

    fn provider_arn(&self) -> String {
        podpass_arn::oidc_provider(ACCOUNT, &self.issuer_host())
    }

    fn role_arn(&self, name: &str) -> String {
        podpass_arn::role(ACCOUNT, "/", name)
    }

    fn substitute(&self, text: &str) -> String {
        text.replace("${ACCOUNT}", ACCOUNT)
            .replace("${PROVIDER}", &self.provider_arn())
            .replace("${ISSUER}", &self.issuer_host())
            .replace("${EXTERNAL_ID}", EXTERNAL_ID)
    }

    async fn token(&self, spec: &TokenSpec) -> String {
        let now = podpass_control::now();
        let clusters = self.control.clusters();
        clusters
            .ensure_service_account(CLUSTER, &spec.namespace, &spec.service_account, now)
            .await
            .unwrap();
        let request = TokenRequest {
            audiences: vec![spec.audience.clone()],
            expiration_seconds: Some(3600),
            bound_pod: spec.pod.as_ref().map(|name| ObjectRef {
                name: name.clone(),
                uid: format!("uid-{name}"),
            }),
            bound_node: None,
        };
        let issued_at = now - spec.issued_seconds_ago;
        let (jwt, _) = clusters
            .request_token(
                CLUSTER,
                &spec.namespace,
                &spec.service_account,
                &request,
                issued_at,
            )
            .await
            .unwrap();
        jwt
    }

    /// The caller a case names: `"root"`, `"admin"` (an IAM user with AdministratorAccess),
    /// `"none"`, or a session of a role assumed by the admin with tags.
    async fn caller(&self, spec: Option<&Value>) -> Option<Caller> {
        match spec {
            None => None,
            Some(Value::String(s)) if s == "root" => Some(root()),
            Some(Value::String(s)) if s == "admin" => {
                Some(admin_user(&self.control, "admin").await)
            }
            Some(Value::String(s)) if s == "none" => None,
            Some(session) => {
                let role = session["session"].as_str().expect("session role");
                let tags = tags(session["tags"].as_object().map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                }));
                let transitive = session["transitiveTagKeys"]
                    .as_array()
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let arn = self.role_arn(role);
                let input = AssumeRole {
                    session: SessionRequest {
                        role_arn: &arn,
                        session_name: "first",
                        ..SessionRequest::default()
                    },
                    tags,
                    transitive_tag_keys: transitive,
                    source_identity: session["sourceIdentity"].as_str(),
                    ..AssumeRole::default()
                };
                let admin = admin_user(&self.control, "admin").await;
                let issued = self
                    .control
                    .assume_role(&ctx(Some(admin)), &input)
                    .await
                    .expect("the first session");
                Some(Caller::Session(Arc::new(issued.session)))
            }
        }
    }
}

fn tags(map: Option<BTreeMap<String, String>>) -> Vec<SessionTag> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(key, value)| SessionTag { key, value })
        .collect()
}

/// What a call produced: the session, its subject for web identities, or the error.
async fn run(world: &World, call: &Call) -> Result<(Issued, Option<String>), Error> {
    match call.op.as_str() {
        "AssumeRole" => {
            let caller = world.caller(call.caller.as_ref()).await;
            let arn = world.role_arn(call.role.as_deref().unwrap_or_default());
            let policy = call.policy.as_deref();
            let input = AssumeRole {
                session: SessionRequest {
                    role_arn: &arn,
                    session_name: "case",
                    duration: call.duration,
                    policy,
                    policy_arns: Vec::new(),
                },
                external_id: call.external_id.as_deref(),
                source_identity: call.source_identity.as_deref(),
                tags: tags(Some(call.tags.clone())),
                transitive_tag_keys: call.transitive_tag_keys.clone(),
            };
            let issued = world.control.assume_role(&ctx(caller), &input).await?;
            Ok((issued, None))
        }
        "AssumeRoleWithWebIdentity" => {
            let token = world.token(call.token.as_ref().expect("token")).await;
            let arn = world.role_arn(call.role.as_deref().unwrap_or_default());
            let input = WebIdentity {
                session: SessionRequest {
                    role_arn: &arn,
                    session_name: "case",
                    duration: call.duration,
                    ..SessionRequest::default()
                },
                token: &token,
            };
            let web = world
                .control
                .assume_role_with_web_identity(&ctx(None), &input)
                .await?;
            Ok((web.issued, Some(web.subject)))
        }
        "AssumeRoleForPodIdentity" => {
            let token = world.token(call.token.as_ref().expect("token")).await;
            let ctx = ctx(Some(root()));
            let pod = world
                .control
                .assume_role_for_pod_identity(&ctx, CLUSTER, Some(&token))
                .await?;
            match pod.credentials {
                PodCredentials::Minted(issued) => Ok((*issued, None)),
                PodCredentials::Brokered(_) => panic!("no upstream here"),
            }
        }
        other => panic!("unknown operation {other}"),
    }
}

/// The differences between what a case expects and what it got (empty: it passed).
fn check(
    world: &World,
    expect: &Expect,
    got: Result<(Issued, Option<String>), Error>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    match (got, &expect.error) {
        (Err(error), Some(want)) => {
            let message = expect.message.as_deref().map(|m| world.substitute(m));
            wrong.extend(wrong_refusal(&error, want, message.as_deref()));
        }
        (Err(error), None) => wrong.push(format!("refused: {error:?}")),
        (Ok((issued, _)), Some(want)) => wrong.push(format!(
            "issued {} where {want} was expected",
            issued.session.assumed_role_arn()
        )),
        (Ok((issued, subject)), None) => {
            let identity = &issued.session.identity;
            if let Some(role) = &expect.role
                && identity.role_name != *role
            {
                wrong.push(format!("role {}, want {role}", identity.role_name));
            }
            if let Some(seconds) = expect.seconds {
                let lifetime = issued.session.expires_at - issued.session.issued_at;
                if lifetime != seconds {
                    wrong.push(format!("lifetime {lifetime} s, want {seconds} s"));
                }
            }
            if let Some(want) = &expect.tags {
                let got: BTreeMap<String, String> = identity
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
                let want: BTreeMap<String, String> = want
                    .iter()
                    .map(|(k, v)| (k.clone(), world.substitute(v)))
                    .collect();
                if got != want {
                    wrong.push(format!("tags {got:?}, want {want:?}"));
                }
            }
            if let Some(want) = &expect.transitive
                && identity.transitive_tag_keys != *want
            {
                wrong.push(format!(
                    "transitive keys {:?}, want {want:?}",
                    identity.transitive_tag_keys
                ));
            }
            if expect.source_identity.is_some()
                && identity.source_identity != expect.source_identity
            {
                wrong.push(format!(
                    "source identity {:?}, want {:?}",
                    identity.source_identity, expect.source_identity
                ));
            }
            if identity.chained != expect.chained {
                wrong.push(format!(
                    "chained {}, want {}",
                    identity.chained, expect.chained
                ));
            }
            if let Some(want) = &expect.subject
                && subject.as_ref() != Some(want)
            {
                wrong.push(format!("subject {subject:?}, want {want}"));
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_issuance_follows_the_aws_documents() {
    let cases: Vec<Case> = load_cases(include_str!("credentials.json"), 25);
    let mut failures = Failures::default();
    for case in &cases {
        let world = World::new(case).await;
        let got = run(&world, &case.call).await;
        let wrong = check(&world, &case.expect, got);
        failures.add(&case.name, &case.doc, &wrong);
    }
    failures.assert_none();
}
