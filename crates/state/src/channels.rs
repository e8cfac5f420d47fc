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
