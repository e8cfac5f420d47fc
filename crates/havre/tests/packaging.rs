//! The Debian package as `scripts/deb` builds it (here from the debug
//! binary): what dpkg reads of it, the files it installs, maintainer
//! scripts that parse, a systemd unit that systemd accepts and rates as
//! confined, a man page per command that man renders, and completions
//! that bash loads.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_installs_the_binary_a_confined_unit_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    // The binary under test: target/debug/havre.
    let target = Path::new(BIN).parent().unwrap().parent().unwrap();
    run(Command::new(repo().join("scripts/deb"))
        .args([
            "--profile",
            "dev",
            "--no-build",
            "--fast",
            "--quiet",
            "--output",
        ])
        .arg(dir.path())
        .env("CARGO_TARGET_DIR", target));
    let deb = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");

    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    for field in [
        "Package: havre",
        "Section: mail",
        "Depends: adduser",
        "Provides: mail-transport-agent, imap-server, pop3-server",
        "Conflicts: mail-transport-agent",
    ] {
        assert!(info.contains(field), "{field}: {info}");
    }
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));

    // The binary runs; the maintainer scripts parse and do what they say.
    let help = run(Command::new(root.join("usr/bin/havre")).arg("--help"));
    assert!(help.contains("backup"), "{help}");
    for script in ["postinst", "postrm", "prerm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system --group --home /var/lib/havre"),
        "{postinst}"
    );
    assert!(
        postinst.contains("havre init --dir /etc/havre")
            && postinst.contains("--data-dir /var/lib/havre")
    );
    assert!(
        postinst.contains("deb-systemd-helper enable havre.service"),
        "{postinst}"
    );

    // The unit: systemd accepts it (the binary path and the man pages
    // pointed at this test's) and rates its confinement OK or better.
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/havre.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/havre --config /etc/havre/havre.toml serve"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let here = dir.path().join("havre.service");
    let local: String = unit
        .replace(
            "/usr/bin/havre",
            root.join("usr/bin/havre").to_str().unwrap(),
        )
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&here, local).unwrap();
    run(Command::new("systemd-analyze").arg("verify").arg(&here));
    let security = run(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&here));
    let level = security
        .lines()
        .find_map(|l| l.split("Overall exposure level for havre.service: ").nth(1))
        .unwrap_or_else(|| panic!("{security}"));
    let score: f64 = level.split_whitespace().next().unwrap().parse().unwrap();
    assert!(score <= 3.0, "exposure {level}");

    // A man page per command, each one man renders.
    let pages: Vec<String> = std::fs::read_dir(root.join("usr/share/man/man8"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "havre.8.gz",
        "havre-serve.8.gz",
        "havre-queue-list.8.gz",
        "havre-report.8.gz",
        "havre-backup-restore-user.8.gz",
    ] {
        assert!(pages.contains(&page.to_string()), "{page} in {pages:?}");
    }
    let manual = run(Command::new("man")
        .arg("-l")
        .arg(root.join("usr/share/man/man8/havre-queue-list.8.gz"))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat"));
    assert!(
        manual.contains("NAME") && manual.contains("havre queue list"),
        "{manual}"
    );

    // bash loads the completion and completes the commands.
    let completed = run(Command::new("bash").arg("-c").arg(format!(
        "source {}; COMP_WORDS=(havre bac); COMP_CWORD=1; _havre havre bac havre; echo \"${{COMPREPLY[@]}}\"",
        root.join("usr/share/bash-completion/completions/havre").display()
    )));
    assert_eq!(completed.trim(), "backup", "{completed}");
    for shell_file in [
        "usr/share/zsh/vendor-completions/_havre",
        "usr/share/fish/vendor_completions.d/havre.fish",
    ] {
        assert!(root.join(shell_file).exists(), "{shell_file}");
    }
}

#[test]
fn init_as_the_package_runs_it_puts_the_data_in_var_lib() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/havre");
    let data = dir.path().join("var/lib/havre");
    run(Command::new(BIN)
        .args([
            "init",
            "--domain",
            "example.test",
            "--hostname",
            "mx.example.test",
            "--dir",
        ])
        .arg(&etc)
        .arg("--data-dir")
        .arg(&data));
    let config = etc.join("havre.toml");
    let got = run(Command::new(BIN).arg("--config").arg(&config).args([
        "config",
        "get",
        "server.data_dir",
    ]));
    assert_eq!(got.trim(), format!("{:?}", data.to_str().unwrap()));
    assert!(data.join("queue").is_dir() && data.join("mail").is_dir());
    run(Command::new(BIN).arg("--config").arg(&config).args([
        "config",
        "set",
        "log.output",
        "\"journald\"",
    ]));
    // The one thing missing here is the account postinst makes first.
    let check = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&check.stderr);
    let problems: Vec<&str> = err.lines().filter(|l| l.contains("havre.toml:")).collect();
    assert_eq!(problems.len(), 1, "{err}");
    assert!(problems[0].contains("no account named \"havre\""), "{err}");
}
