//! The catalog of the embedded object store: buckets, objects, multipart uploads and their parts,
//! in a SQLite database beside the blobs. A key is a column value compared byte for byte, never
//! a path: `a/../x` and `x` are two rows, as they are two objects in S3.
//!
//! Every change that replaces or removes a blob records it in `dead_blobs` in the same
//! transaction, so a crash between the commit and the unlink leaves a note, not a leak.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// The schema; `user_version` counts the statements applied.
const SCHEMA: &[&str] = &[
    "CREATE TABLE buckets (
        name TEXT PRIMARY KEY,
        created BIGINT NOT NULL
    ) WITHOUT ROWID",
    "CREATE TABLE objects (
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        blob TEXT NOT NULL,
        size BIGINT NOT NULL,
        etag TEXT NOT NULL,
        modified BIGINT NOT NULL,
        attrs TEXT NOT NULL,
        PRIMARY KEY (bucket, key)
    ) WITHOUT ROWID",
    "CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        initiated BIGINT NOT NULL,
        attrs TEXT NOT NULL
    ) WITHOUT ROWID",
    "CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated)",
    "CREATE TABLE parts (
        upload_id TEXT NOT NULL,
        number BIGINT NOT NULL,
        blob TEXT NOT NULL,
        size BIGINT NOT NULL,
        etag TEXT NOT NULL,
        modified BIGINT NOT NULL,
        PRIMARY KEY (upload_id, number)
    ) WITHOUT ROWID",
    "CREATE TABLE dead_blobs (blob TEXT PRIMARY KEY) WITHOUT ROWID",
    "ALTER TABLE buckets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
];

/// An object's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectRow {
    pub bucket: String,
    pub key: String,
    /// The name of the blob file holding the bytes (chosen by podpass, never by a caller).
    pub blob: String,
    pub size: u64,
    /// The ETag without quotes.
    pub etag: String,
    /// Last modified, unix seconds.
    pub modified: i64,
    /// Content headers, user metadata and checksums (JSON of `ObjectAttrs`).
    pub attrs: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadRow {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: i64,
    pub attrs: String,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRow {
    pub number: i32,
    pub blob: String,
    pub size: u64,
    pub etag: String,
    pub modified: i64,
}

/// What must hold of the object under a key for a write to it to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition<'a> {
    /// Nothing.
    Always,
    /// No object (`If-None-Match: *`).
    Absent,
    /// An object (`If-Match: *`).
    Present,
    /// An object with this ETag (`If-Match: "etag"`).
    ETag(&'a str),
}

/// The outcome of a write of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Put {
    /// Stored; the blob of the object it replaced, noted dead.
    Stored(Option<String>),
    /// The bucket does not exist.
    NoBucket,
    /// The precondition wanted an object and there is none.
    NoObject,
    /// The precondition does not hold.
    Failed,
}

/// Why a bucket could not be deleted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeleteBucketError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("the bucket is not empty")]
    NotEmpty,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Handle on the catalog database; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Catalog {
    pool: SqlitePool,
}

fn size_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn object_row(row: &sqlx::sqlite::SqliteRow) -> ObjectRow {
    ObjectRow {
        bucket: row.get("bucket"),
        key: row.get("key"),
        blob: row.get("blob"),
        size: size_of(row.get("size")),
        etag: row.get("etag"),
        modified: row.get("modified"),
        attrs: row.get("attrs"),
    }
}

fn part_row(row: &sqlx::sqlite::SqliteRow) -> PartRow {
    PartRow {
        number: i32::try_from(row.get::<i64, _>("number")).unwrap_or_default(),
        blob: row.get("blob"),
        size: size_of(row.get("size")),
        etag: row.get("etag"),
        modified: row.get("modified"),
    }
}

fn upload_row(row: &sqlx::sqlite::SqliteRow) -> UploadRow {
    UploadRow {
        id: row.get("id"),
        bucket: row.get("bucket"),
        key: row.get("key"),
        initiated: row.get("initiated"),
        attrs: row.get("attrs"),
    }
}

fn db_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// The columns of an object row, in [`ObjectRow`]'s order.
macro_rules! object_columns {
    () => {
        "bucket, key, blob, size, etag, modified, attrs"
    };
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path`. WAL, so that readers never wait for
    /// a writer; `synchronous = NORMAL`, durable across a crash of the process (a commit is
    /// atomic either way), like the blobs, which are not fsynced either.
    pub(super) async fn open(path: &Path) -> Result<Catalog, sqlx::Error> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let catalog = Catalog { pool };
        catalog.migrate().await?;
        Ok(catalog)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        let applied = usize::try_from(applied).unwrap_or_default();
        for statement in SCHEMA.iter().skip(applied) {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        // PRAGMA takes no bound parameters; the number is ours.
        let version = format!("PRAGMA user_version = {}", SCHEMA.len());
        sqlx::query(sqlx::AssertSqlSafe(version))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Creates `bucket`; `false` if it exists already.
    pub(super) async fn create_bucket(&self, bucket: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO buckets (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(bucket)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether `bucket` exists.
    pub(super) async fn has_bucket(&self, bucket: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT 1 FROM buckets WHERE name = $1")
            .bind(bucket)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The tags of `bucket` (JSON), `None` if there is no such bucket.
    pub(super) async fn bucket_tags(&self, bucket: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT tags FROM buckets WHERE name = $1")
            .bind(bucket)
            .fetch_optional(&self.pool)
            .await
    }

    /// Replaces the tags of `bucket`; `false` if there is no such bucket.
    pub(super) async fn set_bucket_tags(
        &self,
        bucket: &str,
        tags: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE buckets SET tags = $1 WHERE name = $2")
            .bind(tags)
            .bind(bucket)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the attributes of the object `key` if it is still the one stored as `blob`;
    /// `false` if it was replaced or removed meanwhile.
    pub(super) async fn set_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        blob: &str,
        attrs: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE objects SET attrs = $1 WHERE bucket = $2 AND key = $3 AND blob = $4",
        )
        .bind(attrs)
        .bind(bucket)
        .bind(key)
        .bind(blob)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every bucket with its creation time, by name.
    pub(super) async fn buckets(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT name, created FROM buckets ORDER BY name")
            .fetch_all(&self.pool)
            .await
    }

    /// Deletes `bucket` if it holds no object and no upload in progress.
    pub(super) async fn delete_bucket(&self, bucket: &str) -> Result<(), DeleteBucketError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let in_use = sqlx::query(
            "SELECT 1 FROM objects WHERE bucket = $1 UNION ALL SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1",
        )
        .bind(bucket)
        .fetch_optional(&mut *tx)
        .await?;
        if in_use.is_some() {
            return Err(DeleteBucketError::NotEmpty);
        }
        let done = sqlx::query("DELETE FROM buckets WHERE name = $1")
            .bind(bucket)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DeleteBucketError::NoSuchBucket);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The object `key` of `bucket`.
    pub(super) async fn object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRow>, sqlx::Error> {
        let row = sqlx::query(concat!(
            "SELECT ",
            object_columns!(),
            " FROM objects WHERE bucket = $1 AND key = $2"
        ))
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(object_row))
    }

    /// Up to `limit` objects of `bucket` whose key is after `after` and at least `from`, in key
    /// order (UTF-8 byte order, as S3 lists).
    ///
    /// The query has one lower bound, the tighter of the two: given both, SQLite seeks the
    /// index to only one of them and filters every row up to the other, so a listing of a
    /// prefix late in a large bucket would read all the keys before it.
    pub(super) async fn objects_after(
        &self,
        bucket: &str,
        after: &str,
        from: &str,
        limit: u32,
    ) -> Result<Vec<ObjectRow>, sqlx::Error> {
        let (query, bound) = if from > after {
            (
                concat!(
                    "SELECT ",
                    object_columns!(),
                    " FROM objects WHERE bucket = $1 AND key >= $2 ORDER BY key LIMIT $3"
                ),
                from,
            )
        } else {
            (
                concat!(
                    "SELECT ",
                    object_columns!(),
                    " FROM objects WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT $3"
                ),
                after,
            )
        };
        let rows = sqlx::query(query)
            .bind(bucket)
            .bind(bound)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(object_row).collect())
    }

    /// Stores `object` if `precondition` holds, replacing the one under its key, in one
    /// transaction (so conditional writes are decided against what is there at commit).
    pub(super) async fn put_object(
        &self,
        object: &ObjectRow,
        precondition: Precondition<'_>,
    ) -> Result<Put, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let put = Self::upsert_object(&mut tx, object, precondition).await?;
        if matches!(put, Put::Stored(_)) {
            tx.commit().await?;
        }
        Ok(put)
    }

    async fn upsert_object(
        tx: &mut sqlx::SqliteConnection,
        object: &ObjectRow,
        precondition: Precondition<'_>,
    ) -> Result<Put, sqlx::Error> {
        let bucket = sqlx::query("SELECT 1 FROM buckets WHERE name = $1")
            .bind(&object.bucket)
            .fetch_optional(&mut *tx)
            .await?;
        if bucket.is_none() {
            return Ok(Put::NoBucket);
        }
        let old: Option<(String, String)> =
            sqlx::query_as("SELECT blob, etag FROM objects WHERE bucket = $1 AND key = $2")
                .bind(&object.bucket)
                .bind(&object.key)
                .fetch_optional(&mut *tx)
                .await?;
        match (precondition, &old) {
            (Precondition::Always, _)
            | (Precondition::Absent, None)
            | (Precondition::Present, Some(_)) => {}
            (Precondition::ETag(wanted), Some((_, etag))) if wanted == etag => {}
            (Precondition::Present | Precondition::ETag(_), None) => return Ok(Put::NoObject),
            _ => return Ok(Put::Failed),
        }
        let old = old.map(|(blob, _)| blob);
        sqlx::query(concat!(
            "INSERT INTO objects (",
            object_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (bucket, key) DO UPDATE SET blob = excluded.blob, size = excluded.size, \
             etag = excluded.etag, modified = excluded.modified, attrs = excluded.attrs"
        ))
        .bind(&object.bucket)
        .bind(&object.key)
        .bind(&object.blob)
        .bind(db_size(object.size))
        .bind(&object.etag)
        .bind(object.modified)
        .bind(&object.attrs)
        .execute(&mut *tx)
        .await?;
        if let Some(old) = &old {
            Self::note_dead(tx, old).await?;
        }
        Ok(Put::Stored(old))
    }

    async fn note_dead(tx: &mut sqlx::SqliteConnection, blob: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO dead_blobs (blob) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(blob)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Deletes the object `key` of `bucket`; its blob is returned (and noted dead).
    pub(super) async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let blob: Option<String> =
            sqlx::query_scalar("DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING blob")
                .bind(bucket)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(blob) = &blob {
            Self::note_dead(&mut tx, blob).await?;
            tx.commit().await?;
        }
        Ok(blob)
    }

    /// Starts a multipart upload.
    pub(super) async fn create_upload(&self, upload: &UploadRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO uploads (id, bucket, key, initiated, attrs) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&upload.id)
        .bind(&upload.bucket)
        .bind(&upload.key)
        .bind(upload.initiated)
        .bind(&upload.attrs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The upload `id`, if it is in progress for `bucket` and `key`.
    pub(super) async fn upload(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<UploadRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, bucket, key, initiated, attrs FROM uploads WHERE id = $1 AND bucket = $2 AND key = $3",
        )
        .bind(id)
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(upload_row))
    }

    /// Up to `limit` uploads in progress in `bucket` whose key starts at or after `from`, after
    /// (`key`, `id`) = `after`, by key then initiation.
    pub(super) async fn uploads_after(
        &self,
        bucket: &str,
        after: (&str, &str),
        from: &str,
        limit: u32,
    ) -> Result<Vec<UploadRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, bucket, key, initiated, attrs FROM uploads \
             WHERE bucket = $1 AND (key > $2 OR (key = $2 AND id > $3)) AND key >= $4 \
             ORDER BY key, id LIMIT $5",
        )
        .bind(bucket)
        .bind(after.0)
        .bind(after.1)
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(upload_row).collect())
    }

    /// Records part `part.number` of upload `upload_id`, replacing an earlier upload of the
    /// same number; the replaced blob is returned (and noted dead). `None` when the upload is
    /// no longer in progress.
    pub(super) async fn put_part(
        &self,
        upload_id: &str,
        part: &PartRow,
    ) -> Result<Option<Option<String>>, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let upload = sqlx::query("SELECT 1 FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&mut *tx)
            .await?;
        if upload.is_none() {
            return Ok(None);
        }
        let old: Option<String> =
            sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = $1 AND number = $2")
                .bind(upload_id)
                .bind(i64::from(part.number))
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO parts (upload_id, number, blob, size, etag, modified) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (upload_id, number) DO UPDATE SET blob = excluded.blob, size = excluded.size, \
             etag = excluded.etag, modified = excluded.modified",
        )
        .bind(upload_id)
        .bind(i64::from(part.number))
        .bind(&part.blob)
        .bind(db_size(part.size))
        .bind(&part.etag)
        .bind(part.modified)
        .execute(&mut *tx)
        .await?;
        if let Some(old) = &old {
            Self::note_dead(&mut tx, old).await?;
        }
        tx.commit().await?;
        Ok(Some(old))
    }

    /// Up to `limit` parts of upload `upload_id` numbered above `after`, by number.
    pub(super) async fn parts_after(
        &self,
        upload_id: &str,
        after: i32,
        limit: u32,
    ) -> Result<Vec<PartRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT number, blob, size, etag, modified FROM parts \
             WHERE upload_id = $1 AND number > $2 ORDER BY number LIMIT $3",
        )
        .bind(upload_id)
        .bind(i64::from(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(part_row).collect())
    }

    /// Ends upload `upload_id` by storing `object` (when completing, if `precondition`
    /// holds) and removing the upload with all its parts. Returns every blob that became dead
    /// (the parts', and the replaced object's), or `Err` with why nothing changed: `NoBucket`
    /// when the upload was no longer in progress or its bucket is gone.
    pub(super) async fn end_upload(
        &self,
        upload_id: &str,
        object: Option<(&ObjectRow, Precondition<'_>)>,
    ) -> Result<Result<Vec<String>, Put>, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ended = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        if ended.rows_affected() == 0 {
            return Ok(Err(Put::NoBucket));
        }
        let mut dead: Vec<String> =
            sqlx::query_scalar("DELETE FROM parts WHERE upload_id = $1 RETURNING blob")
                .bind(upload_id)
                .fetch_all(&mut *tx)
                .await?;
        if let Some((object, precondition)) = object {
            match Self::upsert_object(&mut tx, object, precondition).await? {
                Put::Stored(replaced) => dead.extend(replaced),
                refused => return Ok(Err(refused)),
            }
        }
        for blob in &dead {
            Self::note_dead(&mut tx, blob).await?;
        }
        tx.commit().await?;
        Ok(Ok(dead))
    }

    /// Forgets a dead blob once its file is gone.
    pub(super) async fn forget_dead(&self, blob: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM dead_blobs WHERE blob = $1")
            .bind(blob)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every blob noted dead and not yet forgotten (after a crash).
    pub(super) async fn dead_blobs(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT blob FROM dead_blobs")
            .fetch_all(&self.pool)
            .await
    }

    /// Whether an object or a part refers to `blob`.
    pub(super) async fn is_referenced(&self, blob: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT 1 FROM objects WHERE blob = $1 UNION ALL SELECT 1 FROM parts WHERE blob = $1 LIMIT 1",
        )
        .bind(blob)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
