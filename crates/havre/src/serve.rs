//! `havre serve`: run the roles enabled in the configuration.
//!
//! Everything that can be wrong is checked before the first socket accepts: the
//! configuration, the database, the spool, TLS material and every listening
//! address ([`crate::checks`], the same checks as `config check` and a
//! reload). A node never starts half-configured.
//!
//! While it runs, SIGHUP reloads the configuration ([`crate::reload`]) and
//! `<data_dir>/havre.pid` names the process ([`crate::pidfile`]); SIGTERM
//! (or ^C) stops it after the grace period.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use havre_config::{LoadedConfig, Role};
use havre_directory::Directory;
use havre_mailbox::{LocalDelivery, Mailboxes};
use havre_net::{Gate, Phase, Stopper};
use havre_queue::{Queue, Spool};
use havre_relay::Relay;
use havre_smtp::{Listener, Mode};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::checks::{self, Purpose};
use crate::live::{Live, Shared};
use crate::locate;
use crate::pidfile::PidFile;
use crate::reload::Reloader;

pub async fn run(explicit: Option<PathBuf>) -> anyhow::Result<()> {
    // SIGHUP's default action ends the process: take it over before anything
    // else, so that a logrotate run during the start reloads rather than kills.
    let hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let loaded = locate::load(explicit)?;
    let config = &loaded.config;
    let log = crate::logging::init(&loaded)?;
    let open_files = crate::open_files::raise().context("cannot read the open-file limit")?;
    tracing::info!(target: "serve", "open-file limit: {open_files} (soft limit set to the hard limit)");
    let (caps, lowered) = crate::open_files::caps(config, open_files);
    if lowered {
        let list: Vec<String> = caps
            .iter()
            .map(|(role, c)| format!("{role} {}", c.total))
            .collect();
        tracing::warn!(target: "serve", "open-file limit {open_files} cannot hold the configured connection limits; lowered to: {} (raise LimitNOFILE or lower smtp/imap/pop3/managesieve.max_connections)", list.join(", "));
    }
    // Root is needed for the key (0600) and the ports; nothing else. The data is
    // opened after the switch, so every file havre creates belongs to server.user.
    // What `config check` and a reload check, serve checks: one function.
    let material = checks::node(&loaded, Purpose::Start)?;
    let listeners = bind(&loaded).await?;
    let imap_listeners = bind_pairs(
        config.listens_for(Role::Imap),
        "imap",
        &config.imap.listen,
        &config.imap.tls_listen,
    )
    .await?;
    let pop3_listeners = bind_pairs(
        config.listens_for(Role::Pop3),
        "pop3",
        &config.pop3.listen,
        &config.pop3.tls_listen,
    )
    .await?;
    let managesieve_listeners = bind_pairs(
        config.listens_for(Role::ManageSieve),
        "managesieve",
        &config.managesieve.listen,
        &[],
    )
    .await?;
    let http_listeners =
        bind_pairs(config.has_role(Role::Web), "http", &config.http.listen, &[]).await?;
    // The Postfix policy service, if policy.listen names an address.
    let policy_listeners = crate::policy_service::bind(&config.policy.listen).await?;
    // Local submission (sendmail) is bound while still root: its socket may
    // live in a root-owned directory such as /run/havre.
    let sendmail_socket = loaded.sendmail_socket();
    let pickup = sendmail_socket
        .as_deref()
        .map(|path| crate::pickup::bind(path, &config.server.user))
        .transpose()?;
    if let Some((uid, gid)) = crate::privileges::become_server_user(&loaded)? {
        let user = &config.server.user;
        tracing::info!(target: "serve", "running as {user} (uid {uid}, gid {gid})");
    }
    // Created as server.user, so only it and root can ask (who, kick).
    let control_socket = crate::control::socket_path(&loaded);
    let control = crate::control::bind(&control_socket)?;
    let leaf = material
        .tls
        .as_ref()
        .map(|t| t.leaf.clone())
        .unwrap_or_default();
    let keys = material
        .signers
        .as_ref()
        .map(crate::reload::signing_keys)
        .unwrap_or_default();
    let (shutdown_tx, shutdown) = watch::channel(false);
    // The web role answers from here on: /health/ready says 503 until
    // every role listens.
    let web = start_web(config, http_listeners, &shutdown)?;
    let shared = shared(&loaded).await?;
    let queue = shared.queue.clone();
    let events = shared.events.clone();
    let live = Live::new(shared.clone(), &loaded, material)?;
    let smtp = live.smtp.subscribe();
    let imap = live.imap.subscribe();
    let pop3 = live.pop3.subscribe();
    let managesieve = live.managesieve.subscribe();
    let relay_settings = live.relay.subscribe();
    let outbound = havre_relay::Outbound::new(live.outbound.subscribe());
    let running = live.config.subscribe();
    let policy = live.policy.subscribe();
    let reloader = Reloader::new(&loaded, live, log, leaf, keys);
    let _pid_file = PidFile::create(&loaded.data_dir())?;

    let (stopper, stop) = Stopper::new();
    // One gate per role: 587 and 465 share submission's caps, 143 and 993 imap's.
    // SMTP clients in relay.internal_networks are spared the per-address
    // cap, as Postfix spares $mynetworks: a site behind one NAT submits.
    // A backend spares its directors (director.trusted_networks) the cap:
    // every session a director relays comes from the director's address.
    // Every gate asks the guard first: a banned address is refused by all.
    let screen = shared.guard.as_screen();
    let is_backend = !config.has_role(Role::Director);
    let gates: Vec<(Role, Arc<Gate>)> = caps
        .into_iter()
        .map(|(role, c)| {
            let directory = shared.directory.clone();
            let director = move |ip| is_backend && directory.trusts_director(ip);
            let exempt: havre_net::Exempt =
                if matches!(role, Role::Mx | Role::Submission | Role::Lmtp) {
                    // The networks of the moment: a reload may change them.
                    let services = smtp.clone();
                    let lmtp = role == Role::Lmtp;
                    Box::new(move |ip| {
                        (lmtp && director(ip))
                            || services
                                .borrow()
                                .internal_networks
                                .iter()
                                .any(|n| n.contains(ip))
                    })
                } else {
                    Box::new(director)
                };
            let gate = Gate::screened(role.as_str(), c, stop.clone(), exempt, Some(screen.clone()));
            (role, gate)
        })
        .collect();
    // Every gate whose sessions a stop waits for: the roles', and local
    // submission's (all its sessions come from one "address").
    let local_gate = Gate::new(
        "pickup",
        havre_net::Caps {
            total: config.smtp.max_connections,
            per_ip: config.smtp.max_connections,
        },
        stop.clone(),
    );
    let policy_gate = (!policy_listeners.is_empty())
        .then(|| crate::policy_service::start(policy_listeners, policy, config, stop.clone()));
    let all_gates: Vec<Arc<Gate>> = gates
        .iter()
        .map(|(_, g)| g.clone())
        .chain([local_gate.clone()])
        .chain(policy_gate)
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
            Mode::Submission | Mode::Local => Role::Submission,
            Mode::Lmtp => Role::Lmtp,
        };
        tokio::spawn(havre_smtp::serve(listener, smtp.clone(), gate(role)));
    }
    for (socket, implicit_tls) in imap_listeners {
        tokio::spawn(havre_imap::serve(
            socket,
            implicit_tls,
            imap.clone(),
            gate(Role::Imap),
        ));
    }
    for (socket, implicit_tls) in pop3_listeners {
        tokio::spawn(havre_pop3::serve(
            socket,
            implicit_tls,
            pop3.clone(),
            gate(Role::Pop3),
        ));
    }
    for (socket, _) in managesieve_listeners {
        tokio::spawn(havre_managesieve::serve(
            socket,
            managesieve.clone(),
            gate(Role::ManageSieve),
        ));
    }
    if config.has_role(Role::Relay) {
        tokio::spawn(crate::quarantine_sweep::run(
            queue.clone(),
            running.clone(),
            shutdown.clone(),
        ));
    }
    if let Some(db) = shared.events.database() {
        tokio::spawn(crate::daily_report::run(
            queue.clone(),
            db.clone(),
            running.clone(),
            shutdown.clone(),
        ));
    }
    tokio::spawn(crate::heartbeat::run(
        queue.store().clone(),
        crate::heartbeat::status(config, chrono::Utc::now().timestamp()),
        shutdown.clone(),
    ));
    let relay = config.has_role(Role::Relay).then(|| {
        Relay::new(
            queue,
            shared.directory.clone(),
            shared.local.clone(),
            relay_settings,
            Some(outbound),
            shared.events.clone(),
        )
    });
    let delivering = relay.clone();
    let relay = relay.map(|relay| tokio::spawn(relay.run(shutdown.clone())));
    if let Some(listener) = pickup {
        tokio::spawn(havre_smtp::serve_local(
            listener,
            smtp.clone(),
            local_gate.clone(),
        ));
    }
    tokio::spawn(crate::control::serve(
        control,
        shared.sessions.clone(),
        shared.directory.clone(),
        stop.clone(),
    ));
    tokio::spawn(reloader.run(hangup));
    if config.has_role(Role::Director) {
        crate::director_node::start(&loaded, shared.state.clone(), shared.sessions.clone())?;
    }
    // Bans made by `havre ban` (or expired) reach the gates from here.
    tokio::spawn(shared.guard.clone().run());
    let roles: Vec<String> = config.server.roles.iter().map(|r| r.to_string()).collect();
    tracing::info!(target: "serve", "havre {} started: roles {}", crate::version::VERSION, roles.join(", "));
    if let Some(web) = &web {
        if let Some(pause) = havre_queue::fault::pause(havre_queue::fault::READY_DELAY) {
            tokio::time::sleep(pause).await;
        }
        web.set_node(Arc::new(crate::web_node::NodeStatus {
            name: config.server.hostname.clone(),
            shared: shared.clone(),
            relay: delivering,
        }));
    }

    wait_for_signal().await;
    // A reload may have changed it.
    let grace = running.borrow().config.server.shutdown_grace;
    let until = tokio::time::Instant::now() + grace.0;
    tracing::info!(target: "serve", "stopping: no new connections; sessions under way have {grace} to finish");
    stopper.enter(Phase::Draining);
    let _ = shutdown_tx.send(true);
    let sessions = async {
        for gate in &all_gates {
            gate.wait_empty().await;
        }
    };
    if tokio::time::timeout_at(until, sessions).await.is_err() {
        let open: u32 = all_gates.iter().map(|g| g.open()).sum();
        tracing::warn!(target: "serve", "{open} session(s) still open after {grace}: closing them");
        stopper.enter(Phase::Closing);
        // Their goodbyes (421, BYE) are short writes; a client that does not
        // read them is not waited for.
        let goodbyes = async {
            for gate in &all_gates {
                gate.wait_empty().await;
            }
        };
        let _ = tokio::time::timeout(GOODBYE, goodbyes).await;
    }
    if let Some(relay) = relay
        && tokio::time::timeout_at(until, relay).await.is_err()
    {
        tracing::warn!(target: "serve", "deliveries still running after {grace}; they will be retried at the next start");
    }
    // What the sessions and deliveries recorded, written before the end.
    events.close().await;
    // Sockets nobody will answer on any more (a socket left by a crash is
    // replaced at the next start).
    let _ = std::fs::remove_file(&control_socket);
    if let Some(path) = &sendmail_socket {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!(target: "serve", "stopped");
    Ok(())
}

/// After the grace period, how long sessions have to write their goodbye.
const GOODBYE: Duration = Duration::from_secs(2);

/// The store, queue, directory and mailboxes every role shares; the spool is
/// swept of what a crash left.
async fn shared(loaded: &LoadedConfig) -> anyhow::Result<Shared> {
    let config = &loaded.config;
    havre_queue::set_node_id(config.server.node_id);
    // The crash tests' kill points (havre_queue::fault); never set in service.
    if let Ok(spec) = std::env::var("HAVRE_FAULT") {
        havre_queue::fault::arm(&spec).map_err(anyhow::Error::msg)?;
        tracing::warn!(target: "serve", "fault point armed: {spec} (HAVRE_FAULT): this process will kill itself there");
    }
    let store = locate::open_store(loaded).await?;
    crate::heartbeat::check_identity(&*store, loaded, chrono::Utc::now().timestamp()).await?;
    store.set_class_quotas(&class_quotas(config)).await?;
    let spool_dir = loaded.data_dir().join("queue");
    let spool = Spool::open(&spool_dir)?;
    let queue = Arc::new(Queue::new(store.clone(), spool));
    let swept = queue.sweep().await?;
    if swept > 0 {
        tracing::info!(target: "queue", "removed {swept} unfinished or already delivered spool file(s)");
    }
    let directory = crate::locate::directory(loaded, store.clone())?;
    let origin = local_origin(config, &directory).await?;
    // Greylist entries, counters and bans, one state for the node (the
    // guard, the checks, the policy service); state.db is created if missing
    // (after the switch to server.user, so it is that account's).
    let state = crate::locate::open_state(loaded).await?;
    let guard = havre_guard::Guard::open(havre_guard::settings_from_config(config), state.clone())
        .await
        .context("cannot read the bans")?;
    // The Bayes classifier on the store's counts, for the spam filter: one
    // per node, its global counts caught up in the background.
    let stored_bayes = crate::bayes_model::StoredBayes::new(
        store.clone(),
        havre_bayes::Params::default(),
        crate::bayes_model::MIN_LEARNS,
    );
    stored_bayes.keep_current();
    let bayes: Arc<dyn havre_filter::BayesModel> = Arc::new(stored_bayes);
    let (mailboxes, junk_lessons) = crate::junk_learning::learning_mailboxes(
        Mailboxes::new(
            store,
            loaded.maildir_template().display().to_string(),
            config.server.hostname.clone(),
        ),
        config.spam.learn_from_junk,
    );
    // Nodes sharing the store tell each other of mailbox changes (IDLE on
    // one node sees a delivery made by another at once).
    if config.state.backend == havre_config::StateBackend::Redis {
        crate::change_bus::start(
            state.clone(),
            mailboxes.notifier().clone(),
            config.server.node_id,
        );
    }
    // Users' Sieve scripts and the site's (read at start, as Dovecot does).
    let site = crate::checks::site_sieve(loaded)?;
    let mut scripts =
        havre_mailbox::SieveScripts::new(mailboxes.store().clone(), havre_sieve::Limits::default());
    if config.spam.enabled {
        // spamtest's 10 is the score the filter refuses at.
        scripts = scripts.with_spam_scale(config.spam.reject.0);
    }
    let sieve = Arc::new(
        scripts
            .with_state(state.clone())
            .with_hostname(&config.server.hostname)
            .with_site_scripts(&site.before, &site.after, &site.global)
            .map_err(|e| anyhow::anyhow!("sieve: {e}"))?,
    );
    let events = if config.events.enabled {
        let path = loaded.events_path();
        let (db, set_aside) = havre_events::SqliteEvents::open_for_writing(&path)
            .await
            .with_context(|| format!("cannot open the events database {}", path.display()))?;
        if let Some(aside) = set_aside {
            tracing::warn!(target: "serve", "the events database {} was damaged by the last stop (a power cut?): set aside as {}, a new one started", path.display(), aside.display());
        }
        // Events stop before mail would: the reserve of queue.min_free_space
        // and room for two of the largest messages, beyond SQLite's pages.
        let queue = queue.clone();
        let needed =
            config.queue.min_free_space.0 + 2 * config.smtp.message_size_limit.0 + (256 << 10);
        let room: havre_events::Room = Box::new(move || {
            queue
                .spool()
                .free_space()
                .map_or(true, |free| free >= needed)
        });
        havre_events::Events::start(db, &config.server.hostname, config.events.retention.0, room)
    } else {
        havre_events::Events::disabled()
    };
    let directory = match crate::director_node::cluster_login(loaded, state.clone())? {
        Some(cluster) => directory.with_cluster_login(cluster),
        None => directory,
    };
    let directory = if config.has_role(havre_config::Role::Director) {
        directory.as_director()
    } else {
        directory
    };
    let views = crate::director_node::views(loaded, &state);
    let handoff = crate::director_node::handoff(loaded, state.clone(), views.clone())?;
    let lmtp_forward = crate::director_node::lmtp_forward(loaded, state.clone(), views)?;
    Ok(Shared {
        events,
        handoff,
        lmtp_forward,
        directory,
        queue,
        local: LocalDelivery::new(mailboxes.clone()).with_sieve(sieve),
        mailboxes,
        imap_limits: havre_imap::ConnectionLimits::default(),
        // One set of maildrop locks for every POP3 listener of the node.
        pop3_locks: havre_pop3::MaildropLocks::new(),
        sessions: havre_net::Sessions::new(),
        origin,
        state,
        guard,
        junk_lessons,
        bayes,
    })
}

/// The domain local submission completes names with when `sendmail.origin`
/// is empty: the local domain of server.hostname (Postfix's $myorigin), else
/// the host name itself.
async fn local_origin(
    config: &havre_config::Config,
    directory: &Directory,
) -> anyhow::Result<String> {
    Ok(directory
        .origin(&config.server.hostname)
        .await
        .context("cannot read the local domains")?
        .unwrap_or_else(|| config.server.hostname.clone()))
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
        for (socket, implicit_tls) in bind_pairs(config.listens_for(role), key, plain, tls).await? {
            listeners.push(Listener {
                socket,
                mode,
                implicit_tls,
            });
        }
    }
    Ok(listeners)
}

/// The web role on its listeners (none: `None`), with the process's
/// metrics recorder.
fn start_web(
    config: &havre_config::Config,
    listeners: Vec<(TcpListener, bool)>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Option<Arc<havre_web::Web>>> {
    if listeners.is_empty() {
        return Ok(None);
    }
    let metrics = havre_web::install_recorder().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let networks = config
        .http
        .metrics_networks
        .iter()
        .filter_map(|n| havre_policy::parse_network(n))
        .collect();
    let web = havre_web::Web::new(metrics, networks);
    for (listener, _) in listeners {
        tokio::spawn(havre_web::serve(listener, web.clone(), shutdown.clone()));
    }
    Ok(Some(web))
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

/// `mailbox.class_quotas` as the store keeps them.
pub(crate) fn class_quotas(config: &havre_config::Config) -> Vec<(String, u64)> {
    config
        .mailbox
        .class_quotas
        .iter()
        .map(|(class, size)| (class.clone(), size.0))
        .collect()
}
