//! What the directory's faults do to mail and logins: entries written
//! oddly, a server that takes connections and never answers, slapd
//! stopped while mail flows. Mail is deferred (4xx), never refused as
//! unknown because the directory could not be asked, and never lost.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use havre_testkit::{Slapd, python};

use super::{PEOPLE, accepted, imap_login, node, node_with, refused_with};

/// Accounts as real directories hold them after years of hand edits.
const ODD_ENTRIES: &str = "
dn: uid=dora,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: mailUser
uid: dora
cn: Dora
sn: Dora
mail: dora@example.test
mail: d.explorer@example.test
mailQuota: lots
userPassword: dora-secret

dn: uid=eli,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: eli
cn: Eli
sn: Nomail
userPassword: eli-secret

dn: cn=Fay Nouid,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
cn: Fay Nouid
sn: Nouid
mail: fay@example.test
userPassword: fay-secret

dn: uid=gus,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: mailUser
uid: gus
cn: Gus
sn: Gus
mail: gus@example.test
mailAlternateAddress: helpdesk@example.test
userPassword: gus-secret

dn: uid=hal,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: mailUser
uid: hal
cn: Hal
sn: Hal
mail: hal@example.test
mailAlternateAddress: helpdesk@example.test
userPassword: hal-secret
";

#[test]
fn entries_with_missing_or_duplicate_attributes_are_read_sensibly_or_deferred_never_guessed() {
    let slapd = Slapd::start(&format!("{PEOPLE}{ODD_ENTRIES}"));
    let node = node(&slapd);

    // Two mail values: the first is her mailbox, the second one more
    // address of hers. A quota that is not a size is her class's, said
    // in the log with the entry it came from.
    accepted(&node, "d.explorer@example.test");
    assert_eq!(node.wait_for_messages("dora@example.test", 1).len(), 1);
    assert_eq!(imap_login(&node, "dora", "dora-secret"), "OK");
    assert!(
        node.log()
            .contains("uid=dora,ou=people,dc=example,dc=test: mailQuota \"lots\" is not a size"),
        "{}",
        node.log()
    );

    // No mail attribute: not a mail account, whatever her password.
    assert!(imap_login(&node, "eli", "eli-secret").starts_with("NO"));

    // No uid: she logs in by her address.
    assert_eq!(imap_login(&node, "fay@example.test", "fay-secret"), "OK");
    accepted(&node, "fay@example.test");
    assert_eq!(node.wait_for_messages("fay@example.test", 1).len(), 1);

    // One address on two accounts: which one is meant cannot be told.
    // The mail waits at the sender (4xx) while the log names both
    // entries for the operator; each of them still gets their own mail.
    refused_with(&node, "helpdesk@example.test", "451 4.3.0");
    let log = node.log();
    assert!(
        log.contains("matches 2 LDAP entries (uid=gus,ou=people,dc=example,dc=test; uid=hal,ou=people,dc=example,dc=test)")
            || log.contains("matches 2 LDAP entries (uid=hal,ou=people,dc=example,dc=test; uid=gus,ou=people,dc=example,dc=test)"),
        "{log}"
    );
    accepted(&node, "gus@example.test");
    assert_eq!(node.wait_for_messages("gus@example.test", 1).len(), 1);
}

/// A TCP server that accepts connections and never says a word (a hung
/// slapd, a firewall that eats packets after the handshake).
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => open.push(stream),
                Err(_) => return,
            }
        }
    });
    (port, held)
}

#[test]
fn a_server_that_never_answers_is_given_up_after_the_timeout_for_the_next_one() {
    let slapd = Slapd::start(PEOPLE);
    let (silent, _held) = silent_server();
    let hung = format!("ldap://127.0.0.1:{silent}");

    // The hung server first, slapd second: logins and mail go through,
    // each connection waiting at most ldap.timeout for the first.
    let node = node_with(&slapd, |n| {
        n.set("ldap.urls", &format!("[\"{hung}\", \"{}\"]", slapd.url()));
        n.set("ldap.timeout", "\"1s\"");
    });
    let started = Instant::now();
    assert_eq!(
        imap_login(&node, "ana", "ana-secret"),
        "OK",
        "{}",
        node.log()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    accepted(&node, "bert@example.test");
    assert!(
        node.log()
            .contains(&format!("{hung}: no answer within 1s (ldap.timeout)")),
        "{}",
        node.log()
    );

    // The hung server alone: RCPT answers "try again later" within the
    // timeout (not after the client's own), a login is refused, and
    // neither hangs.
    let alone = node_with(&slapd, |n| {
        n.set("ldap.urls", &format!("[\"{hung}\"]"));
        n.set("ldap.timeout", "\"1s\"");
    });
    let started = Instant::now();
    refused_with(&alone, "bert@example.test", "451 4.3.0");
    assert!(started.elapsed() < Duration::from_secs(10));
    let started = Instant::now();
    assert!(imap_login(&alone, "ana", "ana-secret").starts_with("NO"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Sends one message a connection for `seconds` to `recipients` in turn
/// (each with a `+N` tag, so that every RCPT asks the directory), and
/// prints each RCPT's code and the address.
const LOAD: &str = r#"
import smtplib, sys, time
port, seconds, recipients = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
end = time.time() + seconds
n = 0
while time.time() < end:
    local, domain = recipients[n % len(recipients)].split('@')
    to = '%s+%d@%s' % (local, n, domain)
    n += 1
    s = smtplib.SMTP('127.0.0.1', port, timeout=30)
    s.ehlo('load.test')
    s.mail('x@remote.test')
    code, _ = s.rcpt(to)
    if code == 250:
        s.data(b'Subject: load ' + str(n).encode() + b'\r\n\r\nhello\r\n')
    s.quit()
    print(code, to, flush=True)
    time.sleep(0.05)
"#;

#[test]
fn slapd_stopped_during_a_load_defers_recipients_and_loses_nothing() {
    let mut slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    let port = node.smtp_port.to_string();
    let load = std::thread::spawn(move || {
        python(LOAD, &[&port, "9", "ana@example.test", "bert@example.test"])
    });
    std::thread::sleep(Duration::from_secs(2));
    slapd.stop();
    std::thread::sleep(Duration::from_secs(3));
    slapd.restart();
    let out = load.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let codes: Vec<(u16, &str)> = lines
        .lines()
        .map(|l| {
            let (code, to) = l.split_once(' ').unwrap();
            (code.parse().unwrap(), to)
        })
        .collect();
    assert!(
        codes.iter().all(|(code, _)| *code == 250 || *code == 451),
        "{lines}"
    );
    assert!(codes.iter().any(|(code, _)| *code == 451), "{lines}");
    // Mail flows again once slapd is back.
    assert!(
        codes.last().is_some_and(|(code, _)| *code == 250),
        "{lines}"
    );
    for who in ["ana", "bert"] {
        let accepted = codes
            .iter()
            .filter(|(code, to)| *code == 250 && to.starts_with(&format!("{who}+")))
            .count();
        assert!(accepted > 0, "{lines}");
        let mailbox = format!("{who}@example.test");
        assert_eq!(
            node.wait_for_messages(&mailbox, accepted).len(),
            accepted,
            "{}",
            node.log()
        );
    }
}

#[test]
fn with_no_ldap_server_at_start_serve_starts_and_answers_try_again_later() {
    let slapd = Slapd::start(PEOPLE);
    // A port where nothing listens: the directory is down from the start.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("ldap://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let node = node_with(&slapd, |n| {
        n.set("ldap.urls", &format!("[\"{nowhere}\"]"));
    });
    refused_with(&node, "ana@example.test", "451 4.3.0");
    // Not "wrong password": the client is told to come back (RFC 5530).
    let login = imap_login(&node, "ana", "ana-secret");
    assert!(login.contains("[UNAVAILABLE]"), "{login}");
    // The local exception is served all the same.
    assert_eq!(imap_login(&node, "alice@example.test", "secret"), "OK");
    let log = node.log();
    assert!(
        log.contains(&format!("no LDAP server answered ({nowhere}: ")),
        "{log}"
    );
}
