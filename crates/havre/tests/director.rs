//! The director on loopback: three mailbox backends on 127.0.0.2, .3 and
//! .4 (the same IMAP port on each, so a backend is named by its address),
//! directors on 127.0.0.1, all sharing one PostgreSQL (a schema of the
//! test's own), one Redis (a key prefix of its own), one mail directory
//! and one cluster secret. Users log in at the directors; every session of
//! a user lands on one backend, which the backends' own login lines show.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use havre_testkit::cluster::{PostgresSchema, redis_prefix};
use havre_testkit::{FROM_ADDRESS_PRELUDE, Havre, free_port, python_ok};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

#[path = "support/lmtp_once.rs"]
mod lmtp_once;
#[path = "support/mbsync.rs"]
mod mbsync;
const BACKENDS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

struct Site {
    backends: Vec<Havre>,
    directors: Vec<Havre>,
    /// The IMAP and LMTP ports every backend listens on.
    imap: u16,
    lmtp: u16,
    /// Dropped after the nodes (fields drop in order).
    _schema: PostgresSchema,
    _shared: tempfile::TempDir,
}

/// What every node of the site shares: store, state (and with it the
/// cluster's secret: no `director.secret_file`, no
/// `director.trusted_networks`, the defaults an acceptance check keeps),
/// mail.
fn join(node: &mut Havre, id: u8, schema: &PostgresSchema, prefix: &str, shared: &std::path::Path) {
    node.join_cluster(id, schema.url(), prefix, &shared.join("mail"));
    node.set("director.probe_interval", "\"1s\"");
    node.set("director.connect_timeout", "\"2s\"");
}

/// The site: `users` made once, three backends, `directors` directors,
/// the backends added with `havre director add`.
fn site(users: &[String], directors: u8) -> Site {
    site_with(users, directors, |_, _, _| {})
}

/// What a node of the site is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tier {
    Backend,
    Director,
}

/// [`site`], each node configured by `configure` before it starts (given
/// the site's shared directory, where `secret` is a cluster secret file,
/// and what the node is).
fn site_with(
    users: &[String],
    directors: u8,
    configure: impl Fn(&mut Havre, &std::path::Path, Tier),
) -> Site {
    let schema = PostgresSchema::create_blocking().unwrap();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(
        shared.path().join("secret"),
        "4b1d0c3e9f2a7d6e5c8b0a1f3e2d4c6b\n",
    )
    .unwrap();
    let prefix = redis_prefix("director");
    let (imap, pop3, sieve, lmtp) = (free_port(), free_port(), free_port(), free_port());
    let mut backends = Vec::new();
    for (n, address) in BACKENDS.iter().enumerate() {
        let mut node = Havre::init(BIN);
        join(&mut node, n as u8 + 1, &schema, &prefix, shared.path());
        node.set("imap.listen", &format!("[\"{address}:{imap}\"]"));
        node.set("lmtp.listen", &format!("[\"{address}:{lmtp}\"]"));
        node.set("pop3.listen", &format!("[\"{address}:{pop3}\"]"));
        node.set("managesieve.listen", &format!("[\"{address}:{sieve}\"]"));
        configure(&mut node, shared.path(), Tier::Backend);
        if n == 0 {
            for user in users {
                node.add_user(user);
            }
            node.add_user("probe@example.test");
        }
        node.start();
        backends.push(node);
    }
    let mut list = Vec::new();
    for n in 0..directors {
        let mut node = Havre::init(BIN);
        join(&mut node, 10 + n, &schema, &prefix, shared.path());
        node.set("server.roles", "[\"director\"]");
        configure(&mut node, shared.path(), Tier::Director);
        // The first director as the acceptance layout runs one: on
        // 127.0.0.1 with the backends' ports, which it reaches them on
        // without `director.backend_ports`; the others on ports of their
        // own, and told the backends'.
        if n == 0 {
            node.imap_port = imap;
            node.lmtp_port = lmtp;
            node.pop3_port = pop3;
            node.managesieve_port = sieve;
            for (key, port) in [
                ("imap", imap),
                ("lmtp", lmtp),
                ("pop3", pop3),
                ("managesieve", sieve),
            ] {
                node.set(&format!("{key}.listen"), &format!("[\"127.0.0.1:{port}\"]"));
            }
            node.start();
            if node.imap_port == imap {
                list.push(node);
                continue;
            }
            // Another test took one of those ports on 127.0.0.1 meanwhile
            // (the testkit moved it to new ones): told the backends' then.
            node.stop();
        }
        node.set("director.backend_ports.imap", &imap.to_string());
        node.set("director.backend_ports.lmtp", &lmtp.to_string());
        node.set("director.backend_ports.pop3", &pop3.to_string());
        node.set("director.backend_ports.managesieve", &sieve.to_string());
        node.start();
        list.push(node);
    }
    for address in BACKENDS {
        let out = list[0].cli_ok(&["director", "add", address]);
        assert!(out.contains(&format!("backend {address} added")), "{out}");
    }
    Site {
        backends,
        directors: list,
        imap,
        lmtp,
        _schema: schema,
        _shared: shared,
    }
}

/// Logs in as each user (`argv[2]`, comma-separated) at each director port
/// (`argv[1]`, comma-separated), every session open at once; selects
/// INBOX and prints `user port EXISTS-count`, then logs out.
const EVERY_USER_AT_EVERY_DIRECTOR: &str = r#"
import imaplib, ssl, sys
ports = [int(p) for p in sys.argv[1].split(",")]
users = sys.argv[2].split(",")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sessions = []
for user in users:
    for port in ports:
        m = imaplib.IMAP4("127.0.0.1", port)
        m.starttls(ssl_context=ctx)
        m.login(user, "secret")
        typ, data = m.select("INBOX")
        sessions.append((user, port, m))
        print(user, port, typ, data[0].decode())
for user, port, m in sessions:
    m.noop()
    m.logout()
"#;

/// The backend (its address) whose log shows each user's logins made by a
/// director; a user found on two backends is a failure.
fn logins_by_backend(site: &Site) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut found: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for (node, address) in site.backends.iter().zip(BACKENDS) {
        for line in node.log().lines() {
            if let Some(rest) = line.split("Login: user=<").nth(1)
                && line.contains("method=director")
                && let Some(user) = rest.split('>').next()
                && user != "probe@example.test"
            {
                found.entry(user.to_string()).or_default().insert(address);
            }
        }
    }
    found
}

fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn thirty_users_through_two_directors_and_their_mail_through_the_mx_each_stay_on_one_backend() {
    let users: Vec<String> = (1..=30)
        .map(|n| format!("student{n}@example.test"))
        .collect();
    // Each director relays about ten sessions to each backend, all from
    // its one address: a backend's cap per client address is not for it.
    let site = site_with(&users, 2, |node, _, tier| {
        if tier == Tier::Backend {
            node.set("imap.max_connections_per_ip", "4");
        }
        // Probes that log in as a user of the site (the others here use
        // the cluster's probe login).
        if tier == Tier::Director {
            node.set("director.probe_user", "\"probe@example.test\"");
        }
    });
    let status = site.directors[1].cli_ok(&["director", "status"]);
    for address in BACKENDS {
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(address) && l.contains(" up ")),
            "{status}"
        );
    }
    let ports = format!(
        "{},{}",
        site.directors[0].imap_port, site.directors[1].imap_port
    );
    let out = python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&ports, &users.join(",")]);
    assert_eq!(
        out.lines().filter(|l| l.contains(" OK ")).count(),
        60,
        "{out}"
    );
    let found = logins_by_backend(&site);
    assert_eq!(found.len(), 30, "{found:?}");
    for (user, backends) in &found {
        assert_eq!(backends.len(), 1, "{user} on {backends:?}");
        // `havre director map` says the same, on either director.
        let map = site.directors[0].cli_ok(&["director", "map", user]);
        let on = backends.iter().next().unwrap();
        assert!(
            map.contains(&format!("backend:  {on} (assigned until")),
            "{map}"
        );
    }
    // The ring spreads them: every backend has some.
    let used: BTreeSet<&str> = found.values().flatten().copied().collect();
    assert_eq!(used.len(), 3, "{found:?}");
    // The site's MX hands each of them a message through the second
    // director's LMTP: it lands on the backend her sessions are on.
    let mx = mx_for(&site, &site.directors[1]);
    let (accepted, transcript) = mx.send_to_mx(&users.join(","));
    assert!(accepted, "{transcript}");
    mx.wait_for_empty_queue();
    for user in &users {
        assert_eq!(inbox(&site, user), 1, "{user}: {}", mx.log());
        wait_until(
            Duration::from_secs(10),
            "the backend's delivery line",
            || !delivered_on(&site, user).is_empty(),
        );
        let on: BTreeSet<&str> = delivered_on(&site, user).into_iter().collect();
        assert_eq!(on, found[user], "{user}");
    }
}

#[test]
fn a_session_that_outlives_its_kick_is_closed_and_never_pins_her_to_the_backend_she_left() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    let backend_of_alice = || {
        let map = director.cli_ok(&["director", "map", "alice@example.test"]);
        map.lines()
            .find_map(|l| l.strip_prefix("backend:  "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string()
    };
    let mut left = String::new();
    let out = while_connected(MOVED_WHILE_CONNECTED, &[&port], || {
        left = backend_of_alice();
        // What a flush does to her (her backend takes no one, her
        // assignment dropped), with its kick lost on the way: her session
        // stays open on the backend she was sent away from.
        director.cli_ok(&["director", "down", &left]);
        let key = format!("{}director:user:alice@example.test", site_prefix(&site));
        let del = std::process::Command::new("redis-cli")
            .args(["-u", &havre_testkit::cluster::redis_url(), "DEL", &key])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&del.stdout).trim(), "1");
        // The director's look at its sessions closes it: renewing it
        // must not bring her assignment back.
        wait_until(Duration::from_secs(10), "her session closed", || {
            director
                .log()
                .contains("user=<alice@example.test> was sent away from")
        });
    });
    assert!(
        out.contains("heard: * BYE Disconnected by the administrator."),
        "{out}"
    );
    assert!(out.contains("second: ('OK'"), "{out}");
    let now = backend_of_alice();
    assert!(
        !now.is_empty() && now != left,
        "she is on {now}, was on {left}"
    );
    assert_eq!(
        logins_by_backend(&site)["alice@example.test"],
        BTreeSet::from([left.as_str(), now.as_str()])
            .into_iter()
            .map(|b| *BACKENDS.iter().find(|k| **k == b).unwrap())
            .collect::<BTreeSet<&str>>()
    );
}

#[test]
fn mail_for_a_user_being_moved_is_deferred_and_her_login_waits_for_her_new_backend() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, "alice@example.test"]);
    let was = *logins_by_backend(&site)["alice@example.test"]
        .iter()
        .next()
        .unwrap();
    let target = *BACKENDS.iter().find(|b| **b != was).unwrap();
    let lmtp = director.lmtp_port.to_string();
    // What `havre director move` does first (its own test is above), held
    // here as long as the test needs: her key says she is moving there.
    let key = format!("{}director:user:alice@example.test", site_prefix(&site));
    let redis = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-u", &havre_testkit::cluster::redis_url()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    redis(&["SET", &key, &format!("moving>{target}"), "PX", "30000"]);
    let map = director.cli_ok(&["director", "map", "alice@example.test"]);
    assert!(
        map.contains(&format!("backend:  {target} (moving there")),
        "{map}"
    );
    // While every director closes her sessions, mail for her waits at the
    // MX (deferred), and her login waits until she is on her new backend.
    let out = python_ok(
        lmtp_once::SEND_ONE,
        &[&lmtp, "alice@example.test", "during"],
    );
    assert!(out.contains("reply: 451 4.4.0 "), "{out}");
    assert!(out.contains("is moving"), "{out}");
    std::thread::scope(|scope| {
        let login = scope.spawn(|| python_ok(ONE_LOGIN, &[&port]));
        std::thread::sleep(Duration::from_secs(1));
        assert!(!login.is_finished(), "a login went on during the move");
        redis(&["SET", &key, target, "PX", "900000"]);
        let out = login.join().unwrap();
        assert!(out.contains("login: ('OK'"), "{out}");
    });
    assert_eq!(
        logins_by_backend(&site)["alice@example.test"],
        BTreeSet::from([was, target])
    );
    // Moved: her mail goes there.
    let out = python_ok(lmtp_once::SEND_ONE, &[&lmtp, "alice@example.test", "after"]);
    assert!(out.contains("reply: 250 2.0.0"), "{out}");
    assert_eq!(delivered_on(&site, "alice@example.test"), vec![target]);
}

/// alice in IDLE at `argv[1]` for `argv[2]` seconds once the file
/// `argv[3]` exists (touched when she is in); then DONE and a NOOP: prints
/// whether the session stayed open.
const STAYS_IN_IDLE: &str = r#"
import imaplib, select, ssl, sys
port, seconds, signal = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
m.select("INBOX")
tag = m._new_tag().decode()
m.send(f"{tag} IDLE\r\n".encode())
m.readline()
open(signal, "w").close()
readable, _, _ = select.select([m.sock], [], [], seconds)
if readable:
    line = m.readline()
    print("heard:", line.decode().strip() if line else "the close")
else:
    print("still open")
m.send(b"DONE\r\n")
print("idle ended:", m.readline().decode().strip())
print("noop:", m.noop()[0])
"#;

#[test]
fn a_session_whose_assignment_the_state_lost_keeps_its_backend_and_gets_it_back() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    let key = format!("{}director:user:alice@example.test", site_prefix(&site));
    let map = || director.cli_ok(&["director", "map", "alice@example.test"]);
    let mut was = String::new();
    let out = while_connected(STAYS_IN_IDLE, &[&port, "6"], || {
        was = map()
            .lines()
            .find_map(|l| l.strip_prefix("backend:  "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string();
        // Lost with the state (a Redis restarted without it); her backend
        // still takes users.
        let del = std::process::Command::new("redis-cli")
            .args(["-u", &havre_testkit::cluster::redis_url(), "DEL", &key])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&del.stdout).trim(), "1");
        // The director's look at its sessions puts it back where she is.
        wait_until(Duration::from_secs(5), "her assignment back", || {
            map().contains(&format!("backend:  {was} (assigned"))
        });
    });
    assert!(out.contains("still open"), "{out}");
    assert!(out.contains("noop: OK"), "{out}");
}

/// Runs `script` with `args` and, last, the path of a file it touches once
/// its session is in; runs `act` then, and returns what the script printed.
fn while_connected(script: &'static str, args: &[&str], act: impl FnOnce()) -> String {
    let signals = tempfile::tempdir().unwrap();
    let signal = signals.path().join("in");
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(signal.display().to_string());
    let session = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_ok(script, &args)
    });
    wait_until(Duration::from_secs(20), "the session in", || {
        signal.exists()
    });
    act();
    session.join().unwrap()
}

/// alice logs in, reads the greeting of her session's end (a BYE or the
/// close) when the director moves her, then logs in again; prints both
/// sessions' message counts and what the first one last heard.
const MOVED_WHILE_CONNECTED: &str = r#"
import imaplib, ssl, sys, os, time
port, signal = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port)
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
print("first:", m.select("INBOX"))
open(signal, "w").close()
m.sock.settimeout(20)
try:
    while True:
        line = m.readline()
        if not line:
            print("closed")
            break
        print("heard:", line.decode().strip())
except Exception as e:
    print("ended:", e)
m2 = imaplib.IMAP4("127.0.0.1", port)
m2.starttls(ssl_context=ctx)
m2.login("alice@example.test", "secret")
print("second:", m2.select("INBOX"))
m2.logout()
"#;

#[test]
fn move_takes_a_user_to_another_backend_and_flush_empties_one() {
    let users: Vec<String> = ["alice", "bob", "carol", "dave", "erin", "frank"]
        .iter()
        .map(|u| format!("{u}@example.test"))
        .collect();
    // This site's nodes share a secret file instead of the state's secret.
    let site = site_with(&users, 1, |node, shared, _| {
        node.set(
            "director.secret_file",
            &format!("\"{}/secret\"", shared.display()),
        )
    });
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let before = logins_by_backend(&site);
    let alice_was = *before["alice@example.test"].iter().next().unwrap();
    let target = BACKENDS.iter().find(|b| **b != alice_was).unwrap();
    // Moved while connected: her session is closed, her next one is there.
    let out = while_connected(MOVED_WHILE_CONNECTED, &[&port], || {
        let out = director.cli_ok(&["director", "move", "alice@example.test", target]);
        assert!(out.contains(&format!("moved to {target}")), "{out}");
    });
    assert!(out.contains("first: ('OK'"), "{out}");
    // The director closed her session, in Dovecot's words for a kick.
    assert!(
        out.contains("heard: * BYE Disconnected by the administrator."),
        "{out}"
    );
    assert!(out.contains("second: ('OK'"), "{out}");
    let after = logins_by_backend(&site);
    assert_eq!(
        after["alice@example.test"],
        BTreeSet::from([alice_was, *target]),
        "{out}"
    );
    // Named as she logs in, in any case: her account's address is placed.
    let map = director.cli_ok(&["director", "map", "Alice@EXAMPLE.test"]);
    assert!(map.contains("user:     alice@example.test"), "{map}");
    assert!(
        map.contains(&format!("backend:  {target} (assigned")),
        "{map}"
    );
    // A name nobody has is an error, not an assignment for nobody.
    let typo = director.cli(&["director", "move", "alcie@example.test", target]);
    assert!(!typo.status.success());
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(err.contains("no user alcie@example.test"), "{err}");

    // Flush: the backend takes no one, its users go elsewhere.
    let flushed = BACKENDS[0];
    let out = director.cli_ok(&["director", "flush", flushed]);
    assert!(out.contains(&format!("backend {flushed} flushed")), "{out}");
    let status = director.cli_ok(&["director", "status"]);
    let line = status.lines().find(|l| l.starts_with(flushed)).unwrap();
    assert!(line.contains(" down "), "{status}");
    let counts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(counts[3], "0", "users left on {flushed}: {status}");
    let logins_before = logins_by_backend(&site);
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let logins_after = logins_by_backend(&site);
    for user in &users {
        let new: BTreeSet<_> = logins_after[user]
            .difference(logins_before.get(user).unwrap_or(&BTreeSet::new()))
            .copied()
            .collect();
        assert!(!new.contains(flushed), "{user} landed on {flushed}");
    }
    // Back up: it takes new users again (the moved ones stay put).
    director.cli_ok(&["director", "up", flushed]);
    let status = director.cli_ok(&["director", "status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(flushed) && l.contains(" up ")),
        "{status}"
    );
    // Kick: her sessions close, and she comes back to the same backend
    // (wherever the flush put her).
    let map = director.cli_ok(&["director", "map", "alice@example.test"]);
    let on = map
        .lines()
        .find_map(|l| l.strip_prefix("backend:  "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let on = on.as_str();
    let out = while_connected(MOVED_WHILE_CONNECTED, &[&port], || {
        let out = director.cli_ok(&["director", "kick", "alice@example.test"]);
        assert!(
            out.contains("her sessions on every director are closed"),
            "{out}"
        );
    });
    assert!(
        out.contains("heard: * BYE Disconnected by the administrator."),
        "{out}"
    );
    assert!(out.contains("second: ('OK'"), "{out}");
    let map = director.cli_ok(&["director", "map", "alice@example.test"]);
    assert!(map.contains(&format!("backend:  {on} (assigned")), "{map}");
    // Down: the backend takes no new user and keeps those it has.
    let out = director.cli_ok(&["director", "down", on]);
    assert!(out.contains("takes no new user"), "{out}");
    let status = director.cli_ok(&["director", "status"]);
    let line = status.lines().find(|l| l.starts_with(on)).unwrap();
    assert!(line.contains(" down "), "{status}");
    let map = director.cli_ok(&["director", "map", "alice@example.test"]);
    assert!(map.contains(&format!("backend:  {on} (assigned")), "{map}");
    for n in 1..=20 {
        let map = director.cli_ok(&["director", "map", &format!("new{n}@example.test")]);
        assert!(!map.contains(&format!("backend:  {on} ")), "{map}");
        assert!(map.contains("account:  none by this name"), "{map}");
    }
    director.cli_ok(&["director", "up", on]);
    // A weight of 0 takes no new user; a backend removed is gone, and a
    // name that is not a backend is an error naming the backends.
    let out = director.cli_ok(&["director", "weight", BACKENDS[1], "0"]);
    assert!(out.contains("weight 0"), "{out}");
    let status = director.cli_ok(&["director", "status"]);
    let line = status.lines().find(|l| l.starts_with(BACKENDS[1])).unwrap();
    assert_eq!(line.split_whitespace().nth(2), Some("0"), "{status}");
    director.cli_ok(&["director", "remove", BACKENDS[2]]);
    assert!(
        !director
            .cli_ok(&["director", "status"])
            .contains(BACKENDS[2])
    );
    let out = director.cli(&["director", "move", "bob@example.test", "192.0.2.9"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no backend 192.0.2.9; the backends are"),
        "{err}"
    );
}

#[test]
fn a_backend_killed_is_marked_failed_and_its_users_log_in_elsewhere() {
    let users: Vec<String> = (1..=9).map(|n| format!("user{n}@example.test")).collect();
    let mut site = site(&users, 1);
    let port = site.directors[0].imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let before = logins_by_backend(&site);
    let victims: Vec<&String> = before
        .iter()
        .filter(|(_, b)| b.contains(BACKENDS[1]))
        .map(|(u, _)| u)
        .collect();
    assert!(!victims.is_empty(), "{before:?}");
    // One of its users has mail there and is in IDLE when it dies.
    let director = &site.directors[0];
    let victim = victims[0].clone();
    for subject in ["before the crash 1", "before the crash 2"] {
        let out = python_ok(
            ONE_OVER_LMTP,
            &[&director.lmtp_port.to_string(), &victim, subject],
        );
        assert!(out.contains("reply: 250"), "{out}");
    }
    // Her session is closed, not left hanging; she logs in again, lands
    // elsewhere and sees her mail (the storage is shared).
    let out = while_connected(KILLED_WHILE_IDLE, &[&port, &victim], || {
        site.backends[1].kill9()
    });
    let closed_after: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("closed after "))
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(closed_after < 10.0, "{out}");
    assert!(
        out.contains("subjects: ['Subject: before the crash 1', 'Subject: before the crash 2']"),
        "{out}"
    );
    // Within a few probe intervals (1 s here) it is failed for the director.
    wait_until(
        Duration::from_secs(15),
        "the killed backend marked failed",
        || {
            director
                .cli_ok(&["director", "status"])
                .lines()
                .any(|l| l.starts_with(BACKENDS[1]) && l.contains(" failed "))
        },
    );
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let after = logins_by_backend(&site);
    for user in victims {
        let elsewhere = &after[user];
        assert!(
            elsewhere.len() == 2 && !elsewhere.iter().all(|b| *b == BACKENDS[1]),
            "{user}: {elsewhere:?}"
        );
    }
}

#[test]
fn a_backend_that_hangs_under_its_sessions_is_marked_failed_and_they_are_closed_not_left_waiting() {
    let users: Vec<String> = (1..=9).map(|n| format!("frozen{n}@example.test")).collect();
    let site = site(&users, 1);
    let port = site.directors[0].imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let before = logins_by_backend(&site);
    let victim = users
        .iter()
        .find(|u| before[*u].contains(BACKENDS[1]))
        .expect("the ring gives the second backend someone")
        .clone();
    let director = &site.directors[0];
    let out = python_ok(
        ONE_OVER_LMTP,
        &[
            &director.lmtp_port.to_string(),
            &victim,
            "before the freeze",
        ],
    );
    assert!(out.contains("reply: 250"), "{out}");
    // Stopped, not killed: its sockets stay open and answer nothing (a
    // process stuck on a hung NFS). Only the probes can tell; the director
    // closes her relayed session itself.
    let pid = site.backends[1].pid().unwrap().to_string();
    let signal = |name: &str| {
        let done = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(done.success());
    };
    let out = while_connected(KILLED_WHILE_IDLE, &[&port, &victim], || signal("-STOP"));
    signal("-CONT");
    let closed_after: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("closed after "))
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(closed_after < 15.0, "{out}");
    assert!(
        out.contains("subjects: ['Subject: before the freeze']"),
        "{out}"
    );
    assert!(
        director.log().contains("backend 127.0.0.3 is down: "),
        "{}",
        director.log()
    );
    let after = logins_by_backend(&site);
    assert_eq!(after[&victim].len(), 2, "{victim}: {:?}", after[&victim]);
}

#[test]
fn a_backend_whose_mail_storage_fails_is_marked_down_by_the_probes_and_its_users_move() {
    let users: Vec<String> = (1..=9).map(|n| format!("stored{n}@example.test")).collect();
    let mut site = site(&users, 1);
    // The third backend reaches the shared mail through a mount of its own.
    let mount = site._shared.path().join("mount-of-the-third");
    std::os::unix::fs::symlink(site._shared.path().join("mail"), &mount).unwrap();
    site.backends[2].stop();
    site.backends[2].set(
        "mailbox.maildir",
        &format!("\"{}/%d/%n/Maildir\"", mount.display()),
    );
    site.backends[2].start();
    let director = &site.directors[0];
    let status_of = |address: &str| {
        director
            .cli_ok(&["director", "status"])
            .lines()
            .find(|l| l.starts_with(address))
            .unwrap_or_default()
            .to_string()
    };
    wait_until(Duration::from_secs(15), "the third backend up", || {
        status_of(BACKENDS[2]).contains(" up ")
    });
    let port = director.imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let placed = logins_by_backend(&site);
    let victims: Vec<&String> = users
        .iter()
        .filter(|u| placed[*u].contains(BACKENDS[2]))
        .collect();
    assert!(!victims.is_empty(), "{placed:?}");
    // Its storage fails (the mount is a plain file now): its IMAP still
    // answers, its probe login does not.
    std::fs::remove_file(&mount).unwrap();
    std::fs::write(&mount, "not a directory").unwrap();
    wait_until(
        Duration::from_secs(15),
        "the third backend marked failed",
        || status_of(BACKENDS[2]).contains(" failed "),
    );
    let log = site.backends[2].log();
    assert!(
        log.contains("director probe from 127.0.0.1: the mail storage: "),
        "{log}"
    );
    assert!(
        director.log().contains("backend 127.0.0.4 is down: "),
        "{}",
        director.log()
    );
    // Its users log in elsewhere; the others stay where they were.
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let after = logins_by_backend(&site);
    for user in &users {
        if victims.contains(&user) {
            assert_eq!(after[user].len(), 2, "{user}: {:?}", after[user]);
        } else {
            assert_eq!(after[user], placed[user], "{user}");
        }
    }
}

/// `argv[2]` logs in at `argv[1]`, selects INBOX and IDLEs, then touches
/// the file `argv[3]`; once the session ends, says how long after, logs in
/// again (trying for 30 s) and prints her INBOX's subjects.
const KILLED_WHILE_IDLE: &str = r#"
import imaplib, ssl, sys, time
port, user, signal = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
m.starttls(ssl_context=ctx)
m.login(user, "secret")
m.select("INBOX")
tag = m._new_tag().decode()
m.send(f"{tag} IDLE\r\n".encode())
print("idle:", m.readline().decode().strip())
open(signal, "w").close()
started = time.time()
try:
    while True:
        line = m.readline()
        if not line:
            break
        print("heard:", line.decode().strip())
except Exception as e:
    print("ended:", e)
print("closed after", round(time.time() - started, 1))
deadline = time.time() + 30
while True:
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        m.starttls(ssl_context=ctx)
        m.login(user, "secret")
        break
    except Exception as e:
        if time.time() > deadline:
            raise
        print("again:", e)
        time.sleep(0.5)
m.select("INBOX")
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("subjects:", sorted(x[1].decode().strip() for x in data if isinstance(x, tuple)))
m.logout()
"#;

/// One login of alice at the director: its answer (or the error), and how
/// long it took.
const ONE_LOGIN: &str = r#"
import imaplib, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
m.starttls(ssl_context=ctx)
started = time.time()
try:
    print("login:", m.login("alice@example.test", "secret"))
except imaplib.IMAP4.error as e:
    print("login:", e)
print("took", round(time.time() - started, 1))
"#;

fn seconds_taken(out: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix("took "))
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::MAX)
}

#[test]
fn a_backend_that_accepts_and_never_answers_gets_a_clear_refusal_not_a_hang() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    // 127.0.0.5 takes connections on the backends' IMAP port (the kernel
    // accepts them for a listening socket) and never says a word.
    let silent = std::net::TcpListener::bind(("127.0.0.5", site.imap)).unwrap();
    director.cli_ok(&["director", "add", "127.0.0.5"]);
    for address in BACKENDS {
        director.cli_ok(&["director", "flush", address]);
    }
    let out = python_ok(ONE_LOGIN, &[&director.imap_port.to_string()]);
    assert!(out.contains("[UNAVAILABLE]"), "{out}");
    // connect_timeout is 2 s here.
    assert!(seconds_taken(&out) < 10.0, "{out}");
    director.wait_for_log("proxy: user=<alice@example.test>", 1);
    // The probes found it too.
    wait_until(Duration::from_secs(15), "127.0.0.5 marked failed", || {
        director
            .cli_ok(&["director", "status"])
            .lines()
            .any(|l| l.starts_with("127.0.0.5") && l.contains(" failed "))
    });
    drop(silent);
    // One that greets, then closes during the login.
    director.cli_ok(&["director", "remove", "127.0.0.5"]);
    let closing = std::net::TcpListener::bind(("127.0.0.6", site.imap)).unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for stream in closing.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.write_all(b"* OK [CAPABILITY IMAP4rev1] fake\r\n");
                let mut line = String::new();
                let _ = std::io::BufReader::new(&stream).read_line(&mut line);
            });
        }
    });
    director.cli_ok(&["director", "add", "127.0.0.6"]);
    let out = python_ok(ONE_LOGIN, &[&director.imap_port.to_string()]);
    assert!(out.contains("[UNAVAILABLE]"), "{out}");
    assert!(seconds_taken(&out) < 10.0, "{out}");
}

/// A backend at `address` whose IMAP answers (greeting, then OK to every
/// command: the probes find it up) while its LMTP takes connections and
/// never says a word. Lives as long as the returned listeners.
fn backend_with_a_hung_lmtp(
    address: &str,
    imap: u16,
    lmtp: u16,
) -> (std::net::TcpListener, std::net::TcpListener) {
    let answering = std::net::TcpListener::bind((address, imap)).unwrap();
    let hung = std::net::TcpListener::bind((address, lmtp)).unwrap();
    let listener = answering.try_clone().unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let _ = out.write_all(b"* OK [CAPABILITY IMAP4rev1] fake\r\n");
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let tag = line.split(' ').next().unwrap_or("*").to_string();
                    let _ = out.write_all(format!("{tag} OK done\r\n").as_bytes());
                }
            });
        }
    });
    (answering, hung)
}

/// One message to `argv[2]` over LMTP at `argv[1]`, with the subject
/// `argv[3]`; prints the reply to the final dot and how long it took.
const ONE_OVER_LMTP: &str = r#"
import smtplib, sys, time
started = time.time()
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]), timeout=600)
lmtp.ehlo_or_helo_if_needed()
lmtp.mail("bob@remote.test")
lmtp.rcpt(sys.argv[2])
lmtp.putcmd("data")
code, _ = lmtp.getreply()
assert code == 354, code
lmtp.send(f"From: bob@remote.test\r\nSubject: {sys.argv[3]}\r\n\r\nhello\r\n.\r\n".encode())
code, text = lmtp.getreply()
print("reply:", code, text.decode())
print("seconds:", round(time.time() - started, 2))
lmtp.quit()
"#;

#[test]
fn an_lmtp_copy_for_a_backend_whose_lmtp_hangs_is_deferred_within_the_connect_timeout() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    let _backend = backend_with_a_hung_lmtp("127.0.0.7", site.imap, site.lmtp);
    director.cli_ok(&["director", "add", "127.0.0.7"]);
    for address in BACKENDS {
        director.cli_ok(&["director", "flush", address]);
    }
    // The probes see it up: its IMAP answers.
    std::thread::sleep(Duration::from_secs(3));
    let status = director.cli_ok(&["director", "status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("127.0.0.7") && l.contains(" up ")),
        "{status}"
    );
    let out = python_ok(
        ONE_OVER_LMTP,
        &[
            &director.lmtp_port.to_string(),
            "alice@example.test",
            "hung",
        ],
    );
    assert!(out.contains("reply: 451 4.4.2"), "{out}");
    assert!(out.contains("initial server greeting"), "{out}");
    // connect_timeout is 2 s here; the RFC's 5 minutes for a greeting
    // would hold the message that long.
    let seconds: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("seconds: "))
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(seconds < 10.0, "{out}");
}

/// `havre_director_backend_logins_total{connection="..."}` on the
/// director's /metrics.
fn backend_logins(director: &Havre, connection: &str) -> u64 {
    let (code, text) = director.http_get("/metrics");
    assert_eq!(code, 200, "{text}");
    let series = format!("havre_director_backend_logins_total{{connection=\"{connection}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[test]
fn logins_through_the_director_take_backend_connections_opened_beforehand() {
    let users = vec!["alice@example.test".to_string()];
    let site = site_with(&users, 1, |node, _, tier| {
        if tier == Tier::Director {
            node.set("server.roles", "[\"director\", \"web\"]");
        }
    });
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    // The first login connects; it leaves spares behind for the next.
    let out = python_ok(ONE_LOGIN, &[&port]);
    assert!(out.contains("login: ('OK'"), "{out}");
    assert_eq!(backend_logins(director, "new"), 1);
    wait_until(Duration::from_secs(10), "a login over a spare", || {
        let out = python_ok(ONE_LOGIN, &[&port]);
        assert!(out.contains("login: ('OK'"), "{out}");
        backend_logins(director, "spare") >= 1
    });
    // Her backend restarted: the spares it had closed are passed over and
    // she logs in at the first try.
    let on = logins_by_backend(&site)["alice@example.test"]
        .iter()
        .next()
        .copied()
        .unwrap();
    let n = BACKENDS.iter().position(|b| *b == on).unwrap();
    let mut site = site;
    site.backends[n].stop();
    site.backends[n].start();
    let director = &site.directors[0];
    wait_until(Duration::from_secs(15), "the backend up again", || {
        director
            .cli_ok(&["director", "status"])
            .lines()
            .any(|l| l.starts_with(on) && l.contains(" up "))
    });
    director.cli_ok(&["director", "move", "alice@example.test", on]);
    let out = python_ok(ONE_LOGIN, &[&port]);
    assert!(out.contains("login: ('OK'"), "{out}");
    let backend_log = site.backends[n].log();
    assert!(
        backend_log.contains("Login: user=<alice@example.test>"),
        "{backend_log}"
    );
    // The backend logs the client's address, which the director forwards
    // (ID "x-originating-ip", as Dovecot's proxy), not the director's.
    let out = python_ok(
        &format!("{FROM_ADDRESS_PRELUDE}{ONE_LOGIN_FROM}"),
        &[&port, "127.0.0.9"],
    );
    assert!(out.contains("login: ('OK'"), "{out}");
    let forwarded = "Login: user=<alice@example.test>, method=director, rip=127.0.0.9,";
    let backend_log = site.backends[n].wait_for_log(forwarded, 1);
    assert!(backend_log.contains(forwarded), "{backend_log}");
    // And over POP3 (XCLIENT ADDR=).
    let out = python_ok(
        &format!("{FROM_ADDRESS_PRELUDE}{POP3_FROM}"),
        &[&director.pop3_port.to_string(), "127.0.0.10"],
    );
    assert!(out.contains("pass: b'+OK"), "{out}");
    let forwarded = "Login: user=<alice@example.test>, method=director, rip=127.0.0.10,";
    let backend_log = site.backends[n].wait_for_log(forwarded, 1);
    assert!(backend_log.contains(forwarded), "{backend_log}");
    // And over ManageSieve (XCLIENT ADDR=, as Pigeonhole's login takes it).
    let out = python_ok(
        MANAGESIEVE_FROM,
        &[&director.managesieve_port.to_string(), "127.0.0.11"],
    );
    assert!(out.contains("login: OK"), "{out}");
    let forwarded = "Login: user=<alice@example.test>, method=director, rip=127.0.0.11,";
    let backend_log = site.backends[n].wait_for_log(forwarded, 1);
    assert!(backend_log.contains(forwarded), "{backend_log}");
}

/// alice's ManageSieve login at `argv[1]` from the loopback address
/// `argv[2]`, over STARTTLS.
const MANAGESIEVE_FROM: &str = r#"
import base64, socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30, source_address=(sys.argv[2], 0))
def response(f):
    while True:
        line = f.readline().decode()
        if not line or line.startswith(("OK", "NO", "BYE")):
            return line.strip()
plain_text = s.makefile("rb")
response(plain_text)
s.sendall(b"STARTTLS\r\n")
response(plain_text)
s = ctx.wrap_socket(s, server_hostname="localhost")
f = s.makefile("rb")
response(f)
plain = base64.b64encode(b"\0alice@example.test\0secret").decode()
s.sendall(('AUTHENTICATE "PLAIN" "%s"\r\n' % plain).encode())
print("login:", response(f))
s.sendall(b"LOGOUT\r\n")
response(f)
"#;

/// alice's POP3 login at `argv[1]` from the loopback address `argv[2]`.
/// (After [`FROM_ADDRESS_PRELUDE`].)
const POP3_FROM: &str = r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = from_address(poplib.POP3, sys.argv[2])("127.0.0.1", int(sys.argv[1]))
p.stls(context=ctx)
p.user("alice@example.test")
print("pass:", p.pass_("secret"))
p.quit()
"#;

/// [`ONE_LOGIN`] from the loopback address `argv[2]`.
/// (After [`FROM_ADDRESS_PRELUDE`].)
const ONE_LOGIN_FROM: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = from_address(imaplib.IMAP4, sys.argv[2])("127.0.0.1", int(sys.argv[1]), timeout=30)
m.starttls(ssl_context=ctx)
try:
    print("login:", m.login("alice@example.test", "secret"))
except imaplib.IMAP4.error as e:
    print("login:", e)
m.logout()
"#;

#[test]
fn a_director_that_loses_the_shared_state_refuses_logins_rather_than_guess() {
    let users = vec!["alice@example.test".to_string()];
    let redis: std::net::SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let proxy = havre_testkit::CutProxy::start(redis);
    let url = format!("\"redis://127.0.0.1:{}/0\"", proxy.port());
    let site = site_with(&users, 1, |node, _, _| node.set("state.url", &url));
    let director = &site.directors[0];
    let port = director.imap_port.to_string();
    let out = python_ok(ONE_LOGIN, &[&port]);
    assert!(out.contains("login: ('OK'"), "{out}");
    proxy.cut();
    let out = python_ok(ONE_LOGIN, &[&port]);
    assert!(out.contains("[UNAVAILABLE]"), "{out}");
    proxy.restore();
    wait_until(
        Duration::from_secs(20),
        "logins again once Redis is back",
        || python_ok(ONE_LOGIN, &[&port]).contains("login: ('OK'"),
    );
}

/// An MX of the site (roles mx and relay) that hands the site's mail to a
/// director's LMTP, as the seeds' Postfix does.
fn mx_for(site: &Site, director: &Havre) -> Havre {
    let mut mx = Havre::init(BIN);
    let shared = site._shared.path().to_path_buf();
    // The same store, state and secret; its own node id.
    join(&mut mx, 20, &site._schema, &site_prefix(site), &shared);
    mx.set("server.roles", "[\"mx\", \"relay\"]");
    mx.set(
        "routing.\"example.test\"",
        &format!("\"lmtp:[127.0.0.1]:{}\"", director.lmtp_port),
    );
    mx.start();
    mx
}

/// The Redis prefix the site's nodes share (read back from a backend).
fn site_prefix(site: &Site) -> String {
    site.backends[0]
        .cli_ok(&["config", "get", "state.prefix"])
        .trim()
        .trim_matches('"')
        .to_string()
}

/// Each user (`argv[2]`) over POP3 at the director (`argv[1]`), after
/// STLS: prints `user STAT-answer`.
const POP3_STAT: &str = r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for user in sys.argv[2].split(","):
    p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
    p.stls(context=ctx)
    p.user(user)
    p.pass_("secret")
    print(user, p.stat() and p._shortcmd("STAT").decode())
    p.quit()
"#;

/// A user's script put and activated over ManageSieve (`argv[1]` the port,
/// `argv[2]` the user).
const SIEVELIB: &str = r#"
import sys
from sievelib.managesieve import Client
c = Client("127.0.0.1", int(sys.argv[1]))
assert c.connect(sys.argv[2], "secret", starttls=True, authmech="PLAIN"), c.errmsg
print("put", c.putscript("vacation", 'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "INBOX"; }\r\n'))
print("active", c.setactive("vacation"))
print("list", c.listscripts())
c.logout()
"#;

/// How many messages `user`'s INBOX holds in the site's shared mail
/// directory.
/// `user`'s Maildir in the shared mail directory.
fn maildir(site: &Site, user: &str) -> std::path::PathBuf {
    let (local, domain) = user.split_once('@').unwrap();
    site._shared
        .path()
        .join("mail")
        .join(domain)
        .join(local)
        .join("Maildir")
}

fn inbox(site: &Site, user: &str) -> usize {
    let root = maildir(site, user);
    ["new", "cur"]
        .iter()
        .map(|sub| std::fs::read_dir(root.join(sub)).map_or(0, |d| d.count()))
        .sum()
}

/// Waits until `user` has a message in the shared mail directory.
fn wait_for_mail(site: &Site, user: &str, why: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while inbox(site, user) == 0 {
        assert!(Instant::now() < deadline, "nothing for {user}: {}", why());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The backend whose log shows an LMTP delivery to `user`.
fn delivered_on(site: &Site, user: &str) -> Vec<&'static str> {
    site.backends
        .iter()
        .zip(BACKENDS)
        .filter(|(node, _)| {
            node.log().lines().any(|l| {
                l.contains(&format!("to=<{user}>"))
                    && l.contains("relay=local")
                    && l.contains("status=sent")
            })
        })
        .map(|(_, address)| address)
        .collect()
}

#[test]
fn lmtp_through_the_director_reaches_each_recipient_on_her_own_backend() {
    let users: Vec<String> = (1..=6).map(|n| format!("reader{n}@example.test")).collect();
    let site = site(&users, 1);
    let director = &site.directors[0];
    // Her IMAP sessions placed them; their mail goes the same way.
    python_ok(
        EVERY_USER_AT_EVERY_DIRECTOR,
        &[&director.imap_port.to_string(), &users.join(",")],
    );
    let placed = logins_by_backend(&site);
    let mx = mx_for(&site, director);
    let (accepted, transcript) = mx.send_to_mx(&users.join(","));
    assert!(accepted, "{transcript}");
    for user in &users {
        wait_for_mail(&site, user, || {
            format!("mx: {}\ndirector: {}", mx.log(), director.log())
        });
        assert_eq!(inbox(&site, user), 1, "{user}");
        // The backend's log line may come a moment after the file.
        wait_until(
            Duration::from_secs(10),
            "the backend's delivery line",
            || !delivered_on(&site, user).is_empty(),
        );
        let on: BTreeSet<&str> = delivered_on(&site, user).into_iter().collect();
        assert_eq!(on, placed[user], "{user}");
    }
    // POP3 through the director: the same backend, the message there.
    let out = python_ok(
        POP3_STAT,
        &[&director.pop3_port.to_string(), &users.join(",")],
    );
    for user in &users {
        assert!(out.contains(&format!("{user} +OK 1 ")), "{out}");
    }
    for (user, backends) in logins_by_backend(&site) {
        assert_eq!(backends, placed[&user], "{user} over POP3");
    }
    // ManageSieve through the director, with Python's sievelib (the
    // system's python3: Debian's python3-sievelib).
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            SIEVELIB,
            &director.managesieve_port.to_string(),
            &users[0],
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("put True"), "{text}");
    assert!(text.contains("active True"), "{text}");
    assert!(text.contains("list ('vacation', [])"), "{text}");
    for (user, backends) in logins_by_backend(&site) {
        assert_eq!(backends, placed[&user], "{user} over ManageSieve");
    }
    // The director's log names the backend of each copy.
    let log = director.log();
    for user in &users {
        let on = placed[user].iter().next().unwrap();
        assert!(
            log.lines().any(|l| l.contains(&format!("to=<{user}>"))
                && l.contains(&format!("relay={on}"))
                && l.contains("status=sent")),
            "{user}: {log}"
        );
    }
    // A big message, with 8-bit text, straight to the director's LMTP: it
    // reaches each backend whole (streamed from the director's spool file).
    let out = python_ok(
        BIG_OVER_LMTP,
        &[&director.lmtp_port.to_string(), &users[..3].join(",")],
    );
    for user in &users[..3] {
        assert!(out.contains(&format!("{user}: 250")), "{out}");
        assert_eq!(inbox(&site, user), 2, "{user}");
        assert!(
            maildir_holds(&site, user, "the end of a long letter"),
            "{user}"
        );
    }
}

/// Python: a 3 MB message with 8-bit text over LMTP at `argv[1]` to the
/// comma-separated `argv[2]`; each recipient's reply.
const BIG_OVER_LMTP: &str = r#"
import smtplib, sys
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
rcpts = sys.argv[2].split(",")
line = "Voil\u00e0 une lettre tr\u00e8s longue, \u00e9crite \u00e0 la main.\r\n"
body = ("From: <big@remote.test>\r\nTo: <list@example.test>\r\nSubject: big\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + line * 60000 + "the end of a long letter\r\n").encode()
lmtp.ehlo_or_helo_if_needed()
lmtp.mail("big@remote.test", ["BODY=8BITMIME"])
for r in rcpts:
    lmtp.rcpt(r)
lmtp.putcmd("data")
code, _ = lmtp.getreply()
assert code == 354, code
lmtp.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
for r in rcpts:
    code, text = lmtp.getreply()
    print(f"{r}: {code} {text.decode()}")
lmtp.quit()
"#;

#[test]
fn an_alias_on_two_backends_deferred_on_one_is_not_delivered_twice_on_the_other() {
    let users: Vec<String> = (1..=6).map(|n| format!("member{n}@example.test")).collect();
    let site = site(&users, 2);
    let port = site.directors[0].imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let placed = logins_by_backend(&site);
    // Two members on two backends, behind one alias (expanded at the
    // director, as when a Postfix in front hands it over unexpanded).
    let first = &users[0];
    let other = users
        .iter()
        .find(|u| placed[*u] != placed[first])
        .expect("the ring spreads six users");
    site.backends[0].cli_ok(&["alias", "add", "team@example.test", first]);
    site.backends[0].cli_ok(&["alias", "add", "team@example.test", other]);
    // The other's Maildir cannot take mail: its backend defers her copy.
    let new = maildir(&site, other).join("new");
    std::fs::create_dir_all(new.parent().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&new);
    std::fs::write(&new, "in the way").unwrap();
    let lmtp = |director: &Havre| {
        python_ok(
            lmtp_once::SEND_ONE,
            &[
                &director.lmtp_port.to_string(),
                "team@example.test",
                "minutes",
            ],
        )
    };
    let out = lmtp(&site.directors[0]);
    assert!(out.contains("reply: 451 "), "{out}");
    assert_eq!(inbox(&site, first), 1);
    // Repaired, the same message again, this time through the other
    // director: only the other member gets it.
    std::fs::remove_file(&new).unwrap();
    std::fs::create_dir(&new).unwrap();
    let out = lmtp(&site.directors[1]);
    assert!(
        out.contains("reply: 250 2.0.0 <team@example.test>"),
        "{out}"
    );
    assert_eq!(inbox(&site, first), 1, "{first} got it twice");
    assert_eq!(inbox(&site, other), 1);
    let log = site.directors[1].log();
    assert!(
        log.contains(&format!(
            "to=<{first}>, orig_to=<team@example.test>: delivered by an earlier attempt, skipped"
        )),
        "{log}"
    );
}

/// Whether one of `user`'s files in the shared mail directory has `text`.
fn maildir_holds(site: &Site, user: &str, text: &str) -> bool {
    let root = maildir(site, user);
    ["new", "cur"].iter().any(|sub| {
        std::fs::read_dir(root.join(sub)).is_ok_and(|dir| {
            dir.flatten().any(|f| {
                std::fs::read(f.path()).is_ok_and(|b| {
                    b.len() > 3_000_000 && String::from_utf8_lossy(&b).contains(text)
                })
            })
        })
    })
}

#[test]
fn mail_for_users_of_a_killed_backend_is_deferred_then_delivered_elsewhere() {
    let users: Vec<String> = (1..=6).map(|n| format!("owner{n}@example.test")).collect();
    // Probes every 5 s: the mail sent at once below meets the dead backend
    // before they see it.
    let mut site = site_with(&users, 1, |node, _, tier| {
        if tier == Tier::Director {
            node.set("director.probe_interval", "\"5s\"");
        }
    });
    let port = site.directors[0].imap_port.to_string();
    python_ok(EVERY_USER_AT_EVERY_DIRECTOR, &[&port, &users.join(",")]);
    let placed = logins_by_backend(&site);
    let victims: Vec<&String> = users
        .iter()
        .filter(|u| placed[*u].contains(BACKENDS[1]))
        .collect();
    assert!(!victims.is_empty(), "{placed:?}");
    let mx = mx_for(&site, &site.directors[0]);
    site.backends[1].kill9();
    // Sent at once: the director still places them on the dead backend,
    // which defers; the MX tries again, by then elsewhere.
    let (accepted, transcript) = mx.send_to_mx(&users.join(","));
    assert!(accepted, "{transcript}");
    for user in &users {
        wait_for_mail(&site, user, || {
            format!("mx: {}\ndirector: {}", mx.log(), site.directors[0].log())
        });
    }
    mx.wait_for_empty_queue();
    let log = mx.log();
    for user in victims {
        let on = delivered_on(&site, user);
        assert!(
            !on.is_empty() && !on.contains(&BACKENDS[1]),
            "{user}: {on:?}"
        );
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("to=<{user}>")))
            .collect();
        let deferred = lines.iter().position(|l| l.contains("status=deferred"));
        let sent = lines.iter().position(|l| l.contains("status=sent"));
        assert!(
            matches!((deferred, sent), (Some(d), Some(s)) if d < s),
            "{user} deferred, then delivered: {lines:#?}"
        );
    }
    // Still exactly one copy each once the queue is empty.
    for user in &users {
        assert_eq!(inbox(&site, user), 1, "{user}");
    }
}

/// alice's mail over LMTP at the director (`argv[1]`), then over IMAP
/// through it (`argv[2]`): two messages flagged, one deleted and expunged.
const ALICE_READS: &str = r#"
import imaplib, smtplib, ssl, sys
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
for i in range(6):
    lmtp.sendmail("bob@remote.test", ["alice@example.test"],
                  f"From: bob@remote.test\r\nSubject: note {i}\r\n\r\nbody {i}\r\n".encode())
lmtp.quit()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
print(m.select("INBOX"))
print(m.uid("STORE", "1:2", "+FLAGS", "(\\Flagged \\Seen)"))
print(m.uid("STORE", "3", "+FLAGS", "(\\Deleted)"))
print(m.expunge())
print(m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE)"))
m.logout()
"#;

/// The messages of an mbsync mirror: each file's contents and the flags
/// and UID its name carries (mbsync's own unique prefix left out).
fn mirrored(inbox: &std::path::Path) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(inbox.join(sub)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let tail = name.split(",U=").nth(1).unwrap_or(&name).to_string();
            // mbsync marks what it fetched with a header of its own, new
            // at each run (X-TUID): not the server's.
            let text: String = std::fs::read_to_string(entry.path())
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("X-TUID: "))
                .map(|l| format!("{l}\n"))
                .collect();
            out.insert((tail, text));
        }
    }
    out
}

#[test]
fn mbsync_and_imaplib_through_the_director_see_what_they_see_directly() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    let out = python_ok(
        ALICE_READS,
        &[
            &director.lmtp_port.to_string(),
            &director.imap_port.to_string(),
        ],
    );
    assert!(out.contains("('OK', [b'6'])"), "{out}");
    let on = *logins_by_backend(&site)["alice@example.test"]
        .iter()
        .next()
        .unwrap();
    let backend = &site.backends[BACKENDS.iter().position(|b| *b == on).unwrap()];
    let port = site.imap;
    let work = tempfile::tempdir().unwrap();
    let (through, through_inbox) = mbsync::mbsync_config(director, "INBOX");
    let (direct, direct_inbox) = mbsync::mbsync_config_to(
        &work.path().join("direct"),
        (on, port),
        &backend.dir().join("tls/cert.pem"),
        "INBOX",
    );
    mbsync::mbsync(&through);
    mbsync::mbsync(&direct);
    let seen = mirrored(&through_inbox);
    assert_eq!(seen.len(), 5, "{seen:?}");
    let other = mirrored(&direct_inbox);
    assert_eq!(
        seen.symmetric_difference(&other).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new()
    );
    assert_eq!(
        seen.iter()
            .filter(|(tail, _)| tail.ends_with(":2,FS"))
            .count(),
        2,
        "{seen:?}"
    );
    // Again through the director: nothing to do, nothing changed.
    let again = mbsync::mbsync(&through);
    assert_eq!(mirrored(&through_inbox), seen, "{again}");
    // imaplib's session, word for word, through the director and straight
    // at her backend.
    let through = python_ok(
        IMAPLIB_READS,
        &["127.0.0.1", &director.imap_port.to_string()],
    );
    let direct = python_ok(IMAPLIB_READS, &[on, &port.to_string()]);
    assert!(through.contains("Subject: note 0"), "{through}");
    assert_eq!(through, direct);
}

/// alice's session over imaplib at `argv[1]`:`argv[2]` after STARTTLS:
/// every answer after login, printed (the capabilities after login, the
/// folders, INBOX's messages, searches and status).
const IMAPLIB_READS: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]), timeout=30)
m.starttls(ssl_context=ctx)
print(m.login("alice@example.test", "secret")[0])
print(m.capability())
print(m.list())
print(m.select("INBOX"))
print(m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
print(m.uid("SEARCH", "FLAGGED"))
print(m.search(None, "SUBJECT", "note"))
print(m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"))
print(m.fetch("1", "(BODY.PEEK[TEXT])"))
print(m.logout()[0])
"#;

/// Sessions of alice through the director (`argv[1]`), `argv[2]` of them,
/// each in IDLE; prints what each hears when the director stops, waits for
/// `argv[3]` to exist, then logs in again and prints the answer.
const IDLE_ACROSS_A_RESTART: &str = r#"
import imaplib, os, ssl, sys, time
port, n, signal = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sessions = []
for i in range(n):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    m.select("INBOX")
    m.send(f"{m._new_tag().decode()} IDLE\r\n".encode())
    m.readline()
    m.sock.settimeout(60)
    sessions.append(m)
print("idle", len(sessions), flush=True)
for m in sessions:
    try:
        print("heard:", m.readline().decode().strip())
    except Exception as e:
        print("heard: error", e)
while not os.path.exists(signal):
    time.sleep(0.05)
deadline = time.time() + 30
while True:
    try:
        m = imaplib.IMAP4("127.0.0.1", port)
        m.starttls(ssl_context=ctx)
        print("again:", m.login("alice@example.test", "secret")[0])
        break
    except Exception as e:
        if time.time() > deadline:
            print("again: failed", e)
            break
        time.sleep(0.2)
"#;

#[test]
fn a_director_restarted_under_its_sessions_says_goodbye_and_takes_them_back() {
    let users = vec!["alice@example.test".to_string()];
    let mut site = site_with(&users, 1, |node, _, _| {
        node.set("server.shutdown_grace", "\"1s\"")
    });
    let port = site.directors[0].imap_port.to_string();
    let signals = tempfile::tempdir().unwrap();
    let signal = signals.path().join("back");
    let signal_arg = signal.display().to_string();
    let port_arg = port.clone();
    let client = std::thread::spawn(move || {
        python_ok(IDLE_ACROSS_A_RESTART, &[&port_arg, "5", &signal_arg])
    });
    wait_until(Duration::from_secs(30), "five sessions in IDLE", || {
        site.directors[0]
            .log()
            .matches("started proxying to")
            .count()
            >= 5
    });
    let before = logins_by_backend(&site);
    site.directors[0].stop();
    site.directors[0].start();
    std::fs::write(&signal, "").unwrap();
    let out = client.join().unwrap();
    assert_eq!(
        out.matches("heard: * BYE Server shutting down.").count(),
        5,
        "{out}"
    );
    assert!(out.contains("again: OK"), "{out}");
    // Back on the same backend: her assignment outlived the director.
    assert_eq!(logins_by_backend(&site), before);
}

/// Logs in at the director (`argv[1]`) as each user (`argv[2]`) in turn,
/// selects INBOX and logs out, for `argv[3]` seconds; prints how many
/// attempts passed and failed, the slowest, and whether the last second
/// still had logins.
const LOGINS_FOR_A_WHILE: &str = r#"
import imaplib, ssl, sys, time
port = int(sys.argv[1]); users = sys.argv[2].split(","); until = time.time() + float(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ok = failed = 0; slowest = 0.0; last_ok = 0.0; errors = {}; i = 0
# Past the time given, on until a login passes (the director back), 30 s at most.
while time.time() < until or (last_ok < until - 1.5 and time.time() < until + 30):
    user = users[i % len(users)]; i += 1
    t = time.time()
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
        m.starttls(ssl_context=ctx)
        m.login(user, "secret")
        m.select("INBOX")
        m.logout()
        ok += 1; last_ok = time.time()
    except Exception as e:
        failed += 1
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        time.sleep(0.05)
    slowest = max(slowest, time.time() - t)
print("ok", ok); print("failed", failed, errors); print("slowest %.1f" % slowest)
print("logins at the end:", last_ok >= until - 1.5)
"#;

/// `argv[3]` messages to the MX (`argv[1]`), one every 0.2 s, the k-th to
/// the k-th of the users (`argv[2]`) in turn, with `load-k-end` as subject.
const MAIL_FOR_A_WHILE: &str = r#"
import smtplib, sys, time
port = int(sys.argv[1]); users = sys.argv[2].split(",")
for k in range(int(sys.argv[3])):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("sender@remote.test", [users[k % len(users)]],
                   f"From: sender@remote.test\r\nSubject: load-{k}-end\r\n\r\nbody {k}\r\n".encode())
    time.sleep(0.2)
print("sent")
"#;

/// How many of `user`'s messages in the shared mail directory hold `text`.
fn messages_holding(site: &Site, user: &str, text: &str) -> usize {
    let root = maildir(site, user);
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(root.join(sub)).ok())
        .flat_map(|dir| dir.flatten())
        .filter(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains(text)))
        .count()
}

#[test]
fn a_director_restarted_under_logins_and_deliveries_loses_nothing_and_hangs_nobody() {
    let users: Vec<String> = (1..=6).map(|n| format!("busy{n}@example.test")).collect();
    let mut site = site_with(&users, 1, |node, _, _| {
        node.set("server.shutdown_grace", "\"1s\"")
    });
    let mx = mx_for(&site, &site.directors[0]);
    let imap = site.directors[0].imap_port.to_string();
    let smtp = mx.smtp_port.to_string();
    let list = users.join(",");
    let (for_logins, for_mail) = (list.clone(), list.clone());
    let logins =
        std::thread::spawn(move || python_ok(LOGINS_FOR_A_WHILE, &[&imap, &for_logins, "9"]));
    let mail = std::thread::spawn(move || python_ok(MAIL_FOR_A_WHILE, &[&smtp, &for_mail, "30"]));
    std::thread::sleep(Duration::from_secs(3));
    site.directors[0].stop();
    site.directors[0].start();
    let out = logins.join().unwrap();
    assert!(mail.join().unwrap().contains("sent"));
    // Refused while it was away, never left waiting; logging in again
    // once it is back.
    assert!(out.contains("logins at the end: True"), "{out}");
    let slowest: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("slowest "))
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(slowest < 10.0, "a login waited {slowest} s: {out}");
    // Every message delivered, once: those the director could not take
    // were deferred by the MX and sent again.
    mx.wait_for_empty_queue();
    for k in 0..30 {
        let user = &users[k % users.len()];
        assert_eq!(
            messages_holding(&site, user, &format!("load-{k}-end")),
            1,
            "message {k} to {user}\nmx: {}",
            mx.log()
        );
    }
    for (user, backends) in logins_by_backend(&site) {
        assert_eq!(backends.len(), 1, "{user} on {backends:?}");
    }
}

/// Two sessions of alice at `argv[1]` at once: prints each login's answer.
const TWO_AT_ONCE: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sessions = []
for n in range(2):
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
    m.starttls(ssl_context=ctx)
    try:
        print(n, m.login("alice@example.test", "secret")[0])
        sessions.append(m)
    except imaplib.IMAP4.error as e:
        print(n, "refused", e)
for m in sessions:
    m.logout()
"#;

#[test]
fn a_login_over_her_session_limit_is_refused_at_the_director_without_a_login_at_her_backend() {
    let users = vec!["alice@example.test".to_string()];
    let site = site_with(&users, 1, |node, _, tier| {
        if tier == Tier::Director {
            node.set("imap.max_connections_per_user", "1");
        }
    });
    let out = python_ok(TWO_AT_ONCE, &[&site.directors[0].imap_port.to_string()]);
    assert!(out.contains("0 OK"), "{out}");
    assert!(
        out.contains("1 refused") && out.contains("[LIMIT]"),
        "{out}"
    );
    let logins: usize = site
        .backends
        .iter()
        .map(|b| b.log().matches("Login: user=<alice@example.test>").count())
        .sum();
    assert_eq!(logins, 1, "{out}");
}

#[test]
fn backends_that_do_not_trust_the_director_s_network_take_none_of_its_logins() {
    let users = vec!["alice@example.test".to_string()];
    let site = site_with(&users, 1, |node, _, tier| {
        if tier == Tier::Backend {
            node.set("director.trusted_networks", "[\"192.0.2.10\"]");
        }
    });
    let director = &site.directors[0];
    // Its probes' logins are refused: every backend fails.
    wait_until(Duration::from_secs(15), "every backend failed", || {
        let status = director.cli_ok(&["director", "status"]);
        BACKENDS.iter().all(|b| {
            status
                .lines()
                .any(|l| l.starts_with(b) && l.contains(" failed "))
        })
    });
    let out = python_ok(ONE_LOGIN, &[&director.imap_port.to_string()]);
    assert!(out.contains("[UNAVAILABLE]"), "{out}");
    // Outside its networks a director is any client: no login without
    // TLS, no token taken.
    let log = director.log();
    assert!(log.contains("backend 127.0.0.2 is down: "), "{log}");
    for backend in &site.backends {
        let log = backend.log();
        assert!(!log.contains("Login: user=<"), "{log}");
    }
}

/// A client that sends LOGIN through the director and leaves at once.
const LEAVES_MID_LOGIN: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"a STARTTLS\r\n")
f.readline()
t = ctx.wrap_socket(s)
t.sendall(b"b LOGIN alice@example.test secret\r\n")
t.close()
print("left")
"#;

#[test]
fn a_client_that_leaves_mid_login_leaves_nothing_open_behind_it() {
    let users = vec!["alice@example.test".to_string()];
    let site = site(&users, 1);
    let director = &site.directors[0];
    for _ in 0..3 {
        python_ok(LEAVES_MID_LOGIN, &[&director.imap_port.to_string()]);
    }
    // Each ended at the director with a line; no session stays open there
    // nor at a backend.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = director.log();
        if log.matches("Disconnected").count() + log.matches("Connection closed").count() >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "three ends logged: {log}\nbackends: {}",
            site.backends
                .iter()
                .map(|b| b.log())
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until(Duration::from_secs(10), "no session left", || {
        !director.cli_ok(&["who"]).contains("alice")
            && site
                .backends
                .iter()
                .all(|b| !b.cli_ok(&["who"]).contains("alice"))
    });
}

/// `argv[2]` messages to each user (`argv[3]`, comma-separated) over SMTP at
/// the MX (`argv[1]`), one connection each, tokens in the subject.
const SEND_MANY: &str = r#"
import smtplib, sys
port, n, users = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
for i in range(n):
    for user in users:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.sendmail("bob@remote.test", [user], f"From: bob@remote.test\r\nSubject: load {i}\r\n\r\nbody\r\n".encode())
        s.quit()
print("sent")
"#;

#[test]
fn a_flush_during_deliveries_loses_no_message_and_splits_no_user() {
    let users: Vec<String> = (1..=6).map(|n| format!("busy{n}@example.test")).collect();
    let site = site(&users, 1);
    let director = &site.directors[0];
    python_ok(
        EVERY_USER_AT_EVERY_DIRECTOR,
        &[&director.imap_port.to_string(), &users.join(",")],
    );
    let mx = mx_for(&site, director);
    let port = mx.smtp_port.to_string();
    let list = users.join(",");
    let sender = std::thread::spawn(move || python_ok(SEND_MANY, &[&port, "5", &list]));
    std::thread::sleep(Duration::from_millis(500));
    let out = director.cli_ok(&["director", "flush", BACKENDS[0]]);
    assert!(out.contains("flushed"), "{out}");
    assert!(sender.join().unwrap().contains("sent"));
    mx.wait_for_empty_queue();
    for user in &users {
        assert_eq!(inbox(&site, user), 5, "{user}: {}", mx.log());
    }
    // After the flush, nothing more landed on the flushed backend, and each
    // user's later deliveries went to one backend.
    let status = director.cli_ok(&["director", "status"]);
    let line = status.lines().find(|l| l.starts_with(BACKENDS[0])).unwrap();
    assert_eq!(line.split_whitespace().nth(3), Some("0"), "{status}");
}

#[test]
fn a_director_on_the_embedded_state_is_refused_naming_state_backend() {
    let mut node = Havre::init(BIN);
    node.set("director.secret_file", "\"/etc/havre/director.secret\"");
    let out = node.cli(&["config", "set", "server.roles", "[\"director\"]"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state.backend") && err.contains("must be \"redis\" on a director"),
        "{err}"
    );
}
