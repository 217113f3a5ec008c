//! EKS Pod Identity associations.

use crate::{
    PodIdentityAssociation, Result, Store, StoreError, from_json, to_json, unique_violation,
};

const COLUMNS: &str = "SELECT association_id, cluster_name, namespace, service_account, role_arn, \
     association_arn, tags, owner_arn, disable_session_tags, target_role_arn, external_id, \
     session_policy, created_at, modified_at FROM pod_identity_associations";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn from_row(row: Row) -> Result<PodIdentityAssociation> {
    let (
        id,
        cluster,
        namespace,
        sa,
        role,
        arn,
        tags,
        owner,
        disable,
        target,
        external,
        policy,
        c,
        m,
    ) = row;
    Ok(PodIdentityAssociation {
        association_id: id,
        cluster_name: cluster,
        namespace,
        service_account: sa,
        role_arn: role,
        association_arn: arn,
        tags: from_json("pod_identity_associations.tags", &tags)?,
        owner_arn: owner,
        disable_session_tags: disable != 0,
        target_role_arn: target,
        external_id: external,
        session_policy: policy,
        created_at: c,
        modified_at: m,
    })
}

impl Store {
    /// Creates an association; `AlreadyExists` when the ServiceAccount already has one.
    pub async fn create_association(&self, a: &PodIdentityAssociation) -> Result<()> {
        sqlx::query(
            "INSERT INTO pod_identity_associations (association_id, cluster_name, namespace, \
             service_account, role_arn, association_arn, tags, owner_arn, disable_session_tags, \
             target_role_arn, external_id, session_policy, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&a.association_id)
        .bind(&a.cluster_name)
        .bind(&a.namespace)
        .bind(&a.service_account)
        .bind(&a.role_arn)
        .bind(&a.association_arn)
        .bind(to_json(&a.tags))
        .bind(a.owner_arn.as_deref())
        .bind(i64::from(a.disable_session_tags))
        .bind(a.target_role_arn.as_deref())
        .bind(a.external_id.as_deref())
        .bind(a.session_policy.as_deref())
        .bind(a.created_at)
        .bind(a.modified_at)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            unique_violation(e, || {
                format!(
                    "Association for service account {} in namespace {}",
                    a.service_account, a.namespace
                )
            })
        })?;
        Ok(())
    }

    /// Reads an association of a cluster by id.
    pub async fn association(&self, cluster: &str, id: &str) -> Result<PodIdentityAssociation> {
        let sql = format!("{COLUMNS} WHERE cluster_name = $1 AND association_id = $2");
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(cluster)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("Pod identity association {id}")))
    }

    /// The association of a ServiceAccount, if any (the EKS Auth lookup).
    pub async fn association_for(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<PodIdentityAssociation>> {
        let sql = format!(
            "{COLUMNS} WHERE cluster_name = $1 AND namespace = $2 AND service_account = $3"
        );
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(cluster)
            .bind(namespace)
            .bind(service_account)
            .fetch_optional(&self.pool)
            .await?;
        row.map(from_row).transpose()
    }

    /// Lists a cluster's associations ordered by id, optionally filtered.
    pub async fn list_associations(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        service_account: Option<&str>,
    ) -> Result<Vec<PodIdentityAssociation>> {
        let sql = format!(
            "{COLUMNS} WHERE cluster_name = $1 AND ($2 IS NULL OR namespace = $2) \
             AND ($3 IS NULL OR service_account = $3) ORDER BY association_id"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(cluster)
            .bind(namespace)
            .bind(service_account)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Rewrites an association's mutable fields.
    pub async fn update_association(&self, a: &PodIdentityAssociation) -> Result<()> {
        let done = sqlx::query(
            "UPDATE pod_identity_associations SET role_arn = $3, disable_session_tags = $4, \
             target_role_arn = $5, external_id = $6, session_policy = $7, modified_at = $8 \
             WHERE cluster_name = $1 AND association_id = $2",
        )
        .bind(&a.cluster_name)
        .bind(&a.association_id)
        .bind(&a.role_arn)
        .bind(i64::from(a.disable_session_tags))
        .bind(a.target_role_arn.as_deref())
        .bind(a.external_id.as_deref())
        .bind(a.session_policy.as_deref())
        .bind(a.modified_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "Pod identity association {}",
                a.association_id
            )));
        }
        Ok(())
    }

    /// Deletes an association.
    pub async fn delete_association(&self, cluster: &str, id: &str) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM pod_identity_associations WHERE cluster_name = $1 AND association_id = $2",
        )
        .bind(cluster)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "Pod identity association {id}"
            )));
        }
        Ok(())
    }
}
