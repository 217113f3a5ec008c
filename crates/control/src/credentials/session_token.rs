//! STS `GetSessionToken`: temporary credentials of an IAM user or the account root itself, for
//! clients that must not hold a long-term key (a CI job given an hour). Only long-term
//! credentials may ask (a session asking gets AWS's refusal), the account root's sessions last
//! at most an hour as on AWS, and podpass has no MFA devices, so MFA parameters are refused
//! rather than ignored. The credentials act as their user: its policies apply as they are when
//! each request is decided.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html>

use podpass_session::{SessionIdentity, SessionKind};

use super::Issued;
use crate::{Asker, Caller, Control, Ctx, Error, Result};

/// GetSessionToken's default duration (12 hours), before the account root's cap.
const DEFAULT_SECONDS: i64 = 12 * 3600;
/// The longest session the account root gets, whatever it asks.
const ROOT_MAX_SECONDS: i64 = 3600;

impl Control {
    /// Issues the caller's own temporary credentials for `duration` seconds (already within
    /// STS's 900 to 129,600), refusing MFA (`with_mfa`) and callers that hold a session.
    pub async fn get_session_token(
        &self,
        ctx: &Ctx,
        duration: Option<i64>,
        with_mfa: bool,
    ) -> Result<Issued> {
        let caller = ctx.caller()?;
        if caller.is_temporary() {
            return Err(Error::NotAuthorized {
                why: "Cannot call GetSessionToken with session credentials".to_owned(),
            });
        }
        if with_mfa {
            return Err(Error::NotAuthorized {
                why: "MultiFactorAuthentication failed: no MFA device is registered with podpass"
                    .to_owned(),
            });
        }
        let requested = duration.unwrap_or(DEFAULT_SECONDS);
        let principal = caller.arn();
        // No role: the identity names the user (name, id, path) or the account root (its
        // account id as the id).
        let (identity, seconds) = match caller {
            Caller::User(user) => (
                SessionIdentity::new(
                    SessionKind::SessionToken,
                    &user.account,
                    &principal,
                    &user.user_id,
                    &user.user_name,
                    &user.path,
                    "",
                ),
                requested,
            ),
            _ => {
                let account = caller.account();
                let identity = SessionIdentity::new(
                    SessionKind::SessionToken,
                    account,
                    &principal,
                    account,
                    "",
                    "/",
                    "",
                );
                (identity, requested.min(ROOT_MAX_SECONDS))
            }
        };
        let asker = Asker {
            source: "sts.amazonaws.com",
            operation: "GetSessionToken",
            principal: &principal,
        };
        let (credentials, session) =
            self.mint(ctx, asker, "sts:GetSessionToken", identity, seconds)?;
        tracing::info!(request_id = %ctx.request_id, caller = %principal, expires = credentials.expiration, "issued session token");
        Ok(Issued {
            credentials,
            session,
            packed_policy_size: None,
        })
    }
}
