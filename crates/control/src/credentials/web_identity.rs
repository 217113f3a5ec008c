//! STS `AssumeRoleWithWebIdentity` (IRSA): an OIDC token of an issuer the account has an IAM
//! OIDC provider for, traded for a role's session.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>

use podpass_awsproto::MemberType;
use podpass_policy::{PolicySet, Principal, Request};
use podpass_session::{FederatedIdentity, SessionKind, SessionTag};
use podpass_token::VerifyError;
use serde::Deserialize;
use serde_json::Value;

use super::{Issued, SessionRequest, TrustQuery, duration_for, tag_pairs};
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
        let claims: StsClaims = podpass_token::unverified_claims(token).map_err(|_| invalid())?;
        let issuer = claims.iss.clone().ok_or_else(invalid)?;
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
        // The claims decoded above are those of the token that just verified.
        let attributes = TokenAttributes::of(&claims)?;

        let denied = || Error::denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
        let trusted = self
            .find_role(input.session.role_arn)
            .await?
            .ok_or_else(denied)?;
        let role = &trusted.role;
        let amr: Vec<&str> = Vec::new();
        let pairs = tag_pairs(&attributes.tags);
        let transitive_keys: Vec<&str> = attributes
            .transitive_tag_keys
            .iter()
            .map(String::as_str)
            .collect();
        let context = |mut r: Request| {
            r = r
                .with_web_identity_claims(&provider_url, &verified.sub, &audience, Some(&amr))
                .with("aws:FederatedProvider", provider_arn.clone())
                .with("sts:RoleSessionName", input.session.session_name);
            if let Some(id) = &attributes.source_identity {
                r = r.with("sts:SourceIdentity", id.as_str());
            }
            if !pairs.is_empty() {
                r = r.with_request_tags(&pairs);
            }
            if !transitive_keys.is_empty() {
                r = r.with_values("sts:TransitiveTagKeys", &transitive_keys);
            }
            r
        };
        let no_policies = PolicySet::default();
        let query = TrustQuery {
            principal: Principal::WebIdentity {
                provider_arn: provider_arn.clone(),
            }
            .into(),
            policies: &no_policies,
            context: &context,
        };
        let asker = Asker {
            source: "sts.amazonaws.com",
            operation: "AssumeRoleWithWebIdentity",
            principal: &verified.sub,
        };
        // Tags and a source identity from the token need the trust policy's leave too.
        let needed = [
            ("sts:AssumeRoleWithWebIdentity", true),
            ("sts:TagSession", !attributes.tags.is_empty()),
            (
                "sts:SetSourceIdentity",
                attributes.source_identity.is_some(),
            ),
        ];
        for (action, _) in needed.iter().filter(|(_, needed)| *needed) {
            if !self.trusts(ctx, asker, &trusted, &query, action) {
                return Err(denied());
            }
        }

        let duration = duration_for(role, input.session.duration, false)?;
        let packed_policy_size = self
            .session_policies(
                input.session.policy,
                &input.session.policy_arns,
                &attributes.tags,
            )
            .await?;
        let mut identity =
            input
                .session
                .identity(role, self.account_id(), SessionKind::WebIdentity);
        identity.tags = attributes.tags;
        identity.transitive_tag_keys = attributes.transitive_tag_keys;
        identity.source_identity = attributes.source_identity;
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

/// What STS reads of a web identity token's claims besides what the verifier checks: the
/// issuer, which names the provider, and the session tags and source identity it asks for.
#[derive(Deserialize)]
struct StsClaims {
    iss: Option<String>,
    /// [`TAGS_CLAIM`].
    #[serde(
        rename = "https://aws.amazon.com/tags",
        default,
        deserialize_with = "present"
    )]
    tags: Option<Value>,
    /// [`SOURCE_IDENTITY_CLAIM`].
    #[serde(
        rename = "https://aws.amazon.com/source_identity",
        default,
        deserialize_with = "present"
    )]
    source_identity: Option<Value>,
}

/// A claim that is there, even as `null` (which is refused as malformed, not taken as absent).
fn present<'de, D: serde::Deserializer<'de>>(
    claim: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(claim).map(Some)
}

/// What an identity provider asks of the session through its token, as AWS reads it:
/// `https://aws.amazon.com/tags` (`principal_tags`, each a list of one value, and
/// `transitive_tag_keys`) and `https://aws.amazon.com/source_identity`.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_adding-assume-role-idp>,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html>
#[derive(Debug, Default, PartialEq, Eq)]
struct TokenAttributes {
    tags: Vec<SessionTag>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
}

const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";
/// STS's limit on session tags, whichever way they come.
const MAX_SESSION_TAGS: usize = 50;

impl TokenAttributes {
    /// Reads the claims of a verified token; anything malformed refuses the whole request, as
    /// STS does (`ValidationError`), rather than issuing a session without what was asked.
    fn of(claims: &StsClaims) -> Result<Self> {
        let mut attributes = Self::default();
        if let Some(claim) = &claims.tags {
            attributes.read_tags(claim)?;
        }
        if let Some(id) = &claims.source_identity {
            let id = id
                .as_str()
                .filter(|id| {
                    MemberType::SourceIdentity.accepts(id)
                        && !id.to_ascii_lowercase().starts_with("aws:")
                })
                .ok_or_else(|| {
                    Error::invalid(
                        Invalid::Validation,
                        format!(
                            "The {SOURCE_IDENTITY_CLAIM} claim must be 2 to 64 characters of [\\w+=,.@-], not starting with aws:"
                        ),
                    )
                })?;
            attributes.source_identity = Some(id.to_owned());
        }
        Ok(attributes)
    }

    fn read_tags(&mut self, claim: &Value) -> Result<()> {
        let refuse = |why: String| {
            Error::invalid(
                Invalid::Validation,
                format!("Unable to validate tags: {why}"),
            )
        };
        let claim = claim
            .as_object()
            .ok_or_else(|| refuse(format!("{TAGS_CLAIM} is not an object")))?;
        let principal_tags = match claim.get("principal_tags") {
            None => &serde_json::Map::new(),
            Some(tags) => tags
                .as_object()
                .ok_or_else(|| refuse("principal_tags is not an object".to_owned()))?,
        };
        if principal_tags.len() > MAX_SESSION_TAGS {
            return Err(refuse(format!(
                "{} session tags, more than {MAX_SESSION_TAGS}",
                principal_tags.len()
            )));
        }
        for (key, values) in principal_tags {
            let value = match values.as_array().map(Vec::as_slice) {
                Some([Value::String(value)]) => value,
                Some([_, _, ..]) => {
                    return Err(refuse(format!(
                        "the tag {key} has several values; a session tag has one"
                    )));
                }
                _ => {
                    return Err(refuse(format!(
                        "the value of {key} is not a list of one string"
                    )));
                }
            };
            if !MemberType::TagKey.accepts(key) || key.to_ascii_lowercase().starts_with("aws:") {
                return Err(refuse(format!("{key:?} is not a tag key")));
            }
            if !MemberType::TagValue.accepts(value) {
                return Err(refuse(format!("{value:?} is not a value of the tag {key}")));
            }
            // Tag keys are case-insensitive: Department and department are one tag.
            if self.tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
                return Err(refuse(format!("the tag {key} appears twice")));
            }
            self.tags.push(SessionTag {
                key: key.clone(),
                value: value.clone(),
            });
        }
        let Some(keys) = claim.get("transitive_tag_keys") else {
            return Ok(());
        };
        let keys = keys
            .as_array()
            .ok_or_else(|| refuse("transitive_tag_keys is not a list".to_owned()))?;
        for key in keys {
            let key = key
                .as_str()
                .filter(|key| self.tags.iter().any(|t| t.key == *key))
                .ok_or_else(|| {
                    refuse(format!(
                        "the transitive tag key {key} is not one of the principal tags"
                    ))
                })?;
            self.transitive_tag_keys.push(key.to_owned());
        }
        Ok(())
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
