//! podpass's S3 endpoint: S3 protocol through s3s over an embedded object store
//! or another S3-compatible endpoint, SigV4
//! authentication with the admin's keys or sealed session tokens, IAM authorization of every
//! operation (identity, session, boundary and bucket policies), and an audit trail.

mod access;
mod actions;
pub use podpass_audit as audit;
mod backend;
mod bucket_policy;
mod front;
mod keys;
mod metrics;
mod objects;
mod server;
mod upstream;

pub use bucket_policy::BucketPolicyError;
pub use front::S3Front;
pub use metrics::S3Metrics;
pub use objects::OpenError as ObjectStoreError;
pub use server::{S3Options, S3Server, S3ServerError, Storage};
pub use upstream::Upstream;
