//! How often each symbol matches in folders of ham and spam, scored
//! offline (no DNS, no Bayes): a check of the rules' weights against a
//! labelled corpus.
//!
//! ```text
//! cargo run --release -p havre-filter --example symbol_rates -- HAM_DIR SPAM_DIR
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use havre_filter::{Envelope, Settings, score};

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ham, spam] = &args[..] else {
        eprintln!("usage: symbol_rates HAM_DIR SPAM_DIR");
        std::process::exit(2);
    };
    let settings = Settings::default();
    // symbol -> (ham hits, spam hits)
    let mut hits: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut totals = [0usize; 2];
    let mut above = [0usize; 2];
    let started = std::time::Instant::now();
    for (class, dir) in [ham, spam].into_iter().enumerate() {
        for path in files(Path::new(dir)) {
            let raw = std::fs::read(&path).unwrap();
            let content = havre_content::analyze(&raw, &settings.limits);
            let envelope = Envelope::from_message(&content);
            let s = score(&content, &envelope, &settings, None, Vec::new());
            totals[class] += 1;
            if s.total > settings.junk_above {
                above[class] += 1;
            }
            for hit in &s.symbols {
                let entry = hits.entry(hit.name).or_default();
                if class == 0 {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!("{:<28} {:>7} {:>7}", "symbol", "ham %", "spam %");
    for (name, (h, s)) in &hits {
        println!(
            "{name:<28} {:>7.2} {:>7.2}",
            pct(*h, totals[0]),
            pct(*s, totals[1])
        );
    }
    println!(
        "above junk_above: ham {:.2}% spam {:.2}%; {} messages in {:.2?} ({:.0} us each)",
        pct(above[0], totals[0]),
        pct(above[1], totals[1]),
        totals[0] + totals[1],
        elapsed,
        elapsed.as_micros() as f64 / (totals[0] + totals[1]).max(1) as f64
    );
}
