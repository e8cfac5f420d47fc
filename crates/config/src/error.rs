//! Errors an operator can act on: each names the file, the line and the key.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in which file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The configuration file, as the operator named it.
    pub path: PathBuf,
    /// 1-based line, when the problem can be pinned to one.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong reading, checking or editing the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file does not exist.
    #[error("{}: no such file (create one with `havre init`)", path.display())]
    NotFound { path: PathBuf },

    /// The configuration file exists but could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The file is not valid TOML.
    #[error("{at}: invalid TOML: {message}")]
    Syntax { at: Location, message: String },

    /// A key the configuration does not have.
    #[error("{at}: unknown key {key} ({})", known_keys(table, known))]
    UnknownKey {
        at: Location,
        /// Dotted path of the offending key.
        key: String,
        /// Dotted path of the table holding it ("" for the top level).
        table: String,
        /// The keys that table accepts.
        known: Vec<String>,
    },

    /// A key with a value of the wrong type or out of range.
    #[error("{at}: {}{message}", key_prefix(key))]
    Invalid {
        at: Location,
        /// Dotted path of the offending key ("" when it cannot be told).
        key: String,
        message: String,
    },

    /// `get` or `set` of a key the configuration does not have.
    #[error("unknown key {key}{}", hint(suggestions, known))]
    NoSuchKey {
        key: String,
        /// Close matches, best first.
        suggestions: Vec<String>,
        /// When nothing is close: the keys of the nearest existing table.
        known: Vec<String>,
    },

    /// A key that is not a valid dotted TOML key path.
    #[error("{key:?} is not a valid key (expected a dotted path like server.hostname): {message}")]
    BadKey { key: String, message: String },

    /// Writing the edited file failed; the old file is unchanged.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ConfigError {
    /// The line the problem is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { at, .. } | Self::UnknownKey { at, .. } | Self::Invalid { at, .. } => {
                at.line
            }
            _ => None,
        }
    }

    /// The dotted key the problem is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. }
            | Self::NoSuchKey { key, .. }
            | Self::BadKey { key, .. } => Some(key),
            Self::Invalid { key, .. } if !key.is_empty() => Some(key),
            _ => None,
        }
    }

    pub(crate) fn location_mut(&mut self) -> Option<&mut Location> {
        match self {
            Self::Syntax { at, .. } | Self::UnknownKey { at, .. } | Self::Invalid { at, .. } => {
                Some(at)
            }
            _ => None,
        }
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

fn known_keys(table: &str, known: &[String]) -> String {
    let list = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    if table.is_empty() {
        format!("known top-level keys: {list}")
    } else {
        format!("known keys in [{table}]: {list}")
    }
}

fn hint(suggestions: &[String], known: &[String]) -> String {
    match (suggestions, known) {
        ([], []) => String::new(),
        ([], known) => format!(" (known keys there: {})", known.join(", ")),
        ([one], _) => format!(" (did you mean {one}?)"),
        (many, _) => format!(" (did you mean one of {}?)", many.join(", ")),
    }
}
