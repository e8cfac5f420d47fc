//! The top-level header: fields in order with decoded values, and the
//! From and Date a scorer checks.

use mail_parser::{Address, Header, HeaderValue};

use crate::content::HeaderField;

/// The fields of `headers` (parsed from `raw`, whose header ends at
/// `header_end`), names as written, values decoded.
pub(crate) fn fields(raw: &[u8], headers: &[Header<'_>], header_end: usize) -> Vec<HeaderField> {
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let (field, start, end) = (
            h.offset_field as usize,
            h.offset_start as usize,
            h.offset_end as usize,
        );
        if !(field < start && start <= end && end <= header_end) {
            continue;
        }
        let name = raw[field..start]
            .strip_suffix(b":")
            .unwrap_or(&raw[field..start])
            .trim_ascii();
        out.push(HeaderField {
            name: String::from_utf8_lossy(name).into_owned(),
            value: decode_value(&raw[start..end]),
            raw: start..end,
        });
    }
    out
}

/// A field value unfolded and RFC 2047 decoded, trimmed: IMAP's decoding
/// ([`havre_message::decode_header_value`]), skipped for the usual plain
/// ASCII value without encoded-words.
fn decode_value(value: &[u8]) -> String {
    if !value.is_ascii() || memchr::memmem::find(value, b"=?").is_some() {
        return havre_message::decode_header_value(value);
    }
    let mut out = String::with_capacity(value.len());
    for line in value.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // ASCII checked above.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
    }
    out.trim_matches(|c| c == ' ' || c == '\t').to_owned()
}

/// The first address of a From field: (addr-spec, display name).
pub(crate) fn from_address(value: Option<&HeaderValue<'_>>) -> (Option<String>, Option<String>) {
    let first = match value {
        Some(HeaderValue::Address(Address::List(list))) => list.first(),
        Some(HeaderValue::Address(Address::Group(groups))) => {
            groups.iter().flat_map(|g| g.addresses.first()).next()
        }
        _ => None,
    };
    let Some(addr) = first else {
        return (None, None);
    };
    let address = addr
        .address
        .as_deref()
        .filter(|a| a.contains('@'))
        .map(str::to_owned);
    let name = addr
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    (address, name)
}
