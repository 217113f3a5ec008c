//! EKS Auth (rest-json): decodes `AssumeRoleForPodIdentity`, calls the domain layer
//! (`podpass_control::credentials`) and renders EKS Auth's JSON answer.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::routing::post;
use http::Request;
use podpass_control::credentials::POD_IDENTITY_AUDIENCE;
use serde::Deserialize;
use serde_json::json;

use crate::rest::{parse_body, serve};
use crate::{AppState, errors};

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
    serve(
        state.clone(),
        peer,
        request,
        "eks-auth",
        "AssumeRoleForPodIdentity",
        |call, body| async move {
            let input: AssumeBody = parse_body(&body)?;
            let pod = state
                .control
                .assume_role_for_pod_identity(&call.ctx, &name, input.token.as_deref())
                .await
                .map_err(errors::rest)?;
            let credentials = pod.credentials.credentials();
            Ok((
                200,
                json!({
                    "subject": {"namespace": pod.namespace, "serviceAccount": pod.service_account},
                    "audience": POD_IDENTITY_AUDIENCE,
                    "podIdentityAssociation": {
                        "associationArn": pod.association.association_arn,
                        "associationId": pod.association.association_id,
                    },
                    "assumedRoleUser": {
                        "arn": pod.credentials.assumed_role_arn(),
                        "assumeRoleId": pod.credentials.assumed_role_id(),
                    },
                    "credentials": {
                        "sessionToken": credentials.session_token,
                        "secretAccessKey": credentials.secret_access_key,
                        "accessKeyId": credentials.access_key_id,
                        "expiration": credentials.expiration,
                    },
                }),
            ))
        },
    )
    .await
}
