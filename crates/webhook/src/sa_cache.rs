//! The ServiceAccount watch cache: every ServiceAccount of the cluster, reduced to the webhook
//! settings parsed from its `<prefix>/` annotations, kept current from watch events.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use kube::ResourceExt;
use kube::runtime::watcher::Event;
use podpass_podmutation::ServiceAccountSettings;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;

type Key = (String, String);

/// ServiceAccount settings by (namespace, name), fed by [`ServiceAccountCache::apply`].
#[derive(Debug)]
pub struct ServiceAccountCache {
    prefix: String,
    entries: RwLock<HashMap<Key, ServiceAccountSettings>>,
    /// Entries of a re-list in progress, swapped in whole at `InitDone` (as kube's reflector).
    relist: Mutex<Option<HashMap<Key, ServiceAccountSettings>>>,
    /// Bumped on every insertion, so that waiters for a missing ServiceAccount re-check.
    inserted: watch::Sender<u64>,
    used: Gauge,
}

impl ServiceAccountCache {
    /// An empty cache reading annotations under `<prefix>/`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            entries: RwLock::default(),
            relist: Mutex::default(),
            inserted: watch::Sender::new(0),
            used: Gauge::default(),
        }
    }

    /// The reference's `pod_identity_webhook_used` gauge: 1 once any ServiceAccount has been
    /// parsed (upstream sets it on every ServiceAccount it caches).
    pub fn used_gauge(&self) -> Gauge {
        self.used.clone()
    }

    /// The cached settings of a ServiceAccount.
    pub fn get(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Number of cached ServiceAccounts.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no ServiceAccount is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver that wakes on every insertion.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inserted.subscribe()
    }

    /// Applies one watcher event.
    pub fn apply<K: ResourceExt>(&self, event: Event<K>) {
        match event {
            Event::Apply(object) => {
                let (key, settings) = self.parse(&object);
                self.write().insert(key, settings);
                self.notify();
            }
            Event::Delete(object) => {
                self.write().remove(&key_of(&object));
            }
            Event::Init => *self.relist() = Some(HashMap::new()),
            Event::InitApply(object) => {
                let (key, settings) = self.parse(&object);
                self.relist()
                    .get_or_insert_with(HashMap::new)
                    .insert(key, settings);
            }
            Event::InitDone => {
                if let Some(entries) = self.relist().take() {
                    *self.write() = entries;
                    self.notify();
                }
            }
        }
    }

    /// Adds a ServiceAccount fetched directly from the API server, unless the watch already
    /// delivered it (the watch is never older than a one-off GET).
    pub fn insert_fetched(
        &self,
        namespace: &str,
        name: &str,
        annotations: &BTreeMap<String, String>,
    ) {
        let settings = self.settings(annotations);
        self.write()
            .entry((namespace.to_owned(), name.to_owned()))
            .or_insert(settings);
        self.notify();
    }

    fn parse<K: ResourceExt>(&self, object: &K) -> (Key, ServiceAccountSettings) {
        (key_of(object), self.settings(object.annotations()))
    }

    /// Parses only the `<prefix>/` annotations: nothing else of the object is kept.
    fn settings(&self, annotations: &BTreeMap<String, String>) -> ServiceAccountSettings {
        let prefixed: HashMap<String, String> = annotations
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(self.prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        self.used.set(1);
        ServiceAccountSettings::from_annotations(&self.prefix, &prefixed)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Key, ServiceAccountSettings>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn relist(&self) -> MutexGuard<'_, Option<HashMap<Key, ServiceAccountSettings>>> {
        self.relist.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        self.inserted
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

fn key_of<K: ResourceExt>(object: &K) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn sa(namespace: &str, name: &str, annotations: &[(&str, &str)]) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/r";

    #[test]
    fn apply_update_delete() {
        let cache = ServiceAccountCache::new("eks.amazonaws.com");
        cache.apply(Event::Apply(sa(
            "ns",
            "a",
            &[
                ("eks.amazonaws.com/role-arn", ROLE),
                ("eks.amazonaws.com/audience", "aud"),
                ("eks.amazonaws.comx/role-arn", "ignored"),
                ("other.io/role-arn", "ignored"),
            ],
        )));
        cache.apply(Event::Apply(sa("ns", "plain", &[])));
        let a = cache.get("ns", "a").unwrap();
        assert_eq!(a.role_arn.as_deref(), Some(ROLE));
        assert_eq!(a.audience.as_deref(), Some("aud"));
        // Unannotated ServiceAccounts are cached too: "known, no role".
        assert_eq!(
            cache.get("ns", "plain"),
            Some(ServiceAccountSettings::default())
        );
        assert_eq!(cache.get("other", "a"), None);
        assert_eq!(cache.used_gauge().get(), 1);

        cache.apply(Event::Apply(sa("ns", "a", &[])));
        assert_eq!(cache.get("ns", "a").unwrap().role_arn, None);
        cache.apply(Event::Delete(sa("ns", "a", &[])));
        assert_eq!(cache.get("ns", "a"), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_used_gauge_is_set_by_the_first_service_account() {
        let cache = ServiceAccountCache::new("eks.amazonaws.com");
        assert_eq!(cache.used_gauge().get(), 0);
        cache.apply(Event::Apply(sa("ns", "a", &[("other.io/role-arn", ROLE)])));
        assert_eq!(cache.used_gauge().get(), 1);
    }

    #[test]
    fn relist_replaces_the_set_at_init_done() {
        let cache = ServiceAccountCache::new("eks.amazonaws.com");
        cache.apply(Event::Apply(sa("ns", "gone", &[])));
        cache.apply(Event::<ServiceAccount>::Init);
        cache.apply(Event::InitApply(sa(
            "ns",
            "kept",
            &[("eks.amazonaws.com/role-arn", ROLE)],
        )));
        // Until the re-list completes, lookups see the previous set.
        assert!(cache.get("ns", "gone").is_some());
        assert!(cache.get("ns", "kept").is_none());
        cache.apply(Event::<ServiceAccount>::InitDone);
        assert!(cache.get("ns", "gone").is_none());
        assert_eq!(
            cache.get("ns", "kept").unwrap().role_arn.as_deref(),
            Some(ROLE)
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn fetched_entries_do_not_override_the_watch() {
        let cache = ServiceAccountCache::new("eks.amazonaws.com");
        let mut changes = cache.subscribe();
        cache.apply(Event::Apply(sa(
            "ns",
            "a",
            &[("eks.amazonaws.com/role-arn", ROLE)],
        )));
        let stale = BTreeMap::from([("eks.amazonaws.com/role-arn".to_owned(), "old".to_owned())]);
        cache.insert_fetched("ns", "a", &stale);
        cache.insert_fetched("ns", "b", &stale);
        assert_eq!(
            cache.get("ns", "a").unwrap().role_arn.as_deref(),
            Some(ROLE)
        );
        assert_eq!(
            cache.get("ns", "b").unwrap().role_arn.as_deref(),
            Some("old")
        );
        assert!(changes.has_changed().unwrap());
        changes.borrow_and_update();
        assert!(!changes.has_changed().unwrap());
    }
}
