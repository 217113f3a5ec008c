//! EKS (rest-json): decodes the cluster and Pod Identity association operations, calls the
//! domain layer (`podpass_control::eks`) and renders EKS's JSON shapes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawPathParams, State};
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

/// An axum handler serving the EKS operation `$name` with `$run`, an
/// `async fn(AppState, Call, Target, Bytes) -> Result<Value, AwsError>`: the request is
/// authenticated, the answer is `$run`'s JSON (200) or its error through the rest-json table.
macro_rules! operation {
    ($name:literal, $run:ident) => {
        |State(state): State<AppState>,
         ConnectInfo(peer): ConnectInfo<SocketAddr>,
         params: RawPathParams,
         request: Request<Body>| async move {
            let target = Target::of(&params);
            serve(
                state.clone(),
                peer,
                request,
                "eks",
                $name,
                |call, body| async move {
                    $run(state, call, target, body)
                        .await
                        .map(|value| (200, value))
                },
            )
            .await
        }
    };
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/clusters",
            get(operation!("ListClusters", list_clusters))
                .post(operation!("CreateCluster", create_cluster)),
        )
        .route(
            "/clusters/{name}",
            get(operation!("DescribeCluster", describe_cluster))
                .delete(operation!("DeleteCluster", delete_cluster)),
        )
        .route(
            "/clusters/{name}/pod-identity-associations",
            post(operation!(
                "CreatePodIdentityAssociation",
                create_association
            ))
            .get(operation!("ListPodIdentityAssociations", list_associations)),
        )
        .route(
            "/clusters/{name}/pod-identity-associations/{id}",
            get(operation!(
                "DescribePodIdentityAssociation",
                describe_association
            ))
            .post(operation!(
                "UpdatePodIdentityAssociation",
                update_association
            ))
            .delete(operation!(
                "DeletePodIdentityAssociation",
                delete_association
            )),
        )
}

/// What an EKS operation's path names: the cluster, and the association where it has one.
#[derive(Debug, Default)]
struct Target {
    cluster: String,
    id: String,
}

impl Target {
    fn of(params: &RawPathParams) -> Self {
        let mut target = Self::default();
        for (key, value) in params {
            match key {
                "name" => value.clone_into(&mut target.cluster),
                "id" => value.clone_into(&mut target.id),
                _ => {}
            }
        }
        target
    }
}

fn epoch(seconds: i64) -> Value {
    json!(seconds as f64)
}

/// A cluster as EKS shows it, in `status` (`ACTIVE`, or `DELETING` in DeleteCluster's answer).
fn cluster_json(state: &AppState, cluster: &Cluster, status: &str) -> Value {
    json!({
        "name": cluster.name,
        "arn": state.control.cluster_arn(&cluster.name),
        "createdAt": epoch(cluster.created_at),
        "version": "1.33",
        "endpoint": cluster.issuer_url.split("/id/").next().unwrap_or_default(),
        "status": status,
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
    state: AppState,
    call: Call,
    _: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let clusters = state
        .control
        .list_clusters(&call.ctx)
        .await
        .map_err(errors::rest)?;
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    Ok(json!({"clusters": names}))
}

async fn describe_cluster(
    state: AppState,
    call: Call,
    target: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let cluster = state
        .control
        .describe_cluster(&call.ctx, &target.cluster)
        .await
        .map_err(errors::rest)?;
    Ok(json!({"cluster": cluster_json(&state, &cluster, "ACTIVE")}))
}

/// `CreateCluster`'s members podpass reads; the rest (networking, logging, add-ons, tags)
/// describe AWS infrastructure podpass does not have.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateClusterBody {
    name: Option<String>,
    role_arn: Option<String>,
}

async fn create_cluster(
    state: AppState,
    call: Call,
    _: Target,
    body: Bytes,
) -> Result<Value, AwsError> {
    let body: CreateClusterBody = parse_body(&body)?;
    let required = |member: &str, value: Option<String>| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AwsError::invalid_parameter_exception(format!("{member} is required")))
    };
    let name = required("name", body.name)?;
    let role_arn = required("roleArn", body.role_arn)?;
    let cluster = state
        .control
        .create_cluster(&call.ctx, &name, &role_arn)
        .await
        .map_err(errors::rest)?;
    // podpass's cluster is ready as soon as it exists: `aws eks wait cluster-active` returns.
    Ok(json!({"cluster": cluster_json(&state, &cluster, "ACTIVE")}))
}

async fn delete_cluster(
    state: AppState,
    call: Call,
    target: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let cluster = state
        .control
        .delete_cluster(&call.ctx, &target.cluster)
        .await
        .map_err(errors::rest)?;
    Ok(json!({"cluster": cluster_json(&state, &cluster, "DELETING")}))
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
    state: AppState,
    call: Call,
    target: Target,
    body: Bytes,
) -> Result<Value, AwsError> {
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
        .create_association(&call.ctx, &target.cluster, new)
        .await
        .map_err(errors::rest)?;
    Ok(one_association(&association))
}

async fn describe_association(
    state: AppState,
    call: Call,
    target: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let association = state
        .control
        .describe_association(&call.ctx, &target.cluster, &target.id)
        .await
        .map_err(errors::rest)?;
    Ok(one_association(&association))
}

async fn list_associations(
    state: AppState,
    call: Call,
    target: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let filter = AssociationFilter {
        namespace: call.params.get("namespace"),
        service_account: call.params.get("serviceAccount"),
        max_results: call.params.i64("maxResults")?,
        next_token: call.params.get("nextToken"),
    };
    let page = state
        .control
        .list_associations(&call.ctx, &target.cluster, filter)
        .await
        .map_err(errors::rest)?;
    let summaries: Vec<Value> = page.associations.iter().map(summary_json).collect();
    let mut out = json!({"associations": summaries});
    if let Some(next) = page.next_token {
        out["nextToken"] = json!(next);
    }
    Ok(out)
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
    state: AppState,
    call: Call,
    target: Target,
    body: Bytes,
) -> Result<Value, AwsError> {
    let input: UpdateBody = parse_body(&body)?;
    let change = AssociationChange {
        role_arn: input.role_arn,
        disable_session_tags: input.disable_session_tags,
        target_role_arn: input.target_role_arn,
        policy: input.policy,
    };
    let association = state
        .control
        .update_association(&call.ctx, &target.cluster, &target.id, change)
        .await
        .map_err(errors::rest)?;
    Ok(one_association(&association))
}

async fn delete_association(
    state: AppState,
    call: Call,
    target: Target,
    _: Bytes,
) -> Result<Value, AwsError> {
    let association = state
        .control
        .delete_association(&call.ctx, &target.cluster, &target.id)
        .await
        .map_err(errors::rest)?;
    Ok(one_association(&association))
}
