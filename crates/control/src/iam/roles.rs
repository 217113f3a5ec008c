//! Roles: create, read, list, update, delete (tags and boundary: `identity_attributes`).

use podpass_store::{Role, Tag};

use super::documents::{DocumentUse, check_document, lint_trust_policy};
use super::store_error;
use super::tags::check_unique_keys;
use crate::ids::unique_id;
use crate::{Control, Ctx, Error, Result, now};

/// Default `MaxSessionDuration`.
const DEFAULT_MAX_SESSION: i64 = 3600;
/// Bounds of `MaxSessionDuration`, in seconds.
pub const MAX_SESSION_RANGE: (i64, i64) = (3600, 43_200);

/// A role to create; members the wire leaves out are `None`.
#[derive(Debug, Clone, Default)]
pub struct NewRole<'a> {
    /// Role name.
    pub name: &'a str,
    /// Path (`/` when absent).
    pub path: Option<&'a str>,
    /// Trust policy document.
    pub trust_policy: &'a str,
    /// Description (empty means none).
    pub description: Option<&'a str>,
    /// Longest session, seconds (an hour when absent).
    pub max_session_duration: Option<i64>,
    /// ARN of the permissions boundary policy.
    pub permissions_boundary: Option<&'a str>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An empty description is no description, as IAM stores it.
fn description(text: Option<&str>) -> Option<String> {
    text.filter(|d| !d.is_empty()).map(str::to_owned)
}

impl Control {
    /// CreateRole. The trust policy's lint findings go to the log.
    pub async fn create_role(&self, ctx: &Ctx, new: NewRole<'_>) -> Result<Role> {
        let path = new.path.unwrap_or("/");
        let arn = podpass_arn::role(self.account_id(), path, new.name);
        self.authorize(ctx, "iam:CreateRole", &arn).await?;
        check_unique_keys(&new.tags)?;
        let policy = check_document(new.trust_policy, DocumentUse::Trust)?;
        if let Some(boundary) = new.permissions_boundary {
            self.require_attachable(boundary).await?;
        }
        let role = Role {
            role_name: new.name.to_owned(),
            role_id: unique_id("AROA").map_err(Error::internal)?,
            path: path.to_owned(),
            arn,
            trust_policy: new.trust_policy.to_owned(),
            description: description(new.description),
            max_session_duration: new.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION),
            permissions_boundary: new.permissions_boundary.map(str::to_owned),
            tags: new.tags,
            created_at: now(),
        };
        self.store().create_role(&role).await.map_err(store_error)?;
        self.iam_written();
        lint_trust_policy(&role.role_name, &policy);
        tracing::info!(request_id = %ctx.request_id, role = %role.arn, "created role");
        Ok(role)
    }

    /// GetRole.
    pub async fn get_role(&self, ctx: &Ctx, name: &str) -> Result<Role> {
        self.authorized_role(ctx, "iam:GetRole", name).await
    }

    /// ListRoles: the roles under `path_prefix`, by name case-insensitively.
    pub async fn list_roles(&self, ctx: &Ctx, path_prefix: &str) -> Result<Vec<Role>> {
        self.authorize(ctx, "iam:ListRoles", "*").await?;
        let mut roles = self
            .store()
            .list_roles(path_prefix)
            .await
            .map_err(store_error)?;
        roles.sort_by_key(|r| r.role_name.to_ascii_lowercase());
        Ok(roles)
    }

    /// DeleteRole: [`Error::InUse`] while it has inline or attached policies, as IAM.
    pub async fn delete_role(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let role = self.authorized_role(ctx, "iam:DeleteRole", name).await?;
        self.store()
            .delete_role(&role.role_name)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, role = %role.arn, "deleted role");
        Ok(())
    }

    /// UpdateRole: description and maximum session duration, each when given.
    pub async fn update_role(
        &self,
        ctx: &Ctx,
        name: &str,
        new_description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<Role> {
        let mut role = self.authorized_role(ctx, "iam:UpdateRole", name).await?;
        if new_description.is_some() {
            role.description = description(new_description);
        }
        if let Some(max_session) = max_session_duration {
            role.max_session_duration = max_session;
        }
        self.save_role(role).await
    }

    /// UpdateRoleDescription.
    pub async fn update_role_description(
        &self,
        ctx: &Ctx,
        name: &str,
        new_description: &str,
    ) -> Result<Role> {
        let mut role = self
            .authorized_role(ctx, "iam:UpdateRoleDescription", name)
            .await?;
        role.description = description(Some(new_description));
        self.save_role(role).await
    }

    /// UpdateAssumeRolePolicy. The new trust policy's lint findings go to the log.
    pub async fn update_assume_role_policy(
        &self,
        ctx: &Ctx,
        name: &str,
        document: &str,
    ) -> Result<Role> {
        let mut role = self
            .authorized_role(ctx, "iam:UpdateAssumeRolePolicy", name)
            .await?;
        let policy = check_document(document, DocumentUse::Trust)?;
        document.clone_into(&mut role.trust_policy);
        let role = self.save_role(role).await?;
        lint_trust_policy(&role.role_name, &policy);
        Ok(role)
    }

    /// Writes a changed role.
    async fn save_role(&self, role: Role) -> Result<Role> {
        self.store().update_role(&role).await.map_err(store_error)?;
        self.iam_written();
        Ok(role)
    }
}
