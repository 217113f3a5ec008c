//! Upstream mode: objects live in another S3-compatible endpoint. podpass authenticates and
//! authorizes the caller as always, then forwards the operation through s3s-aws's proxy, which
//! re-signs it with the upstream's own credentials (the caller's never leave podpass).

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    timeout::TimeoutConfig,
};
use aws_sdk_s3::error::ConnectorError;
use s3s::{S3Error, S3ErrorCode};
use s3s_aws::Proxy;

use crate::backend::Backend;

/// Another S3-compatible endpoint and the credentials podpass uses with it.
#[derive(Clone)]
pub struct Upstream {
    /// Its URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://minio:9000`.
    pub endpoint_url: String,
    /// The region requests to it are signed for.
    pub region: String,
    /// Its access key id.
    pub access_key_id: String,
    /// Its secret access key.
    pub secret_access_key: String,
    /// Its session token, for temporary credentials.
    pub session_token: Option<String>,
    /// Address buckets in the path (`endpoint/bucket/key`) rather than the host name, as most
    /// self-hosted S3 servers expect.
    pub path_style: bool,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// How long to wait for a TCP (and TLS) connection to the upstream before answering 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Upstream {
    /// The proxy forwarding to this upstream.
    pub(crate) fn proxy(&self) -> Proxy {
        let credentials = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "podpass-s3-upstream",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint_url)
            .region(Region::new(self.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(self.path_style)
            // Checksums the caller sent are forwarded as they are; adding the SDK's own on every
            // request breaks S3-compatible servers that predate them.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .build();
        Proxy::from(aws_sdk_s3::Client::from_conf(config))
    }
}

impl Backend for Proxy {
    /// The upstream's verdict on *podpass's* credentials is no business of the caller, whose
    /// request podpass already authenticated: those become a 500 (and an error in the log), and
    /// an unreachable upstream a 503 the SDKs retry. Everything else (NoSuchKey, NoSuchBucket,
    /// BucketAlreadyExists, ...) passes through.
    fn caller_error(&self, error: S3Error) -> S3Error {
        match error.code() {
            S3ErrorCode::InvalidAccessKeyId
            | S3ErrorCode::SignatureDoesNotMatch
            | S3ErrorCode::InvalidToken
            | S3ErrorCode::ExpiredToken => {
                tracing::error!(code = %error.code().as_str(), message = ?error.message(),
                    "the S3 upstream rejected podpass's credentials");
                S3Error::new(S3ErrorCode::InternalError)
            }
            S3ErrorCode::InternalError if no_response(&error) => {
                tracing::error!(error = ?error.source(), "the S3 upstream is unreachable");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "Service is unable to handle request.",
                )
            }
            _ => error,
        }
    }
}

/// Whether the request never got an HTTP response (refused, reset or timed-out connection).
fn no_response(error: &S3Error) -> bool {
    let source: Option<&(dyn std::error::Error + 'static)> = error.source().map(|e| e as _);
    std::iter::successors(source, |e| e.source()).any(|e| e.is::<ConnectorError>())
}
