//! Identity, session and bucket policies decide S3 access as S3 does.

mod support;

use support::*;

const PREFIX_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared",
     "Condition": {"StringLike": {"s3:prefix": "team-a/*"}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/team-a/*"}
  ]
}"#;

fn seed(s3: &S3Endpoint, bucket: &str, keys: &[&str]) {
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", &format!("s3://{bucket}")]);
    let file = s3.write("seed.txt", b"seed");
    for key in keys {
        s3.aws_ok(
            &admin,
            &["s3", "cp", &file, &format!("s3://{bucket}/{key}")],
        );
    }
}

#[test]
fn prefix_scoped_policy_sees_only_its_prefix() {
    let s3 = S3Endpoint::start();
    seed(&s3, "shared", &["team-a/one.txt", "team-b/two.txt"]);
    s3.create_role("team-a", &[], Some(PREFIX_POLICY));
    let team_a = s3.session("team-a");

    let own = s3.aws_ok(&team_a, &["s3", "ls", "s3://shared/team-a/"]);
    assert!(own.trim_end().ends_with(" one.txt"), "{own}");
    assert_aws_error(
        &s3.aws(&team_a, &["s3", "ls", "s3://shared/"]),
        "AccessDenied",
    );
    assert_aws_error(
        &s3.aws(&team_a, &["s3", "ls", "s3://shared/team-b/"]),
        "AccessDenied",
    );
    let other = s3.aws(
        &team_a,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "shared",
            "--key",
            "team-b/two.txt",
            &s3.path("out"),
        ],
    );
    assert_aws_error(&other, "AccessDenied");
    s3.aws_ok(
        &team_a,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "shared",
            "--key",
            "team-a/one.txt",
            &s3.path("out"),
        ],
    );

    let denied_prefixes: Vec<String> = s3
        .denials()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.resource))
        .collect();
    assert_eq!(
        denied_prefixes,
        [
            "s3:ListBucket arn:aws:s3:::shared",
            "s3:ListBucket arn:aws:s3:::shared",
            "s3:GetObject arn:aws:s3:::shared/team-b/two.txt",
        ]
    );
}

#[test]
fn bucket_policy_deny_beats_identity_allow() {
    let s3 = S3Endpoint::start();
    seed(&s3, "vault", &["secret.txt"]);
    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    let admin = s3.admin();
    let out = s3.path("out");
    s3.aws_ok(
        &reader,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "vault",
            "--key",
            "secret.txt",
            &out,
        ],
    );

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoReaders","Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/reader"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::vault/*"}}]}}"#
    );
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "vault",
            "--policy",
            &policy,
        ],
    );
    let stored = s3.aws_ok(
        &admin,
        &[
            "s3api",
            "get-bucket-policy",
            "--bucket",
            "vault",
            "--query",
            "Policy",
            "--output",
            "text",
        ],
    );
    assert_eq!(stored.trim_end(), policy);

    let denied = s3.aws(
        &reader,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "vault",
            "--key",
            "secret.txt",
            &out,
        ],
    );
    assert_aws_error(&denied, "AccessDenied");
    // The reader may still list: the deny names GetObject only.
    s3.aws_ok(&reader, &["s3", "ls", "s3://vault/"]);
    // The admin (account root) is not named by the deny.
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "vault",
            "--key",
            "secret.txt",
            &out,
        ],
    );

    let denial = s3.denials().pop().unwrap();
    assert_eq!(denial.action, "s3:GetObject");
    assert!(denial.reason.contains("NoReaders"), "{}", denial.reason);

    s3.aws_ok(
        &admin,
        &["s3api", "delete-bucket-policy", "--bucket", "vault"],
    );
    s3.aws_ok(
        &reader,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "vault",
            "--key",
            "secret.txt",
            &out,
        ],
    );
    let none = s3.aws(&admin, &["s3api", "get-bucket-policy", "--bucket", "vault"]);
    assert_aws_error(&none, "NoSuchBucketPolicy");
}

#[test]
fn explicit_deny_in_a_bucket_policy_stops_the_account_root() {
    let s3 = S3Endpoint::start();
    seed(&s3, "locked", &["k.txt"]);
    let admin = s3.admin();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::locked/*"}}]}}"#
    );
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "locked",
            "--policy",
            &policy,
        ],
    );
    assert_aws_error(
        &s3.aws(&admin, &["s3", "rm", "s3://locked/k.txt"]),
        "AccessDenied",
    );
    s3.aws_ok(&admin, &["s3", "ls", "s3://locked/k.txt"]);
}

#[test]
fn malformed_bucket_policies_are_refused() {
    let s3 = S3Endpoint::start();
    seed(&s3, "strict", &[]);
    let admin = s3.admin();
    let no_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}]}"#;
    for bad in [no_principal, "not json"] {
        let out = s3.aws(
            &admin,
            &[
                "s3api",
                "put-bucket-policy",
                "--bucket",
                "strict",
                "--policy",
                bad,
            ],
        );
        assert_aws_error(&out, "MalformedPolicy");
    }
    // A key named twice is malformed, not resolved last-wins.
    let duplicate = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}]}"#;
    let out = s3.aws(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "strict",
            "--policy",
            duplicate,
        ],
    );
    assert_aws_error(&out, "MalformedPolicy");
    // Over 20 KB, whether one long document or ten thousand statements, before parsing.
    let statement = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}"#;
    let many = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![statement; 10_000].join(",")
    );
    let long = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}}]}}"#,
        "x".repeat(1_000_000)
    );
    for (name, policy) in [("many.json", many), ("long.json", long)] {
        let file = format!("file://{}", s3.write(name, policy.as_bytes()));
        let out = s3.aws(
            &admin,
            &[
                "s3api",
                "put-bucket-policy",
                "--bucket",
                "strict",
                "--policy",
                &file,
            ],
        );
        let stderr = assert_aws_error(&out, "PolicyTooLarge");
        assert!(stderr.contains("maximum allowed document size"), "{stderr}");
    }
    let missing = s3.aws(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "absent",
            "--policy",
            no_principal,
        ],
    );
    assert_aws_error(&missing, "NoSuchBucket");
}

#[test]
fn anonymous_access_needs_a_public_bucket_policy() {
    let s3 = S3Endpoint::start();
    seed(&s3, "public", &["index.html"]);
    let script = r#"
import boto3, botocore
from botocore import UNSIGNED
from botocore.config import Config
s3 = boto3.client("s3", config=Config(signature_version=UNSIGNED))
def attempt(f):
    try:
        f()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
print(attempt(lambda: s3.get_object(Bucket="public", Key="index.html")["Body"].read()))
print(attempt(lambda: s3.list_objects_v2(Bucket="public")))
"#;
    assert_eq!(s3.python(None, script), "AccessDenied\nAccessDenied\n");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}]}"#;
    s3.aws_ok(
        &s3.admin(),
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "public",
            "--policy",
            policy,
        ],
    );
    assert_eq!(s3.python(None, script), "ok\nAccessDenied\n");
    let anonymous: Vec<_> = s3
        .denials()
        .into_iter()
        .filter(|e| e.principal == "anonymous")
        .map(|e| e.action)
        .collect();
    assert_eq!(
        anonymous,
        ["s3:GetObject", "s3:ListBucket", "s3:ListBucket"]
    );
}

#[test]
fn virtual_hosted_style_addresses_the_bucket_in_the_host() {
    let s3 = S3Endpoint::start_with(podpass_s3::S3Options {
        virtual_host_domain: Some("s3.localhost".to_owned()),
        ..podpass_s3::S3Options::default()
    });
    seed(&s3, "photos", &[]);
    s3.create_role("reader", &[READ_ONLY], None);
    let script = r#"
import os, socket, boto3
from botocore.config import Config
# Resolve BUCKET.s3.localhost to the loopback endpoint without touching the system resolver.
resolve = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: resolve("127.0.0.1" if host.endswith("s3.localhost") else host, *a, **k)
port = os.environ["PODPASS_TEST_ENDPOINT"].rsplit(":", 1)[1]
seen = []
s3 = boto3.client("s3", endpoint_url=f"http://s3.localhost:{port}",
                  config=Config(s3={"addressing_style": "virtual"}))
s3.meta.events.register("before-send", lambda request, **kw: seen.append(request.url.split("/")[2]))
s3.put_object(Bucket="photos", Key="cat.jpg", Body=b"meow")
print(s3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read().decode())
print(seen[0].split(":")[0])
"#;
    let out = s3.python(Some(&s3.admin()), script);
    assert_eq!(out, "meow\nphotos.s3.localhost\n");
    let listing = s3.aws_ok(&s3.session("reader"), &["s3", "ls", "s3://photos/"]);
    assert!(listing.trim_end().ends_with(" cat.jpg"), "{listing}");
}

#[test]
fn principal_tags_from_the_session_scope_access() {
    let s3 = S3Endpoint::start();
    seed(&s3, "teams", &["red/plan.txt", "blue/plan.txt"]);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::teams/${aws:PrincipalTag/team}/*"}]}"#;
    s3.create_role("member", &[], Some(policy));
    let red = s3.session_tagged("member", &[("team", "red")]);
    let out = s3.path("out");
    s3.aws_ok(
        &red,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "teams",
            "--key",
            "red/plan.txt",
            &out,
        ],
    );
    let blue = s3.aws(
        &red,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "teams",
            "--key",
            "blue/plan.txt",
            &out,
        ],
    );
    assert_aws_error(&blue, "AccessDenied");
    let untagged = s3.session("member");
    let none = s3.aws(
        &untagged,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "teams",
            "--key",
            "red/plan.txt",
            &out,
        ],
    );
    assert_aws_error(&none, "AccessDenied");
}

#[test]
fn bucket_policies_see_source_ip_and_transport() {
    let s3 = S3Endpoint::start();
    seed(&s3, "guarded", &["k.txt"]);
    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    let admin = s3.admin();
    let out = s3.path("out");
    let from_office = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OfficeOnly","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::guarded/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "guarded",
            "--policy",
            from_office,
        ],
    );
    let get = [
        "s3api",
        "get-object",
        "--bucket",
        "guarded",
        "--key",
        "k.txt",
        out.as_str(),
    ];
    assert_aws_error(&s3.aws(&reader, &get), "AccessDenied");
    let loopback = from_office.replace("10.0.0.0/8", "127.0.0.0/8");
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "guarded",
            "--policy",
            &loopback,
        ],
    );
    s3.aws_ok(&reader, &get);
    let tls_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::guarded","arn:aws:s3:::guarded/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "guarded",
            "--policy",
            tls_only,
        ],
    );
    assert_aws_error(&s3.aws(&reader, &get), "AccessDenied");
    let reasons: Vec<String> = s3.denials().into_iter().map(|e| e.reason).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("OfficeOnly"), "{}", reasons[0]);
    assert!(reasons[1].contains("TlsOnly"), "{}", reasons[1]);
}

#[test]
fn copy_needs_read_on_the_source_and_write_on_the_destination() {
    let s3 = S3Endpoint::start();
    seed(&s3, "src", &["a.txt"]);
    seed(&s3, "dst", &[]);
    let write_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::dst/*"}]}"#;
    s3.create_role("copier", &[], Some(write_only));
    let copy = [
        "s3api",
        "copy-object",
        "--copy-source",
        "src/a.txt",
        "--bucket",
        "dst",
        "--key",
        "b.txt",
    ];
    assert_aws_error(&s3.aws(&s3.session("copier"), &copy), "AccessDenied");
    let denial = s3.denials().pop().unwrap();
    assert_eq!(
        (
            denial.operation.as_str(),
            denial.action.as_str(),
            denial.resource.as_str()
        ),
        ("CopyObject", "s3:GetObject", "arn:aws:s3:::src/a.txt")
    );
    s3.create_role("reader", &[READ_ONLY], None);
    assert_aws_error(&s3.aws(&s3.session("reader"), &copy), "AccessDenied");
    s3.aws_ok(&s3.admin(), &copy);
    let listing = s3.aws_ok(&s3.admin(), &["s3", "ls", "s3://dst/"]);
    assert!(listing.trim_end().ends_with(" b.txt"), "{listing}");
}

#[test]
fn batch_deletes_are_authorized_key_by_key() {
    let s3 = S3Endpoint::start();
    seed(&s3, "batch", &["keep/1.txt", "tmp/2.txt", "tmp/3.txt"]);
    let tmp_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::batch/tmp/*"}]}"#;
    s3.create_role("cleaner", &[], Some(tmp_only));
    let cleaner = s3.session("cleaner");
    let delete = |keys: &[&str]| {
        let objects: Vec<String> = keys.iter().map(|k| format!("{{Key={k}}}")).collect();
        let spec = format!("Objects=[{}]", objects.join(","));
        s3.aws(
            &cleaner,
            &[
                "s3api",
                "delete-objects",
                "--bucket",
                "batch",
                "--delete",
                &spec,
            ],
        )
    };
    assert_aws_error(&delete(&["tmp/2.txt", "keep/1.txt"]), "AccessDenied");
    let denial = s3.denials().pop().unwrap();
    assert_eq!(
        (denial.operation.as_str(), denial.resource.as_str()),
        ("DeleteObjects", "arn:aws:s3:::batch/keep/1.txt")
    );
    let out = delete(&["tmp/2.txt", "tmp/3.txt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let left = s3.aws_ok(&s3.admin(), &["s3", "ls", "s3://batch/", "--recursive"]);
    assert!(
        left.trim_end().ends_with(" keep/1.txt") && !left.contains("tmp/"),
        "{left}"
    );
}

#[test]
fn operations_podpass_does_not_authorize_are_denied() {
    let s3 = S3Endpoint::start();
    seed(&s3, "acl", &[]);
    let out = s3.aws(
        &s3.admin(),
        &[
            "s3api",
            "put-bucket-lifecycle-configuration",
            "--bucket",
            "acl",
            "--lifecycle-configuration",
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Filter":{"Prefix":""},"Expiration":{"Days":1}}]}"#,
        ],
    );
    assert_aws_error(&out, "AccessDenied");
    let denial = s3.denials().pop().unwrap();
    assert_eq!(denial.principal, format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(
        denial.reason,
        "operation PutBucketLifecycleConfiguration is not authorized by podpass"
    );
}

#[test]
fn object_and_bucket_tags_decide_access_by_the_sessions_team() {
    let s3 = S3Endpoint::start();
    seed(&s3, "shared", &[]);
    seed(&s3, "other", &[]);
    let admin = s3.admin();
    let file = s3.write("body.txt", b"plan");
    let put = |creds: &Creds, key: &str, tagging: Option<&str>| {
        let mut args = vec![
            "s3api",
            "put-object",
            "--bucket",
            "shared",
            "--key",
            key,
            "--body",
            &file,
        ];
        if let Some(tagging) = tagging {
            args.extend(["--tagging", tagging]);
        }
        s3.aws(creds, &args)
    };
    for (key, team) in [("red.txt", "team=red"), ("blue.txt", "team=blue")] {
        let out = put(&admin, key, Some(team));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let object_tags = |key: &str| {
        s3.aws_ok(
            &admin,
            &[
                "s3api",
                "get-object-tagging",
                "--bucket",
                "shared",
                "--key",
                key,
            ],
        )
    };
    let tags = object_tags("red.txt");
    assert!(tags.contains(r#""Value": "red""#), "{tags}");

    // A team reads the objects tagged with its team, writes only objects it tags so, and may
    // list only buckets tagged with its team.
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*",
       "Condition":{"StringEquals":{"s3:ExistingObjectTag/team":"${aws:PrincipalTag/team}"}}},
      {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::shared/*",
       "Condition":{"StringEquals":{"s3:RequestObjectTag/team":"${aws:PrincipalTag/team}"},
                    "ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}},
      {"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::shared/*",
       "Condition":{"StringEquals":{"s3:ExistingObjectTag/team":"${aws:PrincipalTag/team}",
                                    "s3:RequestObjectTag/team":"${aws:PrincipalTag/team}"}}},
      {"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
       "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}"#;
    s3.create_role("member", &[], Some(policy));
    let red = s3.session_tagged("member", &[("team", "red")]);
    let out = s3.path("out");
    let get = |creds: &Creds, key: &str| {
        s3.aws(
            creds,
            &[
                "s3api",
                "get-object",
                "--bucket",
                "shared",
                "--key",
                key,
                &out,
            ],
        )
    };
    let read = get(&red, "red.txt");
    assert!(read.status.success(), "{}", text(&read.stderr));
    assert!(
        text(&read.stdout).contains(r#""TagCount": 1"#),
        "{}",
        text(&read.stdout)
    );
    assert_aws_error(&get(&red, "blue.txt"), "AccessDenied");

    let written = put(&red, "new.txt", Some("team=red"));
    assert!(written.status.success(), "{}", text(&written.stderr));
    assert_aws_error(&put(&red, "new.txt", Some("team=blue")), "AccessDenied");
    assert_aws_error(
        &put(&red, "new.txt", Some("team=red&extra=1")),
        "AccessDenied",
    );
    assert_aws_error(&put(&red, "new.txt", None), "AccessDenied");

    let retag = |creds: &Creds, key: &str, team: &str| {
        s3.aws(
            creds,
            &[
                "s3api",
                "put-object-tagging",
                "--bucket",
                "shared",
                "--key",
                key,
                "--tagging",
                &format!("TagSet=[{{Key=team,Value={team}}}]"),
            ],
        )
    };
    // Giving its object away, or taking another team's, is refused.
    assert_aws_error(&retag(&red, "red.txt", "blue"), "AccessDenied");
    assert_aws_error(&retag(&red, "blue.txt", "red"), "AccessDenied");
    // The tags are read afresh: once the admin retags it, the object is the red team's.
    let out_ok = retag(&admin, "blue.txt", "red");
    assert!(out_ok.status.success(), "{}", text(&out_ok.stderr));
    let read = get(&red, "blue.txt");
    assert!(read.status.success(), "{}", text(&read.stderr));

    // A copy keeps its source's tags unless told to replace them.
    let copy = |extra: &[&str]| {
        let mut args = vec![
            "s3api",
            "copy-object",
            "--bucket",
            "shared",
            "--key",
            "copy.txt",
            "--copy-source",
            "shared/red.txt",
        ];
        args.extend_from_slice(extra);
        s3.aws_ok(&admin, &args)
    };
    copy(&[]);
    let copied = object_tags("copy.txt");
    assert!(copied.contains(r#""Value": "red""#), "{copied}");
    copy(&["--tagging-directive", "REPLACE", "--tagging", "team=green"]);
    let replaced = object_tags("copy.txt");
    assert!(replaced.contains(r#""Value": "green""#), "{replaced}");
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "delete-object-tagging",
            "--bucket",
            "shared",
            "--key",
            "copy.txt",
        ],
    );
    let cleared = object_tags("copy.txt");
    assert!(!cleared.contains("green"), "{cleared}");

    // Bucket tags: read back, and aws:ResourceTag for the bucket's actions.
    let list = |bucket: &str| s3.aws(&red, &["s3api", "list-objects-v2", "--bucket", bucket]);
    assert_aws_error(&list("shared"), "AccessDenied");
    assert_aws_error(
        &s3.aws(
            &admin,
            &["s3api", "get-bucket-tagging", "--bucket", "shared"],
        ),
        "NoSuchTagSet",
    );
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-tagging",
            "--bucket",
            "shared",
            "--tagging",
            "TagSet=[{Key=team,Value=red}]",
        ],
    );
    let bucket_tags = s3.aws_ok(
        &admin,
        &["s3api", "get-bucket-tagging", "--bucket", "shared"],
    );
    assert!(bucket_tags.contains(r#""Value": "red""#), "{bucket_tags}");
    let listed = list("shared");
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_aws_error(&list("other"), "AccessDenied");
    s3.aws_ok(
        &admin,
        &["s3api", "delete-bucket-tagging", "--bucket", "shared"],
    );
    assert_aws_error(&list("shared"), "AccessDenied");

    // S3's limits and errors.
    let eleven = (0..11)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    assert_aws_error(&put(&admin, "x.txt", Some(&eleven)), "BadRequest");
    assert_aws_error(&put(&admin, "x.txt", Some("aws%3Ateam=x")), "InvalidTag");
    assert_aws_error(&put(&admin, "x.txt", Some("a=1&a=2")), "InvalidArgument");
    assert_aws_error(
        &s3.aws(
            &admin,
            &[
                "s3api",
                "get-object-tagging",
                "--bucket",
                "shared",
                "--key",
                "missing",
            ],
        ),
        "NoSuchKey",
    );
    assert_aws_error(
        &s3.aws(&admin, &["s3api", "get-bucket-tagging", "--bucket", "nope"]),
        "NoSuchBucket",
    );
}

#[test]
fn bucket_policies_see_how_a_request_was_signed() {
    let s3 = S3Endpoint::start();
    seed(&s3, "signed", &["k.txt"]);
    let admin = s3.admin();
    // The documented way to refuse presigned URLs, and SigV2, on a bucket.
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::signed/*",
       "Condition":{"StringEquals":{"s3:authType":"REST-QUERY-STRING"}}},
      {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::signed/*",
       "Condition":{"StringEquals":{"s3:signatureversion":"AWS"}}}]}"#;
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "signed",
            "--policy",
            policy,
        ],
    );
    let script = r#"
import re, urllib.request, urllib.error
import boto3, botocore
from botocore.config import Config
def get(s3):
    try:
        return s3.get_object(Bucket="signed", Key="k.txt")["Body"].read().decode()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
def fetch(url, headers={}):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read().decode()
    except urllib.error.HTTPError as e:
        return f'{e.code} {re.search(r"<Code>(.*?)</Code>", e.read().decode()).group(1)}'
v4 = boto3.client("s3", config=Config(signature_version="s3v4"))
print("header v4", get(v4))
print("header v2", get(boto3.client("s3", config=Config(signature_version="s3"))))
params = {"Bucket": "signed", "Key": "k.txt"}
query_v4 = v4.generate_presigned_url("get_object", Params=params)
print("query v4", fetch(query_v4))
v2 = boto3.client("s3", config=Config(signature_version="s3"))
query_v2 = v2.generate_presigned_url("get_object", Params=params)
print("query v2", fetch(query_v2))
# Signed twice, the policy could see one signature while another is verified: refused, as S3
# does, before either is checked.
print("query v4 and header", fetch(query_v4, {"Authorization": "AWS4-HMAC-SHA256 Credential=x"}))
print("query v2 and v4", fetch(query_v2 + "&X-Amz-Signature=00"))
"#;
    assert_eq!(
        s3.python(Some(&admin), script),
        "header v4 seed\nheader v2 AccessDenied\nquery v4 403 AccessDenied\nquery v2 403 AccessDenied\n\
         query v4 and header 400 InvalidArgument\nquery v2 and v4 400 InvalidArgument\n"
    );
    let reasons: Vec<String> = s3
        .denials()
        .into_iter()
        .filter(|event| event.action == "s3:GetObject")
        .map(|event| event.reason)
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    let mixed = s3
        .denials()
        .into_iter()
        .filter(|event| {
            event
                .reason
                .starts_with("InvalidArgument: Only one auth mechanism")
        })
        .count();
    assert_eq!(mixed, 2);
}
