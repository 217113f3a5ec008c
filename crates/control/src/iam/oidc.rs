//! OpenID Connect identity providers: the issuers whose tokens AssumeRoleWithWebIdentity trusts.

use podpass_store::{OidcProvider, StoreError, Tag};

use super::store_error;
use super::tags::check_unique_keys;
use crate::{Control, Ctx, Error, Invalid, Result, now};

/// IAM's quota on client ids per provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// IAM's quota on thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;

/// A provider to create.
#[derive(Debug, Clone, Default)]
pub struct NewProvider<'a> {
    /// The issuer URL, as the caller wrote it.
    pub url: &'a str,
    /// Audiences (`aud`) its tokens may carry.
    pub client_ids: Vec<&'a str>,
    /// Certificate thumbprints (optional, as IAM no longer needs them).
    pub thumbprints: Vec<&'a str>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// The issuer URL as IAM stores it: without scheme or trailing slash. `https://` is required,
/// except `http://` to a loopback host (podpass's own issuers).
fn provider_url(url: &str) -> Result<String> {
    let invalid = || {
        Error::invalid(
            Invalid::Input,
            format!("Invalid Url: {url}. The URL must begin with https://."),
        )
    };
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if crate::is_loopback(rest) => rest,
        _ => return Err(invalid()),
    };
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#']) {
        return Err(invalid());
    }
    Ok(rest.to_owned())
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
fn thumbprints(items: &[&str]) -> Vec<String> {
    dedup(items.iter().map(|t| t.to_ascii_lowercase()))
}

impl Control {
    /// The provider an operation targets, after authorizing the caller on its ARN.
    async fn authorized_provider(
        &self,
        ctx: &Ctx,
        action: &str,
        arn: &str,
    ) -> Result<OidcProvider> {
        self.authorize(ctx, action, arn).await?;
        match self.store().oidc_provider(arn).await {
            Ok(provider) => Ok(provider),
            Err(StoreError::NotFound(_)) => Err(Error::not_found(format!(
                "OpenIDConnect Provider not found for arn {arn}"
            ))),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// Writes a changed provider.
    async fn save_provider(&self, provider: &OidcProvider) -> Result<()> {
        self.store()
            .update_oidc_provider(provider)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// CreateOpenIDConnectProvider.
    pub async fn create_oidc_provider(
        &self,
        ctx: &Ctx,
        new: NewProvider<'_>,
    ) -> Result<OidcProvider> {
        let url = provider_url(new.url)?;
        let arn = podpass_arn::oidc_provider(self.account_id(), &url);
        self.authorize(ctx, "iam:CreateOpenIDConnectProvider", &arn)
            .await?;
        check_unique_keys(&new.tags)?;
        let provider = OidcProvider {
            arn,
            url,
            client_ids: dedup(new.client_ids.into_iter().map(str::to_owned)),
            thumbprints: thumbprints(&new.thumbprints),
            tags: new.tags,
            created_at: now(),
        };
        self.store()
            .create_oidc_provider(&provider)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(_) => Error::AlreadyExists {
                    why: format!("Provider with url {} already exists.", new.url),
                },
                other => store_error(other),
            })?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, provider = %provider.arn, "created OIDC provider");
        Ok(provider)
    }

    /// GetOpenIDConnectProvider.
    pub async fn get_oidc_provider(&self, ctx: &Ctx, arn: &str) -> Result<OidcProvider> {
        self.authorized_provider(ctx, "iam:GetOpenIDConnectProvider", arn)
            .await
    }

    /// ListOpenIDConnectProviders.
    pub async fn list_oidc_providers(&self, ctx: &Ctx) -> Result<Vec<OidcProvider>> {
        self.authorize(ctx, "iam:ListOpenIDConnectProviders", "*")
            .await?;
        self.store()
            .list_oidc_providers()
            .await
            .map_err(store_error)
    }

    /// DeleteOpenIDConnectProvider.
    pub async fn delete_oidc_provider(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let provider = self
            .authorized_provider(ctx, "iam:DeleteOpenIDConnectProvider", arn)
            .await?;
        self.store()
            .delete_oidc_provider(&provider.arn)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, provider = %provider.arn, "deleted OIDC provider");
        Ok(())
    }

    /// AddClientIDToOpenIDConnectProvider (idempotent), within IAM's quota.
    pub async fn add_oidc_client_id(&self, ctx: &Ctx, arn: &str, client_id: &str) -> Result<()> {
        let mut provider = self
            .authorized_provider(ctx, "iam:AddClientIDToOpenIDConnectProvider", arn)
            .await?;
        if provider.client_ids.iter().any(|c| c == client_id) {
            return Ok(());
        }
        if provider.client_ids.len() >= MAX_CLIENT_IDS {
            return Err(Error::limit_exceeded(format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
            )));
        }
        provider.client_ids.push(client_id.to_owned());
        self.save_provider(&provider).await
    }

    /// RemoveClientIDFromOpenIDConnectProvider (absent ids are not an error, as IAM).
    pub async fn remove_oidc_client_id(&self, ctx: &Ctx, arn: &str, client_id: &str) -> Result<()> {
        let mut provider = self
            .authorized_provider(ctx, "iam:RemoveClientIDFromOpenIDConnectProvider", arn)
            .await?;
        provider.client_ids.retain(|c| c != client_id);
        self.save_provider(&provider).await
    }

    /// UpdateOpenIDConnectProviderThumbprint (replaces the list).
    pub async fn update_oidc_thumbprints(
        &self,
        ctx: &Ctx,
        arn: &str,
        new_thumbprints: &[&str],
    ) -> Result<()> {
        let mut provider = self
            .authorized_provider(ctx, "iam:UpdateOpenIDConnectProviderThumbprint", arn)
            .await?;
        provider.thumbprints = thumbprints(new_thumbprints);
        self.save_provider(&provider).await
    }
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
            thumbprints(&["ABC", "abc", "def"]),
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
            assert!(
                matches!(
                    provider_url(url),
                    Err(Error::Invalid {
                        kind: Invalid::Input,
                        ..
                    })
                ),
                "{url}"
            );
        }
    }
}
