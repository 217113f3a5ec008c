//! Long-term access keys and session-sealing keys.

use crate::{AccessKey, Result, SealingKeyRecord, Store, unique_violation};

pub(crate) type AccessKeyRow = (String, String, String, Option<String>, i64, i64);

pub(crate) const ACCESS_KEY_COLUMNS: &str = "SELECT access_key_id, secret_access_key, \
     principal_arn, user_id, active, created_at FROM access_keys";

pub(crate) fn access_key_from_row(row: AccessKeyRow) -> AccessKey {
    let (access_key_id, secret_access_key, principal_arn, user_id, active, created_at) = row;
    AccessKey {
        access_key_id,
        secret_access_key,
        principal_arn,
        user_id,
        active: active != 0,
        created_at,
    }
}

impl Store {
    /// Stores a long-term access key.
    pub async fn create_access_key(&self, key: &AccessKey) -> Result<()> {
        let mut connection = self.pool.acquire().await?;
        Self::insert_access_key(&mut connection, key).await
    }

    pub(crate) async fn insert_access_key(
        connection: &mut sqlx::AnyConnection,
        key: &AccessKey,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_keys (access_key_id, secret_access_key, principal_arn, user_id, \
             active, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.access_key_id)
        .bind(&key.secret_access_key)
        .bind(&key.principal_arn)
        .bind(key.user_id.as_deref())
        .bind(i64::from(key.active))
        .bind(key.created_at)
        .execute(connection)
        .await
        .map_err(|e| unique_violation(e, || format!("Access key {}", key.access_key_id)))?;
        Ok(())
    }

    /// Lists all long-term access keys, the root's and the users', active or not (what
    /// signatures are checked against: they are few).
    pub async fn access_keys(&self) -> Result<Vec<AccessKey>> {
        let sql = format!("{ACCESS_KEY_COLUMNS} ORDER BY created_at, access_key_id");
        let rows: Vec<AccessKeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(access_key_from_row).collect())
    }

    /// Stores a session-sealing key.
    pub async fn add_sealing_key(&self, key: &SealingKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sealing_keys (key_id, key_material, created_at) VALUES ($1, $2, $3)",
        )
        .bind(key.key_id)
        .bind(&key.key_material)
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, || format!("Sealing key {}", key.key_id)))?;
        Ok(())
    }

    /// Lists session-sealing keys, newest first (the newest seals).
    pub async fn sealing_keys(&self) -> Result<Vec<SealingKeyRecord>> {
        let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT key_id, key_material, created_at FROM sealing_keys \
             ORDER BY created_at DESC, key_id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key_id, key_material, created_at)| SealingKeyRecord {
                key_id,
                key_material,
                created_at,
            })
            .collect())
    }
}
