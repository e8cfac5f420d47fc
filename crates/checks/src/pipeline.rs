//! The `Check` trait and the `Pipeline` that runs the checks of a stage.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Action, Facts, Finding, Header, Stage, Verdict};

/// One check: greylisting, a policy rule set, SPF, a DNSBL, the content
/// filter... It answers for the stages it declares, from the facts alone
/// (what it must remember between stages or transactions goes to the shared
/// state, not into `self`, so a check works the same behind the SMTP session
/// and the Postfix policy service, and on every node of a cluster).
///
/// A check never fails: a temporary trouble of its own (a DNS timeout, the
/// state backend away) is its verdict to give, a `Defer` or an `Accept`
/// with the reason logged, as the check's own documentation says.
#[async_trait]
pub trait Check: Send + Sync {
    /// A short name for logs and `havre check` (`greylist`, `rule student-rate`).
    fn name(&self) -> &str;

    /// The stages at which [`Check::check`] is called.
    fn stages(&self) -> &[Stage];

    /// The verdict on `facts` (whose `stage` is one of [`Check::stages`]).
    async fn check(&self, facts: &Facts) -> Verdict;
}

/// One check's verdict, in the trail of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub check: String,
    pub verdict: Verdict,
}

/// The result of a stage: the action, the headers the checks that ran asked
/// for, and the trail of every verdict (what `havre check` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Accept` when no check ended the stage.
    pub action: Action,
    /// Headers of every check that ran, in order, each tagged with its check.
    pub headers: Vec<(String, Header)>,
    /// Every check that ran, in order; the last one decided if `action` is
    /// not `Accept`.
    pub steps: Vec<Step>,
}

impl Outcome {
    /// The step that ended the stage, if one did.
    pub fn decided_by(&self) -> Option<&Step> {
        self.steps.last().filter(|s| s.verdict.action.is_final())
    }

    /// The SMTP reply line of a refusal, as Postfix writes it.
    pub fn reply_line(&self, facts: &Facts) -> Option<String> {
        self.action.reply().map(|r| r.line(facts))
    }

    /// The first hold a check of the stage asked for (see [`Verdict::hold`]).
    pub fn hold(&self) -> Option<Hold> {
        self.steps.iter().find_map(|s| {
            s.verdict.hold.as_ref().map(|reason| Hold {
                check: s.check.clone(),
                reason: reason.clone(),
            })
        })
    }
}

/// A message to keep on hold in the queue (the quarantine): which check
/// asked and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub check: String,
    pub reason: String,
}

/// The checks of a role (mx, submission, the policy service), run in the
/// order they were added.
///
/// At each stage the checks that declare it run in order; the first
/// `Reject`, `Defer` or `Permit` ends the stage (the following checks of the
/// stage do not run); headers accumulate from every check that ran. A
/// refusal is logged as Postfix logs it, with the check and its reason.
pub struct Pipeline {
    role: &'static str,
    checks: Vec<Arc<dyn Check>>,
    /// Refusals are recorded here too (reports, traces).
    events: havre_events::Events,
}

impl Pipeline {
    /// An empty pipeline for `role` (the program name of its log lines).
    pub fn new(role: &'static str) -> Pipeline {
        Pipeline {
            role,
            checks: Vec::new(),
            events: havre_events::Events::disabled(),
        }
    }

    /// The same pipeline recording its refusals into `events`.
    pub fn with_events(mut self, events: havre_events::Events) -> Pipeline {
        self.events = events;
        self
    }

    /// Adds `check` after those already there.
    pub fn push(&mut self, check: Arc<dyn Check>) {
        self.checks.push(check);
    }

    /// The same pipeline with `check` added at the end.
    pub fn with(mut self, check: Arc<dyn Check>) -> Pipeline {
        self.push(check);
        self
    }

    /// Whether any check runs at `stage` (a session can skip work, such as
    /// keeping the header section, that no check will read).
    pub fn runs_at(&self, stage: Stage) -> bool {
        self.checks.iter().any(|c| c.stages().contains(&stage))
    }

    /// The names of the checks, in order.
    pub fn names(&self) -> Vec<&str> {
        self.checks.iter().map(|c| c.name()).collect()
    }

    /// Runs the checks of `facts.stage`.
    pub async fn run(&self, facts: &Facts) -> Outcome {
        let mut outcome = Outcome {
            action: Action::Accept,
            headers: Vec::new(),
            steps: Vec::new(),
        };
        // The facts with the headers of this stage's earlier checks in
        // `added`, once one asked for any (a copy only then).
        let mut seen: Option<Facts> = None;
        for check in self
            .checks
            .iter()
            .filter(|c| c.stages().contains(&facts.stage))
        {
            let verdict = check.check(seen.as_ref().unwrap_or(facts)).await;
            if !verdict.headers.is_empty() {
                seen.get_or_insert_with(|| facts.clone())
                    .added
                    .extend(verdict.headers.iter().cloned());
            }
            let name = check.name().to_owned();
            outcome
                .headers
                .extend(verdict.headers.iter().map(|h| (name.clone(), h.clone())));
            let action = verdict.action.clone();
            outcome.steps.push(Step {
                check: name,
                verdict,
            });
            if action.is_final() {
                outcome.action = action;
                break;
            }
        }
        self.log(facts, &outcome);
        self.record_findings(facts, &outcome);
        outcome
    }

    /// Records what the content checks found (spam, viruses): the graphs
    /// count them whatever was done with the message.
    fn record_findings(&self, facts: &Facts, outcome: &Outcome) {
        for step in &outcome.steps {
            let Some(finding) = &step.verdict.finding else {
                continue;
            };
            let mut event = match finding {
                Finding::Spam => havre_events::Event::new(havre_events::Kind::Spam, self.role),
                Finding::Virus(names) => {
                    havre_events::Event::new(havre_events::Kind::Virus, self.role)
                        .reason(names.as_str())
                }
            }
            .client(facts.client_label())
            .sender(facts.sender.as_deref().unwrap_or(""))
            .check(step.check.as_str())
            .size(facts.size);
            if let Some(id) = &facts.queue_id {
                event = event.queue_id(id.as_str());
            }
            self.events.record(event);
        }
    }

    fn log(&self, facts: &Facts, outcome: &Outcome) {
        let Some(step) = outcome.decided_by() else {
            return;
        };
        let why = step.verdict.reason.as_deref().unwrap_or("");
        let Some(line) = outcome.reply_line(facts) else {
            tracing::debug!(target: "checks", role = self.role, "{}: permit: {} from {}: by {} {why}",
                queue_id(facts), command(facts.stage), facts.client_label(), step.check);
            return;
        };
        tracing::info!(
            target: "checks",
            role = self.role,
            "{}: reject: {} from {}: {line}; from=<{}> to=<{}> helo=<{}> check={} reason={why:?}",
            queue_id(facts),
            command(facts.stage),
            facts.client_label(),
            facts.sender.as_deref().unwrap_or(""),
            facts.recipient.as_deref().unwrap_or(""),
            facts.helo.as_deref().unwrap_or(""),
            step.check,
        );
        // A greylisting check's "come back later" is counted apart, as
        // Postgrey's reports count it.
        let kind = if step.check == "greylist" && line.starts_with('4') {
            havre_events::Kind::Greylist
        } else {
            havre_events::Kind::Reject
        };
        let mut event = havre_events::Event::new(kind, self.role)
            .client(facts.client_label())
            .sender(facts.sender.as_deref().unwrap_or(""))
            .check(step.check.to_string())
            .reason(line.to_string());
        if let Some(to) = &facts.recipient {
            event = event.recipient(to.as_str());
        }
        if let Some(id) = &facts.queue_id {
            event = event.queue_id(id.as_str());
        }
        self.events.record(event);
    }
}

fn queue_id(facts: &Facts) -> &str {
    facts.queue_id.as_deref().unwrap_or("NOQUEUE")
}

/// The command Postfix names in a `reject:` log line.
fn command(stage: Stage) -> &'static str {
    match stage {
        Stage::Connect => "CONNECT",
        Stage::Helo => "EHLO",
        Stage::Mail => "MAIL",
        Stage::Rcpt => "RCPT",
        Stage::Data => "END-OF-MESSAGE",
    }
}

/// The headers to add to one message, gathered from the outcomes of all the
/// stages of its transaction (start a new one at each MAIL FROM), and the
/// first hold asked for on the way.
///
/// A check adds a header of a given name once per message: greylisting
/// answers at each RCPT, and its `X-Greylist:` must appear once. Different
/// checks may add headers of the same name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddedHeaders {
    headers: Vec<(String, Header)>,
    hold: Option<Hold>,
    /// The last subject prefix a check asked for.
    subject_prefix: Option<String>,
}

impl AddedHeaders {
    pub fn new() -> AddedHeaders {
        AddedHeaders::default()
    }

    /// Takes the headers of `outcome`, and its hold if none came before
    /// (the first reason wins).
    pub fn extend(&mut self, outcome: &Outcome) {
        if self.hold.is_none() {
            self.hold = outcome.hold();
        }
        for (check, header) in &outcome.headers {
            let seen = self
                .headers
                .iter()
                .any(|(c, h)| c == check && h.name.eq_ignore_ascii_case(&header.name));
            if !seen {
                self.headers.push((check.clone(), header.clone()));
            }
        }
        if let Some(prefix) = outcome
            .steps
            .iter()
            .rev()
            .find_map(|s| s.verdict.subject_prefix.clone())
        {
            self.subject_prefix = Some(prefix);
        }
    }

    /// What to put before the message's `Subject:`, if a check asked.
    pub fn subject_prefix(&self) -> Option<&str> {
        self.subject_prefix.as_deref()
    }

    /// The headers, in the order they were asked for.
    pub fn headers(&self) -> impl Iterator<Item = &Header> {
        self.headers.iter().map(|(_, h)| h)
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The hold of the message, if a check asked for one at any stage: the
    /// message is accepted and queued on hold (quarantined) for this reason.
    pub fn hold(&self) -> Option<&Hold> {
        self.hold.as_ref()
    }

    /// The header lines to prepend to the message, each ending in CRLF;
    /// a long one is folded (RFC 5322 2.2.3) so that its lines stay under
    /// 78 characters where its spaces allow.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for h in self.headers() {
            out.extend_from_slice(fold(&h.to_string()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// The longest line a folded header aims at (RFC 5322 2.1.1's "SHOULD").
const FOLD_AT: usize = 78;

/// `line` folded before some of its spaces: a CRLF is inserted before an
/// existing space, so unfolding (removing the CRLFs) gives the same line.
fn fold(line: &str) -> String {
    if line.len() <= FOLD_AT {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len() + 16);
    let mut current = 0; // length of the line being written
    let mut words = line.split(' ');
    if let Some(first) = words.next() {
        out.push_str(first);
        current = first.len();
    }
    for word in words {
        if current + 1 + word.len() > FOLD_AT && current > 0 {
            out.push_str("\r\n ");
            current = 1;
        } else {
            out.push(' ');
            current += 1;
        }
        out.push_str(word);
        current += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that always answers the same, at Rcpt.
    struct Fixed(&'static str, Verdict);

    #[async_trait]
    impl Check for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn stages(&self) -> &[Stage] {
            &[Stage::Rcpt]
        }
        async fn check(&self, _: &Facts) -> Verdict {
            self.1.clone()
        }
    }

    fn rcpt() -> Facts {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.stage = Stage::Rcpt;
        f.recipient = Some("bob@example.edu".into());
        f
    }

    #[tokio::test]
    async fn the_first_refusal_ends_the_stage_and_headers_of_earlier_checks_are_kept() {
        let p = Pipeline::new("test")
            .with(Arc::new(Fixed(
                "tag",
                Verdict::accept().with_header("X-Tag", "1"),
            )))
            .with(Arc::new(Fixed(
                "deny",
                Verdict::reject(550, "5.7.1", "No").because("test"),
            )))
            .with(Arc::new(Fixed(
                "never",
                Verdict::accept().with_header("X-Never", "1"),
            )));
        let out = p.run(&rcpt()).await;
        assert_eq!(
            out.reply_line(&rcpt()).as_deref(),
            Some("550 5.7.1 <bob@example.edu>: Recipient address rejected: No")
        );
        assert_eq!(out.decided_by().unwrap().check, "deny");
        assert_eq!(out.steps.len(), 2);
        assert_eq!(out.headers, [("tag".into(), Header::new("X-Tag", "1"))]);
    }

    #[tokio::test]
    async fn a_permit_skips_the_rest_of_the_stage_only() {
        let p = Pipeline::new("test")
            .with(Arc::new(Fixed("ok", Verdict::permit())))
            .with(Arc::new(Fixed("deny", Verdict::reject(550, "5.7.1", "No"))));
        let out = p.run(&rcpt()).await;
        assert_eq!(out.action, Action::Permit);
        assert_eq!(out.reply_line(&rcpt()), None);
        let mut mail = rcpt();
        mail.stage = Stage::Mail;
        assert_eq!(p.run(&mail).await.steps, [], "no check runs at MAIL");
        assert!(!p.runs_at(Stage::Mail) && p.runs_at(Stage::Rcpt));
    }

    #[tokio::test]
    async fn a_check_adds_its_header_once_per_message_whatever_the_number_of_recipients() {
        let p = Pipeline::new("test").with(Arc::new(Fixed(
            "greylist",
            Verdict::accept().with_header("X-Greylist", "delayed 301 seconds"),
        )));
        let mut added = AddedHeaders::new();
        added.extend(&p.run(&rcpt()).await);
        added.extend(&p.run(&rcpt()).await);
        assert_eq!(added.to_bytes(), b"X-Greylist: delayed 301 seconds\r\n");
    }

    #[tokio::test]
    async fn a_hold_lasts_to_the_end_of_the_transaction_and_the_first_reason_wins() {
        let mut added = AddedHeaders::new();
        let quiet = Pipeline::new("test").with(Arc::new(Fixed("none", Verdict::accept())));
        added.extend(&quiet.run(&rcpt()).await);
        assert_eq!(added.hold(), None);
        let p = Pipeline::new("test")
            .with(Arc::new(Fixed(
                "attachments",
                Verdict::hold("invoice.exe (exe)").with_header("X-Tag", "1"),
            )))
            .with(Arc::new(Fixed("other", Verdict::hold("second"))));
        let out = p.run(&rcpt()).await;
        assert_eq!(out.action, Action::Accept, "a hold does not end the stage");
        assert_eq!(out.steps.len(), 2);
        added.extend(&out);
        let later = Pipeline::new("test").with(Arc::new(Fixed("late", Verdict::hold("late"))));
        added.extend(&later.run(&rcpt()).await);
        added.extend(&quiet.run(&rcpt()).await);
        assert_eq!(
            added.hold(),
            Some(&Hold {
                check: "attachments".into(),
                reason: "invoice.exe (exe)".into()
            })
        );
        assert_eq!(added.to_bytes(), b"X-Tag: 1\r\n");
    }

    /// A check that reads the headers earlier checks added.
    struct Reader;

    #[async_trait]
    impl Check for Reader {
        fn name(&self) -> &str {
            "reader"
        }
        fn stages(&self) -> &[Stage] {
            &[Stage::Rcpt]
        }
        async fn check(&self, facts: &Facts) -> Verdict {
            let seen: Vec<String> = facts.added.iter().map(|h| h.to_string()).collect();
            Verdict::accept().because(seen.join(" | "))
        }
    }

    #[tokio::test]
    async fn a_check_sees_the_headers_of_earlier_stages_and_of_earlier_checks_of_its_stage() {
        let p = Pipeline::new("test")
            .with(Arc::new(Fixed(
                "spf",
                Verdict::accept().with_header("Received-SPF", "pass"),
            )))
            .with(Arc::new(Reader));
        let mut facts = rcpt();
        facts.added = vec![Header::new("X-Connect", "1")];
        let out = p.run(&facts).await;
        assert_eq!(
            out.steps[1].verdict.reason.as_deref(),
            Some("X-Connect: 1 | Received-SPF: pass")
        );
        assert_eq!(facts.added.len(), 1, "the caller's facts are left alone");
    }

    #[tokio::test]
    async fn a_subject_prefix_asked_by_a_check_is_kept_for_the_message() {
        let p = Pipeline::new("test").with(Arc::new(Fixed(
            "spam",
            Verdict::accept().with_subject_prefix("[SPAM]\r\n "),
        )));
        let mut added = AddedHeaders::new();
        assert_eq!(added.subject_prefix(), None);
        added.extend(&p.run(&rcpt()).await);
        assert_eq!(added.subject_prefix(), Some("[SPAM]   "));
    }

    #[tokio::test]
    async fn spam_tagged_and_a_virus_refused_are_both_recorded_for_the_graphs() {
        use havre_events::{Events, Kind, SqliteEvents};
        let db = SqliteEvents::memory().await.unwrap();
        let events = Events::start(
            db.clone(),
            "mx1",
            std::time::Duration::from_secs(3600),
            Box::new(|| true),
        );
        let p = Pipeline::new("smtpd")
            .with_events(events.clone())
            .with(Arc::new(Fixed(
                "spam",
                Verdict::accept().found(Finding::Spam),
            )))
            .with(Arc::new(Fixed(
                "antivirus",
                Verdict::reject(554, "5.7.1", "Virus found: Eicar-Signature")
                    .found(Finding::Virus("Eicar-Signature".into())),
            )));
        let mut facts = rcpt();
        facts.queue_id = Some("Q1".into());
        p.run(&facts).await;
        events.flush().await;
        let kinds: Vec<(Kind, Option<String>)> = db
            .between(0, i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.check))
            .collect();
        assert_eq!(
            kinds,
            [
                (Kind::Reject, Some("antivirus".into())),
                (Kind::Spam, Some("spam".into())),
                (Kind::Virus, Some("antivirus".into())),
            ]
        );
    }

    #[test]
    fn a_long_header_is_folded_at_its_spaces_and_unfolds_to_the_same_value() {
        let value = "mx.example.test; spf=pass smtp.mailfrom=alice@example.org; \
                     dkim=pass header.d=example.org header.s=s1 header.b=abcdEFGH; dmarc=pass";
        let mut added = AddedHeaders::new();
        added
            .headers
            .push(("auth".into(), Header::new("Authentication-Results", value)));
        let bytes = String::from_utf8(added.to_bytes()).unwrap();
        assert!(bytes.lines().all(|l| l.len() <= 78), "{bytes}");
        assert!(bytes.contains("\r\n "), "{bytes}");
        let unfolded = bytes.trim_end().replace("\r\n", "");
        assert_eq!(unfolded, format!("Authentication-Results: {value}"));
    }
}
