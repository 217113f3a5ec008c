//! The thumbprint AWS IAM pins for an OIDC provider whose certificate no CA of its own library
//! signs (a self-signed or private-CA issuer): the hex SHA-1 of the top certificate of the chain
//! the host presents, the last one `openssl s_client -showcerts` prints.
//!
//! The chain is read during the handshake and the handshake is then abandoned: nothing is sent
//! to the host and nothing it says is trusted, so no certificate check is weakened anywhere.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The thumbprint of the host serving `url`, an https URL.
pub(crate) async fn of_url(url: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    if url.scheme() != "https" {
        bail!("{url} is not served over https");
    }
    let host = url.host_str().context("the URL names no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let chain = presented_chain(host.trim_matches(['[', ']']), port).await?;
    let top = chain.last().context("the host presented no certificate")?;
    Ok(sha1_hex(top))
}

/// The certificates `host:port` presents, leaf first.
async fn presented_chain(host: &str, port: u16) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let recorder = Arc::new(ChainRecorder {
        chain: Mutex::default(),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host:?} is not a host name"))?;
    let handshake = async {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
    };
    // The recorder ends every handshake, so the outcome only tells a host that never got as far
    // as its certificate (refused, timed out, not TLS) from one that did.
    let outcome = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .with_context(|| format!("{host}:{port} did not answer within {CONNECT_TIMEOUT:?}"))?;
    let chain = std::mem::take(&mut *recorder.chain.lock().unwrap_or_else(|p| p.into_inner()));
    if chain.is_empty() {
        let reason = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        bail!("{host}:{port} presented no certificate: {reason}");
    }
    Ok(chain)
}

fn sha1_hex(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Keeps the presented chain and refuses it, ending the handshake there.
#[derive(Debug)]
struct ChainRecorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainRecorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|der| der.clone().into_owned())
            .collect();
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        Err(rustls::Error::General("certificate chain recorded".into()))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_the_hex_sha1_of_the_certificate() {
        // SHA-1("abc"), FIPS 180-1's test vector.
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[tokio::test]
    async fn a_host_that_is_not_https_is_refused() {
        let error = of_url("http://example.com/oidc").await.unwrap_err();
        assert!(
            error.to_string().contains("not served over https"),
            "{error}"
        );
    }
}
