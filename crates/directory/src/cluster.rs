//! How a director logs in at a backend on a user's behalf (the director
//! role): SASL PLAIN with the user as authorization identity, `director`
//! as authentication identity and, as password, a token signed with the
//! cluster's shared secret (`director.secret_file`): it names the user and
//! the time, so it is worth nothing for another user nor a minute later,
//! and the user's own password is never kept by the director. A backend
//! takes such a login only from `director.trusted_networks`.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use hmac::{KeyInit, Mac};
use ipnet::IpNet;
use sha2::Sha256;

type Hmac = hmac::Hmac<Sha256>;

/// The authentication identity of a director's logins.
pub const DIRECTOR_LOGIN: &str = "director";

/// How far a token's time may be from the backend's clock.
const VALID_FOR: Duration = Duration::from_secs(60);

/// The cluster's secret and the networks directors log in from.
#[derive(Clone)]
pub struct ClusterLogin {
    secret: Vec<u8>,
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
        ClusterLogin {
            secret: secret.to_vec(),
            trusted,
        }
    }

    /// Whether `ip` is in `director.trusted_networks`: its connections
    /// count as secure (no TLS needed inside the cluster) and may log in
    /// with a token.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The password of a director's login as `user`, now.
    pub fn token(&self, user: &str) -> String {
        self.token_at(user, unix_now())
    }

    fn token_at(&self, user: &str, at: u64) -> String {
        let signature: String = self
            .signed(user, at)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("v1.{at}.{signature}")
    }

    /// Whether `token` is a director's login as `user` made within a
    /// minute of now.
    pub fn verify(&self, user: &str, token: &str) -> bool {
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
            && self.signed(user, at).verify_slice(&signature).is_ok()
    }

    /// The MAC of a login as `user` at `at` (Unix seconds).
    fn signed(&self, user: &str, at: u64) -> Hmac {
        let mut mac = self.mac();
        mac.update(user.to_lowercase().as_bytes());
        mac.update(b"\0");
        mac.update(at.to_string().as_bytes());
        mac
    }

    fn mac(&self) -> Hmac {
        <Hmac as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }
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

    #[test]
    fn a_token_logs_in_its_user_only() {
        let cluster = login();
        let token = cluster.token("alice@univ.example");
        assert!(cluster.verify("alice@univ.example", &token));
        assert!(cluster.verify("Alice@Univ.Example", &token));
        assert!(!cluster.verify("bob@univ.example", &token));
        let other = ClusterLogin::new(b"another secret", vec![]);
        assert!(!other.verify("alice@univ.example", &token));
    }

    #[test]
    fn an_old_or_mangled_token_is_refused() {
        let cluster = login();
        let old = cluster.token_at("alice@univ.example", unix_now() - 120);
        assert!(!cluster.verify("alice@univ.example", &old));
        for bad in ["", "v1", "v1.x.y", "v2.1.00", "secret"] {
            assert!(!cluster.verify("alice@univ.example", bad), "{bad}");
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
