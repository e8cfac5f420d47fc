//! Mailgraph's graphs: mail sent through the node shows in `havre stats`
//! and at `/stats`, which a real browser (headless Chromium) draws: the
//! screenshot shows the graphs' colours. A corrupted series is named, the
//! other graphs still drawn.

use std::path::Path;
use std::process::Command;

use havre_testkit::{Havre, swaks};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// The GTUBE test string (SpamAssassin's).
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// The day graph's totals as `havre stats --json` prints them.
fn totals(node: &Havre) -> Value {
    let out = node.cli_ok(&["stats", "--json"]);
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["range"], "day");
    assert_eq!(doc["points"].as_array().map(Vec::len), Some(1440));
    doc["totals"].clone()
}

/// Waits until the events writer has put the counts in (it gathers a
/// quarter of a second of events per transaction).
fn wait_for_totals(node: &Havre, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let t = totals(node);
        if done(&t) || std::time::Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Pixels of the screenshot `png` close to `rgb` (within 40 per channel).
fn pixels_like(png: &Path, rgb: (u8, u8, u8)) -> usize {
    let mut decoder = png::Decoder::new(std::fs::File::open(png).expect("screenshot"));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let samples = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(samples)
        .filter(|p| {
            p.len() >= 3
                && p[0].abs_diff(rgb.0) <= 40
                && p[1].abs_diff(rgb.1) <= 40
                && p[2].abs_diff(rgb.2) <= 40
        })
        .count()
}

#[test]
fn mail_sent_through_the_node_shows_in_havre_stats_and_in_the_graphs_a_browser_draws() {
    let node = Havre::started(BIN, &["alice@example.test"], |n| {
        n.set("spam.enabled", "true");
    });
    for _ in 0..2 {
        let (sent, out) = node.send_to_mx("alice@example.test");
        assert!(sent, "{out}");
    }
    let (sent, out) = node.send_to_mx("nobody@example.test");
    assert!(!sent && out.contains("550"), "{out}");
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "alice@example.test",
        "--body",
        GTUBE,
    ]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("554 5.7.1 Spam message rejected"), "{out}");
    node.wait_for_messages("alice@example.test", 2);
    node.wait_for_empty_queue();
    // What the spam filter called spam: GTUBE, and any test message it
    // tagged (their headers are few).
    let log = node.log();
    let spam = log
        .lines()
        .filter(|l| {
            l.contains("spam: score")
                && (l.contains("action reject") || l.contains("action add header"))
        })
        .count() as u64;
    assert!(spam >= 1, "{log}");

    let totals = wait_for_totals(&node, |t| t["sent"] == 2 && t["rejected"] == 2);
    assert_eq!(totals["received"], 2, "{totals}");
    assert_eq!(totals["sent"], 2, "{totals}");
    assert_eq!(
        totals["rejected"], 2,
        "the unknown user and GTUBE: {totals}"
    );
    assert_eq!(totals["spam"], spam, "{totals}");
    assert_eq!(totals["virus"], 0, "{totals}");
    let text = node.cli_ok(&["stats"]);
    assert!(
        text.contains("Mail graphs of mx.example.test, last day (1-minute steps"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("sent") && l.contains(" 2 ") && l.contains('█')),
        "{text}"
    );
    let week = node.cli_ok(&["stats", "--range", "week"]);
    assert!(week.contains("last week (10-minute steps"), "{week}");

    let (code, page) = node.http_get("/stats");
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        page.matches("<svg").count(),
        8,
        "two graphs for each of 4 ranges"
    );
    assert!(!page.contains("<script"), "readable without JavaScript");

    // A real browser draws the page: the screenshot has the blue of the
    // "sent" area and the red of the "rejected" one.
    let shot = node.dir().join("stats.png");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=900,1400",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{}/stats", node.http_port))
        .env("HOME", node.dir())
        .output()
        .expect("run chromium");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blue = pixels_like(&shot, (0x00, 0x00, 0x99));
    let red = pixels_like(&shot, (0xAA, 0x00, 0x00));
    assert!(
        blue > 20 && red > 20,
        "sent {blue} px, rejected {red} px in {}",
        shot.display()
    );
}

#[test]
fn a_corrupted_series_is_named_and_the_other_graphs_are_still_drawn() {
    let node = Havre::started(BIN, &["alice@example.test"], |_| {});
    let (sent, out) = node.send_to_mx("alice@example.test");
    assert!(sent, "{out}");
    wait_for_totals(&node, |t| t["sent"] == 1);
    // A week slot whose count went negative (a disk error, a hand edit).
    let db = node.data_dir().join("events.sqlite");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             c.execute('UPDATE series SET sent = -5 WHERE range = 1'); c.commit()",
        ])
        .arg(&db)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = node.cli(&["stats", "--range", "week"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the week graph's series is corrupted: slot")
            && err.contains("its sent count is -5"),
        "{err}"
    );
    // The day graph is fine.
    assert!(node.cli(&["stats"]).status.success());
    let (code, page) = node.http_get("/stats");
    assert_eq!(code, 200, "{page}");
    assert_eq!(page.matches("<svg").count(), 6, "{page}");
    assert!(
        page.contains("<p class=\"error\">events database: the week graph's series is corrupted"),
        "{page}"
    );
    assert!(
        node.log()
            .contains("/stats: events database: the week graph's series is corrupted")
    );
    // Mail still flows.
    let (sent, out) = node.send_to_mx("alice@example.test");
    assert!(sent, "{out}");
}
