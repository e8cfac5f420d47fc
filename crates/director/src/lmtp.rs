//! LMTP at a director: each recipient's copy goes to the backend of her
//! mailbox (the same one her IMAP sessions go to, [`assign::place`]), over
//! LMTP, with her own reply kept (RFC 2033). A backend down is never sent
//! to: its users are placed elsewhere; when no backend can take a user,
//! or hers does not answer, her copy is deferred (4xx), never lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_message::MessageSource;
use havre_net::{Forwarded, LmtpForward};
use havre_outbound::{
    ClientSettings, Content, Envelope, Message, RecipientResult, Resolver, Route,
};
use havre_state::State;

use crate::assign;
use crate::view::Views;

pub struct LmtpForwarder {
    state: Arc<dyn State>,
    views: Views,
    resolver: Resolver,
    client: ClientSettings,
    port: u16,
    user_expire: Duration,
}

impl LmtpForwarder {
    /// Forwards to the backends' LMTP `port`, saying `hostname` in LHLO.
    pub fn new(
        state: Arc<dyn State>,
        resolver: Resolver,
        hostname: &str,
        port: u16,
        user_expire: Duration,
    ) -> LmtpForwarder {
        LmtpForwarder {
            views: Views::new(state.clone()),
            state,
            resolver,
            client: ClientSettings::new(hostname),
            port,
            user_expire,
        }
    }
}

fn deferred(text: String, backend: &str) -> Forwarded {
    Forwarded {
        code: 451,
        status: "4.4.0".into(),
        text,
        backend: backend.to_string(),
    }
}

#[async_trait]
impl LmtpForward for LmtpForwarder {
    async fn forward(
        &self,
        sender: &str,
        mailboxes: &[String],
        message: &MessageSource,
    ) -> Vec<Forwarded> {
        let mut answers: Vec<Option<Forwarded>> = vec![None; mailboxes.len()];
        let mut by_backend: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let view = match self.views.get().await {
            Ok(view) => view,
            Err(err) => {
                let why = format!("the directors' shared state: {err}");
                return mailboxes
                    .iter()
                    .map(|_| deferred(why.clone(), "none"))
                    .collect();
            }
        };
        for (n, mailbox) in mailboxes.iter().enumerate() {
            match assign::place(&*self.state, &view, mailbox, self.user_expire).await {
                Ok(backend) => by_backend.entry(backend).or_default().push(n),
                Err(err) => {
                    answers[n] = Some(deferred(format!("no backend for {mailbox}: {err}"), "none"))
                }
            }
        }
        let scanned = {
            let source = message.clone();
            tokio::task::spawn_blocking(move || scan(&source)).await
        };
        let (size, eight_bit) = match scanned {
            Ok(Ok(scanned)) => scanned,
            other => {
                let why = format!("cannot read the message: {other:?}");
                return mailboxes
                    .iter()
                    .map(|_| deferred(why.clone(), "none"))
                    .collect();
            }
        };
        let content = match message {
            MessageSource::File(path) => Content::File(path),
            MessageSource::Bytes(bytes) => Content::Bytes(bytes),
        };
        for (backend, indexes) in by_backend {
            let recipients: Vec<String> = indexes.iter().map(|n| mailboxes[*n].clone()).collect();
            let envelope = Envelope {
                sender,
                recipients: &recipients,
                size,
                smtputf8: !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii()),
                eight_bit,
            };
            let route = Route::Lmtp {
                host: backend.clone(),
                port: self.port,
            };
            let results = havre_outbound::deliver(
                &route,
                "",
                &self.resolver,
                &self.client,
                &envelope,
                Message {
                    prepend: b"",
                    content,
                },
            )
            .await;
            for (n, result) in indexes.into_iter().zip(results) {
                let detail = result.detail();
                let code = match &result {
                    RecipientResult::Delivered(_) => 250,
                    RecipientResult::TempFail(_) => 451,
                    RecipientResult::PermFail(_) => 550,
                };
                answers[n] = Some(Forwarded {
                    code: reply_code(&detail.reply)
                        .filter(|c| c / 100 == code / 100)
                        .unwrap_or(code),
                    status: detail.status.clone(),
                    text: detail.reply.clone(),
                    backend: backend.clone(),
                });
            }
        }
        answers
            .into_iter()
            .zip(mailboxes)
            .map(|(answer, mailbox)| {
                answer.unwrap_or_else(|| deferred(format!("no answer for {mailbox}"), "none"))
            })
            .collect()
    }
}

/// The message's size and whether it has 8-bit bytes (BODY=8BITMIME),
/// read a block at a time: a message in a file is never held whole.
fn scan(message: &MessageSource) -> std::io::Result<(u64, bool)> {
    use std::io::Read;
    let mut reader = message.reader()?;
    let mut block = vec![0u8; 64 << 10];
    let (mut size, mut eight_bit) = (0u64, false);
    loop {
        let n = reader.read(&mut block)?;
        if n == 0 {
            return Ok((size, eight_bit));
        }
        size += n as u64;
        eight_bit |= block[..n].iter().any(|b| *b >= 0x80);
    }
}

/// The reply code a backend's reply starts with ("552 5.2.2 ..."), or the
/// one in Postfix-style wording ("host ... said: 552 5.2.2 ...").
fn reply_code(reply: &str) -> Option<u16> {
    let text = reply.split(" said: ").nth(1).unwrap_or(reply);
    text.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_in_a_file_is_measured_and_scanned_a_block_at_a_time() {
        let dir = std::env::temp_dir().join(format!("havre-lmtp-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("message");
        let mut body = vec![b'a'; 200_000];
        std::fs::write(&path, &body).unwrap();
        assert_eq!(scan(&MessageSource::file(&path)).unwrap(), (200_000, false));
        body[150_000] = 0xc3;
        std::fs::write(&path, &body).unwrap();
        assert_eq!(scan(&MessageSource::file(&path)).unwrap(), (200_000, true));
        let bytes = MessageSource::Bytes(b"caf\xc3\xa9".to_vec().into());
        assert_eq!(scan(&bytes).unwrap(), (5, true));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_backends_code_is_kept() {
        assert_eq!(reply_code("250 2.0.0 <a@x> Saved"), Some(250));
        assert_eq!(
            reply_code(
                "host b[127.0.0.2]:24 said: 552 5.2.2 <a@x> Mailbox full (in reply to end of DATA command)"
            ),
            Some(552)
        );
        assert_eq!(reply_code("connect to b: Connection refused"), None);
    }
}
