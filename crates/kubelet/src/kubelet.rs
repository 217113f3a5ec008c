//! The facade the CLI and server use: run, get, list, logs, exec and delete pods, with state
//! under a base directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use podpass_podmutation::{IdentityResolver, Jitter, WebhookConfig};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::admission::{Admission, Admitted};
use crate::error::KubeletError;
use crate::images::Images;
use crate::manifest::parse_document;
use crate::metrics::KubeletMetrics;
use crate::process::MountMode;
use crate::runner::{ExecOutput, PodHandle, RunnerSettings, VOLUMES_DIR};
use crate::sources::{Clock, MutatingWebhooks, ObjectSource, TokenSource};
use crate::status::PodRecord;
use crate::volumes::{PodVolumes, VolumeDeps};

/// Settings of a [`Kubelet`].
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// State directory: pods live in `<base_dir>/pods/<namespace>/<name>/`.
    pub base_dir: PathBuf,
    /// The built-in pod-identity webhook's settings, applied at admission.
    pub webhook: WebhookConfig,
    /// Whether the built-in webhook mutates pods (off when an installed webhook, registered
    /// through a MutatingWebhookConfiguration, does it instead).
    pub builtin_webhook: bool,
    /// `None`: [`MountMode::detect`].
    pub mount_mode: Option<MountMode>,
    /// First restart delay (doubles per restart).
    pub restart_backoff: Duration,
    /// Restart delay cap.
    pub max_restart_backoff: Duration,
    /// How often each pod's tokens are checked against the refresh rule.
    pub rotation_check_interval: Duration,
    /// Refresh jitter bound (exclusive); the kubelet uses 10 s.
    pub max_refresh_jitter: Duration,
    /// Variables the node gives every container, under the container's own env (e.g. podpass's
    /// endpoint URLs, which on EKS are AWS's defaults and need no variable).
    pub node_env: Vec<(String, String)>,
    /// What images run when a container has no `command`.
    pub images: Images,
}

impl KubeletConfig {
    /// The kubelet's defaults (10 s to 300 s backoff, 10 s jitter), checking tokens every second.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        Self {
            base_dir: base_dir.into(),
            webhook: WebhookConfig::default(),
            builtin_webhook: true,
            mount_mode: None,
            restart_backoff: Duration::from_secs(10),
            max_restart_backoff: Duration::from_secs(300),
            rotation_check_interval: Duration::from_secs(1),
            max_refresh_jitter: Duration::from_secs(10),
            node_env: Vec::new(),
            images: Images::default(),
        }
    }
}

/// What the kubelet needs from the rest of podpass.
#[derive(Clone)]
pub struct KubeletDeps {
    /// The TokenRequest API.
    pub tokens: Arc<dyn TokenSource>,
    /// ConfigMaps (`kube-root-ca.crt` included) and Secrets.
    pub objects: Arc<dyn ObjectSource>,
    /// ServiceAccount settings and Pod Identity associations for the webhook.
    pub identities: Arc<dyn IdentityResolver + Send + Sync>,
    /// Pod Identity token lifetime jitter for the webhook.
    pub jitter: Arc<dyn Jitter>,
    /// Clock of the token refresh rule.
    pub clock: Arc<dyn Clock>,
    /// The webhooks registered in the cluster, called after the built-in admission.
    pub registered_webhooks: Option<Arc<dyn MutatingWebhooks>>,
}

type PodKey = (String, String);

/// What identifies a pod, which admission webhooks may not change.
fn identity(object: &Value) -> [Option<Value>; 3] {
    ["/metadata/name", "/metadata/namespace", "/metadata/uid"]
        .map(|path| object.pointer(path).cloned())
}

/// The kubelet of this machine. Cheap to clone.
#[derive(Clone)]
pub struct Kubelet {
    inner: Arc<Inner>,
}

struct Inner {
    config: KubeletConfig,
    deps: KubeletDeps,
    settings: RunnerSettings,
    pods: tokio::sync::Mutex<BTreeMap<PodKey, Arc<PodHandle>>>,
}

impl Kubelet {
    /// Opens the state directory; pods found there are listed again (as `Unknown` when they
    /// were still running: their processes did not survive).
    pub async fn start(config: KubeletConfig, deps: KubeletDeps) -> Result<Self, KubeletError> {
        let mount_mode = match config.mount_mode {
            Some(mode) => mode,
            None => MountMode::detect().await,
        };
        let settings = RunnerSettings {
            metrics: KubeletMetrics::default(),
            mount_mode,
            restart_backoff: config.restart_backoff,
            max_restart_backoff: config.max_restart_backoff,
            rotation_check_interval: config.rotation_check_interval,
            node_env: config.node_env.clone(),
        };
        let pods = restore_pods(&pods_root(&config.base_dir), &settings)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                deps,
                settings,
                pods: tokio::sync::Mutex::new(pods),
            }),
        })
    }

    /// The kubelet's metrics, to add to a registry that `/metrics` serves.
    pub fn metrics(&self) -> &KubeletMetrics {
        &self.inner.settings.metrics
    }

    /// How volumes reach their `mountPath` on this machine.
    pub fn mount_mode(&self) -> MountMode {
        self.inner.settings.mount_mode
    }

    /// Creates a pod from a YAML or JSON manifest, in `namespace` (`None`: the manifest's, or
    /// `default`). Returns once its volumes are written (or failed) and containers are starting.
    pub async fn run(
        &self,
        manifest: &str,
        namespace: Option<&str>,
    ) -> Result<PodRecord, KubeletError> {
        self.run_value(parse_document(manifest)?, namespace).await
    }

    /// [`Kubelet::run`] for a manifest already parsed.
    pub async fn run_value(
        &self,
        manifest: Value,
        namespace: Option<&str>,
    ) -> Result<PodRecord, KubeletError> {
        let deps = &self.inner.deps;
        let metrics = &self.inner.settings.metrics;
        // Name and namespace are checked here, before anything touches the disk.
        let admitted = self.admit(manifest, namespace).await;
        metrics.admission(admitted.is_ok());
        let Admitted {
            object,
            pod,
            injected,
        } = admitted?;
        if let Some(method) = injected {
            metrics.mutation(method.metric_label());
        }
        let key = (pod.namespace.clone(), pod.name.clone());
        let handle = {
            let mut pods = self.inner.pods.lock().await;
            if pods.contains_key(&key) {
                return Err(KubeletError::AlreadyExists(pod.name));
            }
            let dir = pods_root(&self.inner.config.base_dir)
                .join(&pod.namespace)
                .join(&pod.name);
            remove_dir(&dir)?;
            let handle = PodHandle::create(pod, object, dir, self.inner.settings.clone())?;
            pods.insert(key, handle.clone());
            handle
        };
        let volumes = PodVolumes::new(
            handle.pod.clone(),
            handle.dir.join(VOLUMES_DIR),
            VolumeDeps {
                tokens: deps.tokens.clone(),
                objects: deps.objects.clone(),
                clock: deps.clock.clone(),
                max_refresh_jitter: self.inner.config.max_refresh_jitter,
                metrics: metrics.clone(),
                claims: self.inner.config.base_dir.join("claims"),
            },
        );
        handle.start(volumes, deps.objects.clone()).await;
        Ok(handle.record())
    }

    /// The API server's admission of a new pod: built-in, then the registered webhooks, then
    /// validation.
    async fn admit(
        &self,
        manifest: Value,
        namespace: Option<&str>,
    ) -> Result<Admitted, KubeletError> {
        let mut mutated = self.admission().mutate(manifest, namespace)?;
        if let Some(webhooks) = &self.inner.deps.registered_webhooks {
            let before = identity(&mutated.object);
            mutated.object = webhooks.mutate(mutated.object, &mutated.namespace).await?;
            // As the API server, refuse a webhook that would move or rename the pod.
            if identity(&mutated.object) != before {
                return Err(KubeletError::Admission(
                    "a mutating webhook may not change the pod's name, namespace or uid".into(),
                ));
            }
        }
        self.admission().validate(mutated.object, mutated.injected)
    }

    fn admission(&self) -> Admission<'_> {
        let config = &self.inner.config;
        let deps = &self.inner.deps;
        Admission {
            webhook: config.builtin_webhook.then_some(&config.webhook),
            identities: deps.identities.as_ref(),
            jitter: deps.jitter.as_ref(),
            images: &config.images,
        }
    }

    /// The pod `namespace/name`.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<PodRecord, KubeletError> {
        Ok(self.handle(namespace, name).await?.record())
    }

    /// Every pod, or those of `namespace`, sorted by namespace then name.
    pub async fn list(&self, namespace: Option<&str>) -> Vec<PodRecord> {
        self.inner
            .pods
            .lock()
            .await
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|wanted| wanted == ns))
            .map(|(_, handle)| handle.record())
            .collect()
    }

    /// Waits until the pod is `Succeeded`, `Failed` or `Unknown`, or `timeout` passes.
    pub async fn wait_terminal(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<PodRecord, KubeletError> {
        let handle = self.handle(namespace, name).await?;
        let mut status = handle.watch_status();
        // On timeout the current, non-terminal record is returned: the caller checks the phase.
        let _ = tokio::time::timeout(timeout, status.wait_for(|s| s.phase.is_terminal())).await;
        Ok(handle.record())
    }

    /// The log of `container` (`None`: the first container) so far.
    pub async fn logs(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<Vec<u8>, KubeletError> {
        let handle = self.handle(namespace, name).await?;
        let path = log_path(&handle, container)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(KubeletError::io("reading", &path, e)),
        }
    }

    /// The log of `container` from the start, then what it writes until it is done for good.
    pub async fn follow_logs(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static, KubeletError> {
        let handle = self.handle(namespace, name).await?;
        let path = log_path(&handle, container)?;
        let container = container_name(&handle, container)?;
        struct Tail {
            handle: Arc<PodHandle>,
            container: String,
            path: PathBuf,
            file: Option<tokio::fs::File>,
            finished: bool,
        }
        let start = Tail {
            handle,
            container,
            path,
            file: None,
            finished: false,
        };
        Ok(futures_util::stream::unfold(start, |mut tail| async move {
            loop {
                if tail.file.is_none() {
                    tail.file = tokio::fs::File::open(&tail.path).await.ok();
                }
                let mut buf = vec![0u8; 16 * 1024];
                let read = match tail.file.as_mut() {
                    Some(file) => match file.read(&mut buf).await {
                        Ok(n) => n,
                        Err(e) => {
                            return Some((
                                Err(e),
                                Tail {
                                    finished: true,
                                    ..tail
                                },
                            ));
                        }
                    },
                    None => 0,
                };
                if read > 0 {
                    buf.truncate(read);
                    return Some((Ok(Bytes::from(buf)), tail));
                }
                if tail.finished {
                    return None;
                }
                // One more read after completion catches the last bytes written.
                tail.finished = tail.handle.log_complete(&tail.container);
                if !tail.finished {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }))
    }

    /// Runs `argv` in `container` (`None`: the first container) with its env and mounts.
    pub async fn exec(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
        argv: &[String],
    ) -> Result<ExecOutput, KubeletError> {
        if argv.is_empty() {
            return Err(KubeletError::BadRequest("a command is required".into()));
        }
        let handle = self.handle(namespace, name).await?;
        let container = container_name(&handle, container)?;
        handle.exec(&container, argv).await
    }

    /// Stops the pod's processes (SIGTERM, then SIGKILL after its grace period), removes its
    /// directory and forgets it. Returns its last record.
    pub async fn delete(&self, namespace: &str, name: &str) -> Result<PodRecord, KubeletError> {
        let handle = self.handle(namespace, name).await?;
        handle.stop().await;
        let record = handle.record();
        remove_dir(&handle.dir)?;
        self.inner
            .pods
            .lock()
            .await
            .remove(&(namespace.to_owned(), name.to_owned()));
        Ok(record)
    }

    /// Stops every pod's processes, keeping their state on disk (for a clean shutdown).
    pub async fn shutdown(&self) {
        let handles: Vec<_> = self.inner.pods.lock().await.values().cloned().collect();
        for handle in handles {
            handle.stop().await;
        }
    }

    async fn handle(&self, namespace: &str, name: &str) -> Result<Arc<PodHandle>, KubeletError> {
        self.inner
            .pods
            .lock()
            .await
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| KubeletError::NotFound(name.to_owned()))
    }
}

fn pods_root(base: &Path) -> PathBuf {
    base.join("pods")
}

/// The named container, or the first one; an error lists the choices.
fn container_name(handle: &PodHandle, container: Option<&str>) -> Result<String, KubeletError> {
    let pod = &handle.pod;
    match container {
        None => pod
            .containers
            .first()
            .map(|c| c.name.clone())
            .ok_or_else(|| KubeletError::BadRequest("the pod has no containers".into())),
        Some(name) if pod.container(name).is_some() => Ok(name.to_owned()),
        Some(name) => {
            let choices: Vec<&str> = pod.all_containers().map(|c| c.name.as_str()).collect();
            Err(KubeletError::BadRequest(format!(
                "container {name} is not valid for pod {}, choose one of: [{}]",
                pod.name,
                choices.join(" ")
            )))
        }
    }
}

fn log_path(handle: &PodHandle, container: Option<&str>) -> Result<PathBuf, KubeletError> {
    let name = container_name(handle, container)?;
    Ok(handle
        .dir
        .join(crate::runner::LOGS_DIR)
        .join(format!("{name}.log")))
}

fn remove_dir(dir: &Path) -> Result<(), KubeletError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(KubeletError::io("removing", dir, e)),
    }
}

/// Reads `<root>/<namespace>/<name>/` back; unreadable pod directories are skipped (logged).
fn restore_pods(
    root: &Path,
    settings: &RunnerSettings,
) -> Result<BTreeMap<PodKey, Arc<PodHandle>>, KubeletError> {
    let mut pods = BTreeMap::new();
    let namespaces = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(pods),
        Err(e) => return Err(KubeletError::io("listing", root, e)),
    };
    for namespace in namespaces.flatten() {
        let Ok(entries) = std::fs::read_dir(namespace.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            match PodHandle::restore(&entry.path(), settings.clone()) {
                Ok(handle) => {
                    let key = (handle.pod.namespace.clone(), handle.pod.name.clone());
                    pods.insert(key, handle);
                }
                Err(e) => tracing::warn!(dir = %entry.path().display(), error = %e, "skipping pod"),
            }
        }
    }
    Ok(pods)
}
