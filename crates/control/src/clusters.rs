//! Clusters as ServiceAccount token issuers: creation, signing keys and their rotation, the
//! published JWKS and discovery document, ServiceAccounts, and TokenRequest.

use std::collections::BTreeMap;

use podpass_store::{Cluster, ServiceAccount, SigningKeyRecord, Store, StoreError, TokenKeys};
use podpass_token::{
    DiscoveryDocument, Jwks, JwtAlgorithm, KeyAlgorithm, KeyError, MintError, SigningKey,
    TokenRequest,
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
    /// The cluster's ServiceAccounts and tokens are its own kube-apiserver's, not podpass's.
    #[error(
        "cluster {0} is registered: its kube-apiserver keeps its ServiceAccounts and issues its tokens"
    )]
    Registered(String),
    /// The cluster is podpass's own: its issuer and keys are podpass's.
    #[error("cluster {0} is podpass's own cluster; register another name")]
    Own(String),
    /// What a registration gives is not usable.
    #[error("{0}")]
    InvalidRegistration(String),
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
            Ok(cluster) => Ok(cluster),
            Err(StoreError::NotFound(_)) => {
                match self.create_under(name, public_url, algorithm, now).await {
                    // Another replica created it at the same moment: theirs is the cluster.
                    Err(ClusterError::Store(StoreError::AlreadyExists(_))) => {
                        Ok(self.store.cluster(name).await?)
                    }
                    created => created,
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the cluster `name` with a fresh `algorithm` key, its issuer served by podpass
    /// under `public_url` (`<public_url>/id/<32-hex id>`, the shape of an EKS issuer). Fails if
    /// the name exists.
    pub async fn create_under(
        &self,
        name: &str,
        public_url: &str,
        algorithm: KeyAlgorithm,
        now: i64,
    ) -> Result<Cluster> {
        let cluster_id = ids::cluster_id()?;
        let issuer_url = format!("{}/id/{cluster_id}", public_url.trim_end_matches('/'));
        self.create_with_id(name, cluster_id, &issuer_url, algorithm, now)
            .await
    }

    /// Creates a cluster podpass signs the tokens of, as `issuer_url`: where its discovery
    /// document and JWKS are published for others (AWS IAM) to read (`issuer publish`), while
    /// podpass's own endpoints verify them with the store's keys. Fails if the name exists.
    pub async fn create(
        &self,
        name: &str,
        issuer_url: &str,
        algorithm: KeyAlgorithm,
        now: i64,
    ) -> Result<Cluster> {
        let issuer_url = issuer_url.trim_end_matches('/');
        if !(issuer_url.starts_with("https://") || issuer_url.starts_with("http://")) {
            return Err(ClusterError::InvalidRegistration(format!(
                "the issuer URL {issuer_url} is not an http(s) URL"
            )));
        }
        self.create_with_id(name, ids::cluster_id()?, issuer_url, algorithm, now)
            .await
    }

    async fn create_with_id(
        &self,
        name: &str,
        cluster_id: String,
        issuer_url: &str,
        algorithm: KeyAlgorithm,
        now: i64,
    ) -> Result<Cluster> {
        let cluster = Cluster {
            name: name.to_owned(),
            issuer_url: issuer_url.to_owned(),
            cluster_id,
            token_keys: TokenKeys::Podpass,
            token_review: false,
            created_at: now,
        };
        let key = new_key_record(name, algorithm, now)?;
        self.store.create_cluster(&cluster, &key).await?;
        Ok(cluster)
    }

    /// What the cluster's issuer publishes: its discovery document and JWKS, for podpass's own
    /// clusters and for registered ones whose JWKS podpass holds. A registered cluster whose
    /// issuer publishes its keys itself has nothing for podpass to publish.
    pub async fn issuer_documents(
        &self,
        cluster: &Cluster,
        now: i64,
    ) -> Result<(DiscoveryDocument, Jwks)> {
        let jwks = match &cluster.token_keys {
            TokenKeys::Podpass => self.jwks(&cluster.name, now).await?,
            TokenKeys::Jwks(text) => Jwks::from_json(text).map_err(|e| {
                ClusterError::InvalidRegistration(format!("the registered JWKS: {e}"))
            })?,
            TokenKeys::Discovery => {
                return Err(ClusterError::InvalidRegistration(format!(
                    "cluster {} is verified with its issuer's own discovery: register it with --jwks-file to have podpass publish its keys",
                    cluster.name
                )));
            }
        };
        let mut algorithms: Vec<JwtAlgorithm> = jwks
            .keys
            .iter()
            .filter_map(|key| key.alg.as_deref().and_then(|alg| alg.parse().ok()))
            .collect();
        if algorithms.is_empty() {
            // Keys without `alg`: kube-apiserver's default.
            algorithms.push(JwtAlgorithm::RS256);
        }
        let discovery = DiscoveryDocument::new(
            &cluster.issuer_url,
            &format!("{}{JWKS_PATH}", cluster.issuer_url),
            algorithms,
        );
        Ok((discovery, jwks))
    }

    /// Reads a cluster by name.
    pub async fn get(&self, name: &str) -> Result<Cluster> {
        Ok(self.store.cluster(name).await?)
    }

    /// Registers the cluster `name` whose ServiceAccount tokens its own kube-apiserver issues
    /// as `issuer_url`, verified with `keys` (its issuer's OIDC discovery, or a JWKS) and, with
    /// `token_review`, by its kube-apiserver too; or updates the registration. podpass's own
    /// clusters cannot be registered over.
    pub async fn register(
        &self,
        name: &str,
        issuer_url: &str,
        keys: TokenKeys,
        token_review: bool,
        now: i64,
    ) -> Result<Cluster> {
        let issuer_url = issuer_url.trim_end_matches('/');
        check_registration(issuer_url, &keys)?;
        match self.store.cluster(name).await {
            Ok(existing) if existing.token_keys == TokenKeys::Podpass => {
                Err(ClusterError::Own(name.to_owned()))
            }
            Ok(existing) => {
                let cluster = Cluster {
                    issuer_url: issuer_url.to_owned(),
                    token_keys: keys,
                    token_review,
                    ..existing
                };
                self.store.update_cluster_keys(&cluster).await?;
                Ok(cluster)
            }
            Err(StoreError::NotFound(_)) => {
                let cluster = Cluster {
                    name: name.to_owned(),
                    cluster_id: ids::cluster_id()?,
                    issuer_url: issuer_url.to_owned(),
                    token_keys: keys,
                    token_review,
                    created_at: now,
                };
                match self.store.register_cluster(&cluster).await {
                    Ok(()) => Ok(cluster),
                    // Another replica registered it at the same moment, from the same flags.
                    Err(StoreError::AlreadyExists(_)) => Ok(self.store.cluster(name).await?),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The cluster whose tokens name `issuer_url`, if any.
    pub async fn by_issuer(&self, issuer_url: &str) -> Result<Option<Cluster>> {
        Ok(self.store.cluster_by_issuer(issuer_url).await?)
    }

    /// One of podpass's own clusters by the id in its issuer path (a registered cluster has
    /// no issuer here).
    pub async fn by_id(&self, cluster_id: &str) -> Result<Cluster> {
        let cluster = self.store.cluster_by_id(cluster_id).await?;
        if cluster.token_keys != TokenKeys::Podpass {
            return Err(
                StoreError::NotFound(format!("No cluster found for id: {cluster_id}.")).into(),
            );
        }
        Ok(cluster)
    }

    /// The key that signs new tokens of `cluster`.
    pub async fn active_key(&self, cluster: &str) -> Result<SigningKey> {
        let record = self.store.cluster(cluster).await?;
        if record.token_keys != TokenKeys::Podpass {
            return Err(ClusterError::Registered(cluster.to_owned()));
        }
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
                let record = self.store.cluster(cluster).await?;
                if record.token_keys != TokenKeys::Podpass {
                    return Err(ClusterError::Registered(cluster.to_owned()));
                }
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

/// A registered issuer must be an `https` URL (or `http` to loopback, for tests and local
/// issuers) without query or fragment, and a registered JWKS must hold at least one key.
fn check_registration(issuer_url: &str, keys: &TokenKeys) -> Result<()> {
    let invalid = |why: String| Err(ClusterError::InvalidRegistration(why));
    let Some(rest) = issuer_url.strip_prefix("https://").or_else(|| {
        issuer_url
            .strip_prefix("http://")
            .filter(|r| crate::is_loopback(r))
    }) else {
        return invalid(format!(
            "issuer URL {issuer_url} must be https:// (http:// only to a loopback address)"
        ));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#']) {
        return invalid(format!("issuer URL {issuer_url} is not a plain URL"));
    }
    match keys {
        TokenKeys::Podpass => invalid("a registered cluster's keys are not podpass's".to_owned()),
        TokenKeys::Discovery => Ok(()),
        TokenKeys::Jwks(text) => match Jwks::from_json(text) {
            Ok(jwks) if !jwks.keys.is_empty() => Ok(()),
            Ok(_) => invalid("the JWKS has no keys".to_owned()),
            Err(e) => invalid(format!("the JWKS does not parse: {e}")),
        },
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
