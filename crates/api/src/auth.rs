//! Who is calling: SigV4 verification (header or presigned query) against the key the domain
//! layer resolves (a long-term key or a sealed session token), with AWS's errors for every way
//! it can fail.

use http::request::Parts;
use podpass_awsproto::AwsError;
use podpass_control::Caller;
use podpass_sigv4::{
    PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, check_request, parse_auth,
    verify_signature,
};

use crate::AppState;
use crate::errors;

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
    let key = SigningKey::derive(&signer.secret_access_key, &auth.scope);
    let payload_hash = podpass_sigv4::sha256_hex(body);
    let view = RequestView::from_http_parts(parts, &payload_hash);
    verify_signature(&view, &auth, &key, PathMode::Normalized).map_err(|e| {
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
