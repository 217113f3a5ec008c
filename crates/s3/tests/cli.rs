//! The unmodified AWS CLI against the endpoint: admin and a read-only role session.

mod support;

use support::*;

#[test]
fn read_only_session_lists_and_downloads_but_cannot_write() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://reports"]);
    let source = s3.write("q3.csv", b"quarter,revenue\nq3,42\n");
    s3.aws_ok(&admin, &["s3", "cp", &source, "s3://reports/2026/q3.csv"]);

    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    let buckets = s3.aws_ok(&reader, &["s3", "ls"]);
    assert!(buckets.trim_end().ends_with(" reports"), "{buckets}");
    let listing = s3.aws_ok(&reader, &["s3", "ls", "s3://reports/", "--recursive"]);
    assert!(listing.trim_end().ends_with(" 2026/q3.csv"), "{listing}");
    let copy = s3.path("downloaded.csv");
    s3.aws_ok(&reader, &["s3", "cp", "s3://reports/2026/q3.csv", &copy]);
    assert_eq!(std::fs::read(&copy).unwrap(), b"quarter,revenue\nq3,42\n");

    let upload = s3.aws(&reader, &["s3", "cp", &source, "s3://reports/2026/q4.csv"]);
    assert_aws_error(&upload, "AccessDenied");
    let delete = s3.aws(&reader, &["s3", "rm", "s3://reports/2026/q3.csv"]);
    assert_aws_error(&delete, "AccessDenied");
    let still_there = s3.aws_ok(&admin, &["s3", "ls", "s3://reports/2026/"]);
    assert!(
        still_there.contains("q3.csv") && !still_there.contains("q4.csv"),
        "{still_there}"
    );

    let denials = s3.denials();
    let actions: Vec<(&str, &str)> = denials
        .iter()
        .map(|e| (e.action.as_str(), e.resource.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("s3:PutObject", "arn:aws:s3:::reports/2026/q4.csv"),
            ("s3:DeleteObject", "arn:aws:s3:::reports/2026/q3.csv"),
        ]
    );
    for denial in &denials {
        assert_eq!(
            denial.principal,
            "arn:aws:sts::000000000000:assumed-role/reader/test-session"
        );
        assert_eq!(denial.source_ip, "127.0.0.1");
        assert_eq!(denial.request_id.len(), 16);
        assert!(!denial.reason.is_empty());
    }
}

#[test]
fn auditing_refusals_only_leaves_allowed_requests_out() {
    let s3 = S3Endpoint::start_with(podpass_s3::S3Options {
        audit_allowed: false,
        ..podpass_s3::S3Options::default()
    });
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://quiet"]);
    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    s3.aws_ok(&reader, &["s3", "ls", "s3://quiet"]);
    // Allowed, then 404 from the store: settled by the allow, not audited as a refusal.
    let missing = s3.aws(
        &reader,
        &["s3api", "head-object", "--bucket", "quiet", "--key", "none"],
    );
    assert_aws_error(&missing, "404");
    let source = s3.write("x.txt", b"x");
    assert_aws_error(
        &s3.aws(&reader, &["s3", "cp", &source, "s3://quiet/x.txt"]),
        "AccessDenied",
    );

    let recorded: Vec<(String, bool)> = s3
        .audit(&podpass_s3::audit::AuditFilter::default())
        .into_iter()
        .map(|e| (e.action.clone(), e.is_denied()))
        .collect();
    assert_eq!(recorded, [("s3:PutObject".to_owned(), true)]);
}

/// What boto3's callers (Terraform, SDK helpers, sync tools) ask of every bucket: versioning,
/// versions of an unversioned bucket, ACLs of a bucket whose ACLs are disabled, encryption.
#[test]
fn the_calls_every_client_makes_answer_as_s3_does() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    let out = s3.python(
        Some(&admin),
        r#"
import boto3, botocore, json
s3 = boto3.client("s3")
def code(call):
    try:
        call(); return "ok"
    except botocore.exceptions.ClientError as e:
        return "%s %s" % (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
s3.create_bucket(Bucket="reports")
put = s3.put_object(Bucket="reports", Key="a/q3.csv", Body=b"x", ServerSideEncryption="AES256")
s3.put_object(Bucket="reports", Key="b.csv", Body=b"yy")
head = s3.head_object(Bucket="reports", Key="b.csv")
print("sse", put["ServerSideEncryption"], head["ServerSideEncryption"])
print("kms", code(lambda: s3.put_object(Bucket="reports", Key="k", Body=b"x", ServerSideEncryption="aws:kms")))
print("versioning", json.dumps({k: v for k, v in s3.get_bucket_versioning(Bucket="reports").items() if k != "ResponseMetadata"}))
page = s3.list_object_versions(Bucket="reports", MaxKeys=1)
v = page["Versions"][0]
print("versions", v["Key"], v["VersionId"], v["IsLatest"], v["Size"], page["IsTruncated"], page["NextKeyMarker"], page["NextVersionIdMarker"])
rest = s3.list_object_versions(Bucket="reports", KeyMarker=page["NextKeyMarker"], VersionIdMarker="null")
print("rest", [x["Key"] for x in rest["Versions"]], rest["IsTruncated"])
print("marker alone", code(lambda: s3.list_object_versions(Bucket="reports", VersionIdMarker="null")))
acl = s3.get_object_acl(Bucket="reports", Key="b.csv")
grant = acl["Grants"][0]
print("acl", grant["Permission"], grant["Grantee"]["Type"], grant["Grantee"]["ID"] == acl["Owner"]["ID"], len(acl["Grants"]))
print("bucket acl", s3.get_bucket_acl(Bucket="reports")["Grants"][0]["Permission"])
print("owner acl", code(lambda: s3.put_object_acl(Bucket="reports", Key="b.csv", ACL="bucket-owner-full-control")))
print("public acl", code(lambda: s3.put_object_acl(Bucket="reports", Key="b.csv", ACL="public-read")))
print("public put", code(lambda: s3.put_object(Bucket="reports", Key="c", Body=b"x", ACL="public-read")))
print("public bucket", code(lambda: s3.put_bucket_acl(Bucket="reports", ACL="public-read")))
print("write grant", code(lambda: s3.put_object_acl(Bucket="reports", Key="b.csv", GrantWrite="uri=http://acs.amazonaws.com/groups/global/AllUsers")))
print("missing", code(lambda: s3.get_object_acl(Bucket="reports", Key="nope")))
print("no bucket", code(lambda: s3.get_bucket_versioning(Bucket="nope-bucket")))
print("recreate", code(lambda: s3.create_bucket(Bucket="reports")))
print("write to no bucket", code(lambda: s3.put_object(Bucket="nope-bucket", Key="k", Body=b"x")))
print("location", s3.get_bucket_location(Bucket="reports")["LocationConstraint"])
print("head", s3.head_bucket(Bucket="reports")["BucketRegion"])
"#,
    );
    let expected = [
        "sse AES256 AES256",
        "kms InvalidArgument 400",
        "versioning {}",
        "versions a/q3.csv null True 1 True a/q3.csv null",
        "rest ['b.csv'] False",
        "marker alone InvalidArgument 400",
        "acl FULL_CONTROL CanonicalUser True 1",
        "bucket acl FULL_CONTROL",
        "owner acl ok",
        "public acl AccessControlListNotSupported 400",
        "public put AccessControlListNotSupported 400",
        "public bucket AccessControlListNotSupported 400",
        "write grant AccessControlListNotSupported 400",
        "missing NoSuchKey 404",
        "no bucket NoSuchBucket 404",
        // The owner re-creating its bucket in us-east-1 gets 200, as in AWS.
        "recreate ok",
        "write to no bucket NoSuchBucket 404",
        "location None",
        "head us-east-1",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");

    // A role needs the ACL actions, as in AWS: a read-only session reads ACLs, cannot set them.
    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    let read = s3.aws(
        &reader,
        &[
            "s3api",
            "get-object-acl",
            "--bucket",
            "reports",
            "--key",
            "b.csv",
        ],
    );
    assert!(read.status.success(), "{}", text(&read.stderr));
    let write = s3.aws(
        &reader,
        &[
            "s3api",
            "put-object-acl",
            "--bucket",
            "reports",
            "--key",
            "b.csv",
            "--acl",
            "bucket-owner-full-control",
        ],
    );
    assert_aws_error(&write, "AccessDenied");
}
