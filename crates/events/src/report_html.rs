//! The daily report as an HTML page (the mail's second part, `havre report
//! --html`): the same sections as the text, as tables, with no script and
//! styles inline so a mail client shows it as it is.

use std::fmt::Write;

use crate::report::{Count, Report, TOP, bytes};

impl Report {
    /// The report as an HTML document, under `title`.
    pub fn html(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = self.write_html(&mut out, title);
        out
    }

    fn write_html(&self, out: &mut String, title: &str) -> std::fmt::Result {
        let title = escape_html(title);
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body style=\"font-family:sans-serif;color:#222\">\n<h1 style=\"font-size:1.4em\">{title}</h1>\n"
        )?;
        section(out, "Grand totals")?;
        let attempts = self.received + self.rejected;
        let share = (self.rejected * 100 + attempts / 2)
            .checked_div(attempts)
            .unwrap_or(0);
        rows(
            out,
            &["", "messages"],
            &[
                vec!["received".into(), self.received.to_string()],
                vec!["delivered".into(), self.delivered.to_string()],
                vec!["forwarded".into(), self.forwarded.to_string()],
                vec![
                    "deferred".into(),
                    format!("{} ({} deferrals)", self.deferred, self.deferrals),
                ],
                vec!["bounced".into(), self.bounced.to_string()],
                vec!["rejected".into(), format!("{} ({share}%)", self.rejected)],
                vec!["greylisted".into(), self.greylisted.to_string()],
                vec!["spam".into(), self.spam.to_string()],
                vec!["viruses".into(), self.viruses.to_string()],
                vec!["bytes received".into(), bytes(self.bytes_received)],
                vec!["bytes delivered".into(), bytes(self.bytes_delivered)],
                vec!["senders".into(), self.senders.to_string()],
                vec![
                    "sending hosts/domains".into(),
                    self.sending_domains.to_string(),
                ],
                vec!["recipients".into(), self.recipients.to_string()],
                vec![
                    "recipient hosts/domains".into(),
                    self.recipient_domains.to_string(),
                ],
                vec!["connections".into(), self.connections.to_string()],
                vec!["logins".into(), self.logins.to_string()],
                vec!["failed logins".into(), self.failed_logins.to_string()],
                vec![
                    "delivery delay".into(),
                    format!(
                        "median {:.1}s, 90% under {:.1}s, longest {:.1}s",
                        self.delay.median, self.delay.p90, self.delay.max
                    ),
                ],
            ],
        )?;
        section(out, "Per-hour traffic")?;
        let hours: Vec<Vec<String>> = self
            .per_hour
            .iter()
            .map(|h| {
                vec![
                    format!("{:02}00-{:02}00", h.hour, (h.hour + 1) % 24),
                    h.received.to_string(),
                    h.delivered.to_string(),
                    h.deferred.to_string(),
                    h.bounced.to_string(),
                    h.rejected.to_string(),
                ]
            })
            .collect();
        rows(
            out,
            &[
                "time",
                "received",
                "delivered",
                "deferred",
                "bounced",
                "rejected",
            ],
            &hours,
        )?;
        section(out, "Host/domain summary: message delivery")?;
        let domains: Vec<Vec<String>> = self
            .delivery_domains
            .iter()
            .map(|d| {
                vec![
                    d.domain.clone(),
                    d.delivered.to_string(),
                    bytes(d.bytes),
                    d.deferred.to_string(),
                    format!("{:.1}s", d.average_delay),
                    format!("{:.1}s", d.max_delay),
                ]
            })
            .collect();
        rows(
            out,
            &[
                "host/domain",
                "sent",
                "bytes",
                "defers",
                "avg delay",
                "max delay",
            ],
            &domains,
        )?;
        section(out, "Host/domain summary: messages received")?;
        counts(
            out,
            &["host/domain", "messages", "bytes"],
            &self.receiving_domains,
            true,
        )?;
        for (name, list, by_size) in [
            ("Senders by message count", &self.senders_by_count, false),
            (
                "Recipients by message count",
                &self.recipients_by_count,
                false,
            ),
            ("Senders by message size", &self.senders_by_size, true),
            ("Recipients by message size", &self.recipients_by_size, true),
        ] {
            section(out, &format!("{name} (top {TOP})"))?;
            let column = if by_size { "bytes" } else { "messages" };
            let shown: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    let n = if by_size {
                        bytes(c.bytes)
                    } else {
                        c.count.to_string()
                    };
                    vec![c.name.clone(), n]
                })
                .collect();
            rows(out, &["address", column], &shown)?;
        }
        for (name, list) in [
            ("Message deferral detail", &self.deferral_reasons),
            ("Message bounce detail", &self.bounce_reasons),
            ("Message reject detail", &self.reject_reasons),
        ] {
            section(out, name)?;
            counts(out, &["reason", "count"], list, false)?;
        }
        out.push_str("</body></html>\n");
        Ok(())
    }
}

fn section(out: &mut String, name: &str) -> std::fmt::Result {
    writeln!(
        out,
        "<h2 style=\"font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.4em\">{}</h2>",
        escape_html(name)
    )
}

/// A table of `header` and `rows` (first column left, the others right);
/// "none" when there are no rows.
fn rows(out: &mut String, header: &[&str], rows: &[Vec<String>]) -> std::fmt::Result {
    if rows.is_empty() {
        return writeln!(out, "<p>none</p>");
    }
    out.push_str("<table style=\"border-collapse:collapse\"><tr>");
    for h in header {
        write!(
            out,
            "<th style=\"padding:2px 10px;text-align:left\">{}</th>",
            escape_html(h)
        )?;
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let align = if i == 0 { "left" } else { "right" };
            write!(
                out,
                "<td style=\"padding:2px 10px;text-align:{align}\">{}</td>",
                escape_html(cell)
            )?;
        }
        out.push_str("</tr>\n");
    }
    writeln!(out, "</table>")
}

fn counts(out: &mut String, header: &[&str], list: &[Count], with_bytes: bool) -> std::fmt::Result {
    let shown: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let mut row = vec![c.name.clone(), c.count.to_string()];
            if with_bytes {
                row.push(bytes(c.bytes));
            }
            row
        })
        .collect();
    rows(out, header, &shown)
}

/// `text` with what HTML gives a meaning to written as entities (for the
/// web role's pages too).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, Kind};
    use crate::report::Report;

    #[test]
    fn the_html_report_has_every_section_and_escapes_what_senders_wrote() {
        let mut rejected = Event::new(Kind::Reject, "smtpd")
            .check("rcpt")
            .reason("550 5.1.1 <x@example.test>: Recipient address rejected: User unknown");
        rejected.at = 1;
        let mut accepted = Event::new(Kind::Accepted, "cleanup")
            .sender("a&b@remote.test")
            .size(2_000);
        accepted.at = 2;
        let html = Report::of(&[rejected, accepted], |_| 0).html("Mail report of mx <1>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            html.contains("<title>Mail report of mx &lt;1&gt;</title>"),
            "{html}"
        );
        for section in [
            "Grand totals",
            "Per-hour traffic",
            "Senders by message count (top 10)",
            "Message reject detail",
        ] {
            assert!(html.contains(section), "{section}");
        }
        assert!(
            html.contains("rcpt: 550 5.1.1 &lt;x@example.test&gt;: Recipient address rejected"),
            "{html}"
        );
        assert!(html.contains(">a&amp;b@remote.test<"), "{html}");
        assert!(
            html.contains(">rejected</td><td style=\"padding:2px 10px;text-align:right\">1 (50%)<"),
            "{html}"
        );
        assert!(!html.contains("<script"));
    }
}
