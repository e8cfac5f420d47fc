//! Which file of a message is refused, and why: pure, on the analysis.

use std::collections::HashSet;
use std::fmt;

use havre_content::{Attachment, Content, FileType, Limits};

/// The refused extensions and types, normalised (lower case, no dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    extensions: HashSet<String>,
    types: HashSet<String>,
    scan_archives: bool,
}

/// A refused file: its name, the archive it is in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file's name (an entry's path in its archive), or `unnamed
    /// TYPE attachment` when it has none.
    pub file: String,
    /// The attachment's name when the file is inside a (zip) archive.
    pub archive: Option<String>,
    pub why: Why,
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Its content is of a refused type; `disguise` is the other type it
    /// was declared as, if any (an executable sent as `application/pdf`).
    Content {
        kind: FileType,
        disguise: Option<String>,
    },
    /// Its name's extension (lower case, no dot).
    Extension(String),
    /// Its declared MIME type.
    DeclaredType(String),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Content { kind, disguise } => {
                if kind.is_executable() {
                    f.write_str("executable")?;
                } else {
                    write!(f, "{} content", kind.mime_type())?;
                }
                match disguise {
                    Some(declared) => write!(f, " sent as {declared}"),
                    None => Ok(()),
                }
            }
            Why::Extension(ext) => write!(f, ".{ext} file"),
            Why::DeclaredType(t) => write!(f, "type {t}"),
        }
    }
}

impl fmt::Display for Refused {
    /// `invoice.exe (executable)`, `setup.exe in docs.zip (.exe file)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shorten(&self.file))?;
        if let Some(archive) = &self.archive {
            write!(f, " in {}", shorten(archive))?;
        }
        write!(f, " ({})", self.why)
    }
}

/// A file name in a reply or a log line: one line, at most 80 characters
/// (a name is the sender's to choose; an SMTP reply line has 512 bytes).
fn shorten(name: &str) -> String {
    const MAX: usize = 80;
    let clean: String = name
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() <= MAX {
        return clean;
    }
    let head: String = clean.chars().take(MAX - 3).collect();
    format!("{head}...")
}

impl Rules {
    /// Rules refusing `extensions` (`exe` or `.EXE`) and MIME `types`,
    /// looking inside zip archives when `scan_archives`.
    pub fn new<E, T>(extensions: E, types: T, scan_archives: bool) -> Rules
    where
        E: IntoIterator,
        E::Item: AsRef<str>,
        T: IntoIterator,
        T::Item: AsRef<str>,
    {
        Rules {
            extensions: extensions
                .into_iter()
                .map(|e| {
                    let e = e.as_ref().trim();
                    e.strip_prefix('.').unwrap_or(e).to_ascii_lowercase()
                })
                .filter(|e| !e.is_empty())
                .collect(),
            types: types
                .into_iter()
                .map(|t| t.as_ref().trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            scan_archives,
        }
    }

    /// Whether no file can be refused (nothing to check).
    pub fn is_empty(&self) -> bool {
        self.extensions.is_empty() && self.types.is_empty()
    }

    /// The bounds of the analysis these rules need: the whole message (a
    /// file put after megabytes of padding must not slip past; the
    /// message size limit bounds it, and the parts, depth and archive
    /// limits bound the work), archives opened only when scanned.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits {
            max_scan_bytes: usize::MAX,
            ..Limits::default()
        };
        if !self.scan_archives {
            limits.max_archive_depth = 0;
        }
        limits
    }

    /// The first refused file of the message, in message order (an
    /// attachment before the entries of its archive).
    pub fn refused(&self, content: &Content) -> Option<Refused> {
        content
            .attachments
            .iter()
            .find_map(|a| self.refused_attachment(a))
    }

    fn refused_attachment(&self, a: &Attachment) -> Option<Refused> {
        let file = a
            .name
            .clone()
            .unwrap_or_else(|| format!("unnamed {} attachment", a.declared_type));
        let declared = (!a.declared_type.is_empty()).then_some(a.declared_type.as_str());
        if let Some(why) = self.why(a.sniffed, a.extension(), declared) {
            return Some(Refused {
                file,
                archive: None,
                why,
            });
        }
        if !self.scan_archives {
            return None;
        }
        let archive = a.archive.as_ref()?;
        archive.entries.iter().find_map(|entry| {
            self.why(entry.sniffed, entry.extension(), None)
                .map(|why| Refused {
                    file: entry.name.clone(),
                    archive: Some(file.clone()),
                    why,
                })
        })
    }

    /// The reason to refuse a file of content `sniffed`, name extension
    /// `extension` and declared type `declared`, if there is one.
    fn why(
        &self,
        sniffed: Option<FileType>,
        extension: Option<String>,
        declared: Option<&str>,
    ) -> Option<Why> {
        if let Some(kind) = sniffed
            && self.types.contains(kind.mime_type())
        {
            // The type it was sent as, when that is another, harmless one:
            // the lie is worth saying.
            let disguise = declared
                .filter(|d| *d != kind.mime_type() && !self.types.contains(*d) && !is_generic(d))
                .map(str::to_owned);
            return Some(Why::Content { kind, disguise });
        }
        if let Some(ext) = extension
            && self.extensions.contains(&ext)
        {
            return Some(Why::Extension(ext));
        }
        declared
            .filter(|d| self.types.contains(*d))
            .map(|d| Why::DeclaredType(d.to_owned()))
    }
}

/// A declared type that claims nothing about the content.
fn is_generic(declared: &str) -> bool {
    matches!(
        declared,
        "application/octet-stream" | "application/x-download" | "application/download"
    )
}
