//! IAM entities: roles, inline and managed policies, attachments, OIDC providers.

use crate::{
    Holder, ManagedPolicy, OidcProvider, PolicyVersion, Result, Role, Store, StoreError, from_json,
    to_json, unique_violation,
};

type RoleRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    String,
    i64,
);

const ROLE_COLUMNS: &str = "SELECT role_name, role_id, path, arn, trust_policy, description, \
     max_session_duration, permissions_boundary, tags, created_at FROM roles";

fn role_from_row(row: RoleRow) -> Result<Role> {
    let (role_name, role_id, path, arn, trust_policy, description, max, boundary, tags, created) =
        row;
    Ok(Role {
        role_name,
        role_id,
        path,
        arn,
        trust_policy,
        description,
        max_session_duration: max,
        permissions_boundary: boundary,
        tags: from_json("roles.tags", &tags)?,
        created_at: created,
    })
}

fn role_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

type PolicyRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
);

const POLICY_COLUMNS: &str = "SELECT p.arn, p.policy_id, p.policy_name, p.path, p.description, \
     p.default_version_id, p.tags, p.created_at, p.updated_at, \
     (SELECT COUNT(*) FROM role_attachments a WHERE a.policy_arn = p.arn) \
     + (SELECT COUNT(*) FROM holder_attachments h WHERE h.policy_arn = p.arn) \
     FROM managed_policies p";

fn policy_from_row(row: PolicyRow) -> Result<ManagedPolicy> {
    let (arn, policy_id, policy_name, path, description, default_version_id, tags, c, u, n) = row;
    Ok(ManagedPolicy {
        arn,
        policy_id,
        policy_name,
        path,
        description,
        default_version_id,
        tags: from_json("managed_policies.tags", &tags)?,
        created_at: c,
        updated_at: u,
        attachment_count: n,
    })
}

type ProviderRow = (String, String, String, String, String, i64);

fn provider_from_row(row: ProviderRow) -> Result<OidcProvider> {
    let (arn, url, client_ids, thumbprints, tags, created_at) = row;
    Ok(OidcProvider {
        arn,
        url,
        client_ids: from_json("oidc_providers.client_ids", &client_ids)?,
        thumbprints: from_json("oidc_providers.thumbprints", &thumbprints)?,
        tags: from_json("oidc_providers.tags", &tags)?,
        created_at,
    })
}

impl Store {
    /// Creates a role; `AlreadyExists` if the name is taken (case-insensitively).
    pub async fn create_role(&self, role: &Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO roles (name_key, role_name, role_id, path, arn, trust_policy, description, \
             max_session_duration, permissions_boundary, tags, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(role_key(&role.role_name))
        .bind(&role.role_name)
        .bind(&role.role_id)
        .bind(&role.path)
        .bind(&role.arn)
        .bind(&role.trust_policy)
        .bind(role.description.as_deref())
        .bind(role.max_session_duration)
        .bind(role.permissions_boundary.as_deref())
        .bind(to_json(&role.tags))
        .bind(role.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("Role with name {}", role.role_name)))?;
        Ok(())
    }

    /// Reads a role by name (case-insensitive, as IAM).
    pub async fn role(&self, name: &str) -> Result<Role> {
        let sql = format!("{ROLE_COLUMNS} WHERE name_key = $1");
        let row: Option<RoleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(role_key(name))
            .fetch_optional(&self.pool)
            .await?;
        row.map(role_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("The role with name {name}")))
    }

    /// Lists roles ordered by name, optionally under a path prefix.
    pub async fn list_roles(&self, path_prefix: &str) -> Result<Vec<Role>> {
        let sql = format!("{ROLE_COLUMNS} ORDER BY name_key");
        let rows: Vec<RoleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let roles = rows.into_iter().map(role_from_row);
        roles
            .filter(|r| r.as_ref().map_or(true, |r| r.path.starts_with(path_prefix)))
            .collect()
    }

    /// Writes a role's mutable fields (trust policy, description, duration, boundary, tags).
    pub async fn update_role(&self, role: &Role) -> Result<()> {
        let done = sqlx::query(
            "UPDATE roles SET trust_policy = $2, description = $3, max_session_duration = $4, \
             permissions_boundary = $5, tags = $6 WHERE name_key = $1",
        )
        .bind(role_key(&role.role_name))
        .bind(&role.trust_policy)
        .bind(role.description.as_deref())
        .bind(role.max_session_duration)
        .bind(role.permissions_boundary.as_deref())
        .bind(to_json(&role.tags))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "The role with name {}",
                role.role_name
            )));
        }
        Ok(())
    }

    /// Deletes a role; `Conflict` while inline or attached policies remain, as IAM.
    pub async fn delete_role(&self, name: &str) -> Result<()> {
        let key = role_key(name);
        let mut tx = self.pool.begin().await?;
        let (inline,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM role_policies WHERE role_key = $1")
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
        let (attached,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM role_attachments WHERE role_key = $1")
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
        if attached > 0 {
            return Err(StoreError::Conflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        if inline > 0 {
            return Err(StoreError::Conflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        let done = sqlx::query("DELETE FROM roles WHERE name_key = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("The role with name {name}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates or replaces an inline policy of `holder`.
    pub async fn put_inline_policy(
        &self,
        holder: Holder<'_>,
        policy_name: &str,
        doc: &str,
    ) -> Result<()> {
        let (table, column, key) = holder.inline_policies();
        let sql = format!(
            "INSERT INTO {table} ({column}, policy_name, document) VALUES ($1, $2, $3) \
             ON CONFLICT ({column}, policy_name) DO UPDATE SET document = excluded.document"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(policy_name)
            .bind(doc)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads an inline policy document of `holder`.
    pub async fn inline_policy(&self, holder: Holder<'_>, policy_name: &str) -> Result<String> {
        let (table, column, key) = holder.inline_policies();
        let sql = format!("SELECT document FROM {table} WHERE {column} = $1 AND policy_name = $2");
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(policy_name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(d,)| d).ok_or_else(|| {
            StoreError::NotFound(format!(
                "The {} policy with name {policy_name}",
                holder.kind()
            ))
        })
    }

    /// Lists the inline policies of `holder` as (name, document), ordered by name.
    pub async fn inline_policies(&self, holder: Holder<'_>) -> Result<Vec<(String, String)>> {
        let (table, column, key) = holder.inline_policies();
        let sql = format!(
            "SELECT policy_name, document FROM {table} WHERE {column} = $1 ORDER BY policy_name"
        );
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Deletes an inline policy of `holder`.
    pub async fn delete_inline_policy(&self, holder: Holder<'_>, policy_name: &str) -> Result<()> {
        let (table, column, key) = holder.inline_policies();
        let sql = format!("DELETE FROM {table} WHERE {column} = $1 AND policy_name = $2");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(policy_name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "The {} policy with name {policy_name}",
                holder.kind()
            )));
        }
        Ok(())
    }

    /// Creates a managed policy with its first version `v1`.
    pub async fn create_policy(&self, policy: &ManagedPolicy, document: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO managed_policies (arn, policy_id, policy_name, path, description, \
             default_version_id, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&policy.arn)
        .bind(&policy.policy_id)
        .bind(&policy.policy_name)
        .bind(&policy.path)
        .bind(policy.description.as_deref())
        .bind(&policy.default_version_id)
        .bind(to_json(&policy.tags))
        .bind(policy.created_at)
        .bind(policy.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, || format!("A policy called {}", policy.policy_name)))?;
        sqlx::query(
            "INSERT INTO policy_versions (policy_arn, version_id, document, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&policy.arn)
        .bind(&policy.default_version_id)
        .bind(document)
        .bind(policy.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a customer managed policy.
    pub async fn policy(&self, arn: &str) -> Result<ManagedPolicy> {
        let sql = format!("{POLICY_COLUMNS} WHERE p.arn = $1");
        let row: Option<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        row.map(policy_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("Policy {arn}")))
    }

    /// Lists customer managed policies ordered by name.
    pub async fn list_policies(&self, path_prefix: &str) -> Result<Vec<ManagedPolicy>> {
        let sql = format!("{POLICY_COLUMNS} ORDER BY p.policy_name");
        let rows: Vec<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let policies = rows.into_iter().map(policy_from_row);
        policies
            .filter(|p| p.as_ref().map_or(true, |p| p.path.starts_with(path_prefix)))
            .collect()
    }

    /// Deletes a managed policy; `Conflict` while attached or while non-default versions remain.
    pub async fn delete_policy(&self, arn: &str) -> Result<()> {
        let policy = self.policy(arn).await?;
        if policy.attachment_count > 0 {
            return Err(StoreError::Conflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        let versions = self.policy_versions(arn).await?;
        if versions.len() > 1 {
            return Err(StoreError::Conflict(
                "Cannot delete a policy with non-default versions.".into(),
            ));
        }
        sqlx::query("DELETE FROM managed_policies WHERE arn = $1")
            .bind(arn)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Lists the versions of a managed policy, oldest first.
    pub async fn policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT version_id, document, created_at FROM policy_versions WHERE policy_arn = $1 \
             ORDER BY created_at, version_id",
        )
        .bind(arn)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(version_id, document, created_at)| PolicyVersion {
                version_id,
                document,
                created_at,
            })
            .collect())
    }

    /// Adds a version; when `set_default` it becomes the default. IAM keeps at most five.
    pub async fn create_policy_version(
        &self,
        arn: &str,
        version: &PolicyVersion,
        set_default: bool,
    ) -> Result<()> {
        let existing = self.policy_versions(arn).await?;
        if existing.len() >= 5 {
            return Err(StoreError::Conflict(format!(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version. ({arn})"
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO policy_versions (policy_arn, version_id, document, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(arn)
        .bind(&version.version_id)
        .bind(&version.document)
        .bind(version.created_at)
        .execute(&mut *tx)
        .await?;
        if set_default {
            sqlx::query(
                "UPDATE managed_policies SET default_version_id = $2, updated_at = $3 WHERE arn = $1",
            )
            .bind(arn)
            .bind(&version.version_id)
            .bind(version.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Attaches a managed policy (customer or AWS managed) to `holder`; idempotent.
    pub async fn attach_policy(&self, holder: Holder<'_>, policy_arn: &str) -> Result<()> {
        let (table, column, key) = holder.attachments();
        let sql = format!(
            "INSERT INTO {table} ({column}, policy_arn) VALUES ($1, $2) \
             ON CONFLICT ({column}, policy_arn) DO NOTHING"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(policy_arn)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Detaches a managed policy from `holder`.
    pub async fn detach_policy(&self, holder: Holder<'_>, policy_arn: &str) -> Result<()> {
        let (table, column, key) = holder.attachments();
        let sql = format!("DELETE FROM {table} WHERE {column} = $1 AND policy_arn = $2");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(policy_arn)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "Policy {policy_arn} was not found."
            )));
        }
        Ok(())
    }

    /// Lists the managed policy ARNs attached to `holder`, ordered.
    pub async fn attached_policies(&self, holder: Holder<'_>) -> Result<Vec<String>> {
        let (table, column, key) = holder.attachments();
        let sql = format!("SELECT policy_arn FROM {table} WHERE {column} = $1 ORDER BY policy_arn");
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    /// Counts the roles, users and groups a policy ARN is attached to (AWS managed policies
    /// included).
    pub async fn attachment_count(&self, policy_arn: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM role_attachments WHERE policy_arn = $1) \
             + (SELECT COUNT(*) FROM holder_attachments WHERE policy_arn = $1)",
        )
        .bind(policy_arn)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Registers an OIDC provider; `AlreadyExists` for the same URL.
    pub async fn create_oidc_provider(&self, provider: &OidcProvider) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_providers (arn, url, client_ids, thumbprints, tags, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&provider.arn)
        .bind(&provider.url)
        .bind(to_json(&provider.client_ids))
        .bind(to_json(&provider.thumbprints))
        .bind(to_json(&provider.tags))
        .bind(provider.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("Provider with url {}", provider.url)))?;
        Ok(())
    }

    /// Reads an OIDC provider by ARN.
    pub async fn oidc_provider(&self, arn: &str) -> Result<OidcProvider> {
        let row: Option<ProviderRow> = sqlx::query_as(
            "SELECT arn, url, client_ids, thumbprints, tags, created_at FROM oidc_providers \
             WHERE arn = $1",
        )
        .bind(arn)
        .fetch_optional(&self.pool)
        .await?;
        row.map(provider_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("OpenIDConnect Provider {arn}")))
    }

    /// Lists OIDC providers ordered by ARN.
    pub async fn list_oidc_providers(&self) -> Result<Vec<OidcProvider>> {
        let rows: Vec<ProviderRow> = sqlx::query_as(
            "SELECT arn, url, client_ids, thumbprints, tags, created_at FROM oidc_providers \
             ORDER BY arn",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(provider_from_row).collect()
    }

    /// Rewrites a provider's client ids, thumbprints and tags.
    pub async fn update_oidc_provider(&self, provider: &OidcProvider) -> Result<()> {
        let done = sqlx::query(
            "UPDATE oidc_providers SET client_ids = $2, thumbprints = $3, tags = $4 WHERE arn = $1",
        )
        .bind(&provider.arn)
        .bind(to_json(&provider.client_ids))
        .bind(to_json(&provider.thumbprints))
        .bind(to_json(&provider.tags))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "OpenIDConnect Provider {}",
                provider.arn
            )));
        }
        Ok(())
    }

    /// Deletes an OIDC provider.
    pub async fn delete_oidc_provider(&self, arn: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM oidc_providers WHERE arn = $1")
            .bind(arn)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "OpenIDConnect Provider {arn}"
            )));
        }
        Ok(())
    }
}

impl Holder<'_> {
    /// What IAM's messages call the holder.
    fn kind(&self) -> &'static str {
        match self {
            Holder::Role(_) => "role",
            Holder::User(_) => "user",
            Holder::Group(_) => "group",
        }
    }

    /// The table of the holder's inline policies, its key column, and the holder's key there.
    fn inline_policies(&self) -> (&'static str, &'static str, String) {
        match self {
            Holder::Role(name) => ("role_policies", "role_key", role_key(name)),
            Holder::User(id) | Holder::Group(id) => {
                ("holder_policies", "holder_id", (*id).to_owned())
            }
        }
    }

    /// The table of the holder's managed policy attachments, its key column, and the key.
    fn attachments(&self) -> (&'static str, &'static str, String) {
        match self {
            Holder::Role(name) => ("role_attachments", "role_key", role_key(name)),
            Holder::User(id) | Holder::Group(id) => {
                ("holder_attachments", "holder_id", (*id).to_owned())
            }
        }
    }
}
