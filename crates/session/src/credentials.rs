//! The credentials handed to the client, and how their random parts are drawn.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::SealError;

/// Prefix of temporary (STS) access key ids.
pub const ACCESS_KEY_ID_PREFIX: &str = "ASIA";
/// Length of a minted access key id: `ASIA` + 16 characters.
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// Length of a minted secret access key.
pub const SECRET_ACCESS_KEY_LEN: usize = 40;

const ACCESS_KEY_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Temporary credentials as STS returns them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `ASIA` + 16 upper-case alphanumerics.
    pub access_key_id: String,
    /// 40 characters of base64 alphabet.
    pub secret_access_key: String,
    /// Opaque token carrying the sealed session.
    pub session_token: String,
    /// Expiry, unix seconds.
    pub expiration: i64,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// A fresh `ASIA...` access key id from the system CSPRNG.
pub(crate) fn new_access_key_id(rng: &SystemRandom) -> Result<String, SealError> {
    let mut id = String::with_capacity(ACCESS_KEY_ID_LEN);
    id.push_str(ACCESS_KEY_ID_PREFIX);
    // One draw per batch, not per character: each draw costs a DRBG step. A batch of 32 fills
    // the 16 characters unless more than 16 of its bytes are rejected (odds below 10^-20).
    let mut batch = [0u8; 32];
    while id.len() < ACCESS_KEY_ID_LEN {
        rng.fill(&mut batch).map_err(|_| SealError::Random)?;
        // Rejection sampling: 252 = 7 * 36, so accepted bytes map uniformly onto the alphabet.
        for byte in batch.iter().filter(|byte| **byte < 252) {
            if id.len() == ACCESS_KEY_ID_LEN {
                break;
            }
            id.push(char::from(ACCESS_KEY_ALPHABET[usize::from(byte % 36)]));
        }
    }
    Ok(id)
}

/// A fresh secret access key: 30 random bytes in base64, exactly 40 characters.
pub(crate) fn new_secret_access_key(rng: &SystemRandom) -> Result<String, SealError> {
    let mut bytes = [0u8; SECRET_ACCESS_KEY_LEN / 4 * 3];
    rng.fill(&mut bytes).map_err(|_| SealError::Random)?;
    Ok(STANDARD.encode(bytes))
}
