//! `havre sendmail` (and the binary called as `sendmail` or `mailq`): the
//! interface every Unix program uses to send mail, as Postfix's sendmail.
//!
//! The message goes to the running `havre serve` through its local
//! submission socket (`sendmail.socket`), as SMTP. The queue lives in the
//! data directory of `server.user`, which other accounts cannot write; the
//! socket is the one door, and on it serve learns the caller's uid from the
//! kernel (see `havre_smtp::local`). So no setgid helper is needed, and a
//! message is queued exactly as one received by SMTP: same checks, same
//! durability. The exit status is 0 only once serve said `250 ... queued`.
//! When serve is not running, nothing is queued and the status is 75
//! (EX_TEMPFAIL) with a message saying so: a caller that retries, or cron,
//! which reports the failure, loses nothing silently.

mod args;
mod client;
mod message;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::cli::{Format, QueueCommand};
use crate::exit::{
    EX_DATAERR, EX_NOUSER, EX_SOFTWARE, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, Exit,
};
use args::{Action, Args};
use client::{Client, Reply};

/// Runs `sendmail ARGV...`; `explicit` is `--config` (or `$HAVRE_CONFIG`).
pub async fn run(explicit: Option<PathBuf>, argv: &[String]) -> anyhow::Result<()> {
    let args = match args::parse(argv) {
        Ok(args) => args,
        Err(help) if help == "--help" => {
            println!(
                "usage: sendmail [-t] [-i] [-f sender] [-F full name] [-bm|-bs|-bp] [-C config] \
                 [--] [recipient...]\n(see `havre help sendmail`)"
            );
            return Ok(());
        }
        Err(err) => {
            return Err(Exit::new(
                EX_USAGE,
                format!("sendmail: {err} (see `havre help sendmail`)"),
            )
            .into());
        }
    };
    let config = args.config.clone().or(explicit);
    match args.action {
        Action::ListQueue => {
            crate::queue_cmd::run(
                config,
                QueueCommand::List {
                    all_nodes: false,
                    format: Format::default(),
                },
            )
            .await
        }
        Action::Nothing(note) => {
            eprintln!("havre sendmail: {note}");
            Ok(())
        }
        Action::Smtp => Ok(smtp_on_stdio(&socket_path(config)?)?),
        Action::Deliver => Ok(deliver(&args, &socket_path(config)?)?),
    }
}

/// Where serve listens: `sendmail.socket` of the configuration, or the
/// default place when there is no configuration this account can read
/// (havre init writes it readable by all, like main.cf).
fn socket_path(explicit: Option<PathBuf>) -> Result<PathBuf, Exit> {
    let default = || havre_config::Sendmail::default().socket;
    let Ok(path) = crate::locate::config_path(explicit.clone()) else {
        if let Some(path) = explicit {
            return Err(Exit::new(
                EX_TEMPFAIL,
                format!(
                    "sendmail: configuration file {} does not exist; the message was not queued",
                    path.display()
                ),
            ));
        }
        return Ok(default());
    };
    match havre_config::load(&path) {
        Ok(config) => config.sendmail_socket().ok_or_else(|| {
            Exit::new(
                EX_UNAVAILABLE,
                format!(
                    "sendmail: local submission is off (sendmail.socket is empty in {}); the \
                     message was not queued",
                    config.path.display()
                ),
            )
        }),
        Err(havre_config::ConfigError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Ok(default())
        }
        Err(err) => Err(Exit::new(
            EX_TEMPFAIL,
            format!("sendmail: {err}; the message was not queued"),
        )),
    }
}

fn unreachable(socket: &Path, err: &std::io::Error) -> Exit {
    Exit::new(
        EX_TEMPFAIL,
        format!(
            "sendmail: cannot reach havre serve at {} ({err}): is it running? The message was \
             not queued",
            socket.display()
        ),
    )
}

/// A reply that ends the submission: the status for its class.
fn refused(when: &str, reply: &Reply, permanent: u8) -> Exit {
    let code = if reply.is_temporary() {
        EX_TEMPFAIL
    } else {
        permanent
    };
    Exit::new(
        code,
        format!(
            "sendmail: {when} refused: {}; the message was not queued",
            reply.text()
        ),
    )
}

/// The account running this command, by the password database.
fn caller() -> (u32, String) {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let account = havre_smtp::local::account_name(uid).unwrap_or_else(|| uid.to_string());
    (uid, account)
}

/// The full name of the From: header: `-F`, else `$NAME`, else the
/// password database's (the first field of GECOS), as sendmail has done.
fn full_name(args: &Args, uid: u32) -> Option<String> {
    args.full_name
        .clone()
        .or_else(|| std::env::var("NAME").ok())
        .or_else(|| havre_smtp::local::full_name(uid))
        .filter(|n| !n.trim().is_empty())
}

/// `-bm`: reads the message, hands it to serve, says nothing on success
/// (cron mails any output) unless `-v`.
fn deliver(args: &Args, socket: &Path) -> Result<(), Exit> {
    let io_error = |err: std::io::Error| {
        Exit::new(
            EX_TEMPFAIL,
            format!("sendmail: {err}; the message was not queued"),
        )
    };
    let mut client = Client::connect(socket).map_err(|e| unreachable(socket, &e))?;
    let greeting = client.reply().map_err(io_error)?;
    if greeting.code != 220 {
        return Err(refused("the connection", &greeting, EX_UNAVAILABLE));
    }
    let mut message = message::read(std::io::stdin().lock(), args.ignore_dots).map_err(|e| {
        Exit::new(
            EX_TEMPFAIL,
            format!("sendmail: cannot read the message: {e}; it was not queued"),
        )
    })?;
    let mut recipients = args.recipients.clone();
    if args.extract {
        for address in message.header_recipients() {
            if !recipients.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
                recipients.push(address);
            }
        }
    }
    if recipients.is_empty() {
        let why = if args.extract {
            "no recipient in the To:, Cc: or Bcc: header"
        } else {
            "no recipient given (name them as arguments, or use -t to read the header)"
        };
        return Err(Exit::new(
            EX_USAGE,
            format!("sendmail: {why}; the message was not queued"),
        ));
    }
    message.remove("Bcc");
    message.remove("Resent-Bcc");

    let (uid, account) = caller();
    let sender = match args.sender.as_deref() {
        Some("<>") | Some("") => String::new(),
        Some(given) => given.trim_matches(|c| c == '<' || c == '>').to_string(),
        None => account,
    };
    let ehlo = client.command("EHLO localhost").map_err(io_error)?;
    if !ehlo.is_ok() {
        return Err(refused("EHLO", &ehlo, EX_UNAVAILABLE));
    }
    let utf8 = !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
    let mut mail = format!("MAIL FROM:<{sender}>");
    if message.is_8bit() {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    let reply = client.command(&mail).map_err(io_error)?;
    if !reply.is_ok() {
        return Err(refused("the sender", &reply, EX_UNAVAILABLE));
    }
    // The sender as serve completed it (alice -> alice@origin).
    let sender = reply.angle_address().unwrap_or(&sender).to_string();
    let mut refused_rcpts: Vec<(String, Reply)> = Vec::new();
    let mut accepted = 0;
    for rcpt in &recipients {
        let reply = client
            .command(&format!("RCPT TO:<{rcpt}>"))
            .map_err(io_error)?;
        if reply.is_ok() {
            accepted += 1;
        } else {
            refused_rcpts.push((rcpt.clone(), reply));
        }
    }
    if accepted == 0 {
        let _ = client.command("QUIT");
        let temporary = refused_rcpts.iter().all(|(_, r)| r.is_temporary());
        return Err(Exit::new(
            if temporary { EX_TEMPFAIL } else { EX_NOUSER },
            format!(
                "sendmail: every recipient was refused, the message was not queued:\n{}",
                describe(&refused_rcpts)
            ),
        ));
    }
    complete_header(&mut message, args, uid, &sender);
    let reply = client.command("DATA").map_err(io_error)?;
    if reply.code != 354 {
        return Err(refused("DATA", &reply, EX_UNAVAILABLE));
    }
    let reply = client.data(&message.to_crlf()).map_err(io_error)?;
    if !reply.is_ok() {
        return Err(refused("the message", &reply, EX_DATAERR));
    }
    let id = reply
        .lines
        .last()
        .and_then(|l| l.rsplit_once("queued as "))
        .map(|(_, id)| id.trim().to_string())
        .unwrap_or_default();
    let _ = client.command("QUIT");
    if args.verbose {
        eprintln!("havre sendmail: queued as {id} from <{sender}> for {accepted} recipient(s)");
    }
    if !refused_rcpts.is_empty() {
        return Err(Exit::new(
            EX_NOUSER,
            format!(
                "sendmail: queued as {id} for {accepted} recipient(s), but these were refused:\n{}",
                describe(&refused_rcpts)
            ),
        ));
    }
    Ok(())
}

fn describe(refused: &[(String, Reply)]) -> String {
    refused
        .iter()
        .map(|(rcpt, reply)| format!("  {rcpt}: {}", reply.text()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What Postfix's cleanup adds to local mail without it: From: (the
/// sender, with the full name), Date:, Message-ID:.
fn complete_header(message: &mut message::Message, args: &Args, uid: u32, sender: &str) {
    if !message.has("From") {
        let address = if sender.is_empty() {
            "MAILER-DAEMON"
        } else {
            sender
        };
        message.add(
            "From",
            &message::mailbox(full_name(args, uid).as_deref(), address),
        );
    }
    if !message.has("Date") {
        message.add("Date", &chrono::Local::now().to_rfc2822());
    }
    if !message.has("Message-ID") {
        let domain = sender
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost");
        let now = chrono::Utc::now();
        message.add(
            "Message-ID",
            &format!(
                "<{}.{}.{}@{domain}>",
                now.format("%Y%m%d%H%M%S"),
                std::process::id(),
                now.timestamp_subsec_nanos()
            ),
        );
    }
}

/// `-bs`: the terminal (or the calling program) speaks SMTP with serve's
/// local session. Lines typed with a bare LF are sent with CRLF.
fn smtp_on_stdio(socket: &Path) -> Result<(), Exit> {
    let stream = UnixStream::connect(socket).map_err(|e| unreachable(socket, &e))?;
    let mut to_server = stream
        .try_clone()
        .map_err(|e| Exit::new(EX_SOFTWARE, format!("sendmail: {e}")))?;
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 8192];
        let mut last = 0u8;
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut out = Vec::with_capacity(n + 16);
            for &byte in &buf[..n] {
                if byte == b'\n' && last != b'\r' {
                    out.push(b'\r');
                }
                out.push(byte);
                last = byte;
            }
            if to_server.write_all(&out).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(std::net::Shutdown::Write);
    });
    let mut from_server = stream;
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    loop {
        match from_server.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return Ok(());
                }
            }
            Err(e) => {
                return Err(Exit::new(
                    EX_TEMPFAIL,
                    format!("sendmail: connection to havre serve lost: {e}"),
                ));
            }
        }
    }
}
