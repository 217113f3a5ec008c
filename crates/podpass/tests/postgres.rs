//! podpass over PostgreSQL as a replicated API Deployment runs it: two `podpass up` replicas
//! behind one public URL, one database, no state of their own that matters.

mod support;

use support::postgres::Postgres;
use support::{Podpass, assert_aws_error, credentials_env, text};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[test]
fn two_replicas_over_one_database_share_identities_sessions_and_keys() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let env = [("PODPASS_DATABASE_URL", url.as_str())];
    let a = Podpass::start_with(&[], &env);
    let b = Podpass::start_with(&["--public-url", &a.endpoint()], &env);
    assert_eq!(a.issuer(), b.issuer(), "one cluster, one issuer");
    for replica in [&a, &b] {
        assert!(!replica.data_dir().join("podpass.db").exists());
    }

    // Set up through replica A's CLI, used through replica B's STS.
    let (_, role_arn) = a.irsa_service_account("reader", READ_ONLY);
    let token = a.token("reader", "sts.amazonaws.com", Some("app-0"));
    let out = b.aws(
        &[],
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "replicated",
            "--web-identity-token",
            &token,
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stderr), b.log());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = credentials_env(&answer["Credentials"]);
    // A session sealed by B opens at A: the sealing keys live in the database.
    let out = a.aws(&session, &["sts", "get-caller-identity"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let identity: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        identity["Arn"],
        "arn:aws:sts::000000000000:assumed-role/podpass-demo-default-reader/replicated"
    );

    // An IAM write through one replica is read through the other.
    let create_role = |replica: &Podpass| {
        replica.aws_admin(&[
            "iam",
            "create-role",
            "--role-name",
            "written-at-a",
            "--assume-role-policy-document",
            TRUST_EC2,
        ])
    };
    let created = create_role(&a);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let role = b.aws_admin_json(&["iam", "get-role", "--role-name", "written-at-a"]);
    assert_eq!(role["Role"]["RoleName"], "written-at-a");
    // Duplicates are refused by the database's constraints, as on SQLite.
    assert_aws_error(&create_role(&b), "EntityAlreadyExists");
}
