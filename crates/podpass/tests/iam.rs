//! The IAM API against a real instance, driven by the unmodified AWS CLI: roles, inline and
//! managed policies, OIDC providers, the simulator, errors and authorization of role sessions.

mod support;

use serde_json::{Value, json};
use support::{Podpass, assert_aws_error, credentials_env, text};

fn trust_account_root(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
}

fn allow(action: &str, resource: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]
    })
}

fn create_role(podpass: &Podpass, name: &str) -> Value {
    podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &trust_account_root(&podpass.account()).to_string(),
    ])
}

/// A session of the role `name` (which trusts the account), assumed by an IAM user with
/// AdministratorAccess: the AWS CLI's `Credentials` and `AssumedRoleUser`.
fn assume(podpass: &Podpass, name: &str, session: &str) -> Value {
    podpass.aws_operator_json(&[
        "sts",
        "assume-role",
        "--role-arn",
        &format!("arn:aws:iam::{}:role/{name}", podpass.account()),
        "--role-session-name",
        session,
    ])
}

fn role_names(listing: &Value) -> Vec<&str> {
    listing["Roles"]
        .as_array()
        .expect("Roles")
        .iter()
        .map(|r| r["RoleName"].as_str().expect("RoleName"))
        .collect()
}

#[test]
fn roles_round_trip_through_the_cli() {
    let podpass = Podpass::start();
    let account = podpass.account();
    let trust = trust_account_root(&account);
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        "app",
        "--path",
        "/team/",
        "--description",
        "the app",
        "--max-session-duration",
        "7200",
        "--assume-role-policy-document",
        &trust.to_string(),
        "--tags",
        "Key=team,Value=x",
    ]);
    let role = &created["Role"];
    assert_eq!(role["Arn"], format!("arn:aws:iam::{account}:role/team/app"));
    assert_eq!(role["Path"], "/team/");
    let role_id = role["RoleId"].as_str().unwrap();
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(role["AssumeRolePolicyDocument"], trust);
    assert_eq!(role["MaxSessionDuration"], 7200);
    assert_eq!(role["Tags"], json!([{"Key": "team", "Value": "x"}]));

    let got = podpass.aws_admin_json(&["iam", "get-role", "--role-name", "app"]);
    assert_eq!(got["Role"]["RoleId"], role_id);
    assert_eq!(got["Role"]["Description"], "the app");
    assert_eq!(got["Role"]["AssumeRolePolicyDocument"], trust);
    assert_eq!(got["Role"]["RoleLastUsed"], json!({}));

    let duplicate = podpass.aws_admin(&[
        "iam",
        "create-role",
        "--role-name",
        "APP",
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    let stderr = assert_aws_error(&duplicate, "EntityAlreadyExists");
    assert!(
        stderr.contains("Role with name APP already exists."),
        "{stderr}"
    );
    let missing = podpass.aws_admin(&["iam", "get-role", "--role-name", "nope"]);
    let stderr = assert_aws_error(&missing, "NoSuchEntity");
    assert!(
        stderr.contains("The role with name nope cannot be found."),
        "{stderr}"
    );

    for name in ["b-role", "c-role", "d-role"] {
        create_role(&podpass, name);
    }
    // podpass up's node role (the local node's instance role) is a role of the account too.
    let all = podpass.aws_admin_json(&["iam", "list-roles", "--page-size", "1"]);
    assert_eq!(
        role_names(&all),
        ["app", "b-role", "c-role", "d-role", "podpass-demo-node"]
    );
    assert_eq!(all["Roles"][0].get("Tags"), None, "ListRoles omits tags");
    let first_two = podpass.aws_admin_json(&["iam", "list-roles", "--max-items", "2"]);
    assert_eq!(role_names(&first_two), ["app", "b-role"]);
    let next = first_two["NextToken"].as_str().expect("NextToken");
    let rest = podpass.aws_admin_json(&["iam", "list-roles", "--starting-token", next]);
    assert_eq!(role_names(&rest), ["c-role", "d-role", "podpass-demo-node"]);
    let team = podpass.aws_admin_json(&["iam", "list-roles", "--path-prefix", "/team/"]);
    assert_eq!(role_names(&team), ["app"]);

    let new_trust = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    });
    podpass.aws_admin_json(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        "app",
        "--policy-document",
        &new_trust.to_string(),
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "update-role",
        "--role-name",
        "app",
        "--description",
        "changed",
        "--max-session-duration",
        "3600",
    ]);
    let got = podpass.aws_admin_json(&["iam", "get-role", "--role-name", "app"]);
    assert_eq!(got["Role"]["AssumeRolePolicyDocument"], new_trust);
    assert_eq!(got["Role"]["Description"], "changed");
    assert_eq!(got["Role"]["MaxSessionDuration"], 3600);

    podpass.aws_admin_json(&[
        "iam",
        "tag-role",
        "--role-name",
        "app",
        "--tags",
        "Key=TEAM,Value=y",
        "Key=env,Value=dev",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "untag-role",
        "--role-name",
        "app",
        "--tag-keys",
        "env",
    ]);
    let tags = podpass.aws_admin_json(&["iam", "list-role-tags", "--role-name", "app"]);
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "y"}]));
    let duplicate_keys = podpass.aws_admin(&[
        "iam",
        "tag-role",
        "--role-name",
        "app",
        "--tags",
        "Key=a,Value=1",
        "Key=A,Value=2",
    ]);
    assert_aws_error(&duplicate_keys, "InvalidInput");

    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
        "--policy-document",
        &allow("s3:GetObject", "*").to_string(),
    ]);
    let conflict = podpass.aws_admin(&["iam", "delete-role", "--role-name", "app"]);
    let stderr = assert_aws_error(&conflict, "DeleteConflict");
    assert!(
        stderr.contains("Cannot delete entity, must delete policies first."),
        "{stderr}"
    );
    podpass.aws_admin_json(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
    ]);
    podpass.aws_admin_json(&["iam", "delete-role", "--role-name", "app"]);
    assert_aws_error(
        &podpass.aws_admin(&["iam", "get-role", "--role-name", "app"]),
        "NoSuchEntity",
    );
}

#[test]
fn inline_policies_are_validated_stored_and_listed() {
    let podpass = Podpass::start();
    create_role(&podpass, "app");
    let document = allow("s3:GetObject", "arn:aws:s3:::b/*");
    for name in ["read", "another"] {
        podpass.aws_admin_json(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "app",
            "--policy-name",
            name,
            "--policy-document",
            &document.to_string(),
        ]);
    }
    let got = podpass.aws_admin_json(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
    ]);
    assert_eq!(
        got,
        json!({"RoleName": "app", "PolicyName": "read", "PolicyDocument": document})
    );
    let listed = podpass.aws_admin_json(&[
        "iam",
        "list-role-policies",
        "--role-name",
        "app",
        "--page-size",
        "1",
    ]);
    assert_eq!(listed["PolicyNames"], json!(["another", "read"]));

    let missing = podpass.aws_admin(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "nope",
    ]);
    let stderr = assert_aws_error(&missing, "NoSuchEntity");
    assert!(
        stderr.contains("The role policy with name nope cannot be found."),
        "{stderr}"
    );
    let malformed = podpass.aws_admin(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "bad",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
    ]);
    let stderr = assert_aws_error(&malformed, "MalformedPolicyDocument");
    assert!(
        stderr.contains("Policy document must contain resources."),
        "{stderr}"
    );
    let actions: Vec<String> = (0..800).map(|i| format!("s3:GetObject{i}")).collect();
    let huge = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    let path = podpass.write("huge.json", &huge.to_string());
    let too_big = podpass.aws_admin(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "huge",
        "--policy-document",
        &format!("file://{}", path.display()),
    ]);
    let stderr = assert_aws_error(&too_big, "LimitExceeded");
    assert!(
        stderr.contains("Maximum policy size of 10240 bytes exceeded for role app"),
        "{stderr}"
    );
    podpass.aws_admin_json(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
    ]);
    let listed = podpass.aws_admin_json(&["iam", "list-role-policies", "--role-name", "app"]);
    assert_eq!(listed["PolicyNames"], json!(["another"]));
}

#[test]
fn managed_policies_versions_and_attachments() {
    let podpass = Podpass::start();
    let account = podpass.account();
    create_role(&podpass, "app");
    let v1 = allow("s3:GetObject", "*");
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-policy",
        "--policy-name",
        "reader",
        "--path",
        "/team/",
        "--description",
        "reads",
        "--policy-document",
        &v1.to_string(),
    ]);
    let arn = format!("arn:aws:iam::{account}:policy/team/reader");
    let policy = &created["Policy"];
    assert_eq!(policy["Arn"], arn);
    assert_eq!(policy["DefaultVersionId"], "v1");
    assert_eq!(policy["AttachmentCount"], 0);
    assert_eq!(policy["IsAttachable"], true);
    assert!(policy["PolicyId"].as_str().unwrap().starts_with("ANPA"));
    let duplicate = podpass.aws_admin(&[
        "iam",
        "create-policy",
        "--policy-name",
        "reader",
        "--policy-document",
        &v1.to_string(),
    ]);
    assert_aws_error(&duplicate, "EntityAlreadyExists");

    let v2 = allow("s3:*", "*");
    let version = podpass.aws_admin_json(&[
        "iam",
        "create-policy-version",
        "--policy-arn",
        &arn,
        "--policy-document",
        &v2.to_string(),
        "--set-as-default",
    ]);
    assert_eq!(version["PolicyVersion"]["VersionId"], "v2");
    assert_eq!(version["PolicyVersion"]["IsDefaultVersion"], true);
    let got = podpass.aws_admin_json(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v2",
    ]);
    assert_eq!(got["PolicyVersion"]["Document"], v2);
    let default_delete = podpass.aws_admin(&[
        "iam",
        "delete-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v2",
    ]);
    assert_aws_error(&default_delete, "DeleteConflict");
    podpass.aws_admin_json(&[
        "iam",
        "set-default-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v1",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "delete-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v2",
    ]);
    for _ in 0..4 {
        podpass.aws_admin_json(&[
            "iam",
            "create-policy-version",
            "--policy-arn",
            &arn,
            "--policy-document",
            &v2.to_string(),
        ]);
    }
    let versions = podpass.aws_admin_json(&["iam", "list-policy-versions", "--policy-arn", &arn]);
    let ids: Vec<(&str, bool)> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["VersionId"].as_str().unwrap(),
                v["IsDefaultVersion"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("v1", true),
            ("v3", false),
            ("v4", false),
            ("v5", false),
            ("v6", false)
        ]
    );
    let sixth = podpass.aws_admin(&[
        "iam",
        "create-policy-version",
        "--policy-arn",
        &arn,
        "--policy-document",
        &v2.to_string(),
    ]);
    assert_aws_error(&sixth, "LimitExceeded");

    let s3_read_only = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    for policy_arn in [arn.as_str(), s3_read_only] {
        podpass.aws_admin_json(&[
            "iam",
            "attach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            policy_arn,
        ]);
    }
    let attached =
        podpass.aws_admin_json(&["iam", "list-attached-role-policies", "--role-name", "app"]);
    assert_eq!(
        attached["AttachedPolicies"],
        json!([
            {"PolicyName": "reader", "PolicyArn": arn},
            {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": s3_read_only}
        ])
    );
    let nowhere = format!("arn:aws:iam::{account}:policy/nowhere");
    let missing = podpass.aws_admin(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        &nowhere,
    ]);
    let stderr = assert_aws_error(&missing, "NoSuchEntity");
    assert!(
        stderr.contains(&format!(
            "Policy {nowhere} does not exist or is not attachable."
        )),
        "{stderr}"
    );
    let got = podpass.aws_admin_json(&["iam", "get-policy", "--policy-arn", &arn]);
    assert_eq!(got["Policy"]["AttachmentCount"], 1);
    assert_eq!(got["Policy"]["Description"], "reads");
    let attached_only = podpass.aws_admin_json(&["iam", "list-policies", "--only-attached"]);
    let names: Vec<&str> = attached_only["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AmazonS3ReadOnlyAccess", "reader"]);
    let local = podpass.aws_admin_json(&["iam", "list-policies", "--scope", "Local"]);
    assert_eq!(local["Policies"].as_array().unwrap().len(), 1);
    let conflict = podpass.aws_admin(&["iam", "delete-role", "--role-name", "app"]);
    assert_aws_error(&conflict, "DeleteConflict");
    let in_use = podpass.aws_admin(&["iam", "delete-policy", "--policy-arn", &arn]);
    assert_aws_error(&in_use, "DeleteConflict");
    for policy_arn in [arn.as_str(), s3_read_only] {
        podpass.aws_admin_json(&[
            "iam",
            "detach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            policy_arn,
        ]);
    }
    let not_attached = podpass.aws_admin(&[
        "iam",
        "detach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        s3_read_only,
    ]);
    assert_aws_error(&not_attached, "NoSuchEntity");
    for version in ["v3", "v4", "v5", "v6"] {
        podpass.aws_admin_json(&[
            "iam",
            "delete-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            version,
        ]);
    }
    podpass.aws_admin_json(&["iam", "delete-policy", "--policy-arn", &arn]);
    assert_aws_error(
        &podpass.aws_admin(&["iam", "get-policy", "--policy-arn", &arn]),
        "NoSuchEntity",
    );
    podpass.aws_admin_json(&["iam", "delete-role", "--role-name", "app"]);
}

#[test]
fn aws_managed_policies_come_from_the_catalogue() {
    let podpass = Podpass::start();
    let arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    let got = podpass.aws_admin_json(&["iam", "get-policy", "--policy-arn", arn]);
    assert_eq!(got["Policy"]["PolicyName"], "AmazonS3ReadOnlyAccess");
    assert_eq!(got["Policy"]["Arn"], arn);
    assert_eq!(got["Policy"]["Path"], "/");
    assert_eq!(got["Policy"]["DefaultVersionId"], "v3");
    let version = podpass.aws_admin_json(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        arn,
        "--version-id",
        "v3",
    ]);
    assert_eq!(version["PolicyVersion"]["IsDefaultVersion"], true);
    assert_eq!(
        version["PolicyVersion"]["Document"]["Statement"][0]["Action"],
        json!([
            "s3:Get*",
            "s3:List*",
            "s3:Describe*",
            "s3-object-lambda:Get*",
            "s3-object-lambda:List*"
        ])
    );
    let old = podpass.aws_admin(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        arn,
        "--version-id",
        "v1",
    ]);
    assert_aws_error(&old, "NoSuchEntity");
    let aws =
        podpass.aws_admin_json(&["iam", "list-policies", "--scope", "AWS", "--page-size", "2"]);
    let names: Vec<&str> = aws["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"AmazonS3ReadOnlyAccess") && names.contains(&"AdministratorAccess"),
        "{names:?}"
    );
    let unknown = podpass.aws_admin(&[
        "iam",
        "get-policy",
        "--policy-arn",
        "arn:aws:iam::aws:policy/NoSuchPolicy",
    ]);
    assert_aws_error(&unknown, "NoSuchEntity");
}

#[test]
fn oidc_providers_round_trip() {
    let podpass = Podpass::start();
    let account = podpass.account();
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        "https://oidc.example.com/id/ABC",
        "--client-id-list",
        "sts.amazonaws.com",
        "--tags",
        "Key=a,Value=b",
    ]);
    let arn = format!("arn:aws:iam::{account}:oidc-provider/oidc.example.com/id/ABC");
    assert_eq!(created["OpenIDConnectProviderArn"], arn);
    assert_eq!(created["Tags"], json!([{"Key": "a", "Value": "b"}]));
    let again = podpass.aws_admin(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        "https://oidc.example.com/id/ABC",
        "--client-id-list",
        "sts.amazonaws.com",
    ]);
    assert_aws_error(&again, "EntityAlreadyExists");
    let insecure = podpass.aws_admin(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        "http://oidc.example.com/id/X",
    ]);
    assert_aws_error(&insecure, "InvalidInput");
    let local = podpass.aws_admin_json(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        "http://127.0.0.1:1/id/LOCAL",
        "--client-id-list",
        "sts.amazonaws.com",
        "--thumbprint-list",
        "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
    ]);
    let local_arn = format!("arn:aws:iam::{account}:oidc-provider/127.0.0.1:1/id/LOCAL");
    assert_eq!(local["OpenIDConnectProviderArn"], local_arn);

    podpass.aws_admin_json(&[
        "iam",
        "add-client-id-to-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &arn,
        "--client-id",
        "other",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "remove-client-id-from-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &arn,
        "--client-id",
        "sts.amazonaws.com",
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "update-open-id-connect-provider-thumbprint",
        "--open-id-connect-provider-arn",
        &arn,
        "--thumbprint-list",
        "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280",
    ]);
    let got = podpass.aws_admin_json(&[
        "iam",
        "get-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &arn,
    ]);
    assert_eq!(got["Url"], "oidc.example.com/id/ABC");
    assert_eq!(got["ClientIDList"], json!(["other"]));
    assert_eq!(
        got["ThumbprintList"],
        json!(["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    );
    assert_eq!(got["Tags"], json!([{"Key": "a", "Value": "b"}]));
    assert!(got["CreateDate"].is_string());
    let listed = podpass.aws_admin_json(&["iam", "list-open-id-connect-providers"]);
    let arns: Vec<&str> = listed["OpenIDConnectProviderList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Arn"].as_str().unwrap())
        .collect();
    assert!(
        arns.contains(&arn.as_str()) && arns.contains(&local_arn.as_str()),
        "{arns:?}"
    );
    podpass.aws_admin_json(&[
        "iam",
        "delete-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &arn,
    ]);
    let gone = podpass.aws_admin(&[
        "iam",
        "get-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &arn,
    ]);
    let stderr = assert_aws_error(&gone, "NoSuchEntity");
    assert!(
        stderr.contains(&format!("OpenIDConnect Provider not found for arn {arn}")),
        "{stderr}"
    );
}

const SIMULATED_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Read",
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::b/*"
    },
    {
      "Sid": "NoDelete",
      "Effect": "Deny",
      "Action": "s3:DeleteObject",
      "Resource": "*"
    },
    {
      "Sid": "FromOffice",
      "Effect": "Allow",
      "Action": "s3:PutObject",
      "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    }
  ]
}"#;

fn decisions(simulation: &Value) -> Vec<(String, String)> {
    simulation["EvaluationResults"]
        .as_array()
        .expect("EvaluationResults")
        .iter()
        .map(|r| {
            (
                r["EvalActionName"].as_str().unwrap().to_owned(),
                r["EvalDecision"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn simulate_custom_policy_reports_decisions_and_statement_positions() {
    let podpass = Podpass::start();
    // The CLI reads file:// only for top-level values, not list members: pass the text.
    let policy = SIMULATED_POLICY.to_owned();
    let simulation = podpass.aws_admin_json(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &policy,
        "--action-names",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObject",
        "--resource-arns",
        "arn:aws:s3:::b/key",
    ]);
    assert_eq!(
        decisions(&simulation),
        [
            ("s3:GetObject".to_owned(), "allowed".to_owned()),
            ("s3:DeleteObject".to_owned(), "explicitDeny".to_owned()),
            ("s3:PutObject".to_owned(), "implicitDeny".to_owned()),
        ]
    );
    let results = &simulation["EvaluationResults"];
    assert_eq!(results[0]["EvalResourceName"], "arn:aws:s3:::b/key");
    assert_eq!(
        results[0]["MatchedStatements"],
        json!([{
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "IAM Policy",
            "StartPosition": {"Line": 4, "Column": 5},
            "EndPosition": {"Line": 9, "Column": 6}
        }])
    );
    assert_eq!(
        results[1]["MatchedStatements"][0]["StartPosition"],
        json!({"Line": 10, "Column": 5})
    );
    assert_eq!(results[2]["MatchedStatements"], json!([]));
    assert_eq!(results[2]["MissingContextValues"], json!(["aws:SourceIp"]));

    let with_context = podpass.aws_admin_json(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &policy,
        "--action-names",
        "s3:PutObject",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=10.1.2.3,ContextKeyType=ip",
    ]);
    assert_eq!(
        decisions(&with_context),
        [("s3:PutObject".to_owned(), "allowed".to_owned())]
    );
    assert_eq!(
        with_context["EvaluationResults"][0]["EvalResourceName"],
        "*"
    );
    assert_eq!(
        with_context["EvaluationResults"][0]["MissingContextValues"],
        json!([])
    );

    let boundary = allow("s3:GetObject", "*").to_string();
    let bounded = podpass.aws_admin_json(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &policy,
        "--permissions-boundary-policy-input-list",
        &boundary,
        "--action-names",
        "s3:GetObject",
        "s3:PutObject",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=10.1.2.3,ContextKeyType=ip",
    ]);
    assert_eq!(
        decisions(&bounded),
        [
            ("s3:GetObject".to_owned(), "implicitDeny".to_owned()),
            ("s3:PutObject".to_owned(), "implicitDeny".to_owned()),
        ],
        "resource * is outside arn:aws:s3:::b/* and the boundary does not allow PutObject"
    );
    assert_eq!(
        bounded["EvaluationResults"][0]["PermissionsBoundaryDecisionDetail"],
        json!({"AllowedByPermissionsBoundary": true})
    );
    assert_eq!(
        bounded["EvaluationResults"][1]["PermissionsBoundaryDecisionDetail"],
        json!({"AllowedByPermissionsBoundary": false})
    );

    let bad_type = podpass.aws_admin(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &policy,
        "--action-names",
        "s3:PutObject",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=not-an-ip,ContextKeyType=ip",
    ]);
    assert_aws_error(&bad_type, "InvalidInput");
    let malformed = podpass.aws_admin(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        "{}",
        "--action-names",
        "s3:GetObject",
    ]);
    assert_aws_error(&malformed, "InvalidInput");
}

#[test]
fn simulate_principal_policy_uses_the_roles_policies() {
    let podpass = Podpass::start();
    let account = podpass.account();
    create_role(&podpass, "app");
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "read",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    ]);
    podpass.aws_admin_json(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    ]);
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    let simulation = podpass.aws_admin_json(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        &role_arn,
        "--action-names",
        "s3:GetObject",
        "iam:ListRoles",
        "s3:PutObject",
    ]);
    assert_eq!(
        decisions(&simulation),
        [
            ("s3:GetObject".to_owned(), "allowed".to_owned()),
            ("iam:ListRoles".to_owned(), "allowed".to_owned()),
            ("s3:PutObject".to_owned(), "implicitDeny".to_owned()),
        ]
    );
    let results = &simulation["EvaluationResults"];
    assert_eq!(results[0]["MatchedStatements"][0]["SourcePolicyId"], "read");
    assert_eq!(
        results[0]["MatchedStatements"][0]["StartPosition"],
        json!({"Line": 1, "Column": 38})
    );
    assert_eq!(
        results[1]["MatchedStatements"][0]["SourcePolicyId"],
        "IAMReadOnlyAccess"
    );

    let extra = podpass.aws_admin_json(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        &role_arn,
        "--policy-input-list",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}).to_string(),
        "--action-names",
        "s3:GetObject",
    ]);
    assert_eq!(
        decisions(&extra),
        [("s3:GetObject".to_owned(), "explicitDeny".to_owned())]
    );
    assert_eq!(
        extra["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"],
        "PolicyInputList.1"
    );

    podpass.aws_admin_json(&[
        "iam",
        "put-role-permissions-boundary",
        "--role-name",
        "app",
        "--permissions-boundary",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]);
    let bounded = podpass.aws_admin_json(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        &role_arn,
        "--action-names",
        "s3:GetObject",
        "iam:ListRoles",
    ]);
    assert_eq!(
        decisions(&bounded),
        [
            ("s3:GetObject".to_owned(), "allowed".to_owned()),
            ("iam:ListRoles".to_owned(), "implicitDeny".to_owned()),
        ]
    );
    assert_eq!(
        bounded["EvaluationResults"][1]["PermissionsBoundaryDecisionDetail"],
        json!({"AllowedByPermissionsBoundary": false})
    );
    let got = podpass.aws_admin_json(&["iam", "get-role", "--role-name", "app"]);
    assert_eq!(
        got["Role"]["PermissionsBoundary"],
        json!({"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"})
    );
    podpass.aws_admin_json(&[
        "iam",
        "delete-role-permissions-boundary",
        "--role-name",
        "app",
    ]);
    let got = podpass.aws_admin_json(&["iam", "get-role", "--role-name", "app"]);
    assert_eq!(got["Role"].get("PermissionsBoundary"), None);

    let unknown = podpass.aws_admin(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{account}:role/nope"),
        "--action-names",
        "s3:GetObject",
    ]);
    assert_aws_error(&unknown, "NoSuchEntity");
}

#[test]
fn invalid_members_are_validation_errors() {
    let podpass = Podpass::start();
    let trust = trust_account_root(&podpass.account()).to_string();
    let bad_name = podpass.aws_admin(&[
        "iam",
        "create-role",
        "--role-name",
        "bad name",
        "--assume-role-policy-document",
        &trust,
    ]);
    let stderr = assert_aws_error(&bad_name, "ValidationError");
    assert!(
        stderr.contains(r"1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"),
        "{stderr}"
    );
    let too_long = podpass.aws_admin(&[
        "iam",
        "create-role",
        "--role-name",
        "r",
        "--max-session-duration",
        "50000",
        "--assume-role-policy-document",
        &trust,
    ]);
    let stderr = assert_aws_error(&too_long, "ValidationError");
    assert!(
        stderr.contains("Member must have value less than or equal to 43200"),
        "{stderr}"
    );
    let bad_trust = podpass.aws_admin(&[
        "iam",
        "create-role",
        "--role-name",
        "r",
        "--assume-role-policy-document",
        &allow("s3:GetObject", "*").to_string(),
    ]);
    assert_aws_error(&bad_trust, "MalformedPolicyDocument");
    let page = podpass.aws_admin(&[
        "iam",
        "list-roles",
        "--max-items",
        "5",
        "--page-size",
        "2000",
    ]);
    assert_aws_error(&page, "ValidationError");
    let unknown = podpass.aws_admin(&["iam", "list-instance-profiles"]);
    assert_aws_error(&unknown, "InvalidAction");
}

/// STS refuses the account root `AssumeRole` whatever the trust policy says, with its code,
/// status and message; an IAM user of the account is let in by the same trust.
#[test]
fn the_account_root_may_not_assume_a_role() {
    let podpass = Podpass::start();
    create_role(&podpass, "worker");
    let out = podpass.python(
        &[("AWS_PROFILE", "podpass")],
        r#"
import json, os
import boto3
from botocore.exceptions import ClientError

sts = boto3.client("sts")
account = sts.get_caller_identity()["Account"]
try:
    sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/worker", RoleSessionName="s1")
    print(json.dumps({"issued": True}))
except ClientError as e:
    print(json.dumps({
        "code": e.response["Error"]["Code"],
        "message": e.response["Error"]["Message"],
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
    }))
"#,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let refused: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        refused,
        json!({"code": "AccessDenied", "message": "Roles may not be assumed by root accounts.", "status": 403})
    );
    let denied = podpass.podpass_ok(&["audit", "--denied"]);
    assert!(
        denied.contains("the account root may not assume roles"),
        "the refusal is in the audit trail with its reason: {denied}"
    );
    let assumed = assume(&podpass, "worker", "s1");
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{}:assumed-role/worker/s1", podpass.account()).as_str()
    );
}

#[test]
fn role_sessions_need_iam_permissions() {
    let podpass = Podpass::start();
    create_role(&podpass, "worker");
    let assumed = assume(&podpass, "worker", "s1");
    let env = credentials_env(&assumed["Credentials"]);
    let denied = podpass.aws(&env, &["iam", "list-roles"]);
    let stderr = assert_aws_error(&denied, "AccessDenied");
    assert!(
        stderr.contains("is not authorized to perform: iam:ListRoles"),
        "{stderr}"
    );
    let denied_get = podpass.aws(&env, &["iam", "get-role", "--role-name", "worker"]);
    assert_aws_error(&denied_get, "AccessDenied");

    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "worker",
        "--policy-name",
        "list",
        "--policy-document",
        &allow("iam:ListRoles", "*").to_string(),
    ]);
    let allowed = podpass.aws(&env, &["iam", "list-roles"]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    let listing: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(role_names(&listing), ["podpass-demo-node", "worker"]);
    let still_denied = podpass.aws(&env, &["iam", "delete-role", "--role-name", "worker"]);
    assert_aws_error(&still_denied, "AccessDenied");
}

#[test]
fn trust_policy_lint_findings_are_logged() {
    let podpass = Podpass::start();
    let provider = format!(
        "arn:aws:iam::{}:oidc-provider/oidc.example.com/id/ABC",
        podpass.account()
    );
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity"
        }]
    });
    podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        "any-pod",
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    let log = podpass.log();
    let finding = log
        .lines()
        .find(|l| l.contains("trust policy lint") && l.contains("trust-missing-sub"))
        .unwrap_or_else(|| panic!("no lint finding in:\n{log}"));
    assert!(finding.contains("any-pod"), "{finding}");
    assert!(finding.contains("oidc.example.com/id/ABC:sub"), "{finding}");

    // `iam lint --all`, the CI check: every role, failing on the one any pod can take.
    let out = podpass.podpass(&["iam", "lint", "--all"]);
    assert!(!out.status.success());
    let report = text(&out.stdout);
    assert!(
        report.contains("role any-pod trust policy: error[trust-missing-sub]"),
        "{report}"
    );
    assert!(text(&out.stderr).contains("lint found errors"));
    podpass.aws_admin_json(&["iam", "delete-role", "--role-name", "any-pod"]);
    let out = podpass.podpass(&["iam", "lint", "--all"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A document of `chars` non-whitespace characters that is not a policy at all: refused for
/// its size means it was sized before it was parsed.
fn oversized_junk(chars: usize) -> String {
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        "x".repeat(chars)
    )
}

#[test]
fn policy_size_quotas_are_checked_on_the_raw_text_before_parsing() {
    let podpass = Podpass::start();
    let account = podpass.account();
    // Trust policy: 2,048 characters.
    let out = podpass.aws_admin(&[
        "iam",
        "create-role",
        "--role-name",
        "big-trust",
        "--assume-role-policy-document",
        &oversized_junk(2100),
    ]);
    let stderr = assert_aws_error(&out, "LimitExceeded");
    assert!(
        stderr.contains("Cannot exceed quota for ACLSizePerRole: 2048"),
        "{stderr}"
    );
    // Managed policy: 6,144 characters.
    let path = podpass.write("junk.json", &oversized_junk(6200));
    let out = podpass.aws_admin(&[
        "iam",
        "create-policy",
        "--policy-name",
        "big",
        "--policy-document",
        &format!("file://{}", path.display()),
    ]);
    let stderr = assert_aws_error(&out, "LimitExceeded");
    assert!(
        stderr.contains("Cannot exceed quota for PolicySize: 6144"),
        "{stderr}"
    );
    // Inline policies: 10,240 characters for all of a role's together.
    create_role(&podpass, "agg");
    let half = |n: usize| {
        let actions: Vec<String> = (0..n).map(|i| format!("s3:GetObject{i:04}")).collect();
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
            .to_string()
    };
    let six_thousand = half(315);
    assert!(
        (6000..6144).contains(&six_thousand.len()),
        "{}",
        six_thousand.len()
    );
    let put = |name: &str, document: &str| {
        let path = podpass.write(&format!("{name}.json"), document);
        podpass.aws_admin(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "agg",
            "--policy-name",
            name,
            "--policy-document",
            &format!("file://{}", path.display()),
        ])
    };
    assert!(put("first", &six_thousand).status.success());
    // Replacing a policy does not count it twice.
    assert!(put("first", &six_thousand).status.success());
    let stderr = assert_aws_error(&put("second", &six_thousand), "LimitExceeded");
    assert!(
        stderr.contains("Maximum policy size of 10240 bytes exceeded for role agg"),
        "{stderr}"
    );
    let listed = podpass.aws_admin_json(&["iam", "list-role-policies", "--role-name", "agg"]);
    assert_eq!(listed["PolicyNames"], json!(["first"]));
    // Session policy: the model's 2,048 characters, then the packed size with the policy ARNs.
    let role_arn = format!("arn:aws:iam::{account}:role/agg");
    let assume = |policy: &str| {
        podpass.aws_operator(&[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "sized",
            "--policy",
            policy,
            "--policy-arns",
            "arn=arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn=arn:aws:iam::aws:policy/AmazonS3FullAccess",
            "arn=arn:aws:iam::aws:policy/ReadOnlyAccess",
        ])
    };
    // (Over 2,048 characters the CLI itself refuses to send the Policy: the model's limit.)
    let stderr = assert_aws_error(&assume(&oversized_junk(1950)), "PackedPolicyTooLarge");
    assert!(stderr.contains("Packed policy consumes"), "{stderr}");
}

#[test]
fn a_policy_naming_a_key_twice_is_malformed() {
    let podpass = Podpass::start();
    create_role(&podpass, "dup");
    // serde_json alone keeps the last "Effect": this Deny would have been stored as an Allow.
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let out = podpass.aws_admin(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "dup",
        "--policy-name",
        "p",
        "--policy-document",
        document,
    ]);
    let stderr = assert_aws_error(&out, "MalformedPolicyDocument");
    assert!(stderr.contains("Syntax errors in policy."), "{stderr}");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a","sts:ExternalId":"b"}}}]}"#;
    let out = podpass.aws_admin(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        "dup",
        "--policy-document",
        trust,
    ]);
    assert_aws_error(&out, "MalformedPolicyDocument");
}

#[test]
fn stale_or_early_signatures_and_missing_versions_are_refused_as_aws_does() {
    let podpass = Podpass::start();
    // boto3 with its clock 30 minutes off, each way, against STS and IAM.
    let out = podpass.python(
        &[("AWS_PROFILE", "podpass")],
        r#"
import datetime, json, re
import boto3, botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

real = botocore.auth.get_current_datetime
results = {}
for name, minutes in (("past", -30), ("future", 30)):
    signed = []
    def shifted(minutes=minutes, signed=signed):
        when = real() + datetime.timedelta(minutes=minutes)
        signed.append(when.strftime("%Y%m%dT%H%M%SZ"))
        return when
    botocore.auth.get_current_datetime = shifted
    for service in ("sts", "iam"):
        client = boto3.Session().client(service, config=Config(retries={"max_attempts": 1}))
        try:
            client.get_caller_identity() if service == "sts" else client.list_roles()
            results[f"{name}-{service}"] = "accepted"
        except ClientError as e:
            error = e.response["Error"]
            stamp = r"(\d{8}T\d{6}Z)"
            shape = (rf"Signature expired: {stamp} is now earlier than {stamp} \({stamp} - 15 min\.\)"
                if minutes < 0 else
                rf"Signature not yet current: {stamp} is still later than {stamp} \({stamp} \+ 15 min\.\)")
            match = re.fullmatch(shape, error["Message"])
            results[f"{name}-{service}"] = {
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                "code": error["Code"],
                "message": error["Message"],
                "stamps": list(match.groups()) if match else None,
                "signed": signed[-1],
            }
botocore.auth.get_current_datetime = real
results["now-sts"] = boto3.Session().client("sts").get_caller_identity()["Arn"]
print(json.dumps(results))
"#,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let results: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        results["now-sts"].as_str().unwrap().ends_with(":root"),
        "{results}"
    );
    for case in ["past", "future"] {
        for service in ["sts", "iam"] {
            let result = &results[format!("{case}-{service}")];
            assert_eq!(result["status"], 403, "{case} {service}: {result}");
            assert_eq!(
                result["code"], "SignatureDoesNotMatch",
                "{case} {service}: {result}"
            );
            let stamps: Vec<&str> = result["stamps"]
                .as_array()
                .unwrap_or_else(|| panic!("AWS's wording expected: {result}"))
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            // The date named is the one the client signed; the limit is 15 minutes from the
            // server's clock.
            assert_eq!(stamps[0], result["signed"], "{result}");
            let seconds = |stamp: &str| {
                podpass_sigv4::parse_amz_date(stamp)
                    .expect("X-Amz-Date")
                    .as_second()
            };
            let offset = if case == "past" { -900 } else { 900 };
            assert_eq!(seconds(stamps[1]) - seconds(stamps[2]), offset, "{result}");
        }
    }

    // Without a Version, or with one no API has, there is no operation; the clients always
    // send one, so these go out as raw requests signed by botocore's signer.
    let out = podpass.python(
        &[("AWS_PROFILE", "podpass")],
        r#"
import json, os, re, urllib.error, urllib.request
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

credentials = boto3.Session().get_credentials().get_frozen_credentials()
endpoint = os.environ["AWS_ENDPOINT_URL"] + "/"

def call(body, service):
    request = AWSRequest(method="POST", url=endpoint, data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    if service:
        SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(endpoint, data=body.encode(), headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    code = re.search(r"<Code>(.*?)</Code>", text)
    message = re.search(r"<Message>(.*?)</Message>", text)
    return [status, code and code.group(1), message and message.group(1)]

print(json.dumps({
    "sts": call("Action=GetCallerIdentity&Version=2011-06-15", "sts"),
    "sts-none": call("Action=GetCallerIdentity", "sts"),
    "sts-empty": call("Action=GetCallerIdentity&Version=", "sts"),
    "sts-unknown": call("Action=GetCallerIdentity&Version=2099-01-01", "sts"),
    "iam-none": call("Action=ListRoles", "iam"),
    "unsigned-none": call("Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=a.b.c", None),
}))
"#,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let results: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(results["sts"][0], 200, "{results}");
    for (case, action, version) in [
        ("sts-none", "GetCallerIdentity", "NO_VERSION_SPECIFIED"),
        ("sts-empty", "GetCallerIdentity", "NO_VERSION_SPECIFIED"),
        ("sts-unknown", "GetCallerIdentity", "2099-01-01"),
        ("iam-none", "ListRoles", "NO_VERSION_SPECIFIED"),
        (
            "unsigned-none",
            "AssumeRoleWithWebIdentity",
            "NO_VERSION_SPECIFIED",
        ),
    ] {
        assert_eq!(
            results[case],
            json!([
                400,
                "InvalidAction",
                format!("Could not find operation {action} for version {version}")
            ]),
            "{case}"
        );
    }
}

#[test]
fn get_access_key_info_names_the_account_to_callers_allowed_it() {
    let podpass = Podpass::start();
    let info = |env: &[(&str, &str)], key: &str| {
        podpass.aws(env, &["sts", "get-access-key-info", "--access-key-id", key])
    };
    let admin = [("AWS_PROFILE", "podpass")];
    let out = info(&admin, "ASIAIOSFODNN7EXAMPLE");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["Account"], podpass.account().as_str());
    assert_aws_error(&info(&admin, "AKIA-NOT-A-KEY-ID"), "ValidationError");

    // A role session needs sts:GetAccessKeyInfo in its policies, as in AWS.
    create_role(&podpass, "auditor");
    let assumed = assume(&podpass, "auditor", "s1");
    let env = credentials_env(&assumed["Credentials"]);
    assert_aws_error(&info(&env, "AKIAIOSFODNN7EXAMPLE"), "AccessDenied");
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "auditor",
        "--policy-name",
        "key-info",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*"}]}"#,
    ]);
    let allowed = info(&env, "AKIAIOSFODNN7EXAMPLE");
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
}

#[test]
fn a_denial_carries_its_reasons_sealed_for_decode_authorization_message() {
    let podpass = Podpass::start();
    create_role(&podpass, "viewer");
    podpass.aws_admin_json(&[
        "iam",
        "tag-role",
        "--role-name",
        "viewer",
        "--tags",
        "Key=team,Value=web",
    ]);
    // Allowed to read roles only as the apps team, and never to list them.
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "viewer",
        "--policy-name",
        "read",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadApps","Effect":"Allow","Action":"iam:GetRole","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"apps"}}},{"Sid":"NoList","Effect":"Deny","Action":"iam:ListRoles","Resource":"*"}]}"#,
    ]);
    let assumed = assume(&podpass, "viewer", "s1");
    let env = credentials_env(&assumed["Credentials"]);
    let encoded = |stderr: &str| -> String {
        stderr
            .split("Encoded authorization failure message: ")
            .nth(1)
            .expect("an encoded message")
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let denied = assert_aws_error(
        &podpass.aws(&env, &["iam", "get-role", "--role-name", "viewer"]),
        "AccessDenied",
    );
    let near_miss = encoded(&denied);
    let denied = assert_aws_error(&podpass.aws(&env, &["iam", "list-roles"]), "AccessDenied");
    let explicit = encoded(&denied);

    // The session may not decode its own denials until its policies say so.
    let decode = |env: &[(&str, &str)], message: &str| {
        podpass.aws(
            env,
            &[
                "sts",
                "decode-authorization-message",
                "--encoded-message",
                message,
            ],
        )
    };
    assert_aws_error(&decode(&env, &near_miss), "AccessDenied");
    let admin = [("AWS_PROFILE", "podpass")];
    let decoded = |message: &str| -> serde_json::Value {
        let out = decode(&admin, message);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        serde_json::from_str(answer["DecodedMessage"].as_str().unwrap()).unwrap()
    };

    // AWS's shape: the decision, the request's context; podpass's: the near miss with the
    // condition that failed and the value it saw.
    let message = decoded(&near_miss);
    assert_eq!(message["allowed"], false);
    assert_eq!(message["explicitDeny"], false);
    assert_eq!(message["context"]["action"], "iam:GetRole");
    assert!(
        message["context"]["principal"]["arn"]
            .as_str()
            .unwrap()
            .ends_with(":assumed-role/viewer/s1"),
        "{message}"
    );
    let conditions = message["context"]["conditions"]["items"].to_string();
    assert!(conditions.contains("aws:principaltag/team"), "{conditions}");
    let miss = &message["podpass"]["nearMisses"][0];
    assert_eq!(miss["statementId"], "ReadApps", "{message}");
    let failed = &miss["conditions"]["items"][0];
    assert_eq!(failed["podpass"]["held"], false);
    assert_eq!(
        failed["podpass"]["requestValues"],
        serde_json::json!(["web"])
    );

    let message = decoded(&explicit);
    assert_eq!(message["explicitDeny"], true);
    assert_eq!(
        message["matchedStatements"]["items"][0]["statementId"],
        "NoList"
    );
    assert_eq!(message["matchedStatements"]["items"][0]["effect"], "DENY");

    // Once allowed, the session decodes; a forged or altered message is refused.
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "viewer",
        "--policy-name",
        "decode",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:DecodeAuthorizationMessage","Resource":"*"}]}"#,
    ]);
    let out = decode(&env, &near_miss);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut altered = near_miss.clone();
    altered.replace_range(10..11, if &near_miss[10..11] == "A" { "B" } else { "A" });
    assert_aws_error(
        &decode(&admin, &altered),
        "InvalidAuthorizationMessageException",
    );
    assert_aws_error(
        &decode(&admin, "PPM1bm90LWEtbWVzc2FnZQ"),
        "InvalidAuthorizationMessageException",
    );
    assert_aws_error(&decode(&admin, &"A".repeat(10_241)), "ValidationError");
}

#[test]
fn get_session_token_gives_the_root_an_hour_of_its_own_power_and_no_iam() {
    let podpass = Podpass::start();
    let admin = [("AWS_PROFILE", "podpass")];
    let session_token = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["sts", "get-session-token", "--output", "json"];
        args.extend_from_slice(extra);
        podpass.aws(env, &args)
    };
    // The account root asks for two hours and gets AWS's cap for roots: one.
    let out = session_token(&admin, &["--duration-seconds", "7200"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer.get("AssumedRoleUser").is_none(), "{answer}");
    let credentials = &answer["Credentials"];
    assert!(
        credentials["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    let expires: jiff::Timestamp = credentials["Expiration"].as_str().unwrap().parse().unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&left), "{left} s");

    // With them: the root's identity and S3, never IAM, and no session from a session.
    let env = credentials_env(credentials);
    let me = podpass.aws(&env, &["sts", "get-caller-identity", "--output", "json"]);
    assert!(me.status.success(), "{}", text(&me.stderr));
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(
        me["Arn"],
        format!("arn:aws:iam::{}:root", podpass.account()).as_str()
    );
    let s3 = podpass.s3_endpoint();
    let mut s3_env = env.to_vec();
    s3_env.push(("AWS_ENDPOINT_URL_S3", &s3));
    let made = podpass.aws(
        &s3_env,
        &["s3api", "create-bucket", "--bucket", "ci-scratch"],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert_aws_error(
        &podpass.aws(&env, &["iam", "list-roles"]),
        "InvalidClientTokenId",
    );
    assert!(
        assert_aws_error(&session_token(&env, &[]), "AccessDenied")
            .contains("Cannot call GetSessionToken with session credentials")
    );

    // A role session may not ask either; MFA is refused, not ignored; durations are STS's.
    create_role(&podpass, "ci");
    let ci_arn = format!("arn:aws:iam::{}:role/ci", podpass.account());
    let as_root = [
        "sts",
        "assume-role",
        "--role-arn",
        &ci_arn,
        "--role-session-name",
        "job",
    ];
    assert!(
        assert_aws_error(&podpass.aws(&env, &as_root), "AccessDenied")
            .contains("Roles may not be assumed by root accounts."),
        "the root's session credentials are still the root's"
    );
    let assumed = assume(&podpass, "ci", "job");
    let role_env = credentials_env(&assumed["Credentials"]);
    assert_aws_error(&session_token(&role_env, &[]), "AccessDenied");
    let mfa = [
        "--serial-number",
        "arn:aws:iam::000000000000:mfa/ci",
        "--token-code",
        "123456",
    ];
    assert!(assert_aws_error(&session_token(&admin, &mfa), "AccessDenied").contains("MFA"));
    assert_aws_error(
        &session_token(&admin, &["--duration-seconds", "129601"]),
        "ValidationError",
    );
    assert_aws_error(
        &session_token(&admin, &["--token-code", "12ab56"]),
        "ValidationError",
    );
}
