//! The local cluster behind `podpass up`'s kubelet and webhook: tokens from the cluster's
//! issuer, ServiceAccounts, Secrets, ConfigMaps and Pod Identity associations from the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use podpass_control::clusters::Clusters;
use podpass_kubelet::{
    BoxFuture, ConfigKind, ConfigObject, IssuedToken, ObjectData, ObjectSource, SourceError,
    TokenParams, TokenSource,
};
use podpass_podmutation::{IdentityResolver, ServiceAccountSettings};
use podpass_store::{ClusterObject, ClusterResource, ObjectKind, Store};
use podpass_token::{ObjectRef, TokenRequest};

/// The ServiceAccount every namespace has.
const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Node name recorded in pod-bound tokens (the kubelet's node info claim).
pub(crate) const NODE_NAME: &str = "podpass-node";

/// What a podpass cluster is made of, for one cluster.
#[derive(Clone)]
pub(crate) struct LocalCluster {
    store: Store,
    clusters: Clusters,
    cluster: String,
    annotation_prefix: String,
    node_uid: String,
    /// The cluster CA's certificate, every pod's `ca.crt` (`None`: the view serves no pods).
    root_ca: Option<Vec<u8>>,
}

impl LocalCluster {
    /// The cluster `cluster` of `store`, whose CA certificate is `root_ca` (needed only to
    /// serve pods); ServiceAccount annotations carry `annotation_prefix`.
    pub(crate) fn new(
        store: Store,
        cluster: &str,
        annotation_prefix: &str,
        root_ca: Option<&str>,
    ) -> Arc<Self> {
        Arc::new(Self {
            clusters: Clusters::new(store.clone()),
            store,
            cluster: cluster.to_owned(),
            annotation_prefix: annotation_prefix.to_owned(),
            node_uid: podpass_control::ids::uid(),
            root_ca: root_ca.map(|pem| pem.as_bytes().to_vec()),
        })
    }

    /// Runs an async store read from the webhook's synchronous resolver interface.
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
    }
}

impl TokenSource for LocalCluster {
    fn request<'a>(
        &'a self,
        params: &'a TokenParams,
    ) -> BoxFuture<'a, Result<IssuedToken, SourceError>> {
        Box::pin(async move {
            let audience = match &params.audience {
                Some(audience) => audience.clone(),
                // The API server's audience: its issuer.
                None => self.clusters.get(&self.cluster).await?.issuer_url,
            };
            let request = TokenRequest {
                audiences: vec![audience],
                expiration_seconds: Some(params.expiration_seconds),
                bound_pod: Some(params.pod.clone()),
                bound_node: Some(ObjectRef {
                    name: NODE_NAME.to_owned(),
                    uid: self.node_uid.clone(),
                }),
            };
            if params.service_account == DEFAULT_SERVICE_ACCOUNT {
                // Every namespace has its `default` ServiceAccount, created on first use here.
                self.clusters
                    .ensure_service_account(
                        &self.cluster,
                        &params.namespace,
                        DEFAULT_SERVICE_ACCOUNT,
                        podpass_control::now(),
                    )
                    .await?;
            }
            let (token, claims) = self
                .clusters
                .request_token(
                    &self.cluster,
                    &params.namespace,
                    &params.service_account,
                    &request,
                    podpass_control::now(),
                )
                .await?;
            Ok(IssuedToken {
                token,
                expiration: claims.exp,
            })
        })
    }
}

impl LocalCluster {
    /// Creates or replaces a Secret or ConfigMap in `namespace`; returns whether it was created.
    pub(crate) async fn apply_object(
        &self,
        namespace: &str,
        object: ConfigObject,
    ) -> Result<bool, SourceError> {
        let kind = match object.kind {
            ConfigKind::Secret => ObjectKind::Secret,
            ConfigKind::ConfigMap => ObjectKind::ConfigMap,
        };
        self.store
            .put_object(&ClusterObject {
                cluster_name: self.cluster.clone(),
                namespace: namespace.to_owned(),
                kind,
                name: object.name,
                data: object.data,
                created_at: podpass_control::now(),
            })
            .await
            .map_err(Into::into)
    }

    /// Creates a ServiceAccount or replaces its annotations (its UID stays, as tokens carry
    /// it); returns whether it was created.
    pub(crate) async fn apply_service_account(
        &self,
        namespace: &str,
        name: &str,
        annotations: BTreeMap<String, String>,
    ) -> Result<bool, SourceError> {
        let created = match self
            .store
            .service_account(&self.cluster, namespace, name)
            .await
        {
            Ok(_) => false,
            Err(podpass_store::StoreError::NotFound(_)) => true,
            Err(e) => return Err(e.into()),
        };
        let mut sa = self
            .clusters
            .ensure_service_account(&self.cluster, namespace, name, podpass_control::now())
            .await?;
        sa.annotations = annotations;
        self.store.put_service_account(&sa).await?;
        Ok(created)
    }

    /// Creates or replaces an object of a kept kind (`namespace` empty when cluster-scoped);
    /// returns whether it was created.
    pub(crate) async fn apply_resource(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        object: &serde_json::Value,
    ) -> Result<bool, SourceError> {
        self.store
            .put_resource(&ClusterResource {
                cluster_name: self.cluster.clone(),
                namespace: namespace.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                object: object.to_string(),
            })
            .await
            .map_err(Into::into)
    }

    /// Every object of a kept kind, read as `T`.
    pub(crate) async fn resources<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<T>, SourceError> {
        self.store
            .resources(&self.cluster, kind)
            .await?
            .into_iter()
            .map(|resource| {
                serde_json::from_str(&resource.object).map_err(|e| {
                    format!("{kind} {}/{}: {e}", resource.namespace, resource.name).into()
                })
            })
            .collect()
    }

    /// The cluster's ServiceAccounts, of one namespace or all, ordered by namespace and name.
    pub(crate) async fn service_accounts(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<podpass_store::ServiceAccount>, SourceError> {
        Ok(self
            .store
            .list_service_accounts(&self.cluster, namespace)
            .await?)
    }

    /// The ServiceAccount `namespace/name`, if it exists.
    pub(crate) async fn find_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<podpass_store::ServiceAccount>, SourceError> {
        match self
            .store
            .service_account(&self.cluster, namespace, name)
            .await
        {
            Ok(sa) => Ok(Some(sa)),
            Err(podpass_store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The cluster's name.
    pub(crate) fn name(&self) -> &str {
        &self.cluster
    }

    async fn stored_object(
        &self,
        namespace: &str,
        kind: ObjectKind,
        name: &str,
    ) -> Result<Option<ObjectData>, SourceError> {
        let object = self
            .store
            .object(&self.cluster, namespace, kind, name)
            .await?;
        Ok(object.map(|o| o.data))
    }
}

impl ObjectSource for LocalCluster {
    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>> {
        Box::pin(async move {
            if name == podpass_kubelet::admission::ROOT_CA_CONFIG_MAP {
                return Ok(self
                    .root_ca
                    .clone()
                    .map(|ca| ObjectData::from([("ca.crt".to_owned(), ca)])));
            }
            self.stored_object(namespace, ObjectKind::ConfigMap, name)
                .await
        })
    }

    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>> {
        Box::pin(self.stored_object(namespace, ObjectKind::Secret, name))
    }
}

impl IdentityResolver for LocalCluster {
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        let sa = self
            .block_on(self.store.service_account(&self.cluster, namespace, name))
            .ok()?;
        let annotations: HashMap<String, String> = sa.annotations.into_iter().collect();
        Some(ServiceAccountSettings::from_annotations(
            &self.annotation_prefix,
            &annotations,
        ))
    }

    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool {
        self.block_on(self.store.association_for(&self.cluster, namespace, name))
            .ok()
            .flatten()
            .is_some()
    }
}
