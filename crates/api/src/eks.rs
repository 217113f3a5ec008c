//! EKS (rest-json): clusters as read-only views of podpass's clusters, and Pod Identity
//! associations with the real shapes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::Request;
use podpass_awsproto::AwsError;
use podpass_store::{Cluster, PodIdentityAssociation, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::authorize;
use crate::errors::internal;
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

fn cluster_arn(state: &AppState, name: &str) -> String {
    state.control.cluster_arn(name)
}

/// The cluster, or EKS's `ResourceNotFoundException`.
async fn find_cluster(state: &AppState, name: &str) -> Result<Cluster, AwsError> {
    state.control.cluster(name).await.map_err(errors::rest)
}

fn epoch(seconds: i64) -> Value {
    json!(seconds as f64)
}

fn cluster_json(state: &AppState, cluster: &Cluster) -> Value {
    json!({
        "name": cluster.name,
        "arn": cluster_arn(state, &cluster.name),
        "createdAt": epoch(cluster.created_at),
        "version": "1.33",
        "endpoint": cluster.issuer_url.split("/id/").next().unwrap_or_default(),
        "status": "ACTIVE",
        "platformVersion": "podpass",
        "identity": {"oidc": {"issuer": cluster.issuer_url}},
        "tags": {},
    })
}

async fn list_clusters(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    request: Request<Body>,
) -> Response {
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "ListClusters",
        |call, _| async move {
            authorize(&state, &call, "eks:ListClusters", "*").await?;
            let clusters = state
                .control
                .store()
                .list_clusters()
                .await
                .map_err(internal)?;
            let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            Ok((200, json!({"clusters": names})))
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
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "DescribeCluster",
        |call, _| async move {
            authorize(
                &state,
                &call,
                "eks:DescribeCluster",
                &cluster_arn(&state, &name),
            )
            .await?;
            let cluster = find_cluster(&state, &name).await?;
            Ok((200, json!({"cluster": cluster_json(&state, &cluster)})))
        },
    )
    .await
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

fn association_arn(state: &AppState, cluster: &str, id: &str) -> String {
    let s = state.control.settings();
    podpass_arn::pod_identity_association(&s.region, &s.account_id, cluster, id)
}

/// `a-` + 17 lower-case alphanumerics, as EKS's ids.
fn association_id() -> Result<String, AwsError> {
    let id = podpass_control::ids::unique_id("").map_err(internal)?;
    Ok(format!("a-{}", id.to_ascii_lowercase()))
}

fn check_role_arn(state: &AppState, member: &str, arn: &str) -> Result<(), AwsError> {
    let account = state.control.account_id();
    let is_role = podpass_arn::Arn::parse(arn).is_some_and(|a| {
        a.partition == podpass_arn::PARTITION
            && a.service == "iam"
            && a.region.is_empty()
            && a.account == account
            && a.resource
                .strip_prefix("role/")
                .is_some_and(|name| !name.is_empty())
    });
    if is_role {
        Ok(())
    } else {
        Err(AwsError::invalid_parameter_exception(format!(
            "{member} {arn} is not a role ARN of account {}",
            state.control.settings().account_id
        )))
    }
}

/// The association's session policy: STS's session policy limit on the raw text, then the
/// grammar.
fn check_policy(policy: Option<&str>) -> Result<(), AwsError> {
    use podpass_policy::SizedDocument;
    if let Some(text) = policy {
        podpass_policy::check_size(SizedDocument::SessionPolicy, [text]).map_err(|e| {
            AwsError::invalid_parameter_exception(format!(
                "Invalid policy: the policy exceeds {} characters",
                e.max
            ))
        })?;
        podpass_policy::Policy::parse(text, podpass_policy::PolicyKind::Session).map_err(|e| {
            AwsError::invalid_parameter_exception(format!("Invalid policy: {}", e.message()))
        })?;
    }
    Ok(())
}

fn external_id_for(target_role_arn: Option<&String>) -> Option<String> {
    target_role_arn.map(|_| podpass_control::ids::uid())
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

fn required(member: &str, value: Option<String>) -> Result<String, AwsError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::invalid_parameter_exception(format!("{member} is required")))
}

async fn create_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "CreatePodIdentityAssociation",
        |call, body| async move {
            let arn = cluster_arn(&state, &name);
            authorize(&state, &call, "eks:CreatePodIdentityAssociation", &arn).await?;
            let input: CreateBody = parse_body(&body)?;
            let cluster = find_cluster(&state, &name).await?;
            let namespace = required("namespace", input.namespace)?;
            let service_account = required("serviceAccount", input.service_account)?;
            let role_arn = required("roleArn", input.role_arn)?;
            check_role_arn(&state, "roleArn", &role_arn)?;
            if let Some(target) = &input.target_role_arn {
                check_role_arn(&state, "targetRoleArn", target)?;
            }
            check_policy(input.policy.as_deref())?;
            if input.tags.len() > 50 {
                return Err(AwsError::invalid_parameter_exception(
                    "A resource can have at most 50 tags",
                ));
            }
            let now = podpass_control::now();
            let id = association_id()?;
            let association = PodIdentityAssociation {
                association_arn: association_arn(&state, &cluster.name, &id),
                association_id: id,
                cluster_name: cluster.name.clone(),
                namespace,
                service_account,
                role_arn,
                tags: input.tags,
                owner_arn: None,
                disable_session_tags: input.disable_session_tags.unwrap_or(false),
                external_id: external_id_for(input.target_role_arn.as_ref()),
                target_role_arn: input.target_role_arn,
                session_policy: input.policy,
                created_at: now,
                modified_at: now,
            };
            match state.control.store().create_association(&association).await {
                Ok(()) => {}
                Err(StoreError::AlreadyExists(_)) => {
                    let existing = state
                        .control
                        .store()
                        .association_for(
                            &cluster.name,
                            &association.namespace,
                            &association.service_account,
                        )
                        .await
                        .map_err(internal)?
                        .map(|a| a.association_id)
                        .unwrap_or_default();
                    return Err(AwsError::resource_in_use_exception(format!(
                        "Association already exists: {existing}"
                    )));
                }
                Err(e) => return Err(internal(e)),
            }
            tracing::info!(
                request_id = %call.ctx.request_id,
                association = %association.association_id,
                namespace = %association.namespace,
                service_account = %association.service_account,
                role = %association.role_arn,
                "created pod identity association"
            );
            Ok((200, json!({"association": association_json(&association)})))
        },
    )
    .await
}

async fn find_association(
    state: &AppState,
    cluster: &str,
    id: &str,
) -> Result<PodIdentityAssociation, AwsError> {
    find_cluster(state, cluster).await?;
    state
        .control
        .store()
        .association(cluster, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => AwsError::resource_not_found_exception(format!(
                "No pod identity association found for id: {id}"
            )),
            other => internal(other),
        })
}

async fn describe_association(
    State(state): State<AppState>,
    ConnectInfo(peer): Peer,
    Path((name, id)): Path<(String, String)>,
    request: Request<Body>,
) -> Response {
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "DescribePodIdentityAssociation",
        |call, _| async move {
            let arn = association_arn(&state, &name, &id);
            authorize(&state, &call, "eks:DescribePodIdentityAssociation", &arn).await?;
            let association = find_association(&state, &name, &id).await?;
            Ok((200, json!({"association": association_json(&association)})))
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
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "ListPodIdentityAssociations",
        |call, _| async move {
            authorize(
                &state,
                &call,
                "eks:ListPodIdentityAssociations",
                &cluster_arn(&state, &name),
            )
            .await?;
            find_cluster(&state, &name).await?;
            let max = call.params.i64("maxResults")?.unwrap_or(100);
            if !(1..=100).contains(&max) {
                return Err(AwsError::invalid_parameter_exception(
                    "maxResults must be between 1 and 100",
                ));
            }
            let all = state
                .control
                .store()
                .list_associations(
                    &name,
                    call.params.get("namespace"),
                    call.params.get("serviceAccount"),
                )
                .await
                .map_err(internal)?;
            // The next token is the id to resume from: ids are the sort key.
            let start = call.params.get("nextToken").unwrap_or_default();
            let page: Vec<&PodIdentityAssociation> = all
                .iter()
                .filter(|a| a.association_id.as_str() >= start)
                .take(max as usize + 1)
                .collect();
            let (items, next) = if page.len() > max as usize {
                (
                    &page[..max as usize],
                    Some(page[max as usize].association_id.clone()),
                )
            } else {
                (&page[..], None)
            };
            let summaries: Vec<Value> = items
                .iter()
                .map(|a| {
                    let mut v = json!({
                        "clusterName": a.cluster_name,
                        "namespace": a.namespace,
                        "serviceAccount": a.service_account,
                        "associationArn": a.association_arn,
                        "associationId": a.association_id,
                    });
                    if let Some(owner) = &a.owner_arn {
                        v["ownerArn"] = json!(owner);
                    }
                    v
                })
                .collect();
            let mut out = json!({"associations": summaries});
            if let Some(next) = next {
                out["nextToken"] = json!(next);
            }
            Ok((200, out))
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
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "UpdatePodIdentityAssociation",
        |call, body| async move {
            let arn = association_arn(&state, &name, &id);
            authorize(&state, &call, "eks:UpdatePodIdentityAssociation", &arn).await?;
            let input: UpdateBody = parse_body(&body)?;
            let mut association = find_association(&state, &name, &id).await?;
            if let Some(role_arn) = input.role_arn {
                check_role_arn(&state, "roleArn", &role_arn)?;
                association.role_arn = role_arn;
            }
            if let Some(disable) = input.disable_session_tags {
                association.disable_session_tags = disable;
            }
            if let Some(target) = input.target_role_arn {
                // An empty string removes the target role, as EKS.
                if target.is_empty() {
                    association.target_role_arn = None;
                    association.external_id = None;
                } else {
                    check_role_arn(&state, "targetRoleArn", &target)?;
                    if association.external_id.is_none() {
                        association.external_id = external_id_for(Some(&target));
                    }
                    association.target_role_arn = Some(target);
                }
            }
            if let Some(policy) = input.policy {
                check_policy(Some(&policy).filter(|p| !p.is_empty()).map(String::as_str))?;
                association.session_policy = Some(policy).filter(|p| !p.is_empty());
            }
            association.modified_at = podpass_control::now();
            state
                .control
                .store()
                .update_association(&association)
                .await
                .map_err(internal)?;
            Ok((200, json!({"association": association_json(&association)})))
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
    serve(
        state.clone(),
        peer,
        request,
        "eks",
        "DeletePodIdentityAssociation",
        |call, _| async move {
            let arn = association_arn(&state, &name, &id);
            authorize(&state, &call, "eks:DeletePodIdentityAssociation", &arn).await?;
            let association = find_association(&state, &name, &id).await?;
            state
                .control
                .store()
                .delete_association(&name, &id)
                .await
                .map_err(internal)?;
            Ok((200, json!({"association": association_json(&association)})))
        },
    )
    .await
}
