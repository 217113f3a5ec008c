//! S3 bucket policies (the S3 endpoint validates and compiles them; the store keeps the text).

use crate::{Result, Store};

impl Store {
    /// The policy document of `bucket`, if it has one.
    pub async fn bucket_policy(&self, bucket: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT document FROM bucket_policies WHERE bucket = $1")
                .bind(bucket)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(document,)| document))
    }

    /// Sets the policy of `bucket`, replacing any previous one.
    pub async fn put_bucket_policy(&self, bucket: &str, document: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO bucket_policies (bucket, document, modified_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO UPDATE SET document = excluded.document, \
             modified_at = excluded.modified_at",
        )
        .bind(bucket)
        .bind(document)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets the policy of `bucket` unless it has one; `true` when set.
    pub async fn add_bucket_policy(&self, bucket: &str, document: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO bucket_policies (bucket, document, modified_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(bucket)
        .bind(document)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the policy of `bucket`; `false` when it had none.
    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM bucket_policies WHERE bucket = $1")
            .bind(bucket)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
