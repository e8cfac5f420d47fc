//! Measures `analyze` over folders of messages (one file each):
//! `cargo run --release -p havre-content --example analyze_corpus -- DIR...`
//! (default: the spam-train ham and spam folders). Prints messages per
//! second and CPU time per message on one core, and what was found.

use std::path::PathBuf;
use std::time::Instant;

use havre_content::{Limits, analyze};

fn main() {
    let mut dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        let base = PathBuf::from("/work/shared/data/spam-train");
        dirs = vec![base.join("ham"), base.join("spam")];
    }
    let mut messages = Vec::new();
    let mut folders = Vec::new();
    for dir in &dirs {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        let first = messages.len();
        for path in entries {
            messages.push(std::fs::read(&path).unwrap());
        }
        folders.push((dir.display().to_string(), first..messages.len()));
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let limits = Limits::default();

    // One pass to warm up and show, per folder, how often each fact is
    // seen (what a scorer could weigh).
    for (name, range) in &folders {
        let mut facts: Vec<(&str, usize)> = Vec::new();
        let mut count =
            |fact: &'static str, seen: bool| match facts.iter_mut().find(|(f, _)| *f == fact) {
                Some((_, n)) => *n += usize::from(seen),
                None => facts.push((fact, usize::from(seen))),
            };
        for raw in &messages[range.clone()] {
            let c = analyze(raw, &limits);
            count("html_only", c.html.html_only);
            count("hidden_text", c.html.hidden_chars > 0);
            count(
                "link_text_other_host",
                c.html.links.iter().any(|l| l.text_names_other_host()),
            );
            count("mostly_images", c.html.mostly_images);
            count("capitals>50%", c.letters > 50 && c.capital_ratio() > 0.5);
            count("text_base64", c.encoding.text_base64 > 0);
            count("qp_ratio>20%", c.encoding.qp_max_encoded_ratio > 0.2);
            count(
                "broken_encoding",
                c.encoding.broken_base64 + c.encoding.broken_qp > 0,
            );
            count("unknown_charset", !c.encoding.unknown_charsets.is_empty());
            count("undeclared_8bit", c.encoding.undeclared_8bit > 0);
            count("header_8bit", c.encoding.header_8bit);
            count("attachment", !c.attachments.is_empty());
            count(
                "executable",
                c.attachments
                    .iter()
                    .any(|a| a.sniffed.is_some_and(|t| t.is_executable())),
            );
            count("no_date", c.date_timestamp.is_none());
            count("no_message_id", c.message_id().is_none());
            count("limit_hit", c.limits_hit.any());
        }
        let shown: Vec<String> = facts.iter().map(|(f, n)| format!("{f} {n}")).collect();
        println!("{name} ({} messages): {}", range.len(), shown.join(", "));
    }

    let rounds = 5;
    let start = Instant::now();
    let cpu_start = cpu_time();
    let mut text_bytes = 0usize;
    for _ in 0..rounds {
        for raw in &messages {
            text_bytes += analyze(raw, &limits).text.len();
        }
    }
    let cpu = cpu_time() - cpu_start;
    let elapsed = start.elapsed().as_secs_f64();
    let n = messages.len() * rounds;
    println!(
        "{} messages ({:.1} KiB on average), {rounds} rounds: {:.1} µs of CPU per message \
         ({:.0} msgs/s per core, {:.0} MB/s); wall {:.1} µs per message",
        messages.len(),
        bytes as f64 / messages.len() as f64 / 1024.0,
        cpu * 1e6 / n as f64,
        n as f64 / cpu,
        (bytes * rounds) as f64 / cpu / 1e6,
        elapsed * 1e6 / n as f64,
    );
    println!("{} text bytes per message", text_bytes / n);
}

/// CPU seconds used by this process so far.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
