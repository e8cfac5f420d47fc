//! Nothing accepted is ever lost, nothing is delivered twice: kill -9 in the
//! middle of a flood, restart, count.

use std::time::{Duration, Instant};

use havre_testkit::{Havre, python};

#[path = "support/flood.rs"]
mod flood;
use flood::{FLOOD, each_acknowledged_token_delivered_once};

#[test]
fn every_message_that_got_250_is_delivered_exactly_once_after_kill_9() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let ack = node.dir().join("acked.txt");
    let port = node.smtp_port.to_string();
    let ack_arg = ack.display().to_string();
    let flood = std::thread::spawn(move || python(FLOOD, &[&port, &ack_arg, "60", "8", "2"]));

    // Kill while messages are both arriving and being delivered.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let acked = std::fs::read_to_string(&ack)
            .unwrap_or_default()
            .lines()
            .count();
        if acked >= 80 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {acked} messages acknowledged in 60s:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill9();
    // Let the clients notice, then bring the node back while some still send.
    std::thread::sleep(Duration::from_millis(300));
    node.start();
    let out = flood.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second crash, this time with deliveries of recovered mail under way.
    node.kill9();
    node.start();
    node.wait_for_empty_queue();

    let (acked, _) = each_acknowledged_token_delivered_once(&node, &ack);
    assert!(acked.len() >= 80);
    // Spool files of unacknowledged messages were swept, not left behind.
    assert_eq!(node.spool_files("tmp"), 0);
}
