//! Extraction of SigV4 credentials from the `Authorization` header or a presigned query.

use jiff::Timestamp;

use crate::encode::query_pairs;
use crate::error::{MalformedReason, SigV4Error};
use crate::request::RequestView;
use crate::time::parse_amz_date;
use crate::{ALGORITHM, SCOPE_TERMINATOR};

/// Longest presigned URL lifetime AWS accepts (7 days).
pub const MAX_PRESIGN_EXPIRES_SECONDS: u32 = 604_800;

const Q_ALGORITHM: &str = "X-Amz-Algorithm";
const Q_CREDENTIAL: &str = "X-Amz-Credential";
const Q_DATE: &str = "X-Amz-Date";
const Q_EXPIRES: &str = "X-Amz-Expires";
const Q_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const Q_SIGNATURE: &str = "X-Amz-Signature";
const Q_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
const PRESIGN_PARAMS: [&str; 7] = [
    Q_ALGORITHM,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SIGNED_HEADERS,
    Q_SIGNATURE,
    Q_SECURITY_TOKEN,
];

/// The `<yyyymmdd>/<region>/<service>` part of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// `yyyymmdd`.
    pub date: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Signing service name, e.g. `sts`.
    pub service: String,
}

impl CredentialScope {
    /// `<date>/<region>/<service>/aws4_request`, as it appears in the string to sign.
    pub fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// `Authorization` header.
    Header,
    /// Presigned URL, valid for `expires_seconds` after `X-Amz-Date`.
    Query {
        /// `X-Amz-Expires`.
        expires_seconds: u32,
    },
}

/// Everything a SigV4 signature claims, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Access key id from the credential.
    pub access_key_id: String,
    /// Credential scope.
    pub scope: CredentialScope,
    /// `X-Amz-Date` exactly as sent (part of the string to sign).
    pub amz_date: String,
    /// `X-Amz-Date` as a timestamp.
    pub request_time: Timestamp,
    /// Lower-case signed header names, as listed by the client.
    pub signed_headers: Vec<String>,
    /// Hex signature claimed by the client.
    pub signature: String,
    /// `X-Amz-Security-Token` (header or query), signed or not.
    pub security_token: Option<String>,
    /// Header or presigned query.
    pub location: AuthLocation,
}

impl AuthInfo {
    /// `X-Amz-Expires` of a presigned request; `None` for header authentication.
    pub fn presign_expires(&self) -> Option<u32> {
        match self.location {
            AuthLocation::Header => None,
            AuthLocation::Query { expires_seconds } => Some(expires_seconds),
        }
    }
}

/// Parses the SigV4 authentication of a request.
///
/// Returns [`SigV4Error::NotSigned`] when the request carries neither an `Authorization` header
/// nor any presigned `X-Amz-*` query parameter.
pub fn parse_auth(request: &RequestView<'_>) -> Result<AuthInfo, SigV4Error> {
    let header = request.header("authorization");
    let query = PresignParams::collect(request.query())?;
    match (header, query.is_present()) {
        (None, false) => Err(SigV4Error::NotSigned),
        (Some(_), true) => Err(SigV4Error::AmbiguousAuth),
        (Some(value), false) => parse_header_auth(request, value),
        (None, true) => parse_query_auth(request, &query),
    }
}

fn parse_header_auth(request: &RequestView<'_>, value: &[u8]) -> Result<AuthInfo, SigV4Error> {
    let value = utf8(value, "Authorization")?.trim();
    let (algorithm, components) = value.split_once(' ').ok_or_else(|| match value {
        ALGORITHM => SigV4Error::Malformed(MalformedReason::MissingComponents),
        other => SigV4Error::UnsupportedAlgorithm(other.to_owned()),
    })?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in components.split(',').map(str::trim) {
        let (name, component_value) = component
            .split_once('=')
            .ok_or_else(|| MalformedReason::BadComponent(component.to_owned()))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            // Unknown components carry nothing we sign; ignore them like AWS does.
            _ => continue,
        };
        if slot.replace(component_value).is_some() {
            return Err(MalformedReason::Duplicate(name.to_owned()).into());
        }
    }
    let credential = credential.ok_or(MalformedReason::MissingComponent("Credential"))?;
    let signed_headers =
        signed_headers.ok_or(MalformedReason::MissingComponent("SignedHeaders"))?;
    let signature = signature.ok_or(MalformedReason::MissingComponent("Signature"))?;
    let amz_date = request
        .header("x-amz-date")
        .ok_or(MalformedReason::MissingDate)?;
    let amz_date = utf8(amz_date, "X-Amz-Date")?;
    let security_token = request
        .header("x-amz-security-token")
        .map(|token| utf8(token, "X-Amz-Security-Token").map(str::to_owned))
        .transpose()?;
    build(
        credential,
        amz_date,
        signed_headers,
        signature,
        security_token,
        AuthLocation::Header,
    )
}

fn parse_query_auth(
    request: &RequestView<'_>,
    query: &PresignParams,
) -> Result<AuthInfo, SigV4Error> {
    let algorithm = query.required(Q_ALGORITHM)?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let expires_raw = query.required(Q_EXPIRES)?;
    let expires_seconds = expires_raw
        .parse::<u32>()
        .ok()
        .filter(|secs| (1..=MAX_PRESIGN_EXPIRES_SECONDS).contains(secs))
        .ok_or_else(|| MalformedReason::BadExpires(expires_raw.to_owned()))?;
    let header_token = request
        .header("x-amz-security-token")
        .map(|token| utf8(token, "X-Amz-Security-Token"))
        .transpose()?;
    let security_token = header_token
        .or(query.get(Q_SECURITY_TOKEN))
        .map(str::to_owned);
    build(
        query.required(Q_CREDENTIAL)?,
        query.required(Q_DATE)?,
        query.required(Q_SIGNED_HEADERS)?,
        query.required(Q_SIGNATURE)?,
        security_token,
        AuthLocation::Query { expires_seconds },
    )
}

fn build(
    credential: &str,
    amz_date: &str,
    signed_headers: &str,
    signature: &str,
    security_token: Option<String>,
    location: AuthLocation,
) -> Result<AuthInfo, SigV4Error> {
    let (access_key_id, scope) = parse_credential(credential)?;
    let request_time =
        parse_amz_date(amz_date).ok_or_else(|| MalformedReason::BadDate(amz_date.to_owned()))?;
    Ok(AuthInfo {
        access_key_id,
        scope,
        amz_date: amz_date.to_owned(),
        request_time,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: signature.to_owned(),
        security_token,
        location,
    })
}

fn parse_credential(credential: &str) -> Result<(String, CredentialScope), SigV4Error> {
    let bad = || MalformedReason::BadCredential(credential.to_owned());
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(bad().into());
    };
    let well_formed = !access_key_id.is_empty()
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && !region.is_empty()
        && !service.is_empty()
        && *terminator == SCOPE_TERMINATOR;
    if !well_formed {
        return Err(bad().into());
    }
    Ok((
        (*access_key_id).to_owned(),
        CredentialScope {
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
        },
    ))
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names
        .iter()
        .any(|name| name.is_empty() || name.trim() != name)
    {
        return Err(MalformedReason::BadSignedHeaders(list.to_owned()).into());
    }
    Ok(names)
}

fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, SigV4Error> {
    std::str::from_utf8(bytes).map_err(|_| MalformedReason::NotUtf8(what).into())
}

/// The decoded `X-Amz-*` presign parameters of a query string.
struct PresignParams {
    values: [Option<String>; PRESIGN_PARAMS.len()],
}

impl PresignParams {
    fn collect(raw_query: &str) -> Result<Self, SigV4Error> {
        let mut values: [Option<String>; PRESIGN_PARAMS.len()] = Default::default();
        for (name, value) in query_pairs(raw_query) {
            let Some(index) = PRESIGN_PARAMS
                .iter()
                .position(|known| known.as_bytes() == name.as_slice())
            else {
                continue;
            };
            let value = String::from_utf8(value)
                .map_err(|_| MalformedReason::NotUtf8(PRESIGN_PARAMS[index]))?;
            if values[index].replace(value).is_some() {
                return Err(MalformedReason::Duplicate(PRESIGN_PARAMS[index].to_owned()).into());
            }
        }
        Ok(Self { values })
    }

    /// True when any presign parameter other than the security token is present: a partial
    /// presigned URL is a broken signature, not an anonymous request.
    fn is_present(&self) -> bool {
        PRESIGN_PARAMS
            .iter()
            .zip(&self.values)
            .any(|(name, value)| *name != Q_SECURITY_TOKEN && value.is_some())
    }

    fn get(&self, name: &str) -> Option<&str> {
        PRESIGN_PARAMS
            .iter()
            .position(|known| *known == name)
            .and_then(|index| self.values[index].as_deref())
    }

    fn required(&self, name: &'static str) -> Result<&str, SigV4Error> {
        self.get(name)
            .ok_or_else(|| MalformedReason::MissingQueryParameter(name).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::EMPTY_PAYLOAD_SHA256;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    const DATE: &str = "20150830T123600Z";

    fn header_request(authorization: &'static str) -> RequestView<'static> {
        RequestView::new("GET", "/", "", EMPTY_PAYLOAD_SHA256)
            .with_header("Host", b"example.amazonaws.com")
            .with_header("X-Amz-Date", DATE.as_bytes())
            .with_header("Authorization", authorization.as_bytes())
    }

    fn malformed(request: &RequestView<'_>) -> MalformedReason {
        match parse_auth(request) {
            Err(SigV4Error::Malformed(reason)) => reason,
            other => panic!("expected a malformed error, got {other:?}"),
        }
    }

    #[test]
    fn parses_header_auth() {
        let request = header_request(AUTH).with_header("X-Amz-Security-Token", b"tok");
        let auth = parse_auth(&request).unwrap();
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(
            auth.scope,
            CredentialScope {
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "service".into()
            }
        );
        assert_eq!(
            auth.scope.to_scope_string(),
            "20150830/us-east-1/service/aws4_request"
        );
        assert_eq!(auth.amz_date, DATE);
        assert_eq!(auth.request_time.as_second(), 1_440_938_160);
        assert_eq!(auth.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(
            auth.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(auth.security_token.as_deref(), Some("tok"));
        assert_eq!(auth.location, AuthLocation::Header);
        assert_eq!(auth.presign_expires(), None);
    }

    #[test]
    fn header_components_may_come_in_any_order_without_spaces() {
        let request = header_request(
            "AWS4-HMAC-SHA256 Signature=ab,SignedHeaders=Host;X-Amz-Date,Credential=K/20150830/r/s/aws4_request",
        );
        let auth = parse_auth(&request).unwrap();
        assert_eq!(auth.access_key_id, "K");
        assert_eq!(auth.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(auth.signature, "ab");
    }

    #[test]
    fn unsigned_request_is_not_signed() {
        let request = RequestView::new("GET", "/", "a=1&X-Amz-Security-Token=t", "x")
            .with_header("Host", b"h");
        assert_eq!(parse_auth(&request), Err(SigV4Error::NotSigned));
    }

    #[test]
    fn both_header_and_query_is_ambiguous() {
        let mut request = header_request(AUTH);
        request.set_query("X-Amz-Algorithm=AWS4-HMAC-SHA256");
        assert_eq!(parse_auth(&request), Err(SigV4Error::AmbiguousAuth));
    }

    #[test]
    fn rejects_other_algorithms() {
        assert_eq!(
            parse_auth(&header_request("AWS AKID:sig")),
            Err(SigV4Error::UnsupportedAlgorithm("AWS".into()))
        );
        assert_eq!(
            parse_auth(&header_request("Bearer")),
            Err(SigV4Error::UnsupportedAlgorithm("Bearer".into()))
        );
        let presigned = RequestView::new("GET", "/", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256", "x");
        assert_eq!(
            parse_auth(&presigned),
            Err(SigV4Error::UnsupportedAlgorithm(
                "AWS4-ECDSA-P256-SHA256".into()
            ))
        );
    }

    #[test]
    fn header_parse_errors() {
        assert_eq!(
            malformed(&header_request("AWS4-HMAC-SHA256")),
            MalformedReason::MissingComponents
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab"
            )),
            MalformedReason::MissingComponent("Credential")
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, Signature=ab"
            )),
            MalformedReason::MissingComponent("SignedHeaders")
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders=host"
            )),
            MalformedReason::MissingComponent("Signature")
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, Credential=K/20150830/r/s/aws4_request, SignedHeaders=host, Signature=ab"
            )),
            MalformedReason::Duplicate("Credential".into())
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders, Signature=ab"
            )),
            MalformedReason::BadComponent("SignedHeaders".into())
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders=host;;x-amz-date, Signature=ab"
            )),
            MalformedReason::BadSignedHeaders("host;;x-amz-date".into())
        );
        assert_eq!(
            malformed(&header_request(
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders=, Signature=ab"
            )),
            MalformedReason::BadSignedHeaders(String::new())
        );
    }

    #[test]
    fn credential_parse_errors() {
        for credential in [
            "K/20150830/r/s",
            "K/20150830/r/s/aws4_request/x",
            "K/2015083/r/s/aws4_request",
            "K/2015083x/r/s/aws4_request",
            "/20150830/r/s/aws4_request",
            "K/20150830//s/aws4_request",
            "K/20150830/r//aws4_request",
            "K/20150830/r/s/aws4_response",
        ] {
            let header = format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=ab"
            );
            let request = RequestView::new("GET", "/", "", "x")
                .with_header("x-amz-date", DATE.as_bytes())
                .with_header("authorization", header.as_bytes());
            assert_eq!(
                malformed(&request),
                MalformedReason::BadCredential(credential.into()),
                "{credential}"
            );
        }
    }

    #[test]
    fn header_auth_date_errors() {
        let no_date =
            RequestView::new("GET", "/", "", "x").with_header("authorization", AUTH.as_bytes());
        assert_eq!(malformed(&no_date), MalformedReason::MissingDate);
        let bad_date = RequestView::new("GET", "/", "", "x")
            .with_header("authorization", AUTH.as_bytes())
            .with_header("x-amz-date", b"Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(
            malformed(&bad_date),
            MalformedReason::BadDate("Sun, 30 Aug 2015 12:36:00 GMT".into())
        );
        let non_utf8 = RequestView::new("GET", "/", "", "x").with_header("authorization", b"\xff");
        assert_eq!(
            malformed(&non_utf8),
            MalformedReason::NotUtf8("Authorization")
        );
    }

    const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=a%2Bb&X-Amz-Signature=abcd&Other=1";

    #[test]
    fn parses_presigned_query() {
        let request = RequestView::new("GET", "/", PRESIGNED, "UNSIGNED-PAYLOAD")
            .with_header("host", b"example.amazonaws.com");
        let auth = parse_auth(&request).unwrap();
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.scope.service, "service");
        assert_eq!(auth.signed_headers, vec!["host"]);
        assert_eq!(auth.signature, "abcd");
        assert_eq!(auth.security_token.as_deref(), Some("a+b"));
        assert_eq!(
            auth.location,
            AuthLocation::Query {
                expires_seconds: 60
            }
        );
        assert_eq!(auth.presign_expires(), Some(60));
    }

    #[test]
    fn presigned_parse_errors() {
        let without = |name: &str| -> String {
            PRESIGNED
                .split('&')
                .filter(|pair| !pair.starts_with(&format!("{name}=")))
                .collect::<Vec<_>>()
                .join("&")
        };
        for name in [
            Q_CREDENTIAL,
            Q_DATE,
            Q_EXPIRES,
            Q_SIGNED_HEADERS,
            Q_SIGNATURE,
            Q_ALGORITHM,
        ] {
            let query = without(name);
            let request = RequestView::new("GET", "/", &query, "x");
            assert_eq!(
                malformed(&request),
                MalformedReason::MissingQueryParameter(name),
                "{name}"
            );
        }
        for expires in ["0", "604801", "-1", "1.5", ""] {
            let query = PRESIGNED.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={expires}"));
            let request = RequestView::new("GET", "/", &query, "x");
            assert_eq!(
                malformed(&request),
                MalformedReason::BadExpires(expires.into()),
                "{expires}"
            );
        }
        let seven_days = PRESIGNED.replace("X-Amz-Expires=60", "X-Amz-Expires=604800");
        let request = RequestView::new("GET", "/", &seven_days, "x");
        assert_eq!(
            parse_auth(&request).unwrap().presign_expires(),
            Some(604_800)
        );

        let duplicated = format!("{PRESIGNED}&X-Amz-Signature=ef");
        let request = RequestView::new("GET", "/", &duplicated, "x");
        assert_eq!(
            malformed(&request),
            MalformedReason::Duplicate(Q_SIGNATURE.into())
        );
        let non_utf8 = format!("{PRESIGNED}&X-Amz-Security-Token=%FF");
        let request = RequestView::new("GET", "/", &non_utf8, "x");
        assert_eq!(
            malformed(&request),
            MalformedReason::NotUtf8(Q_SECURITY_TOKEN)
        );
    }
}
