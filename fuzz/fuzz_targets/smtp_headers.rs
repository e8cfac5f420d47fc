//! The SMTP roles' header reading (`From:` addresses for the sender check,
//! the end of the header, the removal of fields) on any bytes a client can
//! send after DATA: it must not panic, what it returns must look like
//! addresses, never span lines, and removing fields only removes bytes.
#![no_main]

use havre_smtp_codec::headers::{authserv_id, from_addresses, header_end, without_fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|head: &[u8]| {
    for address in from_addresses(head) {
        assert!(address.contains('@'), "{address:?}");
        assert!(!address.contains(['\r', '\n', ',']), "{address:?}");
        assert_eq!(address.trim(), address);
    }
    // The same header behind a From: field the check must always see.
    let mut with_from = b"From: <owner@example.test>\r\n".to_vec();
    with_from.extend_from_slice(head);
    assert_eq!(
        from_addresses(&with_from).first().map(String::as_str),
        Some("owner@example.test")
    );
    let end = header_end(head);
    assert!(end <= head.len());
    let (kept, removed) = without_fields(&head[..end], |name, value| {
        name.eq_ignore_ascii_case(b"authentication-results")
            && authserv_id(value).is_some_and(|id| id == "mx.example.test")
    });
    assert!(kept.len() <= end);
    assert_eq!(removed == 0, kept.len() == end);
});
