//! STS (query protocol): decodes `AssumeRoleWithWebIdentity`, `AssumeRole`,
//! `GetCallerIdentity`, `GetAccessKeyInfo`, `GetSessionToken` and `DecodeAuthorizationMessage`, validates their members as AWS's model does, calls the domain layer
//! (`podpass_control::credentials`) and renders the XML answer.

use podpass_awsproto::{
    AwsError, MemberType, NS_STS, RenderedResponse, Validation, XmlResponse, XmlWriter,
};
use podpass_control::credentials::{AssumeRole, Issued, SessionRequest, WebIdentity};
use podpass_session::SessionTag;

use crate::call::{Call, STS, unknown_action};
use crate::{AppState, errors};

/// Runs one STS action.
pub(crate) async fn dispatch(
    state: &AppState,
    action: &str,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(state, call).await,
        "AssumeRole" => assume_role(state, call).await,
        "GetCallerIdentity" => get_caller_identity(call),
        "GetAccessKeyInfo" => get_access_key_info(state, call).await,
        "DecodeAuthorizationMessage" => decode_authorization_message(state, call).await,
        "GetSessionToken" => get_session_token(state, call).await,
        _ => Err(unknown_action(action, STS)),
    }
}

fn get_caller_identity(call: &Call) -> Result<RenderedResponse, AwsError> {
    let caller = call.require_caller()?;
    Ok(
        XmlResponse::new("GetCallerIdentity", NS_STS, &call.ctx.request_id).result(|w| {
            w.elem("UserId", &caller.user_id())
                .elem("Account", caller.account())
                .elem("Arn", &caller.arn());
        }),
    )
}

async fn get_access_key_info(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let key = call.params.get("AccessKeyId");
    let mut validation = Validation::new();
    validation
        .require("AccessKeyId", key)
        .check("AccessKeyId", key, MemberType::AccessKeyId);
    validation.finish()?;
    let account = state
        .control
        .access_key_account(&call.ctx, key.unwrap_or_default())
        .await
        .map_err(errors::query)?;
    Ok(
        XmlResponse::new("GetAccessKeyInfo", NS_STS, &call.ctx.request_id).result(|w| {
            w.elem("Account", &account);
        }),
    )
}

async fn decode_authorization_message(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let encoded = call.params.get("EncodedMessage");
    let mut validation = Validation::new();
    validation.require("EncodedMessage", encoded).check(
        "EncodedMessage",
        encoded,
        MemberType::EncodedMessage,
    );
    validation.finish()?;
    let decoded = state
        .control
        .decode_authorization_message(&call.ctx, encoded.unwrap_or_default())
        .await
        .map_err(errors::query)?;
    Ok(
        XmlResponse::new("DecodeAuthorizationMessage", NS_STS, &call.ctx.request_id).result(|w| {
            w.elem("DecodedMessage", &decoded);
        }),
    )
}

/// Decodes and validates the members AssumeRole and AssumeRoleWithWebIdentity share.
fn session_request<'a>(
    call: &'a Call,
    validation: &mut Validation,
) -> Result<SessionRequest<'a>, AwsError> {
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
    Ok(SessionRequest {
        role_arn: role_arn.unwrap_or_default(),
        session_name: session_name.unwrap_or_default(),
        duration,
        policy,
        policy_arns,
    })
}

fn write_credentials(w: &mut XmlWriter, issued: &Issued) {
    write_keys(w, issued);
    w.nest("AssumedRoleUser", |w| {
        w.elem("AssumedRoleId", &issued.session.assumed_role_id())
            .elem("Arn", &issued.session.assumed_role_arn());
    });
    if let Some(packed) = issued.packed_policy_size {
        w.int("PackedPolicySize", packed);
    }
}

/// The `Credentials` element: the keys, the token and when they expire.
fn write_keys(w: &mut XmlWriter, issued: &Issued) {
    let credentials = &issued.credentials;
    let expiration = jiff::Timestamp::from_second(credentials.expiration).unwrap_or_default();
    w.nest("Credentials", |w| {
        w.elem("AccessKeyId", &credentials.access_key_id)
            .elem("SecretAccessKey", &credentials.secret_access_key)
            .elem("SessionToken", &credentials.session_token)
            .timestamp("Expiration", expiration);
    });
}

async fn get_session_token(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let duration = params.i64("DurationSeconds")?;
    let serial = params.get("SerialNumber");
    let code = params.get("TokenCode");
    validation
        .check_range("DurationSeconds", duration, 900, 129_600)
        .check("SerialNumber", serial, MemberType::SerialNumber)
        .check("TokenCode", code, MemberType::TokenCode);
    validation.finish()?;
    let issued = state
        .control
        .get_session_token(&call.ctx, duration, serial.is_some() || code.is_some())
        .await
        .map_err(errors::query)?;
    Ok(
        XmlResponse::new("GetSessionToken", NS_STS, &call.ctx.request_id).result(|w| {
            write_keys(w, &issued);
        }),
    )
}

/// The session's source identity, asked for or carried through the chain.
fn write_source_identity(w: &mut XmlWriter, issued: &Issued) {
    if let Some(id) = &issued.session.identity.source_identity {
        w.elem("SourceIdentity", id);
    }
}

async fn assume_role_with_web_identity(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let session = session_request(call, &mut validation)?;
    let token = call.params.get("WebIdentityToken");
    validation.require("WebIdentityToken", token).check(
        "WebIdentityToken",
        token,
        MemberType::WebIdentityToken,
    );
    validation.finish()?;
    let input = WebIdentity {
        session,
        token: token.unwrap_or_default(),
    };
    let issued = state
        .control
        .assume_role_with_web_identity(&call.ctx, &input)
        .await
        .map_err(errors::query)?;
    Ok(
        XmlResponse::new("AssumeRoleWithWebIdentity", NS_STS, &call.ctx.request_id).result(|w| {
            w.elem("SubjectFromWebIdentityToken", &issued.subject)
                .elem("Audience", &issued.audience);
            write_credentials(w, &issued.issued);
            w.elem("Provider", &issued.provider_arn);
            write_source_identity(w, &issued.issued);
        }),
    )
}

async fn assume_role(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    call.require_caller()?;
    let params = &call.params;
    let mut validation = Validation::new();
    let session = session_request(call, &mut validation)?;
    let external_id = params.get("ExternalId");
    let source_identity = params.get("SourceIdentity");
    validation
        .check("ExternalId", external_id, MemberType::ExternalId)
        .check(
            "SourceIdentity",
            source_identity,
            MemberType::SourceIdentity,
        );
    let tags: Vec<SessionTag> = params
        .structs("Tags")
        .unwrap_or_default()
        .iter()
        .map(|m| SessionTag {
            key: m.get("Key").unwrap_or_default().to_owned(),
            value: m.get("Value").unwrap_or_default().to_owned(),
        })
        .collect();
    validation.check_list_len("Tags", Some(&tags), 50);
    for (i, tag) in tags.iter().enumerate() {
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
    let transitive_tag_keys: Vec<String> = params
        .list("TransitiveTagKeys")
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    validation.check_list_len("TransitiveTagKeys", Some(&transitive_tag_keys), 50);
    validation.finish()?;
    let input = AssumeRole {
        session,
        external_id,
        source_identity,
        tags,
        transitive_tag_keys,
    };
    let issued = state
        .control
        .assume_role(&call.ctx, &input)
        .await
        .map_err(errors::query)?;
    Ok(
        XmlResponse::new("AssumeRole", NS_STS, &call.ctx.request_id).result(|w| {
            write_credentials(w, &issued);
            write_source_identity(w, &issued);
        }),
    )
}
