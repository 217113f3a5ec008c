//! Public JSON Web Keys and the JWKS document, in kube-apiserver's field order.

use serde::{Deserialize, Serialize};

use crate::gojson::to_go_json;

/// One public key as published in a JWKS (RFC 7517).
///
/// Field order follows go-jose's `rawJSONWebKey` (`use`, `kty`, `kid`, `crv`, `alg`, `x`, `y`,
/// `n`, `e`), so the serialised bytes match what kube-apiserver serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Intended use; podpass publishes `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Key type: `RSA` or `EC` (others are ignored by the verifier).
    pub kty: String,
    /// Key id, matched against the token header's `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// EC curve name (`P-256`, `P-384`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Algorithm the key is meant for (`RS256`, `ES256`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// EC x coordinate, base64url without padding, full field length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url without padding, full field length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url without padding or leading zero bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWKS document: `{"keys":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The published keys, in the order given.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// A JWKS holding the public half of each key.
    pub fn from_signing_keys<'a>(keys: impl IntoIterator<Item = &'a crate::SigningKey>) -> Self {
        Jwks {
            keys: keys
                .into_iter()
                .map(|key| key.public_jwk().clone())
                .collect(),
        }
    }

    /// Parses a JWKS document fetched from an issuer.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Serialises the document byte-for-byte as kube-apiserver does.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        to_go_json(self)
    }
}
