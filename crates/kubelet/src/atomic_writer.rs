//! The kubelet's atomic writer (`pkg/volume/util/atomic_writer.go`): a volume's files live in a
//! timestamped directory `..<timestamp>`, `..data` links to it, and each visible entry is a link
//! `name -> ..data/name`. An update writes a new timestamped directory and renames a fresh
//! `..data_tmp` link over `..data`, so readers see the old or the new set, never a mix or nothing,
//! and removes the old directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::KubeletError;

/// Name of the link to the current timestamped directory.
pub const DATA_DIR_NAME: &str = "..data";
const DATA_DIR_TMP_NAME: &str = "..data_tmp";

/// One file of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    /// Content.
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// A volume's files by relative path (already validated: relative, no `..`).
pub type Payload = BTreeMap<String, FileContent>;

/// How long a replaced timestamped directory outlives the swap.
pub const RETIRED_DIR_GRACE: Duration = Duration::from_secs(1);

/// Writes `payload` into `dir` (created if needed), replacing the previous payload atomically;
/// the previous timestamped directory is removed `retired_grace` later.
pub fn write(dir: &Path, payload: &Payload, retired_grace: Duration) -> Result<(), KubeletError> {
    let io = |action: &str, path: &Path| {
        let path = path.to_path_buf();
        let action = action.to_owned();
        move |e| KubeletError::io(&action, &path, e)
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(io("creating volume directory", dir))?;
    let data_link = dir.join(DATA_DIR_NAME);
    let old_target = match fs::read_link(&data_link) {
        Ok(target) => Some(target),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(KubeletError::io("reading link", &data_link, e)),
    };
    let old_visible = visible_names(dir)?;
    let ts_dir = create_timestamped_dir(dir)?;
    if let Err(e) = write_files(&ts_dir, payload) {
        // Best effort: a half-written directory must not linger; the error is what matters.
        let _ = fs::remove_dir_all(&ts_dir);
        return Err(e);
    }
    let ts_name = ts_dir
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| ts_dir.clone());
    let tmp_link = dir.join(DATA_DIR_TMP_NAME);
    match fs::remove_file(&tmp_link) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(KubeletError::io("removing stale link", &tmp_link, e)),
    }
    symlink(&ts_name, &tmp_link).map_err(io("creating link", &tmp_link))?;
    fs::rename(&tmp_link, &data_link).map_err(io("swapping link", &data_link))?;

    let new_visible: BTreeSet<String> = payload.keys().map(|p| top_level(p).to_owned()).collect();
    for name in &new_visible {
        let link = dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA_DIR_NAME).join(name), &link)
                .map_err(io("creating link", &link))?;
        }
    }
    for stale in old_visible.difference(&new_visible) {
        let link = dir.join(stale);
        fs::remove_file(&link).map_err(io("removing link", &link))?;
    }
    if let Some(old) = old_target {
        retire(dir.join(old), retired_grace);
    }
    Ok(())
}

/// Removes a replaced timestamped directory after `grace`. The kubelet removes it at once,
/// which fails a reader that resolved `..data` just before the swap and opens the file just
/// after; the grace closes that window.
fn retire(old: PathBuf, grace: Duration) {
    let remove = move || match fs::remove_dir_all(&old) {
        Ok(()) => {}
        // The whole volume may be gone already (pod deleted).
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %old.display(), error = %e, "old volume data not removed"),
    };
    if grace.is_zero() {
        remove();
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            remove();
        });
    }
}

/// The first element of a payload path: what gets a visible link.
fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Visible entries of the volume: everything not starting with `..`.
fn visible_names(dir: &Path) -> Result<BTreeSet<String>, KubeletError> {
    let entries = fs::read_dir(dir).map_err(|e| KubeletError::io("listing", dir, e))?;
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| KubeletError::io("listing", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") {
            names.insert(name);
        }
    }
    Ok(names)
}

/// `..YYYY_MM_DD_HH_MM_SS.<random>` as Go's `os.MkdirTemp(dir, "..2006_01_02_15_04_05.")`.
fn create_timestamped_dir(dir: &Path) -> Result<PathBuf, KubeletError> {
    let stamp = jiff::Timestamp::now().strftime("..%Y_%m_%d_%H_%M_%S.");
    loop {
        let path = dir.join(format!("{stamp}{}", rand::random::<u32>()));
        match fs::DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {
                // The umask may have narrowed the mode.
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .map_err(|e| KubeletError::io("setting mode of", &path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(KubeletError::io("creating", &path, e)),
        }
    }
}

fn write_files(ts_dir: &Path, payload: &Payload) -> Result<(), KubeletError> {
    for (relative, content) in payload {
        let path = ts_dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|e| KubeletError::io("creating", parent, e))?;
        }
        fs::write(&path, &content.data).map_err(|e| KubeletError::io("writing", &path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(content.mode))
            .map_err(|e| KubeletError::io("setting mode of", &path, e))?;
    }
    Ok(())
}
