//! Broker mode's upstream: the STS the AWS SDK resolves (real AWS by default;
//! `AWS_ENDPOINT_URL_STS` points it elsewhere), called with podpass's own identity from the SDK's
//! default credential chain (an IRSA web identity, a container or instance role, a profile,
//! environment keys), as EKS calls STS for Pod Identity.
//!
//! It protects the upstream: one call per distinct session however many pods ask at once
//! (single flight), sessions reused until half their lifetime, at most
//! `max_in_flight` calls at a time, and the SDK's adaptive retries (backoff on `Throttling`,
//! `RequestLimitExceeded` and 5xx, with a client-side rate that slows down as the upstream
//! throttles). Refusals are not cached: the next request asks again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sts::error::SdkError;
use aws_sdk_sts::types::Tag;
use podpass_control::broker::{
    ChainTarget, Upstream, UpstreamError, UpstreamFuture, UpstreamRequest, UpstreamSession,
};
use podpass_session::{Credentials, SessionTag};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What EKS gives Pod Identity sessions; a role whose maximum is shorter gets its maximum.
const POD_IDENTITY_SECONDS: i32 = 6 * 3600;
/// A chained session's limit, as STS's for any role chaining.
const CHAINED_SECONDS: i32 = 3600;
/// Sessions are reused until this fraction of their lifetime has passed.
const REUSE_FRACTION: u32 = 2;
/// Distinct sessions kept.
const MAX_SESSIONS: u64 = 100_000;

/// The upstream's settings.
#[derive(Clone, Debug)]
pub(crate) struct BrokerSettings {
    /// Region when the SDK's chain finds none.
    pub region: String,
    /// Most upstream calls at a time.
    pub max_in_flight: usize,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Longest one call may take, retries included.
    pub call_timeout: Duration,
}

/// The session a request stands for: everything but its session name's random suffix.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct SessionKey {
    role_arn: String,
    target: Option<ChainTarget>,
    tags: Vec<(String, String)>,
    policy: Option<String>,
    namespace: String,
    service_account: String,
    pod_uid: String,
}

impl SessionKey {
    fn of(request: &UpstreamRequest) -> Self {
        SessionKey {
            role_arn: request.role_arn.clone(),
            target: request.target.clone(),
            tags: request
                .tags
                .iter()
                .map(|tag| (tag.key.clone(), tag.value.clone()))
                .collect(),
            policy: request.policy.clone(),
            namespace: request.namespace.clone(),
            service_account: request.service_account.clone(),
            pod_uid: request.pod_uid.clone(),
        }
    }
}

/// Keeps a session until `1 / REUSE_FRACTION` of what was left of it when it came.
struct ReuseFor;

impl moka::Expiry<SessionKey, Arc<UpstreamSession>> for ReuseFor {
    fn expire_after_create(
        &self,
        _key: &SessionKey,
        session: &Arc<UpstreamSession>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = session.credentials.expiration - podpass_control::now();
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)) / REUSE_FRACTION)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    result: &'static str,
}

/// The broker's metrics.
#[derive(Clone, Debug)]
pub(crate) struct BrokerMetrics {
    calls: Family<OutcomeLabels, Counter>,
    latency: Histogram,
    lookups: Family<LookupLabels, Counter>,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            // 1 ms .. ~16 s: upstream calls cross the internet and may retry.
            latency: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            lookups: Family::default(),
        }
    }
}

impl BrokerMetrics {
    /// Adds the metrics to `registry` as `podpass_broker_*`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        let broker = registry.sub_registry_with_prefix("podpass_broker");
        broker.register(
            "upstream_calls",
            "Sessions asked of the upstream STS, by outcome (ok, denied, throttled, unavailable)",
            self.calls.clone(),
        );
        broker.register(
            "upstream_call_duration_seconds",
            "Time the upstream took to issue a session, retries included",
            self.latency.clone(),
        );
        broker.register(
            "session_lookups",
            "Brokered sessions asked for, by whether a live one was reused (hit) or asked for (miss)",
            self.lookups.clone(),
        );
    }
}

/// The upstream STS, with its cache and limits.
#[derive(Debug)]
pub(crate) struct StsUpstream {
    config: aws_config::SdkConfig,
    client: aws_sdk_sts::Client,
    sessions: moka::future::Cache<SessionKey, Arc<UpstreamSession>>,
    in_flight: tokio::sync::Semaphore,
    metrics: BrokerMetrics,
}

impl StsUpstream {
    /// The upstream the SDK's configuration resolves, with podpass's identity from its chain.
    pub(crate) async fn from_environment(settings: &BrokerSettings) -> Self {
        let region = aws_config::meta::region::RegionProviderChain::default_provider()
            .or_else(aws_config::Region::new(settings.region.clone()));
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region)
            .load()
            .await;
        Self::new(&config, settings)
    }

    /// The upstream `config` reaches, with the broker's retries, timeout, cache and bound.
    fn new(config: &aws_config::SdkConfig, settings: &BrokerSettings) -> Self {
        let config = config
            .to_builder()
            .retry_config(RetryConfig::adaptive().with_max_attempts(settings.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(settings.call_timeout)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_sts::Client::new(&config),
            config,
            sessions: moka::future::Cache::builder()
                .max_capacity(MAX_SESSIONS)
                .expire_after(ReuseFor)
                .build(),
            in_flight: tokio::sync::Semaphore::new(settings.max_in_flight.max(1)),
            metrics: BrokerMetrics::default(),
        }
    }

    /// The broker's metrics, to add to a registry that `/metrics` serves.
    pub(crate) fn metrics(&self) -> &BrokerMetrics {
        &self.metrics
    }

    /// Logs who podpass is to the upstream, so an operator sees the broker's identity (or why
    /// it has none) at start rather than at the first pod.
    pub(crate) async fn log_identity(&self) {
        match self.client.get_caller_identity().send().await {
            Ok(identity) => tracing::info!(
                arn = identity.arn().unwrap_or_default(),
                "broker mode: Pod Identity sessions come from the upstream STS as this identity"
            ),
            Err(error) => tracing::warn!(
                error = %error_text(&error),
                "broker mode: the upstream STS does not know podpass's identity yet"
            ),
        }
    }

    async fn issue(&self, request: &UpstreamRequest) -> Result<UpstreamSession, UpstreamError> {
        let _slot = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| UpstreamError::Unavailable("the broker is stopping".to_owned()))?;
        let started = Instant::now();
        let issued = self.issue_chain(request).await;
        self.metrics
            .latency
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &issued {
            Ok(_) => "ok",
            Err(UpstreamError::Denied(_)) => "denied",
            Err(UpstreamError::Throttled(_)) => "throttled",
            Err(UpstreamError::Unavailable(_)) => "unavailable",
        };
        self.metrics
            .calls
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        issued
    }

    async fn issue_chain(
        &self,
        request: &UpstreamRequest,
    ) -> Result<UpstreamSession, UpstreamError> {
        let Some(target) = &request.target else {
            return assume(
                &self.client,
                &request.role_arn,
                &request.session_name,
                Leg::Only {
                    tags: &request.tags,
                    policy: request.policy.as_deref(),
                },
            )
            .await;
        };
        let first = assume(
            &self.client,
            &request.role_arn,
            &request.session_name,
            Leg::First {
                tags: &request.tags,
            },
        )
        .await?;
        // The target role is assumed with the first role's session, its tags carried over as
        // transitive.
        let credentials = aws_sdk_sts::config::Credentials::new(
            first.credentials.access_key_id,
            first.credentials.secret_access_key,
            Some(first.credentials.session_token),
            None,
            "podpass-broker-chain",
        );
        let chained = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&self.config)
                .credentials_provider(credentials)
                .build(),
        );
        assume(
            &chained,
            &target.role_arn,
            &request.session_name,
            Leg::Target {
                external_id: target.external_id.as_deref(),
                policy: request.policy.as_deref(),
            },
        )
        .await
    }
}

impl Upstream for StsUpstream {
    fn assume_role<'a>(&'a self, request: &'a UpstreamRequest) -> UpstreamFuture<'a> {
        Box::pin(async move {
            let asked = AtomicBool::new(false);
            let session = self
                .sessions
                .try_get_with(SessionKey::of(request), async {
                    asked.store(true, Ordering::Relaxed);
                    self.issue(request).await.map(Arc::new)
                })
                .await
                .map_err(|error| (*error).clone())?;
            let result = if asked.load(Ordering::Relaxed) {
                "miss"
            } else {
                "hit"
            };
            self.metrics
                .lookups
                .get_or_create(&LookupLabels { result })
                .inc();
            Ok((*session).clone())
        })
    }
}

/// One `AssumeRole` of a brokered session.
enum Leg<'a> {
    /// The association's role, handed to the pod.
    Only {
        tags: &'a [SessionTag],
        policy: Option<&'a str>,
    },
    /// The association's role, chained from.
    First { tags: &'a [SessionTag] },
    /// The target role, handed to the pod.
    Target {
        external_id: Option<&'a str>,
        policy: Option<&'a str>,
    },
}

async fn assume(
    client: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    leg: Leg<'_>,
) -> Result<UpstreamSession, UpstreamError> {
    let mut call = client
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name);
    let (tags, policy, seconds) = match leg {
        Leg::Only { tags, policy } => (tags, policy, POD_IDENTITY_SECONDS),
        Leg::First { tags } => (tags, None, CHAINED_SECONDS),
        Leg::Target {
            external_id,
            policy,
        } => {
            call = call.set_external_id(external_id.map(str::to_owned));
            (&[][..], policy, CHAINED_SECONDS)
        }
    };
    for tag in tags {
        let built = Tag::builder()
            .key(&tag.key)
            .value(&tag.value)
            .build()
            .map_err(|e| UpstreamError::Denied(format!("session tag {}: {e}", tag.key)))?;
        call = call.tags(built).transitive_tag_keys(&tag.key);
    }
    call = call.set_policy(policy.map(str::to_owned));
    let answer = match call.clone().duration_seconds(seconds).send().await {
        // A role whose maximum session is shorter than EKS's six hours gets its maximum: ask
        // again without a duration, which STS answers with the role's default (one hour).
        Err(error) if exceeds_max_session(&error) => call.send().await,
        other => other,
    };
    let output = answer.map_err(|error| classify(&error))?;
    let (Some(credentials), Some(user)) = (output.credentials(), output.assumed_role_user()) else {
        return Err(UpstreamError::Unavailable(
            "the upstream's AssumeRole answer has no credentials".to_owned(),
        ));
    };
    Ok(UpstreamSession {
        credentials: Credentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().to_owned(),
            expiration: credentials.expiration().secs(),
        },
        assumed_role_arn: user.arn().to_owned(),
        assumed_role_id: user.assumed_role_id().to_owned(),
    })
}

fn exceeds_max_session<E: aws_sdk_sts::error::ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    matches!(error, SdkError::ServiceError(service)
        if service.err().code() == Some("ValidationError")
            && service.err().message().is_some_and(|m| m.contains("DurationSeconds")))
}

/// What the pod's EKS Auth error is for an upstream error.
fn classify<E>(error: &SdkError<E>) -> UpstreamError
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = error_text(error);
    let SdkError::ServiceError(service) = error else {
        // Timeouts, connection failures, unreadable answers.
        return UpstreamError::Unavailable(text);
    };
    let status = service.raw().status().as_u16();
    match service.err().code() {
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
            UpstreamError::Throttled(text)
        }
        _ if status >= 500 => UpstreamError::Unavailable(text),
        // The role's own refusals: its trust policy, a missing sts:TagSession, an external id,
        // a policy or tags it will not take.
        Some(
            "AccessDenied"
            | "ValidationError"
            | "MalformedPolicyDocument"
            | "PackedPolicyTooLarge"
            | "InvalidParameterValue",
        ) => UpstreamError::Denied(text),
        // podpass's own identity is broken (expired, unknown key, disabled region): the pod
        // can only wait for an operator.
        _ => UpstreamError::Unavailable(text),
    }
}

/// `Code: message` of a service error, else the SDK's description.
fn error_text<E>(error: &SdkError<E>) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("Unknown"),
            service.err().message().unwrap_or_default()
        ),
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// An STS that answers `AssumeRole` slowly, counting the calls it holds at once, and refuses
    /// them while `refusing` is set.
    #[derive(Default)]
    struct SlowSts {
        calls: AtomicUsize,
        holding: AtomicUsize,
        most_held: AtomicUsize,
        refusing: AtomicBool,
    }

    const ANSWER: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLEEXAMPLE01</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/app/session</Arn><AssumedRoleId>AROAEXAMPLE:session</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"#;
    const REFUSAL: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: sts:TagSession</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;

    async fn start(sts: Arc<SlowSts>, max_in_flight: usize) -> StsUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move || {
            let sts = sts.clone();
            async move {
                sts.calls.fetch_add(1, Ordering::SeqCst);
                let held = sts.holding.fetch_add(1, Ordering::SeqCst) + 1;
                sts.most_held.fetch_max(held, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                sts.holding.fetch_sub(1, Ordering::SeqCst);
                let (status, body) = if sts.refusing.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::FORBIDDEN, REFUSAL)
                } else {
                    (axum::http::StatusCode::OK, ANSWER)
                };
                (status, [("content-type", "text/xml")], body)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::for_tests())
            .load()
            .await;
        let settings = BrokerSettings {
            region: "us-east-1".to_owned(),
            max_in_flight,
            max_attempts: 1,
            call_timeout: Duration::from_secs(10),
        };
        StsUpstream::new(&config, &settings)
    }

    fn request(pod: usize) -> UpstreamRequest {
        UpstreamRequest {
            role_arn: "arn:aws:iam::111122223333:role/app".to_owned(),
            target: None,
            session_name: format!("eks-edge-pod-{pod}-abc"),
            tags: Vec::new(),
            policy: None,
            namespace: "apps".to_owned(),
            service_account: "app".to_owned(),
            pod_uid: format!("uid-{pod}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_distinct_pods_never_hold_more_than_the_bound_upstream() {
        let sts = Arc::new(SlowSts::default());
        let upstream = Arc::new(start(sts.clone(), 3).await);
        let asks = (0..40).map(|pod| {
            let upstream = upstream.clone();
            tokio::spawn(async move { upstream.assume_role(&request(pod)).await })
        });
        for ask in asks {
            let session = ask.await.unwrap().expect("a session");
            assert_eq!(session.credentials.access_key_id, "ASIAEXAMPLEEXAMPLE01");
        }
        // One call per distinct pod, never more than three at a time.
        assert_eq!(sts.calls.load(Ordering::SeqCst), 40);
        let most_held = sts.most_held.load(Ordering::SeqCst);
        assert!((1..=3).contains(&most_held), "{most_held} calls at once");
    }

    #[tokio::test]
    async fn a_refusal_is_not_kept_and_a_session_is() {
        let sts = Arc::new(SlowSts::default());
        let upstream = start(sts.clone(), 4).await;
        sts.refusing.store(true, Ordering::SeqCst);
        let refused = upstream.assume_role(&request(1)).await.unwrap_err();
        assert!(
            matches!(&refused, UpstreamError::Denied(reason) if reason.contains("sts:TagSession")),
            "{refused:?}"
        );
        // Once the role's trust is fixed the same pod gets a session at once, and keeps it.
        sts.refusing.store(false, Ordering::SeqCst);
        upstream.assume_role(&request(1)).await.expect("a session");
        upstream
            .assume_role(&request(1))
            .await
            .expect("the same session");
        assert_eq!(sts.calls.load(Ordering::SeqCst), 2);
    }
}
