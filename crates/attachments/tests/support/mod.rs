//! Messages with attachments and zip archives, built as a mail client
//! builds them (multipart/mixed, base64 parts).

#![allow(dead_code)]

use std::io::Write;

use base64::Engine;

/// The first bytes of a Windows executable (DOS stub and PE header).
pub const PE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\
This program cannot be run in DOS mode.\r\r\n$\x00\x00\x00PE\x00\x00L\x01";

/// The first bytes of an ELF executable.
pub const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00";

/// A small PDF document.
pub const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A message with a text part and `files` (name, declared type, content)
/// attached in base64.
pub fn message(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut m = String::from(
        "From: alice@example.org\r\nTo: bob@example.test\r\nSubject: documents\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere are the files.\r\n",
    );
    for (name, declared, bytes) in files {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        m.push_str(&format!(
            "--b1\r\nContent-Type: {declared}; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(line).unwrap());
            m.push_str("\r\n");
        }
    }
    m.push_str("--b1--\r\n");
    m.into_bytes()
}

/// A zip archive of `files` (name, content).
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}
