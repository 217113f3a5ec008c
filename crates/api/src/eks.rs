//! EKS (rest-json): decodes the cluster and Pod Identity association operations, calls the
//! domain layer (`podpass_control::eks`) and renders EKS's JSON shapes.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::Request;
use podpass_awsproto::AwsError;
use podpass_control::eks::{AssociationChange, AssociationFilter, NewAssociation};
use podpass_store::{Cluster, PodIdentityAssociation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::Call;
use crate::rest::{parse_body, serve};
use crate::{AppState, errors};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/clusters", get(list_clusters))
        .route("/clusters/{name}", get(describe_cluster))
        .route(
            "/clusters/{name}/pod-identity-associations",
            post(create_association).get(list_associations),
        )
        .route(
            "/clusters/{name}/pod-identity-associations/{id}",
            get(describe_association)
                .post(update_association)
                .delete(delete_association),
        )
}

type Peer = ConnectInfo<SocketAddr>;

/// Runs one EKS operation: `run` gets the state, the call and its body and returns the JSON
/// answer (status 200) or the domain's error, rendered by the rest-json table.
async fn operation<F, Fut>(
    state: AppState,
    peer: SocketAddr,
    request: Request<Body>,
    name: &'static str,
    run: F,
) -> Response
where
    F: FnOnce(AppState, Call, Bytes) -> Fut,
    Fut: Future<Output = Result<Value, AwsError>>,
{
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        name,
        |call, body| async move { run(state, call, body).await.map(|value| (200, value)) },
    )
    .await
}

fn epoch(seconds: i64) -> Value {
    json!(seconds as f64)
}

fn cluster_json(state: &AppState, cluster: &Cluster) -> Value {
    json!({
        "name": cluster.name,
        "arn": state.control.cluster_arn(&cluster.name),
        "createdAt": epoch(cluster.created_at),
        "version": "1.33",
        "endpoint": cluster.issuer_url.split("/id/").next().unwrap_or_default(),
        "status": "ACTIVE",
        "platformVersion": "podpass",
        "identity": {"oidc": {"issuer": cluster.issuer_url}},
        "tags": {},
    })
}

fn association_json(a: &PodIdentityAssociation) -> Value {
    let mut value = json!({
        "clusterName": a.cluster_name,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "roleArn": a.role_arn,
        "associationArn": a.association_arn,
        "associationId": a.association_id,
        "tags": a.tags,
        "createdAt": epoch(a.created_at),
        "modifiedAt": epoch(a.modified_at),
        "disableSessionTags": a.disable_session_tags,
    });
    for (key, field) in [
        ("ownerArn", &a.owner_arn),
        ("targetRoleArn", &a.target_role_arn),
        ("externalId", &a.external_id),
        ("policy", &a.session_policy),
    ] {
        if let Some(v) = field {
            value[key] = json!(v);
        }
    }
    value
}

/// `{"association": ...}`, the answer of every single-association operation.
fn one_association(association: &PodIdentityAssociation) -> Value {
    json!({"association": association_json(association)})
}

fn summary_json(a: &PodIdentityAssociation) -> Value {
    let mut value = json!({
        "clusterName": a.cluster_name,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "associationArn": a.association_arn,
        "associationId": a.association_id,
    });
    if let Some(owner) = &a.owner_arn {
        value["ownerArn"] = json!(owner);
    }
    value
}

async fn list_clusters(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "ListClusters",
        |state, call, _| async move {
            let clusters = state
                .control
                .list_clusters(&call.ctx)
                .await
                .map_err(errors::rest)?;
            let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            Ok(json!({"clusters": names}))
        },
    )
    .await
}

async fn describe_cluster(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "DescribeCluster",
        |state, call, _| async move {
            let cluster = state
                .control
                .describe_cluster(&call.ctx, &name)
                .await
                .map_err(errors::rest)?;
            Ok(json!({"cluster": cluster_json(&state, &cluster)}))
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    namespace: Option<String>,
    service_account: Option<String>,
    role_arn: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    disable_session_tags: Option<bool>,
    target_role_arn: Option<String>,
    policy: Option<String>,
    #[allow(dead_code)] // idempotency token: accepted, duplicates are refused by the unique key
    client_request_token: Option<String>,
}

async fn create_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "CreatePodIdentityAssociation",
        |state, call, body| async move {
            let input: CreateBody = parse_body(&body)?;
            let new = NewAssociation {
                namespace: input.namespace,
                service_account: input.service_account,
                role_arn: input.role_arn,
                tags: input.tags,
                disable_session_tags: input.disable_session_tags.unwrap_or(false),
                target_role_arn: input.target_role_arn,
                policy: input.policy,
            };
            let association = state
                .control
                .create_association(&call.ctx, &name, new)
                .await
                .map_err(errors::rest)?;
            Ok(one_association(&association))
        },
    )
    .await
}

async fn describe_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path((name, id)): Path<(String, String)>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "DescribePodIdentityAssociation",
        |state, call, _| async move {
            let found = state
                .control
                .describe_association(&call.ctx, &name, &id)
                .await;
            found.map(|a| one_association(&a)).map_err(errors::rest)
        },
    )
    .await
}

async fn list_associations(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "ListPodIdentityAssociations",
        |state, call, _| async move {
            let filter = AssociationFilter {
                namespace: call.params.get("namespace"),
                service_account: call.params.get("serviceAccount"),
                max_results: call.params.i64("maxResults")?,
                next_token: call.params.get("nextToken"),
            };
            let page = state
                .control
                .list_associations(&call.ctx, &name, filter)
                .await
                .map_err(errors::rest)?;
            let summaries: Vec<Value> = page.associations.iter().map(summary_json).collect();
            let mut out = json!({"associations": summaries});
            if let Some(next) = page.next_token {
                out["nextToken"] = json!(next);
            }
            Ok(out)
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    role_arn: Option<String>,
    disable_session_tags: Option<bool>,
    target_role_arn: Option<String>,
    policy: Option<String>,
    #[allow(dead_code)] // idempotency token: updates are idempotent already
    client_request_token: Option<String>,
}

async fn update_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path((name, id)): Path<(String, String)>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "UpdatePodIdentityAssociation",
        |state, call, body| async move {
            let input: UpdateBody = parse_body(&body)?;
            let change = AssociationChange {
                role_arn: input.role_arn,
                disable_session_tags: input.disable_session_tags,
                target_role_arn: input.target_role_arn,
                policy: input.policy,
            };
            let association = state
                .control
                .update_association(&call.ctx, &name, &id, change)
                .await
                .map_err(errors::rest)?;
            Ok(one_association(&association))
        },
    )
    .await
}

async fn delete_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path((name, id)): Path<(String, String)>,
    request: Request<Body>,
) -> Response {
    operation(
        state,
        peer,
        request,
        "DeletePodIdentityAssociation",
        |state, call, _| async move {
            let deleted = state
                .control
                .delete_association(&call.ctx, &name, &id)
                .await;
            deleted.map(|a| one_association(&a)).map_err(errors::rest)
        },
    )
    .await
}
