//! Replays the AWS SigV4 test suite (`shared/conformance/aws-sig-v4-test-suite`).

use std::fs;
use std::path::{Path, PathBuf};

use podpass_sigv4::{
    AuthInfo, PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, canonical_request,
    parse_amz_date, parse_auth, sha256_hex, string_to_sign, verify,
};

/// The suite, found at run time from the package directory (a test binary reused from another
/// checkout must not read that one's).
fn suite() -> String {
    format!(
        "{}/../../../shared/conformance/aws-sig-v4-test-suite/aws-sig-v4-test-suite",
        std::env::var("CARGO_MANIFEST_DIR").unwrap()
    )
}
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SERVICES: &[&str] = &["service"];

/// A request parsed from the suite's raw HTTP format.
#[derive(Clone)]
struct RawRequest {
    method: String,
    path: String,
    query: String,
    /// Header lines; a folded continuation line counts as another value of the same header,
    /// which is how the suite's `.creq` files join them (`value1,value2,value3`).
    headers: Vec<(String, String)>,
    body_hash: String,
}

impl RawRequest {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        let target = rest.strip_suffix(" HTTP/1.1").unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                let name = headers.last().unwrap().0.clone();
                headers.push((name, line.to_owned()));
            } else {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body_hash: sha256_hex(body.as_bytes()),
        }
    }

    fn view(&self) -> RequestView<'_> {
        let mut view = RequestView::new(&self.method, &self.path, &self.query, &self.body_hash);
        for (name, value) in &self.headers {
            view.push_header(name, value.as_bytes());
        }
        view
    }

    fn set_header(&mut self, name: &str, value: &str) {
        let entry = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap();
        entry.1 = value.to_owned();
    }
}

struct Case {
    name: String,
    dir: PathBuf,
}

/// Upstream erratum: this case's `.sts`, `.authz` and `.sreq` signature were computed over
/// `Content-Type: ...; charset=utf8` although its `.req`, `.sreq` and `.creq` say `charset=utf-8`
/// (the `.sts` hash is the SHA-256 of the `.creq` with that one change and without content-length).
const CHARSET_ERRATUM_CASE: &str = "post-x-www-form-urlencoded-parameters";

impl Case {
    fn file(&self, ext: &str) -> String {
        let leaf = Path::new(&self.name).file_name().unwrap().to_str().unwrap();
        fs::read_to_string(self.dir.join(format!("{leaf}.{ext}"))).unwrap()
    }

    /// The `.req` as the `.sts` was computed (erratum applied).
    fn request_as_signed(&self) -> RawRequest {
        self.with_erratum(RawRequest::parse(&self.file("req")))
    }

    /// The `.sreq` as its signature was computed (erratum applied).
    fn signed_request(&self) -> RawRequest {
        self.with_erratum(RawRequest::parse(&self.file("sreq")))
    }

    fn with_erratum(&self, mut raw: RawRequest) -> RawRequest {
        if self.name == CHARSET_ERRATUM_CASE {
            raw.set_header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf8",
            );
        }
        raw
    }
}

fn cases() -> Vec<Case> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<Case>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_dir() {
                continue;
            }
            let leaf = path.file_name().unwrap().to_str().unwrap().to_owned();
            let name = format!("{prefix}{leaf}");
            if path.join(format!("{leaf}.req")).exists() {
                out.push(Case {
                    name,
                    dir: path.clone(),
                });
            } else {
                walk(&path, &format!("{name}/"), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(&suite()), "", &mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn now() -> jiff::Timestamp {
    parse_amz_date("20150830T123600Z").unwrap()
}

fn options() -> VerifyOptions<'static> {
    VerifyOptions::new(SERVICES, now())
}

/// Signed headers as listed on the `SignedHeaders` line (6th from the end) of a `.creq`.
fn creq_signed_headers(creq: &str) -> Vec<String> {
    let lines: Vec<&str> = creq.split('\n').collect();
    lines[lines.len() - 2]
        .split(';')
        .map(str::to_owned)
        .collect()
}

fn verify_raw(raw: &RawRequest) -> Result<(), SigV4Error> {
    let view = raw.view();
    let auth = parse_auth(&view)?;
    let key = SigningKey::derive(SECRET, &auth.scope);
    verify(&view, &auth, &key, &options())
}

fn signed_auth(case: &Case) -> (RawRequest, AuthInfo) {
    let signed = case.signed_request();
    let auth = parse_auth(&signed.view()).unwrap();
    (signed, auth)
}

#[test]
fn suite_has_every_case() {
    let names: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 31, "{names:?}");
    assert!(names.contains(&"normalize-path/get-space".to_owned()));
    assert!(names.contains(&"post-sts-token/post-sts-header-before".to_owned()));
}

#[test]
fn canonical_requests_match_creq() {
    for case in cases() {
        let raw = RawRequest::parse(&case.file("req"));
        let expected = case.file("creq");
        // The .creq lists its own signed headers; for the two form-urlencoded errata they
        // differ from what the .sts/.sreq were computed with (content-length is included).
        let (_, mut auth) = signed_auth(&case);
        auth.signed_headers = creq_signed_headers(&expected);
        let actual = canonical_request(&raw.view(), &auth, PathMode::Normalized).unwrap();
        assert_eq!(actual, expected, "case {}", case.name);
    }
}

#[test]
fn strings_to_sign_match_sts_and_signatures_match_authz() {
    for case in cases() {
        let raw = case.request_as_signed();
        let (_, auth) = signed_auth(&case);
        let creq = canonical_request(&raw.view(), &auth, PathMode::Normalized).unwrap();
        let sts = string_to_sign(&auth.amz_date, &auth.scope, &creq);
        assert_eq!(sts, case.file("sts"), "case {}", case.name);
        let key = SigningKey::derive(SECRET, &auth.scope);
        let authz = case.file("authz");
        assert!(
            authz.ends_with(&format!("Signature={}", key.sign(&sts))),
            "case {}",
            case.name
        );
    }
}

#[test]
fn signed_requests_verify() {
    for case in cases() {
        let signed = case.signed_request();
        assert_eq!(verify_raw(&signed), Ok(()), "case {}", case.name);
    }
}

#[test]
fn charset_erratum_is_exactly_the_known_one() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == CHARSET_ERRATUM_CASE)
        .unwrap();
    let as_published = RawRequest::parse(&case.file("sreq"));
    assert!(matches!(
        verify_raw(&as_published),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    assert_eq!(verify_raw(&case.signed_request()), Ok(()));
}

#[test]
fn session_token_cases_expose_the_token() {
    let token = fs::read_to_string(format!("{}/post-sts-token/readme.txt", suite())).unwrap();
    let token = token.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    for case in cases()
        .iter()
        .filter(|c| c.name.starts_with("post-sts-token/"))
    {
        let (_, auth) = signed_auth(case);
        assert_eq!(
            auth.security_token.as_deref(),
            Some(token),
            "case {}",
            case.name
        );
        let token_signed = auth
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token");
        assert_eq!(
            token_signed,
            case.name.ends_with("before"),
            "case {}",
            case.name
        );
    }
}

fn assert_mismatch(result: Result<(), SigV4Error>, what: &str, case: &Case) {
    assert!(
        matches!(result, Err(SigV4Error::SignatureMismatch { .. })),
        "case {} with {what} changed: {result:?}",
        case.name
    );
}

#[test]
fn changed_signed_header_values_are_rejected() {
    for case in cases() {
        let (signed, auth) = signed_auth(&case);
        for header in auth.signed_headers.iter().filter(|h| *h != "x-amz-date") {
            let mut tampered = signed.clone();
            let original = tampered
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(header))
                .unwrap()
                .1
                .clone();
            tampered.set_header(header, &format!("{original}x"));
            assert_mismatch(verify_raw(&tampered), header, &case);
        }
    }
}

#[test]
fn changed_date_is_rejected() {
    for case in cases() {
        let (mut tampered, _) = signed_auth(&case);
        tampered.set_header("X-Amz-Date", "20150830T123601Z");
        assert_mismatch(verify_raw(&tampered), "date", &case);
        tampered.set_header("X-Amz-Date", "20150831T123600Z");
        let result = verify_raw(&tampered);
        assert!(
            matches!(result, Err(SigV4Error::ScopeDateMismatch { .. })),
            "case {}: {result:?}",
            case.name
        );
    }
}

#[test]
fn changed_path_is_rejected() {
    for case in cases() {
        let (mut tampered, _) = signed_auth(&case);
        tampered.path.push('x');
        assert_mismatch(verify_raw(&tampered), "path", &case);
    }
}

#[test]
fn changed_or_added_query_is_rejected() {
    for case in cases() {
        let (signed, _) = signed_auth(&case);
        let mut added = signed.clone();
        added.query = if added.query.is_empty() {
            "extra=1".to_owned()
        } else {
            format!("{}&extra=1", added.query)
        };
        assert_mismatch(verify_raw(&added), "query (added)", &case);
        if !signed.query.is_empty() {
            let mut changed = signed.clone();
            changed.query.push('x');
            assert_mismatch(verify_raw(&changed), "query (value)", &case);
        }
    }
}

#[test]
fn changed_body_is_rejected() {
    for case in cases() {
        let (mut tampered, _) = signed_auth(&case);
        tampered.body_hash = sha256_hex(b"tampered");
        assert_mismatch(verify_raw(&tampered), "body", &case);
    }
}

#[test]
fn changed_signature_or_secret_is_rejected() {
    for case in cases() {
        let (signed, auth) = signed_auth(&case);
        let view = signed.view();
        let wrong_key = SigningKey::derive("not-the-secret", &auth.scope);
        assert_mismatch(
            verify(&view, &auth, &wrong_key, &options()),
            "secret",
            &case,
        );
        let mut wrong_region = auth.clone();
        wrong_region.scope.region = "us-west-2".into();
        let key = SigningKey::derive(SECRET, &wrong_region.scope);
        assert_mismatch(
            verify(&view, &wrong_region, &key, &options()),
            "region",
            &case,
        );
    }
}

#[test]
fn unsigned_headers_may_change() {
    for case in cases() {
        let (mut signed, _) = signed_auth(&case);
        signed
            .headers
            .push(("User-Agent".to_owned(), "test/1.0".to_owned()));
        assert_eq!(verify_raw(&signed), Ok(()), "case {}", case.name);
    }
}

#[test]
fn suite_requests_are_rejected_by_other_services_and_late_clocks() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "get-vanilla")
        .unwrap();
    let (signed, auth) = signed_auth(&case);
    let view = signed.view();
    let key = SigningKey::derive(SECRET, &auth.scope);
    assert_eq!(
        verify(&view, &auth, &key, &VerifyOptions::new(&["sts"], now())),
        Err(SigV4Error::WrongService {
            service: "service".into()
        })
    );
    let late = VerifyOptions::new(SERVICES, parse_amz_date("20150830T130000Z").unwrap());
    let result = verify(&view, &auth, &key, &late);
    assert_eq!(
        result.as_ref().map_err(SigV4Error::aws_code),
        Err("SignatureDoesNotMatch")
    );
}
