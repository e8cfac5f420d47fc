//! RFC 5256 SORT and THREAD keys of a message, from the first occurrence of
//! each header (as Dovecot sorts).

use crate::address::parse_address_list;
use crate::date::parse_date;
use crate::header::{Field, message_header};
use crate::msgid::message_ids;
use crate::subject::base_subject_info;
use crate::text::header_string;

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
}
