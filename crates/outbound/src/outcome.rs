//! Per-recipient results, and the bookkeeping of one delivery attempt.

use crate::wire::{Peer, Reply};

/// What the relay records about one recipient, and puts in a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// For the log and the DSN's human part: the server's reply for a
    /// delivery ("250 2.0.0 Ok: queued as X"); for a failure, Postfix's
    /// wording ("host mx1.example.org[192.0.2.1] said: 550 5.1.1 `<x>`: user
    /// unknown (in reply to RCPT TO command)", "connect to ...: Connection
    /// refused", "Domain example.org does not accept mail (nullMX)").
    pub reply: String,
    /// RFC 3463 status ("2.0.0", "5.1.1", "4.4.1"), from the server's
    /// enhanced status code or derived from its reply code.
    pub status: String,
    /// The server's name, for the DSN's `Remote-MTA: dns; <name>`.
    pub remote_mta: Option<String>,
    /// The server for the log's `relay=`: `mx1.example.org[192.0.2.1]:25`
    /// (None when no server answered).
    pub relay: Option<String>,
    /// The server's reply as it said it, for `Diagnostic-Code: smtp; ...`
    /// (None when no server said anything: DNS, connection, local checks).
    pub diagnostic: Option<String>,
}

/// The outcome of one delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientResult {
    /// The server took responsibility (SMTP 250 after DATA; LMTP: this
    /// recipient's reply after DATA).
    Delivered(Detail),
    /// Try again later.
    TempFail(Detail),
    /// Bounce.
    PermFail(Detail),
}

impl RecipientResult {
    pub fn detail(&self) -> &Detail {
        match self {
            RecipientResult::Delivered(d)
            | RecipientResult::TempFail(d)
            | RecipientResult::PermFail(d) => d,
        }
    }

    pub fn reply(&self) -> &str {
        &self.detail().reply
    }

    pub fn status(&self) -> &str {
        &self.detail().status
    }

    pub fn is_delivered(&self) -> bool {
        matches!(self, RecipientResult::Delivered(_))
    }

    pub fn is_temporary(&self) -> bool {
        matches!(self, RecipientResult::TempFail(_))
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, RecipientResult::PermFail(_))
    }
}

/// A failure not yet attached to recipients.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) permanent: bool,
    pub(crate) detail: Detail,
}

impl Failure {
    pub(crate) fn local(
        permanent: bool,
        status: &str,
        text: String,
        remote_mta: Option<&str>,
    ) -> Failure {
        Failure {
            permanent,
            detail: Detail {
                reply: text,
                status: status.to_owned(),
                remote_mta: remote_mta.map(str::to_owned),
                relay: None,
                diagnostic: None,
            },
        }
    }

    pub(crate) fn said(peer: &Peer, reply: &Reply, command: &str) -> Failure {
        Failure::remote(
            peer,
            reply,
            format!(
                "host {} said: {} (in reply to {command} command)",
                peer.label,
                reply.text()
            ),
        )
    }

    pub(crate) fn remote(peer: &Peer, reply: &Reply, text: String) -> Failure {
        Failure {
            permanent: reply.code >= 500,
            detail: Detail {
                reply: text,
                status: reply.status(),
                remote_mta: Some(peer.host.clone()),
                relay: Some(peer.relay.clone()),
                diagnostic: Some(reply.text()),
            },
        }
    }

    /// The same failure, but only worth a retry (a 5xx from a server that
    /// was not the last one to try).
    pub(crate) fn temporary(mut self) -> Failure {
        if self.permanent {
            self.permanent = false;
            self.detail.status.replace_range(..1, "4");
        }
        self
    }

    pub(crate) fn result(&self) -> RecipientResult {
        if self.permanent {
            RecipientResult::PermFail(self.detail.clone())
        } else {
            RecipientResult::TempFail(self.detail.clone())
        }
    }
}

/// Per-recipient progress of one delivery attempt.
pub(crate) struct Progress {
    slots: Vec<Slot>,
}

enum Slot {
    /// Still to be sent; with the last temporary failure, if any.
    Pending(Option<Failure>),
    Done(RecipientResult),
}

impl Progress {
    pub(crate) fn new(n: usize) -> Progress {
        Progress {
            slots: (0..n).map(|_| Slot::Pending(None)).collect(),
        }
    }

    pub(crate) fn pending(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i], Slot::Pending(_)))
            .collect()
    }

    pub(crate) fn done(&mut self, i: usize, result: RecipientResult) {
        self.slots[i] = Slot::Done(result);
    }

    /// A failure: final when permanent, otherwise kept as the reason in
    /// case no later server does better.
    pub(crate) fn fail(&mut self, i: usize, failure: &Failure) {
        if failure.permanent {
            self.done(i, failure.result());
        } else if let Slot::Pending(reason) = &mut self.slots[i] {
            *reason = Some(failure.clone());
        }
    }

    pub(crate) fn fail_all(&mut self, indices: &[usize], failure: &Failure) {
        for &i in indices {
            self.fail(i, failure);
        }
    }

    /// The results; a recipient still pending gets its own last temporary
    /// failure, else `fallback` (the last connection-level failure).
    pub(crate) fn finish(self, fallback: Option<&Failure>) -> Vec<RecipientResult> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(result) => result,
                Slot::Pending(reason) => {
                    let failure = reason.or_else(|| fallback.cloned()).unwrap_or_else(|| {
                        Failure::local(
                            false,
                            "4.4.1",
                            "delivery not attempted: no server could be reached".into(),
                            None,
                        )
                    });
                    failure.temporary().result()
                }
            })
            .collect()
    }
}
