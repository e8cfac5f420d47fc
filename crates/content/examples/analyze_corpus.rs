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
    for dir in &dirs {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for path in entries {
            messages.push(std::fs::read(&path).unwrap());
        }
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let limits = Limits::default();

    // One pass to warm up and count what was found.
    let (mut html_only, mut attachments, mut hosts, mut hit) = (0, 0, 0, 0);
    for raw in &messages {
        let c = analyze(raw, &limits);
        html_only += usize::from(c.html.html_only);
        attachments += c.attachments.len();
        hosts += c.url_hosts.len();
        hit += usize::from(c.limits_hit.any());
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
    println!(
        "found: {html_only} HTML-only, {attachments} attachments, {hosts} URL hosts, {hit} with a limit hit; {} text bytes per message",
        text_bytes / n
    );
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
