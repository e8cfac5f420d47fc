//! The configuration the roles run with, and its replacement on reload.
//!
//! Each role reads its settings through a `tokio::sync::watch` channel: an
//! SMTP, IMAP or POP3 session takes the services of the moment it is
//! accepted and keeps them to its end; the relay reads its settings and its
//! routes, resolver and DKIM keys when each delivery attempt starts. A
//! reload publishes new values: connections under way finish as they began,
//! the next ones get the new limits, networks, routes, keys and TLS
//! certificate. Nothing is closed.
//!
//! What a running process cannot change ([`effective`] keeps it as it was
//! at the start): the listeners, connection caps (sized to the open-file
//! limit), the data directory, database and Maildir template, the account,
//! roles, host name and node id, the recipient delimiter, the number of
//! deliveries at once and where log lines go besides the file (`log.output`,
//! `log.socket`). A reload logs those as needing a restart.

use std::sync::Arc;

use havre_config::{Config, LoadedConfig};
use havre_directory::Directory;
use havre_mailbox::{LocalDelivery, Mailboxes};
use havre_queue::Queue;
use havre_relay::{OutboundSettings, RelaySettings};
use havre_smtp::{Services, SmtpSettings};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::checks::Material;

/// `new`, with what only a restart can change put back as it was in
/// `started`: what the process actually runs with after a reload.
pub fn effective(started: &Config, new: &Config) -> Config {
    let mut c = new.clone();
    c.server = started.server.clone();
    // Read when serve stops: the value of the moment applies.
    c.server.shutdown_grace = new.server.shutdown_grace;
    c.storage = started.storage.clone();
    c.mailbox = started.mailbox.clone();
    c.mx.listen = started.mx.listen.clone();
    c.lmtp = started.lmtp.clone();
    c.submission.listen = started.submission.listen.clone();
    c.submission.tls_listen = started.submission.tls_listen.clone();
    c.imap.listen = started.imap.listen.clone();
    c.imap.tls_listen = started.imap.tls_listen.clone();
    c.pop3.listen = started.pop3.listen.clone();
    c.pop3.tls_listen = started.pop3.tls_listen.clone();
    c.managesieve.listen = started.managesieve.listen.clone();
    // The web role and the events writer are set up once, at start.
    c.http = started.http.clone();
    c.events = started.events.clone();
    for (now, then) in [
        (&mut c.smtp.max_connections, started.smtp.max_connections),
        (
            &mut c.smtp.max_connections_per_ip,
            started.smtp.max_connections_per_ip,
        ),
        (&mut c.imap.max_connections, started.imap.max_connections),
        (
            &mut c.imap.max_connections_per_ip,
            started.imap.max_connections_per_ip,
        ),
        (&mut c.pop3.max_connections, started.pop3.max_connections),
        (
            &mut c.pop3.max_connections_per_ip,
            started.pop3.max_connections_per_ip,
        ),
        (
            &mut c.managesieve.max_connections,
            started.managesieve.max_connections,
        ),
        (
            &mut c.managesieve.max_connections_per_ip,
            started.managesieve.max_connections_per_ip,
        ),
    ] {
        *now = then;
    }
    c.policy.listen = started.policy.listen.clone();
    c.policy.max_connections = started.policy.max_connections;
    c.relay.recipient_delimiter = started.relay.recipient_delimiter.clone();
    c.queue.delivery_concurrency = started.queue.delivery_concurrency;
    // The syslog or journald socket is connected (and checked) at the start.
    c.log.output = started.log.output;
    c.log.socket = started.log.socket.clone();
    c
}

/// What every role shares and a reload does not replace: the store behind
/// the directory, the queue, the mailboxes.
#[derive(Clone)]
pub struct Shared {
    pub directory: Directory,
    pub queue: Arc<Queue>,
    pub local: LocalDelivery,
    pub mailboxes: Mailboxes,
    /// IMAP's per-user connection counts and POP3's maildrop locks outlive
    /// any one set of settings.
    pub imap_limits: havre_imap::ConnectionLimits,
    pub pop3_locks: havre_pop3::MaildropLocks,
    /// Logged-in IMAP and POP3 sessions (`havre who`, `havre kick`).
    pub sessions: Arc<havre_net::Sessions>,
    /// The domain local submission completes names with (Postfix's
    /// $myorigin), worked out at start from the local domains when
    /// `sendmail.origin` is empty.
    pub origin: String,
    /// What the checks remember (greylist triplets, rate cells): one for the
    /// node, so every front end counts against the same limits.
    pub state: Arc<dyn havre_state::State>,
    /// Counts every role's offences and holds the bans (one per node; a
    /// reload changes its limits, not its counts).
    pub guard: havre_guard::Guard,
    /// What users move into and out of Junk, learned in the background
    /// (`spam.learn_from_junk` turns it on and off).
    pub junk_lessons: Arc<havre_mailbox::LessonQueue>,
    /// The Bayes classifier the spam filter asks (the store's counts).
    pub bayes: Arc<dyn havre_filter::BayesModel>,
    /// Where every role records what reports and traces read.
    pub events: havre_events::Events,
    /// The director role: logged-in sessions go to the user's backend,
    /// and LMTP deliveries to each recipient's.
    pub handoff: Option<Arc<dyn havre_net::Handoff>>,
    pub lmtp_forward: Option<Arc<dyn havre_net::LmtpForward>>,
}

/// The publishers of each role's settings.
pub struct Live {
    shared: Shared,
    /// The certificate in use, kept when a reload cannot read the files.
    tls: TlsAcceptor,
    pub smtp: watch::Sender<Arc<Services>>,
    pub imap: watch::Sender<havre_imap::Services>,
    pub pop3: watch::Sender<Arc<havre_pop3::Pop3Services>>,
    pub managesieve: watch::Sender<Arc<havre_managesieve::ManageSieveServices>>,
    pub relay: watch::Sender<RelaySettings>,
    pub outbound: watch::Sender<Arc<OutboundSettings>>,
    /// The Postfix policy service's checks and settings.
    pub policy: watch::Sender<Arc<havre_policy_server::PolicyServices>>,
    /// The configuration the process runs with (see [`effective`]).
    pub config: watch::Sender<Arc<LoadedConfig>>,
}

impl Live {
    /// The first settings, from the configuration serve starts with; its
    /// material must have TLS and DKIM keys (only a reload may keep old ones).
    pub fn new(shared: Shared, loaded: &LoadedConfig, material: Material) -> anyhow::Result<Live> {
        let tls = material
            .tls
            .ok_or_else(|| anyhow::anyhow!("internal error: no TLS material at start"))?
            .acceptor;
        let signers = Arc::new(material.signers.unwrap_or_default());
        let config = &loaded.config;
        let checks = crate::pipelines::build(
            config,
            shared.state.clone(),
            &material.resolver,
            Some(shared.bayes.clone()),
            &shared.events,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Live {
            smtp: watch::Sender::new(smtp(&shared, config, tls.clone(), checks)),
            imap: watch::Sender::new(imap(&shared, config, tls.clone())),
            pop3: watch::Sender::new(pop3(&shared, config, tls.clone())),
            managesieve: watch::Sender::new(managesieve(&shared, config, tls.clone())),
            relay: watch::Sender::new(relay(config)),
            outbound: watch::Sender::new(Arc::new(OutboundSettings {
                routes: material.routes,
                resolver: material.resolver,
                client: havre_outbound::ClientSettings::new(config.server.hostname.clone()),
                signers,
                destination_concurrency: config.queue.destination_concurrency.max(1) as usize,
            })),
            config: watch::Sender::new(Arc::new(loaded.clone())),
            policy: watch::Sender::new(crate::policy_service::services(&shared, config)?),
            shared,
            tls,
        })
    }

    /// Publishes the settings of `loaded` (already passed through
    /// [`effective`]): new sessions and attempts use them from now on. TLS
    /// material or keys a reload could not read stay as they were.
    pub fn apply(&mut self, loaded: &LoadedConfig, material: Material) {
        let config = &loaded.config;
        if let Some(tls) = material.tls {
            self.tls = tls.acceptor;
        }
        let tls = self.tls.clone();
        self.shared
            .guard
            .apply(havre_guard::settings_from_config(config));
        self.shared
            .junk_lessons
            .set_enabled(config.spam.learn_from_junk);
        let store = self.shared.queue.store().clone();
        let quotas = crate::serve::class_quotas(config);
        tokio::spawn(async move {
            if let Err(err) = store.set_class_quotas(&quotas).await {
                tracing::error!(target: "serve", "class quotas not updated: {err}");
            }
        });
        let before = self.outbound.borrow().clone();
        let signers = match material.signers {
            Some(signers) => Arc::new(signers),
            None => before.signers.clone(),
        };
        // The same servers named in the file: keep the resolver and its
        // cache (the system's are read again: resolv.conf may have changed).
        let servers = &config.dns.nameservers;
        let resolver =
            if !servers.is_empty() && self.config.borrow().config.dns.nameservers == *servers {
                before.resolver.clone()
            } else {
                material.resolver
            };
        // The pipelines are rebuilt on the resolver kept above and the same
        // state: new sessions run the new rules, lists and settings.
        let checks = match crate::pipelines::build(
            config,
            self.shared.state.clone(),
            &resolver,
            Some(self.shared.bayes.clone()),
            &self.shared.events,
        ) {
            Ok(checks) => checks,
            Err(e) => {
                // `checks::node` built them before the reload was applied:
                // this cannot fail; if it does, the running checks stay.
                tracing::error!(target: "serve", "reload: the checks cannot be built ({e}); the running ones are kept");
                self.smtp.borrow().checks.clone()
            }
        };
        self.smtp
            .send_replace(smtp(&self.shared, config, tls.clone(), checks));
        self.imap
            .send_replace(imap(&self.shared, config, tls.clone()));
        self.pop3
            .send_replace(pop3(&self.shared, config, tls.clone()));
        self.managesieve
            .send_replace(managesieve(&self.shared, config, tls));
        self.relay.send_replace(relay(config));
        self.outbound.send_replace(Arc::new(OutboundSettings {
            routes: material.routes,
            resolver,
            client: havre_outbound::ClientSettings::new(config.server.hostname.clone()),
            signers,
            destination_concurrency: config.queue.destination_concurrency.max(1) as usize,
        }));
        match crate::policy_service::services(&self.shared, config) {
            Ok(policy) => {
                self.policy.send_replace(policy);
            }
            Err(e) => {
                tracing::warn!(target: "serve", "reload: policy service: {e:#}; its rules are kept");
            }
        }
        self.config.send_replace(Arc::new(loaded.clone()));
    }
}

fn smtp(
    shared: &Shared,
    config: &Config,
    tls: TlsAcceptor,
    checks: havre_smtp::SessionChecks,
) -> Arc<Services> {
    Arc::new(Services {
        settings: Arc::new(SmtpSettings {
            hostname: config.server.hostname.clone(),
            banner: config.smtp.banner.clone(),
            message_size_limit: config.smtp.message_size_limit.0,
            line_length_limit: config.smtp.line_length_limit as usize,
            recipient_limit: config.smtp.recipient_limit as usize,
            hard_error_limit: config.smtp.hard_error_limit as usize,
            idle_timeout: config.smtp.idle_timeout.0,
            min_free_space: config.queue.min_free_space.0,
            session_deadline: config.smtp.session_deadline.0,
            quota_full_tempfail: config.mailbox.quota_full_tempfail,
        }),
        directory: shared.directory.clone(),
        queue: shared.queue.clone(),
        local: shared.local.clone(),
        tls: Some(tls),
        internal_networks: config
            .relay
            .internal_networks
            .iter()
            .filter_map(|n| havre_smtp::networks::Network::parse(n))
            .collect(),
        any_sender_classes: config.submission.any_sender_classes.clone(),
        local_submission: havre_smtp::LocalSettings {
            origin: if config.sendmail.origin.is_empty() {
                shared.origin.clone()
            } else {
                config.sendmail.origin.to_ascii_lowercase()
            },
            canonical: config.sendmail.canonical.clone(),
        },
        checks,
        guard: shared.guard.clone(),
        events: shared.events.clone(),
        lmtp_forward: shared.lmtp_forward.clone(),
        partly_delivered: havre_smtp::PartlyDelivered::new(
            shared.state.clone(),
            config.queue.max_lifetime.0,
        ),
    })
}

fn imap(shared: &Shared, config: &Config, tls: TlsAcceptor) -> havre_imap::Services {
    Arc::new(havre_imap::ImapServices {
        settings: havre_imap::ImapSettings {
            hostname: config.server.hostname.clone(),
            idle_timeout: config.imap.idle_timeout.0,
            login_timeout: config.imap.login_timeout.0,
            max_command_length: config.imap.max_command_length.0 as usize,
            max_message_size: config.smtp.message_size_limit.0,
            max_connections_per_user: config.imap.max_connections_per_user,
        },
        directory: shared.directory.clone(),
        mailboxes: shared.mailboxes.clone(),
        tls: Some(tls),
        limits: shared.imap_limits.clone(),
        sessions: shared.sessions.clone(),
        guard: shared.guard.clone(),
        events: shared.events.clone(),
        handoff: shared.handoff.clone(),
    })
}

fn pop3(shared: &Shared, config: &Config, tls: TlsAcceptor) -> Arc<havre_pop3::Pop3Services> {
    Arc::new(havre_pop3::Pop3Services {
        settings: havre_pop3::Pop3Settings {
            idle_timeout: config.pop3.idle_timeout.0,
            ..havre_pop3::Pop3Settings::new(config.server.hostname.clone())
        },
        directory: shared.directory.clone(),
        mailboxes: shared.mailboxes.clone(),
        tls: Some(tls),
        locks: shared.pop3_locks.clone(),
        sessions: shared.sessions.clone(),
        guard: shared.guard.clone(),
        events: shared.events.clone(),
        handoff: shared.handoff.clone(),
    })
}

fn managesieve(
    shared: &Shared,
    config: &Config,
    tls: TlsAcceptor,
) -> Arc<havre_managesieve::ManageSieveServices> {
    let c = &config.managesieve;
    Arc::new(havre_managesieve::ManageSieveServices {
        settings: havre_managesieve::ManageSieveSettings {
            idle_timeout: c.idle_timeout.0,
            max_script_size: usize::try_from(c.max_script_size.0).unwrap_or(usize::MAX),
            max_scripts: c.max_scripts,
            quota: c.quota.0,
            ..havre_managesieve::ManageSieveSettings::new(config.server.hostname.clone())
        },
        directory: shared.directory.clone(),
        store: shared.directory.store().clone(),
        tls: Some(tls),
        sessions: shared.sessions.clone(),
        guard: shared.guard.clone(),
        events: shared.events.clone(),
        handoff: shared.handoff.clone(),
    })
}

fn relay(config: &Config) -> RelaySettings {
    RelaySettings {
        concurrency: config.queue.delivery_concurrency as usize,
        retry_min: config.queue.retry_min.0,
        retry_max: config.queue.retry_max.0,
        max_lifetime: config.queue.max_lifetime.0,
        delay_warning: config.queue.delay_warning.0,
        quota_full_tempfail: config.mailbox.quota_full_tempfail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_only_a_restart_changes_is_kept_and_the_rest_applied() {
        let started = Config::default();
        let mut new = started.clone();
        new.mx.listen = vec!["127.0.0.1:2525".parse().unwrap()];
        new.server.data_dir = "/elsewhere".into();
        new.server.shutdown_grace = havre_config::Duration::from_secs(5);
        new.smtp.max_connections = 7;
        new.smtp.recipient_limit = 7;
        new.log.output = havre_config::LogOutput::Syslog;
        new.relay
            .routes
            .insert("far.test".into(), "smtp:[192.0.2.1]:25".into());
        new.policy.listen = vec!["127.0.0.1:10023".parse().unwrap()];
        new.policy.request_timeout = havre_config::Duration::from_secs(5);
        let running = effective(&started, &new);
        assert_eq!(
            havre_config::changed_keys(&started, &running),
            [
                "server.shutdown_grace",
                "smtp.recipient_limit",
                "relay.routes",
                "policy.request_timeout"
            ]
        );
        assert_eq!(
            havre_config::changed_keys(&running, &new),
            [
                "server.data_dir",
                "log.output",
                "mx.listen",
                "smtp.max_connections",
                "policy.listen"
            ]
        );
    }
}
