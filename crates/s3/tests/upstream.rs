//! Upstream mode: an endpoint whose objects live in another S3 endpoint (here a second podpass
//! endpoint, which checks every signature strictly), driven by the unmodified AWS CLI and boto3.

mod support;

use podpass_s3::{S3Options, Storage, Upstream};
use support::*;

/// An endpoint storing its objects in the endpoint at `url`, signing with `secret`.
fn fronting(url: String, secret: &str) -> S3Endpoint {
    S3Endpoint::start_with(S3Options {
        storage: Storage::Upstream(Upstream {
            endpoint_url: url,
            region: "us-east-1".to_owned(),
            access_key_id: ADMIN_KEY.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
            path_style: true,
        }),
        ..S3Options::default()
    })
}

#[test]
fn sessions_reach_upstream_objects_under_their_own_policies() {
    let upstream = S3Endpoint::start();
    let front = fronting(upstream.endpoint(), ADMIN_SECRET);
    let admin = front.admin();
    front.aws_ok(&admin, &["s3", "mb", "s3://shared"]);
    let source = front.write("report.csv", b"id,total\n1,42\n");
    front.aws_ok(&admin, &["s3", "cp", &source, "s3://shared/reports/1.csv"]);
    // Written through the front, stored upstream; and what is stored upstream shows through.
    let stored = upstream.aws_ok(&upstream.admin(), &["s3", "ls", "s3://shared/reports/"]);
    assert!(stored.trim_end().ends_with(" 1.csv"), "{stored}");
    let direct = upstream.write("direct.txt", b"put upstream\n");
    upstream.aws_ok(
        &upstream.admin(),
        &["s3", "cp", &direct, "s3://shared/reports/2.txt"],
    );

    // The session's signature is checked by the front; the upstream sees only the front's, so a
    // session token the upstream could not open never reaches it.
    front.create_role("reader", &[READ_ONLY], None);
    let reader = front.session("reader");
    let listing = front.aws_ok(&reader, &["s3", "ls", "s3://shared/reports/"]);
    assert!(
        listing.contains(" 1.csv") && listing.contains(" 2.txt"),
        "{listing}"
    );
    let copy = front.path("copy.txt");
    front.aws_ok(&reader, &["s3", "cp", "s3://shared/reports/2.txt", &copy]);
    assert_eq!(std::fs::read(&copy).unwrap(), b"put upstream\n");

    // The front decides: denied writes never reach the upstream.
    let upload = front.aws(&reader, &["s3", "cp", &source, "s3://shared/reports/3.csv"]);
    assert_aws_error(&upload, "AccessDenied");
    let stored = upstream.aws_ok(&upstream.admin(), &["s3", "ls", "s3://shared/reports/"]);
    assert!(!stored.contains("3.csv"), "{stored}");
    assert_eq!(upstream.denials().len(), 0);

    // The upstream's own errors pass through with their codes.
    let missing = front.aws(
        &reader,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "shared",
            "--key",
            "nope",
            &copy,
        ],
    );
    assert_aws_error(&missing, "NoSuchKey");

    // Bucket policies stay with the front, which evaluates them.
    let deny_reader = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:role/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#;
    front.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "shared",
            "--policy",
            deny_reader,
        ],
    );
    let denied = front.aws(&reader, &["s3", "cp", "s3://shared/reports/2.txt", &copy]);
    assert!(
        text(&denied.stderr).contains("403"),
        "{}",
        text(&denied.stderr)
    );
    let upstream_policy = upstream.aws(
        &upstream.admin(),
        &["s3api", "get-bucket-policy", "--bucket", "shared"],
    );
    assert_aws_error(&upstream_policy, "NoSuchBucketPolicy");
}

#[test]
fn multipart_uploads_round_trip_through_the_upstream() {
    let upstream = S3Endpoint::start();
    let front = fronting(upstream.endpoint(), ADMIN_SECRET);
    front.aws_ok(&front.admin(), &["s3", "mb", "s3://big"]);
    front.create_role(
        "writer",
        &[],
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:AbortMultipartUpload"],"Resource":"arn:aws:s3:::big/*"}]}"#,
        ),
    );
    let source = front.path("source.bin");
    let script = format!(
        r#"
import boto3, hashlib, os
from boto3.s3.transfer import TransferConfig
data = os.urandom(20 * 1024 * 1024 + 5)
open("{source}", "wb").write(data)
s3 = boto3.client("s3")
s3.upload_file("{source}", "big", "blob.bin",
    Config=TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024))
back = s3.get_object(Bucket="big", Key="blob.bin")["Body"].read()
ranged = s3.get_object(Bucket="big", Key="blob.bin", Range="bytes=100-199")["Body"].read()
print(hashlib.sha256(data).hexdigest() == hashlib.sha256(back).hexdigest(), ranged == data[100:200])
"#
    );
    assert_eq!(
        front.python(Some(&front.session("writer")), &script),
        "True True\n"
    );
    let stored = upstream.aws_ok(&upstream.admin(), &["s3", "ls", "s3://big/"]);
    assert!(stored.contains(" 20971525 blob.bin"), "{stored}");
    let parts: Vec<String> = upstream
        .audit(&Default::default())
        .into_iter()
        .filter(|e| e.operation == "UploadPart")
        .map(|e| e.principal)
        .collect();
    assert_eq!(parts, vec!["arn:aws:iam::000000000000:root".to_owned(); 3]);
}

/// boto3 without retries, so that a 5xx answer is reported at once.
const ONE_ATTEMPT_GET: &str = r#"
import boto3, botocore.config, botocore.exceptions
s3 = boto3.client("s3", config=botocore.config.Config(retries={"total_max_attempts": 1}))
try:
    s3.list_objects_v2(Bucket="any")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
"#;

#[test]
fn an_upstream_refusing_podpass_credentials_is_a_server_error_not_the_callers() {
    let upstream = S3Endpoint::start();
    let front = fronting(upstream.endpoint(), "not-the-upstream-secret");
    assert_eq!(
        front.python(Some(&front.admin()), ONE_ATTEMPT_GET),
        "InternalError 500\n"
    );
}

#[test]
fn an_unreachable_upstream_is_service_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let front = fronting(url, ADMIN_SECRET);
    assert_eq!(
        front.python(Some(&front.admin()), ONE_ATTEMPT_GET),
        "ServiceUnavailable 503\n"
    );
}
