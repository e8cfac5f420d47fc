//! Bad input stays bounded: MIME bombs, zip bombs, broken encodings and
//! huge messages give an analysis quickly, with the limits they reached.

mod support;

use std::time::{Duration, Instant};

use havre_content::{Content, FileType, Limits, analyze};
use support::{base64_lines, with_attachment, zip, zip_stored};

/// Generous: these run unoptimised on a shared 2-core machine. An
/// unbounded analysis of the same inputs overflows the stack, runs out of
/// memory or takes minutes.
const QUICK: Duration = Duration::from_secs(10);

fn timed(name: &str, raw: &[u8]) -> Content {
    let start = Instant::now();
    let content = analyze(raw, &Limits::default());
    let took = start.elapsed();
    eprintln!("{name}: {} bytes in {took:?}", raw.len());
    assert!(took < QUICK, "{name} took {took:?}");
    content
}

const FOUR_MIB: usize = 4 * 1024 * 1024;

#[test]
fn messages_attached_inside_each_other_a_hundred_thousand_deep_stop_at_the_depth_limit() {
    let level = b"Content-Type: message/rfc822\r\n\r\n";
    let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
    while raw.len() + level.len() < FOUR_MIB - 100 {
        raw.extend_from_slice(level);
    }
    raw.extend_from_slice(b"\r\nbottom\r\n");
    let c = timed("nested message/rfc822", &raw);
    assert!(c.limits_hit.depth, "{:?}", c.limits_hit);
    assert_eq!(c.parts, Limits::default().max_depth + 1);
    assert_eq!(c.subject(), Some("deep"));
}

#[test]
fn multiparts_nested_a_hundred_thousand_deep_stop_at_the_depth_limit() {
    let mut raw = b"Subject: deep\r\nMIME-Version: 1.0\r\n".to_vec();
    let mut level = 0;
    while raw.len() < FOUR_MIB * 2 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{level}x\"\r\n\r\n--b{level}x\r\n")
                .as_bytes(),
        );
        level += 1;
    }
    assert!(level > 100_000);
    let c = timed("nested multiparts", &raw);
    assert!(
        c.limits_hit.depth && c.limits_hit.scan_bytes,
        "{:?}",
        c.limits_hit
    );
    assert_eq!(c.parts, Limits::default().max_depth + 1);
}

#[test]
fn a_hundred_thousand_parts_stop_at_the_parts_limit() {
    let mut raw =
        b"Subject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n"
            .to_vec();
    for i in 0..100_000 {
        raw.extend_from_slice(
            format!("--p\r\nContent-Type: text/plain\r\n\r\nword{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"--p--\r\n");
    let c = timed("100,000 parts", &raw);
    assert!(c.limits_hit.parts, "{:?}", c.limits_hit);
    assert_eq!(c.parts, Limits::default().max_parts);
    assert!(c.text.contains("word998\n") && !c.text.contains("word999\n"));
}

#[test]
fn a_zip_bomb_is_listed_without_being_inflated() {
    // 42.zip's shape, smaller: zips of zips of big runs of zeros; and a
    // nested zip that inflates to more than the whole inflate budget.
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let level3 = zip(&[("zeros.bin", &zeros)]);
    let level2 = zip(&[("l3-a.zip", &level3), ("l3-b.zip", &level3)]);
    let huge = zip_stored(&[("big.bin", &zeros[..9 * 1024 * 1024])]);
    let outer = zip(&[
        ("l2-a.zip", &level2),
        ("l2-b.zip", &level2),
        ("zeros.bin", &zeros),
        ("huge.zip", &huge),
    ]);
    assert!(outer.len() < 200_000, "{}", outer.len());
    let raw = with_attachment(
        "Content-Type: application/zip; name=\"bomb.zip\"\r\n",
        &outer,
    );
    let c = timed("zip bomb", &raw);
    let archive = c.attachments[0].archive.as_ref().unwrap();
    let names: Vec<(&str, usize)> = archive
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.depth))
        .collect();
    assert_eq!(
        names,
        [
            ("l2-a.zip", 1),
            ("l3-a.zip", 2),
            ("l3-b.zip", 2),
            ("l2-b.zip", 1),
            ("l3-a.zip", 2),
            ("l3-b.zip", 2),
            ("zeros.bin", 1),
            ("huge.zip", 1),
        ]
    );
    assert_eq!(archive.entries[6].size, 16 * 1024 * 1024);
    assert_eq!(archive.entries[7].size, huge.len() as u64);
    assert_eq!(archive.entries[1].sniffed, Some(FileType::Zip));
    // l3-*.zip are one level too deep to open; huge.zip is more than the
    // inflate budget.
    assert!(
        c.limits_hit.archive_depth && c.limits_hit.inflate_bytes,
        "{:?}",
        c.limits_hit
    );
    assert!(archive.unreadable);
}

#[test]
fn archives_with_many_entries_stop_at_the_entries_limit() {
    let names: Vec<String> = (0..3000).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let raw = with_attachment(
        "Content-Type: application/zip; name=\"many.zip\"\r\n",
        &zip(&entries),
    );
    let c = timed("3000 entries", &raw);
    assert!(c.limits_hit.archive_entries);
    assert_eq!(
        c.attachments[0].archive.as_ref().unwrap().entries.len(),
        Limits::default().max_archive_entries
    );
}

#[test]
fn a_fifty_megabyte_message_is_analysed_on_its_first_bytes_only() {
    let mut raw =
        b"Subject: huge\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=h\r\n\r\n\
        --h\r\nContent-Type: text/plain\r\n\r\n"
            .to_vec();
    let line = b"All work and no play makes Jack a dull boy. http://jack.example/\r\n";
    while raw.len() < 3 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--h\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let chunk = base64_lines(&[0x5a; 57 * 1000]);
    while raw.len() < 50 * 1024 * 1024 {
        raw.extend_from_slice(chunk.as_bytes());
    }
    raw.extend_from_slice(b"--h--\r\n");
    let c = timed("50 MB", &raw);
    assert_eq!(c.size, raw.len());
    assert!(
        c.limits_hit.scan_bytes && c.limits_hit.text,
        "{:?}",
        c.limits_hit
    );
    assert!(c.text.len() <= Limits::default().max_text_bytes);
    assert_eq!(c.url_hosts, ["jack.example"]);
    let a = &c.attachments[0];
    assert!(a.size < FOUR_MIB && a.size > 500_000, "{}", a.size);
    // Cut by the scan limit, the base64 is not reported broken.
    assert_eq!(c.encoding.broken_base64, 0);
}

#[test]
fn megabytes_of_broken_base64_and_quoted_printable_are_decoded_leniently() {
    let garbage: String = (0..2_000_000)
        .map(|i| ['A', '*', '=', 'z', '\n', '~'][i % 6])
        .collect();
    let qp: String = (0..400_000)
        .map(|i| ["=", "=Z", "=4", "a", "=\r\n"][i % 5])
        .collect();
    let raw = format!(
        "Subject: broken\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
         --x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n{garbage}\r\n\
         --x\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--x--\r\n"
    );
    let c = timed("broken encodings", raw.as_bytes());
    assert_eq!((c.encoding.broken_base64, c.encoding.broken_qp), (1, 1));
    assert_eq!(c.text_parts.len(), 2);
}

#[test]
fn unknown_charsets_are_listed_once_each_and_boundedly() {
    let mut raw = b"Subject: charsets\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n".to_vec();
    for i in 0..500 {
        let charset = if i % 2 == 0 {
            format!("x-unknown-{i}")
        } else {
            "x-unknown-0".to_owned()
        };
        raw.extend_from_slice(
            format!("--c\r\nContent-Type: text/plain; charset={charset}\r\n\r\ntext é {i}\r\n")
                .as_bytes(),
        );
    }
    let c = timed("unknown charsets", &raw);
    assert_eq!(c.encoding.unknown_charsets.len(), 16);
    assert_eq!(c.encoding.unknown_charsets[0], "x-unknown-0");
    assert!(c.text.contains("text é 499"));
}

#[test]
fn pathological_html_and_text_stay_linear() {
    let links: String = (0..5000)
        .map(|i| format!("<a href=\"http://h{i}.example/\">x</a>"))
        .collect();
    let deep = "<div><span style=\"color:#fff\">".repeat(50_000);
    let urls = "http://".repeat(200_000);
    let ats = "a@".repeat(500_000);
    let raw = format!(
        "Subject: html\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=h\r\n\r\n\
         --h\r\nContent-Type: text/html\r\n\r\n{links}{deep}<p>end\r\n\
         --h\r\nContent-Type: text/plain\r\n\r\n{urls} {ats}\r\n--h--\r\n"
    );
    let c = timed("pathological html", raw.as_bytes());
    assert_eq!(c.html.links.len(), Limits::default().max_urls);
    assert!(c.limits_hit.urls);
    assert_eq!(c.url_hosts.len(), Limits::default().max_urls);
}
