//! Token issuers' keys, found through OIDC discovery as STS finds them: cached, refetched when a
//! token names an unknown `kid` (at most once a second), fetched with timeouts and size bounds.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use podpass_token::{DiscoveryDocument, Jwks, Verifier};

/// How long fetched keys are trusted without refetching.
const TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` triggers a refetch only this long after the previous fetch.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Largest discovery document or JWKS accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why an issuer's keys could not be fetched (STS's `IDPCommunicationError`).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Network failure, timeout or HTTP error.
    #[error("{0}")]
    Http(String),
    /// The document is not what OIDC discovery promises.
    #[error("{0}")]
    Invalid(String),
}

struct Entry {
    fetched: Instant,
    jwks: Arc<Jwks>,
    verifiers: HashMap<String, Arc<Verifier>>,
}

/// Cache of issuers' key sets and of verifiers built over them.
pub struct IssuerKeys {
    http: reqwest::Client,
    entries: RwLock<HashMap<String, Entry>>,
}

impl IssuerKeys {
    pub(crate) fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        Self {
            http,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// A verifier for `issuer` accepting `audiences`; `refresh` asks for fresh keys (a token
    /// named a `kid` the cached set lacks), honoured at most once a second.
    pub async fn verifier(
        &self,
        issuer: &str,
        audiences: &[String],
        refresh: bool,
    ) -> Result<Arc<Verifier>, FetchError> {
        let audience_key = audiences.join("\n");
        if let Some(verifier) = self.cached(issuer, &audience_key, refresh) {
            return Ok(verifier);
        }
        let stale = {
            let entries = self.read();
            entries.get(issuer).map(|e| (e.fetched, e.jwks.clone()))
        };
        let jwks = match stale {
            Some((fetched, jwks)) if fetched.elapsed() < MIN_REFETCH_INTERVAL => jwks,
            _ => Arc::new(self.fetch(issuer).await?),
        };
        let verifier = Arc::new(
            Verifier::new(issuer, audiences.iter().cloned(), &jwks)
                .map_err(|e| FetchError::Invalid(format!("unusable JWKS: {e}")))?,
        );
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.entry(issuer.to_owned()).or_insert_with(|| Entry {
            fetched: Instant::now(),
            jwks: jwks.clone(),
            verifiers: HashMap::new(),
        });
        if !Arc::ptr_eq(&entry.jwks, &jwks) {
            *entry = Entry {
                fetched: Instant::now(),
                jwks,
                verifiers: HashMap::new(),
            };
        }
        entry.verifiers.insert(audience_key, verifier.clone());
        Ok(verifier)
    }

    fn cached(&self, issuer: &str, audience_key: &str, refresh: bool) -> Option<Arc<Verifier>> {
        let entries = self.read();
        let entry = entries.get(issuer)?;
        let fresh = entry.fetched.elapsed() < TTL;
        let refresh_allowed = entry.fetched.elapsed() >= MIN_REFETCH_INTERVAL;
        if !fresh || (refresh && refresh_allowed) {
            return None;
        }
        entry.verifiers.get(audience_key).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn fetch(&self, issuer: &str) -> Result<Jwks, FetchError> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery = self.get(&discovery_url).await?;
        let discovery = DiscoveryDocument::from_json(&discovery)
            .map_err(|e| FetchError::Invalid(format!("bad discovery document: {e}")))?;
        if discovery.issuer != issuer {
            return Err(FetchError::Invalid(format!(
                "discovery document names issuer {} instead of {issuer}",
                discovery.issuer
            )));
        }
        let jwks = self.get(&discovery.jwks_uri).await?;
        Jwks::from_json(&jwks).map_err(|e| FetchError::Invalid(format!("bad JWKS: {e}")))
    }

    async fn get(&self, url: &str) -> Result<String, FetchError> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Http(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(FetchError::Http(format!(
                "GET {url}: HTTP {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Http(format!("GET {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::Invalid(format!(
                    "GET {url}: document too large"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| FetchError::Invalid(format!("GET {url}: not UTF-8")))
    }
}
