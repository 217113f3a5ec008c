//! Whose key signed a request: a long-term key of the account root or of an IAM user (cached
//! with the users they belong to, reread once a second, since the CLI, IAM or another replica
//! may add, deactivate or delete one) or a sealed session token, opened without a database
//! read. Checking the signature itself is the protocol adapter's job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use podpass_session::OpenError;
use podpass_store::{AccessKey, Store, StoreError, User};

use crate::caller::UserCaller;
use crate::{Caller, Control, Ctx, Error, Result};

/// How long a read of the keys is trusted, and how often it may be redone: a deactivated or
/// deleted key stops signing within this time everywhere. Reads are of the whole (small) table
/// and at most one per interval, whatever key ids callers send: those are the caller's to
/// choose, so a reload per miss would let anyone make every request a full read.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The active long-term keys, cached in memory, for every endpoint that checks signatures
/// (the AWS APIs and S3).
pub struct AccessKeys {
    store: Store,
    keys: RwLock<HashMap<String, AccessKey>>,
    last_reload: Mutex<Option<Instant>>,
    /// The users of user keys, by id, each reread after [`RELOAD_INTERVAL`], with the
    /// generation they were read in.
    users: moka::future::Cache<String, (u64, Arc<User>)>,
    /// How many times [`AccessKeys::forget`] was called: what was read before a change of this
    /// process may hold what it changed, and is not used after it.
    generation: AtomicU64,
    /// The generation the table in `keys` was read in.
    installed: AtomicU64,
}

impl AccessKeys {
    /// Keys read from `store` on first use.
    pub fn new(store: Store) -> Self {
        AccessKeys {
            store,
            keys: RwLock::new(HashMap::new()),
            last_reload: Mutex::new(None),
            users: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RELOAD_INTERVAL)
                .build(),
            generation: AtomicU64::new(0),
            installed: AtomicU64::new(0),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The active long-term key `access_key_id`, as the store had it at most
    /// [`RELOAD_INTERVAL`] ago (or at the last reload, while another request reloads), and
    /// never as it was before this process's last change.
    pub async fn find(
        &self,
        access_key_id: &str,
    ) -> std::result::Result<Option<AccessKey>, StoreError> {
        let generation = self.generation();
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let current = self.installed.load(Ordering::SeqCst) == generation;
            if current && last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
                drop(last);
                return Ok(self.cached(access_key_id));
            }
            *last = Some(Instant::now());
        }
        // A failed read fails this request only: the others keep the last keys read until the
        // next interval, so a store outage does not turn every request into a reload (unless
        // this process changed a key since: then none answers from before the change).
        let all = self.store.access_keys().await?;
        Ok(self.install(generation, all, access_key_id))
    }

    /// Keeps the keys a reload read since `generation`, and answers for `access_key_id` from
    /// them. A reload that a [`AccessKeys::forget`] overtook may hold a key this process has
    /// since changed: it answers its own call (which ran alongside the change) but is not kept,
    /// where it would otherwise outlive the reload the change asked for.
    fn install(
        &self,
        generation: u64,
        all: Vec<AccessKey>,
        access_key_id: &str,
    ) -> Option<AccessKey> {
        let read: HashMap<String, AccessKey> = all
            .into_iter()
            .filter(|key| key.active)
            .map(|key| (key.access_key_id.clone(), key))
            .collect();
        let found = read.get(access_key_id).cloned();
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation() == generation {
            *keys = read;
            self.installed.store(generation, Ordering::SeqCst);
        }
        found
    }

    /// Makes every [`AccessKeys::find`] reread the store until a reload that began after this
    /// call is installed, and the users too (after this process changed a key or a user).
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.users.invalidate_all();
    }

    /// The user `user_id`, read at most [`RELOAD_INTERVAL`] ago.
    async fn user(&self, user_id: &str) -> std::result::Result<Arc<User>, StoreError> {
        let generation = self.generation();
        if let Some((read_in, user)) = self.users.get(user_id).await
            && read_in == generation
        {
            return Ok(user);
        }
        let user = Arc::new(self.store.user_by_id(user_id).await?);
        self.users
            .insert(user_id.to_owned(), (generation, user.clone()))
            .await;
        Ok(user)
    }

    /// The caller behind the active long-term key `access_key_id`, with its secret: the
    /// account root, or the user the key belongs to (`None` for an unknown key, or a user's key
    /// whose user is gone).
    pub async fn signing_identity(
        &self,
        access_key_id: &str,
        default_account: &str,
    ) -> std::result::Result<Option<SigningIdentity>, StoreError> {
        let Some(key) = self.find(access_key_id).await? else {
            return Ok(None);
        };
        let account = podpass_arn::Arn::parse(&key.principal_arn)
            .map(|arn| arn.account)
            .filter(|account| !account.is_empty())
            .unwrap_or(default_account)
            .to_owned();
        let caller = match &key.user_id {
            None => Caller::Root {
                account,
                access_key_id: key.access_key_id,
            },
            Some(user_id) => match self.user(user_id).await {
                Ok(user) => Caller::User(Arc::new(UserCaller::with_key(
                    &user,
                    &account,
                    &key.access_key_id,
                ))),
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(error) => return Err(error),
            },
        };
        Ok(Some(SigningIdentity {
            caller,
            secret_access_key: key.secret_access_key,
        }))
    }

    fn cached(&self, access_key_id: &str) -> Option<AccessKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(access_key_id).cloned()
    }
}

/// The caller a key belongs to, with the secret its signature must be checked with.
pub struct SigningIdentity {
    /// Who signed.
    pub caller: Caller,
    /// The secret access key of `caller`'s key.
    pub secret_access_key: String,
}

impl Control {
    /// STS `GetAccessKeyInfo`: the account an access key id belongs to, for a caller allowed
    /// `sts:GetAccessKeyInfo`. Like AWS, which answers from the key id alone, this does not say
    /// whether the key exists; every key id podpass issues (`AKIA` keys, `ASIA` sessions) is of
    /// its one account.
    pub async fn access_key_account(&self, ctx: &Ctx, access_key_id: &str) -> Result<String> {
        self.authorize(ctx, "sts:GetAccessKeyInfo", "*").await?;
        tracing::debug!(request_id = %ctx.request_id, %access_key_id, "access key info");
        Ok(self.account_id().to_owned())
    }

    /// Whether `caller`'s credentials may call `service` at all: `GetSessionToken`'s
    /// credentials (of the account root or a user), without MFA (podpass has no MFA devices), cannot call IAM,
    /// which AWS answers as for an unknown token.
    pub fn admit(&self, caller: &Caller, service: &str) -> Result<()> {
        let own_session = matches!(caller, Caller::Root { .. } | Caller::User(_));
        if service == "iam" && own_session && caller.is_temporary() {
            return Err(Error::BadCredentials);
        }
        Ok(())
    }

    /// The caller behind `access_key_id` (with `session_token` for temporary credentials) at
    /// `now`: [`Error::BadCredentials`] for an unknown key or a temporary key without its token,
    /// [`Error::CredentialsExpired`] for an expired session.
    pub async fn signing_identity(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: i64,
    ) -> Result<SigningIdentity> {
        if let Some(token) = session_token {
            let session = self
                .key_ring()
                .open(token, access_key_id, now)
                .await
                .map_err(|e| match e {
                    OpenError::Expired { .. } => Error::CredentialsExpired,
                    _ => Error::BadCredentials,
                })?;
            return Ok(SigningIdentity {
                secret_access_key: session.secret_access_key.clone(),
                caller: Caller::of_session(Arc::new(session)),
            });
        }
        if access_key_id.starts_with(podpass_session::ACCESS_KEY_ID_PREFIX) {
            // Temporary keys never work without their session token.
            return Err(Error::BadCredentials);
        }
        self.inner
            .access_keys
            .signing_identity(access_key_id, self.account_id())
            .await
            .map_err(Error::internal)?
            .ok_or(Error::BadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> AccessKey {
        AccessKey {
            access_key_id: id.to_owned(),
            secret_access_key: "secret".to_owned(),
            principal_arn: podpass_arn::account_root("111122223333"),
            user_id: None,
            active: true,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn misses_reread_the_store_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("db"))
            .await
            .unwrap();
        store.create_access_key(&key("AKIAFIRST")).await.unwrap();
        let keys = AccessKeys::new(store.clone());
        assert!(keys.find("AKIAFIRST").await.unwrap().is_some());

        // A flood of unknown ids (the caller's to choose) costs no more than one read a second:
        // a key added right after a reload is not seen until the interval has passed.
        assert!(keys.find("AKIAUNKNOWN1").await.unwrap().is_none());
        store.create_access_key(&key("AKIASECOND")).await.unwrap();
        assert!(keys.find("AKIASECOND").await.unwrap().is_none());
        tokio::time::sleep(RELOAD_INTERVAL + Duration::from_millis(100)).await;
        assert!(keys.find("AKIASECOND").await.unwrap().is_some());
        assert!(keys.find("AKIAFIRST").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_reload_that_a_change_overtook_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("db"))
            .await
            .unwrap();
        let keys = AccessKeys::new(store);
        // A reload read the key as active; this process deactivated it before the reload
        // stored what it read.
        let generation = keys.generation();
        keys.forget();
        assert!(
            keys.install(generation, vec![key("AKIASTALE")], "AKIASTALE")
                .is_some(),
            "the reload answers the call it ran for"
        );
        assert!(keys.cached("AKIASTALE").is_none(), "but is not kept");
        let generation = keys.generation();
        keys.install(generation, vec![key("AKIAFRESH")], "AKIAFRESH");
        assert!(keys.cached("AKIAFRESH").is_some());
    }

    #[tokio::test]
    async fn a_deactivated_key_stops_signing_at_the_next_reread() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("db"))
            .await
            .unwrap();
        let user_key = AccessKey {
            user_id: Some("AIDAUSER".to_owned()),
            ..key("AKIAUSER")
        };
        store.create_access_key(&user_key).await.unwrap();
        let keys = AccessKeys::new(store.clone());
        assert!(keys.find("AKIAUSER").await.unwrap().is_some());
        store
            .set_access_key_active("AIDAUSER", "AKIAUSER", false)
            .await
            .unwrap();
        // Another process's change shows at the next interval; this process's at once, even
        // while another request's reload keeps the interval running.
        assert!(keys.find("AKIAUSER").await.unwrap().is_some());
        keys.forget();
        *keys.last_reload.lock().unwrap() = Some(Instant::now());
        assert!(keys.find("AKIAUSER").await.unwrap().is_none());
        store
            .set_access_key_active("AIDAUSER", "AKIAUSER", true)
            .await
            .unwrap();
        keys.forget();
        assert!(keys.find("AKIAUSER").await.unwrap().is_some());
    }
}
