//! Large transfers: multipart uploads through the AWS CLI and boto3 round-trip intact.

mod support;

use podpass_s3::audit::AuditFilter;
use support::*;

const WRITER_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload"],"Resource":"arn:aws:s3:::big/*"}]}"#;

#[test]
fn multipart_uploads_of_64_mib_round_trip_intact() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://big"]);
    s3.create_role("reader", &[READ_ONLY], None);
    s3.create_role("writer", &[], Some(WRITER_POLICY));
    let source = s3.path("source.bin");
    let script = format!(
        r#"
import hashlib, os
data = os.urandom(64 * 1024 * 1024)
open("{source}", "wb").write(data)
print(hashlib.sha256(data).hexdigest())
"#
    );
    let digest = s3.python(None, &script);

    // The admin through the CLI (multipart above 8 MiB).
    s3.aws_ok(&admin, &["s3", "cp", &source, "s3://big/by-cli.bin"]);
    // A write-only session through boto3's managed transfer.
    let upload = format!(
        r#"
import boto3
from boto3.s3.transfer import TransferConfig
boto3.client("s3").upload_file("{source}", "big", "by-boto3.bin",
    Config=TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024))
print("uploaded")
"#
    );
    assert_eq!(
        s3.python(Some(&s3.session("writer")), &upload),
        "uploaded\n"
    );

    let reader = s3.session("reader");
    for key in ["by-cli.bin", "by-boto3.bin"] {
        let copy = s3.path(key);
        s3.aws_ok(&reader, &["s3", "cp", &format!("s3://big/{key}"), &copy]);
        let hash = format!(
            "import hashlib\nprint(hashlib.sha256(open(\"{copy}\", \"rb\").read()).hexdigest())\n"
        );
        assert_eq!(s3.python(None, &hash), digest, "{key}");
    }

    let allowed: Vec<String> = s3
        .audit(&AuditFilter::default())
        .into_iter()
        .filter(|e| e.resource == "arn:aws:s3:::big/by-boto3.bin" && !e.is_denied())
        .map(|e| e.operation)
        .collect();
    assert_eq!(
        allowed.first().map(String::as_str),
        Some("CreateMultipartUpload")
    );
    assert_eq!(allowed.iter().filter(|op| *op == "UploadPart").count(), 8);
    assert!(
        allowed.contains(&"CompleteMultipartUpload".to_owned()),
        "{allowed:?}"
    );
    // The writer may not read back what it wrote.
    let read_back = s3.aws(
        &s3.session("writer"),
        &["s3", "cp", "s3://big/by-cli.bin", &s3.path("no.bin")],
    );
    assert!(!read_back.status.success());
    assert!(
        text(&read_back.stderr).contains("403"),
        "{}",
        text(&read_back.stderr)
    );
}

#[test]
fn switching_authorization_off_serves_unsigned_requests() {
    let s3 = S3Endpoint::start_with(podpass_s3::S3Options {
        authorize: false,
        ..podpass_s3::S3Options::default()
    });
    let script = r#"
import boto3, botocore
from botocore import UNSIGNED
from botocore.config import Config
s3 = boto3.client("s3", config=Config(signature_version=UNSIGNED))
s3.create_bucket(Bucket="open")
s3.put_object(Bucket="open", Key="k", Body=b"payload")
print(s3.get_object(Bucket="open", Key="k")["Body"].read().decode())
"#;
    assert_eq!(s3.python(None, script), "payload\n");
    assert_eq!(s3.audit(&AuditFilter::default()), vec![]);
}
