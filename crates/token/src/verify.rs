//! Verifying tokens for STS and EKS Auth: signature by `kid`, algorithm allow-list, issuer,
//! audience and time claims, with one precise error per failure.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;

use crate::algorithm::{JwtAlgorithm, KeyType};
use crate::claims::{Claims, RawClaims};
use crate::jwk::{Jwks, PublicJwk};
use crate::jws::{self, IncomingHeader};

/// Clock skew tolerated on `exp`, `nbf` and `iat` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECONDS: i64 = 60;
/// Longest token accepted (STS `WebIdentityToken` maximum).
pub const MAX_TOKEN_LENGTH: usize = 20_000;
/// Smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS with a JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than [`MAX_TOKEN_LENGTH`].
    #[error("token is {0} characters long; the maximum is {MAX_TOKEN_LENGTH}")]
    TooLarge(usize),
    /// The header's `alg` is not on the allow-list (always the case for `none` and `HS*`).
    #[error("token algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// No key with this `kid`: the caller may refetch the JWKS once and retry.
    #[error("no key with kid {0:?} in the issuer's key set")]
    UnknownKeyId(String),
    /// The key named by `kid` cannot verify this algorithm.
    #[error("key {kid:?} cannot verify {alg} signatures")]
    KeyAlgorithmMismatch {
        /// Key id from the header.
        kid: String,
        /// Algorithm from the header.
        alg: JwtAlgorithm,
    },
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verification time.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet (nbf {nbf}, now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verification time.
        now: i64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("token is issued in the future (iat {iat}, now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verification time.
        now: i64,
    },
    /// `iss` is not the expected issuer.
    #[error("token issuer {actual:?} is not {expected:?}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        actual: String,
    },
    /// None of the token's audiences is accepted.
    #[error("token audience {0:?} is not accepted")]
    WrongAudience(Vec<String>),
    /// A required claim (`iss`, `sub`, `aud`, `exp`) is absent.
    #[error("token has no {0:?} claim")]
    MissingClaim(&'static str),
}

/// Why a JWKS could not be turned into verification keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// An RSA or EC key has missing or malformed parameters.
    #[error("invalid key {kid:?}: {reason}")]
    InvalidKey {
        /// The key's `kid` (empty when absent).
        kid: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two keys share a `kid`.
    #[error("duplicate kid {0:?} in key set")]
    DuplicateKeyId(String),
}

/// A public key ready for signature checks (parsed once, when the JWKS is loaded).
struct VerifyingKey {
    key_type: KeyType,
    /// The JWK's `alg`, when it pins one.
    algorithm: Option<JwtAlgorithm>,
    decoding_key: DecodingKey,
}

impl VerifyingKey {
    /// `Ok(None)` for keys podpass never verifies with (other `kty`, `use` other than `sig`,
    /// unsupported `alg`); an error for RSA/EC keys with broken parameters.
    fn from_jwk(jwk: &PublicJwk) -> Result<Option<Self>, JwksError> {
        if jwk
            .key_use
            .as_deref()
            .is_some_and(|key_use| key_use != "sig")
        {
            return Ok(None);
        }
        let algorithm = match jwk.alg.as_deref().map(str::parse::<JwtAlgorithm>) {
            None => None,
            Some(Ok(algorithm)) => Some(algorithm),
            Some(Err(_)) => return Ok(None),
        };
        let invalid = |reason| JwksError::InvalidKey {
            kid: jwk.kid.clone().unwrap_or_default(),
            reason,
        };
        let (key_type, decoding_key) = match jwk.kty.as_str() {
            "RSA" => {
                let n =
                    decode_param(jwk.n.as_deref()).ok_or_else(|| invalid("bad or missing n"))?;
                let e =
                    decode_param(jwk.e.as_deref()).ok_or_else(|| invalid("bad or missing e"))?;
                // aws-lc wants minimal big-endian integers; some publishers pad with zeros.
                let (n, e) = (without_leading_zeros(&n), without_leading_zeros(&e));
                if n.len() < MIN_RSA_MODULUS_BYTES {
                    return Err(invalid("RSA modulus shorter than 2048 bits"));
                }
                (KeyType::Rsa, DecodingKey::from_rsa_raw_components(n, e))
            }
            "EC" => {
                let (key_type, coordinate_len) = match jwk.crv.as_deref() {
                    Some("P-256") => (KeyType::EcP256, 32),
                    Some("P-384") => (KeyType::EcP384, 48),
                    _ => return Ok(None),
                };
                let x =
                    decode_param(jwk.x.as_deref()).ok_or_else(|| invalid("bad or missing x"))?;
                let y =
                    decode_param(jwk.y.as_deref()).ok_or_else(|| invalid("bad or missing y"))?;
                if x.len() != coordinate_len || y.len() != coordinate_len {
                    return Err(invalid("EC coordinates have the wrong length"));
                }
                // Uncompressed SEC1 point, which aws-lc parses (and checks is on the curve).
                let point = [&[0x04], x.as_slice(), y.as_slice()].concat();
                (key_type, DecodingKey::from_ec_der(&point))
            }
            _ => return Ok(None),
        };
        if algorithm.is_some_and(|algorithm| algorithm.key_type() != key_type) {
            return Ok(None);
        }
        Ok(Some(VerifyingKey {
            key_type,
            algorithm,
            decoding_key,
        }))
    }

    fn can_verify(&self, algorithm: JwtAlgorithm) -> bool {
        self.key_type == algorithm.key_type() && self.algorithm.is_none_or(|pin| pin == algorithm)
    }

    fn verifies(&self, signature: &str, signing_input: &str, algorithm: JwtAlgorithm) -> bool {
        jsonwebtoken::crypto::verify(
            signature,
            signing_input.as_bytes(),
            &self.decoding_key,
            algorithm.to_jsonwebtoken(),
        )
        .unwrap_or(false)
    }
}

/// jsonwebtoken panics on first use when feature unification enables both of its crypto
/// backends and nobody picked one; pick aws-lc explicitly in that case.
fn ensure_crypto_provider() {
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        // Losing a race to another installer is fine: a provider is then installed.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_significant = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first_significant..]
}

/// JWK parameters are base64url; tolerate padding some publishers add.
fn decode_param(value: Option<&str>) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(value?.trim_end_matches('=')).ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

/// Verifies tokens of one issuer against its keys.
pub struct Verifier {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<JwtAlgorithm>,
    leeway_seconds: i64,
    keys_by_kid: HashMap<String, VerifyingKey>,
    keys_without_kid: Vec<VerifyingKey>,
}

impl Verifier {
    /// A verifier for tokens from `issuer` whose `aud` contains any of `audiences`, checked
    /// against `jwks`. All of [`JwtAlgorithm::ALL`] are allowed and the leeway is
    /// [`DEFAULT_LEEWAY_SECONDS`] until changed.
    pub fn new(
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
        jwks: &Jwks,
    ) -> Result<Self, JwksError> {
        ensure_crypto_provider();
        let mut keys_by_kid = HashMap::new();
        let mut keys_without_kid = Vec::new();
        for jwk in &jwks.keys {
            let Some(key) = VerifyingKey::from_jwk(jwk)? else {
                continue;
            };
            match &jwk.kid {
                Some(kid) => {
                    if keys_by_kid.insert(kid.clone(), key).is_some() {
                        return Err(JwksError::DuplicateKeyId(kid.clone()));
                    }
                }
                None => keys_without_kid.push(key),
            }
        }
        Ok(Verifier {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: JwtAlgorithm::ALL.to_vec(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            keys_by_kid,
            keys_without_kid,
        })
    }

    /// Restricts the accepted algorithms.
    pub fn with_algorithms(mut self, algorithms: &[JwtAlgorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Sets the clock skew tolerated on `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, seconds: i64) -> Self {
        self.leeway_seconds = seconds.max(0);
        self
    }

    /// Whether the key set has a usable key with this `kid`.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys_by_kid.contains_key(kid)
    }

    /// Verifies `token` at time `now` (unix seconds) and returns its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, VerifyError> {
        let (parts, header) = parse_header(token)?;
        if header.crit.is_some() {
            return Err(VerifyError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        let algorithm = header
            .alg
            .parse::<JwtAlgorithm>()
            .ok()
            .filter(|algorithm| self.algorithms.contains(algorithm))
            .ok_or_else(|| VerifyError::UnsupportedAlgorithm(header.alg.clone()))?;
        if jws::decode_segment(parts.signature).is_none() {
            return Err(VerifyError::Malformed("signature is not base64url"));
        }
        self.check_signature(header.kid, algorithm, parts.signature, parts.signing_input)?;

        let payload = jws::decode_segment(parts.payload)
            .ok_or(VerifyError::Malformed("claims are not base64url"))?;
        let claims = serde_json::from_slice::<RawClaims>(&payload)
            .map_err(|_| VerifyError::Malformed("claims are not a valid JSON object"))?
            .require()
            .map_err(VerifyError::MissingClaim)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_signature(
        &self,
        kid: Option<String>,
        algorithm: JwtAlgorithm,
        signature: &str,
        signing_input: &str,
    ) -> Result<(), VerifyError> {
        let verified = match kid {
            Some(kid) => {
                let key = self
                    .keys_by_kid
                    .get(&kid)
                    .ok_or_else(|| VerifyError::UnknownKeyId(kid.clone()))?;
                if !key.can_verify(algorithm) {
                    return Err(VerifyError::KeyAlgorithmMismatch {
                        kid,
                        alg: algorithm,
                    });
                }
                key.verifies(signature, signing_input, algorithm)
            }
            // Without a kid, any key of the right type may have signed (as go-oidc does).
            None => self
                .keys_by_kid
                .values()
                .chain(&self.keys_without_kid)
                .filter(|key| key.can_verify(algorithm))
                .any(|key| key.verifies(signature, signing_input, algorithm)),
        };
        if verified {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), VerifyError> {
        if claims.iss != self.issuer {
            return Err(VerifyError::WrongIssuer {
                expected: self.issuer.clone(),
                actual: claims.iss.clone(),
            });
        }
        if !claims.aud.iter().any(|aud| self.audiences.contains(aud)) {
            return Err(VerifyError::WrongAudience(claims.aud.clone()));
        }
        let leeway = self.leeway_seconds;
        if now.saturating_sub(leeway) > claims.exp {
            return Err(VerifyError::Expired {
                exp: claims.exp,
                now,
            });
        }
        if let Some(nbf) = claims.nbf.filter(|nbf| now.saturating_add(leeway) < *nbf) {
            return Err(VerifyError::NotYetValid { nbf, now });
        }
        if let Some(iat) = claims.iat.filter(|iat| now.saturating_add(leeway) < *iat) {
            return Err(VerifyError::IssuedInFuture { iat, now });
        }
        Ok(())
    }
}

/// Checks the length and splits the token into its three segments.
fn split_token(token: &str) -> Result<jws::CompactParts<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(VerifyError::TooLarge(token.len()));
    }
    jws::split(token).ok_or(VerifyError::Malformed("not three dot-separated segments"))
}

fn parse_header(token: &str) -> Result<(jws::CompactParts<'_>, IncomingHeader), VerifyError> {
    let parts = split_token(token)?;
    let header_json = jws::decode_segment(parts.header)
        .ok_or(VerifyError::Malformed("header is not base64url"))?;
    let header = serde_json::from_slice::<IncomingHeader>(&header_json)
        .map_err(|_| VerifyError::Malformed("header is not a JSON object with a string alg"))?;
    Ok((parts, header))
}

/// The claims as `T`, without checking anything but the encoding: what a caller reads before
/// verifying (the issuer, which picks the keys) or besides what the verifier checks. Only the
/// fields of `T` are kept, so a token's other claims cost no allocation.
pub fn unverified_claims<T: serde::de::DeserializeOwned>(token: &str) -> Result<T, VerifyError> {
    let parts = split_token(token)?;
    jws::decode_segment(parts.payload)
        .and_then(|bytes| serde_json::from_slice::<T>(&bytes).ok())
        .ok_or(VerifyError::Malformed(
            "claims are not a base64url JSON object",
        ))
}

/// Header and claims as JSON, without checking anything but the encoding
/// (for `podpass token decode` and for finding a token's issuer before verifying it).
pub fn decode_unverified(
    token: &str,
) -> Result<(serde_json::Value, serde_json::Value), VerifyError> {
    let parts = split_token(token)?;
    let decode_json = |segment, what| {
        jws::decode_segment(segment)
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .filter(serde_json::Value::is_object)
            .ok_or(VerifyError::Malformed(what))
    };
    Ok((
        decode_json(parts.header, "header is not a base64url JSON object")?,
        decode_json(parts.payload, "claims are not a base64url JSON object")?,
    ))
}
