//! OpenID Connect identity providers: the issuers whose tokens AssumeRoleWithWebIdentity trusts.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::iam::{MAX_CLIENT_IDS, MAX_THUMBPRINTS, NewProvider};

use super::common::{required, response, timestamp};
use super::render::write_tags;
use super::tags::read_tags;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

fn provider_arn<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(
        call,
        validation,
        "OpenIDConnectProviderArn",
        MemberType::Arn,
    )
}

fn client_id<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "ClientID", MemberType::ClientId)
}

/// Reads a list member of scalars, each checked against `member_type`, at most `max` long.
fn read_list<'c>(
    call: &'c Call,
    validation: &mut Validation,
    member: &str,
    member_type: MemberType,
    max: usize,
) -> Option<Vec<&'c str>> {
    let items = call.params.list(member)?;
    validation.check_list_len(member, Some(&items), max);
    for (i, item) in items.iter().enumerate() {
        validation.check(
            &format!("{member}.member.{}", i + 1),
            Some(item),
            member_type,
        );
    }
    Some(items)
}

fn read_thumbprints<'c>(call: &'c Call, validation: &mut Validation) -> Option<Vec<&'c str>> {
    read_list(
        call,
        validation,
        "ThumbprintList",
        MemberType::Thumbprint,
        MAX_THUMBPRINTS,
    )
}

/// CreateOpenIDConnectProvider.
pub(super) async fn create_provider(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let url = required(call, &mut validation, "Url", MemberType::OidcUrl);
    let client_ids = read_list(
        call,
        &mut validation,
        "ClientIDList",
        MemberType::ClientId,
        MAX_CLIENT_IDS,
    );
    let thumbprints = read_thumbprints(call, &mut validation);
    let tags = read_tags(&call.params, &mut validation).unwrap_or_default();
    validation.finish()?;
    let new = NewProvider {
        url,
        client_ids: client_ids.unwrap_or_default(),
        thumbprints: thumbprints.unwrap_or_default(),
        tags,
    };
    let provider = state
        .control
        .create_oidc_provider(&call.ctx, new)
        .await
        .map_err(query)?;
    Ok(response("CreateOpenIDConnectProvider", call).result(|w| {
        w.elem("OpenIDConnectProviderArn", &provider.arn);
        if !provider.tags.is_empty() {
            write_tags(w, &provider.tags);
        }
    }))
}

/// GetOpenIDConnectProvider.
pub(super) async fn get_provider(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn(call, &mut validation);
    validation.finish()?;
    let provider = state
        .control
        .get_oidc_provider(&call.ctx, arn)
        .await
        .map_err(query)?;
    Ok(response("GetOpenIDConnectProvider", call).result(|w| {
        w.elem("Url", &provider.url)
            .text_list("ClientIDList", &provider.client_ids)
            .text_list("ThumbprintList", &provider.thumbprints)
            .timestamp("CreateDate", timestamp(provider.created_at));
        if !provider.tags.is_empty() {
            write_tags(w, &provider.tags);
        }
    }))
}

/// ListOpenIDConnectProviders.
pub(super) async fn list_providers(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let providers = state
        .control
        .list_oidc_providers(&call.ctx)
        .await
        .map_err(query)?;
    Ok(response("ListOpenIDConnectProviders", call).result(|w| {
        w.list("OpenIDConnectProviderList", &providers, |w, provider| {
            w.elem("Arn", &provider.arn);
        });
    }))
}

/// DeleteOpenIDConnectProvider.
pub(super) async fn delete_provider(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_oidc_provider(&call.ctx, arn)
        .await
        .map_err(query)?;
    Ok(response("DeleteOpenIDConnectProvider", call).empty())
}

/// AddClientIDToOpenIDConnectProvider.
pub(super) async fn add_client_id(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn(call, &mut validation);
    let client_id = client_id(call, &mut validation);
    validation.finish()?;
    state
        .control
        .add_oidc_client_id(&call.ctx, arn, client_id)
        .await
        .map_err(query)?;
    Ok(response("AddClientIDToOpenIDConnectProvider", call).empty())
}

/// RemoveClientIDFromOpenIDConnectProvider.
pub(super) async fn remove_client_id(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn(call, &mut validation);
    let client_id = client_id(call, &mut validation);
    validation.finish()?;
    state
        .control
        .remove_oidc_client_id(&call.ctx, arn, client_id)
        .await
        .map_err(query)?;
    Ok(response("RemoveClientIDFromOpenIDConnectProvider", call).empty())
}

/// UpdateOpenIDConnectProviderThumbprint (replaces the list).
pub(super) async fn update_thumbprints(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn(call, &mut validation);
    let thumbprints = read_thumbprints(call, &mut validation);
    if thumbprints.is_none() {
        validation.require("ThumbprintList", None);
    }
    validation.finish()?;
    state
        .control
        .update_oidc_thumbprints(&call.ctx, arn, &thumbprints.unwrap_or_default())
        .await
        .map_err(query)?;
    Ok(response("UpdateOpenIDConnectProviderThumbprint", call).empty())
}
