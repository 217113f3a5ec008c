//! A role's inline policies and its managed policy attachments.

use super::documents::{DocumentUse, check_document};
use super::{split_policy_arn, store_error};
use crate::{Control, Ctx, Error, Result};

/// Most managed policies one role may have attached (IAM's default quota).
const MAX_ATTACHED_POLICIES: usize = 10;

impl Control {
    /// PutRolePolicy: creates or replaces an inline policy. The quota is on all inline
    /// policies of the role together; the one replaced does not count.
    pub async fn put_role_policy(
        &self,
        ctx: &Ctx,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<()> {
        let role = self.authorized_role(ctx, "iam:PutRolePolicy", role).await?;
        let existing = self
            .store()
            .role_policies(&role.role_name)
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
                role: &role.role_name,
                others: &others,
            },
        )?;
        self.store()
            .put_role_policy(&role.role_name, name, document)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// GetRolePolicy: the role's name as stored, and the document.
    pub async fn get_role_policy(
        &self,
        ctx: &Ctx,
        role: &str,
        name: &str,
    ) -> Result<(String, String)> {
        let role = self.authorized_role(ctx, "iam:GetRolePolicy", role).await?;
        let document = self
            .store()
            .role_policy(&role.role_name, name)
            .await
            .map_err(store_error)?;
        Ok((role.role_name, document))
    }

    /// DeleteRolePolicy.
    pub async fn delete_role_policy(&self, ctx: &Ctx, role: &str, name: &str) -> Result<()> {
        let role = self
            .authorized_role(ctx, "iam:DeleteRolePolicy", role)
            .await?;
        self.store()
            .delete_role_policy(&role.role_name, name)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// ListRolePolicies: the names of a role's inline policies, sorted.
    pub async fn list_role_policies(&self, ctx: &Ctx, role: &str) -> Result<Vec<String>> {
        let role = self
            .authorized_role(ctx, "iam:ListRolePolicies", role)
            .await?;
        let mut names: Vec<String> = self
            .store()
            .role_policies(&role.role_name)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// AttachRolePolicy (AWS managed or customer managed), within the role's quota.
    pub async fn attach_role_policy(&self, ctx: &Ctx, role: &str, arn: &str) -> Result<()> {
        let role = self
            .authorized_role(ctx, "iam:AttachRolePolicy", role)
            .await?;
        self.require_attachable(arn).await?;
        let attached = self
            .store()
            .attached_role_policies(&role.role_name)
            .await
            .map_err(store_error)?;
        if !attached.iter().any(|a| a == arn) && attached.len() >= MAX_ATTACHED_POLICIES {
            return Err(Error::limit_exceeded(format!(
                "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED_POLICIES}"
            )));
        }
        self.store()
            .attach_role_policy(&role.role_name, arn)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// DetachRolePolicy.
    pub async fn detach_role_policy(&self, ctx: &Ctx, role: &str, arn: &str) -> Result<()> {
        let role = self
            .authorized_role(ctx, "iam:DetachRolePolicy", role)
            .await?;
        self.store()
            .detach_role_policy(&role.role_name, arn)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(())
    }

    /// ListAttachedRolePolicies: the ARNs of the policies attached to a role whose path starts
    /// with `path_prefix`, sorted.
    pub async fn list_attached_role_policies(
        &self,
        ctx: &Ctx,
        role: &str,
        path_prefix: &str,
    ) -> Result<Vec<String>> {
        let role = self
            .authorized_role(ctx, "iam:ListAttachedRolePolicies", role)
            .await?;
        let mut arns: Vec<String> = self
            .store()
            .attached_role_policies(&role.role_name)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|arn| split_policy_arn(arn).0.starts_with(path_prefix))
            .collect();
        arns.sort();
        Ok(arns)
    }
}
