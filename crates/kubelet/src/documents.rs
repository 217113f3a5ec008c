//! What `podpass run -f` does with each document of a file, as `kubectl apply -f` would on a
//! one-node cluster with no controllers: Pods run; a workload (Deployment, ReplicaSet,
//! DaemonSet, StatefulSet, Job) runs one pod of its template, as its controller would create
//! on this node; ServiceAccounts, Secrets and ConfigMaps are stored for pods to use; anything
//! else has nothing here to act on it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::error::KubeletError;
use crate::names;

/// The API server's limit on a Secret's or ConfigMap's data.
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;

/// One document of a manifest file, sorted by what podpass does with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A Pod to run: a Pod document, or the pod a workload's controller would create.
    Pod {
        /// The Pod object.
        pod: Value,
        /// `Kind/name` of the workload it stands for, when it came from one.
        owner: Option<String>,
    },
    /// A Secret or ConfigMap.
    Config(ConfigObject),
    /// A ServiceAccount, whose tokens the cluster's issuer signs.
    ServiceAccount {
        /// `metadata.namespace`, when the document names one.
        namespace: Option<String>,
        /// `metadata.name`.
        name: String,
        /// `metadata.annotations` (IRSA's role annotation among them).
        annotations: BTreeMap<String, String>,
    },
    /// Any other kind (a Service, RBAC, a webhook configuration, ...), as written.
    Other {
        /// `kind`.
        kind: String,
        /// `metadata.name`.
        name: String,
        /// The whole document.
        document: Box<Value>,
    },
}

/// Secret or ConfigMap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// A Secret or ConfigMap with its values decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    /// Which kind.
    pub kind: ConfigKind,
    /// `metadata.namespace`, when the document names one.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// Keys and their bytes: a Secret's `data` (base64) and `stringData`, a ConfigMap's `data`
    /// and `binaryData` (base64).
    pub data: BTreeMap<String, Vec<u8>>,
}

/// The kinds whose controller creates pods from `spec.template`.
const WORKLOADS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
];

/// Reads one document.
pub fn classify(document: Value) -> Result<Document, KubeletError> {
    let kind = document
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Pod")
        .to_owned();
    let name = document
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "Pod" => Ok(Document::Pod {
            pod: document,
            owner: None,
        }),
        "Secret" | "ConfigMap" => Ok(Document::Config(ConfigObject::from_value(&document)?)),
        "ServiceAccount" => {
            names::check_subdomain("metadata.name", &name).map_err(KubeletError::Manifest)?;
            let annotations = match document.pointer("/metadata/annotations") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(annotations) => serde_json::from_value(annotations.clone()).map_err(|_| {
                    KubeletError::Manifest("metadata.annotations: must be a map of strings".into())
                })?,
            };
            Ok(Document::ServiceAccount {
                namespace: namespace_of(&document)?,
                name,
                annotations,
            })
        }
        workload if WORKLOADS.contains(&workload) => Ok(Document::Pod {
            pod: template_pod(&document, workload, &name)?,
            owner: Some(format!("{kind}/{name}")),
        }),
        _ => Ok(Document::Other {
            kind,
            name,
            document: Box::new(document),
        }),
    }
}

/// The pod a workload's controller creates from its template, named `<workload>-0` (one node,
/// one replica), in the workload's namespace.
fn template_pod(workload: &Value, kind: &str, name: &str) -> Result<Value, KubeletError> {
    names::check_subdomain("metadata.name", name).map_err(KubeletError::Manifest)?;
    let template = workload
        .pointer("/spec/template")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            KubeletError::Manifest(format!("{kind} {name:?}: spec.template: Required value"))
        })?;
    let mut metadata = template
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    metadata.insert("name".into(), json!(format!("{name}-0")));
    if let Some(namespace) = workload.pointer("/metadata/namespace") {
        metadata.insert("namespace".into(), namespace.clone());
    }
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    // A StatefulSet's controller gives each pod a claim of each template, `<template>-<pod>`.
    if kind == "StatefulSet"
        && let Some(templates) = workload
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
        && let Some(spec) = spec.as_object_mut()
    {
        let volumes = spec.entry("volumes").or_insert(json!([]));
        for claim in templates {
            let claim_name = claim
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    KubeletError::Manifest(format!(
                        "StatefulSet {name:?}: spec.volumeClaimTemplates[].metadata.name: Required value"
                    ))
                })?;
            if let Some(volumes) = volumes.as_array_mut() {
                volumes.push(json!({
                    "name": claim_name,
                    "persistentVolumeClaim": {"claimName": format!("{claim_name}-{name}-0")},
                }));
            }
        }
    }
    // A Job's pods may not restart for ever; its template says how they end.
    if kind == "Job"
        && let Some(spec) = spec.as_object_mut()
    {
        spec.entry("restartPolicy").or_insert(json!("Never"));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": Value::Object(metadata),
        "spec": spec,
    }))
}

impl ConfigObject {
    /// Reads a Secret or ConfigMap as the API server validates it: a DNS subdomain name, keys
    /// of `[-._a-zA-Z0-9]`, base64 where base64 is due, at most [`MAX_OBJECT_BYTES`].
    pub fn from_value(document: &Value) -> Result<Self, KubeletError> {
        let invalid = |message: String| KubeletError::Manifest(message);
        let kind = match document.get("kind").and_then(Value::as_str) {
            Some("Secret") => ConfigKind::Secret,
            Some("ConfigMap") => ConfigKind::ConfigMap,
            other => {
                return Err(invalid(format!(
                    "kind {other:?} is not Secret or ConfigMap"
                )));
            }
        };
        let name = document
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("metadata.name: Required value".into()))?
            .to_owned();
        names::check_subdomain("metadata.name", &name).map_err(invalid)?;
        let namespace = namespace_of(document)?;
        let (encoded, plain) = match kind {
            ConfigKind::Secret => ("data", "stringData"),
            ConfigKind::ConfigMap => ("binaryData", "data"),
        };
        let mut data = BTreeMap::new();
        for (key, value) in strings(document, encoded)? {
            let bytes = STANDARD
                .decode(value)
                .map_err(|e| invalid(format!("{encoded}[{key}]: illegal base64 data: {e}")))?;
            data.insert(key, bytes);
        }
        // `stringData` wins over `data`, as the API server merges them.
        for (key, value) in strings(document, plain)? {
            if kind == ConfigKind::ConfigMap && data.contains_key(&key) {
                return Err(invalid(format!(
                    "data[{key}]: duplicate of key in binaryData"
                )));
            }
            data.insert(key, value.into_bytes());
        }
        for key in data.keys() {
            check_key(key).map_err(invalid)?;
        }
        let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_OBJECT_BYTES {
            return Err(invalid(format!(
                "data: Too long: must have at most {MAX_OBJECT_BYTES} bytes"
            )));
        }
        Ok(Self {
            kind,
            namespace,
            name,
            data,
        })
    }
}

impl ConfigObject {
    /// The object as the API takes it back: every value base64-encoded (`data` of a Secret,
    /// `binaryData` of a ConfigMap), so that bytes survive whatever they are.
    pub fn to_document(&self) -> Value {
        let data: serde_json::Map<String, Value> = self
            .data
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(STANDARD.encode(value))))
            .collect();
        let (kind, field) = match self.kind {
            ConfigKind::Secret => ("Secret", "data"),
            ConfigKind::ConfigMap => ("ConfigMap", "binaryData"),
        };
        let mut metadata = serde_json::Map::new();
        metadata.insert("name".into(), json!(self.name));
        if let Some(namespace) = &self.namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        json!({"apiVersion": "v1", "kind": kind, "metadata": metadata, field: data})
    }
}

/// `metadata.namespace`, checked, when there is one.
fn namespace_of(document: &Value) -> Result<Option<String>, KubeletError> {
    match document.pointer("/metadata/namespace") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(namespace)) => {
            names::check_label("metadata.namespace", namespace).map_err(KubeletError::Manifest)?;
            Ok(Some(namespace.clone()))
        }
        Some(_) => Err(KubeletError::Manifest(
            "metadata.namespace: must be a string".into(),
        )),
    }
}

/// The string map at `field`, empty when absent.
fn strings(document: &Value, field: &str) -> Result<Vec<(String, String)>, KubeletError> {
    let map = match document.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(KubeletError::Manifest(format!(
                "{field}: must be a map of strings"
            )));
        }
    };
    map.iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            _ => Err(KubeletError::Manifest(format!(
                "{field}[{key}]: must be a string"
            ))),
        })
        .collect()
}

/// A key of a Secret or ConfigMap: a file name in the pod's volume.
fn check_key(key: &str) -> Result<(), String> {
    let valid = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "data[{key}]: Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        ))
    }
}
