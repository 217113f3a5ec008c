//! Errors of key handling, minting and opening.

/// Why a key could not be made or a session could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The system random generator failed.
    #[error("system random generator failed")]
    Random,
    /// aws-lc rejected a key or failed to encrypt.
    #[error("AEAD operation failed: {0}")]
    Crypto(&'static str),
    /// Stored key bytes have the wrong length.
    #[error("sealing key must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// Required length.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// Two different keys share an id in the key ring.
    #[error("two different sealing keys have id {0}")]
    DuplicateKeyId(u32),
    /// The session claims could not be serialised.
    #[error("cannot serialise session claims: {0}")]
    Serialize(String),
}

/// Why a session token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not a podpass session token (prefix, encoding or length).
    #[error("session token is malformed")]
    Malformed,
    /// Sealed with a key no longer (or never) in the key ring.
    #[error("session token was sealed with unknown key {0}")]
    UnknownKey(u32),
    /// The authentication tag does not verify: the token was altered or forged.
    #[error("session token failed authentication")]
    Forged,
    /// The token belongs to another access key id.
    #[error("session token does not belong to this access key id")]
    KeyIdMismatch,
    /// The session has expired.
    #[error("session expired at {expired_at}")]
    Expired {
        /// The session's expiry, unix seconds.
        expired_at: i64,
    },
}
