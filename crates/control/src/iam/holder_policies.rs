//! Inline policies and managed policy attachments of roles, users and groups: one set of
//! operations, whose IAM action, quotas and messages follow the holder's kind.

use podpass_policy::SizedDocument;
use podpass_store::Holder;

use super::documents::{DocumentUse, check_document};
use super::{split_policy_arn, store_error};
use crate::{Control, Ctx, Error, Result};

/// Most managed policies one role, user or group may have attached (IAM's default quotas).
const MAX_ATTACHED_POLICIES: usize = 10;

/// A role, user or group, by name, as an operation names the entity whose policies it acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyHolder<'a> {
    /// `RoleName`.
    Role(&'a str),
    /// `UserName`.
    User(&'a str),
    /// `GroupName`.
    Group(&'a str),
}

impl PolicyHolder<'_> {
    /// The kind as IAM's action names spell it: `Role`, `User` or `Group`.
    pub fn kind(self) -> &'static str {
        match self {
            PolicyHolder::Role(_) => "Role",
            PolicyHolder::User(_) => "User",
            PolicyHolder::Group(_) => "Group",
        }
    }

    /// The IAM operation `{verb}{kind}{noun}`, e.g. `PutUserPolicy`, `ListAttachedGroupPolicies`.
    pub fn operation(self, verb: &str, noun: &str) -> String {
        format!("{verb}{}{noun}", self.kind())
    }

    /// The same kind of holder, named `name`.
    pub fn named(self, name: &str) -> PolicyHolder<'_> {
        match self {
            PolicyHolder::Role(_) => PolicyHolder::Role(name),
            PolicyHolder::User(_) => PolicyHolder::User(name),
            PolicyHolder::Group(_) => PolicyHolder::Group(name),
        }
    }

    /// The quota on all of the holder's inline policies together.
    pub(crate) fn inline_quota(self) -> SizedDocument {
        match self {
            PolicyHolder::Role(_) => SizedDocument::InlineRolePolicies,
            PolicyHolder::User(_) => SizedDocument::InlineUserPolicies,
            PolicyHolder::Group(_) => SizedDocument::InlineGroupPolicies,
        }
    }
}

/// A holder found in the store: its name as stored, and how the store keys its policies.
struct FoundHolder {
    name: String,
    key: String,
    keyed: fn(&str) -> Holder<'_>,
}

impl FoundHolder {
    fn holder(&self) -> Holder<'_> {
        (self.keyed)(&self.key)
    }
}

impl Control {
    /// The holder an operation targets, after authorizing `iam:{verb}{kind}{noun}` on its ARN.
    async fn authorized_holder(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        verb: &str,
        noun: &str,
    ) -> Result<FoundHolder> {
        let action = format!("iam:{}", target.operation(verb, noun));
        Ok(match target {
            PolicyHolder::Role(name) => {
                let role = self.authorized_role(ctx, &action, name).await?;
                FoundHolder {
                    name: role.role_name.clone(),
                    key: role.role_name,
                    keyed: |key| Holder::Role(key),
                }
            }
            PolicyHolder::User(name) => {
                let user = self.authorized_user(ctx, &action, name).await?;
                FoundHolder {
                    name: user.user_name,
                    key: user.user_id,
                    keyed: |key| Holder::User(key),
                }
            }
            PolicyHolder::Group(name) => {
                let group = self.authorized_group(ctx, &action, name).await?;
                FoundHolder {
                    name: group.group_name,
                    key: group.group_id,
                    keyed: |key| Holder::Group(key),
                }
            }
        })
    }

    /// Put{Role,User,Group}Policy: creates or replaces an inline policy. The quota is on all
    /// inline policies of the holder together; the one replaced does not count.
    pub async fn put_inline_policy(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        name: &str,
        document: &str,
    ) -> Result<()> {
        let found = self.authorized_holder(ctx, target, "Put", "Policy").await?;
        let existing = self
            .store()
            .inline_policies(found.holder())
            .await
            .map_err(store_error)?;
        let others: Vec<&str> = existing
            .iter()
            .filter(|(existing_name, _)| existing_name != name)
            .map(|(_, document)| document.as_str())
            .collect();
        check_document(
            document,
            DocumentUse::Inline {
                holder: target.named(&found.name),
                others: &others,
            },
        )?;
        self.store()
            .put_inline_policy(found.holder(), name, document)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// Get{Role,User,Group}Policy: the holder's name as stored, and the document.
    pub async fn get_inline_policy(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        name: &str,
    ) -> Result<(String, String)> {
        let found = self.authorized_holder(ctx, target, "Get", "Policy").await?;
        let document = self
            .store()
            .inline_policy(found.holder(), name)
            .await
            .map_err(store_error)?;
        Ok((found.name, document))
    }

    /// Delete{Role,User,Group}Policy.
    pub async fn delete_inline_policy(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        name: &str,
    ) -> Result<()> {
        let found = self
            .authorized_holder(ctx, target, "Delete", "Policy")
            .await?;
        self.store()
            .delete_inline_policy(found.holder(), name)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// List{Role,User,Group}Policies: the names of the holder's inline policies, sorted.
    pub async fn list_inline_policies(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
    ) -> Result<Vec<String>> {
        let found = self
            .authorized_holder(ctx, target, "List", "Policies")
            .await?;
        let mut names: Vec<String> = self
            .store()
            .inline_policies(found.holder())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Attach{Role,User,Group}Policy (AWS managed or customer managed), within the quota.
    pub async fn attach_policy(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        arn: &str,
    ) -> Result<()> {
        let found = self
            .authorized_holder(ctx, target, "Attach", "Policy")
            .await?;
        self.require_attachable(arn).await?;
        let attached = self
            .store()
            .attached_policies(found.holder())
            .await
            .map_err(store_error)?;
        if !attached.iter().any(|a| a == arn) && attached.len() >= MAX_ATTACHED_POLICIES {
            return Err(Error::limit_exceeded(format!(
                "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED_POLICIES}",
                target.kind()
            )));
        }
        self.store()
            .attach_policy(found.holder(), arn)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// Detach{Role,User,Group}Policy.
    pub async fn detach_policy(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        arn: &str,
    ) -> Result<()> {
        let found = self
            .authorized_holder(ctx, target, "Detach", "Policy")
            .await?;
        self.store()
            .detach_policy(found.holder(), arn)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// ListAttached{Role,User,Group}Policies: the ARNs of the policies attached to the holder
    /// whose path starts with `path_prefix`, sorted.
    pub async fn list_attached_policies(
        &self,
        ctx: &Ctx,
        target: PolicyHolder<'_>,
        path_prefix: &str,
    ) -> Result<Vec<String>> {
        let found = self
            .authorized_holder(ctx, target, "ListAttached", "Policies")
            .await?;
        let mut arns: Vec<String> = self
            .store()
            .attached_policies(found.holder())
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|arn| split_policy_arn(arn).0.starts_with(path_prefix))
            .collect();
        arns.sort();
        Ok(arns)
    }
}
