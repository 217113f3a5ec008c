//! The bytes of objects and parts: one immutable file per blob, named by a random id that
//! podpass chooses. No part of a caller's key or bucket name ever reaches a file name, so no
//! key can address another key's bytes, a metadata file or anything outside the store.
//!
//! A blob is written under `staging/` and moved to `blobs/<2 hex>/<32 hex>` once the catalog
//! refers to it; a crash in between leaves a staging file that [`Blobs::recover`] settles.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::StdError;
use tokio::io::AsyncWriteExt;

/// The blob directories under one root.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    staging: PathBuf,
    blobs: PathBuf,
}

/// A blob's name: 32 lower-case hex digits.
pub(crate) fn new_blob_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `name` is a blob name podpass made (only those are ever joined to a path).
fn is_blob_name(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Why writing a blob failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The request body failed (the client's fault: a bad signature chunk, a short body).
    #[error("request body: {0}")]
    Body(StdError),
    /// The body is longer than allowed.
    #[error("the body exceeds {0} bytes")]
    TooLarge(u64),
    /// The disk failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A blob being written under `staging/`, removed on drop unless kept.
pub(crate) struct StagedBlob {
    pub name: String,
    path: PathBuf,
    kept: bool,
}

impl StagedBlob {
    /// Marks the staged file as referenced, so that dropping this leaves it in place.
    pub(super) fn keep(mut self) -> String {
        self.kept = true;
        std::mem::take(&mut self.name)
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if !self.kept {
            // Best effort: an unreferenced staging file is removed by the next recovery.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Blobs {
    /// The blob directories under `root`, created if missing.
    pub(super) fn at(root: &Path) -> io::Result<Blobs> {
        let blobs = Blobs {
            staging: root.join("staging"),
            blobs: root.join("blobs"),
        };
        std::fs::create_dir_all(&blobs.staging)?;
        std::fs::create_dir_all(&blobs.blobs)?;
        Ok(blobs)
    }

    fn staging_path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Where a settled blob lives.
    fn path(&self, name: &str) -> PathBuf {
        self.blobs.join(&name[..2]).join(name)
    }

    /// A new, empty staged blob open for writing.
    async fn stage(&self) -> io::Result<(StagedBlob, tokio::fs::File)> {
        let name = new_blob_name();
        let path = self.staging_path(&name);
        let file = tokio::fs::File::create_new(&path).await?;
        let staged = StagedBlob {
            name,
            path,
            kept: false,
        };
        Ok((staged, file))
    }

    /// Writes `body` into a new staged blob, passing every chunk to `inspect` (hashes), and
    /// refusing more than `limit` bytes. Returns the blob and its size.
    pub(super) async fn write<S>(
        &self,
        mut body: S,
        limit: u64,
        mut inspect: impl FnMut(&[u8]),
    ) -> Result<(StagedBlob, u64), WriteError>
    where
        S: Stream<Item = Result<Bytes, StdError>> + Unpin,
    {
        let (staged, mut file) = self.stage().await?;
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(WriteError::Body)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(WriteError::TooLarge(limit));
            }
            inspect(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok((staged, size))
    }

    /// Writes the concatenation of the blobs `sources` into a new staged blob.
    pub(super) async fn concat(&self, sources: &[String]) -> Result<(StagedBlob, u64), WriteError> {
        let (staged, mut file) = self.stage().await?;
        let mut size = 0;
        let mut buffer = vec![0_u8; 256 * 1024];
        for source in sources {
            let mut reader = self.open(source).await?;
            loop {
                let read = tokio::io::AsyncReadExt::read(&mut reader, &mut buffer).await?;
                if read == 0 {
                    break;
                }
                file.write_all(&buffer[..read]).await?;
                size += read as u64;
            }
        }
        file.flush().await?;
        Ok((staged, size))
    }

    /// Copies the settled blob `source` into a new staged blob.
    pub(super) async fn copy(&self, source: &str) -> Result<StagedBlob, WriteError> {
        let name = new_blob_name();
        let path = self.staging_path(&name);
        let staged = StagedBlob {
            name,
            path,
            kept: false,
        };
        let from = self.existing_path(source).await?;
        tokio::fs::copy(&from, &staged.path).await?;
        Ok(staged)
    }

    /// Moves a staged blob, referenced by the catalog now, to its settled place.
    pub(super) async fn settle(&self, name: &str) -> io::Result<()> {
        let to = self.path(name);
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(self.staging_path(name), to).await
    }

    /// The settled blob, or the staged one between the catalog's commit and [`Blobs::settle`].
    async fn existing_path(&self, name: &str) -> io::Result<PathBuf> {
        if !is_blob_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a blob name",
            ));
        }
        let settled = self.path(name);
        match tokio::fs::metadata(&settled).await {
            Ok(_) => Ok(settled),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let staged = self.staging_path(name);
                tokio::fs::metadata(&staged).await.map(|_| staged)
            }
            Err(error) => Err(error),
        }
    }

    /// Opens the blob `name` for reading. `NotFound` when it was deleted meanwhile (the
    /// caller re-reads the catalog).
    pub(super) async fn open(&self, name: &str) -> io::Result<tokio::fs::File> {
        if !is_blob_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a blob name",
            ));
        }
        match tokio::fs::File::open(self.path(name)).await {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tokio::fs::File::open(self.staging_path(name)).await
            }
            other => other,
        }
    }

    /// Removes the blob `name` wherever it is; a missing one is not an error.
    pub(super) async fn remove(&self, name: &str) -> io::Result<()> {
        if !is_blob_name(name) {
            return Ok(());
        }
        for path in [self.path(name), self.staging_path(name)] {
            match tokio::fs::remove_file(&path).await {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// Names of the blobs left in staging (by a crash or an interrupted write).
    pub(super) async fn staged(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut entries = tokio::fs::read_dir(&self.staging).await?;
        while let Some(entry) = entries.next_entry().await? {
            if let Some(name) = entry.file_name().to_str().filter(|n| is_blob_name(n)) {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_podpass_makes_are_blob_names() {
        assert!(is_blob_name(&new_blob_name()));
        for name in [
            "",
            "..",
            "../x",
            "0123456789abcdef0123456789abcde/",
            "0123456789ABCDEF0123456789ABCDEF",
        ] {
            assert!(!is_blob_name(name), "{name}");
        }
    }

    #[tokio::test]
    async fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::at(dir.path()).unwrap();
        let body = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"half")),
            Err::<Bytes, StdError>("connection reset".into()),
        ]);
        let error = blobs.write(body, 1024, |_| {}).await.err().unwrap();
        assert!(matches!(error, WriteError::Body(_)), "{error}");
        assert!(blobs.staged().await.unwrap().is_empty());

        let too_long = futures::stream::iter(vec![Ok::<_, StdError>(Bytes::from_static(b"12345"))]);
        let error = blobs.write(too_long, 4, |_| {}).await.err().unwrap();
        assert!(matches!(error, WriteError::TooLarge(4)), "{error}");
        assert!(blobs.staged().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_blob_is_readable_staged_and_settled() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::at(dir.path()).unwrap();
        let body = futures::stream::iter(vec![Ok::<_, StdError>(Bytes::from_static(b"bytes"))]);
        let (staged, size) = blobs.write(body, 1024, |_| {}).await.unwrap();
        assert_eq!(size, 5);
        let name = staged.keep();
        assert!(blobs.open(&name).await.is_ok());
        blobs.settle(&name).await.unwrap();
        assert!(blobs.open(&name).await.is_ok());
        assert!(blobs.staged().await.unwrap().is_empty());
        blobs.remove(&name).await.unwrap();
        assert!(blobs.open(&name).await.is_err());
    }
}
