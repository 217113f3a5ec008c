//! The OIDC discovery document kube-apiserver serves at `/.well-known/openid-configuration`.

use serde::{Deserialize, Serialize};

use crate::algorithm::JwtAlgorithm;
use crate::gojson::to_go_json;

/// OIDC provider metadata with exactly kube-apiserver's keys, in its order
/// (`pkg/serviceaccount/openidmetadata.go`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// The issuer URL (`iss` of the tokens).
    pub issuer: String,
    /// Where the JWKS is served.
    pub jwks_uri: String,
    /// Always `["id_token"]`.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Always `["public"]`.
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
    /// Sorted, de-duplicated algorithms of the published keys.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

impl DiscoveryDocument {
    /// Builds the document for an issuer whose keys sign with `algorithms`.
    pub fn new(
        issuer: &str,
        jwks_uri: &str,
        algorithms: impl IntoIterator<Item = JwtAlgorithm>,
    ) -> Self {
        let mut algs: Vec<String> = algorithms
            .into_iter()
            .map(|alg| alg.as_str().to_owned())
            .collect();
        algs.sort();
        algs.dedup();
        DiscoveryDocument {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            response_types_supported: vec!["id_token".into()],
            subject_types_supported: vec!["public".into()],
            id_token_signing_alg_values_supported: algs,
        }
    }

    /// Parses a discovery document fetched from an issuer (extra keys are ignored).
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Serialises the document byte-for-byte as kube-apiserver does.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        to_go_json(self)
    }
}

/// The discovery JSON for `issuer`, as kube-apiserver would serve it.
pub fn discovery_document(
    issuer: &str,
    jwks_uri: &str,
    algorithms: impl IntoIterator<Item = JwtAlgorithm>,
) -> Result<String, serde_json::Error> {
    DiscoveryDocument::new(issuer, jwks_uri, algorithms).to_json()
}
