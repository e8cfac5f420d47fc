//! Outbound delivery: where mail for a domain goes ([`Routes`], [`Resolver`])
//! and the SMTP/LMTP client that takes one message there ([`deliver`]).
//!
//! No queue logic: the relay calls [`deliver`] with one message and the
//! recipients that share one destination, and records each recipient's
//! [`RecipientResult`]. Hosts are tried the way Postfix's smtp client tries
//! them: MX hosts by preference, each address of each host, at most
//! [`ClientSettings::max_addresses`] addresses and
//! [`ClientSettings::max_sessions`] servers that answered. A server that
//! cannot be reached, or answers with a 4xx (greeting, EHLO, MAIL, RCPT,
//! DATA), passes the recipients it did not take to the next one; a 5xx from
//! a server in a transaction is final; a 5xx greeting is final only from
//! the last server to try.

mod client;
mod dns;
mod message;
mod outcome;
mod route;
mod routing;
mod settings;
mod tls;
mod wire;

pub use client::Connection;
pub use dns::{DestinationError, MailHost, Resolver, ResolverError};
pub use message::{Content, Message};
pub use outcome::{Detail, RecipientResult};
pub use route::{Route, RouteError, parse_route};
pub use routing::{Nexthop, Routed, Routes, parse_nexthop};
pub use settings::{ClientSettings, Envelope, Timeouts, TlsPolicy};
pub use wire::{LineEndsAsSent, line_ends_as_sent};

use client::{OpenError, Target, TargetAddress, message_file_failure};
use message::Body;
use outcome::{Failure, Progress};

/// Delivers one message to the recipients of one destination: `domain` is
/// the recipients' domain (for [`Route::Mx`]), `message` the spool file
/// (streamed, never loaded whole) or a [`Message`]. Returns one result per
/// recipient, in the order of `envelope.recipients`. The session is closed
/// in the background (QUIT) once the results are known.
pub async fn deliver<'m>(
    route: &Route,
    domain: &str,
    resolver: &Resolver,
    settings: &ClientSettings,
    envelope: &Envelope<'_>,
    message: impl Into<Message<'m>>,
) -> Vec<RecipientResult> {
    let (results, connection) =
        deliver_reusing(None, route, domain, resolver, settings, envelope, message).await;
    if let Some(connection) = connection {
        tokio::spawn(connection.quit());
    }
    results
}

/// [`deliver`], first over `cached` (a session kept from an earlier
/// delivery to the same destination) when it still answers RSET; returns
/// the session, if it is still usable, for the next message. A kept
/// session that answers is used alone: recipients it defers are
/// [`RecipientResult::TempFail`] without trying other hosts in this call.
/// A session is kept only when every recipient got a final answer. The caller
/// owns the pool: key it by route and domain, cap its age
/// ([`Connection::established`]) and use count
/// ([`Connection::transactions`]), and [`Connection::quit`] what it drops.
pub async fn deliver_reusing<'m>(
    cached: Option<Connection>,
    route: &Route,
    domain: &str,
    resolver: &Resolver,
    settings: &ClientSettings,
    envelope: &Envelope<'_>,
    message: impl Into<Message<'m>>,
) -> (Vec<RecipientResult>, Option<Connection>) {
    let message = message.into();
    let count = envelope.recipients.len();
    let mut progress = Progress::new(count);
    if count == 0 {
        return (Vec::new(), cached);
    }
    let mut body = match Body::open(message).await {
        Ok(body) => body,
        Err((path, e)) => {
            let failure = message_file_failure(path, &e);
            return (progress.finish(Some(&failure)), cached);
        }
    };

    if let Some(mut connection) = cached {
        if connection.reset().await {
            connection.run(envelope, &mut body, &mut progress).await;
            let keep = connection.is_usable().then_some(connection);
            return (progress.finish(None), keep);
        }
        tracing::debug!("{}: cached session is gone", connection.peer());
    }

    let targets = match targets(route, domain, resolver, settings).await {
        Ok(targets) => targets,
        Err(e) => {
            let failure = Failure::local(e.is_permanent(), e.status(), e.to_string(), None);
            progress.fail_all(&progress.pending(), &failure);
            return (progress.finish(Some(&failure)), None);
        }
    };
    let last_index = targets.len().min(settings.max_addresses.max(1)) - 1;
    let mut last_failure: Option<Failure> = None;
    let mut sessions = 0;
    let mut keep = None;
    for (index, target) in targets.iter().take(last_index + 1).enumerate() {
        if progress.pending().is_empty() || sessions >= settings.max_sessions.max(1) {
            break;
        }
        let mut try_tls = settings.tls == TlsPolicy::Opportunistic;
        let opened = loop {
            match Connection::open(target, settings, try_tls).await {
                Err(OpenError::Tls(failure)) if try_tls => {
                    tracing::info!("{}; trying again without TLS", failure.detail.reply);
                    last_failure = Some(failure);
                    try_tls = false;
                }
                other => break other,
            }
        };
        let mut connection = match opened {
            Ok(connection) => connection,
            Err(OpenError::Connect(failure) | OpenError::Tls(failure)) => {
                tracing::info!("{}", failure.detail.reply);
                last_failure = Some(failure);
                continue;
            }
            Err(OpenError::Session(failure)) => {
                sessions += 1;
                tracing::info!("{}", failure.detail.reply);
                let last_server = index == last_index || sessions >= settings.max_sessions;
                if failure.permanent && last_server {
                    progress.fail_all(&progress.pending(), &failure);
                }
                last_failure = Some(failure.temporary());
                continue;
            }
        };
        sessions += 1;
        connection.run(envelope, &mut body, &mut progress).await;
        if progress.pending().is_empty() && connection.is_usable() {
            keep = Some(connection);
        } else {
            tokio::spawn(connection.quit());
        }
    }
    (progress.finish(last_failure.as_ref()), keep)
}

/// The sockets to try for a route, in order.
async fn targets(
    route: &Route,
    domain: &str,
    resolver: &Resolver,
    settings: &ClientSettings,
) -> Result<Vec<Target>, DestinationError> {
    let (hosts, port, lmtp) = match route {
        Route::LmtpUnix { path } => {
            return Ok(vec![Target {
                host: "localhost".into(),
                address: TargetAddress::Unix(path.clone()),
                lmtp: true,
            }]);
        }
        Route::Mx => (
            resolver.mail_hosts(domain).await?,
            settings.smtp_port,
            false,
        ),
        Route::Smtp {
            host,
            port,
            mx: true,
        } => (resolver.mail_hosts(host).await?, *port, false),
        Route::Smtp {
            host,
            port,
            mx: false,
        } => (one_host(resolver, host).await?, *port, false),
        Route::Lmtp { host, port } => (one_host(resolver, host).await?, *port, true),
    };
    Ok(hosts
        .into_iter()
        .flat_map(|host| {
            let name = host.name;
            host.addresses.into_iter().map(move |ip| Target {
                host: name.clone(),
                address: TargetAddress::Tcp((ip, port).into()),
                lmtp,
            })
        })
        .collect())
}

async fn one_host(resolver: &Resolver, host: &str) -> Result<Vec<MailHost>, DestinationError> {
    Ok(vec![MailHost {
        name: host.to_owned(),
        addresses: resolver.host_addresses(host).await?,
    }])
}
