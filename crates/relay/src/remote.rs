//! Remote destinations: recipients outside the local domains (submission,
//! internal networks, alias forwarding) go out through `havre-outbound`, one
//! transaction per destination domain, DKIM-signed when the sender's domain
//! has a key.

use std::collections::BTreeMap;
use std::sync::Arc;

use havre_dkim::{DkimError, Signers};
use havre_mailbox::MessageSource;
use havre_outbound::{
    ClientSettings, Connection, Content, Envelope, LineEndsAsSent, Message, Nexthop,
    RecipientResult, Resolver, Route, Routes,
};
use havre_store::QueueEntry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

use crate::Relay;
use crate::attempt::{Note, Progress, RemoteTarget};

/// The result of a remote target whose route is no transport
/// (`discard`, `error:`, or `local` for a domain that is not ours).
fn not_sent(progress: &mut Progress, target: &RemoteTarget, nexthop: &Nexthop) {
    let named = target.named();
    match nexthop {
        Nexthop::Discard(text) => {
            let text = if text.is_empty() { "discarded" } else { text };
            progress.delivered.push(Note::new("2.0.0", format!("{named}{text}")));
        }
        Nexthop::Error { status, text } if status.starts_with('4') => {
            progress.deferred.push(Note::new(status, format!("{named}{text}")));
        }
        Nexthop::Error { status, text } => {
            progress.failed.push(Note::new(status, format!("{named}{text}")));
        }
        Nexthop::Local | Nexthop::Transport(_) => progress.failed.push(Note::new(
            "5.4.6",
            format!(
                "{named}mail for {} loops back to myself (routed local, but not a domain of this node)",
                domain_of(&target.address)
            ),
        )),
    }
}

/// How mail goes to other servers: what a reload of the node can replace.
pub struct OutboundSettings {
    pub routes: Routes,
    pub resolver: Resolver,
    pub client: ClientSettings,
    pub signers: Arc<Signers>,
    /// Deliveries at once to one destination domain (Postfix's
    /// default_destination_concurrency_limit).
    pub destination_concurrency: usize,
}

/// What the relay needs to send mail to other servers: the settings of the
/// moment (each attempt reads them once when it starts, so an attempt under
/// way finishes with the routes and keys it began with) and the connections
/// kept between messages.
pub struct Outbound {
    settings: watch::Receiver<Arc<OutboundSettings>>,
    pool: Pool,
}

impl Outbound {
    pub fn new(settings: watch::Receiver<Arc<OutboundSettings>>) -> Outbound {
        Outbound {
            settings,
            pool: Pool::default(),
        }
    }
}

impl Relay {
    /// Whether `host` names this node (its `server.hostname`).
    pub(crate) fn is_this_node(&self, host: &str) -> bool {
        let host = host.trim().trim_end_matches('.');
        host.eq_ignore_ascii_case(self.local.mailboxes().hostname())
    }

    /// The outbound settings of the moment (routes, keys), when this node
    /// sends mail to other servers.
    pub(crate) fn outbound_settings(&self) -> Option<Arc<OutboundSettings>> {
        self.outbound
            .as_ref()
            .map(|outbound| outbound.settings.borrow().clone())
    }
}

/// Open connections kept for the next message to the same destination, and
/// the per-destination concurrency slots.
#[derive(Default)]
struct Pool {
    idle: Mutex<HashMap<String, Vec<(Instant, Connection)>>>,
    /// Per destination: the limit its semaphore was made with, and it.
    slots: Mutex<HashMap<String, (usize, Arc<Semaphore>)>>,
}

/// How long an idle connection is kept (Postfix's smtp_connection_cache_time_limit).
const IDLE_LIMIT: Duration = Duration::from_secs(2);
/// Transactions over one connection before it is closed (smtp_connection_reuse_count_limit spirit).
const REUSE_LIMIT: u32 = 100;

impl Pool {
    /// The destination's semaphore; a new one when the limit changed (a
    /// reload): deliveries holding the old one finish under the old limit.
    fn slot(&self, key: &str, limit: usize) -> Arc<Semaphore> {
        let limit = limit.max(1);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots
            .entry(key.to_string())
            .or_insert_with(|| (limit, Arc::new(Semaphore::new(limit))));
        if slot.0 != limit {
            *slot = (limit, Arc::new(Semaphore::new(limit)));
        }
        slot.1.clone()
    }

    fn take(&self, key: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(key)?;
        while let Some((since, connection)) = list.pop() {
            if since.elapsed() < IDLE_LIMIT && connection.is_usable() {
                return Some(connection);
            }
            tokio::spawn(connection.quit());
        }
        None
    }

    fn put(&self, key: String, connection: Connection) {
        if !connection.is_usable() || connection.transactions() >= REUSE_LIMIT {
            tokio::spawn(connection.quit());
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.entry(key)
            .or_default()
            .push((Instant::now(), connection));
    }
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

impl Relay {
    pub(crate) async fn deliver_remote(
        &self,
        entry: &QueueEntry,
        body: &MessageSource,
        remote: Vec<RemoteTarget>,
        progress: &mut [Progress],
    ) {
        let Some(outbound) = &self.outbound else {
            for target in remote {
                progress[target.index].relay = Some("none".into());
                progress[target.index].deferred.push(Note::new(
                    "4.4.1",
                    format!(
                        "{}outbound delivery is not enabled on this node",
                        target.named()
                    ),
                ));
            }
            return;
        };
        let settings = outbound.settings.borrow().clone();
        let signature = match self.signature(&settings, entry, body).await {
            Ok(signature) => signature.unwrap_or_default(),
            Err(err) => {
                for target in remote {
                    progress[target.index].relay = Some("none".into());
                    progress[target.index].deferred.push(Note::new(
                        "4.3.0",
                        format!("{}cannot prepare the message: {err}", target.named()),
                    ));
                }
                return;
            }
        };
        // One transaction per route and domain: an address of its own in
        // the routing table goes its way, apart from its domain's others.
        let mut by_domain: BTreeMap<(String, String), (Route, Vec<RemoteTarget>)> = BTreeMap::new();
        for target in remote {
            let route = match (
                &target.route,
                settings.routes.lookup(&target.address, false),
            ) {
                (Some(own), _) => own.clone(),
                (None, None) => Route::Mx,
                (None, Some(routed)) => match routed.nexthop {
                    Nexthop::Transport(route) => route.clone(),
                    // An alias led here, to an address routed nowhere.
                    other => {
                        not_sent(&mut progress[target.index], &target, other);
                        continue;
                    }
                },
            };
            by_domain
                .entry((route.to_string(), domain_of(&target.address)))
                .or_insert_with(|| (route, Vec::new()))
                .1
                .push(target);
        }
        let message = Message {
            prepend: signature.as_bytes(),
            content: Content::from(body),
        };
        let size = message.size().await.unwrap_or(0);
        for ((_, domain), (route, recipients)) in by_domain {
            let addresses: Vec<String> = recipients.iter().map(|t| t.address.clone()).collect();
            let smtputf8 = !entry.sender.is_ascii() || addresses.iter().any(|a| !a.is_ascii());
            let envelope = Envelope {
                sender: &entry.sender,
                recipients: &addresses,
                size,
                smtputf8,
                eight_bit: false,
            };
            let key = format!("{route}|{domain}");
            let slot = outbound
                .pool
                .slot(&domain, settings.destination_concurrency);
            let _permit = slot.acquire_owned().await;
            let (results, connection) = havre_outbound::deliver_reusing(
                outbound.pool.take(&key),
                &route,
                &domain,
                &settings.resolver,
                &settings.client,
                &envelope,
                message,
            )
            .await;
            if let Some(connection) = connection {
                outbound.pool.put(key, connection);
            }
            for (target, result) in recipients.into_iter().zip(results) {
                let detail = result.detail();
                let p = &mut progress[target.index];
                // Postfix's relay=none when no server answered.
                if detail.relay.is_some() || p.relay.is_none() {
                    p.relay = Some(detail.relay.clone().unwrap_or_else(|| "none".into()));
                }
                if let Some(mta) = &detail.remote_mta {
                    p.remote_mta = Some(mta.clone());
                }
                let text = Note::new(
                    &detail.status,
                    format!("{}{}", target.named(), detail.reply),
                );
                match result {
                    RecipientResult::Delivered(_) => p.delivered.push(text),
                    RecipientResult::TempFail(_) => p.deferred.push(text),
                    RecipientResult::PermFail(_) => p.failed.push(text),
                }
            }
        }
    }

    /// The `DKIM-Signature:` fields to send before the spool file when the
    /// sender's domain has a key. The file is read as it will be sent (the
    /// wire turns bare CRs and LFs into CRLF, so the signature must cover
    /// that form, not the spool's), a block at a time, on a blocking thread:
    /// hashing megabytes and an RSA signature would hold an async worker for
    /// milliseconds. Nothing is written: the signature goes out in front of
    /// the queued body itself.
    async fn signature(
        &self,
        settings: &OutboundSettings,
        entry: &QueueEntry,
        body: &MessageSource,
    ) -> Result<Option<String>, std::io::Error> {
        if settings.signers.is_empty() {
            return Ok(None);
        }
        let signers = settings.signers.clone();
        let body = body.clone();
        let sender = (!entry.sender.is_empty()).then(|| entry.sender.clone());
        let signed = tokio::task::spawn_blocking(move || {
            let mut as_sent = LineEndsAsSent::new(body.reader()?);
            match signers.sign_reader(&mut as_sent, sender.as_deref()) {
                // The spool cannot be read: the attempt waits, as it
                // would if sending the file failed.
                Err(DkimError::Read(err)) => Err(err),
                other => Ok(other),
            }
        })
        .await
        .map_err(std::io::Error::other)??;
        match signed {
            Ok(signature) => Ok(signature),
            Err(err) => {
                tracing::warn!(target: "relay", "{}: not DKIM-signed: {err}", entry.id);
                Ok(None)
            }
        }
    }
}
