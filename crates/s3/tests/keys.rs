//! Object keys are opaque strings: the key IAM authorizes is exactly the key read or written.
//! Keys shaped like paths (`..`, `.`, `//`, trailing `/`, percent-encoded dots, backslashes,
//! control characters, long segments) are objects of their own, never a way to another key, a
//! bucket, the store's own files or the disk beside them. Driven through boto3 (which sends
//! such keys as they are) and raw HTTP for what no SDK sends.

mod support;

use support::*;

/// A role that may read and write only under `bkt/a/`.
const PREFIX_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bkt/a/*"}]}"#;

/// A boto3 client and `attempt(f)`: the call's result, or its S3 error code.
const PRELUDE: &str = r#"
import boto3, botocore, json
s3 = boto3.client("s3")
def attempt(f):
    try:
        return f()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
def get(bucket, key):
    return attempt(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
def put(bucket, key, body):
    return attempt(lambda: s3.put_object(Bucket=bucket, Key=key, Body=body) and "ok")
"#;

#[test]
fn dot_segments_in_keys_never_reach_another_key() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    let seed = format!(
        r#"{PRELUDE}
for bucket in ["bkt", "other"]:
    s3.create_bucket(Bucket=bucket)
put("bkt", "x/1.txt", "secret x/1")
put("bkt", "a/mine.txt", "mine")
put("other", "k", "other bucket")
s3.put_bucket_policy(Bucket="other", Policy=json.dumps({{"Version": "2012-10-17", "Statement": [
    {{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*",
      "Condition": {{"StringNotEquals": {{"aws:PrincipalArn": "arn:aws:iam::{ACCOUNT}:root"}}}}}}]}}))
print("seeded")
"#
    );
    assert_eq!(s3.python(Some(&admin), &seed), "seeded\n");
    s3.create_role("prefixed", &[], Some(PREFIX_POLICY));
    let attack = format!(
        r#"{PRELUDE}
print(get("bkt", "a/mine.txt"))
# Reads that a path-resolving store turned into x/1.txt, other/k or a metadata file.
print(get("bkt", "a/../x/1.txt"))
print(get("bkt", "a/./../x/1.txt"))
print(get("bkt", "a/../../other/k"))
print(get("bkt", "a/%2e%2e/x/1.txt"))
print(get("bkt", "a/..%2fx/1.txt"))
print(get("bkt", "a/..\\x\\1.txt"))
# A write through a dot segment is an object of its own under a/.
print(put("bkt", "a/../x/new.txt", "planted"))
print(get("bkt", "a/../x/new.txt"))
print(get("bkt", "x/new.txt"))
print(put("bkt", "a/../../other/k", "overwritten?"))
print(put("bkt", "../../../f", "escape"))
"#
    );
    let prefixed = s3.session("prefixed");
    assert_eq!(
        s3.python(Some(&prefixed), &attack),
        [
            "mine",
            "NoSuchKey",
            "NoSuchKey",
            "NoSuchKey",
            "NoSuchKey",
            "NoSuchKey",
            "NoSuchKey",
            "ok",
            "planted",
            "AccessDenied",
            "ok",
            "AccessDenied",
        ]
        .map(|line| format!("{line}\n"))
        .concat()
    );
    // The admin sees every one of those as the literal key it is, and the originals unharmed.
    let check = format!(
        r#"{PRELUDE}
print(get("bkt", "x/1.txt"))
print(get("other", "k"))
print(get("bkt", "x/new.txt"))
print(put("bkt", "../../../f", "escape"))
print(get("bkt", "../../../f"))
print(sorted(o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]))
"#
    );
    assert_eq!(
        s3.python(Some(&admin), &check),
        "secret x/1\nother bucket\nNoSuchKey\nok\nescape\n\
         ['../../../f', 'a/../../other/k', 'a/../x/new.txt', 'a/mine.txt', 'x/1.txt']\n"
    );
    // Nothing was written beside the store: no file anywhere in the data directory bears a
    // caller's name.
    for entry in walk(s3.dir.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !["f", "k", "new.txt", "1.txt", "mine.txt"].contains(&name.as_str()),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn abac_on_a_namespace_prefix_holds_against_dot_segments() {
    let s3 = S3Endpoint::start();
    let seed = format!(
        r#"{PRELUDE}
s3.create_bucket(Bucket="nsb")
put("nsb", "ns/default/x", "default's")
put("nsb", "ns/other/x", "other's")
print("seeded")
"#
    );
    assert_eq!(s3.python(Some(&s3.admin()), &seed), "seeded\n");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::nsb/ns/${aws:PrincipalTag/kubernetes-namespace}/*"}]}"#;
    s3.create_role("pod", &[], Some(policy));
    let pod = s3.session_tagged("pod", &[("kubernetes-namespace", "default")]);
    let read = format!(
        r#"{PRELUDE}
print(get("nsb", "ns/default/x"))
print(get("nsb", "ns/default/../other/x"))
print(get("nsb", "ns/other/x"))
"#
    );
    assert_eq!(
        s3.python(Some(&pod), &read),
        "default's\nNoSuchKey\nAccessDenied\n"
    );
}

#[test]
fn path_shaped_keys_round_trip_as_themselves() {
    let s3 = S3Endpoint::start();
    // Every shape a filesystem would interpret, and a seeded random mix of dots, slashes,
    // percent signs, backslashes and non-ASCII characters.
    let script = format!(
        r#"{PRELUDE}
import random
s3.create_bucket(Bucket="keys")
keys = ["..", ".", "./", "a/..", "a/.", "a//b", "a/", "/", "//", "/lead", "trail/", "%2e%2e",
        "%2E%2E/x", "..\\..\\x", "a\\b", "a b", "a+b", "a%20b", "~", "\u00e9t\u00e9/\u30ad\u30fc",
        "a" * 1024, "/".join(["s" * 300] * 3), "\t tab", "line\nbreak", ".bucket-b.metadata.json",
        "x" * 255 + "/" + "y" * 256]
rng = random.Random(11)
alphabet = ["a", ".", "..", "/", "//", "%", "%2e", "%2F", "\\", "\u00e9", "\u2603", " ", "+", "~"]
while len(keys) < 300:
    key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
    if len(key.encode()) <= 1024 and key not in keys:
        keys.append(key)
for i, key in enumerate(keys):
    s3.put_object(Bucket="keys", Key=key, Body=str(i).encode())
for i, key in enumerate(keys):
    body = s3.get_object(Bucket="keys", Key=key)["Body"].read().decode()
    assert body == str(i), (key, body, str(i))
listed = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="keys", PaginationConfig={{"PageSize": 37}}):
    listed += [o["Key"] for o in page.get("Contents", [])]
assert listed == sorted(keys, key=lambda k: k.encode()), "listing differs"
v1 = []
for page in s3.get_paginator("list_objects").paginate(Bucket="keys", PaginationConfig={{"PageSize": 41}}):
    v1 += [o["Key"] for o in page.get("Contents", [])]
assert v1 == listed, "ListObjects differs"
# A key one byte over 1024 is refused as S3 refuses it.
print(put("keys", "k" * 1025, "x"))
print(len(listed))
"#
    );
    assert_eq!(
        s3.python(Some(&s3.admin()), &script),
        "KeyTooLongError\n300\n"
    );
}

#[test]
fn keys_that_crashed_the_file_store_are_plain_keys() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://bkt"]);
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bkt/*"}]}"#;
    s3.aws_ok(
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "bkt",
            "--policy",
            public,
        ],
    );
    // Raw requests: `GET /b/..` panicked the file store, `a/..` and `.` answered 500.
    let script = r#"
import http.client, os
host = os.environ["PODPASS_TEST_ENDPOINT"].removeprefix("http://")
def call(method, path, body=None):
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request(method, path, body=body)
    response = conn.getresponse()
    data = response.read().decode()
    conn.close()
    code = data.split("<Code>")[1].split("</Code>")[0] if "<Code>" in data else data
    return f"{response.status} {code}"
for path in ["/bkt/..", "/bkt/.", "/bkt/a/..", "/bkt/a/.", "/bkt/%2e%2e", "/bkt/a/%2E%2E/%2e", "/bkt/a//..//"]:
    print(path, call("GET", path))
print(call("PUT", "/bkt/..", b"dots"))
print(call("GET", "/bkt/.."))
print(call("GET", "/bkt/a%00b"))
"#;
    assert_eq!(
        s3.python(None, script),
        "/bkt/.. 404 NoSuchKey\n/bkt/. 404 NoSuchKey\n/bkt/a/.. 404 NoSuchKey\n/bkt/a/. 404 NoSuchKey\n\
         /bkt/%2e%2e 404 NoSuchKey\n/bkt/a/%2E%2E/%2e 404 NoSuchKey\n/bkt/a//..// 404 NoSuchKey\n\
         200 \n200 dots\n404 NoSuchKey\n"
    );
}

#[test]
fn client_errors_are_client_errors() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://bkt"]);
    // Signed by botocore, then sent with a body that does not match the signed hash; and a
    // CompleteMultipartUpload naming 100 000 parts.
    let script = format!(
        r#"{PRELUDE}
import hashlib, http.client, os
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
endpoint = os.environ["PODPASS_TEST_ENDPOINT"]
creds = boto3.Session().get_credentials()
def signed(method, path, body, claimed=None):
    request = AWSRequest(method=method, url=endpoint + path, data=body)
    request.headers["x-amz-content-sha256"] = claimed or hashlib.sha256(body).hexdigest()
    SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    conn = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=30)
    conn.request(method, path, body=body, headers=dict(request.headers))
    response = conn.getresponse()
    data = response.read().decode()
    code = data.split("<Code>")[1].split("</Code>")[0] if "<Code>" in data else ""
    return f"{{response.status}} {{code}}"
print(signed("PUT", "/bkt/k", b"actual body", claimed=hashlib.sha256(b"other body").hexdigest()))
print(get("bkt", "k"))
upload = s3.create_multipart_upload(Bucket="bkt", Key="big")["UploadId"]
etag = s3.upload_part(Bucket="bkt", Key="big", UploadId=upload, PartNumber=1, Body=b"x")["ETag"]
parts = "".join(f"<Part><PartNumber>{{n}}</PartNumber><ETag>{{etag}}</ETag></Part>" for n in range(1, 100001))
body = f"<CompleteMultipartUpload>{{parts}}</CompleteMultipartUpload>".encode()
print(signed("POST", f"/bkt/big?uploadId={{upload}}", body))
print(attempt(lambda: s3.complete_multipart_upload(Bucket="bkt", Key="big", UploadId=upload,
    MultipartUpload={{"Parts": [{{"PartNumber": 2, "ETag": etag}}]}})))
print(attempt(lambda: s3.complete_multipart_upload(Bucket="bkt", Key="big", UploadId=upload,
    MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": '"0000"'}}]}})))
print(attempt(lambda: s3.upload_part(Bucket="bkt", Key="big", UploadId=upload, PartNumber=10001, Body=b"x")))
print(attempt(lambda: s3.upload_part(Bucket="bkt", Key="big", UploadId="nope", PartNumber=1, Body=b"x")))
done = s3.complete_multipart_upload(Bucket="bkt", Key="big", UploadId=upload,
    MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": etag}}]}})
print(done["ETag"].endswith('-1"'), get("bkt", "big"))
long = "x" * 255 + "/" + "y" * 300
print(put("bkt", long, "long segment"), get("bkt", long))
"#
    );
    assert_eq!(
        s3.python(Some(&admin), &script),
        "400 XAmzContentSHA256Mismatch\nNoSuchKey\n400 MalformedXML\nInvalidPart\nInvalidPart\n\
         InvalidArgument\nNoSuchUpload\nTrue x\nok long segment\n"
    );
}

#[test]
fn conditional_reads_and_writes_follow_s3() {
    let s3 = S3Endpoint::start();
    let script = format!(
        r#"{PRELUDE}
s3.create_bucket(Bucket="cnd")
etag = s3.put_object(Bucket="cnd", Key="k", Body=b"v1")["ETag"]
print(attempt(lambda: s3.put_object(Bucket="cnd", Key="k", Body=b"v2", IfNoneMatch="*")))
print(attempt(lambda: s3.put_object(Bucket="cnd", Key="k", Body=b"v2", IfMatch='"nope"')))
print(attempt(lambda: s3.put_object(Bucket="cnd", Key="new", Body=b"v", IfMatch=etag)))
print(attempt(lambda: s3.put_object(Bucket="cnd", Key="k", Body=b"v2", IfMatch=etag) and "ok"))
print(get("cnd", "k"))
print(attempt(lambda: s3.get_object(Bucket="cnd", Key="k", IfMatch=etag)))
print(attempt(lambda: s3.head_object(Bucket="cnd", Key="k", IfNoneMatch=s3.head_object(Bucket="cnd", Key="k")["ETag"])))
print(s3.get_object(Bucket="cnd", Key="k", Range="bytes=1-")["Body"].read().decode())
print(attempt(lambda: s3.get_object(Bucket="cnd", Key="k", Range="bytes=9-")))
"#
    );
    assert_eq!(
        s3.python(Some(&s3.admin()), &script),
        "PreconditionFailed\nPreconditionFailed\nNoSuchKey\nok\nv2\nPreconditionFailed\n304\n2\nInvalidRange\n"
    );
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
