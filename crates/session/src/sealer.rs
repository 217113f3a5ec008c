//! The key ring that mints session credentials and opens their tokens.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::rand::SystemRandom;

use crate::claims::{SessionClaims, SessionIdentity};
use crate::credentials::{Credentials, new_access_key_id, new_secret_access_key};
use crate::error::{OpenError, SealError};
use crate::key::SealingKey;
use crate::{message, token};

/// Seals sessions with the active key and opens tokens sealed by any key of the ring, so a
/// rotation never breaks live sessions.
pub struct Sealer {
    active_key_id: u32,
    keys: HashMap<u32, RandomizedNonceKey>,
    rng: SystemRandom,
}

impl Sealer {
    /// A ring sealing with `active` and also opening with `others` (older keys still in use).
    pub fn new<'a>(
        active: &SealingKey,
        others: impl IntoIterator<Item = &'a SealingKey>,
    ) -> Result<Self, SealError> {
        let mut secrets: HashMap<u32, &SealingKey> = HashMap::from([(active.id(), active)]);
        for key in others {
            match secrets.get(&key.id()) {
                Some(existing) if *existing != key => {
                    return Err(SealError::DuplicateKeyId(key.id()));
                }
                Some(_) => {}
                None => {
                    secrets.insert(key.id(), key);
                }
            }
        }
        let keys = secrets
            .into_iter()
            .map(|(id, key)| {
                RandomizedNonceKey::new(&AES_256_GCM, key.secret())
                    .map(|aead_key| (id, aead_key))
                    .map_err(|_| SealError::Crypto("AES-256-GCM key setup"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Sealer {
            active_key_id: active.id(),
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// The id of the key new sessions are sealed with.
    pub fn active_key_id(&self) -> u32 {
        self.active_key_id
    }

    /// Mints credentials for `identity`, valid from `now` for `duration_seconds`, with a fresh
    /// access key id and secret. Duration limits (900 s minimum, role maximum, the one-hour cap
    /// on chained sessions) are the caller's to enforce.
    pub fn mint(
        &self,
        identity: SessionIdentity,
        duration_seconds: u32,
        now: i64,
    ) -> Result<(Credentials, SessionClaims), SealError> {
        let claims = SessionClaims {
            identity,
            issued_at: now,
            expires_at: now.saturating_add(i64::from(duration_seconds)),
            access_key_id: new_access_key_id(&self.rng)?,
            secret_access_key: new_secret_access_key(&self.rng)?,
        };
        let credentials = Credentials {
            access_key_id: claims.access_key_id.clone(),
            secret_access_key: claims.secret_access_key.clone(),
            session_token: self.seal(&claims)?,
            expiration: claims.expires_at,
        };
        Ok((credentials, claims))
    }

    fn seal(&self, claims: &SessionClaims) -> Result<String, SealError> {
        let key = self
            .keys
            .get(&self.active_key_id)
            .ok_or(SealError::Crypto("active key missing from the ring"))?;
        let mut in_out =
            serde_json::to_vec(claims).map_err(|error| SealError::Serialize(error.to_string()))?;
        let aad = token::associated_data(self.active_key_id, claims.access_key_id.as_bytes());
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| SealError::Crypto("AES-256-GCM seal"))?;
        Ok(token::encode(
            self.active_key_id,
            &claims.access_key_id,
            nonce.as_ref(),
            &in_out,
        ))
    }

    /// Authenticates and decrypts `session_token` presented with `access_key_id` at `now`.
    pub fn open(
        &self,
        session_token: &str,
        access_key_id: &str,
        now: i64,
    ) -> Result<SessionClaims, OpenError> {
        let sealed = token::decode(session_token)?;
        if sealed.access_key_id != access_key_id.as_bytes() {
            return Err(OpenError::KeyIdMismatch);
        }
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or(OpenError::UnknownKey(sealed.key_id))?;
        let aad = token::associated_data(sealed.key_id, &sealed.access_key_id);
        let nonce = Nonce::assume_unique_for_key(sealed.nonce);
        let mut in_out = sealed.sealed;
        let plaintext = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| OpenError::Forged)?;
        let claims: SessionClaims =
            serde_json::from_slice(plaintext).map_err(|_| OpenError::Malformed)?;
        if claims.access_key_id != access_key_id {
            return Err(OpenError::KeyIdMismatch);
        }
        if now >= claims.expires_at {
            return Err(OpenError::Expired {
                expired_at: claims.expires_at,
            });
        }
        Ok(claims)
    }
}

impl Sealer {
    /// Seals `plaintext` (a denial's decision context) into an authorization message that
    /// only this ring opens.
    pub fn seal_message(&self, plaintext: &[u8]) -> Result<String, SealError> {
        let key = self
            .keys
            .get(&self.active_key_id)
            .ok_or(SealError::Crypto("active key missing from the ring"))?;
        let mut in_out = plaintext.to_vec();
        let aad = message::associated_data(self.active_key_id);
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| SealError::Crypto("AES-256-GCM seal"))?;
        Ok(message::encode(self.active_key_id, nonce.as_ref(), &in_out))
    }

    /// Authenticates and decrypts an authorization message sealed by this ring.
    pub fn open_message(&self, encoded: &str) -> Result<Vec<u8>, OpenError> {
        let sealed = message::decode(encoded)?;
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or(OpenError::UnknownKey(sealed.key_id))?;
        let aad = message::associated_data(sealed.key_id);
        let nonce = Nonce::assume_unique_for_key(sealed.nonce);
        let mut in_out = sealed.sealed;
        let plaintext = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| OpenError::Forged)?;
        Ok(plaintext.to_vec())
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key_ids: Vec<_> = self.keys.keys().collect();
        key_ids.sort();
        f.debug_struct("Sealer")
            .field("active_key_id", &self.active_key_id)
            .field("key_ids", &key_ids)
            .finish()
    }
}
