//! `Principal`/`NotPrincipal` entries: validation and matching against the caller.

use podpass_arn::Arn;

use crate::context::{Principal, Request};
use crate::error::PolicyError;

/// One compiled principal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS":"*"}`: everyone, including anonymous callers.
    Everyone,
    /// An account id or `arn:aws:iam::ACCT:root`: any principal of that account.
    Account(String),
    /// A role ARN (matches every session of the role).
    Role(String),
    /// A user, assumed-role session or federated-user ARN (matches exactly).
    Identity(String),
    /// `{"Federated": ...}`: an OIDC/SAML provider ARN or a well-known IdP name.
    Federated(String),
    /// `{"Service": ...}`: an AWS service principal.
    Service(String),
    /// `{"CanonicalUser": ...}`: S3 canonical user ids (never matched by podpass callers).
    CanonicalUser(String),
}

/// How strongly a principal entry named the caller (iam-eval.md §3 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// Named via its account: the account's identity policies must also allow.
    Account,
    /// Named via its role ARN (or `*` for a role session): boundary and session policies still apply.
    Role,
    /// Named directly (session/user ARN, provider, service).
    Direct,
}

impl PrincipalEntry {
    /// Parses one value of a `Principal` element; `kind` is `AWS`, `Federated`, `Service` or `CanonicalUser`.
    pub(crate) fn parse(kind: &str, value: &str) -> Result<Self, PolicyError> {
        let invalid = || PolicyError::Principal(format!("\"{kind}\":\"{value}\""));
        match kind {
            "AWS" => parse_aws(value).ok_or_else(invalid),
            "Federated" if !value.is_empty() && !value.contains('*') => {
                Ok(PrincipalEntry::Federated(value.to_owned()))
            }
            "Service" if !value.is_empty() && (value == "*" || !value.contains('*')) => {
                Ok(PrincipalEntry::Service(value.to_owned()))
            }
            "CanonicalUser" if !value.is_empty() => {
                Ok(PrincipalEntry::CanonicalUser(value.to_owned()))
            }
            _ => Err(invalid()),
        }
    }

    /// How this entry names the caller, if it does.
    pub(crate) fn matches(&self, request: &Request) -> Option<PrincipalMatch> {
        let principal = request.principal();
        let arns = request.principal_arns();
        match self {
            PrincipalEntry::Everyone => Some(match principal {
                Principal::AssumedRole(_) => PrincipalMatch::Role,
                _ => PrincipalMatch::Direct,
            }),
            PrincipalEntry::Account(account) => match principal {
                Principal::AccountRoot { account: own } if own == account => {
                    Some(PrincipalMatch::Direct)
                }
                _ => (principal.account() == Some(account)).then_some(PrincipalMatch::Account),
            },
            PrincipalEntry::Role(arn) => {
                (arns.role.as_deref() == Some(arn)).then_some(PrincipalMatch::Role)
            }
            PrincipalEntry::Identity(arn) => {
                (arns.identity.as_deref() == Some(arn)).then_some(PrincipalMatch::Direct)
            }
            PrincipalEntry::Federated(provider) => match principal {
                Principal::WebIdentity { provider_arn } if provider_arn == provider => {
                    Some(PrincipalMatch::Direct)
                }
                _ => None,
            },
            PrincipalEntry::Service(name) => match principal {
                Principal::Service { name: own } if name == "*" || own == name => {
                    Some(PrincipalMatch::Direct)
                }
                _ => None,
            },
            PrincipalEntry::CanonicalUser(_) => None,
        }
    }
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws(value: &str) -> Option<PrincipalEntry> {
    if value == "*" {
        return Some(PrincipalEntry::Everyone);
    }
    if is_account_id(value) {
        return Some(PrincipalEntry::Account(value.to_owned()));
    }
    let Arn {
        service,
        region: "",
        account,
        resource,
        ..
    } = Arn::parse(value)?
    else {
        return None;
    };
    if !is_account_id(account) || value.contains('*') {
        return None;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
    };
    match service {
        "iam" if resource == "root" => Some(PrincipalEntry::Account(account.to_owned())),
        "iam" if named("role/") => Some(PrincipalEntry::Role(value.to_owned())),
        "iam" if named("user/") => Some(PrincipalEntry::Identity(value.to_owned())),
        "sts" if named("assumed-role/") && resource.matches('/').count() == 2 => {
            Some(PrincipalEntry::Identity(value.to_owned()))
        }
        "sts" if named("federated-user/") => Some(PrincipalEntry::Identity(value.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_principal_forms() {
        let parse = |v| PrincipalEntry::parse("AWS", v);
        assert_eq!(parse("*"), Ok(PrincipalEntry::Everyone));
        assert_eq!(
            parse("111122223333"),
            Ok(PrincipalEntry::Account("111122223333".into()))
        );
        assert_eq!(
            parse("arn:aws:iam::111122223333:root"),
            Ok(PrincipalEntry::Account("111122223333".into()))
        );
        assert!(matches!(
            parse("arn:aws:iam::111122223333:role/a/b"),
            Ok(PrincipalEntry::Role(_))
        ));
        assert!(matches!(
            parse("arn:aws:iam::111122223333:user/u"),
            Ok(PrincipalEntry::Identity(_))
        ));
        assert!(matches!(
            parse("arn:aws:sts::111122223333:assumed-role/r/s"),
            Ok(PrincipalEntry::Identity(_))
        ));
        for bad in [
            "bad",
            "1234",
            "arn:aws:iam::111122223333:role/*",
            "arn:aws:iam::acct:root",
            "arn:aws:s3:::b",
        ] {
            assert_eq!(
                parse(bad),
                Err(PolicyError::Principal(format!("\"AWS\":\"{bad}\""))),
                "{bad}"
            );
        }
    }
}
