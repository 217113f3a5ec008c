//! Verification errors and their AWS error codes.

use jiff::{SignedDuration, Timestamp};

use crate::time::format_amz_date;

/// Why an `Authorization` header or presigned query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    /// The `Authorization` header has no space after the algorithm.
    #[error("authorization header has no components after the algorithm")]
    MissingComponents,
    /// A required component (`Credential`, `SignedHeaders`, `Signature`) is absent.
    #[error("authorization header requires a '{0}' parameter")]
    MissingComponent(&'static str),
    /// A component or query parameter appears twice.
    #[error("'{0}' is given more than once")]
    Duplicate(String),
    /// A component is not `Name=value`.
    #[error("authorization component '{0}' is not of the form Name=value")]
    BadComponent(String),
    /// `Credential` is not `AKID/yyyymmdd/region/service/aws4_request`.
    #[error("credential '{0}' is not of the form <key>/<yyyymmdd>/<region>/<service>/aws4_request")]
    BadCredential(String),
    /// `SignedHeaders` is empty or has an empty name.
    #[error("signed headers '{0}' are not a ';'-separated list of names")]
    BadSignedHeaders(String),
    /// Neither `X-Amz-Date` header nor query parameter.
    #[error("request requires an 'X-Amz-Date' header or query parameter")]
    MissingDate,
    /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`.
    #[error("'X-Amz-Date' value '{0}' is not of the form YYYYMMDDTHHMMSSZ")]
    BadDate(String),
    /// A required presigned query parameter is absent.
    #[error("presigned request requires the '{0}' query parameter")]
    MissingQueryParameter(&'static str),
    /// `X-Amz-Expires` is not an integer in 1..=604800.
    #[error("'X-Amz-Expires' value '{0}' must be an integer from 1 to 604800")]
    BadExpires(String),
    /// An authentication value is not valid UTF-8.
    #[error("'{0}' is not valid UTF-8")]
    NotUtf8(&'static str),
}

/// A failed SigV4 parse or verification. Variants carry data so that each service can pick
/// its own wording; [`SigV4Error::aws_code`] gives the default AWS code for STS/IAM/EKS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no presigned query: treat the request as anonymous.
    #[error("request is not signed")]
    NotSigned,
    /// Both an `Authorization` header and presigned query parameters are present.
    #[error("only one of the Authorization header and presigned query parameters may be given")]
    AmbiguousAuth,
    /// An algorithm other than `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    /// The authentication data is structurally broken.
    #[error("malformed signature: {0}")]
    Malformed(MalformedReason),
    /// The credential scope date is not the day of `X-Amz-Date`.
    #[error(
        "date in credential scope does not match the request date: '{scope_date}' != '{request_date}'"
    )]
    ScopeDateMismatch {
        /// `yyyymmdd` from the credential scope.
        scope_date: String,
        /// `X-Amz-Date` as sent.
        request_date: String,
    },
    /// The credential scope names a service this endpoint does not serve.
    #[error("credential should be scoped to a valid service, not '{service}'")]
    WrongService {
        /// Service from the credential scope.
        service: String,
    },
    /// The credential scope names a region this endpoint does not serve.
    #[error("credential should be scoped to a valid region, not '{region}'")]
    WrongRegion {
        /// Region from the credential scope.
        region: String,
    },
    /// `host` is not among the signed headers.
    #[error("'host' must be a signed header")]
    HostNotSigned,
    /// A header named in `SignedHeaders` is absent from the request.
    #[error("signed header '{0}' is missing from the request")]
    SignedHeaderMissing(String),
    /// A signed header value is not valid UTF-8 and cannot be canonicalised.
    #[error("signed header '{0}' has a value that is not valid UTF-8")]
    SignedHeaderNotUtf8(String),
    /// Header-signed request whose time is too far from the server clock.
    #[error(
        "signature expired: request time {request_time} is {skew:#} away from server time {now} (limit {max_skew:#})"
    )]
    RequestTimeSkewed {
        /// `X-Amz-Date`.
        request_time: Timestamp,
        /// Server time.
        now: Timestamp,
        /// `now - request_time` (negative when the request is in the future).
        skew: SignedDuration,
        /// Allowed skew.
        max_skew: SignedDuration,
    },
    /// Presigned request past `X-Amz-Date + X-Amz-Expires`.
    #[error("presigned request expired at {expired_at} (server time {now})")]
    PresignExpired {
        /// When the URL stopped being valid.
        expired_at: Timestamp,
        /// Server time.
        now: Timestamp,
    },
    /// Presigned request dated further in the future than the allowed skew.
    #[error("presigned request is not valid before {request_time} (server time {now})")]
    PresignNotYetValid {
        /// `X-Amz-Date`.
        request_time: Timestamp,
        /// Server time.
        now: Timestamp,
    },
    /// The signature is wrong. Carries what the server signed, for explain/debug output only
    /// (never send it to an unauthenticated client).
    #[error("the request signature does not match")]
    SignatureMismatch {
        /// Canonical request computed by the server.
        canonical_request: String,
        /// String to sign computed by the server.
        string_to_sign: String,
    },
}

impl SigV4Error {
    /// Default AWS error code for query-protocol and rest-json services.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::NotSigned => "MissingAuthenticationToken",
            Self::AmbiguousAuth | Self::UnsupportedAlgorithm(_) | Self::Malformed(_) => {
                "IncompleteSignature"
            }
            Self::PresignExpired { .. } | Self::PresignNotYetValid { .. } => "AccessDenied",
            // STS and IAM answer a stale or early `X-Amz-Date` with `SignatureDoesNotMatch` (403)
            // and "Signature expired: ..." / "Signature not yet current: ...".
            Self::RequestTimeSkewed { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::WrongService { .. }
            | Self::WrongRegion { .. }
            | Self::HostNotSigned
            | Self::SignedHeaderMissing(_)
            | Self::SignedHeaderNotUtf8(_)
            | Self::SignatureMismatch { .. } => "SignatureDoesNotMatch",
        }
    }

    /// HTTP status matching [`SigV4Error::aws_code`].
    pub fn http_status(&self) -> u16 {
        match self.aws_code() {
            "IncompleteSignature" => 400,
            _ => 403,
        }
    }

    /// Message AWS sends with [`SigV4Error::aws_code`]; safe to return to the client.
    pub fn aws_message(&self) -> String {
        match self {
            Self::NotSigned => "Missing Authentication Token".to_owned(),
            Self::SignatureMismatch { .. } => "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_owned(),
            Self::PresignExpired { .. } => "Request has expired".to_owned(),
            Self::PresignNotYetValid { .. } => "Request is not valid yet".to_owned(),
            Self::RequestTimeSkewed {
                request_time,
                now,
                skew,
                max_skew,
            } => skew_message(*request_time, *now, *skew, *max_skew),
            other => other.to_string(),
        }
    }
}

/// AWS's wording: `Signature expired: <date> is now earlier than <limit> (<now> - 15 min.)`,
/// or `Signature not yet current: <date> is still later than <limit> (<now> + 15 min.)`.
fn skew_message(
    request_time: Timestamp,
    now: Timestamp,
    skew: SignedDuration,
    max_skew: SignedDuration,
) -> String {
    let minutes = max_skew.as_secs() / 60;
    let date = format_amz_date(request_time);
    let server = format_amz_date(now);
    if skew.is_negative() {
        let limit = now
            .checked_add(max_skew)
            .map(format_amz_date)
            .unwrap_or_default();
        format!(
            "Signature not yet current: {date} is still later than {limit} ({server} + {minutes} min.)"
        )
    } else {
        let limit = now
            .checked_sub(max_skew)
            .map(format_amz_date)
            .unwrap_or_default();
        format!("Signature expired: {date} is now earlier than {limit} ({server} - {minutes} min.)")
    }
}

impl From<MalformedReason> for SigV4Error {
    fn from(reason: MalformedReason) -> Self {
        Self::Malformed(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let ts = Timestamp::UNIX_EPOCH;
        let cases: Vec<(SigV4Error, &str, u16)> = vec![
            (SigV4Error::NotSigned, "MissingAuthenticationToken", 403),
            (SigV4Error::AmbiguousAuth, "IncompleteSignature", 400),
            (
                SigV4Error::Malformed(MalformedReason::MissingDate),
                "IncompleteSignature",
                400,
            ),
            (
                SigV4Error::UnsupportedAlgorithm("AWS".into()),
                "IncompleteSignature",
                400,
            ),
            (
                SigV4Error::RequestTimeSkewed {
                    request_time: ts,
                    now: ts,
                    skew: SignedDuration::from_mins(20),
                    max_skew: SignedDuration::from_mins(15),
                },
                "SignatureDoesNotMatch",
                403,
            ),
            (
                SigV4Error::PresignExpired {
                    expired_at: ts,
                    now: ts,
                },
                "AccessDenied",
                403,
            ),
            (SigV4Error::HostNotSigned, "SignatureDoesNotMatch", 403),
            (
                SigV4Error::WrongService {
                    service: "s3".into(),
                },
                "SignatureDoesNotMatch",
                403,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.aws_code(), code, "{error}");
            assert_eq!(error.http_status(), status, "{error}");
        }
    }

    #[test]
    fn skew_messages_use_aws_wording() {
        let request_time = crate::parse_amz_date("20150830T123600Z").unwrap();
        let late = crate::parse_amz_date("20150830T130100Z").unwrap();
        let error = SigV4Error::RequestTimeSkewed {
            request_time,
            now: late,
            skew: late.duration_since(request_time),
            max_skew: SignedDuration::from_mins(15),
        };
        assert_eq!(
            error.aws_message(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T130100Z - 15 min.)"
        );
        let early = crate::parse_amz_date("20150830T120000Z").unwrap();
        let error = SigV4Error::RequestTimeSkewed {
            request_time,
            now: early,
            skew: early.duration_since(request_time),
            max_skew: SignedDuration::from_mins(15),
        };
        assert_eq!(
            error.aws_message(),
            "Signature not yet current: 20150830T123600Z is still later than 20150830T121500Z (20150830T120000Z + 15 min.)"
        );
    }

    #[test]
    fn mismatch_message_does_not_leak_canonical_request() {
        let error = SigV4Error::SignatureMismatch {
            canonical_request: "secret-ish".into(),
            string_to_sign: "sts".into(),
        };
        assert!(!error.aws_message().contains("secret-ish"));
        assert!(
            error
                .aws_message()
                .starts_with("The request signature we calculated")
        );
    }
}
