//! RFC 5256 SORT and THREAD keys of a message, from the first occurrence of
//! each header (as Dovecot sorts).

use crate::address::parse_address_list;
use crate::date::parse_date;
use crate::header::{Field, message_header};
use crate::msgid::message_ids;
use crate::subject::base_subject_info;
use crate::text::{decode_header_value, header_string};

/// What SORT and THREAD need to know about one message.
///
/// Text keys are upper-cased in ASCII, so comparing them byte by byte is
/// the i;ascii-casemap collation RFC 5256 prescribes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// Sent date (Date: header) in Unix seconds; `None` when missing or
    /// unparsable: use the INTERNALDATE then ([`SortKeys::sent_date_or`]).
    pub date: Option<i64>,
    /// Base subject (RFC 5256 2.1), upper-cased.
    pub subject: String,
    /// The subject marked a reply or forward (used by THREAD=REFERENCES).
    pub reply_or_forward: bool,
    /// Mailbox (local part) of the first From / To / Cc address,
    /// upper-cased; empty when there is none.
    pub from: String,
    pub to: String,
    pub cc: String,
    /// RFC 5957 DISPLAYFROM / DISPLAYTO: the first From / To address's
    /// display name (encoded-words decoded), else its `mailbox@host`,
    /// upper-cased; empty when there is none.
    pub display_from: String,
    pub display_to: String,
    /// First valid Message-ID, as "<left@right>".
    pub message_id: Option<String>,
    /// Valid message-IDs of References, in order.
    pub references: Vec<String>,
    /// First valid message-ID of In-Reply-To.
    pub in_reply_to: Option<String>,
}

impl SortKeys {
    /// The sent date, or `internal_date` when the message has none.
    pub fn sent_date_or(&self, internal_date: i64) -> i64 {
        self.date.unwrap_or(internal_date)
    }
}

/// The sort keys of a message (only its header is read).
pub fn sort_keys(raw: &[u8]) -> SortKeys {
    keys_from_fields(&message_header(raw).fields)
}

/// RFC 5256: the addr-mailbox of the first address as ENVELOPE gives it; for
/// a group that is its start marker, whose mailbox is the group's name (as
/// Dovecot sorts `undisclosed-recipients:;`).
fn first_mailbox(value: Option<&[u8]>) -> String {
    value
        .map(parse_address_list)
        .and_then(|list| list.into_iter().next())
        .and_then(|a| a.mailbox)
        .map(|m| header_string(&m).to_ascii_uppercase())
        .unwrap_or_default()
}

/// RFC 5957 3: the display name of the first address when it has a
/// non-empty one, else the address itself (a group: its name).
fn first_display(value: Option<&[u8]>) -> String {
    let Some(first) = value
        .map(parse_address_list)
        .and_then(|list| list.into_iter().next())
    else {
        return String::new();
    };
    let decoded = |b: &Option<Vec<u8>>| b.as_deref().map(decode_header_value).unwrap_or_default();
    let name = decoded(&first.name);
    let shown = if !name.is_empty() {
        name
    } else if first.domain.is_some() {
        format!("{}@{}", decoded(&first.mailbox), decoded(&first.domain))
    } else {
        decoded(&first.mailbox)
    };
    shown.to_ascii_uppercase()
}

pub(crate) fn keys_from_fields(fields: &[Field]) -> SortKeys {
    let first = |name: &str| fields.iter().find(|f| f.is(name)).map(|f| &f.value[..]);
    let (subject, reply_or_forward) = first("Subject").map(base_subject_info).unwrap_or_default();
    SortKeys {
        date: first("Date").and_then(parse_date),
        subject: subject.to_ascii_uppercase(),
        reply_or_forward,
        from: first_mailbox(first("From")),
        to: first_mailbox(first("To")),
        cc: first_mailbox(first("Cc")),
        display_from: first_display(first("From")),
        display_to: first_display(first("To")),
        message_id: first("Message-ID").and_then(|v| message_ids(v).into_iter().next()),
        references: first("References").map(message_ids).unwrap_or_default(),
        in_reply_to: first("In-Reply-To").and_then(|v| message_ids(v).into_iter().next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_sorts_by_its_name() {
        let keys = sort_keys(b"From: b@example.test\r\nTo: undisclosed-recipients:;\r\n\r\n");
        assert_eq!(keys.to, "UNDISCLOSED-RECIPIENTS");
        let keys = sort_keys(b"To: Team: zed@example.test, amy@example.test;\r\n\r\n");
        assert_eq!(keys.to, "TEAM");
        assert_eq!(keys.from, "");
    }

    #[test]
    fn display_keys_are_the_decoded_name_else_the_address() {
        let keys = sort_keys(
            b"From: =?utf-8?q?Zo=C3=A9_Adams?= <zed@example.test>\r\n\
              To: \"\" <amy@Example.test>, Bob <bob@example.test>\r\n\r\n",
        );
        assert_eq!(keys.display_from, "ZOé ADAMS");
        assert_eq!(keys.display_to, "AMY@EXAMPLE.TEST");
        let keys =
            sort_keys(b"From: (no name here) carl@example.test\r\nTo: Team: a@b.test;\r\n\r\n");
        assert_eq!(keys.display_from, "CARL@EXAMPLE.TEST");
        assert_eq!(keys.display_to, "TEAM");
        assert_eq!(sort_keys(b"Subject: none\r\n\r\n").display_from, "");
    }
}
