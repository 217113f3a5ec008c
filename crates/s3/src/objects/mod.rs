//! The embedded object store: S3's data model on podpass's own terms. A key is an opaque string
//! of at most 1,024 bytes of UTF-8, a row in the catalog and nothing else; bytes live in blobs
//! named by podpass. `a/../x`, `./a`, `a//b`, `..` or `%2e%2e` are keys like any other, each its
//! own object: the key IAM authorized is exactly the key read or written, by construction.

mod attrs;
mod blobs;
mod catalog;
mod legacy;
mod listing;
pub(crate) mod tagging;

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use futures::StreamExt as _;
use s3s::crypto::Checksum as _;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use self::attrs::{Checksums, ObjectAttrs, expected_checksums};
use self::blobs::{Blobs, WriteError};
use self::catalog::{Catalog, DeleteBucketError, ObjectRow, PartRow, Precondition, Put, UploadRow};
use self::listing::{ListQuery, common_prefix};

/// The largest object one PutObject or part may carry: 5 GiB.
const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Every part but the last of a completed multipart upload is at least 5 MiB.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Parts of one multipart upload, and keys of one DeleteObjects.
const MAX_PARTS: usize = 10_000;
const MAX_DELETE_KEYS: usize = 1_000;
/// Keys of one listing page.
const MAX_LIST_KEYS: i32 = 1_000;

/// The store over a directory: `catalog.db`, `staging/` and `blobs/`.
pub(crate) struct ObjectStore {
    catalog: Catalog,
    blobs: Blobs,
    region: String,
    /// The account's canonical user id: every bucket and object is the account's.
    owner_id: String,
}

/// Why the store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The catalog database failed.
    #[error("object catalog: {0}")]
    Catalog(#[from] sqlx::Error),
    /// The blob directories failed.
    #[error("object blobs: {0}")]
    Io(#[from] io::Error),
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn timestamp(seconds: i64) -> Timestamp {
    let seconds = u64::try_from(seconds).unwrap_or_default();
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// A failure of podpass itself: logged, and only `InternalError` reaches the caller.
fn internal(error: impl std::fmt::Display) -> S3Error {
    tracing::error!(%error, "object store");
    S3Error::new(S3ErrorCode::InternalError)
}

fn write_error(error: WriteError) -> S3Error {
    match error {
        WriteError::Body(source) => {
            // s3s's body checks surface as stream errors; their types are private, their
            // names are not (pinned s3s; `tests/keys.rs` covers the mapping).
            let text = source.to_string();
            if text.contains("Sha256Mismatch") {
                let mut error = S3Error::with_message(
                    S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                );
                error.set_status_code(http::StatusCode::BAD_REQUEST);
                error
            } else if text.contains("SignatureMismatch") {
                S3Error::with_message(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided.",
                )
            } else {
                tracing::info!(error = %text, "request body refused");
                S3Error::with_message(
                    S3ErrorCode::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                )
            }
        }
        WriteError::TooLarge(_) => S3Error::with_message(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ),
        WriteError::Io(error) => internal(error),
    }
}

fn no_such_bucket() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

fn no_such_key() -> S3Error {
    S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
}

/// The error of a write the catalog refused.
fn refused_put(put: Put) -> S3Error {
    match put {
        Put::NoBucket => no_such_bucket(),
        Put::NoObject => no_such_key(),
        Put::Failed | Put::Stored(_) => S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        ),
    }
}

/// The precondition of a write's `If-Match` / `If-None-Match` headers.
fn write_precondition<'a>(
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Precondition<'a>> {
    match (if_match, if_none_match) {
        (None, None) => Ok(Precondition::Always),
        (None, Some(ETagCondition::Any)) => Ok(Precondition::Absent),
        (Some(ETagCondition::Any), None) => Ok(Precondition::Present),
        (Some(ETagCondition::ETag(etag)), None) => Ok(Precondition::ETag(etag.value())),
        _ => Err(s3_error!(
            NotImplemented,
            "A header you provided implies functionality that is not implemented"
        )),
    }
}

fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn malformed_xml() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Only the null version exists in an unversioned bucket.
fn require_null_version(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified",
        )),
    }
}

/// The preconditions of a read (RFC 7232 order, as S3 applies them).
struct ReadConditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
}

impl ReadConditions<'_> {
    /// `Err(PreconditionFailed)` or, for reads, `Err(NotModified)`; `not_modified` is the
    /// error a matching If-None-Match gives (copies answer 412 where reads answer 304).
    fn check(&self, object: &ObjectRow, not_modified: S3ErrorCode) -> S3Result<()> {
        let etag = ETag::Strong(object.etag.clone());
        let modified = timestamp(object.modified);
        let matches = |condition: &ETagCondition| match condition {
            ETagCondition::Any => true,
            ETagCondition::ETag(expected) => expected.strong_cmp(&etag),
        };
        match (self.if_match, self.if_unmodified_since) {
            (Some(condition), _) if !matches(condition) => {
                return Err(s3_error!(PreconditionFailed));
            }
            (None, Some(since)) if modified > *since => return Err(s3_error!(PreconditionFailed)),
            _ => {}
        }
        match (self.if_none_match, self.if_modified_since) {
            (Some(condition), _) if matches(condition) => Err(S3Error::new(not_modified)),
            (None, Some(since)) if modified <= *since => Err(S3Error::new(not_modified)),
            _ => Ok(()),
        }
    }
}

/// `url`-encodes listing values when the client asked for it (boto3 always does): every byte
/// but the unreserved ones and `/`, so `unquote` and `unquote_plus` both restore the key.
struct Encoder(bool);

impl Encoder {
    fn new(encoding: Option<&EncodingType>) -> Encoder {
        Encoder(encoding.is_some_and(|e| e.as_str() == EncodingType::URL))
    }

    fn encode(&self, value: &str) -> String {
        const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~')
            .remove(b'/');
        if self.0 {
            percent_encoding::utf8_percent_encode(value, KEEP).to_string()
        } else {
            value.to_owned()
        }
    }
}

fn listed_object(row: ObjectRow, encoder: &Encoder) -> Object {
    Object {
        key: Some(encoder.encode(&row.key)),
        size: Some(i64::try_from(row.size).unwrap_or(i64::MAX)),
        e_tag: Some(ETag::Strong(row.etag)),
        last_modified: Some(timestamp(row.modified)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Object::default()
    }
}

fn listed_objects(rows: Vec<ObjectRow>, encoder: &Encoder) -> Vec<Object> {
    rows.into_iter()
        .map(|row| listed_object(row, encoder))
        .collect()
}

fn listed_prefixes(prefixes: &[String], encoder: &Encoder) -> Vec<CommonPrefix> {
    prefixes
        .iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(encoder.encode(prefix)),
        })
        .collect()
}

/// An account's canonical user id: 64 hex digits, as S3's, derived from the account id so that
/// it is stable (S3's own are opaque).
fn canonical_user_id(account_id: &str) -> String {
    format!("{:0>64}", hex::encode(account_id))
}

/// The canned ACL that buckets with ACLs disabled (S3's default since 2023, `BucketOwnerEnforced`)
/// still accept, since it grants nothing beyond what the owner has.
const OWNER_FULL_CONTROL: &str = "bucket-owner-full-control";

/// S3's answer to an ACL on a bucket whose ACLs are disabled.
fn acls_disabled() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessControlListNotSupported,
        "The bucket does not allow ACLs",
    )
}

/// Refuses an ACL other than [`OWNER_FULL_CONTROL`] (none given is fine).
fn check_acl(canned: Option<&str>, grants: &[Option<&String>], policy: bool) -> S3Result<()> {
    let other_canned = canned.is_some_and(|acl| acl != OWNER_FULL_CONTROL);
    if other_canned || policy || grants.iter().any(Option::is_some) {
        return Err(acls_disabled());
    }
    Ok(())
}

/// What S3 encrypts every object with since 2023 unless told otherwise, and says so.
fn sse_s3() -> ServerSideEncryption {
    ServerSideEncryption::from_static(ServerSideEncryption::AES256)
}

/// Only SSE-S3 (`AES256`) is kept here: a KMS key cannot be honoured, so it is refused rather
/// than silently ignored.
fn check_encryption(requested: Option<&ServerSideEncryption>) -> S3Result<()> {
    match requested.map(ServerSideEncryption::as_str) {
        None | Some(ServerSideEncryption::AES256) => Ok(()),
        Some(other) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("podpass keeps objects with SSE-S3 (AES256) only, not {other}"),
        )),
    }
}

/// Reads the tags of objects and buckets for the authorizer's tag conditions
/// (`s3:ExistingObjectTag/*`, `aws:ResourceTag/*`), sharing the store's catalog.
#[derive(Clone)]
pub(crate) struct TagReader {
    catalog: Catalog,
}

impl TagReader {
    /// The tags of the object `key` (none if there is no such object).
    pub(crate) async fn object_tags(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<tagging::Tags, String> {
        let Some(object) = self
            .catalog
            .object(bucket, key)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(Vec::new());
        };
        ObjectAttrs::from_json(&object.attrs)
            .map(|attrs| attrs.tags)
            .map_err(|e| e.to_string())
    }

    /// The tags of `bucket` (none if there is no such bucket).
    pub(crate) async fn bucket_tags(&self, bucket: &str) -> Result<tagging::Tags, String> {
        match self.catalog.bucket_tags(bucket).await {
            Ok(Some(stored)) => serde_json::from_str(&stored).map_err(|e| e.to_string()),
            Ok(None) => Ok(Vec::new()),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// The tags an `x-amz-tagging` header asks for (none without it).
fn header_tags(header: Option<&str>) -> S3Result<tagging::Tags> {
    header.map_or_else(|| Ok(Vec::new()), tagging::from_header)
}

/// `x-amz-tagging-count`: how many tags an object has, when it has any.
fn tag_count(tags: &tagging::Tags) -> Option<i32> {
    (!tags.is_empty()).then(|| i32::try_from(tags.len()).unwrap_or(i32::MAX))
}

/// The page size a listing asks for, within S3's 1,000.
fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Provided max-keys not an integer or within integer range",
        )),
        Some(n) => Ok(usize::try_from(n.min(MAX_LIST_KEYS)).unwrap_or_default()),
        None => Ok(MAX_LIST_KEYS as usize),
    }
}

impl ObjectStore {
    /// Opens the store under `root` (objects of `account_id` in `region`), settling what a
    /// crash left behind and importing an earlier podpass's `data/` directory once.
    pub(crate) async fn open(
        root: &Path,
        account_id: &str,
        region: &str,
    ) -> Result<ObjectStore, OpenError> {
        std::fs::create_dir_all(root)?;
        let store = ObjectStore {
            catalog: Catalog::open(&root.join("catalog.db")).await?,
            blobs: Blobs::at(root)?,
            region: region.to_owned(),
            owner_id: canonical_user_id(account_id),
        };
        store.recover().await?;
        legacy::import(&store, &root.join("data")).await?;
        Ok(store)
    }

    /// The account, as S3 names owners.
    fn owner(&self) -> Owner {
        Owner {
            id: Some(self.owner_id.clone()),
            display_name: None,
        }
    }

    /// The one grant of a bucket or object whose ACLs are disabled.
    fn owner_full_control(&self) -> Grant {
        Grant {
            grantee: Some(Grantee {
                id: Some(self.owner_id.clone()),
                type_: Type::from_static(Type::CANONICAL_USER),
                display_name: None,
                email_address: None,
                uri: None,
            }),
            permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
        }
    }

    /// Removes blobs noted dead and settles or removes staged ones.
    async fn recover(&self) -> Result<(), OpenError> {
        for blob in self.catalog.dead_blobs().await? {
            self.blobs.remove(&blob).await?;
            self.catalog.forget_dead(&blob).await?;
        }
        for blob in self.blobs.staged().await? {
            if self.catalog.is_referenced(&blob).await? {
                self.blobs.settle(&blob).await?;
            } else {
                self.blobs.remove(&blob).await?;
            }
        }
        Ok(())
    }

    /// Unlinks blobs the catalog no longer refers to. A failure only leaves a dead-blob note
    /// for the next start.
    async fn bury(&self, dead: impl IntoIterator<Item = String>) {
        for blob in dead {
            match self.blobs.remove(&blob).await {
                Ok(()) => {
                    if let Err(error) = self.catalog.forget_dead(&blob).await {
                        tracing::warn!(%error, %blob, "dead blob left noted");
                    }
                }
                Err(error) => tracing::warn!(%error, %blob, "dead blob not removed"),
            }
        }
    }

    async fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        match self.catalog.has_bucket(bucket).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(no_such_bucket()),
            Err(error) => Err(internal(error)),
        }
    }

    /// Replaces the tags of the object `key`, keeping everything else of it; a put that
    /// replaces the object meanwhile wins, and the tags are applied to the new one.
    async fn set_tags(&self, bucket: &str, key: &str, tags: tagging::Tags) -> S3Result<()> {
        for _ in 0..8 {
            let object = self.object(bucket, key).await?;
            let mut attrs = ObjectAttrs::from_json(&object.attrs).map_err(internal)?;
            attrs.tags = tags.clone();
            let updated = self
                .catalog
                .set_object_attrs(bucket, key, &object.blob, &attrs.to_json())
                .await
                .map_err(internal)?;
            if updated {
                return Ok(());
            }
        }
        Err(internal("the object kept changing while it was tagged"))
    }

    /// The tags of `bucket`, or `NoSuchBucket`.
    async fn bucket_tags(&self, bucket: &str) -> S3Result<tagging::Tags> {
        let stored = self
            .catalog
            .bucket_tags(bucket)
            .await
            .map_err(internal)?
            .ok_or_else(no_such_bucket)?;
        serde_json::from_str(&stored).map_err(internal)
    }

    async fn set_bucket_tags(&self, bucket: &str, tags: &tagging::Tags) -> S3Result<()> {
        let json = serde_json::to_string(tags).map_err(internal)?;
        let updated = self
            .catalog
            .set_bucket_tags(bucket, &json)
            .await
            .map_err(internal)?;
        if updated {
            Ok(())
        } else {
            Err(no_such_bucket())
        }
    }

    /// What the authorizer reads of objects and buckets for tag conditions.
    pub(crate) fn tag_reader(&self) -> TagReader {
        TagReader {
            catalog: self.catalog.clone(),
        }
    }

    /// The object `key`, or `NoSuchKey` / `NoSuchBucket`.
    async fn object(&self, bucket: &str, key: &str) -> S3Result<ObjectRow> {
        match self.catalog.object(bucket, key).await.map_err(internal)? {
            Some(object) => Ok(object),
            None => {
                self.require_bucket(bucket).await?;
                Err(no_such_key())
            }
        }
    }

    /// The object and its open blob. A blob replaced between the two reads is re-read.
    async fn open_object(&self, bucket: &str, key: &str) -> S3Result<(ObjectRow, tokio::fs::File)> {
        for _ in 0..8 {
            let object = self.object(bucket, key).await?;
            match self.blobs.open(&object.blob).await {
                Ok(file) => return Ok((object, file)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(internal(error)),
            }
        }
        Err(internal("the object kept changing while it was opened"))
    }

    /// Records a written blob as `object` if `precondition` holds, and settles it.
    async fn commit_object(
        &self,
        staged: blobs::StagedBlob,
        object: ObjectRow,
        precondition: Precondition<'_>,
    ) -> S3Result<()> {
        let put = self
            .catalog
            .put_object(&object, precondition)
            .await
            .map_err(internal)?;
        match put {
            Put::Stored(replaced) => {
                self.settle(staged).await;
                self.bury(replaced).await;
                Ok(())
            }
            refused => Err(refused_put(refused)),
        }
    }

    /// Moves a blob the catalog now refers to into place. A failure leaves it readable from
    /// staging, and the next start settles it.
    async fn settle(&self, staged: blobs::StagedBlob) {
        let blob = staged.keep();
        if let Err(error) = self.blobs.settle(&blob).await {
            tracing::warn!(%error, %blob, "blob left in staging");
        }
    }

    /// The source object of a copy, with its preconditions checked.
    async fn copy_source(
        &self,
        source: &CopySource,
        conditions: &ReadConditions<'_>,
    ) -> S3Result<ObjectRow> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Copies from access points are not supported"
            ));
        };
        require_null_version(version_id.as_deref())?;
        let object = self.object(bucket, key).await?;
        conditions.check(&object, S3ErrorCode::PreconditionFailed)?;
        Ok(object)
    }

    /// Stages a copy of `source`'s bytes, retrying if it is replaced meanwhile.
    async fn stage_copy(
        &self,
        source: &CopySource,
        conditions: &ReadConditions<'_>,
    ) -> S3Result<(ObjectRow, blobs::StagedBlob)> {
        for _ in 0..8 {
            let object = self.copy_source(source, conditions).await?;
            match self.blobs.copy(&object.blob).await {
                Ok(staged) => return Ok((object, staged)),
                Err(WriteError::Io(error)) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(write_error(error)),
            }
        }
        Err(internal("the copy source kept changing while it was read"))
    }
}

/// A body with its MD5 and the checksums the client announced, verified.
struct Written {
    staged: blobs::StagedBlob,
    size: u64,
    etag: String,
    checksums: Checksums,
}

impl ObjectStore {
    /// Writes a PutObject or UploadPart body: MD5 (the ETag) and the announced checksums
    /// computed in the same pass, then compared with what the client sent.
    async fn write_body(
        &self,
        body: Option<StreamingBlob>,
        content_md5: Option<&str>,
        announced: Checksums,
        algorithm: Option<&ChecksumAlgorithm>,
        trailers: Option<s3s::TrailingHeaders>,
    ) -> S3Result<Written> {
        let Some(body) = body else {
            return Err(s3_error!(IncompleteBody, "The request body is missing"));
        };
        let mut hasher = expected_checksums(&announced, algorithm)?;
        let mut md5 = s3s::crypto::Md5::new();
        let (staged, size) = self
            .blobs
            .write(body, MAX_PUT_SIZE, |chunk| {
                md5.update(chunk);
                hasher.update(chunk);
            })
            .await
            .map_err(write_error)?;
        let digest = md5.finalize();
        if let Some(content_md5) = content_md5 {
            let sent = base64::engine::general_purpose::STANDARD
                .decode(content_md5)
                .map_err(|_| {
                    s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid.")
                })?;
            if sent != digest {
                return Err(s3_error!(
                    BadDigest,
                    "The Content-MD5 you specified did not match what we received."
                ));
            }
        }
        let checksums = Checksums::from(hasher.finalize());
        announced.with_trailers(trailers)?.verify(&checksums)?;
        Ok(Written {
            staged,
            size,
            etag: hex::encode(digest),
            checksums,
        })
    }
}

#[async_trait::async_trait]
impl S3 for ObjectStore {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let created = self
            .catalog
            .create_bucket(&req.input.bucket, now())
            .await
            .map_err(internal)?;
        // Every bucket here is the account's own: re-creating one succeeds in us-east-1 and
        // is BucketAlreadyOwnedByYou elsewhere, as in AWS.
        if !created && self.region != "us-east-1" {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", req.input.bucket)),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        match self.catalog.delete_bucket(&req.input.bucket).await {
            Ok(()) => Ok(S3Response::new(DeleteBucketOutput::default())),
            Err(DeleteBucketError::NoSuchBucket) => Err(no_such_bucket()),
            Err(DeleteBucketError::NotEmpty) => Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            )),
            Err(DeleteBucketError::Db(error)) => Err(internal(error)),
        }
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..HeadBucketOutput::default()
        }))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .catalog
            .buckets()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(created)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..ListBucketsOutput::default()
        }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        // Versioning is never enabled here: the answer for a bucket that never had it.
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        if input.version_id_marker.is_some() && input.key_marker.is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        require_null_version(input.version_id_marker.as_deref())?;
        self.require_bucket(&input.bucket).await?;
        let prefix = input.prefix.as_deref().unwrap_or("");
        let query = ListQuery {
            prefix,
            delimiter: input.delimiter.as_deref(),
            max_keys: max_keys(input.max_keys)?,
            after: input.key_marker.as_deref().unwrap_or(""),
        };
        let page = listing::list(&self.catalog, &input.bucket, &query)
            .await
            .map_err(internal)?;
        let encoder = Encoder::new(input.encoding_type.as_ref());
        // An unversioned bucket's objects are each their only version, `null`.
        let versions = page
            .objects
            .into_iter()
            .map(|row| ObjectVersion {
                key: Some(encoder.encode(&row.key)),
                version_id: Some("null".to_owned()),
                is_latest: Some(true),
                size: Some(i64::try_from(row.size).unwrap_or(i64::MAX)),
                e_tag: Some(ETag::Strong(row.etag)),
                last_modified: Some(timestamp(row.modified)),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                owner: Some(self.owner()),
                ..ObjectVersion::default()
            })
            .collect();
        let next_key_marker = page
            .last
            .as_deref()
            .filter(|_| page.truncated)
            .map(|last| encoder.encode(last));
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(encoder.encode(prefix)),
            key_marker: Some(encoder.encode(query.after)),
            version_id_marker: input.version_id_marker,
            max_keys: Some(i32::try_from(query.max_keys).unwrap_or(MAX_LIST_KEYS)),
            delimiter: input.delimiter.as_deref().map(|d| encoder.encode(d)),
            is_truncated: Some(page.truncated),
            next_version_id_marker: next_key_marker.as_ref().map(|_| "null".to_owned()),
            next_key_marker,
            versions: Some(versions),
            common_prefixes: Some(listed_prefixes(&page.prefixes, &encoder)),
            encoding_type: input.encoding_type,
            ..ListObjectVersionsOutput::default()
        }))
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketAclOutput {
            owner: Some(self.owner()),
            grants: Some(vec![self.owner_full_control()]),
        }))
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        check_acl(
            input.acl.as_ref().map(BucketCannedACL::as_str),
            &[
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write.as_ref(),
                input.grant_write_acp.as_ref(),
            ],
            input.access_control_policy.is_some(),
        )?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        require_null_version(req.input.version_id.as_deref())?;
        self.object(&req.input.bucket, &req.input.key).await?;
        Ok(S3Response::new(GetObjectAclOutput {
            owner: Some(self.owner()),
            grants: Some(vec![self.owner_full_control()]),
            ..GetObjectAclOutput::default()
        }))
    }

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let input = req.input;
        require_null_version(input.version_id.as_deref())?;
        self.object(&input.bucket, &input.key).await?;
        check_acl(
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            &[
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write.as_ref(),
                input.grant_write_acp.as_ref(),
            ],
            input.access_control_policy.is_some(),
        )?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        require_null_version(req.input.version_id.as_deref())?;
        let object = self.object(&req.input.bucket, &req.input.key).await?;
        let attrs = ObjectAttrs::from_json(&object.attrs).map_err(internal)?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tagging::to_tag_set(&attrs.tags),
            version_id: None,
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        require_null_version(input.version_id.as_deref())?;
        let tags = tagging::from_tag_set(&input.tagging.tag_set, tagging::MAX_OBJECT_TAGS)?;
        self.set_tags(&input.bucket, &input.key, tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput::default()))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        require_null_version(req.input.version_id.as_deref())?;
        self.set_tags(&req.input.bucket, &req.input.key, Vec::new())
            .await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput::default()))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let tags = self.bucket_tags(&req.input.bucket).await?;
        if tags.is_empty() {
            return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
        }
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tagging::to_tag_set(&tags),
        }))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let tags = tagging::from_tag_set(&req.input.tagging.tag_set, tagging::MAX_BUCKET_TAGS)?;
        self.set_bucket_tags(&req.input.bucket, &tags).await?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.set_bucket_tags(&req.input.bucket, &Vec::new()).await?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        // us-east-1 is the empty constraint.
        let location_constraint = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        if input
            .content_length
            .is_some_and(|n| n as u64 > MAX_PUT_SIZE)
        {
            return Err(write_error(WriteError::TooLarge(MAX_PUT_SIZE)));
        }
        let precondition =
            write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        check_acl(
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            &[
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write_acp.as_ref(),
            ],
            false,
        )?;
        check_encryption(input.server_side_encryption.as_ref())?;
        let tags = header_tags(input.tagging.as_deref())?;
        self.require_bucket(&input.bucket).await?;
        let announced = Checksums::announced(
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_sha1,
            &input.checksum_sha256,
            &input.checksum_crc64nvme,
        );
        let written = self
            .write_body(
                input.body,
                input.content_md5.as_deref(),
                announced,
                input.checksum_algorithm.as_ref(),
                req.trailing_headers,
            )
            .await?;
        let attrs = ObjectAttrs {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            website_redirect_location: input.website_redirect_location,
            metadata: input.metadata,
            checksums: written.checksums.clone(),
            multipart_parts: None,
            tags,
        };
        let object = ObjectRow {
            bucket: input.bucket,
            key: input.key,
            blob: written.staged.name.clone(),
            size: written.size,
            etag: written.etag.clone(),
            modified: now(),
            attrs: attrs.to_json(),
        };
        self.commit_object(written.staged, object, precondition)
            .await?;
        let checksums = written.checksums;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(written.etag)),
            checksum_crc32: checksums.crc32,
            checksum_crc32c: checksums.crc32c,
            checksum_sha1: checksums.sha1,
            checksum_sha256: checksums.sha256,
            checksum_crc64nvme: checksums.crc64nvme,
            server_side_encryption: Some(sse_s3()),
            ..PutObjectOutput::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        require_null_version(input.version_id.as_deref())?;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "GetObject by part number is not supported"
            ));
        }
        let (object, mut file) = self.open_object(&input.bucket, &input.key).await?;
        ReadConditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(&object, S3ErrorCode::NotModified)?;
        let attrs = ObjectAttrs::from_json(&object.attrs).map_err(internal)?;
        let (range, content_range) = match &input.range {
            None => (0..object.size, None),
            Some(range) => {
                let range = range.check(object.size)?;
                let content_range =
                    format!("bytes {}-{}/{}", range.start, range.end - 1, object.size);
                (range, Some(content_range))
            }
        };
        file.seek(io::SeekFrom::Start(range.start))
            .await
            .map_err(internal)?;
        let length = range.end - range.start;
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(length), 64 * 1024);
        let whole = length == object.size;
        let checksums = attrs.checksums_for(input.checksum_mode.as_ref(), whole);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some(i64::try_from(length).unwrap_or(i64::MAX)),
            content_range,
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(timestamp(object.modified)),
            e_tag: Some(ETag::Strong(object.etag)),
            metadata: attrs.metadata,
            content_type: input.response_content_type.or(attrs.content_type),
            content_encoding: input.response_content_encoding.or(attrs.content_encoding),
            content_disposition: input
                .response_content_disposition
                .or(attrs.content_disposition),
            content_language: input.response_content_language.or(attrs.content_language),
            cache_control: input.response_cache_control.or(attrs.cache_control),
            expires: input.response_expires.or(attrs.expires),
            website_redirect_location: attrs.website_redirect_location,
            parts_count: attrs.multipart_parts,
            checksum_crc32: checksums.crc32,
            checksum_crc32c: checksums.crc32c,
            checksum_sha1: checksums.sha1,
            checksum_sha256: checksums.sha256,
            checksum_crc64nvme: checksums.crc64nvme,
            server_side_encryption: Some(sse_s3()),
            tag_count: tag_count(&attrs.tags),
            ..GetObjectOutput::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        require_null_version(input.version_id.as_deref())?;
        let object = self.object(&input.bucket, &input.key).await?;
        ReadConditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(&object, S3ErrorCode::NotModified)?;
        let attrs = ObjectAttrs::from_json(&object.attrs).map_err(internal)?;
        let checksums = attrs.checksums_for(input.checksum_mode.as_ref(), true);
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(i64::try_from(object.size).unwrap_or(i64::MAX)),
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(timestamp(object.modified)),
            e_tag: Some(ETag::Strong(object.etag)),
            metadata: attrs.metadata,
            content_type: attrs.content_type,
            content_encoding: attrs.content_encoding,
            content_disposition: attrs.content_disposition,
            content_language: attrs.content_language,
            cache_control: attrs.cache_control,
            expires: attrs.expires,
            website_redirect_location: attrs.website_redirect_location,
            parts_count: attrs.multipart_parts,
            checksum_crc32: checksums.crc32,
            checksum_crc32c: checksums.crc32c,
            checksum_sha1: checksums.sha1,
            checksum_sha256: checksums.sha256,
            checksum_crc64nvme: checksums.crc64nvme,
            server_side_encryption: Some(sse_s3()),
            ..HeadObjectOutput::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        require_null_version(req.input.version_id.as_deref())?;
        self.require_bucket(&req.input.bucket).await?;
        let blob = self
            .catalog
            .delete_object(&req.input.bucket, &req.input.key)
            .await
            .map_err(internal)?;
        self.bury(blob).await;
        // Deleting a key that does not exist succeeds, as in S3.
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > MAX_DELETE_KEYS {
            return Err(malformed_xml());
        }
        self.require_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for identifier in input.delete.objects {
            if let Err(error) = require_null_version(identifier.version_id.as_deref()) {
                errors.push(s3s::dto::Error {
                    key: Some(identifier.key),
                    code: Some(error.code().as_str().to_owned()),
                    message: error.message().map(str::to_owned),
                    version_id: identifier.version_id,
                });
                continue;
            }
            let blob = self
                .catalog
                .delete_object(&input.bucket, &identifier.key)
                .await
                .map_err(internal)?;
            self.bury(blob).await;
            if !quiet {
                deleted.push(DeletedObject {
                    key: Some(identifier.key),
                    ..DeletedObject::default()
                });
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..DeleteObjectsOutput::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if let CopySource::Bucket { bucket, key, .. } = &input.copy_source
            && **bucket == *input.bucket
            && **key == *input.key
            && !replace
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        self.require_bucket(&input.bucket).await?;
        let conditions = ReadConditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let (source, staged) = self.stage_copy(&input.copy_source, &conditions).await?;
        let source_attrs = ObjectAttrs::from_json(&source.attrs).map_err(internal)?;
        let tags = match input
            .tagging_directive
            .as_ref()
            .map(TaggingDirective::as_str)
        {
            Some(TaggingDirective::REPLACE) => header_tags(input.tagging.as_deref())?,
            _ => source_attrs.tags.clone(),
        };
        let mut attrs = if replace {
            ObjectAttrs {
                content_type: input.content_type,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: input.expires,
                website_redirect_location: input.website_redirect_location,
                metadata: input.metadata,
                checksums: source_attrs.checksums,
                multipart_parts: source_attrs.multipart_parts,
                tags: Vec::new(),
            }
        } else {
            source_attrs
        };
        attrs.tags = tags;
        let modified = now();
        let object = ObjectRow {
            bucket: input.bucket,
            key: input.key,
            blob: staged.name.clone(),
            size: source.size,
            etag: source.etag.clone(),
            modified,
            attrs: attrs.to_json(),
        };
        self.commit_object(staged, object, Precondition::Always)
            .await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(source.etag)),
                last_modified: Some(timestamp(modified)),
                ..CopyObjectResult::default()
            }),
            ..CopyObjectOutput::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let prefix = input.prefix.as_deref().unwrap_or("");
        let query = ListQuery {
            prefix,
            delimiter: input.delimiter.as_deref(),
            max_keys: max_keys(input.max_keys)?,
            after: input.marker.as_deref().unwrap_or(""),
        };
        let page = listing::list(&self.catalog, &input.bucket, &query)
            .await
            .map_err(internal)?;
        let encoder = Encoder::new(input.encoding_type.as_ref());
        // S3 gives NextMarker only with a delimiter; without one clients resume after the
        // last key.
        let next_marker = page
            .last
            .as_deref()
            .filter(|_| page.truncated && input.delimiter.is_some())
            .map(|last| encoder.encode(last));
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encoder.encode(prefix)),
            marker: Some(encoder.encode(query.after)),
            max_keys: Some(i32::try_from(query.max_keys).unwrap_or(MAX_LIST_KEYS)),
            delimiter: input.delimiter.as_deref().map(|d| encoder.encode(d)),
            is_truncated: Some(page.truncated),
            next_marker,
            contents: Some(listed_objects(page.objects, &encoder)),
            common_prefixes: Some(listed_prefixes(&page.prefixes, &encoder)),
            encoding_type: input.encoding_type,
            ..ListObjectsOutput::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let prefix = input.prefix.as_deref().unwrap_or("");
        let resume = match &input.continuation_token {
            Some(token) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?,
            None => input.start_after.clone().unwrap_or_default(),
        };
        let query = ListQuery {
            prefix,
            delimiter: input.delimiter.as_deref(),
            max_keys: max_keys(input.max_keys)?,
            after: &resume,
        };
        let page = listing::list(&self.catalog, &input.bucket, &query)
            .await
            .map_err(internal)?;
        let encoder = Encoder::new(input.encoding_type.as_ref());
        let next_continuation_token = page
            .last
            .as_deref()
            .filter(|_| page.truncated)
            .map(|last| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last));
        let key_count = page.objects.len() + page.prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encoder.encode(prefix)),
            max_keys: Some(i32::try_from(query.max_keys).unwrap_or(MAX_LIST_KEYS)),
            key_count: Some(i32::try_from(key_count).unwrap_or(MAX_LIST_KEYS)),
            delimiter: input.delimiter.as_deref().map(|d| encoder.encode(d)),
            is_truncated: Some(page.truncated),
            continuation_token: input.continuation_token,
            next_continuation_token,
            start_after: input.start_after.as_deref().map(|s| encoder.encode(s)),
            contents: Some(listed_objects(page.objects, &encoder)),
            common_prefixes: Some(listed_prefixes(&page.prefixes, &encoder)),
            encoding_type: input.encoding_type,
            ..ListObjectsV2Output::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let tags = header_tags(input.tagging.as_deref())?;
        self.require_bucket(&input.bucket).await?;
        let attrs = ObjectAttrs {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            website_redirect_location: input.website_redirect_location,
            metadata: input.metadata,
            checksums: Checksums::default(),
            multipart_parts: None,
            tags,
        };
        let upload = UploadRow {
            id: blobs::new_blob_name(),
            bucket: input.bucket,
            key: input.key,
            initiated: now(),
            attrs: attrs.to_json(),
        };
        self.catalog
            .create_upload(&upload)
            .await
            .map_err(internal)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.id),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        check_part_number(input.part_number)?;
        self.require_upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let announced = Checksums::announced(
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_sha1,
            &input.checksum_sha256,
            &input.checksum_crc64nvme,
        );
        let written = self
            .write_body(
                input.body,
                input.content_md5.as_deref(),
                announced,
                input.checksum_algorithm.as_ref(),
                req.trailing_headers,
            )
            .await?;
        let part = PartRow {
            number: input.part_number,
            blob: written.staged.name.clone(),
            size: written.size,
            etag: written.etag.clone(),
            modified: now(),
        };
        self.commit_part(&input.upload_id, written.staged, &part)
            .await?;
        let checksums = written.checksums;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(written.etag)),
            checksum_crc32: checksums.crc32,
            checksum_crc32c: checksums.crc32c,
            checksum_sha1: checksums.sha1,
            checksum_sha256: checksums.sha256,
            checksum_crc64nvme: checksums.crc64nvme,
            ..UploadPartOutput::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        check_part_number(input.part_number)?;
        self.require_upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let conditions = ReadConditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let (source, staged, size, etag) = match &input.copy_source_range {
            None => {
                let (source, staged) = self.stage_copy(&input.copy_source, &conditions).await?;
                let (size, etag) = (source.size, source.etag.clone());
                (source, staged, size, etag)
            }
            Some(range) => {
                self.stage_range(&input.copy_source, &conditions, range)
                    .await?
            }
        };
        drop(source);
        let modified = now();
        let part = PartRow {
            number: input.part_number,
            blob: staged.name.clone(),
            size,
            etag: etag.clone(),
            modified,
        };
        self.commit_part(&input.upload_id, staged, &part).await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(modified)),
                ..CopyPartResult::default()
            }),
            ..UploadPartCopyOutput::default()
        }))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        self.require_upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let max_parts =
            usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let marker = input.part_number_marker.unwrap_or(0);
        let mut parts = self
            .catalog
            .parts_after(
                &input.upload_id,
                marker,
                u32::try_from(max_parts + 1).unwrap_or(1001),
            )
            .await
            .map_err(internal)?;
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        let next = parts.last().map(|p| p.number).filter(|_| truncated);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(i32::try_from(max_parts).unwrap_or(1000)),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(
                parts
                    .into_iter()
                    .map(|part| Part {
                        part_number: Some(part.number),
                        e_tag: Some(ETag::Strong(part.etag)),
                        size: Some(i64::try_from(part.size).unwrap_or(i64::MAX)),
                        last_modified: Some(timestamp(part.modified)),
                        ..Part::default()
                    })
                    .collect(),
            ),
            ..ListPartsOutput::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let max_uploads =
            usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let prefix = input.prefix.as_deref().unwrap_or("");
        let key_marker = input.key_marker.as_deref().unwrap_or("");
        // Without a key marker the upload id marker is ignored, as in S3.
        let id_marker = if key_marker.is_empty() {
            "\u{10FFFF}"
        } else {
            input.upload_id_marker.as_deref().unwrap_or("\u{10FFFF}")
        };
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut after = (key_marker.to_owned(), id_marker.to_owned());
        let mut truncated = false;
        'pages: loop {
            let rows = self
                .catalog
                .uploads_after(&input.bucket, (&after.0, &after.1), prefix, 1000)
                .await
                .map_err(internal)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                if !row.key.starts_with(prefix) {
                    break 'pages;
                }
                after = (row.key.clone(), row.id.clone());
                let rolled = common_prefix(&row.key, prefix, input.delimiter.as_deref());
                if rolled.is_some_and(|cp| prefixes.last().is_some_and(|last| last == cp)) {
                    continue;
                }
                if uploads.len() + prefixes.len() == max_uploads {
                    truncated = true;
                    break 'pages;
                }
                match rolled {
                    Some(cp) => prefixes.push(cp.to_owned()),
                    None => uploads.push(row),
                }
            }
        }
        let encoder = Encoder::new(input.encoding_type.as_ref());
        let last = uploads.last();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket.clone()),
            prefix: Some(encoder.encode(prefix)),
            delimiter: input.delimiter.as_deref().map(|d| encoder.encode(d)),
            key_marker: Some(encoder.encode(key_marker)),
            upload_id_marker: input.upload_id_marker.clone(),
            next_key_marker: last.filter(|_| truncated).map(|u| encoder.encode(&u.key)),
            next_upload_id_marker: last.filter(|_| truncated).map(|u| u.id.clone()),
            max_uploads: Some(i32::try_from(max_uploads).unwrap_or(1000)),
            is_truncated: Some(truncated),
            uploads: Some(
                uploads
                    .iter()
                    .map(|u| MultipartUpload {
                        key: Some(encoder.encode(&u.key)),
                        upload_id: Some(u.id.clone()),
                        initiated: Some(timestamp(u.initiated)),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        ..MultipartUpload::default()
                    })
                    .collect(),
            ),
            common_prefixes: Some(listed_prefixes(&prefixes, &encoder)),
            encoding_type: input.encoding_type,
            ..ListMultipartUploadsOutput::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let requested = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default();
        if requested.is_empty() || requested.len() > MAX_PARTS {
            return Err(malformed_xml());
        }
        let upload = self
            .require_upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let uploaded = self
            .catalog
            .parts_after(&upload.id, 0, MAX_PARTS as u32)
            .await
            .map_err(internal)?;
        let chosen = choose_parts(&requested, &uploaded)?;
        let mut etag_md5 = s3s::crypto::Md5::new();
        for part in &chosen {
            let digest = hex::decode(&part.etag).map_err(internal)?;
            etag_md5.update(&digest);
        }
        let etag = format!("{}-{}", hex::encode(etag_md5.finalize()), chosen.len());
        let sources: Vec<String> = chosen.iter().map(|p| p.blob.clone()).collect();
        let (staged, size) = self.blobs.concat(&sources).await.map_err(write_error)?;
        let mut attrs = ObjectAttrs::from_json(&upload.attrs).map_err(internal)?;
        attrs.multipart_parts = Some(i32::try_from(chosen.len()).unwrap_or(i32::MAX));
        let object = ObjectRow {
            bucket: input.bucket,
            key: input.key,
            blob: staged.name.clone(),
            size,
            etag: etag.clone(),
            modified: now(),
            attrs: attrs.to_json(),
        };
        let precondition =
            write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let ended = self
            .catalog
            .end_upload(&upload.id, Some((&object, precondition)))
            .await
            .map_err(internal)?;
        match ended {
            Ok(dead) => {
                self.settle(staged).await;
                self.bury(dead).await;
            }
            Err(Put::NoBucket) => return Err(no_such_upload()),
            Err(refused) => return Err(refused_put(refused)),
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(object.bucket),
            key: Some(object.key),
            e_tag: Some(ETag::Strong(etag)),
            ..CompleteMultipartUploadOutput::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let upload = self
            .require_upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        match self
            .catalog
            .end_upload(&upload.id, None)
            .await
            .map_err(internal)?
        {
            Ok(dead) => self.bury(dead).await,
            Err(_) => return Err(no_such_upload()),
        }
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

fn check_part_number(number: i32) -> S3Result<()> {
    if (1..=MAX_PARTS as i32).contains(&number) {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

/// The uploaded parts a CompleteMultipartUpload names, in order, each with the ETag it was
/// given, every one but the last at least 5 MiB.
fn choose_parts(requested: &[CompletedPart], uploaded: &[PartRow]) -> S3Result<Vec<PartRow>> {
    let invalid_part = || {
        s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        )
    };
    let mut chosen: Vec<PartRow> = Vec::with_capacity(requested.len());
    for wanted in requested {
        let number = wanted.part_number.ok_or_else(malformed_xml)?;
        if chosen
            .last()
            .is_some_and(|previous| previous.number >= number)
        {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        let part = uploaded
            .iter()
            .find(|part| part.number == number)
            .ok_or_else(invalid_part)?;
        let etag_matches = wanted
            .e_tag
            .as_ref()
            .is_none_or(|etag| etag.value().trim_matches('"') == part.etag);
        if !etag_matches {
            return Err(invalid_part());
        }
        chosen.push(part.clone());
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|part| part.size < MIN_PART_SIZE)
    {
        return Err(s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size."
        ));
    }
    Ok(chosen)
}

impl ObjectStore {
    /// The upload in progress, or `NoSuchUpload`.
    async fn require_upload(&self, id: &str, bucket: &str, key: &str) -> S3Result<UploadRow> {
        match self
            .catalog
            .upload(id, bucket, key)
            .await
            .map_err(internal)?
        {
            Some(upload) => Ok(upload),
            None => {
                self.require_bucket(bucket).await?;
                Err(no_such_upload())
            }
        }
    }

    async fn commit_part(
        &self,
        upload_id: &str,
        staged: blobs::StagedBlob,
        part: &PartRow,
    ) -> S3Result<()> {
        match self
            .catalog
            .put_part(upload_id, part)
            .await
            .map_err(internal)?
        {
            Some(replaced) => {
                self.settle(staged).await;
                self.bury(replaced).await;
                Ok(())
            }
            None => Err(no_such_upload()),
        }
    }

    /// Stages the bytes `range` (`bytes=FIRST-LAST`) of a copy source; returns the source,
    /// the staged blob, its size and MD5.
    async fn stage_range(
        &self,
        source: &CopySource,
        conditions: &ReadConditions<'_>,
        range: &str,
    ) -> S3Result<(ObjectRow, blobs::StagedBlob, u64, String)> {
        let invalid = || {
            s3_error!(
                InvalidArgument,
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
            )
        };
        let (first, last) = range
            .strip_prefix("bytes=")
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
            .ok_or_else(invalid)?;
        for _ in 0..8 {
            let object = self.copy_source(source, conditions).await?;
            if first > last || last >= object.size {
                return Err(s3_error!(
                    InvalidRange,
                    "The requested range is not satisfiable"
                ));
            }
            let mut file = match self.blobs.open(&object.blob).await {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(internal(error)),
            };
            file.seek(io::SeekFrom::Start(first))
                .await
                .map_err(internal)?;
            let body = tokio_util::io::ReaderStream::new(file.take(last - first + 1))
                .map(|chunk| chunk.map_err(|e| Box::new(e) as s3s::StdError));
            let mut md5 = s3s::crypto::Md5::new();
            let (staged, size) = self
                .blobs
                .write(body, MAX_PUT_SIZE, |chunk| md5.update(chunk))
                .await
                .map_err(write_error)?;
            return Ok((object, staged, size, hex::encode(md5.finalize())));
        }
        Err(internal("the copy source kept changing while it was read"))
    }
}
