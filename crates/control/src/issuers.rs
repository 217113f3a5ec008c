//! Token issuers' keys, as STS finds them: podpass's own clusters' keys from the store, any other
//! issuer's through OIDC discovery (fetched with timeouts and size bounds).
//!
//! A key set is revalidated on use once it is older than the refresh interval
//! ([`DEFAULT_REFRESH`], `podpass up --issuer-keys-refresh`), so a key the issuer no longer
//! publishes (rotated out, or retired with `podpass cluster retire-key`) stops verifying within
//! that interval, here and on every replica sharing the database. An unknown `kid` refetches at
//! once (at most once a second). One fetch per issuer runs at a time; callers wait for it.
//!
//! A failed refetch never widens what is accepted: the last good set keeps serving only until it
//! is [`STALE_FACTOR`] intervals old, then verification fails (`IDPCommunicationError`; EKS Auth:
//! `ServiceUnavailableException`) until a fetch succeeds. Failed fetches are retried at most once
//! a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use podpass_store::TokenKeys;
use podpass_token::{Claims, DiscoveryDocument, Jwks, Verifier, VerifyError};

use crate::clusters::Clusters;

/// How long a fetched key set is used before it is revalidated, unless configured.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);
/// A set that could not be revalidated serves until it is this many refresh intervals old.
pub const STALE_FACTOR: u32 = 2;
/// An unknown `kid` or a failed fetch triggers a refetch only this long after the previous one.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Largest discovery document or JWKS accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why an issuer's keys could not be fetched (STS's `IDPCommunicationError`).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Network failure, timeout or HTTP error.
    #[error("{0}")]
    Http(String),
    /// The document is not what OIDC discovery promises.
    #[error("{0}")]
    Invalid(String),
    /// The store holding this instance's own clusters failed.
    #[error("reading the cluster's keys: {0}")]
    Store(String),
}

/// Why a token of an issuer was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// The issuer's keys (or its kube-apiserver's review) could not be had.
    #[error(transparent)]
    Keys(#[from] FetchError),
    /// The token does not verify against them.
    #[error(transparent)]
    Token(#[from] VerifyError),
    /// The cluster's kube-apiserver refused the token (its pod or ServiceAccount is gone).
    #[error("the cluster's kube-apiserver refused the token: {0}")]
    Refused(String),
}

/// A kube-apiserver's answer to a TokenReview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReview {
    /// Whether it authenticated the token.
    pub authenticated: bool,
    /// Who the token is (`system:serviceaccount:NAMESPACE:NAME`).
    pub username: String,
    /// Why it did not, when it did not.
    pub error: Option<String>,
}

/// The future a [`TokenReviewer`] returns.
pub type ReviewFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<TokenReview, String>> + Send + 'a>>;

/// Asks the kube-apiserver of the cluster podpass runs in about a token (TokenReview), for the
/// registered clusters whose tokens it must review.
pub trait TokenReviewer: Send + Sync + std::fmt::Debug {
    /// Reviews `token` for `audiences`; `Err` when the apiserver could not be asked.
    fn review<'a>(&'a self, token: &'a str, audiences: &'a [String]) -> ReviewFuture<'a>;
}

struct Entry {
    /// When the set was last fetched successfully: it is current as of then.
    fetched: Instant,
    /// When a fetch was last attempted, successful or not.
    attempted: Instant,
    /// Why the last attempt failed, if it did.
    last_error: Option<String>,
    jwks: Arc<Jwks>,
    verifiers: HashMap<String, Arc<Verifier>>,
}

/// What a call does with the cache.
enum Plan {
    /// Use this set.
    Use(Arc<Jwks>),
    /// Fetch the set.
    Fetch,
    /// The set is too old to use and was tried too recently to fetch again.
    Fail(String),
}

/// Cache of issuers' key sets and of verifiers built over them.
pub struct IssuerKeys {
    http: reqwest::Client,
    clusters: Clusters,
    reviewer: Option<Arc<dyn TokenReviewer>>,
    /// Issuers whose tokens their kube-apiserver reviews too, learned with their keys.
    reviewed: RwLock<HashMap<String, bool>>,
    refresh: Duration,
    entries: RwLock<HashMap<String, Entry>>,
    fetches: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// How many times an issuer was forgotten, changed under `entries`' write lock: a fetch
    /// that began before may hold a deleted cluster's keys, and is not kept.
    forgotten: AtomicU64,
}

impl IssuerKeys {
    /// Keys of any issuer, podpass's own `clusters` read from the store; sets are revalidated
    /// after `refresh`. `reviewer` asks the kube-apiserver of clusters registered for review.
    pub(crate) fn new(
        clusters: Clusters,
        refresh: Duration,
        reviewer: Option<Arc<dyn TokenReviewer>>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        Self {
            http,
            clusters,
            reviewer,
            reviewed: RwLock::new(HashMap::new()),
            refresh,
            entries: RwLock::new(HashMap::new()),
            fetches: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
        }
    }

    /// Verifies `token` as one of `issuer`'s for one of `audiences`, refetching the keys once
    /// when it names a `kid` the cached set lacks.
    pub async fn verify(
        &self,
        issuer: &str,
        audiences: &[String],
        token: &str,
        now: i64,
    ) -> Result<Claims, VerifyFailure> {
        let verifier = self.verifier(issuer, audiences, false).await?;
        let claims = match verifier.verify(token, now) {
            Err(VerifyError::UnknownKeyId(_)) => {
                let fresh = self.verifier(issuer, audiences, true).await?;
                fresh.verify(token, now)?
            }
            other => other?,
        };
        if self.is_reviewed(issuer) {
            self.review(token, audiences, &claims).await?;
        }
        Ok(claims)
    }

    fn is_reviewed(&self, issuer: &str) -> bool {
        self.reviewed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(issuer)
            .copied()
            .unwrap_or(false)
    }

    /// The kube-apiserver's word on a token that verified: it must still authenticate it, as
    /// the ServiceAccount the token names.
    async fn review(
        &self,
        token: &str,
        audiences: &[String],
        claims: &Claims,
    ) -> Result<(), VerifyFailure> {
        let reviewer = self.reviewer.as_ref().ok_or_else(|| {
            FetchError::Http(
                "the cluster's tokens are reviewed by its kube-apiserver, and podpass has no \
                 Kubernetes API to ask (run it in the cluster, or give --kube-api or --kubeconfig)"
                    .to_owned(),
            )
        })?;
        let review = reviewer
            .review(token, audiences)
            .await
            .map_err(|e| FetchError::Http(format!("TokenReview: {e}")))?;
        if !review.authenticated {
            return Err(VerifyFailure::Refused(
                review
                    .error
                    .unwrap_or_else(|| "not authenticated".to_owned()),
            ));
        }
        if review.username != claims.sub {
            return Err(VerifyFailure::Refused(format!(
                "it authenticates {} and the token names {}",
                review.username, claims.sub
            )));
        }
        Ok(())
    }

    /// Drops what is cached of `issuer` (a deleted cluster's): its tokens are checked afresh.
    pub(crate) fn forget(&self, issuer: &str) {
        let mut entries = self.write();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        entries.remove(issuer);
        drop(entries);
        self.reviewed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(issuer);
    }

    /// How long a set is used without revalidation.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh
    }

    fn stale_limit(&self) -> Duration {
        self.refresh.saturating_mul(STALE_FACTOR)
    }

    /// A verifier for `issuer` accepting `audiences`, over a key set no older than the refresh
    /// interval; `refresh` asks for fresh keys (a token named a `kid` the cached set lacks),
    /// honoured at most once a second.
    pub async fn verifier(
        &self,
        issuer: &str,
        audiences: &[String],
        refresh: bool,
    ) -> Result<Arc<Verifier>, FetchError> {
        let audience_key = audiences.join("\n");
        if let Plan::Use(jwks) = self.plan(issuer, refresh) {
            return self.verifier_over(issuer, audiences, &audience_key, jwks);
        }
        // One fetch per issuer at a time: the others wait, then use what it fetched.
        let lock = {
            let mut fetches = self
                .fetches
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            fetches.entry(issuer.to_owned()).or_default().clone()
        };
        let _fetching = lock.lock().await;
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        let jwks = match self.plan(issuer, refresh) {
            Plan::Use(jwks) => jwks,
            Plan::Fail(error) => return Err(FetchError::Http(error)),
            Plan::Fetch => match self.fetch(issuer).await {
                Ok(jwks) => self.store_fetched(issuer, jwks, forgotten),
                Err(error) => self.fetch_failed(issuer, error)?,
            },
        };
        self.verifier_over(issuer, audiences, &audience_key, jwks)
    }

    fn plan(&self, issuer: &str, refresh: bool) -> Plan {
        let entries = self.read();
        let Some(entry) = entries.get(issuer) else {
            return Plan::Fetch;
        };
        let age = entry.fetched.elapsed();
        let recently_tried = entry.attempted.elapsed() < MIN_REFETCH_INTERVAL;
        let current = age < self.refresh;
        // A current set serves, unless an unknown `kid` asks for a refetch not done just now.
        if current && (!refresh || recently_tried) {
            return Plan::Use(entry.jwks.clone());
        }
        if !recently_tried {
            return Plan::Fetch;
        }
        // A fetch failed (or ran) within the last second and the set is past its interval.
        match &entry.last_error {
            Some(_) if age < self.stale_limit() => Plan::Use(entry.jwks.clone()),
            Some(error) => Plan::Fail(error.clone()),
            None => Plan::Use(entry.jwks.clone()),
        }
    }

    /// Keeps a set fetched since `forgotten`, unless an issuer was forgotten in the meantime
    /// (its cluster deleted): then the set answers the call that fetched it only.
    fn store_fetched(&self, issuer: &str, jwks: Jwks, forgotten: u64) -> Arc<Jwks> {
        let jwks = Arc::new(jwks);
        let now = Instant::now();
        let mut entries = self.write();
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            return jwks;
        }
        entries.insert(
            issuer.to_owned(),
            Entry {
                fetched: now,
                attempted: now,
                last_error: None,
                jwks: jwks.clone(),
                verifiers: HashMap::new(),
            },
        );
        jwks
    }

    /// After a failed fetch: the last good set while it is younger than the stale limit,
    /// else the error.
    fn fetch_failed(&self, issuer: &str, error: FetchError) -> Result<Arc<Jwks>, FetchError> {
        let mut entries = self.write();
        let Some(entry) = entries.get_mut(issuer) else {
            return Err(error);
        };
        entry.attempted = Instant::now();
        entry.last_error = Some(error.to_string());
        let age = entry.fetched.elapsed();
        if age < self.stale_limit() {
            tracing::warn!(%issuer, %error, age_secs = age.as_secs(), "cannot revalidate the issuer's keys; using the last ones fetched");
            Ok(entry.jwks.clone())
        } else {
            Err(error)
        }
    }

    fn verifier_over(
        &self,
        issuer: &str,
        audiences: &[String],
        audience_key: &str,
        jwks: Arc<Jwks>,
    ) -> Result<Arc<Verifier>, FetchError> {
        if let Some(entry) = self.read().get(issuer)
            && Arc::ptr_eq(&entry.jwks, &jwks)
            && let Some(verifier) = entry.verifiers.get(audience_key)
        {
            return Ok(verifier.clone());
        }
        let verifier = Arc::new(
            Verifier::new(issuer, audiences.iter().cloned(), &jwks)
                .map_err(|e| FetchError::Invalid(format!("unusable JWKS: {e}")))?,
        );
        if let Some(entry) = self.write().get_mut(issuer)
            && Arc::ptr_eq(&entry.jwks, &jwks)
        {
            entry
                .verifiers
                .insert(audience_key.to_owned(), verifier.clone());
        }
        Ok(verifier)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn fetch(&self, issuer: &str) -> Result<Jwks, FetchError> {
        if let Some(jwks) = self.stored_keys(issuer).await? {
            return Ok(jwks);
        }
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery = self.get(&discovery_url).await?;
        let discovery = DiscoveryDocument::from_json(&discovery)
            .map_err(|e| FetchError::Invalid(format!("bad discovery document: {e}")))?;
        if discovery.issuer != issuer {
            return Err(FetchError::Invalid(format!(
                "discovery document names issuer {} instead of {issuer}",
                discovery.issuer
            )));
        }
        let jwks = self.get(&discovery.jwks_uri).await?;
        Jwks::from_json(&jwks).map_err(|e| FetchError::Invalid(format!("bad JWKS: {e}")))
    }

    /// The keys the store holds for the cluster whose issuer this is: the published keys of
    /// one of this instance's clusters, as its issuer serves them, or the JWKS registered with
    /// a cluster (`podpass cluster register --jwks-file`) whose discovery endpoint cannot be
    /// reached. `None` when the issuer's own discovery is to be asked.
    async fn stored_keys(&self, issuer: &str) -> Result<Option<Jwks>, FetchError> {
        let store_error = |e: crate::clusters::ClusterError| FetchError::Store(e.to_string());
        let cluster = self.clusters.by_issuer(issuer).await.map_err(store_error)?;
        self.reviewed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                issuer.to_owned(),
                cluster.as_ref().is_some_and(|c| c.token_review),
            );
        match cluster {
            Some(cluster) => match cluster.token_keys {
                TokenKeys::Podpass => self
                    .clusters
                    .jwks(&cluster.name, crate::now())
                    .await
                    .map(Some)
                    .map_err(store_error),
                TokenKeys::Jwks(text) => Jwks::from_json(&text)
                    .map(Some)
                    .map_err(|e| FetchError::Invalid(format!("bad registered JWKS: {e}"))),
                TokenKeys::Discovery => Ok(None),
            },
            None => Ok(None),
        }
    }

    async fn get(&self, url: &str) -> Result<String, FetchError> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Http(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(FetchError::Http(format!(
                "GET {url}: HTTP {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Http(format!("GET {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::Invalid(format!(
                    "GET {url}: document too large"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| FetchError::Invalid(format!("GET {url}: not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use podpass_token::{KeyAlgorithm, ServiceAccount, SigningKey, TokenRequest};

    use super::*;

    /// An OIDC issuer on loopback whose JWKS the test sets; `None` answers 503.
    struct Issuer {
        url: String,
        jwks: Arc<StdMutex<Option<String>>>,
    }

    impl Issuer {
        async fn start() -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let jwks: Arc<StdMutex<Option<String>>> = Arc::default();
            let discovery = DiscoveryDocument::new(
                &url,
                &format!("{url}/keys"),
                [KeyAlgorithm::RS256.jwt_algorithm()],
            )
            .to_json()
            .unwrap();
            let served = jwks.clone();
            let app = axum::Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    axum::routing::get(move || {
                        let body = discovery.clone();
                        async move { body }
                    }),
                )
                .route(
                    "/keys",
                    axum::routing::get(move || {
                        let body = served.lock().unwrap().clone();
                        async move { body.ok_or(http::StatusCode::SERVICE_UNAVAILABLE) }
                    }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await });
            Self { url, jwks }
        }

        fn publish(&self, keys: &[&SigningKey]) {
            let jwks = Jwks::from_signing_keys(keys.iter().copied());
            *self.jwks.lock().unwrap() = Some(jwks.to_json().unwrap());
        }

        fn fail(&self) {
            *self.jwks.lock().unwrap() = None;
        }
    }

    fn now() -> i64 {
        crate::now()
    }

    async fn keys(refresh: Duration) -> (IssuerKeys, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = podpass_store::Store::open_sqlite_file(&dir.path().join("db"))
            .await
            .unwrap();
        (IssuerKeys::new(Clusters::new(store), refresh, None), dir)
    }

    /// Whether `keys` accepts `token` now (`Err` when no key set is usable).
    async fn accepts(keys: &IssuerKeys, issuer: &str, token: &str) -> Result<bool, String> {
        let audiences = ["sts.amazonaws.com".to_owned()];
        let verifier = keys
            .verifier(issuer, &audiences, false)
            .await
            .map_err(|e| e.to_string())?;
        Ok(verifier.verify(token, now()).is_ok())
    }

    /// Polls until `accepts` answers `want`, failing after a generous deadline.
    async fn eventually(keys: &IssuerKeys, issuer: &str, token: &str, want: Result<bool, ()>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = accepts(keys, issuer, token).await.map_err(|_| ());
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "still {got:?}, want {want:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test]
    async fn a_set_fetched_across_its_clusters_deletion_is_not_kept() {
        let (keys, _dir) = keys(DEFAULT_REFRESH).await;
        let issuer = "https://deleted.example";
        let jwks = || Jwks::from_json(r#"{"keys": []}"#).unwrap();
        // The fetch read the cluster's keys; the cluster was deleted before it stored them.
        let forgotten = keys.forgotten.load(Ordering::SeqCst);
        keys.forget(issuer);
        keys.store_fetched(issuer, jwks(), forgotten);
        assert!(keys.read().get(issuer).is_none());
        let forgotten = keys.forgotten.load(Ordering::SeqCst);
        keys.store_fetched(issuer, jwks(), forgotten);
        assert!(keys.read().get(issuer).is_some());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn keys_the_issuer_stops_publishing_stop_verifying_and_failures_fail_closed() {
        let issuer = Issuer::start().await;
        let old = SigningKey::generate(KeyAlgorithm::RS256).unwrap();
        let new = SigningKey::generate(KeyAlgorithm::RS256).unwrap();
        let sa = ServiceAccount {
            namespace: "default".into(),
            name: "app".into(),
            uid: "u".into(),
        };
        let request = TokenRequest::new(["sts.amazonaws.com"]);
        let token = |key: &SigningKey| {
            podpass_token::mint(key, &issuer.url, &sa, &request, now())
                .unwrap()
                .0
        };
        let (keys, _dir) = keys(Duration::from_secs(1)).await;
        assert_eq!(keys.refresh_interval(), Duration::from_secs(1));

        issuer.publish(&[&old, &new]);
        let old_token = token(&old);
        assert_eq!(accepts(&keys, &issuer.url, &old_token).await, Ok(true));
        // The issuer drops the old key: its tokens are refused once the set is revalidated
        // (with the one-hour cache of before, they were accepted for an hour).
        issuer.publish(&[&new]);
        eventually(&keys, &issuer.url, &old_token, Ok(false)).await;
        let new_token = token(&new);
        assert_eq!(accepts(&keys, &issuer.url, &new_token).await, Ok(true));

        // The issuer fails: the last good set serves for a bounded time, never longer.
        issuer.fail();
        eventually(&keys, &issuer.url, &new_token, Err(())).await;
        // And the old key did not come back meanwhile.
        assert!(accepts(&keys, &issuer.url, &old_token).await.is_err());
        // Once the issuer answers again, so does STS.
        issuer.publish(&[&new]);
        eventually(&keys, &issuer.url, &new_token, Ok(true)).await;
    }
}
