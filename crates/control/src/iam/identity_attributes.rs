//! What roles and users both carry: tags and a permissions boundary. One set of operations,
//! whose IAM action follows the identity's kind (`TagRole`, `TagUser`, ...).

use podpass_store::Tag;

use super::store_error;
use super::tags::{check_unique_keys, merge_tags, remove_tags};
use crate::{Control, Ctx, Result};

/// A role or a user, by name: the IAM identities with tags and a permissions boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagged<'a> {
    /// `RoleName`.
    Role(&'a str),
    /// `UserName`.
    User(&'a str),
}

impl Tagged<'_> {
    /// The IAM operation `{verb}{kind}{noun}`, e.g. `TagUser`, `ListRoleTags`.
    pub fn operation(self, verb: &str, noun: &str) -> String {
        let kind = match self {
            Tagged::Role(_) => "Role",
            Tagged::User(_) => "User",
        };
        format!("{verb}{kind}{noun}")
    }
}

/// The attributes an update may change.
struct Attributes<'e> {
    tags: &'e mut Vec<Tag>,
    boundary: &'e mut Option<String>,
}

impl Control {
    /// Authorizes `iam:{verb}{kind}{noun}` on the identity, applies `change` to its tags and
    /// boundary, and writes it back; returns its tags as written.
    async fn update_attributes(
        &self,
        ctx: &Ctx,
        who: Tagged<'_>,
        (verb, noun): (&str, &str),
        change: impl FnOnce(Attributes<'_>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        let action = format!("iam:{}", who.operation(verb, noun));
        match who {
            Tagged::Role(name) => {
                let mut role = self.authorized_role(ctx, &action, name).await?;
                change(Attributes {
                    tags: &mut role.tags,
                    boundary: &mut role.permissions_boundary,
                })?;
                self.store().update_role(&role).await.map_err(store_error)?;
                self.iam_written();
                Ok(role.tags)
            }
            Tagged::User(name) => {
                let mut user = self.authorized_user(ctx, &action, name).await?;
                change(Attributes {
                    tags: &mut user.tags,
                    boundary: &mut user.permissions_boundary,
                })?;
                self.store()
                    .update_user(name, &user)
                    .await
                    .map_err(store_error)?;
                self.iam_written();
                Ok(user.tags)
            }
        }
    }

    /// Tag{Role,User}: adds tags, replacing the values of keys it has (any case).
    pub async fn tag(&self, ctx: &Ctx, who: Tagged<'_>, tags: &[Tag]) -> Result<Vec<Tag>> {
        check_unique_keys(tags)?;
        self.update_attributes(ctx, who, ("Tag", ""), |current| {
            *current.tags = merge_tags(current.tags, tags)?;
            Ok(())
        })
        .await
    }

    /// Untag{Role,User}: removes the tags of these keys (any case); unknown keys are no error.
    pub async fn untag(&self, ctx: &Ctx, who: Tagged<'_>, keys: &[&str]) -> Result<Vec<Tag>> {
        self.update_attributes(ctx, who, ("Untag", ""), |current| {
            *current.tags = remove_tags(current.tags, keys);
            Ok(())
        })
        .await
    }

    /// List{Role,User}Tags: the tags by key, case-insensitively.
    pub async fn list_tags(&self, ctx: &Ctx, who: Tagged<'_>) -> Result<Vec<Tag>> {
        let action = format!("iam:{}", who.operation("List", "Tags"));
        let mut tags = match who {
            Tagged::Role(name) => self.authorized_role(ctx, &action, name).await?.tags,
            Tagged::User(name) => self.authorized_user(ctx, &action, name).await?.tags,
        };
        tags.sort_by_key(|t| t.key.to_ascii_lowercase());
        Ok(tags)
    }

    /// Put{Role,User}PermissionsBoundary (a policy that exists and may be attached), or with
    /// `None` Delete{Role,User}PermissionsBoundary.
    pub async fn set_permissions_boundary(
        &self,
        ctx: &Ctx,
        who: Tagged<'_>,
        boundary: Option<&str>,
    ) -> Result<()> {
        let verb = if boundary.is_some() { "Put" } else { "Delete" };
        if let Some(arn) = boundary {
            self.require_attachable(arn).await?;
        }
        self.update_attributes(ctx, who, (verb, "PermissionsBoundary"), |current| {
            *current.boundary = boundary.map(str::to_owned);
            Ok(())
        })
        .await?;
        Ok(())
    }
}
