//! The HTTP face of the [`Kubelet`] for the CLI in another process. It carries no
//! authentication: the lead merges it behind the server's auth layer.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::KubeletError;
use crate::kubelet::Kubelet;
use crate::status::PodRecord;

/// Routes under `/podpass/v1`:
/// `GET /pods`, `POST|GET /namespaces/{ns}/pods`, `GET|DELETE /namespaces/{ns}/pods/{name}`,
/// `GET .../{name}/log?container=&follow=`, `POST .../{name}/exec` (`{"container","command"}`).
pub fn router(kubelet: Kubelet) -> Router {
    Router::new()
        .route("/podpass/v1/pods", get(list_all))
        .route(
            "/podpass/v1/namespaces/{namespace}/pods",
            post(create).get(list_namespace),
        )
        .route(
            "/podpass/v1/namespaces/{namespace}/pods/{name}",
            get(read).delete(remove),
        )
        .route(
            "/podpass/v1/namespaces/{namespace}/pods/{name}/log",
            get(logs),
        )
        .route(
            "/podpass/v1/namespaces/{namespace}/pods/{name}/exec",
            post(exec),
        )
        .with_state(kubelet)
}

/// A [`KubeletError`] as a Kubernetes `Status` object.
pub struct ApiError(pub KubeletError);

impl From<KubeletError> for ApiError {
    fn from(e: KubeletError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.http_status();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": self.0.to_string(),
            "reason": self.0.reason(),
            "code": code,
        });
        (status, Json(body)).into_response()
    }
}

fn pod_list(records: Vec<PodRecord>) -> Json<Value> {
    let items: Vec<Value> = records.iter().map(PodRecord::to_object).collect();
    Json(json!({"apiVersion": "v1", "kind": "PodList", "items": items}))
}

async fn list_all(State(kubelet): State<Kubelet>) -> Json<Value> {
    pod_list(kubelet.list(None).await)
}

async fn list_namespace(
    State(kubelet): State<Kubelet>,
    Path(namespace): Path<String>,
) -> Json<Value> {
    pod_list(kubelet.list(Some(&namespace)).await)
}

async fn create(
    State(kubelet): State<Kubelet>,
    Path(namespace): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = kubelet.run(&body, Some(&namespace)).await?;
    Ok((StatusCode::CREATED, Json(record.to_object())))
}

async fn read(
    State(kubelet): State<Kubelet>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(kubelet.get(&namespace, &name).await?.to_object()))
}

async fn remove(
    State(kubelet): State<Kubelet>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(kubelet.delete(&namespace, &name).await?.to_object()))
}

#[derive(Deserialize)]
struct LogQuery {
    container: Option<String>,
    #[serde(default)]
    follow: bool,
}

async fn logs(
    State(kubelet): State<Kubelet>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let container = query.container.as_deref();
    let body = if query.follow {
        Body::from_stream(kubelet.follow_logs(&namespace, &name, container).await?)
    } else {
        Body::from(kubelet.logs(&namespace, &name, container).await?)
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

#[derive(Deserialize)]
struct ExecRequest {
    container: Option<String>,
    command: Vec<String>,
}

async fn exec(
    State(kubelet): State<Kubelet>,
    Path((namespace, name)): Path<(String, String)>,
    Json(request): Json<ExecRequest>,
) -> Result<Json<Value>, ApiError> {
    let output = kubelet
        .exec(
            &namespace,
            &name,
            request.container.as_deref(),
            &request.command,
        )
        .await?;
    Ok(Json(json!(output)))
}
