//! Lists and watches of ServiceAccounts. A list's `resourceVersion` is a digest of what it
//! holds; a watch from that version polls the store and sends what changed since, so that
//! whoever wrote a ServiceAccount (`podpass run -f`, `podpass sa`, another replica) is seen.
//! A watch from a version that is no longer current gets `410 Expired`, as from an API server
//! that compacted it, and the client lists again: no change can fall between a list and its
//! watch.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use podpass_store::ServiceAccount;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::local_cluster::LocalCluster;

/// How often a watch reads the store.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a watch lasts (the API server's `--min-request-timeout`); clients watch again.
const MAX_WATCH: Duration = Duration::from_secs(1800);

type Snapshot = BTreeMap<(String, String), ServiceAccount>;

/// Which ServiceAccounts a list or watch covers, and how they are written.
pub(super) struct Scope {
    namespace: Option<String>,
    name: Option<String>,
    metadata_only: bool,
}

impl Scope {
    /// The scope of a request; the field selectors of `metadata.name` and `metadata.namespace`
    /// are understood, other selectors refused (ServiceAccounts here carry no labels).
    pub(super) fn new(
        namespace: Option<String>,
        field_selector: Option<&str>,
        label_selector: Option<&str>,
        metadata_only: bool,
    ) -> Result<Self, String> {
        if label_selector.is_some_and(|s| !s.is_empty()) {
            return Err("labelSelector is not supported by podpass's local API".to_owned());
        }
        let mut scope = Self {
            namespace,
            name: None,
            metadata_only,
        };
        for term in field_selector
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let (field, value) = term
                .split_once("==")
                .or_else(|| term.split_once('='))
                .ok_or_else(|| format!("invalid field selector {term:?}"))?;
            match field {
                "metadata.name" => scope.name = Some(value.to_owned()),
                "metadata.namespace" => match &scope.namespace {
                    Some(namespace) if namespace != value => {
                        return Err(format!(
                            "field selector {term:?} does not match the request's namespace"
                        ));
                    }
                    _ => scope.namespace = Some(value.to_owned()),
                },
                _ => {
                    return Err(format!(
                        "field label not supported: {field:?} (only metadata.name and metadata.namespace)"
                    ));
                }
            }
        }
        Ok(scope)
    }

    /// The ServiceAccounts in scope now.
    pub(super) async fn read(
        &self,
        local: &LocalCluster,
    ) -> Result<Snapshot, podpass_kubelet::SourceError> {
        Ok(local
            .service_accounts(self.namespace.as_deref())
            .await?
            .into_iter()
            .filter(|account| self.name.as_ref().is_none_or(|name| *name == account.name))
            .map(|account| ((account.namespace.clone(), account.name.clone()), account))
            .collect())
    }

    /// The list response.
    pub(super) fn list(&self, accounts: &Snapshot) -> Value {
        let items: Vec<Value> = accounts
            .values()
            .map(|account| render(account, self.metadata_only))
            .collect();
        let (api_version, kind) = if self.metadata_only {
            ("meta.k8s.io/v1", "PartialObjectMetadataList")
        } else {
            ("v1", "ServiceAccountList")
        };
        json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"resourceVersion": version(accounts)},
            "items": items,
        })
    }
}

/// A ServiceAccount as the API returns it, whole or metadata only.
pub(super) fn render(account: &ServiceAccount, metadata_only: bool) -> Value {
    let created = jiff::Timestamp::from_second(account.created_at)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let mut digest = std::hash::DefaultHasher::new();
    (&account.uid, &account.annotations).hash(&mut digest);
    let mut metadata = json!({
        "name": account.name,
        "namespace": account.namespace,
        "uid": account.uid,
        "resourceVersion": digest.finish().to_string(),
        "creationTimestamp": created,
    });
    if !account.annotations.is_empty() {
        metadata["annotations"] = json!(account.annotations);
    }
    let (api_version, kind) = if metadata_only {
        ("meta.k8s.io/v1", "PartialObjectMetadata")
    } else {
        ("v1", "ServiceAccount")
    };
    json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
}

/// The version of what a scope holds: a digest of every object in it.
fn version(accounts: &Snapshot) -> String {
    let mut digest = std::hash::DefaultHasher::new();
    for (key, account) in accounts {
        (key, &account.uid, &account.annotations).hash(&mut digest);
    }
    digest.finish().to_string()
}

/// The events of a watch from `resource_version` (absent or `0`: everything now, then what
/// changes), one JSON object per line, for at most `timeout_seconds`.
pub(super) fn events(
    local: Arc<LocalCluster>,
    scope: Scope,
    now: Snapshot,
    resource_version: Option<&str>,
    timeout_seconds: Option<u64>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + use<> {
    let lasts = timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(MAX_WATCH)
        .min(MAX_WATCH);
    let mut watch = Watch {
        local,
        pending: VecDeque::new(),
        deadline: Instant::now() + lasts,
        last: Snapshot::new(),
        scope,
    };
    match resource_version {
        None | Some("" | "0") => watch.changes(now),
        Some(asked) if asked == version(&now) => watch.last = now,
        Some(asked) => {
            watch.pending.push_back(status_event(
                410,
                "Expired",
                &format!("too old resource version: {asked} ({})", version(&now)),
            ));
            watch.deadline = Instant::now();
        }
    }
    futures_util::stream::unfold(watch, |mut watch| async move {
        loop {
            if let Some(line) = watch.pending.pop_front() {
                return Some((Ok(line), watch));
            }
            if Instant::now() >= watch.deadline {
                return None;
            }
            tokio::time::sleep_until((Instant::now() + POLL_INTERVAL).min(watch.deadline)).await;
            match watch.scope.read(&watch.local).await {
                Ok(now) => watch.changes(now),
                Err(error) => {
                    tracing::warn!(%error, "local Kubernetes API: watching ServiceAccounts");
                    watch
                        .pending
                        .push_back(status_event(500, "InternalError", &error.to_string()));
                    watch.deadline = Instant::now();
                }
            }
        }
    })
}

struct Watch {
    local: Arc<LocalCluster>,
    scope: Scope,
    last: Snapshot,
    pending: VecDeque<Bytes>,
    deadline: Instant,
}

impl Watch {
    /// Queues the events from the last snapshot to `now`; each object carries the version of
    /// `now`, from which a new watch resumes.
    fn changes(&mut self, now: Snapshot) {
        let resume = version(&now);
        let event = |kind: &str, account: &ServiceAccount| {
            let mut object = render(account, self.scope.metadata_only);
            object["metadata"]["resourceVersion"] = json!(resume);
            line(&json!({"type": kind, "object": object}))
        };
        let mut queued = Vec::new();
        for (key, account) in &now {
            match self.last.get(key) {
                None => queued.push(event("ADDED", account)),
                Some(before) if before != account => queued.push(event("MODIFIED", account)),
                Some(_) => {}
            }
        }
        for (key, account) in &self.last {
            if !now.contains_key(key) {
                queued.push(event("DELETED", account));
            }
        }
        self.pending.extend(queued);
        self.last = now;
    }
}

fn status_event(code: u16, reason: &str, message: &str) -> Bytes {
    line(&json!({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    }}))
}

fn line(event: &Value) -> Bytes {
    let mut text = event.to_string();
    text.push('\n');
    Bytes::from(text)
}
