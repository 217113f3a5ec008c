//! The AdmissionReview envelope, handled as the reference webhook does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use podpass_podmutation::{
    IdentityResolver, InjectionMethod, Jitter, PodView, ServiceAccountSettings, WebhookConfig,
    json_kind, mutate_view,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only request Content-Type the reference accepts (exact match).
pub const EXPECTED_CONTENT_TYPE: &str = "application/json";
/// Body of the 415 answer (Go `http.Error` adds the newline).
pub const INVALID_CONTENT_TYPE_BODY: &str = "Invalid Content-Type, expected `application/json`\n";
/// Message of the `allowed:false` answer when the review or its request is missing.
pub const BAD_CONTENT_MESSAGE: &str = "bad content";

const SUPPORTED_API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];
const REVIEW_KIND: &str = "AdmissionReview";

/// An HTTP answer to one `/mutate` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewOutcome {
    /// HTTP status (200, or 415 for a wrong Content-Type).
    pub status: u16,
    /// Response Content-Type.
    pub content_type: &'static str,
    /// Response body.
    pub body: Vec<u8>,
    /// The injection performed, for the pod-count metric.
    pub method: Option<InjectionMethod>,
}

/// The mutating webhook: settings plus the Pod Identity expiry jitter.
pub struct Webhook {
    config: WebhookConfig,
    jitter: Box<dyn Jitter>,
}

impl Webhook {
    /// A webhook with the given settings and jitter source.
    pub fn new(config: WebhookConfig, jitter: Box<dyn Jitter>) -> Self {
        Self { config, jitter }
    }

    /// The webhook's settings.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Answers one `/mutate` request. Problems with the review are reported as HTTP 200 with
    /// `allowed:false` (which rejects the pod, as upstream); only a wrong Content-Type is 415.
    /// ServiceAccounts are looked up without waiting (no lookup grace period).
    pub fn handle(
        &self,
        content_type: Option<&str>,
        body: &[u8],
        resolver: &(impl IdentityResolver + ?Sized),
    ) -> ReviewOutcome {
        // Without the grace period every lookup future is ready, so this never parks.
        futures::executor::block_on(self.handle_async(content_type, body, &Immediate(resolver)))
    }

    /// Like [`Webhook::handle`], but a ServiceAccount missing from the resolver's cache may be
    /// awaited ([`IdentityResolver::service_account_eventually`], the lookup grace period).
    pub async fn handle_async(
        &self,
        content_type: Option<&str>,
        body: &[u8],
        resolver: &(impl IdentityResolver + ?Sized),
    ) -> ReviewOutcome {
        if content_type != Some(EXPECTED_CONTENT_TYPE) {
            tracing::warn!(?content_type, "Content-Type is not application/json");
            return ReviewOutcome {
                status: 415,
                content_type: "text/plain; charset=utf-8",
                body: INVALID_CONTENT_TYPE_BODY.as_bytes().to_vec(),
                method: None,
            };
        }
        let (type_meta, answer) = match decode(body) {
            Err(message) => (TypeMeta::default(), Answer::denied(String::new(), message)),
            Ok(review) => {
                let answer = match review.request {
                    None => Answer::denied(String::new(), BAD_CONTENT_MESSAGE.to_owned()),
                    Some(request) => self.review_request(request, resolver).await,
                };
                (review.type_meta, answer)
            }
        };
        let method = answer.method;
        let body = AdmissionReviewOut {
            kind: &type_meta.kind,
            api_version: &type_meta.api_version,
            response: answer.response,
        };
        ReviewOutcome {
            status: 200,
            content_type: EXPECTED_CONTENT_TYPE,
            // Serialising plain strings, bools and a string map cannot fail.
            body: serde_json::to_vec(&body).unwrap_or_default(),
            method,
        }
    }

    async fn review_request(
        &self,
        request: AdmissionRequestIn,
        resolver: &(impl IdentityResolver + ?Sized),
    ) -> Answer {
        let uid = request.uid.unwrap_or_default();
        let namespace = request.namespace.unwrap_or_default();
        // A missing or null object is an empty RawExtension, which Go fails to unmarshal.
        let pod = match request.object {
            None | Some(Value::Null) => {
                return Answer::denied(uid, "unexpected end of JSON input".to_owned());
            }
            Some(pod) => pod,
        };
        let view = match PodView::parse(&pod) {
            Ok(view) => view,
            Err(error) => {
                tracing::warn!(%namespace, %error, "could not read pod");
                return Answer::denied(uid, error.to_string());
            }
        };
        let service_account_name = view.service_account_name.as_str();
        let has_pod_identity = resolver.has_pod_identity(&namespace, service_account_name);
        // As upstream, only the IRSA path waits for a ServiceAccount missing from the cache; Pod
        // Identity takes just the common settings from whatever is cached.
        let settings = if has_pod_identity {
            resolver.pod_identity_settings(&namespace, service_account_name)
        } else {
            resolver
                .service_account_eventually(&namespace, service_account_name)
                .await
        };
        let mutation = mutate_view(
            &view,
            &self.config,
            settings.as_ref(),
            has_pod_identity,
            &*self.jitter,
        );
        match mutation {
            None => {
                tracing::debug!(
                    %namespace,
                    service_account = service_account_name,
                    "pod not mutated: no identity"
                );
                Answer::allowed(uid, None, None)
            }
            Some(mutation) => {
                tracing::debug!(
                    %namespace,
                    service_account = service_account_name,
                    method = mutation.method.metric_label(),
                    "pod mutated"
                );
                let patch = serde_json::to_vec(&mutation.patch).unwrap_or_default();
                Answer::allowed(uid, Some(STANDARD.encode(patch)), Some(mutation.method))
            }
        }
    }
}

/// Hides a resolver's grace-period wait, so that the synchronous path never waits.
struct Immediate<'r, R: ?Sized>(&'r R);

impl<R: IdentityResolver + ?Sized> IdentityResolver for Immediate<'_, R> {
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.0.service_account(namespace, name)
    }

    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool {
        self.0.has_pod_identity(namespace, name)
    }

    fn pod_identity_settings(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.0.pod_identity_settings(namespace, name)
    }
}

#[derive(Debug, Default)]
struct TypeMeta {
    api_version: String,
    kind: String,
}

struct ReviewIn {
    type_meta: TypeMeta,
    request: Option<AdmissionRequestIn>,
}

#[derive(Deserialize)]
struct AdmissionReviewIn {
    #[serde(default)]
    request: Option<AdmissionRequestIn>,
}

#[derive(Deserialize)]
struct AdmissionRequestIn {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    object: Option<Value>,
}

/// Decodes the body like the reference's universal deserializer; `Err` is the message.
fn decode(body: &[u8]) -> Result<ReviewIn, String> {
    // The reference answers an empty body as a review without request.
    if body.is_empty() {
        return Ok(ReviewIn {
            type_meta: TypeMeta::default(),
            request: None,
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "couldn't get version/kind; json parse error: {}",
            go_syntax_error(&e)
        )
    })?;
    let type_meta = type_meta(&value)?;
    let registered_version = type_meta.api_version.is_empty()
        || SUPPORTED_API_VERSIONS.contains(&type_meta.api_version.as_str());
    let registered_kind = type_meta.kind.is_empty() || type_meta.kind == REVIEW_KIND;
    if !registered_version || !registered_kind {
        return Err(format!(
            "no kind {:?} is registered for version {:?}",
            type_meta.kind, type_meta.api_version
        ));
    }
    let review: AdmissionReviewIn = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(ReviewIn {
        type_meta,
        request: review.request,
    })
}

/// The `apiVersion`/`kind` probe; errors read like Go's for its anonymous struct.
fn type_meta(value: &Value) -> Result<TypeMeta, String> {
    const PREFIX: &str = "couldn't get version/kind; json parse error: json: cannot unmarshal";
    let Value::Object(map) = value else {
        return Err(format!(
            "{PREFIX} {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            json_kind(value)
        ));
    };
    let field = |name: &str| match map.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{PREFIX} {} into Go struct field .{name} of type string",
            json_kind(other)
        )),
    };
    Ok(TypeMeta {
        api_version: field("apiVersion")?,
        kind: field("kind")?,
    })
}

/// Go's text for the one syntax error its tests pin (truncated input); others keep serde's text.
fn go_syntax_error(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Eof => "unexpected end of JSON input".to_owned(),
        _ => error.to_string(),
    }
}

struct Answer {
    response: AdmissionResponseOut,
    method: Option<InjectionMethod>,
}

impl Answer {
    fn allowed(uid: String, patch: Option<String>, method: Option<InjectionMethod>) -> Self {
        let patch_type = patch.as_ref().map(|_| "JSONPatch");
        Self {
            response: AdmissionResponseOut {
                uid,
                allowed: true,
                status: None,
                patch,
                patch_type,
            },
            method,
        }
    }

    fn denied(uid: String, message: String) -> Self {
        Self {
            response: AdmissionResponseOut {
                uid,
                allowed: false,
                status: Some(StatusOut {
                    metadata: serde_json::Map::new(),
                    message,
                }),
                patch: None,
                patch_type: None,
            },
            method: None,
        }
    }
}

/// Field order and omissions follow Go's `json.Marshal` of the admission types.
#[derive(Serialize)]
struct AdmissionReviewOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "apiVersion", skip_serializing_if = "str::is_empty")]
    api_version: &'a str,
    response: AdmissionResponseOut,
}

#[derive(Serialize)]
struct AdmissionResponseOut {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
}

#[derive(Serialize)]
struct StatusOut {
    metadata: serde_json::Map<String, Value>,
    message: String,
}
