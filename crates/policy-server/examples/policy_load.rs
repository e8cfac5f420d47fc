//! Load for `bench/policy`: many concurrent clients asking a Postfix policy
//! service (havre, Postgrey, Postfwd...) one request after the other, as
//! Postfix's smtpd processes do, for a fixed time; prints how many answers
//! came and of which kind.
//!
//! `policy_load HOST:PORT [CLIENTS] [SECONDS] [SEED]` (defaults: 50, 10, 1).
//!
//! Every client sends the same stream for the same seed, whatever the
//! server: RCPT requests with all the attributes Postfix 3.7 sends, one
//! message per request, from 2,000 client addresses in 40 /24 networks,
//! 5,000 senders and 1,000 recipients (so greylisting meets new triplets
//! and retries), half of them authenticated as one of 50 students
//! (`studentN@example.test`) or 50 staff (`staffN@example.test`). It runs on
//! one thread, so it takes at most one core from the server it measures.

use std::time::{Duration, Instant};

use havre_policy_proto::Request;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The kinds of answers, counted.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    dunno: u64,
    ok: u64,
    prepend: u64,
    defer: u64,
    reject: u64,
    other: u64,
    errors: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.dunno += o.dunno;
        self.ok += o.ok;
        self.prepend += o.prepend;
        self.defer += o.defer;
        self.reject += o.reject;
        self.other += o.other;
        self.errors += o.errors;
    }

    fn answers(&self) -> u64 {
        self.dunno + self.ok + self.prepend + self.defer + self.reject + self.other
    }

    fn count(&mut self, action: &str) {
        let word = action.split_whitespace().next().unwrap_or("");
        match word.to_ascii_uppercase().as_str() {
            "DUNNO" => self.dunno += 1,
            "OK" => self.ok += 1,
            "PREPEND" => self.prepend += 1,
            "DEFER_IF_PERMIT" | "DEFER" => self.defer += 1,
            "REJECT" => self.reject += 1,
            w if w.starts_with('4') => self.defer += 1,
            w if w.starts_with('5') => self.reject += 1,
            _ => self.other += 1,
        }
    }
}

/// xorshift64*: the same numbers for the same seed, cheap.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn request(rng: &mut Rng, client: usize, n: u64, seed: u64) -> Vec<u8> {
    let address = rng.below(2000);
    let client_address = format!(
        "10.{}.{}.{}",
        1 + address / 50,
        address % 50 / 5,
        1 + address % 5 * 50
    );
    let sender = format!("s{}@sender{}.test", rng.below(5000), rng.below(50));
    let recipient = format!("u{}@example.test", rng.below(1000));
    let login = match rng.below(4) {
        0 => format!("student{}@example.test", rng.below(50)),
        1 => format!("staff{}@example.test", rng.below(50)),
        _ => String::new(),
    };
    let sender = if login.is_empty() {
        sender
    } else {
        login.clone()
    };
    Request::new()
        .with("request", "smtpd_access_policy")
        .with("protocol_state", "RCPT")
        .with("protocol_name", "ESMTP")
        .with("helo_name", &format!("host{address}.example.net"))
        .with("queue_id", "")
        .with("sender", &sender)
        .with("recipient", &recipient)
        .with("recipient_count", "0")
        .with("client_address", &client_address)
        .with("client_name", "unknown")
        .with("reverse_client_name", "unknown")
        .with("instance", &format!("{client:x}.{n:x}.{seed:x}"))
        .with("sasl_method", if login.is_empty() { "" } else { "PLAIN" })
        .with("sasl_username", &login)
        .with("sasl_sender", "")
        .with("size", "0")
        .with("ccert_subject", "")
        .with("ccert_issuer", "")
        .with("ccert_fingerprint", "")
        .with("ccert_pubkey_fingerprint", "")
        .with("encryption_protocol", "TLSv1.3")
        .with("encryption_cipher", "TLS_AES_256_GCM_SHA384")
        .with("encryption_keysize", "256")
        .with("etrn_domain", "")
        .with("stress", "")
        .with("client_port", &(30000 + n % 20000).to_string())
        .with("policy_context", "")
        .with("server_address", "192.0.2.25")
        .with("server_port", "25")
        .with("compatibility_level", "3.6")
        .with("mail_version", "3.7.11")
        .encode()
}

/// One client: requests until `until`, reconnecting after a failure.
async fn client(addr: String, id: usize, until: Instant, seed: u64) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((id as u64 + 1) << 17)) | 1);
    let mut n = 0u64;
    while Instant::now() < until {
        let Ok(stream) = TcpStream::connect(&addr).await else {
            tally.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let mut line = String::new();
        'connection: while Instant::now() < until {
            let bytes = request(&mut rng, id, n, seed);
            n += 1;
            if write.write_all(&bytes).await.is_err() {
                tally.errors += 1;
                break;
            }
            let mut action = None;
            loop {
                line.clear();
                let left = until.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
                match tokio::time::timeout(left, read.read_line(&mut line)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => {
                        tally.errors += 1;
                        break 'connection;
                    }
                    Ok(Ok(_)) => {}
                }
                let text = line.trim_end_matches(['\r', '\n']);
                if text.is_empty() {
                    break;
                }
                if let Some(a) = text.strip_prefix("action=") {
                    action = Some(a.to_owned());
                }
            }
            // An answer that came after the end is not counted: every
            // server gets the same window.
            if Instant::now() <= until {
                match action {
                    Some(a) => tally.count(&a),
                    None => tally.other += 1,
                }
            }
        }
    }
    tally
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args.get(1).cloned() else {
        eprintln!("usage: policy_load HOST:PORT [CLIENTS] [SECONDS] [SEED]");
        std::process::exit(64);
    };
    let number = |i: usize, default: u64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let clients = number(2, 50) as usize;
    let seconds = number(3, 10);
    let seed = number(4, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let until = Instant::now() + Duration::from_secs(seconds);
    let total = runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|id| tokio::spawn(client(addr.clone(), id, until, seed)))
            .collect();
        let mut total = Tally::default();
        for t in tasks {
            total.add(&t.await.expect("client task"));
        }
        total
    });
    let elapsed = seconds as f64;
    println!(
        "answers={} seconds={elapsed} rate={:.0} dunno={} ok={} prepend={} defer={} reject={} other={} errors={}",
        total.answers(),
        total.answers() as f64 / elapsed,
        total.dunno,
        total.ok,
        total.prepend,
        total.defer,
        total.reject,
        total.other,
        total.errors
    );
}
