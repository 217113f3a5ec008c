//! Session tags and a source identity that an identity provider puts in its token
//! (`https://aws.amazon.com/tags`, `https://aws.amazon.com/source_identity`), as STS reads them,
//! through the unmodified AWS CLI: the trust policy sees them (and must allow `sts:TagSession`
//! and `sts:SetSourceIdentity`), the session carries them as `aws:PrincipalTag/*` and
//! `aws:SourceIdentity`, role chaining keeps the transitive tags and the source identity, and a
//! malformed claim refuses the request.

mod support;

use serde_json::{Value, json};
use support::apiserver::{Apiserver, ISSUER, claims};
use support::{Podpass, assert_aws_error, credentials_env, text};

/// An identity provider's token for `ci/deployer` with `extra` claims.
fn token(idp: &Apiserver, extra: &Value) -> String {
    let mut claims = claims("sts.amazonaws.com", "ci", "deployer", None, 600);
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    idp.sign(&claims)
}

fn tags_claim(tags: Value, transitive: &[&str]) -> Value {
    json!({"https://aws.amazon.com/tags": {"principal_tags": tags, "transitive_tag_keys": transitive}})
}

fn role(podpass: &Podpass, name: &str, trust: &Value, policy: &Value) -> String {
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        name,
        "--policy-name",
        "access",
        "--policy-document",
        &policy.to_string(),
    ]);
    created["Role"]["Arn"].as_str().unwrap().to_owned()
}

#[test]
fn a_tokens_session_tags_and_source_identity_are_checked_kept_and_chained() {
    let podpass = Podpass::start();
    let idp = Apiserver::new("idp-key-1");
    let jwks = podpass.write("jwks.json", &Apiserver::jwks(&[&idp]));
    podpass.podpass_ok(&[
        "cluster",
        "register",
        "ci",
        "--issuer-url",
        ISSUER,
        "--jwks-file",
        jwks.to_str().unwrap(),
    ]);
    let provider_arn = &support::apiserver::oidc_provider(&podpass);
    let s3 = podpass.s3_endpoint();
    for bucket in ["blue-data", "red-data"] {
        let out = podpass.aws(
            &[("AWS_PROFILE", "podpass"), ("AWS_ENDPOINT_URL_S3", &s3)],
            &["s3api", "create-bucket", "--bucket", bucket],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    // The deployer role takes tokens tagged team=blue only, and lets a session list the
    // buckets of its own team (a policy variable over the session tag).
    let deployer = role(
        &podpass,
        "deployer",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}}]}),
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": "arn:aws:s3:::${aws:PrincipalTag/team}-data"},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}),
    );
    // A second role, assumed from the first session: only that source identity may list.
    let auditor = role(
        &podpass,
        "auditor",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": deployer},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]}),
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::blue-data",
            "Condition": {"StringEquals": {
                "aws:SourceIdentity": "alice", "aws:PrincipalTag/team": "blue"}}}]}),
    );
    // A role whose trust knows nothing of tags.
    let plain = role(
        &podpass,
        "plain",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity"}]}),
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListBucket", "Resource": "*"}]}),
    );

    let web_identity = |role_arn: &str, token: &str| {
        podpass.aws(
            &[],
            &[
                "sts",
                "assume-role-with-web-identity",
                "--role-arn",
                role_arn,
                "--role-session-name",
                "deploy",
                "--web-identity-token",
                token,
                "--output",
                "json",
            ],
        )
    };
    let mut claims = tags_claim(json!({"team": ["blue"], "env": ["ci"]}), &["team"]);
    claims["https://aws.amazon.com/source_identity"] = json!("alice");
    let tagged = token(&idp, &claims);

    let out = web_identity(&deployer, &tagged);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let session: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(session["SourceIdentity"], "alice", "{session}");
    let env = credentials_env(&session["Credentials"]);
    let list = |env: &[(&str, &str)], bucket: &str| {
        let mut env = env.to_vec();
        env.push(("AWS_ENDPOINT_URL_S3", &s3));
        podpass.aws(&env, &["s3api", "list-objects-v2", "--bucket", bucket])
    };
    let listed = list(&env, "blue-data");
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_aws_error(&list(&env, "red-data"), "AccessDenied");

    // Chained: the transitive tag and the source identity go on; the source identity cannot
    // be changed.
    let assume = |extra: &[&str]| {
        let mut args = vec![
            "sts",
            "assume-role",
            "--role-arn",
            &auditor,
            "--role-session-name",
            "audit",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        podpass.aws(&env, &args)
    };
    let out = assume(&[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let chained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(chained["SourceIdentity"], "alice", "{chained}");
    let listed = list(&credentials_env(&chained["Credentials"]), "blue-data");
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let changed = assume(&["--source-identity", "mallory"]);
    assert!(
        assert_aws_error(&changed, "ValidationError").contains("cannot be changed"),
        "{}",
        text(&changed.stderr)
    );

    // The trust policy sees the tags: another team is refused, and so is a role that does not
    // allow sts:TagSession, which takes the same identity without tags.
    let red = token(&idp, &tags_claim(json!({"team": ["red"]}), &[]));
    assert_aws_error(&web_identity(&deployer, &red), "AccessDenied");
    assert_aws_error(&web_identity(&plain, &tagged), "AccessDenied");
    let untagged = token(&idp, &json!({}));
    let out = web_identity(&plain, &untagged);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Malformed claims refuse the request, whatever the trust policy says.
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(["v"]))).collect();
    for (claims, why) in [
        (
            tags_claim(json!({"team": ["blue", "red"]}), &[]),
            "several values",
        ),
        (
            tags_claim(json!({"team": "blue"}), &[]),
            "list of one string",
        ),
        (tags_claim(Value::Object(many), &[]), "more than 50"),
        (
            tags_claim(json!({"aws:team": ["blue"]}), &[]),
            "not a tag key",
        ),
        (
            tags_claim(json!({"team": ["blue"]}), &["env"]),
            "not one of the principal tags",
        ),
        (
            json!({"https://aws.amazon.com/source_identity": "aws:admin"}),
            "source_identity",
        ),
        // A claim that is there as null is malformed, not absent.
        (
            json!({"https://aws.amazon.com/tags": null}),
            "is not an object",
        ),
        (
            json!({"https://aws.amazon.com/source_identity": null}),
            "source_identity",
        ),
    ] {
        let out = web_identity(&deployer, &token(&idp, &claims));
        let stderr = assert_aws_error(&out, "ValidationError");
        assert!(stderr.contains(why), "{why}: {stderr}");
    }
}
