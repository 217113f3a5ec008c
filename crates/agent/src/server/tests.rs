//! HTTP-level behaviour of the credentials, probe and metrics routers, and of `start`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::registry::Registry;
use tower::ServiceExt as _;

use super::probe::probe_router_with_timeout;
use super::*;
use crate::cache::{CacheSettings, CredentialCache};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::AgentConfig;
use crate::eksauth::EksAuthError;
use crate::metrics::AgentMetrics;
use crate::test_support::{FakeEksAuth, current_jwt, jwt, service_error, start_time};
use crate::time_util::add_duration;

const V4: &str = "169.254.170.23";

struct Agent {
    clock: Arc<ManualClock>,
    eks: Arc<FakeEksAuth>,
    metrics: AgentMetrics,
    router: Router,
}

fn agent_with(rate_limit: RateLimit) -> Agent {
    let clock = Arc::new(ManualClock::new(start_time()));
    let eks = Arc::new(FakeEksAuth::new(clock.clone()));
    let metrics = AgentMetrics::default();
    let settings = CacheSettings {
        max_retention: Duration::from_secs(3 * 3600),
        max_entries: 100,
        refresh_qps: 3,
    };
    let cache = Arc::new(CredentialCache::new(
        settings,
        eks.clone(),
        clock.clone(),
        metrics.clone(),
    ));
    let hosts: Vec<IpAddr> = vec![V4.parse().unwrap(), "fd00:ec2::23".parse().unwrap()];
    let router =
        CredentialsEndpoint::new(cache, hosts, rate_limit, clock.clone(), metrics.clone()).router();
    Agent {
        clock,
        eks,
        metrics,
        router,
    }
}

fn agent() -> Agent {
    agent_with(RateLimit::default())
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if !host.is_empty() {
        request = request.header("host", host);
    }
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

impl Agent {
    fn token(&self, subject: &str) -> String {
        current_jwt(subject, self.clock.now())
    }

    async fn get(&self, host: &str, token: Option<&str>) -> Answer {
        call(&self.router, "GET", "/v1/credentials", host, token).await
    }
}

#[tokio::test]
async fn success_is_the_reference_json_without_trailing_newline() {
    let agent = agent();
    agent.eks.set_lifetime(Duration::new(6 * 3600, 123_456_789));
    let answer = agent.get(V4, Some(&agent.token("pod-a"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(
        answer.body,
        r#"{"AccessKeyId":"ASIACALL1","SecretAccessKey":"secret-for-pod-a","Token":"session-1","AccountId":"111122223333","Expiration":"2027-01-15T14:00:00.123456789Z"}"#
    );
}

#[tokio::test]
async fn whole_second_expiration_has_no_fraction_and_any_method_works() {
    let agent = agent();
    let answer = call(
        &agent.router,
        "POST",
        "/v1/credentials",
        "[fd00:ec2::23]:80",
        Some(&agent.token("pod-a")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .body
            .ends_with(r#""Expiration":"2027-01-15T14:00:00Z"}"#),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn two_tokens_get_their_own_credentials_over_http() {
    let agent = agent();
    let a = agent.get(V4, Some(&agent.token("pod-a"))).await;
    let b = agent.get(V4, Some(&agent.token("pod-b"))).await;
    assert!(a.body.contains("secret-for-pod-a"));
    assert!(b.body.contains("secret-for-pod-b"));
    let a_again = agent.get(V4, Some(&agent.token("pod-a"))).await;
    assert_eq!(a.body, a_again.body);
    assert_eq!(agent.eks.calls(), 2);
}

#[tokio::test]
async fn wrong_host_is_forbidden_with_the_reference_text() {
    let agent = agent();
    let token = agent.token("pod-a");
    let answer = agent.get("127.0.0.1:24432", Some(&token)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    assert_eq!(
        answer.body,
        "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 127.0.0.1\n"
    );
    let no_host = agent.get("", Some(&token)).await;
    assert_eq!(no_host.status, StatusCode::FORBIDDEN);
    assert!(no_host.body.ends_with("address not \n"));
    assert_eq!(agent.eks.calls(), 0);
}

#[tokio::test]
async fn bad_tokens_are_rejected_with_400() {
    let agent = agent();
    let now = agent.clock.now();
    let empty = agent.get(V4, None).await;
    assert_eq!(
        (empty.status, empty.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Service account token cannot be empty\n"
        )
    );
    let malformed = agent.get(V4, Some("not-a-jwt")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.body,
        "Service account token cannot be parsed: token is malformed: token contains an invalid number of segments\n"
    );
    let expired = jwt("pod-a", add_duration(now, Duration::ZERO), now);
    let answer = agent.get(V4, Some(&expired)).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Service account token failed basic claim validations: token is expired\n"
        )
    );
    let hour = Duration::from_secs(3600);
    let future = jwt(
        "pod-a",
        add_duration(now, hour),
        add_duration(now, 2 * hour),
    );
    let answer = agent.get(V4, Some(&future)).await;
    assert_eq!(
        answer.body,
        "Service account token failed basic claim validations: token is not valid yet\n"
    );
    assert_eq!(agent.eks.calls(), 0);
}

#[tokio::test]
async fn eks_auth_errors_pass_through_with_their_status() {
    let cases = [
        ("InvalidTokenException", 400, "client"),
        ("AccessDeniedException", 400, "client"),
        ("ResourceNotFoundException", 404, "client"),
        ("ThrottlingException", 429, "client"),
        ("InternalServerException", 500, "server"),
        ("ServiceUnavailableException", 503, "server"),
    ];
    for (code, status, fault) in cases {
        let agent = agent();
        agent.eks.fail_next(service_error(code, status));
        let answer = agent.get(V4, Some(&agent.token("pod-a"))).await;
        assert_eq!(answer.status.as_u16(), status, "{code}");
        assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        assert_eq!(
            answer.body,
            format!("[req-123]: ({code}): {code} message, fault: {fault}\n")
        );
    }
}

#[tokio::test]
async fn other_failures_are_500() {
    let agent = agent();
    agent
        .eks
        .fail_next(EksAuthError::Transport("connection refused".into()));
    let answer = agent.get(V4, Some(&agent.token("pod-a"))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body, "EKS Auth request failed: connection refused\n");
    agent.eks.set_lifetime(Duration::from_secs(10));
    let answer = agent.get(V4, Some(&agent.token("pod-b"))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.body.starts_with("fetched credentials are expired"));
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let agent = agent();
    let token = agent.token("pod-a");
    for path in ["/", "/v1/credentials/", "/v1/credential", "/metrics"] {
        let answer = call(&agent.router, "GET", path, V4, Some(&token)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.body, "404 page not found\n");
    }
    assert_eq!(agent.eks.calls(), 0);
}

#[tokio::test]
async fn requests_beyond_the_burst_get_429_until_tokens_refill() {
    let agent = agent();
    for _ in 0..500 {
        assert_eq!(agent.get(V4, None).await.status, StatusCode::BAD_REQUEST);
    }
    let limited = agent.get(V4, None).await;
    assert_eq!(
        (limited.status, limited.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n")
    );
    agent.clock.advance(Duration::from_millis(2));
    assert_eq!(agent.get(V4, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(agent.get(V4, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        agent.get(V4, None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_raised_limit_serves_beyond_the_references_burst() {
    let agent = agent_with(RateLimit {
        per_second: 20_000.0,
        burst: 2_000,
    });
    for _ in 0..2_000 {
        assert_eq!(agent.get(V4, None).await.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        agent.get(V4, None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn responses_are_counted_by_status() {
    let agent = agent();
    let mut registry = Registry::default();
    agent.metrics.register(&mut registry);
    let token = agent.token("pod-a");
    agent.get(V4, Some(&token)).await;
    agent.get(V4, Some(&token)).await;
    agent.get("10.0.0.1", Some(&token)).await;
    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("pod_identity_http_response_total{code=\"200\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("pod_identity_http_response_total{code=\"403\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("pod_identity_cache_state_total{state=\"miss\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("pod_identity_cache_state_total{state=\"hit\"} 1\n"),
        "{text}"
    );
}

async fn serve_router(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

async fn probe_status(targets: Vec<SocketAddr>, path: &str, timeout: Duration) -> Answer {
    let router = probe_router_with_timeout(targets, timeout).unwrap();
    call(&router, "GET", path, "127.0.0.1", None).await
}

#[tokio::test]
async fn probes_pass_when_every_credentials_server_answers_404() {
    let first = serve_router(agent().router).await;
    let second = serve_router(agent().router).await;
    for path in ["/healthz", "/readyz"] {
        let answer = probe_status(vec![first, second], path, Duration::from_secs(10)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.body, "");
    }
}

#[tokio::test]
async fn probes_fail_with_500_on_a_wrong_status_or_a_dead_server() {
    let healthy = serve_router(agent().router).await;
    let wrong = serve_router(Router::new().route("/", axum::routing::get(|| async { "hi" }))).await;
    let answer = probe_status(vec![healthy, wrong], "/readyz", Duration::from_secs(10)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body, "Internal Server Error occurred");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let answer = probe_status(vec![dead], "/healthz", Duration::from_secs(10)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn probes_answer_408_when_a_server_hangs() {
    // Accepts connections but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging = listener.local_addr().unwrap();
    let _keep_open = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let answer = probe_status(vec![hanging], "/readyz", Duration::from_millis(200)).await;
    assert_eq!(answer.status, StatusCode::REQUEST_TIMEOUT);
}

fn local_config() -> AgentConfig {
    let mut config = AgentConfig::new("c1");
    config.bind_hosts = vec!["127.0.0.1".parse().unwrap()];
    config.port = 0;
    config.probe_port = 0;
    config.metrics_address = "127.0.0.1".parse().unwrap();
    config.metrics_port = 0;
    config
}

#[tokio::test]
async fn started_agent_serves_credentials_probes_and_metrics_then_stops() {
    let eks = Arc::new(FakeEksAuth::new(Arc::new(SystemClock)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = start(&local_config(), eks.clone(), async move {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let &[credentials] = running.credential_addrs() else {
        panic!("one bind host, one server");
    };
    assert_ne!(credentials.port(), 0);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = current_jwt("pod-a", SystemClock.now());
    let response = client
        .get(format!("http://{credentials}/v1/credentials"))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["AccountId"], "111122223333");
    assert_eq!(json["SecretAccessKey"], "secret-for-pod-a");

    let ready = client
        .get(format!("http://{}/readyz", running.probe_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = client
        .get(format!("http://{}/metrics", running.metrics_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("pod_identity_http_response_total{code=\"200\"} 1\n"),
        "{text}"
    );

    stop.send(()).unwrap();
    running.wait().await.unwrap();
    assert!(
        client
            .get(format!("http://{credentials}/v1/credentials"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn start_rejects_invalid_settings_and_busy_ports() {
    let eks = Arc::new(FakeEksAuth::new(Arc::new(SystemClock)));
    let mut no_hosts = local_config();
    no_hosts.bind_hosts.clear();
    assert!(matches!(
        start(&no_hosts, eks.clone(), std::future::pending()).await,
        Err(AgentError::Config(_))
    ));
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut clash = local_config();
    clash.port = busy.local_addr().unwrap().port();
    assert!(matches!(
        start(&clash, eks.clone(), std::future::pending()).await,
        Err(AgentError::Bind { .. })
    ));
    // An address the node lacks (EKS's, here) is skipped while another serves ...
    let mut partly = local_config();
    partly.bind_hosts = vec![
        "169.254.170.23".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
    ];
    let running = start(&partly, eks.clone(), std::future::ready(()))
        .await
        .unwrap();
    assert_eq!(running.credential_addrs().len(), 1);
    assert!(running.credential_addrs()[0].ip().is_loopback());
    running.wait().await.unwrap();
    // ... but with none of them, the agent does not start.
    let mut none = local_config();
    none.bind_hosts = vec!["169.254.170.23".parse().unwrap()];
    assert!(matches!(
        start(&none, eks, std::future::pending()).await,
        Err(AgentError::NoAddress(_))
    ));
}
