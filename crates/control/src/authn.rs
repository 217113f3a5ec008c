//! Whose key signed a request: the account's long-term keys (cached, reread on a miss, since
//! the CLI or another replica may have added one) or a sealed session token, opened without a
//! database read. Checking the signature itself is the protocol adapter's job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use podpass_session::OpenError;
use podpass_store::{AccessKey, Store, StoreError};

use crate::{Caller, Control, Ctx, Error, Result};

/// How often a miss may re-read the store's long-term keys: the access key ids of misses are
/// the caller's to choose, so an unbounded reload would let anyone make every request a full
/// read of the keys table.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The account's long-term keys, cached in memory, for every endpoint that checks signatures
/// (the AWS APIs and S3). A miss re-reads the store, since the CLI or another replica may have
/// added a key, at most once per [`RELOAD_INTERVAL`].
pub struct AccessKeys {
    store: Store,
    keys: RwLock<HashMap<String, AccessKey>>,
    last_reload: Mutex<Option<Instant>>,
}

impl AccessKeys {
    /// Keys read from `store` on first use.
    pub fn new(store: Store) -> Self {
        AccessKeys {
            store,
            keys: RwLock::new(HashMap::new()),
            last_reload: Mutex::new(None),
        }
    }

    /// The long-term key `access_key_id`, if the store has it (or had it at the last reload,
    /// when a reload ran less than [`RELOAD_INTERVAL`] ago).
    pub async fn find(
        &self,
        access_key_id: &str,
    ) -> std::result::Result<Option<AccessKey>, StoreError> {
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
        let all = self.store.access_keys().await?;
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

    /// Whether `caller`'s credentials may call `service` at all: the account root's
    /// `GetSessionToken` credentials, without MFA (podpass has no MFA devices), cannot call IAM,
    /// which AWS answers as for an unknown token.
    pub fn admit(&self, caller: &Caller, service: &str) -> Result<()> {
        if service == "iam" && matches!(caller, Caller::Root { .. }) && caller.is_temporary() {
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
        let key = self
            .inner
            .access_keys
            .find(access_key_id)
            .await
            .map_err(Error::internal)?
            .ok_or(Error::BadCredentials)?;
        let account = podpass_arn::Arn::parse(&key.principal_arn)
            .map_or(self.account_id(), |arn| arn.account)
            .to_owned();
        Ok(SigningIdentity {
            caller: Caller::Root {
                account,
                access_key_id: key.access_key_id,
            },
            secret_access_key: key.secret_access_key,
        })
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
}
