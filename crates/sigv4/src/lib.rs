//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) request verification for servers, plus a small signer.
//!
//! Typical server flow:
//! 1. build a [`RequestView`] over the incoming request (no body copy: pass the body's SHA-256);
//! 2. [`parse_auth`] it ([`SigV4Error::NotSigned`] means anonymous);
//! 3. [`check_request`] the scope and clock against [`VerifyOptions`];
//! 4. look up the secret for [`AuthInfo::access_key_id`], derive (or fetch from a cache) the
//!    [`SigningKey`] for [`AuthInfo::scope`];
//! 5. [`verify_signature`].
//!
//! [`verify`] runs steps 3 and 5 together.
//!
//! ```
//! use podpass_sigv4::sign::{SigningParams, sign_headers};
//! use podpass_sigv4::{PathMode, RequestView, SigningKey, VerifyOptions, parse_auth, sha256_hex, verify};
//!
//! let now = podpass_sigv4::parse_amz_date("20261128T120000Z").unwrap();
//! let body_hash = sha256_hex(b"Action=GetCallerIdentity&Version=2011-06-15");
//! let unsigned = RequestView::new("POST", "/", "", &body_hash).with_header("host", b"sts.local");
//! // A client signs...
//! let signed = sign_headers(&unsigned, &SigningParams {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: "secret",
//!     security_token: None,
//!     region: "us-east-1",
//!     service: "sts",
//!     time: now,
//!     path_mode: PathMode::Normalized,
//! })?;
//! let request = unsigned
//!     .with_header("x-amz-date", signed.x_amz_date.as_bytes())
//!     .with_header("authorization", signed.authorization.as_bytes());
//! // ...and the server verifies.
//! let auth = parse_auth(&request)?;
//! assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
//! let key = SigningKey::derive("secret", &auth.scope);
//! verify(&request, &auth, &key, &VerifyOptions::new(&["sts", "iam"], now))?;
//! # Ok::<(), podpass_sigv4::SigV4Error>(())
//! ```

#![warn(missing_docs)]

mod auth;
mod canonical;
mod encode;
mod error;
mod key;
mod request;
pub mod sign;
mod time;
mod verify;

pub use auth::{AuthInfo, AuthLocation, CredentialScope, MAX_PRESIGN_EXPIRES_SECONDS, parse_auth};
pub use canonical::{canonical_request, string_to_sign};
pub use error::{MalformedReason, SigV4Error};
pub use key::SigningKey;
pub use request::{EMPTY_PAYLOAD_SHA256, PathMode, RequestView, UNSIGNED_PAYLOAD, sha256_hex};
pub use time::{format_amz_date, parse_amz_date};
pub use verify::{VerifyOptions, check_request, verify, verify_signature};

/// The only signing algorithm this crate handles.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
