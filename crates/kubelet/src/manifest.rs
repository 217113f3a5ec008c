//! Reading a Pod manifest: the raw JSON (so unknown fields survive) and a typed view of the
//! fields the kubelet acts on.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::KubeletError;
use crate::names;
use crate::probes::{ContainerPort, Probe, Probes};

/// Default `expirationSeconds` of a projected serviceAccountToken source.
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// Default `defaultMode` of configMap, secret, downwardAPI and projected volumes (0644).
pub const DEFAULT_FILE_MODE: u32 = 0o644;
/// Default `terminationGracePeriodSeconds`.
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 30;

/// Parses a manifest of one document, written as JSON or YAML, into raw JSON.
pub fn parse_document(text: &str) -> Result<Value, KubeletError> {
    let mut documents = parse_documents(text)?;
    match documents.len() {
        1 => Ok(documents.remove(0)),
        0 => Err(KubeletError::Manifest("the manifest is empty".into())),
        n => Err(KubeletError::Manifest(format!(
            "the manifest has {n} documents where one is expected"
        ))),
    }
}

/// Parses a manifest of any number of documents (YAML separated by `---`, or one JSON object)
/// into raw JSON objects; empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, KubeletError> {
    let documents: Vec<Value> = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(text).map_err(|e| KubeletError::Manifest(format!("JSON: {e}")))?]
    } else {
        // kubectl reads YAML 1.1, where `defaultMode: 0644` is octal.
        let mut options = serde_saphyr::Options::default();
        options.legacy_octal_numbers = true;
        serde_saphyr::from_multiple_with_options(text, options)
            .map_err(|e| KubeletError::Manifest(format!("YAML: {e}")))?
    };
    documents
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|d| {
            if d.is_object() {
                Ok(d)
            } else {
                Err(KubeletError::Manifest(
                    "the document is not an object".into(),
                ))
            }
        })
        .collect()
}

/// What the container does when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub enum RestartPolicy {
    /// Restart whatever the exit code (the API server default).
    #[default]
    Always,
    /// Restart after a non-zero exit.
    OnFailure,
    /// Never restart.
    Never,
}

/// The typed view of a Pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, `default` when absent.
    pub namespace: String,
    /// `metadata.uid`, empty before admission.
    pub uid: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.serviceAccountName`, `default` when absent.
    pub service_account_name: String,
    /// `spec.automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
    /// `spec.restartPolicy`.
    pub restart_policy: RestartPolicy,
    /// `spec.terminationGracePeriodSeconds`.
    pub termination_grace_period_seconds: i64,
    /// `spec.securityContext.fsGroup`.
    pub fs_group: Option<i64>,
    /// `spec.initContainers`.
    pub init_containers: Vec<Container>,
    /// `spec.containers`.
    pub containers: Vec<Container>,
    /// `spec.volumes`.
    pub volumes: Vec<Volume>,
}

/// A container (or init container).
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `command` (after admission: the whole argv, see [`crate::images`]).
    pub command: Vec<String>,
    /// `args`.
    pub args: Vec<String>,
    /// `workingDir`.
    pub working_dir: Option<String>,
    /// `env`, in order.
    pub env: Vec<EnvVar>,
    /// `volumeMounts`.
    pub volume_mounts: Vec<VolumeMount>,
    /// `securityContext.runAsUser`, falling back to the pod's.
    pub run_as_user: Option<i64>,
    /// `ports`, which probes may name.
    pub ports: Vec<ContainerPort>,
    /// `startupProbe`, `readinessProbe` and `livenessProbe`.
    pub probes: Probes,
}

/// One `env` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Where the value comes from.
    pub source: EnvSource,
}

/// The value of an `env` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvSource {
    /// `value` (with `$(VAR)` references still unexpanded).
    Value(String),
    /// `valueFrom.fieldRef.fieldPath`.
    FieldRef(String),
    /// `valueFrom.configMapKeyRef`.
    ConfigMapKey(KeyRef),
    /// `valueFrom.secretKeyRef`.
    SecretKey(KeyRef),
}

/// A reference to one key of a ConfigMap or Secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyRef {
    /// Object name.
    pub name: String,
    /// Key.
    pub key: String,
    /// Whether a missing object or key is allowed.
    #[serde(default)]
    pub optional: bool,
}

/// One `volumeMounts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// Volume name.
    pub name: String,
    /// Absolute path inside the container.
    pub mount_path: String,
    /// `readOnly`.
    #[serde(default)]
    pub read_only: bool,
    /// `subPath` inside the volume.
    #[serde(default)]
    pub sub_path: Option<String>,
}

/// One `volumes` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Volume name (also its directory name).
    pub name: String,
    /// Its content.
    pub source: VolumeSource,
}

/// The volume types the kubelet materialises.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeSource {
    /// `projected`.
    Projected {
        /// `defaultMode`.
        default_mode: u32,
        /// `sources`.
        sources: Vec<ProjectedSource>,
    },
    /// `configMap`.
    ConfigMap(ObjectProjection),
    /// `secret` (`secretName`).
    Secret(ObjectProjection),
    /// `downwardAPI`.
    DownwardApi {
        /// `defaultMode`.
        default_mode: u32,
        /// `items`.
        items: Vec<DownwardItem>,
    },
    /// `emptyDir`: a plain writable directory.
    EmptyDir,
    /// `persistentVolumeClaim`: a directory of the node that outlives the pod, one per claim
    /// of the namespace, made on first use as a dynamic provisioner would.
    PersistentVolumeClaim {
        /// `claimName`.
        claim_name: String,
    },
}

/// One source of a projected volume.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectedSource {
    /// `serviceAccountToken`.
    ServiceAccountToken(TokenProjection),
    /// `configMap`.
    ConfigMap(ObjectProjection),
    /// `secret`.
    Secret(ObjectProjection),
    /// `downwardAPI` items.
    DownwardApi(Vec<DownwardItem>),
}

/// A projected ServiceAccount token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProjection {
    /// `audience`; `None` means the API server's audiences.
    pub audience: Option<String>,
    /// `expirationSeconds`.
    pub expiration_seconds: i64,
    /// `path` of the file inside the volume.
    pub path: String,
}

/// A ConfigMap or Secret projected as files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProjection {
    /// Object name.
    pub name: String,
    /// Selected keys; `None` projects every key under its own name.
    pub items: Option<Vec<KeyToPath>>,
    /// Whether a missing object is allowed.
    pub optional: bool,
    /// `defaultMode` of a whole configMap/secret volume (projected sources use the volume's).
    pub default_mode: Option<u32>,
}

/// `items[]` of a ConfigMap or Secret projection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyToPath {
    /// Key in the object.
    pub key: String,
    /// File path inside the volume.
    pub path: String,
    /// File mode.
    #[serde(default)]
    pub mode: Option<u32>,
}

/// `items[]` of a downwardAPI projection (fieldRef only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownwardItem {
    /// File path inside the volume.
    pub path: String,
    /// `fieldRef.fieldPath`.
    pub field_path: String,
    /// File mode.
    pub mode: Option<u32>,
}

// ---- serde shapes of the raw JSON, converted and validated below ----

#[derive(Deserialize)]
struct RawPod {
    #[serde(default)]
    metadata: RawMetadata,
    #[serde(default)]
    spec: Option<RawSpec>,
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    #[serde(default)]
    service_account_name: Option<String>,
    #[serde(default)]
    automount_service_account_token: Option<bool>,
    #[serde(default)]
    restart_policy: Option<RestartPolicy>,
    #[serde(default)]
    termination_grace_period_seconds: Option<i64>,
    #[serde(default)]
    security_context: Option<RawSecurityContext>,
    #[serde(default)]
    init_containers: Option<Vec<RawContainer>>,
    #[serde(default)]
    containers: Option<Vec<RawContainer>>,
    #[serde(default)]
    volumes: Option<Vec<RawVolume>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSecurityContext {
    #[serde(default)]
    fs_group: Option<i64>,
    #[serde(default)]
    run_as_user: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainer {
    name: String,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    env: Option<Vec<RawEnv>>,
    #[serde(default)]
    volume_mounts: Option<Vec<VolumeMount>>,
    #[serde(default)]
    security_context: Option<RawSecurityContext>,
    #[serde(default)]
    ports: Option<Vec<ContainerPort>>,
    #[serde(default)]
    startup_probe: Option<Probe>,
    #[serde(default)]
    readiness_probe: Option<Probe>,
    #[serde(default)]
    liveness_probe: Option<Probe>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnv {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_from: Option<RawEnvFrom>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvFrom {
    #[serde(default)]
    field_ref: Option<RawFieldRef>,
    #[serde(default)]
    config_map_key_ref: Option<KeyRef>,
    #[serde(default)]
    secret_key_ref: Option<KeyRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFieldRef {
    field_path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVolume {
    name: String,
    #[serde(default)]
    projected: Option<RawProjected>,
    #[serde(default)]
    config_map: Option<RawObjectSource>,
    #[serde(default)]
    secret: Option<RawObjectSource>,
    #[serde(default, rename = "downwardAPI")]
    downward_api: Option<RawDownward>,
    #[serde(default)]
    empty_dir: Option<Value>,
    #[serde(default)]
    persistent_volume_claim: Option<RawClaim>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawClaim {
    claim_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProjected {
    #[serde(default)]
    default_mode: Option<u32>,
    #[serde(default)]
    sources: Option<Vec<RawProjection>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProjection {
    #[serde(default)]
    service_account_token: Option<RawToken>,
    #[serde(default)]
    config_map: Option<RawObjectSource>,
    #[serde(default)]
    secret: Option<RawObjectSource>,
    #[serde(default, rename = "downwardAPI")]
    downward_api: Option<RawDownward>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawToken {
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    expiration_seconds: Option<i64>,
    path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObjectSource {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    secret_name: Option<String>,
    #[serde(default)]
    items: Option<Vec<KeyToPath>>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default)]
    default_mode: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDownward {
    #[serde(default)]
    default_mode: Option<u32>,
    #[serde(default)]
    items: Option<Vec<RawDownwardItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDownwardItem {
    path: String,
    #[serde(default)]
    field_ref: Option<RawFieldRef>,
    #[serde(default)]
    mode: Option<u32>,
}

impl Pod {
    /// Reads and validates the typed view of a raw Pod.
    pub fn from_value(value: &Value) -> Result<Self, KubeletError> {
        if let Some(kind) = value.get("kind").and_then(Value::as_str)
            && kind != "Pod"
        {
            return Err(invalid(format!("kind {kind:?} is not Pod")));
        }
        let raw: RawPod = serde_json::from_value(value.clone()).map_err(invalid)?;
        let name = raw
            .metadata
            .name
            .ok_or_else(|| invalid("metadata.name: Required value"))?;
        names::check_subdomain("metadata.name", &name).map_err(invalid)?;
        let namespace = raw.metadata.namespace.unwrap_or_else(|| "default".into());
        names::check_label("metadata.namespace", &namespace).map_err(invalid)?;
        let spec = raw.spec.ok_or_else(|| invalid("spec: Required value"))?;
        let service_account_name = spec
            .service_account_name
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        names::check_subdomain("spec.serviceAccountName", &service_account_name)
            .map_err(invalid)?;
        let pod_security = spec.security_context.unwrap_or_default();
        let convert = |list: Option<Vec<RawContainer>>, field: &str| {
            list.unwrap_or_default()
                .into_iter()
                .map(|c| container(c, pod_security.run_as_user, field))
                .collect::<Result<Vec<_>, _>>()
        };
        let init_containers = convert(spec.init_containers, "spec.initContainers")?;
        let containers = convert(spec.containers, "spec.containers")?;
        if containers.is_empty() {
            return Err(invalid("spec.containers: Required value"));
        }
        let volumes = spec
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(volume)
            .collect::<Result<Vec<_>, _>>()?;
        let pod = Pod {
            name,
            namespace,
            uid: raw.metadata.uid.unwrap_or_default(),
            labels: raw.metadata.labels.unwrap_or_default(),
            annotations: raw.metadata.annotations.unwrap_or_default(),
            service_account_name,
            automount_service_account_token: spec.automount_service_account_token,
            restart_policy: spec.restart_policy.unwrap_or_default(),
            termination_grace_period_seconds: spec
                .termination_grace_period_seconds
                .unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS)
                .max(0),
            fs_group: pod_security.fs_group,
            init_containers,
            containers,
            volumes,
        };
        pod.check_references()?;
        Ok(pod)
    }

    /// Every container, init containers first.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.init_containers.iter().chain(&self.containers)
    }

    /// The container named `name`, init containers included.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.all_containers().find(|c| c.name == name)
    }

    /// Unique container and volume names, and mounts that name a declared volume.
    fn check_references(&self) -> Result<(), KubeletError> {
        let mut seen = std::collections::HashSet::new();
        for c in self.all_containers() {
            if !seen.insert(c.name.as_str()) {
                return Err(invalid(format!("duplicate container name {:?}", c.name)));
            }
        }
        let mut volumes = std::collections::HashSet::new();
        for v in &self.volumes {
            if !volumes.insert(v.name.as_str()) {
                return Err(invalid(format!("duplicate volume name {:?}", v.name)));
            }
        }
        for c in self.all_containers() {
            for m in &c.volume_mounts {
                if !volumes.contains(m.name.as_str()) {
                    return Err(invalid(format!(
                        "container {:?}: volumeMounts.name {:?} not found",
                        c.name, m.name
                    )));
                }
            }
        }
        Ok(())
    }
}

fn container(
    raw: RawContainer,
    pod_run_as_user: Option<i64>,
    field: &str,
) -> Result<Container, KubeletError> {
    names::check_label(&format!("{field}.name"), &raw.name).map_err(invalid)?;
    let env = raw
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|e| env_var(e, &raw.name))
        .collect::<Result<Vec<_>, _>>()?;
    let volume_mounts = raw.volume_mounts.unwrap_or_default();
    for m in &volume_mounts {
        if !m.mount_path.starts_with('/') {
            return Err(invalid(format!(
                "container {:?}: mountPath {:?} must be absolute",
                raw.name, m.mount_path
            )));
        }
        if let Some(sub) = &m.sub_path {
            names::check_relative_path("subPath", sub).map_err(invalid)?;
        }
    }
    let probes = Probes {
        startup: raw.startup_probe,
        readiness: raw.readiness_probe,
        liveness: raw.liveness_probe,
    };
    for (kind, probe) in [
        ("startupProbe", &probes.startup),
        ("readinessProbe", &probes.readiness),
        ("livenessProbe", &probes.liveness),
    ] {
        if let Some(probe) = probe {
            probe
                .validate(&format!("container {:?}: {kind}", raw.name))
                .map_err(invalid)?;
        }
    }
    Ok(Container {
        ports: raw.ports.unwrap_or_default(),
        probes,
        name: raw.name,
        image: raw.image.filter(|i| !i.is_empty()),
        command: raw.command.unwrap_or_default(),
        args: raw.args.unwrap_or_default(),
        working_dir: raw.working_dir,
        env,
        volume_mounts,
        run_as_user: raw
            .security_context
            .and_then(|s| s.run_as_user)
            .or(pod_run_as_user),
    })
}

fn env_var(raw: RawEnv, container: &str) -> Result<EnvVar, KubeletError> {
    let source = match (raw.value, raw.value_from) {
        (_, Some(from)) => match (from.field_ref, from.config_map_key_ref, from.secret_key_ref) {
            (Some(f), None, None) => EnvSource::FieldRef(f.field_path),
            (None, Some(k), None) => EnvSource::ConfigMapKey(k),
            (None, None, Some(k)) => EnvSource::SecretKey(k),
            _ => {
                return Err(invalid(format!(
                    "container {container:?}: env {:?}: valueFrom needs exactly one of fieldRef, configMapKeyRef, secretKeyRef",
                    raw.name
                )));
            }
        },
        (value, None) => EnvSource::Value(value.unwrap_or_default()),
    };
    Ok(EnvVar {
        name: raw.name,
        source,
    })
}

fn volume(raw: RawVolume) -> Result<Volume, KubeletError> {
    names::check_label("volumes.name", &raw.name).map_err(invalid)?;
    let context = |e: String| invalid(format!("volume {:?}: {e}", raw.name));
    let kinds = [
        raw.projected.is_some(),
        raw.config_map.is_some(),
        raw.secret.is_some(),
        raw.downward_api.is_some(),
        raw.empty_dir.is_some(),
        raw.persistent_volume_claim.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(context(
            "exactly one of projected, configMap, secret, downwardAPI, emptyDir, \
             persistentVolumeClaim is supported"
                .into(),
        ));
    }
    let source = if let Some(p) = raw.projected {
        let sources = p
            .sources
            .unwrap_or_default()
            .into_iter()
            .map(projection)
            .collect::<Result<Vec<_>, _>>()
            .map_err(context)?;
        VolumeSource::Projected {
            default_mode: mode(p.default_mode).map_err(context)?,
            sources,
        }
    } else if let Some(c) = raw.config_map {
        VolumeSource::ConfigMap(object(c, false).map_err(context)?)
    } else if let Some(s) = raw.secret {
        VolumeSource::Secret(object(s, true).map_err(context)?)
    } else if let Some(d) = raw.downward_api {
        VolumeSource::DownwardApi {
            default_mode: mode(d.default_mode).map_err(context)?,
            items: downward(d).map_err(context)?,
        }
    } else if let Some(claim) = raw.persistent_volume_claim {
        // A directory name of the node: a DNS subdomain has no `/` and is not `..`.
        names::check_subdomain("persistentVolumeClaim.claimName", &claim.claim_name)
            .map_err(context)?;
        VolumeSource::PersistentVolumeClaim {
            claim_name: claim.claim_name,
        }
    } else {
        VolumeSource::EmptyDir
    };
    Ok(Volume {
        name: raw.name,
        source,
    })
}

fn projection(raw: RawProjection) -> Result<ProjectedSource, String> {
    match (
        raw.service_account_token,
        raw.config_map,
        raw.secret,
        raw.downward_api,
    ) {
        (Some(t), None, None, None) => {
            names::check_relative_path("serviceAccountToken.path", &t.path)?;
            let expiration_seconds = t
                .expiration_seconds
                .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS);
            if expiration_seconds < podpass_token::MIN_EXPIRATION_SECONDS {
                return Err(
                    "serviceAccountToken.expirationSeconds: may not specify a duration less than 10 minutes"
                        .into(),
                );
            }
            Ok(ProjectedSource::ServiceAccountToken(TokenProjection {
                audience: t.audience.filter(|a| !a.is_empty()),
                expiration_seconds,
                path: t.path,
            }))
        }
        (None, Some(c), None, None) => Ok(ProjectedSource::ConfigMap(object(c, false)?)),
        (None, None, Some(s), None) => Ok(ProjectedSource::Secret(object(s, false)?)),
        (None, None, None, Some(d)) => Ok(ProjectedSource::DownwardApi(downward(d)?)),
        _ => Err("each projected source needs exactly one of serviceAccountToken, configMap, secret, downwardAPI".into()),
    }
}

fn object(raw: RawObjectSource, secret_volume: bool) -> Result<ObjectProjection, String> {
    let name = if secret_volume {
        raw.secret_name
    } else {
        raw.name
    }
    .ok_or("name: Required value")?;
    for item in raw.items.iter().flatten() {
        names::check_relative_path("items.path", &item.path)?;
        mode(item.mode)?;
    }
    Ok(ObjectProjection {
        name,
        items: raw.items,
        optional: raw.optional.unwrap_or(false),
        default_mode: raw.default_mode.map(|m| mode(Some(m))).transpose()?,
    })
}

fn downward(raw: RawDownward) -> Result<Vec<DownwardItem>, String> {
    raw.items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            names::check_relative_path("downwardAPI.items.path", &item.path)?;
            let field_ref = item
                .field_ref
                .ok_or("downwardAPI items need fieldRef (resourceFieldRef is not supported)")?;
            mode(item.mode)?;
            Ok(DownwardItem {
                path: item.path,
                field_path: field_ref.field_path,
                mode: item.mode,
            })
        })
        .collect()
}

/// A file mode: at most 0777, defaulting to 0644.
fn mode(value: Option<u32>) -> Result<u32, String> {
    match value {
        None => Ok(DEFAULT_FILE_MODE),
        Some(m) if m <= 0o777 => Ok(m),
        Some(m) => Err(format!(
            "mode {m} must be a number between 0 and 0777 (octal)"
        )),
    }
}

fn invalid(message: impl std::fmt::Display) -> KubeletError {
    KubeletError::Manifest(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_modes_read_as_kubectl_does() {
        let value = parse_document("a: 0644\nb: 0o644\nc: 420\nd: 0400").unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": 420, "b": 420, "c": 420, "d": 256})
        );
    }

    #[test]
    fn modes_above_0777_are_rejected() {
        assert_eq!(mode(None), Ok(0o644));
        assert_eq!(mode(Some(0o777)), Ok(0o777));
        assert!(mode(Some(0o1000)).is_err());
    }
}
