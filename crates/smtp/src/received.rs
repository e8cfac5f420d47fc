//! The `Received:` trace header (RFC 5321 4.4) havre prepends to each message.

/// `with` protocol keyword (RFC 3848): ESMTP, ESMTPS, ESMTPSA, UTF8SMTPS, LMTP...
pub fn protocol_keyword(
    lmtp: bool,
    esmtp: bool,
    tls: bool,
    utf8: bool,
    authenticated: bool,
) -> String {
    let base = match (lmtp, esmtp, utf8) {
        (true, _, false) => "LMTP",
        (true, _, true) => "UTF8LMTP",
        (false, true, false) => "ESMTP",
        (false, true, true) => "UTF8SMTP",
        (false, false, _) => "SMTP",
    };
    let mut keyword = base.to_string();
    if tls {
        keyword.push('S');
    }
    if authenticated && !lmtp {
        keyword.push('A');
    }
    keyword
}

pub struct ReceivedFields<'a> {
    pub helo: &'a str,
    pub client_name: &'a str,
    pub client_ip: std::net::IpAddr,
    pub hostname: &'a str,
    pub protocol: &'a str,
    pub queue_id: &'a str,
    /// Named only for a single recipient, as Postfix does (no leak of Bcc lists).
    pub single_recipient: Option<&'a str>,
    pub tls: Option<&'a str>,
    pub now: chrono::DateTime<chrono::Utc>,
}

pub fn received_header(f: &ReceivedFields<'_>) -> String {
    // The HELO name is client input: keep it printable and on one line.
    let helo: String = f
        .helo
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .take(255)
        .collect();
    let mut header = format!(
        "Received: from {helo} ({} [{}])\r\n",
        f.client_name, f.client_ip
    );
    if let Some(tls) = f.tls {
        header.push_str(&format!("\t({tls})\r\n"));
    }
    header.push_str(&format!(
        "\tby {} (havre) with {} id {}",
        f.hostname, f.protocol, f.queue_id
    ));
    if let Some(rcpt) = f.single_recipient {
        header.push_str(&format!("\r\n\tfor <{rcpt}>"));
    }
    header.push_str(&format!(
        "; {}\r\n",
        f.now.format("%a, %d %b %Y %H:%M:%S %z (UTC)")
    ));
    header
}

/// The trace of a local submission, as Postfix's pickup writes it: no
/// `from` clause (there is no network client), the submitting uid instead.
pub fn local_received_header(
    hostname: &str,
    uid: u32,
    queue_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "Received: by {hostname} (havre, from userid {uid})\r\n\tid {queue_id}; {}\r\n",
        now.format("%a, %d %b %Y %H:%M:%S %z (UTC)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_received_header_names_the_client_the_queue_id_and_the_single_recipient() {
        let h = received_header(&ReceivedFields {
            helo: "client.test\r\nX-Injected: yes",
            client_name: "unknown",
            client_ip: "192.0.2.7".parse().unwrap(),
            hostname: "mx.example.test",
            protocol: "ESMTPS",
            queue_id: "0123456789ABCDEF",
            single_recipient: Some("alice@example.test"),
            tls: None,
            now: chrono::Utc.with_ymd_and_hms(2026, 11, 23, 1, 2, 3).unwrap(),
        });
        assert_eq!(
            h,
            "Received: from client.test??X-Injected:?yes (unknown [192.0.2.7])\r\n\
             \tby mx.example.test (havre) with ESMTPS id 0123456789ABCDEF\r\n\
             \tfor <alice@example.test>; Mon, 23 Nov 2026 01:02:03 +0000 (UTC)\r\n"
        );
    }
}
