//! Minting ServiceAccount tokens as kube-apiserver's TokenRequest does.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::claims::{Claims, KubernetesClaims, ObjectRef};
use crate::gojson::to_go_json;
use crate::jws::{self, OutgoingHeader};
use crate::request::{ServiceAccount, TokenRequest, TokenRequestError};
use crate::signing_key::{KeyError, SigningKey};

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The request is invalid (message is the API server's).
    #[error(transparent)]
    Request(#[from] TokenRequestError),
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The system random generator failed while drawing the `jti`.
    #[error("random generator failed while drawing the token id")]
    Random,
    /// The claims could not be serialised.
    #[error("cannot serialise token: {0}")]
    Json(#[from] serde_json::Error),
}

/// Signs a token for `service_account` and returns it with its claims.
///
/// Claims are those of kube-apiserver: `aud` (array), `exp`, `iat`, `nbf` (= `iat`), `iss`,
/// `jti` (UUID v4), `kubernetes.io` and `sub`; the header carries only `alg` and `kid`.
pub fn mint(
    key: &SigningKey,
    issuer: &str,
    service_account: &ServiceAccount,
    request: &TokenRequest,
    now: i64,
) -> Result<(String, Claims), MintError> {
    let lifetime = request.validate()?;
    let claims = Claims {
        aud: request.audiences.clone(),
        azp: None,
        exp: now.saturating_add(lifetime),
        iat: Some(now),
        iss: issuer.to_owned(),
        jti: Some(random_uuid()?),
        kubernetes: Some(KubernetesClaims {
            namespace: service_account.namespace.clone(),
            node: request.bound_node.clone(),
            pod: request.bound_pod.clone(),
            secret: None,
            serviceaccount: ObjectRef {
                name: service_account.name.clone(),
                uid: service_account.uid.clone(),
            },
            warnafter: None,
        }),
        nbf: Some(now),
        sub: service_account.subject(),
    };
    let header = OutgoingHeader {
        alg: key.algorithm().jwt_algorithm().as_str(),
        kid: key.kid(),
    };
    let signing_input = jws::signing_input(&to_go_json(&header)?, &to_go_json(&claims)?);
    let signature = key.sign(signing_input.as_bytes())?;
    Ok((jws::attach_signature(signing_input, &signature), claims))
}

fn random_uuid() -> Result<String, MintError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| MintError::Random)?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string())
}
