//! STS: AssumeRoleWithWebIdentity (IRSA), AssumeRole and GetCallerIdentity, with AWS's checks
//! and errors, minting sealed session credentials.

use std::sync::Arc;

use podpass_awsproto::{AwsError, MemberType, NS_STS, RenderedResponse, Validation, XmlWriter};
use podpass_control::authz::managed_policy;
use podpass_policy::{
    Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request,
    SizedDocument, check_size, evaluate_trust, evaluate_trust_explained,
};
use podpass_session::{
    Credentials, FederatedIdentity, SessionClaims, SessionIdentity, SessionKind, SessionTag,
};
use podpass_store::Role;
use podpass_token::VerifyError;

use crate::auth::Caller;
use crate::authz::{caller_policies, internal, request};
use crate::cache::TrustedRole;
use crate::query::{Call, STS, unknown_action};
use crate::{AppState, Decided};

/// Runs one STS action.
pub async fn dispatch(
    state: &AppState,
    action: &str,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(state, call).await,
        "AssumeRole" => assume_role(state, call).await,
        "GetCallerIdentity" => get_caller_identity(call),
        _ => Err(unknown_action(action, STS)),
    }
}

/// Default session lifetime.
const DEFAULT_DURATION: i64 = 3600;
/// Sessions of roles assumed by a role session are capped at one hour.
const CHAINED_MAX_DURATION: i64 = 3600;

fn get_caller_identity(call: &Call) -> Result<RenderedResponse, AwsError> {
    let caller = call.require_caller()?;
    let user_id = match caller {
        Caller::Root { account, .. } => account.clone(),
        Caller::Session(session) => session.assumed_role_id(),
    };
    Ok(
        podpass_awsproto::XmlResponse::new("GetCallerIdentity", NS_STS, &call.request_id).result(
            |w| {
                w.elem("UserId", &user_id)
                    .elem("Account", caller.account())
                    .elem("Arn", &caller.arn());
            },
        ),
    )
}

/// Members common to AssumeRole and AssumeRoleWithWebIdentity.
struct AssumeParams<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    duration: Option<i64>,
    policy: Option<&'a str>,
    policy_arns: Vec<&'a str>,
}

fn common_params<'a>(
    call: &'a Call,
    validation: &mut Validation,
) -> Result<AssumeParams<'a>, AwsError> {
    let params = &call.params;
    let role_arn = params.get("RoleArn");
    let session_name = params.get("RoleSessionName");
    let policy = params.get("Policy");
    validation
        .require("RoleArn", role_arn)
        .check("RoleArn", role_arn, MemberType::Arn)
        .require("RoleSessionName", session_name)
        .check("RoleSessionName", session_name, MemberType::RoleSessionName)
        .check("Policy", policy, MemberType::SessionPolicy);
    let duration = params.i64("DurationSeconds")?;
    validation.check_range("DurationSeconds", duration, 900, 43_200);
    let policy_arns: Vec<&str> = params
        .structs("PolicyArns")
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("arn"))
        .collect();
    validation.check_list_len("PolicyArns", Some(&policy_arns), 10);
    Ok(AssumeParams {
        role_arn: role_arn.unwrap_or_default(),
        session_name: session_name.unwrap_or_default(),
        duration,
        policy,
        policy_arns,
    })
}

/// The role an ARN of this account names, with its compiled trust policy, or `None`.
pub(crate) async fn find_role(
    state: &AppState,
    role_arn: &str,
) -> Result<Option<Arc<TrustedRole>>, AwsError> {
    state
        .iam_cache()
        .role(state.store(), &state.settings().account_id, role_arn)
        .await
}

/// Who asks to assume a role, for the log and the audit trail.
pub(crate) struct Asker<'a> {
    pub source: &'a str,
    pub operation: &'a str,
    pub principal: &'a str,
}

/// Evaluates the role's trust policy; a denial is logged and audited with the engine's reason.
pub(crate) fn check_trust(
    state: &AppState,
    asker: &Asker<'_>,
    trust: &NamedPolicy,
    caller: &PolicySet,
    request: &Request,
    call: &Call,
) -> Result<(), ()> {
    if evaluate_trust(trust, caller, request) == Decision::Allow {
        return Ok(());
    }
    let explanation = evaluate_trust_explained(trust, caller, request);
    tracing::info!(request_id = %call.request_id, reason = %explanation, "trust policy denied");
    state.audit_decision(Decided {
        call,
        source: asker.source,
        operation: asker.operation,
        principal: asker.principal,
        access_key_id: None,
        action: request.action(),
        resource: request.resource(),
        allowed: false,
        reason: explanation.to_string(),
    });
    Err(())
}

/// Audits credentials issued to `asker`.
pub(crate) fn audit_issued(
    state: &AppState,
    asker: &Asker<'_>,
    call: &Call,
    action: &str,
    session: &SessionClaims,
) {
    state.audit_decision(Decided {
        call,
        source: asker.source,
        operation: asker.operation,
        principal: asker.principal,
        access_key_id: Some(&session.access_key_id),
        action,
        resource: &session.identity.role_arn,
        allowed: true,
        reason: format!(
            "issued {} until {}",
            session.assumed_role_arn(),
            jiff::Timestamp::from_second(session.expires_at).unwrap_or_default()
        ),
    });
}

/// Validates session policies and returns the packed size percentage. The size is checked on
/// the raw text first, so an oversized policy is never parsed.
async fn session_policies(
    state: &AppState,
    policy: Option<&str>,
    policy_arns: &[&str],
    tags: &[SessionTag],
) -> Result<Option<i64>, AwsError> {
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
        return Err(AwsError::packed_policy_too_large(format!(
            "Packed policy consumes {percent}% of allotted space, please use smaller policy."
        )));
    }
    if let Some(text) = policy {
        Policy::parse(text, PolicyKind::Session)
            .map_err(|e| AwsError::malformed_policy_document(e.message()))?;
    }
    for arn in policy_arns {
        managed_policy(
            state.store(),
            arn,
            PolicyKind::Session,
            PolicyType::SessionManaged,
        )
        .await
        .map_err(|_| {
            AwsError::invalid_parameter_value(format!(
                "The policy {arn} does not exist or is not attachable."
            ))
        })?;
    }
    Ok(Some(percent))
}

fn duration_for(role: &Role, requested: Option<i64>, chained: bool) -> Result<i64, AwsError> {
    let duration = requested.unwrap_or(DEFAULT_DURATION);
    if chained && duration > CHAINED_MAX_DURATION {
        return Err(AwsError::validation_error(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(AwsError::validation_error(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(duration)
}

pub(crate) fn mint(
    state: &AppState,
    identity: SessionIdentity,
    duration: i64,
) -> Result<(Credentials, SessionClaims), AwsError> {
    let seconds = u32::try_from(duration).map_err(internal)?;
    state
        .key_ring()
        .sealer()
        .mint(identity, seconds, podpass_control::now())
        .map_err(internal)
}

fn write_credentials(w: &mut XmlWriter, credentials: &Credentials, claims: &SessionClaims) {
    let expiration = jiff::Timestamp::from_second(credentials.expiration).unwrap_or_default();
    w.nest("Credentials", |w| {
        w.elem("AccessKeyId", &credentials.access_key_id)
            .elem("SecretAccessKey", &credentials.secret_access_key)
            .elem("SessionToken", &credentials.session_token)
            .timestamp("Expiration", expiration);
    })
    .nest("AssumedRoleUser", |w| {
        w.elem("AssumedRoleId", &claims.assumed_role_id())
            .elem("Arn", &claims.assumed_role_arn());
    });
}

pub(crate) fn role_identity(
    role: &Role,
    account: &str,
    session_name: &str,
    kind: SessionKind,
) -> SessionIdentity {
    SessionIdentity {
        kind,
        account: account.to_owned(),
        role_arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        role_name: role.role_name.clone(),
        role_path: role.path.clone(),
        session_name: session_name.to_owned(),
        source_identity: None,
        session_policy: None,
        session_policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        federated: None,
        chained: false,
    }
}

async fn assume_role_with_web_identity(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let common = common_params(call, &mut validation)?;
    let token = call.params.get("WebIdentityToken");
    validation.require("WebIdentityToken", token).check(
        "WebIdentityToken",
        token,
        MemberType::WebIdentityToken,
    );
    validation.finish()?;
    // A token file written by a shell redirect ends with a newline; it is not part of the JWT.
    let token = token.unwrap_or_default().trim_end();
    let account = state.settings().account_id.clone();
    let now = podpass_control::now();

    let invalid = || {
        AwsError::invalid_identity_token(
            "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
        )
    };
    let (_, claims) = podpass_token::decode_unverified(token).map_err(|_| invalid())?;
    let issuer = claims
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(invalid)?
        .to_owned();
    let provider_url = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(&issuer)
        .trim_end_matches('/')
        .to_owned();
    let provider_arn = format!("arn:aws:iam::{account}:oidc-provider/{provider_url}");
    let provider = state
        .iam_cache()
        .provider(state.store(), &provider_arn)
        .await?
        .ok_or_else(|| {
            AwsError::invalid_identity_token(format!(
                "No OpenIDConnect provider found in your account for {issuer}"
            ))
        })?;

    let verified = verify_web_identity(state, &issuer, &provider.client_ids, token, now).await?;
    let audience = verified
        .aud
        .iter()
        .find(|a| provider.client_ids.contains(a))
        .cloned()
        .unwrap_or_default();

    let denied =
        || AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
    let trusted = find_role(state, common.role_arn)
        .await?
        .ok_or_else(denied)?;
    let (role, trust) = (&trusted.role, trusted.trust.as_ref());
    let principal = Principal::WebIdentity {
        provider_arn: provider_arn.clone(),
    };
    let amr: Vec<&str> = Vec::new();
    let trust_request = request(principal, "sts:AssumeRoleWithWebIdentity", &role.arn, call)
        .with_web_identity_claims(&provider_url, &verified.sub, &audience, Some(&amr))
        .with("aws:FederatedProvider", provider_arn.clone())
        .with("sts:RoleSessionName", common.session_name);
    let asker = Asker {
        source: "sts.amazonaws.com",
        operation: "AssumeRoleWithWebIdentity",
        principal: &verified.sub,
    };
    check_trust(
        state,
        &asker,
        trust,
        &PolicySet::default(),
        &trust_request,
        call,
    )
    .map_err(|()| denied())?;

    let duration = duration_for(role, common.duration, false)?;
    let packed = session_policies(state, common.policy, &common.policy_arns, &[]).await?;
    let mut identity = role_identity(
        role,
        &account,
        common.session_name,
        SessionKind::WebIdentity,
    );
    identity.session_policy = common.policy.map(str::to_owned);
    identity.session_policy_arns = common.policy_arns.iter().map(|a| (*a).to_owned()).collect();
    identity.federated = Some(FederatedIdentity {
        provider: provider_arn.clone(),
        subject: verified.sub.clone(),
        audience: audience.clone(),
    });
    let (credentials, session) = mint(state, identity, duration)?;
    audit_issued(
        state,
        &asker,
        call,
        "sts:AssumeRoleWithWebIdentity",
        &session,
    );
    tracing::info!(
        request_id = %call.request_id,
        role = %role.arn,
        subject = %verified.sub,
        session = %session.assumed_role_arn(),
        expires = credentials.expiration,
        "issued web identity credentials"
    );
    Ok(
        podpass_awsproto::XmlResponse::new("AssumeRoleWithWebIdentity", NS_STS, &call.request_id)
            .result(|w| {
                w.elem("SubjectFromWebIdentityToken", &verified.sub)
                    .elem("Audience", &audience);
                write_credentials(w, &credentials, &session);
                if let Some(packed) = packed {
                    w.int("PackedPolicySize", packed);
                }
                w.elem("Provider", &provider_arn);
            }),
    )
}

/// Verifies the token against the issuer's keys, refetching them once for an unknown `kid`.
async fn verify_web_identity(
    state: &AppState,
    issuer: &str,
    client_ids: &[String],
    token: &str,
    now: i64,
) -> Result<podpass_token::Claims, AwsError> {
    let communication = |e: crate::jwks::FetchError| {
        tracing::info!(%issuer, error = %e, "cannot fetch the issuer's keys");
        AwsError::idp_communication_error(
            "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
        )
    };
    let verifier = state
        .issuer_keys()
        .verifier(issuer, client_ids, false)
        .await
        .map_err(communication)?;
    let result = match verifier.verify(token, now) {
        Err(VerifyError::UnknownKeyId(_)) => {
            let fresh = state
                .issuer_keys()
                .verifier(issuer, client_ids, true)
                .await
                .map_err(communication)?;
            fresh.verify(token, now)
        }
        other => other,
    };
    result.map_err(|e| {
        tracing::info!(%issuer, error = %e, "web identity token rejected");
        match e {
            VerifyError::Expired { exp, now } => AwsError::expired_token_exception(format!(
                "Token expired: current date/time {} must be before the expiration date/time {}",
                jiff::Timestamp::from_second(now).unwrap_or_default(),
                jiff::Timestamp::from_second(exp).unwrap_or_default()
            )),
            VerifyError::WrongAudience(_) => AwsError::invalid_identity_token("Incorrect token audience"),
            VerifyError::NotYetValid { .. } | VerifyError::IssuedInFuture { .. } => {
                AwsError::invalid_identity_token("Token is not yet valid (nbf or iat is in the future)")
            }
            VerifyError::MissingClaim(claim) => {
                AwsError::invalid_identity_token(format!("Token is missing the required claim {claim}"))
            }
            _ => AwsError::invalid_identity_token(
                "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
            ),
        }
    })
}

async fn assume_role(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let caller = call.require_caller()?;
    let params = &call.params;
    let mut validation = Validation::new();
    let common = common_params(call, &mut validation)?;
    let external_id = params.get("ExternalId");
    let source_identity = params.get("SourceIdentity");
    validation
        .check("ExternalId", external_id, MemberType::ExternalId)
        .check(
            "SourceIdentity",
            source_identity,
            MemberType::SourceIdentity,
        );
    let request_tags: Vec<SessionTag> = params
        .structs("Tags")
        .unwrap_or_default()
        .iter()
        .map(|m| SessionTag {
            key: m.get("Key").unwrap_or_default().to_owned(),
            value: m.get("Value").unwrap_or_default().to_owned(),
        })
        .collect();
    validation.check_list_len("Tags", Some(&request_tags), 50);
    for (i, tag) in request_tags.iter().enumerate() {
        validation
            .check(
                &format!("Tags.member.{}.Key", i + 1),
                Some(&tag.key),
                MemberType::TagKey,
            )
            .check(
                &format!("Tags.member.{}.Value", i + 1),
                Some(&tag.value),
                MemberType::TagValue,
            );
    }
    let transitive: Vec<String> = params
        .list("TransitiveTagKeys")
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    validation.check_list_len("TransitiveTagKeys", Some(&transitive), 50);
    validation.finish()?;

    let denied = || {
        AwsError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn(),
            common.role_arn
        ))
    };
    let trusted = find_role(state, common.role_arn)
        .await?
        .ok_or_else(denied)?;
    let (role, trust) = (&trusted.role, trusted.trust.as_ref());
    let chained = matches!(caller, Caller::Session(_));

    // Transitive tags of the calling session carry over and cannot be overridden.
    let mut tags: Vec<SessionTag> = Vec::new();
    let mut transitive_keys = transitive.clone();
    if let Caller::Session(session) = caller {
        for key in &session.identity.transitive_tag_keys {
            if let Some(tag) = session.identity.tags.iter().find(|t| &t.key == key) {
                if request_tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
                    return Err(AwsError::invalid_parameter_value(format!(
                        "One or more session tags cannot be overridden: the transitive tag {key} was set by the calling session"
                    )));
                }
                tags.push(tag.clone());
                transitive_keys.push(key.clone());
            }
        }
    }
    for key in &transitive {
        if !request_tags.iter().any(|t| &t.key == key) {
            return Err(AwsError::invalid_parameter_value(format!(
                "The transitive tag key {key} is not one of the session tags"
            )));
        }
    }
    tags.extend(request_tags.iter().cloned());

    let (principal, caller_set) = caller_policies(state, caller).await?;
    let tag_pairs: Vec<(&str, &str)> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let build = |action: &str| {
        let mut r = request(principal.clone(), action, &role.arn, call)
            .with("sts:RoleSessionName", common.session_name);
        if let Some(id) = external_id {
            r = r.with("sts:ExternalId", id);
        }
        if let Some(id) = source_identity {
            r = r.with("sts:SourceIdentity", id);
        }
        if !tag_pairs.is_empty() {
            r = r.with_request_tags(&tag_pairs);
        }
        if !transitive_keys.is_empty() {
            let keys: Vec<&str> = transitive_keys.iter().map(String::as_str).collect();
            r = r.with_values("sts:TransitiveTagKeys", &keys);
        }
        r
    };
    let caller_arn = caller.arn();
    let asker = Asker {
        source: "sts.amazonaws.com",
        operation: "AssumeRole",
        principal: &caller_arn,
    };
    check_trust(
        state,
        &asker,
        trust,
        &caller_set,
        &build("sts:AssumeRole"),
        call,
    )
    .map_err(|()| denied())?;
    if !tags.is_empty() {
        check_trust(
            state,
            &asker,
            trust,
            &caller_set,
            &build("sts:TagSession"),
            call,
        )
        .map_err(|()| {
            AwsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:TagSession on resource: {}",
                caller.arn(),
                role.arn
            ))
        })?;
    }
    if source_identity.is_some() {
        check_trust(
            state,
            &asker,
            trust,
            &caller_set,
            &build("sts:SetSourceIdentity"),
            call,
        )
        .map_err(|()| {
            AwsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:SetSourceIdentity on resource: {}",
                caller.arn(),
                role.arn
            ))
        })?;
    }

    let duration = duration_for(role, common.duration, chained)?;
    let packed = session_policies(state, common.policy, &common.policy_arns, &tags).await?;
    let mut identity = role_identity(
        role,
        &state.settings().account_id,
        common.session_name,
        SessionKind::AssumeRole,
    );
    identity.session_policy = common.policy.map(str::to_owned);
    identity.session_policy_arns = common.policy_arns.iter().map(|a| (*a).to_owned()).collect();
    identity.source_identity = source_identity.map(str::to_owned);
    identity.tags = tags;
    identity.transitive_tag_keys = transitive_keys;
    identity.chained = chained;
    let (credentials, session) = mint(state, identity, duration)?;
    audit_issued(state, &asker, call, "sts:AssumeRole", &session);
    tracing::info!(
        request_id = %call.request_id,
        caller = %caller.arn(),
        session = %session.assumed_role_arn(),
        "issued role credentials"
    );
    Ok(
        podpass_awsproto::XmlResponse::new("AssumeRole", NS_STS, &call.request_id).result(|w| {
            write_credentials(w, &credentials, &session);
            if let Some(packed) = packed {
                w.int("PackedPolicySize", packed);
            }
            if let Some(id) = source_identity {
                w.elem("SourceIdentity", id);
            }
        }),
    )
}
