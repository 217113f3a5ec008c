//! Background renewal of cached credentials, paced by the refresh token bucket.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{CredentialCache, MIN_CREDENTIAL_TTL};
use crate::eksauth::{EksAuthError, PodCredentials};
use crate::metrics::{CacheState, ErrorKind};
use crate::time_util::{add_duration, remaining};

/// Least wait before retrying a failed refresh (reference: 1 min).
const RETRY_INTERVAL: Duration = Duration::from_secs(60);
/// Random extra wait added to [`RETRY_INTERVAL`] (reference: up to 1 min).
const MAX_RETRY_JITTER: Duration = Duration::from_secs(60);

/// What one refresh pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Entries renewed with new credentials.
    pub refreshed: usize,
    /// Entries removed (expired, or a terminal EKS Auth error).
    pub evicted: usize,
    /// Entries kept after a recoverable error, to be retried later.
    pub retried: usize,
    /// Due entries left for a later pass because the refresh budget ran out.
    pub deferred: usize,
}

enum Outcome {
    Refreshed,
    Evicted,
    Retried,
    Deferred,
}

impl CredentialCache {
    /// Renews every entry past its refresh deadline, as far as the refresh budget allows.
    pub async fn refresh_due(&self) -> RefreshReport {
        let mut report = RefreshReport::default();
        let due = self.due_tokens(self.clock.now());
        for (done, token) in due.iter().enumerate() {
            match self.refresh_entry(token).await {
                Outcome::Refreshed => report.refreshed += 1,
                Outcome::Evicted => report.evicted += 1,
                Outcome::Retried => report.retried += 1,
                Outcome::Deferred => {
                    // The budget is spent: the rest waits for the next pass.
                    report.deferred = due.len() - done;
                    break;
                }
            }
        }
        report
    }

    /// Runs [`CredentialCache::refresh_due`] every `interval` until `shutdown` turns true.
    pub(crate) fn spawn_refresher(
        self: Arc<Self>,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // An error means the sender is gone, which also means stop.
                    _ = async { shutdown.wait_for(|stop| *stop).await.is_ok() } => break,
                    _ = ticker.tick() => {
                        let report = self.refresh_due().await;
                        if report != RefreshReport::default() {
                            tracing::debug!(?report, "credential refresh pass");
                        }
                    }
                }
            }
        })
    }

    /// Tokens past their refresh deadline, earliest first.
    fn due_tokens(&self, now: Timestamp) -> Vec<String> {
        let state = self.lock();
        let mut due: Vec<(Timestamp, String)> = state
            .entries
            .iter()
            .filter(|(_, entry)| entry.refresh_at <= now)
            .map(|(token, entry)| (entry.refresh_at, token.to_owned()))
            .collect();
        drop(state);
        due.sort_unstable();
        due.into_iter().map(|(_, token)| token).collect()
    }

    async fn refresh_entry(&self, token: &str) -> Outcome {
        let now = self.clock.now();
        let (life_left, allowed) = {
            let mut state = self.lock();
            let Some(entry) = state.entries.peek(token) else {
                return Outcome::Evicted;
            };
            let life_left = remaining(now, entry.credentials.expiration);
            let allowed = life_left > MIN_CREDENTIAL_TTL && state.refresh_budget.try_take(now);
            (life_left, allowed)
        };
        if life_left <= MIN_CREDENTIAL_TTL {
            self.evict(token);
            return Outcome::Evicted;
        }
        if !allowed {
            return Outcome::Deferred;
        }
        let result = self.eks_auth.assume_role_for_pod_identity(token).await;
        let now = self.clock.now();
        match result {
            Ok(credentials) if remaining(now, credentials.expiration) > MIN_CREDENTIAL_TTL => {
                self.replace(token, credentials, now);
                Outcome::Refreshed
            }
            Ok(_) => self.after_recoverable_error(token, "ExpiringCredentials", now),
            Err(error) => match error.service() {
                Some(service) if service.is_terminal() => {
                    self.metrics
                        .cache_error(ErrorKind::NonRecoverable, &service.code);
                    tracing::info!(%error, "evicting cached credentials after a terminal EKS Auth error");
                    self.evict(token);
                    Outcome::Evicted
                }
                _ => self.after_recoverable_error(token, error_code(&error), now),
            },
        }
    }

    /// Swaps in renewed credentials without changing the entry's recency; a token evicted while
    /// the call was in flight stays evicted.
    fn replace(&self, token: &str, credentials: PodCredentials, now: Timestamp) {
        let refresh_at = self.refresh_deadline_for(&credentials, now);
        if let Some(entry) = self.lock().entries.peek_mut(token) {
            entry.credentials = Arc::new(credentials);
            entry.refresh_at = refresh_at;
        }
    }

    /// Keeps the old credentials and retries after min(life left, 1 min + jitter), or evicts
    /// them once they are too close to expiry.
    fn after_recoverable_error(&self, token: &str, code: &str, now: Timestamp) -> Outcome {
        self.metrics.cache_error(ErrorKind::Recoverable, code);
        let mut state = self.lock();
        let Some(entry) = state.entries.peek_mut(token) else {
            return Outcome::Evicted;
        };
        let life_left = remaining(now, entry.credentials.expiration);
        if life_left <= MIN_CREDENTIAL_TTL {
            state.entries.remove(token);
            drop(state);
            self.metrics.cache_state(CacheState::Evicted);
            return Outcome::Evicted;
        }
        let jitter = Duration::from_millis(rand::random_range(0..=jitter_millis()));
        entry.refresh_at = add_duration(now, life_left.min(RETRY_INTERVAL + jitter));
        Outcome::Retried
    }
}

fn jitter_millis() -> u64 {
    u64::try_from(MAX_RETRY_JITTER.as_millis()).unwrap_or(u64::MAX)
}

/// The `code` label of `pod_identity_cache_errors` for a recoverable failure.
fn error_code(error: &EksAuthError) -> &str {
    match error {
        EksAuthError::Service(service) => &service.code,
        EksAuthError::Transport(_) => "RequestError",
        EksAuthError::InvalidResponse(_) => "InvalidResponse",
        EksAuthError::Signing(_) => "SigningError",
    }
}

/// Retry delay bounds, for tests.
#[cfg(test)]
pub(super) const RETRY_WINDOW: (Duration, Duration) = (RETRY_INTERVAL, MAX_RETRY_JITTER);
