//! The session-sealing key ring, kept in the store so every replica opens every session.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use podpass_session::{OpenError, SealError, Sealer, SealingKey, SessionClaims};
use podpass_store::{SealingKeyRecord, Store, StoreError};

/// How often a running process should re-read the ring ([`KeyRing::reload`]) to seal with the
/// newest key.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// A token sealed with a key this process has not loaded makes it re-read the ring, at most
/// this often (such tokens may come from anyone).
const RELOAD_ON_UNKNOWN_INTERVAL: Duration = Duration::from_secs(1);

/// Why the key ring could not be loaded or rotated.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key is unusable, or a new one could not be generated.
    #[error("session sealing key: {0}")]
    Key(#[from] SealError),
    /// A stored key id is out of range.
    #[error("stored sealing key id {0} is out of range")]
    BadId(i64),
}

/// Loads the key ring (the newest key seals, all open), creating the first key if none exists.
pub async fn load_sealer(store: &Store, now: i64) -> Result<Sealer, SealingError> {
    let mut keys = stored_keys(store).await?;
    if keys.is_empty() {
        match add_key(store, 1, now).await {
            // Another replica made the first key at the same moment: the ring is theirs.
            Ok(()) | Err(SealingError::Store(StoreError::AlreadyExists(_))) => {}
            Err(e) => return Err(e),
        }
        keys = stored_keys(store).await?;
    }
    let (active, others) = keys.split_first().ok_or(SealingError::BadId(0))?;
    Ok(Sealer::new(active, others)?)
}

/// The key ring of a running process, kept current with the store: a key added by the CLI or
/// another replica seals here after the next [`KeyRing::reload`], and a token sealed with a key
/// not loaded yet (a replica restarted after a rotation) makes the ring reload at once.
pub struct KeyRing {
    store: Store,
    sealer: RwLock<Arc<Sealer>>,
    last_reload: Mutex<Option<Instant>>,
}

impl KeyRing {
    /// The store's ring, creating its first key if it has none.
    pub async fn load(store: Store, now: i64) -> Result<KeyRing, SealingError> {
        let sealer = load_sealer(&store, now).await?;
        Ok(KeyRing {
            store,
            sealer: RwLock::new(Arc::new(sealer)),
            last_reload: Mutex::new(None),
        })
    }

    /// The sealer as last loaded: mint with it.
    pub fn sealer(&self) -> Arc<Sealer> {
        self.sealer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the ring from the store.
    pub async fn reload(&self) -> Result<(), SealingError> {
        let sealer = Arc::new(load_sealer(&self.store, crate::now()).await?);
        *self
            .sealer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = sealer;
        Ok(())
    }

    /// Opens `session_token` presented with `access_key_id` at `now`, re-reading the ring first
    /// when it was sealed with a key not loaded yet.
    pub async fn open(
        &self,
        session_token: &str,
        access_key_id: &str,
        now: i64,
    ) -> Result<SessionClaims, OpenError> {
        match self.sealer().open(session_token, access_key_id, now) {
            Err(OpenError::UnknownKey(_)) if self.reload_due() && self.reload().await.is_ok() => {
                self.sealer().open(session_token, access_key_id, now)
            }
            result => result,
        }
    }

    /// Whether an unknown key may trigger a reload now (and if so, counts it as done).
    fn reload_due(&self) -> bool {
        let mut last = self
            .last_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < RELOAD_ON_UNKNOWN_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// Adds a new sealing key that seals from now on; older keys keep opening live sessions.
/// Returns the new key id.
pub async fn rotate_sealing_key(store: &Store, now: i64) -> Result<u32, SealingError> {
    let next = stored_keys(store)
        .await?
        .iter()
        .map(SealingKey::id)
        .max()
        .unwrap_or(0)
        + 1;
    add_key(store, next, now).await?;
    Ok(next)
}

async fn stored_keys(store: &Store) -> Result<Vec<SealingKey>, SealingError> {
    store
        .sealing_keys()
        .await?
        .iter()
        .map(|record| {
            u32::try_from(record.key_id).map_err(|_| SealingError::BadId(record.key_id))?;
            Ok(SealingKey::from_bytes(&record.key_material)?)
        })
        .collect()
}

async fn add_key(store: &Store, id: u32, now: i64) -> Result<(), SealingError> {
    let key = SealingKey::generate(id)?;
    store
        .add_sealing_key(&SealingKeyRecord {
            key_id: i64::from(id),
            key_material: key.to_bytes().to_vec(),
            created_at: now,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use podpass_session::{SessionIdentity, SessionKind};

    fn identity() -> SessionIdentity {
        SessionIdentity {
            kind: SessionKind::AssumeRole,
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
            role_id: "AROAEXAMPLEROLEID0001".into(),
            role_name: "r".into(),
            role_path: "/".into(),
            session_name: "s".into(),
            source_identity: None,
            session_policy: None,
            session_policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            federated: None,
            chained: false,
        }
    }

    #[tokio::test]
    async fn a_replica_opens_sessions_sealed_with_a_key_it_has_not_loaded_yet() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("p.db"))
            .await
            .unwrap();
        let now = crate::now();
        let old = KeyRing::load(store.clone(), now).await.unwrap();
        assert_eq!(rotate_sealing_key(&store, now).await.unwrap(), 2);
        // A replica started after the rotation seals with key 2.
        let restarted = KeyRing::load(store.clone(), now).await.unwrap();
        assert_eq!(restarted.sealer().active_key_id(), 2);
        let (credentials, claims) = restarted.sealer().mint(identity(), 900, now).unwrap();
        let (token, key) = (&credentials.session_token, &credentials.access_key_id);
        assert!(matches!(
            old.sealer().open(token, key, now),
            Err(OpenError::UnknownKey(2))
        ));
        assert_eq!(old.open(token, key, now).await.unwrap(), claims);
        // It reloaded, so it seals with key 2 as well.
        assert_eq!(old.sealer().active_key_id(), 2);

        // Unknown keys (forgeries included) reload at most once a second.
        rotate_sealing_key(&store, now).await.unwrap();
        let newest = KeyRing::load(store, now).await.unwrap();
        let (credentials, _) = newest.sealer().mint(identity(), 900, now).unwrap();
        let (token, key) = (&credentials.session_token, &credentials.access_key_id);
        assert!(matches!(
            old.open(token, key, now).await,
            Err(OpenError::UnknownKey(3))
        ));
        tokio::time::sleep(RELOAD_ON_UNKNOWN_INTERVAL).await;
        assert!(old.open(token, key, now).await.is_ok());
    }
}
