//! Hot-path cache of what STS and EKS Auth read on every call: roles with their parsed trust
//! policy, OIDC providers, clusters, Pod Identity associations, and the compiled policies of the
//! users and role sessions that sign calls. Entries live one second, IAM's own
//! kind of eventual consistency for writers in other processes (the CLI, other replicas); this
//! process's IAM and EKS APIs clear the cache on every write, so its own changes apply at once.
//! Misses are not cached: a role or association created a moment ago is found. Every entry
//! carries the generation of the cache it was read in, and a clear starts a new one: an entry
//! read before a write, even one stored after the write's clear, is never served again.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use podpass_arn::Arn;
use podpass_policy::{NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, PrincipalContext};
use podpass_store::{Cluster, OidcProvider, PodIdentityAssociation, Role, Store, StoreError};

use crate::error::{Error, Result};

/// How long an entry is trusted.
const TTL: Duration = Duration::from_secs(1);
const CAPACITY: u64 = 10_000;

/// A role with its trust policy compiled.
pub struct TrustedRole {
    /// The role.
    pub role: Role,
    /// Its trust policy, compiled.
    pub trust: Arc<NamedPolicy>,
}

/// A cached value, with the generation of the cache when it was read from the store.
#[derive(Clone)]
struct Stamped<V> {
    generation: u64,
    value: V,
}

/// The cache; cheap to share.
pub struct IamCache {
    roles: Cache<String, Stamped<Arc<TrustedRole>>>,
    providers: Cache<String, Stamped<Arc<OidcProvider>>>,
    /// By name.
    clusters: Cache<String, Stamped<Arc<Cluster>>>,
    /// By cluster, namespace and ServiceAccount.
    associations: Cache<(String, String, String), Stamped<Arc<PodIdentityAssociation>>>,
    /// What a signing user or role session is allowed, by [`CallerKey`].
    callers: Cache<CallerKey, Stamped<Arc<CallerPolicies>>>,
    /// How many times the cache was cleared. Only entries read in the current generation are
    /// served: one read before a write may hold what the write replaced.
    generation: AtomicU64,
}

/// Whose compiled policies a [`CallerPolicies`] entry holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// An account's root, by the account id.
    Root(String),
    /// A user, by its unique id.
    User(String),
    /// A role session, by its access key id: unique to one issuance, and only usable with the
    /// sealed token that binds it to that issuance's role, session policies and tags.
    Session(String),
}

/// A caller's principal (with its tags) and the policies that apply to it.
pub struct CallerPolicies {
    /// The principal, as the policy engine sees it, with the keys derived from it.
    pub principal: Arc<PrincipalContext>,
    /// Its identity policies, boundary and session policies.
    pub policies: PolicySet,
}

impl IamCache {
    pub(crate) fn new() -> Self {
        Self {
            roles: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            providers: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            clusters: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            associations: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            callers: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    /// Forgets everything (after an IAM write), and whatever fills are under way: they read
    /// in the previous generation.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.roles.invalidate_all();
        self.providers.invalidate_all();
        self.clusters.invalidate_all();
        self.associations.invalidate_all();
        self.callers.invalidate_all();
    }

    /// The generation a fill starts from, read before it reads the store.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The entry of `key` if it was read in the current generation.
    async fn hit<K, Q, V>(&self, cache: &Cache<K, Stamped<V>>, key: &Q) -> Option<V>
    where
        K: Borrow<Q> + Eq + Hash + Send + Sync + 'static,
        Q: Eq + Hash + ?Sized,
        V: Clone + Send + Sync + 'static,
    {
        cache
            .get(key)
            .await
            .filter(|entry| entry.generation == self.generation())
            .map(|entry| entry.value)
    }

    /// Keeps `value`, read from the store in `generation`: served only while no clear has come
    /// since, whenever the insert lands.
    async fn fill<K, V>(&self, cache: &Cache<K, Stamped<V>>, generation: u64, key: K, value: V)
    where
        K: Eq + Hash + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        cache.insert(key, Stamped { generation, value }).await;
    }

    /// The policies of the caller `key`, compiled by `load` on a miss.
    pub async fn caller_policies(
        &self,
        key: CallerKey,
        load: impl Future<Output = Result<CallerPolicies>>,
    ) -> Result<Arc<CallerPolicies>> {
        if let Some(hit) = self.hit(&self.callers, &key).await {
            return Ok(hit);
        }
        let generation = self.generation();
        let loaded = Arc::new(load.await?);
        self.fill(&self.callers, generation, key, loaded.clone())
            .await;
        Ok(loaded)
    }

    /// The role named by `arn` (an ARN of `account`), or `None`.
    pub async fn role(
        &self,
        store: &Store,
        account: &str,
        arn: &str,
    ) -> Result<Option<Arc<TrustedRole>>> {
        if let Some(hit) = self.hit(&self.roles, arn).await {
            return Ok(Some(hit));
        }
        let Some((_, name)) = Arn::parse(arn)
            .filter(|a| a.service == "iam" && a.account == account)
            .and_then(|a| a.path_and_name("role"))
        else {
            return Ok(None);
        };
        let generation = self.generation();
        let role = match store.role(name).await {
            Ok(role) if role.arn == arn => role,
            Ok(_) | Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(Error::internal(e)),
        };
        let policy =
            Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(Error::internal)?;
        let trust = NamedPolicy::new(
            format!("trust policy of {}", role.role_name),
            PolicyType::Trust,
            policy,
        )
        .with_arn(role.arn.clone());
        let entry = Arc::new(TrustedRole {
            role,
            trust: Arc::new(trust),
        });
        self.fill(&self.roles, generation, arn.to_owned(), entry.clone())
            .await;
        Ok(Some(entry))
    }

    /// The OIDC provider named by `arn`, or `None`.
    pub async fn provider(&self, store: &Store, arn: &str) -> Result<Option<Arc<OidcProvider>>> {
        if let Some(hit) = self.hit(&self.providers, arn).await {
            return Ok(Some(hit));
        }
        let generation = self.generation();
        match store.oidc_provider(arn).await {
            Ok(provider) => {
                let provider = Arc::new(provider);
                self.fill(
                    &self.providers,
                    generation,
                    arn.to_owned(),
                    provider.clone(),
                )
                .await;
                Ok(Some(provider))
            }
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// The cluster named `name`, or `None`.
    pub async fn cluster(&self, store: &Store, name: &str) -> Result<Option<Arc<Cluster>>> {
        if let Some(hit) = self.hit(&self.clusters, name).await {
            return Ok(Some(hit));
        }
        let generation = self.generation();
        match store.cluster(name).await {
            Ok(cluster) => {
                let cluster = Arc::new(cluster);
                self.fill(&self.clusters, generation, name.to_owned(), cluster.clone())
                    .await;
                Ok(Some(cluster))
            }
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// The Pod Identity association of a ServiceAccount of `cluster`, or `None`.
    pub async fn association(
        &self,
        store: &Store,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<Arc<PodIdentityAssociation>>> {
        let key = (
            cluster.to_owned(),
            namespace.to_owned(),
            service_account.to_owned(),
        );
        if let Some(hit) = self.hit(&self.associations, &key).await {
            return Ok(Some(hit));
        }
        let generation = self.generation();
        let Some(association) = store
            .association_for(cluster, namespace, service_account)
            .await
            .map_err(Error::internal)?
        else {
            return Ok(None);
        };
        let association = Arc::new(association);
        self.fill(&self.associations, generation, key, association.clone())
            .await;
        Ok(Some(association))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podpass_policy::Principal;

    fn policies() -> CallerPolicies {
        CallerPolicies {
            principal: Principal::Anonymous.into(),
            policies: PolicySet::default(),
        }
    }

    async fn cached(cache: &IamCache, key: &CallerKey) -> bool {
        cache.hit(&cache.callers, key).await.is_some()
    }

    #[tokio::test]
    async fn a_fill_is_kept_when_no_write_came_during_it() {
        let cache = IamCache::new();
        let key = CallerKey::User("AIDA1".to_owned());
        cache
            .caller_policies(key.clone(), async { Ok(policies()) })
            .await
            .unwrap();
        assert!(cached(&cache, &key).await);
    }

    #[tokio::test]
    async fn a_fill_that_a_write_overtook_is_not_kept() {
        // The policies were read, then an IAM write cleared the cache before they were stored:
        // they may be what the write replaced, so the next call must read again.
        let cache = IamCache::new();
        let key = CallerKey::Session("ASIA1".to_owned());
        cache
            .caller_policies(key.clone(), async {
                cache.clear();
                Ok(policies())
            })
            .await
            .unwrap();
        assert!(!cached(&cache, &key).await);
        cache
            .caller_policies(key.clone(), async { Ok(policies()) })
            .await
            .unwrap();
        assert!(cached(&cache, &key).await, "the next fill is kept again");
    }

    #[tokio::test]
    async fn an_entry_stored_after_the_clear_that_outdated_it_is_not_served() {
        // The fill read before the write and its insert landed after the write's clear.
        let cache = IamCache::new();
        let key = CallerKey::User("AIDA2".to_owned());
        let generation = cache.generation();
        cache.clear();
        cache
            .fill(
                &cache.callers,
                generation,
                key.clone(),
                Arc::new(policies()),
            )
            .await;
        assert!(!cached(&cache, &key).await);
    }
}
