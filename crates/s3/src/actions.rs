//! What each S3 operation is authorized as: the IAM action and resource ARN AWS documents for it,
//! plus the S3 condition keys the request carries.

use std::borrow::Cow;

use http::{HeaderMap, Uri};
use s3s::path::S3Path;

/// What an action applies to, which decides the resource ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every bucket of the account: `arn:aws:s3:::*`.
    Account,
    /// The bucket: `arn:aws:s3:::BUCKET`.
    Bucket,
    /// The object: `arn:aws:s3:::BUCKET/KEY`.
    Object,
}

/// The action and scope of each supported operation (s3s operation names). Anything else is
/// denied: an operation nobody mapped must not slip through.
const OPERATIONS: &[(&str, &str, Scope)] = &[
    ("ListBuckets", "s3:ListAllMyBuckets", Scope::Account),
    ("CreateBucket", "s3:CreateBucket", Scope::Bucket),
    ("DeleteBucket", "s3:DeleteBucket", Scope::Bucket),
    ("HeadBucket", "s3:ListBucket", Scope::Bucket),
    ("ListObjects", "s3:ListBucket", Scope::Bucket),
    ("ListObjectsV2", "s3:ListBucket", Scope::Bucket),
    ("ListObjectVersions", "s3:ListBucketVersions", Scope::Bucket),
    ("GetBucketLocation", "s3:GetBucketLocation", Scope::Bucket),
    (
        "GetBucketVersioning",
        "s3:GetBucketVersioning",
        Scope::Bucket,
    ),
    ("GetBucketAcl", "s3:GetBucketAcl", Scope::Bucket),
    ("PutBucketAcl", "s3:PutBucketAcl", Scope::Bucket),
    ("GetBucketTagging", "s3:GetBucketTagging", Scope::Bucket),
    ("PutBucketTagging", "s3:PutBucketTagging", Scope::Bucket),
    // AWS documents s3:PutBucketTagging as what DeleteBucketTagging needs.
    ("DeleteBucketTagging", "s3:PutBucketTagging", Scope::Bucket),
    ("PutBucketPolicy", "s3:PutBucketPolicy", Scope::Bucket),
    ("GetBucketPolicy", "s3:GetBucketPolicy", Scope::Bucket),
    ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", Scope::Bucket),
    (
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        Scope::Bucket,
    ),
    // DeleteObjects is authorized per key once its body is parsed (see `access`).
    ("DeleteObjects", "s3:DeleteObject", Scope::Bucket),
    ("GetObject", "s3:GetObject", Scope::Object),
    ("HeadObject", "s3:GetObject", Scope::Object),
    (
        "GetObjectAttributes",
        "s3:GetObjectAttributes",
        Scope::Object,
    ),
    ("PutObject", "s3:PutObject", Scope::Object),
    ("CopyObject", "s3:PutObject", Scope::Object),
    ("CreateMultipartUpload", "s3:PutObject", Scope::Object),
    ("UploadPart", "s3:PutObject", Scope::Object),
    ("UploadPartCopy", "s3:PutObject", Scope::Object),
    ("CompleteMultipartUpload", "s3:PutObject", Scope::Object),
    (
        "AbortMultipartUpload",
        "s3:AbortMultipartUpload",
        Scope::Object,
    ),
    ("ListParts", "s3:ListMultipartUploadParts", Scope::Object),
    ("DeleteObject", "s3:DeleteObject", Scope::Object),
    ("GetObjectAcl", "s3:GetObjectAcl", Scope::Object),
    ("PutObjectAcl", "s3:PutObjectAcl", Scope::Object),
    ("GetObjectTagging", "s3:GetObjectTagging", Scope::Object),
    ("PutObjectTagging", "s3:PutObjectTagging", Scope::Object),
    (
        "DeleteObjectTagging",
        "s3:DeleteObjectTagging",
        Scope::Object,
    ),
];

/// The label metrics give operations podpass does not authorize (all refused).
pub(crate) const UNSUPPORTED_OPERATION: &str = "unsupported";

/// `op`'s name as a static string for labels: the table's, or [`UNSUPPORTED_OPERATION`].
pub(crate) fn operation_label(op: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|(name, _, _)| *name == op)
        .map_or(UNSUPPORTED_OPERATION, |(name, _, _)| name)
}

/// Operations whose authorization sees the object's current tags as `s3:ExistingObjectTag/*`.
const EXISTING_TAG_OPERATIONS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "GetObjectAttributes",
    "GetObjectAcl",
    "PutObjectAcl",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
];

/// Operations that take the new object's tags from `x-amz-tagging`.
const TAGGING_HEADER_OPERATIONS: &[&str] = &["PutObject", "CreateMultipartUpload", "CopyObject"];

/// Tags a request sets, as its condition keys name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestTags {
    /// An object's: `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys`.
    Object(Vec<(String, String)>),
    /// A bucket's: `aws:RequestTag/<key>` and `aws:TagKeys`.
    Bucket(Vec<(String, String)>),
}

/// One authorization to make: action, resource and the S3-specific condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// IAM action, e.g. `s3:GetObject`.
    pub action: &'static str,
    /// Resource ARN.
    pub resource: String,
    /// S3 condition keys (`s3:prefix`, ...) present on the request.
    pub keys: Vec<(&'static str, String)>,
    /// The object (bucket, key) whose current tags the action is decided with, if any.
    pub tagged_object: Option<(String, String)>,
    /// The tags the request sets, if any.
    pub request_tags: Option<RequestTags>,
}

impl Target {
    /// The action on `resource` with no condition keys of its own.
    pub(crate) fn plain(action: &'static str, resource: String) -> Self {
        Target {
            action,
            resource,
            keys: Vec::new(),
            tagged_object: None,
            request_tags: None,
        }
    }
}

/// `arn:aws:s3:::BUCKET`.
pub(crate) fn bucket_arn(bucket: &str) -> String {
    podpass_arn::s3_bucket(bucket)
}

/// `arn:aws:s3:::BUCKET/KEY`.
pub(crate) fn object_arn(bucket: &str, key: &str) -> String {
    podpass_arn::s3_object(bucket, key)
}

/// The authorization target of operation `op` on `path`; `None` for operations podpass does
/// not authorize (denied) or a path that does not fit the operation.
pub(crate) fn target(
    op: &str,
    path: &S3Path,
    signature: Option<Signature>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Target> {
    let &(_, action, scope) = OPERATIONS.iter().find(|(name, _, _)| *name == op)?;
    let resource = match (scope, path) {
        (Scope::Account, _) => "arn:aws:s3:::*".to_owned(),
        (Scope::Bucket, S3Path::Bucket { bucket }) => bucket_arn(bucket),
        (Scope::Object, S3Path::Object { bucket, key }) => object_arn(bucket, key),
        _ => return None,
    };
    let mut keys = Vec::new();
    if matches!(op, "ListObjects" | "ListObjectsV2") {
        for (name, key) in [
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
        ] {
            if let Some(value) = query_value(uri, name) {
                keys.push((key, value));
            }
        }
    }
    keys.extend(request_keys(signature, headers));
    let tagged_object = match path {
        S3Path::Object { bucket, key } if EXISTING_TAG_OPERATIONS.contains(&op) => {
            Some((bucket.to_string(), key.to_string()))
        }
        _ => None,
    };
    let copies_tags =
        op == "CopyObject" && header(headers, "x-amz-tagging-directive") != Some("REPLACE");
    let request_tags = header(headers, "x-amz-tagging")
        .filter(|_| TAGGING_HEADER_OPERATIONS.contains(&op) && !copies_tags)
        .map(|tags| RequestTags::Object(crate::objects::tagging::header_pairs(tags)));
    Some(Target {
        action,
        resource,
        keys,
        tagged_object,
        request_tags,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How a request is signed, as `s3:authType` and `s3:signatureversion` tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    /// In the query (a presigned URL) rather than the `Authorization` header.
    pub in_query: bool,
    /// SigV4 (`AWS4-HMAC-SHA256`) rather than SigV2.
    pub v4: bool,
}

/// A request signed in more than one way, which S3 refuses: the policy keys could otherwise
/// name one signature while s3s verifies another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MixedSignatures;

impl Signature {
    /// How the request of `uri` and `headers` is signed, as s3s sees it: by an
    /// `Authorization` header when exactly one of its values is UTF-8 (s3s drops the others),
    /// SigV2 if it reads `AWS <key>:<signature>` and SigV4 otherwise (s3s verifies anything else
    /// as SigV4, whatever its first word); or by a presigned URL's `X-Amz-Signature` (SigV4) or
    /// `Signature` (SigV2) parameter. `None`: not at all.
    pub(crate) fn of(
        query: &AuthQuery<'_>,
        headers: &HeaderMap,
    ) -> Result<Option<Self>, MixedSignatures> {
        let mut values = headers
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .filter_map(|value| std::str::from_utf8(value.as_bytes()).ok());
        let header = match (values.next(), values.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        };
        let signatures = [
            header.map(|value| Signature {
                in_query: false,
                v4: !value
                    .strip_prefix("AWS ")
                    .is_some_and(|rest| rest.contains(':')),
            }),
            query.v4_signature.then_some(Signature {
                in_query: true,
                v4: true,
            }),
            query.v2_signature.then_some(Signature {
                in_query: true,
                v4: false,
            }),
        ];
        let mut found = signatures.into_iter().flatten();
        let first = found.next();
        match found.next() {
            Some(_) => Err(MixedSignatures),
            None => Ok(first),
        }
    }
}

/// Keys every S3 request carries: how it was signed and the headers S3 policies test.
fn request_keys(signature: Option<Signature>, headers: &HeaderMap) -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    if let Some(Signature { in_query, v4 }) = signature {
        let auth_type = if in_query {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        };
        keys.push(("s3:authType", auth_type.to_owned()));
        let version = if v4 { "AWS4-HMAC-SHA256" } else { "AWS" };
        keys.push(("s3:signatureversion", version.to_owned()));
    }
    for (header, key) in [
        ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
        ("x-amz-acl", "s3:x-amz-acl"),
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        ("x-amz-copy-source", "s3:x-amz-copy-source"),
        ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
    ] {
        if let Some(value) = headers.get(header).and_then(|v| v.to_str().ok()) {
            keys.push((key, value.to_owned()));
        }
    }
    keys
}

/// The query parameters that say whether, how and by whom a request is signed, found in one pass
/// over the query (a presigned URL's carries a session token of a kilobyte or more, so it is
/// scanned once, not once per parameter). Values stay encoded until asked for; the first of
/// each name counts.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AuthQuery<'a> {
    /// `X-Amz-Signature` is present: SigV4 presigned.
    pub v4_signature: bool,
    /// `Signature` is present: SigV2 presigned.
    pub v2_signature: bool,
    credential: Option<&'a str>,
    access_key_id: Option<&'a str>,
    security_token: Option<&'a str>,
    /// `x-amz-security-token`, as SigV2 presigned URLs spell it.
    lower_case_security_token: Option<&'a str>,
    expires: Option<&'a str>,
}

impl<'a> AuthQuery<'a> {
    /// The signing parameters of `uri`'s query.
    pub(crate) fn of(uri: &'a Uri) -> Self {
        let mut found = AuthQuery::default();
        for pair in uri.query().unwrap_or("").split('&') {
            let slot = match &*decoded_key(pair) {
                "X-Amz-Signature" => {
                    found.v4_signature = true;
                    continue;
                }
                "Signature" => {
                    found.v2_signature = true;
                    continue;
                }
                "X-Amz-Credential" => &mut found.credential,
                "AWSAccessKeyId" => &mut found.access_key_id,
                "X-Amz-Security-Token" => &mut found.security_token,
                "x-amz-security-token" => &mut found.lower_case_security_token,
                "X-Amz-Expires" => &mut found.expires,
                _ => continue,
            };
            slot.get_or_insert(pair);
        }
        found
    }

    /// `X-Amz-Credential` (`AKID/date/region/service/aws4_request`).
    pub(crate) fn credential(&self) -> Option<String> {
        decoded_value(self.credential?)
    }

    /// `AWSAccessKeyId` (SigV2).
    pub(crate) fn access_key_id(&self) -> Option<String> {
        decoded_value(self.access_key_id?)
    }

    /// The session token, in either spelling (`X-Amz-Security-Token` first).
    pub(crate) fn security_token(&self) -> Option<String> {
        self.security_token
            .and_then(decoded_value)
            .or_else(|| self.lower_case_security_token.and_then(decoded_value))
    }

    /// `X-Amz-Expires` (SigV4 presigned).
    pub(crate) fn expires(&self) -> Option<String> {
        decoded_value(self.expires?)
    }

    /// Whether this is a SigV2 presigned URL.
    pub(crate) fn presigned_v2(&self) -> bool {
        self.access_key_id.is_some() && self.v2_signature
    }
}

/// The decoded value of query parameter `name`, if present.
pub(crate) fn query_value(uri: &Uri, name: &str) -> Option<String> {
    let pair = uri
        .query()?
        .split('&')
        .find(|pair| decoded_key(pair) == name)?;
    decoded_value(pair)
}

/// The decoded key of one `key=value` pair of a query: only an escaped key is decoded.
fn decoded_key(pair: &str) -> Cow<'_, str> {
    let raw_key = pair.split_once('=').map_or(pair, |(key, _)| key);
    if !raw_key.bytes().any(|b| b == b'%' || b == b'+') {
        return raw_key.into();
    }
    form_urlencoded::parse(raw_key.as_bytes())
        .next()
        .map(|(key, _)| key)
        .unwrap_or_default()
}

/// The decoded value of one `key=value` pair of a query.
fn decoded_value(pair: &str) -> Option<String> {
    let (_, value) = form_urlencoded::parse(pair.as_bytes()).next()?;
    Some(value.into_owned())
}

/// The source object of a CopyObject/UploadPartCopy (`x-amz-copy-source: bucket/key[?versionId=]`),
/// parsed by the same s3s parser that gives the operation its input, so that the key
/// authorized is the key copied.
pub(crate) fn copy_source(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get("x-amz-copy-source")?.to_str().ok()?;
    match s3s::dto::CopySource::parse(raw).ok()? {
        s3s::dto::CopySource::Bucket { bucket, key, .. } => Some((bucket.into(), key.into())),
        // Access point and Outposts sources are not served: nothing to authorize.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn query_values_are_decoded_and_escaped_keys_still_match() {
        let presigned = uri("/b/k?X-Amz-Credential=AKIA%2F20261129%2Fus-east-1&empty&x=1+2");
        assert_eq!(
            query_value(&presigned, "X-Amz-Credential").as_deref(),
            Some("AKIA/20261129/us-east-1")
        );
        assert_eq!(query_value(&presigned, "empty").as_deref(), Some(""));
        assert_eq!(query_value(&presigned, "x").as_deref(), Some("1 2"));
        assert_eq!(query_value(&presigned, "X-Amz-Date"), None);
        let escaped = uri("/b/k?X%2DAmz%2DSecurity%2DToken=t%3D");
        assert_eq!(
            query_value(&escaped, "X-Amz-Security-Token").as_deref(),
            Some("t=")
        );
        assert_eq!(query_value(&uri("/b/k"), "x"), None);
    }

    #[test]
    fn signing_parameters_are_found_in_one_pass_as_query_value_finds_them() {
        let url = uri(
            "/b/k?x=1&X%2DAmz%2DCredential=AKIA%2F20261207%2Fus-east-1&X-Amz-Expires=60\
             &X-Amz-Expires=604801&x-amz-security-token=lower&X-Amz-Security-Token=t%2B1&\
             X-Amz-%53ignature=ab",
        );
        let query = AuthQuery::of(&url);
        for (name, found) in [
            ("X-Amz-Credential", query.credential()),
            ("X-Amz-Expires", query.expires()),
            ("X-Amz-Security-Token", query.security_token()),
        ] {
            assert_eq!(found, query_value(&url, name), "{name}");
        }
        assert_eq!(
            query.credential().as_deref(),
            Some("AKIA/20261207/us-east-1")
        );
        // The first of a repeated parameter counts; the upper-case token spelling wins.
        assert_eq!(query.expires().as_deref(), Some("60"));
        assert_eq!(query.security_token().as_deref(), Some("t+1"));
        assert!(query.v4_signature && !query.v2_signature && !query.presigned_v2());
        assert_eq!(query.access_key_id(), None);

        let v2 = uri("/b/k?AWSAccessKeyId=AKIA&Signature=s&x-amz-security-token=lower");
        let query = AuthQuery::of(&v2);
        assert!(query.presigned_v2() && !query.v4_signature);
        assert_eq!(query.security_token().as_deref(), Some("lower"));
        // A parameter named only as a value, or only in part, is not one.
        let lookalikes = uri("/b/k?a=X-Amz-Signature&X-Amz-Signatures=1&Signature2=s");
        let query = AuthQuery::of(&lookalikes);
        assert!(!query.v4_signature && !query.v2_signature);
        assert_eq!(AuthQuery::of(&uri("/b/k")).credential(), None);
    }

    #[test]
    fn list_objects_carries_prefix_delimiter_and_max_keys() {
        let path = S3Path::bucket("b");
        let target = target(
            "ListObjectsV2",
            &path,
            None,
            &uri("/b?list-type=2&prefix=team%2Fa%2F&delimiter=%2F&max-keys=5"),
            &HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(target.action, "s3:ListBucket");
        assert_eq!(target.resource, "arn:aws:s3:::b");
        assert_eq!(
            target.keys,
            vec![
                ("s3:prefix", "team/a/".to_owned()),
                ("s3:delimiter", "/".to_owned()),
                ("s3:max-keys", "5".to_owned()),
            ]
        );
    }

    #[test]
    fn maps_object_bucket_and_account_operations() {
        let object = S3Path::object("b", "dir/k.txt");
        let none = HeaderMap::new();
        let root = uri("/");
        let get = target("HeadObject", &object, None, &root, &none).unwrap();
        assert_eq!(
            (get.action, get.resource.as_str()),
            ("s3:GetObject", "arn:aws:s3:::b/dir/k.txt")
        );
        let part = target("UploadPart", &object, None, &root, &none).unwrap();
        assert_eq!(part.action, "s3:PutObject");
        let list = target("ListBuckets", &S3Path::root(), None, &root, &none).unwrap();
        assert_eq!(
            (list.action, list.resource.as_str()),
            ("s3:ListAllMyBuckets", "arn:aws:s3:::*")
        );
        let head = target("HeadBucket", &S3Path::bucket("b"), None, &root, &none).unwrap();
        assert_eq!(
            (head.action, head.resource.as_str()),
            ("s3:ListBucket", "arn:aws:s3:::b")
        );
    }

    #[test]
    fn unknown_operations_and_mismatched_paths_have_no_target() {
        let none = HeaderMap::new();
        let root = uri("/");
        assert_eq!(
            target(
                "PutBucketLifecycleConfiguration",
                &S3Path::bucket("b"),
                None,
                &root,
                &none
            ),
            None
        );
        assert_eq!(
            target("GetObject", &S3Path::bucket("b"), None, &root, &none),
            None
        );
    }

    #[test]
    fn presigned_requests_are_query_string_auth() {
        let presigned = uri("/b/k?X-Amz-Signature=abc");
        let none = HeaderMap::new();
        let signature = Signature::of(&AuthQuery::of(&presigned), &none).unwrap();
        let target = target(
            "GetObject",
            &S3Path::object("b", "k"),
            signature,
            &presigned,
            &none,
        )
        .unwrap();
        assert!(
            target
                .keys
                .contains(&("s3:authType", "REST-QUERY-STRING".to_owned()))
        );
        assert!(
            target
                .keys
                .contains(&("s3:signatureversion", "AWS4-HMAC-SHA256".to_owned()))
        );
        let v2_url = uri("/b/k?AWSAccessKeyId=A&Signature=s&Expires=1");
        let v2 = super::target(
            "GetObject",
            &S3Path::object("b", "k"),
            Signature::of(&AuthQuery::of(&v2_url), &none).unwrap(),
            &v2_url,
            &none,
        )
        .unwrap();
        assert!(v2.keys.contains(&("s3:signatureversion", "AWS".to_owned())));
        let mut signed = HeaderMap::new();
        signed.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/s3/aws4_request"
                .parse()
                .unwrap(),
        );
        let header = Signature::of(&AuthQuery::of(&uri("/b/k")), &signed);
        assert_eq!(
            header,
            Ok(Some(Signature {
                in_query: false,
                v4: true
            }))
        );
        assert_eq!(Signature::of(&AuthQuery::of(&uri("/b/k")), &none), Ok(None));
    }

    #[test]
    fn a_request_signed_twice_is_told_apart_and_headers_s3s_ignores_do_not_count() {
        let none = HeaderMap::new();
        let mut v4_header = HeaderMap::new();
        v4_header.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=A".parse().unwrap(),
        );
        let presigned_v4 = uri("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab");
        let presigned_v2 = uri("/b/k?AWSAccessKeyId=A&Expires=1&Signature=s");
        for (url, headers) in [
            (&presigned_v4, &v4_header),
            (&presigned_v2, &v4_header),
            (
                &uri("/b/k?AWSAccessKeyId=A&Signature=s&X-Amz-Signature=x"),
                &none,
            ),
            (&uri("/b/k?X-Amz-%53ignature=x&Signature=s"), &none),
        ] {
            assert_eq!(
                Signature::of(&AuthQuery::of(url), headers),
                Err(MixedSignatures),
                "{url}"
            );
        }
        // s3s ignores an Authorization value that is not UTF-8, and a header with two UTF-8
        // values: so does the policy's view, and the query's signature is the one verified.
        let mut binary = HeaderMap::new();
        binary.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"AWS4-\xff").unwrap(),
        );
        let mut twice = v4_header.clone();
        twice.append(http::header::AUTHORIZATION, "AWS A:s".parse().unwrap());
        for headers in [&binary, &twice] {
            assert_eq!(
                Signature::of(&AuthQuery::of(&presigned_v2), headers),
                Ok(Some(Signature {
                    in_query: true,
                    v4: false
                }))
            );
            assert_eq!(
                Signature::of(&AuthQuery::of(&uri("/b/k")), headers),
                Ok(None)
            );
        }
        // The one UTF-8 value beside one that is not is what s3s verifies; UTF-8 beyond ASCII
        // (a made-up region) counts; only `AWS <key>:<signature>` is SigV2.
        let header_kind = |values: &[&[u8]]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            Signature::of(&AuthQuery::of(&uri("/b/k")), &headers)
                .unwrap()
                .map(|s| s.v4)
        };
        let v4_region = "AWS4-HMAC-SHA256 Credential=A/20261207/\u{e9}/s3/aws4_request";
        assert_eq!(
            header_kind(&[b"\xff", b"AWS4-HMAC-SHA256 Credential=A"]),
            Some(true)
        );
        assert_eq!(header_kind(&[v4_region.as_bytes()]), Some(true));
        assert_eq!(header_kind(&[b"XYZ Credential=A"]), Some(true));
        assert_eq!(header_kind(&[b"AWS Credential=A"]), Some(true));
        assert_eq!(header_kind(&[b"AWS A:c2ln"]), Some(false));
    }

    #[test]
    fn tags_a_request_sets_and_objects_whose_tags_apply() {
        let object = S3Path::object("b", "k");
        let root = uri("/b/k");
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-tagging", "team=red&path=a%2Fb".parse().unwrap());
        let tags = RequestTags::Object(vec![
            ("team".to_owned(), "red".to_owned()),
            ("path".to_owned(), "a/b".to_owned()),
        ]);
        let put = target("PutObject", &object, None, &root, &headers).unwrap();
        assert_eq!(put.request_tags, Some(tags.clone()));
        assert_eq!(put.tagged_object, None);
        // A copy takes the header's tags only when it replaces the source's.
        let copy = target("CopyObject", &object, None, &root, &headers).unwrap();
        assert_eq!(copy.request_tags, None);
        headers.insert("x-amz-tagging-directive", "REPLACE".parse().unwrap());
        let copy = target("CopyObject", &object, None, &root, &headers).unwrap();
        assert_eq!(copy.request_tags, Some(tags));
        // Reads are decided with the object's current tags; a tag header means nothing there.
        let get = target("GetObject", &object, None, &root, &headers).unwrap();
        assert_eq!(get.tagged_object, Some(("b".to_owned(), "k".to_owned())));
        assert_eq!(get.request_tags, None);
        let untag = target(
            "DeleteBucketTagging",
            &S3Path::bucket("b"),
            None,
            &root,
            &headers,
        )
        .unwrap();
        assert_eq!(untag.action, "s3:PutBucketTagging");
    }

    #[test]
    fn parses_copy_sources() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-copy-source",
            "/src/a%20b/c.txt?versionId=1".parse().unwrap(),
        );
        assert_eq!(
            copy_source(&headers),
            Some(("src".to_owned(), "a b/c.txt".to_owned()))
        );
        headers.insert("x-amz-copy-source", "justabucket".parse().unwrap());
        assert_eq!(copy_source(&headers), None);
        // Only `?versionId=` ends the key: anything else after a `?` is part of it, as the
        // copy itself reads it.
        headers.insert(
            "x-amz-copy-source",
            "src/report?x/../secret".parse().unwrap(),
        );
        assert_eq!(
            copy_source(&headers),
            Some(("src".to_owned(), "report?x/../secret".to_owned()))
        );
    }
}
