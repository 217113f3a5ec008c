//! OpenID Connect identity providers: the issuers whose tokens AssumeRoleWithWebIdentity trusts.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_store::{OidcProvider, StoreError};

use super::common::{account, required, response, store_error, timestamp};
use super::render::write_tags;
use super::tags::{check_unique_keys, read_tags};
use crate::AppState;
use crate::call::Call;
use crate::call::authorize;
use crate::errors::internal;

/// IAM's quotas on client ids and thumbprints per provider.
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;

/// The issuer URL as IAM stores it: without scheme or trailing slash. `https://` is required,
/// except `http://` to a loopback host (podpass's own issuers).
fn provider_url(url: &str) -> Result<String, AwsError> {
    let invalid = || {
        AwsError::invalid_input(format!(
            "Invalid Url: {url}. The URL must begin with https://."
        ))
    };
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if is_loopback(rest) => rest,
        _ => return Err(invalid()),
    };
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#']) {
        return Err(invalid());
    }
    Ok(rest.to_owned())
}

/// Whether the authority of `rest` (`host[:port]/...`) is a loopback host.
fn is_loopback(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn provider_arn(state: &AppState, url: &str) -> String {
    podpass_arn::oidc_provider(account(state), url)
}

fn provider_arn_member<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(
        call,
        validation,
        "OpenIDConnectProviderArn",
        MemberType::Arn,
    )
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

/// The provider an action targets, after authorizing the caller on its ARN.
async fn authorized_provider(
    state: &AppState,
    call: &Call,
    action: &str,
    arn: &str,
) -> Result<OidcProvider, AwsError> {
    authorize(state, call, action, arn).await?;
    match state.control.store().oidc_provider(arn).await {
        Ok(provider) => Ok(provider),
        Err(StoreError::NotFound(_)) => Err(AwsError::no_such_entity(format!(
            "OpenIDConnect Provider not found for arn {arn}"
        ))),
        Err(e) => Err(internal(e)),
    }
}

fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// Thumbprints as IAM stores them: lower-case hex, without duplicates.
fn thumbprints(items: Vec<&str>) -> Vec<String> {
    dedup(items.into_iter().map(str::to_ascii_lowercase))
}

/// CreateOpenIDConnectProvider (thumbprints optional, as IAM no longer needs them).
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
    let thumbprint_list = read_list(
        call,
        &mut validation,
        "ThumbprintList",
        MemberType::Thumbprint,
        MAX_THUMBPRINTS,
    );
    let tags = read_tags(&call.params, &mut validation).unwrap_or_default();
    validation.finish()?;
    let stored_url = provider_url(url)?;
    let arn = provider_arn(state, &stored_url);
    authorize(state, call, "iam:CreateOpenIDConnectProvider", &arn).await?;
    check_unique_keys(&tags)?;
    let provider = OidcProvider {
        arn,
        url: stored_url,
        client_ids: dedup(
            client_ids
                .unwrap_or_default()
                .into_iter()
                .map(str::to_owned),
        ),
        thumbprints: thumbprints(thumbprint_list.unwrap_or_default()),
        tags,
        created_at: podpass_control::now(),
    };
    state
        .control
        .store()
        .create_oidc_provider(&provider)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) => {
                AwsError::entity_already_exists(format!("Provider with url {url} already exists."))
            }
            other => store_error(other),
        })?;
    tracing::info!(request_id = %call.ctx.request_id, provider = %provider.arn, "created OIDC provider");
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
    let arn = provider_arn_member(call, &mut validation);
    validation.finish()?;
    let provider = authorized_provider(state, call, "iam:GetOpenIDConnectProvider", arn).await?;
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
    authorize(state, call, "iam:ListOpenIDConnectProviders", "*").await?;
    let providers = state
        .control
        .store()
        .list_oidc_providers()
        .await
        .map_err(store_error)?;
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
    let arn = provider_arn_member(call, &mut validation);
    validation.finish()?;
    let provider = authorized_provider(state, call, "iam:DeleteOpenIDConnectProvider", arn).await?;
    state
        .control
        .store()
        .delete_oidc_provider(&provider.arn)
        .await
        .map_err(store_error)?;
    tracing::info!(request_id = %call.ctx.request_id, provider = %provider.arn, "deleted OIDC provider");
    Ok(response("DeleteOpenIDConnectProvider", call).empty())
}

/// AddClientIDToOpenIDConnectProvider (idempotent).
pub(super) async fn add_client_id(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn_member(call, &mut validation);
    let client_id = required(call, &mut validation, "ClientID", MemberType::ClientId);
    validation.finish()?;
    let mut provider =
        authorized_provider(state, call, "iam:AddClientIDToOpenIDConnectProvider", arn).await?;
    if !provider.client_ids.iter().any(|c| c == client_id) {
        if provider.client_ids.len() >= MAX_CLIENT_IDS {
            return Err(AwsError::limit_exceeded(format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
            )));
        }
        provider.client_ids.push(client_id.to_owned());
        state
            .control
            .store()
            .update_oidc_provider(&provider)
            .await
            .map_err(store_error)?;
    }
    Ok(response("AddClientIDToOpenIDConnectProvider", call).empty())
}

/// RemoveClientIDFromOpenIDConnectProvider (absent ids are not an error, as IAM).
pub(super) async fn remove_client_id(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn_member(call, &mut validation);
    let client_id = required(call, &mut validation, "ClientID", MemberType::ClientId);
    validation.finish()?;
    let mut provider = authorized_provider(
        state,
        call,
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        arn,
    )
    .await?;
    provider.client_ids.retain(|c| c != client_id);
    state
        .control
        .store()
        .update_oidc_provider(&provider)
        .await
        .map_err(store_error)?;
    Ok(response("RemoveClientIDFromOpenIDConnectProvider", call).empty())
}

/// UpdateOpenIDConnectProviderThumbprint (replaces the list).
pub(super) async fn update_thumbprints(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = provider_arn_member(call, &mut validation);
    let thumbprint_list = read_list(
        call,
        &mut validation,
        "ThumbprintList",
        MemberType::Thumbprint,
        MAX_THUMBPRINTS,
    );
    if thumbprint_list.is_none() {
        validation.require("ThumbprintList", None);
    }
    validation.finish()?;
    let mut provider = authorized_provider(
        state,
        call,
        "iam:UpdateOpenIDConnectProviderThumbprint",
        arn,
    )
    .await?;
    provider.thumbprints = thumbprints(thumbprint_list.unwrap_or_default());
    state
        .control
        .store()
        .update_oidc_provider(&provider)
        .await
        .map_err(store_error)?;
    Ok(response("UpdateOpenIDConnectProviderThumbprint", call).empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_stored_without_scheme() {
        assert_eq!(
            provider_url("https://oidc.eks.us-west-2.amazonaws.com/id/ABC/").unwrap(),
            "oidc.eks.us-west-2.amazonaws.com/id/ABC"
        );
        assert_eq!(
            provider_url("http://127.0.0.1:8080/id/XYZ").unwrap(),
            "127.0.0.1:8080/id/XYZ"
        );
        assert_eq!(
            provider_url("http://localhost:1/x").unwrap(),
            "localhost:1/x"
        );
        assert_eq!(provider_url("http://[::1]:80/x").unwrap(), "[::1]:80/x");
    }

    #[test]
    fn thumbprints_are_lowercased_once() {
        assert_eq!(
            thumbprints(vec!["ABC", "abc", "def"]),
            ["abc".to_owned(), "def".to_owned()]
        );
    }

    #[test]
    fn insecure_or_odd_urls_are_invalid_input() {
        for url in [
            "http://oidc.example.com/id/1",
            "oidc.example.com",
            "https://",
            "https://host/x?query=1",
            "ftp://127.0.0.1/x",
        ] {
            assert_eq!(provider_url(url).unwrap_err().code, "InvalidInput", "{url}");
        }
    }
}
