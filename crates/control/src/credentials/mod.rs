//! Every way podpass issues a role session, on one path: find the role, ask its trust policy
//! for each action the issuance needs (refusals logged and audited with the engine's
//! explanation), bound the duration, check session policies, mint sealed credentials, audit the
//! issuance. The operations differ only in who asks and what they bring:
//!
//! - [`Control::assume_role`]: a signed caller (STS `AssumeRole`, role chaining);
//! - [`Control::assume_role_with_web_identity`]: an OIDC token (IRSA);
//! - [`Control::assume_role_for_pod_identity`]: a pod's token (EKS Auth, Pod Identity);
//! - [`Control::node_credentials`]: the node's instance role (instance metadata).

mod assume_role;
mod node;
mod pod_identity;
mod session_token;
mod web_identity;

use std::sync::Arc;

use podpass_policy::{
    Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, PrincipalContext, Request,
    SizedDocument, check_size, evaluate_trust, evaluate_trust_explained,
};
use podpass_session::{Credentials, SessionClaims, SessionIdentity, SessionKind, SessionTag};
use podpass_store::Role;

pub use assume_role::AssumeRole;
pub use pod_identity::{
    AUDIENCE as POD_IDENTITY_AUDIENCE, PodCredentials, PodIdentitySession, SERVICE_PRINCIPAL,
};
pub use web_identity::{WebIdentity, WebIdentitySession};

use crate::authz::{managed_policy, request};
use crate::cache::TrustedRole;
use crate::{Asker, Control, Ctx, Decided, Error, Invalid, Result};

/// Default session lifetime.
const DEFAULT_DURATION: i64 = 3600;
/// Sessions of roles assumed by a role session are capped at one hour.
const CHAINED_MAX_DURATION: i64 = 3600;

/// What AssumeRole and AssumeRoleWithWebIdentity share.
#[derive(Clone, Debug, Default)]
pub struct SessionRequest<'a> {
    /// The role to assume.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub session_name: &'a str,
    /// `DurationSeconds`, already within STS's 900..=43200.
    pub duration: Option<i64>,
    /// The inline session policy.
    pub policy: Option<&'a str>,
    /// Managed session policies.
    pub policy_arns: Vec<&'a str>,
}

/// Credentials issued, with the claims sealed in them.
#[derive(Debug)]
pub struct Issued {
    /// What the caller receives.
    pub credentials: Credentials,
    /// The session they carry.
    pub session: SessionClaims,
    /// Percentage of STS's packed size the session policies and tags use, when any were passed.
    pub packed_policy_size: Option<i64>,
}

/// A trust policy's question for one issuance: who asks, with which policies, and the
/// operation's own context keys.
struct TrustQuery<'a> {
    principal: Arc<PrincipalContext>,
    policies: &'a PolicySet,
    /// Adds the operation's context keys to a request for one action.
    context: &'a (dyn Fn(Request) -> Request + Sync),
}

impl Control {
    /// The role an ARN of this account names, with its compiled trust policy, or `None`.
    pub(crate) async fn find_role(
        &self,
        role_arn: &str,
    ) -> Result<Option<std::sync::Arc<TrustedRole>>> {
        self.iam_cache()
            .role(self.store(), self.account_id(), role_arn)
            .await
    }

    /// Whether `role`'s trust policy allows `action` to `query`; a refusal is logged and
    /// audited with the engine's explanation.
    fn trusts(
        &self,
        ctx: &Ctx,
        asker: Asker<'_>,
        role: &TrustedRole,
        query: &TrustQuery<'_>,
        action: &str,
    ) -> bool {
        let trust: &NamedPolicy = &role.trust;
        let request = (query.context)(request(
            query.principal.clone(),
            action,
            &role.role.arn,
            ctx,
        ));
        if evaluate_trust(trust, query.policies, &request) == Decision::Allow {
            return true;
        }
        let explanation = evaluate_trust_explained(trust, query.policies, &request);
        tracing::info!(request_id = %ctx.request_id, reason = %explanation, "trust policy denied");
        self.audit_decision(
            ctx,
            Decided {
                asker,
                access_key_id: None,
                action: request.action(),
                resource: request.resource(),
                allowed: false,
                reason: explanation.to_string(),
            },
        );
        false
    }

    /// Mints the session and audits its issuance for `action`.
    fn mint(
        &self,
        ctx: &Ctx,
        asker: Asker<'_>,
        action: &str,
        identity: SessionIdentity,
        duration: i64,
    ) -> Result<(Credentials, SessionClaims)> {
        let seconds = u32::try_from(duration).map_err(Error::internal)?;
        let (credentials, session) = self
            .key_ring()
            .sealer()
            .mint(identity, seconds, crate::now())
            .map_err(Error::internal)?;
        self.audit_decision(
            ctx,
            Decided {
                asker,
                access_key_id: Some(&session.access_key_id),
                action,
                resource: &session.identity.role_arn,
                allowed: true,
                reason: format!(
                    "issued {} until {}",
                    session.principal_arn(),
                    jiff::Timestamp::from_second(session.expires_at).unwrap_or_default()
                ),
            },
        );
        Ok((credentials, session))
    }

    /// Validates session policies and returns their packed size percentage. The size is
    /// checked on the raw text first, so an oversized policy is never parsed.
    async fn session_policies(
        &self,
        policy: Option<&str>,
        policy_arns: &[&str],
        tags: &[SessionTag],
    ) -> Result<Option<i64>> {
        if policy.is_none() && policy_arns.is_empty() && tags.is_empty() {
            return Ok(None);
        }
        let max = SizedDocument::SessionPolicy.limit().max;
        let plain = check_size(SizedDocument::SessionPolicy, policy);
        let packed = plain.unwrap_or(max + 1)
            + policy_arns.iter().map(|a| a.len()).sum::<usize>()
            + tags
                .iter()
                .map(|t| t.key.len() + t.value.len())
                .sum::<usize>();
        let percent = (packed * 100).div_ceil(max) as i64;
        if plain.is_err() || percent > 100 {
            return Err(Error::invalid(
                Invalid::PolicySize,
                format!(
                    "Packed policy consumes {percent}% of allotted space, please use smaller policy."
                ),
            ));
        }
        if let Some(text) = policy {
            Policy::parse(text, PolicyKind::Session)
                .map_err(|e| Error::invalid(Invalid::PolicyDocument, e.message()))?;
        }
        for arn in policy_arns {
            managed_policy(
                self.store(),
                arn,
                PolicyKind::Session,
                PolicyType::SessionManaged,
            )
            .await
            .map_err(|_| {
                Error::invalid(
                    Invalid::Parameter,
                    format!("The policy {arn} does not exist or is not attachable."),
                )
            })?;
        }
        Ok(Some(percent))
    }
}

/// The session's lifetime: what was asked (an hour by default) within the role's maximum, and
/// within an hour for role chaining.
fn duration_for(role: &Role, requested: Option<i64>, chained: bool) -> Result<i64> {
    let duration = requested.unwrap_or(DEFAULT_DURATION);
    if chained && duration > CHAINED_MAX_DURATION {
        return Err(Error::invalid(
            Invalid::Validation,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(Error::invalid(
            Invalid::Validation,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(duration)
}

/// A session of `role` named `session_name`, with nothing more.
fn role_identity(
    role: &Role,
    account: &str,
    session_name: &str,
    kind: SessionKind,
) -> SessionIdentity {
    SessionIdentity::new(
        kind,
        account,
        &role.arn,
        &role.role_id,
        &role.role_name,
        &role.path,
        session_name,
    )
}

impl SessionRequest<'_> {
    /// A session of `role` named and with the session policies as requested.
    fn identity(&self, role: &Role, account: &str, kind: SessionKind) -> SessionIdentity {
        let mut identity = role_identity(role, account, self.session_name, kind);
        identity.session_policy = self.policy.map(str::to_owned);
        identity.session_policy_arns = self.policy_arns.iter().map(|a| (*a).to_owned()).collect();
        identity
    }
}

/// Tags as the engine's request tags.
fn tag_pairs(tags: &[SessionTag]) -> Vec<(&str, &str)> {
    tags.iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect()
}
