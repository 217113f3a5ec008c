//! STS `AssumeRoleWithWebIdentity` (IRSA): an OIDC token of an issuer the account has an IAM
//! OIDC provider for, traded for a role's session.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>

use podpass_policy::{PolicySet, Principal, Request};
use podpass_session::{FederatedIdentity, SessionKind};
use podpass_token::VerifyError;

use super::{Issued, SessionRequest, TrustQuery, duration_for};
use crate::issuers::VerifyFailure;
use crate::{Asker, Control, Ctx, Error, Invalid, Result};

/// What `AssumeRoleWithWebIdentity` asks for.
#[derive(Clone, Debug, Default)]
pub struct WebIdentity<'a> {
    /// Role, session name, duration and session policies.
    pub session: SessionRequest<'a>,
    /// The OIDC token (a trailing newline of a token file is ignored).
    pub token: &'a str,
}

/// A web identity session and what STS reports about the token.
#[derive(Debug)]
pub struct WebIdentitySession {
    /// The session.
    pub issued: Issued,
    /// The token's `sub`.
    pub subject: String,
    /// The token's audience that the provider lists.
    pub audience: String,
    /// The OIDC provider's ARN.
    pub provider_arn: String,
}

const INVALID_TOKEN: &str = "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.";

impl Control {
    /// Verifies the token against its issuer's keys, finds the account's OIDC provider for its
    /// `iss`, and issues a session of the role if its trust policy allows the provider
    /// `sts:AssumeRoleWithWebIdentity` with the token's claims as condition keys.
    pub async fn assume_role_with_web_identity(
        &self,
        ctx: &Ctx,
        input: &WebIdentity<'_>,
    ) -> Result<WebIdentitySession> {
        // A token file written by a shell redirect ends with a newline; it is not part of the JWT.
        let token = input.token.trim_end();
        let invalid = || Error::invalid(Invalid::Token, INVALID_TOKEN);
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
        let provider_arn = podpass_arn::oidc_provider(self.account_id(), &provider_url);
        let provider = self
            .iam_cache()
            .provider(self.store(), &provider_arn)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    Invalid::Token,
                    format!("No OpenIDConnect provider found in your account for {issuer}"),
                )
            })?;

        let verified = self
            .issuer_keys()
            .verify(&issuer, &provider.client_ids, token, crate::now())
            .await
            .map_err(|failure| web_identity_error(&issuer, failure))?;
        let audience = verified
            .aud
            .iter()
            .find(|a| provider.client_ids.contains(a))
            .cloned()
            .unwrap_or_default();

        let denied = || Error::denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
        let trusted = self
            .find_role(input.session.role_arn)
            .await?
            .ok_or_else(denied)?;
        let role = &trusted.role;
        let amr: Vec<&str> = Vec::new();
        let context = |r: Request| {
            r.with_web_identity_claims(&provider_url, &verified.sub, &audience, Some(&amr))
                .with("aws:FederatedProvider", provider_arn.clone())
                .with("sts:RoleSessionName", input.session.session_name)
        };
        let no_policies = PolicySet::default();
        let query = TrustQuery {
            principal: Principal::WebIdentity {
                provider_arn: provider_arn.clone(),
            },
            policies: &no_policies,
            context: &context,
        };
        let asker = Asker {
            source: "sts.amazonaws.com",
            operation: "AssumeRoleWithWebIdentity",
            principal: &verified.sub,
        };
        if !self.trusts(
            ctx,
            asker,
            &trusted,
            &query,
            "sts:AssumeRoleWithWebIdentity",
        ) {
            return Err(denied());
        }

        let duration = duration_for(role, input.session.duration, false)?;
        let packed_policy_size = self
            .session_policies(input.session.policy, &input.session.policy_arns, &[])
            .await?;
        let mut identity =
            input
                .session
                .identity(role, self.account_id(), SessionKind::WebIdentity);
        identity.federated = Some(FederatedIdentity {
            provider: provider_arn.clone(),
            subject: verified.sub.clone(),
            audience: audience.clone(),
        });
        let (credentials, session) = self.mint(
            ctx,
            asker,
            "sts:AssumeRoleWithWebIdentity",
            identity,
            duration,
        )?;
        tracing::info!(
            request_id = %ctx.request_id,
            role = %role.arn,
            subject = %verified.sub,
            session = %session.assumed_role_arn(),
            expires = credentials.expiration,
            "issued web identity credentials"
        );
        Ok(WebIdentitySession {
            issued: Issued {
                credentials,
                session,
                packed_policy_size,
            },
            subject: verified.sub,
            audience,
            provider_arn,
        })
    }
}

/// STS's answer to a token that did not verify.
fn web_identity_error(issuer: &str, failure: VerifyFailure) -> Error {
    let token_error = match failure {
        VerifyFailure::Keys(e) => {
            tracing::info!(%issuer, error = %e, "cannot fetch the issuer's keys");
            return Error::Unavailable {
                why: "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements".to_owned(),
            };
        }
        VerifyFailure::Token(e) => e,
        VerifyFailure::Refused(why) => {
            tracing::info!(%issuer, %why, "web identity token refused by its cluster");
            return Error::invalid(Invalid::Token, INVALID_TOKEN.to_owned());
        }
    };
    tracing::info!(%issuer, error = %token_error, "web identity token rejected");
    let invalid = |why: String| Error::invalid(Invalid::Token, why);
    match token_error {
        VerifyError::Expired { exp, now } => Error::TokenExpired {
            why: format!(
                "Token expired: current date/time {} must be before the expiration date/time {}",
                jiff::Timestamp::from_second(now).unwrap_or_default(),
                jiff::Timestamp::from_second(exp).unwrap_or_default()
            ),
        },
        VerifyError::WrongAudience(_) => invalid("Incorrect token audience".to_owned()),
        VerifyError::NotYetValid { .. } | VerifyError::IssuedInFuture { .. } => {
            invalid("Token is not yet valid (nbf or iat is in the future)".to_owned())
        }
        VerifyError::MissingClaim(claim) => {
            invalid(format!("Token is missing the required claim {claim}"))
        }
        _ => invalid(INVALID_TOKEN.to_owned()),
    }
}
