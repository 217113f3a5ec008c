//! Issuer signing keys: generation, PKCS#8 storage, `kid` and public JWK.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::algorithm::JwtAlgorithm;
use crate::jwk::PublicJwk;
use crate::pem::{self, PemError};

/// The algorithms podpass can generate issuer keys for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA-2048, signing RS256 (the Kubernetes default).
    #[default]
    RS256,
    /// ECDSA P-256, signing ES256.
    ES256,
}

impl KeyAlgorithm {
    /// The JWS algorithm tokens signed by this key carry.
    pub fn jwt_algorithm(self) -> JwtAlgorithm {
        match self {
            KeyAlgorithm::RS256 => JwtAlgorithm::RS256,
            KeyAlgorithm::ES256 => JwtAlgorithm::ES256,
        }
    }
}

/// Why a signing key could not be created, loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Key generation, export or signing failed inside aws-lc.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// The bytes are not an RSA (2048..8192 bit) or ECDSA P-256 private key.
    #[error("not a supported private key (RSA 2048-8192 or ECDSA P-256): {0}")]
    Unsupported(String),
    /// The PEM armour is broken.
    #[error("invalid PEM: {0}")]
    Pem(#[from] PemError),
    /// The PEM block is not a private key.
    #[error("unexpected PEM label {0:?} (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")]
    UnexpectedPemLabel(String),
}

enum KeyPairKind {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key that signs ServiceAccount tokens.
pub struct SigningKey {
    key_pair: KeyPairKind,
    pkcs8_der: Vec<u8>,
    spki_der: Vec<u8>,
    kid: String,
    jwk: PublicJwk,
}

/// `kid` exactly as kube-apiserver's `keyIDFromPublicKey`: base64url (no padding) of the
/// SHA-256 of the DER SubjectPublicKeyInfo.
pub fn key_id(spki_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, spki_der))
}

impl SigningKey {
    /// Generates a fresh key (RSA-2048 for RS256, P-256 for ES256).
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::RS256 => {
                let key_pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| KeyError::Crypto("RSA key generation"))?;
                Self::from_rsa(key_pair)
            }
            KeyAlgorithm::ES256 => {
                let key_pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Crypto("ECDSA key generation"))?;
                Self::from_ec(key_pair)
            }
        }
    }

    /// Loads an unencrypted PKCS#8 DER private key (RSA or ECDSA P-256).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(key_pair) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_rsa(key_pair);
        }
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|rejected| KeyError::Unsupported(rejected.to_string()))
            .and_then(Self::from_ec)
    }

    /// Loads a PEM private key: `PRIVATE KEY` (PKCS#8), or the `RSA PRIVATE KEY` (PKCS#1) and
    /// `EC PRIVATE KEY` (SEC1) forms that kube-apiserver's `--service-account-signing-key-file`
    /// also accepts.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::decode(text)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&block.der)
                .map_err(|rejected| KeyError::Unsupported(rejected.to_string()))
                .and_then(Self::from_rsa),
            "EC PRIVATE KEY" => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &block.der)
                    .map_err(|rejected| KeyError::Unsupported(rejected.to_string()))
                    .and_then(Self::from_ec)
            }
            other => Err(KeyError::UnexpectedPemLabel(other.to_owned())),
        }
    }

    fn from_rsa(key_pair: RsaKeyPair) -> Result<Self, KeyError> {
        let pkcs8_der = key_pair
            .as_der()
            .map_err(|_| KeyError::Crypto("RSA PKCS#8 export"))?
            .as_ref()
            .to_vec();
        let public = key_pair.public_key();
        let spki_der = public
            .as_der()
            .map_err(|_| KeyError::Crypto("RSA public key export"))?
            .as_ref()
            .to_vec();
        let components = PublicKeyComponents::<Vec<u8>>::from(public);
        let kid = key_id(&spki_der);
        let jwk = PublicJwk {
            key_use: Some("sig".into()),
            kty: "RSA".into(),
            kid: Some(kid.clone()),
            crv: None,
            alg: Some(JwtAlgorithm::RS256.as_str().into()),
            x: None,
            y: None,
            n: Some(URL_SAFE_NO_PAD.encode(&components.n)),
            e: Some(URL_SAFE_NO_PAD.encode(&components.e)),
        };
        Ok(SigningKey {
            key_pair: KeyPairKind::Rsa(key_pair),
            pkcs8_der,
            spki_der,
            kid,
            jwk,
        })
    }

    fn from_ec(key_pair: EcdsaKeyPair) -> Result<Self, KeyError> {
        let pkcs8_der = key_pair
            .to_pkcs8v1()
            .map_err(|_| KeyError::Crypto("ECDSA PKCS#8 export"))?
            .as_ref()
            .to_vec();
        let public = key_pair.public_key();
        let spki_der = public
            .as_der()
            .map_err(|_| KeyError::Crypto("ECDSA public key export"))?
            .as_ref()
            .to_vec();
        // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let (x, y) = match public.as_ref() {
            [0x04, coordinates @ ..] if coordinates.len() == 64 => coordinates.split_at(32),
            _ => return Err(KeyError::Crypto("unexpected ECDSA public key encoding")),
        };
        let kid = key_id(&spki_der);
        let jwk = PublicJwk {
            key_use: Some("sig".into()),
            kty: "EC".into(),
            kid: Some(kid.clone()),
            crv: Some("P-256".into()),
            alg: Some(JwtAlgorithm::ES256.as_str().into()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            n: None,
            e: None,
        };
        Ok(SigningKey {
            key_pair: KeyPairKind::Ec(key_pair),
            pkcs8_der,
            spki_der,
            kid,
            jwk,
        })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.key_pair {
            KeyPairKind::Rsa(_) => KeyAlgorithm::RS256,
            KeyPairKind::Ec(_) => KeyAlgorithm::ES256,
        }
    }

    /// The key id (see [`key_id`]).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK with `use:"sig"`, `kid` and `alg`.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The private key as unencrypted PKCS#8 DER, for storage.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// The private key as a `PRIVATE KEY` PEM block, for storage or export.
    pub fn to_pkcs8_pem(&self) -> String {
        pem::encode("PRIVATE KEY", &self.pkcs8_der)
    }

    /// The public key as a `PUBLIC KEY` PEM block (`--service-account-key-file` format).
    pub fn public_key_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// Signs a JWS signing input (`base64url(header).base64url(payload)`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.key_pair {
            KeyPairKind::Rsa(key_pair) => {
                let mut signature = vec![0; key_pair.public_modulus_len()];
                key_pair
                    .sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Crypto("RSA signing"))?;
                Ok(signature)
            }
            KeyPairKind::Ec(key_pair) => key_pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing")),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
