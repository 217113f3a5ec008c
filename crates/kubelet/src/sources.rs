//! What the kubelet asks of the rest of podpass, as traits the lead wires to the issuer and
//! the store: tokens, ConfigMap/Secret data, and the clock.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub use podpass_token::ObjectRef;

/// A boxed, sendable future (keeps the traits object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Error of a caller-supplied source, shown in pod events and errors.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// The `data` of a ConfigMap or Secret (Secret values decoded).
pub type ObjectData = BTreeMap<String, Vec<u8>>;

/// A TokenRequest as the kubelet sends it for a projected serviceAccountToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    /// Namespace of the pod and ServiceAccount.
    pub namespace: String,
    /// ServiceAccount name.
    pub service_account: String,
    /// Audience; `None` means the API server's audiences.
    pub audience: Option<String>,
    /// Requested lifetime.
    pub expiration_seconds: i64,
    /// The pod the token is bound to.
    pub pod: ObjectRef,
}

/// A token returned by the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Its `exp`, unix seconds.
    pub expiration: i64,
}

/// The mutating admission webhooks registered in the cluster (its
/// MutatingWebhookConfigurations), which the API server calls after its built-in admission.
pub trait MutatingWebhooks: Send + Sync {
    /// The pod `object`, being created in `namespace`, as the registered webhooks leave it; an
    /// error refuses the pod.
    fn mutate<'a>(
        &'a self,
        object: serde_json::Value,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, crate::KubeletError>>;
}

/// The TokenRequest API (`POST .../serviceaccounts/{name}/token`).
pub trait TokenSource: Send + Sync {
    /// Issues a token for `params`.
    fn request<'a>(
        &'a self,
        params: &'a TokenParams,
    ) -> BoxFuture<'a, Result<IssuedToken, SourceError>>;
}

/// ConfigMap and Secret data (`kube-root-ca.crt` included). `Ok(None)`: the object does not exist.
pub trait ObjectSource: Send + Sync {
    /// The `data` of ConfigMap `namespace/name`.
    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>>;
    /// The decoded `data` of Secret `namespace/name`.
    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>>;
}

/// Wall-clock time in unix seconds, injectable so tests can move it.
pub trait Clock: Send + Sync {
    /// Now, unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        jiff::Timestamp::now().as_second()
    }
}

/// An [`ObjectSource`] backed by fixed maps, for tests and simple setups.
#[derive(Debug, Clone, Default)]
pub struct StaticObjects {
    /// ConfigMaps by (namespace, name).
    pub config_maps: BTreeMap<(String, String), ObjectData>,
    /// Secrets by (namespace, name).
    pub secrets: BTreeMap<(String, String), ObjectData>,
}

impl StaticObjects {
    /// Puts `kube-root-ca.crt` with `ca.crt = ca_pem` in every listed namespace.
    pub fn with_root_ca<'n>(
        mut self,
        ca_pem: &[u8],
        namespaces: impl IntoIterator<Item = &'n str>,
    ) -> Self {
        for ns in namespaces {
            self.config_maps.insert(
                (
                    ns.to_owned(),
                    crate::admission::ROOT_CA_CONFIG_MAP.to_owned(),
                ),
                BTreeMap::from([("ca.crt".to_owned(), ca_pem.to_vec())]),
            );
        }
        self
    }
}

impl ObjectSource for StaticObjects {
    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>> {
        let found = self
            .config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned();
        Box::pin(async move { Ok(found) })
    }

    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectData>, SourceError>> {
        let found = self
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned();
        Box::pin(async move { Ok(found) })
    }
}
