//! The local cluster's certificate authority, as kubeadm keeps one: created with the cluster
//! under `<data dir>/pki/` (`ca.crt`, and `ca.key` readable by its owner only), its certificate
//! in every pod's `ca.crt`, and a serving certificate it signs for the API's HTTPS listener, so
//! that a pod verifying `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` with its
//! `ca.crt` verifies something real.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData as _, SanType,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// kubeadm's validity of a cluster CA.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// kubeadm's validity of the API server's certificate; a new one is made at every start.
const SERVING_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates are valid from a little before they are made, for clocks slightly behind.
const BACKDATE: Duration = Duration::from_secs(300);

/// The names the kube-apiserver's certificate carries for in-cluster clients.
const KUBERNETES_NAMES: [&str; 5] = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// The cluster CA: its certificate and what signs with its key.
pub(crate) struct ClusterCa {
    certificate_pem: String,
    certificate_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl ClusterCa {
    /// The CA under `dir`, created there (for `cluster`) when absent.
    pub(crate) fn load_or_create(dir: &Path, cluster: &str) -> anyhow::Result<Self> {
        let (cert_path, key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
        if !cert_path.exists() {
            Self::create(dir, cluster, &cert_path, &key_path)?;
        }
        let certificate_pem = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("parsing the CA key {}", key_path.display()))?;
        let certificate_der =
            CertificateDer::from_pem_slice(certificate_pem.as_bytes()).map_err(|e| {
                anyhow::anyhow!("reading the CA certificate {}: {e}", cert_path.display())
            })?;
        // rcgen signs with whatever key it is given: a key that is not the certificate's would
        // make every serving certificate fail verification, so it is refused here.
        let (_, parsed) = x509_parser::parse_x509_certificate(&certificate_der).map_err(|e| {
            anyhow::anyhow!("parsing the CA certificate {}: {e}", cert_path.display())
        })?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            anyhow::bail!(
                "the CA key {} is not the key of the CA certificate {}",
                key_path.display(),
                cert_path.display()
            );
        }
        let issuer = Issuer::from_ca_cert_pem(&certificate_pem, key)
            .with_context(|| format!("parsing the CA certificate {}", cert_path.display()))?;
        Ok(Self {
            certificate_pem,
            certificate_der,
            issuer,
        })
    }

    fn create(dir: &Path, cluster: &str, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, format!("podpass cluster {cluster} CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        (params.not_before, params.not_after) = validity(CA_VALIDITY);
        let certificate = params.self_signed(&key).context("signing the CA")?;
        // The key first: a certificate without its key would be loaded and fail.
        write_private(key_path, key.serialize_pem().as_bytes())?;
        write_new(cert_path, certificate.pem().as_bytes(), 0o644)?;
        tracing::info!(path = %cert_path.display(), "created the cluster CA");
        Ok(())
    }

    /// The CA certificate, PEM: what pods get as `ca.crt`.
    pub(crate) fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// A TLS configuration serving a fresh certificate this CA signs for the Kubernetes API's
    /// in-cluster names, loopback, and `hosts` (names or addresses).
    pub(crate) fn serving_config(
        &self,
        hosts: &[String],
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let key = KeyPair::generate().context("generating the serving key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "podpass-apiserver");
        let mut names: Vec<SanType> = vec![
            SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
            SanType::IpAddress(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ];
        for name in KUBERNETES_NAMES
            .iter()
            .map(|n| (*n).to_owned())
            .chain(hosts.iter().cloned())
        {
            let san = match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    name.clone()
                        .try_into()
                        .with_context(|| format!("{name:?} is not a DNS name"))?,
                ),
            };
            if !names.contains(&san) {
                names.push(san);
            }
        }
        params.subject_alt_names = names;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (params.not_before, params.not_after) = validity(SERVING_VALIDITY);
        let certificate = params
            .signed_by(&key, &self.issuer)
            .context("signing the serving certificate")?;
        // The CA goes with the leaf, as a server presents its chain: a client finds what signed the
        // certificate, and IAM's thumbprint is the CA's, stable across serving certificates.
        let chain = vec![certificate.der().clone(), self.certificate_der.clone()];
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| anyhow::anyhow!("encoding the serving key: {e}"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the serving certificate")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// From a little before now for `length`.
fn validity(length: Duration) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::from(SystemTime::now());
    (now - BACKDATE, now + length)
}

/// Writes a new file with `mode`; never replaces one (two starts racing keep the first CA).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    // A key left by a start that died before writing its certificate is replaced.
    let _ = std::fs::remove_file(path);
    write_new(path, contents, 0o600)
}

/// Where a data directory keeps its cluster CA.
pub(crate) fn ca_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}
