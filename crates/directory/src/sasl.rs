//! SASL PLAIN (RFC 4616) and LOGIN messages, shared by every protocol that
//! authenticates users (IMAP, POP3, submission). Only the decoding lives here;
//! each protocol frames the exchange its own way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("invalid base64")]
    Base64,
    #[error("malformed PLAIN message")]
    Malformed,
    #[error("authorization identity differs from the authentication identity")]
    ProxyNotAllowed,
}

/// Credentials from a PLAIN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// Decodes `base64(authzid NUL authcid NUL passwd)`. An authorization
/// identity other than empty or the user itself is refused: nobody may log
/// in as someone else here.
pub fn decode_plain(encoded: &str) -> Result<Credentials, SaslError> {
    let raw = decode_base64(encoded)?;
    let mut parts = raw.split(|b| *b == 0);
    let (Some(authz), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let (authz, user, password) = (text(authz)?, text(user)?, text(password)?);
    if user.is_empty() {
        return Err(SaslError::Malformed);
    }
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(&user) {
        return Err(SaslError::ProxyNotAllowed);
    }
    Ok(Credentials { user, password })
}

/// A PLAIN message of a director logging in on a user's behalf: its
/// authorization identity (the user), authentication identity and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBehalf {
    pub user: String,
    pub login: String,
    pub password: String,
}

/// A PLAIN message, as a server that takes directors' logins reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plain {
    Own(Credentials),
    /// The authorization identity differs from the authentication
    /// identity: for the caller to allow only from a director.
    Behalf(OnBehalf),
}

/// Decodes a PLAIN message as [`decode_plain`] does, a login on someone's
/// behalf included.
pub fn decode_plain_any(encoded: &str) -> Result<Plain, SaslError> {
    match decode_plain(encoded) {
        Err(SaslError::ProxyNotAllowed) => {}
        other => return other.map(Plain::Own),
    }
    let raw = decode_base64(encoded)?;
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|p| String::from_utf8(p.to_vec()).map_err(|_| SaslError::Malformed))
        .collect::<Result<_, _>>()?;
    let [user, login, password] =
        <[String; 3]>::try_from(parts).map_err(|_| SaslError::Malformed)?;
    Ok(Plain::Behalf(OnBehalf {
        user,
        login,
        password,
    }))
}

/// A PLAIN message logging in as `user` with `login`'s `password`.
pub fn encode_plain_behalf(user: &str, login: &str, password: &str) -> String {
    encode_base64(format!("{user}\0{login}\0{password}").as_bytes())
}

/// One step of LOGIN (user name, then password), each base64.
pub fn decode_login_step(encoded: &str) -> Result<String, SaslError> {
    String::from_utf8(decode_base64(encoded)?).map_err(|_| SaslError::Malformed)
}

pub fn decode_base64(encoded: &str) -> Result<Vec<u8>, SaslError> {
    STANDARD
        .decode(encoded.trim())
        .map_err(|_| SaslError::Base64)
}

pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_message_gives_user_and_password() {
        let msg = encode_base64(b"\0alice@example.test\0secret");
        assert_eq!(
            decode_plain(&msg),
            Ok(Credentials {
                user: "alice@example.test".into(),
                password: "secret".into()
            })
        );
        let same = encode_base64(b"alice@example.test\0alice@example.test\0secret");
        assert!(decode_plain(&same).is_ok());
    }

    #[test]
    fn logging_in_as_someone_else_or_garbage_is_refused() {
        let proxy = encode_base64(b"bob@example.test\0alice@example.test\0secret");
        assert_eq!(decode_plain(&proxy), Err(SaslError::ProxyNotAllowed));
        assert_eq!(decode_plain("***"), Err(SaslError::Base64));
        assert_eq!(
            decode_plain(&encode_base64(b"no-nuls")),
            Err(SaslError::Malformed)
        );
        assert_eq!(
            decode_plain(&encode_base64(b"\0\0pw")),
            Err(SaslError::Malformed)
        );
    }
}
