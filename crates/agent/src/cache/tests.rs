use std::sync::Arc;
use std::time::Duration;

use super::refresh::RETRY_WINDOW;
use super::*;
use crate::clock::ManualClock;
use crate::test_support::{FakeEksAuth, current_jwt, service_error, start_time};

struct Harness {
    clock: Arc<ManualClock>,
    eks: Arc<FakeEksAuth>,
    cache: Arc<CredentialCache>,
}

fn settings() -> CacheSettings {
    CacheSettings {
        max_retention: Duration::from_secs(3 * 3600),
        max_entries: 2000,
        refresh_qps: 3,
    }
}

fn harness_with(settings: CacheSettings, gated: bool) -> Harness {
    let clock = Arc::new(ManualClock::new(start_time()));
    let eks = Arc::new(if gated {
        FakeEksAuth::gated(clock.clone())
    } else {
        FakeEksAuth::new(clock.clone())
    });
    let cache = Arc::new(CredentialCache::new(
        settings,
        eks.clone(),
        clock.clone(),
        AgentMetrics::default(),
    ));
    Harness { clock, eks, cache }
}

fn harness() -> Harness {
    harness_with(settings(), false)
}

impl Harness {
    fn token(&self, subject: &str) -> String {
        current_jwt(subject, self.clock.now())
    }

    fn after(&self, duration: Duration) -> Timestamp {
        add_duration(self.clock.now(), duration)
    }

    /// Waits until `waiters` callers share the flight of `token`.
    async fn wait_for_waiters(&self, token: &str, waiters: usize) {
        loop {
            let joined = self
                .cache
                .lock()
                .in_flight
                .get(token)
                .map_or(0, |cell| Arc::strong_count(cell) - 1);
            if joined >= waiters {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test]
async fn second_request_is_served_from_the_cache() {
    let h = harness();
    let token = h.token("pod-a");
    let first = h.cache.get(&token).await.unwrap();
    let second = h.cache.get(&token).await.unwrap();
    assert_eq!(h.eks.calls(), 1);
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(h.cache.len(), 1);
}

#[tokio::test]
async fn different_tokens_never_share_credentials() {
    let h = harness();
    let a = h.cache.get(&h.token("pod-a")).await.unwrap();
    let b = h.cache.get(&h.token("pod-b")).await.unwrap();
    assert_eq!(h.eks.calls(), 2);
    assert_eq!(a.secret_access_key, "secret-for-pod-a");
    assert_eq!(b.secret_access_key, "secret-for-pod-b");
    assert_ne!(a.access_key_id, b.access_key_id);
    // And each token keeps getting its own.
    let a_again = h.cache.get(&h.token("pod-a")).await.unwrap();
    assert_eq!(a_again.secret_access_key, "secret-for-pod-a");
}

#[tokio::test]
async fn credentials_with_15_seconds_or_less_are_neither_served_nor_cached() {
    let h = harness();
    h.eks.set_lifetime(Duration::from_secs(15));
    let token = h.token("pod-a");
    let error = h.cache.get(&token).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::ExpiringCredentials {
            remaining: Duration::from_secs(15)
        }
    );
    assert_eq!(error.status(), 500);
    assert_eq!(
        error.to_string(),
        "fetched credentials are expired or will expire within the next 15.00 seconds"
    );
    assert!(h.cache.is_empty());

    h.eks.set_lifetime(Duration::from_secs(20));
    let first = h.cache.get(&token).await.unwrap();
    assert_eq!(h.cache.len(), 1);
    h.clock.advance(Duration::from_secs(5));
    // 15 s left: evicted and fetched again.
    let second = h.cache.get(&token).await.unwrap();
    assert_eq!(h.eks.calls(), 3);
    assert_ne!(first.access_key_id, second.access_key_id);
}

#[tokio::test]
async fn refresh_deadline_is_the_shorter_of_credential_life_and_retention() {
    let h = harness();
    let long = h.token("long");
    h.cache.get(&long).await.unwrap();
    assert_eq!(
        h.cache.refresh_deadline(&long),
        Some(h.after(Duration::from_secs(3 * 3600)))
    );
    h.eks.set_lifetime(Duration::from_secs(3600));
    let short = h.token("short");
    h.cache.get(&short).await.unwrap();
    assert_eq!(
        h.cache.refresh_deadline(&short),
        Some(h.after(Duration::from_secs(3600)))
    );
}

#[tokio::test]
async fn refresh_renews_due_entries_only() {
    let h = harness();
    let token = h.token("pod-a");
    let original = h.cache.get(&token).await.unwrap();
    assert_eq!(h.cache.refresh_due().await, RefreshReport::default());
    h.clock.advance(Duration::from_secs(3 * 3600 - 1));
    assert_eq!(h.cache.refresh_due().await, RefreshReport::default());
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(
        h.cache.refresh_due().await,
        RefreshReport {
            refreshed: 1,
            ..RefreshReport::default()
        }
    );
    assert_eq!(h.eks.calls(), 2);
    let renewed = h.cache.get(&token).await.unwrap();
    assert_ne!(renewed.access_key_id, original.access_key_id);
    assert_eq!(
        h.cache.refresh_deadline(&token),
        Some(h.after(Duration::from_secs(3 * 3600)))
    );
    assert_eq!(h.eks.calls(), 2);
}

#[tokio::test]
async fn terminal_refresh_errors_evict() {
    for code in [
        "AccessDeniedException",
        "ExpiredTokenException",
        "InvalidTokenException",
        "ResourceNotFoundException",
    ] {
        let h = harness();
        let token = h.token("pod-a");
        h.cache.get(&token).await.unwrap();
        h.clock.advance(Duration::from_secs(3 * 3600));
        h.eks.fail_next(service_error(code, 400));
        let report = h.cache.refresh_due().await;
        assert_eq!(report.evicted, 1, "{code}");
        assert!(h.cache.is_empty(), "{code}");
    }
}

#[tokio::test]
async fn recoverable_refresh_errors_keep_serving_and_retry_later() {
    let h = harness();
    let token = h.token("pod-a");
    let original = h.cache.get(&token).await.unwrap();
    h.clock.advance(Duration::from_secs(3 * 3600));
    h.eks
        .fail_next(service_error("InternalServerException", 500));
    assert_eq!(h.cache.refresh_due().await.retried, 1);
    let served = h.cache.get(&token).await.unwrap();
    assert!(Arc::ptr_eq(&served, &original));
    let (least, jitter) = RETRY_WINDOW;
    let deadline = h.cache.refresh_deadline(&token).unwrap();
    assert!(deadline >= h.after(least), "{deadline}");
    assert!(deadline <= h.after(least + jitter), "{deadline}");
    h.eks
        .fail_next(EksAuthError::Transport("connection refused".into()));
    h.clock.advance(least + jitter);
    assert_eq!(h.cache.refresh_due().await.retried, 1);
    assert_eq!(h.cache.len(), 1);
}

#[tokio::test]
async fn expired_entries_are_evicted_instead_of_refreshed() {
    let h = harness();
    h.eks.set_lifetime(Duration::from_secs(3600));
    let token = h.token("pod-a");
    h.cache.get(&token).await.unwrap();
    h.clock.advance(Duration::from_secs(3600));
    let report = h.cache.refresh_due().await;
    assert_eq!(report.evicted, 1);
    assert_eq!(h.eks.calls(), 1);
    assert!(h.cache.is_empty());
}

#[tokio::test]
async fn refresh_is_paced_by_the_qps_budget() {
    let h = harness_with(
        CacheSettings {
            refresh_qps: 1,
            ..settings()
        },
        false,
    );
    for pod in ["a", "b", "c"] {
        h.cache.get(&h.token(pod)).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(3 * 3600));
    let first = h.cache.refresh_due().await;
    assert_eq!((first.refreshed, first.deferred), (1, 2));
    let same_instant = h.cache.refresh_due().await;
    assert_eq!((same_instant.refreshed, same_instant.deferred), (0, 2));
    h.clock.advance(Duration::from_secs(1));
    let next = h.cache.refresh_due().await;
    assert_eq!((next.refreshed, next.deferred), (1, 1));
    assert_eq!(h.eks.calls(), 5);
}

#[tokio::test]
async fn cache_size_is_bounded_by_lru() {
    let h = harness_with(
        CacheSettings {
            max_entries: 2,
            ..settings()
        },
        false,
    );
    let (a, b, c) = (h.token("a"), h.token("b"), h.token("c"));
    h.cache.get(&a).await.unwrap();
    h.cache.get(&b).await.unwrap();
    h.cache.get(&a).await.unwrap();
    h.cache.get(&c).await.unwrap();
    assert_eq!(h.cache.len(), 2);
    assert!(h.cache.refresh_deadline(&b).is_none());
    assert!(h.cache.refresh_deadline(&a).is_some());
    assert_eq!(h.eks.calls(), 3);
}

#[tokio::test]
async fn terminal_errors_on_request_pass_through_and_are_not_cached() {
    let h = harness();
    let token = h.token("pod-a");
    h.eks
        .fail_next(service_error("ResourceNotFoundException", 404));
    let error = h.cache.get(&token).await.unwrap_err();
    assert_eq!(error.status(), 404);
    assert_eq!(
        error.to_string(),
        "[req-123]: (ResourceNotFoundException): ResourceNotFoundException message, fault: client"
    );
    assert!(h.cache.is_empty());
    assert!(h.cache.get(&token).await.is_ok());
    assert_eq!(h.eks.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_requests_make_one_call() {
    let h = harness_with(settings(), true);
    let token = h.token("pod-a");
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let cache = h.cache.clone();
            let token = token.clone();
            tokio::spawn(async move { cache.get(&token).await })
        })
        .collect();
    h.wait_for_waiters(&token, 50).await;
    h.eks.release(50);
    let mut results = Vec::new();
    for request in requests {
        results.push(request.await.unwrap().unwrap());
    }
    assert_eq!(h.eks.calls(), 1);
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
    assert!(h.cache.lock().in_flight.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_also_works_without_caching_and_shares_errors() {
    let h = harness_with(
        CacheSettings {
            max_retention: Duration::ZERO,
            ..settings()
        },
        true,
    );
    let token = h.token("pod-a");
    h.eks.fail_next(service_error("ThrottlingException", 429));
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let cache = h.cache.clone();
            let token = token.clone();
            tokio::spawn(async move { cache.get(&token).await })
        })
        .collect();
    h.wait_for_waiters(&token, 10).await;
    h.eks.release(1);
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap_err().status(), 429);
    }
    assert_eq!(h.eks.calls(), 1);
    // Nothing is cached: the next request calls again.
    h.eks.release(1);
    h.cache.get(&token).await.unwrap();
    assert_eq!(h.eks.calls(), 2);
    assert!(h.cache.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_leader_does_not_block_later_requests() {
    let h = harness_with(settings(), true);
    let token = h.token("pod-a");
    let leader = {
        let cache = h.cache.clone();
        let token = token.clone();
        tokio::spawn(async move { cache.get(&token).await })
    };
    h.wait_for_waiters(&token, 1).await;
    while h.eks.calls() == 0 {
        tokio::task::yield_now().await;
    }
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    assert!(h.cache.lock().in_flight.is_empty());
    h.eks.release(1);
    h.cache.get(&token).await.unwrap();
    assert_eq!(h.eks.calls(), 2);
}
