//! The shutdown signal shared by the servers and background tasks: a `watch` flag.

use tokio::sync::watch;

/// Completes once `shutdown` is true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which also means "stop".
    let _ = shutdown.wait_for(|stop| *stop).await;
}
