//! An in-process S3 endpoint over a temporary store, driven by the unmodified AWS CLI and boto3.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use podpass_control::sealing::KeyRing;
use podpass_s3::audit::{self, AuditEvent, AuditFilter};
use podpass_s3::{S3Options, S3Server};
use podpass_session::{Credentials, SessionIdentity, SessionKind, SessionTag};
use podpass_store::{AccessKey, Holder, Role, Store};

pub(crate) const ACCOUNT: &str = "000000000000";
pub(crate) const ADMIN_KEY: &str = "AKIAPODPASSADMIN0001";
pub(crate) const ADMIN_SECRET: &str = "adminsecretadminsecretadminsecretadminse";
pub(crate) const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

/// The Python venv holding the pinned AWS CLI and boto3 (made by `scripts/test`).
pub(crate) fn venv() -> PathBuf {
    let venv = std::env::var_os("PODPASS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // At run time: a test binary reused from another checkout must use this one's.
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../../.venv")
        });
    assert!(
        venv.join("bin/aws").exists(),
        "the AWS CLI venv is missing at {}: run the tests with ./scripts/test",
        venv.display()
    );
    venv
}

/// Static credentials a client process uses.
#[derive(Clone, Debug)]
pub(crate) struct Creds {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl From<Credentials> for Creds {
    fn from(c: Credentials) -> Self {
        Creds {
            access_key_id: c.access_key_id,
            secret: c.secret_access_key,
            token: Some(c.session_token),
        }
    }
}

/// A running S3 endpoint with its store, session key ring and data directory; stopped on drop.
pub(crate) struct S3Endpoint {
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Arc<S3Server>,
}

impl S3Endpoint {
    /// Starts an endpoint enforcing IAM, with the admin key in the store.
    pub(crate) fn start() -> Self {
        Self::start_with(S3Options::default())
    }

    /// Starts an endpoint with `options`.
    pub(crate) fn start_with(options: S3Options) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (store, keys, server, listener) = runtime.block_on(async {
            let store = Store::open_sqlite_file(&dir.path().join("podpass.db"))
                .await
                .unwrap();
            let keys = Arc::new(
                KeyRing::load(store.clone(), podpass_control::now())
                    .await
                    .unwrap(),
            );
            store
                .create_access_key(&AccessKey {
                    access_key_id: ADMIN_KEY.to_owned(),
                    secret_access_key: ADMIN_SECRET.to_owned(),
                    principal_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
                    user_id: None,
                    active: true,
                    created_at: 0,
                })
                .await
                .unwrap();
            let server = S3Server::new(
                store.clone(),
                keys.clone(),
                ACCOUNT,
                "us-east-1",
                dir.path(),
                options,
            )
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (store, keys, Arc::new(server), listener)
        });
        let port = listener.local_addr().unwrap().port();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = server.clone();
        runtime.spawn(async move {
            let _ = serving
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        S3Endpoint {
            runtime,
            dir,
            store,
            keys,
            port,
            shutdown: Some(shutdown),
            server,
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn admin(&self) -> Creds {
        Creds {
            access_key_id: ADMIN_KEY.to_owned(),
            secret: ADMIN_SECRET.to_owned(),
            token: None,
        }
    }

    /// Creates role `name` with the managed policies `attached` and inline `inline` document.
    pub(crate) fn create_role(&self, name: &str, attached: &[&str], inline: Option<&str>) {
        self.runtime.block_on(async {
            self.store
                .create_role(&Role {
                    role_name: name.to_owned(),
                    role_id: role_id(name),
                    path: "/".to_owned(),
                    arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
                    trust_policy: r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
                    description: None,
                    max_session_duration: 3600,
                    permissions_boundary: None,
                    tags: vec![],
                    created_at: 0,
                })
                .await
                .unwrap();
            for arn in attached {
                self.store
                    .attach_policy(Holder::Role(name), arn)
                    .await
                    .unwrap();
            }
            if let Some(document) = inline {
                self.store
                    .put_inline_policy(Holder::Role(name), "inline", document)
                    .await
                    .unwrap();
            }
        });
    }

    /// Session credentials for `role`, issued `age` seconds ago and valid for `duration`.
    pub(crate) fn session_issued(&self, role: &str, age: i64, duration: u32) -> Creds {
        self.mint(role, age, duration, &[])
    }

    /// Fresh one-hour session credentials for `role` carrying session `tags`.
    pub(crate) fn session_tagged(&self, role: &str, tags: &[(&str, &str)]) -> Creds {
        self.mint(role, 0, 3600, tags)
    }

    fn mint(&self, role: &str, age: i64, duration: u32, tags: &[(&str, &str)]) -> Creds {
        let identity = SessionIdentity {
            kind: SessionKind::WebIdentity,
            account: ACCOUNT.to_owned(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
            role_id: role_id(role),
            role_name: role.to_owned(),
            role_path: "/".to_owned(),
            session_name: "test-session".to_owned(),
            source_identity: None,
            session_policy: None,
            session_policy_arns: vec![],
            tags: tags
                .iter()
                .map(|(key, value)| SessionTag {
                    key: (*key).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
            transitive_tag_keys: vec![],
            federated: None,
            chained: false,
        };
        let issued_at = podpass_control::now() - age;
        let (credentials, _) = self
            .keys
            .sealer()
            .mint(identity, duration, issued_at)
            .unwrap();
        credentials.into()
    }

    /// Fresh one-hour session credentials for `role`.
    pub(crate) fn session(&self, role: &str) -> Creds {
        self.session_issued(role, 0, 3600)
    }

    fn client_env(&self, cmd: &mut Command, creds: Option<&Creds>) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL_S3", self.endpoint())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-credentials"),
            )
            .env("PODPASS_TEST_ENDPOINT", self.endpoint());
        if let Some(creds) = creds {
            cmd.env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &creds.secret);
            if let Some(token) = &creds.token {
                cmd.env("AWS_SESSION_TOKEN", token);
            }
        }
    }

    /// The unmodified AWS CLI with `creds`.
    pub(crate) fn aws(&self, creds: &Creds, args: &[&str]) -> Output {
        let mut cmd = Command::new(venv().join("bin/aws"));
        self.client_env(&mut cmd, Some(creds));
        cmd.args(args).output().unwrap()
    }

    /// The AWS CLI, asserting success; returns stdout.
    pub(crate) fn aws_ok(&self, creds: &Creds, args: &[&str]) -> String {
        let out = self.aws(creds, args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs a boto3 script (stdin) with `creds` in the environment (none: no credentials);
    /// the script prints its result.
    pub(crate) fn python(&self, creds: Option<&Creds>, script: &str) -> String {
        let mut cmd = Command::new(venv().join("bin/python"));
        self.client_env(&mut cmd, creds);
        let mut child = cmd
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Writes a file under the test directory and returns its path as a string.
    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// The audit events written so far that pass `filter`.
    pub(crate) fn audit(&self, filter: &AuditFilter) -> Vec<AuditEvent> {
        self.runtime.block_on(self.server.audit().flush());
        audit::read(&self.dir.path().join("audit"), filter).unwrap()
    }

    /// The denials recorded so far.
    pub(crate) fn denials(&self) -> Vec<AuditEvent> {
        self.audit(&AuditFilter {
            denied: true,
            ..AuditFilter::default()
        })
    }
}

impl Drop for S3Endpoint {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Lossy UTF-8 of command output.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the CLI failed with the S3 error `code` (or, for HEAD requests that carry no body,
/// with the HTTP status `code`) and returns stderr.
pub(crate) fn assert_aws_error(out: &Output, code: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected {code}, but it succeeded: {}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("({code})")),
        "expected ({code}) in:\n{stderr}"
    );
    stderr
}

/// A distinct `AROA...` id per role name.
fn role_id(name: &str) -> String {
    let upper: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    format!("AROA{upper:X<17}")
}
