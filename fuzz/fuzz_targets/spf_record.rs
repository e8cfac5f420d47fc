//! SPF records come from the DNS and anyone writes them: the parser and the
//! evaluator must not panic on any bytes, and a record that does not parse
//! is a permerror, never a pass.
#![no_main]

use havre_spf::testing::Rr::{A, Mx, Ptr, TxtParts};
use havre_spf::testing::ZoneDns;
use havre_spf::{Checker, Record, SpfResult, is_spf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|terms: &[u8]| {
    // Random bytes seldom start with the version: give it to most inputs.
    let txt = &if terms.first() == Some(&b'!') {
        terms[1..].to_vec()
    } else {
        [b"v=spf1 ", terms].concat()
    };
    let txt = txt.as_slice();
    let parsed = Record::parse(txt);
    if let Ok(record) = &parsed {
        for directive in &record.directives {
            assert!(directive.text.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
    // The same bytes as the record (and explanation) of a domain whose
    // names exist, so that its terms find something to evaluate.
    let dns = ZoneDns::new(&[
        ("example.com", TxtParts(&[txt])),
        ("example.com", A("192.0.2.1")),
        ("example.com", Mx(10, "example.com")),
        ("1.2.0.192.in-addr.arpa", Ptr("example.com")),
        ("why.example.com", TxtParts(&[txt])),
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let evaluation = runtime.block_on(Checker::new(dns).check_host(
        "192.0.2.1".parse().expect("an address"),
        "example.com",
        "user@example.com",
        "mail.example.com",
    ));
    match (is_spf(txt), parsed.is_ok()) {
        (false, _) => assert_eq!(evaluation.result, SpfResult::None),
        (true, false) => assert_eq!(evaluation.result, SpfResult::PermError),
        (true, true) => {}
    }
});
