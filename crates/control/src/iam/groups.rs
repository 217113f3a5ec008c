//! IAM groups: create, read with members, list, rename, delete, membership. A group's
//! policies apply to each of its members.

use podpass_store::{Group, User};

use super::store_error;
use crate::ids::unique_id;
use crate::{Control, Ctx, Error, Result, now};

impl Control {
    /// The group an operation targets, after authorizing the caller on its ARN (the root-path
    /// ARN for a missing group, so only permitted callers learn that it is missing).
    pub(super) async fn authorized_group(
        &self,
        ctx: &Ctx,
        action: &str,
        name: &str,
    ) -> Result<Group> {
        let found = self.store().group(name).await;
        let arn = match &found {
            Ok(group) => group.arn.clone(),
            Err(_) => podpass_arn::group(self.account_id(), "/", name),
        };
        self.authorize(ctx, action, &arn).await?;
        found.map_err(store_error)
    }

    /// CreateGroup.
    pub async fn create_group(&self, ctx: &Ctx, name: &str, path: Option<&str>) -> Result<Group> {
        let path = path.unwrap_or("/");
        let arn = podpass_arn::group(self.account_id(), path, name);
        self.authorize(ctx, "iam:CreateGroup", &arn).await?;
        let group = Group {
            group_name: name.to_owned(),
            group_id: unique_id("AGPA").map_err(Error::internal)?,
            path: path.to_owned(),
            arn,
            created_at: now(),
        };
        self.store()
            .create_group(&group)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, group = %group.arn, "created group");
        Ok(group)
    }

    /// GetGroup: the group and its members.
    pub async fn get_group(&self, ctx: &Ctx, name: &str) -> Result<(Group, Vec<User>)> {
        let group = self.authorized_group(ctx, "iam:GetGroup", name).await?;
        let members = self
            .store()
            .group_members(&group)
            .await
            .map_err(store_error)?;
        Ok((group, members))
    }

    /// ListGroups: the groups under `path_prefix`, by name case-insensitively.
    pub async fn list_groups(&self, ctx: &Ctx, path_prefix: &str) -> Result<Vec<Group>> {
        self.authorize(ctx, "iam:ListGroups", "*").await?;
        self.store()
            .list_groups(path_prefix)
            .await
            .map_err(store_error)
    }

    /// ListGroupsForUser.
    pub async fn list_groups_for_user(&self, ctx: &Ctx, user: &str) -> Result<Vec<Group>> {
        let user = self
            .authorized_user(ctx, "iam:ListGroupsForUser", user)
            .await?;
        self.store()
            .user_groups(&user.user_id)
            .await
            .map_err(store_error)
    }

    /// UpdateGroup: a new name and/or path. The new name must be free, and is authorized too.
    pub async fn update_group(
        &self,
        ctx: &Ctx,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<Group> {
        let mut group = self.authorized_group(ctx, "iam:UpdateGroup", name).await?;
        let current = group.group_name.clone();
        if let Some(new_name) = new_name {
            new_name.clone_into(&mut group.group_name);
        }
        if let Some(new_path) = new_path {
            new_path.clone_into(&mut group.path);
        }
        group.arn = podpass_arn::group(self.account_id(), &group.path, &group.group_name);
        if group.group_name != current {
            self.authorize(ctx, "iam:UpdateGroup", &group.arn).await?;
        }
        self.store()
            .update_group(&current, &group)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(group)
    }

    /// DeleteGroup: [`Error::InUse`] while it has members or policies, as IAM.
    pub async fn delete_group(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let group = self.authorized_group(ctx, "iam:DeleteGroup", name).await?;
        self.store()
            .delete_group(&group.group_name)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, group = %group.arn, "deleted group");
        Ok(())
    }

    /// AddUserToGroup (idempotent) or, with `member` false, RemoveUserFromGroup. The action is
    /// authorized on the group, as IAM does.
    pub async fn set_group_member(
        &self,
        ctx: &Ctx,
        group: &str,
        user: &str,
        member: bool,
    ) -> Result<()> {
        let action = if member {
            "iam:AddUserToGroup"
        } else {
            "iam:RemoveUserFromGroup"
        };
        let group = self.authorized_group(ctx, action, group).await?;
        let user = self.store().user(user).await.map_err(store_error)?;
        let store = self.store();
        if member {
            store.add_group_member(&group, &user).await
        } else {
            store.remove_group_member(&group, &user).await
        }
        .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }
}
