//! Where the mutation learns about ServiceAccounts and Pod Identity associations.

use std::collections::{HashMap, HashSet};
use std::future::{Future, ready};
use std::pin::Pin;

use serde::Deserialize;

use crate::pod::json_kind;
use crate::settings::ServiceAccountSettings;

/// Lookups the webhook needs per admission request; the caller keeps them cached.
pub trait IdentityResolver {
    /// The ServiceAccount's settings, or `None` when the ServiceAccount is unknown.
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings>;
    /// Whether (namespace, ServiceAccount) has a Pod Identity association.
    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool;

    /// The settings Pod Identity injection takes from the ServiceAccount (regional STS, token
    /// expiration). By default the same as [`IdentityResolver::service_account`].
    fn pod_identity_settings(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.service_account(namespace, name)
    }

    /// Like [`IdentityResolver::service_account`], but may wait a bounded time for a
    /// ServiceAccount that is not known yet (the reference's lookup grace period). By default it
    /// does not wait.
    fn service_account_eventually<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> LookupFuture<'a> {
        Box::pin(ready(self.service_account(namespace, name)))
    }
}

/// What [`IdentityResolver::service_account_eventually`] returns.
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Option<ServiceAccountSettings>> + Send + 'a>>;

/// Errors in the content of the container-credentials (Pod Identity) association file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityFileError {
    /// The content is not valid JSON of the expected shape.
    #[error("error Unmarshalling container credentials config file: {0}")]
    Parse(#[from] serde_json::Error),
    /// The JSON document is not an object.
    #[error(
        "error Unmarshalling container credentials config file: json: cannot unmarshal {0} into Go value of type containercredentials.IdentityConfigObject"
    )]
    NotAnObject(&'static str),
}

/// The reference's `{"identities":[{"namespace":..,"serviceAccount":..}]}` file:
/// an exact-match set of (namespace, ServiceAccount) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdentityAssociations {
    identities: HashSet<(String, String)>,
}

#[derive(Deserialize)]
struct IdentityFile {
    #[serde(default)]
    identities: Option<Vec<IdentityEntry>>,
}

#[derive(Deserialize)]
struct IdentityEntry {
    #[serde(default)]
    namespace: String,
    #[serde(default, rename = "serviceAccount")]
    service_account: String,
}

impl PodIdentityAssociations {
    /// Parses the file content; empty content means "no associations", as upstream.
    pub fn parse(content: &[u8]) -> Result<Self, IdentityFileError> {
        if content.is_empty() {
            return Ok(Self::default());
        }
        let value: serde_json::Value = serde_json::from_slice(content)?;
        // serde would read an array as a struct; Go's decoder does not.
        if !(value.is_object() || value.is_null()) {
            return Err(IdentityFileError::NotAnObject(json_kind(&value)));
        }
        let file = if value.is_null() {
            IdentityFile { identities: None }
        } else {
            serde_json::from_value::<IdentityFile>(value)?
        };
        let identities = file
            .identities
            .unwrap_or_default()
            .into_iter()
            .map(|entry| (entry.namespace, entry.service_account))
            .collect();
        Ok(Self { identities })
    }

    /// Whether (namespace, ServiceAccount) is listed.
    pub fn contains(&self, namespace: &str, service_account: &str) -> bool {
        self.identities
            .contains(&(namespace.to_owned(), service_account.to_owned()))
    }

    /// Number of listed identities.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// Whether no identity is listed.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }
}

impl FromIterator<(String, String)> for PodIdentityAssociations {
    /// The associations of these (namespace, ServiceAccount) pairs (an EKS API's list).
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self {
            identities: pairs.into_iter().collect(),
        }
    }
}

/// A fixed, in-memory resolver: a ServiceAccount table plus the Pod Identity file.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    /// Known ServiceAccounts keyed by (namespace, name).
    pub service_accounts: HashMap<(String, String), ServiceAccountSettings>,
    /// Pod Identity associations.
    pub pod_identities: PodIdentityAssociations,
}

impl IdentityResolver for StaticResolver {
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.service_accounts
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool {
        self.pod_identities.contains(namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identities() {
        let set = PodIdentityAssociations::parse(
            br#"{"identities":[{"namespace":"ns","serviceAccount":"sa"},{"namespace":"b","serviceAccount":"c","extra":1}]}"#,
        )
        .unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains("ns", "sa"));
        assert!(set.contains("b", "c"));
        assert!(!set.contains("ns", "c"));
        assert!(!set.contains("*", "sa"));
    }

    #[test]
    fn empty_content_clears() {
        assert!(PodIdentityAssociations::parse(b"").unwrap().is_empty());
        assert!(PodIdentityAssociations::parse(b"{}").unwrap().is_empty());
        assert!(PodIdentityAssociations::parse(b"null").unwrap().is_empty());
        assert!(
            PodIdentityAssociations::parse(br#"{"identities":null}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_content_is_an_error() {
        for bad in [&b"   "[..], b"{", b"[]", b"5", br#"{"identities":{}}"#] {
            let err = PodIdentityAssociations::parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("error Unmarshalling container credentials config file: "),
                "{err}"
            );
        }
    }

    #[test]
    fn static_resolver_lookups() {
        let mut resolver = StaticResolver::default();
        resolver.service_accounts.insert(
            ("ns".into(), "sa".into()),
            ServiceAccountSettings {
                role_arn: Some("arn".into()),
                ..Default::default()
            },
        );
        resolver.pod_identities = PodIdentityAssociations::parse(
            br#"{"identities":[{"namespace":"ns","serviceAccount":"pi"}]}"#,
        )
        .unwrap();
        assert_eq!(
            resolver
                .service_account("ns", "sa")
                .unwrap()
                .role_arn
                .as_deref(),
            Some("arn")
        );
        assert!(resolver.service_account("other", "sa").is_none());
        assert!(resolver.has_pod_identity("ns", "pi"));
        assert!(!resolver.has_pod_identity("ns", "sa"));
    }
}
