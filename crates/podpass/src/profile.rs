//! Writes the admin keys as a named AWS CLI profile, in the files the CLI and SDKs read.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the shared credentials and config files live (honouring the SDKs' env overrides).
pub(crate) struct AwsFiles {
    /// `~/.aws/credentials` or `$AWS_SHARED_CREDENTIALS_FILE`.
    pub credentials: PathBuf,
    /// `~/.aws/config` or `$AWS_CONFIG_FILE`.
    pub config: PathBuf,
}

impl AwsFiles {
    /// Resolves the files as the AWS CLI does.
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        let home = || -> anyhow::Result<PathBuf> {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .context("HOME is not set: cannot locate ~/.aws (use --no-profile)")
        };
        let credentials = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => home()?.join(".aws/credentials"),
        };
        let config = match std::env::var_os("AWS_CONFIG_FILE") {
            Some(p) => PathBuf::from(p),
            None => home()?.join(".aws/config"),
        };
        Ok(Self {
            credentials,
            config,
        })
    }

    /// Writes (or replaces) the profile's section in both files, leaving other profiles alone.
    pub(crate) fn write_profile(
        &self,
        profile: &str,
        access_key_id: &str,
        secret_access_key: &str,
        region: &str,
        endpoint_url: &str,
    ) -> anyhow::Result<()> {
        upsert_section(
            &self.credentials,
            profile,
            &[
                ("aws_access_key_id", access_key_id),
                ("aws_secret_access_key", secret_access_key),
            ],
        )?;
        let config_section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        upsert_section(
            &self.config,
            &config_section,
            &[("region", region), ("endpoint_url", endpoint_url)],
        )
    }
}

/// Replaces `[section]` in an INI file with `entries`, keeping every other section as it was.
fn upsert_section(path: &Path, section: &str, entries: &[(&str, &str)]) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let header = format!("[{section}]");
    let mut out = String::new();
    let mut skipping = false;
    for line in existing.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&header);
    out.push('\n');
    for (key, value) in entries {
        out.push_str(&format!("{key} = {value}\n"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    restrict_permissions(path)
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_its_own_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A\n\n[podpass]\nold = 1\n[other]\nx = y\n",
        )
        .unwrap();
        upsert_section(&path, "podpass", &[("aws_access_key_id", "K")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "[default]\naws_access_key_id = A\n\n[other]\nx = y\n\n[podpass]\naws_access_key_id = K\n"
        );
    }
}
