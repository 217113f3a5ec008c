//! EKS Auth `AssumeRoleForPodIdentity`: a pod's ServiceAccount token, verified against its
//! cluster's issuer, traded for the associated role's credentials with the Pod Identity session
//! tags, as the node agent asks on the pod's behalf.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::routing::post;
use http::Request;
use podpass_awsproto::AwsError;
use podpass_policy::{PolicySet, Principal};
use podpass_session::{SessionClaims, SessionIdentity, SessionKind, SessionTag};
use podpass_store::{Cluster, PodIdentityAssociation};
use podpass_token::{Claims, VerifyError};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::authz::{authorize, internal, request, session_context};
use crate::cache::TrustedRole;
use crate::eks::{cluster_arn, find_cluster};
use crate::query::Call;
use crate::rest::{parse_body, serve};
use crate::sts::{Asker, audit_issued, check_trust, find_role, mint, role_identity};

/// Audience of Pod Identity tokens.
pub const AUDIENCE: &str = "pods.eks.amazonaws.com";
/// The service principal roles trust for Pod Identity.
pub const SERVICE_PRINCIPAL: &str = "pods.eks.amazonaws.com";
/// Lifetime of Pod Identity credentials (EKS issues six-hour sessions).
const DURATION: i64 = 6 * 3600;
/// Sessions chained to a target role are capped at one hour, as any role chaining.
const CHAINED_DURATION: i64 = 3600;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/clusters/{name}/assume-role-for-pod-identity",
        post(assume_role_for_pod_identity),
    )
}

#[derive(Deserialize)]
struct AssumeBody {
    token: Option<String>,
}

async fn assume_role_for_pod_identity(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    serve(state.clone(), peer, request, "eks-auth", "AssumeRoleForPodIdentity", |call, body| async move {
        authorize(&state, &call, "eks-auth:AssumeRoleForPodIdentity", &cluster_arn(&state, &name)).await?;
        let input: AssumeBody = parse_body(&body)?;
        let token = input
            .token
            .filter(|t| is_jwt_shaped(t))
            .ok_or_else(|| AwsError::invalid_parameter_exception("The token is not a valid JWT."))?;
        let cluster = find_cluster(&state, &name).await?;
        let claims = verify(&state, &cluster, &token).await?;
        let pod = claims
            .kubernetes
            .as_ref()
            .and_then(|k| k.pod.as_ref().map(|pod| (k, pod)));
        let Some((kube, pod)) = pod else {
            return Err(AwsError::invalid_token_exception(
                "The token is not bound to a pod: Pod Identity needs a projected pod token.",
            ));
        };
        let association = state
            .store()
            .association_for(&cluster.name, &kube.namespace, &kube.serviceaccount.name)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                AwsError::resource_not_found_exception(format!(
                    "No Pod Identity Association found for service account {} in namespace {} of cluster {}",
                    kube.serviceaccount.name, kube.namespace, cluster.name
                ))
            })?;
        let tags = session_tags(&state, &cluster, &association, &pod.name, &pod.uid);
        let session_name = session_name(&cluster.name, &pod.name)?;
        let pod_ref = format!(
            "system:serviceaccount:{}:{} (pod {})",
            kube.namespace, kube.serviceaccount.name, pod.name
        );
        let asker = Asker {
            source: "eks-auth.amazonaws.com",
            operation: "AssumeRoleForPodIdentity",
            principal: &pod_ref,
        };
        let session = assume(&state, &asker, &call, &association, &tags, &session_name).await?;
        audit_issued(&state, &asker, &call, "eks-auth:AssumeRoleForPodIdentity", &session.1);
        tracing::info!(
            request_id = %call.request_id,
            cluster = %cluster.name,
            namespace = %kube.namespace,
            service_account = %kube.serviceaccount.name,
            pod = %pod.name,
            session = %session.1.assumed_role_arn(),
            "issued pod identity credentials"
        );
        let (credentials, claims) = session;
        Ok((
            200,
            json!({
                "subject": {"namespace": kube.namespace, "serviceAccount": kube.serviceaccount.name},
                "audience": AUDIENCE,
                "podIdentityAssociation": {
                    "associationArn": association.association_arn,
                    "associationId": association.association_id,
                },
                "assumedRoleUser": {
                    "arn": claims.assumed_role_arn(),
                    "assumeRoleId": claims.assumed_role_id(),
                },
                "credentials": {
                    "sessionToken": credentials.session_token,
                    "secretAccessKey": credentials.secret_access_key,
                    "accessKeyId": credentials.access_key_id,
                    "expiration": credentials.expiration,
                },
            }),
        ))
    })
    .await
}

/// The model's token pattern: three base64url segments.
fn is_jwt_shaped(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
        })
}

async fn verify(state: &AppState, cluster: &Cluster, token: &str) -> Result<Claims, AwsError> {
    let audiences = [AUDIENCE.to_owned()];
    let now = podpass_control::now();
    let keys = state.issuer_keys();
    let unavailable = |e: crate::jwks::FetchError| {
        tracing::error!(issuer = %cluster.issuer_url, error = %e, "cannot read the cluster's issuer keys");
        AwsError::service_unavailable_exception("The cluster's token issuer is unavailable.")
    };
    let verifier = keys
        .verifier(&cluster.issuer_url, &audiences, false)
        .await
        .map_err(unavailable)?;
    let result = match verifier.verify(token, now) {
        Err(VerifyError::UnknownKeyId(_)) => keys
            .verifier(&cluster.issuer_url, &audiences, true)
            .await
            .map_err(unavailable)?
            .verify(token, now),
        other => other,
    };
    result.map_err(|e| {
        tracing::info!(cluster = %cluster.name, error = %e, "pod identity token rejected");
        match e {
            VerifyError::Expired { .. } => {
                AwsError::expired_token_exception("The token has expired.")
            }
            other => AwsError::invalid_token_exception(format!("The token is invalid: {other}")),
        }
    })
}

fn session_tags(
    state: &AppState,
    cluster: &Cluster,
    association: &PodIdentityAssociation,
    pod_name: &str,
    pod_uid: &str,
) -> Vec<SessionTag> {
    if association.disable_session_tags {
        return Vec::new();
    }
    [
        ("eks-cluster-arn", cluster_arn(state, &cluster.name)),
        ("eks-cluster-name", cluster.name.clone()),
        ("kubernetes-namespace", association.namespace.clone()),
        (
            "kubernetes-service-account",
            association.service_account.clone(),
        ),
        ("kubernetes-pod-name", pod_name.to_owned()),
        ("kubernetes-pod-uid", pod_uid.to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| SessionTag {
        key: key.to_owned(),
        value,
    })
    .collect()
}

/// `eks-<cluster>-<pod>-<random>`, within STS's 64 characters and `[\w+=,.@-]`.
fn session_name(cluster: &str, pod: &str) -> Result<String, AwsError> {
    let suffix = podpass_control::ids::unique_id("")
        .map_err(internal)?
        .to_ascii_lowercase();
    let mut name: String = format!("eks-{cluster}-{pod}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64 - 1 - 8);
    Ok(format!("{name}-{}", &suffix[..8]))
}

fn denied(role: &str) -> AwsError {
    AwsError::access_denied_exception(format!(
        "EKS Pod Identity is not authorized to assume the role {role}: its trust policy must allow the service principal {SERVICE_PRINCIPAL} to perform sts:AssumeRole and sts:TagSession"
    ))
}

async fn role(state: &AppState, arn: &str) -> Result<std::sync::Arc<TrustedRole>, AwsError> {
    find_role(state, arn).await?.ok_or_else(|| denied(arn))
}

/// Assumes the associated role for the service principal, then chains to the target role
/// with the association's external id when one is set.
async fn assume(
    state: &AppState,
    asker: &Asker<'_>,
    call: &Call,
    association: &PodIdentityAssociation,
    tags: &[SessionTag],
    session_name: &str,
) -> Result<(podpass_session::Credentials, SessionClaims), AwsError> {
    let first_role = role(state, &association.role_arn).await?;
    let (first, trust) = (&first_role.role, &first_role.trust);
    let tag_pairs: Vec<(&str, &str)> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let principal = Principal::Service {
        name: SERVICE_PRINCIPAL.to_owned(),
    };
    let for_action =
        |action: &str, principal: Principal, resource: &str, external_id: Option<&str>| {
            let mut r = request(principal, action, resource, call)
                .with("sts:RoleSessionName", session_name);
            if !tag_pairs.is_empty() {
                r = r.with_request_tags(&tag_pairs);
            }
            if let Some(id) = external_id {
                r = r.with("sts:ExternalId", id);
            }
            r
        };
    let none = PolicySet::default();
    check_trust(
        state,
        asker,
        trust,
        &none,
        &for_action("sts:AssumeRole", principal.clone(), &first.arn, None),
        call,
    )
    .map_err(|()| denied(&first.arn))?;
    if !tags.is_empty() {
        check_trust(
            state,
            asker,
            trust,
            &none,
            &for_action("sts:TagSession", principal, &first.arn, None),
            call,
        )
        .map_err(|()| denied(&first.arn))?;
    }
    let account = state.settings().account_id.clone();
    let mut identity = role_identity(first, &account, session_name, SessionKind::PodIdentity);
    identity.tags = tags.to_vec();
    identity.transitive_tag_keys = tags.iter().map(|t| t.key.clone()).collect();
    identity.session_policy = association.session_policy.clone();
    let Some(target_arn) = &association.target_role_arn else {
        return mint(state, identity, DURATION);
    };

    // Chaining: the first role's session assumes the target role, as EKS does server-side.
    let (_, first_claims) = mint(state, identity, CHAINED_DURATION)?;
    let target_role = role(state, target_arn).await?;
    let (target, target_trust) = (&target_role.role, &target_role.trust);
    let (session_principal, session_policies) = session_context(state, &first_claims).await?;
    let external_id = association.external_id.as_deref();
    let deny_target = || {
        AwsError::access_denied_exception(format!(
            "Role {} is not authorized to assume the target role {target_arn}",
            first.arn
        ))
    };
    check_trust(
        state,
        asker,
        target_trust,
        &session_policies,
        &for_action(
            "sts:AssumeRole",
            session_principal.clone(),
            &target.arn,
            external_id,
        ),
        call,
    )
    .map_err(|()| deny_target())?;
    if !tags.is_empty() {
        check_trust(
            state,
            asker,
            target_trust,
            &session_policies,
            &for_action(
                "sts:TagSession",
                session_principal,
                &target.arn,
                external_id,
            ),
            call,
        )
        .map_err(|()| deny_target())?;
    }
    let mut chained: SessionIdentity =
        role_identity(target, &account, session_name, SessionKind::PodIdentity);
    chained.tags = tags.to_vec();
    chained.transitive_tag_keys = tags.iter().map(|t| t.key.clone()).collect();
    chained.session_policy = association.session_policy.clone();
    chained.chained = true;
    mint(state, chained, CHAINED_DURATION)
}
