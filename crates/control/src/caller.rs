//! Who is calling, and the context of one request: what every operation is given.

use std::net::IpAddr;
use std::sync::Arc;

use podpass_session::{SessionClaims, SessionKind};

use crate::{Error, Result};

/// An authenticated caller.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The account root, through a long-term access key or the temporary credentials of its
    /// `GetSessionToken` (an `ASIA` key).
    Root {
        /// Account id.
        account: String,
        /// Key used.
        access_key_id: String,
    },
    /// A role session, through temporary credentials.
    Session(Arc<SessionClaims>),
}

impl Caller {
    /// Who signed with `session`'s credentials: its role session, or for `GetSessionToken`'s
    /// credentials the account root itself.
    pub fn of_session(session: Arc<SessionClaims>) -> Caller {
        if session.identity.kind == SessionKind::SessionToken {
            return Caller::Root {
                account: session.identity.account.clone(),
                access_key_id: session.access_key_id.clone(),
            };
        }
        Caller::Session(session)
    }

    /// Whether the caller signed with temporary credentials.
    pub fn is_temporary(&self) -> bool {
        match self {
            Caller::Root { access_key_id, .. } => {
                access_key_id.starts_with(podpass_session::ACCESS_KEY_ID_PREFIX)
            }
            Caller::Session(_) => true,
        }
    }

    /// The caller's ARN as GetCallerIdentity reports it.
    pub fn arn(&self) -> String {
        match self {
            Caller::Root { account, .. } => podpass_arn::account_root(account),
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

    /// The caller's user id as GetCallerIdentity reports it: the account for the root,
    /// `ROLE_ID:SESSION` for a role session.
    pub fn user_id(&self) -> String {
        match self {
            Caller::Root { account, .. } => account.clone(),
            Caller::Session(session) => session.assumed_role_id(),
        }
    }
}

/// One request: its id, who signed it (`None`: unsigned) and where it came from.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Request id, echoed in the response, the log and the audit trail.
    pub request_id: String,
    /// The authenticated caller.
    pub caller: Option<Caller>,
    /// Client address (`aws:SourceIp`).
    pub source_ip: IpAddr,
}

impl Ctx {
    /// The caller, or [`Error::Unauthenticated`] for an unsigned request.
    pub fn caller(&self) -> Result<&Caller> {
        self.caller.as_ref().ok_or(Error::Unauthenticated)
    }
}
