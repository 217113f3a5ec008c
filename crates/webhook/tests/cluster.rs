//! Cluster mode without a cluster: the ServiceAccount cache fed with watcher events, a fake API
//! lookup for the grace period, and the Pod Identity file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use podpass_podmutation::{IdentityResolver, RandomJitter, WebhookConfig};
use podpass_webhook::cluster::AnnotationsFuture;
use podpass_webhook::config_map::ConfigMapRoles;
use podpass_webhook::{
    AssociationSource, ClusterResolver, PolledAssociations, ServiceAccountCache,
    ServiceAccountLookup, WatchedAssociations, Webhook,
};

const PREFIX: &str = "eks.amazonaws.com";
const ROLE: &str = "arn:aws:iam::111122223333:role/late";

/// An API server that knows `ns/late` (with a role) and answers after `delay`.
struct FakeApi {
    delay: Duration,
    calls: AtomicUsize,
}

impl FakeApi {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            calls: AtomicUsize::new(0),
        })
    }
}

impl ServiceAccountLookup for FakeApi {
    fn annotations(&self, namespace: String, name: String) -> AnnotationsFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok((namespace == "ns" && name == "late")
                .then(|| BTreeMap::from([(format!("{PREFIX}/role-arn"), ROLE.to_owned())])))
        })
    }
}

fn resolver(api: Arc<FakeApi>, grace: Duration) -> (Arc<ServiceAccountCache>, ClusterResolver) {
    let cache = Arc::new(ServiceAccountCache::new(PREFIX));
    let resolver = ClusterResolver::new(cache.clone(), api, grace, None);
    (cache, resolver)
}

fn review(service_account: &str) -> String {
    format!(
        r#"{{"request":{{"uid":"u","namespace":"ns","object":{{"spec":{{"serviceAccountName":"{service_account}","containers":[{{"name":"c"}}]}}}}}}}}"#
    )
}

async fn is_mutated(resolver: &ClusterResolver, service_account: &str) -> bool {
    let webhook = Webhook::new(WebhookConfig::default(), Box::new(RandomJitter));
    let outcome = webhook
        .handle_async(
            Some("application/json"),
            review(service_account).as_bytes(),
            resolver,
        )
        .await;
    let body: serde_json::Value = serde_json::from_slice(&outcome.body).unwrap();
    assert_eq!(body["response"]["allowed"], true, "{body}");
    body["response"].get("patch").is_some()
}

#[tokio::test]
async fn grace_period_waits_for_a_new_service_account() {
    let api = FakeApi::new(Duration::from_millis(50));
    let (cache, resolver) = resolver(api.clone(), Duration::from_millis(200));
    assert!(is_mutated(&resolver, "late").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
    assert_eq!(resolver.missing_count(), 0);
    // The fetched ServiceAccount is now cached: no second GET.
    assert_eq!(
        cache.get("ns", "late").unwrap().role_arn.as_deref(),
        Some(ROLE)
    );
    assert!(is_mutated(&resolver, "late").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn zero_grace_period_does_not_wait() {
    let api = FakeApi::new(Duration::from_millis(50));
    let (_, resolver) = resolver(api.clone(), Duration::ZERO);
    assert!(!is_mutated(&resolver, "late").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 0);
    assert_eq!(resolver.missing_count(), 1);
}

#[tokio::test]
async fn unknown_service_account_gives_up_after_the_grace_period() {
    let api = FakeApi::new(Duration::ZERO);
    let (_, resolver) = resolver(api.clone(), Duration::from_millis(30));
    assert!(!is_mutated(&resolver, "nobody").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
    assert_eq!(resolver.missing_count(), 1);
}

#[tokio::test]
async fn concurrent_misses_share_one_lookup() {
    let api = FakeApi::new(Duration::from_millis(50));
    let (_, resolver) = resolver(api.clone(), Duration::from_secs(5));
    let (a, b, c) = tokio::join!(
        resolver.service_account_eventually("ns", "late"),
        resolver.service_account_eventually("ns", "late"),
        resolver.service_account_eventually("ns", "late"),
    );
    for found in [a, b, c] {
        assert_eq!(found.unwrap().role_arn.as_deref(), Some(ROLE));
    }
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn watch_event_during_the_wait_ends_it() {
    // The API lookup says "not found" (e.g. a stale read), then the watch delivers it.
    let api = FakeApi::new(Duration::ZERO);
    let (cache, resolver) = resolver(api, Duration::from_secs(5));
    let waiting = resolver.service_account_eventually("ns", "fresh");
    let deliver = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cache.apply(Event::Apply(ServiceAccount {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("fresh".into()),
                annotations: Some(BTreeMap::from([(
                    format!("{PREFIX}/role-arn"),
                    "arn:aws:iam::111122223333:role/fresh".to_owned(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        }));
    };
    let (found, ()) = tokio::join!(waiting, deliver);
    assert_eq!(
        found.unwrap().role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/fresh")
    );
}

#[tokio::test]
async fn pod_identity_does_not_wait_for_the_service_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.json");
    std::fs::write(
        &path,
        r#"{"identities":[{"namespace":"ns","serviceAccount":"late"}]}"#,
    )
    .unwrap();
    let api = FakeApi::new(Duration::from_millis(50));
    let cache = Arc::new(ServiceAccountCache::new(PREFIX));
    let resolver = ClusterResolver::new(
        cache,
        api.clone(),
        Duration::from_secs(5),
        Some(Arc::new(WatchedAssociations::new(&path)) as Arc<dyn AssociationSource>),
    );
    assert!(is_mutated(&resolver, "late").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn cached_service_accounts_answer_without_lookup() {
    let api = FakeApi::new(Duration::ZERO);
    let (cache, resolver) = resolver(api.clone(), Duration::from_millis(200));
    cache.apply(Event::Apply(ServiceAccount {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("plain".into()),
            ..Default::default()
        },
        ..Default::default()
    }));
    // Known without a role: not mutated, no GET, not a miss.
    assert!(!is_mutated(&resolver, "plain").await);
    assert_eq!(api.calls.load(Ordering::SeqCst), 0);
    assert_eq!(resolver.missing_count(), 0);
}

#[tokio::test]
async fn pod_identity_comes_from_the_watched_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.json");
    std::fs::write(
        &path,
        r#"{"identities":[{"namespace":"ns","serviceAccount":"pi"}]}"#,
    )
    .unwrap();
    let watched = Arc::new(WatchedAssociations::new(&path));
    let cache = Arc::new(ServiceAccountCache::new(PREFIX));
    let resolver = ClusterResolver::new(
        cache,
        FakeApi::new(Duration::ZERO),
        Duration::ZERO,
        Some(watched.clone() as Arc<dyn AssociationSource>),
    );
    assert!(resolver.has_pod_identity("ns", "pi"));
    assert!(!resolver.has_pod_identity("ns", "other"));
    assert!(is_mutated(&resolver, "pi").await);
    assert!(!is_mutated(&resolver, "other").await);

    std::fs::write(
        &path,
        r#"{"identities":[{"namespace":"ns","serviceAccount":"other"}]}"#,
    )
    .unwrap();
    watched.reload().unwrap();
    assert!(!resolver.has_pod_identity("ns", "pi"));
    assert!(resolver.has_pod_identity("ns", "other"));
}

#[tokio::test]
async fn pod_identity_follows_the_polled_set() {
    let polled = Arc::new(PolledAssociations::default());
    let cache = Arc::new(ServiceAccountCache::new(PREFIX));
    let resolver = ClusterResolver::new(
        cache,
        FakeApi::new(Duration::ZERO),
        Duration::ZERO,
        Some(polled.clone() as Arc<dyn AssociationSource>),
    );
    assert!(
        !is_mutated(&resolver, "pi").await,
        "nothing before the first list"
    );
    polled.replace([("ns".to_owned(), "pi".to_owned())].into_iter().collect());
    assert!(is_mutated(&resolver, "pi").await);
    polled.replace(Default::default());
    assert!(
        !is_mutated(&resolver, "pi").await,
        "a deleted association stops injection"
    );
}

fn service_account(name: &str, role: Option<&str>) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            annotations: role
                .map(|role| BTreeMap::from([(format!("{PREFIX}/role-arn"), role.to_owned())])),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn config_map_roles_come_after_annotations() {
    let api = FakeApi::new(Duration::from_millis(50));
    let cache = Arc::new(ServiceAccountCache::new(PREFIX));
    let roles = Arc::new(ConfigMapRoles::default());
    roles
        .load(
            r#"{"ns/annotated":{"RoleARN":"arn:cm-annotated"},
                "ns/plain":{"RoleARN":"arn:cm-plain","UseRegionalSTS":true,"TokenExpiration":7200},
                "*/anywhere":{"RoleARN":"arn:cm-wildcard"},
                "ns/missing":{"RoleARN":"arn:cm-missing"}}"#,
        )
        .unwrap();
    let resolver = ClusterResolver::new(cache.clone(), api.clone(), Duration::from_secs(5), None)
        .with_config_map(roles);
    cache.apply(Event::Apply(service_account("annotated", Some("arn:sa"))));
    cache.apply(Event::Apply(service_account("plain", None)));

    let role = |name: &'static str| {
        let resolver = &resolver;
        async move {
            resolver
                .service_account_eventually("ns", name)
                .await
                .and_then(|s| s.role_arn)
        }
    };
    assert_eq!(role("annotated").await.as_deref(), Some("arn:sa"));
    assert_eq!(role("plain").await.as_deref(), Some("arn:cm-plain"));
    assert_eq!(role("anywhere").await.as_deref(), Some("arn:cm-wildcard"));
    // A ConfigMap entry counts as found: no wait, no API lookup.
    assert_eq!(role("missing").await.as_deref(), Some("arn:cm-missing"));
    assert_eq!(api.calls.load(Ordering::SeqCst), 0);

    // Pod Identity takes the common settings from the cached ServiceAccount first, then the
    // exact ConfigMap entry, never the wildcard.
    let plain = resolver.pod_identity_settings("ns", "plain").unwrap();
    assert_eq!(plain.role_arn, None);
    assert_eq!(plain.regional_sts, None);
    let missing = resolver.pod_identity_settings("ns", "missing").unwrap();
    assert_eq!(missing.role_arn.as_deref(), Some("arn:cm-missing"));
    assert_eq!(resolver.pod_identity_settings("ns", "anywhere"), None);
}

#[tokio::test]
async fn cache_metrics_are_exported() {
    let (cache, resolver) = resolver(FakeApi::new(Duration::ZERO), Duration::ZERO);
    let mut registry = prometheus_client::registry::Registry::default();
    resolver.register_metrics(&mut registry);
    cache.apply(Event::Apply(service_account("plain", None)));
    assert!(!is_mutated(&resolver, "unknown").await);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("pod_identity_webhook_missing_sa_count_total 1"),
        "{text}"
    );
    assert!(text.contains("pod_identity_webhook_used 1"), "{text}");
}
