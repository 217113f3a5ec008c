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
