//! The session's side of the checks pipeline (`havre-checks`): which
//! pipeline a role runs and how clients are named, the reply of a refusal,
//! and the message held until its end-of-DATA checks have run, then stored
//! as: our `Received:`, the headers the checks added, the client's message
//! without the fields that claim to be ours (its subject prefixed when a
//! check asked: the spam filter's tag).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use havre_checks::{AddedHeaders, Facts, Outcome, Pipeline};
use havre_queue::{QueueError, Spool, SpoolFile};
use havre_smtp_codec::Reply;
use havre_smtp_codec::headers::{authserv_id, header_end, without_fields};

/// Names a client by its address: the forward-confirmed reverse name
/// (`havre-auth` implements it over the node's resolver).
#[async_trait]
pub trait ClientNames: Send + Sync {
    async fn confirmed_name(&self, ip: IpAddr) -> Option<String>;
}

/// The checks of the SMTP roles. LMTP and local submission run none: their
/// clients are the node's own tiers and local accounts.
#[derive(Clone, Default)]
pub struct SessionChecks {
    pub mx: Option<Arc<Pipeline>>,
    pub submission: Option<Arc<Pipeline>>,
    /// Reverse DNS of mx and submission clients (`None`: every client is
    /// `unknown`).
    pub names: Option<Arc<dyn ClientNames>>,
}

/// The SMTP reply of an outcome that refused, as its check wrote it.
pub(crate) fn refusal(outcome: &Outcome, facts: &Facts) -> Option<Reply> {
    let reply = outcome.action.reply()?;
    let line = reply.line(facts);
    // `line` starts with the code; the codec writes the code itself.
    let text = line
        .split_once(' ')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    Some(Reply::plain(reply.code, vec![text]))
}

/// Bytes of a message kept in memory while it arrives; beyond this it goes
/// to a file of its own (`queue/tmp/<id>.raw`) and is read back once
/// complete, so a slow client sending a big message holds a file, not
/// memory, while it sends.
const HOLD_IN_MEMORY: usize = 1 << 20;

/// A message being received by a role that checks it at the end of DATA:
/// it is written to the queue only once the checks said what to add.
pub(crate) struct Held {
    /// Our `Received:`, written first.
    pub(crate) received: Vec<u8>,
    bytes: Vec<u8>,
    spill: Option<SpoolFile>,
    spool: Spool,
    id: String,
}

impl Held {
    pub(crate) fn new(spool: Spool, id: &str, received: Vec<u8>) -> Held {
        Held {
            received,
            bytes: Vec::new(),
            spill: None,
            spool,
            id: id.to_owned(),
        }
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), QueueError> {
        if self.spill.is_none() && self.bytes.len() + data.len() <= HOLD_IN_MEMORY {
            self.bytes.extend_from_slice(data);
            return Ok(());
        }
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => {
                let mut file = self.spool.create(&format!("{}.raw", self.id)).await?;
                file.write(&self.bytes).await?;
                self.bytes = Vec::new();
                self.spill.insert(file)
            }
        };
        spill.write(data).await
    }

    /// The whole message as the client sent it.
    pub(crate) async fn message(mut self) -> Result<Vec<u8>, QueueError> {
        match self.spill.take() {
            Some(spill) => spill.read_back().await,
            None => Ok(std::mem::take(&mut self.bytes)),
        }
    }
}

/// The queue file of a checked message: `received`, then `added`, then
/// `message` without the `Authentication-Results:` fields that claim
/// `hostname` as their authserv-id (RFC 8601 5: only this host may) nor
/// the `X-Havre-Quarantine:` fields, which local delivery obeys: only the
/// checks may add them. Returns the file and how many fields were removed.
pub(crate) async fn store(
    spool: &Spool,
    id: &str,
    received: &[u8],
    added: &AddedHeaders,
    message: &[u8],
    hostname: &str,
) -> Result<(SpoolFile, usize), QueueError> {
    let end = header_end(message);
    let (header, removed) = without_fields(&message[..end], |name, value| {
        name.eq_ignore_ascii_case(QUARANTINE_HEADER.as_bytes())
            || (name.eq_ignore_ascii_case(b"Authentication-Results")
                && authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case(hostname)))
    });
    // The subject a check asked to prefix (the spam filter's tag); a
    // message without one gets one, after the checks' headers.
    let mut new_subject = None;
    let header = match added.subject_prefix() {
        Some(prefix) => crate::subject::prefixed(&header, prefix).unwrap_or_else(|| {
            new_subject = Some(crate::subject::new_field(prefix));
            header
        }),
        None => header,
    };
    let mut file = spool.create(id).await?;
    file.write(received).await?;
    file.write(&added.to_bytes()).await?;
    if let Some(field) = &new_subject {
        file.write(field).await?;
    }
    file.write(&header).await?;
    file.write(&message[end..]).await?;
    Ok((file, removed))
}

/// The quarantine header's name (`havre-auth` adds it, `havre-mailbox`
/// reads it; neither is a dependency of this crate).
const QUARANTINE_HEADER: &str = "X-Havre-Quarantine";

#[cfg(test)]
mod tests {
    use havre_checks::{Header, Stage, Verdict};

    use super::*;

    #[tokio::test]
    async fn a_stored_message_has_our_trace_the_added_headers_and_no_forged_results() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut added = AddedHeaders::new();
        let outcome = Outcome {
            action: havre_checks::Action::Accept,
            headers: vec![(
                "dmarc".into(),
                Header::new("Authentication-Results", "mx.example.test; spf=pass"),
            )],
            steps: Vec::new(),
        };
        added.extend(&outcome);
        let message = b"Authentication-Results: MX.example.test; dkim=pass\r\n\
                        Authentication-Results: elsewhere.test; dkim=pass\r\n\
                        X-Havre-Quarantine: no\r\n\
                        Subject: hi\r\n\r\nAuthentication-Results: mx.example.test; body\r\n";
        let (file, removed) = store(
            &spool,
            "0123456789ABCDEF",
            b"Received: from x\r\n",
            &added,
            message,
            "mx.example.test",
        )
        .await
        .unwrap();
        assert_eq!(removed, 2);
        let stored = String::from_utf8(file.read_back().await.unwrap()).unwrap();
        assert_eq!(
            stored,
            "Received: from x\r\nAuthentication-Results: mx.example.test; spf=pass\r\n\
             Authentication-Results: elsewhere.test; dkim=pass\r\nSubject: hi\r\n\r\n\
             Authentication-Results: mx.example.test; body\r\n"
        );
    }

    #[tokio::test]
    async fn a_subject_prefix_asked_by_a_check_is_written_in_the_stored_message() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let outcome = Outcome {
            action: havre_checks::Action::Accept,
            headers: Vec::new(),
            steps: vec![havre_checks::Step {
                check: "spam".into(),
                verdict: Verdict::accept().with_subject_prefix("[SPAM] "),
            }],
        };
        let mut added = AddedHeaders::new();
        added.extend(&outcome);
        let stored = |message: &'static [u8]| {
            let (spool, added) = (&spool, &added);
            async move {
                let (file, _) = store(spool, "0123456789ABCDEF", b"", added, message, "mx.test")
                    .await
                    .unwrap();
                String::from_utf8(file.read_back().await.unwrap()).unwrap()
            }
        };
        assert_eq!(
            stored(b"From: a@example.org\r\nSubject: Cheap\r\n\r\nSubject: body\r\n").await,
            "From: a@example.org\r\nSubject: [SPAM] Cheap\r\n\r\nSubject: body\r\n"
        );
        assert_eq!(
            stored(b"From: a@example.org\r\n\r\nbody\r\n").await,
            "Subject: [SPAM]\r\nFrom: a@example.org\r\n\r\nbody\r\n",
            "a message without a subject gets one"
        );
    }

    #[tokio::test]
    async fn a_big_message_goes_to_a_file_while_it_arrives_and_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut held = Held::new(spool, "0123456789ABCDEF", Vec::new());
        let chunk = vec![b'x'; 300 * 1024];
        for _ in 0..5 {
            held.write(&chunk).await.unwrap();
        }
        assert!(held.spill.is_some() && held.bytes.is_empty());
        assert_eq!(held.message().await.unwrap().len(), 5 * 300 * 1024);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_refusal_is_written_as_the_check_words_it() {
        let mut facts = Facts::new("192.0.2.7".parse().unwrap());
        facts.stage = Stage::Rcpt;
        facts.recipient = Some("bob@example.test".into());
        let outcome = Outcome {
            action: Verdict::defer(450, "4.7.1", "Greylisted").action,
            headers: Vec::new(),
            steps: Vec::new(),
        };
        let mut out = Vec::new();
        refusal(&outcome, &facts).unwrap().write_to(&mut out);
        assert_eq!(
            out,
            b"450 4.7.1 <bob@example.test>: Recipient address rejected: Greylisted\r\n"
        );
    }
}
