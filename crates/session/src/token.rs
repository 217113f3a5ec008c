//! Session token layout.
//!
//! `PPS1` + base64url(key id (u32 BE) || access key id (20 bytes) || nonce (12) ||
//! AES-256-GCM ciphertext || tag (16)). The associated data is the prefix plus the key id and
//! access key id, so neither can be swapped without failing authentication; the access key id
//! travels in clear (it is public in every SigV4 request) so a mismatch gets its own error.

use aws_lc_rs::aead::NONCE_LEN;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::credentials::ACCESS_KEY_ID_LEN;
use crate::error::OpenError;

/// Every podpass session token starts with this (format version 1).
pub const SESSION_TOKEN_PREFIX: &str = "PPS1";
/// Tokens longer than this are refused before decoding.
pub const MAX_SESSION_TOKEN_LEN: usize = 64 * 1024;

const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = KEY_ID_LEN + ACCESS_KEY_ID_LEN;
const TAG_LEN: usize = 16;

/// A decoded token, not yet authenticated.
pub(crate) struct SealedToken {
    pub key_id: u32,
    pub access_key_id: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    pub sealed: Vec<u8>,
}

/// The associated data bound to the ciphertext.
pub(crate) fn associated_data(key_id: u32, access_key_id: &[u8]) -> Vec<u8> {
    [
        SESSION_TOKEN_PREFIX.as_bytes(),
        &key_id.to_be_bytes(),
        access_key_id,
    ]
    .concat()
}

/// Writes the token for an access key id of exactly [`ACCESS_KEY_ID_LEN`] bytes.
pub(crate) fn encode(
    key_id: u32,
    access_key_id: &str,
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
) -> String {
    let body = [
        &key_id.to_be_bytes(),
        access_key_id.as_bytes(),
        nonce.as_slice(),
        sealed,
    ]
    .concat();
    format!("{SESSION_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
}

/// The bytes of `text`: `prefix` then base64url, at most `max_len` characters in all and at
/// least `min_body` bytes once decoded. Anything else is [`OpenError::Malformed`].
pub(crate) fn unframe(
    text: &str,
    prefix: &str,
    max_len: usize,
    min_body: usize,
) -> Result<Vec<u8>, OpenError> {
    if text.len() > max_len {
        return Err(OpenError::Malformed);
    }
    let encoded = text.strip_prefix(prefix).ok_or(OpenError::Malformed)?;
    let body = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| OpenError::Malformed)?;
    if body.len() < min_body {
        return Err(OpenError::Malformed);
    }
    Ok(body)
}

/// Splits a token into its parts; checks only the framing.
pub(crate) fn decode(token: &str) -> Result<SealedToken, OpenError> {
    let body = unframe(
        token,
        SESSION_TOKEN_PREFIX,
        MAX_SESSION_TOKEN_LEN,
        HEADER_LEN + NONCE_LEN + TAG_LEN,
    )?;
    let (header, rest) = body.split_at(HEADER_LEN);
    let (key_id, access_key_id) = header.split_at(KEY_ID_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    Ok(SealedToken {
        key_id: u32::from_be_bytes(key_id.try_into().map_err(|_| OpenError::Malformed)?),
        access_key_id: access_key_id.to_vec(),
        nonce: nonce.try_into().map_err(|_| OpenError::Malformed)?,
        sealed: sealed.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode() {
        let token = encode(9, "ASIAAAAAAAAAAAAAAAAA", &[7; NONCE_LEN], &[1; 20]);
        assert!(token.starts_with("PPS1"));
        let parsed = decode(&token).unwrap();
        assert_eq!(parsed.key_id, 9);
        assert_eq!(parsed.access_key_id, b"ASIAAAAAAAAAAAAAAAAA");
        assert_eq!(parsed.nonce, [7; NONCE_LEN]);
        assert_eq!(parsed.sealed, vec![1; 20]);
    }

    #[test]
    fn framing_errors_are_malformed() {
        let short = format!("PPS1{}", URL_SAFE_NO_PAD.encode([0u8; 51]));
        let too_long = format!("PPS1{}", "A".repeat(MAX_SESSION_TOKEN_LEN));
        for token in [
            "",
            "PPS1",
            "PPS2AAAA",
            "PPS1!!!!",
            "FQoGZXIvYXdzE",
            &short,
            &too_long,
        ] {
            assert!(
                matches!(decode(token), Err(OpenError::Malformed)),
                "{token}"
            );
        }
    }
}
