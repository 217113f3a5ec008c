//! Shared fakes: a token issuer, a movable clock, and a kubelet wired to them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podpass_kubelet::{
    BoxFuture, Clock, IssuedToken, Kubelet, KubeletConfig, KubeletDeps, MountMode, SourceError,
    StaticObjects, TokenParams, TokenSource,
};
use podpass_podmutation::{Jitter, ServiceAccountSettings, StaticResolver};

pub(crate) const CA_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";
pub(crate) const IRSA_ROLE: &str = "arn:aws:iam::111122223333:role/s3-reader";

/// A clock the test moves by hand.
#[derive(Default)]
pub(crate) struct ManualClock(pub AtomicI64);

impl ManualClock {
    pub(crate) fn at(now: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now)))
    }
    pub(crate) fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Issues `tok-<audience>-<n>` tokens valid for the requested lifetime from the clock's now.
pub(crate) struct FakeTokens {
    pub clock: Arc<dyn Clock>,
    pub issued: AtomicUsize,
    pub requests: Mutex<Vec<TokenParams>>,
    pub failing: AtomicBool,
}

impl FakeTokens {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            issued: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            failing: AtomicBool::new(false),
        })
    }
    pub(crate) fn requests(&self) -> Vec<TokenParams> {
        self.requests.lock().unwrap().clone()
    }
}

impl TokenSource for FakeTokens {
    fn request<'a>(
        &'a self,
        params: &'a TokenParams,
    ) -> BoxFuture<'a, Result<IssuedToken, SourceError>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err("issuer unavailable".into());
            }
            self.requests.lock().unwrap().push(params.clone());
            let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let audience = params.audience.as_deref().unwrap_or("api");
            Ok(IssuedToken {
                token: format!("tok-{audience}-{n}"),
                expiration: self.clock.now() + params.expiration_seconds,
            })
        })
    }
}

/// Fixed Pod Identity jitter.
pub(crate) struct FixedJitter;

impl Jitter for FixedJitter {
    fn jittered_expiration(&self) -> i64 {
        80000
    }
}

/// A ServiceAccount table with `default/s3-reader` annotated for IRSA.
pub(crate) fn resolver() -> StaticResolver {
    let mut resolver = StaticResolver::default();
    resolver.service_accounts.insert(
        ("default".into(), "s3-reader".into()),
        ServiceAccountSettings {
            role_arn: Some(IRSA_ROLE.into()),
            ..Default::default()
        },
    );
    resolver.service_accounts.insert(
        ("default".into(), "default".into()),
        ServiceAccountSettings::default(),
    );
    resolver
}

pub(crate) fn objects() -> StaticObjects {
    let mut objects = StaticObjects::default().with_root_ca(CA_PEM, ["default", "team"]);
    objects.config_maps.insert(
        ("default".into(), "settings".into()),
        [
            ("a.txt".to_owned(), b"alpha".to_vec()),
            ("b.txt".to_owned(), b"beta".to_vec()),
        ]
        .into_iter()
        .collect(),
    );
    objects
}

pub(crate) struct Harness {
    pub kubelet: Kubelet,
    pub tokens: Arc<FakeTokens>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub(crate) async fn harness(mode: MountMode) -> Harness {
    harness_with_webhooks(mode, None).await
}

/// A harness whose pods also go through `webhooks`, as registered in a cluster.
pub(crate) async fn harness_with_webhooks(
    mode: MountMode,
    webhooks: Option<Arc<dyn podpass_kubelet::MutatingWebhooks>>,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(1_000_000);
    let tokens = FakeTokens::new(clock.clone());
    let mut config = KubeletConfig::new(dir.path());
    config.mount_mode = Some(mode);
    config.restart_backoff = Duration::from_millis(10);
    config.max_restart_backoff = Duration::from_millis(50);
    config.rotation_check_interval = Duration::from_millis(20);
    config.max_refresh_jitter = Duration::ZERO;
    let deps = KubeletDeps {
        tokens: tokens.clone(),
        objects: Arc::new(objects()),
        identities: Arc::new(resolver()),
        jitter: Arc::new(FixedJitter),
        clock: clock.clone(),
        registered_webhooks: webhooks,
    };
    let kubelet = Kubelet::start(config, deps).await.unwrap();
    Harness {
        kubelet,
        tokens,
        clock,
        dir,
    }
}

/// Polls `check` every 20 ms for up to 20 s.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}
