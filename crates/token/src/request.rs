//! TokenRequest semantics (`authentication.k8s.io/v1`): defaults, bounds and capping.

use crate::claims::ObjectRef;

/// `expirationSeconds` when the request leaves it out.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime the API server accepts (10 minutes).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Longest lifetime the API server accepts (2^32 seconds).
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// The ServiceAccount a token is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (`metadata.uid`).
    pub uid: String,
}

impl ServiceAccount {
    /// The token subject: `system:serviceaccount:NS:NAME`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

/// The spec of a TokenRequest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Audiences; must be non-empty (the caller substitutes the API audiences for an empty list).
    pub audiences: Vec<String>,
    /// Requested lifetime; `None` means [`DEFAULT_EXPIRATION_SECONDS`].
    pub expiration_seconds: Option<i64>,
    /// Pod the token is bound to.
    pub bound_pod: Option<ObjectRef>,
    /// Node the token is bound to (alone, or alongside the pod as node info).
    pub bound_node: Option<ObjectRef>,
}

/// A TokenRequest the API server would reject. Messages are kube-apiserver's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    /// `expirationSeconds` below 600.
    #[error("may not specify a duration less than 10 minutes")]
    ExpirationTooShort(i64),
    /// `expirationSeconds` above 2^32.
    #[error("may not specify a duration larger than 2^32 seconds")]
    ExpirationTooLong(i64),
    /// No audience given.
    #[error("at least one audience is required")]
    NoAudiences,
}

impl TokenRequest {
    /// A request for `audiences` with the default lifetime and no binding.
    pub fn new(audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        TokenRequest {
            audiences: audiences.into_iter().map(Into::into).collect(),
            ..TokenRequest::default()
        }
    }

    /// Validates the request and returns the effective lifetime in seconds.
    pub fn validate(&self) -> Result<i64, TokenRequestError> {
        if self.audiences.is_empty() {
            return Err(TokenRequestError::NoAudiences);
        }
        let seconds = self
            .expiration_seconds
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        if seconds < MIN_EXPIRATION_SECONDS {
            return Err(TokenRequestError::ExpirationTooShort(seconds));
        }
        if seconds > MAX_EXPIRATION_SECONDS {
            return Err(TokenRequestError::ExpirationTooLong(seconds));
        }
        Ok(seconds)
    }
}

/// Applies `--service-account-max-token-expiration`: the effective lifetime and, when
/// shortened, the API server's warning text.
pub fn cap_expiration(requested_seconds: i64, max_seconds: i64) -> (i64, Option<String>) {
    if requested_seconds <= max_seconds {
        return (requested_seconds, None);
    }
    let warning = format!(
        "requested expiration of {requested_seconds} seconds shortened to {max_seconds} seconds"
    );
    (max_seconds, Some(warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lifetime_is_one_hour() {
        assert_eq!(
            TokenRequest::new(["sts.amazonaws.com"]).validate(),
            Ok(3600)
        );
    }

    #[test]
    fn lifetime_bounds_are_inclusive_and_use_kube_messages() {
        let with = |seconds| TokenRequest {
            expiration_seconds: Some(seconds),
            ..TokenRequest::new(["a"])
        };
        assert_eq!(with(600).validate(), Ok(600));
        assert_eq!(with(1 << 32).validate(), Ok(1 << 32));
        let short = with(599).validate().unwrap_err();
        assert_eq!(short, TokenRequestError::ExpirationTooShort(599));
        assert_eq!(
            short.to_string(),
            "may not specify a duration less than 10 minutes"
        );
        let long = with((1 << 32) + 1).validate().unwrap_err();
        assert_eq!(long, TokenRequestError::ExpirationTooLong((1 << 32) + 1));
        assert_eq!(
            long.to_string(),
            "may not specify a duration larger than 2^32 seconds"
        );
        assert_eq!(
            with(-1).validate(),
            Err(TokenRequestError::ExpirationTooShort(-1))
        );
    }

    #[test]
    fn audiences_are_required() {
        let empty: [&str; 0] = [];
        assert_eq!(
            TokenRequest::new(empty).validate(),
            Err(TokenRequestError::NoAudiences)
        );
    }

    #[test]
    fn capping_warns_like_the_api_server() {
        assert_eq!(cap_expiration(3600, 86400), (3600, None));
        assert_eq!(cap_expiration(86400, 86400), (86400, None));
        assert_eq!(
            cap_expiration(172800, 86400),
            (
                86400,
                Some("requested expiration of 172800 seconds shortened to 86400 seconds".into())
            )
        );
    }

    #[test]
    fn subject_format() {
        let sa = ServiceAccount {
            namespace: "ns".into(),
            name: "app".into(),
            uid: "u".into(),
        };
        assert_eq!(sa.subject(), "system:serviceaccount:ns:app");
    }
}
