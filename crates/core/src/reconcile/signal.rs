//! SIGTERM and SIGINT for the reconcile loop: the first one sets the apply's stop flag (no new
//! changefeed starts; the one in hand finishes its steps) and tells every loop to end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM, with the signal's name.
pub async fn terminated() -> &'static str {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut t) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = t.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Wait for a signal; then raise `stop` and send the signal's name on `shutdown`.
pub async fn stop_on_signal(stop: Arc<AtomicBool>, shutdown: watch::Sender<Shutdown>) {
    let name = terminated().await;
    stop.store(true, Ordering::SeqCst);
    let _ = shutdown.send(Some(name));
}

/// `None` while running; the name of the signal once one came.
pub type Shutdown = Option<&'static str>;
