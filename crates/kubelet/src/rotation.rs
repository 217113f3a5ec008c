//! The per-pod token rotation task: the kubelet re-requests each projected token once the
//! refresh rule says so and rewrites the volume atomically; consumers re-read the file.

use std::time::Duration;

use tokio::sync::watch;

use crate::volumes::PodVolumes;

/// Checks the pod's tokens every `interval` until `shutdown` turns true.
pub async fn rotate_tokens(
    mut volumes: PodVolumes,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = crate::runner::stopped(&mut shutdown) => return,
        }
        match volumes.refresh_due().await {
            Ok(rewritten) if !rewritten.is_empty() => {
                tracing::debug!(volumes = ?rewritten, "rotated projected tokens");
            }
            Ok(_) => {}
            // The old token stays in place; the next check retries.
            Err(e) => tracing::warn!(error = %e, "token rotation failed"),
        }
    }
}
