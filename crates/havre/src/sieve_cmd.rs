//! `havre sieve`: users' Sieve scripts from the command line (doveadm
//! sieve's job), and `check`/`test` on files (Pigeonhole's sievec and
//! sieve-test), which need no configuration.
//!
//! Compile errors are printed as compilers print them, `FILE:LINE:COLUMN:
//! message`, so editors and scripts can jump to them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use havre_sieve::{CompileError, Envelope, Host, Limits, Location, Message, Script};
use havre_store::{SieveDeleted, Store};
use serde::Serialize;

use crate::cli::SieveCommand;
use crate::exit::Exit;
use crate::output::{self, Report};

pub async fn run(explicit: Option<PathBuf>, command: SieveCommand) -> anyhow::Result<()> {
    match command {
        SieveCommand::Check { file } => return check(&file),
        SieveCommand::Test {
            script,
            message,
            envelope_from,
            envelope_to,
        } => return test(&script, &message, envelope_from, envelope_to),
        _ => {}
    }
    // The script to put is read before becoming server.user: the file
    // may be the caller's own.
    let put_source = match &command {
        SieveCommand::Put { file, .. } => Some(read_script(file.as_deref())?),
        _ => None,
    };
    let (_, store) = crate::directory_cmd::store(explicit).await?;
    match command {
        SieveCommand::List { user, format } => {
            let user = existing_user(&store, &user).await?;
            let scripts = store.sieve_list(&user).await?;
            let list = Scripts(
                scripts
                    .into_iter()
                    .map(|s| ScriptLine {
                        name: s.name,
                        active: s.active,
                        size: s.size,
                    })
                    .collect(),
            );
            output::print(&list, format.json)?;
        }
        SieveCommand::Get { user, name } => {
            let user = existing_user(&store, &user).await?;
            let Some(script) = store.sieve_get(&user, &name).await? else {
                bail!("{user} has no script {name:?}");
            };
            let mut text = script.source;
            if !text.ends_with('\n') && !text.is_empty() {
                text.push('\n');
            }
            output::write_stdout(&text)?;
        }
        SieveCommand::Put { user, name, file } => {
            let user = existing_user(&store, &user).await?;
            check_name(&name)?;
            let source = put_source.unwrap_or_default();
            let shown = file
                .as_deref()
                .filter(|f| *f != Path::new("-"))
                .map_or_else(|| "<stdin>".to_string(), |f| f.display().to_string());
            let errors = havre_sieve::check(&source, &Limits::default());
            if !errors.is_empty() {
                print_errors(&shown, &errors);
                return Err(Exit::new(
                    1,
                    format!(
                        "{name}: not stored: {} error{}",
                        errors.len(),
                        if errors.len() == 1 { "" } else { "s" }
                    ),
                )
                .into());
            }
            store
                .sieve_put(&user, &name, &source)
                .await
                .with_context(|| format!("cannot store {name:?} for {user}"))?;
            logged(format!("{user}: script {name:?} stored"));
            println!("script {name:?} stored for {user}");
        }
        SieveCommand::Activate { user, name } => {
            let user = existing_user(&store, &user).await?;
            if !store.sieve_activate(&user, Some(&name)).await? {
                bail!("{user} has no script {name:?}");
            }
            logged(format!("{user}: script {name:?} activated"));
            println!("script {name:?} active for {user}");
        }
        SieveCommand::Deactivate { user } => {
            let user = existing_user(&store, &user).await?;
            store.sieve_activate(&user, None).await?;
            logged(format!("{user}: scripts deactivated"));
            println!("no active script for {user}");
        }
        SieveCommand::Delete { user, name } => {
            let user = existing_user(&store, &user).await?;
            match store.sieve_delete(&user, &name).await? {
                SieveDeleted::Deleted => {
                    logged(format!("{user}: script {name:?} deleted"));
                    println!("script {name:?} deleted for {user}");
                }
                SieveDeleted::NoSuchScript => bail!("{user} has no script {name:?}"),
                SieveDeleted::Active => bail!(
                    "{name:?} is {user}'s active script: deactivate it first \
                     (havre sieve deactivate {user})"
                ),
            }
        }
        SieveCommand::Check { .. } | SieveCommand::Test { .. } => unreachable!("handled above"),
    }
    Ok(())
}

/// A change, in the mail log beside the mail it changes the fate of.
fn logged(change: String) {
    tracing::info!(target: "directory", role = "sieve", "{change}");
}

async fn existing_user(store: &Arc<dyn Store>, text: &str) -> anyhow::Result<String> {
    let user = crate::directory_cmd::address(text)?.key();
    if store.get_user(&user).await?.is_none() {
        bail!("no user {user}");
    }
    Ok(user)
}

/// The names ManageSieve takes (RFC 5804 1.6), so that a script the
/// operator stores is one the user's client can list and fetch.
fn check_name(name: &str) -> anyhow::Result<()> {
    match havre_managesieve::proto::name_problem(name) {
        Some(problem) => bail!("{name:?}: {problem}"),
        None => Ok(()),
    }
}

fn read_script(file: Option<&Path>) -> anyhow::Result<String> {
    let bytes = match file {
        Some(path) if path != Path::new("-") => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .context("cannot read the script from standard input")?;
            bytes
        }
    };
    // RFC 5228 2.1: scripts are UTF-8.
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "the script is not UTF-8 (byte {} is not)",
            e.utf8_error().valid_up_to() + 1
        )
    })
}

fn print_errors(file: &str, errors: &[CompileError]) {
    for error in errors {
        eprintln!("{file}:{}:{}: {}", error.line, error.column, error.message);
    }
}

/// `havre sieve check FILE`.
fn check(file: &Path) -> anyhow::Result<()> {
    let source = read_script(Some(file))?;
    let errors = havre_sieve::check(&source, &Limits::default());
    if errors.is_empty() {
        println!("{}: ok", file.display());
        return Ok(());
    }
    print_errors(&file.display().to_string(), &errors);
    Err(Exit::new(
        1,
        format!(
            "{}: {} error{}",
            file.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ),
    )
    .into())
}

/// `havre sieve test SCRIPT MESSAGE`.
fn test(
    script: &Path,
    message: &Path,
    from: Option<String>,
    to: Option<String>,
) -> anyhow::Result<()> {
    let source = read_script(Some(script))?;
    let raw =
        std::fs::read(message).with_context(|| format!("cannot read {}", message.display()))?;
    let limits = Limits::default();
    let compiled = match Script::compile(&source, &limits) {
        Ok(compiled) => compiled,
        Err(error) => {
            print_errors(&script.display().to_string(), &[error]);
            return Err(Exit::new(1, format!("{}: does not compile", script.display())).into());
        }
    };
    let (from_default, to_default) = envelope_defaults(&raw);
    let envelope = Envelope {
        from: from.map(|f| bare(&f)).unwrap_or(from_default),
        to: to.map(|t| bare(&t)).unwrap_or(to_default),
        original_to: None,
        auth: None,
    };
    let host = FileHost {
        dir: script
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        limits: limits.clone(),
    };
    let parsed = Message::parse(&raw);
    match compiled.run(&parsed, &envelope, &host) {
        Ok(outcome) => output::write_stdout(&outcome.to_string()),
        Err(error) => {
            eprintln!("{}: {error}", script.display());
            output::write_stdout("implicit keep (the script failed)\n")?;
            Err(Exit::new(1, format!("{}: failed at run time", script.display())).into())
        }
    }
}

/// An address without its angle brackets; `<>` is the empty sender.
fn bare(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text)
        .to_string()
}

/// Sender and recipient as delivery would have had them: Return-Path:
/// (else From:) and Delivered-To: (else To:), as sieve-test guesses.
fn envelope_defaults(raw: &[u8]) -> (String, String) {
    let parsed = mail_parser::MessageParser::default().parse_headers(raw);
    let first = |names: &[&str]| -> Option<String> {
        let parsed = parsed.as_ref()?;
        names.iter().find_map(|name| {
            let value = parsed.header(*name)?;
            match value {
                mail_parser::HeaderValue::Address(address) => address
                    .first()
                    .and_then(|a| a.address())
                    .map(str::to_string),
                mail_parser::HeaderValue::Text(text) => Some(bare(text)),
                _ => value.as_text().map(bare),
            }
        })
    };
    (
        first(&["Return-Path", "From"]).unwrap_or_else(|| "sender@example.com".into()),
        first(&["Delivered-To", "To"]).unwrap_or_else(|| "recipient@example.com".into()),
    )
}

/// `sieve test`'s world: includes are files beside the script.
struct FileHost {
    dir: PathBuf,
    limits: Limits,
}

impl Host for FileHost {
    fn mailbox_exists(&self, mailbox: &str) -> bool {
        mailbox.eq_ignore_ascii_case("INBOX")
    }

    fn include(&self, _location: Location, name: &str) -> Result<Option<Arc<Script>>, String> {
        if name.contains('/') {
            return Ok(None);
        }
        for candidate in [self.dir.join(name), self.dir.join(format!("{name}.sieve"))] {
            let Ok(source) = std::fs::read_to_string(&candidate) else {
                continue;
            };
            return Script::compile(&source, &self.limits)
                .map(|s| Some(Arc::new(s)))
                .map_err(|e| format!("{}: {e}", candidate.display()));
        }
        Ok(None)
    }
}

#[derive(Serialize)]
struct ScriptLine {
    name: String,
    active: bool,
    size: u64,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Scripts(Vec<ScriptLine>);

impl Report for Scripts {
    /// One script a line, `NAME ACTIVE` for the active one (doveadm sieve list).
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|s| {
                if s.active {
                    format!("{} ACTIVE\n", s.name)
                } else {
                    format!("{}\n", s.name)
                }
            })
            .collect()
    }
}
