//! Change detection for files mounted from Secrets and ConfigMaps. The kubelet updates those by
//! swapping a `..data` symlink, which file-level notifications miss, so the files are polled and
//! compared by content hash.

use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::digest::{Context, SHA256};
use tokio::sync::watch;

use crate::stop::stopped;

/// A file of a polled set could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {source}")]
pub struct FileReadError {
    /// File path.
    pub path: String,
    /// Underlying I/O error.
    pub source: std::io::Error,
}

/// Reads a fixed set of files and reports when their combined content changed.
#[derive(Debug)]
pub struct ContentPoller {
    paths: Vec<PathBuf>,
    last: Option<Vec<u8>>,
    failing: bool,
}

impl ContentPoller {
    /// A poller over `paths`; the first successful poll always reports a change.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            last: None,
            failing: false,
        }
    }

    /// The files' contents when they differ from the previous poll, `Ok(None)` when unchanged.
    /// A read error is reported once per failure streak (`Ok(None)` while it lasts), so a missing
    /// file does not flood the log.
    pub fn poll(&mut self) -> Result<Option<Vec<Vec<u8>>>, FileReadError> {
        let contents = match self.read_all() {
            Ok(contents) => contents,
            Err(error) if self.failing => {
                tracing::trace!(%error, "still failing");
                return Ok(None);
            }
            Err(error) => {
                self.failing = true;
                return Err(error);
            }
        };
        self.failing = false;
        let mut context = Context::new(&SHA256);
        for content in &contents {
            // Length prefixes keep ("ab","c") and ("a","bc") apart.
            context.update(&(content.len() as u64).to_be_bytes());
            context.update(content);
        }
        let hash = context.finish().as_ref().to_vec();
        if self.last.as_ref() == Some(&hash) {
            return Ok(None);
        }
        self.last = Some(hash);
        Ok(Some(contents))
    }

    fn read_all(&self) -> Result<Vec<Vec<u8>>, FileReadError> {
        self.paths
            .iter()
            .map(|path| {
                std::fs::read(path).map_err(|source| FileReadError {
                    path: path.display().to_string(),
                    source,
                })
            })
            .collect()
    }
}

/// Runs `tick` every `interval` until `shutdown` turns true or its sender is dropped.
pub(crate) async fn every_until_shutdown(
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut tick: impl FnMut(),
) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the caller has just loaded the files.
    timer.tick().await;
    loop {
        tokio::select! {
            _ = timer.tick() => tick(),
            _ = stopped(&mut shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changes_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "ab").unwrap();
        std::fs::write(&b, "c").unwrap();
        let mut poller = ContentPoller::new(vec![a.clone(), b.clone()]);
        assert_eq!(
            poller.poll().unwrap(),
            Some(vec![b"ab".to_vec(), b"c".to_vec()])
        );
        assert_eq!(poller.poll().unwrap(), None);
        // Same concatenation, different split: still a change.
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "bc").unwrap();
        assert_eq!(
            poller.poll().unwrap(),
            Some(vec![b"a".to_vec(), b"bc".to_vec()])
        );
        assert_eq!(poller.poll().unwrap(), None);
    }

    #[test]
    fn read_errors_are_reported_once_per_streak() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let mut poller = ContentPoller::new(vec![a.clone()]);
        assert!(poller.poll().is_err());
        assert_eq!(poller.poll().unwrap(), None);
        std::fs::write(&a, "x").unwrap();
        assert_eq!(poller.poll().unwrap(), Some(vec![b"x".to_vec()]));
        std::fs::remove_file(&a).unwrap();
        assert!(poller.poll().is_err());
        // The same content coming back is not a change.
        std::fs::write(&a, "x").unwrap();
        assert_eq!(poller.poll().unwrap(), None);
    }
}
