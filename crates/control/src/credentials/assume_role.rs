//! STS `AssumeRole`: a signed caller (an IAM user or a role session, never the account root)
//! asks for a role's session, with session policies, tags and a source identity.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-chaining>

use podpass_policy::Request;
use podpass_session::{SessionKind, SessionTag};

use super::{Issued, SessionRequest, TrustQuery, duration_for, tag_pairs};
use crate::{Asker, Caller, Control, Ctx, Decided, Error, Invalid, Result};

/// What `AssumeRole` asks for.
#[derive(Clone, Debug, Default)]
pub struct AssumeRole<'a> {
    /// Role, session name, duration and session policies.
    pub session: SessionRequest<'a>,
    /// `ExternalId` (`sts:ExternalId`).
    pub external_id: Option<&'a str>,
    /// `SourceIdentity` (`sts:SourceIdentity`, needs `sts:SetSourceIdentity`).
    pub source_identity: Option<&'a str>,
    /// Session tags (`aws:RequestTag/*`, need `sts:TagSession`).
    pub tags: Vec<SessionTag>,
    /// Which of `tags` pass on to roles this session assumes.
    pub transitive_tag_keys: Vec<String>,
}

impl Control {
    /// Issues a session of `input.session.role_arn` to the signed caller, if the role's trust
    /// policy allows it `sts:AssumeRole` (and `sts:TagSession`, `sts:SetSourceIdentity` for
    /// what it passes). A role session's transitive tags carry over and cannot be overridden.
    /// The account root is refused whatever the trust policy says, as STS refuses it.
    pub async fn assume_role(&self, ctx: &Ctx, input: &AssumeRole<'_>) -> Result<Issued> {
        let caller = ctx.caller()?;
        let role_arn = input.session.role_arn;
        let caller_arn = caller.arn();
        let asker = Asker {
            source: "sts.amazonaws.com",
            operation: "AssumeRole",
            principal: &caller_arn,
        };
        if matches!(caller, Caller::Root { .. }) {
            tracing::info!(request_id = %ctx.request_id, role = %role_arn, "AssumeRole by the account root refused");
            self.audit_decision(
                ctx,
                Decided {
                    asker,
                    access_key_id: None,
                    action: "sts:AssumeRole",
                    resource: role_arn,
                    allowed: false,
                    reason: "the account root may not assume roles, whatever their trust policies"
                        .to_owned(),
                },
            );
            return Err(Error::denied("Roles may not be assumed by root accounts."));
        }
        let denied = |action: &str, resource: &str| {
            Error::denied(format!(
                "User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
            ))
        };
        let trusted = self
            .find_role(role_arn)
            .await?
            .ok_or_else(|| denied("sts:AssumeRole", role_arn))?;
        let role = &trusted.role;
        let chained = matches!(caller, Caller::Session(_));
        let (tags, transitive_keys) = carried_tags(caller, input)?;
        let source_identity = carried_source_identity(caller, input)?;

        let caller_policies = self.caller_policies(caller).await?;
        let pairs = tag_pairs(&tags);
        let keys: Vec<&str> = transitive_keys.iter().map(String::as_str).collect();
        let context = |mut r: Request| {
            r = r.with("sts:RoleSessionName", input.session.session_name);
            if let Some(id) = input.external_id {
                r = r.with("sts:ExternalId", id);
            }
            if let Some(id) = source_identity {
                r = r.with("sts:SourceIdentity", id);
            }
            if !pairs.is_empty() {
                r = r.with_request_tags(&pairs);
            }
            if !keys.is_empty() {
                r = r.with_values("sts:TransitiveTagKeys", &keys);
            }
            r
        };
        let query = TrustQuery {
            principal: caller_policies.principal.clone(),
            policies: &caller_policies.policies,
            context: &context,
        };
        let needed = [
            ("sts:AssumeRole", true),
            ("sts:TagSession", !tags.is_empty()),
            ("sts:SetSourceIdentity", source_identity.is_some()),
        ];
        for (action, _) in needed.iter().filter(|(_, needed)| *needed) {
            if !self.trusts(ctx, asker, &trusted, &query, action) {
                return Err(denied(action, &role.arn));
            }
        }

        let duration = duration_for(role, input.session.duration, chained)?;
        let packed_policy_size = self
            .session_policies(input.session.policy, &input.session.policy_arns, &tags)
            .await?;
        let mut identity = input
            .session
            .identity(role, self.account_id(), SessionKind::AssumeRole);
        identity.source_identity = source_identity.map(str::to_owned);
        identity.tags = tags;
        identity.transitive_tag_keys = transitive_keys;
        identity.chained = chained;
        let (credentials, session) = self.mint(ctx, asker, "sts:AssumeRole", identity, duration)?;
        tracing::info!(
            request_id = %ctx.request_id,
            caller = %caller_arn,
            session = %session.assumed_role_arn(),
            "issued role credentials"
        );
        Ok(Issued {
            credentials,
            session,
            packed_policy_size,
        })
    }
}

/// The session's source identity: the calling session's, which no later role in the chain can
/// change (and whose roles must trust `sts:SetSourceIdentity` as the first did), or the one asked.
fn carried_source_identity<'a>(
    caller: &'a Caller,
    input: &AssumeRole<'a>,
) -> Result<Option<&'a str>> {
    let inherited = match caller {
        Caller::Session(session) => session.identity.source_identity.as_deref(),
        _ => None,
    };
    match (inherited, input.source_identity) {
        (Some(set), Some(asked)) if set != asked => Err(Error::invalid(
            Invalid::Validation,
            format!(
                "The source identity cannot be changed once set: the calling session's is {set}"
            ),
        )),
        (set, asked) => Ok(set.or(asked)),
    }
}

/// The session's tags and transitive keys: the calling session's transitive tags first (they
/// cannot be overridden), then the requested ones, whose transitive keys must name them.
fn carried_tags(caller: &Caller, input: &AssumeRole<'_>) -> Result<(Vec<SessionTag>, Vec<String>)> {
    let mut tags: Vec<SessionTag> = Vec::new();
    let mut transitive_keys = input.transitive_tag_keys.clone();
    if let Caller::Session(session) = caller {
        for key in &session.identity.transitive_tag_keys {
            if let Some(tag) = session.identity.tags.iter().find(|t| &t.key == key) {
                if input.tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
                    return Err(Error::invalid(
                        Invalid::Parameter,
                        format!(
                            "One or more session tags cannot be overridden: the transitive tag {key} was set by the calling session"
                        ),
                    ));
                }
                tags.push(tag.clone());
                transitive_keys.push(key.clone());
            }
        }
    }
    for key in &input.transitive_tag_keys {
        if !input.tags.iter().any(|t| &t.key == key) {
            return Err(Error::invalid(
                Invalid::Parameter,
                format!("The transitive tag key {key} is not one of the session tags"),
            ));
        }
    }
    tags.extend(input.tags.iter().cloned());
    Ok((tags, transitive_keys))
}
