//! Secret keys for s3s's SigV4 verification: the admin's long-term keys (the domain layer's
//! cache, `podpass_control::authn::AccessKeys`), and session keys opened from their sealed
//! token by the front layer just before.

use std::sync::Arc;
use std::time::Duration;

use podpass_control::Control;
use podpass_control::authn::AccessKeys;
use podpass_session::{ACCESS_KEY_ID_PREFIX, SessionClaims};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// Sessions whose token was opened by the front layer, by access key id. Entries outlive the
/// request that added them only until the session's expiry.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    sessions: moka::sync::Cache<String, Arc<SessionClaims>>,
}

impl SessionKeys {
    /// An empty map.
    pub(crate) fn new() -> Self {
        SessionKeys {
            sessions: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(300))
                .build(),
        }
    }

    /// Records an opened session. An access key id names one session only (the token binds
    /// it), so a known one is left as it is: a cache write per request costs more than a read.
    pub(crate) fn insert(&self, claims: Arc<SessionClaims>) {
        self.sessions
            .entry_by_ref(claims.access_key_id.as_str())
            .or_insert_with(|| claims.clone());
    }

    /// The session of `access_key_id`, unless it has expired at `now` (unix seconds).
    pub(crate) fn get(&self, access_key_id: &str, now: i64) -> Option<Arc<SessionClaims>> {
        let claims = self.sessions.get(access_key_id)?;
        (now < claims.expires_at).then_some(claims)
    }
}

/// The [`S3Auth`] podpass gives s3s.
pub(crate) struct KeyResolver {
    pub control: Control,
    pub sessions: SessionKeys,
}

fn unknown_key() -> s3s::S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Auth for KeyResolver {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key.starts_with(ACCESS_KEY_ID_PREFIX) {
            // Known once a request's token opened for this key (front layer); the authorizer
            // then checks that this very request carried that token.
            return self
                .sessions
                .get(access_key, podpass_control::now())
                .map(|claims| SecretKey::from(claims.secret_access_key.as_str()))
                .ok_or_else(unknown_key);
        }
        find_admin_key(self.control.access_keys(), access_key)
            .await?
            .map(|key| SecretKey::from(key.secret_access_key))
            .ok_or_else(unknown_key)
    }
}

/// The long-term key `access_key_id`, with S3's error when the store fails.
pub(crate) async fn find_admin_key(
    keys: &AccessKeys,
    access_key_id: &str,
) -> S3Result<Option<podpass_store::AccessKey>> {
    keys.find(access_key_id).await.map_err(|error| {
        tracing::error!(%error, "reading access keys");
        s3_error!(InternalError)
    })
}
