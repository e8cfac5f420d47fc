//! The guard with a manual clock: what gets an address banned, for how
//! long, what never does, and how bans made elsewhere reach the gates.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use havre_guard::{Guard, GuardSettings, Offence, Service, add_ban, list_bans, remove_ban};
use havre_net::Screen;
use havre_state::{EmbeddedState, ManualClock, State};

const MINUTE: Duration = Duration::from_secs(60);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Node {
    clock: Arc<ManualClock>,
    state: Arc<EmbeddedState>,
    guard: Guard,
}

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

async fn node(settings: GuardSettings) -> Node {
    let clock = Arc::new(ManualClock::new(start()));
    let state = Arc::new(EmbeddedState::memory_with_clock(clock.clone()));
    let guard = Guard::open_with_clock(settings, state.clone(), clock.clone())
        .await
        .unwrap();
    Node {
        clock,
        state,
        guard,
    }
}

async fn fail(guard: &Guard, who: IpAddr, service: Service, times: usize) -> Option<SystemTime> {
    let mut last = None;
    for _ in 0..times {
        last = guard.record(who, Offence::FailedLogin(service)).await;
    }
    last
}

#[tokio::test]
async fn ten_failed_logins_in_ten_minutes_ban_the_address_for_an_hour_on_every_protocol() {
    let n = node(GuardSettings::default()).await;
    let guesser = ip("192.0.2.5");
    assert_eq!(fail(&n.guard, guesser, Service::Smtp, 4).await, None);
    n.clock.advance(5 * MINUTE);
    assert_eq!(fail(&n.guard, guesser, Service::Imap, 5).await, None);
    assert!(n.guard.banned(guesser).is_none(), "9 failures are not 10");
    let until = fail(&n.guard, guesser, Service::Imap, 1).await;
    let hour_from_now = start() + 5 * MINUTE + Duration::from_secs(3600);
    assert_eq!(until, Some(hour_from_now));
    assert_eq!(n.guard.banned(guesser), Some(hour_from_now));
    assert_eq!(n.guard.screen(guesser), Err(hour_from_now));
    assert!(
        n.guard.screen(ip("192.0.2.6")).is_ok(),
        "other addresses pass"
    );
    let bans = list_bans(&*n.state).await.unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].ip, guesser);
    assert_eq!(bans[0].reason, "10 failed logins in 10m (smtp 4, imap 6)");
    assert_eq!(bans[0].until, hour_from_now);

    n.clock.advance(Duration::from_secs(3600));
    assert_eq!(n.guard.banned(guesser), None, "a ban expires");
    assert!(n.guard.screen(guesser).is_ok());
    n.guard.refresh().await.unwrap();
    assert!(list_bans(&*n.state).await.unwrap().is_empty());
}

#[tokio::test]
async fn failures_spread_wider_than_the_find_time_do_not_ban() {
    let n = node(GuardSettings::default()).await;
    let user = ip("192.0.2.7");
    assert_eq!(fail(&n.guard, user, Service::Pop3, 9).await, None);
    n.clock.advance(10 * MINUTE);
    assert_eq!(fail(&n.guard, user, Service::Pop3, 9).await, None);
    assert!(n.guard.banned(user).is_none());
}

#[tokio::test]
async fn a_dictionary_attack_and_bad_commands_have_limits_of_their_own() {
    let n = node(GuardSettings {
        max_unknown_recipients: 3,
        max_protocol_errors: 4,
        ..GuardSettings::default()
    })
    .await;
    let harvester = ip("192.0.2.8");
    for _ in 0..2 {
        assert_eq!(
            n.guard.record(harvester, Offence::UnknownRecipient).await,
            None
        );
    }
    assert!(
        n.guard
            .record(harvester, Offence::UnknownRecipient)
            .await
            .is_some()
    );
    let scanner = ip("2001:db8::9");
    for service in [Service::Smtp, Service::Smtp, Service::Imap] {
        assert_eq!(
            n.guard
                .record(scanner, Offence::ProtocolError(service))
                .await,
            None
        );
    }
    assert!(
        n.guard
            .record(scanner, Offence::ProtocolError(Service::Pop3))
            .await
            .is_some()
    );
    let reasons: Vec<String> = list_bans(&*n.state)
        .await
        .unwrap()
        .into_iter()
        .map(|b| format!("{}: {}", b.ip, b.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            "192.0.2.8: 3 unknown recipients in 10m",
            "2001:db8::9: 4 bad commands in 10m (smtp 2, imap 1, pop3 1)"
        ]
    );
}

#[tokio::test]
async fn the_hourly_connection_rule_bans_at_its_limit() {
    let n = node(GuardSettings {
        connections_warn: 3,
        connections_ban: 5,
        ..GuardSettings::default()
    })
    .await;
    let busy = ip("192.0.2.10");
    for _ in 0..4 {
        assert_eq!(n.guard.record(busy, Offence::Connection).await, None);
    }
    n.clock.advance(59 * MINUTE);
    assert!(n.guard.record(busy, Offence::Connection).await.is_some());
    let bans = list_bans(&*n.state).await.unwrap();
    assert_eq!(bans[0].reason, "5 connections in 1h");

    let steady = ip("192.0.2.11");
    for _ in 0..4 {
        n.guard.record(steady, Offence::Connection).await;
    }
    n.clock.advance(60 * MINUTE);
    for _ in 0..4 {
        assert_eq!(n.guard.record(steady, Offence::Connection).await, None);
    }
}

#[tokio::test]
async fn the_gate_counts_connections_through_the_screen() {
    let n = node(GuardSettings {
        connections_warn: 0,
        connections_ban: 3,
        ..GuardSettings::default()
    })
    .await;
    let busy = ip("192.0.2.12");
    let mut refused = false;
    for _ in 0..50 {
        if n.guard.screen(busy).is_err() {
            refused = true;
            break;
        }
        // The count runs on a task of its own.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the third connection bans, the next is refused");
}

#[tokio::test]
async fn an_exempt_address_is_never_counted_nor_refused() {
    let n = node(GuardSettings {
        exempt: vec!["192.0.2.0/24".parse().unwrap()],
        ..GuardSettings::default()
    })
    .await;
    let office = ip("192.0.2.20");
    assert_eq!(fail(&n.guard, office, Service::Imap, 30).await, None);
    assert!(n.state.list("guard:").await.unwrap().is_empty());
    add_ban(
        &*n.state,
        office,
        Duration::from_secs(60),
        "by hand",
        start(),
    )
    .await
    .unwrap();
    n.guard.refresh().await.unwrap();
    assert!(n.guard.screen(office).is_ok(), "exemption wins over a ban");
    assert!(
        n.guard.screen(ip("::ffff:192.0.2.20")).is_ok(),
        "an IPv4-mapped address is the IPv4 address"
    );
}

#[tokio::test]
async fn a_disabled_guard_or_a_zero_limit_bans_no_one() {
    let n = node(GuardSettings {
        max_failures: 0,
        ..GuardSettings::default()
    })
    .await;
    let who = ip("192.0.2.30");
    assert_eq!(fail(&n.guard, who, Service::Smtp, 20).await, None);
    add_ban(&*n.state, who, Duration::from_secs(60), "by hand", start())
        .await
        .unwrap();
    n.guard.refresh().await.unwrap();
    assert!(n.guard.screen(who).is_err());
    n.guard.apply(GuardSettings::off());
    assert!(n.guard.screen(who).is_ok(), "off: bans are not applied");
    assert_eq!(n.guard.record(who, Offence::UnknownRecipient).await, None);
    assert!(Guard::off().screen(who).is_ok());
}

#[tokio::test]
async fn bans_made_elsewhere_reach_the_gates_at_the_next_refresh_and_lifted_ones_go() {
    let n = node(GuardSettings::default()).await;
    let who = ip("192.0.2.40");
    add_ban(
        &*n.state,
        who,
        Duration::from_secs(120),
        "havre ban add",
        start(),
    )
    .await
    .unwrap();
    assert!(n.guard.screen(who).is_ok(), "not before the refresh");
    n.guard.refresh().await.unwrap();
    assert_eq!(n.guard.screen(who), Err(start() + Duration::from_secs(120)));
    assert!(remove_ban(&*n.state, who).await.unwrap());
    n.guard.refresh().await.unwrap();
    assert!(n.guard.screen(who).is_ok());
}

#[tokio::test]
async fn after_a_ban_is_lifted_the_count_starts_again() {
    let n = node(GuardSettings::default()).await;
    let who = ip("192.0.2.50");
    assert!(fail(&n.guard, who, Service::Smtp, 10).await.is_some());
    remove_ban(&*n.state, who).await.unwrap();
    n.guard.refresh().await.unwrap();
    assert_eq!(fail(&n.guard, who, Service::Smtp, 9).await, None);
    assert!(fail(&n.guard, who, Service::Smtp, 1).await.is_some());
}

#[tokio::test]
async fn a_ban_survives_a_restart_and_expires_while_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let clock = Arc::new(ManualClock::new(start()));
    let who = ip("192.0.2.60");
    {
        let state = Arc::new(
            EmbeddedState::open_with_clock(&path, clock.clone())
                .await
                .unwrap(),
        );
        let guard = Guard::open_with_clock(GuardSettings::default(), state, clock.clone())
            .await
            .unwrap();
        assert!(fail(&guard, who, Service::Imap, 10).await.is_some());
    }
    let reopen = || async {
        let state = Arc::new(
            EmbeddedState::open_with_clock(&path, clock.clone())
                .await
                .unwrap(),
        );
        Guard::open_with_clock(GuardSettings::default(), state, clock.clone())
            .await
            .unwrap()
    };
    let guard = reopen().await;
    assert!(guard.screen(who).is_err(), "still banned after a restart");
    drop(guard);
    clock.advance(Duration::from_secs(3600));
    let guard = reopen().await;
    assert!(guard.screen(who).is_ok(), "expired while stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offences_counted_at_once_each_keep_their_service_s_share() {
    // The first offence of a window sets every service's share to 0: one
    // counted at the same moment on another thread must not be wiped.
    let n = node(GuardSettings {
        max_protocol_errors: 2,
        ..GuardSettings::default()
    })
    .await;
    let guard = Arc::new(n.guard);
    for round in 0..500 {
        let who = ip(&format!("198.51.{}.{}", round / 256, round % 256));
        let both: Vec<_> = (0..2)
            .map(|_| {
                let guard = guard.clone();
                tokio::spawn(async move {
                    guard
                        .record(who, Offence::ProtocolError(Service::Imap))
                        .await
                })
            })
            .collect();
        for one in both {
            one.await.unwrap();
        }
    }
    for ban in list_bans(&*n.state).await.unwrap() {
        assert_eq!(ban.reason, "2 bad commands in 10m (imap 2)", "{}", ban.ip);
    }
    assert_eq!(list_bans(&*n.state).await.unwrap().len(), 500);
}
