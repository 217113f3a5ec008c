//! What the API server does to a Pod on create before the kubelet sees it: namespace and
//! ServiceAccount defaulting, the ServiceAccount admission plugin's `kube-api-access-*` volume,
//! a UID, then the built-in pod-identity mutating webhook. The webhooks registered in the
//! cluster ([`crate::MutatingWebhooks`]) run after this, and the result is validated last.

use podpass_podmutation::{IdentityResolver, InjectionMethod, Jitter, WebhookConfig, mutate_pod};
use serde_json::{Map, Value, json};

use crate::error::KubeletError;
use crate::images::Images;
use crate::manifest::Pod;
use crate::names::random_suffix;

/// Name prefix of the default API access volume.
pub const KUBE_API_ACCESS_PREFIX: &str = "kube-api-access-";
/// Where the default API access volume is mounted in every container.
pub const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// `expirationSeconds` of the default API access token (`WarnOnlyBoundTokenExpirationSeconds`).
pub const KUBE_API_ACCESS_EXPIRATION_SECONDS: i64 = 3607;
/// ConfigMap holding the cluster CA, projected as `ca.crt`.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// The admission chain's collaborators.
#[derive(Clone, Copy)]
pub struct Admission<'a> {
    /// The built-in mutating webhook's settings (`None`: it is off, a registered one runs).
    pub webhook: Option<&'a WebhookConfig>,
    /// ServiceAccount settings and Pod Identity associations, from the caller's store.
    pub identities: &'a dyn IdentityResolver,
    /// Pod Identity token lifetime jitter.
    pub jitter: &'a dyn Jitter,
    /// What images run when a container has no `command`.
    pub images: &'a Images,
}

/// A pod as admission leaves it.
#[derive(Debug)]
pub struct Admitted {
    /// The stored object, which `get pod -o yaml` shows.
    pub object: Value,
    /// Its validated typed view.
    pub pod: Pod,
    /// What credentials the webhook injected, if any.
    pub injected: Option<InjectionMethod>,
}

/// A pod through the built-in admission steps, not yet validated.
#[derive(Debug)]
pub struct Mutated {
    /// The object.
    pub object: Value,
    /// Its namespace, as defaulted.
    pub namespace: String,
    /// What credentials the built-in webhook injected, if any.
    pub injected: Option<InjectionMethod>,
}

impl Admission<'_> {
    /// Admits a raw Pod created in `request_namespace` (`None`: take the manifest's or
    /// `default`), with no webhook registered in the cluster.
    pub fn admit(
        &self,
        pod: Value,
        request_namespace: Option<&str>,
    ) -> Result<Admitted, KubeletError> {
        let mutated = self.mutate(pod, request_namespace)?;
        self.validate(mutated.object, mutated.injected)
    }

    /// As the API server, validates what admission produced.
    pub fn validate(
        &self,
        object: Value,
        injected: Option<InjectionMethod>,
    ) -> Result<Admitted, KubeletError> {
        let mut typed = Pod::from_value(&object)?;
        self.images.resolve(&mut typed)?;
        Ok(Admitted {
            object,
            pod: typed,
            injected,
        })
    }

    /// The built-in mutating admission: defaults, the API access volume, a UID and the
    /// built-in webhook.
    pub fn mutate(
        &self,
        mut pod: Value,
        request_namespace: Option<&str>,
    ) -> Result<Mutated, KubeletError> {
        let root = pod
            .as_object_mut()
            .ok_or_else(|| KubeletError::Manifest("the document is not an object".into()))?;
        for (key, expected) in [("apiVersion", "v1"), ("kind", "Pod")] {
            match root.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(found)) if found == expected => {}
                Some(found) => {
                    return Err(KubeletError::Manifest(format!(
                        "{key} {found} is not {expected:?}"
                    )));
                }
            }
        }
        root.insert("apiVersion".into(), json!("v1"));
        root.insert("kind".into(), json!("Pod"));
        let namespace = default_namespace(object_field(root, "metadata")?, request_namespace)?;
        let spec = object_field(root, "spec")?;
        let service_account = default_service_account(spec);
        spec.entry("restartPolicy").or_insert(json!("Always"));
        spec.entry("terminationGracePeriodSeconds")
            .or_insert(json!(crate::manifest::DEFAULT_GRACE_PERIOD_SECONDS));
        if spec.get("automountServiceAccountToken") != Some(&Value::Bool(false)) {
            inject_api_access(spec);
        }
        let metadata = object_field(root, "metadata")?;
        metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        metadata.insert(
            "creationTimestamp".into(),
            json!(crate::status::now_rfc3339()),
        );
        let injected = match self.webhook {
            Some(webhook) => self.run_webhook(webhook, &mut pod, &namespace, &service_account)?,
            None => None,
        };
        Ok(Mutated {
            object: pod,
            namespace,
            injected,
        })
    }

    fn run_webhook(
        &self,
        webhook: &WebhookConfig,
        pod: &mut Value,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<InjectionMethod>, KubeletError> {
        let settings = self.identities.service_account(namespace, service_account);
        let has_pod_identity = self.identities.has_pod_identity(namespace, service_account);
        let mutation = mutate_pod(
            pod,
            webhook,
            settings.as_ref(),
            has_pod_identity,
            self.jitter,
        )
        .map_err(|e| KubeletError::Admission(e.to_string()))?;
        let Some(mutation) = mutation else {
            return Ok(None);
        };
        json_patch::patch(pod, &mutation.patch)
            .map_err(|e| KubeletError::Admission(format!("applying the patch: {e}")))?;
        Ok(Some(mutation.method))
    }
}

/// The object at `key`, created when absent; an error when it is not an object.
fn object_field<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, KubeletError> {
    let value = parent.entry(key).or_insert_with(|| json!({}));
    if value.is_null() {
        *value = json!({});
    }
    value
        .as_object_mut()
        .ok_or_else(|| KubeletError::Manifest(format!("{key}: must be an object")))
}

fn default_namespace(
    metadata: &mut Map<String, Value>,
    request_namespace: Option<&str>,
) -> Result<String, KubeletError> {
    let declared = metadata.get("namespace").and_then(Value::as_str);
    let namespace = match (declared, request_namespace) {
        (Some(declared), Some(request)) if declared != request => {
            return Err(KubeletError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
                    .into(),
            ));
        }
        (Some(ns), _) | (None, Some(ns)) => ns.to_owned(),
        (None, None) => "default".to_owned(),
    };
    metadata.insert("namespace".into(), json!(namespace));
    Ok(namespace)
}

/// Sets `serviceAccountName` (and its deprecated alias `serviceAccount`) to `default` if unset.
fn default_service_account(spec: &mut Map<String, Value>) -> String {
    let name = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_owned();
    spec.insert("serviceAccountName".into(), json!(name));
    spec.insert("serviceAccount".into(), json!(name));
    name
}

/// Adds the `kube-api-access-xxxxx` volume and mounts it in every container that has no mount
/// at [`SERVICE_ACCOUNT_MOUNT_PATH`] (the ServiceAccount admission plugin).
fn inject_api_access(spec: &mut Map<String, Value>) {
    let volume_name = format!("{KUBE_API_ACCESS_PREFIX}{}", random_suffix(5));
    let mut mounted = false;
    for key in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(key) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let has_mount = container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|mounts| {
                    mounts.iter().any(|m| {
                        m.get("mountPath").and_then(Value::as_str)
                            == Some(SERVICE_ACCOUNT_MOUNT_PATH)
                    })
                });
            if has_mount {
                continue;
            }
            let mount = json!({
                "name": volume_name,
                "readOnly": true,
                "mountPath": SERVICE_ACCOUNT_MOUNT_PATH,
            });
            push(container, "volumeMounts", mount);
            mounted = true;
        }
    }
    if mounted {
        push(spec, "volumes", api_access_volume(&volume_name));
    }
}

fn api_access_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": crate::manifest::DEFAULT_FILE_MODE,
            "sources": [
                {"serviceAccountToken": {
                    "expirationSeconds": KUBE_API_ACCESS_EXPIRATION_SECONDS,
                    "path": "token",
                }},
                {"configMap": {
                    "name": ROOT_CA_CONFIG_MAP,
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }},
                {"downwardAPI": {"items": [{
                    "path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                }]}},
            ],
        },
    })
}

/// Appends to a list field, creating it when absent or not a list.
fn push(object: &mut Map<String, Value>, key: &str, item: Value) {
    let list = object.entry(key).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Value::Array(items) = list {
        items.push(item);
    }
}
