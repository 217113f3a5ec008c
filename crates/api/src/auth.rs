//! Who is calling: SigV4 verification (header or presigned query) against the key the domain
//! layer resolves (a long-term key or a sealed session token), with AWS's errors for every way
//! it can fail.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use podpass_awsproto::AwsError;
use podpass_control::Caller;
use podpass_sigv4::{
    CredentialScope, PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, check_request,
    parse_auth, verify_signature,
};

use crate::AppState;
use crate::errors;

/// Derived signing keys by access key id and credential scope. Deriving one takes four HMACs,
/// more than the rest of a signature check, and one key serves every call its client signs
/// that day in that region for that service.
#[derive(Clone)]
pub(crate) struct SigningKeys {
    keys: moka::sync::Cache<(String, String), Arc<DerivedKey>>,
}

struct DerivedKey {
    /// The secret the key was derived from: a key is only reused for the same one.
    secret_access_key: String,
    key: SigningKey,
}

impl SigningKeys {
    pub(crate) fn new() -> Self {
        SigningKeys {
            keys: moka::sync::Cache::builder()
                .max_capacity(10_000)
                // A scope names one day; a key outliving it is never asked for again.
                .time_to_live(Duration::from_secs(24 * 60 * 60))
                .build(),
        }
    }

    /// The signing key of `secret_access_key` (the secret of `access_key_id`) for `scope`.
    fn get(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        scope: &CredentialScope,
    ) -> Arc<DerivedKey> {
        let id = (access_key_id.to_owned(), scope.to_scope_string());
        if let Some(known) = self.keys.get(&id)
            && known.secret_access_key == secret_access_key
        {
            return known;
        }
        let derived = Arc::new(DerivedKey {
            secret_access_key: secret_access_key.to_owned(),
            key: SigningKey::derive(secret_access_key, scope),
        });
        self.keys.insert(id, derived.clone());
        derived
    }
}

fn sigv4_error(e: &SigV4Error) -> AwsError {
    AwsError::new(e.aws_code(), e.aws_message(), e.http_status())
}

/// Authenticates a request signed for one of `services`. `Ok(None)`: the request is unsigned.
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    services: &[&str],
) -> Result<Option<Caller>, AwsError> {
    // Where a request claims to be signed does not depend on its body, so an unsigned call
    // (AssumeRoleWithWebIdentity, with its token in the body) is not hashed.
    let auth = match parse_auth(&RequestView::from_http_parts(parts, "")) {
        Ok(auth) => auth,
        Err(SigV4Error::NotSigned) => return Ok(None),
        Err(e) => return Err(sigv4_error(&e)),
    };
    let now = jiff::Timestamp::now();
    check_request(&auth, &VerifyOptions::new(services, now)).map_err(|e| sigv4_error(&e))?;
    let signer = state
        .control
        .signing_identity(
            &auth.access_key_id,
            auth.security_token.as_deref(),
            now.as_second(),
        )
        .await
        .map_err(errors::query)?;
    let key = state
        .signing_keys
        .get(&auth.access_key_id, &signer.secret_access_key, &auth.scope);
    let payload_hash = podpass_sigv4::sha256_hex(body);
    let view = RequestView::from_http_parts(parts, &payload_hash);
    verify_signature(&view, &auth, &key.key, PathMode::Normalized).map_err(|e| {
        if let SigV4Error::SignatureMismatch {
            canonical_request, ..
        } = &e
        {
            tracing::debug!(%canonical_request, "signature mismatch");
        }
        sigv4_error(&e)
    })?;
    Ok(Some(signer.caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_key_is_reused_only_for_the_same_secret_and_scope() {
        let keys = SigningKeys::new();
        let scope = |date: &str| CredentialScope {
            date: date.to_owned(),
            region: "us-east-1".to_owned(),
            service: "sts".to_owned(),
        };
        let today = scope("20261207");
        let first = keys.get("AKIAEXAMPLE", "secret-1", &today);
        assert!(Arc::ptr_eq(
            &first,
            &keys.get("AKIAEXAMPLE", "secret-1", &today)
        ));
        let string_to_sign = "AWS4-HMAC-SHA256\n20261207T000000Z\nscope\nhash";
        let signed = SigningKey::derive("secret-1", &today).sign(string_to_sign);
        assert!(first.key.matches(string_to_sign, &signed));
        // Another secret under the same key id (a store that changed under the cache): derived
        // anew, and a signature made with the old secret no longer verifies.
        let changed = keys.get("AKIAEXAMPLE", "secret-2", &today);
        assert!(!changed.key.matches(string_to_sign, &signed));
        // Another day is another key.
        let tomorrow = keys.get("AKIAEXAMPLE", "secret-2", &scope("20261208"));
        assert!(!Arc::ptr_eq(&changed, &tomorrow));
        assert_eq!(
            tomorrow.key.sign(string_to_sign),
            SigningKey::derive("secret-2", &scope("20261208")).sign(string_to_sign)
        );
    }
}
