//! Kubernetes ServiceAccount tokens, issuer side and verifier side.
//!
//! * Issuer: [`SigningKey`] (RS256 or ES256, PKCS#8 storage, kube-compatible `kid`),
//!   [`Jwks`] and [`DiscoveryDocument`] byte-compatible with kube-apiserver, and [`mint`]
//!   implementing TokenRequest semantics.
//! * Verifier: [`Verifier`] for STS / EKS Auth with an asymmetric-only algorithm allow-list and
//!   a precise [`VerifyError`]; [`decode_unverified`] for inspection.
//! * Kubelet: [`requires_refresh`] / [`refresh_at`].
//!
//! Pure logic: callers pass `now` as unix seconds and do all I/O.

mod algorithm;
mod claims;
mod discovery;
mod gojson;
mod jwk;
mod jws;
mod mint;
mod pem;
mod refresh;
mod request;
mod signing_key;
mod verify;

pub use algorithm::{JwtAlgorithm, UnsupportedAlgorithm};
pub use claims::{Claims, KubernetesClaims, ObjectRef};
pub use discovery::{DiscoveryDocument, discovery_document};
pub use jwk::{Jwks, PublicJwk};
pub use mint::{MintError, mint};
pub use pem::PemError;
pub use refresh::{MAX_TOKEN_AGE_SECONDS, refresh_at, requires_refresh};
pub use request::{
    DEFAULT_EXPIRATION_SECONDS, MAX_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, ServiceAccount,
    TokenRequest, TokenRequestError, cap_expiration,
};
pub use signing_key::{KeyAlgorithm, KeyError, SigningKey, key_id};
pub use verify::{
    DEFAULT_LEEWAY_SECONDS, JwksError, MAX_TOKEN_LENGTH, Verifier, VerifyError, decode_unverified,
    unverified_claims,
};
