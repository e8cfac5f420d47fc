//! Which file the default rules refuse, and what they say about it.

mod support;

use havre_attachments::{Refused, Rules, Why};
use havre_content::{FileType, analyze};
use support::{ELF, PDF, PE, message, zip};

/// The defaults of `[attachments]`, as the binary builds them.
fn rules() -> Rules {
    Rules::new(
        [
            "exe", "scr", "com", "pif", "bat", "cmd", "js", "vbs", "jar", "msi", "lnk", "iso",
        ],
        [
            "application/x-msdownload",
            "application/x-executable",
            "application/java-archive",
            "application/x-ms-shortcut",
        ],
        true,
    )
}

fn refused(rules: &Rules, files: &[(&str, &str, &[u8])]) -> Option<Refused> {
    let raw = message(files);
    rules.refused(&analyze(&raw, &rules.limits()))
}

#[test]
fn an_exe_attachment_is_refused_as_an_executable() {
    let r = refused(&rules(), &[("invoice.exe", "application/octet-stream", PE)]).unwrap();
    assert_eq!(r.to_string(), "invoice.exe (executable)");
    assert_eq!(
        r.why,
        Why::Content {
            kind: FileType::WindowsExecutable,
            disguise: None
        }
    );
}

#[test]
fn a_refused_extension_is_refused_whatever_the_content_and_the_case() {
    let r = refused(
        &rules(),
        &[("Run.VBS", "text/plain", b"WScript.Echo 1\r\n")],
    )
    .unwrap();
    assert_eq!(r.to_string(), "Run.VBS (.vbs file)");
    // Only the last extension counts, trailing dots and spaces ignored.
    let r = refused(&rules(), &[("report.pdf.scr. ", "application/pdf", b"x")]).unwrap();
    assert_eq!(r.why, Why::Extension("scr".into()));
}

#[test]
fn an_executable_disguised_as_a_pdf_is_refused_for_what_it_is() {
    let r = refused(&rules(), &[("invoice.pdf", "application/pdf", PE)]).unwrap();
    assert_eq!(
        r.to_string(),
        "invoice.pdf (executable sent as application/pdf)"
    );
    let r = refused(&rules(), &[("notes.txt", "text/plain", ELF)]).unwrap();
    assert_eq!(r.to_string(), "notes.txt (executable sent as text/plain)");
}

#[test]
fn a_declared_executable_type_is_refused_under_any_name() {
    let r = refused(&rules(), &[("data.bin", "application/x-msdownload", b"??")]).unwrap();
    assert_eq!(r.to_string(), "data.bin (type application/x-msdownload)");
}

#[test]
fn a_file_inside_a_zip_is_refused_by_its_name_or_its_content() {
    let archive = zip(&[("readme.txt", b"hello"), ("setup.exe", PE)]);
    let r = refused(&rules(), &[("docs.zip", "application/zip", &archive)]).unwrap();
    assert_eq!(r.to_string(), "setup.exe in docs.zip (executable)");
    let hidden = zip(&[("scan.pdf", PE)]);
    let r = refused(&rules(), &[("scans.zip", "application/zip", &hidden)]).unwrap();
    assert_eq!(r.file, "scan.pdf");
    assert_eq!(r.archive.as_deref(), Some("scans.zip"));
    let script = zip(&[("dir/start.bat", b"@echo off\r\n")]);
    let r = refused(&rules(), &[("a.zip", "application/zip", &script)]).unwrap();
    assert_eq!(r.to_string(), "dir/start.bat in a.zip (.bat file)");
}

#[test]
fn a_zip_inside_a_zip_is_opened_too() {
    let inner = zip(&[("payload.js", b"var x = 1;")]);
    let outer = zip(&[("inner.zip", &inner)]);
    let r = refused(&rules(), &[("outer.zip", "application/zip", &outer)]).unwrap();
    assert_eq!(r.to_string(), "payload.js in outer.zip (.js file)");
}

#[test]
fn an_exe_after_megabytes_of_padding_is_seen() {
    let padding = vec![b'%'; 6 * 1024 * 1024];
    let r = refused(
        &rules(),
        &[
            ("big.pdf", "application/pdf", &padding),
            ("invoice.exe", "application/octet-stream", PE),
        ],
    )
    .unwrap();
    assert_eq!(r.to_string(), "invoice.exe (executable)");
}

#[test]
fn without_archive_scanning_a_zip_is_judged_by_itself_only() {
    let off = Rules::new(["exe"], ["application/x-msdownload"], false);
    let archive = zip(&[("setup.exe", PE)]);
    assert_eq!(
        refused(&off, &[("docs.zip", "application/zip", &archive)]),
        None
    );
}

#[test]
fn ordinary_documents_and_archives_of_documents_pass() {
    let archive = zip(&[("thesis.pdf", PDF), ("data.csv", b"a,b\r\n1,2\r\n")]);
    assert_eq!(
        refused(
            &rules(),
            &[
                ("thesis.pdf", "application/pdf", PDF),
                ("chapters.zip", "application/zip", &archive),
                (
                    "photo.jpg",
                    "image/jpeg",
                    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
                ),
            ],
        ),
        None
    );
}

#[test]
fn a_java_archive_is_refused_whatever_it_is_called() {
    let jar = zip(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n"),
        ("A.class", b"\xca\xfe\xba\xbe"),
    ]);
    let r = refused(&rules(), &[("photos.zip", "application/zip", &jar)]).unwrap();
    assert_eq!(
        r.why,
        Why::Content {
            kind: FileType::Jar,
            disguise: Some("application/zip".into())
        }
    );
}

#[test]
fn extensions_are_given_with_or_without_their_dot_and_in_any_case() {
    let rules = Rules::new([".EXE", " Scr "], Vec::<String>::new(), true);
    assert!(refused(&rules, &[("a.exe", "text/plain", b"x")]).is_some());
    assert!(refused(&rules, &[("a.scr", "text/plain", b"x")]).is_some());
    assert!(refused(&rules, &[("a.pdf", "application/pdf", PE)]).is_none());
    assert!(Rules::new(Vec::<String>::new(), Vec::<String>::new(), true).is_empty());
}

#[test]
fn a_long_or_hostile_file_name_is_shortened_and_kept_on_one_line() {
    let name = format!("{}\r\nX.exe", "a".repeat(200));
    let r = refused(&rules(), &[("x", "text/plain", b"x")]);
    assert_eq!(r, None);
    let long = Refused {
        file: name,
        archive: None,
        why: Why::Extension("exe".into()),
    };
    let shown = long.to_string();
    assert!(!shown.contains('\r') && !shown.contains('\n'), "{shown}");
    assert!(shown.len() < 100, "{shown}");
    assert!(shown.ends_with("... (.exe file)"), "{shown}");
}
