//! Container probes as the kubelet runs them: `startupProbe` first, then `readinessProbe`
//! (which sets the container's `ready`) and `livenessProbe` (whose failure restarts it), each
//! an `httpGet`, `tcpSocket` or `exec` every `periodSeconds` after `initialDelaySeconds`,
//! judged over `successThreshold` / `failureThreshold` results in a row.
//!
//! Pods share the node's network here, so the pod IP a probe defaults to is loopback.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::time::Duration;

use serde::Deserialize;

use crate::process::{LaunchSpec, MountMode};

/// A probe of a container.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// `httpGet`.
    #[serde(default)]
    pub http_get: Option<HttpGetAction>,
    /// `tcpSocket`.
    #[serde(default)]
    pub tcp_socket: Option<TcpSocketAction>,
    /// `exec`.
    #[serde(default)]
    pub exec: Option<ExecAction>,
    /// `initialDelaySeconds` (0).
    #[serde(default)]
    pub initial_delay_seconds: u64,
    /// `periodSeconds` (10).
    #[serde(default = "ten")]
    pub period_seconds: u64,
    /// `timeoutSeconds` (1).
    #[serde(default = "one")]
    pub timeout_seconds: u64,
    /// `successThreshold` (1).
    #[serde(default = "one_u32")]
    pub success_threshold: u32,
    /// `failureThreshold` (3).
    #[serde(default = "three")]
    pub failure_threshold: u32,
}

fn ten() -> u64 {
    10
}
fn one() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}
fn three() -> u32 {
    3
}

/// `httpGet`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// `host` (the pod IP when absent).
    #[serde(default)]
    pub host: Option<String>,
    /// `path`.
    #[serde(default)]
    pub path: Option<String>,
    /// `port`: a number or the name of a container port.
    pub port: PortRef,
    /// `scheme`: `HTTP` or `HTTPS`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// `httpHeaders`.
    #[serde(default)]
    pub http_headers: Vec<HttpHeader>,
}

/// One of `httpHeaders`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// `tcpSocket`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TcpSocketAction {
    /// `host` (the pod IP when absent).
    #[serde(default)]
    pub host: Option<String>,
    /// `port`: a number or the name of a container port.
    pub port: PortRef,
}

/// `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecAction {
    /// The command, run in the container.
    pub command: Vec<String>,
}

/// A probe's port: a number, or the name of one of the container's `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    /// `port: 8080`.
    Number(u16),
    /// `port: http`.
    Name(String),
}

/// One of a container's `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `containerPort`.
    pub container_port: u16,
}

impl Probe {
    /// The API server's checks: exactly one handler, positive period and thresholds.
    pub fn validate(&self, field: &str) -> Result<(), String> {
        let handlers = [
            self.http_get.is_some(),
            self.tcp_socket.is_some(),
            self.exec.is_some(),
        ];
        match handlers.iter().filter(|h| **h).count() {
            0 => {
                return Err(format!(
                    "{field}: Required value: must specify a handler type"
                ));
            }
            1 => {}
            _ => {
                return Err(format!(
                    "{field}: Forbidden: may not specify more than 1 handler type"
                ));
            }
        }
        if self.exec.as_ref().is_some_and(|e| e.command.is_empty()) {
            return Err(format!("{field}.exec.command: Required value"));
        }
        for (name, value) in [
            ("periodSeconds", self.period_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("successThreshold", u64::from(self.success_threshold)),
            ("failureThreshold", u64::from(self.failure_threshold)),
        ] {
            if value == 0 {
                return Err(format!(
                    "{field}.{name}: Invalid value: 0: must be greater than 0"
                ));
            }
        }
        Ok(())
    }
}

/// Where a container's probes run: its ports, and its process settings for `exec`.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The container's `ports`, for named probe ports.
    pub ports: Vec<ContainerPort>,
    /// The container's env and mounts.
    pub spec: LaunchSpec,
    /// How its volumes are mounted.
    pub mode: MountMode,
}

impl ProbeTarget {
    fn port(&self, port: &PortRef) -> Result<u16, String> {
        match port {
            PortRef::Number(number) => Ok(*number),
            PortRef::Name(name) => self
                .ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port)
                .ok_or_else(|| format!("unknown port {name:?}: no container port has that name")),
        }
    }

    /// One probe attempt.
    async fn check(&self, probe: &Probe) -> Result<(), String> {
        let timeout = Duration::from_secs(probe.timeout_seconds);
        let attempt = async {
            if let Some(http) = &probe.http_get {
                self.http_get(http, timeout).await
            } else if let Some(tcp) = &probe.tcp_socket {
                let host = tcp.host.as_deref().unwrap_or(POD_HOST);
                tokio::net::TcpStream::connect((host, self.port(&tcp.port)?))
                    .await
                    .map(drop)
                    .map_err(|e| format!("dial tcp {host}:{:?}: {e}", tcp.port))
            } else if let Some(exec) = &probe.exec {
                let output = self
                    .spec
                    .command(&exec.command, self.mode)?
                    .output()
                    .await
                    .map_err(|e| format!("exec {:?}: {e}", exec.command))?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "command {:?} exited with {}: {}",
                        exec.command,
                        output.status,
                        String::from_utf8_lossy(&output.stdout).trim()
                    ))
                }
            } else {
                Err("the probe has no handler".to_owned())
            }
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {}s", probe.timeout_seconds)))
    }

    async fn http_get(&self, http: &HttpGetAction, timeout: Duration) -> Result<(), String> {
        let scheme = match http.scheme.as_deref() {
            None | Some("HTTP") => "http",
            Some("HTTPS") => "https",
            Some(other) => return Err(format!("unsupported scheme {other:?}")),
        };
        let host = http.host.as_deref().unwrap_or(POD_HOST);
        let path = http.path.as_deref().unwrap_or("/");
        let url = format!("{scheme}://{host}:{}{path}", self.port(&http.port)?);
        // As the kubelet: HTTPS probes do not verify the certificate.
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| e.to_string())?;
        let mut request = client.get(&url).header("user-agent", "kube-probe/1.37");
        for header in &http.http_headers {
            request = request.header(&header.name, &header.value);
        }
        let status = request
            .send()
            .await
            .map_err(|e| format!("Get {url:?}: {e}"))?
            .status();
        if status.is_success() || status.is_redirection() {
            Ok(())
        } else {
            Err(format!(
                "HTTP probe failed with statuscode: {}",
                status.as_u16()
            ))
        }
    }

    /// Runs `probe` every period from its initial delay and hands `verdict` each decided
    /// result: success after `successThreshold` in a row, failure after `failureThreshold`.
    async fn run(
        &self,
        probe: &Probe,
        mut verdict: impl FnMut(Result<(), String>) -> ControlFlow<()>,
    ) {
        tokio::time::sleep(Duration::from_secs(probe.initial_delay_seconds)).await;
        let (mut successes, mut failures) = (0u32, 0u32);
        loop {
            match self.check(probe).await {
                Ok(()) => {
                    failures = 0;
                    successes = successes.saturating_add(1);
                    if successes >= probe.success_threshold && verdict(Ok(())).is_break() {
                        return;
                    }
                }
                Err(message) => {
                    successes = 0;
                    failures = failures.saturating_add(1);
                    if failures >= probe.failure_threshold && verdict(Err(message)).is_break() {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(probe.period_seconds)).await;
        }
    }
}

/// The pod IP, for probes that name no host: pods share the node's network here.
const POD_HOST: &str = "127.0.0.1";

/// A container's probes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    /// `startupProbe`.
    pub startup: Option<Probe>,
    /// `readinessProbe`.
    pub readiness: Option<Probe>,
    /// `livenessProbe`.
    pub liveness: Option<Probe>,
}

impl Probes {
    /// Whether a container that just started is ready: only when nothing is left to probe.
    pub fn ready_at_start(&self) -> bool {
        self.startup.is_none() && self.readiness.is_none()
    }

    /// Probes a running container until a startup or liveness probe fails, which is returned
    /// (the container is then restarted); readiness changes go to `set_ready`. Never returns
    /// while the container is healthy.
    pub async fn watch(&self, target: &ProbeTarget, set_ready: impl Fn(bool)) -> String {
        if let Some(startup) = &self.startup {
            let mut failed = None;
            target
                .run(startup, |result| {
                    failed = result.err();
                    ControlFlow::Break(())
                })
                .await;
            if let Some(message) = failed {
                return format!("Startup probe failed: {message}");
            }
        }
        let readiness = async {
            match &self.readiness {
                None => set_ready(true),
                Some(probe) => {
                    target
                        .run(probe, |result| {
                            if let Err(message) = &result {
                                tracing::debug!(%message, "Readiness probe failed");
                            }
                            set_ready(result.is_ok());
                            ControlFlow::Continue(())
                        })
                        .await;
                }
            }
            std::future::pending::<Infallible>().await
        };
        let liveness = async {
            match &self.liveness {
                None => std::future::pending().await,
                Some(probe) => {
                    let mut failed = String::new();
                    target
                        .run(probe, |result| match result {
                            Ok(()) => ControlFlow::Continue(()),
                            Err(message) => {
                                failed = message;
                                ControlFlow::Break(())
                            }
                        })
                        .await;
                    format!("Liveness probe failed: {failed}")
                }
            }
        };
        tokio::select! {
            never = readiness => match never {},
            failed = liveness => failed,
        }
    }
}
