//! The refreshing credential cache in front of EKS Auth.
//!
//! Compared with the reference agent 0.1.37: entries are keyed by the exact token string (never
//! one token's credentials for another), concurrent identical requests share one EKS Auth call
//! (single-flight instead of polling), and the background refresher runs every second under the
//! refresh token bucket instead of once a minute, so it keeps up with `max-service-qps`.

mod lru;
mod refresh;

pub use refresh::RefreshReport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::eksauth::{EksAuth, EksAuthError, PodCredentials};
use crate::metrics::{AgentMetrics, CacheState};
use crate::time_util::{add_duration, remaining};
use crate::token_bucket::TokenBucket;
use lru::Lru;

/// Credentials with this much life left or less are never served nor cached.
pub const MIN_CREDENTIAL_TTL: Duration = Duration::from_secs(15);

/// Cache sizing and refresh pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Longest time credentials are served before a background refresh (reference: 3 h).
    pub max_retention: Duration,
    /// Maximum number of cached tokens (reference: 2000).
    pub max_entries: usize,
    /// Background refreshes per second towards EKS Auth (reference: 3).
    pub refresh_qps: u32,
}

impl CacheSettings {
    /// Caching is off when either the retention or the size is zero (as the reference).
    pub fn is_enabled(&self) -> bool {
        !self.max_retention.is_zero() && self.max_entries > 0
    }
}

/// Why credentials could not be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// EKS Auth failed or answered with an error.
    #[error("{0}")]
    EksAuth(#[from] EksAuthError),
    /// EKS Auth returned credentials that are (about to be) expired.
    #[error(
        "fetched credentials are expired or will expire within the next {:.2} seconds",
        .remaining.as_secs_f64()
    )]
    ExpiringCredentials {
        /// Life left when they arrived.
        remaining: Duration,
    },
}

impl FetchError {
    /// The HTTP status the agent answers with: EKS Auth's own status for its error responses,
    /// 500 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Self::EksAuth(EksAuthError::Service(error)) => error.status,
            _ => 500,
        }
    }
}

type FetchResult = Result<Arc<PodCredentials>, FetchError>;
type Flight = Arc<OnceCell<FetchResult>>;

#[derive(Debug, Clone)]
struct Entry {
    credentials: Arc<PodCredentials>,
    refresh_at: Timestamp,
}

struct State {
    entries: Lru<Entry>,
    in_flight: HashMap<String, Flight>,
    refresh_budget: TokenBucket,
}

/// Token → credentials cache with single-flight fetches and background refresh.
pub struct CredentialCache {
    eks_auth: Arc<dyn EksAuth>,
    clock: Arc<dyn Clock>,
    metrics: AgentMetrics,
    settings: CacheSettings,
    state: Mutex<State>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("settings", &self.settings)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// An empty cache calling `eks_auth` on misses.
    pub fn new(
        settings: CacheSettings,
        eks_auth: Arc<dyn EksAuth>,
        clock: Arc<dyn Clock>,
        metrics: AgentMetrics,
    ) -> Self {
        let now = clock.now();
        Self {
            state: Mutex::new(State {
                entries: Lru::new(settings.max_entries),
                in_flight: HashMap::new(),
                refresh_budget: TokenBucket::new(
                    f64::from(settings.refresh_qps),
                    settings.refresh_qps,
                    now,
                ),
            }),
            eks_auth,
            clock,
            metrics,
            settings,
        }
    }

    /// Credentials for `token`: from the cache while they have more than 15 s left, otherwise
    /// from EKS Auth. Concurrent calls for the same token share one EKS Auth call and its result.
    pub async fn get(&self, token: &str) -> Result<Arc<PodCredentials>, FetchError> {
        if self.settings.is_enabled()
            && let Some(credentials) = self.lookup(token)
        {
            self.metrics.cache_state(CacheState::Hit);
            return Ok(credentials);
        }
        let flight = FlightGuard::join(self, token);
        flight
            .cell
            .get_or_init(|| async {
                // A flight that finished between our lookup and joining has filled the cache.
                match self
                    .settings
                    .is_enabled()
                    .then(|| self.lookup(token))
                    .flatten()
                {
                    Some(credentials) => Ok(credentials),
                    None => self.fetch_and_store(token).await,
                }
            })
            .await
            .clone()
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the cached credentials of `token` are due for a background refresh.
    pub fn refresh_deadline(&self, token: &str) -> Option<Timestamp> {
        self.lock()
            .entries
            .peek(token)
            .map(|entry| entry.refresh_at)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the maps consistent, so a panicking holder cannot have
        // corrupted them: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A cached entry that still has more than the minimum life; evicts one that does not.
    fn lookup(&self, token: &str) -> Option<Arc<PodCredentials>> {
        let now = self.clock.now();
        let mut state = self.lock();
        let (credentials, usable) = state.entries.get(token).map(|entry| {
            let usable = remaining(now, entry.credentials.expiration) > MIN_CREDENTIAL_TTL;
            (entry.credentials.clone(), usable)
        })?;
        if usable {
            return Some(credentials);
        }
        state.entries.remove(token);
        drop(state);
        self.metrics.cache_state(CacheState::Evicted);
        None
    }

    async fn fetch_and_store(&self, token: &str) -> FetchResult {
        if self.settings.is_enabled() {
            self.metrics.cache_state(CacheState::Miss);
        }
        let result = self.eks_auth.assume_role_for_pod_identity(token).await;
        let now = self.clock.now();
        match result {
            Ok(credentials) => {
                let left = remaining(now, credentials.expiration);
                if left <= MIN_CREDENTIAL_TTL {
                    return Err(FetchError::ExpiringCredentials { remaining: left });
                }
                let credentials = Arc::new(credentials);
                if self.settings.is_enabled() {
                    self.store(token, credentials.clone(), now);
                }
                Ok(credentials)
            }
            Err(error) => {
                if error.service().is_some_and(|e| e.is_terminal()) {
                    self.evict(token);
                }
                Err(error.into())
            }
        }
    }

    /// Caches fresh credentials until min(their life, max retention).
    fn store(&self, token: &str, credentials: Arc<PodCredentials>, now: Timestamp) {
        let refresh_at = self.refresh_deadline_for(&credentials, now);
        let evicted = self.lock().entries.insert(
            token.to_owned(),
            Entry {
                credentials,
                refresh_at,
            },
        );
        for _ in 0..evicted {
            self.metrics.cache_state(CacheState::Evicted);
        }
    }

    fn refresh_deadline_for(&self, credentials: &PodCredentials, now: Timestamp) -> Timestamp {
        let life = remaining(now, credentials.expiration);
        add_duration(now, life.min(self.settings.max_retention))
    }

    fn evict(&self, token: &str) {
        if self.lock().entries.remove(token).is_some() {
            self.metrics.cache_state(CacheState::Evicted);
        }
    }
}

/// A caller's membership in the single flight for one token. Dropping it (on completion or when
/// the caller gives up) removes the flight once it has a result or nobody else is waiting, so
/// later callers look at the cache again. (Two callers giving up at the same instant may leave an
/// empty flight behind; the next caller for that token simply runs it.)
struct FlightGuard<'a> {
    cache: &'a CredentialCache,
    token: &'a str,
    cell: Flight,
}

impl<'a> FlightGuard<'a> {
    fn join(cache: &'a CredentialCache, token: &'a str) -> Self {
        let cell = cache
            .lock()
            .in_flight
            .entry(token.to_owned())
            .or_default()
            .clone();
        Self { cache, token, cell }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        let is_current = state
            .in_flight
            .get(self.token)
            .is_some_and(|current| Arc::ptr_eq(current, &self.cell));
        // Two owners means the map and this guard: nobody else is waiting.
        if is_current && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2) {
            state.in_flight.remove(self.token);
        }
    }
}

#[cfg(test)]
mod tests;
