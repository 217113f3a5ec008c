//! The Secrets and ConfigMaps of a podpass cluster.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{ClusterObject, ObjectKind, Result, Store, StoreError, from_json, to_json};

type ObjectRow = (String, String, String, String, String, i64);

fn object_from_row(row: ObjectRow) -> Result<ClusterObject> {
    let (cluster_name, namespace, kind, name, data, created_at) = row;
    let kind = match kind.as_str() {
        "Secret" => ObjectKind::Secret,
        "ConfigMap" => ObjectKind::ConfigMap,
        _ => {
            return Err(StoreError::UnknownValue {
                column: "cluster_objects.kind",
                value: kind,
            });
        }
    };
    let encoded: BTreeMap<String, String> = from_json("cluster_objects.data", &data)?;
    let data = encoded
        .into_iter()
        .map(|(key, value)| {
            let bytes = STANDARD
                .decode(value)
                .map_err(|e| StoreError::UnknownValue {
                    column: "cluster_objects.data",
                    value: format!("key {key}: {e}"),
                })?;
            Ok((key, bytes))
        })
        .collect::<Result<_>>()?;
    Ok(ClusterObject {
        cluster_name,
        namespace,
        kind,
        name,
        data,
        created_at,
    })
}

impl Store {
    /// Creates or replaces a Secret or ConfigMap; returns whether it was created.
    pub async fn put_object(&self, object: &ClusterObject) -> Result<bool> {
        let encoded: BTreeMap<&str, String> = object
            .data
            .iter()
            .map(|(key, value)| (key.as_str(), STANDARD.encode(value)))
            .collect();
        let mut tx = self.pool.begin().await?;
        let existed: Option<(i64,)> = sqlx::query_as(
            "SELECT created_at FROM cluster_objects \
             WHERE cluster_name = $1 AND namespace = $2 AND kind = $3 AND name = $4",
        )
        .bind(&object.cluster_name)
        .bind(&object.namespace)
        .bind(object.kind.as_str())
        .bind(&object.name)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO cluster_objects (cluster_name, namespace, kind, name, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cluster_name, namespace, kind, name) \
             DO UPDATE SET data = excluded.data",
        )
        .bind(&object.cluster_name)
        .bind(&object.namespace)
        .bind(object.kind.as_str())
        .bind(&object.name)
        .bind(to_json(&encoded))
        .bind(object.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    /// Reads a Secret or ConfigMap; `None` when it does not exist.
    pub async fn object(
        &self,
        cluster: &str,
        namespace: &str,
        kind: ObjectKind,
        name: &str,
    ) -> Result<Option<ClusterObject>> {
        let row: Option<ObjectRow> = sqlx::query_as(
            "SELECT cluster_name, namespace, kind, name, data, created_at FROM cluster_objects \
             WHERE cluster_name = $1 AND namespace = $2 AND kind = $3 AND name = $4",
        )
        .bind(cluster)
        .bind(namespace)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(object_from_row).transpose()
    }
}
