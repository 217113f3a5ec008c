//! Every signature version podpass accepts is held to a time window: SigV4 headers and SigV2
//! headers to 15 minutes either side of the server's clock, presigned URLs (SigV4 and SigV2)
//! to their expiry, SigV4 presigned URLs to at most seven days. Signed by botocore itself.

mod support;

use support::*;

#[test]
fn sigv2_header_signatures_expire_like_sigv4() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://signed"]);
    // botocore's SigV2 signer ("s3") stamps `Date` with formatdate(); replay one signed a day
    // ago, one from the future, and garbage.
    let script = r#"
import email.utils, time
import boto3, botocore.auth
from botocore.config import Config
s3 = boto3.client("s3", config=Config(signature_version="s3"))
def attempt(date):
    botocore.auth.formatdate = lambda usegmt=True: date
    try:
        s3.put_object(Bucket="signed", Key="k", Body=b"v")
        return "ok"
    except botocore.exceptions.ClientError as e:
        return f'{e.response["ResponseMetadata"]["HTTPStatusCode"]} {e.response["Error"]["Code"]}'
now = time.time()
print(attempt(email.utils.formatdate(now, usegmt=True)))
print(attempt(email.utils.formatdate(now - 86400, usegmt=True)))
print(attempt(email.utils.formatdate(now + 3600, usegmt=True)))
print(attempt("garbage"))
"#;
    assert_eq!(
        s3.python(Some(&admin), script),
        "ok\n403 RequestTimeTooSkewed\n403 RequestTimeTooSkewed\n403 AccessDenied\n"
    );
    // Each refusal is in the audit trail, with its reason.
    let skewed = s3
        .denials()
        .into_iter()
        .filter(|e| e.reason.starts_with("RequestTimeTooSkewed"))
        .count();
    assert_eq!(skewed, 2);
}

#[test]
fn presigned_urls_are_valid_for_at_most_a_week() {
    let s3 = S3Endpoint::start();
    let admin = s3.admin();
    s3.aws_ok(&admin, &["s3", "mb", "s3://presigned"]);
    let script = r#"
import urllib.request, urllib.error
import boto3
from botocore.config import Config
s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
s3.put_object(Bucket="presigned", Key="k", Body=b"v")
def fetch(expires):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=expires)
    try:
        return urllib.request.urlopen(url).read().decode()
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        return f'{e.code} {body.split("<Code>")[1].split("</Code>")[0]}'
print(fetch(604800))
print(fetch(604801))
"#;
    assert_eq!(
        s3.python(Some(&admin), script),
        "v\n400 AuthorizationQueryParametersError\n"
    );
}
