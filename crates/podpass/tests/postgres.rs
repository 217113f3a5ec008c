//! podpass over PostgreSQL as a replicated API Deployment runs it: two `podpass up` replicas
//! behind one public URL, one database, no state of their own that matters.

mod support;

use support::postgres::Postgres;
use support::{Podpass, assert_aws_error, credentials_env, text};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Two `podpass up` replicas over `postgres`, the second behind the first's public URL.
fn replicas(postgres: &Postgres) -> (Podpass, Podpass) {
    let url = postgres.url();
    let env = [("PODPASS_DATABASE_URL", url.as_str())];
    let a = Podpass::start_with(&[], &env);
    let b = Podpass::start_with(&["--public-url", &a.endpoint()], &env);
    assert_eq!(a.issuer(), b.issuer(), "one cluster, one issuer");
    (a, b)
}

/// Credentials from replica `at`'s STS for `default/reader`'s role.
fn irsa_session(at: &Podpass, token_from: &Podpass, role_arn: &str) -> serde_json::Value {
    let token = token_from.token("reader", "sts.amazonaws.com", Some("app-0"));
    let out = at.aws(
        &[],
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            role_arn,
            "--role-session-name",
            "replicated",
            "--web-identity-token",
            &token,
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stderr), at.log());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["Credentials"].clone()
}

/// A Deployment's replicas start together, and on a new database each finds no cluster, no
/// role and no sealing key: whichever creates one first wins, and the other adopts it instead
/// of failing its start.
#[test]
fn replicas_started_at_once_on_an_empty_database_all_come_up() {
    for _ in 0..3 {
        let postgres = Postgres::start();
        let url = postgres.url();
        let env = [("PODPASS_DATABASE_URL", url.as_str())];
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| Podpass::start_with(&[], &env));
            let b = scope.spawn(|| Podpass::start_with(&[], &env));
            (a.join(), b.join())
        });
        let (a, b) = (a.expect("replica a started"), b.expect("replica b started"));
        assert_eq!(a.issuer(), b.issuer(), "one cluster, one issuer");
        assert_eq!(a.account(), b.account());
    }
}

#[test]
fn two_replicas_over_one_database_share_identities_sessions_and_keys() {
    let postgres = Postgres::start();
    let (a, b) = replicas(&postgres);
    for replica in [&a, &b] {
        assert!(!replica.data_dir().join("podpass.db").exists());
    }

    // Set up through replica A's CLI, used through replica B's STS.
    let (_, role_arn) = a.irsa_service_account("reader", READ_ONLY);
    let credentials = irsa_session(&b, &a, &role_arn);
    let session = credentials_env(&credentials);
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

    // A user's key made at A signs at B, and once deactivated at A stops signing at B within
    // B's one-second reread of the keys.
    a.aws_admin_json(&["iam", "create-user", "--user-name", "ci"]);
    let key = a.aws_admin_json(&["iam", "create-access-key", "--user-name", "ci"]);
    let key_id = key["AccessKey"]["AccessKeyId"].as_str().unwrap();
    let user_env = [
        ("AWS_ACCESS_KEY_ID", key_id),
        (
            "AWS_SECRET_ACCESS_KEY",
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        ),
    ];
    let signs_at_b = || {
        b.aws(&user_env, &["sts", "get-caller-identity"])
            .status
            .success()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !signs_at_b() {
        assert!(
            std::time::Instant::now() < deadline,
            "the new key never signed at B"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    a.aws_admin_json(&[
        "iam",
        "update-access-key",
        "--user-name",
        "ci",
        "--access-key-id",
        key_id,
        "--status",
        "Inactive",
    ]);
    while signs_at_b() {
        assert!(
            std::time::Instant::now() < deadline,
            "the inactive key still signs at B"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_rolling_restart_after_a_key_rotation_keeps_every_session_working() {
    let postgres = Postgres::start();
    let (mut a, b) = replicas(&postgres);
    let (_, role_arn) = a.irsa_service_account("reader", READ_ONLY);
    let before = irsa_session(&b, &a, &role_arn);

    let rotated = a.podpass_ok(&["cluster", "rotate-session-key"]);
    assert!(
        rotated.contains("session sealing key 2 created"),
        "{rotated}"
    );
    // A restarts first and seals with key 2; B has not loaded key 2 yet.
    a.restart();
    let after = irsa_session(&a, &a, &role_arn);
    for (credentials, replica) in [(&after, &b), (&before, &a), (&after, &a), (&before, &b)] {
        let out = replica.aws(
            &credentials_env(credentials),
            &["sts", "get-caller-identity"],
        );
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out.stderr),
            replica.log()
        );
    }
}
