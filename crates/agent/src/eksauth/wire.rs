//! restJson1 (de)serialisation of `AssumeRoleForPodIdentity`.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::PodCredentials;
use super::error::ServiceError;

/// The request body: `{"token":"<jwt>"}`.
pub(super) fn request_body(token: &str) -> Vec<u8> {
    serde_json::json!({ "token": token })
        .to_string()
        .into_bytes()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    assumed_role_user: AssumedRoleUser,
    credentials: Credentials,
    pod_identity_association: Association,
}

#[derive(Deserialize)]
struct AssumedRoleUser {
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Association {
    association_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: Value,
}

/// Parses a 200 body.
pub(super) fn parse_output(body: &[u8]) -> Result<PodCredentials, String> {
    let output: Output = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let expiration = parse_timestamp(&output.credentials.expiration)?;
    Ok(PodCredentials {
        access_key_id: output.credentials.access_key_id,
        secret_access_key: output.credentials.secret_access_key,
        session_token: output.credentials.session_token,
        expiration,
        assumed_role_arn: output.assumed_role_user.arn,
        association_id: output.pod_identity_association.association_id,
    })
}

/// restJson1 timestamps are epoch seconds (a number, fractions kept to the millisecond as the
/// SDKs do); an RFC 3339 string is accepted too.
fn parse_timestamp(value: &Value) -> Result<Timestamp, String> {
    let parsed = match value {
        Value::Number(number) => match number.as_i64() {
            Some(seconds) => Timestamp::from_second(seconds),
            None => {
                let seconds = number.as_f64().unwrap_or(f64::NAN);
                // Saturating cast: out-of-range values are rejected by jiff below.
                Timestamp::from_millisecond((seconds * 1000.0).round() as i64)
            }
        },
        Value::String(text) => text.parse::<Timestamp>(),
        other => {
            return Err(format!(
                "credentials.expiration is not a timestamp: {other}"
            ));
        }
    };
    parsed.map_err(|e| format!("credentials.expiration is out of range: {e}"))
}

/// Builds the error from an error response, reading the code as the SDKs do: the
/// `x-amzn-ErrorType` header first, then body `code`/`Code`, then `__type`.
pub(super) fn parse_error(
    status: u16,
    error_type_header: Option<&str>,
    request_id: Option<&str>,
    body: &[u8],
) -> ServiceError {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let code = error_type_header
        .or_else(|| field("code"))
        .or_else(|| field("Code"))
        .or_else(|| field("__type"))
        .map(sanitize_code)
        .filter(|code| !code.is_empty())
        .unwrap_or_else(|| "UnknownError".to_owned());
    let message = field("message")
        .or_else(|| field("Message"))
        .unwrap_or_default()
        .to_owned();
    ServiceError {
        status,
        code,
        message,
        request_id: request_id.unwrap_or_default().to_owned(),
    }
}

/// `aws.protocols#Foo:http://uri` → `Foo`.
fn sanitize_code(raw: &str) -> String {
    let without_uri = raw.split(':').next().unwrap_or(raw);
    without_uri
        .rsplit('#')
        .next()
        .unwrap_or(without_uri)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = r#"{"subject":{"namespace":"default","serviceAccount":"sa"},
     "audience":"pods.eks.amazonaws.com",
     "podIdentityAssociation":{"associationArn":"arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/a-x","associationId":"a-x"},
     "assumedRoleUser":{"arn":"arn:aws:sts::111122223333:assumed-role/r/eks-c1-pod-abc","assumeRoleId":"AROA:eks-c1-pod-abc"},
     "credentials":{"sessionToken":"t","secretAccessKey":"s","accessKeyId":"ASIAEXAMPLE","expiration":1700003600}}"#;

    #[test]
    fn parses_the_documented_success_shape() {
        let creds = parse_output(SUCCESS.as_bytes()).unwrap();
        assert_eq!(creds.access_key_id, "ASIAEXAMPLE");
        assert_eq!(creds.secret_access_key, "s");
        assert_eq!(creds.session_token, "t");
        assert_eq!(
            creds.expiration,
            Timestamp::from_second(1_700_003_600).unwrap()
        );
        assert_eq!(creds.account_id(), Some("111122223333"));
        assert_eq!(creds.association_id, "a-x");
    }

    #[test]
    fn fractional_and_string_expirations() {
        let fractional = SUCCESS.replace("1700003600", "1700003600.125");
        assert_eq!(
            parse_output(fractional.as_bytes()).unwrap().expiration,
            Timestamp::from_millisecond(1_700_003_600_125).unwrap()
        );
        let text = SUCCESS.replace("1700003600", "\"2023-11-14T23:13:20Z\"");
        assert_eq!(
            parse_output(text.as_bytes()).unwrap().expiration,
            Timestamp::from_second(1_700_003_600).unwrap()
        );
        let huge = SUCCESS.replace("1700003600", "1e300");
        assert!(parse_output(huge.as_bytes()).is_err());
        let boolean = SUCCESS.replace("1700003600", "true");
        assert!(parse_output(boolean.as_bytes()).is_err());
    }

    #[test]
    fn missing_credentials_is_an_error() {
        let body =
            r#"{"assumedRoleUser":{"arn":"a"},"podIdentityAssociation":{"associationId":"x"}}"#;
        assert!(
            parse_output(body.as_bytes())
                .unwrap_err()
                .contains("credentials")
        );
        assert!(parse_output(b"").is_err());
    }

    #[test]
    fn error_code_prefers_the_header_then_body_fields() {
        let body = br#"{"__type":"InvalidTokenException","message":"bad token"}"#;
        let from_type = parse_error(400, None, Some("rid"), body);
        assert_eq!(
            from_type,
            ServiceError {
                status: 400,
                code: "InvalidTokenException".into(),
                message: "bad token".into(),
                request_id: "rid".into(),
            }
        );
        let from_header = parse_error(
            404,
            Some("ResourceNotFoundException:http://internal.amazon.com/coral/"),
            None,
            br#"{"__type":"Other","Message":"no association"}"#,
        );
        assert_eq!(from_header.code, "ResourceNotFoundException");
        assert_eq!(from_header.message, "no association");
        assert_eq!(from_header.request_id, "");
        let namespaced = parse_error(
            429,
            None,
            None,
            br#"{"__type":"com.amazonaws.eksauth#ThrottlingException"}"#,
        );
        assert_eq!(namespaced.code, "ThrottlingException");
        assert_eq!(namespaced.message, "");
        let with_code = parse_error(400, None, None, br#"{"code":"InvalidRequestException"}"#);
        assert_eq!(with_code.code, "InvalidRequestException");
        let opaque = parse_error(502, None, None, b"<html>bad gateway</html>");
        assert_eq!(opaque.code, "UnknownError");
        assert_eq!(opaque.status, 502);
    }

    #[test]
    fn request_body_is_the_token_member_only() {
        assert_eq!(request_body("a.b.c"), br#"{"token":"a.b.c"}"#.to_vec());
    }
}
