//! `PUT /podpass/v1/namespaces/{namespace}/{resource}/{name}` and `PUT
//! /podpass/v1/{resource}/{name}`: the local cluster's objects, which `podpass run -f` sends.
//! ServiceAccounts, Secrets and ConfigMaps are what pods use; RBAC, Services and
//! MutatingWebhookConfigurations ([`KEPT_KINDS`]) are kept as applied for the local Kubernetes
//! API and admission.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use podpass_kubelet::documents::classify;
use podpass_kubelet::router::ApiError;
use podpass_kubelet::{ConfigKind, Document, KubeletError, parse_document};
use serde_json::{Value, json};

use crate::local_cluster::LocalCluster;

/// A kind the local cluster keeps as applied, for what acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeptKind {
    /// `kind`.
    pub kind: &'static str,
    /// `apiVersion`.
    pub api_version: &'static str,
    /// The resource, in URLs.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl KeptKind {
    /// `kind.group` as kubectl names it (`clusterrole.rbac.authorization.k8s.io`).
    pub(crate) fn qualified(&self) -> String {
        match self.api_version.split_once('/') {
            Some((group, _)) => format!("{}.{group}", self.kind.to_ascii_lowercase()),
            None => self.kind.to_ascii_lowercase(),
        }
    }

    /// Checks that `object` reads as its typed Kubernetes form.
    fn check(&self, object: &Value) -> Result<(), String> {
        use k8s_openapi::api::{admissionregistration, core, rbac};
        fn parses<T: serde::de::DeserializeOwned>(object: &Value) -> Result<(), String> {
            T::deserialize(object).map(drop).map_err(|e| e.to_string())
        }
        match self.kind {
            "ClusterRole" => parses::<rbac::v1::ClusterRole>(object),
            "ClusterRoleBinding" => parses::<rbac::v1::ClusterRoleBinding>(object),
            "Role" => parses::<rbac::v1::Role>(object),
            "RoleBinding" => parses::<rbac::v1::RoleBinding>(object),
            "Service" => parses::<core::v1::Service>(object),
            "MutatingWebhookConfiguration" => {
                parses::<admissionregistration::v1::MutatingWebhookConfiguration>(object)
            }
            _ => Err(format!("{} is not kept", self.kind)),
        }
    }
}

/// What the local API authorizes with (RBAC) and admission calls (webhook configurations and
/// the Services that lead to them).
pub(crate) const KEPT_KINDS: [KeptKind; 6] = [
    KeptKind {
        kind: "ClusterRole",
        api_version: "rbac.authorization.k8s.io/v1",
        plural: "clusterroles",
        namespaced: false,
    },
    KeptKind {
        kind: "ClusterRoleBinding",
        api_version: "rbac.authorization.k8s.io/v1",
        plural: "clusterrolebindings",
        namespaced: false,
    },
    KeptKind {
        kind: "Role",
        api_version: "rbac.authorization.k8s.io/v1",
        plural: "roles",
        namespaced: true,
    },
    KeptKind {
        kind: "RoleBinding",
        api_version: "rbac.authorization.k8s.io/v1",
        plural: "rolebindings",
        namespaced: true,
    },
    KeptKind {
        kind: "Service",
        api_version: "v1",
        plural: "services",
        namespaced: true,
    },
    KeptKind {
        kind: "MutatingWebhookConfiguration",
        api_version: "admissionregistration.k8s.io/v1",
        plural: "mutatingwebhookconfigurations",
        namespaced: false,
    },
];

/// The kept kind named `kind`.
pub(crate) fn kept_kind(kind: &str) -> Option<&'static KeptKind> {
    KEPT_KINDS.iter().find(|k| k.kind == kind)
}

pub(crate) fn router(local: Arc<LocalCluster>) -> Router {
    Router::new()
        .route(
            "/podpass/v1/namespaces/{namespace}/{resource}/{name}",
            put(apply_namespaced),
        )
        .route("/podpass/v1/{resource}/{name}", put(apply_cluster_scoped))
        .with_state(local)
}

/// What the route stores: the URL's resource, the kind, and the name and namespace written.
struct Target<'a> {
    resource: &'static str,
    kind: &'static str,
    name: &'a str,
    namespace: Option<&'a str>,
}

impl<'a> Target<'a> {
    fn of(document: &'a Document) -> Option<Self> {
        let (resource, kind, name, namespace) = match document {
            Document::ServiceAccount {
                name, namespace, ..
            } => (
                "serviceaccounts",
                "ServiceAccount",
                name,
                namespace.as_deref(),
            ),
            Document::Config(object) => match object.kind {
                ConfigKind::Secret => (
                    "secrets",
                    "Secret",
                    &object.name,
                    object.namespace.as_deref(),
                ),
                ConfigKind::ConfigMap => (
                    "configmaps",
                    "ConfigMap",
                    &object.name,
                    object.namespace.as_deref(),
                ),
            },
            Document::Other {
                kind,
                name,
                document,
            } => {
                let kept = kept_kind(kind)?;
                let namespace = document
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str);
                (kept.plural, kept.kind, name, namespace)
            }
            Document::Pod { .. } => return None,
        };
        Some(Self {
            resource,
            kind,
            name,
            namespace,
        })
    }
}

/// Where `podpass run -f` sends a document, relative to `/podpass/v1/`, with its kind as
/// kubectl prints it; `None` when the cluster does not keep it.
pub(crate) fn destination(document: &Document, namespace: &str) -> Option<(String, String)> {
    let target = Target::of(document)?;
    let printed = match kept_kind(target.kind) {
        Some(kept) => kept.qualified(),
        None => target.kind.to_ascii_lowercase(),
    };
    let namespaced = kept_kind(target.kind).is_none_or(|kept| kept.namespaced);
    let path = if namespaced {
        format!("namespaces/{namespace}/{}/{}", target.resource, target.name)
    } else {
        format!("{}/{}", target.resource, target.name)
    };
    Some((path, printed))
}

async fn apply_namespaced(
    State(local): State<Arc<LocalCluster>>,
    Path((namespace, resource, name)): Path<(String, String, String)>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    apply(&local, Some(namespace), &resource, &name, &body).await
}

async fn apply_cluster_scoped(
    State(local): State<Arc<LocalCluster>>,
    Path((resource, name)): Path<(String, String)>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    apply(&local, None, &resource, &name, &body).await
}

async fn apply(
    local: &LocalCluster,
    url_namespace: Option<String>,
    resource: &str,
    name: &str,
    body: &str,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bad = |message: String| ApiError(KubeletError::BadRequest(message));
    let document = classify(parse_document(body).map_err(ApiError)?).map_err(ApiError)?;
    let target = Target::of(&document)
        .ok_or_else(|| bad(format!("{resource} does not take a {}", kind_of(&document))))?;
    let kind = target.kind;
    if resource != target.resource {
        return Err(bad(format!("a {kind} sent to {resource}")));
    }
    if target.name != name {
        return Err(bad(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            target.name
        )));
    }
    let namespaced = kept_kind(kind).is_none_or(|kept| kept.namespaced);
    let namespace = match (namespaced, url_namespace) {
        (true, Some(namespace)) => namespace,
        (true, None) => return Err(bad(format!("a {kind} lives in a namespace"))),
        (false, Some(_)) => return Err(bad(format!("a {kind} is cluster-scoped"))),
        (false, None) => String::new(),
    };
    if namespaced && target.namespace.is_some_and(|ns| ns != namespace) {
        return Err(bad(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    let stored = match document {
        Document::ServiceAccount { annotations, .. } => {
            local
                .apply_service_account(&namespace, name, annotations)
                .await
        }
        Document::Config(object) => local.apply_object(&namespace, object).await,
        Document::Other { mut document, .. } => {
            let kept = kept_kind(kind).ok_or_else(|| bad(format!("{kind} is not kept")))?;
            if document.get("apiVersion").and_then(Value::as_str) != Some(kept.api_version) {
                return Err(bad(format!("a {kind} is {}", kept.api_version)));
            }
            if namespaced && let Some(metadata) = document.get_mut("metadata") {
                metadata["namespace"] = json!(namespace);
            }
            kept.check(&document)
                .map_err(|e| bad(format!("{kind} {name}: {e}")))?;
            local
                .apply_resource(kind, &namespace, name, &document)
                .await
        }
        Document::Pod { .. } => return Err(bad(format!("{resource} does not take a Pod"))),
    };
    let created = stored.map_err(|e| {
        ApiError(KubeletError::Io {
            context: format!("storing {kind} {namespace}/{name}"),
            source: std::io::Error::other(e),
        })
    })?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut metadata = json!({"name": name});
    if namespaced {
        metadata["namespace"] = json!(namespace);
    }
    Ok((status, Json(json!({"kind": kind, "metadata": metadata}))))
}

fn kind_of(document: &Document) -> &str {
    match document {
        Document::Pod { .. } => "Pod",
        Document::Config(object) => match object.kind {
            ConfigKind::Secret => "Secret",
            ConfigKind::ConfigMap => "ConfigMap",
        },
        Document::ServiceAccount { .. } => "ServiceAccount",
        Document::Other { kind, .. } => kind,
    }
}
