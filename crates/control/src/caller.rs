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
    /// An IAM user, through one of its access keys or its `GetSessionToken` credentials.
    User(Arc<UserCaller>),
}

/// An IAM user as it signed: its policies, tags and groups are read when a request is decided,
/// by `user_id`, so a rename or a policy change applies to credentials already issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCaller {
    /// Account id.
    pub account: String,
    /// User name when the credentials were issued.
    pub user_name: String,
    /// User path when the credentials were issued.
    pub path: String,
    /// The user's unique id (`AIDA...`).
    pub user_id: String,
    /// Key used.
    pub access_key_id: String,
}

impl UserCaller {
    /// The user signing with its long-term key `access_key_id`.
    pub fn with_key(user: &podpass_store::User, account: &str, access_key_id: &str) -> Self {
        UserCaller {
            account: account.to_owned(),
            user_name: user.user_name.clone(),
            path: user.path.clone(),
            user_id: user.user_id.clone(),
            access_key_id: access_key_id.to_owned(),
        }
    }
}

/// The prefix of IAM user ids, which tells a user's `GetSessionToken` session from the root's.
pub(crate) const USER_ID_PREFIX: &str = "AIDA";

impl Caller {
    /// Who signed with `session`'s credentials: its role session, or for `GetSessionToken`'s
    /// credentials the user or account root that asked for them (its identity names the user
    /// where a role session's names the role).
    pub fn of_session(session: Arc<SessionClaims>) -> Caller {
        let identity = &session.identity;
        if identity.kind != SessionKind::SessionToken {
            return Caller::Session(session);
        }
        if identity.role_id.starts_with(USER_ID_PREFIX) {
            return Caller::User(Arc::new(UserCaller {
                account: identity.account.clone(),
                user_name: identity.role_name.clone(),
                path: identity.role_path.clone(),
                user_id: identity.role_id.clone(),
                access_key_id: session.access_key_id.clone(),
            }));
        }
        Caller::Root {
            account: identity.account.clone(),
            access_key_id: session.access_key_id.clone(),
        }
    }

    /// Whether the caller signed with temporary credentials.
    pub fn is_temporary(&self) -> bool {
        match self {
            Caller::Root { access_key_id, .. } => {
                access_key_id.starts_with(podpass_session::ACCESS_KEY_ID_PREFIX)
            }
            Caller::User(user) => user
                .access_key_id
                .starts_with(podpass_session::ACCESS_KEY_ID_PREFIX),
            Caller::Session(_) => true,
        }
    }

    /// The caller's ARN as GetCallerIdentity reports it.
    pub fn arn(&self) -> String {
        match self {
            Caller::Root { account, .. } => podpass_arn::account_root(account),
            Caller::Session(session) => session.assumed_role_arn(),
            Caller::User(user) => podpass_arn::user(&user.account, &user.path, &user.user_name),
        }
    }

    /// The caller's account id.
    pub fn account(&self) -> &str {
        match self {
            Caller::Root { account, .. } => account,
            Caller::Session(session) => &session.identity.account,
            Caller::User(user) => &user.account,
        }
    }

    /// The caller's user id as GetCallerIdentity reports it: the account for the root,
    /// `ROLE_ID:SESSION` for a role session, the user's unique id for a user.
    pub fn user_id(&self) -> String {
        match self {
            Caller::Root { account, .. } => account.clone(),
            Caller::Session(session) => session.assumed_role_id(),
            Caller::User(user) => user.user_id.clone(),
        }
    }

    /// The access key the caller signed with.
    pub fn access_key_id(&self) -> &str {
        match self {
            Caller::Root { access_key_id, .. } => access_key_id,
            Caller::Session(session) => &session.access_key_id,
            Caller::User(user) => &user.access_key_id,
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
