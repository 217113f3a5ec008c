//! Pod and container status, shaped like the Kubernetes `PodStatus` so `-o yaml` reads naturally.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `status.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Accepted; volumes or init containers not done yet.
    Pending,
    /// Containers started and at least one is running or restarting.
    Running,
    /// Every container exited 0 and none will restart.
    Succeeded,
    /// Every container exited and at least one failed (or the pod could not start).
    Failed,
    /// The state was lost (podpass restarted while the pod ran).
    Unknown,
}

impl PodPhase {
    /// Whether the pod will not run anything anymore.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Unknown)
    }
}

/// `state` of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerState {
    /// Not running: not started yet, or backing off before a restart.
    Waiting {
        /// `ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`...
        reason: String,
    },
    /// Running.
    #[serde(rename_all = "camelCase")]
    Running {
        /// RFC 3339 start time.
        started_at: String,
    },
    /// Exited.
    #[serde(rename_all = "camelCase")]
    Terminated {
        /// Exit code; 128 + signal number when killed by a signal.
        exit_code: i32,
        /// `Completed`, `Error`, `StartError`.
        reason: String,
        /// Detail, e.g. why the process could not start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// RFC 3339 finish time.
        finished_at: String,
    },
}

/// One entry of `containerStatuses` / `initContainerStatuses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// Current state.
    pub state: ContainerState,
    /// Times the container was restarted.
    pub restart_count: u32,
    /// Whether it is running and passes its readiness probe.
    #[serde(default)]
    pub ready: bool,
}

impl ContainerStatus {
    /// A container that has not started.
    pub fn waiting(name: &str, reason: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: ContainerState::Waiting {
                reason: reason.to_owned(),
            },
            restart_count: 0,
            ready: false,
        }
    }

    /// The exit code, when terminated.
    pub fn exit_code(&self) -> Option<i32> {
        match self.state {
            ContainerState::Terminated { exit_code, .. } => Some(exit_code),
            _ => None,
        }
    }
}

/// `status` of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// Phase.
    pub phase: PodPhase,
    /// Machine-readable reason of a failure (`FailedMount`, `CreateContainerConfigError`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the kubelet accepted the pod.
    pub start_time: String,
    /// Init containers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Containers.
    pub container_statuses: Vec<ContainerStatus>,
}

/// A stored pod: the admitted object and its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    /// The Pod as admitted (defaults, kube-api-access volume, webhook mutation).
    pub object: Value,
    /// Its status.
    pub status: PodStatus,
}

impl PodRecord {
    /// The Pod object with `status` filled in, as `get pod -o yaml` shows it.
    pub fn to_object(&self) -> Value {
        let mut object = self.object.clone();
        if let (Some(map), Ok(status)) =
            (object.as_object_mut(), serde_json::to_value(&self.status))
        {
            map.insert("status".into(), status);
        }
        object
    }
}

/// The current time as RFC 3339 with second precision, as Kubernetes timestamps.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
