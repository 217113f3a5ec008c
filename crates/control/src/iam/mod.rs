//! IAM: roles, users and groups, their inline and attached policies, users' access keys,
//! managed policies and their versions, OIDC identity providers. Each operation authorizes the caller on the entity's ARN, applies IAM's
//! rules and quotas, writes the store and clears the IAM cache, so that STS and EKS Auth see
//! the change at once.

mod documents;
mod groups;
mod holder_policies;
mod identity_attributes;
mod managed;
mod oidc;
mod roles;
pub mod tags;
mod users;

use podpass_policy::catalogue;
use podpass_store::{Role, StoreError};

use crate::{Control, Ctx, Error, Result};

pub use documents::{DocumentUse, check_document};
pub use holder_policies::PolicyHolder;
pub use identity_attributes::Tagged;
pub use managed::{NewPolicy, PolicyInfo, PolicyScope, version_order_key};
pub use oidc::{MAX_CLIENT_IDS, MAX_THUMBPRINTS, NewProvider};
pub use roles::{MAX_SESSION_RANGE, NewRole};
pub use users::{NewUser, UserAccessKey, UserView};

/// A store error in IAM's words: a missing entity is the store's subject plus " cannot be
/// found." (or its message when that is a full sentence), a taken name "... already exists.",
/// a delete blocked by dependents is [`Error::InUse`]; anything else is internal.
pub(crate) fn store_error(error: StoreError) -> Error {
    match error {
        StoreError::NotFound(what) if what.ends_with('.') => Error::not_found(what),
        StoreError::NotFound(what) => Error::not_found(format!("{what} cannot be found.")),
        StoreError::AlreadyExists(what) => Error::AlreadyExists {
            why: format!("{what} already exists."),
        },
        StoreError::Conflict(why) => Error::InUse { why },
        StoreError::LimitExceeded(why) => Error::limit_exceeded(why),
        other => Error::internal(other),
    }
}

/// Path and name of a managed policy ARN (`.../policy/a/b/Name` is `("/a/b/", "Name")`).
pub fn split_policy_arn(arn: &str) -> (&str, &str) {
    let rest = arn.split_once(":policy").map_or(arn, |(_, rest)| rest);
    match rest.rfind('/') {
        Some(slash) => (&rest[..=slash], &rest[slash + 1..]),
        None => ("/", rest),
    }
}

impl Control {
    /// The role an operation targets, after authorizing the caller on its ARN. A missing role
    /// is authorized against its root-path ARN first, so only permitted callers learn that it
    /// is missing.
    async fn authorized_role(&self, ctx: &Ctx, action: &str, name: &str) -> Result<Role> {
        let found = self.store().role(name).await;
        let arn = match &found {
            Ok(role) => role.arn.clone(),
            Err(_) => podpass_arn::role(self.account_id(), "/", name),
        };
        self.authorize(ctx, action, &arn).await?;
        found.map_err(store_error)
    }

    /// Checks that a managed policy (AWS managed, or of this account) exists and may be
    /// attached.
    async fn require_attachable(&self, arn: &str) -> Result<()> {
        if catalogue::by_arn(arn).is_some() {
            return Ok(());
        }
        match self.store().policy(arn).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(_)) => Err(Error::not_found(format!(
                "Policy {arn} does not exist or is not attachable."
            ))),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// Marks IAM or Pod Identity state as written: cached roles, providers, associations,
    /// users and callers' policies are dropped, so this process applies the change to the next
    /// request.
    pub(crate) fn iam_written(&self) {
        self.iam_cache().clear();
        self.inner.access_keys.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_split_into_path_and_name() {
        assert_eq!(
            split_policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
            ("/", "AmazonS3ReadOnlyAccess")
        );
        assert_eq!(
            split_policy_arn("arn:aws:iam::000000000000:policy/team/a/p1"),
            ("/team/a/", "p1")
        );
    }

    #[test]
    fn store_errors_say_what_iam_says() {
        let missing = store_error(StoreError::NotFound("The role with name x".into()));
        assert_eq!(missing.to_string(), "The role with name x cannot be found.");
        assert!(matches!(missing, Error::NotFound { .. }));
        let sentence = store_error(StoreError::NotFound("Policy p was not found.".into()));
        assert_eq!(sentence.to_string(), "Policy p was not found.");
        let exists = store_error(StoreError::AlreadyExists("Role with name x".into()));
        assert!(
            matches!(&exists, Error::AlreadyExists { why } if why == "Role with name x already exists.")
        );
        let busy = store_error(StoreError::Conflict("busy".into()));
        assert!(matches!(busy, Error::InUse { .. }));
    }
}
