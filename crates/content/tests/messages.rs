//! Realistic messages give the facts the scorer, Bayes and the attachment
//! rules read.

mod support;

use havre_content::{FileType, Limits, TextKind, analyze};
use support::{base64_lines, exe_bytes, with_attachment, zip};

fn analyze_default(raw: &[u8]) -> havre_content::Content {
    analyze(raw, &Limits::default())
}

#[test]
fn a_multipart_alternative_newsletter_gives_decoded_headers_and_both_texts() {
    let raw = "Return-Path: <bounce@news.example.com>\r\n\
        Received: from mail.example.com by mx.example.org; Tue, 3 Mar 2026 10:00:00 +0000\r\n\
        From: =?UTF-8?Q?Caf=C3=A9_News?= <news@example.com>\r\n\
        To: reader@example.org\r\n\
        Subject: =?ISO-8859-1?Q?Menu_de_l'=E9t=E9?=\r\n\
        Date: Tue, 3 Mar 2026 10:59:58 +0100\r\n\
        Message-ID: <abc.123@example.com>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative;\r\n boundary=\"alt-1\"\r\n\
        \r\n\
        This is a multi-part message in MIME format.\r\n\
        --alt-1\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Our summer menu is online: https://www.Example.com/menu\r\n\
        --alt-1\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        \r\n\
        <html><body><p>Our <b>summer</b> menu is <a href=\"https://www.example.com/menu\">online</a>.</p></body></html>\r\n\
        --alt-1--\r\n";
    let c = analyze_default(raw.as_bytes());
    assert_eq!(c.subject(), Some("Menu de l'été"));
    assert_eq!(c.from(), Some("Café News <news@example.com>"));
    assert_eq!(c.from_address.as_deref(), Some("news@example.com"));
    assert_eq!(c.from_name.as_deref(), Some("Café News"));
    assert_eq!(c.message_id(), Some("<abc.123@example.com>"));
    assert_eq!(c.date_timestamp, Some(1_772_531_998));
    assert_eq!(c.received_timestamp(), Some(1_772_532_000));
    let names: Vec<&str> = c.headers.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Return-Path",
            "Received",
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type"
        ]
    );
    let ct = &c.headers[8];
    assert_eq!(
        c.raw_value(ct),
        b" multipart/alternative;\r\n boundary=\"alt-1\"\r\n"
    );
    assert!(c.raw_header().ends_with(b"boundary=\"alt-1\"\r\n\r\n"));

    assert_eq!(c.text_parts.len(), 2);
    assert_eq!(c.text_parts[0].kind, TextKind::Plain);
    assert_eq!(c.text_parts[1].kind, TextKind::Html);
    assert!(c.text_parts.iter().all(|p| p.in_alternative));
    assert_eq!(
        c.part_text(&c.text_parts[0]),
        "Our summer menu is online: https://www.Example.com/menu\n"
    );
    assert_eq!(
        c.part_text(&c.text_parts[1]),
        "Our summer menu is online.\n"
    );
    assert!(!c.html.html_only);
    assert_eq!(c.url_hosts, ["www.example.com"]);
    assert_eq!(c.parts, 3);
    assert!(c.attachments.is_empty());
    assert!(!c.limits_hit.any());
    assert!(c.capital_ratio() < 0.1);
}

#[test]
fn an_html_only_message_whose_link_names_another_site_is_seen() {
    let raw = "From: \"Bank Security\" <security@bank-alerts.example>\r\n\
        Subject: Your account is LOCKED\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/html; charset=\"us-ascii\"\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        <html><body bgcolor=3D\"#ffffff\"><p>Dear customer, VERIFY YOUR ACCOUNT NOW:</p>=\r\n\
        <a href=3D\"http://203.0.113.9.evil.example/login.php\">https://www.mybank.com/login</a>=\r\n\
        <div style=3D\"display:none\">meeting agenda lunch thanks</div>=\r\n\
        <img src=3D\"http://img.evil.example/logo.gif\"></body></html>\r\n";
    let c = analyze_default(raw.as_bytes());
    assert!(c.html.html_only);
    assert_eq!(c.html.parts, 1);
    assert_eq!(c.html.links.len(), 1);
    let link = &c.html.links[0];
    assert_eq!(link.href_host.as_deref(), Some("203.0.113.9.evil.example"));
    assert_eq!(link.text_host.as_deref(), Some("www.mybank.com"));
    assert!(link.text_names_other_host());
    assert_eq!(c.html.images, 1);
    assert!(c.hidden_text.contains("meeting agenda lunch thanks"));
    assert!(!c.text.contains("agenda"));
    assert!(c.html.hidden_chars > 20);
    assert_eq!(
        c.url_hosts,
        [
            "203.0.113.9.evil.example",
            "img.evil.example",
            "www.mybank.com"
        ]
    );
    assert_eq!(c.encoding.text_qp, 1);
    assert!(c.capital_ratio() > 0.3, "{}", c.capital_ratio());
}

#[test]
fn an_image_with_almost_no_text_is_the_image_spam_shape() {
    let raw = "Subject: hi\r\nContent-Type: text/html\r\n\r\n\
        <html><body><a href=\"http://pills.example/\"><img src=\"cid:1\"></a><br>click</body></html>\r\n";
    let c = analyze_default(raw.as_bytes());
    assert!(c.html.mostly_images);
    assert_eq!(c.html.visible_chars, 5);
}

#[test]
fn an_attached_exe_is_sniffed_as_an_executable() {
    let raw = with_attachment(
        "Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n\
         Content-Disposition: attachment; filename=\"invoice.exe\"\r\n",
        &exe_bytes(),
    );
    let c = analyze_default(&raw);
    assert_eq!(c.attachments.len(), 1);
    let a = &c.attachments[0];
    assert_eq!(a.name.as_deref(), Some("invoice.exe"));
    assert_eq!(a.extension().as_deref(), Some("exe"));
    assert_eq!(a.declared_type, "application/octet-stream");
    assert_eq!(a.sniffed, Some(FileType::WindowsExecutable));
    assert!(a.sniffed.unwrap().is_executable());
    assert_eq!(a.size, 1024);
    assert_eq!(c.text, "See attached.\n");
}

#[test]
fn an_exe_declared_as_a_pdf_shows_what_it_is() {
    let raw = with_attachment(
        "Content-Type: application/pdf; name=\"statement.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"statement.pdf\"\r\n",
        &exe_bytes(),
    );
    let a = &analyze_default(&raw).attachments[0];
    assert_eq!(a.declared_type, "application/pdf");
    assert_eq!(a.extension().as_deref(), Some("pdf"));
    assert_eq!(a.sniffed, Some(FileType::WindowsExecutable));
}

#[test]
fn an_exe_inside_a_zip_and_inside_a_zip_in_a_zip_is_listed() {
    let inner = zip(&[("setup.exe", &exe_bytes()), ("readme.txt", b"hello")]);
    let outer = zip(&[("docs/scan.pdf.exe", &exe_bytes()), ("more.zip", &inner)]);
    let raw = with_attachment(
        "Content-Type: application/zip; name=\"docs.zip\"\r\n\
         Content-Disposition: attachment; filename=\"docs.zip\"\r\n",
        &outer,
    );
    let c = analyze_default(&raw);
    let a = &c.attachments[0];
    assert_eq!(a.sniffed, Some(FileType::Zip));
    let archive = a.archive.as_ref().expect("the zip is listed");
    let entries: Vec<(&str, usize, Option<FileType>)> = archive
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.depth, e.sniffed))
        .collect();
    assert_eq!(
        entries,
        [
            ("docs/scan.pdf.exe", 1, Some(FileType::WindowsExecutable)),
            ("more.zip", 1, Some(FileType::Zip)),
            ("setup.exe", 2, Some(FileType::WindowsExecutable)),
            ("readme.txt", 2, None),
        ]
    );
    assert_eq!(archive.entries[0].extension().as_deref(), Some("exe"));
    assert_eq!(archive.entries[2].size, 1024);
    assert!(!archive.encrypted && !archive.unreadable);
    assert!(!c.limits_hit.any());
}

#[test]
fn an_encrypted_zip_entry_is_flagged() {
    let mut data = zip(&[("payload.exe", &exe_bytes())]);
    // Set bit 0 (encrypted) of the general purpose flags in the local and
    // central headers, as a password-protected zip has it.
    for (signature, flags_at) in [(b"PK\x03\x04", 6), (b"PK\x01\x02", 8)] {
        let at = data.windows(4).position(|w| w == signature).unwrap();
        data[at + flags_at] |= 1;
    }
    let raw = with_attachment("Content-Type: application/zip; name=\"p.zip\"\r\n", &data);
    let archive = analyze_default(&raw).attachments[0]
        .archive
        .clone()
        .unwrap();
    assert!(archive.encrypted);
    assert_eq!(archive.entries[0].name, "payload.exe");
    assert!(archive.entries[0].encrypted);
    assert_eq!(archive.entries[0].sniffed, None);
}

#[test]
fn office_documents_and_jars_are_told_from_plain_zips() {
    let docx = zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w/>"),
    ]);
    let jar = zip(&[
        ("META-INF/MANIFEST.MF", b"Main-Class: A\n"),
        ("A.class", b"\xca\xfe\xba\xbe"),
    ]);
    for (data, kind) in [(docx, FileType::OfficeOpenXml), (jar, FileType::Jar)] {
        let raw = with_attachment(
            "Content-Type: application/octet-stream; name=\"f\"\r\n",
            &data,
        );
        assert_eq!(analyze_default(&raw).attachments[0].sniffed, Some(kind));
    }
}

#[test]
fn file_names_in_rfc_2231_and_rfc_2047_are_decoded() {
    let raw = "Subject: names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: application/octet-stream\r\n\
        Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.exe\r\n\r\nMZ\r\n\
        --b\r\nContent-Type: application/octet-stream\r\n\
        Content-Disposition: attachment;\r\n filename*0*=iso-8859-1''fa%E7ture;\r\n filename*1=\"_2026.pdf.scr\"\r\n\r\nMZ\r\n\
        --b\r\nContent-Type: application/octet-stream; name=\"=?UTF-8?B?0YHRh9C10YIuanM=?=\"\r\n\r\nvar a;\r\n\
        --b--\r\n";
    let c = analyze_default(raw.as_bytes());
    let names: Vec<Option<&str>> = c.attachments.iter().map(|a| a.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            Some("résumé.exe"),
            Some("façture_2026.pdf.scr"),
            Some("счет.js")
        ]
    );
    let exts: Vec<Option<String>> = c.attachments.iter().map(|a| a.extension()).collect();
    assert_eq!(
        exts,
        [Some("exe".into()), Some("scr".into()), Some("js".into())]
    );
}

#[test]
fn text_sent_in_base64_and_quoted_printable_is_decoded_and_counted() {
    let raw = format!(
        "Subject: enc\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         =56=49=41=47=52=41 =E0 pas cher, tr=E8s =\r\nbon\r\n\
         --b--\r\n",
        base64_lines("Gagnez un iPhone dès aujourd'hui".as_bytes())
    );
    let c = analyze_default(raw.as_bytes());
    assert_eq!(
        c.text,
        "Gagnez un iPhone dès aujourd'hui\nVIAGRA à pas cher, très bon\n"
    );
    assert_eq!(c.encoding.text_base64, 1);
    assert_eq!(c.encoding.text_qp, 1);
    assert!(
        c.encoding.qp_max_encoded_ratio > 0.25,
        "{}",
        c.encoding.qp_max_encoded_ratio
    );
    assert_eq!((c.encoding.broken_base64, c.encoding.broken_qp), (0, 0));
}

#[test]
fn broken_encodings_unknown_charsets_and_undeclared_8bit_are_reported() {
    let raw = b"Subject: =?x-bogus?Q?abc?= caf\xe9\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8g*d29ybGQ=!!\r\n\
        --b\r\nContent-Type: text/plain; charset=\"x-martian\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n100=% free =ZZ\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nna\xefve 8-bit\r\n\
        --b\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a.gif\r\n\
        --b--\r\n";
    let c = analyze_default(raw);
    let e = &c.encoding;
    assert_eq!(e.broken_base64, 1);
    assert_eq!(e.broken_qp, 1);
    assert_eq!(e.unknown_charsets, ["x-martian"]);
    assert_eq!(e.undeclared_8bit, 1);
    assert_eq!(e.unknown_transfer_encodings, 1);
    assert!(e.header_8bit);
    assert!(c.text.contains("Hello world"));
    assert!(c.text.contains("100=% free =ZZ"));
}

#[test]
fn raw_8bit_latin1_in_headers_and_bodies_is_read_as_windows_1252() {
    let raw = b"Subject: caf\xe9 cr\xe8me\r\nContent-Type: text/plain\r\n\r\nna\xefve\r\n";
    let c = analyze_default(raw);
    assert!(c.encoding.header_8bit);
    assert_eq!(c.subject(), Some("café crème"));
    assert_eq!(c.text, "naïve\n");
    assert_eq!(c.encoding.undeclared_8bit, 1);
}

#[test]
fn an_attached_message_counts_with_its_text_and_its_files() {
    let inner = with_attachment(
        "Content-Type: application/x-msdownload; name=\"a.exe\"\r\n",
        &exe_bytes(),
    );
    let raw = format!(
        "Subject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: text/plain\r\n\r\nForwarded, see below.\r\n\
         --outer\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--outer--\r\n",
        String::from_utf8(inner).unwrap()
    );
    let c = analyze_default(raw.as_bytes());
    assert_eq!(c.subject(), Some("Fwd"));
    assert_eq!(c.text, "Forwarded, see below.\nSee attached.\n");
    assert_eq!(c.attachments.len(), 1);
    assert_eq!(c.attachments[0].sniffed, Some(FileType::WindowsExecutable));
    assert_eq!(c.parts, 6);
}

#[test]
fn url_hosts_and_email_domains_come_from_all_text() {
    let raw = "Subject: links\r\nContent-Type: text/plain\r\n\r\n\
        Go to HTTP://Shop.Example.NET/deal?id=1 or www.deals.example, \
        and http://paypal.com@phish.example/ ; write to sales@Mail.Example.org.\r\n";
    let c = analyze_default(raw.as_bytes());
    assert_eq!(
        c.url_hosts,
        ["shop.example.net", "www.deals.example", "phish.example"]
    );
    assert_eq!(c.email_domains, ["mail.example.org"]);
}

#[test]
fn a_message_without_a_body_or_header_still_gives_an_answer() {
    for raw in [
        &b""[..],
        b"\r\n",
        b"Subject: only a header",
        b"no header at all\r\n",
        b"\xff\xfe\x00",
    ] {
        let c = analyze_default(raw);
        assert_eq!(c.size, raw.len());
        assert!(c.parts <= 1);
    }
    let c = analyze_default(b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(c.subject(), Some("x"));
    assert_eq!(c.text, "body\n");
}
