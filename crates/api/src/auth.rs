//! Who is calling: SigV4 verification (header or presigned query) against the admin's long-term
//! keys or a sealed session token, with AWS's errors for every way it can fail.

use std::collections::HashMap;
use std::sync::RwLock;

use http::request::Parts;
use podpass_awsproto::AwsError;
use podpass_session::{OpenError, SessionClaims};
use podpass_sigv4::{
    AuthInfo, PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, check_request,
    parse_auth, verify_signature,
};
use podpass_store::{AccessKey, Store};

use crate::AppState;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The account root, through a long-term admin key.
    Root {
        /// Account id.
        account: String,
        /// Key used.
        access_key_id: String,
    },
    /// A role session, through temporary credentials.
    Session(Box<SessionClaims>),
}

impl Caller {
    /// The caller's ARN as GetCallerIdentity reports it.
    pub fn arn(&self) -> String {
        match self {
            Caller::Root { account, .. } => format!("arn:aws:iam::{account}:root"),
            Caller::Session(session) => session.assumed_role_arn(),
        }
    }

    /// The caller's account id.
    pub fn account(&self) -> &str {
        match self {
            Caller::Root { account, .. } => account,
            Caller::Session(session) => &session.identity.account,
        }
    }
}

/// The long-term keys, cached in memory; a miss rereads the store (the CLI may have added one).
#[derive(Default)]
pub struct AccessKeys {
    keys: RwLock<HashMap<String, AccessKey>>,
}

impl AccessKeys {
    async fn find(
        &self,
        store: &Store,
        access_key_id: &str,
    ) -> Result<Option<AccessKey>, AwsError> {
        if let Some(key) = self.read().get(access_key_id) {
            return Ok(Some(key.clone()));
        }
        let all = store.access_keys().await.map_err(|e| {
            tracing::error!(error = %e, "reading access keys");
            AwsError::internal_failure("An internal error occurred.")
        })?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.clear();
        keys.extend(all.into_iter().map(|k| (k.access_key_id.clone(), k)));
        Ok(keys.get(access_key_id).cloned())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, AccessKey>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn sigv4_error(e: &SigV4Error) -> AwsError {
    AwsError::new(e.aws_code(), e.aws_message(), e.http_status())
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// Authenticates a request signed for one of `services`. `Ok(None)`: the request is unsigned.
pub async fn authenticate(
    state: &AppState,
    parts: &Parts,
    payload_hash: &str,
    services: &[&str],
) -> Result<Option<Caller>, AwsError> {
    let view = RequestView::from_http_parts(parts, payload_hash);
    let auth = match parse_auth(&view) {
        Ok(auth) => auth,
        Err(SigV4Error::NotSigned) => return Ok(None),
        Err(e) => return Err(sigv4_error(&e)),
    };
    let now = jiff::Timestamp::now();
    check_request(&auth, &VerifyOptions::new(services, now)).map_err(|e| sigv4_error(&e))?;
    let (caller, secret) = resolve_key(state, &auth, now.as_second()).await?;
    let key = SigningKey::derive(&secret, &auth.scope);
    verify_signature(&view, &auth, &key, PathMode::Normalized).map_err(|e| {
        if let SigV4Error::SignatureMismatch {
            canonical_request, ..
        } = &e
        {
            tracing::debug!(%canonical_request, "signature mismatch");
        }
        sigv4_error(&e)
    })?;
    Ok(Some(caller))
}

async fn resolve_key(
    state: &AppState,
    auth: &AuthInfo,
    now: i64,
) -> Result<(Caller, String), AwsError> {
    if let Some(token) = &auth.security_token {
        let session = state
            .key_ring()
            .open(token, &auth.access_key_id, now)
            .await
            .map_err(|e| match e {
                OpenError::Expired { .. } => {
                    AwsError::expired_token("The security token included in the request is expired")
                }
                _ => AwsError::invalid_client_token_id(INVALID_TOKEN),
            })?;
        let secret = session.secret_access_key.clone();
        return Ok((Caller::Session(Box::new(session)), secret));
    }
    if auth
        .access_key_id
        .starts_with(podpass_session::ACCESS_KEY_ID_PREFIX)
    {
        // Temporary keys never work without their session token.
        return Err(AwsError::invalid_client_token_id(INVALID_TOKEN));
    }
    let key = state
        .access_keys()
        .find(state.store(), &auth.access_key_id)
        .await?
        .ok_or_else(|| AwsError::invalid_client_token_id(INVALID_TOKEN))?;
    let account = key
        .principal_arn
        .split(':')
        .nth(4)
        .unwrap_or(&state.settings().account_id)
        .to_owned();
    Ok((
        Caller::Root {
            account,
            access_key_id: key.access_key_id,
        },
        key.secret_access_key,
    ))
}
