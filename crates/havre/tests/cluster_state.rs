//! Nodes sharing one Redis (`state.backend = "redis"`): a limit holds
//! across them together, and a node whose Redis does not answer does not
//! start. Redis is the machine's (127.0.0.1:6379; the test command starts
//! one when none runs); each test has its own `state.prefix`.

use havre_testkit::Havre;
use havre_testkit::cluster::{redis_prefix, redis_url};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// A node with the student account, on the shared Redis under `prefix`.
fn node(prefix: &str) -> Havre {
    let mut node = Havre::init(BIN);
    node.set("state.url", &format!("{:?}", redis_url()));
    node.set("state.backend", "\"redis\"");
    node.set("state.prefix", &format!("{prefix:?}"));
    student::add_student(&node);
    node.add_user("alice@example.test");
    node.start();
    node
}

#[path = "support/student.rs"]
mod student;

#[test]
fn a_students_11th_message_in_a_minute_is_deferred_though_it_went_through_another_node() {
    let shared = redis_prefix("rate");
    let a = node(&shared);
    let b = node(&shared);
    student::ten_a_minute_hold_across(&a, &b);
}

#[test]
fn a_node_whose_redis_does_not_answer_says_so_and_does_not_start() {
    let mut node = Havre::init(BIN);
    node.set("state.url", "\"redis://127.0.0.1:1/0\"");
    node.set("state.backend", "\"redis\"");
    let err = node.start_refused();
    assert!(
        err.contains("cannot reach the state's Redis at redis://127.0.0.1:1/0 (state.url)"),
        "{err}"
    );
    // Without a URL the configuration is refused before anything starts.
    let bare = Havre::init(BIN);
    let out = bare.cli(&["config", "set", "state.backend", "\"redis\""]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state.url") && err.contains("must be set for state.backend = \"redis\""),
        "{err}"
    );
}
