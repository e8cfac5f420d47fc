//! The documentation of every key, and the commented `havre.toml` generated
//! from it and from [`Config::default`]: one source of truth for `havre init`,
//! `havre config show --defaults` and this crate's tests.

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::edit::set_in_table;
use crate::flatten::{render_value, to_document};
use crate::keys::{format_key, parse_key};
use crate::model::Config;

/// One line of documentation per table and per key, by dotted path, in
/// document order.
pub static KEY_DOCS: &[(&str, &str)] = &[
    (
        "server",
        "Identity of this node and where it keeps its data.",
    ),
    (
        "server.hostname",
        "FQDN used in the SMTP greeting, Received: headers and Maildir file names.",
    ),
    (
        "server.data_dir",
        "Where queue, mailboxes and the database live; relative to the directory of havre.toml.",
    ),
    (
        "server.user",
        "Account to switch to after binding privileged ports when started as root (\"\" = stay as started).",
    ),
    (
        "server.roles",
        "Roles this node runs; known: mx, submission, relay, lmtp, imap, pop3, managesieve, web, director (proxies on the imap, pop3, managesieve and lmtp listeners sending each user to her backend; not with those roles).",
    ),
    (
        "server.node_id",
        "Number of this node (0-255), part of every queue id so that nodes sharing a store never make the same one; give each node its own.",
    ),
    (
        "server.shutdown_grace",
        "On SIGTERM: listeners close, new commands get 421 4.3.2 (IMAP/POP3: BYE), transactions under way \
         have this long to finish; then every session is closed.",
    ),
    ("log", "Logging."),
    (
        "log.level",
        r#"error, warn, info, debug, trace or off, then target=level directives if wanted, like "info,relay=debug"; applied by a reload."#,
    ),
    (
        "log.file",
        r#"Also append log lines to this file ("" = none); relative to the directory of havre.toml."#,
    ),
    (
        "log.output",
        r#"Where log lines go besides log.file: "stderr", "syslog" (the local syslog daemon, facility mail, RFC 3164) or "journald" (its native protocol). Lines are named like Postfix's (havre/smtpd, havre/qmgr...): pflogsumm --syslog-name=havre reads them. Changed only by a restart of serve, not by a reload."#,
    ),
    (
        "log.socket",
        r#"The socket of log.output ("" = /dev/log for syslog, /run/systemd/journal/socket for journald). Changed only by a restart of serve."#,
    ),
    ("tls", "TLS certificate and key offered with STARTTLS."),
    (
        "tls.cert",
        "PEM certificate chain for STARTTLS; relative to the directory of havre.toml.",
    ),
    (
        "tls.key",
        "PEM private key; relative to the directory of havre.toml.",
    ),
    (
        "storage",
        "The database holding domains, users, aliases and the queue.",
    ),
    (
        "storage.backend",
        r#""sqlite" (embedded, one node) or "postgres" (one PostgreSQL every node of a cluster shares, at storage.url). havre migrate-storage --to URL moves a node's SQLite data into PostgreSQL."#,
    ),
    (
        "storage.sqlite_path",
        "SQLite database file; relative to server.data_dir.",
    ),
    (
        "storage.url",
        "The PostgreSQL URL for storage.backend = \"postgres\": postgres://user[:password]@host:5432/database (libpq's form. TLS: ?sslmode=require, or verify-ca / verify-full to check the server's certificate against the system's CAs and sslrootcert=FILE's; without sslmode, TLS whenever the server offers it, as libpq's prefer, except to a loopback address, where it guards nothing). A failover pair: postgres://havre@db1:5432,db2:5432/havre?target_session_attrs=read-write (the node writes to whichever is the primary, and moves when it changes). serve does not start while it does not answer.",
    ),
    (
        "mx",
        "The mx role: receives Internet mail, and checks it (DNS lists, SPF, DKIM, DMARC, greylisting, policy rules).",
    ),
    (
        "mx.listen",
        "Addresses the mx role accepts Internet mail on (address:port list).",
    ),
    (
        "mx.dnsbl",
        "DNS lists of client addresses, in Postfix's postscreen_dnsbl_sites syntax: \"zone\", \"zone=127.0.0.[2..11]\" \
         (the answers that count: numbers, [a..b] ranges, [a;b] lists), \"zone*2\" (a weight; negative for allow lists). \
         A client whose weights add up to mx.dnsbl_threshold gets 554 5.7.1 at RCPT, naming the list and its TXT text; \
         without a pattern any 127.0.0.0/8 answer counts but 127.255.255.x (the list refused the query). A DNS failure is \
         logged and counts as not listed.",
    ),
    (
        "mx.rhsbl",
        "DNS lists of domains, same syntax: the sender's domain, the HELO name and the client's confirmed name are \
         looked up (Postfix's reject_rhsbl_sender, _helo, _reverse_client); a listed one gets 554 5.7.1 at RCPT.",
    ),
    (
        "mx.dnsbl_threshold",
        "Score (sum of the weights of the lists that list it) from which a client address, or a domain, is refused \
         (postscreen_dnsbl_threshold).",
    ),
    (
        "mx.sender_auth",
        "Check SPF (MAIL FROM and HELO, RFC 7208), DKIM (rsa-sha1 and keys' h= refused, RFC 8301), ARC and DMARC \
         of mail from the Internet: Authentication-Results: and Received-SPF: on every message, DMARC reject -> \
         550 5.7.1, quarantine -> the recipient's Junk folder. relay.internal_networks get the headers, never a refusal.",
    ),
    (
        "mx.spf_reject_fail",
        "Refuse (550 5.7.23 at MAIL) a HELO or MAIL FROM whose SPF result is fail, as policyd-spf does by default; \
         softfail, neutral, none, temperror and permerror are accepted and recorded in Received-SPF:.",
    ),
    ("lmtp", "The lmtp role: the mailbox tier."),
    (
        "lmtp.listen",
        "LMTP listener of the mailbox tier (RFC 2033) (address:port list).",
    ),
    (
        "imap",
        "The imap role: IMAP4rev2/IMAP4rev1 access to the mailboxes.",
    ),
    (
        "imap.listen",
        "IMAP listeners, STARTTLS offered (address:port list; 143 by convention).",
    ),
    (
        "imap.tls_listen",
        "IMAP listeners with TLS from the first byte (address:port list; 993).",
    ),
    (
        "imap.idle_timeout",
        "Logged-in clients silent this long are disconnected; IDLE re-arms it (RFC 9051: at least 30 minutes).",
    ),
    (
        "imap.login_timeout",
        "Clients that have not logged in after this long are disconnected.",
    ),
    (
        "imap.max_command_length",
        "Longest command line, literals excepted (BAD beyond).",
    ),
    (
        "imap.max_connections",
        "Concurrent IMAP connections in all, 143 and 993 together (like Dovecot's default_client_limit); \
         beyond, * BYE [UNAVAILABLE]. Lowered at start if the open-file limit cannot hold every role's.",
    ),
    (
        "imap.max_connections_per_user",
        "Concurrent IMAP sessions of one user (like Dovecot's mail_max_userip_connections).",
    ),
    (
        "imap.max_connections_per_ip",
        "Concurrent IMAP connections from one client address (* BYE [UNAVAILABLE] beyond).",
    ),
    ("pop3", "The pop3 role: POP3 access to the INBOX."),
    (
        "pop3.listen",
        "POP3 listeners, STLS offered (address:port list; 110 by convention).",
    ),
    (
        "pop3.tls_listen",
        "POP3 listeners with TLS from the first byte (address:port list; 995).",
    ),
    (
        "pop3.idle_timeout",
        "Clients silent this long are disconnected (RFC 1939: at least 10 minutes).",
    ),
    (
        "pop3.max_connections",
        "Concurrent POP3 connections in all, 110 and 995 together (like Dovecot's default_client_limit); \
         beyond, -ERR [SYS/TEMP]. Lowered at start if the open-file limit cannot hold every role's.",
    ),
    (
        "pop3.max_connections_per_ip",
        "Concurrent POP3 connections from one client address (-ERR [SYS/TEMP] beyond).",
    ),
    (
        "managesieve",
        "The managesieve role: users upload, check, list and activate their Sieve scripts (RFC 5804), as \
         with Dovecot's Pigeonhole; logins only after STARTTLS, with IMAP's protection.",
    ),
    (
        "managesieve.listen",
        "ManageSieve listeners, STARTTLS offered (address:port list; 4190 by convention).",
    ),
    (
        "managesieve.idle_timeout",
        "Clients silent this long are disconnected (BYE).",
    ),
    (
        "managesieve.max_script_size",
        "Largest script a user may upload (Dovecot's sieve_max_script_size): beyond, PUTSCRIPT and \
         HAVESPACE answer NO (QUOTA/MAXSIZE). At most 1M.",
    ),
    (
        "managesieve.max_scripts",
        "Scripts one user may keep (Dovecot's sieve_quota_max_scripts): beyond, NO (QUOTA/MAXSCRIPTS). \
         0 = no limit.",
    ),
    (
        "managesieve.quota",
        "Size of all of a user's scripts together (Dovecot's sieve_quota_max_storage): beyond, NO (QUOTA). \
         0 = no limit.",
    ),
    (
        "managesieve.max_connections",
        "Concurrent ManageSieve connections in all; beyond, BYE (TRYLATER). Lowered at start if the \
         open-file limit cannot hold every role's.",
    ),
    (
        "managesieve.max_connections_per_ip",
        "Concurrent ManageSieve connections from one client address (BYE (TRYLATER) beyond).",
    ),
    (
        "http",
        "The web role (server.roles \"web\"): Prometheus metrics at /metrics, health probes at /health/live \
         and /health/ready (200 only when every role listens and the store and queue answer; 503 with the \
         reason otherwise), the graphs at /stats.",
    ),
    (
        "http.listen",
        "Addresses of the web role's HTTP listener (the --dev node: 127.0.0.1:8080).",
    ),
    (
        "http.metrics_networks",
        "Networks (CIDR) whose clients may read /metrics, /health/... and /stats; others get 403. Read at start: a change needs a restart.",
    ),
    (
        "auth",
        "Password verification of IMAP, POP3 and submission logins.",
    ),
    (
        "auth.cache_ttl",
        "A successful login is remembered this long (Dovecot's auth_cache_ttl): the same user, password and \
         stored hash log in again without hashing, so reconnecting clients do not queue for argon2. Kept as a \
         keyed hash, never the password; a wrong password is never remembered, a changed one is hashed anew. \
         0 = every login hashes its password.",
    ),
    (
        "directory",
        "Where accounts, addresses and passwords come from.",
    ),
    (
        "directory.backend",
        r#""internal" (havre user/alias), "ldap" ([ldap]), or a chain asked in order: ["ldap", "internal"] takes LDAP's accounts first, then the local users and aliases (local exceptions keep working)."#,
    ),
    (
        "directory.domains",
        "Local domains besides those of the database (havre domain add): mail for them is ours, their users in LDAP or the database. The seeds' sites serve up to 36.",
    ),
    (
        "directory.domain_aliases",
        r#"Domain aliases: "old.example" = "example" makes x@old.example deliver as x@example (an address the database has of its own keeps it)."#,
    ),
    (
        "ldap",
        "The institution's LDAP directory (directory.backend = \"ldap\"): accounts found by a search as bind_dn, passwords checked by binding as the user (Dovecot's auth_bind).",
    ),
    (
        "ldap.urls",
        r#"LDAP servers tried in turn: "ldap://host[:port]" (with StartTLS when ldap.starttls), "ldaps://host[:port]"."#,
    ),
    (
        "ldap.starttls",
        "Use StartTLS on ldap:// URLs (the certificate is verified).",
    ),
    (
        "ldap.ca_file",
        "PEM file of the certificate authorities that sign the LDAP servers' certificates (StartTLS and ldaps://); empty: the system's.",
    ),
    (
        "ldap.auth",
        r#"How passwords are checked: "bind" (a bind as the user, Dovecot's auth_bind) or "password" (her userPassword hash read by bind_dn and verified here: {SSHA}, {CRYPT}, {BLF-CRYPT}...)."#,
    ),
    (
        "ldap.bind_dn",
        "The service account that searches (empty: anonymous).",
    ),
    (
        "ldap.bind_password_file",
        "File holding bind_dn's password (its first line), readable by server.user only.",
    ),
    (
        "ldap.base",
        "Where searches start (e.g. \"ou=people,dc=example,dc=edu\").",
    ),
    (
        "ldap.user_filter",
        "Finds an account by login: %u the login as typed, %n its local part, %d its domain (escaped, RFC 4515).",
    ),
    (
        "ldap.address_filter",
        "Finds the account an address belongs to: %s the address (escaped).",
    ),
    (
        "ldap.group_filter",
        "Finds a group (mailing to all its members) by address: %s the address; its members are DNs (ldap.attributes.member) whose mail attribute is read. Empty: no groups.",
    ),
    (
        "ldap.domain_filter",
        r#"Finds the entry that makes a domain local, %s the domain (escaped), as Postfix's virtual_mailbox_domains = ldap:...; e.g. "(&(objectClass=domainRelatedObject)(associatedDomain=%s))". Answers are kept ldap.cache_ttl. Empty: domains come from directory.domains and the database only."#,
    ),
    (
        "ldap.max_group_members",
        "Members of one group read at most; a bigger group is an error (mail deferred, logged).",
    ),
    (
        "ldap.default_class",
        "Class of an account none of whose affiliations is in class_map.",
    ),
    (
        "ldap.disabled_values",
        "Values of ldap.attributes.state that disable an account: no login, mail refused as for an unknown user.",
    ),
    (
        "ldap.disabled_mail",
        r#"Mail to a disabled account: "unknown" (550 5.1.1, as if nobody had the address) or "refuse" (550 5.2.1 mailbox disabled)."#,
    ),
    (
        "ldap.timeout",
        "Longest wait for one LDAP connection, bind or search.",
    ),
    (
        "ldap.cache_ttl",
        "How long an LDAP answer (an account, a group, or none) is kept: lookups within it ask no server, and still answer while none does. Passwords a bind accepted are kept auth.cache_ttl (a password changed in LDAP stops working at most that long after). 0 = ask every time.",
    ),
    (
        "ldap.class_map",
        "Affiliation values (ldap.attributes.class) to havre classes, the first of hers listed wins; empty: student = student, staff, faculty and employee = staff.",
    ),
    (
        "ldap.attributes",
        "Which attribute holds what (defaults for inetOrgPerson, eduPerson and the qmail/Postfix mail schemas).",
    ),
    ("ldap.attributes.login", "The login name."),
    (
        "ldap.attributes.mail",
        "The primary address: her mailbox here.",
    ),
    (
        "ldap.attributes.alternate",
        "Other addresses delivering to her.",
    ),
    (
        "ldap.attributes.forward",
        "Addresses her mail is forwarded to instead.",
    ),
    (
        "ldap.attributes.class",
        "Affiliation, mapped to a class by class_map.",
    ),
    (
        "ldap.attributes.quota",
        "Mailbox quota (bytes, or 500M, 2G; 0 = unlimited).",
    ),
    (
        "ldap.attributes.state",
        "Account state (see disabled_values).",
    ),
    (
        "ldap.attributes.mail_host",
        "The server keeping her mail, when not this one.",
    ),
    ("ldap.attributes.member", "A group's members, as DNs."),
    (
        "ldap.attributes.password",
        "The password hash, read when ldap.auth = \"password\".",
    ),
    ("smtp", "Limits of SMTP sessions."),
    (
        "smtp.banner",
        "Text after the hostname in the 220 greeting.",
    ),
    (
        "smtp.message_size_limit",
        "Largest message accepted (SIZE, 552 5.3.4 beyond); K, M, G = 1024 multiples.",
    ),
    (
        "smtp.line_length_limit",
        "Longest command line accepted, in bytes (at least 512, RFC 5321 4.5.3.1.4).",
    ),
    (
        "smtp.recipient_limit",
        "Recipients per message (452 4.5.3 beyond).",
    ),
    (
        "smtp.hard_error_limit",
        "Errors in one session before 421 and disconnect.",
    ),
    (
        "smtp.idle_timeout",
        "How long to wait for the client's next command or data (RFC 5321 4.5.3.2).",
    ),
    (
        "smtp.session_deadline",
        "The longest an SMTP session may last, however busy (421 4.4.2 beyond): a client dripping \
         bytes cannot hold a connection forever.",
    ),
    (
        "smtp.max_connections",
        "Concurrent connections of each SMTP role (mx, submission, lmtp), like Postfix's \
         default_process_limit; beyond, 421 4.3.2. Lowered at start if the open-file limit cannot hold every role's.",
    ),
    (
        "smtp.max_connections_per_ip",
        "Concurrent connections to one SMTP role from one client address, like Postfix's \
         smtpd_client_connection_count_limit (421 4.7.0 beyond); clients in \
         relay.internal_networks are spared it, as Postfix spares $mynetworks.",
    ),
    ("relay", "The relay role: routing of accepted mail."),
    (
        "relay.recipient_delimiter",
        r#"user+tag@ delivers to user@ ("" disables)."#,
    ),
    (
        "relay.internal_networks",
        "Networks (CIDR) whose clients may relay without authentication, like Postfix's mynetworks.",
    ),
    (
        "relay.domains",
        r#"Relay domains (Postfix relay_domains): domains or ".parent" this node accepts mail for from anyone and passes on (backup MX, labs' servers), by [routing] or their MX."#,
    ),
    (
        "relay.recipients",
        r#"Recipients accepted for the relay domains (Postfix relay_recipient_maps): addresses, or "@domain" for all of one domain; others get 550 5.1.1 at RCPT. Empty: any."#,
    ),
    (
        "relay.recipients_from_ldap",
        "The relay domains' recipients are also those LDAP knows: an address of an account (ldap.address_filter) or of a group (ldap.group_filter), as Postfix's relay_recipient_maps = ldap:...; others get 550 5.1.1 at RCPT, and LDAP down 451 4.3.0. Needs directory.backend with ldap.",
    ),
    (
        "relay.routes",
        r#"Transport map: domain, ".subdomain" or "*" to "smtp:[host]:port", "smtp:host" (MX of host) or "lmtp:[host]:port"; other domains go by MX. Read with [routing], which can say more."#,
    ),
    (
        "routing",
        r#"Routing table (Postfix transport maps, sendmail mailertable): "user@domain", "domain", ".parent" or "*" = "smtp:[host]:port", "smtp:host", "lmtp:[host]:port", "local", "discard" or "error:5.1.1 text". An address's entry wins, then its domain's, the closest parent's, "*"; the node's own domains only follow an address's or their exact entry. `havre route ADDRESS` explains."#,
    ),
    (
        "submission",
        "The submission role: authenticated users send mail.",
    ),
    (
        "submission.listen",
        "Submission listeners with STARTTLS required before AUTH (address:port list; 587).",
    ),
    (
        "submission.tls_listen",
        "Submission listeners with TLS from the first byte (address:port list; 465).",
    ),
    (
        "submission.any_sender_classes",
        "Classes whose users may send with any envelope sender and From (others: their own addresses and aliases).",
    ),
    (
        "dns",
        "The node's resolver: MX lookups, reverse DNS of SMTP clients, SPF, DKIM, DMARC, DNS lists; \
         answers are cached for their TTL.",
    ),
    (
        "dns.nameservers",
        "DNS servers (address:port list); empty uses the system's (/etc/resolv.conf).",
    ),
    (
        "dkim",
        "DKIM signing of outbound mail; keys are in server.data_dir/dkim (havre dkim generate).",
    ),
    (
        "dkim.selector",
        "Selector of new keys (havre init, havre dkim generate): the record goes at SELECTOR._domainkey.DOMAIN.",
    ),
    (
        "dkim.sign",
        "Sign the mail sent from local domains that have a key (havre dns records DOMAIN prints their records).",
    ),
    ("queue", "The delivery queue."),
    (
        "queue.delivery_concurrency",
        "Delivery attempts under way at once (20, as Postfix's default_destination_concurrency_limit for its lmtp deliveries to Dovecot); each waits for its fsyncs, so fewer leave the disk idle.",
    ),
    (
        "queue.destination_concurrency",
        "Deliveries at once to one remote domain (Postfix's default_destination_concurrency_limit); connections are reused for a few seconds.",
    ),
    (
        "queue.retry_min",
        "First retry delay after a temporary failure; doubles up to queue.retry_max.",
    ),
    (
        "queue.retry_max",
        "Longest delay between two delivery attempts.",
    ),
    (
        "queue.max_lifetime",
        "After this, a message that still cannot be delivered is returned to its sender.",
    ),
    (
        "queue.delay_warning",
        "After this long without delivery the sender gets a warning (a delayed DSN), once; \"0\" never.",
    ),
    (
        "queue.min_free_space",
        "MAIL FROM gets 452 4.3.1 (insufficient system storage) while the queue's filesystem has less free space than this, or than 1.5 x smtp.message_size_limit (Postfix's queue_minfree).",
    ),
    ("mailbox", "Mailbox storage."),
    (
        "mailbox.maildir",
        "Maildir of each user; %d domain, %n local part, %u full address (Dovecot's variables); \
         relative to server.data_dir.",
    ),
    (
        "mailbox.quota_full_tempfail",
        "A message for a user over her quota is deferred (452 4.2.2, the sender retries) instead of \
         refused (552 5.2.2); Dovecot's quota_full_tempfail.",
    ),
    (
        "mailbox.class_quotas",
        "Default quota by user class, e.g. { student = \"1G\", staff = \"10G\" }: a user added without \
         --quota has her class's (\"havre user modify --quota unlimited\" exempts one user).",
    ),
    (
        "sieve",
        "Sieve filtering at delivery (LMTP and the relay's local deliveries): each user's active script \
         (`havre sieve`, ManageSieve) runs between the site's scripts below; a script that fails keeps the \
         message in INBOX.",
    ),
    (
        "sieve.before",
        "The site's Sieve scripts run before the user's, in order (Dovecot's sieve_before), e.g. \
         [\"/etc/havre/sieve/spam.sieve\"]; relative to the directory of havre.toml; read and compiled at \
         start (serve refuses one that does not compile); their names are what `include :global` finds.",
    ),
    (
        "sieve.after",
        "The site's Sieve scripts run after the user's (Dovecot's sieve_after), unless a script said stop.",
    ),
    (
        "sieve.global_dir",
        "Directory of the site's scripts that users' scripts may `include :global \"NAME\"` (NAME.sieve there; \
         Dovecot's sieve_global), relative to the directory of havre.toml; \"\" = only those of sieve.before and \
         sieve.after. Read and compiled at start.",
    ),
    (
        "sendmail",
        "Local submission: `sendmail` (cron, PHP's mail(), scripts) hands mail to havre serve through a Unix socket.",
    ),
    (
        "sendmail.socket",
        "Unix socket havre serve opens for `havre sendmail` (mode 0666: any local account may submit, as with \
         Postfix's postdrop); relative to the directory of havre.toml; \"\" = no local submission.",
    ),
    (
        "sendmail.origin",
        "Domain of unqualified addresses: the caller `alice` sends as alice@ORIGIN and `sendmail root` \
         goes to root@ORIGIN (Postfix's myorigin); \"\" = the local domain server.hostname is in.",
    ),
    (
        "sendmail.canonical",
        "Unix account to mail address, e.g. { root = \"postmaster@example.org\", www-data = \"web@example.org\" }: \
         the sender of that account's mail, and where unqualified mail to it goes (Postfix's canonical_maps).",
    ),
    (
        "greylist",
        "Greylisting at RCPT, with Postgrey's semantics: the first attempt of a (client network /24 or /64, \
         sender, recipient) triplet gets 450 4.7.1, a retry after the delay passes and is marked X-Greylist:.",
    ),
    (
        "greylist.enabled",
        "Greylist mail from unauthenticated clients on the mx role (policy rules can greylist with action = \"greylist\" \
         even when this is false).",
    ),
    (
        "greylist.delay",
        "How long a new triplet must wait before its retry is accepted (Postgrey's --delay).",
    ),
    (
        "greylist.retry_window",
        "A first retry later than this after the first attempt starts over (Postgrey's --retry-window).",
    ),
    (
        "greylist.max_age",
        "A triplet (and an auto-whitelisted client) not seen for this long is forgotten (Postgrey's --max-age).",
    ),
    (
        "greylist.auto_whitelist_clients",
        "A client address that passed greylisting this many times (once an hour counts) is no longer greylisted; \
         0 never (Postgrey's --auto-whitelist-clients).",
    ),
    (
        "greylist.exempt",
        "Never greylisted: networks (\"192.0.2.0/24\", addresses) and domains (\"example.org\", with its subdomains) \
         of the recipient, the sender or the client's confirmed name. Authenticated clients and relay.internal_networks \
         are never greylisted either.",
    ),
    (
        "policy",
        "Policy rules, in the spirit of Postfwd: matched in order against each stage of an SMTP transaction.",
    ),
    (
        "policy.listen",
        "Addresses of the Postfix policy delegation service (address:port list): a Postfix with \
         `check_policy_service inet:HOST:PORT` in smtpd_recipient_restrictions gets havre's answers from the rules \
         and greylisting (and the user class of sasl_username from the directory). Empty: no service; \
         it runs whenever this lists an address, whatever server.roles says.",
    ),
    (
        "policy.max_connections",
        "Policy connections at once (each Postfix smtpd process keeps one open, so at least Postfix's \
         default_process_limit); beyond, a connection is closed at once and logged.",
    ),
    (
        "policy.idle_timeout",
        "A policy connection without a request for this long is closed; keep it above Postfix's \
         smtpd_policy_service_max_idle (300s) so Postfix closes unused connections first.",
    ),
    (
        "policy.request_timeout",
        "A request begun must end (its empty line) within this, or the connection is closed \
         (Postfix's smtpd_policy_service_timeout).",
    ),
    (
        "policy.rules",
        "The ordered rules ([[policy.rules]] tables); the defaults limit class student to 10 messages a minute \
         and class staff to 60. Syntax and examples below.",
    ),
    (
        "guard",
        "The guard (Fail2ban's job): per client address, failed logins, unknown recipients, bad commands and \
         connections are counted, and an address that goes over a limit is banned: refused at connect on every \
         protocol (SMTP 554 5.7.1, IMAP * BYE, POP3 -ERR) until the ban expires or `havre ban remove`. Bans are \
         kept in DATA_DIR/state.db across restarts.",
    ),
    (
        "guard.enabled",
        "Count and ban (false: nothing is counted and no address is refused, bans included).",
    ),
    (
        "guard.max_failures",
        "Failed logins (SMTP AUTH, IMAP, POP3 together) from one address within guard.find_time that get it \
         banned (Fail2ban's maxretry); 0 = never.",
    ),
    (
        "guard.find_time",
        "The window the failures, unknown recipients and bad commands of an address are counted in, from the \
         first one (Fail2ban's findtime).",
    ),
    (
        "guard.ban_time",
        "How long an address stays banned (Fail2ban's bantime); `havre ban add --for` chooses its own.",
    ),
    (
        "guard.max_unknown_recipients",
        "RCPTs answered 550 5.1.1 (no such user) to one address within guard.find_time that get it banned: a \
         dictionary attack; a real server rarely sends a few. 0 = never.",
    ),
    (
        "guard.max_protocol_errors",
        "Bad commands (SMTP 500-504, IMAP BAD, POP3 unknown commands and too long lines) from one address \
         within guard.find_time that get it banned; 0 = never.",
    ),
    (
        "guard.connections_warn",
        "Connections from one address within an hour (counted from its first) at which a warning is logged; \
         0 = never.",
    ),
    (
        "guard.connections_ban",
        "Connections from one address within an hour at which it is banned; 0 = never.",
    ),
    (
        "guard.exempt",
        "Addresses never counted nor banned: networks (\"192.0.2.0/24\", addresses) and the word \
         \"relay.internal_networks\" for those networks; [] exempts no one.",
    ),
    (
        "antivirus",
        "Antivirus with ClamAV: on mx and submission, each message is sent to clamd (INSTREAM) at the end of \
         DATA; a virus is refused with its name (554 5.7.1 Virus found: NAME), clean mail gets X-Virus-Scanned:.",
    ),
    (
        "antivirus.clamd",
        "Where clamd listens: \"host:port\" (its TCPSocket, like \"127.0.0.1:3310\") or the path of its \
         LocalSocket (Debian: \"/run/clamav/clamd.ctl\"); \"\" = no scanning.",
    ),
    (
        "antivirus.on_error",
        "When clamd does not answer (down, antivirus.timeout, its own error): \"defer\" (451 4.7.0, the client \
         tries again later) or \"accept\" (delivered with X-Virus-Scan: not scanned (why), a warning logged).",
    ),
    (
        "antivirus.timeout",
        "The longest a scan may take, connection included; then antivirus.on_error applies.",
    ),
    (
        "antivirus.max_size",
        "Bytes of a message sent to clamd at most: a longer message has its start scanned and says so in \
         X-Virus-Scanned:. Keep it at most clamd's StreamMaxLength, or clamd refuses longer ones (an error).",
    ),
    (
        "attachments",
        "Attachment rules, checked at the end of DATA on the mx and submission roles: a message with an \
         attachment whose name or type is refused (in a zip archive too, and whatever name or type it claims \
         when its content is an executable) is refused with 554 5.7.1 naming the file, or quarantined.",
    ),
    (
        "attachments.enabled",
        "Check attachments (false: no attachment is refused).",
    ),
    (
        "attachments.refused_extensions",
        "File name extensions refused, without their dot, compared without case (the last one counts: \
         invoice.pdf.exe is an exe). The default lists programs, scripts, installers, shortcuts and disk \
         images (Amavis' banned_filename_re and Rspamd's bad extensions); [] refuses none by name.",
    ),
    (
        "attachments.refused_types",
        "MIME types refused (type/subtype, without case), whether the message declares them or the content \
         shows them (an executable sent as application/pdf or named .pdf is refused for what it is).",
    ),
    (
        "attachments.action",
        r#""reject" (554 5.7.1 Attachment refused: NAME (why), while the client is connected) or "quarantine" (accepted, held in the queue: `havre quarantine list`, `release`, `delete`)."#,
    ),
    (
        "attachments.scan_archives",
        "Look inside zip archives (nested ones too, within the content analysis limits) at the names and \
         contents of their files.",
    ),
    (
        "quarantine",
        "Mail a check accepted but held (attachments.action = \"quarantine\"): kept in the queue on hold, \
         never delivered until `havre quarantine release ID`.",
    ),
    (
        "quarantine.retention",
        "Quarantined mail older than this is deleted (each one logged) by the relay role; 0 keeps it until \
         an operator acts.",
    ),
    (
        "spam",
        "The spam filter (Rspamd's job), last of the end-of-DATA checks of the mx role: named symbols \
         (authentication results, DNS and URI lists, header sanity, body and HTML, attachments, GTUBE, \
         Bayes) each add their weight; the score decides the action and the marking. Every accepted \
         message gets X-Spam-Score: and X-Spam-Symbols:. `havre spam check FILE` shows the symbols of \
         a message, `havre spam symbols` every symbol with its default weight.",
    ),
    (
        "spam.enabled",
        "Score mail from the Internet (mx) at the end of DATA (false: no scoring, no X-Spam headers).",
    ),
    (
        "spam.scan_submission",
        "Also score mail of authenticated users at submission.",
    ),
    (
        "spam.max_size",
        "Messages bigger than this are not scored (they get the symbol SCAN_SKIPPED_SIZE only).",
    ),
    (
        "spam.reject",
        "From this score the message is refused: 554 5.7.1 (GTUBE always is).",
    ),
    (
        "spam.add_header",
        "From this score (below spam.reject) the message is accepted with X-Spam: Yes.",
    ),
    (
        "spam.greylist",
        "From this score (below spam.add_header) the message is deferred with 451 4.7.1 once, then \
         accepted when the same message comes back after greylist.delay (as Rspamd's greylist action; \
         kept in the state like greylisting's triplets).",
    ),
    (
        "spam.junk_above",
        "Mail scored above this goes into the recipient's Junk folder (X-Havre-Quarantine: spam).",
    ),
    (
        "spam.level_high",
        "Above this score: X-Spam-Status: HIGH and spam.subject_tag before the subject.",
    ),
    (
        "spam.level_medium",
        "From this score up to spam.level_high: X-Spam-Status: MEDIUM.",
    ),
    (
        "spam.level_low",
        "From this score up to spam.level_medium: X-Spam-Status: LOW; below it no X-Spam-Status.",
    ),
    (
        "spam.subject_tag",
        r#"Put before the Subject: of mail above spam.level_high ("" = the subject is left alone)."#,
    ),
    (
        "spam.uribl",
        r#"DNS lists of domains the hosts of the URLs in the text and HTML of a message are looked up in, in the syntax of mx.rhsbl ("multi.uribl.example", "dbl.example=127.0.1.[2..99]*2"): each list that lists a host adds URIBL_LISTED times its weight."#,
    ),
    (
        "spam.uribl_max_hosts",
        "At most this many different URL hosts of a message are looked up (the first ones).",
    ),
    (
        "spam.dns_time_limit",
        "The DNS lookups of one message (mx.dnsbl, mx.rhsbl and spam.uribl) stop after this; what has \
         not answered counts as not listed.",
    ),
    (
        "spam.learn_from_junk",
        "Teach the user's own Bayes counts from her IMAP moves, as Dovecot's imapsieve with \
         rspamc learn_spam/learn_ham does: a message copied or moved into her Junk folder (or \
         appended to it) is learned as spam, one copied or moved out of Junk into any folder \
         but Trash as ham. Learned in the background after the command answered; a reload \
         switches it.",
    ),
    (
        "spam.weights",
        r#"Weights replacing the defaults of symbols: SYMBOL = points, e.g. MIME_HTML_ONLY = 1.5 (see `havre spam symbols`; an unknown symbol is refused)."#,
    ),
    (
        "events",
        "Every decision a report, a graph or a trace needs (connections, rejects with their check, greylisting, \
         messages accepted, deliveries, deferrals, bounces, logins), recorded as a structured event beside its \
         log line in events.sqlite of the data directory; `havre report` and `havre trace` read them.",
    ),
    (
        "events.enabled",
        "Record events. Off: `havre report` and `havre trace` have nothing to read; the log lines stay.",
    ),
    (
        "events.retention",
        "Events older than this are deleted (checked every hour).",
    ),
    (
        "report",
        "The daily report (`havre report`: what pflogsumm prints), mailed to the postmasters as text and HTML, \
         as a cron job running pflogsumm does. Needs events.enabled.",
    ),
    (
        "report.mail_to",
        r#"Who gets the report every day (["postmaster@example.org"]); empty: none is sent."#,
    ),
    (
        "report.time",
        "When the report is sent, local time, HH:MM: it covers the 24 hours up to then (at 00:00, yesterday).",
    ),
    (
        "state",
        "Short-lived state the checks and the guard share: greylist entries, rate limits, counters, bans.",
    ),
    (
        "state.backend",
        r#""embedded" (the node's memory, and state.db for what must survive a restart) or "redis" (one Redis every node of a cluster shares: a limit holds across them all)."#,
    ),
    (
        "state.url",
        "The Redis URL for state.backend = \"redis\": redis://host:6379/0 (rediss:// for TLS). serve does not start while it does not answer.",
    ),
    (
        "state.prefix",
        "Put before every key in Redis, so several sites (or a test and a site) can share one Redis.",
    ),
    (
        "director",
        "The director role (Dovecot's Director): every connection of a user, and her LMTP deliveries, go to the same mailbox backend. Backends are added with havre director add; the directors share them and the users' assignments through the state, which must be Redis (state.backend = \"redis\").",
    ),
    (
        "director.secret_file",
        "The file of the cluster's shared secret, the same on every director and backend: directors log in at the backends on users' behalf with tokens signed with it, never with the users' passwords (\"\" = with state.backend = \"redis\", a secret kept in the shared state, made by the first node that needs it; a node alone then neither makes nor takes such logins).",
    ),
    (
        "director.trusted_networks",
        "On a backend: the networks (CIDR or address) of the directors (loopback by default). Their connections need no TLS (as Dovecot's login_trusted_networks) and may log in on users' behalf with a signed token; from elsewhere such a login is refused. Only on a node with a cluster secret (director.secret_file, or state.backend = \"redis\").",
    ),
    (
        "director.user_expire",
        "How long a user stays assigned to her backend after her last connection ends (Dovecot's director_user_expire): a change of weights or a backend coming back never splits her sessions meanwhile.",
    ),
    (
        "director.probe_interval",
        "How often each director probes each backend (a connection, a login and a NOOP, as Dovecot's poolmon). A backend that fails is marked down and its users move to others; back, it takes new users only.",
    ),
    (
        "director.probe_user",
        "The user the probes log in as, her account and mailbox opened as at any login. \"\" (the default): the cluster's probe login (director-probe, with a signed token), which a backend answers once its directory answers a lookup and its mail storage (mailbox.maildir up to the first %) can be listed, opening nobody's session and writing no login line.",
    ),
    (
        "director.connect_timeout",
        "How long a backend may take to accept a connection and answer a login before the login, or the probe, counts it as failed; for an LMTP copy, to accept, greet and answer LHLO before the copy is deferred (451).",
    ),
    (
        "director.spare_connections",
        "Connections each director keeps open and greeted to each backend for each protocol in use, so that a login through the director waits for one exchange with the backend (the signed login) instead of three (connect, greeting, login). Taken spares are replaced at once; unused ones are closed after 20 s, well within a backend's login timeout (imap.login_timeout). 0 = a connection opened for each login, as Dovecot's director.",
    ),
    (
        "director.backend_ports",
        "The backends' ports when they are not the director's own listeners' (imap, pop3, managesieve, lmtp; 0 = the director's own).",
    ),
    (
        "director.backend_ports.imap",
        "The backends' IMAP port (0 = the director's imap.listen port).",
    ),
    (
        "director.backend_ports.pop3",
        "The backends' POP3 port (0 = the director's pop3.listen port).",
    ),
    (
        "director.backend_ports.managesieve",
        "The backends' ManageSieve port (0 = the director's managesieve.listen port).",
    ),
    (
        "director.backend_ports.lmtp",
        "The backends' LMTP port (0 = the director's lmtp.listen port).",
    ),
];

/// The syntax of `[[policy.rules]]`, printed before the rules in the
/// commented configuration (`havre init`, `havre config show --defaults`).
const POLICY_RULES_REFERENCE: &str = r#"
Each rule runs at its stage, in file order; every condition it has must
match (a list matches if one of its values does), then its action is taken.
  name = "..."           required, unique: names the rule in logs
  stage = "rcpt"         connect, helo, mail, rcpt (the default) or data (end of DATA)
Conditions:
  client_address = ["192.0.2.0/24", "2001:db8::7"]
  client_name = ["*.dyn.example.net", "unknown"]    confirmed reverse name ("unknown": none)
  helo, sender, recipient, sasl_login                patterns, case-insensitive:
      "user@example.org", "@example.org" (that domain), a glob ("*.example.org",
      "bounce-?@*"), or "/regex/" (searched); sender "" is the null sender <>
  class = ["student"]                                the authenticated user's class
  size_min = "10M", size_max = "1M"                  announced SIZE, real size at data
  recipient_count_min = 50, recipient_count_max = 1  recipients accepted before this one
Actions:
  "accept"                   accept the stage: later rules and checks of the stage do not run
  "reject"   text = "..."    554 5.7.1 <address>: ... rejected: text
  "defer"    text = "..."    450 4.7.1 (the client retries later)
  "greylist"                 greylist the matching mail (stage rcpt), even if greylist.enabled is false
  "add_header"  header = "X-Name: value"    added to the message; the next rules run
  "rate"  rate_limit = { count = 10, per = "1m", key = "sasl_login", what = "messages", burst = 10 }
      counted per value of key (client_address, client_name, helo, sender, sender_domain,
      recipient, recipient_domain, sasl_login or class); what: messages (one per message),
      recipients or bytes; burst (default: count) is how many may go at once. A GCRA,
      not fixed windows: never twice the rate across a window's edge. Beyond it:
      450 4.7.1 with text (default: "Rate limit exceeded: 10 messages per minute for ...").
Examples:
  [[policy.rules]]
  name = "partners"
  client_address = ["198.51.100.0/24"]
  action = "accept"

  [[policy.rules]]
  name = "no-dynamic-clients"
  stage = "connect"
  client_name = ["unknown", "/\bdyn(amic)?\b/"]
  action = "reject"
  text = "Send through your provider's mail server"

  [[policy.rules]]
  name = "mass-mailing"
  recipient_count_min = 50
  action = "defer"
  text = "Too many recipients at once, try again later"

  [[policy.rules]]
  name = "newsletter-bytes"
  sender = "@news.example.org"
  stage = "data"
  action = "rate"
  rate_limit = { count = 500, per = "1h", key = "sender", what = "recipients" }
"#;

/// The documentation line of a dotted key or table, if it has one.
pub fn doc(key: &str) -> Option<&'static str> {
    let canonical = parse_key(key).map(|s| format_key(&s)).ok()?;
    KEY_DOCS
        .iter()
        .find(|(k, _)| *k == canonical)
        .map(|(_, d)| *d)
}

const HEADER: &str = "\
# havre.toml: configuration of the havre mail system.
#
# Every key is listed with its documentation and its default. A key left
# out takes its default. Inspect with `havre config show` (`--non-default`
# for what differs from the defaults), change with `havre config set KEY VALUE`
# and verify with `havre config check`.
";

fn comment(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_owned()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// Put the documentation of every table and key of `table` (at `path`) in
/// the comments before it.
fn decorate(table: &mut Table, path: &mut Vec<String>) {
    for (mut key, item) in table.iter_mut() {
        path.push(key.get().to_owned());
        let dotted = format_key(path);
        let doc = doc(&dotted).unwrap_or("");
        match item {
            Item::Table(sub) => {
                // A table that only holds arrays of tables (`[policy]`) is
                // written with its header, so its documentation shows.
                sub.set_implicit(false);
                sub.decor_mut().set_prefix(format!("\n{}", comment(doc)));
                decorate(sub, path);
            }
            Item::Value(value) => {
                let text = format!("{}# default: {}\n", comment(doc), render_value(value));
                key.leaf_decor_mut().set_prefix(format!("\n{text}"));
            }
            Item::ArrayOfTables(array) => {
                let reference = match dotted.as_str() {
                    "policy.rules" => POLICY_RULES_REFERENCE,
                    _ => "",
                };
                for (i, sub) in array.iter_mut().enumerate() {
                    inline_subtables(sub);
                    let text = if i == 0 {
                        format!("\n{}{}", comment(doc), comment(reference.trim_start()))
                    } else {
                        "\n".to_owned()
                    };
                    sub.decor_mut().set_prefix(text);
                }
            }
            Item::None => {}
        }
        path.pop();
    }
}

/// Tables inside a table of an array (`rate_limit` of a rule) written inline,
/// so each `[[...]]` entry reads as one block.
fn inline_subtables(table: &mut Table) {
    for (mut key, item) in table.iter_mut() {
        if let Item::Table(sub) = item {
            let inline = std::mem::take(sub).into_inline_table();
            *item = Item::Value(Value::InlineTable(inline));
            key.leaf_decor_mut().clear();
        }
    }
}

fn commented_document() -> DocumentMut {
    let mut doc = to_document(&Config::default());
    decorate(doc.as_table_mut(), &mut Vec::new());
    doc
}

/// The whole default configuration, each table and key preceded by its
/// documentation and default (`postconf -d`, as a file).
pub fn defaults_commented() -> String {
    format!("{HEADER}{}", commented_document())
}

/// [`defaults_commented`] with the given dotted keys set, for `havre init`.
///
/// The keys keep their documentation. Keys that are not valid dotted paths,
/// or that cross a non-table value, are left out: the caller is expected to
/// pass known keys and to [`check`](crate::check) the file it writes.
pub fn init_text(overrides: &[(&str, Value)]) -> String {
    let mut doc = commented_document();
    for (key, value) in overrides {
        if let Ok(segments) = parse_key(key) {
            let _ = set_in_table(doc.as_table_mut(), &segments, value.clone());
        }
    }
    format!("{HEADER}{doc}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flatten::all_paths;

    #[test]
    fn every_key_is_documented_and_every_doc_names_a_key() {
        let paths = all_paths(&to_document(&Config::default()));
        for path in &paths {
            assert!(doc(path).is_some(), "{path} has no entry in KEY_DOCS");
        }
        for (key, _) in KEY_DOCS {
            assert!(
                paths.iter().any(|p| p == key),
                "KEY_DOCS names {key}, which is no key"
            );
        }
        assert_eq!(
            KEY_DOCS
                .iter()
                .map(|(k, _)| (*k).to_owned())
                .collect::<Vec<_>>(),
            paths,
            "KEY_DOCS is in document order"
        );
    }

    #[test]
    fn the_commented_defaults_load_back_to_the_defaults() {
        let text = defaults_commented();
        let cfg = crate::parse(&text, std::path::Path::new("havre.toml")).unwrap();
        assert_eq!(cfg, Config::default());
        for (key, d) in KEY_DOCS {
            assert!(
                text.contains(&format!("# {d}\n")),
                "{key} documented in the file"
            );
        }
        assert!(
            text.contains("# default: \"25M\"\nmessage_size_limit = \"25M\"\n"),
            "{text}"
        );
    }
}
