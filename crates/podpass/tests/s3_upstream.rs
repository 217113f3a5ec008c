//! `podpass up --s3-upstream-url`: objects kept by another S3 implementation (moto's server,
//! which checks the signature of every request against its own IAM users) while podpass still
//! authenticates and authorizes each request, driven by the unmodified AWS CLI and boto3.

mod support;

use support::moto::Moto;
use support::{Podpass, assert_aws_error, text};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

#[test]
fn an_irsa_session_uses_objects_kept_upstream_under_podpass_policies() {
    let moto = Moto::start();
    let podpass = Podpass::start_with(
        &["--s3-upstream-url", &moto.url],
        &[
            ("PODPASS_S3_UPSTREAM_ACCESS_KEY_ID", &moto.access_key_id),
            (
                "PODPASS_S3_UPSTREAM_SECRET_ACCESS_KEY",
                &moto.secret_access_key,
            ),
        ],
    );
    let s3 = podpass.s3_endpoint();
    let admin = [
        ("AWS_PROFILE", "podpass"),
        ("AWS_ENDPOINT_URL_S3", s3.as_str()),
    ];
    let report = podpass.write("q3.csv", "quarter,revenue\nq3,42\n");
    let report = report.to_str().unwrap();
    for args in [
        &["s3", "mb", "s3://team-data"][..],
        &["s3", "cp", report, "s3://team-data/reports/q3.csv"],
    ] {
        let out = podpass.aws(&admin, args);
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out.stderr),
            podpass.log()
        );
    }
    // Stored by moto, under moto's own credentials.
    let stored = moto.python(
        "import boto3\nprint(boto3.client('s3').get_object(Bucket='team-data', Key='reports/q3.csv')['Body'].read().decode(), end='')",
    );
    assert_eq!(stored, "quarter,revenue\nq3,42\n");

    let (_, role_arn) = podpass.irsa_service_account("reader", READ_ONLY);
    let token_file = podpass.write(
        "token",
        &podpass.token("reader", "sts.amazonaws.com", Some("app-0")),
    );
    let reader = [
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_SESSION_NAME", "upstream-test"),
        ("AWS_ENDPOINT_URL_S3", s3.as_str()),
    ];
    let listing = podpass.aws(&reader, &["s3", "ls", "s3://team-data/reports/"]);
    assert!(
        text(&listing.stdout).trim_end().ends_with(" q3.csv"),
        "{}\n{}",
        text(&listing.stderr),
        podpass.log()
    );
    let copy = podpass.dir.path().join("copy.csv");
    let out = podpass.aws(
        &reader,
        &[
            "s3",
            "cp",
            "s3://team-data/reports/q3.csv",
            copy.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "quarter,revenue\nq3,42\n"
    );

    // podpass refuses the read-only session's upload; nothing reaches moto.
    let upload = podpass.aws(
        &reader,
        &["s3", "cp", report, "s3://team-data/reports/q4.csv"],
    );
    assert_aws_error(&upload, "AccessDenied");
    let keys = moto.python(
        "import boto3\nprint([o['Key'] for o in boto3.client('s3').list_objects_v2(Bucket='team-data')['Contents']])",
    );
    assert_eq!(keys.trim(), "['reports/q3.csv']");
    let denied = podpass.podpass_ok(&["audit", "--denied"]);
    assert!(
        denied.contains("s3:PutObject") && denied.contains("team-data/reports/q4.csv"),
        "{denied}"
    );
}

#[test]
fn an_upstream_url_without_its_credentials_is_refused_at_start() {
    let podpass = Podpass::start();
    let out = podpass.podpass(&["up", "--s3-upstream-url", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--s3-upstream-access-key-id")
            && stderr.contains("--s3-upstream-secret-access-key"),
        "{stderr}"
    );
}
