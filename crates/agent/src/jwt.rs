//! The reference agent's basic token checks: parse the JWT without verifying its signature
//! (golang-jwt v5 `ParseUnverified`) and validate `exp`/`nbf` against the clock. Signature, issuer
//! and audience are EKS Auth's job.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jiff::Timestamp;
use serde_json::{Map, Value};

/// Go's `base64.RawURLEncoding` in non-strict mode: no padding, trailing bits tolerated.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// `alg` values golang-jwt v5 knows; any other makes the token unverifiable.
const KNOWN_ALGORITHMS: [&str; 14] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA", "none",
];

/// Why a service-account token was rejected before calling EKS Auth; `Display` is the 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization` header, or an empty one.
    #[error("Service account token cannot be empty")]
    Empty,
    /// Not a structurally valid JWT.
    #[error("Service account token cannot be parsed: {0}")]
    Unparsable(String),
    /// `exp` has passed or `nbf` is in the future.
    #[error("Service account token failed basic claim validations: {0}")]
    InvalidClaims(String),
}

/// Runs the reference agent's checks on the raw `Authorization` value.
pub fn check_token(token: &str, now: Timestamp) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    let claims = parse_unverified(token).map_err(TokenError::Unparsable)?;
    validate_times(&claims, now.as_second()).map_err(TokenError::InvalidClaims)
}

/// The registered time claims, in whole seconds (golang-jwt truncates to its 1 s precision).
#[derive(Debug, Default, PartialEq)]
struct TimeClaims {
    expires_at: Option<i64>,
    not_before: Option<i64>,
}

fn parse_unverified(token: &str) -> Result<TimeClaims, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let &[header, claims, _signature] = parts.as_slice() else {
        return Err(malformed("token contains an invalid number of segments"));
    };
    let header = decode_object(header, "header")?;
    let claims = decode_object(claims, "claim")?;
    let time_claims = registered_claims(&claims)
        .map_err(|detail| malformed(&format!("could not JSON decode claim: {detail}")))?;
    match header.get("alg") {
        Some(Value::String(alg)) if KNOWN_ALGORITHMS.contains(&alg.as_str()) => Ok(time_claims),
        Some(Value::String(_)) => {
            Err("token is unverifiable: signing method (alg) is unavailable".into())
        }
        _ => Err("token is unverifiable: signing method (alg) is unspecified".into()),
    }
}

fn malformed(detail: &str) -> String {
    format!("token is malformed: {detail}")
}

fn decode_object(segment: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = RAW_URL
        .decode(segment)
        .map_err(|e| malformed(&format!("could not base64 decode {what}: {e}")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(malformed(&format!(
            "could not JSON decode {what}: expected an object, got {}",
            json_kind(&other)
        ))),
        Err(e) => Err(malformed(&format!("could not JSON decode {what}: {e}"))),
    }
}

/// Type-checks the registered claims as Go's `jwt.RegisteredClaims` unmarshalling would.
fn registered_claims(claims: &Map<String, Value>) -> Result<TimeClaims, String> {
    for name in ["iss", "sub", "jti"] {
        match claims.get(name) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => {
                return Err(format!("{name} must be a string, got {}", json_kind(other)));
            }
        }
    }
    match claims.get("aud") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Err("aud must be a string or an array of strings".into()),
    }
    numeric_date(claims, "iat")?;
    Ok(TimeClaims {
        expires_at: numeric_date(claims, "exp")?,
        not_before: numeric_date(claims, "nbf")?,
    })
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(number
            .as_i64()
            // Saturating float-to-int cast: absurd values stay ordered, never panic.
            .or_else(|| number.as_f64().map(|seconds| seconds.floor() as i64))),
        Some(other) => Err(format!("{name} must be a number, got {}", json_kind(other))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// golang-jwt v5 `Validator` defaults: `exp` must be after now, `nbf` not after now; errors are
/// joined with newlines as `errors.Join` does.
fn validate_times(claims: &TimeClaims, now: i64) -> Result<(), String> {
    let mut failures = Vec::new();
    if claims.expires_at.is_some_and(|exp| now >= exp) {
        failures.push("token is expired");
    }
    if claims.not_before.is_some_and(|nbf| now < nbf) {
        failures.push("token is not valid yet");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        RAW_URL.encode(json)
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.c2ln", encode(header), encode(claims))
    }

    const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn accepts_a_current_token_and_ignores_the_signature() {
        let jwt = token(
            HS256,
            r#"{"iss":"some-issuer","aud":["some-audience"],"exp":1700000600,"nbf":1699999990,"iat":1699999990}"#,
        );
        assert_eq!(check_token(&jwt, now()), Ok(()));
        let no_times = token(HS256, r#"{"sub":"system:serviceaccount:default:sa"}"#);
        assert_eq!(check_token(&no_times, now()), Ok(()));
    }

    #[test]
    fn empty_token_is_rejected_first() {
        assert_eq!(check_token("", now()), Err(TokenError::Empty));
        assert_eq!(
            TokenError::Empty.to_string(),
            "Service account token cannot be empty"
        );
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_fail_claim_validation() {
        let expired = token(HS256, r#"{"exp":1700000000}"#);
        let err = check_token(&expired, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Service account token failed basic claim validations: token is expired"
        );
        let future = token(HS256, r#"{"exp":1700003600,"nbf":1700000001.9}"#);
        assert_eq!(
            check_token(&future, now()).unwrap_err().to_string(),
            "Service account token failed basic claim validations: token is not valid yet"
        );
        let both = token(HS256, r#"{"exp":1,"nbf":1800000000}"#);
        assert_eq!(
            check_token(&both, now()),
            Err(TokenError::InvalidClaims(
                "token is expired\ntoken is not valid yet".into()
            ))
        );
    }

    #[test]
    fn fractional_expiry_is_truncated_to_the_second() {
        let jwt = token(HS256, r#"{"exp":1700000000.9}"#);
        assert!(matches!(
            check_token(&jwt, now()),
            Err(TokenError::InvalidClaims(_))
        ));
    }

    #[test]
    fn structural_problems_are_unparsable() {
        let cases = [
            (
                "a.b",
                "token is malformed: token contains an invalid number of segments",
            ),
            (
                "a.b.c.d",
                "token is malformed: token contains an invalid number of segments",
            ),
        ];
        for (input, detail) in cases {
            assert_eq!(
                check_token(input, now()),
                Err(TokenError::Unparsable(detail.into()))
            );
        }
        let bad_base64 = format!("!!.{}.sig", encode("{}"));
        let err = check_token(&bad_base64, now()).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "Service account token cannot be parsed: token is malformed: could not base64 decode header"
            ),
            "{err}"
        );
        let padded = format!("{}=.{}.sig", encode(HS256), encode("{}"));
        assert!(matches!(
            check_token(&padded, now()),
            Err(TokenError::Unparsable(_))
        ));
        let not_json = token(HS256, "not json");
        let err = check_token(&not_json, now()).unwrap_err().to_string();
        assert!(err.contains("could not JSON decode claim"), "{err}");
        let array_claims = token(HS256, "[1]");
        assert!(matches!(
            check_token(&array_claims, now()),
            Err(TokenError::Unparsable(_))
        ));
    }

    #[test]
    fn wrongly_typed_registered_claims_are_unparsable() {
        for claims in [
            r#"{"exp":"1800000000"}"#,
            r#"{"nbf":true}"#,
            r#"{"iss":5}"#,
            r#"{"aud":[1]}"#,
        ] {
            assert!(
                matches!(
                    check_token(&token(HS256, claims), now()),
                    Err(TokenError::Unparsable(_))
                ),
                "{claims}"
            );
        }
    }

    #[test]
    fn algorithm_must_be_known() {
        assert_eq!(
            check_token(&token(r#"{"typ":"JWT"}"#, "{}"), now()),
            Err(TokenError::Unparsable(
                "token is unverifiable: signing method (alg) is unspecified".into()
            ))
        );
        assert_eq!(
            check_token(&token(r#"{"alg":"XX1"}"#, "{}"), now()),
            Err(TokenError::Unparsable(
                "token is unverifiable: signing method (alg) is unavailable".into()
            ))
        );
        assert_eq!(
            check_token(&token(r#"{"alg":"RS256"}"#, "{}"), now()),
            Ok(())
        );
    }
}
