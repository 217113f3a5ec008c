//! Authentication: presigned URLs, and every way a request's credentials can be wrong, each
//! refused with S3's code and audited with its reason.

mod support;

use support::*;

fn seed(s3: &S3Endpoint) {
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://docs"]);
    let file = s3.write("doc.txt", b"hello presigned");
    s3.aws_ok(&admin, &["s3", "cp", &file, "s3://docs/doc.txt"]);
}

const FETCH: &str = r#"
import urllib.request, urllib.error, re
def fetch(url, method="GET", data=None, headers={}):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=data, headers=headers)) as r:
            return f"{r.status} {r.read().decode()}"
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        code = re.search(r"<Code>(.*?)</Code>", body)
        rid = re.search(r"<RequestId>(.*?)</RequestId>", body)
        ok_rid = rid is not None and rid.group(1) == e.headers["x-amz-request-id"]
        return f"{e.code} {code.group(1) if code else '?'} {'rid' if ok_rid else 'no-rid'}"
"#;

#[test]
fn presigned_get_works_until_it_expires() {
    let s3 = S3Endpoint::start();
    seed(&s3);
    s3.create_role("reader", &[READ_ONLY], None);
    let reader = s3.session("reader");
    let script = format!(
        r#"{FETCH}
import time, boto3
from botocore.config import Config
s3 = boto3.client("s3")
get = lambda expires: s3.generate_presigned_url("get_object", Params={{"Bucket": "docs", "Key": "doc.txt"}}, ExpiresIn=expires)
print(fetch(get(3600)))
url = get(3600)
tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
print(fetch(tampered))
put = s3.generate_presigned_url("put_object", Params={{"Bucket": "docs", "Key": "new.txt", "ContentType": "text/plain"}}, ExpiresIn=3600)
print(fetch(put, method="PUT", data=b"x", headers={{"Content-Type": "text/plain"}}))
v4 = boto3.client("s3", config=Config(signature_version="s3v4"))
v4_url = v4.generate_presigned_url("get_object", Params={{"Bucket": "docs", "Key": "doc.txt"}}, ExpiresIn=3600)
assert "X-Amz-Security-Token=" in v4_url
print(fetch(v4_url))
short = get(1)
time.sleep(2)
print(fetch(short))
"#
    );
    let out = s3.python(Some(&reader), &script);
    assert_eq!(
        out,
        "200 hello presigned\n\
         403 SignatureDoesNotMatch rid\n\
         403 AccessDenied rid\n\
         200 hello presigned\n\
         403 AccessDenied rid\n"
    );
    let denials: Vec<String> = s3.denials().into_iter().map(|e| e.reason).collect();
    assert_eq!(denials.len(), 3, "{denials:?}");
    assert!(
        denials[0].starts_with("SignatureDoesNotMatch"),
        "{}",
        denials[0]
    );
    assert!(
        denials[2].starts_with("AccessDenied: Request has expired"),
        "{}",
        denials[2]
    );
}

#[test]
fn bad_credentials_are_refused_with_s3_codes() {
    let s3 = S3Endpoint::start();
    seed(&s3);
    s3.create_role("reader", &[READ_ONLY], None);
    let good = s3.session("reader");
    let other = s3.session("reader");
    let expired = s3.session_issued("reader", 7200, 900);
    let token = good.token.clone().unwrap();
    let middle = token.len() / 2;
    let flipped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = format!("{}{flipped}{}", &token[..middle], &token[middle + 1..]);
    let script = format!(
        r#"
import datetime, re, boto3, botocore, botocore.auth
from botocore import UNSIGNED
from botocore.config import Config
once = Config(retries={{"total_max_attempts": 1}})
def client(key, secret, token=None, **kw):
    return boto3.client("s3", aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token, config=once, **kw)
def attempt(s3):
    try:
        s3.list_objects_v2(Bucket="docs")
        return "ok"
    except botocore.exceptions.ClientError as e:
        r = e.response
        return f'{{r["Error"]["Code"]}} {{r["ResponseMetadata"]["HTTPStatusCode"]}}'
def tamper(request, **kw):
    auth = request.headers["Authorization"].decode()
    request.headers["Authorization"] = re.sub(r"Signature=(.)", lambda m: "Signature=" + ("0" if m.group(1) != "0" else "1"), auth)
print("good", attempt(client("{good_key}", "{good_secret}", "{good_token}")))
print("wrong-secret", attempt(client("{ADMIN_KEY}", "not-the-secret")))
tampered = client("{ADMIN_KEY}", "{ADMIN_SECRET}")
tampered.meta.events.register("before-send", tamper)
print("tampered", attempt(tampered))
print("unknown-key", attempt(client("AKIANOSUCHKEY0000000", "whatever")))
print("expired", attempt(client("{expired_key}", "{expired_secret}", "{expired_token}")))
print("forged", attempt(client("{good_key}", "{good_secret}", "{forged}")))
print("mismatched", attempt(client("{good_key}", "{good_secret}", "{other_token}")))
print("no-token", attempt(client("{good_key}", "{good_secret}")))
print("anonymous", attempt(boto3.client("s3", config=Config(signature_version=UNSIGNED, retries={{"total_max_attempts": 1}}))))
now = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda: now() - datetime.timedelta(hours=1)
print("skewed", attempt(client("{ADMIN_KEY}", "{ADMIN_SECRET}")))
"#,
        good_key = good.access_key_id,
        good_secret = good.secret,
        good_token = token,
        expired_key = expired.access_key_id,
        expired_secret = expired.secret,
        expired_token = expired.token.unwrap(),
        other_token = other.token.unwrap(),
    );
    let out = s3.python(None, &script);
    assert_eq!(
        out,
        "good ok\n\
         wrong-secret SignatureDoesNotMatch 403\n\
         tampered SignatureDoesNotMatch 403\n\
         unknown-key InvalidAccessKeyId 403\n\
         expired ExpiredToken 400\n\
         forged InvalidToken 400\n\
         mismatched InvalidToken 400\n\
         no-token InvalidAccessKeyId 403\n\
         anonymous AccessDenied 403\n\
         skewed RequestTimeTooSkewed 403\n"
    );

    let reasons: Vec<String> = s3
        .denials()
        .into_iter()
        .map(|e| {
            let code = e
                .reason
                .split([':', ' '])
                .next()
                .unwrap_or_default()
                .to_owned();
            format!("{} {code}", e.principal)
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "unauthenticated SignatureDoesNotMatch".to_owned(),
            "unauthenticated SignatureDoesNotMatch".to_owned(),
            "unauthenticated InvalidAccessKeyId".to_owned(),
            "unauthenticated ExpiredToken".to_owned(),
            "unauthenticated InvalidToken".to_owned(),
            "unauthenticated InvalidToken".to_owned(),
            "unauthenticated InvalidAccessKeyId".to_owned(),
            "anonymous implicitDeny".to_owned(),
            "unauthenticated RequestTimeTooSkewed".to_owned(),
        ]
    );
}
