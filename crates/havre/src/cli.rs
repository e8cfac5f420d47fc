//! The command line: what an operator types. Wording follows Postfix's tools
//! where they have an equivalent (postconf, mailq).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "havre",
    version = crate::version::VERSION,
    about = "havre: a complete mail system for institutions",
    long_about = "havre receives, queues, filters and delivers mail, and serves mailboxes: \
                  one binary, one configuration (havre.toml), one directory of users.\n\n\
                  Start with `havre init --dir DIR --domain example.org` (add --dev to try \
                  it on loopback high ports), add users with `havre user add`, then run \
                  `havre serve`.",
    after_help = "The configuration file is looked up from --config, then $HAVRE_CONFIG, \
                  then ./havre.toml, then /etc/havre/havre.toml."
)]
pub struct Cli {
    /// Configuration file (default: $HAVRE_CONFIG, ./havre.toml, /etc/havre/havre.toml)
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "HAVRE_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a commented havre.toml, a self-signed TLS certificate and the data directories
    #[command(
        long_about = "Creates DIR/havre.toml (every key commented with its default), \
        DIR/tls/{cert,key}.pem (self-signed for the host name), the data directory \
        DIR/data with its database, and registers DOMAIN as the first local domain.\n\n\
        With --dev the listeners are on loopback high ports (SMTP 2525, LMTP 2424) and \
        havre does not switch user, so anyone can try it without root."
    )]
    Init(InitArgs),
    /// Run every role enabled in the configuration (server.roles)
    #[command(
        long_about = "Runs every role enabled in server.roles, once everything `havre config \
        check` checks has passed and every listener is bound. Writes its process id to \
        DATA_DIR/havre.pid (locked while it runs: a second serve on the same data is \
        refused). SIGHUP (or `havre reload`) applies havre.toml again and reopens the log \
        file; SIGTERM stops accepting, lets transactions under way finish within \
        server.shutdown_grace, and exits."
    )]
    Serve,
    /// Make the running serve apply havre.toml again, without dropping a connection
    #[command(long_about = RELOAD_HELP)]
    Reload,
    /// Show, query, change or check the configuration (like postconf)
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the local domains
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage users (mailboxes)
    #[command(subcommand)]
    User(UserCommand),
    /// Manage aliases: one address to one or more targets, or @domain catch-alls
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Bring in the mail of another server, keeping what clients know of it
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    #[command(
        long_about = "Prints the completion script of havre for SHELL, made from the \
        command line's own definitions. The Debian package installs those of bash, zsh and \
        fish; otherwise:\n\n    havre completions bash > /etc/bash_completion.d/havre"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (havre.8, havre-serve.8, havre-queue-list.8...) into DIR
    #[command(hide = true)]
    Manual {
        /// Where to write them
        dir: PathBuf,
    },
    /// Snapshots of the node for Borg or restic, and single-user restore
    #[command(subcommand, long_about = BACKUP_HELP)]
    Backup(BackupCommand),
    /// Show and act on the mail queue (like mailq, postqueue and postsuper)
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Mail accepted but held by a check (attachments.action = "quarantine"): list, show, release, delete
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// DKIM keys of the local domains: generate, list
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// What to publish in the DNS for a local domain
    #[command(subcommand)]
    Dns(DnsCommand),
    /// Check the directory the node reads accounts from (LDAP: connect, bind, search)
    #[command(subcommand)]
    Directory(DirectoryCommand),

    // The local mail interface and the doveadm-like session tools.
    /// Submit a message from a local program, as Postfix's sendmail does (also run as `sendmail`)
    #[command(
        disable_help_flag = true,
        long_about = "Reads a message on standard input and puts it in the queue of the running \
        `havre serve`, as the calling Unix account: cron, PHP's mail() and scripts call \
        /usr/sbin/sendmail, so link it to havre:\n\n    \
        ln -s /usr/bin/havre /usr/sbin/sendmail\n    \
        ln -s /usr/bin/havre /usr/bin/mailq\n\n\
        Called as `sendmail`, havre takes these arguments; called as `mailq` it lists the queue \
        (havre queue list).\n\n\
        Options (as Postfix's sendmail):\n  \
        -t          recipients from To:, Cc: and Bcc: too; Bcc: is removed\n  \
        -i, -oi     a line with a single dot does not end the message\n  \
        -f SENDER   envelope sender (default: the caller's address, see below)\n  \
        -F NAME     full name of the From: header added when there is none\n  \
        -bm         read a message and queue it (the default)\n  \
        -bs         speak SMTP on standard input and output\n  \
        -bp         list the queue (mailq)\n  \
        -C FILE     the havre configuration file\n  \
        -v          say on standard error what was queued\n  \
        -o*, -B, -N, -R, -V, -X, -L, -h, -q*: accepted and ignored, as Postfix does\n  \
        --          end of options; recipients follow\n\n\
        The caller's address is `sendmail.canonical[ACCOUNT]` or ACCOUNT@`sendmail.origin`; \
        recipients without a domain get @`sendmail.origin` (or their canonical address). A From:, \
        Date: and Message-ID: header is added when missing.\n\n\
        The message goes through the Unix socket `sendmail.socket` (mode 0666), on which havre \
        serve learns the caller's uid from the kernel (SO_PEERCRED), not from the client. The exit \
        status is 0 only once the queue has the message on disk; otherwise a message says why \
        and the status is from sysexits.h: 75 (EX_TEMPFAIL) when havre serve is not running or \
        refuses for now, 67 (EX_NOUSER) for refused recipients, 65 (EX_DATAERR) for a message \
        refused, 64 (EX_USAGE) for bad arguments."
    )]
    Sendmail {
        /// sendmail options and recipients (see above)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Run a stored message through the mx checks and print every verdict (like spamassassin -t)
    #[command(
        long_about = "Runs FILE (a message as it would arrive) through the checks of the mx \
        role stage by stage, as if the client at --ip said --helo, MAIL FROM --from and RCPT TO \
        each --rcpt: the rules, DNS lists, SPF, greylisting, DKIM, ARC and DMARC, with the \
        node's configuration and DNS servers. Prints each check's verdict and reason, the \
        headers the message would get, and the reply that would refuse it (or accepted). \
        Nothing is delivered and nothing is recorded: greylisting answers as for a first \
        attempt, rate limits as for a first message."
    )]
    Check {
        /// The message file
        file: PathBuf,
        /// The client's address
        #[arg(long)]
        ip: std::net::IpAddr,
        /// What the client said in HELO/EHLO
        #[arg(long)]
        helo: Option<String>,
        /// The envelope sender (MAIL FROM); empty for bounces
        #[arg(long)]
        from: Option<String>,
        /// An envelope recipient (RCPT TO); repeat for several
        #[arg(long)]
        rcpt: Vec<String>,
        #[command(flatten)]
        format: Format,
    },
    /// List the IMAP, POP3 and ManageSieve sessions of the running node (like doveadm who)
    #[command(
        long_about = "Lists the logged-in IMAP, POP3 and ManageSieve sessions of the running `havre serve`: \
        user, protocol, session number (what `doveadm who` shows as the pid), client address \
        and login time; with a USER, only hers. Asks serve through its control socket \
        (DATA_DIR/control.sock, reachable by root and server.user only)."
    )]
    Who {
        /// Only the sessions of this address
        user: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Close every IMAP, POP3 and ManageSieve session of a user on the running node (like doveadm kick)
    #[command(
        long_about = "Closes the IMAP, POP3 and ManageSieve sessions of USER on the running `havre serve`: \
        each gets `* BYE` / `-ERR` / `BYE` and ends, whatever it was doing (uncommitted POP3 \
        deletions are not applied). To keep her out, `havre user modify USER --disable` first \
        (it closes her sessions too)."
    )]
    Kick {
        /// The address whose sessions close
        user: String,
    },
    /// Check a user's password the way the servers do (like doveadm auth test)
    #[command(subcommand)]
    Auth(AuthCommand),
    /// List, add or lift bans of client addresses (the guard, like fail2ban-client)
    #[command(subcommand, long_about = BAN_HELP)]
    Ban(BanCommand),
    /// The spam filter: score a message, list the symbols, teach the Bayes classifier (like rspamc, sa-learn)
    #[command(subcommand)]
    Spam(SpamCommand),
    /// Users' Sieve filters: store, activate, check and try scripts (like doveadm sieve, sieve-test)
    #[command(subcommand, long_about = SIEVE_HELP)]
    Sieve(SieveCommand),
    /// Say where mail to an address goes and why (like postmap -q on the transport maps, sendmail -bv)
    #[command(
        long_about = "Prints where mail to ADDRESS goes, each step with its reason: whether the mx \
        takes it from the Internet (a domain of this node, a relay domain with its recipient \
        list, or only from clients that may relay), the aliases it expands to, and for each \
        destination its next hop: a local mailbox, or the routing table's entry (`routing`, \
        then `relay.routes`: the address's, its domain's, the closest `.parent`'s, `*`) with \
        the entry's name, or the MX hosts of its domain when none applies. Reads the \
        configuration and the store; sends nothing."
    )]
    Route {
        /// The recipient address
        address: String,
        #[command(flatten)]
        format: Format,
    },
    /// Follow a message through every step: arrival, checks, deliveries, bounce and its DSN
    #[command(
        long_about = "Prints every event of a message in time order, with the time since the \
        step before: its arrival (client, sender, size, Message-ID), each recipient's delivery \
        into a mailbox or to another server, deferrals with their reasons, a bounce and the \
        notice (DSN) it sent, which is followed in turn. ID is a queue id (as in the log and \
        the Received: header), a <Message-ID> with its angle brackets, or an address (every \
        message from or to it, and refusals naming it). Looks back --since (default 7d). \
        Exits 1 when no event names ID."
    )]
    Trace {
        /// A queue id, a <message-id@host>, or an address
        id: String,
        /// How far back to look (90m, 24h, 7d)
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        since: String,
        #[command(flatten)]
        format: Format,
    },
    /// Print the day's mail report, as pflogsumm does (received, delivered, rejected...)
    #[command(
        long_about = "Prints what pflogsumm prints from a day of Postfix logs, from the events \
        this node recorded (events.enabled): grand totals (received, delivered, forwarded by \
        aliases to other servers, deferred, bounced, rejected with its share, greylisted, \
        bytes, senders and recipients), traffic per hour, recipient and sender domains, the \
        top senders and recipients by count and by size, delivery delays, and the deferral, \
        bounce and reject reasons (a reject's check with the reply). The day is the local \
        calendar day (default: today); --since covers the last 24h, 7d... up to now. Reads \
        the events database (events.sqlite in server.data_dir) while serve runs. With \
        report.mail_to set, serve mails the report of the 24 hours up to report.time to those \
        addresses every day, as text and HTML (--html prints that HTML)."
    )]
    Report {
        /// The local day, YYYY-MM-DD (default: today)
        #[arg(long, value_name = "YYYY-MM-DD")]
        day: Option<String>,
        /// The last DURATION instead of a day (90m, 24h, 7d)
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// Print an HTML page (as mailed to report.mail_to) instead of text
        #[arg(long, conflicts_with = "json")]
        html: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Copy this node's SQLite store into PostgreSQL, verified, to grow into a cluster
    #[command(
        long_about = "Copies every table of the node's SQLite store (storage.sqlite_path) into \
        the empty PostgreSQL database at URL: domains, users, aliases, the mailbox index with \
        its UIDs, flags, modseqs and UIDVALIDITY (so IMAP clients see nothing change), the \
        queue, Bayes counts, Sieve scripts. Stop havre serve first. Each table is copied in \
        one transaction and recorded as copied: a run that stops goes on where it stopped \
        when run again. At the end every table is compared on both sides (row counts and \
        checksums). Then set storage.backend = \"postgres\" and storage.url = URL and start \
        havre serve. The mail files stay where mailbox.maildir says."
    )]
    MigrateStorage {
        /// The PostgreSQL database to fill: postgres://user@host:5432/havre
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// The nodes of a cluster sharing this store: roles, listeners, last heartbeat, queue sizes
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The director's backends and users, as doveadm director: status, add, remove, up, down, weight, move, flush, kick, map
    #[command(subcommand, long_about = DIRECTOR_HELP)]
    Director(DirectorCommand),
    /// Print Mailgraph's graphs in the terminal: messages sent, received, rejected... per minute
    #[command(
        long_about = "Prints, for the last day (or --range week, month, year), each counter of \
        the graphs that the web role draws at /stats: messages sent (copies delivered into a \
        mailbox or to another server), received (taken into the queue), rejected, bounced, \
        greylisted, and found to be spam or a virus. Each line gives the total, the average \
        and highest rate per minute, and a sparkline of the range (oldest on the left). The \
        series are fixed-size round-robin archives in the events database (events.sqlite in \
        server.data_dir): one-minute steps for a day, ten minutes for a week, an hour for a \
        month, a day for a year. Exits 1 when a series is corrupted, naming its slot."
    )]
    Stats {
        /// day, week, month or year
        #[arg(long, value_name = "RANGE", default_value = "day")]
        range: String,
        #[command(flatten)]
        format: Format,
    },
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// List the nodes: id, host, roles, listeners, last heartbeat, queue (active/deferred/hold)
    #[command(
        long_about = "Lists every node that shares this node's store (storage.backend = \
        \"postgres\"), as each wrote it in its heartbeat: its server.node_id, host name, roles \
        and listeners, its version, when it started and when it last wrote (every 10 seconds; a \
        node silent for more than 30 seconds is marked \"not answering\"), and its queue: \
        messages due now, deferred and on hold, and their size. A node on SQLite lists itself. \
        Exits 1 when a node is not answering, so a monitoring check can call it."
    )]
    Status {
        #[command(flatten)]
        format: Format,
    },
}

const DIRECTOR_HELP: &str = "The director role (server.roles = [\"director\"]) sends every \
connection of a user (IMAP, POP3, ManageSieve, LMTP deliveries) to the same mailbox backend, \
as Dovecot's Director: a user stays on her backend for director.user_expire after her last \
connection, whatever changes meanwhile, so her Maildir on shared storage is written by one \
machine at a time. These commands read and change the directors' shared view (the shared \
state, state.backend = \"redis\") and act at once on every running director. \
A backend is named by its address: the directors reach its IMAP, POP3, ManageSieve and LMTP \
on their own listeners' ports unless director.backend_ports says otherwise.";

#[derive(Subcommand)]
pub enum DirectorCommand {
    /// The backends: up or down (and why), weight, users assigned, sessions relayed now
    Status {
        #[command(flatten)]
        format: Format,
    },
    /// Add a backend (an IP address or a host name): it takes new users at once
    Add {
        backend: String,
        /// Its share of new users, relative to the others' (Dovecot's vhost count)
        #[arg(long, default_value_t = havre_director::backends::DEFAULT_WEIGHT)]
        weight: u32,
    },
    /// Remove a backend: its users move to the others now (their sessions are closed)
    Remove { backend: String },
    /// Let a backend taken down take new users again
    Up { backend: String },
    /// Take a backend out gently: no new user; its users stay until their assignments expire
    Down { backend: String },
    /// Set a backend's share of new users (0: none); assigned users stay where they are
    Weight { backend: String, weight: u32 },
    /// Move USER to BACKEND now: her sessions are closed, her clients reconnect there
    Move { user: String, backend: String },
    /// Empty a backend for maintenance: no new user, and its users move now (sessions closed)
    Flush { backend: String },
    /// Close USER's sessions on every director (she stays on her backend)
    Kick { user: String },
    /// Which backend USER is on, and why (assigned until when, or what the ring would pick)
    Map {
        user: String,
        #[command(flatten)]
        format: Format,
    },
}

const SIEVE_HELP: &str = "Users' Sieve scripts (RFC 5228), as ManageSieve clients (webmail) \
manage them: each user has scripts by name and at most one active, which delivery runs on \
every message for her, after the scripts of sieve.before and before those of sieve.after. A \
script that does not compile is never stored; one that fails while running keeps the message \
in INBOX.\n\n\
`check` and `test` read files and need no configuration: check a script before uploading it, \
and see what it would do with a message.";

#[derive(Subcommand)]
pub enum SieveCommand {
    /// List USER's scripts, the active one marked
    List {
        /// The user's address
        user: String,
        #[command(flatten)]
        format: Format,
    },
    /// Print the source of one of USER's scripts
    Get { user: String, name: String },
    /// Store a script for USER from FILE (or standard input); refused if it does not compile
    #[command(
        long_about = "Stores FILE (standard input when absent or `-`) as USER's script NAME, \
        replacing one of that name (an active script stays active). A script that does not \
        compile is refused: each error is printed as FILE:LINE:COLUMN: message and the exit \
        status is 1. Storing does not activate: `havre sieve activate USER NAME`."
    )]
    Put {
        user: String,
        name: String,
        /// The script (default: standard input)
        file: Option<PathBuf>,
    },
    /// Make NAME the script delivery runs for USER (the others become inactive)
    Activate { user: String, name: String },
    /// Run no script of USER's any more (they are kept)
    Deactivate { user: String },
    /// Delete one of USER's scripts (never the active one: deactivate it first)
    Delete { user: String, name: String },
    /// Check that a script compiles: "FILE: ok", or each error as FILE:LINE:COLUMN: message (status 1)
    Check {
        /// The script file
        file: PathBuf,
    },
    /// Print the actions a script would take on a message (like Pigeonhole's sieve-test)
    #[command(
        long_about = "Runs SCRIPT on MESSAGE (a file holding the message as delivered) and \
        prints the actions delivery would carry out, one a line: keep, fileinto \"Folder\", \
        redirect \"address\", discard, reject \"reason\", vacation (...), then implicit keep \
        when no action cancelled it, header edits and duplicate marks. Nothing is delivered \
        or sent. `include` finds personal and global scripts in SCRIPT's directory (NAME or \
        NAME.sieve); no mailbox but INBOX exists.\n\n\
        The envelope defaults to the message's Return-Path: (else From:) for the sender and \
        its Delivered-To: (else To:) for the recipient. A script that does not compile, or \
        fails while running, is reported with its line and the exit status is 1 (delivery \
        would keep the message in INBOX)."
    )]
    Test {
        /// The Sieve script file
        script: PathBuf,
        /// The message file
        message: PathBuf,
        /// The envelope sender (MAIL FROM); empty for <>
        #[arg(long, value_name = "ADDR")]
        envelope_from: Option<String>,
        /// The envelope recipient (RCPT TO): the user the script runs for
        #[arg(long, value_name = "ADDR")]
        envelope_to: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum SpamCommand {
    /// Learn messages as spam or as ham, globally or for one user (like sa-learn)
    #[command(
        long_about = SPAM_LEARN_HELP,
        group = clap::ArgGroup::new("class").required(true).args(["spam", "ham"]),
        after_help = "Examples:\n  \
        havre spam learn --spam /srv/mail/example.org/alice/Maildir/.Junk\n  \
        havre spam learn --ham --user alice@example.org ~/sorted/ham/*.eml"
    )]
    Learn {
        /// The messages are spam
        #[arg(long)]
        spam: bool,
        /// The messages are not spam
        #[arg(long)]
        ham: bool,
        /// Teach USER's own counts instead of the global ones
        #[arg(long, value_name = "ADDRESS")]
        user: Option<String>,
        /// Message files, directories of them, or Maildir folders
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
    },
    /// Print the Bayes probability that messages are spam, and how many tokens said so
    #[command(
        long_about = "Prints, for each FILE, the probability (0 to 1) that the Bayes classifier \
        gives it with what was learned (the global counts, plus USER's own with --user), and how \
        many of its tokens counted. Only the classifier speaks here: `havre spam check` gives the \
        whole score. `-` when no spam or no ham was learned yet; a note says when fewer than 200 \
        of each were learned, below which the filter leaves the probability out. Nothing is \
        learned or changed."
    )]
    Classify {
        /// Message files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Add USER's own counts to the global ones
        #[arg(long, value_name = "ADDRESS")]
        user: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// How many spam and ham messages the Bayes classifier learned, globally and per user
    #[command(
        long_about = "Prints how many messages the Bayes classifier learned as spam and as \
        ham: the global counts (`havre spam learn` without --user), then each user's own \
        (`havre spam learn --user`, and what she moves into and out of her Junk folder over \
        IMAP when spam.learn_from_junk is on). With --user, only that user's."
    )]
    Stats {
        /// Only this user's counts
        #[arg(long, value_name = "ADDRESS")]
        user: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Score a stored message and print every symbol with its points (like rspamc symbols)
    #[command(
        long_about = "Scores FILE (a message, as received or as stored in a mailbox) with the \
        spam filter of the node's configuration, as the mx would have at its reception: the \
        results our host wrote on top of it (Authentication-Results:, Received-SPF:, \
        X-Greylist:), its newest Received: for the client, the HELO name and the time (so \
        dates are judged as on arrival), the DNS lists of mx.dnsbl, mx.rhsbl and spam.uribl on \
        the node's DNS servers. Prints the score, the action the thresholds give, the level \
        and every symbol with its points, weight and meaning. --ip, --helo, --from and --rcpt \
        replace what the Received: line says; --no-dns looks nothing up."
    )]
    Check {
        /// The message file
        file: PathBuf,
        /// The client's address (default: from the newest Received:)
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// What the client said in HELO/EHLO
        #[arg(long)]
        helo: Option<String>,
        /// The envelope sender (MAIL FROM)
        #[arg(long)]
        from: Option<String>,
        /// An envelope recipient (RCPT TO); repeat for several
        #[arg(long)]
        rcpt: Vec<String>,
        /// Look nothing up in DNS lists
        #[arg(long)]
        no_dns: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Every symbol with its weight (spam.weights applied) and meaning
    Symbols {
        #[command(flatten)]
        format: Format,
    },
}

const SPAM_LEARN_HELP: &str = "\
Teaches the Bayes classifier that the messages in FILE|DIR... are spam (--spam) or \
not (--ham). Each message becomes its tokens (words and word pairs of its decoded text and \
subject, HTML without its tags, URLs as their domains, header fields apart) and the counts \
of those tokens go up for its class. Learn both kinds, in similar amounts: the classifier \
compares them, and the filter uses its word only once 200 spam and 200 ham are learned.

FILE is one message (RFC 5322, as a .eml file or a Maildir file). DIR is a directory of \
such files, or a Maildir folder, whose cur/ and new/ are read (not its sub-folders: name \
.Junk or .Archive to learn those).

Without --user, the global counts learn (every user's mail is classified with them); with \
--user ADDRESS, that user's own counts, which are added to the global ones for her mail.

A message is known by its Message-ID and body: learning it again as the same class \
changes nothing (it is counted as already known); learning it as the other class moves \
it, as when a user takes a message out of Junk. Messages are recorded 500 at a time, each \
batch in one transaction, so an interrupted run keeps what it recorded and can simply be \
run again. A progress bar shows on a terminal for more than 500 messages.

Prints `learned N spam messages (M already known)`; a file that cannot be read is named \
and the exit status is 1. Run as root, it acts as server.user (the files must be readable \
by that account). Works while havre serve runs; the filter takes the new counts within a \
second.";

const BAN_HELP: &str = "\
The guard bans a client address that goes over a [guard] limit (failed logins, unknown \
recipients, bad commands, connections in an hour): every connection from it is refused \
(SMTP 554 5.7.1, IMAP * BYE, POP3 -ERR) until the ban ends. Bans are kept in \
DATA_DIR/state.db, so they outlast a restart. These commands read and change that file; \
a running `havre serve` applies a change within about 3 seconds (it reads the file again \
every 2 seconds, and its bans every second). Run as root, they act as server.user.";

#[derive(Subcommand)]
pub enum BanCommand {
    /// The banned addresses: until when, and why
    List {
        #[command(flatten)]
        format: Format,
    },
    /// Ban an address (IPv4 or IPv6) now, for guard.ban_time or --for
    Add {
        /// The client address
        ip: String,
        /// How long, like 30m, 12h, 7d (default: guard.ban_time)
        #[arg(long = "for", value_name = "DURATION")]
        time: Option<String>,
    },
    /// Lift the ban of an address (its counts start again from zero)
    Remove {
        /// The client address
        ip: String,
    },
}

/// `--json`, shared by every command that lists or shows.
#[derive(Args, Clone, Copy, Default)]
pub struct Format {
    /// Print JSON (one document; lists are arrays) instead of text, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Verify USER's password (read from standard input, or asked on a terminal)
    #[command(
        long_about = "Checks USER and a password through the same path as IMAP, POP3 and \
        submission logins (imported hash schemes included), and says why a login fails: \
        unknown user, no password, wrong password, disabled account, unusable hash. Exit \
        status 0 when the login would succeed, 77 (EX_NOPERM) when it would not."
    )]
    Test {
        /// The address that logs in
        user: String,
        /// Read the password from the first line of standard input (default on a pipe)
        #[arg(long)]
        password_stdin: bool,
    },
}

const RELOAD_HELP: &str = "\
Checks the configuration as `havre config check` does, then sends SIGHUP to the \
`havre serve` running on its data directory (the process named in \
DATA_DIR/havre.pid, which serve holds locked while it runs). A file that does not \
pass is not sent: the error names its file, line and key, and serve keeps running \
with the configuration it has. `kill -HUP $(cat DATA_DIR/havre.pid)` does the same \
without the check; serve then refuses a bad file itself and logs why.

On reload, serve:
  - reopens log.file (after logrotate renamed it, new lines go to a new file);
  - reads havre.toml and checks it like at the start;
  - applies, for new connections and delivery attempts: log.level, log.file, \
the TLS certificate and key (also when renewed in place), smtp limits and banner, \
routing, relay.routes, relay.domains, relay.recipients, relay.internal_networks, \
submission.any_sender_classes, \
dns.nameservers, dkim.sign and the DKIM keys in DATA_DIR/dkim, queue retry times, \
lifetime, delay warning, destination concurrency and minimum free space, imap and \
pop3 timeouts and limits, the guard's limits and exemptions ([guard]), \
server.shutdown_grace;
  - logs each key it applied (\"reload: relay.routes changed\") and each key that \
needs a restart (\"reload: mx.listen needs a restart\"): listeners, \
max_connections and max_connections_per_ip, server.hostname, data_dir, user, roles \
and node_id, storage, mailbox.maildir, relay.recipient_delimiter, \
queue.delivery_concurrency, log.output and log.socket.

Connections under way keep the settings they started with. serve runs as \
server.user after the start: a TLS key or DKIM key only root may read stays as it \
was (the log says so) until it is made readable by that account or serve restarts.

In /etc/logrotate.d/havre, signal serve directly, so that the log is reopened \
even while the file has a problem:
  postrotate
      kill -HUP \"$(cat /var/lib/havre/havre.pid)\" 2>/dev/null || true
  endscript";

#[derive(Args)]
pub struct InitArgs {
    /// Directory to create the configuration in
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// First local domain
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// This node's host name (default: mail.DOMAIN)
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// The data directory (store, queue, Maildirs), relative to DIR or absolute
    #[arg(long, value_name = "PATH", default_value = "data")]
    pub data_dir: PathBuf,
    /// Loopback listeners on high ports, no user switch: for trying havre out
    #[arg(long)]
    pub dev: bool,
    /// With --dev: the loopback address every listener takes (default
    /// 127.0.0.1). Nodes on 127.0.0.2, 127.0.0.3... keep the same ports, so
    /// a director on 127.0.0.1 names each backend by its address alone
    #[arg(
        long,
        value_name = "ADDRESS",
        requires = "dev",
        default_value = "127.0.0.1"
    )]
    pub address: std::net::IpAddr,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration as `key = value` lines (all keys by default)
    #[command(
        long_about = "Prints the configuration as `key = value` lines, every key by default \
        (postconf), only those that differ from the defaults with --non-default (postconf -n). \
        A password in storage.url or state.url is shown as ***, so the listing can be pasted \
        into a ticket; `havre config get storage.url` prints it."
    )]
    Show {
        /// Print the built-in defaults (like postconf -d)
        #[arg(long, conflicts_with = "non_default")]
        defaults: bool,
        /// Print only what differs from the defaults (like postconf -n)
        #[arg(long)]
        non_default: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Print the values of keys, e.g. smtp.message_size_limit (like postconf KEY...)
    #[command(
        long_about = "Prints the value of each KEY. With one key, the value alone (for \
        scripts: `$(havre config get server.hostname)`); with several, `key = value` lines \
        as postconf prints them. A table prints all its keys. An unknown key is refused \
        with the closest known ones."
    )]
    Get {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Change one key in the file, keeping its comments; VALUE is TOML, or a plain string
    #[command(
        long_about = "Changes KEY in the configuration file. Keys are dotted TOML paths \
        and may have quoted segments (relay.routes.\"remote.test\"). VALUE is parsed as a \
        TOML value (42, true, \"text\", [\"127.0.0.1:25\"]); when it is not valid TOML it \
        is taken as a plain string. The whole resulting configuration is checked before \
        the file is replaced; comments and layout are kept. A running serve goes on with \
        what it has until `havre reload`."
    )]
    Set { key: String, value: String },
    /// Remove a key from the file so that it takes its default again (like postconf -X)
    #[command(
        long_about = "Removes KEY from the configuration file (with its comment lines), so \
        that it takes its built-in default again; an entry of a table such as \
        relay.routes.\"remote.test\" is removed from it. The result is checked before the \
        file is replaced. A key the file does not set is left alone (and said so)."
    )]
    Unset { key: String },
    /// Check the configuration as serve does; prints the first problem with its file, line and key
    #[command(
        long_about = "Checks what `havre serve` checks before it starts and a reload \
        before it applies anything: the file (types, ranges, log levels, two listeners \
        on one address), then what it names: the data directory and database (present, \
        not open to other accounts, owned by server.user when run as root), the TLS \
        certificate and key (readable, and a pair), relay.routes, dns.nameservers and \
        the DKIM keys. Prints the first problem with its file, line and key and exits \
        non-zero. Run it as the account serve starts as (root for a system node)."
    )]
    Check,
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Add local domains
    Add {
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// List local domains
    List {
        #[command(flatten)]
        format: Format,
    },
    /// Remove a domain (refused while it has users or aliases)
    Remove { domain: String },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; its Maildir is created at the first delivery
    Add {
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long, conflicts_with = "password_hash")]
        password_stdin: bool,
        /// Store an existing hash as is (imported from LDAP or Dovecot: {SSHA}..., {SHA512-CRYPT}$6$..., $argon2id$...)
        #[arg(long, value_name = "HASH")]
        password_hash: Option<String>,
        /// Class of the user (student, staff, or any name policies use)
        #[arg(long, default_value = "default")]
        class: String,
        /// Mailbox quota, e.g. 2G, 500M; "unlimited" (or 0); without it, her class's (mailbox.class_quotas), else unlimited
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
    },
    /// List users, optionally of one domain
    List {
        domain: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Show one user
    Show {
        email: String,
        #[command(flatten)]
        format: Format,
    },
    /// Show what a user's mailboxes hold against her quota (doveadm quota get)
    #[command(
        long_about = "Prints the bytes the user's messages take (their RFC 822 sizes, as IMAP \
        GETQUOTA counts them), her quota and the share used. A user over her quota gets new \
        mail refused with 552 5.2.2 (or deferred with 452 4.2.2 when \
        mailbox.quota_full_tempfail is set)."
    )]
    Quota {
        email: String,
        #[command(flatten)]
        format: Format,
    },
    /// Change a user's class, quota, password, or whether she may log in
    #[command(
        long_about = "Changes what the options name and leaves the rest. All changes are made \
        together or not at all.\n\n\
        --disable keeps USER from logging in (IMAP, POP3, submission), as Dovecot's `nologin`: \
        her mail is still accepted and delivered, so nothing is lost while the account is \
        suspended (to refuse her mail, remove the user or alias it elsewhere). Her sessions on \
        the running node are closed at once. --enable lets her in again."
    )]
    Modify {
        /// The user's address
        email: String,
        /// New class (student, staff, or any name policies use)
        #[arg(long)]
        class: Option<String>,
        /// New mailbox quota, e.g. 2G, 500M; "unlimited" (or 0); "default" for her class's
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// New password, read from the first line of standard input
        #[arg(long, conflicts_with = "password_hash")]
        password_stdin: bool,
        /// Store an existing hash as is (imported from LDAP or Dovecot)
        #[arg(long, value_name = "HASH")]
        password_hash: Option<String>,
        /// Refuse her logins (mail still delivered) and close her sessions
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Allow her logins again
        #[arg(long)]
        enable: bool,
    },
    /// Set a user's password (prompted on a terminal, or --password-stdin)
    Passwd {
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long, conflicts_with = "password_hash")]
        password_stdin: bool,
        /// Store an existing hash as is (imported from LDAP or Dovecot)
        #[arg(long, value_name = "HASH")]
        password_hash: Option<String>,
    },
    /// Remove a user (its Maildir is left on disk)
    Remove { email: String },
}

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Make ADDRESS deliver to TARGETs (use @domain as ADDRESS for a catch-all)
    Add {
        address: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List aliases
    List {
        #[command(flatten)]
        format: Format,
    },
    /// Remove an alias, or only one of its targets
    Remove {
        address: String,
        target: Option<String>,
    },
}

const BACKUP_HELP: &str = "Backups that Borg or restic take away, and one user's mail brought \
back. `snapshot` writes a consistent copy of the node into a directory while it serves: the \
store and the events (SQLite's VACUUM INTO), the Maildirs hard-linked (no space taken on the \
same filesystem; copied otherwise) and a MANIFEST. Point restic or Borg at that directory, \
then remove it. `restore-user` brings a user's messages back from such a directory (as restic \
or Borg restored it) into Restored/<folder>, with new UIDs and their flags, leaving out every \
message the user still has.";

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Write a consistent copy of the store, the events and the Maildirs into DIR
    #[command(
        long_about = "Writes a snapshot of this node into DIR (new, or an empty directory) \
        while havre serve runs: store.sqlite and events.sqlite copied by SQLite's VACUUM INTO \
        (each a consistent state, writers go on meanwhile), mail/ holding every Maildir file \
        hard-linked (DIR on the same filesystem as the data directory: no space taken, the \
        files as they were) or copied with its time, and MANIFEST, written last, listing \
        them. A message renamed while the snapshot runs is taken under its new name. When \
        anything fails (a full disk), what was written is removed and the command exits 1. \
        Then: restic backup DIR (or borg create REPO::NAME DIR), and rm -r DIR."
    )]
    Snapshot {
        /// Where to write the snapshot
        dir: PathBuf,
    },
    /// Bring USER's messages back from a snapshot into Restored/<folder>
    #[command(
        long_about = "Reads USER's Maildir in the snapshot DIR (as `havre backup snapshot` \
        wrote it, or restic/Borg restored it) and appends every message of each folder (or \
        only of --folder) to the mailbox --into/<folder> (Restored/INBOX, Restored/Sent...), \
        created and subscribed if needed: new UIDs, the flags and keywords and the date the \
        message had. A message the user still has, in any mailbox (the same bytes), is not \
        restored again, so running it twice restores nothing the second time. USER must \
        exist on this node; nothing else of the node changes."
    )]
    RestoreUser {
        /// The user's address
        user: String,
        /// The snapshot directory
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Only this folder of the snapshot (INBOX, Sent, Lists/rust...)
        #[arg(long, value_name = "NAME")]
        folder: Option<String>,
        /// The mailbox the restored folders go under
        #[arg(long, value_name = "NAME", default_value = "Restored")]
        into: String,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import a Dovecot Maildir: folders, UIDs, flags, keywords and subscriptions
    #[command(
        long_about = "Imports the Maildir at PATH (the directory holding cur/, \
        new/ and the .Folder directories, as Dovecot writes it) into the mailboxes of \
        USER, who must exist (`havre user add` first). Each folder keeps the \
        UIDVALIDITY and UIDs of its dovecot-uidlist, and each message its flags, \
        keywords (dovecot-keywords), size and date, so IMAP and POP3 clients \
        download nothing again. Messages are copied; PATH is left as it is.\n\n\
        Nothing is written if a control file is malformed or if one of the user's \
        mailboxes that the import would fill already has messages."
    )]
    Maildir {
        /// The Dovecot Maildir of the user (e.g. /var/vmail/example.org/alice/Maildir)
        path: PathBuf,
        /// The havre user who gets the mail
        #[arg(long, value_name = "EMAIL")]
        user: String,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List queued messages in mailq's layout: id (`*` due, `!` on hold), size, arrival, sender, then each pending recipient under its last error
    List {
        /// Every node's queue (a cluster on one store), each message with its node
        #[arg(long)]
        all_nodes: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Show one message: envelope, attempts, recipients with their last reply, headers (with --body, the whole message, like postcat -bh)
    Show {
        id: String,
        /// Print the whole message (headers and body) after the envelope
        #[arg(long)]
        body: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Put messages on hold: no delivery attempts until released (postsuper -h)
    #[command(after_help = IDS_HELP)]
    Hold {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Release held messages and make them due now (postsuper -H)
    #[command(after_help = IDS_HELP)]
    Release {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Delete messages from the queue, without bounce (postsuper -d)
    #[command(after_help = IDS_HELP)]
    Delete {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Retry messages now with a fresh retry schedule (postsuper -r)
    #[command(after_help = IDS_HELP)]
    Requeue {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Attempt every deferred message now (postqueue -f)
    Flush,
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined messages: id, size, arrival, sender, the reason, then each recipient
    List {
        #[command(flatten)]
        format: Format,
    },
    /// Show one quarantined message: envelope, reason, recipients, headers (with --body, the whole message)
    Show {
        id: String,
        /// Print the whole message (headers and body) after the envelope
        #[arg(long)]
        body: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Release quarantined messages: they go on to their recipients now
    #[command(after_help = QUARANTINE_IDS_HELP)]
    Release {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Delete quarantined messages, undelivered and without bounce
    #[command(after_help = QUARANTINE_IDS_HELP)]
    Delete {
        /// Queue ids, ALL, or - for ids on standard input
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

const QUARANTINE_IDS_HELP: &str = "ID is a queue id as `havre quarantine list` prints it, ALL for \
every quarantined message, or - to read ids from standard input (the first word of each line). \
Each message done is printed as postsuper logs it (`ID: released from hold`, `ID: removed`), then a \
count on standard error. Ids that are not in quarantine (not queued, or held by the operator: see \
`havre queue release`) are named on standard error and the exit status is 1. Quarantined mail is \
deleted by itself after quarantine.retention.";

const IDS_HELP: &str = "ID is a queue id (as `havre queue list` prints it, without its `*` or \
`!`), ALL for every message, or - to read ids from standard input, one per line (or the first \
word of each line: `havre queue list | awk ... | havre queue delete -`). Each message done is \
printed as postsuper logs it (`ID: placed on hold`, `ID: released from hold`, `ID: removed`, \
`ID: requeued`), then a count on standard error. Ids that are not in the queue are named on \
standard error and the exit status is 1.";

#[derive(Subcommand)]
pub enum DkimCommand {
    /// Create a signing key for a local domain and print the TXT record to publish
    #[command(
        long_about = "Creates a DKIM key for DOMAIN in DATA_DIR/dkim/DOMAIN/SELECTOR.pem \
        and prints the TXT record to publish at SELECTOR._domainkey.DOMAIN. The newest key \
        of each algorithm signs (an RSA and an Ed25519 key: two signatures), from the next \
        `havre reload` (or start of `havre serve`): publish its record first.\n\n\
        To rotate, generate a key with a new selector (e.g. havre2027), publish it, reload, \
        and keep the old record for a week so mail in transit still verifies."
    )]
    Generate {
        /// A local domain (`havre domain add` first)
        domain: String,
        /// Selector: the record goes at SELECTOR._domainkey.DOMAIN (default: dkim.selector, "havre")
        #[arg(long, value_name = "SELECTOR")]
        selector: Option<String>,
        /// rsa (2048-bit rsa-sha256, verified everywhere) or ed25519 (RFC 8463; signs next to the RSA key)
        #[arg(long, default_value = "rsa", value_parser = ["rsa", "ed25519"])]
        algorithm: String,
        /// Replace a key that has the same selector (mail signed with it then fails verification)
        #[arg(long)]
        force: bool,
    },
    /// List the keys, of one domain or all; `*` marks those that sign
    List {
        domain: Option<String>,
        #[command(flatten)]
        format: Format,
    },
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Connect to the LDAP servers, bind as ldap.bind_dn, run the filters; print what they find
    #[command(
        long_about = "Checks the directory of directory.backend as serve will use it: for LDAP, \
        connects to each server of ldap.urls in turn (with StartTLS when ldap.starttls), binds \
        as ldap.bind_dn with the password of ldap.bind_password_file, runs ldap.user_filter \
        for every login (%u = *), and prints how many accounts it finds and the first ones as \
        havre reads them: login, address, other addresses, forwarding, class, quota, state. \
        With ADDRESS, also looks that address up with ldap.address_filter. Exits 1 when no \
        server answers, the bind is refused or a filter is rejected."
    )]
    Check {
        /// An address to look up as RCPT would
        address: Option<String>,
        /// How many accounts to print
        #[arg(long, default_value_t = 5)]
        show: usize,
    },
    /// Make the running node forget its kept directory answers and logins
    #[command(subcommand)]
    Cache(DirectoryCacheCommand),
}

#[derive(Subcommand)]
pub enum DirectoryCacheCommand {
    /// Forget the LDAP answers and logins the running serve keeps (ldap.cache_ttl, auth.cache_ttl)
    #[command(
        long_about = "Tells the running `havre serve`, through its control socket, to forget \
        every LDAP answer (accounts, groups, addresses nobody has) and every password a bind \
        accepted: the next lookup and the next login ask the directory again. For a change made \
        in LDAP that must count before the caches' TTL runs out (a password taken back, an \
        account disabled)."
    )]
    Flush,
}

#[derive(Subcommand)]
pub enum DnsCommand {
    /// Print the records a local domain needs (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT), in zone-file syntax
    Records {
        /// A local domain
        domain: String,
    },
}
