//! Sealing keys: AES-256-GCM keys identified by a small id, for rotation.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::SealError;

/// AES-256 key length.
const SECRET_LEN: usize = 32;

/// One AES-256-GCM key of the sealer's key ring.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    id: u32,
    secret: [u8; SECRET_LEN],
}

impl SealingKey {
    /// Length of [`SealingKey::to_bytes`]: 4-byte big-endian id, then the 32-byte secret.
    pub const ENCODED_LEN: usize = 4 + SECRET_LEN;

    /// A fresh random key with the given id (ids must be unique within a key ring).
    pub fn generate(id: u32) -> Result<Self, SealError> {
        let mut secret = [0u8; SECRET_LEN];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| SealError::Random)?;
        Ok(SealingKey { id, secret })
    }

    /// The key id written into every token it seals.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The key for storage: id (big-endian) followed by the secret.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut bytes = [0u8; Self::ENCODED_LEN];
        bytes[..4].copy_from_slice(&self.id.to_be_bytes());
        bytes[4..].copy_from_slice(&self.secret);
        bytes
    }

    /// Reads a key stored with [`SealingKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let invalid = || SealError::InvalidKeyLength {
            expected: Self::ENCODED_LEN,
            actual: bytes.len(),
        };
        let (id, secret) = bytes.split_first_chunk::<4>().ok_or_else(invalid)?;
        let secret: [u8; SECRET_LEN] = secret.try_into().map_err(|_| invalid())?;
        Ok(SealingKey {
            id: u32::from_be_bytes(*id),
            secret,
        })
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let key = SealingKey::generate(7).unwrap();
        let bytes = key.to_bytes();
        assert_eq!(&bytes[..4], &[0, 0, 0, 7]);
        assert_eq!(SealingKey::from_bytes(&bytes), Ok(key));
    }

    #[test]
    fn wrong_length_is_rejected() {
        for length in [0, 3, 35, 37] {
            assert_eq!(
                SealingKey::from_bytes(&vec![0; length]),
                Err(SealError::InvalidKeyLength {
                    expected: 36,
                    actual: length
                })
            );
        }
    }

    #[test]
    fn generated_keys_differ_and_debug_hides_them() {
        let (a, b) = (
            SealingKey::generate(1).unwrap(),
            SealingKey::generate(1).unwrap(),
        );
        assert_ne!(a.secret(), b.secret());
        assert_eq!(
            format!("{a:?}"),
            r#"SealingKey { id: 1, secret: "<redacted>" }"#
        );
    }
}
