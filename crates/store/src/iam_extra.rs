//! Managed policy version maintenance the IAM API needs beyond `iam.rs`: numbering new
//! versions, deleting a version and switching the default.

use crate::{Result, Store, StoreError};

/// Meta key holding the highest version number ever given to a policy (by its unique id, so
/// a re-created policy of the same name starts again at `v1`).
fn version_counter_key(policy_id: &str) -> String {
    format!("iam.policy_version_counter.{policy_id}")
}

impl Store {
    /// The id of the next version of a policy, `v<N+1>` where N is the highest number ever
    /// used (IAM never reuses the id of a deleted version), and records N+1 as used.
    pub async fn next_policy_version_id(&self, arn: &str) -> Result<String> {
        let policy = self.policy(arn).await?;
        let key = version_counter_key(&policy.policy_id);
        let recorded: u64 = self
            .meta(&key)
            .await?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let existing = self
            .policy_versions(arn)
            .await?
            .iter()
            .filter_map(|v| v.version_id.strip_prefix('v')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let next = recorded.max(existing) + 1;
        self.set_meta(&key, &next.to_string()).await?;
        Ok(format!("v{next}"))
    }

    /// Deletes a non-default version of a customer managed policy; `Conflict` for the default
    /// version, `NotFound` when the policy or the version does not exist.
    pub async fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let policy = self.policy(arn).await?;
        if policy.default_version_id == version_id {
            return Err(StoreError::Conflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        let done =
            sqlx::query("DELETE FROM policy_versions WHERE policy_arn = $1 AND version_id = $2")
                .bind(arn)
                .bind(version_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "Policy {arn} version {version_id}"
            )));
        }
        Ok(())
    }

    /// Makes an existing version the default (`updated_at` = `now`); `NotFound` when the policy
    /// or the version does not exist.
    pub async fn set_default_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM policy_versions WHERE policy_arn = $1 AND version_id = $2",
        )
        .bind(arn)
        .bind(version_id)
        .fetch_one(&mut *tx)
        .await?;
        if count == 0 {
            return Err(StoreError::NotFound(format!(
                "Policy {arn} version {version_id}"
            )));
        }
        sqlx::query(
            "UPDATE managed_policies SET default_version_id = $2, updated_at = $3 WHERE arn = $1",
        )
        .bind(arn)
        .bind(version_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{ManagedPolicy, PolicyVersion, Store, StoreError};

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;
    const ARN: &str = "arn:aws:iam::000000000000:policy/p";

    async fn store_with_two_versions() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("t.db"))
            .await
            .unwrap();
        let policy = ManagedPolicy {
            arn: ARN.into(),
            policy_id: "ANPAEXAMPLE0000000001".into(),
            policy_name: "p".into(),
            path: "/".into(),
            description: None,
            default_version_id: "v1".into(),
            tags: vec![],
            created_at: 1,
            updated_at: 1,
            attachment_count: 0,
        };
        store.create_policy(&policy, DOC).await.unwrap();
        let v2 = PolicyVersion {
            version_id: "v2".into(),
            document: DOC.into(),
            created_at: 2,
        };
        store.create_policy_version(ARN, &v2, false).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn default_version_moves_and_cannot_be_deleted() {
        let (_dir, store) = store_with_two_versions().await;
        assert!(matches!(
            store.delete_policy_version(ARN, "v1").await,
            Err(StoreError::Conflict(_))
        ));
        store
            .set_default_policy_version(ARN, "v2", 5)
            .await
            .unwrap();
        let policy = store.policy(ARN).await.unwrap();
        assert_eq!(
            (policy.default_version_id.as_str(), policy.updated_at),
            ("v2", 5)
        );
        store.delete_policy_version(ARN, "v1").await.unwrap();
        let ids: Vec<String> = store
            .policy_versions(ARN)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(ids, ["v2"]);
    }

    #[tokio::test]
    async fn version_ids_are_never_reused() {
        let (_dir, store) = store_with_two_versions().await;
        assert_eq!(store.next_policy_version_id(ARN).await.unwrap(), "v3");
        store.delete_policy_version(ARN, "v2").await.unwrap();
        assert_eq!(store.next_policy_version_id(ARN).await.unwrap(), "v4");
        assert!(matches!(
            store
                .next_policy_version_id("arn:aws:iam::000000000000:policy/none")
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn missing_versions_are_not_found() {
        let (_dir, store) = store_with_two_versions().await;
        assert!(matches!(
            store.delete_policy_version(ARN, "v9").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.set_default_policy_version(ARN, "v9", 5).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .delete_policy_version("arn:aws:iam::000000000000:policy/none", "v2")
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
}
