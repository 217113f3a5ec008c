//! The data directory and the running instance's record in it, which `podpass env` reads.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Default data directory: `$XDG_DATA_HOME/podpass`, else `~/.local/share/podpass`.
pub(crate) fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("podpass");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/podpass"),
        None => PathBuf::from(".podpass"),
    }
}

/// What a running `podpass up` tells clients about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Instance {
    /// Process id of the server.
    pub pid: u32,
    /// Base URL of the AWS-compatible endpoint.
    pub endpoint_url: String,
    /// Region clients should sign for.
    pub region: String,
    /// Account id.
    pub account_id: String,
    /// Name of the AWS CLI profile written for the admin keys, if any.
    pub profile: Option<String>,
    /// The admin access key id (the secret stays in the store and the profile).
    pub access_key_id: String,
    /// Name of the default cluster.
    pub cluster: String,
    /// Issuer URL of the default cluster.
    pub issuer_url: String,
    /// The node agent's credentials URL (`AWS_CONTAINER_CREDENTIALS_FULL_URI` of local pods).
    pub agent_url: String,
    /// The S3 endpoint (`AWS_ENDPOINT_URL_S3`); empty when the instance serves none and was
    /// told of none (`--s3-listen off`).
    pub s3_endpoint_url: String,
    /// The API's HTTPS endpoint, whose certificate the cluster CA signs (none without a
    /// local node or with `--https-listen off`).
    #[serde(default)]
    pub https_endpoint_url: Option<String>,
    /// The cluster CA's certificate file, every local pod's `ca.crt`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

const INSTANCE_FILE: &str = "instance.json";

impl Instance {
    /// Writes the record atomically (a reader never sees half a file).
    pub(crate) fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = data_dir.join(INSTANCE_FILE);
        let tmp = data_dir.join(".instance.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Removes the record when the server stops.
    pub(crate) fn remove(data_dir: &Path) {
        let _ = std::fs::remove_file(data_dir.join(INSTANCE_FILE));
    }

    /// Reads the record of the instance running on `data_dir`, failing clearly when none runs.
    pub(crate) fn running(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(INSTANCE_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "no podpass instance is running on {} (start one with `podpass up --data-dir {}`)",
                data_dir.display(),
                data_dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let instance: Self = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a podpass instance record", path.display()))?;
        if !process_alive(instance.pid) {
            bail!(
                "the podpass instance recorded in {} (pid {}) is no longer running",
                path.display(),
                instance.pid
            );
        }
        Ok(instance)
    }

    /// The shell exports a client needs for this instance.
    pub(crate) fn exports(&self, secret_access_key: Option<&str>) -> String {
        let mut lines = vec![format!("export AWS_ENDPOINT_URL={}", self.endpoint_url)];
        if !self.s3_endpoint_url.is_empty() {
            lines.push(format!(
                "export AWS_ENDPOINT_URL_S3={}",
                self.s3_endpoint_url
            ));
        }
        lines.extend([
            format!("export AWS_REGION={}", self.region),
            format!("export AWS_DEFAULT_REGION={}", self.region),
        ]);
        match (&self.profile, secret_access_key) {
            (Some(profile), _) => lines.push(format!("export AWS_PROFILE={profile}")),
            (None, Some(secret)) => {
                lines.push(format!("export AWS_ACCESS_KEY_ID={}", self.access_key_id));
                lines.push(format!("export AWS_SECRET_ACCESS_KEY={secret}"));
            }
            (None, None) => {}
        }
        lines.push(format!("export PODPASS_ISSUER_URL={}", self.issuer_url));
        lines.push(format!("export PODPASS_CLUSTER={}", self.cluster));
        lines.push(format!("export PODPASS_AGENT_URL={}", self.agent_url));
        lines.join("\n") + "\n"
    }
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
