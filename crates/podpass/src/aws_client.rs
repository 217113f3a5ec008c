//! A minimal query-protocol client the CLI uses to drive the running instance's IAM API with the
//! admin keys, the way eksctl drives AWS: one validation path for every writer.

use anyhow::Context;
use podpass_sigv4::sign::{SigningParams, sign_headers};
use podpass_sigv4::{PathMode, RequestView, sha256_hex};

use crate::cli::Global;
use crate::instance::Instance;

/// An AWS error answered by the instance.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    /// AWS error code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// Signed IAM/STS calls to the running instance.
pub(crate) struct AwsClient {
    http: reqwest::Client,
    instance: Instance,
    access_key_id: String,
    secret_access_key: String,
}

impl AwsClient {
    /// A client for the instance running on the global data directory, as its admin.
    pub(crate) async fn connect(global: &Global) -> anyhow::Result<Self> {
        let instance = Instance::running(&global.data_dir())?;
        let store = global.open_store().await?;
        let key = store
            .access_keys()
            .await?
            .into_iter()
            .find(|k| k.access_key_id == instance.access_key_id)
            .context("the instance's admin key is not in the store")?;
        Ok(Self {
            http: reqwest::Client::new(),
            instance,
            access_key_id: key.access_key_id,
            secret_access_key: key.secret_access_key,
        })
    }

    /// The running instance.
    pub(crate) fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Calls an EKS rest-json operation; returns the response JSON, or the AWS error.
    pub(crate) async fn eks(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Result<serde_json::Value, ApiError>> {
        let body = body.map(serde_json::Value::to_string).unwrap_or_default();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("content-type", "application/json")]
        };
        let response = self.send("eks", method, path, query, headers, body).await?;
        let ok = response.status().is_success();
        let text = response.text().await?;
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if ok {
            return Ok(Ok(value));
        }
        let field = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        Ok(Err(ApiError {
            code: field("__type").unwrap_or_default(),
            message: field("message")
                .or_else(|| field("Message"))
                .unwrap_or(text),
        }))
    }

    /// Signs and sends one request to the instance's AWS endpoint.
    async fn send(
        &self,
        service: &str,
        method: reqwest::Method,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> anyhow::Result<reqwest::Response> {
        let endpoint = &self.instance.endpoint_url;
        self.signed(
            endpoint,
            service,
            method,
            path,
            query,
            headers,
            body.into_bytes(),
        )
        .await
    }

    /// Signs (SigV4, every header) and sends one request to `endpoint`. S3 requests also carry
    /// the payload hash in `x-amz-content-sha256`, and keep their path as given.
    #[allow(clippy::too_many_arguments)] // one request's parts; grouped, they would only be unpacked here
    async fn signed(
        &self,
        endpoint: &str,
        service: &str,
        method: reqwest::Method,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        let base: reqwest::Url = endpoint.parse()?;
        let host = match base.port() {
            Some(port) => format!("{}:{port}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_owned(),
        };
        let payload_hash = sha256_hex(&body);
        let s3 = service == "s3";
        let mut headers = headers.to_vec();
        if s3 {
            headers.push(("x-amz-content-sha256", &payload_hash));
        }
        let mut view = RequestView::new(method.as_str(), path, query, &payload_hash)
            .with_header("host", host.as_bytes());
        for (name, value) in &headers {
            view.push_header(name, value.as_bytes());
        }
        let signature = sign_headers(
            &view,
            &SigningParams {
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
                security_token: None,
                region: &self.instance.region,
                service,
                time: jiff::Timestamp::now(),
                path_mode: if s3 {
                    PathMode::S3
                } else {
                    PathMode::Normalized
                },
            },
        )?;
        let mut url = base.join(path)?;
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        let mut request = self
            .http
            .request(method, url)
            .header("x-amz-date", signature.x_amz_date)
            .header("authorization", signature.authorization)
            .body(body);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .with_context(|| format!("calling {endpoint}"))
    }

    /// Calls podpass's own admin API (signing name `podpass`), returning the raw response.
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, String)>,
    ) -> anyhow::Result<reqwest::Response> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let (headers, body) = match &body {
            Some((content_type, body)) => (vec![("content-type", *content_type)], body.clone()),
            None => (Vec::new(), String::new()),
        };
        self.send("podpass", method, path, query, &headers, body)
            .await
    }

    /// An S3 request to the instance's S3 endpoint (path style), returning the raw response.
    pub(crate) async fn s3(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        let endpoint = &self.instance.s3_endpoint_url;
        if endpoint.is_empty() {
            anyhow::bail!("this podpass serves no S3 endpoint (--s3-listen off)");
        }
        self.signed(endpoint, "s3", method, path, "", &[], body)
            .await
    }

    /// Calls an IAM action; returns the response XML, or the AWS error.
    pub(crate) async fn iam(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Result<String, ApiError>> {
        self.call("iam", "2010-05-08", action, params).await
    }

    async fn call(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Result<String, ApiError>> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action)
            .append_pair("Version", version);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let content_type = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        let response = self
            .send(
                service,
                reqwest::Method::POST,
                "/",
                "",
                &content_type,
                form.finish(),
            )
            .await
            .with_context(|| format!("calling {action}"))?;
        let ok = response.status().is_success();
        let text = response.text().await?;
        if ok {
            Ok(Ok(text))
        } else {
            Ok(Err(ApiError {
                code: xml_text(&text, "Code").unwrap_or_default(),
                message: xml_text(&text, "Message").unwrap_or(text),
            }))
        }
    }
}

/// Text of the first `<name>` element (the answers read here are flat and escaped by us).
pub(crate) fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(unescape(&xml[start..end]))
}

/// Texts of every `<name>` element, in order.
pub(crate) fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_elements() {
        let xml = "<R><Arn>a&amp;b</Arn><member><Arn>c</Arn></member></R>";
        assert_eq!(xml_text(xml, "Arn").as_deref(), Some("a&b"));
        assert_eq!(xml_texts(xml, "Arn"), vec!["a&b", "c"]);
        assert_eq!(xml_text(xml, "Nope"), None);
    }
}
