//! podpass's control plane: the domain operations behind both the HTTP APIs and the CLI
//! (clusters and their token issuers, ServiceAccounts, IAM, STS), over the store.

pub mod authz;
pub mod clusters;
pub mod ids;
pub mod sealing;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
