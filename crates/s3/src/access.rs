//! Authorization of every S3 operation: the caller's identity policies, session policies and
//! boundary together with the bucket policy, evaluated by the IAM engine as S3 would.

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use podpass_control::{Caller, Control};
use podpass_policy::{
    ContextValue, Decision, PolicySet, Principal, PrincipalContext, Request, evaluate,
    evaluate_explained,
};
use podpass_session::ACCESS_KEY_ID_PREFIX;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::Credentials;
use s3s::dto::{DeleteObjectsInput, PutBucketTaggingInput, PutObjectTaggingInput};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use crate::actions::{self, RequestTags, Target, object_arn};
use crate::audit::{AuditDecision, AuditEvent, AuditLog};
use crate::bucket_policy::BucketPolicies;
use crate::front::RequestInfo;
use crate::metrics::S3Metrics;
use crate::objects::{TagReader, tagging};

/// Who signed the request; `None`: nobody (anonymous).
type Signer = Option<Caller>;

/// The principal of unsigned requests, shared by all of them.
fn anonymous() -> Arc<PrincipalContext> {
    static ANONYMOUS: LazyLock<Arc<PrincipalContext>> =
        LazyLock::new(|| Principal::Anonymous.into());
    ANONYMOUS.clone()
}

/// The ARN the audit trail names the signer by.
fn signer_arn(signer: &Signer) -> String {
    signer
        .as_ref()
        .map_or_else(|| "anonymous".to_owned(), Caller::arn)
}

/// The [`S3Access`] podpass gives s3s.
pub(crate) struct Authorizer {
    /// The domain layer: who signed, and the policies of users and role sessions, from the
    /// caches that its IAM writes clear.
    pub control: Control,
    pub policies: Arc<BucketPolicies>,
    pub audit: AuditLog,
    /// Whether allowed requests are audited (refusals always are).
    pub audit_allowed: bool,
    /// Where decisions are counted.
    metrics: S3Metrics,
    /// Where the tags of objects and buckets are read for tag conditions (`None`: objects
    /// stored elsewhere, whose tags podpass does not read, so those keys are absent).
    tags: Option<TagReader>,
}

fn access_denied(request_id: &str) -> S3Error {
    let mut error = S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied");
    error.set_request_id(request_id);
    error
}

fn internal(request_id: &str, error: &dyn std::fmt::Display) -> S3Error {
    tracing::error!(%request_id, %error, "authorization failed");
    let mut error = S3Error::new(S3ErrorCode::InternalError);
    error.set_request_id(request_id);
    error
}

impl Authorizer {
    /// An authorizer of `control`'s callers and the bucket policies.
    pub(crate) fn new(
        control: Control,
        policies: Arc<BucketPolicies>,
        audit: AuditLog,
        audit_allowed: bool,
    ) -> Self {
        Authorizer {
            control,
            policies,
            audit,
            audit_allowed,
            metrics: S3Metrics::default(),
            tags: None,
        }
    }

    /// Counts decisions in `metrics` (the endpoint's, served on `/metrics`).
    pub(crate) fn with_metrics(mut self, metrics: S3Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads current tags with `tags` for the tag condition keys.
    pub(crate) fn with_tags(mut self, tags: Option<TagReader>) -> Self {
        self.tags = tags;
        self
    }

    async fn caller(
        &self,
        credentials: Option<&Credentials>,
        info: &RequestInfo,
    ) -> S3Result<Signer> {
        let Some(credentials) = credentials else {
            return Ok(None);
        };
        let key = credentials.access_key.as_str();
        if key.starts_with(ACCESS_KEY_ID_PREFIX) {
            // The secret may be known from an earlier request; the token must come with this one.
            return match &info.session {
                Some(session) if session.access_key_id == key => {
                    Ok(Some(Caller::of_session(session.clone())))
                }
                _ => Err(s3_error!(
                    InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records."
                )),
            };
        }
        let identity = self
            .control
            .access_keys()
            .signing_identity(key, self.control.account_id())
            .await
            .map_err(|error| internal(&info.request_id, &error))?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        Ok(Some(identity.caller))
    }

    /// Allows `target` for `caller` or returns S3's `AccessDenied`; audits either way.
    async fn decide(
        &self,
        caller: &Signer,
        info: &RequestInfo,
        operation: &str,
        bucket: Option<&str>,
        target: &Target,
    ) -> S3Result<()> {
        let bucket_policy = match bucket {
            Some(bucket) => self
                .policies
                .get(bucket)
                .await
                .map_err(|error| internal(&info.request_id, &error))?,
            None => None,
        };
        let (principal, mut policies) = match caller {
            Some(signer) => {
                // Kept per caller (the root's too) by the domain layer's IAM cache.
                let compiled = self
                    .control
                    .caller_policies(signer)
                    .await
                    .map_err(|error| internal(&info.request_id, &error))?;
                let policies = match signer {
                    // The account root needs no identity policy (see `allowed` below).
                    Caller::Root { .. } => PolicySet::default(),
                    Caller::Session(_) | Caller::User(_) => compiled.policies.clone(),
                };
                (compiled.principal.clone(), policies)
            }
            None => (anonymous(), PolicySet::default()),
        };
        policies.resource = bucket_policy.map(|stored| stored.compiled.clone());
        let mut request = Request::new(principal, target.action, target.resource.as_str())
            .with_time(jiff::Timestamp::now())
            .with(
                "aws:SecureTransport",
                if info.secure { "true" } else { "false" },
            )
            .with(
                "aws:RequestedRegion",
                self.control.settings().region.as_str(),
            );
        if !info.source_ip.is_empty() {
            request.set("aws:SourceIp", info.source_ip.as_str());
        }
        for (key, value) in &target.keys {
            request.set(key, value.as_str());
        }
        self.set_tag_keys(&mut request, &policies, bucket, target)
            .await
            .map_err(|error| internal(&info.request_id, &error))?;
        let decision = evaluate(&policies, &request);
        let allowed = match caller {
            // The account root needs no identity policy; only an explicit deny stops it.
            Some(Caller::Root { .. }) => decision != Decision::ExplicitDeny,
            Some(Caller::Session(_) | Caller::User(_)) | None => decision == Decision::Allow,
        };
        self.metrics.decision(allowed);
        // Settled either way: a later error response of an allowed request is not a refusal.
        info.trace.audited.store(true, Ordering::Release);
        if allowed && !self.audit_allowed {
            return Ok(());
        }
        let reason = if allowed {
            match caller {
                Some(Caller::Root { .. }) => "account root".to_owned(),
                _ => "allowed".to_owned(),
            }
        } else {
            evaluate_explained(&policies, &request).to_string()
        };
        let principal = signer_arn(caller);
        if !allowed {
            tracing::info!(
                request_id = %info.request_id,
                %principal,
                action = target.action,
                resource = %target.resource,
                %reason,
                "s3 access denied"
            );
        }
        self.audit.record(AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            source: "s3.amazonaws.com".to_owned(),
            operation: operation.to_owned(),
            principal,
            access_key_id: info.access_key_id.clone(),
            source_ip: info.source_ip.clone(),
            action: target.action.to_owned(),
            resource: target.resource.clone(),
            decision: if allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            },
            reason,
            request_id: info.request_id.clone(),
        });
        if allowed {
            Ok(())
        } else {
            Err(access_denied(&info.request_id))
        }
    }

    /// The tag condition keys of `target`: the tags the request sets, and, when a policy tests
    /// them (reading them costs a catalog lookup), the object's and the bucket's current tags.
    async fn set_tag_keys(
        &self,
        request: &mut Request,
        policies: &PolicySet,
        bucket: Option<&str>,
        target: &Target,
    ) -> Result<(), String> {
        match &target.request_tags {
            Some(RequestTags::Object(tags)) => {
                for (key, value) in tags {
                    request.set(&format!("s3:RequestObjectTag/{key}"), value.as_str());
                }
                let keys = tags.iter().map(|(key, _)| key.clone()).collect();
                request.set_value("s3:RequestObjectTagKeys", ContextValue::Multi(keys));
            }
            Some(RequestTags::Bucket(tags)) => {
                let pairs: Vec<(&str, &str)> =
                    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                request.set_request_tags(&pairs);
            }
            None => {}
        }
        let Some(reader) = &self.tags else {
            return Ok(());
        };
        if let Some((bucket, key)) = &target.tagged_object
            && policies.tests_keys_starting("s3:ExistingObjectTag/")
        {
            for (tag, value) in reader.object_tags(bucket, key).await? {
                request.set(&format!("s3:ExistingObjectTag/{tag}"), value);
            }
        }
        if let Some(bucket) = bucket
            && policies.tests_keys_starting("aws:ResourceTag/")
        {
            for (tag, value) in reader.bucket_tags(bucket).await? {
                request.set(&format!("aws:ResourceTag/{tag}"), value);
            }
        }
        Ok(())
    }

    /// Authorizes an operation whose condition keys come from its parsed body.
    async fn decide_parsed<T>(
        &self,
        req: &S3Request<T>,
        operation: &str,
        path: &S3Path,
        request_tags: RequestTags,
    ) -> S3Result<()> {
        let info = request_info(&req.extensions)?;
        let caller = self.caller(req.credentials.as_ref(), &info).await?;
        let Some(mut target) =
            actions::target(operation, path, info.signature, &req.uri, &req.headers)
        else {
            return Err(self.unsupported(&caller, &info, operation));
        };
        target.request_tags = Some(request_tags);
        self.decide(&caller, &info, operation, path.get_bucket_name(), &target)
            .await
    }

    fn unsupported(&self, caller: &Signer, info: &RequestInfo, operation: &str) -> S3Error {
        self.audit.record(AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            source: "s3.amazonaws.com".to_owned(),
            operation: operation.to_owned(),
            principal: signer_arn(caller),
            access_key_id: info.access_key_id.clone(),
            source_ip: info.source_ip.clone(),
            action: String::new(),
            resource: String::new(),
            decision: AuditDecision::Deny,
            reason: format!("operation {operation} is not authorized by podpass"),
            request_id: info.request_id.clone(),
        });
        info.trace.audited.store(true, Ordering::Release);
        access_denied(&info.request_id)
    }
}

fn request_info(extensions: &http::Extensions) -> S3Result<Arc<RequestInfo>> {
    // The front layer adds it to every request; without it the service was wired wrongly.
    extensions
        .get::<Arc<RequestInfo>>()
        .cloned()
        .ok_or_else(|| s3_error!(InternalError, "request context missing"))
}

#[async_trait::async_trait]
impl S3Access for Authorizer {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let info = request_info(cx.extensions_mut())?;
        let caller = self.caller(cx.credentials(), &info).await?;
        let operation = cx.s3_op().name();
        // Unset only if s3s resolved the operation twice, which it does not.
        let _ = info
            .trace
            .operation
            .set(actions::operation_label(operation));
        if matches!(
            operation,
            "DeleteObjects" | "PutObjectTagging" | "PutBucketTagging"
        ) {
            // Authorized once the body is parsed (the hooks below): key by key, or with the
            // tags it sets.
            return Ok(());
        }
        let Some(target) = actions::target(
            operation,
            cx.s3_path(),
            info.signature,
            cx.uri(),
            cx.headers(),
        ) else {
            return Err(self.unsupported(&caller, &info, operation));
        };
        let bucket = cx.s3_path().get_bucket_name().map(str::to_owned);
        self.decide(&caller, &info, operation, bucket.as_deref(), &target)
            .await?;
        if matches!(operation, "CopyObject" | "UploadPartCopy") {
            let Some((source_bucket, source_key)) = actions::copy_source(cx.headers()) else {
                return Err(s3_error!(InvalidArgument, "Invalid copy source"));
            };
            let read = Target::plain("s3:GetObject", object_arn(&source_bucket, &source_key));
            self.decide(&caller, &info, operation, Some(&source_bucket), &read)
                .await?;
        }
        Ok(())
    }

    async fn put_object_tagging(&self, req: &mut S3Request<PutObjectTaggingInput>) -> S3Result<()> {
        let path = S3Path::object(&req.input.bucket, &req.input.key);
        let tags = tagging::pairs(&req.input.tagging.tag_set);
        self.decide_parsed(req, "PutObjectTagging", &path, RequestTags::Object(tags))
            .await
    }

    async fn put_bucket_tagging(&self, req: &mut S3Request<PutBucketTaggingInput>) -> S3Result<()> {
        let path = S3Path::bucket(&req.input.bucket);
        let tags = tagging::pairs(&req.input.tagging.tag_set);
        self.decide_parsed(req, "PutBucketTagging", &path, RequestTags::Bucket(tags))
            .await
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let info = request_info(&req.extensions)?;
        let caller = self.caller(req.credentials.as_ref(), &info).await?;
        let bucket = req.input.bucket.as_str();
        for object in &req.input.delete.objects {
            let target = Target::plain("s3:DeleteObject", object_arn(bucket, &object.key));
            self.decide(&caller, &info, "DeleteObjects", Some(bucket), &target)
                .await?;
        }
        Ok(())
    }
}
