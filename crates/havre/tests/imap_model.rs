//! Many sessions on one mailbox, checked against a model (imap_model.py): a
//! phone and a laptop on the same INBOX, times ten.
//!
//! The run is short in `scripts/test`; run it longer or replay a failure by
//! hand: `HAVRE_MODEL_SECONDS=120 HAVRE_MODEL_SEED=1234 cargo nextest run -p
//! havre --test imap_model`.

use havre_testkit::{Havre, python};

const MODEL: &str = include_str!("imap_model.py");

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn ten_sessions_on_one_mailbox_agree_with_the_model_and_lose_no_update() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Ten sessions, the setup one and the fresh one that checks the end.
    node.set("imap.max_connections_per_user", "100");
    node.start();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let seed = setting(
        "HAVRE_MODEL_SEED",
        now.map(|d| u64::from(d.subsec_nanos())).unwrap_or(1),
    );
    let seconds = setting("HAVRE_MODEL_SECONDS", 8);
    let sessions = setting("HAVRE_MODEL_SESSIONS", 10);
    let out = python(
        MODEL,
        &[
            &node.imaps_port.to_string(),
            &seed.to_string(),
            &seconds.to_string(),
            &sessions.to_string(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "replay with HAVRE_MODEL_SEED={seed}:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
}
