//! Turning a container into a host process: argv, env, working directory and volume mounts,
//! in a private mount namespace when possible, else by rewriting paths.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};
use tokio::process::Command;

/// How volumes appear at their `mountPath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountMode {
    /// A private mount namespace (`unshare --mount`) with each volume bind-mounted at its
    /// `mountPath`. Needs root; missing mount points are created on the host as empty dirs.
    Namespace,
    /// No namespace: occurrences of a `mountPath` in env values, argv and `workingDir` are
    /// rewritten to the volume's directory on the host.
    Rewrite,
}

impl MountMode {
    /// [`MountMode::Namespace`] when running as root and `unshare --mount` works.
    pub async fn detect() -> Self {
        let root = rustix::process::geteuid().is_root();
        let works = root
            && Command::new("unshare")
                .args(["--mount", "--propagation", "private", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success());
        if works {
            Self::Namespace
        } else {
            Self::Rewrite
        }
    }
}

/// One volume mount of a container, resolved to a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The volume directory (or the `subPath` inside it) on the host.
    pub source: PathBuf,
    /// `mountPath` inside the container.
    pub target: String,
    /// `readOnly`.
    pub read_only: bool,
}

/// Everything needed to start a container's process (or an exec in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// The container env after mutation and `valueFrom` resolution.
    pub env: Vec<(String, String)>,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// `workingDir`, if set.
    pub working_dir: Option<String>,
    /// Directory used when `workingDir` is unset (the pod directory, not the host's `/`).
    pub default_dir: PathBuf,
}

impl LaunchSpec {
    /// A command running `argv` as this container, stdin closed, in its own process group.
    pub fn command(&self, argv: &[String], mode: MountMode) -> Result<Command, String> {
        let (program, rest) = argv.split_first().ok_or("empty command")?;
        let mut cmd = match mode {
            MountMode::Rewrite => {
                let rewrite = |s: &str| rewrite_paths(s, &self.mounts);
                let mut cmd = Command::new(rewrite(program));
                cmd.args(rest.iter().map(|a| rewrite(a)));
                cmd.current_dir(
                    self.working_dir
                        .as_deref()
                        .map(|d| PathBuf::from(rewrite(d)))
                        .unwrap_or_else(|| self.default_dir.clone()),
                );
                cmd.env_clear().envs(host_env());
                cmd.envs(self.env.iter().map(|(k, v)| (k, rewrite(v))));
                cmd
            }
            MountMode::Namespace => {
                let mut cmd = Command::new("unshare");
                cmd.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                    .arg(self.mount_script())
                    .arg("podpass-container")
                    .args(argv);
                cmd.current_dir(&self.default_dir);
                cmd.env_clear().envs(host_env());
                cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
                cmd
            }
        };
        cmd.stdin(Stdio::null()).process_group(0).kill_on_drop(true);
        Ok(cmd)
    }

    /// Shell run inside the new namespace: bind each volume, `cd`, then exec the container.
    fn mount_script(&self) -> String {
        let mut mounts: Vec<&Mount> = self.mounts.iter().collect();
        // Parents before children, so nested mount points land inside their parent mount.
        mounts.sort_by_key(|m| m.target.len());
        let mut script = String::from("set -e\n");
        for m in mounts {
            let source = quote(&m.source.to_string_lossy());
            let target = quote(&m.target);
            script.push_str(&format!(
                "if [ -d {source} ]; then mkdir -p -- {target}; \
                 elif [ ! -e {target} ]; then mkdir -p -- \"$(dirname -- {target})\"; : > {target}; fi\n\
                 mount --bind -- {source} {target}\n"
            ));
            if m.read_only {
                script.push_str(&format!("mount -o remount,bind,ro -- {target}\n"));
            }
        }
        if let Some(dir) = &self.working_dir {
            script.push_str(&format!("cd -- {}\n", quote(dir)));
        }
        script.push_str("exec \"$@\"\n");
        script
    }
}

/// `PATH` and `HOME` from the host, which a container without an image relies on.
fn host_env() -> Vec<(String, String)> {
    ["PATH", "HOME"]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_owned(), v)))
        .collect()
}

/// Replaces each `mountPath` occurring as a whole path prefix in `value` with its host
/// directory (longest mount path first).
pub fn rewrite_paths(value: &str, mounts: &[Mount]) -> String {
    let mut by_length: Vec<&Mount> = mounts.iter().collect();
    by_length.sort_by_key(|m| std::cmp::Reverse(m.target.len()));
    let path_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    'scan: while i < value.len() {
        let starts_path = value[..i].chars().next_back().is_none_or(|c| !path_char(c));
        if starts_path {
            for m in &by_length {
                let target = m.target.trim_end_matches('/');
                if target.is_empty() || !value[i..].starts_with(target) {
                    continue;
                }
                let end = i + target.len();
                let ends_path = value[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == '/' || !path_char(c));
                if ends_path {
                    out.push_str(&m.source.to_string_lossy());
                    i = end;
                    continue 'scan;
                }
            }
        }
        let c = value[i..].chars().next().unwrap_or('\0');
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

/// POSIX shell single-quoting.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Sends `signal` to the process group led by `pid` (a group already gone is no error).
pub fn signal_group(pid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, signal);
}

/// Kills a container's process group when dropped: whatever the container left running ends
/// with it, as it would with the container's cgroup.
pub struct GroupReaper(pub u32);

impl Drop for GroupReaper {
    fn drop(&mut self) {
        signal_group(self.0, Signal::KILL);
    }
}

/// The container log file, opened for appending (restarts append, as `kubectl logs` shows).
pub fn log_file(path: &Path) -> std::io::Result<(Stdio, Stdio)> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let err = file.try_clone()?;
    Ok((Stdio::from(file), Stdio::from(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> Vec<Mount> {
        vec![
            Mount {
                source: "/pods/p/volumes/aws".into(),
                target: "/var/run/secrets/eks.amazonaws.com/serviceaccount".into(),
                read_only: true,
            },
            Mount {
                source: "/pods/p/volumes/kube".into(),
                target: "/var/run/secrets/kubernetes.io/serviceaccount/".into(),
                read_only: true,
            },
            Mount {
                source: "/pods/p/volumes/data".into(),
                target: "/data".into(),
                read_only: false,
            },
        ]
    }

    #[test]
    fn rewrites_whole_path_prefixes_only() {
        let m = mounts();
        assert_eq!(
            rewrite_paths(
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
                &m
            ),
            "/pods/p/volumes/aws/token"
        );
        assert_eq!(
            rewrite_paths(
                "cat /data/x && cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                &m
            ),
            "cat /pods/p/volumes/data/x && cat /pods/p/volumes/kube/ca.crt"
        );
        assert_eq!(rewrite_paths("/data", &m), "/pods/p/volumes/data");
        assert_eq!(rewrite_paths("/database", &m), "/database");
        assert_eq!(rewrite_paths("/srv/data/x", &m), "/srv/data/x");
        assert_eq!(rewrite_paths("x=/data:é", &m), "x=/pods/p/volumes/data:é");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
    }
}
