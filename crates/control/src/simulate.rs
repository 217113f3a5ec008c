//! What the policy simulators share, `podpass iam simulate` and IAM's `SimulateCustomPolicy` /
//! `SimulatePrincipalPolicy`: who the simulated caller is, and a stored role (as a session) or
//! user with its policies. The decision itself is the engine's (`podpass_policy::evaluate_explained`).

use podpass_arn::Arn;
use podpass_policy::{IamUser, PolicySet, Principal, RoleSession};
use podpass_store::{Role, StoreError};

use crate::authz::{role_policies, user_context};
use crate::{Control, Error, Invalid, Result, UserCaller};

/// Session name of the role session a simulation evaluates a role as.
pub const SIMULATED_SESSION: &str = "simulated-session";

/// The principal an IAM ARN names: the account root, a user, a role (as a session of it) or a
/// role session; `None` for anything else.
pub fn arn_principal(arn: &str) -> Option<Principal> {
    let parsed = Arn::parse(arn)?;
    let account = parsed.account.to_owned();
    match (parsed.service, parsed.resource) {
        ("iam", "root") => Some(Principal::AccountRoot { account }),
        ("iam", _) => {
            if let Some((path, name)) = parsed.path_and_name("user") {
                return Some(Principal::User(IamUser {
                    account,
                    name: name.to_owned(),
                    path: path.to_owned(),
                    ..IamUser::default()
                }));
            }
            let (role_path, role_name) = parsed.path_and_name("role")?;
            Some(Principal::AssumedRole(RoleSession {
                account,
                role_name: role_name.to_owned(),
                role_path: role_path.to_owned(),
                session_name: SIMULATED_SESSION.to_owned(),
                ..RoleSession::default()
            }))
        }
        ("sts", resource) => {
            let mut segments = resource.split('/');
            match (
                segments.next(),
                segments.next(),
                segments.next(),
                segments.next(),
            ) {
                (Some("assumed-role"), Some(role_name), Some(session_name), None)
                    if !role_name.is_empty() && !session_name.is_empty() =>
                {
                    Some(Principal::AssumedRole(RoleSession {
                        account,
                        role_name: role_name.to_owned(),
                        role_path: "/".to_owned(),
                        session_name: session_name.to_owned(),
                        ..RoleSession::default()
                    }))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Any caller a simulation can name: an OIDC or SAML provider ARN (a web identity), an IAM
/// ARN ([`arn_principal`]), an account id (its root), or else a service principal such as
/// `pods.eks.amazonaws.com`.
pub fn caller_principal(caller: &str) -> Principal {
    let federated = Arn::parse(caller).is_some_and(|arn| {
        let (kind, _) = arn.resource_type();
        arn.service == "iam" && (kind == "oidc-provider" || kind == "saml-provider")
    });
    if federated {
        return Principal::WebIdentity {
            provider_arn: caller.to_owned(),
        };
    }
    if let Some(principal) = arn_principal(caller) {
        return principal;
    }
    if caller.len() == 12 && caller.bytes().all(|b| b.is_ascii_digit()) {
        return Principal::AccountRoot {
            account: caller.to_owned(),
        };
    }
    Principal::Service {
        name: caller.to_owned(),
    }
}

/// A session of `role` as the simulators evaluate it, with the role's tags.
pub fn role_session(role: &Role, account: &str) -> Principal {
    Principal::AssumedRole(RoleSession {
        account: account.to_owned(),
        role_name: role.role_name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: SIMULATED_SESSION.to_owned(),
        tags: role
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        source_identity: None,
    })
}

impl Control {
    /// The principal a simulation's `PolicySourceArn` names, with its policies: a role (as a
    /// session of it) or a user (with its groups' policies). [`Error::NotFound`] when there is
    /// none, [`Invalid::Input`] for anything but a role or user of this account.
    pub async fn simulation_source(&self, arn: &str) -> Result<(Principal, PolicySet)> {
        let account = self.account_id();
        let parsed = Arn::parse(arn).filter(|a| a.service == "iam" && a.account == account);
        if let Some((_, name)) = parsed.as_ref().and_then(|a| a.path_and_name("role")) {
            return match self.simulation_role(name).await? {
                (role, policies) if role.arn == arn => Ok((role_session(&role, account), policies)),
                _ => Err(Error::not_found(format!(
                    "The role with name {name} cannot be found."
                ))),
            };
        }
        if let Some((_, name)) = parsed.as_ref().and_then(|a| a.path_and_name("user")) {
            let user = match self.store().user(name).await {
                Ok(user) if user.arn == arn => user,
                Ok(_) | Err(StoreError::NotFound(_)) => {
                    return Err(Error::not_found(format!(
                        "The user with name {name} cannot be found."
                    )));
                }
                Err(error) => return Err(Error::internal(error)),
            };
            let signer = UserCaller::with_key(&user, account, "");
            return user_context(self.store(), &signer)
                .await
                .map_err(Error::internal);
        }
        Err(Error::invalid(
            Invalid::Input,
            format!(
                "Invalid PolicySourceArn {arn}: only roles and users of account {account} can be simulated."
            ),
        ))
    }

    /// A stored role by name with its identity policies and boundary, as a simulation takes
    /// it: [`Error::NotFound`] with IAM's message when there is none.
    pub async fn simulation_role(&self, name: &str) -> Result<(Role, PolicySet)> {
        simulation_role(self.store(), name).await
    }
}

/// [`Control::simulation_role`] over a store, for the CLI, which has no running instance.
pub async fn simulation_role(
    store: &podpass_store::Store,
    name: &str,
) -> Result<(Role, PolicySet)> {
    let role = match store.role(name).await {
        Ok(role) => role,
        Err(StoreError::NotFound(_)) => {
            return Err(Error::not_found(format!(
                "The role with name {name} cannot be found."
            )));
        }
        Err(e) => return Err(Error::internal(e)),
    };
    let policies = role_policies(store, &role).await.map_err(Error::internal)?;
    Ok((role, policies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_arns_become_principals() {
        assert!(matches!(
            arn_principal("arn:aws:iam::111122223333:root"),
            Some(Principal::AccountRoot { account }) if account == "111122223333"
        ));
        let Some(Principal::User(user)) = arn_principal("arn:aws:iam::1:user/ops/alice") else {
            panic!("user")
        };
        assert_eq!((user.path.as_str(), user.name.as_str()), ("/ops/", "alice"));
        let Some(Principal::AssumedRole(role)) = arn_principal("arn:aws:iam::1:role/team/app")
        else {
            panic!("role")
        };
        assert_eq!(
            (
                role.role_path.as_str(),
                role.role_name.as_str(),
                role.session_name.as_str()
            ),
            ("/team/", "app", SIMULATED_SESSION)
        );
        let Some(Principal::AssumedRole(session)) =
            arn_principal("arn:aws:sts::1:assumed-role/app/s1")
        else {
            panic!("session")
        };
        assert_eq!(session.session_name, "s1");
        for invalid in [
            "arn:aws:sts::1:assumed-role/r",
            "arn:aws:sts::1:assumed-role/r/s/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::1:group/g",
            "not-an-arn",
        ] {
            assert!(arn_principal(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn any_caller_names_a_principal() {
        assert!(matches!(
            caller_principal("arn:aws:iam::1:oidc-provider/issuer.example/id/1"),
            Principal::WebIdentity { .. }
        ));
        assert!(matches!(
            caller_principal("111122223333"),
            Principal::AccountRoot { .. }
        ));
        assert!(matches!(
            caller_principal("pods.eks.amazonaws.com"),
            Principal::Service { name } if name == "pods.eks.amazonaws.com"
        ));
        assert!(matches!(
            caller_principal("arn:aws:sts::1:assumed-role/app/s"),
            Principal::AssumedRole(_)
        ));
    }
}
