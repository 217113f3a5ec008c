//! IAM users and their access keys: create, read, list, rename, delete (tags and boundary:
//! `identity_attributes`); `AKIA` keys, at most two per user, that sign until deactivated or deleted.

use podpass_store::{AccessKey, Tag, User};

use super::store_error;
use super::tags::check_unique_keys;
use crate::ids::unique_id;
use crate::{Caller, Control, Ctx, Error, Invalid, Result, now};

/// Most access keys one user may have (IAM's fixed quota).
const MAX_ACCESS_KEYS: i64 = 2;

/// A user to create; members the wire leaves out are `None`.
#[derive(Debug, Clone, Default)]
pub struct NewUser<'a> {
    /// User name.
    pub name: &'a str,
    /// Path (`/` when absent).
    pub path: Option<&'a str>,
    /// ARN of the permissions boundary policy.
    pub permissions_boundary: Option<&'a str>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An access key with the name of the user it belongs to, as IAM answers about keys.
#[derive(Debug, Clone)]
pub struct UserAccessKey {
    /// The user's name.
    pub user_name: String,
    /// The key (its secret is shown only when it is created).
    pub key: AccessKey,
}

/// What `GetUser` answers: a user, or for the account root itself its id, ARN and the time
/// its key was made.
#[derive(Debug, Clone)]
pub enum UserView {
    /// An IAM user.
    User(User),
    /// The account root.
    Root {
        /// Account id (the root's user id).
        account: String,
        /// `arn:aws:iam::ACCOUNT:root`.
        arn: String,
        /// Creation time of the key it signed with, epoch seconds.
        created_at: i64,
    },
}

fn non_user_caller() -> Error {
    Error::invalid(
        Invalid::Validation,
        "Must specify userName when calling with non-User credentials",
    )
}

impl Control {
    /// The user an operation targets, after authorizing the caller on its ARN. A missing user
    /// is authorized against its root-path ARN first, so only permitted callers learn that it
    /// is missing.
    pub(super) async fn authorized_user(
        &self,
        ctx: &Ctx,
        action: &str,
        name: &str,
    ) -> Result<User> {
        let found = self.store().user(name).await;
        let arn = match &found {
            Ok(user) => user.arn.clone(),
            Err(_) => podpass_arn::user(self.account_id(), "/", name),
        };
        self.authorize(ctx, action, &arn).await?;
        found.map_err(store_error)
    }

    /// The user named, or when no name is given the calling user itself (other callers must
    /// name one), after authorizing `action` on it.
    async fn named_or_calling_user(
        &self,
        ctx: &Ctx,
        action: &str,
        name: Option<&str>,
    ) -> Result<User> {
        let name = match (name, ctx.caller()?) {
            (Some(name), _) => name.to_owned(),
            (None, Caller::User(user)) => {
                self.store()
                    .user_by_id(&user.user_id)
                    .await
                    .map_err(store_error)?
                    .user_name
            }
            (None, _) => return Err(non_user_caller()),
        };
        self.authorized_user(ctx, action, &name).await
    }

    /// CreateUser.
    pub async fn create_user(&self, ctx: &Ctx, new: NewUser<'_>) -> Result<User> {
        let path = new.path.unwrap_or("/");
        let arn = podpass_arn::user(self.account_id(), path, new.name);
        self.authorize(ctx, "iam:CreateUser", &arn).await?;
        check_unique_keys(&new.tags)?;
        if let Some(boundary) = new.permissions_boundary {
            self.require_attachable(boundary).await?;
        }
        let user = User {
            user_name: new.name.to_owned(),
            user_id: unique_id(crate::caller::USER_ID_PREFIX).map_err(Error::internal)?,
            path: path.to_owned(),
            arn,
            permissions_boundary: new.permissions_boundary.map(str::to_owned),
            tags: new.tags,
            created_at: now(),
        };
        self.store().create_user(&user).await.map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, user = %user.arn, "created user");
        Ok(user)
    }

    /// GetUser: the user named, or without a name the caller (a user, or the account root);
    /// a role session must name one.
    pub async fn get_user(&self, ctx: &Ctx, name: Option<&str>) -> Result<UserView> {
        if name.is_none()
            && let Caller::Root {
                account,
                access_key_id,
            } = ctx.caller()?
        {
            let created_at = self
                .inner
                .access_keys
                .find(access_key_id)
                .await
                .map_err(Error::internal)?
                .map_or_else(now, |key| key.created_at);
            return Ok(UserView::Root {
                account: account.clone(),
                arn: podpass_arn::account_root(account),
                created_at,
            });
        }
        self.named_or_calling_user(ctx, "iam:GetUser", name)
            .await
            .map(UserView::User)
    }

    /// ListUsers: the users under `path_prefix`, by name case-insensitively.
    pub async fn list_users(&self, ctx: &Ctx, path_prefix: &str) -> Result<Vec<User>> {
        self.authorize(ctx, "iam:ListUsers", "*").await?;
        self.store()
            .list_users(path_prefix)
            .await
            .map_err(store_error)
    }

    /// UpdateUser: a new name and/or path. The new name must be free, and is authorized too.
    pub async fn update_user(
        &self,
        ctx: &Ctx,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<User> {
        let mut user = self.authorized_user(ctx, "iam:UpdateUser", name).await?;
        let current = user.user_name.clone();
        if let Some(new_name) = new_name {
            new_name.clone_into(&mut user.user_name);
        }
        if let Some(new_path) = new_path {
            new_path.clone_into(&mut user.path);
        }
        user.arn = podpass_arn::user(self.account_id(), &user.path, &user.user_name);
        if user.user_name != current {
            self.authorize(ctx, "iam:UpdateUser", &user.arn).await?;
        }
        self.save_user(&current, user).await
    }

    /// DeleteUser: [`Error::InUse`] while it has access keys, policies or groups, as IAM.
    pub async fn delete_user(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let user = self.authorized_user(ctx, "iam:DeleteUser", name).await?;
        self.store()
            .delete_user(&user.user_name)
            .await
            .map_err(store_error)?;
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, user = %user.arn, "deleted user");
        Ok(())
    }

    /// CreateAccessKey: a new `AKIA` key of the user (the caller when none is named), active,
    /// within the two-key quota. Its secret is in the answer and never again.
    pub async fn create_access_key(&self, ctx: &Ctx, name: Option<&str>) -> Result<UserAccessKey> {
        let user = self
            .named_or_calling_user(ctx, "iam:CreateAccessKey", name)
            .await?;
        let key = AccessKey {
            access_key_id: crate::ids::access_key_id().map_err(Error::internal)?,
            secret_access_key: crate::ids::secret_access_key().map_err(Error::internal)?,
            principal_arn: user.arn.clone(),
            user_id: Some(user.user_id.clone()),
            active: true,
            created_at: now(),
        };
        self.store()
            .create_user_access_key(&key, MAX_ACCESS_KEYS)
            .await
            .map_err(store_error)?;
        self.keys_written();
        tracing::info!(request_id = %ctx.request_id, user = %user.arn, access_key_id = %key.access_key_id, "created access key");
        Ok(UserAccessKey {
            user_name: user.user_name,
            key,
        })
    }

    /// ListAccessKeys: the user's keys (the caller's when none is named), by key id.
    pub async fn list_access_keys(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
    ) -> Result<Vec<UserAccessKey>> {
        let user = self
            .named_or_calling_user(ctx, "iam:ListAccessKeys", name)
            .await?;
        let keys = self
            .store()
            .user_access_keys(&user.user_id)
            .await
            .map_err(store_error)?;
        Ok(keys
            .into_iter()
            .map(|key| UserAccessKey {
                user_name: user.user_name.clone(),
                key,
            })
            .collect())
    }

    /// UpdateAccessKey: activates or deactivates one of the user's keys. A deactivated key
    /// stops signing at once here, and within a second in other processes.
    pub async fn update_access_key(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        access_key_id: &str,
        active: bool,
    ) -> Result<()> {
        let user = self
            .named_or_calling_user(ctx, "iam:UpdateAccessKey", name)
            .await?;
        self.store()
            .set_access_key_active(&user.user_id, access_key_id, active)
            .await
            .map_err(store_error)?;
        self.keys_written();
        tracing::info!(request_id = %ctx.request_id, user = %user.arn, %access_key_id, active, "updated access key");
        Ok(())
    }

    /// DeleteAccessKey: deletes one of the user's keys.
    pub async fn delete_access_key(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        access_key_id: &str,
    ) -> Result<()> {
        let user = self
            .named_or_calling_user(ctx, "iam:DeleteAccessKey", name)
            .await?;
        self.store()
            .delete_user_access_key(&user.user_id, access_key_id)
            .await
            .map_err(store_error)?;
        self.keys_written();
        tracing::info!(request_id = %ctx.request_id, user = %user.arn, %access_key_id, "deleted access key");
        Ok(())
    }

    /// Writes a changed user, whose name was `current`.
    async fn save_user(&self, current: &str, user: User) -> Result<User> {
        self.store()
            .update_user(current, &user)
            .await
            .map_err(store_error)?;
        self.iam_written();
        Ok(user)
    }

    /// Makes this process's next signature check reread the keys.
    fn keys_written(&self) {
        self.inner.access_keys.forget();
    }
}
