//! `[guard]`: Fail2ban's defaults, what an operator writes, and what they
//! are told when a value cannot work.

use havre_config::{Duration, show_defaults};

mod common;
use common::{config, error_of};

#[test]
fn the_defaults_ban_after_10_failed_logins_in_10_minutes_for_an_hour() {
    let shown = show_defaults();
    for (key, value) in [
        ("guard.enabled", "true"),
        ("guard.max_failures", "10"),
        ("guard.find_time", "\"10m\""),
        ("guard.ban_time", "\"1h\""),
        ("guard.connections_warn", "500"),
        ("guard.connections_ban", "2500"),
        (
            "guard.exempt",
            "[\"127.0.0.0/8\", \"::1/128\", \"relay.internal_networks\"]",
        ),
    ] {
        assert!(
            shown.contains(&(key.into(), value.into())),
            "{key} = {value} in {shown:?}"
        );
    }
}

#[test]
fn an_operator_sets_limits_and_an_empty_exempt_list() {
    let cfg = config(
        "[guard]\nmax_failures = 3\nfind_time = \"1m\"\nban_time = \"2d\"\n\
         exempt = []\nconnections_ban = 0\n",
    );
    assert_eq!(cfg.guard.max_failures, 3);
    assert_eq!(cfg.guard.find_time, Duration::from_secs(60));
    assert_eq!(cfg.guard.ban_time, Duration::from_secs(2 * 86_400));
    assert!(cfg.guard.exempt.is_empty(), "[] exempts no one");
    assert_eq!(cfg.guard.connections_ban, 0);
    let cfg = config("[guard]\nexempt = [\"192.0.2.0/24\", \"relay.internal_networks\"]\n");
    assert_eq!(cfg.guard.exempt.len(), 2);
}

#[test]
fn guard_values_that_cannot_work_are_refused_with_their_key() {
    let cases = [
        (
            "[guard]\nfind_time = \"0s\"\n",
            "guard.find_time: must be longer than 0s",
        ),
        (
            "[guard]\nban_time = 0\n",
            "guard.ban_time: must be longer than 0s",
        ),
        (
            "[guard]\nconnections_warn = 3000\n",
            "guard.connections_warn: must be below guard.connections_ban (2500)",
        ),
        (
            "[guard]\nexempt = [\"mynetworks\"]\n",
            "guard.exempt: expected a network like \"192.0.2.0/24\", an address, or \"relay.internal_networks\", found \"mynetworks\"",
        ),
        (
            "[guard]\nexempt = [\"10.0.0.0/33\"]\n",
            "guard.exempt: expected a network",
        ),
        ("[guard]\nmax_failures = -1\n", "guard.max_failures"),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
}
