//! The submission role's header reading (`From:` addresses for the sender
//! check) on any bytes a client can send after DATA: it must not panic, and
//! what it returns must look like addresses, never span lines.
#![no_main]

use havre_smtp_codec::headers::from_addresses;
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
});
