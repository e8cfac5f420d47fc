//! How a node stops, as connections see it: first it drains (no new
//! connections, no new commands; what is under way finishes), then, when the
//! grace period is over, it closes (every session says goodbye and ends).

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// Listeners are closed; sessions finish the command or transaction
    /// under way and answer the next command with a goodbye.
    Draining,
    /// The grace period is over: sessions end whatever they were doing.
    Closing,
}

/// Held by whoever decides when the node stops (`havre serve`).
pub struct Stopper(watch::Sender<Phase>);

/// What listeners and sessions watch; cheap to clone.
#[derive(Clone)]
pub struct Stop(watch::Receiver<Phase>);

impl Stopper {
    pub fn new() -> (Stopper, Stop) {
        let (tx, rx) = watch::channel(Phase::Running);
        (Stopper(tx), Stop(rx))
    }

    /// Moves to `phase` (never back).
    pub fn enter(&self, phase: Phase) {
        self.0.send_if_modified(|current| {
            let later = phase > *current;
            if later {
                *current = phase;
            }
            later
        });
    }
}

impl Stop {
    /// A stop that never comes (tests, tools that run sessions directly).
    pub fn never() -> Stop {
        let (_, stop) = Stopper::new();
        stop
    }

    pub fn phase(&self) -> Phase {
        *self.0.borrow()
    }

    /// Resolves once the node has reached `phase`; never if it never will.
    pub async fn reached(&mut self, phase: Phase) {
        if self.0.wait_for(|p| *p >= phase).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sessions_see_draining_then_closing_and_never_go_back() {
        let (stopper, mut stop) = Stopper::new();
        assert_eq!(stop.phase(), Phase::Running);
        stopper.enter(Phase::Closing);
        stopper.enter(Phase::Draining);
        assert_eq!(stop.phase(), Phase::Closing);
        tokio::time::timeout(Duration::from_secs(1), stop.reached(Phase::Draining))
            .await
            .expect("draining is reached once closing");
    }

    #[tokio::test]
    async fn a_stop_that_never_comes_keeps_waiting() {
        let mut stop = Stop::never();
        let waited =
            tokio::time::timeout(Duration::from_millis(50), stop.reached(Phase::Draining)).await;
        assert!(waited.is_err());
    }
}
