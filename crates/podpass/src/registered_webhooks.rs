//! The API server's mutating admission webhooks: a pod created in the local cluster goes, after
//! the built-in admission, to every webhook its MutatingWebhookConfigurations register for pod
//! creation, in their order, and leaves with their JSON patches applied. A webhook is reached
//! through its Service (the port of a pod the Service selects, on this node) or its URL, over
//! HTTPS trusting only its `caBundle`, and its `failurePolicy` says what a failed call does.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhook, MutatingWebhookConfiguration};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podpass_kubelet::{BoxFuture, Kubelet, KubeletError, MutatingWebhooks};
use serde_json::{Value, json};

use crate::local_cluster::LocalCluster;

/// The webhook's wait when its configuration names none (the API's default), and the most it
/// may ask.
const DEFAULT_TIMEOUT_SECONDS: u64 = 10;
const MAX_TIMEOUT_SECONDS: u64 = 30;
/// The largest AdmissionReview answer read.
const MAX_RESPONSE_BYTES: usize = 3 << 20;

/// The registered webhooks of the local cluster.
pub(crate) struct RegisteredWebhooks {
    local: Arc<LocalCluster>,
    /// Which pods run, to find the port behind a Service (set once the kubelet starts).
    kubelet: OnceLock<Kubelet>,
}

/// Why a webhook call did not give a usable answer.
type CallError = String;

impl RegisteredWebhooks {
    pub(crate) fn new(local: Arc<LocalCluster>) -> Arc<Self> {
        Arc::new(Self {
            local,
            kubelet: OnceLock::new(),
        })
    }

    /// Lets Services lead to the pods of `kubelet`.
    pub(crate) fn attach(&self, kubelet: Kubelet) {
        let _ = self.kubelet.set(kubelet);
    }

    async fn admit(&self, mut pod: Value, namespace: &str) -> Result<Value, KubeletError> {
        let mut configurations: Vec<MutatingWebhookConfiguration> = self
            .local
            .resources("MutatingWebhookConfiguration")
            .await
            .map_err(|e| KubeletError::Admission(e.to_string()))?;
        // The API server calls configurations in the order of their names.
        configurations.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let namespace_labels = BTreeMap::from([(
            "kubernetes.io/metadata.name".to_owned(),
            namespace.to_owned(),
        )]);
        for webhook in configurations
            .iter()
            .flat_map(|c| c.webhooks.iter().flatten())
        {
            let pod_labels: BTreeMap<String, String> = pod
                .pointer("/metadata/labels")
                .and_then(|labels| serde_json::from_value(labels.clone()).ok())
                .unwrap_or_default();
            if !intercepts_pod_creation(webhook)
                || !selects(webhook.namespace_selector.as_ref(), &namespace_labels)
                || !selects(webhook.object_selector.as_ref(), &pod_labels)
            {
                continue;
            }
            match self.call(webhook, &pod, namespace).await {
                Ok(Answer::Patched(patched)) => pod = patched,
                Ok(Answer::Denied(message)) => {
                    return Err(KubeletError::Admission(format!(
                        "admission webhook {:?} denied the request: {message}",
                        webhook.name
                    )));
                }
                Err(error) if webhook.failure_policy.as_deref() == Some("Ignore") => {
                    tracing::warn!(
                        webhook = %webhook.name,
                        %error,
                        "failed calling webhook, failing open (failurePolicy: Ignore)"
                    );
                }
                Err(error) => {
                    return Err(KubeletError::Admission(format!(
                        "Internal error occurred: failed calling webhook {:?}: {error}",
                        webhook.name
                    )));
                }
            }
        }
        Ok(pod)
    }

    async fn call(
        &self,
        webhook: &MutatingWebhook,
        pod: &Value,
        namespace: &str,
    ) -> Result<Answer, CallError> {
        if webhook
            .match_conditions
            .as_ref()
            .is_some_and(|conditions| !conditions.is_empty())
        {
            return Err("matchConditions (CEL) are not evaluated by podpass's API server".into());
        }
        let version = ["v1", "v1beta1"]
            .into_iter()
            .find(|v| webhook.admission_review_versions.iter().any(|w| w == v))
            .ok_or("the webhook accepts no AdmissionReview version podpass sends (v1, v1beta1)")?;
        let timeout = webhook
            .timeout_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
            .clamp(1, MAX_TIMEOUT_SECONDS);
        let (url, resolve) = self.address(webhook).await?;
        let ca = webhook
            .client_config
            .ca_bundle
            .as_ref()
            .map(|bundle| bundle.0.as_slice())
            .filter(|bundle| !bundle.is_empty())
            .ok_or("the webhook has no caBundle to verify it with")?;
        let uid = uuid::Uuid::new_v4().to_string();
        let review = review(version, &uid, pod, namespace);
        let endpoint = Endpoint {
            url: &url,
            resolve,
            ca,
            timeout: Duration::from_secs(timeout),
        };
        let answer = exchange(&endpoint, &review).await?;
        read_answer(&answer, version, &uid, pod)
    }

    /// Where the webhook is: its URL, or its Service's port on this node, with the name the
    /// certificate must carry.
    async fn address(
        &self,
        webhook: &MutatingWebhook,
    ) -> Result<(String, Option<(String, SocketAddr)>), CallError> {
        let config = &webhook.client_config;
        if let Some(url) = &config.url {
            return Ok((url.clone(), None));
        }
        let reference = config
            .service
            .as_ref()
            .ok_or("clientConfig names neither a url nor a service")?;
        let services: Vec<Service> = self
            .local
            .resources("Service")
            .await
            .map_err(|e| e.to_string())?;
        let service = services
            .iter()
            .find(|s| {
                s.metadata.name.as_deref() == Some(reference.name.as_str())
                    && s.metadata.namespace.as_deref() == Some(reference.namespace.as_str())
            })
            .ok_or_else(|| {
                format!(
                    "service \"{}/{}\" not found",
                    reference.namespace, reference.name
                )
            })?;
        let port = reference.port.unwrap_or(443);
        let node_port = self.target_port(service, port).await?;
        let host = format!("{}.{}.svc", reference.name, reference.namespace);
        let path = reference.path.clone().unwrap_or_default();
        Ok((
            format!("https://{host}:{port}{path}"),
            Some((host, SocketAddr::from((Ipv4Addr::LOCALHOST, node_port)))),
        ))
    }

    /// The port on this node behind `port` of `service`: its targetPort, a number or a port
    /// name of a pod the Service selects.
    async fn target_port(&self, service: &Service, port: i32) -> Result<u16, CallError> {
        let spec = service.spec.as_ref().ok_or("the service has no spec")?;
        let service_port = spec
            .ports
            .iter()
            .flatten()
            .find(|p| p.port == port)
            .ok_or_else(|| format!("the service has no port {port}"))?;
        let selector = spec.selector.clone().unwrap_or_default();
        let kubelet = self.kubelet.get().ok_or("no pods run on this node")?;
        let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
        let endpoints: Vec<Value> = kubelet
            .list(Some(namespace))
            .await
            .into_iter()
            .map(|record| record.to_object())
            .filter(|pod| {
                let labels: BTreeMap<String, String> = pod
                    .pointer("/metadata/labels")
                    .and_then(|l| serde_json::from_value(l.clone()).ok())
                    .unwrap_or_default();
                !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .filter(|pod| pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
            .collect();
        let pod = endpoints.first().ok_or_else(|| {
            format!(
                "no endpoints available for service \"{}\"",
                service.metadata.name.as_deref().unwrap_or_default()
            )
        })?;
        let number = match &service_port.target_port {
            None => port,
            Some(IntOrString::Int(number)) => *number,
            Some(IntOrString::String(name)) => pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| {
                    c.get("ports")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| format!("no container port named {name:?}"))?,
        };
        u16::try_from(number).map_err(|_| format!("port {number} is out of range"))
    }
}

impl MutatingWebhooks for RegisteredWebhooks {
    fn mutate<'a>(
        &'a self,
        object: Value,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Value, KubeletError>> {
        Box::pin(self.admit(object, namespace))
    }
}

/// What a webhook answered.
enum Answer {
    /// The pod with the webhook's patch applied (unchanged without one).
    Patched(Value),
    /// A refusal, with its message.
    Denied(String),
}

/// Whether the webhook's rules cover `CREATE` of `pods` in the core group, v1.
fn intercepts_pod_creation(webhook: &MutatingWebhook) -> bool {
    let has = |list: &Option<Vec<String>>, wanted: &[&str]| {
        list.iter()
            .flatten()
            .any(|item| wanted.contains(&item.as_str()))
    };
    webhook.rules.iter().flatten().any(|rule| {
        has(&rule.operations, &["CREATE", "*"])
            && has(&rule.api_groups, &["", "*"])
            && has(&rule.api_versions, &["v1", "*"])
            && has(&rule.resources, &["pods", "*", "*/*"])
            && matches!(rule.scope.as_deref(), None | Some("*" | "Namespaced"))
    })
}

/// Whether `selector` (absent: everything) selects an object with `labels`.
fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                // An operator the API server would have refused selects nothing.
                _ => false,
            }
        })
}

/// The AdmissionReview the API server sends for the creation of `pod`.
fn review(version: &str, uid: &str, pod: &Value, namespace: &str) -> Value {
    let kind = json!({"group": "", "version": "v1", "kind": "Pod"});
    let resource = json!({"group": "", "version": "v1", "resource": "pods"});
    json!({
        "apiVersion": format!("admission.k8s.io/{version}"),
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": pod.pointer("/metadata/name").cloned().unwrap_or(json!("")),
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "podpass:admin", "groups": ["system:masters", "system:authenticated"]},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    })
}

/// Where and how a webhook is called.
struct Endpoint<'a> {
    url: &'a str,
    /// The address the URL's host name is reached at (a Service's port on this node).
    resolve: Option<(String, SocketAddr)>,
    /// The PEM certificates the webhook's certificate must chain to, and nothing else.
    ca: &'a [u8],
    /// The whole call's limit: connecting, sending, and reading the answer to its end.
    timeout: Duration,
}

/// POSTs `review` to the webhook and reads its JSON answer, never more than
/// `MAX_RESPONSE_BYTES` of it, nor for longer than the endpoint's timeout.
async fn exchange(endpoint: &Endpoint<'_>, review: &Value) -> Result<Value, CallError> {
    let url = endpoint.url;
    let certificates = reqwest::Certificate::from_pem_bundle(endpoint.ca)
        .map_err(|e| format!("reading the caBundle: {e}"))?;
    let mut client = reqwest::Client::builder()
        .tls_certs_only(certificates)
        .timeout(endpoint.timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some((host, address)) = &endpoint.resolve {
        client = client.resolve(host, *address);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let mut response = client
        .post(format!("{url}?timeout={}s", endpoint.timeout.as_secs()))
        .json(review)
        .send()
        .await
        .map_err(|e| format!("failed to call webhook: Post {url:?}: {}", error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(format!("received status {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the response: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err("the response is larger than 3 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| format!("the response is not an AdmissionReview: {e}"))
}

/// Reads a webhook's AdmissionReview answer to the request `uid` about `pod`.
fn read_answer(answer: &Value, version: &str, uid: &str, pod: &Value) -> Result<Answer, CallError> {
    let expected = format!("admission.k8s.io/{version}");
    if answer.get("apiVersion").and_then(Value::as_str) != Some(expected.as_str())
        || answer.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
    {
        return Err(format!(
            "expected response.apiVersion {expected}, kind AdmissionReview"
        ));
    }
    let response = answer
        .get("response")
        .ok_or("the AdmissionReview has no response")?;
    if response.get("uid").and_then(Value::as_str) != Some(uid) {
        return Err(format!("expected response.uid={uid:?}"));
    }
    if response.get("allowed").and_then(Value::as_bool) != Some(true) {
        let message = response
            .pointer("/status/message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        return Ok(Answer::Denied(message));
    }
    let Some(patch) = response.get("patch").and_then(Value::as_str) else {
        return Ok(Answer::Patched(pod.clone()));
    };
    match response.get("patchType").and_then(Value::as_str) {
        Some("JSONPatch") => {}
        other => return Err(format!("unsupported patchType {other:?}")),
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| format!("the patch is not base64: {e}"))?;
    let patch: json_patch::Patch = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the patch is not a JSON patch: {e}"))?;
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &patch).map_err(|e| format!("applying the patch: {e}"))?;
    Ok(Answer::Patched(patched))
}

/// An error with its causes, which reqwest keeps apart ("connection refused" is a cause).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(value: Value) -> LabelSelector {
        serde_json::from_value(value).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn label_selectors_select_as_the_api_server() {
        let install = selector(json!({"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "podpass"]}]}));
        assert!(selects(
            Some(&install),
            &labels(&[("kubernetes.io/metadata.name", "reports")])
        ));
        assert!(!selects(
            Some(&install),
            &labels(&[("kubernetes.io/metadata.name", "podpass")])
        ));
        let skip = selector(json!({"matchExpressions": [
            {"key": "eks.amazonaws.com/skip-pod-identity-webhook", "operator": "DoesNotExist"}]}));
        assert!(selects(Some(&skip), &labels(&[])));
        assert!(!selects(
            Some(&skip),
            &labels(&[("eks.amazonaws.com/skip-pod-identity-webhook", "")])
        ));
        let both = selector(json!({"matchLabels": {"app": "a"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}));
        assert!(selects(
            Some(&both),
            &labels(&[("app", "a"), ("tier", "web")])
        ));
        assert!(!selects(Some(&both), &labels(&[("app", "a")])));
        assert!(!selects(
            Some(&both),
            &labels(&[("app", "b"), ("tier", "web")])
        ));
        let unknown = selector(json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}));
        assert!(!selects(Some(&unknown), &labels(&[("a", "1")])));
        assert!(selects(None, &labels(&[])));
    }

    fn answer(uid: &str, response: Value) -> Value {
        let mut response = response;
        response["uid"] = json!(uid);
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
    }

    #[test]
    fn an_answer_is_taken_only_for_its_request_and_as_a_json_patch() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        let patch = base64::engine::general_purpose::STANDARD.encode(
            r#"[{"op":"add","path":"/spec/containers/0/env","value":[{"name":"A","value":"1"}]}]"#,
        );
        let ok = answer(
            "u1",
            json!({"allowed": true, "patchType": "JSONPatch", "patch": patch}),
        );
        let Ok(Answer::Patched(patched)) = read_answer(&ok, "v1", "u1", &pod) else {
            panic!("a patch is applied");
        };
        assert_eq!(patched["spec"]["containers"][0]["env"][0]["name"], "A");
        // Another request's answer (a replay) is an error, not a patch.
        assert!(read_answer(&ok, "v1", "u2", &pod).is_err());
        let denied = answer("u1", json!({"allowed": false, "status": {"message": "no"}}));
        assert!(
            matches!(read_answer(&denied, "v1", "u1", &pod), Ok(Answer::Denied(m)) if m == "no")
        );
        let merge = answer(
            "u1",
            json!({"allowed": true, "patchType": "MergePatch", "patch": patch}),
        );
        assert!(read_answer(&merge, "v1", "u1", &pod).is_err());
        let garbage = answer(
            "u1",
            json!({"allowed": true, "patchType": "JSONPatch", "patch": "%%%"}),
        );
        assert!(read_answer(&garbage, "v1", "u1", &pod).is_err());
        let bad_path = base64::engine::general_purpose::STANDARD
            .encode(r#"[{"op":"replace","path":"/spec/nothing/0","value":1}]"#);
        let bad = answer(
            "u1",
            json!({"allowed": true, "patchType": "JSONPatch", "patch": bad_path}),
        );
        assert!(read_answer(&bad, "v1", "u1", &pod).is_err());
        let wrong_version = answer("u1", json!({"allowed": true}));
        assert!(read_answer(&wrong_version, "v1beta1", "u1", &pod).is_err());
    }
}

/// A webhook is whoever answers at its address: one that stalls, drips or floods its answer
/// must cost the pod's creation no more than the call's timeout and 3 MiB.
#[cfg(test)]
mod hostile_webhooks {
    use std::time::Duration;

    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::{Endpoint, exchange};
    use crate::pki::ClusterCa;

    /// How the webhook answers once it has read the request's first bytes.
    #[derive(Clone, Copy)]
    enum Behaviour {
        /// Never answers, and keeps the connection open.
        Stall,
        /// Announces a small answer, then sends a byte every 200 ms.
        Drip,
        /// Sends 4 MiB of answer.
        Flood,
        /// Answers with a valid AdmissionReview.
        Answer,
    }

    /// A TLS webhook on loopback behaving as told; returns its URL and the CA bundle it is
    /// trusted with. Its task lives as long as the test's runtime.
    async fn webhook(behaviour: Behaviour, dir: &std::path::Path) -> (String, String) {
        let ca = ClusterCa::load_or_create(dir, "hostile").unwrap();
        let mut config = (*ca.serving_config(&[]).unwrap()).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}/mutate",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = [0u8; 1024];
                    let _ = tls.read(&mut request).await;
                    let _ = answer(&mut tls, behaviour).await;
                    // Until the client is done: closing on unread bytes would reset it.
                    while tls.read(&mut request).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        (url, ca.certificate_pem().to_owned())
    }

    async fn answer<W: tokio::io::AsyncWrite + Unpin>(
        out: &mut W,
        behaviour: Behaviour,
    ) -> std::io::Result<()> {
        let head = |length: usize| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
            )
        };
        match behaviour {
            Behaviour::Stall => std::future::pending().await,
            Behaviour::Drip => {
                out.write_all(head(1000).as_bytes()).await?;
                loop {
                    out.write_all(b" ").await?;
                    out.flush().await?;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Behaviour::Flood => {
                out.write_all(head(4 << 20).as_bytes()).await?;
                let block = vec![b' '; 64 << 10];
                for _ in 0..64 {
                    out.write_all(&block).await?;
                }
                out.flush().await
            }
            Behaviour::Answer => {
                let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": "u", "allowed": true}})
                .to_string();
                out.write_all(format!("{}{body}", head(body.len())).as_bytes())
                    .await?;
                out.flush().await
            }
        }
    }

    /// What the API server's call to a webhook behaving so gives: the stalling kinds with a
    /// one-second timeout, the others with room to read 3 MiB on a loaded machine.
    async fn call(behaviour: Behaviour) -> Result<Value, String> {
        let dir = tempfile::tempdir().unwrap();
        let (url, ca) = webhook(behaviour, dir.path()).await;
        let seconds = match behaviour {
            Behaviour::Stall | Behaviour::Drip => 1,
            Behaviour::Flood | Behaviour::Answer => 20,
        };
        call_trusting(&url, &ca, Duration::from_secs(seconds)).await
    }

    async fn call_trusting(url: &str, ca: &str, timeout: Duration) -> Result<Value, String> {
        let endpoint = Endpoint {
            url,
            resolve: None,
            ca: ca.as_bytes(),
            timeout,
        };
        // A guard against a hang, far beyond the call's own limit: not a measurement.
        tokio::time::timeout(timeout * 3, exchange(&endpoint, &json!({})))
            .await
            .expect("the call ends at its own timeout")
    }

    #[tokio::test]
    async fn a_well_behaved_webhook_is_read() {
        let answer = call(Behaviour::Answer).await.unwrap();
        assert_eq!(answer["response"]["allowed"], true);
    }

    #[tokio::test]
    async fn a_webhook_whose_certificate_the_ca_bundle_does_not_vouch_for_is_refused() {
        let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (url, _) = webhook(Behaviour::Answer, dir.path()).await;
        let stranger = ClusterCa::load_or_create(other.path(), "stranger").unwrap();
        let error = call_trusting(&url, stranger.certificate_pem(), Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(error.contains("certificate"), "{error}");
    }

    #[tokio::test]
    async fn a_webhook_that_never_answers_fails_at_the_timeout() {
        let error = call(Behaviour::Stall).await.unwrap_err();
        assert!(error.contains("timed out"), "{error}");
    }

    #[tokio::test]
    async fn a_webhook_that_drips_its_answer_fails_at_the_timeout() {
        let error = call(Behaviour::Drip).await.unwrap_err();
        assert!(error.contains("timed out"), "{error}");
    }

    #[tokio::test]
    async fn a_webhook_that_floods_is_read_no_further_than_3_mib() {
        let error = call(Behaviour::Flood).await.unwrap_err();
        assert_eq!(error, "the response is larger than 3 MiB");
    }
}
