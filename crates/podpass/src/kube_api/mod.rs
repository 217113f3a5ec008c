//! The Kubernetes API of the local cluster, as much of it as what runs in its pods reads: the
//! ServiceAccounts (get, list and watch; whole or metadata only), which the admission webhook
//! of an install (`podpass manifests`) watches. As on a real API server, a caller presents a
//! ServiceAccount token of the cluster for the API server's audience, issued for a
//! ServiceAccount that still exists and bound to a pod that still runs, and is authorized by
//! the RBAC objects applied with `podpass run -f`.

pub(crate) mod rbac;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use podpass_control::Control;
use podpass_kubelet::Kubelet;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::local_cluster::LocalCluster;
use rbac::{Rbac, Request, User};

/// What the local API needs: the domain layer (token verification), the cluster's objects and
/// the kubelet (which pods run).
#[derive(Clone)]
pub(crate) struct KubeApi {
    pub control: Control,
    pub local: Arc<LocalCluster>,
    pub kubelet: Kubelet,
}

pub(crate) fn router(api: KubeApi) -> Router {
    Router::new()
        .route("/api/v1/serviceaccounts", get(list_all))
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts",
            get(list_namespace),
        )
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
            get(read),
        )
        .with_state(api)
}

/// A refusal as the API server writes it: a `Status` object.
#[derive(Debug)]
pub(crate) struct Status {
    code: StatusCode,
    reason: &'static str,
    message: String,
}

impl Status {
    fn unauthorized() -> Self {
        Self {
            code: StatusCode::UNAUTHORIZED,
            reason: "Unauthorized",
            message: "Unauthorized".to_owned(),
        }
    }

    fn bad_request(message: String) -> Self {
        Self {
            code: StatusCode::BAD_REQUEST,
            reason: "BadRequest",
            message,
        }
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, "local Kubernetes API");
        Self {
            code: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "InternalError",
            message: format!("Internal error occurred: {error}"),
        }
    }

    fn body(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        })
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        (self.code, axum::Json(self.body())).into_response()
    }
}

/// Query parameters of a list or watch.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListParams {
    watch: Option<String>,
    resource_version: Option<String>,
    timeout_seconds: Option<u64>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

impl KubeApi {
    /// The caller, from its bearer token.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<User, Status> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(Status::unauthorized)?;
        let cluster = self
            .control
            .clusters()
            .get(self.local.name())
            .await
            .map_err(Status::internal)?;
        let claims = self
            .control
            .verify_api_token(&cluster.issuer_url, token)
            .await
            .map_err(|error| {
                tracing::info!(%error, "local Kubernetes API: token refused");
                Status::unauthorized()
            })?;
        let bound = claims.kubernetes.ok_or_else(Status::unauthorized)?;
        // The ServiceAccount the token was issued for, not one recreated under its name.
        let account = self
            .local
            .find_service_account(&bound.namespace, &bound.serviceaccount.name)
            .await
            .map_err(Status::internal)?
            .filter(|account| account.uid == bound.serviceaccount.uid)
            .ok_or_else(Status::unauthorized)?;
        // A pod-bound token is good while that pod (that very one, by UID) exists.
        if let Some(pod) = &bound.pod {
            let running = self.kubelet.get(&bound.namespace, &pod.name).await.ok();
            let uid = running
                .as_ref()
                .and_then(|record| record.object.pointer("/metadata/uid"))
                .and_then(Value::as_str);
            if uid != Some(pod.uid.as_str()) {
                tracing::info!(pod = %pod.name, "local Kubernetes API: the token's pod is gone");
                return Err(Status::unauthorized());
            }
        }
        Ok(User::service_account(&account.namespace, &account.name))
    }

    /// Refuses `request` unless RBAC grants it to `user`.
    async fn authorize(&self, user: &User, request: &Request<'_>) -> Result<(), Status> {
        let rbac = Rbac {
            cluster_roles: self.kept::<ClusterRole>("ClusterRole").await?,
            cluster_role_bindings: self
                .kept::<ClusterRoleBinding>("ClusterRoleBinding")
                .await?,
            roles: self.kept::<Role>("Role").await?,
            role_bindings: self.kept::<RoleBinding>("RoleBinding").await?,
        };
        if rbac.allows(user, request) {
            return Ok(());
        }
        let object = match request.name {
            Some(name) => format!("{} {name:?}", request.resource),
            None => request.resource.to_owned(),
        };
        let scope = match request.namespace {
            Some(namespace) => format!("in the namespace {namespace:?}"),
            None => "at the cluster scope".to_owned(),
        };
        Err(Status {
            code: StatusCode::FORBIDDEN,
            reason: "Forbidden",
            message: format!(
                "{object} is forbidden: User {:?} cannot {} resource {:?} in API group {:?} {scope}",
                user.name, request.verb, request.resource, request.api_group
            ),
        })
    }

    async fn kept<T: serde::de::DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, Status> {
        self.local.resources(kind).await.map_err(Status::internal)
    }
}

/// Whether the client asked for metadata only (`as=PartialObjectMetadata[List]`).
fn metadata_only(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("as=PartialObjectMetadata"))
}

async fn read(
    State(api): State<KubeApi>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Status> {
    let user = api.authenticate(&headers).await?;
    let request = Request {
        verb: "get",
        api_group: "",
        resource: "serviceaccounts",
        namespace: Some(&namespace),
        name: Some(&name),
    };
    api.authorize(&user, &request).await?;
    let account = api
        .local
        .find_service_account(&namespace, &name)
        .await
        .map_err(Status::internal)?
        .ok_or_else(|| Status {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: format!("serviceaccounts {name:?} not found"),
        })?;
    Ok(axum::Json(watch::render(&account, metadata_only(&headers))).into_response())
}

async fn list_all(
    State(api): State<KubeApi>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Result<Response, Status> {
    list(api, None, params, headers).await
}

async fn list_namespace(
    State(api): State<KubeApi>,
    Path(namespace): Path<String>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Result<Response, Status> {
    list(api, Some(namespace), params, headers).await
}

async fn list(
    api: KubeApi,
    namespace: Option<String>,
    params: ListParams,
    headers: HeaderMap,
) -> Result<Response, Status> {
    let user = api.authenticate(&headers).await?;
    let watching = matches!(params.watch.as_deref(), Some("true" | "1"));
    let request = Request {
        verb: if watching { "watch" } else { "list" },
        api_group: "",
        resource: "serviceaccounts",
        namespace: namespace.as_deref(),
        name: None,
    };
    api.authorize(&user, &request).await?;
    let scope = watch::Scope::new(
        namespace,
        params.field_selector.as_deref(),
        params.label_selector.as_deref(),
        metadata_only(&headers),
    )
    .map_err(Status::bad_request)?;
    let accounts = scope.read(&api.local).await.map_err(Status::internal)?;
    if !watching {
        return Ok(axum::Json(scope.list(&accounts)).into_response());
    }
    let events = watch::events(
        api.local.clone(),
        scope,
        accounts,
        params.resource_version.as_deref(),
        params.timeout_seconds,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(events),
    )
        .into_response())
}
