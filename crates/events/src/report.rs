//! The daily report: what pflogsumm prints, from the events of a period.
//!
//! [`Report::of`] reads the events once and counts; [`Report::text`]
//! prints it as pflogsumm lays its report out (grand totals, per-hour
//! traffic, domain summaries, top senders and recipients, deferral,
//! bounce and reject details), so that an admin who reads pflogsumm every
//! morning finds everything where she expects it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use serde::Serialize;

use crate::event::{Event, Kind};

/// Rows in each "top" table.
pub const TOP: usize = 10;

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Messages taken into the queue (pflogsumm's "received").
    pub received: u64,
    /// Copies delivered, here or to another server.
    pub delivered: u64,
    /// Of those, copies of mail for an address here that an alias or a
    /// forwarding sent on to another server (pflogsumm's "forwarded").
    pub forwarded: u64,
    /// Messages with at least one deferral, and deferrals.
    pub deferred: u64,
    pub deferrals: u64,
    pub bounced: u64,
    pub rejected: u64,
    pub greylisted: u64,
    /// Messages the spam filter found to be spam, and the antivirus
    /// infected (tagged, filed or refused alike).
    pub spam: u64,
    pub viruses: u64,
    pub bytes_received: u64,
    pub bytes_delivered: u64,
    pub senders: u64,
    pub sending_domains: u64,
    pub recipients: u64,
    pub recipient_domains: u64,
    pub connections: u64,
    pub logins: u64,
    pub failed_logins: u64,
    /// Per hour of the period's first day (0-23, UTC offset of the caller):
    /// received, delivered, deferred, bounced, rejected.
    pub per_hour: Vec<HourRow>,
    /// Recipient domains: copies delivered, bytes, deferrals, delays.
    pub delivery_domains: Vec<DomainRow>,
    /// Sender domains: messages received, bytes.
    pub receiving_domains: Vec<Count>,
    pub senders_by_count: Vec<Count>,
    pub senders_by_size: Vec<Count>,
    pub recipients_by_count: Vec<Count>,
    pub recipients_by_size: Vec<Count>,
    /// Delivery delays in seconds (median, 90th percentile, longest).
    pub delay: Delays,
    pub deferral_reasons: Vec<Count>,
    pub bounce_reasons: Vec<Count>,
    /// By `check: reply`.
    pub reject_reasons: Vec<Count>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct HourRow {
    pub hour: u8,
    pub received: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub rejected: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct DomainRow {
    pub domain: String,
    pub delivered: u64,
    pub bytes: u64,
    pub deferred: u64,
    pub average_delay: f64,
    pub max_delay: f64,
}

/// A name and how many (or how many bytes).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Delays {
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// The delivery row of `address`'s domain, made on first use; with the
/// sum of its delays.
fn domain_row<'a>(
    rows: &'a mut BTreeMap<String, (DomainRow, f64)>,
    address: &str,
) -> &'a mut (DomainRow, f64) {
    let name = domain(address).to_ascii_lowercase();
    rows.entry(name.clone()).or_insert_with(|| {
        (
            DomainRow {
                domain: name,
                ..DomainRow::default()
            },
            0.0,
        )
    })
}

fn domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Counts by name, with bytes.
#[derive(Default)]
struct Tally(HashMap<String, (u64, u64)>);

impl Tally {
    fn add(&mut self, name: &str, bytes: u64) {
        self.add_n(name, 1, bytes);
    }

    fn add_n(&mut self, name: &str, n: u64, bytes: u64) {
        let entry = self.0.entry(name.to_string()).or_default();
        entry.0 += n;
        entry.1 += bytes;
    }

    fn top(&self, by_bytes: bool) -> Vec<Count> {
        let mut rows: Vec<Count> = self
            .0
            .iter()
            .map(|(name, (count, bytes))| Count {
                name: name.clone(),
                count: *count,
                bytes: *bytes,
            })
            .collect();
        rows.sort_by(|a, b| {
            let (x, y) = if by_bytes {
                (b.bytes, a.bytes)
            } else {
                (b.count, a.count)
            };
            x.cmp(&y).then_with(|| a.name.cmp(&b.name))
        });
        rows.truncate(TOP);
        rows
    }
}

/// Counts a period's events one at a time: a busy site's day does not
/// fit in memory as a list.
pub struct Builder<H> {
    hour_of: H,
    r: Report,
    senders: HashSet<String>,
    sending_domains: HashSet<String>,
    recipients: HashSet<String>,
    recipient_domains: HashSet<String>,
    deferred_messages: HashSet<String>,
    by_sender: Tally,
    by_sending_domain: Tally,
    by_recipient: Tally,
    deferrals: Tally,
    bounces: Tally,
    rejects: Tally,
    domains: BTreeMap<String, (DomainRow, f64)>,
    delays: Vec<f64>,
    /// Messages deferred, when counted elsewhere (the grouped path).
    deferred_count: Option<u64>,
}

impl<H: Fn(i64) -> u8> Builder<H> {
    /// `hour_of` gives the local hour (0-23) of an event's time.
    pub fn new(hour_of: H) -> Builder<H> {
        Builder {
            hour_of,
            r: Report {
                per_hour: (0..24)
                    .map(|hour| HourRow {
                        hour,
                        ..HourRow::default()
                    })
                    .collect(),
                ..Report::default()
            },
            senders: HashSet::new(),
            sending_domains: HashSet::new(),
            recipients: HashSet::new(),
            recipient_domains: HashSet::new(),
            deferred_messages: HashSet::new(),
            by_sender: Tally::default(),
            by_sending_domain: Tally::default(),
            by_recipient: Tally::default(),
            deferrals: Tally::default(),
            bounces: Tally::default(),
            rejects: Tally::default(),
            domains: BTreeMap::new(),
            delays: Vec::new(),
            deferred_count: None,
        }
    }

    /// Counts one event (in any order).
    pub fn add(&mut self, e: &Event) {
        let hour = &mut self.r.per_hour[usize::from((self.hour_of)(e.at).min(23))];
        match e.kind {
            Kind::Connect => self.r.connections += 1,
            Kind::Login => self.r.logins += 1,
            Kind::LoginFailed => self.r.failed_logins += 1,
            Kind::Accepted => {
                self.r.received += 1;
                hour.received += 1;
                self.r.bytes_received += e.size;
                let sender = e.sender.as_deref().unwrap_or("");
                let sender = if sender.is_empty() {
                    "from=<>".to_string()
                } else {
                    sender.to_ascii_lowercase()
                };
                let sender = sender.as_str();
                self.senders.insert(sender.to_string());
                self.sending_domains.insert(domain(sender).to_string());
                self.by_sender.add(sender, e.size);
                if !domain(sender).is_empty() {
                    self.by_sending_domain.add(domain(sender), e.size);
                }
            }
            Kind::Delivered => {
                self.r.delivered += 1;
                hour.delivered += 1;
                self.r.bytes_delivered += e.size;
                if e.original.is_some() && e.relay.as_deref().is_some_and(|relay| relay != "local")
                {
                    self.r.forwarded += 1;
                }
                let to = e.recipient.as_deref().unwrap_or("").to_ascii_lowercase();
                let to = to.as_str();
                self.recipients.insert(to.to_string());
                self.recipient_domains
                    .insert(domain(to).to_ascii_lowercase());
                self.by_recipient.add(to, e.size);
                let delay = e.delay.unwrap_or(0.0);
                self.delays.push(delay);
                let (row, total) = domain_row(&mut self.domains, to);
                row.delivered += 1;
                row.bytes += e.size;
                row.max_delay = row.max_delay.max(delay);
                *total += delay;
            }
            Kind::Deferred => {
                self.r.deferrals += 1;
                hour.deferred += 1;
                if let Some(id) = &e.queue_id {
                    self.deferred_messages.insert(id.clone());
                }
                self.deferrals
                    .add(e.reason.as_deref().unwrap_or("(no reason given)"), 0);
                let to = e.recipient.as_deref().unwrap_or("");
                let (row, _) = domain_row(&mut self.domains, to);
                row.deferred += 1;
            }
            Kind::Bounced => {
                self.r.bounced += 1;
                hour.bounced += 1;
                self.bounces
                    .add(e.reason.as_deref().unwrap_or("(no reason given)"), 0);
            }
            Kind::Notice => {}
            Kind::Spam => self.r.spam += 1,
            Kind::Virus => self.r.viruses += 1,
            Kind::Reject | Kind::Greylist => {
                if e.kind == Kind::Greylist {
                    self.r.greylisted += 1;
                } else {
                    self.r.rejected += 1;
                    hour.rejected += 1;
                }
                let why = format!(
                    "{}: {}",
                    e.check.as_deref().unwrap_or("smtpd"),
                    e.reason.as_deref().unwrap_or("")
                );
                self.rejects.add(&why, 0);
            }
        }
    }

    // What the events database counts in groups (`SqliteEvents::report`)
    // comes in through these; each does what `add` does for one event,
    // `n` times. A test checks that both ways give the same report.

    /// `n` events of `kind` at `at` (the hour they count in), of `bytes`.
    pub(crate) fn add_counted(&mut self, kind: Kind, at: i64, n: u64, bytes: u64) {
        let hour = &mut self.r.per_hour[usize::from((self.hour_of)(at).min(23))];
        match kind {
            Kind::Connect => self.r.connections += n,
            Kind::Login => self.r.logins += n,
            Kind::LoginFailed => self.r.failed_logins += n,
            Kind::Accepted => {
                self.r.received += n;
                hour.received += n;
                self.r.bytes_received += bytes;
            }
            Kind::Delivered => {
                self.r.delivered += n;
                hour.delivered += n;
                self.r.bytes_delivered += bytes;
            }
            Kind::Deferred => {
                self.r.deferrals += n;
                hour.deferred += n;
            }
            Kind::Bounced => {
                self.r.bounced += n;
                hour.bounced += n;
            }
            Kind::Notice => {}
            Kind::Spam => self.r.spam += n,
            Kind::Virus => self.r.viruses += n,
            Kind::Reject => {
                self.r.rejected += n;
                hour.rejected += n;
            }
            Kind::Greylist => self.r.greylisted += n,
        }
    }

    /// `n` events of `kind` naming `who` (accepted: the sender as given,
    /// lower-cased; delivered and deferred: the recipient), of `bytes`,
    /// with their delays' sum and maximum, `forwarded` of them forwarded.
    pub(crate) fn add_party(
        &mut self,
        kind: Kind,
        who: &str,
        n: u64,
        bytes: u64,
        delays: (f64, f64),
        forwarded: u64,
    ) {
        match kind {
            Kind::Accepted => {
                let sender = if who.is_empty() { "from=<>" } else { who };
                self.senders.insert(sender.to_string());
                self.sending_domains.insert(domain(sender).to_string());
                self.by_sender.add_n(sender, n, bytes);
                if !domain(sender).is_empty() {
                    self.by_sending_domain.add_n(domain(sender), n, bytes);
                }
            }
            Kind::Delivered => {
                self.r.forwarded += forwarded;
                self.recipients.insert(who.to_string());
                self.recipient_domains
                    .insert(domain(who).to_ascii_lowercase());
                self.by_recipient.add_n(who, n, bytes);
                let (row, total) = domain_row(&mut self.domains, who);
                row.delivered += n;
                row.bytes += bytes;
                row.max_delay = row.max_delay.max(delays.1);
                *total += delays.0;
            }
            Kind::Deferred => {
                let (row, _) = domain_row(&mut self.domains, who);
                row.deferred += n;
            }
            _ => {}
        }
    }

    /// `n` events of `kind` for `reason` (refusals: by `check`).
    pub(crate) fn add_reason(
        &mut self,
        kind: Kind,
        check: Option<&str>,
        reason: Option<&str>,
        n: u64,
    ) {
        match kind {
            Kind::Deferred => self
                .deferrals
                .add_n(reason.unwrap_or("(no reason given)"), n, 0),
            Kind::Bounced => self
                .bounces
                .add_n(reason.unwrap_or("(no reason given)"), n, 0),
            Kind::Reject | Kind::Greylist => {
                let why = format!("{}: {}", check.unwrap_or("smtpd"), reason.unwrap_or(""));
                self.rejects.add_n(&why, n, 0);
            }
            _ => {}
        }
    }

    /// `n` deliveries that took `delay` seconds.
    pub(crate) fn add_delays(&mut self, delay: f64, n: u64) {
        self.delays.extend(std::iter::repeat_n(delay, n as usize));
    }

    /// Messages deferred at least once, counted by the database.
    pub(crate) fn set_deferred_messages(&mut self, n: u64) {
        self.deferred_count = Some(n);
    }

    pub fn finish(mut self) -> Report {
        self.r.deferred = self
            .deferred_count
            .unwrap_or(self.deferred_messages.len() as u64);
        self.r.senders = self.senders.len() as u64;
        self.r.sending_domains = self.sending_domains.len() as u64;
        self.r.recipients = self.recipients.len() as u64;
        self.r.recipient_domains = self.recipient_domains.len() as u64;
        self.r.senders_by_count = self.by_sender.top(false);
        self.r.senders_by_size = self.by_sender.top(true);
        self.r.recipients_by_count = self.by_recipient.top(false);
        self.r.recipients_by_size = self.by_recipient.top(true);
        self.r.receiving_domains = self.by_sending_domain.top(false);
        let mut rows: Vec<DomainRow> = self
            .domains
            .into_values()
            .map(|(mut row, total)| {
                if row.delivered > 0 {
                    row.average_delay = total / row.delivered as f64;
                }
                row
            })
            .collect();
        rows.sort_by(|a, b| b.delivered.cmp(&a.delivered).then(a.domain.cmp(&b.domain)));
        rows.truncate(TOP);
        self.r.delivery_domains = rows;
        self.delays.sort_by(f64::total_cmp);
        let at = |q: f64| {
            self.delays
                .get(((self.delays.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        self.r.delay = Delays {
            median: at(0.5),
            p90: at(0.9),
            max: self.delays.last().copied().unwrap_or(0.0),
        };
        self.r.deferral_reasons = self.deferrals.top(false);
        self.r.bounce_reasons = self.bounces.top(false);
        self.r.reject_reasons = self.rejects.top(false);
        self.r
    }
}

impl Report {
    /// The report of `events` (in any order); `hour_of` gives the local
    /// hour (0-23) of an event's time.
    pub fn of(events: &[Event], hour_of: impl Fn(i64) -> u8) -> Report {
        let mut builder = Builder::new(hour_of);
        for e in events {
            builder.add(e);
        }
        builder.finish()
    }

    /// Whether nothing at all happened in the period.
    pub fn is_empty(&self) -> bool {
        self.received == 0
            && self.delivered == 0
            && self.deferrals == 0
            && self.bounced == 0
            && self.rejected == 0
            && self.greylisted == 0
            && self.spam == 0
            && self.viruses == 0
            && self.connections == 0
            && self.logins == 0
            && self.failed_logins == 0
    }

    /// The report as pflogsumm prints it, under `title`.
    pub fn text(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out, title);
        out
    }

    fn write_text(&self, out: &mut String, title: &str) -> std::fmt::Result {
        writeln!(out, "{title}\n")?;
        heading(out, "Grand Totals")?;
        writeln!(out, "messages\n")?;
        let attempts = self.received + self.rejected;
        let percent = |n: u64| (n * 100 + attempts / 2).checked_div(attempts).unwrap_or(0);
        writeln!(out, "  {:>7}   received", self.received)?;
        writeln!(out, "  {:>7}   delivered", self.delivered)?;
        writeln!(out, "  {:>7}   forwarded", self.forwarded)?;
        writeln!(
            out,
            "  {:>7}   deferred  ({} deferrals)",
            self.deferred, self.deferrals
        )?;
        writeln!(out, "  {:>7}   bounced", self.bounced)?;
        writeln!(
            out,
            "  {:>7}   rejected ({}%)",
            self.rejected,
            percent(self.rejected)
        )?;
        writeln!(out, "  {:>7}   greylisted", self.greylisted)?;
        writeln!(out, "  {:>7}   spam", self.spam)?;
        writeln!(out, "  {:>7}   viruses", self.viruses)?;
        writeln!(out)?;
        writeln!(out, "  {:>7}   bytes received", bytes(self.bytes_received))?;
        writeln!(
            out,
            "  {:>7}   bytes delivered",
            bytes(self.bytes_delivered)
        )?;
        writeln!(out, "  {:>7}   senders", self.senders)?;
        writeln!(out, "  {:>7}   sending hosts/domains", self.sending_domains)?;
        writeln!(out, "  {:>7}   recipients", self.recipients)?;
        writeln!(
            out,
            "  {:>7}   recipient hosts/domains",
            self.recipient_domains
        )?;
        writeln!(out)?;
        writeln!(out, "  {:>7}   connections", self.connections)?;
        writeln!(out, "  {:>7}   logins", self.logins)?;
        writeln!(out, "  {:>7}   failed logins", self.failed_logins)?;
        writeln!(
            out,
            "\n  delivery delay: median {:.1}s, 90% under {:.1}s, longest {:.1}s\n",
            self.delay.median, self.delay.p90, self.delay.max
        )?;

        heading(out, "Per-Hour Traffic Summary")?;
        writeln!(
            out,
            "    time          received  delivered   deferred    bounced     rejected"
        )?;
        writeln!(
            out,
            "    --------------------------------------------------------------------"
        )?;
        for h in &self.per_hour {
            writeln!(
                out,
                "    {:02}00-{:02}00   {:>8}   {:>8}   {:>8}   {:>8}   {:>8}",
                h.hour,
                (h.hour + 1) % 24,
                h.received,
                h.delivered,
                h.deferred,
                h.bounced,
                h.rejected
            )?;
        }
        writeln!(out)?;

        heading(out, "Host/Domain Summary: Message Delivery")?;
        writeln!(
            out,
            " sent cnt  bytes   defers   avg dly max dly host/domain"
        )?;
        writeln!(
            out,
            " -------- -------  -------  ------- ------- -----------"
        )?;
        for d in &self.delivery_domains {
            writeln!(
                out,
                " {:>8} {:>7}  {:>7}  {:>6.1}s {:>6.1}s  {}",
                d.delivered,
                bytes(d.bytes),
                d.deferred,
                d.average_delay,
                d.max_delay,
                d.domain
            )?;
        }
        none_if_empty(out, self.delivery_domains.is_empty())?;

        heading(out, "Host/Domain Summary: Messages Received")?;
        table(
            out,
            " msg cnt   bytes   host/domain",
            &self.receiving_domains,
        )?;
        heading(out, &format!("Senders by message count (top {TOP})"))?;
        counts(out, &self.senders_by_count)?;
        heading(out, &format!("Recipients by message count (top {TOP})"))?;
        counts(out, &self.recipients_by_count)?;
        heading(out, &format!("Senders by message size (top {TOP})"))?;
        sizes(out, &self.senders_by_size)?;
        heading(out, &format!("Recipients by message size (top {TOP})"))?;
        sizes(out, &self.recipients_by_size)?;
        heading(out, "message deferral detail")?;
        counts(out, &self.deferral_reasons)?;
        heading(out, "message bounce detail")?;
        counts(out, &self.bounce_reasons)?;
        heading(out, "message reject detail")?;
        counts(out, &self.reject_reasons)?;
        Ok(())
    }
}

fn heading(out: &mut String, title: &str) -> std::fmt::Result {
    writeln!(out, "{title}\n{}\n", "-".repeat(title.len()))
}

fn none_if_empty(out: &mut String, empty: bool) -> std::fmt::Result {
    if empty {
        writeln!(out, " none")?;
    }
    writeln!(out)
}

fn table(out: &mut String, header: &str, rows: &[Count]) -> std::fmt::Result {
    writeln!(out, "{header}")?;
    for c in rows {
        writeln!(out, " {:>7} {:>7}   {}", c.count, bytes(c.bytes), c.name)?;
    }
    none_if_empty(out, rows.is_empty())
}

fn counts(out: &mut String, rows: &[Count]) -> std::fmt::Result {
    for c in rows {
        writeln!(out, " {:>7}   {}", c.count, c.name)?;
    }
    none_if_empty(out, rows.is_empty())
}

fn sizes(out: &mut String, rows: &[Count]) -> std::fmt::Result {
    for c in rows {
        writeln!(out, " {:>7}   {}", bytes(c.bytes), c.name)?;
    }
    none_if_empty(out, rows.is_empty())
}

/// Bytes as pflogsumm writes them: `1234`, `56k`, `7m`.
pub(crate) fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{}m", n / (1024 * 1024))
    } else if n >= 10 * 1024 {
        format!("{}k", n / 1024)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> i64 {
        hour * 3_600_000_000
    }

    #[test]
    fn a_small_day_is_counted_as_pflogsumm_counts_it() {
        let mut events = Vec::new();
        let mut push = |hour: i64, e: Event| {
            let mut e = e;
            e.at = at(hour);
            events.push(e);
        };
        push(9, Event::new(Kind::Connect, "smtpd"));
        push(
            9,
            Event::new(Kind::Accepted, "cleanup")
                .queue_id("A")
                .sender("bob@remote.test")
                .size(2000),
        );
        push(
            9,
            Event::new(Kind::Delivered, "local")
                .queue_id("A")
                .recipient("alice@example.test")
                .relay("local")
                .size(2000)
                .delay(0.2),
        );
        push(
            9,
            Event::new(Kind::Delivered, "smtp")
                .queue_id("A")
                .recipient("carl@lab.test")
                .original("carl@example.test")
                .relay("lab.test[10.0.0.1]:25")
                .size(2000)
                .delay(1.0),
        );
        push(
            10,
            Event::new(Kind::Accepted, "cleanup")
                .queue_id("B")
                .sender("")
                .size(500),
        );
        push(
            10,
            Event::new(Kind::Deferred, "smtp")
                .queue_id("B")
                .recipient("x@slow.test")
                .reason("451 try later"),
        );
        push(
            11,
            Event::new(Kind::Deferred, "smtp")
                .queue_id("B")
                .recipient("x@slow.test")
                .reason("451 try later"),
        );
        push(
            12,
            Event::new(Kind::Bounced, "smtp")
                .queue_id("B")
                .recipient("x@slow.test")
                .reason("550 no such user"),
        );
        push(
            10,
            Event::new(Kind::Reject, "smtpd")
                .recipient("nobody@example.test")
                .check("rcpt")
                .reason("550 5.1.1 User unknown"),
        );
        push(
            10,
            Event::new(Kind::Greylist, "smtpd")
                .recipient("alice@example.test")
                .check("greylist")
                .reason("450 4.7.1 greylisted"),
        );
        let r = Report::of(&events, |micros| (micros / 3_600_000_000) as u8);
        assert_eq!((r.received, r.delivered, r.forwarded), (2, 2, 1));
        assert_eq!((r.deferred, r.deferrals, r.bounced), (1, 2, 1));
        assert_eq!((r.rejected, r.greylisted, r.connections), (1, 1, 1));
        assert_eq!((r.bytes_received, r.bytes_delivered), (2500, 4000));
        assert_eq!((r.senders, r.recipients, r.recipient_domains), (2, 2, 2));
        assert_eq!(r.per_hour[9].received, 1);
        assert_eq!(r.per_hour[9].delivered, 2);
        assert_eq!(r.per_hour[10].rejected, 1);
        assert_eq!(r.per_hour[12].bounced, 1);
        assert_eq!(r.delay.max, 1.0);
        assert_eq!(
            r.reject_reasons,
            vec![
                Count {
                    name: "greylist: 450 4.7.1 greylisted".into(),
                    count: 1,
                    bytes: 0
                },
                Count {
                    name: "rcpt: 550 5.1.1 User unknown".into(),
                    count: 1,
                    bytes: 0
                },
            ]
        );
        let text = r.text("havre report: test");
        assert!(text.contains("        2   received\n"), "{text}");
        assert!(
            text.contains("        1   deferred  (2 deferrals)\n"),
            "{text}"
        );
        assert!(text.contains("        1   rejected (33%)\n"), "{text}");
        assert!(
            text.contains("    0900-1000          1          2          0          0          0\n"),
            "{text}"
        );
        assert!(text.contains("       1   from=<>\n"), "{text}");
    }

    #[test]
    fn a_day_without_events_is_empty_and_still_prints() {
        let r = Report::of(&[], |_| 0);
        assert!(r.is_empty());
        assert!(r.text("t").contains("        0   received"));
    }
}
