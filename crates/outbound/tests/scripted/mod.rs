//! A scripted SMTP/LMTP server on 127.0.0.1: it answers from a few rules
//! and records what it received, so tests can say what the client sent.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Rule = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// How the server answers.
#[derive(Clone)]
pub struct Script {
    pub greeting: String,
    /// Extension lines after the first EHLO/LHLO line.
    pub capabilities: Vec<String>,
    pub lmtp: bool,
    pub mail: String,
    /// Reply to RCPT TO, given the address.
    pub rcpt: Rule,
    /// Reply after the final dot; for LMTP, called once per accepted
    /// recipient with its address, for SMTP once with the first one.
    pub end_of_data: Rule,
    /// STARTTLS answered with 220 and a real TLS handshake.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// STARTTLS answered with 220, then garbage instead of a handshake.
    pub broken_tls: bool,
    /// Say nothing at all after accepting (greeting timeout tests).
    pub silent: bool,
    /// "452 4.5.3 too many recipients" past this many per transaction.
    pub max_recipients: Option<usize>,
}

impl Script {
    pub fn smtp() -> Script {
        Script {
            greeting: "220 scripted.test ESMTP".into(),
            capabilities: vec![
                "PIPELINING".into(),
                "SIZE 10240000".into(),
                "8BITMIME".into(),
            ],
            lmtp: false,
            mail: "250 2.1.0 Ok".into(),
            rcpt: Arc::new(|_| "250 2.1.5 Ok".into()),
            end_of_data: Arc::new(|_| "250 2.0.0 Ok: queued as 4XyZ".into()),
            tls: None,
            broken_tls: false,
            silent: false,
            max_recipients: None,
        }
    }

    pub fn lmtp() -> Script {
        Script {
            lmtp: true,
            capabilities: vec!["PIPELINING".into(), "ENHANCEDSTATUSCODES".into()],
            ..Script::smtp()
        }
    }

    pub fn rcpt(mut self, rule: impl Fn(&str) -> String + Send + Sync + 'static) -> Script {
        self.rcpt = Arc::new(rule);
        self
    }

    pub fn end_of_data(mut self, rule: impl Fn(&str) -> String + Send + Sync + 'static) -> Script {
        self.end_of_data = Arc::new(rule);
        self
    }

    pub fn capabilities(mut self, caps: &[&str]) -> Script {
        self.capabilities = caps.iter().map(|c| c.to_string()).collect();
        self
    }

    pub fn with_tls(mut self) -> Script {
        self.capabilities.push("STARTTLS".into());
        self.tls = Some(acceptor());
        self
    }
}

/// What the server saw.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Every command line (without CRLF), with whether it came over TLS.
    pub commands: Vec<(bool, String)>,
    /// Each message as received, dot-unstuffed, without the final dot.
    pub messages: Vec<Vec<u8>>,
    pub connections: usize,
}

impl Log {
    pub fn verbs(&self) -> Vec<String> {
        self.commands
            .iter()
            .map(|(_, line)| {
                line.split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase()
            })
            .collect()
    }
}

pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start(script: Script) -> Server {
        Server::start_on("127.0.0.1:0".parse().unwrap(), script).await
    }

    pub async fn start_on(addr: SocketAddr, script: Script) -> Server {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                task_log.lock().unwrap().connections += 1;
                let script = script.clone();
                let log = task_log.clone();
                tokio::spawn(async move {
                    let _ = session(Box::new(stream), script, log).await;
                });
            }
        });
        Server { addr, log, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }
}

async fn session(stream: Box<dyn Io>, script: Script, log: Arc<Mutex<Log>>) -> std::io::Result<()> {
    if script.silent {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return Ok(());
    }
    let mut io = BufReader::new(stream);
    let mut tls = false;
    io.get_mut()
        .write_all(format!("{}\r\n", script.greeting).as_bytes())
        .await?;
    let mut accepted: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        log.lock().unwrap().commands.push((tls, line.clone()));
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") || upper.starts_with("LHLO") {
            if upper.starts_with("LHLO") != script.lmtp {
                "500 5.5.1 wrong protocol".to_owned()
            } else {
                let mut lines = vec!["scripted.test".to_owned()];
                lines.extend(
                    script
                        .capabilities
                        .iter()
                        .filter(|c| !(tls && c.as_str() == "STARTTLS"))
                        .cloned(),
                );
                let last = lines.len() - 1;
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect::<Vec<_>>()
                    .join("\r\n")
            }
        } else if upper.starts_with("HELO") {
            "250 scripted.test".to_owned()
        } else if upper == "STARTTLS" {
            io.get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
            if script.broken_tls {
                io.get_mut().write_all(b"this is not TLS\r\n").await?;
                return Ok(());
            }
            let acceptor = script.tls.clone().expect("STARTTLS without a certificate");
            let plain = io.into_inner();
            let stream = acceptor.accept(plain).await?;
            io = BufReader::new(Box::new(stream) as Box<dyn Io>);
            tls = true;
            continue;
        } else if upper.starts_with("MAIL FROM:") {
            accepted.clear();
            script.mail.clone()
        } else if upper.starts_with("RCPT TO:") {
            let address = line[8..]
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_owned();
            let reply = if script
                .max_recipients
                .is_some_and(|max| accepted.len() >= max)
            {
                "452 4.5.3 Error: too many recipients".to_owned()
            } else {
                (script.rcpt)(&address)
            };
            if reply.starts_with('2') {
                accepted.push(address);
            }
            reply
        } else if upper == "DATA" {
            if accepted.is_empty() {
                "554 5.5.1 Error: no valid recipients".to_owned()
            } else {
                io.get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    if io.read_until(b'\n', &mut raw).await? == 0 {
                        return Ok(());
                    }
                    if raw == b".\r\n" {
                        break;
                    }
                    let unstuffed = if raw.starts_with(b".") {
                        &raw[1..]
                    } else {
                        &raw[..]
                    };
                    message.extend_from_slice(unstuffed);
                }
                log.lock().unwrap().messages.push(message);
                let replies: Vec<String> = if script.lmtp {
                    accepted.iter().map(|r| (script.end_of_data)(r)).collect()
                } else {
                    vec![(script.end_of_data)(&accepted[0])]
                };
                accepted.clear();
                replies.join("\r\n")
            }
        } else if upper == "RSET" {
            accepted.clear();
            "250 2.0.0 Ok".to_owned()
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Error: command not recognized".to_owned()
        };
        io.get_mut()
            .write_all(format!("{reply}\r\n").as_bytes())
            .await?;
    }
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    let generated = rcgen::generate_simple_self_signed(vec!["scripted.test".to_string()])
        .expect("self-signed certificate");
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("certificate and key");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
