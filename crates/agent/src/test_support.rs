//! Test doubles shared by the unit tests: a scriptable EKS Auth and token builders.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use tokio::sync::Semaphore;

use crate::BoxFuture;
use crate::clock::Clock;
use crate::eksauth::{EksAuth, EksAuthError, PodCredentials, ServiceError};
use crate::time_util::add_duration;

/// The account in every fake assumed-role ARN.
pub(crate) const ACCOUNT: &str = "111122223333";

/// EKS Auth double: counts calls, answers with credentials unique to the call and the token, or
/// with queued errors; can hold every call until released.
#[derive(Debug)]
pub(crate) struct FakeEksAuth {
    clock: Arc<dyn Clock>,
    calls: AtomicUsize,
    lifetime: Mutex<Duration>,
    errors: Mutex<VecDeque<EksAuthError>>,
    gate: Option<Semaphore>,
}

impl FakeEksAuth {
    /// Answers immediately with credentials valid for 6 h.
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            calls: AtomicUsize::new(0),
            lifetime: Mutex::new(Duration::from_secs(6 * 3600)),
            errors: Mutex::new(VecDeque::new()),
            gate: None,
        }
    }

    /// Every call waits for a [`FakeEksAuth::release`] permit.
    pub(crate) fn gated(clock: Arc<dyn Clock>) -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::new(clock)
        }
    }

    pub(crate) fn release(&self, calls: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(calls);
        }
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn set_lifetime(&self, lifetime: Duration) {
        *self.lifetime.lock().unwrap() = lifetime;
    }

    /// The next call fails with `error` (queued in order).
    pub(crate) fn fail_next(&self, error: EksAuthError) {
        self.errors.lock().unwrap().push_back(error);
    }

    async fn answer(&self, token: &str) -> Result<PodCredentials, EksAuthError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        if let Some(error) = self.errors.lock().unwrap().pop_front() {
            return Err(error);
        }
        let lifetime = *self.lifetime.lock().unwrap();
        Ok(PodCredentials {
            access_key_id: format!("ASIACALL{call}"),
            secret_access_key: format!("secret-for-{}", token_id(token)),
            session_token: format!("session-{call}"),
            expiration: add_duration(self.clock.now(), lifetime),
            assumed_role_arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/r/eks-c1-pod"),
            association_id: "a-1".into(),
        })
    }
}

impl EksAuth for FakeEksAuth {
    fn assume_role_for_pod_identity<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<PodCredentials, EksAuthError>> {
        Box::pin(self.answer(token))
    }
}

/// A short, stable identifier of a token (its `sub` claim when it was built by [`jwt`]).
fn token_id(token: &str) -> String {
    token
        .split('.')
        .nth(1)
        .and_then(|claims| URL_SAFE_NO_PAD.decode(claims).ok())
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|claims| claims.get("sub")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// A structurally valid HS256 JWT (bogus signature) for `subject`, valid in [nbf, exp).
pub(crate) fn jwt(subject: &str, not_before: Timestamp, expires: Timestamp) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": "some-issuer",
        "aud": ["some-audience"],
        "sub": subject,
        "iat": not_before.as_second(),
        "nbf": not_before.as_second(),
        "exp": expires.as_second(),
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

/// A JWT for `subject` valid for an hour around `now`.
pub(crate) fn current_jwt(subject: &str, now: Timestamp) -> String {
    jwt(subject, now, add_duration(now, Duration::from_secs(3600)))
}

/// An EKS Auth error response.
pub(crate) fn service_error(code: &str, status: u16) -> EksAuthError {
    EksAuthError::Service(ServiceError {
        status,
        code: code.into(),
        message: format!("{code} message"),
        request_id: "req-123".into(),
    })
}

/// A fixed start time for manual clocks.
pub(crate) fn start_time() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}
