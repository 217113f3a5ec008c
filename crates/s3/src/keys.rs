//! Secret keys for s3s's SigV4 verification: the admin's long-term keys from the store, and
//! session keys opened from their sealed token by the front layer just before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use podpass_session::{ACCESS_KEY_ID_PREFIX, SessionClaims};
use podpass_store::{AccessKey, Store};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// How often a miss may re-read the store's long-term keys (misses are attacker-controlled).
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Sessions whose token was opened by the front layer, by access key id. Entries outlive the
/// request that added them only until the session's expiry.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    sessions: moka::sync::Cache<String, Arc<SessionClaims>>,
}

impl SessionKeys {
    /// An empty map.
    pub(crate) fn new() -> Self {
        SessionKeys {
            sessions: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(300))
                .build(),
        }
    }

    /// Records an opened session. An access key id names one session only (the token binds
    /// it), so a known one is left as it is: a cache write per request costs more than a read.
    pub(crate) fn insert(&self, claims: Arc<SessionClaims>) {
        self.sessions
            .entry_by_ref(claims.access_key_id.as_str())
            .or_insert_with(|| claims.clone());
    }

    /// The session of `access_key_id`, unless it has expired at `now` (unix seconds).
    pub(crate) fn get(&self, access_key_id: &str, now: i64) -> Option<Arc<SessionClaims>> {
        let claims = self.sessions.get(access_key_id)?;
        (now < claims.expires_at).then_some(claims)
    }
}

/// The account root's long-term keys, cached; a miss re-reads the store (the CLI may have
/// added one), at most once per [`RELOAD_INTERVAL`].
pub(crate) struct AdminKeys {
    store: Store,
    keys: RwLock<HashMap<String, AccessKey>>,
    last_reload: Mutex<Option<Instant>>,
}

impl AdminKeys {
    /// Keys read from `store` on first use.
    pub(crate) fn new(store: Store) -> Self {
        AdminKeys {
            store,
            keys: RwLock::new(HashMap::new()),
            last_reload: Mutex::new(None),
        }
    }

    /// The long-term key `access_key_id`, if the store has it.
    pub(crate) async fn find(&self, access_key_id: &str) -> S3Result<Option<AccessKey>> {
        if let Some(key) = self.cached(access_key_id) {
            return Ok(Some(key));
        }
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        let all = self.store.access_keys().await.map_err(|error| {
            tracing::error!(%error, "reading access keys");
            s3_error!(InternalError)
        })?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *keys = all
            .into_iter()
            .map(|key| (key.access_key_id.clone(), key))
            .collect();
        Ok(keys.get(access_key_id).cloned())
    }

    fn cached(&self, access_key_id: &str) -> Option<AccessKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(access_key_id).cloned()
    }
}

/// The [`S3Auth`] podpass gives s3s.
pub(crate) struct KeyResolver {
    pub admin: Arc<AdminKeys>,
    pub sessions: SessionKeys,
}

fn unknown_key() -> s3s::S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Auth for KeyResolver {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key.starts_with(ACCESS_KEY_ID_PREFIX) {
            // Known once a request's token opened for this key (front layer); the authorizer
            // then checks that this very request carried that token.
            return self
                .sessions
                .get(access_key, podpass_control::now())
                .map(|claims| SecretKey::from(claims.secret_access_key.as_str()))
                .ok_or_else(unknown_key);
        }
        self.admin
            .find(access_key)
            .await?
            .map(|key| SecretKey::from(key.secret_access_key))
            .ok_or_else(unknown_key)
    }
}
