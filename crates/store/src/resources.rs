//! Kubernetes objects a podpass cluster's API server keeps as applied (RBAC, Services,
//! MutatingWebhookConfigurations).

use crate::{ClusterResource, Result, Store};

type ResourceRow = (String, String, String, String, String);

fn resource_from_row(row: ResourceRow) -> ClusterResource {
    let (cluster_name, namespace, kind, name, object) = row;
    ClusterResource {
        cluster_name,
        namespace,
        kind,
        name,
        object,
    }
}

impl Store {
    /// Creates or replaces an object; returns whether it was created.
    pub async fn put_resource(&self, resource: &ClusterResource) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let existed: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM cluster_resources \
             WHERE cluster_name = $1 AND kind = $2 AND namespace = $3 AND name = $4",
        )
        .bind(&resource.cluster_name)
        .bind(&resource.kind)
        .bind(&resource.namespace)
        .bind(&resource.name)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO cluster_resources (cluster_name, namespace, kind, name, object) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cluster_name, kind, namespace, name) \
             DO UPDATE SET object = excluded.object",
        )
        .bind(&resource.cluster_name)
        .bind(&resource.namespace)
        .bind(&resource.kind)
        .bind(&resource.name)
        .bind(&resource.object)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    /// Every object of `kind` in `cluster`, in every namespace, ordered by namespace and name.
    pub async fn resources(&self, cluster: &str, kind: &str) -> Result<Vec<ClusterResource>> {
        let rows: Vec<ResourceRow> = sqlx::query_as(
            "SELECT cluster_name, namespace, kind, name, object FROM cluster_resources \
             WHERE cluster_name = $1 AND kind = $2 ORDER BY namespace, name",
        )
        .bind(cluster)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(resource_from_row).collect())
    }
}
