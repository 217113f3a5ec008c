//! Broker mode: podpass decides as EKS Auth decides (the pod's token verified against its
//! cluster's issuer, the association found, its rules applied) and then, instead of minting a
//! session of its own, has an upstream STS (real AWS) issue the association's role session, as
//! EKS does with its service principal. The upstream is a trait: the binary implements it with
//! the AWS SDK, its own identity, a single-flight cache and its limits.

use podpass_session::{Credentials, SessionTag};

/// The role a brokered session chains to, as an association's `targetRoleArn`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ChainTarget {
    /// The target role.
    pub role_arn: String,
    /// The association's external id, passed to the target role's `AssumeRole`.
    pub external_id: Option<String>,
}

/// One session to have the upstream issue, as EKS asks STS for it.
#[derive(Clone, Debug)]
pub struct UpstreamRequest {
    /// The association's role.
    pub role_arn: String,
    /// Then this role, assumed with the first role's session.
    pub target: Option<ChainTarget>,
    /// EKS's role session name (`eks-<cluster>-<pod>-<random>`).
    pub session_name: String,
    /// EKS's session tags, all transitive (empty when the association disables them).
    pub tags: Vec<SessionTag>,
    /// The association's inline session policy, applied to the session handed to the pod.
    pub policy: Option<String>,
    /// Whom the session is for; with the roles, tags and policy this is what makes two requests
    /// the same session (the session name's random suffix does not).
    pub namespace: String,
    /// The pod's ServiceAccount.
    pub service_account: String,
    /// The pod's UID.
    pub pod_uid: String,
}

/// A session the upstream issued.
#[derive(Clone, Debug)]
pub struct UpstreamSession {
    /// The credentials, handed to the pod unchanged.
    pub credentials: Credentials,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub assumed_role_arn: String,
    /// `<role id>:<session>`.
    pub assumed_role_id: String,
}

/// Why the upstream did not issue a session. The message is the upstream's, for the log and the
/// audit trail; the pod gets EKS Auth's error without it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream refused (a trust policy, a missing `sts:TagSession`, an external id).
    #[error("the upstream refused: {0}")]
    Denied(String),
    /// The upstream kept throttling after the retries.
    #[error("the upstream is throttling: {0}")]
    Throttled(String),
    /// The upstream could not be reached, timed out or failed (5xx).
    #[error("the upstream is unavailable: {0}")]
    Unavailable(String),
}

/// The future of [`Upstream::assume_role`].
pub type UpstreamFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<UpstreamSession, UpstreamError>> + Send + 'a>,
>;

/// The STS that issues brokered sessions.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// Has the upstream issue `request`'s session.
    fn assume_role<'a>(&'a self, request: &'a UpstreamRequest) -> UpstreamFuture<'a>;
}
