//! The HTTP client for EKS Auth: restJson1 over reqwest, signed with SigV4 (service `eks-auth`).

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use jiff::Timestamp;
use podpass_sigv4::sign::{SigningParams, sign_headers};
use podpass_sigv4::{PathMode, RequestView, sha256_hex};
use reqwest::Url;

use super::error::EksAuthError;
use super::{EksAuth, PodCredentials, wire};
use crate::BoxFuture;
use crate::aws_credentials::CredentialsProvider;

/// SigV4 signing name of EKS Auth.
const SIGNING_SERVICE: &str = "eks-auth";
const JSON: &str = "application/json";

/// The public EKS Auth endpoint of a region (dual-stack `api.aws`).
pub fn default_endpoint(region: &str) -> String {
    format!("https://eks-auth.{region}.api.aws")
}

/// Where and how the client calls EKS Auth.
#[derive(Debug, Clone)]
pub struct HttpEksAuthSettings {
    /// Base URL, e.g. `https://eks-auth.us-west-2.api.aws` or `http://127.0.0.1:8080`.
    pub endpoint: String,
    /// The cluster name sent in the path.
    pub cluster_name: String,
    /// SigV4 region.
    pub region: String,
    /// TCP connect timeout (reference: 500 ms).
    pub connect_timeout: Duration,
    /// Whole-request timeout (reference: 1 s).
    pub request_timeout: Duration,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EksAuthSetupError {
    /// The endpoint is not an absolute http(s) URL.
    #[error("invalid EKS Auth endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The configured endpoint.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The cluster name does not match EKS Auth's `ClusterName` pattern.
    #[error(
        "invalid cluster name {0:?}: expected 1-100 characters matching [0-9A-Za-z][A-Za-z0-9-_]*"
    )]
    ClusterName(String),
    /// reqwest refused the configuration.
    #[error("cannot build the EKS Auth HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// EKS Auth over HTTP.
#[derive(Debug)]
pub struct HttpEksAuth {
    client: reqwest::Client,
    url: Url,
    host: String,
    region: String,
    credentials: Arc<dyn CredentialsProvider>,
}

impl HttpEksAuth {
    /// A client for `settings`, signing with `credentials`.
    pub fn new(
        settings: &HttpEksAuthSettings,
        credentials: Arc<dyn CredentialsProvider>,
    ) -> Result<Self, EksAuthSetupError> {
        if !is_valid_cluster_name(&settings.cluster_name) {
            return Err(EksAuthSetupError::ClusterName(
                settings.cluster_name.clone(),
            ));
        }
        let endpoint_error = |reason: String| EksAuthSetupError::Endpoint {
            endpoint: settings.endpoint.clone(),
            reason,
        };
        let url = Url::parse(&format!(
            "{}/clusters/{}/assume-role-for-pod-identity",
            settings.endpoint.trim_end_matches('/'),
            settings.cluster_name
        ))
        .map_err(|e| endpoint_error(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(endpoint_error(
                "expected an http(s) URL without a query".into(),
            ));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(endpoint_error("no host".into())),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .build()
            .map_err(EksAuthSetupError::Client)?;
        Ok(Self {
            client,
            url,
            host,
            region: settings.region.clone(),
            credentials,
        })
    }

    async fn call(&self, token: &str) -> Result<PodCredentials, EksAuthError> {
        let body = wire::request_body(token);
        let payload_hash = sha256_hex(&body);
        let credentials = self
            .credentials
            .credentials()
            .await
            .map_err(|e| EksAuthError::Signing(e.to_string()))?;
        let view = RequestView::new("POST", self.url.path(), "", &payload_hash)
            .with_header("host", self.host.as_bytes())
            .with_header("content-type", JSON.as_bytes());
        let params = SigningParams {
            access_key_id: &credentials.access_key_id,
            secret_access_key: &credentials.secret_access_key,
            security_token: credentials.session_token.as_deref(),
            region: &self.region,
            service: SIGNING_SERVICE,
            time: Timestamp::now(),
            path_mode: PathMode::Normalized,
        };
        let signature =
            sign_headers(&view, &params).map_err(|e| EksAuthError::Signing(e.to_string()))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, JSON)
            .header("x-amz-date", signature.x_amz_date)
            .header(AUTHORIZATION, signature.authorization)
            .body(body);
        if let Some(security_token) = signature.security_token {
            request = request.header("x-amz-security-token", security_token);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let error_type = header("x-amzn-errortype");
        let request_id = header("x-amzn-requestid");
        let bytes = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            wire::parse_output(&bytes).map_err(EksAuthError::InvalidResponse)
        } else {
            Err(EksAuthError::Service(wire::parse_error(
                status.as_u16(),
                error_type.as_deref(),
                request_id.as_deref(),
                &bytes,
            )))
        }
    }
}

impl EksAuth for HttpEksAuth {
    fn assume_role_for_pod_identity<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<PodCredentials, EksAuthError>> {
        Box::pin(self.call(token))
    }
}

/// reqwest's own message hides the cause (e.g. "connection refused"); append the source chain.
fn transport_error(error: reqwest::Error) -> EksAuthError {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    EksAuthError::Transport(text)
}

/// EKS Auth's `ClusterName`: 1-100 characters, `[0-9A-Za-z][A-Za-z0-9\-_]*`.
fn is_valid_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 100
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws_credentials::{AwsCredentials, StaticCredentialsProvider};

    fn settings(endpoint: &str, cluster: &str) -> HttpEksAuthSettings {
        HttpEksAuthSettings {
            endpoint: endpoint.into(),
            cluster_name: cluster.into(),
            region: "us-west-2".into(),
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(1),
        }
    }

    fn provider() -> Arc<dyn CredentialsProvider> {
        Arc::new(StaticCredentialsProvider(AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        }))
    }

    #[test]
    fn cluster_names_follow_the_model_pattern() {
        assert!(is_valid_cluster_name("c1"));
        assert!(is_valid_cluster_name("My-cluster_2"));
        assert!(is_valid_cluster_name(&"a".repeat(100)));
        assert!(!is_valid_cluster_name(""));
        assert!(!is_valid_cluster_name("-c"));
        assert!(!is_valid_cluster_name("c/../x"));
        assert!(!is_valid_cluster_name(&"a".repeat(101)));
        assert!(matches!(
            HttpEksAuth::new(&settings("http://127.0.0.1:1", "bad/name"), provider()),
            Err(EksAuthSetupError::ClusterName(_))
        ));
    }

    #[test]
    fn builds_the_operation_url_and_host() {
        let client =
            HttpEksAuth::new(&settings("http://127.0.0.1:8080/", "c1"), provider()).unwrap();
        assert_eq!(
            client.url.as_str(),
            "http://127.0.0.1:8080/clusters/c1/assume-role-for-pod-identity"
        );
        assert_eq!(client.host, "127.0.0.1:8080");
        let public =
            HttpEksAuth::new(&settings(&default_endpoint("eu-west-1"), "c1"), provider()).unwrap();
        assert_eq!(public.host, "eks-auth.eu-west-1.api.aws");
        for bad in ["not a url", "ftp://x", "http://h/?q=1"] {
            assert!(
                matches!(
                    HttpEksAuth::new(&settings(bad, "c1"), provider()),
                    Err(EksAuthSetupError::Endpoint { .. })
                ),
                "{bad}"
            );
        }
    }
}
