//! The domain layer's IAM operations, from `iam.json`: each case names the AWS document it
//! follows and runs steps against one instance. `${TRUST}` trusts the account, `${OTHER_TRUST}`
//! another account, `${READ}` is a small identity policy, `${BIG}` one of 6,000 bytes and
//! `${HUGE}` a trust policy past its quota.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use podpass_control::credentials::{AssumeRole, SessionRequest};
use podpass_control::iam::{
    NewPolicy, NewProvider, NewRole, NewUser, PolicyHolder, PolicyInfo, Tagged,
};
use podpass_control::{Caller, Control, Ctx, Error};
use podpass_store::{OidcProvider, PolicyVersion, Role, Tag};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{
    ACCOUNT, Documented, Failures, Instance, admin_user, ctx, load_cases, root, wrong_refusal,
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
    /// `"reader"`: a session of a role that may only read the role `app`; `"admin"`: an IAM
    /// user with AdministratorAccess; otherwise the account root.
    #[serde(rename = "as")]
    caller: Option<String>,
    #[serde(default)]
    input: Value,
    expect: Option<Value>,
    error: Option<String>,
    message: Option<String>,
}

fn trust(account: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]}).to_string()
}

fn identity(actions: &[String]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}).to_string()
}

/// Replaces the placeholders of a case file's text.
fn substitute(text: &str) -> String {
    let big: Vec<String> = (0..300).map(|i| format!("s3:GetObject{i:04}")).collect();
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let huge = format!("{{\"Version\":\"{}\"}}", "x".repeat(2100));
    let quoted = |s: String| serde_json::to_string(&s).unwrap();
    text.replace("${ACCOUNT}", ACCOUNT)
        .replace("\"${TRUST}\"", &quoted(trust(ACCOUNT)))
        .replace("\"${OTHER_TRUST}\"", &quoted(trust("999999999999")))
        .replace("\"${READ}\"", &quoted(identity(&["s3:GetObject".into()])))
        .replace("\"${BIG}\"", &quoted(identity(&big)))
        .replace("\"${HUGE}\"", &quoted(huge))
        .replace("\"${FIFTY_TAGS}\"", &Value::from(fifty).to_string())
}

fn text<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input[key].as_str()
}

fn required<'v>(input: &'v Value, key: &str) -> &'v str {
    text(input, key).unwrap_or_else(|| panic!("step input lacks {key}"))
}

fn tags(input: &Value) -> Vec<Tag> {
    input["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Tag {
            key: t["key"].as_str().unwrap_or_default().into(),
            value: t["value"].as_str().unwrap_or_default().into(),
        })
        .collect()
}

fn strings(input: &Value, key: &str) -> Vec<String> {
    input[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A session of a role that may only read the role `app`.
async fn reader(instance: &Instance) -> Caller {
    let control = &instance.control;
    let admin = ctx(Some(root()));
    if control.get_role(&admin, "reader").await.is_err() {
        let new = NewRole {
            name: "reader",
            trust_policy: &trust(ACCOUNT),
            ..NewRole::default()
        };
        control.create_role(&admin, new).await.unwrap();
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": podpass_arn::role(ACCOUNT, "/", "app")}]});
        control
            .put_inline_policy(
                &admin,
                PolicyHolder::Role("reader"),
                "read-app",
                &policy.to_string(),
            )
            .await
            .unwrap();
    }
    let arn = podpass_arn::role(ACCOUNT, "/", "reader");
    let input = AssumeRole {
        session: SessionRequest {
            role_arn: &arn,
            session_name: "reader",
            ..SessionRequest::default()
        },
        ..AssumeRole::default()
    };
    let assumer = ctx(Some(admin_user(control, "admin").await));
    let issued = control.assume_role(&assumer, &input).await.unwrap();
    Caller::Session(Arc::new(issued.session))
}

fn role_fields(role: &Role) -> Value {
    json!({
        "name": role.role_name,
        "path": role.path,
        "arn": role.arn,
        "description": role.description,
        "maxSessionDuration": role.max_session_duration,
        "boundary": role.permissions_boundary,
        "tags": tag_fields(&role.tags)["tags"],
    })
}

fn tag_fields(tags: &[Tag]) -> Value {
    json!({
        "tags": tags.iter().map(|t| (t.key.clone(), json!(t.value))).collect::<serde_json::Map<_, _>>(),
    })
}

fn policy_fields(policy: &PolicyInfo) -> Value {
    json!({
        "name": policy.name,
        "arn": policy.arn,
        "defaultVersionId": policy.default_version_id,
        "attachmentCount": policy.attachment_count,
    })
}

fn version_fields(version: &PolicyVersion) -> Value {
    json!({"versionId": version.version_id})
}

fn provider_fields(provider: &OidcProvider) -> Value {
    json!({
        "arn": provider.arn,
        "url": provider.url,
        "clientIds": provider.client_ids,
        "thumbprints": provider.thumbprints,
    })
}

/// The role, user or group whose policies a step acts on (`role`, `user` or `group`).
fn holder(input: &Value) -> PolicyHolder<'_> {
    match (text(input, "user"), text(input, "group")) {
        (Some(user), _) => PolicyHolder::User(user),
        (None, Some(group)) => PolicyHolder::Group(group),
        (None, None) => PolicyHolder::Role(required(input, "role")),
    }
}

/// Runs one step; its outcome as the fields a case's `expect` may name.
async fn run(instance: &Instance, step: &Step, input: &Value) -> Result<Value, Error> {
    let caller = match step.caller.as_deref() {
        Some("reader") => reader(instance).await,
        Some("admin") => admin_user(&instance.control, "admin").await,
        _ => root(),
    };
    let ctx = ctx(Some(caller));
    let control = &instance.control;
    let name = || required(input, "name");
    let arn = || required(input, "arn");
    Ok(match step.op.as_str() {
        "create_role" => {
            let new = NewRole {
                name: name(),
                path: text(input, "path"),
                trust_policy: required(input, "trust"),
                description: text(input, "description"),
                max_session_duration: input["maxSessionDuration"].as_i64(),
                permissions_boundary: text(input, "boundary"),
                tags: tags(input),
            };
            role_fields(&control.create_role(&ctx, new).await?)
        }
        "get_role" => role_fields(&control.get_role(&ctx, name()).await?),
        "list_roles" => {
            let roles = control.list_roles(&ctx, required(input, "prefix")).await?;
            json!({"names": roles.iter().map(|r| &r.role_name).collect::<Vec<_>>()})
        }
        "delete_role" => json!(control.delete_role(&ctx, name()).await?),
        "update_trust" => role_fields(
            &control
                .update_assume_role_policy(&ctx, name(), required(input, "trust"))
                .await?,
        ),
        "tag_role" => tag_fields(
            &control
                .tag(&ctx, Tagged::Role(name()), &tags(input))
                .await?,
        ),
        "untag_role" => {
            let keys = strings(input, "keys");
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            tag_fields(&control.untag(&ctx, Tagged::Role(name()), &keys).await?)
        }
        "assume" => {
            let arn = podpass_arn::role(ACCOUNT, "/", name());
            let request = AssumeRole {
                session: SessionRequest {
                    role_arn: &arn,
                    session_name: "case",
                    ..SessionRequest::default()
                },
                ..AssumeRole::default()
            };
            let issued = control.assume_role(&ctx, &request).await?;
            json!({"arn": issued.session.identity.role_name})
        }
        "put_role_policy" => json!(
            control
                .put_inline_policy(&ctx, holder(input), name(), required(input, "document"))
                .await?
        ),
        "delete_role_policy" => json!(
            control
                .delete_inline_policy(&ctx, holder(input), name())
                .await?
        ),
        "list_role_policies" => {
            json!({"names": control.list_inline_policies(&ctx, holder(input)).await?})
        }
        "attach" => json!(control.attach_policy(&ctx, holder(input), arn()).await?),
        "attach_new_policies" => {
            attach_new_policies(
                control,
                &ctx,
                holder(input),
                input["count"].as_u64().unwrap_or(1),
            )
            .await?
        }
        "create_policy" => {
            let new = NewPolicy {
                name: name(),
                path: text(input, "path"),
                description: text(input, "description"),
                document: required(input, "document"),
                tags: tags(input),
            };
            policy_fields(&control.create_policy(&ctx, new).await?)
        }
        "get_policy" => policy_fields(&control.get_policy(&ctx, arn()).await?),
        "delete_policy" => json!(control.delete_policy(&ctx, arn()).await?),
        "create_version" => {
            let document = identity(&["s3:ListBucket".into()]);
            let set_default = input["default"].as_bool().unwrap_or(false);
            version_fields(
                &control
                    .create_policy_version(&ctx, arn(), &document, set_default)
                    .await?,
            )
        }
        "delete_version" => json!(
            control
                .delete_policy_version(&ctx, arn(), required(input, "version"))
                .await?
        ),
        "list_versions" => {
            let (versions, default) = control.list_policy_versions(&ctx, arn()).await?;
            json!({"names": versions.iter().map(|v| &v.version_id).collect::<Vec<_>>(), "default": default})
        }
        "create_provider" => {
            let client_ids = strings(input, "clientIds");
            let thumbprints = strings(input, "thumbprints");
            let new = NewProvider {
                url: required(input, "url"),
                client_ids: client_ids.iter().map(String::as_str).collect(),
                thumbprints: thumbprints.iter().map(String::as_str).collect(),
                tags: tags(input),
            };
            provider_fields(&control.create_oidc_provider(&ctx, new).await?)
        }
        "get_provider" => provider_fields(&control.get_oidc_provider(&ctx, arn()).await?),
        "add_client_id" => json!(
            control
                .add_oidc_client_id(&ctx, arn(), required(input, "clientId"))
                .await?
        ),
        "delete_provider" => json!(control.delete_oidc_provider(&ctx, arn()).await?),
        "create_user" => {
            let new = NewUser {
                name: name(),
                path: text(input, "path"),
                ..NewUser::default()
            };
            let user = control.create_user(&ctx, new).await?;
            json!({"name": user.user_name, "path": user.path, "arn": user.arn})
        }
        "delete_user" => json!(control.delete_user(&ctx, name()).await?),
        "create_access_key" => {
            let key = control
                .create_access_key(&ctx, Some(required(input, "user")))
                .await?;
            json!({"active": key.key.active, "user": key.user_name})
        }
        "create_group" => {
            let group = control
                .create_group(&ctx, name(), text(input, "path"))
                .await?;
            json!({"name": group.group_name, "arn": group.arn})
        }
        "add_to_group" => json!(
            control
                .set_group_member(
                    &ctx,
                    required(input, "group"),
                    required(input, "user"),
                    true
                )
                .await?
        ),
        "delete_group" => json!(control.delete_group(&ctx, name()).await?),
        other => panic!("unknown step {other}"),
    })
}

/// Creates the policies `p0`..`p{count-1}` and attaches each to `role`.
async fn attach_new_policies(
    control: &Control,
    ctx: &Ctx,
    holder: PolicyHolder<'_>,
    count: u64,
) -> Result<Value, Error> {
    let document = identity(&["s3:GetObject".into()]);
    for i in 0..count {
        let name = format!("p{i}");
        let new = NewPolicy {
            name: &name,
            document: &document,
            ..NewPolicy::default()
        };
        let policy = control.create_policy(ctx, new).await?;
        control.attach_policy(ctx, holder, &policy.arn).await?;
    }
    Ok(Value::Null)
}

/// Differences between a step's expectation and its outcome.
fn check(step: &Step, got: Result<Value, Error>) -> Vec<String> {
    let mut wrong = Vec::new();
    match (got, &step.error) {
        (Err(error), Some(want)) => {
            let message = step.message.as_deref().map(substitute);
            for what in wrong_refusal(&error, want, message.as_deref()) {
                wrong.push(format!("{}: {what}", step.op));
            }
        }
        (Err(error), None) => wrong.push(format!("{}: refused: {error:?}", step.op)),
        (Ok(_), Some(want)) => wrong.push(format!("{}: succeeded, want {want}", step.op)),
        (Ok(have), None) => {
            let expect: Option<Value> = step
                .expect
                .as_ref()
                .map(|e| serde_json::from_str(&substitute(&e.to_string())).unwrap());
            let expected: BTreeMap<&String, &Value> = expect
                .iter()
                .flat_map(|e| e.as_object())
                .flatten()
                .collect();
            for (key, want) in expected {
                let got = &have[key.as_str()];
                if got != want {
                    wrong.push(format!("{}: {key} is {got}, want {want}", step.op));
                }
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_operations_follow_the_aws_documents() {
    let cases: Vec<Case> = load_cases(include_str!("iam.json"), 12);
    let mut failures = Failures::default();
    for case in &cases {
        let instance = Instance::new().await;
        for step in &case.steps {
            let input: Value =
                serde_json::from_str(&substitute(&step.input.to_string())).expect("step input");
            let got = run(&instance, step, &input).await;
            let wrong = check(step, got);
            failures.add(&case.name, &case.doc, &wrong);
        }
    }
    failures.assert_none();
}
