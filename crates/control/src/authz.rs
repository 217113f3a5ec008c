//! The policies that apply to a principal, loaded from the store and compiled for the engine,
//! and the authorization of API calls by role sessions.

use std::sync::Arc;

use podpass_policy::{
    Decision, IamUser, NamedPolicy, Policy, PolicyError, PolicyKind, PolicySet, PolicyType,
    Principal, PrincipalContext, Request, RoleSession, catalogue, evaluate, evaluate_explained,
};
use podpass_session::SessionClaims;
use podpass_store::{Holder, Role, Store, StoreError, User};

use crate::cache::{CallerKey, CallerPolicies};
use crate::caller::UserCaller;
use crate::{Caller, Control, Ctx, Error, Result};

/// Why a principal's policies could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// The store failed or an entity is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document no longer parses (it was validated on write).
    #[error("stored policy {name} is invalid: {source}")]
    Corrupt {
        /// Policy name or ARN.
        name: String,
        /// Parser error.
        source: PolicyError,
    },
}

fn parse(name: &str, text: &str, kind: PolicyKind) -> Result<Policy, AuthzError> {
    Policy::parse(text, kind).map_err(|source| AuthzError::Corrupt {
        name: name.to_owned(),
        source,
    })
}

/// A managed policy by ARN, AWS managed from the catalogue or customer managed from the store,
/// compiled as `kind` with `policy_type`.
pub async fn managed_policy(
    store: &Store,
    arn: &str,
    kind: PolicyKind,
    policy_type: PolicyType,
) -> Result<NamedPolicy, AuthzError> {
    if let Some(aws) = catalogue::by_arn(arn) {
        let policy = parse(arn, aws.document, kind)?;
        return Ok(NamedPolicy::new(aws.name, policy_type, policy).with_arn(arn));
    }
    let meta = store.policy(arn).await?;
    let versions = store.policy_versions(arn).await?;
    let document = versions
        .iter()
        .find(|v| v.version_id == meta.default_version_id)
        .ok_or_else(|| StoreError::NotFound(format!("Policy {arn} version")))?;
    let policy = parse(arn, &document.document, kind)?;
    let policy_type = match policy_type {
        PolicyType::AwsManaged => PolicyType::CustomerManaged,
        other => other,
    };
    Ok(NamedPolicy::new(meta.policy_name, policy_type, policy).with_arn(arn))
}

/// Appends the inline and attached policies of `holder` to `set`.
async fn add_holder_policies(
    store: &Store,
    holder: Holder<'_>,
    set: &mut PolicySet,
) -> Result<(), AuthzError> {
    for (name, document) in store.inline_policies(holder).await? {
        let policy = parse(&name, &document, PolicyKind::Identity)?;
        set.identity
            .push(Arc::new(NamedPolicy::new(name, PolicyType::Inline, policy)));
    }
    for arn in store.attached_policies(holder).await? {
        let policy =
            managed_policy(store, &arn, PolicyKind::Identity, PolicyType::AwsManaged).await?;
        set.identity.push(Arc::new(policy));
    }
    Ok(())
}

async fn set_boundary(
    store: &Store,
    boundary: Option<&str>,
    set: &mut PolicySet,
) -> Result<(), AuthzError> {
    if let Some(arn) = boundary {
        let policy = managed_policy(store, arn, PolicyKind::Boundary, PolicyType::Boundary).await?;
        set.boundary = Some(Arc::new(policy));
    }
    Ok(())
}

/// Identity policies (inline and attached) and permissions boundary of a role.
pub async fn role_policies(store: &Store, role: &Role) -> Result<PolicySet, AuthzError> {
    let mut set = PolicySet::default();
    add_holder_policies(store, Holder::Role(&role.role_name), &mut set).await?;
    set_boundary(store, role.permissions_boundary.as_deref(), &mut set).await?;
    Ok(set)
}

/// What applies to a user: its own inline and attached policies, those of its groups, and its
/// permissions boundary.
pub async fn user_policies(store: &Store, user: &User) -> Result<PolicySet, AuthzError> {
    let mut set = PolicySet::default();
    add_holder_policies(store, Holder::of_user(user), &mut set).await?;
    for group in store.user_groups(&user.user_id).await? {
        add_holder_policies(store, Holder::of_group(&group), &mut set).await?;
    }
    set_boundary(store, user.permissions_boundary.as_deref(), &mut set).await?;
    Ok(set)
}

/// The engine's principal and policies of a signing user, read by its id: a user deleted
/// since its credentials were issued keeps its signature but no permission.
pub async fn user_context(
    store: &Store,
    caller: &UserCaller,
) -> Result<(Principal, PolicySet), AuthzError> {
    let user = match store.user_by_id(&caller.user_id).await {
        Ok(user) => user,
        Err(StoreError::NotFound(_)) => {
            return Ok((user_principal(caller, &[]), PolicySet::default()));
        }
        Err(error) => return Err(error.into()),
    };
    let policies = user_policies(store, &user).await?;
    Ok((user_principal(caller, &user.tags), policies))
}

fn user_principal(caller: &UserCaller, tags: &[podpass_store::Tag]) -> Principal {
    Principal::User(IamUser {
        account: caller.account.clone(),
        name: caller.user_name.clone(),
        path: caller.path.clone(),
        user_id: caller.user_id.clone(),
        tags: tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
    })
}

/// The engine's principal and policies of a role session: a role deleted since the session
/// was issued leaves it its signature but no permission.
pub async fn session_context(
    store: &Store,
    session: &SessionClaims,
) -> Result<(Principal, PolicySet), AuthzError> {
    let role = match store.role(&session.identity.role_name).await {
        Ok(role) => role,
        Err(StoreError::NotFound(_)) => {
            return Ok((session_principal(session, &[]), PolicySet::default()));
        }
        Err(error) => return Err(error.into()),
    };
    let policies = session_policies(store, &role, session).await?;
    Ok((session_principal(session, &role.tags), policies))
}

/// Everything that applies to a session of `role`: the role's policies, its boundary, and the
/// session policies passed when it was assumed.
async fn session_policies(
    store: &Store,
    role: &Role,
    session: &SessionClaims,
) -> Result<PolicySet, AuthzError> {
    let mut set = role_policies(store, role).await?;
    if let Some(text) = &session.identity.session_policy {
        let policy = parse("session policy", text, PolicyKind::Session)?;
        set.session.push(Arc::new(NamedPolicy::new(
            "session policy",
            PolicyType::SessionInline,
            policy,
        )));
    }
    for arn in &session.identity.session_policy_arns {
        let policy =
            managed_policy(store, arn, PolicyKind::Session, PolicyType::SessionManaged).await?;
        set.session.push(Arc::new(policy));
    }
    Ok(set)
}

/// The engine's principal for a role session: role tags overlaid by session tags.
fn session_principal(session: &SessionClaims, role_tags: &[podpass_store::Tag]) -> Principal {
    let identity = &session.identity;
    let mut tags: Vec<(String, String)> = role_tags
        .iter()
        .filter(|t| {
            !identity
                .tags
                .iter()
                .any(|s| s.key.eq_ignore_ascii_case(&t.key))
        })
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(
        identity
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone())),
    );
    Principal::AssumedRole(RoleSession {
        account: identity.account.clone(),
        role_name: identity.role_name.clone(),
        role_path: identity.role_path.clone(),
        role_id: identity.role_id.clone(),
        session_name: identity.session_name.clone(),
        tags,
        source_identity: identity.source_identity.clone(),
    })
}

/// The standard request context of a call: the time and the caller's address.
pub fn request(
    principal: Arc<PrincipalContext>,
    action: &str,
    resource: &str,
    ctx: &Ctx,
) -> Request {
    Request::new(principal, action, resource)
        .with_time(jiff::Timestamp::now())
        .with("aws:SourceIp", ctx.source_ip.to_string())
        .with("aws:SecureTransport", "false")
}

/// The account root's policies: it is implicitly allowed everything, which an allow-all
/// identity policy expresses.
fn root_policies() -> PolicySet {
    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let mut set = PolicySet::default();
    if let Ok(policy) = Policy::parse(ALLOW_ALL, PolicyKind::Identity) {
        set.identity.push(Arc::new(NamedPolicy::new(
            "account root",
            PolicyType::Inline,
            policy,
        )));
    }
    set
}

impl Control {
    /// The engine's principal and applicable policies for a caller.
    /// Compiled once per account root, user and session, and kept in the IAM cache.
    pub async fn caller_policies(&self, caller: &Caller) -> Result<Arc<CallerPolicies>> {
        match caller {
            Caller::Root { account, .. } => {
                let key = CallerKey::Root(account.clone());
                self.iam_cache()
                    .caller_policies(key, async {
                        Ok(CallerPolicies {
                            principal: Principal::AccountRoot {
                                account: account.clone(),
                            }
                            .into(),
                            policies: root_policies(),
                        })
                    })
                    .await
            }
            Caller::Session(session) => {
                let key = CallerKey::Session(session.access_key_id.clone());
                self.iam_cache()
                    .caller_policies(key, async {
                        let (principal, policies) = self.session_context(session).await?;
                        Ok(CallerPolicies {
                            principal: principal.into(),
                            policies,
                        })
                    })
                    .await
            }
            Caller::User(user) => {
                let key = CallerKey::User(user.user_id.clone());
                self.iam_cache()
                    .caller_policies(key, async {
                        let (principal, policies) = user_context(self.store(), user)
                            .await
                            .map_err(Error::internal)?;
                        Ok(CallerPolicies {
                            principal: principal.into(),
                            policies,
                        })
                    })
                    .await
            }
        }
    }

    /// Principal (with role tags overlaid by session tags) and policies of a role session.
    pub async fn session_context(&self, session: &SessionClaims) -> Result<(Principal, PolicySet)> {
        session_context(self.store(), session)
            .await
            .map_err(Error::internal)
    }

    /// Allows the calling role session or user to perform `action` on `resource`, or refuses
    /// with [`Error::NotAuthorized`], logging the engine's explanation. The account root is
    /// allowed everything.
    pub async fn authorize(&self, ctx: &Ctx, action: &str, resource: &str) -> Result<()> {
        let caller = ctx.caller()?;
        if let Caller::Root { .. } = caller {
            return Ok(());
        }
        let CallerPolicies {
            principal,
            policies,
        } = &*self.caller_policies(caller).await?;
        let request = request(principal.clone(), action, resource, ctx);
        let decision = evaluate(policies, &request);
        if decision == Decision::Allow {
            return Ok(());
        }
        let explanation = evaluate_explained(policies, &request);
        tracing::info!(
            request_id = %ctx.request_id,
            principal = %caller.arn(),
            %action,
            %resource,
            decision = decision.as_simulator_str(),
            reason = %explanation,
            "access denied"
        );
        let why = match decision {
            Decision::ExplicitDeny => {
                "with an explicit deny in an identity-based policy".to_owned()
            }
            _ => format!("because no identity-based policy allows the {action} action"),
        };
        let encoded = self
            .encoded_denial(action, &request, &explanation)
            .map(|message| format!(". Encoded authorization failure message: {message}"))
            .unwrap_or_default();
        Err(Error::NotAuthorized {
            why: format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} {why}{encoded}",
                caller.arn()
            ),
        })
    }
}
