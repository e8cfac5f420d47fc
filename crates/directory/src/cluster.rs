//! How a director logs in at a backend on a user's behalf (the director
//! role): SASL PLAIN with the user as authorization identity, `director`
//! as authentication identity and, as password, a token signed with the
//! cluster's shared secret (`director.secret_file`): it names the user and
//! the time, so it is worth nothing for another user nor a minute later,
//! and the user's own password is never kept by the director. A backend
//! takes such a login only from `director.trusted_networks`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hmac::{KeyInit, Mac};
use ipnet::IpNet;
use sha2::Sha256;

type Hmac = hmac::Hmac<Sha256>;

/// The authentication identity of a director's logins.
pub const DIRECTOR_LOGIN: &str = "director";

/// Who a director's probe logs in as when `director.probe_user` names
/// nobody: not an address, so no account's; a backend answers it once the
/// token, its directory and its mail storage answer as a login needs them,
/// without opening anyone's session.
pub const PROBE_LOGIN: &str = "director-probe";

/// How far a token's time may be from the backend's clock.
const VALID_FOR: Duration = Duration::from_secs(60);

/// Where the cluster's secret comes from: a file every node has
/// (`director.secret_file`), or the shared state ([`Fixed`] or the
/// director crate's `SharedSecret`).
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self) -> Result<Vec<u8>, String>;
}

/// A secret read once (from `director.secret_file`).
pub struct Fixed(pub Vec<u8>);

#[async_trait]
impl SecretSource for Fixed {
    async fn secret(&self) -> Result<Vec<u8>, String> {
        Ok(self.0.clone())
    }
}

/// The cluster's secret and the networks directors log in from.
#[derive(Clone)]
pub struct ClusterLogin {
    secrets: Arc<dyn SecretSource>,
    trusted: Vec<IpNet>,
}

impl std::fmt::Debug for ClusterLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLogin")
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl ClusterLogin {
    pub fn new(secret: &[u8], trusted: Vec<IpNet>) -> ClusterLogin {
        ClusterLogin::from_source(Arc::new(Fixed(secret.to_vec())), trusted)
    }

    pub fn from_source(secrets: Arc<dyn SecretSource>, trusted: Vec<IpNet>) -> ClusterLogin {
        ClusterLogin { secrets, trusted }
    }

    /// Whether `ip` is in `director.trusted_networks`: its connections
    /// count as secure (no TLS needed inside the cluster) and may log in
    /// with a token.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The password of a director's login as `user`, now.
    pub async fn token(&self, user: &str) -> Result<String, String> {
        let secret = self.secrets.secret().await?;
        Ok(token_at(&secret, user, unix_now()))
    }

    /// Whether `token` is a director's login as `user` made within a
    /// minute of now (false too when the secret cannot be read).
    pub async fn verify(&self, user: &str, token: &str) -> bool {
        match self.secrets.secret().await {
            Ok(secret) => verify(&secret, user, token),
            Err(err) => {
                tracing::warn!(target: "directory", "director login as {user} refused: the cluster's secret: {err}");
                false
            }
        }
    }
}

fn token_at(secret: &[u8], user: &str, at: u64) -> String {
    let signature: String = signed(secret, user, at)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1.{at}.{signature}")
}

fn verify(secret: &[u8], user: &str, token: &str) -> bool {
    let mut fields = token.split('.');
    let (Some("v1"), Some(at), Some(signature), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    let (Ok(at), Some(signature)) = (at.parse::<u64>(), from_hex(signature)) else {
        return false;
    };
    unix_now().abs_diff(at) <= VALID_FOR.as_secs()
        && signed(secret, user, at).verify_slice(&signature).is_ok()
}

/// The MAC of a login as `user` at `at` (Unix seconds).
fn signed(secret: &[u8], user: &str, at: u64) -> Hmac {
    let mut mac = <Hmac as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(user.to_lowercase().as_bytes());
    mac.update(b"\0");
    mac.update(at.to_string().as_bytes());
    mac
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// An IPv4 address seen as IPv6 (`::ffff:a.b.c.d`) is the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> ClusterLogin {
        ClusterLogin::new(b"cluster secret", vec!["10.0.0.0/24".parse().unwrap()])
    }

    #[tokio::test]
    async fn a_token_logs_in_its_user_only() {
        let cluster = login();
        let token = cluster.token("alice@univ.example").await.unwrap();
        assert!(cluster.verify("alice@univ.example", &token).await);
        assert!(cluster.verify("Alice@Univ.Example", &token).await);
        assert!(!cluster.verify("bob@univ.example", &token).await);
        let other = ClusterLogin::new(b"another secret", vec![]);
        assert!(!other.verify("alice@univ.example", &token).await);
    }

    #[tokio::test]
    async fn an_old_or_mangled_token_is_refused() {
        let cluster = login();
        let old = token_at(b"cluster secret", "alice@univ.example", unix_now() - 120);
        assert!(!cluster.verify("alice@univ.example", &old).await);
        for bad in ["", "v1", "v1.x.y", "v2.1.00", "secret"] {
            assert!(!cluster.verify("alice@univ.example", bad).await, "{bad}");
        }
    }

    #[test]
    fn only_the_trusted_networks_may_use_it() {
        let cluster = login();
        assert!(cluster.trusts("10.0.0.7".parse().unwrap()));
        assert!(cluster.trusts("::ffff:10.0.0.7".parse().unwrap()));
        assert!(!cluster.trusts("10.0.1.7".parse().unwrap()));
    }
}
