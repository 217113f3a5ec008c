//! Authorization message layout: what a denial carries for `sts:DecodeAuthorizationMessage`.
//!
//! `PPM1` + base64url(key id (u32 BE) || nonce (12) || AES-256-GCM ciphertext || tag (16)),
//! sealed with the session key ring. The associated data is the prefix plus the key id, so a
//! message never opens as a session token nor the reverse (their prefixes differ).

use aws_lc_rs::aead::NONCE_LEN;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::OpenError;
use crate::token;

/// Every podpass authorization message starts with this (format version 1).
pub const MESSAGE_PREFIX: &str = "PPM1";
/// STS's limit on `EncodedMessage`; longer messages are refused before decoding.
pub const MAX_MESSAGE_LEN: usize = 10_240;

const KEY_ID_LEN: usize = 4;
const TAG_LEN: usize = 16;

/// A decoded message, not yet authenticated.
pub(crate) struct SealedMessage {
    pub key_id: u32,
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    pub sealed: Vec<u8>,
}

/// The associated data bound to the ciphertext.
pub(crate) fn associated_data(key_id: u32) -> Vec<u8> {
    [MESSAGE_PREFIX.as_bytes(), &key_id.to_be_bytes()].concat()
}

pub(crate) fn encode(key_id: u32, nonce: &[u8; NONCE_LEN], sealed: &[u8]) -> String {
    let body = [&key_id.to_be_bytes(), nonce.as_slice(), sealed].concat();
    format!("{MESSAGE_PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
}

/// Splits a message into its parts; checks only the framing.
pub(crate) fn decode(message: &str) -> Result<SealedMessage, OpenError> {
    let body = token::unframe(
        message,
        MESSAGE_PREFIX,
        MAX_MESSAGE_LEN,
        KEY_ID_LEN + NONCE_LEN + TAG_LEN,
    )?;
    let (key_id, rest) = body.split_at(KEY_ID_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    Ok(SealedMessage {
        key_id: u32::from_be_bytes(key_id.try_into().map_err(|_| OpenError::Malformed)?),
        nonce: nonce.try_into().map_err(|_| OpenError::Malformed)?,
        sealed: sealed.to_vec(),
    })
}
