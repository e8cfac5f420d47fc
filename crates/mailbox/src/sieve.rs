//! Sieve at delivery: which folders a message goes to, and what else its
//! recipient's scripts ask for (redirects, a refusal, a vacation reply).
//!
//! The site's scripts run first and last (`sieve.before`, `sieve.after`,
//! Dovecot's `sieve_before`/`sieve_after`), the user's active script in
//! between; they share one run (actions, flags, the implicit keep), and a
//! `stop` ends the sequence. Scripts are compiled once: the site's at
//! start, a user's the first time it runs and again only when the store's
//! change counter for her scripts moves ([`SieveStore`](havre_store::SieveStore)).
//!
//! Mail is never lost to a script (Pigeonhole's rules): a user's script
//! that does not compile is skipped, a run that fails is as if no script
//! ran, and a store or disk error on the way means keep; each is a warning
//! in the log naming the user. What the scripts decided is a [`Plan`];
//! carrying out its folders is `filing.rs`'s, its redirects, refusal and
//! vacation reply the caller's (LMTP or the relay), which own the queue and
//! the reply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use havre_sieve::{
    Action, DuplicateMark, Envelope, Flow, Host, Limits, Location, Message, NoHost as NoDefaults,
    Run, Script, Vacation,
};
use havre_store::Store;

use crate::MessageSource;

/// What the caller knows of a user's active script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveScript {
    /// Nothing: the store is asked.
    Unknown,
    /// She has none (read with her address at RCPT).
    None,
    /// She has one, and her scripts' change counter is this: a compiled
    /// copy of the same counter is current.
    Changed(i64),
}

impl ActiveScript {
    /// From `AddressEntry::sieve`.
    pub fn from_entry(sieve: Option<i64>) -> ActiveScript {
        sieve.map_or(ActiveScript::None, ActiveScript::Changed)
    }
}

/// A message carrying this many `Delivered-To:` fields is not redirected
/// again: a loop between servers that each add one (Postfix's way).
const MAX_DELIVERED_TO: usize = 20;

/// Users whose compiled script is kept; beyond, the cache starts afresh.
const CACHED_USERS: usize = 10_000;

/// One script of the site, compiled.
struct SiteScript {
    name: String,
    script: Arc<Script>,
}

/// A user's active script as last compiled.
struct Compiled {
    changed: i64,
    name: String,
    script: Result<Arc<Script>, String>,
}

/// The site's scripts and users' compiled ones, for [`LocalDelivery`](crate::LocalDelivery).
pub struct SieveScripts {
    store: Arc<dyn Store>,
    limits: Limits,
    before: Vec<SiteScript>,
    after: Vec<SiteScript>,
    /// Only for `include :global`.
    global: Vec<SiteScript>,
    users: Mutex<HashMap<String, Arc<Compiled>>>,
    /// Where vacation remembers whom it answered and `duplicate` what it
    /// saw; none: no replies, nothing seen.
    state: Option<Arc<dyn havre_state::State>>,
    /// `environment`'s "host" (and "domain": its parent).
    hostname: String,
    /// The spam score that means "surely spam" (the filter's reject
    /// threshold), when the node's filter scores mail: `spamtest` reads
    /// the filter's `X-Spam-Score:` on that scale.
    spam_scale: Option<f64>,
}

/// One folder a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// `INBOX` or a folder name, `/`-separated.
    pub folder: String,
    /// IMAP flags and keywords to store the message with.
    pub flags: Vec<String>,
    /// Make the folder when missing (`fileinto :create`); otherwise a
    /// missing folder means INBOX.
    pub create: bool,
}

/// What a delivery to one user does, as her scripts decided.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Folders to store into; empty when the message is discarded or refused.
    pub filings: Vec<Filing>,
    /// Addresses to send the message on to, from its envelope sender.
    pub redirects: Vec<String>,
    /// Refuse the message with this reason (reject, ereject).
    pub reject: Option<String>,
    /// A vacation reply to consider (RFC 5230: whether to send is the caller's).
    pub vacation: Option<Vacation>,
    /// The message as the scripts left it (editheader), when they changed it.
    pub(crate) edited: Option<MessageSource>,
    /// The message as read, for redirects.
    pub(crate) raw: Option<Arc<[u8]>>,
    /// The script that decided, for the log: `NAME` or `sieve.before`.
    pub script: Option<String>,
    /// The vacation reply due (checked against RFC 5230/3834's rules and
    /// the period), to queue from `<>`.
    pub vacation_reply: Option<crate::VacationReply>,
    /// What `duplicate` should remember once the message is delivered.
    pub(crate) duplicates: Vec<havre_sieve::DuplicateMark>,
    /// The user's active script did not compile: its name, change counter
    /// and error, for the notice she gets the first time.
    pub(crate) broken: Option<(String, i64, String)>,
}

impl Plan {
    /// No script, or one that failed: INBOX, no flags.
    pub fn keep() -> Plan {
        Plan {
            filings: vec![Filing {
                folder: "INBOX".into(),
                flags: Vec::new(),
                create: false,
            }],
            ..Plan::default()
        }
    }

    /// Nothing stored and nothing refused: `discard` (or only redirects).
    pub fn discarded(&self) -> bool {
        self.filings.is_empty() && self.reject.is_none()
    }

    /// The message to redirect for `user`: with a `Delivered-To:` naming
    /// her on top, as Postfix's local agent forwards, so a loop back here
    /// is seen ([`MAX_DELIVERED_TO`], and her own field).
    pub fn redirected_message(&self, user: &str) -> Vec<u8> {
        let body: &[u8] = match (&self.edited, &self.raw) {
            (Some(MessageSource::Bytes(bytes)), _) => bytes,
            (_, Some(raw)) => raw,
            _ => &[],
        };
        let mut out = format!("Delivered-To: {user}\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }
}

impl SieveScripts {
    /// With no site scripts; users' scripts come from `store`.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> SieveScripts {
        SieveScripts {
            store,
            limits,
            before: Vec::new(),
            after: Vec::new(),
            global: Vec::new(),
            users: Mutex::new(HashMap::new()),
            state: None,
            hostname: "localhost".into(),
            spam_scale: None,
        }
    }

    /// `spamtest` from the topmost `X-Spam-Score:` (the node's own filter
    /// puts it above anything the client sent), `max` being surely spam.
    /// Without this, mail counts as untested.
    pub fn with_spam_scale(mut self, max: f64) -> SieveScripts {
        self.spam_scale = (max.is_finite() && max > 0.0).then_some(max);
        self
    }

    /// The node's name, for `environment "host"`.
    pub fn with_hostname(mut self, hostname: &str) -> SieveScripts {
        self.hostname = hostname.to_string();
        self
    }

    /// Remembers a delivered message's `duplicate` marks (RFC 7352 3):
    /// each id for its seconds, renewed only with `:last`.
    pub(crate) async fn remember_duplicates(&self, user: &str, marks: &[DuplicateMark]) {
        let Some(state) = &self.state else {
            return;
        };
        for mark in marks {
            let key = duplicate_key(user, &mark.handle, &mark.id);
            if !mark.last && matches!(state.get(&key).await, Ok(Some(_))) {
                continue;
            }
            let ttl = std::time::Duration::from_secs(mark.seconds.max(1));
            if let Err(err) = state
                .set(&key, "1", Some(ttl), havre_state::Persist::Durable)
                .await
            {
                tracing::warn!(target: "sieve", "to=<{user}>: sieve: duplicate not remembered: {err}");
            }
        }
    }

    /// Whether the user should hear that her script `name` (at change
    /// `changed`) does not compile: once per change, remembered 30 days.
    pub(crate) async fn first_notice(&self, user: &str, changed: i64) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        let key = format!("sieve-broken:{user}:{changed}");
        let ttl = std::time::Duration::from_secs(30 * 86_400);
        matches!(
            state
                .incr(&key, 1, ttl, havre_state::Persist::Durable)
                .await,
            Ok(1)
        )
    }

    /// Vacation replies, remembered in `state` (without it, none is sent).
    pub fn with_state(mut self, state: Arc<dyn havre_state::State>) -> SieveScripts {
        self.state = Some(state);
        self
    }

    /// The reply a plan's `vacation` is due, if any (`vacation.rs`).
    pub(crate) async fn vacation_reply(
        &self,
        plan: &Plan,
        delivery: &crate::vacation::Delivery<'_>,
    ) -> Option<crate::VacationReply> {
        let vacation = plan.vacation.as_ref()?;
        let Some(state) = &self.state else {
            tracing::info!(target: "sieve", "{}: to=<{}>: sieve: vacation not sent: no state to remember it in", delivery.queue_id, delivery.user);
            return None;
        };
        crate::vacation::reply(state, vacation, delivery).await
    }

    /// The site's scripts, `(name, source)` each, compiled now: those run
    /// before and after the user's, and those only `include :global`
    /// finds. The first that does not compile is the error, `NAME: line L,
    /// column C: why`.
    pub fn with_site_scripts(
        mut self,
        before: &[(String, String)],
        after: &[(String, String)],
        global: &[(String, String)],
    ) -> Result<SieveScripts, String> {
        let compile = |list: &[(String, String)]| -> Result<Vec<SiteScript>, String> {
            list.iter()
                .map(|(name, source)| {
                    Script::compile(source, &self.limits)
                        .map(|s| SiteScript {
                            name: name.clone(),
                            script: Arc::new(s),
                        })
                        .map_err(|e| format!("{name}: {e}"))
                })
                .collect()
        };
        self.before = compile(before)?;
        self.after = compile(after)?;
        self.global = compile(global)?;
        Ok(self)
    }

    /// The user's active script, compiled (from the cache when unchanged);
    /// `None` when she has none. A store error is the caller's keep.
    async fn user_script(
        &self,
        user: &str,
        known: ActiveScript,
    ) -> Result<Option<Arc<Compiled>>, String> {
        match known {
            ActiveScript::None => return Ok(None),
            ActiveScript::Changed(changed) => {
                let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(cached) = users.get(user)
                    && cached.changed == changed
                {
                    return Ok(Some(cached.clone()));
                }
            }
            ActiveScript::Unknown => {}
        }
        let active = self
            .store
            .sieve_active(user)
            .await
            .map_err(|e| format!("cannot read the active script: {e}"))?;
        let Some(active) = active else {
            return Ok(None);
        };
        {
            let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = users.get(user)
                && cached.changed == active.changed
                && cached.name == active.name
            {
                return Ok(Some(cached.clone()));
            }
        }
        // Compiled outside the lock, which every delivery takes: two
        // deliveries for the same user at once may both compile, once.
        let compiled = Arc::new(Compiled {
            changed: active.changed,
            script: Script::compile(&active.source, &self.limits)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            name: active.name,
        });
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if users.len() >= CACHED_USERS {
            users.clear();
        }
        users.insert(user.to_string(), compiled.clone());
        Ok(Some(compiled))
    }

    /// Runs the scripts for one delivery to `user` (lower-case) and says
    /// what to do. Never fails: whatever goes wrong is logged and means keep.
    pub(crate) async fn plan(
        self: &Arc<Self>,
        mailboxes: &crate::Mailboxes,
        user: &str,
        envelope: Envelope,
        source: &MessageSource,
        queue_id: &str,
        known: ActiveScript,
    ) -> Plan {
        let compiled = match self.user_script(user, known).await {
            Ok(compiled) => compiled,
            Err(err) => {
                tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: {err}; kept in INBOX");
                return Plan::keep();
            }
        };
        if compiled.is_none() && self.before.is_empty() && self.after.is_empty() {
            return Plan::keep();
        }
        let mut broken = None;
        let personal = match compiled.as_deref() {
            Some(Compiled {
                script: Ok(script),
                name,
                ..
            }) => Some((name.clone(), script.clone())),
            Some(Compiled {
                script: Err(err),
                name,
                changed,
            }) => {
                // Pigeonhole's rule: a broken script is as if absent.
                tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: script {name:?} does not compile ({err}); not run");
                broken = Some((name.clone(), *changed, err.clone()));
                None
            }
            None => None,
        };
        if personal.is_none() && self.before.is_empty() && self.after.is_empty() {
            return Plan {
                broken,
                ..Plan::keep()
            };
        }
        let scripts = || {
            self.before
                .iter()
                .map(|s| &*s.script)
                .chain(personal.iter().map(|(_, s)| &**s))
                .chain(self.after.iter().map(|s| &*s.script))
        };
        // Which folders exist is only `mailboxexists`'s question (a
        // fileinto to a missing folder is filing.rs's): asked of the store
        // for scripts that test it or may include one that does.
        let folders: Vec<String> = if scripts()
            .any(|s| s.tests_mailboxes() || s.extensions().contains(&"include"))
        {
            match mailboxes.list(user).await {
                Ok(list) => list.into_iter().map(|m| m.name).collect(),
                Err(err) => {
                    tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: cannot list the folders ({err}); kept in INBOX");
                    return Plan::keep();
                }
            }
        } else {
            Vec::new()
        };
        let inline = runs_inline(scripts(), source);
        let raw: Arc<[u8]> = match source {
            MessageSource::Bytes(bytes) => bytes.clone(),
            MessageSource::File(_) => {
                let read = source.clone();
                match tokio::task::spawn_blocking(move || {
                    read.read_all()
                        .map(|bytes| Arc::<[u8]>::from(bytes.as_ref()))
                })
                .await
                {
                    Ok(Ok(raw)) => raw,
                    Ok(Err(err)) => {
                        tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: cannot read the message ({err}); kept in INBOX");
                        return Plan::keep();
                    }
                    Err(err) => {
                        tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: {err}; kept in INBOX");
                        return Plan::keep();
                    }
                }
            }
        };
        let this = self.clone();
        let spam = self.spam_scale.and_then(|max| spam_fraction(&raw, max));
        let host = DeliveryHost {
            scripts: self.clone(),
            state: self.state.clone(),
            spam,
            user: user.to_string(),
            folders,
            runtime: tokio::runtime::Handle::current(),
        };
        if inline
            && let Some(plan) = self.run(
                &host,
                user,
                &envelope,
                raw.clone(),
                personal.clone(),
                queue_id,
                Some(INLINE_INSTRUCTIONS),
            )
        {
            return Plan { broken, ..plan };
        }
        let user_name = user.to_string();
        let id = queue_id.to_string();
        // The run is CPU work (bounded by the limits) and may read the
        // store for `include`: off the async workers.
        let decided = tokio::task::spawn_blocking(move || {
            this.run(&host, &user_name, &envelope, raw, personal, &id, None)
                .unwrap_or_else(Plan::keep)
        })
        .await;
        match decided {
            Ok(plan) => Plan { broken, ..plan },
            Err(err) => {
                tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: {err}; kept in INBOX");
                Plan {
                    broken,
                    ..Plan::keep()
                }
            }
        }
    }

    /// The run itself: on a blocking thread with the site's limits, or
    /// on the caller's thread within `budget` instructions, `None` when it
    /// needs more (the caller runs it again on a blocking thread: a run
    /// [`runs_inline`] takes neither reads nor writes anything).
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        host: &DeliveryHost,
        user: &str,
        envelope: &Envelope,
        raw: Arc<[u8]>,
        personal: Option<(String, Arc<Script>)>,
        queue_id: &str,
        budget: Option<u64>,
    ) -> Option<Plan> {
        let message = Message::parse(&raw);
        let mut limits = self.limits.clone();
        if let Some(budget) = budget {
            limits.max_instructions = limits.max_instructions.min(budget);
        }
        let mut run = Run::new(&message, envelope, host, &limits);
        let sequence = self
            .before
            .iter()
            .map(|s| (s.name.as_str(), &s.script))
            .chain(personal.iter().map(|(name, s)| (name.as_str(), s)))
            .chain(self.after.iter().map(|s| (s.name.as_str(), &s.script)));
        let mut last = None;
        for (name, script) in sequence {
            last = Some(name.to_string());
            match run.execute(script) {
                Ok(Flow::Stopped) => break,
                Ok(_) => {}
                Err(err) if budget.is_some() && err.is_too_much_work() => return None,
                Err(err) => {
                    tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: {name}: {err}; kept in INBOX");
                    return Some(Plan::keep());
                }
            }
        }
        let outcome = run.finish();
        drop(message);
        let mut plan = Plan {
            script: last,
            duplicates: outcome.duplicates.clone(),
            ..Plan::default()
        };
        for (folder, flags, create) in outcome.deliveries() {
            plan.filings.push(Filing {
                folder: folder.to_string(),
                flags: usable_flags(flags),
                create,
            });
        }
        for action in outcome.actions {
            match action {
                Action::Redirect { address, .. } => plan.redirects.push(address),
                Action::Reject { reason, .. } => plan.reject = Some(reason),
                Action::Vacation(vacation) => plan.vacation = Some(vacation),
                Action::Keep { .. } | Action::FileInto { .. } | Action::Discard => {}
            }
        }
        if !outcome.header_edits.is_empty() {
            plan.edited = Some(MessageSource::Bytes(
                havre_sieve::apply_header_edits(&raw, &outcome.header_edits).into(),
            ));
        }
        if !plan.redirects.is_empty() && redirect_loop(&raw, user) {
            tracing::warn!(target: "sieve", "{queue_id}: to=<{user}>: sieve: redirect loop (Delivered-To: already there); not redirected, kept in INBOX");
            plan.redirects.clear();
            if plan.filings.is_empty() {
                plan.filings = Plan::keep().filings;
            }
        }
        plan.raw = Some(raw);
        Some(plan)
    }

    /// A site script by name, for `include :global`.
    fn site_script(&self, name: &str) -> Option<Arc<Script>> {
        self.global
            .iter()
            .chain(self.before.iter())
            .chain(self.after.iter())
            .find(|s| s.name == name)
            .map(|s| s.script.clone())
    }
}

/// A run that may stay on the async thread that asked for it: the message
/// in memory, at most this big...
const INLINE_MESSAGE: usize = 128 << 10;
/// ...scripts of at most this many commands and tests in all...
const INLINE_SIZE: usize = 400;
/// ...none of whose runs ask the store or the state (include, duplicate),
/// look at the whole body or run regular expressions (linear, but slow on
/// long header fields)...
const OFF_THREAD_EXTENSIONS: &[&str] = &["body", "duplicate", "include", "regex"];
/// ...and this many instructions at most (a fraction of a millisecond:
/// each is a command, a test, or 256 bytes compared): past them the run
/// starts again on a blocking thread with the site's limits. A typical user
/// script costs two thread switches less per delivery this way (the run
/// itself is a few microseconds); a heavy one never holds an async worker.
const INLINE_INSTRUCTIONS: u64 = 2_000;

fn runs_inline<'s>(scripts: impl Iterator<Item = &'s Script>, source: &MessageSource) -> bool {
    let MessageSource::Bytes(bytes) = source else {
        return false;
    };
    if bytes.len() > INLINE_MESSAGE {
        return false;
    }
    let mut size = 0;
    for script in scripts {
        size += script.size();
        if size > INLINE_SIZE
            || script
                .extensions()
                .iter()
                .any(|e| OFF_THREAD_EXTENSIONS.contains(e))
        {
            return false;
        }
    }
    true
}

/// The state's key of a `duplicate` id: hashed parts, so no `:` in a
/// handle or id splits it.
fn duplicate_key(user: &str, handle: &str, id: &str) -> String {
    format!(
        "duplicate:{user}:{}:{}",
        crate::vacation::key_part(handle),
        crate::vacation::key_part(id)
    )
}

/// The topmost `X-Spam-Score:` of `raw` over `max`, within 0 and 1.
fn spam_fraction(raw: &[u8], max: f64) -> Option<f64> {
    let score: f64 = havre_message::header(raw, "X-Spam-Score")?
        .trim()
        .parse()
        .ok()?;
    score.is_finite().then(|| (score / max).clamp(0.0, 1.0))
}

/// Whether the message already went through `user`'s mailbox (her
/// `Delivered-To:` on it) or through too many: redirecting it again would
/// loop.
fn redirect_loop(raw: &[u8], user: &str) -> bool {
    let head = String::from_utf8_lossy(&raw[..find_header_end(raw)]);
    let mut count = 0;
    for line in head.split('\n') {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("Delivered-To") {
            count += 1;
            if value.trim().eq_ignore_ascii_case(user) {
                return true;
            }
        }
    }
    count >= MAX_DELIVERED_TO
}

/// Where the header section ends (the empty line), or the whole message.
fn find_header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
}

/// The flags the index takes: IMAP's system flags (RFC 9051 2.3.2; not
/// `\Recent`) and keywords that are atoms; the rest is dropped, as
/// Pigeonhole drops invalid flags.
fn usable_flags(flags: &[String]) -> Vec<String> {
    const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
    let mut out: Vec<String> = Vec::new();
    for flag in flags {
        let usable = if flag.starts_with('\\') {
            SYSTEM
                .iter()
                .find(|s| s.eq_ignore_ascii_case(flag))
                .map(|s| s.to_string())
        } else if !flag.is_empty()
            && flag.len() <= 100
            && flag.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
            })
        {
            Some(flag.clone())
        } else {
            None
        };
        if let Some(flag) = usable
            && !out.iter().any(|f| f.eq_ignore_ascii_case(&flag))
        {
            out.push(flag);
        }
    }
    out
}

/// What a delivery's run asks of the world.
struct DeliveryHost {
    scripts: Arc<SieveScripts>,
    /// The duplicate tracking store (RFC 7352): the node's state.
    state: Option<Arc<dyn havre_state::State>>,
    /// The filter's score as a fraction of "surely spam" (0 to 1).
    spam: Option<f64>,
    user: String,
    folders: Vec<String>,
    /// For `include :personal`, read from the store on this blocking thread.
    runtime: tokio::runtime::Handle,
}

impl Host for DeliveryHost {
    fn duplicate_seen(&self, handle: &str, id: &str) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        let key = duplicate_key(&self.user, handle, id);
        // An unreadable state is "not seen": the message is delivered.
        matches!(self.runtime.block_on(state.get(&key)), Ok(Some(_)))
    }

    /// RFC 5235 3.1: 1 surely not spam .. 10 surely spam.
    fn spam_level(&self) -> Option<u8> {
        self.spam.map(|f| 1 + (f * 9.0).round() as u8)
    }

    fn spam_percent(&self) -> Option<u8> {
        self.spam.map(|f| (f * 100.0).round() as u8)
    }

    fn environment(&self, name: &str) -> Option<String> {
        match name {
            "host" => Some(self.scripts.hostname.clone()),
            "domain" => self
                .scripts
                .hostname
                .split_once('.')
                .map(|(_, domain)| domain.to_string()),
            _ => NoDefaults.environment(name),
        }
    }

    fn mailbox_exists(&self, mailbox: &str) -> bool {
        let name = crate::normalize_name(mailbox);
        self.folders.contains(&name)
    }

    fn include(&self, location: Location, name: &str) -> Result<Option<Arc<Script>>, String> {
        match location {
            Location::Global => Ok(self.scripts.site_script(name)),
            Location::Personal => {
                let found = self
                    .runtime
                    .block_on(self.scripts.store.sieve_get(&self.user, name))
                    .map_err(|e| format!("cannot read script {name:?}: {e}"))?;
                match found {
                    None => Ok(None),
                    Some(script) => Script::compile(&script.source, &self.scripts.limits)
                        .map(|s| Some(Arc::new(s)))
                        .map_err(|e| format!("script {name:?}: {e}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_imap_flags_and_atom_keywords_are_kept() {
        let flags: Vec<String> = [
            "\\seen",
            "\\Recent",
            "$Label1",
            "two words",
            "\\Seen",
            "Work",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(usable_flags(&flags), ["\\Seen", "$Label1", "Work"]);
    }

    #[test]
    fn spamtest_reads_the_filters_score_on_its_reject_scale() {
        let raw = b"X-Spam-Score: 7.5\r\nX-Spam-Score: -3\r\n\r\nx";
        assert_eq!(spam_fraction(raw, 15.0), Some(0.5));
        assert_eq!(spam_fraction(b"X-Spam-Score: -2\r\n\r\n", 15.0), Some(0.0));
        assert_eq!(spam_fraction(b"X-Spam-Score: 40\r\n\r\n", 15.0), Some(1.0));
        assert_eq!(spam_fraction(b"Subject: x\r\n\r\n", 15.0), None);
    }

    #[test]
    fn a_message_that_went_through_the_user_is_a_loop() {
        let raw = b"Delivered-To: other@example.test\r\nDelivered-To: Alice@Example.test\r\nSubject: x\r\n\r\nDelivered-To: bob@example.test\r\n";
        assert!(redirect_loop(raw, "alice@example.test"));
        assert!(!redirect_loop(raw, "bob@example.test"));
        let many = "Delivered-To: x@y.test\r\n".repeat(MAX_DELIVERED_TO) + "\r\nbody";
        assert!(redirect_loop(many.as_bytes(), "bob@example.test"));
    }
}
