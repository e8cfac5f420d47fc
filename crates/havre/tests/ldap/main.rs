//! The institution's LDAP directory, on a real slapd: its accounts log in
//! over IMAP and SMTP AUTH by binding as themselves, mail to their other
//! addresses arrives, a disabled account is nobody, a password changed in
//! LDAP counts at once, an injection finds nobody, and LDAP down means
//! "try again later", never "unknown user".

mod domains;
mod faults;

use havre_testkit::imap::IMAPLIB_PRELUDE;
use havre_testkit::{Havre, LDAP_ADMIN, LDAP_ADMIN_PASSWORD, SinkMode, Slapd, SmtpSink, python};

const PEOPLE: &str = "\
dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=ana,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: eduPerson
objectClass: mailUser
uid: ana
cn: Ana Lopez
sn: Lopez
mail: ana@example.test
mailAlternateAddress: ana.lopez@example.test
eduPersonAffiliation: student
userPassword: ana-secret

dn: uid=bert,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: eduPerson
uid: bert
cn: Bert Martin
sn: Martin
mail: bert@example.test
eduPersonAffiliation: faculty
userPassword: bert-secret

dn: uid=carl,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: mailUser
uid: carl
cn: Carl Gone
sn: Gone
mail: carl@example.test
mailAccountStatus: disabled
userPassword: carl-secret

dn: cn=lab-team,ou=people,dc=example,dc=test
objectClass: groupOfNames
objectClass: mailUser
cn: lab-team
mail: lab-team@example.test
member: uid=ana,ou=people,dc=example,dc=test
member: uid=bert,ou=people,dc=example,dc=test
";

/// A node whose directory is slapd's, then its own users (alice, a local
/// exception).
fn node(slapd: &Slapd) -> Havre {
    node_with(slapd, |_| {})
}

fn node_with(slapd: &Slapd, configure: impl FnOnce(&mut Havre)) -> Havre {
    Havre::started(env!("CARGO_BIN_EXE_havre"), &["alice@example.test"], |n| {
        std::fs::write(
            n.dir().join("ldap.secret"),
            format!("{LDAP_ADMIN_PASSWORD}\n"),
        )
        .unwrap();
        n.set("directory.backend", "[\"ldap\", \"internal\"]");
        n.set("ldap.urls", &format!("[\"{}\"]", slapd.url()));
        n.set("ldap.starttls", "false");
        n.set("ldap.bind_dn", &format!("\"{LDAP_ADMIN}\""));
        n.set("ldap.bind_password_file", "\"ldap.secret\"");
        n.set("ldap.base", "\"ou=people,dc=example,dc=test\"");
        configure(n);
    })
}

/// What an IMAP LOGIN as `user` with `password` answers: `OK`, or the
/// server's words.
fn imap_login(node: &Havre, user: &str, password: &str) -> String {
    let script = format!(
        "{IMAPLIB_PRELUDE}
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.starttls(ssl_context=ctx)
try:
    # imaplib sends the user name as it is: quoted here, so that any
    # characters reach the server as a string.
    typ, data = m.login('\"' + sys.argv[2] + '\"', sys.argv[3])
    print(typ)
except imaplib.IMAP4.error as e:
    print('NO', e)
"
    );
    let out = python(&script, &[&node.imap_port.to_string(), user, password]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// swaks from the Internet to `to` over the mx: (accepted, transcript).
fn send(node: &Havre, to: &str) -> (bool, String) {
    node.send_to_mx(to)
}

/// Mail from the Internet to `to` is taken.
fn accepted(node: &Havre, to: &str) {
    let (sent, text) = send(node, to);
    assert!(sent, "{text}\n{}", node.log());
}

/// Mail from the Internet to `to` is refused with `reply` (a code, or
/// more of the words).
fn refused_with(node: &Havre, to: &str, reply: &str) {
    let (sent, text) = send(node, to);
    assert!(!sent && text.contains(reply), "{text}");
}

#[test]
fn an_ldap_student_logs_in_by_uid_or_address_and_gets_mail_sent_to_her_other_address() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    assert_eq!(
        imap_login(&node, "ana", "ana-secret"),
        "OK",
        "{}",
        node.log()
    );
    assert_eq!(imap_login(&node, "ana@example.test", "ana-secret"), "OK");
    assert!(imap_login(&node, "ana", "wrong").starts_with("NO"));
    // The local exception still logs in.
    assert_eq!(imap_login(&node, "alice@example.test", "secret"), "OK");

    accepted(&node, "ana.lopez@example.test");
    accepted(&node, "bert@example.test");
    assert_eq!(node.wait_for_messages("ana@example.test", 1).len(), 1);
    assert_eq!(node.wait_for_messages("bert@example.test", 1).len(), 1);
    refused_with(&node, "nobody@example.test", "550 5.1.1");

    // SMTP AUTH on submission, as herself.
    let (sent, text) = node.submit_as("ana", "ana-secret", "ana@example.test", "bert@example.test");
    assert!(sent, "{text}");
    assert_eq!(node.wait_for_messages("bert@example.test", 2).len(), 2);
}

#[test]
fn a_disabled_account_cannot_log_in_and_its_mail_is_refused_as_unknown() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    assert!(imap_login(&node, "carl", "carl-secret").starts_with("NO"));
    refused_with(&node, "carl@example.test", "550 5.1.1");

    // Or, as the site prefers, as a disabled mailbox.
    let refusing = node_with(&slapd, |n| n.set("ldap.disabled_mail", "\"refuse\""));
    let (sent, text) = send(&refusing, "carl@example.test");
    assert!(!sent);
    assert!(
        text.contains(
            "550 5.2.1 <carl@example.test>: Recipient address rejected: Mailbox disabled"
        ),
        "{text}"
    );
    assert_eq!(
        refusing.cli_ok(&["route", "carl@example.test"]),
        "carl@example.test: not accepted: refused at RCPT: 550 5.2.1 Mailbox disabled (a disabled LDAP account)\n"
    );
}

#[test]
fn a_password_changed_in_ldap_works_at_once_and_the_old_one_stops_within_the_cache_ttl() {
    let slapd = Slapd::start(PEOPLE);
    let node = node_with(&slapd, |n| n.set("auth.cache_ttl", "\"2s\""));
    assert_eq!(imap_login(&node, "bert", "bert-secret"), "OK");
    slapd.modify(
        "dn: uid=bert,ou=people,dc=example,dc=test\nchangetype: modify\n\
         replace: userPassword\nuserPassword: bert-new\n",
    );
    assert_eq!(imap_login(&node, "bert", "bert-new"), "OK");
    // The old one was accepted by a bind less than 2 s ago: it may still
    // pass until then, never after.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(imap_login(&node, "bert", "bert-secret").starts_with("NO"));
    assert_eq!(imap_login(&node, "bert", "bert-new"), "OK");
}

#[test]
fn logins_bind_as_each_user_on_kept_connections_not_a_new_one_each() {
    let slapd = Slapd::start(PEOPLE);
    // No cache: every login below binds.
    let node = node_with(&slapd, |n| n.set("auth.cache_ttl", "\"0s\""));
    assert_eq!(imap_login(&node, "ana", "ana-secret"), "OK");
    let connections = |log: &str| log.matches("ACCEPT from").count();
    let before = connections(&slapd.log());
    for (user, password, answer) in [
        ("bert", "bert-secret", "OK"),
        ("ana", "wrong", "NO"),
        ("ana", "ana-secret", "OK"),
        ("bert", "bert-secret", "OK"),
        ("ana", "ana-secret", "OK"),
    ] {
        let got = imap_login(&node, user, password);
        assert!(got.starts_with(answer), "{user}: {got}");
    }
    let log = slapd.log();
    assert!(log.matches(" BIND dn=\"uid=").count() >= 6, "{log}");
    assert_eq!(connections(&log), before, "{log}");
}

#[test]
fn an_injection_in_a_login_finds_nobody() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    // Unescaped, `ana)(uid=ana` would make the filter find Ana, whose
    // password this is; escaped (RFC 4515) it finds nobody.
    assert!(imap_login(&node, "ana)(uid=ana", "ana-secret").starts_with("NO"));
    assert!(imap_login(&node, "*)(uid=*", "ana-secret").starts_with("NO"));
    assert!(imap_login(&node, "*", "ana-secret").starts_with("NO"));
}

#[test]
fn with_ldap_down_mail_is_deferred_never_refused_as_unknown_and_flows_again_when_it_is_back() {
    let mut slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    // Bert was looked up a moment ago: his answer is kept (ldap.cache_ttl)
    // and serves while no server answers.
    accepted(&node, "bert@example.test");
    slapd.stop();
    let (sent, text) = send(&node, "bert@example.test");
    assert!(sent, "kept answer: {text}");
    // Never 550 "unknown": the directory could not say.
    refused_with(&node, "ana@example.test", "451 4.3.0");
    let login = imap_login(&node, "ana", "ana-secret");
    assert!(login.starts_with("NO"), "{login}");
    // Alice, a local exception, still logs in.
    assert_eq!(imap_login(&node, "alice@example.test", "secret"), "OK");
    assert!(
        node.log().contains("no LDAP server answered"),
        "{}",
        node.log()
    );
    slapd.restart();
    accepted(&node, "ana@example.test");
    assert_eq!(node.wait_for_messages("ana@example.test", 1).len(), 1);
    assert_eq!(imap_login(&node, "ana", "ana-secret"), "OK");
}

#[test]
fn directory_check_binds_runs_the_filters_and_shows_accounts_as_havre_reads_them() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    let out = node.cli_ok(&["directory", "check", "Ana.Lopez@example.test"]);
    assert!(
        out.contains(&format!("servers: {}\n", slapd.url())),
        "{out}"
    );
    assert!(
        out.contains("accounts: 3 (user_filter with %u = *)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  ana <ana@example.test> class=student also=ana.lopez@example.test \
             (uid=ana,ou=people,dc=example,dc=test)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("  bert <bert@example.test> class=staff ("),
        "{out}"
    );
    assert!(
        out.contains("  carl <carl@example.test> class=default DISABLED ("),
        "{out}"
    );
    assert!(
        out.ends_with("ana.lopez@example.test: ana <ana@example.test> class=student also=ana.lopez@example.test (uid=ana,ou=people,dc=example,dc=test)\n"),
        "{out}"
    );

    // A wrong service password is said plainly, and the check fails.
    std::fs::write(node.dir().join("ldap.secret"), "wrong\n").unwrap();
    let out = node.cli(&["directory", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("bind as {LDAP_ADMIN}")), "{err}");
}

#[test]
fn mail_to_an_ldap_group_reaches_each_of_its_members() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    accepted(&node, "lab-team@example.test");
    assert_eq!(node.wait_for_messages("ana@example.test", 1).len(), 1);
    assert_eq!(node.wait_for_messages("bert@example.test", 1).len(), 1);
    let why = node.cli_ok(&["route", "lab-team@example.test"]);
    assert!(
        why.starts_with(
            "lab-team@example.test: accepted: example.test is a domain of this node; \
             alias of ana@example.test, bert@example.test\n"
        ),
        "{why}"
    );
}

#[test]
fn ldaps_and_starttls_carry_the_logins_when_the_sites_ca_is_trusted_and_nothing_otherwise() {
    let slapd = Slapd::start(PEOPLE);
    let ca = slapd.ca_file().display().to_string();
    let over_ldaps = node_with(&slapd, |n| {
        n.set("ldap.urls", &format!("[\"{}\"]", slapd.tls_url()));
        n.set("ldap.ca_file", &format!("\"{ca}\""));
    });
    assert_eq!(
        imap_login(&over_ldaps, "ana", "ana-secret"),
        "OK",
        "{}",
        over_ldaps.log()
    );
    let over_starttls = node_with(&slapd, |n| {
        n.set("ldap.starttls", "true");
        n.set("ldap.ca_file", &format!("\"{ca}\""));
    });
    assert_eq!(
        imap_login(&over_starttls, "ana", "ana-secret"),
        "OK",
        "{}",
        over_starttls.log()
    );
    // Without the site's CA, the self-signed certificate is refused: no
    // login, and no password sent in clear either.
    let binds = || slapd.log().matches("BIND dn=\"uid=ana,").count();
    let before = binds();
    assert!(before > 0, "slapd logs each bind: {}", slapd.log());
    let untrusted = node_with(&slapd, |n| n.set("ldap.starttls", "true"));
    assert!(imap_login(&untrusted, "ana", "ana-secret").starts_with("NO"));
    assert_eq!(binds(), before, "{}", slapd.log());
    assert!(
        untrusted.log().contains("no LDAP server answered"),
        "{}",
        untrusted.log()
    );
}

#[test]
fn a_user_whose_ldap_account_names_her_labs_server_gets_her_mail_there() {
    let slapd = Slapd::start(PEOPLE);
    let lab = SmtpSink::start(SinkMode::Accept);
    slapd.modify(&format!(
        "dn: uid=dora,ou=people,dc=example,dc=test\nchangetype: add\n\
         objectClass: inetOrgPerson\nobjectClass: mailUser\nuid: dora\ncn: Dora Lab\nsn: Lab\n\
         mail: dora@example.test\nmailHost: 127.0.0.1:{}\nuserPassword: dora-secret\n",
        lab.port
    ));
    let node = node(&slapd);
    accepted(&node, "dora@example.test");
    assert_eq!(lab.wait_for(1).len(), 1, "{}", node.log());
    node.wait_for_empty_queue();
    assert!(node.messages("dora@example.test").is_empty());
    let why = node.cli_ok(&["route", "dora@example.test"]);
    assert_eq!(
        why,
        format!(
            "dora@example.test: accepted: example.test is a domain of this node\n  \
             dora@example.test -> smtp:[127.0.0.1]:{} (her mail host in LDAP (127.0.0.1:{}))\n",
            lab.port, lab.port
        )
    );
}

#[test]
fn with_ldap_auth_password_her_ssha_hash_is_read_and_verified_here_without_a_bind_as_her() {
    let slapd = Slapd::start(PEOPLE);
    let hashed = std::process::Command::new("/usr/sbin/slappasswd")
        .args(["-h", "{SSHA}", "-s", "emma-secret"])
        .output()
        .expect("slappasswd (package slapd)");
    let hash = String::from_utf8(hashed.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("{SSHA}"), "{hash}");
    slapd.modify(&format!(
        "dn: uid=emma,ou=people,dc=example,dc=test\nchangetype: add\n\
         objectClass: inetOrgPerson\nuid: emma\ncn: Emma\nsn: Emma\n\
         mail: emma@example.test\nuserPassword: {hash}\n"
    ));
    let node = node_with(&slapd, |n| n.set("ldap.auth", "\"password\""));
    assert_eq!(
        imap_login(&node, "emma", "emma-secret"),
        "OK",
        "{}",
        node.log()
    );
    assert!(imap_login(&node, "emma", "wrong").starts_with("NO"));
    assert_eq!(
        slapd.log().matches("BIND dn=\"uid=emma,").count(),
        0,
        "{}",
        slapd.log()
    );
}

#[test]
fn user_show_says_where_an_account_comes_from() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    let shown = node.cli_ok(&["user", "show", "ana.lopez@example.test"]);
    for line in [
        "email:    ana@example.test\n",
        "class:    student\n",
        "password: LDAP bind\n",
        "source:   ldap uid=ana,ou=people,dc=example,dc=test\n",
        "also:     ana.lopez@example.test\n",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
    let shown = node.cli_ok(&["user", "show", "alice@example.test"]);
    assert!(shown.contains("source:   internal\n"), "{shown}");
    let out = node.cli(&["user", "show", "nobody@example.test"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user nobody@example.test"));
}

#[test]
fn directory_cache_flush_makes_a_password_taken_back_in_ldap_count_before_the_ttl() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    assert_eq!(imap_login(&node, "bert", "bert-secret"), "OK");
    slapd.modify(
        "dn: uid=bert,ou=people,dc=example,dc=test\nchangetype: modify\n\
         replace: userPassword\nuserPassword: bert-new\n",
    );
    // Within auth.cache_ttl (60 s) the bind accepted a moment ago stands...
    assert_eq!(imap_login(&node, "bert", "bert-secret"), "OK");
    // ...until the operator says otherwise.
    assert_eq!(
        node.cli_ok(&["directory", "cache", "flush"]),
        "directory cache flushed\n"
    );
    assert!(imap_login(&node, "bert", "bert-secret").starts_with("NO"));
    assert_eq!(imap_login(&node, "bert", "bert-new"), "OK");
}

#[test]
fn a_student_by_her_ldap_affiliation_gets_the_student_rate_limit() {
    let slapd = Slapd::start(PEOPLE);
    let node = node(&slapd);
    let send_as_ana = || {
        node.submit_as(
            "ana",
            "ana-secret",
            "ana@example.test",
            "friend@elsewhere.test",
        )
        .1
    };
    for n in 1..=10 {
        let text = send_as_ana();
        assert!(
            text.contains("250 2.0.0 Ok: queued as "),
            "message {n}: {text}"
        );
    }
    let text = send_as_ana();
    assert!(
        text.contains("450 4.7.1") && text.contains("for class student"),
        "11th: {text}"
    );
}

#[test]
fn a_domain_named_in_the_configuration_takes_mail_for_its_ldap_accounts() {
    let slapd = Slapd::start(PEOPLE);
    slapd.modify(
        "dn: uid=fred,ou=people,dc=example,dc=test\nchangetype: add\n\
         objectClass: inetOrgPerson\nuid: fred\ncn: Fred\nsn: Fred\n\
         mail: fred@lab.example.test\nuserPassword: fred-secret\n",
    );
    let node = node_with(&slapd, |n| {
        n.set("directory.domains", "[\"lab.example.test\"]")
    });
    accepted(&node, "fred@lab.example.test");
    assert_eq!(node.wait_for_messages("fred@lab.example.test", 1).len(), 1);
    refused_with(&node, "nobody@lab.example.test", "550 5.1.1");
}

#[test]
fn an_ldap_directory_without_servers_or_base_is_refused_by_config_check_with_its_key() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("directory.backend", "\"ldap\"");
    let out = node.cli(&["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ldap.urls") && err.contains("name at least one server"),
        "{err}"
    );
    node.set("ldap.urls", "[\"ldap.example.test\"]");
    let err = String::from_utf8_lossy(&node.cli(&["config", "check"]).stderr).into_owned();
    assert!(err.contains("expected ldap://host[:port]"), "{err}");
    node.set("ldap.urls", "[\"ldap://127.0.0.1:389\"]");
    let err = String::from_utf8_lossy(&node.cli(&["config", "check"]).stderr).into_owned();
    assert!(err.contains("ldap.base"), "{err}");
}

/// Postfix's policy delegation, as smtpd would ask for a student's RCPT
/// (sasl_username `ana`): the 11th message of the minute is deferred.
const POLICY_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
for n in range(11):
    attrs = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
             "protocol_name": "ESMTP", "client_address": "192.0.2.7",
             "client_name": "unknown", "helo_name": "laptop.example.net",
             "sender": "ana@example.test", "recipient": "x@example.net",
             "instance": "m%d" % n, "sasl_method": "plain", "sasl_username": "ana"}
    s.sendall(("".join("%s=%s\n" % kv for kv in attrs.items()) + "\n").encode())
    lines = []
    while True:
        line = f.readline().decode().rstrip("\n")
        if line == "":
            break
        lines.append(line)
    print(n + 1, " | ".join(lines))
"#;

#[test]
fn the_policy_service_gives_an_ldap_student_the_student_rate_limit() {
    let slapd = Slapd::start(PEOPLE);
    let port = havre_testkit::free_port();
    let node = node_with(&slapd, |n| {
        n.set("policy.listen", &format!("[\"127.0.0.1:{port}\"]"))
    });
    node.wait_for_log(&format!("listening on 127.0.0.1:{port}"), 1);
    let out = havre_testkit::python_ok(POLICY_CLIENT, &[&port.to_string()]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" action=DUNNO")).count(),
        10,
        "{out}"
    );
    assert!(
        out.contains(
            "11 action=450 4.7.1 Rate limit exceeded: 10 messages per minute for class student"
        ),
        "{out}"
    );
}
