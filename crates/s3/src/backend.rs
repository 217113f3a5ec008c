//! The S3 implementation served: a storage backend with podpass's own bucket policies in front.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::bucket_policy::{BucketPolicies, BucketPolicyError};
use podpass_policy::PolicyError;

/// Where objects live: an `S3` implementation plus how its errors reach the caller.
pub(crate) trait Backend: S3 {
    /// The error the caller sees for `error` from the backend (unchanged by default).
    fn caller_error(&self, error: S3Error) -> S3Error {
        error
    }
}

impl Backend for crate::objects::ObjectStore {}

/// Delegates to `inner` every operation except the bucket policy ones, which podpass owns
/// because it evaluates them.
pub(crate) struct WithBucketPolicies<B> {
    inner: B,
    policies: Arc<BucketPolicies>,
}

impl<B: Backend> WithBucketPolicies<B> {
    /// Wraps `inner`, storing bucket policies in `policies`.
    pub(crate) fn new(inner: B, policies: Arc<BucketPolicies>) -> Self {
        WithBucketPolicies { inner, policies }
    }

    /// `NoSuchBucket` unless the backend has `bucket`.
    async fn require_bucket<T>(&self, req: &S3Request<T>, bucket: &str) -> S3Result<()> {
        let head = S3Request {
            input: HeadBucketInput {
                bucket: bucket.to_owned(),
                ..HeadBucketInput::default()
            },
            method: http::Method::HEAD,
            uri: req.uri.clone(),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: req.credentials.clone(),
            region: req.region.clone(),
            service: req.service.clone(),
            trailing_headers: None,
        };
        self.inner
            .head_bucket(head)
            .await
            .map(|_| ())
            .map_err(|e| self.inner.caller_error(e))
    }
}

fn policy_error(error: BucketPolicyError) -> S3Error {
    match error {
        // S3 has no code of its own for it in s3s; the one S3-compatible servers answer.
        BucketPolicyError::Malformed(reason @ PolicyError::TooLarge(_)) => {
            let mut error = S3Error::with_message(
                S3ErrorCode::Custom("PolicyTooLarge".into()),
                reason.to_string(),
            );
            error.set_status_code(http::StatusCode::BAD_REQUEST);
            error
        }
        BucketPolicyError::Malformed(reason) => {
            S3Error::with_message(S3ErrorCode::MalformedPolicy, reason.to_string())
        }
        other => {
            tracing::error!(error = %other, "bucket policy storage");
            S3Error::new(S3ErrorCode::InternalError)
        }
    }
}

/// The `S3` impl: the listed operations forwarded to the backend unchanged, then the overrides.
/// (The whole impl comes from the macro so that `async_trait` sees the expanded methods.)
macro_rules! impl_s3 {
    (
        delegate { $($method:ident: $input:ident => $output:ident),* $(,)? }
        $($overrides:tt)*
    ) => {
        #[async_trait::async_trait]
        impl<B: Backend> S3 for WithBucketPolicies<B> {
            $(
                async fn $method(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$method(req).await.map_err(|e| self.inner.caller_error(e))
                }
            )*
            $($overrides)*
        }
    };
}

impl_s3! {
    delegate {
        create_bucket: CreateBucketInput => CreateBucketOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_object: GetObjectInput => GetObjectOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        put_object: PutObjectInput => PutObjectOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        upload_part: UploadPartInput => UploadPartOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
        list_parts: ListPartsInput => ListPartsOutput,
        list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput,
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput,
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
        get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput,
        get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput,
        put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput,
        delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput,
        put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput,
        delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput,
        get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput,
        list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput,
        get_bucket_acl: GetBucketAclInput => GetBucketAclOutput,
        put_bucket_acl: PutBucketAclInput => PutBucketAclOutput,
        get_object_acl: GetObjectAclInput => GetObjectAclOutput,
        put_object_acl: PutObjectAclInput => PutObjectAclOutput,
        get_object_attributes: GetObjectAttributesInput => GetObjectAttributesOutput,
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket.clone();
        let response = self
            .inner
            .delete_bucket(req)
            .await
            .map_err(|e| self.inner.caller_error(e))?;
        // A bucket created later under the same name must not inherit the old policy.
        self.policies.delete(&bucket).await.map_err(policy_error)?;
        Ok(response)
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.require_bucket(&req, &req.input.bucket).await?;
        let PutBucketPolicyInput { bucket, policy, .. } = req.input;
        self.policies.put(&bucket, policy).await.map_err(policy_error)?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        self.require_bucket(&req, &req.input.bucket).await?;
        let stored = self
            .policies
            .get(&req.input.bucket)
            .await
            .map_err(policy_error)?
            .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(stored.text.clone()),
        }))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.require_bucket(&req, &req.input.bucket).await?;
        self.policies
            .delete(&req.input.bucket)
            .await
            .map_err(policy_error)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }
}
