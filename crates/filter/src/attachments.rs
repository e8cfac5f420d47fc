//! Symbols of the attachments: a symbol per risky kind (programs by name or
//! by content, programs hidden behind a second extension or inside an
//! archive, archives in archives, encrypted archives, Office macros, HTML
//! files). Refusing attachments is the attachment rules' job; the filter
//! only scores them.

use havre_content::{Attachment, Content};

use crate::score::Found;

/// Extensions of files Windows (or a Java runtime) runs when they are
/// opened: Rspamd's `bad_extensions` and the attachment rules' defaults.
const RUNNABLE: &[&str] = &[
    "exe", "scr", "com", "pif", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh", "jar",
    "msi", "msp", "lnk", "hta", "cpl", "ps1", "reg", "scf", "vb", "inf", "ace", "appx", "iso",
    "img", "vhd",
];

/// Extensions that pass for documents in a double extension (`.pdf.exe`).
const DOCUMENT: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "jpg", "jpeg", "png", "gif",
    "zip", "htm", "html", "odt",
];

/// Office formats that carry macros.
const MACRO: &[&str] = &[
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "sldm",
];

/// The attachment symbols of `content`.
pub fn symbols(content: &Content) -> Vec<Found> {
    let mut found = Vec::new();
    for a in &content.attachments {
        attachment(a, &mut found);
    }
    found
}

fn name(a: &Attachment) -> String {
    a.name.clone().unwrap_or_else(|| a.declared_type.clone())
}

fn attachment(a: &Attachment, found: &mut Vec<Found>) {
    let ext = a.extension();
    let runnable = ext.as_deref().is_some_and(|e| RUNNABLE.contains(&e));
    if runnable {
        found.push(Found::new("MIME_BAD_EXTENSION").with(name(a)));
        if double_extension(a.name.as_deref().unwrap_or("")) {
            found.push(Found::new("MIME_DOUBLE_BAD_EXTENSION").with(name(a)));
        }
    } else if a.sniffed.is_some_and(disguised_program) {
        found.push(Found::new("MIME_EXE_DISGUISED").with(format!(
            "{} is {}",
            name(a),
            a.sniffed.map(|t| t.as_str()).unwrap_or("")
        )));
    }
    if ext.as_deref().is_some_and(|e| MACRO.contains(&e)) {
        found.push(Found::new("MIME_OFFICE_MACRO").with(name(a)));
    }
    if ext
        .as_deref()
        .is_some_and(|e| matches!(e, "htm" | "html" | "shtml" | "xhtml"))
    {
        found.push(Found::new("MIME_HTML_ATTACHMENT").with(name(a)));
    }
    let Some(archive) = &a.archive else { return };
    if archive.encrypted {
        found.push(Found::new("MIME_ENCRYPTED_ARCHIVE").with(name(a)));
    }
    for entry in &archive.entries {
        let bad = entry
            .extension()
            .is_some_and(|e| RUNNABLE.contains(&e.as_str()))
            || entry.sniffed.is_some_and(|t| t.is_executable());
        if bad {
            found.push(Found::new("MIME_ARCHIVE_BAD_EXTENSION").with(format!(
                "{} in {}",
                entry.name,
                name(a)
            )));
        }
        let archive_inside = entry.sniffed.is_some_and(|t| t.is_archive())
            || entry.extension().is_some_and(|e| {
                matches!(
                    e.as_str(),
                    "zip" | "rar" | "7z" | "gz" | "tgz" | "cab" | "ace"
                )
            });
        if archive_inside {
            found.push(Found::new("MIME_ARCHIVE_IN_ARCHIVE").with(format!(
                "{} in {}",
                entry.name,
                name(a)
            )));
        }
    }
}

/// A program in bytes that runs when opened: a `#!` script does not (it
/// is text, shared on every developers' list, run by hand if at all).
fn disguised_program(t: havre_content::FileType) -> bool {
    t.is_executable() && t != havre_content::FileType::Script
}

/// `invoice.pdf.exe`: a document's extension right before the real one.
fn double_extension(name: &str) -> bool {
    let name = name.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    let mut parts = name.rsplit('.');
    let (Some(_), Some(second)) = (parts.next(), parts.next()) else {
        return false;
    };
    parts.next().is_some() && DOCUMENT.contains(&second.trim())
}

#[cfg(test)]
mod tests {
    use havre_content::{Limits, analyze};

    use super::*;

    fn with_attachment(name: &str, ctype: &str, base64: &str) -> Vec<&'static str> {
        let message = format!(
            "From: a@example.org\r\nTo: b@example.edu\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
             --b\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{base64}\r\n--b--\r\n"
        );
        let content = analyze(message.as_bytes(), &Limits::default());
        symbols(&content).into_iter().map(|f| f.name).collect()
    }

    /// `MZ` and some bytes: a Windows program's start.
    const MZ: &str = "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=";
    /// "%PDF-1.4\n" and a little more.
    const PDF: &str = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK";

    #[test]
    fn programs_by_name_by_content_and_behind_a_second_extension() {
        assert!(with_attachment("report.pdf", "application/pdf", PDF).is_empty());
        assert_eq!(
            with_attachment("setup.exe", "application/octet-stream", MZ),
            ["MIME_BAD_EXTENSION"]
        );
        assert_eq!(
            with_attachment("invoice.pdf.exe", "application/pdf", MZ),
            ["MIME_BAD_EXTENSION", "MIME_DOUBLE_BAD_EXTENSION"]
        );
        assert_eq!(
            with_attachment("photo.jpg", "image/jpeg", MZ),
            ["MIME_EXE_DISGUISED"]
        );
        assert_eq!(
            with_attachment("budget.xlsm", "application/vnd.ms-excel", PDF),
            ["MIME_OFFICE_MACRO"]
        );
        assert_eq!(
            with_attachment("login.html", "text/html", "PGh0bWw+PC9odG1sPg=="),
            ["MIME_HTML_ATTACHMENT"]
        );
        assert!(!double_extension("my.report.exe"));
        // "#!/bin/sh\necho hi\n": a script shared as text is no program.
        assert!(with_attachment("rotate", "text/plain", "IyEvYmluL3NoCmVjaG8gaGkK").is_empty());
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_program_inside_an_archive_and_an_archive_inside_an_archive() {
        use base64::Engine;
        let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
        let program = base64::engine::general_purpose::STANDARD
            .decode(MZ)
            .unwrap();
        let docs = zip(&[("notes.txt", b"hello".as_slice())]);
        assert!(with_attachment("docs.zip", "application/zip", &b64(&docs)).is_empty());
        let bad = zip(&[("readme.txt", b"hi".as_slice()), ("run.js", b"alert(1)")]);
        assert_eq!(
            with_attachment("docs.zip", "application/zip", &b64(&bad)),
            ["MIME_ARCHIVE_BAD_EXTENSION"]
        );
        let nested = zip(&[("inner.zip", zip(&[("setup.exe", &program)]).as_slice())]);
        assert_eq!(
            with_attachment("docs.zip", "application/zip", &b64(&nested)),
            ["MIME_ARCHIVE_IN_ARCHIVE", "MIME_ARCHIVE_BAD_EXTENSION"]
        );
        assert!(double_extension("Scan 2029.PDF .exe"));
    }
}
