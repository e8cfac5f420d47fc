//! Publish/subscribe within one process: the embedded state's channels.
//! One node alone is its whole cluster, so its subscribers are all there
//! is to tell.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

/// Messages a subscriber that does not read may fall behind by; beyond,
/// they are dropped for it (listeners look at the data when they wake).
const BACKLOG: usize = 256;

#[derive(Default)]
pub(crate) struct Channels {
    subscribers: Mutex<HashMap<String, Vec<mpsc::Sender<String>>>>,
}

impl Channels {
    pub(crate) fn publish(&self, channel: &str, message: &str) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(senders) = subscribers.get_mut(channel) {
            senders.retain(|sender| match sender.try_send(message.to_string()) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    pub(crate) fn subscribe(&self, channel: &str) -> mpsc::Receiver<String> {
        let (sender, receiver) = mpsc::channel(BACKLOG);
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(channel.to_string())
            .or_default()
            .push(sender);
        receiver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_of_a_channel_hears_it_and_no_one_else() {
        let channels = Channels::default();
        let mut one = channels.subscribe("changes");
        let mut two = channels.subscribe("changes");
        let mut other = channels.subscribe("elsewhere");
        channels.publish("changes", "INBOX");
        assert_eq!(one.recv().await.as_deref(), Some("INBOX"));
        assert_eq!(two.recv().await.as_deref(), Some("INBOX"));
        assert!(other.try_recv().is_err());
        // A subscriber gone is forgotten at the next message.
        drop(two);
        channels.publish("changes", "Sent");
        assert_eq!(one.recv().await.as_deref(), Some("Sent"));
        assert_eq!(channels.subscribers.lock().unwrap()["changes"].len(), 1);
    }
}
