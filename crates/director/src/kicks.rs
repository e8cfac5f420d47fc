//! Closing sessions on every director: a move, a flush or a failed backend
//! must end the sessions every director holds there, or the user's next
//! connection would land elsewhere while old ones write on. The order goes
//! over the shared state's channel; each director closes its own.

use havre_state::State;

use crate::Result;

const CHANNEL: &str = "director:kick";

/// What to close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kick {
    /// Every session of this user.
    User(String),
    /// Every session proxied to this backend.
    Backend(String),
}

impl Kick {
    fn render(&self) -> String {
        match self {
            Kick::User(user) => format!("user {user}"),
            Kick::Backend(address) => format!("backend {address}"),
        }
    }

    fn parse(message: &str) -> Option<Kick> {
        match message.split_once(' ')? {
            ("user", user) => Some(Kick::User(user.to_string())),
            ("backend", address) => Some(Kick::Backend(address.to_string())),
            _ => None,
        }
    }
}

/// Tells every director (this one too) to close these sessions.
pub async fn send(state: &dyn State, kick: &Kick) -> Result<()> {
    Ok(state.publish(CHANNEL, &kick.render()).await?)
}

/// The kicks sent from now on, by any director.
pub fn receive(state: &dyn State) -> KickReceiver {
    KickReceiver(state.subscribe(CHANNEL))
}

pub struct KickReceiver(tokio::sync::mpsc::Receiver<String>);

impl KickReceiver {
    /// The next kick; `None` when the state is gone.
    pub async fn next(&mut self) -> Option<Kick> {
        loop {
            let message = self.0.recv().await?;
            match Kick::parse(&message) {
                Some(kick) => return Some(kick),
                None => tracing::warn!(target: "director", "unknown kick order: {message}"),
            }
        }
    }
}
