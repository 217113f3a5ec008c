//! `podpass webhook certificate`: the webhook's serving certificate without cert-manager. Run
//! as a Job of the install, it keeps a private CA and a serving certificate for the webhook's
//! Service in a `kubernetes.io/tls` Secret (`ca.crt`, `tls.crt`, `tls.key`), and puts the CA
//! into the `caBundle` of the MutatingWebhookConfiguration's webhooks that call that Service.
//!
//! Run again, it keeps a certificate that still covers the Service's names for longer than
//! `renew_before`, so the Job is idempotent; the webhook reloads a renewed certificate from its
//! mounted Secret by itself.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// What the certificate is for and where it goes.
#[derive(Debug, Clone)]
pub struct CertificateSettings {
    /// Namespace of the webhook's Service and of the Secret.
    pub namespace: String,
    /// The webhook's Service: the certificate names it.
    pub service: String,
    /// The Secret holding the CA and the serving certificate.
    pub secret: String,
    /// The MutatingWebhookConfiguration whose webhooks get the CA.
    pub webhook_configuration: String,
    /// How long a new certificate is valid.
    pub validity: Duration,
    /// A certificate that expires sooner than this is replaced.
    pub renew_before: Duration,
}

/// What [`ensure_certificate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOutcome {
    /// A new CA and certificate were written (`false`: the Secret's were kept).
    pub issued: bool,
    /// Why a new certificate was issued, or why the stored one was kept.
    pub reason: String,
    /// Webhooks whose `caBundle` changed.
    pub patched: Vec<String>,
}

/// Errors of [`ensure_certificate`].
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A Kubernetes API call failed.
    #[error("{what}: {source}")]
    Kube {
        /// The call.
        what: String,
        /// kube's error.
        source: Box<kube::Error>,
    },
    /// The certificate could not be made.
    #[error("generating the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// No webhook of the configuration calls the Service.
    #[error(
        "no webhook of MutatingWebhookConfiguration {configuration} calls service {namespace}/{service}"
    )]
    NoWebhook {
        /// The configuration.
        configuration: String,
        /// The Service's namespace.
        namespace: String,
        /// The Service.
        service: String,
    },
}

fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> CertificateError {
    let what = what.into();
    move |source| CertificateError::Kube {
        what,
        source: Box::new(source),
    }
}

impl CertificateSettings {
    /// The names the API server may call the Service by.
    pub fn dns_names(&self) -> Vec<String> {
        let (service, namespace) = (&self.service, &self.namespace);
        vec![
            service.clone(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ]
    }
}

/// Makes sure the Secret holds a good certificate and the webhooks trust its CA.
pub async fn ensure_certificate(
    client: Client,
    settings: &CertificateSettings,
    now: SystemTime,
) -> Result<CertificateOutcome, CertificateError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &settings.namespace);
    let secret_name = format!("secret {}/{}", settings.namespace, settings.secret);
    let existing = secrets
        .get_opt(&settings.secret)
        .await
        .map_err(kube(format!("reading {secret_name}")))?;
    let verdict = existing
        .as_ref()
        .map(|secret| stored_certificate(secret, settings, now))
        .unwrap_or_else(|| Err("there is no certificate yet".to_owned()));
    let (ca, issued, reason) = match verdict {
        Ok(ca) => (ca, false, "the stored certificate is still good".to_owned()),
        Err(reason) => {
            let mut issued = issue(settings, now)?;
            // The previous CA stays trusted beside the new one until the next renewal: the
            // webhook picks up its new certificate from the mounted Secret a while after the
            // caBundle changes, and must not be refused meanwhile.
            if let Some(previous) = existing.as_ref().and_then(|old| current_ca(old, now)) {
                issued.ca.extend_from_slice(&previous);
            }
            let ca = issued.ca.clone();
            let secret = issued.into_secret(settings);
            match existing {
                Some(old) => {
                    let mut secret = secret;
                    secret.metadata.resource_version = old.metadata.resource_version;
                    secrets
                        .replace(&settings.secret, &PostParams::default(), &secret)
                        .await
                        .map_err(kube(format!("replacing {secret_name}")))?;
                }
                None => {
                    secrets
                        .create(&PostParams::default(), &secret)
                        .await
                        .map_err(kube(format!("creating {secret_name}")))?;
                }
            }
            (ca, true, reason)
        }
    };
    let patched = trust_ca(client, settings, &ca).await?;
    Ok(CertificateOutcome {
        issued,
        reason,
        patched,
    })
}

/// The stored CA when the Secret's certificate is complete, names the Service and lives on
/// past `renew_before`; otherwise why not.
fn stored_certificate(
    secret: &Secret,
    settings: &CertificateSettings,
    now: SystemTime,
) -> Result<Vec<u8>, String> {
    let data = secret.data.clone().unwrap_or_default();
    let field = |key: &str| {
        data.get(key)
            .map(|v| v.0.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the Secret has no {key}"))
    };
    let (ca, certificate) = (field("ca.crt")?, field("tls.crt")?);
    field("tls.key")?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&certificate)
        .map_err(|e| format!("tls.crt is not PEM: {e}"))?;
    let parsed = pem
        .parse_x509()
        .map_err(|e| format!("tls.crt is not a certificate: {e}"))?;
    if parsed.validity().not_after.timestamp() <= unix_seconds(now + settings.renew_before) {
        return Err("the stored certificate expires within the renewal window".to_owned());
    }
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(missing) = settings
        .dns_names()
        .into_iter()
        .find(|n| !names.contains(n))
    {
        return Err(format!("the stored certificate does not name {missing}"));
    }
    Ok(ca)
}

/// The first CA of the Secret's `ca.crt` (its newest), PEM, while it is valid.
fn current_ca(secret: &Secret, now: SystemTime) -> Option<Vec<u8>> {
    let bundle = secret.data.as_ref()?.get("ca.crt")?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bundle.0).ok()?;
    let expires = pem.parse_x509().ok()?.validity().not_after.timestamp();
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let end = bundle.0.windows(END.len()).position(|w| w == END)? + END.len();
    let mut first = bundle.0[..end].to_vec();
    first.push(b'\n');
    (expires > unix_seconds(now)).then_some(first)
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A new CA and serving certificate, PEM.
struct Issued {
    ca: Vec<u8>,
    certificate: Vec<u8>,
    key: Vec<u8>,
}

impl Issued {
    fn into_secret(self, settings: &CertificateSettings) -> Secret {
        let data = [
            ("ca.crt", self.ca),
            ("tls.crt", self.certificate),
            ("tls.key", self.key),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), ByteString(value)))
        .collect();
        Secret {
            metadata: ObjectMeta {
                name: Some(settings.secret.clone()),
                namespace: Some(settings.namespace.clone()),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_owned(),
                        "podpass-webhook-certificate".to_owned(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            type_: Some("kubernetes.io/tls".to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }
}

/// A fresh CA (its key is dropped: it signs this one certificate) and a serving certificate
/// for the Service's names, both valid from now for `validity`.
fn issue(settings: &CertificateSettings, now: SystemTime) -> Result<Issued, CertificateError> {
    let not_before = time::OffsetDateTime::from(now);
    let not_after = not_before + settings.validity;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("{}.{} CA", settings.service, settings.namespace),
    );
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca = ca_params.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(settings.dns_names())?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("{}.{}.svc", settings.service, settings.namespace),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    let certificate = params.signed_by(&key, &Issuer::new(ca_params, ca_key))?;
    Ok(Issued {
        ca: ca.pem().into_bytes(),
        certificate: certificate.pem().into_bytes(),
        key: key.serialize_pem().into_bytes(),
    })
}

/// Sets `caBundle` on every webhook of the configuration that calls the Service; returns the
/// names of those that changed.
async fn trust_ca(
    client: Client,
    settings: &CertificateSettings,
    ca: &[u8],
) -> Result<Vec<String>, CertificateError> {
    let configurations: Api<MutatingWebhookConfiguration> = Api::all(client);
    let name = &settings.webhook_configuration;
    let what = format!("MutatingWebhookConfiguration {name}");
    let configuration = configurations
        .get(name)
        .await
        .map_err(kube(format!("reading {what}")))?;
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca);
    let mut calls_service = false;
    let mut patched = Vec::new();
    for webhook in configuration.webhooks.unwrap_or_default() {
        let Some(service) = &webhook.client_config.service else {
            continue;
        };
        if service.name != settings.service || service.namespace != settings.namespace {
            continue;
        }
        calls_service = true;
        if webhook
            .client_config
            .ca_bundle
            .as_ref()
            .map(|b| b.0.as_slice())
            != Some(ca)
        {
            patched.push(webhook.name);
        }
    }
    if !calls_service {
        return Err(CertificateError::NoWebhook {
            configuration: name.clone(),
            namespace: settings.namespace.clone(),
            service: settings.service.clone(),
        });
    }
    if !patched.is_empty() {
        // `webhooks` merges by name: only these webhooks' caBundle changes.
        let webhooks: Vec<_> = patched
            .iter()
            .map(|webhook| serde_json::json!({"name": webhook, "clientConfig": {"caBundle": bundle}}))
            .collect();
        configurations
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Strategic(serde_json::json!({"webhooks": webhooks})),
            )
            .await
            .map_err(kube(format!("patching the caBundle of {what}")))?;
    }
    Ok(patched)
}
