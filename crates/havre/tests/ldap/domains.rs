//! Domains and relay domains with LDAP: a site of 36 domains, named in
//! the configuration, the database and the directory; a lab's relay
//! domain whose recipients the directory verifies at RCPT.

use havre_testkit::{Havre, SinkMode, Slapd, SmtpSink, python};

use super::{PEOPLE, accepted, node_with, refused_with, send};

/// `d01.test` ... `d36.test`.
fn domain(n: usize) -> String {
    format!("d{n:02}.test")
}

/// Sends one message from the Internet to every address of `to` in one
/// transaction: the RCPT replies, one line each.
fn send_to_all(node: &Havre, to: &[String]) -> String {
    let script = r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('remote.test')
s.mail('x@remote.test')
ok = []
for to in sys.argv[2:]:
    code, text = s.rcpt(to)
    print(code, to, flush=True)
    if code == 250:
        ok.append(to)
if ok:
    s.data(b'Subject: to every domain\r\n\r\nhello\r\n')
s.quit()
"#;
    let port = node.smtp_port.to_string();
    let mut args = vec![port.as_str()];
    args.extend(to.iter().map(String::as_str));
    let out = python(script, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_site_of_36_domains_from_the_configuration_the_database_and_ldap_takes_mail_for_each() {
    // d01-d12: named in directory.domains, their accounts in LDAP.
    // d13-d24: in the database (`havre user add` there).
    // d25-d36: entries of the directory (ldap.domain_filter), accounts in LDAP.
    let mut ldif = String::from(PEOPLE);
    ldif.push_str(
        "\ndn: ou=domains,dc=example,dc=test\nobjectClass: organizationalUnit\nou: domains\n",
    );
    for n in (1..=12).chain(25..=36) {
        let d = domain(n);
        ldif.push_str(&format!(
            "\ndn: uid=u{n},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\n\
             uid: u{n}\ncn: U{n}\nsn: U{n}\nmail: u@{d}\nuserPassword: u-secret\n"
        ));
    }
    for n in 25..=36 {
        let d = domain(n);
        ldif.push_str(&format!(
            "\ndn: ou={d},ou=domains,dc=example,dc=test\nobjectClass: organizationalUnit\n\
             objectClass: domainRelatedObject\nou: {d}\nassociatedDomain: {d}\n"
        ));
    }
    let slapd = Slapd::start(&ldif);
    let in_config: Vec<String> = (1..=12).map(domain).collect();
    // A smarthost for everything else (`*`), which never takes a domain of
    // ours, LDAP's included.
    let smarthost = SmtpSink::start(SinkMode::Accept);
    let node = node_with(&slapd, |n| {
        n.set(
            "routing.\"*\"",
            &format!("\"smtp:[127.0.0.1]:{}\"", smarthost.port),
        );
        for m in 13..=24 {
            n.cli_ok(&["domain", "add", &domain(m)]);
            n.add_user(&format!("u@{}", domain(m)));
        }
        n.set("ldap.base", "\"dc=example,dc=test\"");
        n.set(
            "ldap.domain_filter",
            "\"(&(objectClass=domainRelatedObject)(associatedDomain=%s))\"",
        );
        n.set("directory.domains", &format!("{in_config:?}"));
    });

    let everyone: Vec<String> = (1..=36).map(|n| format!("u@{}", domain(n))).collect();
    let replies = send_to_all(&node, &everyone);
    for to in &everyone {
        assert!(
            replies.contains(&format!("250 {to}\n")),
            "{replies}\n{}",
            node.log()
        );
    }
    for to in &everyone {
        assert_eq!(node.wait_for_messages(to, 1).len(), 1, "{to}");
    }
    assert!(smarthost.messages().is_empty());

    // In each kind of domain an unknown address is unknown, and a domain
    // of nobody's stays refused.
    let strangers = vec![
        "nobody@d05.test".to_string(),
        "nobody@d20.test".to_string(),
        "nobody@d30.test".to_string(),
        "u@d99.test".to_string(),
    ];
    let replies = send_to_all(&node, &strangers);
    assert_eq!(
        replies,
        "550 nobody@d05.test\n550 nobody@d20.test\n550 nobody@d30.test\n554 u@d99.test\n"
    );
    assert_eq!(
        node.cli_ok(&["route", "u@d30.test"]),
        "u@d30.test: accepted: d30.test is a domain of this node\n  \
         u@d30.test -> local (a mailbox of this node)\n"
    );
}

const LAB: &str = "
dn: uid=lena,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: lena
cn: Lena
sn: Lab
mail: lena@lab.example.test
userPassword: lena-secret

dn: cn=lab-seminar,ou=people,dc=example,dc=test
objectClass: groupOfNames
objectClass: mailUser
cn: lab-seminar
mail: seminar@lab.example.test
member: uid=lena,ou=people,dc=example,dc=test
";

#[test]
fn a_labs_relay_domain_takes_only_the_recipients_ldap_knows_and_passes_them_on() {
    let mut slapd = Slapd::start(&format!("{PEOPLE}{LAB}"));
    let lab = SmtpSink::start(SinkMode::Accept);
    let node = node_with(&slapd, |n| {
        n.set("relay.domains", "[\"lab.example.test\"]");
        n.set("relay.recipients_from_ldap", "true");
        n.set(
            "routing.\"lab.example.test\"",
            &format!("\"smtp:[127.0.0.1]:{}\"", lab.port),
        );
    });
    accepted(&node, "lena@lab.example.test");
    // A group's address is a recipient too: the lab's server expands it.
    accepted(&node, "seminar@lab.example.test");
    assert_eq!(lab.wait_for(2).len(), 2, "{}", node.log());
    let (sent, text) = send(&node, "mallory@lab.example.test");
    assert!(!sent);
    assert!(
        text.contains(
            "550 5.1.1 <mallory@lab.example.test>: Recipient address rejected: User unknown in relay recipient table"
        ),
        "{text}"
    );
    assert_eq!(
        node.cli_ok(&["route", "lena@lab.example.test"]),
        format!(
            "lena@lab.example.test: accepted: lab.example.test is a relay domain (relay.domains)\n  \
             lena@lab.example.test -> smtp:[127.0.0.1]:{} (routing.\"lab.example.test\")\n",
            lab.port
        )
    );
    assert_eq!(
        node.cli_ok(&["route", "mallory@lab.example.test"]),
        "mallory@lab.example.test: not accepted: refused at RCPT: 550 5.1.1 User unknown in \
         relay recipient table (relay.recipients, relay.recipients_from_ldap)\n"
    );

    // LDAP down: a recipient it cannot vouch for waits, never "unknown".
    slapd.stop();
    refused_with(&node, "otto@lab.example.test", "451 4.3.0");

    // Without LDAP in the directory, the setting has nothing to ask.
    let mut plain = Havre::init(env!("CARGO_BIN_EXE_havre"));
    plain.set("relay.domains", "[\"lab.example.test\"]");
    plain.set("relay.recipients_from_ldap", "true");
    let out = plain.cli(&["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("relay.recipients_from_ldap"), "{err}");
}
