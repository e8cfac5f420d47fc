//! The quarantine's retention: quarantined mail older than
//! `quarantine.retention` is deleted, each message logged, by the node
//! that runs the relay role (it owns the queue's deliveries).

use std::sync::Arc;
use std::time::Duration;

use havre_config::LoadedConfig;
use havre_queue::Queue;
use tokio::sync::watch;

/// The longest pause between two sweeps.
const EVERY: Duration = Duration::from_secs(3600);

/// Sweeps at once, then every hour (every `retention` when shorter, so a
/// short retention is kept to), until `shutdown`; the retention of the
/// moment is read from `config` at each sweep, so a reload applies.
pub async fn run(
    queue: Arc<Queue>,
    config: watch::Receiver<Arc<LoadedConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let retention = config.borrow().config.quarantine.retention.0;
        let now = chrono::Utc::now().timestamp();
        match queue.expire_quarantine(now, retention).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(target: "queue", "quarantine: removed {n} message(s) older than quarantine.retention")
            }
            Err(err) => {
                tracing::error!(target: "queue", "quarantine: cannot remove old messages: {err}")
            }
        }
        let pause = if retention.is_zero() {
            EVERY
        } else {
            retention.clamp(Duration::from_secs(1), EVERY)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
    }
}
