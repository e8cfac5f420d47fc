//! `havre route ADDRESS`: where mail to an address goes, and why (the
//! routing table's entry, the aliases, the relay domains), as the mx and
//! the relay decide it.

use std::path::PathBuf;

use havre_directory::{Address, Directory, RelayVerdict, Resolution, Target};
use havre_outbound::{Nexthop, Routes};
use havre_store::Store;
use serde::Serialize;

use crate::directory_cmd;
use crate::output::{self, Report};

pub(crate) async fn run(config: Option<PathBuf>, text: String, json: bool) -> anyhow::Result<()> {
    let (loaded, store) = directory_cmd::store(config).await?;
    let config = &loaded.config;
    let routes = Routes::from_tables(&[
        ("routing", &config.routing),
        ("relay.routes", &config.relay.routes),
    ])?;
    let directory = crate::locate::directory(&loaded, store.clone())?;
    let address = directory_cmd::address(&text)?;
    let hostname = &config.server.hostname;
    let report = explain(&store, &directory, &routes, &address, hostname).await?;
    output::print(&report, json)
}

/// Where mail to one address goes.
#[derive(Debug, Serialize)]
pub(crate) struct RouteReport {
    address: String,
    /// Whether the mx takes it from any client at RCPT, and why.
    accepted: bool,
    why: String,
    /// Where each copy goes (none when refused).
    destinations: Vec<Destination>,
}

#[derive(Debug, Serialize)]
struct Destination {
    address: String,
    /// `local`, `smtp:[host]:port`, `error:5.1.1 text`...
    nexthop: String,
    why: String,
}

async fn explain(
    store: &std::sync::Arc<dyn Store>,
    directory: &Directory,
    routes: &Routes,
    address: &Address,
    hostname: &str,
) -> anyhow::Result<RouteReport> {
    let key = address.key();
    let entry = store.address_entry(&key, address.domain()).await?;
    let resolution = directory.resolve(address).await?;
    let mut report = RouteReport {
        address: key.clone(),
        accepted: true,
        why: String::new(),
        destinations: Vec::new(),
    };
    let targets = match resolution {
        Resolution::NotLocal => {
            let verdict = directory.relay_verdict(&key).await?;
            let (accepted, why) = match verdict {
                RelayVerdict::Accepted => (
                    true,
                    format!("{} is a relay domain (relay.domains)", address.domain()),
                ),
                RelayVerdict::UnknownRecipient => (
                    false,
                    format!(
                        "refused at RCPT: 550 5.1.1 User unknown in relay recipient table ({})",
                        if directory.relay().ldap_recipients() {
                            "relay.recipients, relay.recipients_from_ldap"
                        } else {
                            "relay.recipients"
                        }
                    ),
                ),
                RelayVerdict::NotRelayed => (
                    false,
                    format!(
                        "{} is not a domain of this node: taken only from clients that may \
                         relay (relay.internal_networks, AUTH), others get 554 5.7.1",
                        address.domain()
                    ),
                ),
            };
            report.accepted = accepted;
            report.why = why;
            if verdict != RelayVerdict::UnknownRecipient {
                report.destinations.push(destination(routes, &key, false));
            }
            return Ok(report);
        }
        Resolution::Disabled => {
            report.accepted = false;
            report.why =
                "refused at RCPT: 550 5.2.1 Mailbox disabled (a disabled LDAP account)".into();
            return Ok(report);
        }
        Resolution::UnknownUser => {
            report.accepted = false;
            report.why = "refused at RCPT: 550 5.1.1 User unknown".into();
            return Ok(report);
        }
        Resolution::Loop => {
            report.accepted = false;
            report.why = "refused at RCPT: 550 5.4.6 mail forwarding loop".into();
            return Ok(report);
        }
        Resolution::Deliver(targets) => targets,
    };
    report.why = format!("{} is a domain of this node", address.domain());
    // The recipient's own entry (a user routed elsewhere) comes before
    // her mailbox and her aliases, as the relay reads it.
    let local = directory
        .routes_as_local(entry.domain_local, address.domain())
        .await;
    if let Some(routed) = routes.lookup(&key, local)
        && *routed.nexthop != Nexthop::Local
    {
        report.destinations.push(destination(routes, &key, true));
        return Ok(report);
    }
    if targets != [Target::Mailbox(key.clone())] {
        let names: Vec<String> = targets.iter().map(target_name).collect();
        report
            .why
            .push_str(&format!("; alias of {}", names.join(", ")));
    }
    for target in &targets {
        report.destinations.push(match target {
            Target::Mailbox(mailbox) => match directory.mail_host(mailbox).await? {
                Some(host) if !host.trim_end_matches('.').eq_ignore_ascii_case(hostname) => {
                    Destination {
                        address: mailbox.clone(),
                        nexthop: havre_relay::mail_host_route(&host)
                            .map(|r| r.to_string())
                            .unwrap_or_else(|e| format!("error:4.3.5 {e}")),
                        why: format!("her mail host in LDAP ({host})"),
                    }
                }
                _ => Destination {
                    address: mailbox.clone(),
                    nexthop: "local".into(),
                    why: "a mailbox of this node".into(),
                },
            },
            Target::Remote(remote) => destination(routes, &remote.to_ascii_lowercase(), false),
            Target::Unknown(unknown) => Destination {
                address: unknown.clone(),
                nexthop: "error:5.1.1 user unknown".into(),
                why: "an alias target nobody has (bounced)".into(),
            },
        });
    }
    Ok(report)
}

fn target_name(target: &Target) -> String {
    match target {
        Target::Mailbox(a) | Target::Remote(a) | Target::Unknown(a) => a.clone(),
    }
}

/// The routing table's word on `address`, or the MX hosts of its domain.
fn destination(routes: &Routes, address: &str, local_domain: bool) -> Destination {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    match routes.lookup(address, local_domain) {
        Some(routed) => Destination {
            address: address.to_string(),
            nexthop: routed.nexthop.to_string(),
            why: format!("{}{}", routed.source, consequence(routed.nexthop)),
        },
        None => Destination {
            address: address.to_string(),
            nexthop: "smtp:".into(),
            why: format!("no routing entry: the MX hosts of {domain}"),
        },
    }
}

/// What a next hop that is no transport does with the message.
fn consequence(nexthop: &Nexthop) -> &'static str {
    match nexthop {
        Nexthop::Error { status, .. } if status.starts_with('4') => ": deferred",
        Nexthop::Error { .. } => ": bounced",
        Nexthop::Discard(_) => ": dropped, logged as sent",
        Nexthop::Local | Nexthop::Transport(_) => "",
    }
}

impl Report for RouteReport {
    fn text(&self) -> String {
        let taken = if self.accepted {
            "accepted"
        } else {
            "not accepted"
        };
        let mut out = format!("{}: {taken}: {}\n", self.address, self.why);
        for d in &self.destinations {
            out.push_str(&format!("  {} -> {} ({})\n", d.address, d.nexthop, d.why));
        }
        out
    }
}
