//! The HTTPS certificate: a rustls resolver whose certificate and key are reloaded when their
//! files change, so a renewed Secret (cert-manager) is served without a restart.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ProtocolVersion, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use tokio::sync::watch;

use crate::filewatch::{ContentPoller, FileReadError, every_until_shutdown};

/// Errors loading the certificate and key or building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] FileReadError),
    /// The certificate file holds no usable PEM certificate.
    #[error("no PEM certificate in {path}")]
    NoCertificate {
        /// Certificate file path.
        path: String,
    },
    /// The certificate file is not valid PEM.
    #[error("parsing certificates in {path}: {source}")]
    Certificate {
        /// Certificate file path.
        path: String,
        /// PEM error.
        source: rustls::pki_types::pem::Error,
    },
    /// The key file holds no usable PEM private key.
    #[error("parsing private key in {path}: {source}")]
    Key {
        /// Key file path.
        path: String,
        /// PEM error.
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair (unsupported key type, or a key that does not match the cert).
    #[error("certificate {cert} and key {key} are not a usable pair: {source}")]
    Pair {
        /// Certificate file path.
        cert: String,
        /// Key file path.
        key: String,
        /// rustls error.
        source: rustls::Error,
    },
    /// The TLS configuration could not be built.
    #[error("building the TLS configuration: {0}")]
    Config(rustls::Error),
}

/// The oldest TLS version accepted (`--tls-min-version`). rustls speaks only TLS 1.2 and 1.3, so
/// the reference's "1.0" and "1.1" are accepted and mean 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3 (the default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// An unknown `--tls-min-version` value.
#[derive(Debug, thiserror::Error)]
#[error("unknown TLS version {0:?}: expected 1.0, 1.1, 1.2, 1.3 or VersionTLS10..VersionTLS13")]
pub struct UnknownTlsVersion(String);

impl FromStr for TlsMinVersion {
    type Err = UnknownTlsVersion;

    /// Accepts the reference's spellings: "", "1.0".."1.3" and "VersionTLS10".."VersionTLS13".
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "" | "1.0" | "1.1" | "1.2" | "VersionTLS10" | "VersionTLS11" | "VersionTLS12" => {
                Ok(Self::Tls12)
            }
            "1.3" | "VersionTLS13" => Ok(Self::Tls13),
            other => Err(UnknownTlsVersion(other.to_owned())),
        }
    }
}

static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

impl TlsMinVersion {
    fn protocol_versions(self) -> &'static [&'static SupportedProtocolVersion] {
        match self {
            Self::Tls12 => rustls::ALL_VERSIONS,
            Self::Tls13 => TLS13_ONLY,
        }
    }
}

/// Serves the certificate last loaded from a cert/key file pair; [`ReloadingCertResolver::reload`]
/// swaps in a changed pair, and keeps the current one when the new pair is unusable.
pub struct ReloadingCertResolver {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    poller: Mutex<ContentPoller>,
}

impl fmt::Debug for ReloadingCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCertResolver")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl ReloadingCertResolver {
    /// Loads the PEM certificate chain and private key; both must be usable now.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut poller = ContentPoller::new(vec![cert_path.to_owned(), key_path.to_owned()]);
        let contents = poller.poll()?.unwrap_or_default();
        let current = certified_key(cert_path, key_path, &contents, &provider)?;
        Ok(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current: ArcSwap::from_pointee(current),
            poller: Mutex::new(poller),
        })
    }

    /// Re-reads the files: `Ok(true)` when a changed, usable pair was swapped in, `Ok(false)`
    /// when nothing changed, `Err` when the changed pair is unusable (the old pair stays).
    pub fn reload(&self) -> Result<bool, TlsError> {
        let polled = match self.poller.lock() {
            Ok(mut poller) => poller.poll(),
            Err(poisoned) => poisoned.into_inner().poll(),
        };
        let Some(contents) = polled? else {
            return Ok(false);
        };
        let key = certified_key(&self.cert_path, &self.key_path, &contents, &self.provider)?;
        self.current.store(Arc::new(key));
        Ok(true)
    }

    /// Polls the files every `interval` until shutdown, logging reloads and rejected pairs.
    pub async fn watch(self: Arc<Self>, interval: Duration, shutdown: watch::Receiver<bool>) {
        every_until_shutdown(interval, shutdown, || match self.reload() {
            Ok(true) => {
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded")
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "keeping the current TLS certificate");
            }
        })
        .await;
    }

    /// A rustls server configuration serving this resolver's certificate, with HTTP/2 and
    /// HTTP/1.1 offered through ALPN. A non-empty `cipher_suites` restricts TLS 1.2 to those
    /// (Go/IANA names); as in Go, TLS 1.3 suites are not configurable.
    pub fn server_config(
        self: Arc<Self>,
        min_version: TlsMinVersion,
        cipher_suites: &[String],
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let mut provider = (*self.provider).clone();
        restrict_tls12_suites(&mut provider, cipher_suites);
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(min_version.protocol_versions())
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Keeps the TLS 1.2 suites named in `names` (all when empty). Names rustls does not implement
/// (CBC, RSA key exchange, 3DES, RC4: Go still knows them) are logged and skipped.
fn restrict_tls12_suites(provider: &mut CryptoProvider, names: &[String]) {
    // Go also accepts the CHACHA20 suites without their `_SHA256` suffix.
    let wanted: Vec<String> = names
        .iter()
        .filter(|name| !name.is_empty())
        .map(|name| match name.as_str() {
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
                format!("{name}_SHA256")
            }
            _ => name.clone(),
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let is_tls13 =
        |suite: &SupportedCipherSuite| suite.version().version == ProtocolVersion::TLSv1_3;
    for name in &wanted {
        let known = provider
            .cipher_suites
            .iter()
            .any(|suite| !is_tls13(suite) && format!("{:?}", suite.suite()) == *name);
        if !known {
            tracing::warn!(cipher_suite = %name, "not a TLS 1.2 cipher suite rustls offers; ignored");
        }
    }
    provider
        .cipher_suites
        .retain(|suite| is_tls13(suite) || wanted.contains(&format!("{:?}", suite.suite())));
}

/// Parses `[cert PEM, key PEM]` into a key rustls can serve.
fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    contents: &[Vec<u8>],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_name = || cert_path.display().to_string();
    let (cert_pem, key_pem) = match contents {
        [cert, key] => (cert.as_slice(), key.as_slice()),
        _ => (&[][..], &[][..]),
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Certificate {
            path: cert_name(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_name() });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|source| TlsError::Key {
        path: key_path.display().to_string(),
        source,
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Pair {
        cert: cert_name(),
        key: key_path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_version_spellings() {
        for spelling in ["", "1.0", "1.1", "1.2", "VersionTLS10", "VersionTLS12"] {
            assert_eq!(
                spelling.parse::<TlsMinVersion>().unwrap(),
                TlsMinVersion::Tls12
            );
        }
        assert_eq!(
            "1.3".parse::<TlsMinVersion>().unwrap(),
            TlsMinVersion::Tls13
        );
        assert_eq!(
            "VersionTLS13".parse::<TlsMinVersion>().unwrap(),
            TlsMinVersion::Tls13
        );
        assert!("1.4".parse::<TlsMinVersion>().is_err());
        assert!("tls1.2".parse::<TlsMinVersion>().is_err());
    }

    #[test]
    fn missing_files_are_an_error() {
        let err =
            ReloadingCertResolver::load(Path::new("/nonexistent/c"), Path::new("/nonexistent/k"))
                .unwrap_err();
        assert!(matches!(err, TlsError::Read(_)), "{err}");
    }

    #[test]
    fn garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let err = ReloadingCertResolver::load(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }

    fn pem_pair() -> (String, String) {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (generated.cert.pem(), generated.signing_key.serialize_pem())
    }

    fn served(resolver: &ReloadingCertResolver) -> Vec<u8> {
        resolver.current.load().cert[0].as_ref().to_vec()
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn reload_swaps_good_pairs_and_keeps_the_old_one_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        let (first_cert, first_key) = pem_pair();
        std::fs::write(&cert, &first_cert).unwrap();
        std::fs::write(&key, &first_key).unwrap();
        let resolver = ReloadingCertResolver::load(&cert, &key).unwrap();
        assert_eq!(served(&resolver), der(&first_cert));
        assert!(!resolver.reload().unwrap());

        let (second_cert, second_key) = pem_pair();
        std::fs::write(&cert, &second_cert).unwrap();
        std::fs::write(&key, &second_key).unwrap();
        assert!(resolver.reload().unwrap());
        assert_eq!(served(&resolver), der(&second_cert));

        // A certificate with a key that does not match it.
        std::fs::write(&cert, &first_cert).unwrap();
        let err = resolver.reload().unwrap_err();
        assert!(matches!(err, TlsError::Pair { .. }), "{err}");
        assert_eq!(served(&resolver), der(&second_cert));
        // Reported once: the same bad content is not re-parsed.
        assert!(!resolver.reload().unwrap());

        std::fs::write(&cert, "garbage").unwrap();
        let err = resolver.reload().unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        std::fs::write(&cert, &second_cert).unwrap();
        std::fs::write(&key, "garbage").unwrap();
        let err = resolver.reload().unwrap_err();
        assert!(matches!(err, TlsError::Key { .. }), "{err}");
        assert_eq!(served(&resolver), der(&second_cert));

        std::fs::write(&key, &second_key).unwrap();
        assert!(resolver.reload().unwrap());
        assert_eq!(served(&resolver), der(&second_cert));
    }

    #[test]
    fn tls13_only_config_builds() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        let (pem_cert, pem_key) = pem_pair();
        std::fs::write(&cert, pem_cert).unwrap();
        std::fs::write(&key, pem_key).unwrap();
        let resolver = Arc::new(ReloadingCertResolver::load(&cert, &key).unwrap());
        let config = resolver.server_config(TlsMinVersion::Tls13, &[]).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    fn suite_names(names: &[&str]) -> Vec<String> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        restrict_tls12_suites(&mut provider, &names);
        provider
            .cipher_suites
            .iter()
            .map(|suite| format!("{:?}", suite.suite()))
            .collect()
    }

    #[test]
    fn cipher_suites_restrict_tls12_only() {
        let all = suite_names(&[]);
        assert_eq!(all.len(), 9, "{all:?}");
        assert_eq!(suite_names(&[""]), all);
        assert_eq!(
            suite_names(&[
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
            ]),
            [
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            ]
        );
    }
}
