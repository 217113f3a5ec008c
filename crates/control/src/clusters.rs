//! Clusters as ServiceAccount token issuers: creation, signing keys and their rotation, the
//! published JWKS and discovery document, ServiceAccounts, and TokenRequest.

use std::collections::BTreeMap;

use podpass_store::{Cluster, ServiceAccount, SigningKeyRecord, Store, StoreError};
use podpass_token::{
    DiscoveryDocument, Jwks, KeyAlgorithm, KeyError, MintError, SigningKey, TokenRequest,
};

use crate::ids::{self, RandomError};

/// Path of the JWKS below an issuer URL, as kube-apiserver serves it.
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The store failed or the entity is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key could not be loaded, or a new one generated.
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    /// The TokenRequest was refused.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The system random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The cluster has no active signing key (never expected: creation installs one).
    #[error("cluster {0} has no active signing key")]
    NoActiveKey(String),
}

/// Result alias of cluster operations.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// Cluster operations over the store.
#[derive(Clone, Debug)]
pub struct Clusters {
    store: Store,
}

impl Clusters {
    /// Wraps a store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Returns the cluster `name`, creating it with a fresh `algorithm` key under `public_url`
    /// (its issuer is `<public_url>/id/<32-hex id>`, the shape of an EKS issuer).
    pub async fn ensure(
        &self,
        name: &str,
        public_url: &str,
        algorithm: KeyAlgorithm,
        now: i64,
    ) -> Result<Cluster> {
        match self.store.cluster(name).await {
            Ok(cluster) => return Ok(cluster),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let cluster_id = ids::cluster_id()?;
        let cluster = Cluster {
            name: name.to_owned(),
            issuer_url: format!("{}/id/{cluster_id}", public_url.trim_end_matches('/')),
            cluster_id,
            created_at: now,
        };
        let key = new_key_record(name, algorithm, now)?;
        self.store.create_cluster(&cluster, &key).await?;
        Ok(cluster)
    }

    /// Reads a cluster by name.
    pub async fn get(&self, name: &str) -> Result<Cluster> {
        Ok(self.store.cluster(name).await?)
    }

    /// Reads a cluster by the id in its issuer path.
    pub async fn by_id(&self, cluster_id: &str) -> Result<Cluster> {
        Ok(self.store.cluster_by_id(cluster_id).await?)
    }

    /// The key that signs new tokens of `cluster`.
    pub async fn active_key(&self, cluster: &str) -> Result<SigningKey> {
        let keys = self.store.signing_keys(cluster).await?;
        let active = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| ClusterError::NoActiveKey(cluster.to_owned()))?;
        Ok(SigningKey::from_pem(&active.private_key_pem)?)
    }

    /// The keys published in the cluster's JWKS at `now`: the active one and retired ones whose
    /// tokens may still be valid.
    pub async fn published_keys(&self, cluster: &str, now: i64) -> Result<Vec<SigningKey>> {
        let keys = self.store.signing_keys(cluster).await?;
        keys.iter()
            .filter(|k| k.retired_at.is_none() || k.publish_until.is_some_and(|t| t >= now))
            .map(|k| Ok(SigningKey::from_pem(&k.private_key_pem)?))
            .collect()
    }

    /// The JWKS document of a cluster.
    pub async fn jwks(&self, cluster: &str, now: i64) -> Result<Jwks> {
        let keys = self.published_keys(cluster, now).await?;
        Ok(Jwks::from_signing_keys(keys.iter()))
    }

    /// The OIDC discovery document of a cluster, as kube-apiserver serves it.
    pub async fn discovery(&self, cluster: &Cluster, now: i64) -> Result<DiscoveryDocument> {
        let keys = self.published_keys(&cluster.name, now).await?;
        Ok(DiscoveryDocument::new(
            &cluster.issuer_url,
            &format!("{}{JWKS_PATH}", cluster.issuer_url),
            keys.iter().map(|k| k.algorithm().jwt_algorithm()),
        ))
    }

    /// Installs a new signing key; old keys stay published until their last token expires.
    /// Returns the new key id.
    pub async fn rotate_key(
        &self,
        cluster: &str,
        algorithm: KeyAlgorithm,
        now: i64,
    ) -> Result<String> {
        self.store.cluster(cluster).await?;
        let key = new_key_record(cluster, algorithm, now)?;
        self.store.rotate_signing_key(&key, now).await?;
        Ok(key.kid)
    }

    /// Takes a retired key out of the JWKS before its tokens expire: they stop verifying within
    /// the issuer key refresh of every STS reading this store.
    pub async fn remove_retired_key(&self, cluster: &str, kid: &str) -> Result<()> {
        self.store.cluster(cluster).await?;
        Ok(self.store.remove_retired_signing_key(cluster, kid).await?)
    }

    /// Creates a ServiceAccount, or returns the existing one unchanged.
    pub async fn ensure_service_account(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        now: i64,
    ) -> Result<ServiceAccount> {
        match self.store.service_account(cluster, namespace, name).await {
            Ok(sa) => Ok(sa),
            Err(StoreError::NotFound(_)) => {
                self.store.cluster(cluster).await?;
                let sa = ServiceAccount {
                    cluster_name: cluster.to_owned(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    uid: ids::uid(),
                    annotations: BTreeMap::new(),
                    created_at: now,
                };
                self.store.put_service_account(&sa).await?;
                Ok(sa)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Issues a token for an existing ServiceAccount, as TokenRequest does.
    pub async fn request_token(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        request: &TokenRequest,
        now: i64,
    ) -> Result<(String, podpass_token::Claims)> {
        let cluster = self.store.cluster(cluster).await?;
        let sa = self
            .store
            .service_account(&cluster.name, namespace, name)
            .await?;
        let key = self.active_key(&cluster.name).await?;
        let subject = podpass_token::ServiceAccount {
            namespace: sa.namespace,
            name: sa.name,
            uid: sa.uid,
        };
        let (jwt, claims) = podpass_token::mint(&key, &cluster.issuer_url, &subject, request, now)?;
        self.store
            .record_signed_until(key.kid(), claims.exp)
            .await?;
        Ok((jwt, claims))
    }
}

fn new_key_record(cluster: &str, algorithm: KeyAlgorithm, now: i64) -> Result<SigningKeyRecord> {
    let key = SigningKey::generate(algorithm)?;
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        cluster_name: cluster.to_owned(),
        algorithm: key.algorithm().jwt_algorithm().as_str().to_owned(),
        private_key_pem: key.to_pkcs8_pem(),
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}
