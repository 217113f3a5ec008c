//! What the data-driven domain tests share: a `Control` over a fresh store with one cluster.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use podpass_audit::{AuditLog, Rotation};
use podpass_control::sealing::KeyRing;
use podpass_control::{Caller, Control, Ctx, Error, Invalid, Settings};
use podpass_store::{Cluster, Store};
use podpass_token::KeyAlgorithm;

pub(crate) const ACCOUNT: &str = "111122223333";
pub(crate) const CLUSTER: &str = "c1";

/// The domain layer of an instance with one cluster, `c1`.
pub(crate) struct Instance {
    pub(crate) control: Control,
    pub(crate) store: Store,
    pub(crate) cluster: Cluster,
    _dir: tempfile::TempDir,
}

impl Instance {
    pub(crate) async fn new() -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("db"))
            .await
            .unwrap();
        let now = podpass_control::now();
        let keys = KeyRing::load(store.clone(), now).await.unwrap();
        let audit = AuditLog::open(&dir.path().join("audit"), Rotation::default()).unwrap();
        let settings = Settings {
            account_id: ACCOUNT.to_owned(),
            region: "us-east-1".to_owned(),
            node_role: None,
            issuer_keys_refresh: std::time::Duration::from_secs(30),
            token_reviewer: None,
            upstream: None,
            new_clusters: Some(podpass_control::eks::NewClusters {
                issuer_base_url: "https://oidc.podpass.test".to_owned(),
                key_algorithm: KeyAlgorithm::RS256,
            }),
            node_cluster: Some(CLUSTER.to_owned()),
        };
        let control = Control::new(settings, store.clone(), Arc::new(keys), audit);
        let cluster = control
            .clusters()
            .ensure(
                CLUSTER,
                "https://oidc.podpass.test",
                KeyAlgorithm::RS256,
                now,
            )
            .await
            .unwrap();
        Instance {
            control,
            store,
            cluster,
            _dir: dir,
        }
    }
}

/// A request context for `caller`.
pub(crate) fn ctx(caller: Option<Caller>) -> Ctx {
    Ctx {
        request_id: "test".to_owned(),
        caller,
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// The account root, signing with an admin key.
pub(crate) fn root() -> Caller {
    Caller::Root {
        account: ACCOUNT.to_owned(),
        access_key_id: "AKIATEST".to_owned(),
    }
}

/// An IAM user `name` with AdministratorAccess (made on the first call), signing with its
/// access key: the caller that assumes roles, which the account root may not.
pub(crate) async fn admin_user(control: &Control, name: &str) -> Caller {
    let root = ctx(Some(root()));
    let mut keys = control
        .list_access_keys(&root, Some(name))
        .await
        .unwrap_or_default();
    if keys.is_empty() {
        let new = podpass_control::iam::NewUser {
            name,
            path: None,
            permissions_boundary: None,
            tags: Vec::new(),
        };
        control.create_user(&root, new).await.unwrap();
        control
            .attach_policy(
                &root,
                podpass_control::iam::PolicyHolder::User(name),
                "arn:aws:iam::aws:policy/AdministratorAccess",
            )
            .await
            .unwrap();
        keys.push(control.create_access_key(&root, Some(name)).await.unwrap());
    }
    control
        .signing_identity(&keys[0].key.access_key_id, None, podpass_control::now())
        .await
        .unwrap()
        .caller
}

/// The name a case file gives an error: its variant, and its kind for `Invalid`.
pub(crate) fn error_name(error: &Error) -> String {
    match error {
        Error::Unauthenticated => "Unauthenticated".into(),
        Error::BadCredentials => "BadCredentials".into(),
        Error::CredentialsExpired => "CredentialsExpired".into(),
        Error::NotAuthorized { .. } => "NotAuthorized".into(),
        Error::Denied { .. } => "Denied".into(),
        Error::NotFound { .. } => "NotFound".into(),
        Error::AlreadyExists { .. } => "AlreadyExists".into(),
        Error::InUse { .. } => "InUse".into(),
        Error::LimitExceeded { .. } => "LimitExceeded".into(),
        Error::Invalid { kind, .. } => format!(
            "Invalid:{}",
            match kind {
                Invalid::Parameter => "Parameter",
                Invalid::Input => "Input",
                Invalid::Validation => "Validation",
                Invalid::Token => "Token",
                Invalid::PolicyDocument => "PolicyDocument",
                Invalid::PolicySize => "PolicySize",
                Invalid::AuthorizationMessage => "AuthorizationMessage",
            }
        ),
        Error::TokenExpired { .. } => "TokenExpired".into(),
        Error::Unavailable { .. } => "Unavailable".into(),
        Error::Throttled { .. } => "Throttled".into(),
        Error::Internal { .. } => "Internal".into(),
    }
}

/// A case of a case file: what it is called and the AWS document it follows.
pub(crate) trait Documented {
    fn name(&self) -> &str;
    fn doc(&self) -> &str;
}

/// The cases of a case file: at least `min` (so that a file cannot silently lose them), each
/// naming the AWS document it follows.
pub(crate) fn load_cases<C: serde::de::DeserializeOwned + Documented>(
    json: &str,
    min: usize,
) -> Vec<C> {
    let cases: Vec<C> = serde_json::from_str(json).expect("the case file parses");
    assert!(cases.len() >= min, "the case file lost cases");
    for case in &cases {
        assert!(
            case.doc().starts_with("https://docs.aws.amazon.com/"),
            "{} names no AWS document",
            case.name()
        );
    }
    cases
}

/// What is wrong with a refusal a step expected: its error (`want`, as [`error_name`] names
/// it) and the text its message must contain.
pub(crate) fn wrong_refusal(error: &Error, want: &str, message: Option<&str>) -> Vec<String> {
    let mut wrong = Vec::new();
    if error_name(error) != want {
        wrong.push(format!(
            "error {} ({error}), want {want}",
            error_name(error)
        ));
    }
    if let Some(message) = message
        && !error.to_string().contains(message)
    {
        wrong.push(format!("message {error:?} lacks {message:?}"));
    }
    wrong
}

/// Failures of the cases of a case file, each under its name and the AWS document it follows.
#[derive(Default)]
pub(crate) struct Failures(Vec<String>);

impl Failures {
    /// Records what one case (or step) got wrong, if anything.
    pub(crate) fn add(&mut self, name: &str, doc: &str, wrong: &[String]) {
        if !wrong.is_empty() {
            self.0
                .push(format!("{name} ({doc}):\n  {}", wrong.join("\n  ")));
        }
    }

    /// Fails the test with every recorded failure.
    pub(crate) fn assert_none(&self) {
        assert!(self.0.is_empty(), "{}", self.0.join("\n"));
    }
}
