//! Users' and role sessions' compiled policies are kept in the IAM cache between calls; an IAM
//! write of this process must still apply to the very next call, granting or refusing.

mod support;

use std::sync::Arc;

use podpass_control::credentials::{AssumeRole, SessionRequest};
use podpass_control::iam::{NewRole, NewUser, PolicyHolder};
use podpass_control::{Caller, Control, Ctx, Error};
use serde_json::json;
use support::{ACCOUNT, Instance, admin_user, ctx, root};

fn policy(effect: &str, action: &str, resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})
        .to_string()
}

/// Creates the role `name`, trusting every principal of the account.
async fn create_role(control: &Control, name: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
    let new = NewRole {
        name,
        trust_policy: &trust.to_string(),
        ..NewRole::default()
    };
    control
        .create_role(&ctx(Some(root())), new)
        .await
        .unwrap()
        .arn
}

async fn assume(control: &Control, caller: &Ctx, role_arn: &str) -> Result<Caller, Error> {
    let input = AssumeRole {
        session: SessionRequest {
            role_arn,
            session_name: "cache-test",
            ..SessionRequest::default()
        },
        ..AssumeRole::default()
    };
    let issued = control.assume_role(caller, &input).await?;
    Ok(Caller::Session(Arc::new(issued.session)))
}

async fn put(control: &Control, holder: PolicyHolder<'_>, name: &str, document: &str) {
    control
        .put_inline_policy(&ctx(Some(root())), holder, name, document)
        .await
        .unwrap();
}

/// Puts the inline policy `assume` on `holder`, allowing `sts:AssumeRole` on `role_arn`.
async fn allow_assume(control: &Control, holder: PolicyHolder<'_>, role_arn: &str) {
    put(
        control,
        holder,
        "assume",
        &policy("Allow", "sts:AssumeRole", role_arn),
    )
    .await;
}

fn assert_denied(result: Result<Caller, Error>) {
    assert!(matches!(result, Err(Error::Denied { .. })), "{result:?}");
}

async fn delete(control: &Control, holder: PolicyHolder<'_>, name: &str) {
    control
        .delete_inline_policy(&ctx(Some(root())), holder, name)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_users_policy_change_applies_to_its_next_call() {
    let instance = Instance::new().await;
    let control = &instance.control;
    let admin = ctx(Some(root()));
    let app = create_role(control, "app").await;
    let new = NewUser {
        name: "dev",
        path: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    control.create_user(&admin, new).await.unwrap();
    let key = control
        .create_access_key(&admin, Some("dev"))
        .await
        .unwrap();
    let signer = control
        .signing_identity(&key.key.access_key_id, None, podpass_control::now())
        .await
        .unwrap();
    let dev = ctx(Some(signer.caller));

    assert_denied(assume(control, &dev, &app).await);
    allow_assume(control, PolicyHolder::User("dev"), &app).await;
    assume(control, &dev, &app)
        .await
        .expect("allowed once the policy is put");
    put(
        control,
        PolicyHolder::User("dev"),
        "deny",
        &policy("Deny", "sts:AssumeRole", "*"),
    )
    .await;
    assert_denied(assume(control, &dev, &app).await);
    delete(control, PolicyHolder::User("dev"), "deny").await;
    assume(control, &dev, &app)
        .await
        .expect("allowed again once the deny is gone");
}

#[tokio::test]
async fn a_sessions_role_policy_change_applies_to_its_next_call() {
    let instance = Instance::new().await;
    let control = &instance.control;
    let app = create_role(control, "app").await;
    let hop = create_role(control, "hop").await;
    allow_assume(control, PolicyHolder::Role("hop"), &app).await;
    let admin = ctx(Some(admin_user(control, "admin").await));
    let session = ctx(Some(assume(control, &admin, &hop).await.unwrap()));

    assume(control, &session, &app)
        .await
        .expect("the role's policy allows the hop");
    delete(control, PolicyHolder::Role("hop"), "assume").await;
    assert_denied(assume(control, &session, &app).await);
    allow_assume(control, PolicyHolder::Role("hop"), &app).await;
    assume(control, &session, &app)
        .await
        .expect("allowed again once the policy is back");
}
