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

/// What listeners and sessions watch; cheap to clone. A session's stop may
/// also follow a second stopper of its own (a kick, see
/// [`crate::Sessions`]): it is at the later phase of the two.
#[derive(Clone)]
pub struct Stop {
    node: watch::Receiver<Phase>,
    own: Option<watch::Receiver<Phase>>,
}

impl Stopper {
    pub fn new() -> (Stopper, Stop) {
        let (tx, rx) = watch::channel(Phase::Running);
        (
            Stopper(tx),
            Stop {
                node: rx,
                own: None,
            },
        )
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
        let node = *self.node.borrow();
        match &self.own {
            Some(own) => node.max(*own.borrow()),
            None => node,
        }
    }

    /// This stop, or `other`'s phase when it is later (one session's own
    /// stopper next to the node's). `other`'s own stopper, if any, is not
    /// kept: it is meant to be a plain stop.
    pub fn or(self, other: Stop) -> Stop {
        Stop {
            node: self.node,
            own: Some(other.node),
        }
    }

    /// Resolves once the node (or the session's own stopper) has reached
    /// `phase`; never if neither will.
    pub async fn reached(&mut self, phase: Phase) {
        let node = wait(&mut self.node, phase);
        match &mut self.own {
            Some(own) => {
                tokio::select! {
                    _ = node => {}
                    _ = wait(own, phase) => {}
                }
            }
            None => node.await,
        }
    }
}

/// Resolves when `rx` reaches `phase`; never when its sender is gone first.
async fn wait(rx: &mut watch::Receiver<Phase>, phase: Phase) {
    if rx.wait_for(|p| *p >= phase).await.is_err() {
        std::future::pending::<()>().await;
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
