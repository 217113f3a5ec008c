//! Wiring: the object store backend, bucket policies, authentication, authorization and the
//! front layer into one service, and a way to serve it.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use podpass_control::sealing::KeyRing;
use podpass_control::{Control, Settings};
use podpass_store::Store;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};

use crate::access::Authorizer;
use crate::audit::{AuditError, AuditLog, Rotation};
use crate::backend::WithBucketPolicies;
use crate::bucket_policy::{BucketPolicies, BucketPolicyError};
use crate::front::S3Front;
use crate::keys::{KeyResolver, SessionKeys};
use crate::metrics::S3Metrics;
use crate::objects::ObjectStore;
use crate::upstream::Upstream;

/// How the S3 endpoint behaves.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Authenticate (SigV4) and authorize (IAM) every request. `false` serves unsigned requests
    /// with neither, for the benchmark that measures their cost; signed requests are then refused.
    pub authorize: bool,
    /// Base domain for virtual-hosted style (`BUCKET.s3.localhost`); path style always works.
    pub virtual_host_domain: Option<String>,
    /// Whether the endpoint is served behind TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The audit log to append to; `None` opens `<data_dir>/audit` with default rotation.
    pub audit: Option<AuditLog>,
    /// Where objects are stored.
    pub storage: Storage,
    /// Record allowed requests in the audit trail too; refusals always are. Off is AWS's
    /// default for S3 (CloudTrail logs S3 data events only when asked to), for throughput.
    pub audit_allowed: bool,
    /// The domain layer whose caches of access keys and callers' policies the endpoint shares,
    /// so that IAM writes through it apply to S3 at once; `None` makes one over the same store,
    /// which sees IAM writes within a second, as another process does.
    pub control: Option<Control>,
}

/// Where the S3 endpoint keeps objects. Bucket policies stay with podpass either way: it is
/// podpass that evaluates them.
#[derive(Debug, Clone, Default)]
pub enum Storage {
    /// The embedded object store under `<data_dir>/s3`: a catalog database and blob files.
    #[default]
    Embedded,
    /// Another S3-compatible endpoint, reached with its own credentials.
    Upstream(Upstream),
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            authorize: true,
            virtual_host_domain: None,
            secure_transport: false,
            audit: None,
            storage: Storage::Embedded,
            audit_allowed: true,
            control: None,
        }
    }
}

/// Why the S3 endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum S3ServerError {
    /// A data directory could not be created or opened.
    #[error("S3 data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The embedded object store could not open.
    #[error("S3 object store at {path}: {source}")]
    Objects {
        /// The store's directory.
        path: PathBuf,
        /// Why.
        source: crate::objects::OpenError,
    },
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The virtual-host domain is not a domain name.
    #[error("invalid virtual-host domain {0:?}")]
    Domain(String),
}

/// The S3 endpoint, ready to serve.
pub struct S3Server {
    front: S3Front,
    audit: AuditLog,
    policies: Arc<BucketPolicies>,
    /// Where an earlier podpass kept bucket policies, one file each.
    policy_files: PathBuf,
}

/// Virtual-hosted style under one base domain; any other host is path style.
struct BaseDomain(String);

impl S3Host for BaseDomain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        let base = self.0.as_str();
        match name.strip_suffix(base) {
            Some("") => Ok(VirtualHost::new(base)),
            Some(prefix) => match prefix.strip_suffix('.') {
                Some(bucket) if !bucket.is_empty() => {
                    Ok(VirtualHost::new(base).with_bucket(bucket))
                }
                _ => Err(s3_error!(InvalidRequest, "Invalid host header")),
            },
            None => Ok(VirtualHost::new(name)),
        }
    }
}

fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl S3Server {
    /// An S3 endpoint for `account_id` in `region`, storing objects as `options.storage` says
    /// (embedded: under `<data_dir>/s3`), bucket policies in `store`, and (unless given) the
    /// audit trail under `<data_dir>/audit`.
    pub async fn new(
        store: Store,
        keys: Arc<KeyRing>,
        account_id: &str,
        region: &str,
        data_dir: &Path,
        options: S3Options,
    ) -> Result<S3Server, S3ServerError> {
        let policies = Arc::new(BucketPolicies::new(store.clone()));
        let audit = match options.audit {
            Some(audit) => audit,
            None => AuditLog::open(&data_dir.join("audit"), Rotation::default())?,
        };
        let (mut builder, tags) = match options.storage {
            Storage::Embedded => {
                let root = data_dir.join("s3");
                let objects = ObjectStore::open(&root, account_id, region)
                    .await
                    .map_err(|source| S3ServerError::Objects { path: root, source })?;
                let tags = objects.tag_reader();
                (
                    S3ServiceBuilder::new(WithBucketPolicies::new(objects, policies.clone())),
                    Some(tags),
                )
            }
            Storage::Upstream(upstream) => {
                tracing::info!(endpoint = %upstream.endpoint_url, "S3 objects are stored upstream");
                (
                    S3ServiceBuilder::new(WithBucketPolicies::new(
                        upstream.proxy(),
                        policies.clone(),
                    )),
                    None,
                )
            }
        };
        if let Some(domain) = options.virtual_host_domain {
            if !is_domain(&domain) {
                return Err(S3ServerError::Domain(domain));
            }
            builder.set_host(BaseDomain(domain));
        }
        let sessions = SessionKeys::new();
        let metrics = S3Metrics::default();
        if options.authorize {
            let control = options.control.unwrap_or_else(|| {
                Control::new(
                    Settings::new(account_id, region),
                    store,
                    keys.clone(),
                    audit.clone(),
                )
            });
            builder.set_auth(KeyResolver {
                control: control.clone(),
                sessions: sessions.clone(),
            });
            let authorizer = Authorizer::new(
                control,
                policies.clone(),
                audit.clone(),
                options.audit_allowed,
            )
            .with_metrics(metrics.clone())
            .with_tags(tags);
            builder.set_access(authorizer);
        }
        let front = S3Front {
            inner: builder.build(),
            keys,
            sessions,
            audit: audit.clone(),
            authorize: options.authorize,
            secure: options.secure_transport,
            metrics,
        };
        Ok(S3Server {
            front,
            audit,
            policies,
            policy_files: data_dir.join("s3").join("policies"),
        })
    }

    /// The tower service (`Error = Infallible`); expects axum's `ConnectInfo<SocketAddr>`
    /// extension for `aws:SourceIp` (serve with `into_make_service_with_connect_info`).
    pub fn service(&self) -> S3Front {
        self.front.clone()
    }

    /// An axum router answering every path with the S3 endpoint.
    pub fn router(&self) -> axum::Router {
        axum::Router::new().fallback_service(self.front.clone())
    }

    /// Moves bucket policies an earlier podpass kept as files in the data directory into the
    /// store (once; the files are renamed `*.imported`). Returns how many were imported.
    pub async fn import_bucket_policy_files(&self) -> Result<usize, BucketPolicyError> {
        self.policies.import_files(&self.policy_files).await
    }

    /// The endpoint's metrics, to add to a registry that `/metrics` serves.
    pub fn metrics(&self) -> &S3Metrics {
        &self.front.metrics
    }

    /// The audit log the endpoint writes to (share it for STS/EKS Auth issuances).
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Serves the endpoint on `listener` with the default listener limits
    /// ([`podpass_http::ServeOptions::default`]) until `shutdown` completes, then drains
    /// connections.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        self.serve_with(listener, podpass_http::ServeOptions::default(), shutdown)
            .await
    }

    /// Serves the endpoint on `listener` through podpass-http's hardened accept loop
    /// (header-read and idle timeouts, a connection cap, TCP_NODELAY, the client address for
    /// `aws:SourceIp`) until `shutdown` completes, then drains connections.
    pub async fn serve_with(
        &self,
        listener: tokio::net::TcpListener,
        options: podpass_http::ServeOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        podpass_http::serve(listener, self.router(), options, shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_virtual_hosts_under_the_base_domain_only() {
        let host = BaseDomain("s3.localhost".to_owned());
        let bucket = host.parse_host_header("photos.s3.localhost:9000").unwrap();
        assert_eq!(bucket.bucket(), Some("photos"));
        assert_eq!(
            host.parse_host_header("s3.localhost").unwrap().bucket(),
            None
        );
        assert_eq!(
            host.parse_host_header("localhost:9000").unwrap().bucket(),
            None
        );
        assert_eq!(
            host.parse_host_header("example.com").unwrap().bucket(),
            None
        );
        assert!(host.parse_host_header(".s3.localhost").is_err());
    }

    #[test]
    fn validates_domains() {
        assert!(is_domain("s3.localhost"));
        assert!(!is_domain("s3..localhost"));
        assert!(!is_domain("bad domain"));
    }
}
