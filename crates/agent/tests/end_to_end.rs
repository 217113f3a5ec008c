//! The agent as the lead runs it: the real EKS Auth client against a local EKS Auth double,
//! served on 127.0.0.1 with free ports, called the way the SDK container provider calls it.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podpass_agent::{AgentConfig, AwsCredentials, StaticCredentialsProvider, start};
use serde_json::{Value, json};

/// EKS Auth double: associations exist for every token except the one of `orphan`.
async fn assume_role_for_pod_identity(Json(body): Json<Value>) -> Response {
    let token = body["token"].as_str().unwrap_or_default();
    if subject(token) == "orphan" {
        return (
            StatusCode::NOT_FOUND,
            [
                ("x-amzn-ErrorType", "ResourceNotFoundException"),
                ("x-amzn-RequestId", "rid-1"),
            ],
            Json(json!({"message": "no pod identity association"})),
        )
            .into_response();
    }
    Json(json!({
        "subject": {"namespace": "default", "serviceAccount": subject(token)},
        "audience": "pods.eks.amazonaws.com",
        "podIdentityAssociation": {"associationArn": "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/a-1", "associationId": "a-1"},
        "assumedRoleUser": {"arn": "arn:aws:sts::111122223333:assumed-role/app/eks-c1-pod", "assumeRoleId": "AROA:eks-c1-pod"},
        "credentials": {
            "sessionToken": "session",
            "secretAccessKey": format!("secret-{}", subject(token)),
            "accessKeyId": "ASIAEXAMPLE",
            "expiration": 4_102_444_800u64
        }
    }))
    .into_response()
}

fn subject(token: &str) -> String {
    token
        .split('.')
        .nth(1)
        .and_then(|claims| URL_SAFE_NO_PAD.decode(claims).ok())
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|claims| claims["sub"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn token(sub: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"sub": sub, "aud": ["pods.eks.amazonaws.com"], "nbf": now, "exp": now + 3600})
            .to_string(),
    );
    format!("{header}.{claims}.c2ln")
}

#[tokio::test]
async fn serves_credentials_from_a_local_eks_auth() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let eks_auth_address = listener.local_addr().unwrap();
    let routes = Router::new().route(
        "/clusters/{cluster}/assume-role-for-pod-identity",
        post(assume_role_for_pod_identity),
    );
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });

    let mut config = AgentConfig::new("c1");
    config.bind_hosts = vec!["127.0.0.1".parse().unwrap()];
    config.port = 0;
    config.probe_port = 0;
    config.metrics_address = "127.0.0.1".parse().unwrap();
    config.metrics_port = 0;
    config.region = Some("us-west-2".into());
    config.endpoint = Some(format!("http://{eks_auth_address}"));
    let credentials = Arc::new(StaticCredentialsProvider(AwsCredentials {
        access_key_id: "AKIDNODE".into(),
        secret_access_key: "node-secret".into(),
        session_token: None,
    }));
    let eks_auth = Arc::new(config.eks_auth_client(credentials).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = start(&config, eks_auth, async move {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let url = format!("http://{}/v1/credentials", agent.credential_addrs()[0]);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let ok = client
        .get(&url)
        .header("accept", "application/json")
        .header("authorization", token("app"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.text().await.unwrap(),
        r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret-app","Token":"session","AccountId":"111122223333","Expiration":"2100-01-01T00:00:00Z"}"#
    );

    let orphan = client
        .get(&url)
        .header("authorization", token("orphan"))
        .send()
        .await
        .unwrap();
    assert_eq!(orphan.status(), 404);
    assert_eq!(
        orphan.text().await.unwrap(),
        "[rid-1]: (ResourceNotFoundException): no pod identity association, fault: client\n"
    );

    stop.send(()).unwrap();
    agent.wait().await.unwrap();
}
