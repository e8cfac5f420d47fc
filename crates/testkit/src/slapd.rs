//! A real OpenLDAP server (Debian's slapd) for a test: its own slapd.conf,
//! schema, database and log in a temporary directory, loaded with the
//! test's LDIF before it starts (slapadd), in the foreground as a child of
//! the test on a free loopback port, stopped when dropped. The system's
//! slapd (`/etc/ldap`) is neither used nor started.
//!
//! The schema: OpenLDAP's core, cosine and inetorgperson, plus what the
//! seeds' directories carry that Debian does not ship: eduPerson's
//! `eduPersonAffiliation` (under eduPerson's own OIDs) and the mail
//! attributes of the qmail/Postfix schemas (`mailAlternateAddress`,
//! `mailForwardingAddress`, `mailHost`, `mailQuota`, `mailAccountStatus`),
//! here under a private test arc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

/// The directory's suffix.
pub const LDAP_BASE: &str = "dc=example,dc=test";
/// Its administrator, who may read and write everything.
pub const LDAP_ADMIN: &str = "cn=admin,dc=example,dc=test";
pub const LDAP_ADMIN_PASSWORD: &str = "admin-secret";

const SCHEMA: &str = r#"
attributetype ( 1.3.6.1.4.1.5923.1.1.1.1 NAME 'eduPersonAffiliation'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.5923.1.1.2 NAME 'eduPerson' AUXILIARY
    MAY ( eduPersonAffiliation ) )
attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'mailAlternateAddress'
    EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )
attributetype ( 1.3.6.1.4.1.32473.1.1.2 NAME 'mailForwardingAddress'
    EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )
attributetype ( 1.3.6.1.4.1.32473.1.1.3 NAME 'mailQuota'
    EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.4 NAME 'mailAccountStatus'
    EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.5 NAME 'mailHost'
    EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.2.1 NAME 'mailUser' AUXILIARY
    MAY ( mail $ mailAlternateAddress $ mailForwardingAddress $ mailQuota $
          mailAccountStatus $ mailHost ) )
"#;

pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// slapd's port on 127.0.0.1: plain LDAP, and StartTLS.
    pub port: u16,
    /// LDAP over TLS from the first byte (ldaps).
    pub tls_port: u16,
}

impl Slapd {
    /// Loads `ldif` (entries below [`LDAP_BASE`], which is made here) and
    /// starts slapd; returns once it answers a search.
    pub fn start(ldif: &str) -> Slapd {
        assert!(
            Path::new(SLAPD).exists(),
            "{SLAPD} is missing: install Debian's slapd and ldap-utils packages (scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir(root.join("db")).expect("database directory");
        std::fs::write(root.join("havre-test.schema"), SCHEMA).expect("schema");
        // A self-signed certificate for 127.0.0.1 and localhost: the
        // client trusts it as its own CA (`ca_file`).
        let generated = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("certificate");
        std::fs::write(root.join("cert.pem"), generated.cert.pem()).expect("cert.pem");
        std::fs::write(root.join("key.pem"), generated.signing_key.serialize_pem())
            .expect("key.pem");
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include {root}/havre-test.schema\n\
             TLSCertificateFile {root}/cert.pem\n\
             TLSCertificateKeyFile {root}/key.pem\n\
             pidfile {root}/slapd.pid\n\
             argsfile {root}/slapd.args\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             database mdb\n\
             maxsize 104857600\n\
             suffix \"{LDAP_BASE}\"\n\
             rootdn \"{LDAP_ADMIN}\"\n\
             rootpw {LDAP_ADMIN_PASSWORD}\n\
             directory {root}/db\n\
             index objectClass,uid,mail,mailAlternateAddress,member eq\n\
             access to attrs=userPassword by self write by anonymous auth by * none\n\
             access to * by * read\n",
            root = root.display()
        );
        std::fs::write(root.join("slapd.conf"), conf).expect("slapd.conf");
        let base = format!(
            "dn: {LDAP_BASE}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n\
             o: Example\ndc: example\n\n{}\n",
            ldif.trim()
        );
        std::fs::write(root.join("data.ldif"), base).expect("data.ldif");
        let added = Command::new(SLAPADD)
            .arg("-f")
            .arg(root.join("slapd.conf"))
            .arg("-l")
            .arg(root.join("data.ldif"))
            .output()
            .expect("run slapadd");
        assert!(
            added.status.success(),
            "slapadd refused the test's LDIF:\n{}",
            String::from_utf8_lossy(&added.stderr)
        );
        let mut slapd = Slapd {
            dir,
            child: None,
            port: free_port(),
            tls_port: free_port(),
        };
        slapd.run();
        slapd
    }

    /// `ldap://127.0.0.1:PORT`, the form of `ldap.urls`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn tls_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    /// The certificate slapd presents (self-signed): the CA to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.path("cert.pem")
    }

    /// slapd's output (`-d stats` lines: binds, searches, results).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("slapd.out")).unwrap_or_default()
    }

    /// Applies `ldif` (changetype records) as the administrator, with ldapmodify.
    pub fn modify(&self, ldif: &str) {
        let file = self.path("change.ldif");
        std::fs::write(&file, ldif).expect("change.ldif");
        let out = Command::new("ldapmodify")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                LDAP_ADMIN,
                "-w",
                LDAP_ADMIN_PASSWORD,
                "-f",
            ])
            .arg(&file)
            .output()
            .expect("ldapmodify must be installed (package ldap-utils; scripts/test installs it)");
        assert!(
            out.status.success(),
            "ldapmodify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops slapd (SIGTERM, then SIGKILL after 10 s): its port refuses
    /// connections afterwards. [`Slapd::restart`] brings it back.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        crate::tools::wait_or_kill(&mut child, Duration::from_secs(10));
    }

    /// Starts slapd again on the same port and database.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&mut self) {
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("slapd.out"))
            .expect("slapd.out");
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(self.path("slapd.conf"))
            .arg("-h")
            .arg(format!("{}/ {}/", self.url(), self.tls_url()))
            .args(["-d", "stats"])
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("slapd.out"))
            .stderr(output)
            .spawn()
            .expect("start slapd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answered = Command::new("ldapsearch")
                .args(["-x", "-H", &self.url(), "-b", LDAP_BASE, "-s", "base", "dn"])
                .output()
                .is_ok_and(|o| o.status.success());
            if answered {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("slapd exited ({status}) before answering:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer on port {} in 30s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
