//! `havre serve`: run the roles enabled in the configuration.
//!
//! Everything that can be wrong is checked before the first socket accepts: the
//! configuration, the database, the spool, TLS material and every listening
//! address. A node never starts half-configured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use havre_config::{LoadedConfig, Role};
use havre_directory::Directory;
use havre_mailbox::{LocalDelivery, Mailboxes};
use havre_net::{Gate, Phase, Stopper};
use havre_queue::{Queue, Spool};
use havre_relay::{Relay, RelaySettings};
use havre_smtp::{Listener, Mode, Services, SmtpSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::locate;

pub async fn run(explicit: Option<PathBuf>) -> anyhow::Result<()> {
    let loaded = locate::load(explicit)?;
    let config = &loaded.config;
    crate::logging::init(&loaded)?;
    let open_files = crate::open_files::raise().context("cannot read the open-file limit")?;
    tracing::info!(target: "serve", "open-file limit: {open_files} (soft limit set to the hard limit)");
    let (caps, lowered) = crate::open_files::caps(config, open_files);
    if lowered {
        let list: Vec<String> = caps
            .iter()
            .map(|(role, c)| format!("{role} {}", c.total))
            .collect();
        tracing::warn!(target: "serve", "open-file limit {open_files} cannot hold the configured connection limits; lowered to: {} (raise LimitNOFILE or lower smtp/imap/pop3.max_connections)", list.join(", "));
    }
    // Root is needed for the key (0600) and the ports; nothing else. The data is
    // opened after the switch, so every file havre creates belongs to server.user.
    let data_dir = loaded.data_dir();
    locate::check_private(&[
        data_dir.clone(),
        loaded.sqlite_path(),
        loaded.tls_key(),
        havre_dkim::keys_dir(&data_dir),
    ])?;
    let tls = crate::tls::acceptor(&loaded.tls_cert(), &loaded.tls_key())?;
    let outbound = outbound(&loaded)?;
    let listeners = bind(&loaded).await?;
    let imap_listeners = bind_pairs(
        config.has_role(Role::Imap),
        "imap",
        &config.imap.listen,
        &config.imap.tls_listen,
    )
    .await?;
    let pop3_listeners = bind_pairs(
        config.has_role(Role::Pop3),
        "pop3",
        &config.pop3.listen,
        &config.pop3.tls_listen,
    )
    .await?;
    let sqlite = loaded.sqlite_path();
    let wal = PathBuf::from(format!("{}-wal", sqlite.display()));
    crate::privileges::drop_to(
        &config.server.user,
        &[
            &data_dir,
            &data_dir.join("queue/msg"),
            &data_dir.join("mail"),
            &sqlite,
            &wal,
        ],
    )?;
    let mut node = Node::prepare(&loaded, tls).await?;
    node.imap_listeners = imap_listeners;
    node.pop3_listeners = pop3_listeners;

    let (shutdown_tx, shutdown) = watch::channel(false);
    let (stopper, stop) = Stopper::new();
    // One gate per role: 587 and 465 share submission's caps, 143 and 993 imap's.
    // SMTP clients in relay.internal_networks are spared the per-address
    // cap, as Postfix spares $mynetworks: a site behind one NAT submits.
    let gates: Vec<(Role, Arc<Gate>)> = caps
        .into_iter()
        .map(|(role, c)| {
            let gate = if matches!(role, Role::Mx | Role::Submission | Role::Lmtp) {
                let internal = node.services.internal_networks.clone();
                Gate::with_exempt(
                    role.as_str(),
                    c,
                    stop.clone(),
                    Box::new(move |ip| internal.iter().any(|n| n.contains(ip))),
                )
            } else {
                Gate::new(role.as_str(), c, stop.clone())
            };
            (role, gate)
        })
        .collect();
    let gate = |role: Role| {
        gates
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, g)| g.clone())
            .expect("a gate for every listening role")
    };
    for listener in listeners {
        let role = match listener.mode {
            Mode::Mx => Role::Mx,
            Mode::Submission => Role::Submission,
            Mode::Lmtp => Role::Lmtp,
        };
        tokio::spawn(havre_smtp::serve(
            listener,
            node.services.clone(),
            gate(role),
        ));
    }
    for (socket, implicit_tls) in node.imap_listeners {
        tokio::spawn(havre_imap::serve(
            socket,
            implicit_tls,
            node.imap.clone(),
            gate(Role::Imap),
        ));
    }
    for (socket, implicit_tls) in node.pop3_listeners {
        tokio::spawn(havre_pop3::serve(
            socket,
            implicit_tls,
            node.pop3.clone(),
            gate(Role::Pop3),
        ));
    }
    let relay = config.has_role(Role::Relay).then(|| {
        let relay = Relay::new(
            node.queue.clone(),
            node.services.directory.clone(),
            node.services.local.clone(),
            RelaySettings {
                concurrency: config.queue.delivery_concurrency as usize,
                retry_min: config.queue.retry_min.0,
                retry_max: config.queue.retry_max.0,
                max_lifetime: config.queue.max_lifetime.0,
                delay_warning: config.queue.delay_warning.0,
            },
            Some(outbound),
        );
        tokio::spawn(relay.run(shutdown.clone()))
    });
    let roles: Vec<String> = config.server.roles.iter().map(|r| r.to_string()).collect();
    tracing::info!(target: "serve", "havre {} started: roles {}", env!("CARGO_PKG_VERSION"), roles.join(", "));

    wait_for_signal().await;
    let grace = config.server.shutdown_grace.0;
    let until = tokio::time::Instant::now() + grace;
    tracing::info!(target: "serve", "stopping: no new connections; sessions under way have {} to finish", config.server.shutdown_grace);
    stopper.enter(Phase::Draining);
    let _ = shutdown_tx.send(true);
    let sessions = async {
        for (_, gate) in &gates {
            gate.wait_empty().await;
        }
    };
    if tokio::time::timeout_at(until, sessions).await.is_err() {
        let open: u32 = gates.iter().map(|(_, g)| g.open()).sum();
        tracing::warn!(target: "serve", "{open} session(s) still open after {}: closing them", config.server.shutdown_grace);
        stopper.enter(Phase::Closing);
        // Their goodbyes (421, BYE) are short writes; a client that does not
        // read them is not waited for.
        let goodbyes = async {
            for (_, gate) in &gates {
                gate.wait_empty().await;
            }
        };
        let _ = tokio::time::timeout(GOODBYE, goodbyes).await;
    }
    if let Some(relay) = relay
        && tokio::time::timeout_at(until, relay).await.is_err()
    {
        tracing::warn!(target: "serve", "deliveries still running after {}; they will be retried at the next start", config.server.shutdown_grace);
    }
    tracing::info!(target: "serve", "stopped");
    Ok(())
}

/// After the grace period, how long sessions have to write their goodbye.
const GOODBYE: Duration = Duration::from_secs(2);

struct Node {
    queue: Arc<Queue>,
    services: Arc<Services>,
    imap: havre_imap::Services,
    imap_listeners: Vec<(TcpListener, bool)>,
    pop3: Arc<havre_pop3::Pop3Services>,
    pop3_listeners: Vec<(TcpListener, bool)>,
}

impl Node {
    async fn prepare(
        loaded: &LoadedConfig,
        tls: tokio_rustls::TlsAcceptor,
    ) -> anyhow::Result<Node> {
        let config = &loaded.config;
        havre_queue::set_node_id(config.server.node_id);
        let store = locate::open_store(loaded).await?;
        let spool_dir = loaded.data_dir().join("queue");
        let spool = Spool::open(&spool_dir)?;
        let queue = Arc::new(Queue::new(store.clone(), spool));
        let swept = queue.sweep().await?;
        if swept > 0 {
            tracing::info!(target: "queue", "removed {swept} unfinished or already delivered spool file(s)");
        }
        let directory = Directory::new(store.clone(), &config.relay.recipient_delimiter);
        let mailboxes = Mailboxes::new(
            store,
            loaded.maildir_template().display().to_string(),
            config.server.hostname.clone(),
        );
        let local = LocalDelivery::new(mailboxes.clone());
        let settings = Arc::new(SmtpSettings {
            hostname: config.server.hostname.clone(),
            banner: config.smtp.banner.clone(),
            message_size_limit: config.smtp.message_size_limit.0,
            line_length_limit: config.smtp.line_length_limit as usize,
            recipient_limit: config.smtp.recipient_limit as usize,
            hard_error_limit: config.smtp.hard_error_limit as usize,
            idle_timeout: config.smtp.idle_timeout.0,
            min_free_space: config.queue.min_free_space.0,
            session_deadline: config.smtp.session_deadline.0,
        });
        let imap = Arc::new(havre_imap::ImapServices {
            settings: havre_imap::ImapSettings {
                hostname: config.server.hostname.clone(),
                idle_timeout: config.imap.idle_timeout.0,
                login_timeout: config.imap.login_timeout.0,
                max_command_length: config.imap.max_command_length.0 as usize,
                max_message_size: config.smtp.message_size_limit.0,
                max_connections_per_user: config.imap.max_connections_per_user,
            },
            directory: directory.clone(),
            mailboxes: mailboxes.clone(),
            tls: Some(tls.clone()),
            limits: havre_imap::ConnectionLimits::default(),
        });
        // One set of maildrop locks for every POP3 listener of the node.
        let pop3 = Arc::new(havre_pop3::Pop3Services {
            settings: havre_pop3::Pop3Settings {
                idle_timeout: config.pop3.idle_timeout.0,
                ..havre_pop3::Pop3Settings::new(config.server.hostname.clone())
            },
            directory: directory.clone(),
            mailboxes: mailboxes.clone(),
            tls: Some(tls.clone()),
            locks: havre_pop3::MaildropLocks::new(),
        });
        Ok(Node {
            imap,
            imap_listeners: Vec::new(),
            pop3,
            pop3_listeners: Vec::new(),
            queue: queue.clone(),
            services: Arc::new(Services {
                settings,
                directory,
                queue,
                local,
                tls: Some(tls),
                internal_networks: config
                    .relay
                    .internal_networks
                    .iter()
                    .filter_map(|n| havre_smtp::networks::Network::parse(n))
                    .collect(),
                any_sender_classes: config.submission.any_sender_classes.clone(),
            }),
        })
    }
}

async fn bind(loaded: &LoadedConfig) -> anyhow::Result<Vec<Listener>> {
    let config = &loaded.config;
    let no_tls: &[std::net::SocketAddr] = &[];
    let wanted = [
        (Role::Mx, "mx", Mode::Mx, &config.mx.listen[..], no_tls),
        (
            Role::Submission,
            "submission",
            Mode::Submission,
            &config.submission.listen[..],
            &config.submission.tls_listen[..],
        ),
        (
            Role::Lmtp,
            "lmtp",
            Mode::Lmtp,
            &config.lmtp.listen[..],
            no_tls,
        ),
    ];
    let mut listeners = Vec::new();
    for (role, key, mode, plain, tls) in wanted {
        for (socket, implicit_tls) in bind_pairs(config.has_role(role), key, plain, tls).await? {
            listeners.push(Listener {
                socket,
                mode,
                implicit_tls,
            });
        }
    }
    Ok(listeners)
}

/// Routes, resolver, client settings and DKIM keys for remote delivery.
/// Keys are read here, before the switch to server.user (they may be root's).
fn outbound(loaded: &LoadedConfig) -> anyhow::Result<havre_relay::Outbound> {
    let config = &loaded.config;
    let routes = havre_outbound::Routes::new(&config.relay.routes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", loaded.path.display()))?;
    let resolver = havre_outbound::Resolver::new(&config.dns.nameservers)
        .map_err(|e| anyhow::anyhow!("dns.nameservers: {e}"))?;
    let signers = if config.dkim.sign {
        havre_dkim::Signers::load(&havre_dkim::keys_dir(&loaded.data_dir()))
            .context("dkim: cannot load the signing keys")?
    } else {
        havre_dkim::Signers::default()
    };
    Ok(havre_relay::Outbound::new(
        routes,
        resolver,
        havre_outbound::ClientSettings::new(config.server.hostname.clone()),
        Arc::new(signers),
        config.queue.destination_concurrency as usize,
    ))
}

/// `key.listen` (STARTTLS) and `key.tls_listen` (implicit TLS) of a role.
async fn bind_pairs(
    enabled: bool,
    key: &str,
    plain: &[std::net::SocketAddr],
    tls: &[std::net::SocketAddr],
) -> anyhow::Result<Vec<(TcpListener, bool)>> {
    let mut out = Vec::new();
    if !enabled {
        return Ok(out);
    }
    for (addrs, implicit, suffix) in [(plain, false, "listen"), (tls, true, "tls_listen")] {
        for addr in addrs {
            let socket = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{key}.{suffix}: cannot listen on {addr}"))?;
            out.push((socket, implicit));
        }
    }
    Ok(out)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
