//! Building test messages and archives.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use base64::Engine;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// A small but real PE header start: "MZ", the DOS stub, the PE offset.
pub fn exe_bytes() -> Vec<u8> {
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.extend_from_slice(&[0u8; 44]);
    exe.extend_from_slice(&0x80u32.to_le_bytes());
    exe.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
    exe.resize(0x80, 0);
    exe.extend_from_slice(b"PE\0\0");
    exe.resize(1024, 0x90);
    exe
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, CompressionMethod::Deflated)
}

/// A zip of `(name, content)` entries, stored (not compressed).
pub fn zip_stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, CompressionMethod::Stored)
}

fn zip_with(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (name, content) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Base64 in 76-character lines, as MIME writes it.
pub fn base64_lines(data: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect()
}

/// A multipart/mixed message with a text part and one attachment.
pub fn with_attachment(headers: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.com>\r\nTo: rcpt@example.org\r\nSubject: files\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n\
         --mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
         --mix\r\n{headers}Content-Transfer-Encoding: base64\r\n\r\n{}--mix--\r\n",
        base64_lines(data)
    )
    .into_bytes()
}
