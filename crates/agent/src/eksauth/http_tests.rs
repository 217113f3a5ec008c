//! The real HTTP client against a small axum EKS Auth double on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use jiff::Timestamp;
use podpass_sigv4::{RequestView, SigningKey, VerifyOptions, parse_auth, sha256_hex, verify};
use serde_json::{Value, json};

use super::*;
use crate::aws_credentials::{
    AwsCredentials, CredentialsError, CredentialsProvider, StaticCredentialsProvider,
};

const SECRET: &str = "agent-secret";

#[derive(Debug, Clone)]
struct Captured {
    path: String,
    authorization: String,
    security_token: Option<String>,
    content_type: String,
    body: Value,
    signature_verified: bool,
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Captured>>>);

async fn fake_eks_auth(State(seen): State<Seen>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let hash = sha256_hex(&bytes);
    let view = RequestView::from_http_parts(&parts, &hash);
    let signature_verified = parse_auth(&view).is_ok_and(|auth| {
        let key = SigningKey::derive(SECRET, &auth.scope);
        let options =
            VerifyOptions::new(&["eks-auth"], Timestamp::now()).with_regions(&["us-west-2"]);
        verify(&view, &auth, &key, &options).is_ok()
    });
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    seen.0.lock().unwrap().push(Captured {
        path: parts.uri.path().to_owned(),
        authorization: header("authorization").unwrap_or_default(),
        security_token: header("x-amz-security-token"),
        content_type: header("content-type").unwrap_or_default(),
        body: body.clone(),
        signature_verified,
    });
    match body["token"].as_str().unwrap_or_default() {
        "good" => (
            [("x-amzn-RequestId", "rid-ok")],
            Json(json!({
                "subject": {"namespace": "default", "serviceAccount": "sa"},
                "audience": "pods.eks.amazonaws.com",
                "podIdentityAssociation": {
                    "associationArn": "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/a-x",
                    "associationId": "a-x"
                },
                "assumedRoleUser": {
                    "arn": "arn:aws:sts::111122223333:assumed-role/r/eks-c1-pod-abc",
                    "assumeRoleId": "AROAEXAMPLE:eks-c1-pod-abc"
                },
                "credentials": {
                    "sessionToken": "t",
                    "secretAccessKey": "s",
                    "accessKeyId": "ASIAEXAMPLE",
                    "expiration": 1700003600
                }
            })),
        )
            .into_response(),
        "missing" => (
            StatusCode::NOT_FOUND,
            [
                ("x-amzn-ErrorType", "ResourceNotFoundException:http://internal/"),
                ("x-amzn-RequestId", "rid-404"),
            ],
            Json(json!({"message": "no association for default/sa"})),
        )
            .into_response(),
        "throttle" => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"__type": "ThrottlingException", "Message": "slow down"})),
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        _ => Json(json!({"unexpected": true})).into_response(),
    }
}

async fn spawn_fake() -> (String, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route(
            "/clusters/{cluster}/assume-role-for-pod-identity",
            post(fake_eks_auth),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{address}"), seen)
}

fn client(endpoint: &str, credentials: Arc<dyn CredentialsProvider>) -> HttpEksAuth {
    HttpEksAuth::new(
        &HttpEksAuthSettings {
            endpoint: endpoint.into(),
            cluster_name: "c1".into(),
            region: "us-west-2".into(),
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(300),
        },
        credentials,
    )
    .unwrap()
}

fn static_credentials(session_token: Option<&str>) -> Arc<dyn CredentialsProvider> {
    Arc::new(StaticCredentialsProvider(AwsCredentials {
        access_key_id: "AKIDAGENT".into(),
        secret_access_key: SECRET.into(),
        session_token: session_token.map(str::to_owned),
    }))
}

#[tokio::test]
async fn signed_request_reaches_the_operation_and_parses_the_answer() {
    let (endpoint, seen) = spawn_fake().await;
    let eks = client(&endpoint, static_credentials(Some("node-session")));
    let credentials = eks.assume_role_for_pod_identity("good").await.unwrap();
    assert_eq!(credentials.access_key_id, "ASIAEXAMPLE");
    assert_eq!(credentials.secret_access_key, "s");
    assert_eq!(credentials.session_token, "t");
    assert_eq!(credentials.account_id(), Some("111122223333"));
    assert_eq!(
        credentials.expiration,
        Timestamp::from_second(1_700_003_600).unwrap()
    );

    let captured = seen.0.lock().unwrap()[0].clone();
    assert_eq!(captured.path, "/clusters/c1/assume-role-for-pod-identity");
    assert_eq!(captured.body, json!({"token": "good"}));
    assert_eq!(captured.content_type, "application/json");
    assert!(
        captured
            .authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDAGENT/"),
        "{}",
        captured.authorization
    );
    assert!(
        captured
            .authorization
            .contains("/us-west-2/eks-auth/aws4_request")
    );
    assert_eq!(captured.security_token.as_deref(), Some("node-session"));
    assert!(captured.signature_verified);
}

#[tokio::test]
async fn a_wrong_secret_does_not_verify() {
    let (endpoint, seen) = spawn_fake().await;
    let wrong: Arc<dyn CredentialsProvider> = Arc::new(StaticCredentialsProvider(AwsCredentials {
        access_key_id: "AKIDAGENT".into(),
        secret_access_key: "other".into(),
        session_token: None,
    }));
    client(&endpoint, wrong)
        .assume_role_for_pod_identity("good")
        .await
        .unwrap();
    let captured = seen.0.lock().unwrap()[0].clone();
    assert!(!captured.signature_verified);
    assert_eq!(captured.security_token, None);
}

#[tokio::test]
async fn error_responses_keep_status_code_message_and_request_id() {
    let (endpoint, _) = spawn_fake().await;
    let eks = client(&endpoint, static_credentials(None));
    let missing = eks
        .assume_role_for_pod_identity("missing")
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        EksAuthError::Service(ServiceError {
            status: 404,
            code: "ResourceNotFoundException".into(),
            message: "no association for default/sa".into(),
            request_id: "rid-404".into(),
        })
    );
    let throttled = eks
        .assume_role_for_pod_identity("throttle")
        .await
        .unwrap_err();
    assert_eq!(
        throttled.to_string(),
        "[]: (ThrottlingException): slow down, fault: client"
    );
    assert_eq!(throttled.service().map(|e| e.status), Some(429));
}

#[tokio::test]
async fn malformed_success_bodies_are_invalid_responses() {
    let (endpoint, _) = spawn_fake().await;
    let eks = client(&endpoint, static_credentials(None));
    assert!(matches!(
        eks.assume_role_for_pod_identity("other").await,
        Err(EksAuthError::InvalidResponse(_))
    ));
}

#[tokio::test]
async fn unreachable_and_slow_endpoints_are_transport_errors() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let unreachable = client(&closed, static_credentials(None))
        .assume_role_for_pod_identity("good")
        .await;
    assert!(
        matches!(unreachable, Err(EksAuthError::Transport(_))),
        "{unreachable:?}"
    );

    let (endpoint, _) = spawn_fake().await;
    let slow = client(&endpoint, static_credentials(None))
        .assume_role_for_pod_identity("slow")
        .await;
    assert!(matches!(slow, Err(EksAuthError::Transport(_))), "{slow:?}");
}

#[derive(Debug)]
struct NoCredentials;

impl CredentialsProvider for NoCredentials {
    fn credentials(&self) -> crate::BoxFuture<'_, Result<AwsCredentials, CredentialsError>> {
        Box::pin(std::future::ready(Err(CredentialsError::Unavailable(
            "no provider in the chain".to_owned(),
        ))))
    }
}

#[tokio::test]
async fn missing_agent_credentials_fail_before_calling() {
    let (endpoint, seen) = spawn_fake().await;
    let result = client(&endpoint, Arc::new(NoCredentials))
        .assume_role_for_pod_identity("good")
        .await;
    assert_eq!(
        result,
        Err(EksAuthError::Signing(
            "no credentials: no provider in the chain".into()
        ))
    );
    assert!(seen.0.lock().unwrap().is_empty());
}
