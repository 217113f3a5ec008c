//! One pod's life: volumes, init containers in order, containers under their restart policy,
//! token rotation alongside, and termination with a grace period.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustix::process::Signal;
use serde_json::Value;
use tokio::process::Child;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::env::{argv, resolve_env};
use crate::error::KubeletError;
use crate::manifest::{Container, Pod, RestartPolicy};
use crate::metrics::{KubeletMetrics, RestartReason};
use crate::probes::ProbeTarget;
use crate::process::{GroupReaper, LaunchSpec, Mount, MountMode, log_file, signal_group};
use crate::rotation::rotate_tokens;
use crate::sources::ObjectSource;
use crate::status::{ContainerState, ContainerStatus, PodPhase, PodRecord, PodStatus, now_rfc3339};
use crate::volumes::PodVolumes;

/// File holding the admitted Pod in a pod directory.
pub const POD_FILE: &str = "pod.json";
/// File holding the last status in a pod directory.
pub const STATUS_FILE: &str = "status.json";
/// Directory of container logs in a pod directory.
pub const LOGS_DIR: &str = "logs";
/// Directory of volumes in a pod directory.
pub const VOLUMES_DIR: &str = "volumes";

/// Process settings shared by every pod.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Where starts and restarts are counted.
    pub metrics: KubeletMetrics,
    /// How volumes reach their `mountPath`.
    pub mount_mode: MountMode,
    /// First restart delay; doubles per restart (the kubelet: 10 s).
    pub restart_backoff: Duration,
    /// Restart delay cap (the kubelet: 300 s).
    pub max_restart_backoff: Duration,
    /// How often tokens are checked against the refresh rule.
    pub rotation_check_interval: Duration,
    /// Variables every container gets under its own env.
    pub node_env: Vec<(String, String)>,
}

/// What `exec` returns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecOutput {
    /// Exit code (128 + signal when killed).
    pub exit_code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// A pod known to the kubelet: its spec, directory, live status and running task.
pub struct PodHandle {
    /// Typed view of the admitted Pod.
    pub pod: Pod,
    /// `<base>/pods/<namespace>/<name>`.
    pub dir: PathBuf,
    object: Value,
    status: watch::Sender<PodStatus>,
    launch: OnceLock<HashMap<String, LaunchSpec>>,
    shutdown: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    settings: RunnerSettings,
}

impl PodHandle {
    /// A new, pending pod; writes `pod.json` and `status.json` into `dir`.
    pub fn create(
        pod: Pod,
        object: Value,
        dir: PathBuf,
        settings: RunnerSettings,
    ) -> Result<Arc<Self>, KubeletError> {
        std::fs::create_dir_all(dir.join(LOGS_DIR))
            .map_err(|e| KubeletError::io("creating", &dir, e))?;
        let pod_file = dir.join(POD_FILE);
        let bytes = serde_json::to_vec_pretty(&object)
            .map_err(|e| KubeletError::BadRequest(format!("serialising the pod: {e}")))?;
        std::fs::write(&pod_file, bytes).map_err(|e| KubeletError::io("writing", &pod_file, e))?;
        let status = PodStatus {
            phase: PodPhase::Pending,
            reason: None,
            message: None,
            start_time: now_rfc3339(),
            init_container_statuses: pod
                .init_containers
                .iter()
                .map(|c| ContainerStatus::waiting(&c.name, "PodInitializing"))
                .collect(),
            container_statuses: pod
                .containers
                .iter()
                .map(|c| ContainerStatus::waiting(&c.name, "ContainerCreating"))
                .collect(),
        };
        let handle = Arc::new(Self::new(pod, object, dir, status, settings));
        handle.persist();
        Ok(handle)
    }

    /// A pod read back from `dir` after a restart. Its processes are gone, so a pod that was
    /// not finished becomes `Unknown`.
    pub fn restore(dir: &Path, settings: RunnerSettings) -> Result<Arc<Self>, KubeletError> {
        let read = |name: &str| -> Result<Value, KubeletError> {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| KubeletError::io("reading", &path, e))?;
            serde_json::from_slice(&bytes).map_err(|e| KubeletError::Io {
                context: format!("parsing {}", path.display()),
                source: std::io::Error::other(e),
            })
        };
        let object = read(POD_FILE)?;
        let mut status: PodStatus =
            serde_json::from_value(read(STATUS_FILE)?).map_err(|e| KubeletError::Io {
                context: format!("parsing {}", dir.join(STATUS_FILE).display()),
                source: std::io::Error::other(e),
            })?;
        let pod = Pod::from_value(&object)?;
        if !status.phase.is_terminal() {
            status.phase = PodPhase::Unknown;
            status.reason = Some("NodeRestarted".into());
            status.message =
                Some("podpass restarted while the pod ran; its processes were lost".into());
        }
        let handle = Arc::new(Self::new(pod, object, dir.to_path_buf(), status, settings));
        handle.persist();
        Ok(handle)
    }

    fn new(
        pod: Pod,
        object: Value,
        dir: PathBuf,
        status: PodStatus,
        settings: RunnerSettings,
    ) -> Self {
        Self {
            pod,
            dir,
            object,
            status: watch::Sender::new(status),
            launch: OnceLock::new(),
            shutdown: watch::Sender::new(false),
            task: tokio::sync::Mutex::new(None),
            settings,
        }
    }

    /// The admitted object and its current status.
    pub fn record(&self) -> PodRecord {
        PodRecord {
            object: self.object.clone(),
            status: self.status.borrow().clone(),
        }
    }

    /// A receiver that sees every status change.
    pub fn watch_status(&self) -> watch::Receiver<PodStatus> {
        self.status.subscribe()
    }

    /// Starts the pod's task; resolves once volumes and container configs are ready (or failed).
    pub async fn start(self: &Arc<Self>, volumes: PodVolumes, objects: Arc<dyn ObjectSource>) {
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(lifecycle(self.clone(), volumes, objects, ready_tx));
        *self.task.lock().await = Some(task);
        // An error means the task ended early; the status says why.
        let _ = ready_rx.await;
    }

    /// Stops every process (SIGTERM, SIGKILL after the grace period) and waits for the task.
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.lock().await.take()
            && let Err(e) = task.await
        {
            tracing::error!(pod = %self.pod.name, error = %e, "pod task failed");
        }
    }

    /// Whether `container`'s log will not grow anymore.
    pub fn log_complete(&self, container: &str) -> bool {
        let status = self.status.borrow();
        if status.phase.is_terminal() {
            return true;
        }
        let init = status
            .init_container_statuses
            .iter()
            .find(|c| c.name == container);
        let regular = status
            .container_statuses
            .iter()
            .find(|c| c.name == container);
        match (init, regular) {
            (Some(c), _) => c.exit_code() == Some(0),
            (None, Some(c)) => c
                .exit_code()
                .is_some_and(|code| !will_restart(self.pod.restart_policy, code, false)),
            (None, None) => true,
        }
    }

    /// Runs `argv` with `container`'s env and mounts and returns its output.
    pub async fn exec(&self, container: &str, argv: &[String]) -> Result<ExecOutput, KubeletError> {
        let phase = self.status.borrow().phase;
        if phase.is_terminal() {
            return Err(KubeletError::BadRequest(format!(
                "cannot exec into a container in a completed pod; current phase is {phase:?}"
            )));
        }
        let spec = self
            .launch
            .get()
            .and_then(|specs| specs.get(container))
            .ok_or_else(|| {
                KubeletError::BadRequest(format!("container {container:?} is not running"))
            })?;
        let mut cmd = spec
            .command(argv, self.settings.mount_mode)
            .map_err(KubeletError::BadRequest)?;
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let output = cmd.output().await.map_err(|e| KubeletError::Io {
            context: format!("exec {:?} in container {container:?}", argv.first()),
            source: e,
        })?;
        Ok(ExecOutput {
            exit_code: exit_code(output.status),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn update(&self, change: impl FnOnce(&mut PodStatus)) {
        self.status.send_modify(change);
        self.persist();
    }

    fn set_container(&self, init: bool, index: usize, change: impl FnOnce(&mut ContainerStatus)) {
        self.update(|status| {
            let list = if init {
                &mut status.init_container_statuses
            } else {
                &mut status.container_statuses
            };
            if let Some(container) = list.get_mut(index) {
                change(container);
            }
        });
    }

    fn fail(&self, reason: &str, message: String) {
        tracing::warn!(pod = %self.pod.name, namespace = %self.pod.namespace, %reason, %message);
        self.update(|status| {
            status.phase = PodPhase::Failed;
            status.reason = Some(reason.to_owned());
            status.message = Some(message);
        });
    }

    /// Writes `status.json` (temp file + rename); a pod being deleted may have lost its dir.
    fn persist(&self) {
        let path = self.dir.join(STATUS_FILE);
        let tmp = self.dir.join(".status.json.tmp");
        let result = serde_json::to_vec_pretty(&*self.status.borrow())
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::debug!(path = %path.display(), error = %e, "status not persisted");
        }
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// The pod's task.
async fn lifecycle(
    handle: Arc<PodHandle>,
    mut volumes: PodVolumes,
    objects: Arc<dyn ObjectSource>,
    ready: oneshot::Sender<()>,
) {
    if let Err(e) = volumes.set_up().await {
        handle.fail("FailedMount", e.to_string());
        return;
    }
    let specs = match launch_specs(&handle, &volumes, objects.as_ref()).await {
        Ok(specs) => specs,
        Err(e) => {
            handle.fail("CreateContainerConfigError", e);
            return;
        }
    };
    let _ = handle.launch.set(specs);
    let _ = ready.send(());
    let rotation = tokio::spawn(rotate_tokens(
        volumes,
        handle.settings.rotation_check_interval,
        handle.shutdown.subscribe(),
    ));
    let phase = run_containers(&handle).await;
    rotation.abort();
    handle.update(|status| status.phase = phase);
}

/// Init containers in order, then the containers together; returns the final phase.
async fn run_containers(handle: &Arc<PodHandle>) -> PodPhase {
    for (index, container) in handle.pod.init_containers.iter().enumerate() {
        let code = supervise(handle.clone(), true, index, container.clone()).await;
        if code != 0 || handle.stopping() {
            return PodPhase::Failed;
        }
    }
    handle.update(|status| status.phase = PodPhase::Running);
    let tasks: Vec<_> = handle
        .pod
        .containers
        .iter()
        .enumerate()
        .map(|(index, c)| tokio::spawn(supervise(handle.clone(), false, index, c.clone())))
        .collect();
    let mut all_succeeded = true;
    for task in tasks {
        all_succeeded &= matches!(task.await, Ok(0));
    }
    if all_succeeded {
        PodPhase::Succeeded
    } else {
        PodPhase::Failed
    }
}

async fn launch_specs(
    handle: &PodHandle,
    volumes: &PodVolumes,
    objects: &dyn ObjectSource,
) -> Result<HashMap<String, LaunchSpec>, String> {
    let mut specs = HashMap::new();
    for container in handle.pod.all_containers() {
        let own = resolve_env(&handle.pod, container, objects)
            .await
            .map_err(|e| format!("container {:?}: {e}", container.name))?;
        let mut env: Vec<(String, String)> = handle
            .settings
            .node_env
            .iter()
            .filter(|(k, _)| !own.iter().any(|(name, _)| name == k))
            .cloned()
            .collect();
        env.extend(own);
        let mounts = container
            .volume_mounts
            .iter()
            .map(|m| {
                let dir = volumes.dir(&m.name);
                Mount {
                    source: match &m.sub_path {
                        Some(sub) => dir.join(sub),
                        None => dir,
                    },
                    target: m.mount_path.clone(),
                    read_only: m.read_only,
                }
            })
            .collect();
        specs.insert(
            container.name.clone(),
            LaunchSpec {
                env,
                mounts,
                working_dir: container.working_dir.clone(),
                default_dir: handle.dir.clone(),
            },
        );
    }
    Ok(specs)
}

/// Runs one container until it finishes for good; returns its last exit code.
async fn supervise(handle: Arc<PodHandle>, init: bool, index: usize, container: Container) -> i32 {
    let mut shutdown = handle.shutdown.subscribe();
    let Some(spec) = handle
        .launch
        .get()
        .and_then(|s| s.get(&container.name))
        .cloned()
    else {
        return 128;
    };
    let env_argv = argv(&container, &spec.env);
    let log_path = handle
        .dir
        .join(LOGS_DIR)
        .join(format!("{}.log", container.name));
    let mut restarts: u32 = 0;
    loop {
        let mut probe_failed = false;
        let code = match spawn(&spec, &env_argv, &log_path, handle.settings.mount_mode) {
            Err(message) => {
                handle.set_container(init, index, |c| {
                    c.state = ContainerState::Terminated {
                        exit_code: 128,
                        reason: "StartError".into(),
                        message: Some(message),
                        finished_at: now_rfc3339(),
                    };
                });
                128
            }
            Ok(mut child) => {
                handle.settings.metrics.container_started();
                handle.set_container(init, index, |c| {
                    c.state = ContainerState::Running {
                        started_at: now_rfc3339(),
                    };
                    c.ready = !init && container.probes.ready_at_start();
                });
                // Dropped after the wait, or with the task at runtime shutdown.
                let _reaper = child.id().map(GroupReaper);
                let target = ProbeTarget {
                    ports: container.ports.clone(),
                    spec: spec.clone(),
                    mode: handle.settings.mount_mode,
                };
                let set_ready = |ready| handle.set_container(init, index, |c| c.ready = ready);
                let status = tokio::select! {
                    status = child.wait() => status,
                    () = stopped(&mut shutdown) => terminate(&mut child, grace(&handle)).await,
                    failed = container.probes.watch(&target, set_ready), if !init => {
                        tracing::warn!(pod = %handle.pod.name, container = %container.name, %failed, "restarting the container");
                        probe_failed = true;
                        terminate(&mut child, grace(&handle)).await
                    }
                };
                let code = status.map(exit_code).unwrap_or(128);
                handle.set_container(init, index, |c| {
                    c.ready = false;
                    c.state = ContainerState::Terminated {
                        exit_code: code,
                        reason: if code == 0 { "Completed" } else { "Error" }.into(),
                        message: None,
                        finished_at: now_rfc3339(),
                    };
                });
                code
            }
        };
        if handle.stopping() || !will_restart(handle.pod.restart_policy, code, init) {
            return code;
        }
        let delay = backoff(&handle.settings, restarts);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return code,
        }
        restarts += 1;
        handle
            .settings
            .metrics
            .container_restarted(if probe_failed {
                RestartReason::ProbeFailed
            } else {
                RestartReason::Exited
            });
        handle.set_container(init, index, |c| c.restart_count = restarts);
    }
}

fn spawn(spec: &LaunchSpec, argv: &[String], log: &Path, mode: MountMode) -> Result<Child, String> {
    let (stdout, stderr) =
        log_file(log).map_err(|e| format!("opening log {}: {e}", log.display()))?;
    spec.command(argv, mode)?
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| {
            format!(
                "starting {:?}: {e}",
                argv.first().map(String::as_str).unwrap_or("")
            )
        })
}

/// Resolves once the pod is being stopped (or its handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard wait_for returns must not live across later awaits (it is not Send).
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// SIGTERM to the container's process group, SIGKILL after `grace`.
async fn terminate(child: &mut Child, grace: Duration) -> std::io::Result<ExitStatus> {
    let Some(pid) = child.id() else {
        return child.wait().await;
    };
    signal_group(pid, Signal::TERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(pid, Signal::KILL);
            child.wait().await
        }
    }
}

fn grace(handle: &PodHandle) -> Duration {
    Duration::from_secs(handle.pod.termination_grace_period_seconds.unsigned_abs())
}

/// Whether a container that exited with `code` is started again. Init containers rerun only
/// after a failure, and never with `restartPolicy: Never`.
pub fn will_restart(policy: RestartPolicy, code: i32, init: bool) -> bool {
    match policy {
        RestartPolicy::Never => false,
        RestartPolicy::OnFailure => code != 0,
        RestartPolicy::Always => code != 0 || !init,
    }
}

/// `base * 2^restarts`, capped.
fn backoff(settings: &RunnerSettings, restarts: u32) -> Duration {
    settings
        .restart_backoff
        .saturating_mul(2u32.saturating_pow(restarts.min(16)))
        .min(settings.max_restart_backoff)
}

/// The exit code Kubernetes reports: the code, or 128 + the signal.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policy_rules() {
        use RestartPolicy::*;
        assert!(will_restart(Always, 0, false));
        assert!(!will_restart(Always, 0, true));
        assert!(will_restart(Always, 1, true));
        assert!(will_restart(OnFailure, 2, false));
        assert!(!will_restart(OnFailure, 0, false));
        assert!(!will_restart(Never, 1, false));
        assert!(!will_restart(Never, 1, true));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = RunnerSettings {
            metrics: KubeletMetrics::default(),
            mount_mode: MountMode::Rewrite,
            restart_backoff: Duration::from_secs(10),
            max_restart_backoff: Duration::from_secs(300),
            rotation_check_interval: Duration::from_secs(1),
            node_env: Vec::new(),
        };
        assert_eq!(backoff(&settings, 0), Duration::from_secs(10));
        assert_eq!(backoff(&settings, 1), Duration::from_secs(20));
        assert_eq!(backoff(&settings, 5), Duration::from_secs(300));
        assert_eq!(backoff(&settings, 1000), Duration::from_secs(300));
    }
}
