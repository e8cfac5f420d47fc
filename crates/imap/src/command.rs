//! Dispatch: which command may run in which state, and the small commands.

use havre_imap_proto::{Code, CommandBody, Flag};
use havre_net::Conn;

use crate::session::{Next, Outcome, Session};

/// Commands during which an EXPUNGE response would renumber the messages the
/// client is talking about (RFC 9051 7.5.1): FETCH, STORE and SEARCH by
/// sequence number.
pub(crate) fn allows_expunge(body: &CommandBody) -> bool {
    !matches!(
        body,
        CommandBody::Fetch(f) if !f.uid
    ) && !matches!(body, CommandBody::Store(s) if !s.uid)
        && !matches!(body, CommandBody::Search(s) if !s.uid)
        && !matches!(body, CommandBody::Sort(s) if !s.uid)
        && !matches!(body, CommandBody::Thread(t) if !t.uid)
}

/// Store flags (`\Seen`, `$Label1`) in their wire form.
pub(crate) fn wire_flags(flags: &[String]) -> Vec<Flag> {
    flags.iter().filter_map(|f| Flag::parse(f)).collect()
}

pub(crate) fn store_flags(flags: &[Flag]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for flag in flags {
        let text = flag.to_string();
        if !out.iter().any(|f| f.eq_ignore_ascii_case(&text)) {
            out.push(text);
        }
    }
    out
}

impl Session {
    pub(crate) fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = vec![
            "IMAP4rev2".into(),
            "IMAP4rev1".into(),
            "LITERAL+".into(),
            "SASL-IR".into(),
            "ID".into(),
            "ENABLE".into(),
        ];
        if self.user.is_none() {
            if !self.tls && self.services.tls.is_some() {
                caps.push("STARTTLS".into());
            }
            if self.secure() {
                caps.push("AUTH=PLAIN".into());
                caps.push("AUTH=LOGIN".into());
            } else {
                caps.push("LOGINDISABLED".into());
            }
            return caps;
        }
        caps.extend(
            [
                "IDLE",
                "NAMESPACE",
                "UIDPLUS",
                "MULTIAPPEND",
                "CATENATE",
                "METADATA",
                "METADATA-SERVER",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "STATUS=SIZE",
                "ESEARCH",
                "SEARCHRES",
                "PARTIAL",
                "WITHIN",
                "CONDSTORE",
                "QRESYNC",
                "BINARY",
                "PREVIEW",
                "SORT",
                "ESORT",
                "SORT=DISPLAY",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "UTF8=ACCEPT",
                "OBJECTID",
                "SAVEDATE",
                "COMPRESS=DEFLATE",
                "CONTEXT=SEARCH",
                "NOTIFY",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        caps.push(format!(
            "APPENDLIMIT={}",
            self.services.settings.max_message_size
        ));
        caps
    }

    /// Runs one command; returns what the loop does next and, for commands
    /// that end here, the tagged response.
    pub(crate) async fn dispatch(
        &mut self,
        conn: &mut Conn,
        body: CommandBody,
    ) -> (Next, Option<Outcome>) {
        let logged_in = self.user.is_some();
        let selected = self.selected.is_some();
        let outcome = match body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                let refs: Vec<&str> = caps.iter().map(String::as_str).collect();
                self.out.capability(&refs);
                Outcome::ok("Capability completed.")
            }
            CommandBody::Noop => Outcome::ok("NOOP completed."),
            // Every write is already durable; CHECK only names itself.
            CommandBody::Check => Outcome::ok("CHECK completed."),
            CommandBody::Logout => {
                self.out
                    .untagged(havre_imap_proto::Status::Bye, None, "Logging out");
                self.finish(Some(Outcome::ok("Logout completed.")));
                return (Next::Logout, None);
            }
            CommandBody::Id { params } => {
                if let Some(params) = params {
                    self.take_forwarded(&params);
                }
                self.out
                    .id(Some(&[("name", Some("havre")), ("vendor", Some("havre"))]));
                Outcome::ok("ID completed.")
            }
            CommandBody::Compress { mechanism } => {
                if !logged_in {
                    Outcome::bad("COMPRESS only after login.")
                } else if self.compressed {
                    Outcome::no_code(
                        Code::Other("COMPRESSIONACTIVE".into()),
                        "DEFLATE is already active.",
                    )
                } else if mechanism != "DEFLATE" {
                    Outcome::bad("Unknown compression mechanism.")
                } else {
                    self.compressed = true;
                    self.finish(Some(Outcome::ok("DEFLATE active")));
                    return (Next::Compress, None);
                }
            }
            CommandBody::StartTls => {
                if self.tls {
                    Outcome::bad("TLS is already active.")
                } else if self.services.tls.is_none() {
                    Outcome::no("TLS is not configured.")
                } else if logged_in {
                    Outcome::bad("STARTTLS only before login.")
                } else {
                    self.finish(Some(Outcome::ok("Begin TLS negotiation now.")));
                    return (Next::StartTls, None);
                }
            }
            CommandBody::Login { username, password } => {
                if logged_in {
                    Outcome::bad("Already logged in.")
                } else if !self.secure() {
                    Outcome::no_code(
                        Code::PrivacyRequired,
                        "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
                    )
                } else {
                    self.check_password(&username, &password, "LOGIN").await
                }
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if logged_in {
                    Outcome::bad("Already logged in.")
                } else if !self.secure() {
                    Outcome::no_code(
                        Code::PrivacyRequired,
                        "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
                    )
                } else {
                    return (
                        Next::Authenticate {
                            mechanism,
                            initial: initial_response,
                        },
                        None,
                    );
                }
            }
            _ if !logged_in => Outcome::bad("Log in first."),
            CommandBody::Enable { capabilities } => self.enable(&capabilities),
            CommandBody::Idle => {
                return (Next::Idle, None);
            }
            CommandBody::Namespace => {
                self.out.namespace(&[("", Some('/'))], &[], &[]);
                Outcome::ok("Namespace completed.")
            }
            CommandBody::List(list) => self.list(list).await,
            CommandBody::Lsub { reference, pattern } => self.lsub(&reference, &pattern).await,
            CommandBody::Create {
                mailbox,
                special_use,
            } => self.create(mailbox, special_use).await,
            CommandBody::Delete { mailbox } => self.delete(mailbox).await,
            CommandBody::Rename { from, to } => self.rename(from, to).await,
            CommandBody::Subscribe { mailbox } => self.subscribe(mailbox, true).await,
            CommandBody::Unsubscribe { mailbox } => self.subscribe(mailbox, false).await,
            CommandBody::Status { mailbox, items } => self.status(mailbox, &items).await,
            CommandBody::Select {
                mailbox,
                read_only,
                params,
            } => self.select(mailbox, read_only, params).await,
            CommandBody::Append(append) => self.append(append).await,
            CommandBody::GetQuota { root } => self.get_quota(&root).await,
            CommandBody::GetQuotaRoot { mailbox } => self.get_quota_root(mailbox).await,
            CommandBody::GetMetadata(get) => self.get_metadata(get).await,
            CommandBody::SetMetadata { mailbox, entries } => {
                self.set_metadata(mailbox, entries).await
            }
            CommandBody::Notify(set) => self.notify_command(set).await,
            CommandBody::SetQuota { .. } => {
                Outcome::no_code(Code::NoPerm, "Quotas are set by the administrator.")
            }
            _ if !selected => Outcome::bad("No mailbox selected."),
            CommandBody::Close => self.close(true).await,
            CommandBody::Unselect => self.close(false).await,
            CommandBody::Expunge { uid_set } => self.expunge(uid_set).await,
            CommandBody::Search(search) => self.search(search).await,
            CommandBody::Sort(sort) => self.sort(sort).await,
            CommandBody::Thread(thread) => self.thread(thread).await,
            CommandBody::Fetch(fetch) => self.fetch(conn, fetch).await,
            CommandBody::Store(store) => self.store(store).await,
            CommandBody::Copy { uid, set, mailbox } => self.copy(uid, set, mailbox, false).await,
            CommandBody::Move { uid, set, mailbox } => self.copy(uid, set, mailbox, true).await,
            CommandBody::CancelUpdate { tags } => self.cancel_update(&tags),
        };
        (Next::Continue, Some(outcome))
    }

    fn enable(&mut self, capabilities: &[String]) -> Outcome {
        let mut enabled = Vec::new();
        for cap in capabilities {
            let cap = cap.to_ascii_uppercase();
            let on = match cap.as_str() {
                "CONDSTORE" => {
                    self.enable_condstore();
                    true
                }
                "QRESYNC" => {
                    self.enabled.qresync = true;
                    self.enable_condstore();
                    true
                }
                "IMAP4REV2" => {
                    self.enabled.rev2 = true;
                    self.enabled.utf8 = true;
                    true
                }
                "UTF8=ACCEPT" => {
                    self.enabled.utf8 = true;
                    true
                }
                _ => false,
            };
            if on {
                enabled.push(cap);
            }
        }
        self.out.set_utf8(self.enabled.utf8);
        let refs: Vec<&str> = enabled.iter().map(String::as_str).collect();
        self.out.enabled(&refs);
        Outcome::ok("Enabled.")
    }
}
