//! STS session credentials whose session token carries the whole session, sealed with
//! AES-256-GCM, so any replica can check a request's signature without a database read.
//!
//! [`Sealer::mint`] draws an `ASIA...` access key id and a secret from the system CSPRNG and
//! seals the [`SessionClaims`] into the token; [`Sealer::open`] authenticates and decrypts it.
//! Keys rotate through the [`Sealer`] key ring. Pure logic: callers pass `now` (unix seconds).

mod claims;
mod credentials;
mod error;
mod key;
mod message;
mod sealer;
mod token;

pub use claims::{FederatedIdentity, SessionClaims, SessionIdentity, SessionKind, SessionTag};
pub use credentials::{
    ACCESS_KEY_ID_LEN, ACCESS_KEY_ID_PREFIX, Credentials, SECRET_ACCESS_KEY_LEN,
};
pub use error::{OpenError, SealError};
pub use key::SealingKey;
pub use message::{MAX_MESSAGE_LEN, MESSAGE_PREFIX};
pub use sealer::Sealer;
pub use token::{MAX_SESSION_TOKEN_LEN, SESSION_TOKEN_PREFIX};
