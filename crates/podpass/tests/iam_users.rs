//! IAM users, groups and access keys against a real instance, driven by the unmodified AWS
//! CLI: the entities and their errors, SigV4 with a user's keys on IAM, STS and S3, policies
//! from the user, its groups and its boundary, keys that stop signing when deactivated or
//! deleted, a user assuming a role, and a user's `GetSessionToken` credentials.

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Podpass, assert_aws_error, credentials_env, text};

fn allow(action: &str, resource: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]
    })
    .to_string()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    if out.stdout.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("aws printed JSON")
}

/// The environment of a client signing with a user's long-term key.
fn key_env(key: &Value) -> [(&'static str, &str); 2] {
    [
        (
            "AWS_ACCESS_KEY_ID",
            key["AccessKeyId"].as_str().expect("AccessKeyId"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            key["SecretAccessKey"].as_str().expect("SecretAccessKey"),
        ),
    ]
}

fn names<'v>(list: &'v Value, member: &str) -> Vec<&'v str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item[member].as_str().expect("a name"))
        .collect()
}

/// `env` with S3 requests sent to `s3`.
fn with_s3<'a>(env: &[(&'static str, &'a str)], s3: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut env = env.to_vec();
    env.push(("AWS_ENDPOINT_URL_S3", s3));
    env
}

/// Runs `attempt` until it returns true; other processes see key changes within a second.
fn eventually(what: &str, mut attempt: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !attempt() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn users_groups_and_access_keys_round_trip_and_sign() {
    let podpass = Podpass::start();
    let account = podpass.account();
    let user_arn = format!("arn:aws:iam::{account}:user/build/ci");

    // Users: created with a path and tags, unique case-insensitively, names checked.
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-user",
        "--user-name",
        "ci",
        "--path",
        "/build/",
        "--tags",
        "Key=team,Value=platform",
    ]);
    let user = &created["User"];
    assert_eq!(user["Arn"], user_arn.as_str());
    assert!(user["UserId"].as_str().unwrap().starts_with("AIDA"));
    assert_eq!(user["Tags"][0]["Value"], "platform");
    assert_aws_error(
        &podpass.aws_admin(&["iam", "create-user", "--user-name", "CI"]),
        "EntityAlreadyExists",
    );
    assert_aws_error(
        &podpass.aws_admin(&["iam", "create-user", "--user-name", "c i"]),
        "ValidationError",
    );
    assert_aws_error(
        &podpass.aws_admin(&["iam", "get-user", "--user-name", "nobody"]),
        "NoSuchEntity",
    );
    let listed = podpass.aws_admin_json(&["iam", "list-users", "--path-prefix", "/build/"]);
    assert_eq!(names(&listed["Users"], "UserName"), ["ci"]);
    assert!(listed["Users"][0].get("Tags").is_none());

    podpass.aws_admin_json(&[
        "iam",
        "tag-user",
        "--user-name",
        "ci",
        "--tags",
        "Key=Team,Value=build",
        "Key=env,Value=ci",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "untag-user",
        "--user-name",
        "ci",
        "--tag-keys",
        "env",
    ]);
    let tags = podpass.aws_admin_json(&["iam", "list-user-tags", "--user-name", "ci"]);
    // A key it has, in any case, keeps its spelling and takes the new value.
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "build"}]));

    // GetUser without a name is the caller: here the account root, which has no name.
    let root = podpass.aws_admin_json(&["iam", "get-user"]);
    assert_eq!(root["User"]["Arn"], format!("arn:aws:iam::{account}:root"));
    assert_eq!(root["User"]["UserId"], account.as_str());
    assert!(root["User"].get("UserName").is_none());

    // Access keys: AKIA ids, two at most, the secret shown once.
    let key = |user: &str| {
        podpass.aws_admin_json(&["iam", "create-access-key", "--user-name", user])["AccessKey"]
            .clone()
    };
    let first = key("ci");
    let second = key("ci");
    assert!(first["AccessKeyId"].as_str().unwrap().starts_with("AKIA"));
    assert_eq!(first["Status"], "Active");
    assert_aws_error(
        &podpass.aws_admin(&["iam", "create-access-key", "--user-name", "ci"]),
        "LimitExceeded",
    );
    let keys = podpass.aws_admin_json(&["iam", "list-access-keys", "--user-name", "ci"]);
    let metadata = &keys["AccessKeyMetadata"];
    assert_eq!(metadata.as_array().unwrap().len(), 2);
    assert!(metadata[0].get("SecretAccessKey").is_none());
    assert_eq!(metadata[0]["UserName"], "ci");
    // Paged one at a time, the two keys come once each.
    let first_page = podpass.aws_admin_json(&[
        "iam",
        "list-access-keys",
        "--user-name",
        "ci",
        "--max-items",
        "1",
    ]);
    let next = first_page["NextToken"].as_str().expect("a second page");
    let second_page = podpass.aws_admin_json(&[
        "iam",
        "list-access-keys",
        "--user-name",
        "ci",
        "--max-items",
        "1",
        "--starting-token",
        next,
    ]);
    let mut paged = names(&first_page["AccessKeyMetadata"], "AccessKeyId");
    paged.extend(names(&second_page["AccessKeyMetadata"], "AccessKeyId"));
    paged.sort_unstable();
    let mut both = names(metadata, "AccessKeyId");
    both.sort_unstable();
    assert_eq!(paged, both);

    // The key signs as the user, who may do nothing it is not allowed.
    let env = key_env(&first);
    let me = json_of(&podpass.aws(&env, &["sts", "get-caller-identity"]));
    assert_eq!(me["Arn"], user_arn.as_str());
    assert_eq!(me["UserId"], user["UserId"]);
    let refused = assert_aws_error(&podpass.aws(&env, &["iam", "list-roles"]), "AccessDenied");
    assert!(
        refused.contains(&format!("User: {user_arn} is not authorized")),
        "{refused}"
    );
    assert_aws_error(&podpass.aws(&env, &["iam", "get-user"]), "AccessDenied");
    assert_aws_error(
        &podpass.aws(&env, &["eks", "list-clusters"]),
        "AccessDenied",
    );

    // A group's policies apply to its members; the user's own, attached ones too.
    podpass.aws_admin_json(&["iam", "create-group", "--group-name", "builders"]);
    podpass.aws_admin_json(&[
        "iam",
        "put-group-policy",
        "--group-name",
        "builders",
        "--policy-name",
        "read-iam",
        "--policy-document",
        &json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["iam:List*", "eks:ListClusters"], "Resource": "*"}]
        })
        .to_string(),
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "add-user-to-group",
        "--group-name",
        "builders",
        "--user-name",
        "ci",
    ]);
    json_of(&podpass.aws(&env, &["iam", "list-roles"]));
    json_of(&podpass.aws(&env, &["eks", "list-clusters"]));
    let group = podpass.aws_admin_json(&["iam", "get-group", "--group-name", "builders"]);
    assert_eq!(names(&group["Users"], "UserName"), ["ci"]);
    let groups = podpass.aws_admin_json(&["iam", "list-groups-for-user", "--user-name", "ci"]);
    assert_eq!(names(&groups["Groups"], "GroupName"), ["builders"]);
    assert!(
        group["Group"]["GroupId"]
            .as_str()
            .unwrap()
            .starts_with("AGPA")
    );
    podpass.aws_admin_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "ci",
        "--policy-name",
        "self",
        "--policy-document",
        &allow("iam:GetUser", &user_arn),
    ]);
    let myself = json_of(&podpass.aws(&env, &["iam", "get-user"]));
    assert_eq!(myself["User"]["UserName"], "ci");
    let policy = podpass.aws_admin_json(&[
        "iam",
        "get-user-policy",
        "--user-name",
        "ci",
        "--policy-name",
        "self",
    ]);
    assert_eq!(policy["UserName"], "ci");
    podpass.aws_admin_json(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "ci",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]);
    let attached =
        podpass.aws_admin_json(&["iam", "list-attached-user-policies", "--user-name", "ci"]);
    assert_eq!(
        names(&attached["AttachedPolicies"], "PolicyName"),
        ["AmazonS3ReadOnlyAccess"]
    );

    // The simulator evaluates the user with its own and its group's policies.
    let simulated = podpass.aws_admin_json(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        &user_arn,
        "--action-names",
        "iam:ListRoles",
        "iam:DeleteRole",
    ]);
    let decisions: Vec<&str> = simulated["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "implicitDeny"]);

    // A permissions boundary caps all of it.
    podpass.aws_admin_json(&[
        "iam",
        "put-user-permissions-boundary",
        "--user-name",
        "ci",
        "--permissions-boundary",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]);
    assert_aws_error(&podpass.aws(&env, &["iam", "list-roles"]), "AccessDenied");
    podpass.aws_admin_json(&[
        "iam",
        "delete-user-permissions-boundary",
        "--user-name",
        "ci",
    ]);
    json_of(&podpass.aws(&env, &["iam", "list-roles"]));

    // A forged secret for a real key id is a bad signature, never the user.
    let forged = [
        env[0],
        (
            "AWS_SECRET_ACCESS_KEY",
            "forged-secret-forged-secret-00000000000",
        ),
    ];
    assert_aws_error(
        &podpass.aws(&forged, &["sts", "get-caller-identity"]),
        "SignatureDoesNotMatch",
    );

    // A deactivated key stops signing, here at once and on S3 within a second; the other key
    // still works, and reactivation brings it back.
    let first_id = first["AccessKeyId"].as_str().unwrap();
    let set_status = |status: &str| {
        podpass.aws_admin_json(&[
            "iam",
            "update-access-key",
            "--user-name",
            "ci",
            "--access-key-id",
            first_id,
            "--status",
            status,
        ])
    };
    set_status("Inactive");
    assert_aws_error(
        &podpass.aws(&env, &["sts", "get-caller-identity"]),
        "InvalidClientTokenId",
    );
    let s3 = podpass.s3_endpoint();
    eventually("the inactive key is refused by S3", || {
        let out = podpass.aws(&with_s3(&env, &s3), &["s3api", "list-buckets"]);
        !out.status.success() && text(&out.stderr).contains("InvalidAccessKeyId")
    });
    json_of(&podpass.aws(&key_env(&second), &["sts", "get-caller-identity"]));
    assert_aws_error(
        &podpass.aws_admin(&[
            "iam",
            "update-access-key",
            "--user-name",
            "ci",
            "--access-key-id",
            first_id,
            "--status",
            "Paused",
        ]),
        "ValidationError",
    );
    set_status("Active");
    json_of(&podpass.aws(&env, &["sts", "get-caller-identity"]));
    json_of(&podpass.aws(&with_s3(&env, &s3), &["s3api", "list-buckets"]));

    // Renamed, the user keeps its id, keys and policies under its new ARN.
    podpass.aws_admin_json(&[
        "iam",
        "update-user",
        "--user-name",
        "ci",
        "--new-user-name",
        "builder",
    ]);
    let renamed = json_of(&podpass.aws(&env, &["sts", "get-caller-identity"]));
    assert_eq!(
        renamed["Arn"],
        format!("arn:aws:iam::{account}:user/build/builder")
    );
    assert_eq!(renamed["UserId"], user["UserId"]);

    // Deleting needs everything gone first, as IAM; then its keys never sign again.
    let delete_user = || podpass.aws_admin(&["iam", "delete-user", "--user-name", "builder"]);
    assert_aws_error(&delete_user(), "DeleteConflict");
    assert_aws_error(
        &podpass.aws_admin(&["iam", "delete-group", "--group-name", "builders"]),
        "DeleteConflict",
    );
    for key in [&first, &second] {
        podpass.aws_admin_json(&[
            "iam",
            "delete-access-key",
            "--user-name",
            "builder",
            "--access-key-id",
            key["AccessKeyId"].as_str().unwrap(),
        ]);
    }
    podpass.aws_admin_json(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        "builders",
        "--user-name",
        "builder",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "detach-user-policy",
        "--user-name",
        "builder",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]);
    assert_aws_error(&delete_user(), "DeleteConflict");
    podpass.aws_admin_json(&[
        "iam",
        "delete-user-policy",
        "--user-name",
        "builder",
        "--policy-name",
        "self",
    ]);
    assert!(delete_user().status.success());
    assert_aws_error(
        &podpass.aws(&env, &["sts", "get-caller-identity"]),
        "InvalidClientTokenId",
    );
    podpass.aws_admin_json(&[
        "iam",
        "delete-group-policy",
        "--group-name",
        "builders",
        "--policy-name",
        "read-iam",
    ]);
    podpass.aws_admin_json(&["iam", "delete-group", "--group-name", "builders"]);
    let left = podpass.aws_admin_json(&["iam", "list-groups"]);
    assert!(left["Groups"].as_array().unwrap().is_empty());
}

#[test]
fn a_user_assumes_roles_uses_s3_and_gets_its_own_session_token() {
    let podpass = Podpass::start();
    let account = podpass.account();
    podpass.aws_admin_json(&["iam", "create-user", "--user-name", "dev"]);
    let key =
        podpass.aws_admin_json(&["iam", "create-access-key", "--user-name", "dev"])["AccessKey"]
            .clone();
    let env = key_env(&key);
    let user_arn = format!("arn:aws:iam::{account}:user/dev");

    // A role whose trust policy names the user directly needs nothing more from the user.
    let trust = |principal: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole"
            }]
        })
        .to_string()
    };
    for (role, principal) in [
        ("deployer", user_arn.clone()),
        ("auditor", format!("arn:aws:iam::{account}:root")),
    ] {
        podpass.aws_admin_json(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            &trust(&principal),
        ]);
    }
    let assume = |env: &[(&str, &str)], role: &str| {
        podpass.aws(
            env,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &format!("arn:aws:iam::{account}:role/{role}"),
                "--role-session-name",
                "dev",
            ],
        )
    };
    let session = json_of(&assume(&env, "deployer"));
    assert_eq!(
        session["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/deployer/dev")
    );
    // Trusted through the account, the user's own policies must allow it too.
    assert_aws_error(&assume(&env, "auditor"), "AccessDenied");
    podpass.aws_admin_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "dev",
        "--policy-name",
        "work",
        "--policy-document",
        &json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:*", "Resource": [
                    "arn:aws:s3:::${aws:username}-bucket",
                    "arn:aws:s3:::${aws:username}-bucket/*"
                ]}
            ]
        })
        .to_string(),
    ]);
    json_of(&assume(&env, "auditor"));

    // S3 with the user's key: its policy decides, on its bucket only (`${aws:username}`).
    let s3 = podpass.s3_endpoint();
    let s3_env = with_s3(&env, &s3);
    json_of(&podpass.aws(
        &s3_env,
        &["s3api", "create-bucket", "--bucket", "dev-bucket"],
    ));
    let file = podpass.write("hello.txt", "hello");
    json_of(&podpass.aws(
        &s3_env,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "dev-bucket",
            "--key",
            "hello.txt",
            "--body",
            file.to_str().unwrap(),
        ],
    ));
    let listed = json_of(&podpass.aws(
        &s3_env,
        &["s3api", "list-objects-v2", "--bucket", "dev-bucket"],
    ));
    assert_eq!(listed["Contents"][0]["Key"], "hello.txt");
    assert_aws_error(
        &podpass.aws(&s3_env, &["s3api", "create-bucket", "--bucket", "not-mine"]),
        "AccessDenied",
    );

    // GetSessionToken: the user's own temporary credentials, acting as the user (its
    // policies, not the root's), never on IAM.
    let token = json_of(&podpass.aws(
        &env,
        &["sts", "get-session-token", "--duration-seconds", "7200"],
    ));
    let credentials = &token["Credentials"];
    let expires: jiff::Timestamp = credentials["Expiration"].as_str().unwrap().parse().unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((7100..=7200).contains(&left), "{left} s");
    let temporary = credentials_env(credentials);
    let me = json_of(&podpass.aws(&temporary, &["sts", "get-caller-identity"]));
    assert_eq!(me["Arn"], user_arn.as_str());
    let temporary_s3 = with_s3(&temporary, &s3);
    json_of(&podpass.aws(
        &temporary_s3,
        &["s3api", "list-objects-v2", "--bucket", "dev-bucket"],
    ));
    assert_aws_error(
        &podpass.aws(
            &temporary_s3,
            &["s3api", "create-bucket", "--bucket", "not-mine"],
        ),
        "AccessDenied",
    );
    assert_aws_error(
        &podpass.aws(&temporary, &["iam", "get-user"]),
        "InvalidClientTokenId",
    );
    json_of(&assume(&temporary, "deployer"));

    // Only a user (or the root) may name no user: a role session must.
    let role_env = credentials_env(&session["Credentials"]);
    assert!(
        assert_aws_error(
            &podpass.aws(&role_env, &["iam", "list-access-keys"]),
            "ValidationError"
        )
        .contains("Must specify userName")
    );

    // IAM writes apply to S3 at once in the process that made them: the policies read for the
    // first listing are not reused after a policy is deleted.
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "deployer",
        "--policy-name",
        "list",
        "--policy-document",
        &allow("s3:ListBucket", "arn:aws:s3:::dev-bucket"),
    ]);
    // One boto3 process, so that the deletes and the listings after them are milliseconds apart.
    let as_boto3 = |c: &Value| {
        json!({
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c.get("SessionToken"),
        })
    };
    let callers = json!({
        "role session": as_boto3(&session["Credentials"]),
        "user key": as_boto3(&key),
        "user session": as_boto3(credentials),
    });
    let script = format!(
        r#"
import json, boto3
from botocore.exceptions import ClientError
def client(service, endpoint, **credentials):
    session = boto3.session.Session(**credentials)
    return session.client(service, region_name="us-east-1", endpoint_url=endpoint)
iam = client("iam", "{endpoint}", profile_name="podpass")
buckets = {{name: client("s3", "{s3}", **c) for name, c in json.loads('{callers}').items()}}
def outcome(s3):
    try:
        s3.list_objects_v2(Bucket="dev-bucket")
        return "allowed"
    except ClientError as error:
        return error.response["Error"]["Code"]
before = {{name: outcome(s3) for name, s3 in buckets.items()}}
iam.delete_role_policy(RoleName="deployer", PolicyName="list")
iam.delete_user_policy(UserName="dev", PolicyName="work")
print(json.dumps([before, {{name: outcome(s3) for name, s3 in buckets.items()}}]))
"#,
        endpoint = podpass.endpoint(),
    );
    let out = podpass.python(&[], &script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let outcomes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let each = |outcome: &str| json!({"role session": outcome, "user key": outcome, "user session": outcome});
    assert_eq!(outcomes, json!([each("allowed"), each("AccessDenied")]));

    // A session of a deleted role keeps its signature and loses every permission, on IAM as
    // on S3 (a refusal, not a failure).
    podpass.aws_admin_json(&["iam", "delete-role", "--role-name", "deployer"]);
    assert_aws_error(
        &podpass.aws(&role_env, &["iam", "list-roles"]),
        "AccessDenied",
    );
    assert_aws_error(
        &podpass.aws(
            &with_s3(&role_env, &s3),
            &["s3api", "list-objects-v2", "--bucket", "dev-bucket"],
        ),
        "AccessDenied",
    );
}
