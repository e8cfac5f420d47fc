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
    views: Arc<Views>,
    resolver: Resolver,
    client: ClientSettings,
    port: u16,
    user_expire: Duration,
}

impl LmtpForwarder {
    /// Forwards to the backends' LMTP `port`, saying `hostname` in LHLO. A
    /// backend that does not accept, greet or answer LHLO within
    /// `connect_timeout` (`director.connect_timeout`, as for a login) gets
    /// no copy: they are deferred at once rather than held minutes by a
    /// hung backend (the RFC's 5 minutes are for the Internet); the
    /// transaction's own steps keep their usual timeouts. `views` shared
    /// with the node's proxy.
    pub fn new(
        state: Arc<dyn State>,
        views: Arc<Views>,
        resolver: Resolver,
        hostname: &str,
        port: u16,
        user_expire: Duration,
        connect_timeout: Duration,
    ) -> LmtpForwarder {
        let mut client = ClientSettings::new(hostname);
        client.timeouts.connect = connect_timeout;
        client.timeouts.greeting = connect_timeout;
        client.timeouts.helo = connect_timeout;
        LmtpForwarder {
            views,
            state,
            resolver,
            client,
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
        for (n, mailbox) in mailboxes.iter().enumerate() {
            match assign::place(&*self.state, &self.views, mailbox, self.user_expire).await {
                Ok(backend) => by_backend.entry(backend).or_default().push(n),
                Err(err) => {
                    answers[n] = Some(deferred(format!("no backend for {mailbox}: {err}"), "none"))
                }
            }
        }
        let content = Content::from(message);
        let body = Message {
            prepend: b"",
            content,
        };
        let Ok(size) = body.size().await else {
            let why = "cannot read the message".to_string();
            return mailboxes
                .iter()
                .map(|_| deferred(why.clone(), "none"))
                .collect();
        };
        for (backend, indexes) in by_backend {
            let recipients: Vec<String> = indexes.iter().map(|n| mailboxes[*n].clone()).collect();
            let envelope = Envelope {
                sender,
                recipients: &recipients,
                size,
                smtputf8: !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii()),
                // BODY=8BITMIME says the body may have 8-bit bytes, which a
                // 7-bit one may say too (RFC 6152): no pass over the message
                // to find out, for backends that take it as is anyway.
                eight_bit: true,
            };
            // Named as the logins and probes reach it (the system's
            // resolver, /etc/hosts included), not only through DNS.
            let within = self.client.timeouts.connect;
            let host = match address_of(&backend, self.port, within).await {
                Ok(ip) => ip.to_string(),
                Err(err) => {
                    for n in indexes {
                        answers[n] = Some(deferred(format!("backend {backend}: {err}"), &backend));
                    }
                    continue;
                }
            };
            let route = Route::Lmtp {
                host,
                port: self.port,
            };
            let results =
                havre_outbound::deliver(&route, "", &self.resolver, &self.client, &envelope, body)
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

/// The address of the backend named `backend` (an address, or a name the
/// system resolves as `havre_net::connect` does for logins), within
/// `within`.
async fn address_of(
    backend: &str,
    port: u16,
    within: std::time::Duration,
) -> std::io::Result<std::net::IpAddr> {
    if let Ok(ip) = backend.parse() {
        return Ok(ip);
    }
    let lookup = tokio::net::lookup_host((backend, port));
    tokio::time::timeout(within, lookup)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "name not resolved in time")
        })??
        .next()
        .map(|found| found.ip())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
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

    #[tokio::test]
    async fn a_backend_is_reached_by_the_name_the_system_resolves() {
        // localhost is /etc/hosts', which DNS alone would not answer.
        let within = std::time::Duration::from_secs(5);
        let ip = address_of("localhost", 24, within).await.unwrap();
        assert!(ip.is_loopback(), "{ip}");
        assert_eq!(
            address_of("127.0.0.3", 24, within)
                .await
                .unwrap()
                .to_string(),
            "127.0.0.3"
        );
    }
}
