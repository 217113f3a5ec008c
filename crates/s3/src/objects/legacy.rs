//! Imports the objects an earlier podpass kept as files (`<root>/data/<bucket>/<key path>`,
//! s3s-fs's layout) once, then renames that directory `data.imported`. Only the bytes and
//! names come over: the old store's content headers were in side files it managed itself.

use std::io;
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use s3s::crypto::Checksum as _;

use super::catalog::{ObjectRow, Precondition};
use super::{MAX_PUT_SIZE, ObjectStore, OpenError, now};

/// Files under `dir`, with their paths relative to it joined by `/`, depth first.
fn files_under(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![(String::new(), dir.to_owned())];
    while let Some((prefix, dir)) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(path = %entry.path().display(), "not imported: the name is not UTF-8");
                continue;
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((format!("{prefix}{name}/"), entry.path()));
            } else if kind.is_file() {
                found.push((format!("{prefix}{name}"), entry.path()));
            }
        }
    }
    Ok(found)
}

pub(super) async fn import(store: &ObjectStore, data: &Path) -> Result<(), OpenError> {
    if !data.is_dir() {
        return Ok(());
    }
    let mut imported = 0_usize;
    for entry in std::fs::read_dir(data)? {
        let entry = entry?;
        let Some(bucket) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // s3s-fs kept its own bookkeeping as dot files beside the buckets.
        if bucket.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        store.catalog.create_bucket(&bucket, now()).await?;
        for (key, path) in files_under(&entry.path())? {
            let file = tokio::fs::File::open(&path).await?;
            let body = tokio_util::io::ReaderStream::new(file)
                .map(|chunk| chunk.map_err(|e| Box::new(e) as s3s::StdError));
            let mut md5 = s3s::crypto::Md5::new();
            let (staged, size) = store
                .blobs
                .write(body, MAX_PUT_SIZE, |chunk| md5.update(chunk))
                .await
                .map_err(|error| io::Error::other(error.to_string()))?;
            let object = ObjectRow {
                bucket: bucket.clone(),
                key,
                blob: staged.name.clone(),
                size,
                etag: hex::encode(md5.finalize()),
                modified: now(),
                attrs: "{}".to_owned(),
            };
            store
                .commit_object(staged, object, Precondition::Always)
                .await
                .map_err(|error| io::Error::other(format!("{error:?}")))?;
            imported += 1;
        }
    }
    let done = data.with_extension("imported");
    std::fs::rename(data, &done)?;
    tracing::info!(imported, from = %done.display(), "objects of the earlier file store imported");
    Ok(())
}
