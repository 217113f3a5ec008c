//! The session-sealing key ring, kept in the store so every replica opens every session.

use podpass_session::{SealError, Sealer, SealingKey};
use podpass_store::{SealingKeyRecord, Store, StoreError};

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
        add_key(store, 1, now).await?;
        keys = stored_keys(store).await?;
    }
    let (active, others) = keys.split_first().ok_or(SealingError::BadId(0))?;
    Ok(Sealer::new(active, others)?)
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
