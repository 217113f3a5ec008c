//! `PUT /podpass/v1/namespaces/{namespace}/{serviceaccounts|secrets|configmaps}/{name}`: the
//! local cluster's objects that pods use, which `podpass run -f` sends.

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

pub(crate) fn router(local: Arc<LocalCluster>) -> Router {
    Router::new()
        .route(
            "/podpass/v1/namespaces/{namespace}/{resource}/{name}",
            put(apply),
        )
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
            } => ("serviceaccounts", "ServiceAccount", name, namespace),
            Document::Config(object) => match object.kind {
                ConfigKind::Secret => ("secrets", "Secret", &object.name, &object.namespace),
                ConfigKind::ConfigMap => {
                    ("configmaps", "ConfigMap", &object.name, &object.namespace)
                }
            },
            Document::Pod { .. } | Document::Other { .. } => return None,
        };
        Some(Self {
            resource,
            kind,
            name,
            namespace: namespace.as_deref(),
        })
    }
}

/// The URL's resource for a document of `podpass run -f`, if this route stores it.
pub(crate) fn resource_of(document: &Document) -> Option<&'static str> {
    Target::of(document).map(|t| t.resource)
}

async fn apply(
    State(local): State<Arc<LocalCluster>>,
    Path((namespace, resource, name)): Path<(String, String, String)>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bad = |message: String| ApiError(KubeletError::BadRequest(message));
    let document = classify(parse_document(&body).map_err(ApiError)?).map_err(ApiError)?;
    let target = Target::of(&document).ok_or_else(|| {
        bad(format!(
            "{resource} takes ServiceAccounts, Secrets or ConfigMaps"
        ))
    })?;
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
    if target.namespace.is_some_and(|ns| ns != namespace) {
        return Err(bad(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    let stored = match document {
        Document::ServiceAccount { annotations, .. } => {
            local
                .apply_service_account(&namespace, &name, annotations)
                .await
        }
        Document::Config(object) => local.apply_object(&namespace, object).await,
        Document::Pod { .. } | Document::Other { .. } => {
            return Err(bad(format!(
                "{resource} takes ServiceAccounts, Secrets or ConfigMaps"
            )));
        }
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
    Ok((
        status,
        Json(json!({
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
        })),
    ))
}
