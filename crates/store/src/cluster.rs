//! Clusters, their token-signing keys and their ServiceAccounts.

use crate::{
    Cluster, Result, ServiceAccount, SigningKeyRecord, Store, StoreError, TokenKeys, from_json,
    to_json, unique_violation,
};

type KeyRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

fn key_from_row(row: KeyRow) -> SigningKeyRecord {
    let (kid, cluster_name, algorithm, private_key_pem, created_at, retired_at, publish_until) =
        row;
    SigningKeyRecord {
        kid,
        cluster_name,
        algorithm,
        private_key_pem,
        created_at,
        retired_at,
        publish_until,
    }
}

type ClusterRow = (String, String, String, String, Option<String>, i64, i64);

const CLUSTER_COLUMNS: &str =
    "SELECT name, cluster_id, issuer_url, token_keys, jwks, token_review, created_at FROM clusters";

fn cluster_from_row(row: ClusterRow) -> Result<Cluster> {
    let (name, cluster_id, issuer_url, token_keys, jwks, token_review, created_at) = row;
    let token_keys = match (token_keys.as_str(), jwks) {
        ("podpass", _) => TokenKeys::Podpass,
        ("discovery", _) => TokenKeys::Discovery,
        ("jwks", Some(jwks)) => TokenKeys::Jwks(jwks),
        (other, _) => {
            return Err(StoreError::UnknownValue {
                column: "clusters.token_keys",
                value: other.to_owned(),
            });
        }
    };
    Ok(Cluster {
        name,
        cluster_id,
        issuer_url,
        token_keys,
        token_review: token_review != 0,
        created_at,
    })
}

type SaRow = (String, String, String, String, String, i64);

fn sa_from_row(row: SaRow) -> Result<ServiceAccount> {
    let (cluster_name, namespace, name, uid, annotations, created_at) = row;
    Ok(ServiceAccount {
        cluster_name,
        namespace,
        name,
        uid,
        annotations: from_json("service_accounts.annotations", &annotations)?,
        created_at,
    })
}

impl Store {
    /// Creates a cluster with its first signing key, atomically.
    pub async fn create_cluster(&self, cluster: &Cluster, key: &SigningKeyRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_cluster(&mut tx, cluster).await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers a cluster whose tokens another issuer signs (no signing key of podpass's).
    pub async fn register_cluster(&self, cluster: &Cluster) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_cluster(&mut tx, cluster).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces how a registered cluster's tokens are verified (its issuer and keys).
    pub async fn update_cluster_keys(&self, cluster: &Cluster) -> Result<()> {
        let jwks = match &cluster.token_keys {
            TokenKeys::Jwks(jwks) => Some(jwks.as_str()),
            _ => None,
        };
        let done = sqlx::query(
            "UPDATE clusters SET issuer_url = $1, token_keys = $2, jwks = $3, token_review = $4 \
             WHERE name = $5",
        )
        .bind(&cluster.issuer_url)
        .bind(cluster.token_keys.as_str())
        .bind(jwks)
        .bind(i64::from(cluster.token_review))
        .bind(&cluster.name)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            unique_violation(e, || {
                format!("A cluster with issuer {}", cluster.issuer_url)
            })
        })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "No cluster found for name: {}.",
                cluster.name
            )));
        }
        Ok(())
    }

    /// Deletes a cluster and, with it, its signing keys, ServiceAccounts, Pod Identity
    /// associations and objects (the schema cascades).
    pub async fn delete_cluster(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM clusters WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "No cluster found for name: {name}."
            )));
        }
        Ok(())
    }

    /// The cluster whose tokens name `issuer_url`, if any.
    pub async fn cluster_by_issuer(&self, issuer_url: &str) -> Result<Option<Cluster>> {
        self.cluster_where("issuer_url", issuer_url).await
    }

    /// Reads a cluster by name.
    pub async fn cluster(&self, name: &str) -> Result<Cluster> {
        self.cluster_where("name", name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("No cluster found for name: {name}.")))
    }

    /// Reads a cluster by its issuer id.
    pub async fn cluster_by_id(&self, cluster_id: &str) -> Result<Cluster> {
        self.cluster_where("cluster_id", cluster_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("No cluster found for id: {cluster_id}.")))
    }

    /// Lists clusters ordered by name.
    pub async fn list_clusters(&self) -> Result<Vec<Cluster>> {
        let rows: Vec<ClusterRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CLUSTER_COLUMNS} ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(cluster_from_row).collect()
    }

    /// The cluster whose unique `column` (a fixed name, never input) equals `value`.
    async fn cluster_where(&self, column: &'static str, value: &str) -> Result<Option<Cluster>> {
        let row: Option<ClusterRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CLUSTER_COLUMNS} WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        row.map(cluster_from_row).transpose()
    }

    /// Lists a cluster's signing keys, newest first; the first unretired one signs.
    pub async fn signing_keys(&self, cluster: &str) -> Result<Vec<SigningKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, cluster_name, algorithm, private_key_pem, created_at, retired_at, \
             publish_until FROM signing_keys WHERE cluster_name = $1 ORDER BY created_at DESC, kid",
        )
        .bind(cluster)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(key_from_row).collect())
    }

    /// Makes `key` the cluster's signing key. Previous keys are retired but stay published until
    /// the last token they signed expires; retired keys past that point are deleted.
    pub async fn rotate_signing_key(&self, key: &SigningKeyRecord, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE cluster_name = $1 AND retired_at IS NULL",
        )
        .bind(&key.cluster_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM signing_keys WHERE cluster_name = $1 AND retired_at IS NOT NULL \
             AND (publish_until IS NULL OR publish_until < $2)",
        )
        .bind(&key.cluster_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a retired key of `cluster` before its tokens expire (a key taken out of use at
    /// once, e.g. after a leak): it leaves the JWKS, and the tokens it signed stop verifying.
    /// The key that signs new tokens cannot be removed (`Conflict`): rotate first.
    pub async fn remove_retired_signing_key(&self, cluster: &str, kid: &str) -> Result<()> {
        let keys = self.signing_keys(cluster).await?;
        match keys.iter().find(|k| k.kid == kid) {
            None => Err(StoreError::NotFound(format!(
                "signing key {kid} of cluster {cluster}"
            ))),
            Some(key) if key.retired_at.is_none() => Err(StoreError::Conflict(format!(
                "key {kid} signs the new tokens of cluster {cluster}; rotate the key first"
            ))),
            Some(_) => {
                sqlx::query("DELETE FROM signing_keys WHERE cluster_name = $1 AND kid = $2")
                    .bind(cluster)
                    .bind(kid)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Records that `kid` signed a token valid until `exp`, so the key stays published that long.
    pub async fn record_signed_until(&self, kid: &str, exp: i64) -> Result<()> {
        sqlx::query(
            "UPDATE signing_keys SET publish_until = $2 \
             WHERE kid = $1 AND (publish_until IS NULL OR publish_until < $2)",
        )
        .bind(kid)
        .bind(exp)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates or replaces a ServiceAccount (the UID is kept when it exists).
    pub async fn put_service_account(&self, sa: &ServiceAccount) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_accounts (cluster_name, namespace, name, uid, annotations, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cluster_name, namespace, name) \
             DO UPDATE SET annotations = excluded.annotations",
        )
        .bind(&sa.cluster_name)
        .bind(&sa.namespace)
        .bind(&sa.name)
        .bind(&sa.uid)
        .bind(to_json(&sa.annotations))
        .bind(sa.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reads a ServiceAccount.
    pub async fn service_account(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
    ) -> Result<ServiceAccount> {
        let row: Option<SaRow> = sqlx::query_as(
            "SELECT cluster_name, namespace, name, uid, annotations, created_at FROM service_accounts \
             WHERE cluster_name = $1 AND namespace = $2 AND name = $3",
        )
        .bind(cluster)
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(sa_from_row).transpose()?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "serviceaccounts \"{name}\" in namespace \"{namespace}\""
            ))
        })
    }

    /// Lists a cluster's ServiceAccounts, optionally of one namespace.
    pub async fn list_service_accounts(
        &self,
        cluster: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<ServiceAccount>> {
        let rows: Vec<SaRow> = sqlx::query_as(
            "SELECT cluster_name, namespace, name, uid, annotations, created_at FROM service_accounts \
             WHERE cluster_name = $1 AND ($2 IS NULL OR namespace = $2) ORDER BY namespace, name",
        )
        .bind(cluster)
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(sa_from_row).collect()
    }

    /// Deletes a ServiceAccount.
    pub async fn delete_service_account(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM service_accounts WHERE cluster_name = $1 AND namespace = $2 AND name = $3",
        )
        .bind(cluster)
        .bind(namespace)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "serviceaccounts \"{name}\" in namespace \"{namespace}\""
            )));
        }
        Ok(())
    }
}

async fn insert_cluster(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    cluster: &Cluster,
) -> Result<()> {
    let jwks = match &cluster.token_keys {
        TokenKeys::Jwks(jwks) => Some(jwks.as_str()),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO clusters (name, cluster_id, issuer_url, token_keys, jwks, token_review, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&cluster.name)
    .bind(&cluster.cluster_id)
    .bind(&cluster.issuer_url)
    .bind(cluster.token_keys.as_str())
    .bind(jwks)
    .bind(i64::from(cluster.token_review))
    .bind(cluster.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, || format!("Cluster {}", cluster.name)))?;
    Ok(())
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &SigningKeyRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, cluster_name, algorithm, private_key_pem, created_at, \
         retired_at, publish_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(&key.cluster_name)
    .bind(&key.algorithm)
    .bind(&key.private_key_pem)
    .bind(key.created_at)
    .bind(key.retired_at)
    .bind(key.publish_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
