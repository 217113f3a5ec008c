//! IAM users, groups, group membership and users' access keys.

use crate::keys::{ACCESS_KEY_COLUMNS, AccessKeyRow, access_key_from_row};
use crate::unique_violation;
use crate::{AccessKey, Group, Holder, Result, Store, StoreError, User, from_json, to_json};

type UserRow = (String, String, String, String, Option<String>, String, i64);

const USER_COLUMNS: &str = "SELECT user_name, user_id, path, arn, permissions_boundary, tags, \
     created_at FROM users";

fn user_from_row(row: UserRow) -> Result<User> {
    let (user_name, user_id, path, arn, permissions_boundary, tags, created_at) = row;
    Ok(User {
        user_name,
        user_id,
        path,
        arn,
        permissions_boundary,
        tags: from_json("users.tags", &tags)?,
        created_at,
    })
}

type GroupRow = (String, String, String, String, i64);

const GROUP_COLUMNS: &str = "SELECT group_name, group_id, path, arn, created_at FROM iam_groups";

fn group_from_row((group_name, group_id, path, arn, created_at): GroupRow) -> Group {
    Group {
        group_name,
        group_id,
        path,
        arn,
        created_at,
    }
}

/// IAM names are unique case-insensitively.
fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn missing_user(name: &str) -> StoreError {
    StoreError::NotFound(format!("The user with name {name}"))
}

fn missing_group(name: &str) -> StoreError {
    StoreError::NotFound(format!("The group with name {name}"))
}

async fn count(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &'static str,
    id: &str,
) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(sql).bind(id).fetch_one(&mut **tx).await?;
    Ok(n)
}

/// Refuses to delete an entity while `dependents` (count query, message) remain, as IAM's
/// `DeleteConflict` does.
async fn require_no_dependents(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    dependents: &[(&'static str, &'static str)],
) -> Result<()> {
    for (sql, message) in dependents {
        if count(tx, sql, id).await? > 0 {
            return Err(StoreError::Conflict((*message).to_owned()));
        }
    }
    Ok(())
}

impl Store {
    /// Creates a user; `AlreadyExists` if the name is taken (case-insensitively).
    pub async fn create_user(&self, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (name_key, user_name, user_id, path, arn, permissions_boundary, \
             tags, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(name_key(&user.user_name))
        .bind(&user.user_name)
        .bind(&user.user_id)
        .bind(&user.path)
        .bind(&user.arn)
        .bind(user.permissions_boundary.as_deref())
        .bind(to_json(&user.tags))
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("User with name {}", user.user_name)))?;
        Ok(())
    }

    /// Reads a user by name (case-insensitive, as IAM).
    pub async fn user(&self, name: &str) -> Result<User> {
        let sql = format!("{USER_COLUMNS} WHERE name_key = $1");
        let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        row.map(user_from_row)
            .transpose()?
            .ok_or_else(|| missing_user(name))
    }

    /// Reads a user by unique id (what keys and sessions name it by).
    pub async fn user_by_id(&self, user_id: &str) -> Result<User> {
        let sql = format!("{USER_COLUMNS} WHERE user_id = $1");
        let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(user_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("The user with id {user_id}")))
    }

    /// Lists users ordered by name, under a path prefix.
    pub async fn list_users(&self, path_prefix: &str) -> Result<Vec<User>> {
        let sql = format!("{USER_COLUMNS} ORDER BY name_key");
        let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let users = rows
            .into_iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(users
            .into_iter()
            .filter(|u| u.path.starts_with(path_prefix))
            .collect())
    }

    /// Rewrites the user `name` as `user` (same id): a new name or path, tags, boundary. Its
    /// access keys follow a new ARN in the same transaction.
    pub async fn update_user(&self, name: &str, user: &User) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET name_key = $1, user_name = $2, path = $3, arn = $4, \
             permissions_boundary = $5, tags = $6 WHERE name_key = $7 AND user_id = $8",
        )
        .bind(name_key(&user.user_name))
        .bind(&user.user_name)
        .bind(&user.path)
        .bind(&user.arn)
        .bind(user.permissions_boundary.as_deref())
        .bind(to_json(&user.tags))
        .bind(name_key(name))
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, || format!("User with name {}", user.user_name)))?;
        if done.rows_affected() == 0 {
            return Err(missing_user(name));
        }
        sqlx::query("UPDATE access_keys SET principal_arn = $1 WHERE user_id = $2")
            .bind(&user.arn)
            .bind(&user.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user; `Conflict` while it has access keys, policies or groups, as IAM.
    pub async fn delete_user(&self, name: &str) -> Result<()> {
        let user = self.user(name).await?;
        let mut tx = self.pool.begin().await?;
        require_no_dependents(
            &mut tx,
            &user.user_id,
            &[
                (
                    "SELECT COUNT(*) FROM access_keys WHERE user_id = $1",
                    "Cannot delete entity, must delete access keys first.",
                ),
                (
                    "SELECT COUNT(*) FROM holder_attachments WHERE holder_id = $1",
                    "Cannot delete entity, must detach all policies first.",
                ),
                (
                    "SELECT COUNT(*) FROM holder_policies WHERE holder_id = $1",
                    "Cannot delete entity, must delete policies first.",
                ),
                (
                    "SELECT COUNT(*) FROM group_members WHERE user_id = $1",
                    "Cannot delete entity, must remove user from all groups first.",
                ),
            ],
        )
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(&user.user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(missing_user(name));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates a group; `AlreadyExists` if the name is taken (case-insensitively).
    pub async fn create_group(&self, group: &Group) -> Result<()> {
        sqlx::query(
            "INSERT INTO iam_groups (name_key, group_name, group_id, path, arn, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name_key(&group.group_name))
        .bind(&group.group_name)
        .bind(&group.group_id)
        .bind(&group.path)
        .bind(&group.arn)
        .bind(group.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("Group with name {}", group.group_name)))?;
        Ok(())
    }

    /// Reads a group by name (case-insensitive).
    pub async fn group(&self, name: &str) -> Result<Group> {
        let sql = format!("{GROUP_COLUMNS} WHERE name_key = $1");
        let row: Option<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        row.map(group_from_row).ok_or_else(|| missing_group(name))
    }

    /// Lists groups ordered by name, under a path prefix.
    pub async fn list_groups(&self, path_prefix: &str) -> Result<Vec<Group>> {
        let sql = format!("{GROUP_COLUMNS} ORDER BY name_key");
        let rows: Vec<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(group_from_row)
            .filter(|g| g.path.starts_with(path_prefix))
            .collect())
    }

    /// Rewrites the group `name` as `group` (same id): a new name or path.
    pub async fn update_group(&self, name: &str, group: &Group) -> Result<()> {
        let done = sqlx::query(
            "UPDATE iam_groups SET name_key = $1, group_name = $2, path = $3, arn = $4 \
             WHERE name_key = $5 AND group_id = $6",
        )
        .bind(name_key(&group.group_name))
        .bind(&group.group_name)
        .bind(&group.path)
        .bind(&group.arn)
        .bind(name_key(name))
        .bind(&group.group_id)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("Group with name {}", group.group_name)))?;
        if done.rows_affected() == 0 {
            return Err(missing_group(name));
        }
        Ok(())
    }

    /// Deletes a group; `Conflict` while it has members or policies, as IAM.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        let group = self.group(name).await?;
        let mut tx = self.pool.begin().await?;
        require_no_dependents(
            &mut tx,
            &group.group_id,
            &[
                (
                    "SELECT COUNT(*) FROM group_members WHERE group_id = $1",
                    "Cannot delete entity, must remove users from group first.",
                ),
                (
                    "SELECT COUNT(*) FROM holder_attachments WHERE holder_id = $1",
                    "Cannot delete entity, must detach all policies first.",
                ),
                (
                    "SELECT COUNT(*) FROM holder_policies WHERE holder_id = $1",
                    "Cannot delete entity, must delete policies first.",
                ),
            ],
        )
        .await?;
        let done = sqlx::query("DELETE FROM iam_groups WHERE group_id = $1")
            .bind(&group.group_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(missing_group(name));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a user to a group; idempotent.
    pub async fn add_group_member(&self, group: &Group, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(&group.group_id)
        .bind(&user.user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a user from a group; `NotFound` if it was not a member.
    pub async fn remove_group_member(&self, group: &Group, user: &User) -> Result<()> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(&group.group_id)
            .bind(&user.user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "The user with name {} in group {}",
                user.user_name, group.group_name
            )));
        }
        Ok(())
    }

    /// The members of a group, ordered by name.
    pub async fn group_members(&self, group: &Group) -> Result<Vec<User>> {
        let sql = format!(
            "{USER_COLUMNS} WHERE user_id IN \
             (SELECT user_id FROM group_members WHERE group_id = $1) ORDER BY name_key"
        );
        let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&group.group_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// The groups a user (by id) belongs to, ordered by name.
    pub async fn user_groups(&self, user_id: &str) -> Result<Vec<Group>> {
        let sql = format!(
            "{GROUP_COLUMNS} WHERE group_id IN \
             (SELECT group_id FROM group_members WHERE user_id = $1) ORDER BY name_key"
        );
        let rows: Vec<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(group_from_row).collect())
    }

    /// Stores a new key of `user`, unless the user already has `max` keys (`LimitExceeded`).
    pub async fn create_user_access_key(&self, key: &AccessKey, max: i64) -> Result<()> {
        let user_id = key.user_id.as_deref().unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        if count(
            &mut tx,
            "SELECT COUNT(*) FROM access_keys WHERE user_id = $1",
            user_id,
        )
        .await?
            >= max
        {
            return Err(StoreError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {max}"
            )));
        }
        Self::insert_access_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's access keys (by user id), in key id order: the order ListAccessKeys pages by.
    pub async fn user_access_keys(&self, user_id: &str) -> Result<Vec<AccessKey>> {
        let sql = format!("{ACCESS_KEY_COLUMNS} WHERE user_id = $1 ORDER BY access_key_id");
        let rows: Vec<AccessKeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(access_key_from_row).collect())
    }

    /// Activates or deactivates a user's key; `NotFound` if the user has no such key.
    pub async fn set_access_key_active(
        &self,
        user_id: &str,
        access_key_id: &str,
        active: bool,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE access_keys SET active = $1 WHERE user_id = $2 AND access_key_id = $3",
        )
        .bind(i64::from(active))
        .bind(user_id)
        .bind(access_key_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "The Access Key with id {access_key_id}"
            )));
        }
        Ok(())
    }

    /// Deletes a user's key; `NotFound` if the user has no such key.
    pub async fn delete_user_access_key(&self, user_id: &str, access_key_id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM access_keys WHERE user_id = $1 AND access_key_id = $2")
            .bind(user_id)
            .bind(access_key_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "The Access Key with id {access_key_id}"
            )));
        }
        Ok(())
    }
}

impl Holder<'_> {
    /// The holder of `user`'s policies.
    pub fn of_user(user: &User) -> Holder<'_> {
        Holder::User(&user.user_id)
    }

    /// The holder of `group`'s policies.
    pub fn of_group(group: &Group) -> Holder<'_> {
        Holder::Group(&group.group_id)
    }
}
