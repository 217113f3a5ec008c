//! Scope, clock and signature checks.

use jiff::{SignedDuration, Timestamp};

use crate::auth::{AuthInfo, AuthLocation};
use crate::canonical::{canonical_request, string_to_sign};
use crate::error::SigV4Error;
use crate::key::SigningKey;
use crate::request::{PathMode, RequestView};

/// What the endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Signing service names accepted in the credential scope (e.g. `["sts"]`).
    pub services: &'a [&'a str],
    /// Regions accepted in the credential scope; `None` accepts any region.
    pub regions: Option<&'a [&'a str]>,
    /// How the path is canonicalised.
    pub path_mode: PathMode,
    /// Server time.
    pub now: Timestamp,
    /// Largest accepted difference between `X-Amz-Date` and `now`.
    pub max_skew: SignedDuration,
}

impl<'a> VerifyOptions<'a> {
    /// Skew AWS tolerates.
    pub const DEFAULT_MAX_SKEW: SignedDuration = SignedDuration::from_mins(15);

    /// Options for `services` at `now`: any region, normalised paths, 15 minutes of skew.
    pub fn new(services: &'a [&'a str], now: Timestamp) -> Self {
        Self {
            services,
            regions: None,
            path_mode: PathMode::Normalized,
            now,
            max_skew: Self::DEFAULT_MAX_SKEW,
        }
    }

    /// Restricts the accepted regions.
    pub fn with_regions(mut self, regions: &'a [&'a str]) -> Self {
        self.regions = Some(regions);
        self
    }

    /// Sets the path canonicalisation.
    pub fn with_path_mode(mut self, path_mode: PathMode) -> Self {
        self.path_mode = path_mode;
        self
    }
}

/// Checks everything that does not need the secret: scope date, service, region, `host`
/// signed, and the clock (skew, or presigned validity window).
pub fn check_request(auth: &AuthInfo, options: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
    if auth.amz_date.get(..8) != Some(auth.scope.date.as_str()) {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.scope.date.clone(),
            request_date: auth.amz_date.clone(),
        });
    }
    if !options.services.contains(&auth.scope.service.as_str()) {
        return Err(SigV4Error::WrongService {
            service: auth.scope.service.clone(),
        });
    }
    if let Some(regions) = options.regions
        && !regions.contains(&auth.scope.region.as_str())
    {
        return Err(SigV4Error::WrongRegion {
            region: auth.scope.region.clone(),
        });
    }
    if !auth.signed_headers.iter().any(|name| name == "host") {
        return Err(SigV4Error::HostNotSigned);
    }
    check_clock(auth, options)
}

fn check_clock(auth: &AuthInfo, options: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
    let now = options.now;
    let skew = now.duration_since(auth.request_time);
    match auth.location {
        AuthLocation::Header if skew.abs() > options.max_skew => {
            Err(SigV4Error::RequestTimeSkewed {
                request_time: auth.request_time,
                now,
                skew,
                max_skew: options.max_skew,
            })
        }
        AuthLocation::Header => Ok(()),
        AuthLocation::Query { .. } if -skew > options.max_skew => {
            Err(SigV4Error::PresignNotYetValid {
                request_time: auth.request_time,
                now,
            })
        }
        AuthLocation::Query { expires_seconds } => {
            let expired_at = auth
                .request_time
                .checked_add(SignedDuration::from_secs(i64::from(expires_seconds)))
                .unwrap_or(Timestamp::MAX);
            if now > expired_at {
                Err(SigV4Error::PresignExpired { expired_at, now })
            } else {
                Ok(())
            }
        }
    }
}

/// Recomputes the signature with `key` and compares it in constant time.
pub fn verify_signature(
    request: &RequestView<'_>,
    auth: &AuthInfo,
    key: &SigningKey,
    path_mode: PathMode,
) -> Result<(), SigV4Error> {
    let canonical_request = canonical_request(request, auth, path_mode)?;
    let string_to_sign = string_to_sign(&auth.amz_date, &auth.scope, &canonical_request);
    if key.matches(&string_to_sign, &auth.signature) {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch {
            canonical_request,
            string_to_sign,
        })
    }
}

/// [`check_request`] then [`verify_signature`].
pub fn verify(
    request: &RequestView<'_>,
    auth: &AuthInfo,
    key: &SigningKey,
    options: &VerifyOptions<'_>,
) -> Result<(), SigV4Error> {
    check_request(auth, options)?;
    verify_signature(request, auth, key, options.path_mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CredentialScope;
    use crate::time::parse_amz_date;

    fn auth(location: AuthLocation) -> AuthInfo {
        AuthInfo {
            access_key_id: "AKID".into(),
            scope: CredentialScope {
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "sts".into(),
            },
            amz_date: "20150830T123600Z".into(),
            request_time: parse_amz_date("20150830T123600Z").unwrap(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: "ab".into(),
            security_token: None,
            location,
        }
    }

    fn at(amz_date: &str) -> Timestamp {
        parse_amz_date(amz_date).unwrap()
    }

    fn options(now: &str) -> VerifyOptions<'static> {
        VerifyOptions::new(&["sts", "iam"], at(now))
    }

    #[test]
    fn accepts_matching_scope_and_clock() {
        assert_eq!(
            check_request(&auth(AuthLocation::Header), &options("20150830T123600Z")),
            Ok(())
        );
        assert_eq!(
            check_request(
                &auth(AuthLocation::Header),
                &options("20150830T125100Z").with_regions(&["us-east-1"])
            ),
            Ok(())
        );
    }

    #[test]
    fn rejects_scope_date_of_another_day() {
        let mut info = auth(AuthLocation::Header);
        info.scope.date = "20150831".into();
        assert_eq!(
            check_request(&info, &options("20150830T123600Z")),
            Err(SigV4Error::ScopeDateMismatch {
                scope_date: "20150831".into(),
                request_date: "20150830T123600Z".into()
            })
        );
    }

    #[test]
    fn rejects_wrong_service_and_region() {
        let mut info = auth(AuthLocation::Header);
        info.scope.service = "s3".into();
        assert_eq!(
            check_request(&info, &options("20150830T123600Z")),
            Err(SigV4Error::WrongService {
                service: "s3".into()
            })
        );
        assert_eq!(
            check_request(
                &auth(AuthLocation::Header),
                &options("20150830T123600Z").with_regions(&["eu-west-1"])
            ),
            Err(SigV4Error::WrongRegion {
                region: "us-east-1".into()
            })
        );
    }

    #[test]
    fn requires_host_to_be_signed() {
        let mut info = auth(AuthLocation::Header);
        info.signed_headers = vec!["x-amz-date".into()];
        assert_eq!(
            check_request(&info, &options("20150830T123600Z")),
            Err(SigV4Error::HostNotSigned)
        );
    }

    #[test]
    fn header_auth_skew_limit_is_inclusive_fifteen_minutes() {
        let info = auth(AuthLocation::Header);
        assert_eq!(check_request(&info, &options("20150830T125100Z")), Ok(()));
        assert_eq!(check_request(&info, &options("20150830T122100Z")), Ok(()));
        assert_eq!(
            check_request(&info, &options("20150830T125101Z")),
            Err(SigV4Error::RequestTimeSkewed {
                request_time: at("20150830T123600Z"),
                now: at("20150830T125101Z"),
                skew: SignedDuration::from_secs(901),
                max_skew: VerifyOptions::DEFAULT_MAX_SKEW,
            })
        );
        assert_eq!(
            check_request(&info, &options("20150830T122059Z")),
            Err(SigV4Error::RequestTimeSkewed {
                request_time: at("20150830T123600Z"),
                now: at("20150830T122059Z"),
                skew: SignedDuration::from_secs(-901),
                max_skew: VerifyOptions::DEFAULT_MAX_SKEW,
            })
        );
    }

    #[test]
    fn presigned_window() {
        let info = auth(AuthLocation::Query {
            expires_seconds: 3600,
        });
        assert_eq!(check_request(&info, &options("20150830T133600Z")), Ok(()));
        assert_eq!(
            check_request(&info, &options("20150830T133601Z")),
            Err(SigV4Error::PresignExpired {
                expired_at: at("20150830T133600Z"),
                now: at("20150830T133601Z")
            })
        );
        assert_eq!(check_request(&info, &options("20150830T122100Z")), Ok(()));
        assert_eq!(
            check_request(&info, &options("20150830T122059Z")),
            Err(SigV4Error::PresignNotYetValid {
                request_time: at("20150830T123600Z"),
                now: at("20150830T122059Z")
            })
        );
    }
}
