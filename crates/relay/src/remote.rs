//! Remote destinations: recipients outside the local domains (submission,
//! internal networks, alias forwarding) go out through `havre-outbound`, one
//! transaction per destination domain, DKIM-signed when the sender's domain
//! has a key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use havre_dkim::Signers;
use havre_outbound::{ClientSettings, Envelope, RecipientResult, Resolver, Routes};
use havre_store::QueueEntry;

use crate::Relay;
use crate::attempt::Progress;

/// What the relay needs to send mail to other servers.
pub struct Outbound {
    pub routes: Routes,
    pub resolver: Resolver,
    pub client: ClientSettings,
    pub signers: Arc<Signers>,
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
        body: &Path,
        remote: Vec<(usize, String)>,
        progress: &mut [Progress],
    ) {
        let Some(outbound) = &self.outbound else {
            for (i, address) in remote {
                progress[i].deferred.push(format!(
                    "<{address}>: 4.4.1 outbound delivery is not enabled on this node"
                ));
            }
            return;
        };
        let message = match self.signed_copy(outbound, entry, body).await {
            Ok(path) => path,
            Err(err) => {
                for (i, address) in remote {
                    progress[i].deferred.push(format!(
                        "<{address}>: 4.3.0 cannot prepare the message: {err}"
                    ));
                }
                return;
            }
        };
        let mut by_domain: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for (i, address) in remote {
            by_domain
                .entry(domain_of(&address))
                .or_default()
                .push((i, address));
        }
        let size = tokio::fs::metadata(&message)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        for (domain, recipients) in by_domain {
            let route = outbound.routes.route_for(&domain);
            let addresses: Vec<String> = recipients.iter().map(|(_, a)| a.clone()).collect();
            let smtputf8 = !entry.sender.is_ascii() || addresses.iter().any(|a| !a.is_ascii());
            let envelope = Envelope {
                sender: &entry.sender,
                recipients: &addresses,
                size,
                smtputf8,
                eight_bit: false,
            };
            let results = havre_outbound::deliver(
                &route,
                &domain,
                &outbound.resolver,
                &outbound.client,
                &envelope,
                &message,
            )
            .await;
            for ((i, address), result) in recipients.into_iter().zip(results) {
                let detail = result.detail();
                let p = &mut progress[i];
                if let Some(mta) = &detail.remote_mta {
                    p.relay = Some(mta.clone());
                }
                let text = format!("<{address}>: {}", detail.reply);
                match result {
                    RecipientResult::Delivered(_) => p.delivered.push(text),
                    RecipientResult::TempFail(_) => p.deferred.push(text),
                    RecipientResult::PermFail(_) => p.failed.push(text),
                }
            }
        }
        if message != body {
            let _ = tokio::fs::remove_file(&message).await;
        }
    }

    /// The message as it goes out: with a DKIM-Signature when the sender's
    /// domain has a key (a signed copy next to the spool file), else the
    /// spool file itself.
    async fn signed_copy(
        &self,
        outbound: &Outbound,
        entry: &QueueEntry,
        body: &Path,
    ) -> Result<std::path::PathBuf, std::io::Error> {
        let bytes = tokio::fs::read(body).await?;
        let sender = (!entry.sender.is_empty()).then_some(entry.sender.as_str());
        match outbound.signers.sign(&bytes, sender) {
            Ok(Some(signature)) => {
                let path = body.with_extension("signed");
                let mut signed = signature.into_bytes();
                signed.extend_from_slice(&bytes);
                tokio::fs::write(&path, signed).await?;
                Ok(path)
            }
            Ok(None) => Ok(body.to_path_buf()),
            Err(err) => {
                tracing::warn!(target: "relay", "{}: not DKIM-signed: {err}", entry.id);
                Ok(body.to_path_buf())
            }
        }
    }
}
