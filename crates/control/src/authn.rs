//! Whose key signed a request: the account's long-term keys (cached, reread on a miss, since
//! the CLI or another replica may have added one) or a sealed session token, opened without a
//! database read. Checking the signature itself is the protocol adapter's job.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use podpass_session::OpenError;
use podpass_store::{AccessKey, Store};

use crate::{Caller, Control, Error, Result};

/// The long-term keys, cached in memory.
#[derive(Default)]
pub(crate) struct AccessKeys {
    keys: RwLock<HashMap<String, AccessKey>>,
}

impl AccessKeys {
    async fn find(&self, store: &Store, access_key_id: &str) -> Result<Option<AccessKey>> {
        if let Some(key) = self.read().get(access_key_id) {
            return Ok(Some(key.clone()));
        }
        let all = store.access_keys().await.map_err(Error::internal)?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.clear();
        keys.extend(all.into_iter().map(|k| (k.access_key_id.clone(), k)));
        Ok(keys.get(access_key_id).cloned())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, AccessKey>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
                caller: Caller::Session(Arc::new(session)),
            });
        }
        if access_key_id.starts_with(podpass_session::ACCESS_KEY_ID_PREFIX) {
            // Temporary keys never work without their session token.
            return Err(Error::BadCredentials);
        }
        let key = self
            .inner
            .access_keys
            .find(self.store(), access_key_id)
            .await?
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
