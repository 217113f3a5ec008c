//! Who is calling: SigV4 verification (header or presigned query) against the key the domain
//! layer resolves (a long-term key or a sealed session token), with AWS's errors for every way
//! it can fail.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use podpass_awsproto::AwsError;
use podpass_control::Caller;
use podpass_sigv4::{
    AuthInfo, PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, check_request,
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

/// What the kept keys may weigh, in bytes of their ids, scopes and secrets (some 40,000 keys).
const SIGNING_KEYS_BYTES: u64 = 4 << 20;

impl SigningKeys {
    pub(crate) fn new() -> Self {
        SigningKeys {
            keys: moka::sync::Cache::builder()
                // By weight, not count: a scope's region is the client's to choose.
                .weigher(|(id, scope): &(String, String), key: &Arc<DerivedKey>| {
                    u32::try_from(id.len() + scope.len() + key.secret_access_key.len())
                        .unwrap_or(u32::MAX)
                })
                .max_capacity(SIGNING_KEYS_BYTES)
                // A scope names one day; a key outliving it is never asked for again.
                .time_to_live(Duration::from_secs(24 * 60 * 60))
                .build(),
        }
    }

    /// Verifies `view`'s signature with the key of `secret_access_key` (the secret of the
    /// signer `auth` names) for `auth`'s scope: the one kept from an earlier call, or a new one,
    /// kept once a signature verifies with it, so that only a holder of the secret adds keys.
    fn verify(
        &self,
        view: &RequestView<'_>,
        auth: &AuthInfo,
        secret_access_key: &str,
    ) -> Result<(), SigV4Error> {
        let id = (auth.access_key_id.clone(), auth.scope.to_scope_string());
        if let Some(known) = self.keys.get(&id)
            && known.secret_access_key == secret_access_key
        {
            return verify_signature(view, auth, &known.key, PathMode::Normalized);
        }
        let key = SigningKey::derive(secret_access_key, &auth.scope);
        verify_signature(view, auth, &key, PathMode::Normalized)?;
        let derived = DerivedKey {
            secret_access_key: secret_access_key.to_owned(),
            key,
        };
        self.keys.insert(id, Arc::new(derived));
        Ok(())
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
    let payload_hash = podpass_sigv4::sha256_hex(body);
    let view = RequestView::from_http_parts(parts, &payload_hash);
    let verified = state
        .signing_keys
        .verify(&view, &auth, &signer.secret_access_key);
    verified.map_err(|e| {
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
    use podpass_sigv4::sign::{SigningParams, sign_headers};

    use super::*;

    const KEY_ID: &str = "AKIAEXAMPLE";

    /// A GetCallerIdentity POST signed with `secret` for `region` on `day` (YYYYMMDD).
    fn verify_signed(
        keys: &SigningKeys,
        signed_with: &str,
        secret: &str,
        region: &str,
        day: &str,
    ) -> bool {
        let time = podpass_sigv4::parse_amz_date(&format!("{day}T120000Z")).unwrap();
        let body_hash = podpass_sigv4::sha256_hex(b"Action=GetCallerIdentity");
        let unsigned =
            RequestView::new("POST", "/", "", &body_hash).with_header("host", b"sts.local");
        let signed = sign_headers(
            &unsigned,
            &SigningParams {
                access_key_id: KEY_ID,
                secret_access_key: signed_with,
                security_token: None,
                region,
                service: "sts",
                time,
                path_mode: PathMode::Normalized,
            },
        )
        .unwrap();
        let request = unsigned
            .with_header("x-amz-date", signed.x_amz_date.as_bytes())
            .with_header("authorization", signed.authorization.as_bytes());
        let auth = parse_auth(&request).unwrap();
        keys.verify(&request, &auth, secret).is_ok()
    }

    fn kept(keys: &SigningKeys, region: &str, day: &str) -> Option<String> {
        let scope = format!("{day}/{region}/sts/aws4_request");
        keys.keys
            .get(&(KEY_ID.to_owned(), scope))
            .map(|key| key.secret_access_key.clone())
    }

    #[test]
    fn a_signing_key_is_kept_once_it_verifies_and_reused_only_for_its_secret() {
        let keys = SigningKeys::new();
        let (today, tomorrow) = ("20261207", "20261208");
        // Signed with the first secret, checked against the second.
        let verifies =
            |signed_with, secret, day| verify_signed(&keys, signed_with, secret, "us-east-1", day);
        assert!(verifies("secret-1", "secret-1", today));
        assert_eq!(kept(&keys, "us-east-1", today).as_deref(), Some("secret-1"));
        // The kept key verifies the next call, and refuses a forged one.
        assert!(verifies("secret-1", "secret-1", today));
        assert!(!verifies("guess", "secret-1", today));
        // Another secret under the same key id (a store that changed under the cache): the
        // kept key is not used, and a signature made with the old secret fails.
        assert!(!verifies("secret-1", "secret-2", today));
        assert!(verifies("secret-2", "secret-2", today));
        assert_eq!(kept(&keys, "us-east-1", today).as_deref(), Some("secret-2"));
        // Another day is another key.
        assert!(verifies("secret-2", "secret-2", tomorrow));
        assert!(kept(&keys, "us-east-1", tomorrow).is_some());
    }

    #[test]
    fn signatures_that_fail_keep_nothing() {
        let keys = SigningKeys::new();
        // Whoever knows a key id can make up scopes, but without the secret adds no key.
        let region = "r".repeat(10_000);
        assert!(!verify_signed(
            &keys, "guess", "secret-1", &region, "20261207"
        ));
        assert_eq!(kept(&keys, &region, "20261207"), None);
    }
}
