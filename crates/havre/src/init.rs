//! `havre init`: a working node from nothing.

use anyhow::{Context, bail};
use havre_config::toml_edit::{Array, Value};
use havre_directory::address::normalize_domain;

use crate::cli::InitArgs;

pub async fn run(args: InitArgs) -> anyhow::Result<()> {
    let domain = normalize_domain(&args.domain)
        .map_err(|e| anyhow::anyhow!("--domain {:?}: {e}", args.domain))?;
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| format!("mail.{domain}"));
    // The configuration directory is readable by all, like /etc/postfix: the
    // account serve switches to must reach the data directory inside it.
    if !args.dir.exists() {
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("cannot create {}", args.dir.display()))?;
        readable_by_all(&args.dir, 0o755)?;
    }
    let dir = std::path::absolute(&args.dir)?;
    let config_path = dir.join("havre.toml");
    if config_path.exists() {
        bail!(
            "{} already exists; havre init does not overwrite a configuration \
             (use `havre config set` to change it)",
            config_path.display()
        );
    }

    let Some(data_dir) = args.data_dir.to_str().map(str::to_string) else {
        bail!("--data-dir {}: not UTF-8", args.data_dir.display());
    };
    let listen = |addr: &str| {
        let mut array = Array::new();
        array.push(addr);
        Value::Array(array)
    };
    let mut overrides: Vec<(&str, Value)> = vec![
        ("server.hostname", Value::from(hostname.as_str())),
        ("server.data_dir", Value::from(data_dir.as_str())),
    ];
    if args.dev {
        if !args.address.is_loopback() {
            bail!(
                "--address {}: --dev listens on loopback only (127.0.0.0/8, ::1)",
                args.address
            );
        }
        let at = |port: u16| listen(&std::net::SocketAddr::new(args.address, port).to_string());
        overrides.push(("server.user", Value::from("")));
        overrides.push(("mx.listen", at(2525)));
        overrides.push(("lmtp.listen", at(2424)));
        overrides.push(("submission.listen", at(2587)));
        overrides.push(("submission.tls_listen", at(2465)));
        overrides.push(("imap.listen", at(2143)));
        overrides.push(("imap.tls_listen", at(2993)));
        overrides.push(("pop3.listen", at(2110)));
        overrides.push(("pop3.tls_listen", at(2995)));
        // ManageSieve's own port: 4190 is not privileged.
        overrides.push(("managesieve.listen", at(4190)));
        overrides.push(("http.listen", at(8080)));
        // Beside the configuration: /run/havre is root's to create.
        overrides.push(("sendmail.socket", Value::from("run/sendmail.sock")));
    }
    let text = havre_config::init_text(&overrides);

    // Check what we are about to write with the same loader `serve` uses.
    havre_config::parse(&text, &config_path).context("internal error: init wrote a bad config")?;
    std::fs::write(&config_path, &text)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    readable_by_all(&config_path, 0o644)?;
    let config = havre_config::load(&config_path)?;

    let mut names = vec![hostname.clone()];
    if args.dev {
        names.push("localhost".into());
    }
    crate::tls::write_self_signed(&names, &config.tls_cert(), &config.tls_key())?;
    readable_by_all(&config.tls_cert(), 0o644)?;

    let data = config.data_dir();
    for sub in [data.clone(), data.join("queue"), data.join("mail")] {
        std::fs::create_dir_all(&sub)
            .with_context(|| format!("cannot create {}", sub.display()))?;
    }
    let store = crate::locate::create_store(&config).await?;
    store.add_domain(&domain).await?;
    let dkim = crate::dkim_cmd::first_key(&config, &domain)?;
    drop(store);
    let owner_note = give_data_to_server_user(&config)?;

    let config_arg = config_path.display();
    println!("havre: wrote {config_arg}");
    println!(
        "havre: TLS certificate {} (self-signed for {})",
        config.tls_cert().display(),
        names.join(", ")
    );
    println!("havre: data in {}, local domain {domain}", data.display());
    println!("havre: DKIM key {}", dkim.path.display());
    if let Some(note) = owner_note {
        println!("{note}");
    }
    println!();
    println!("Next:");
    println!("  havre --config {config_arg} user add postmaster@{domain} --password-stdin");
    println!(
        "  havre --config {config_arg} dns records {domain}   (MX, SPF, DKIM, DMARC... to publish)"
    );
    println!("  havre --config {config_arg} serve");
    if args.dev {
        println!(
            "  (SMTP 127.0.0.1:2525, submission 2587/2465, LMTP 2424, IMAP 2143/2993, POP3 2110/2995, ManageSieve 4190, HTTP 8080)"
        );
    }
    Ok(())
}

/// What holds no secret (the configuration, the certificate) is readable by
/// all despite the umask, like main.cf.
fn readable_by_all(path: &std::path::Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// Run as root, init made the data directory and the TLS key as root; the
/// server and every later command work in it as `server.user`, and a reload
/// reads the key again after the switch, so they become that account's.
/// An account that does not exist yet is not an error here (the package may
/// create it later): the note says what to do.
fn give_data_to_server_user(config: &havre_config::LoadedConfig) -> anyhow::Result<Option<String>> {
    let user = &config.config.server.user;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || user.is_empty() {
        return Ok(None);
    }
    let data = config.data_dir();
    if crate::privileges::lookup(user).is_err() {
        return Ok(Some(format!(
            "havre: server.user {user} does not exist yet; create it and give it the data:\n  \
             useradd --system {user} && chown -R {user}: {}",
            data.display()
        )));
    }
    crate::privileges::give_tree(user, &data)?;
    // The key too: serve reads it again on `havre reload`, after the switch.
    for path in [config.tls_key(), config.tls_cert()] {
        crate::privileges::give_tree(user, &path)?;
    }
    Ok(Some(format!(
        "havre: {} belongs to {user} (server.user)",
        data.display()
    )))
}
