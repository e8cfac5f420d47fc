//! Reading `havre.toml`: syntax, types, then the rules of [`crate::validate`].
//! Every refusal names the file, the line and the key.

use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, TableLike, Value};

use crate::error::{ConfigError, Location};
use crate::flatten::to_document;
use crate::keys::format_key;
use crate::locate::{key_at, key_span, line_of};
use crate::model::Config;
use crate::validate::problems;

/// A configuration and the file it came from, which relative paths are
/// resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    pub config: Config,
    /// Absolute path of the file.
    pub path: PathBuf,
}

impl LoadedConfig {
    /// The directory of the configuration file.
    pub fn config_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    /// `server.data_dir`, relative to the directory of the file.
    pub fn data_dir(&self) -> PathBuf {
        self.config_dir().join(&self.config.server.data_dir)
    }

    /// `tls.cert`, relative to the directory of the file.
    pub fn tls_cert(&self) -> PathBuf {
        self.config_dir().join(&self.config.tls.cert)
    }

    /// `tls.key`, relative to the directory of the file.
    pub fn tls_key(&self) -> PathBuf {
        self.config_dir().join(&self.config.tls.key)
    }

    /// `storage.sqlite_path`, relative to the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir().join(&self.config.storage.sqlite_path)
    }

    /// The embedded state's file (greylist entries, bans...):
    /// `<data_dir>/state.db`.
    pub fn state_path(&self) -> PathBuf {
        self.data_dir().join("state.db")
    }

    /// The events database (`havre report`, `havre trace`):
    /// `<data_dir>/events.sqlite`.
    pub fn events_path(&self) -> PathBuf {
        self.data_dir().join("events.sqlite")
    }

    /// `log.file`, relative to the directory of the file; `None` when empty
    /// (stderr only).
    pub fn log_file(&self) -> Option<PathBuf> {
        let file = &self.config.log.file;
        (!file.as_os_str().is_empty()).then(|| self.config_dir().join(file))
    }

    /// The socket `log.output` writes to: `log.socket` (relative to the
    /// directory of the file) or the system's; `None` for stderr.
    pub fn log_socket(&self) -> Option<PathBuf> {
        let log = &self.config.log;
        let system = log.output.default_socket()?;
        Some(if log.socket.as_os_str().is_empty() {
            PathBuf::from(system)
        } else {
            self.config_dir().join(&log.socket)
        })
    }

    /// `sendmail.socket`, relative to the directory of the file; `None`
    /// when empty (no local submission).
    pub fn sendmail_socket(&self) -> Option<PathBuf> {
        let socket = &self.config.sendmail.socket;
        (!socket.as_os_str().is_empty()).then(|| self.config_dir().join(socket))
    }

    /// `mailbox.maildir`, relative to the data directory, variables
    /// (`%d`, `%n`, `%u`) left in place.
    pub fn maildir_template(&self) -> PathBuf {
        self.data_dir().join(&self.config.mailbox.maildir)
    }

    /// `sieve.global_dir`, relative to the directory of the file; `None` when empty.
    pub fn sieve_global_dir(&self) -> Option<PathBuf> {
        let dir = &self.config.sieve.global_dir;
        (!dir.as_os_str().is_empty()).then(|| self.config_dir().join(dir))
    }

    /// `sieve.before` and `sieve.after`, relative to the directory of the file.
    pub fn sieve_scripts(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let dir = self.config_dir();
        let resolve = |list: &[PathBuf]| list.iter().map(|p| dir.join(p)).collect();
        (
            resolve(&self.config.sieve.before),
            resolve(&self.config.sieve.after),
        )
    }

    /// A problem found outside this crate (a certificate that does not
    /// load, a route the outbound parser refuses) as the same error the
    /// loader gives: the file, the line of `key` (or of its table) and the key.
    pub fn invalid<S: AsRef<str>>(&self, key: &[S], message: impl Into<String>) -> ConfigError {
        let key: Vec<String> = key.iter().map(|s| s.as_ref().to_owned()).collect();
        let line = read(&self.path).ok().and_then(|text| {
            let doc = Document::parse(text.as_str()).ok()?;
            key_span(&doc, &key).map(|span| line_of(&text, span.start))
        });
        ConfigError::Invalid {
            at: Location {
                path: self.path.clone(),
                line,
            },
            key: format_key(&key),
            message: message.into(),
        }
    }
}

/// Read, parse and validate the configuration at `path`.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = read(path)?;
    let config = parse(&text, path)?;
    let absolute = absolute(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(LoadedConfig {
        config,
        path: absolute,
    })
}

/// `path` made absolute: its directory canonicalised (so `..` means what it
/// meant when the file was opened), its file name kept (a symbolic link to
/// the file is not followed: relative paths are relative to where the
/// operator put havre.toml).
fn absolute(path: &Path) -> io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?;
    Ok(std::fs::canonicalize(dir)?.join(name))
}

/// `havre config check`: the same as [`load`], which refuses any invalid
/// configuration.
pub fn check(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load(path)
}

/// The text of `path`, as UTF-8.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_owned(),
        },
        _ => ConfigError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = line_of(&String::from_utf8_lossy(&e.as_bytes()[..valid]), valid);
        ConfigError::Syntax {
            at: Location {
                path: path.to_owned(),
                line: Some(line),
            },
            message: "the file is not UTF-8 text".to_owned(),
        }
    })
}

/// Parse and validate `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let at = |offset: Option<usize>| Location {
        path: path.to_owned(),
        line: offset.map(|o| line_of(text, o)),
    };
    let doc = Document::parse(text).map_err(|e| ConfigError::Syntax {
        at: at(e.span().map(|s| s.start)),
        message: e.message().to_owned(),
    })?;
    if let Some((key, found)) = shape_mismatch(&doc) {
        return Err(ConfigError::Invalid {
            at: at(key_span(&doc, &key).map(|s| s.start)),
            key: format_key(&key),
            message: format!("expected a table, found {found}"),
        });
    }
    let config: Config = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        let key = offset.and_then(|o| key_at(&doc, o)).unwrap_or_default();
        type_error(at(offset), &key, e.message())
    })?;
    if let Some(p) = problems(&config).into_iter().next() {
        let key: Vec<String> = p.key.iter().map(|s| (*s).to_owned()).collect();
        return Err(ConfigError::Invalid {
            at: at(key_span(&doc, &key).map(|s| s.start)),
            key: format_key(&key),
            message: p.message,
        });
    }
    Ok(config)
}

/// The first place where the file has something else than a table where the
/// configuration has one (serde would take `[[server]]` for a list of the
/// fields of `[server]` and say something confusing).
fn shape_mismatch(doc: &Document<&str>) -> Option<(Vec<String>, &'static str)> {
    fn walk(
        file: &dyn TableLike,
        schema: &dyn TableLike,
        path: &mut Vec<String>,
    ) -> Option<(Vec<String>, &'static str)> {
        for (name, item) in file.iter() {
            let Some(expected) = schema.get(name).and_then(Item::as_table_like) else {
                continue;
            };
            path.push(name.to_owned());
            let found = match item.as_table_like() {
                Some(table) => walk(table, expected, path),
                None => Some((path.clone(), describe(item))),
            };
            if found.is_some() {
                return found;
            }
            path.pop();
        }
        None
    }
    let schema = to_document(&Config::default());
    walk(doc.as_table(), schema.as_table(), &mut Vec::new())
}

/// "an array", "a string"... for error messages.
fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

/// Turn a serde message about `key` into an error an operator can act on.
fn type_error(at: Location, key: &[String], message: &str) -> ConfigError {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let mut key = key.to_vec();
        if key.last().map(String::as_str) != Some(name) {
            key.push(name.to_owned());
        }
        let parent = &key[..key.len() - 1];
        return ConfigError::UnknownKey {
            at,
            key: format_key(&key),
            table: format_key(parent),
            known: known_keys(parent).unwrap_or_else(|| serde_expected_fields(message)),
        };
    }
    ConfigError::Invalid {
        at,
        key: format_key(key),
        message: humanize(message),
    }
}

/// The keys the default configuration has under `table`.
fn known_keys(table: &[String]) -> Option<Vec<String>> {
    let doc = to_document(&Config::default());
    let mut item = doc.as_item();
    for segment in table {
        item = item.as_table_like()?.get(segment)?;
    }
    Some(
        item.as_table_like()?
            .iter()
            .map(|(k, _)| format_key(&[k]))
            .collect(),
    )
}

/// The field list of serde's "unknown field `x`, expected one of `a`, `b`".
fn serde_expected_fields(message: &str) -> Vec<String> {
    let Some((_, expected)) = message.split_once(", expected ") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// "invalid type: string \"x\", expected u32" -> "expected a non-negative
/// integer, found \"x\"".
fn humanize(message: &str) -> String {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some((found, expected)) = rest.and_then(|r| r.rsplit_once(", expected ")) else {
        return message.to_owned();
    };
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer",
        "a sequence" => "an array",
        "a map" => "a table",
        e if e.starts_with("struct ") => "a table",
        e => e,
    };
    let found = match found {
        "sequence" => "an array".to_owned(),
        "map" => "a table".to_owned(),
        f => match f.strip_prefix("string ") {
            Some(s) => s.to_owned(),
            None => f.replace('`', ""),
        },
    };
    format!("expected {expected}, found {found}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_rewritten_for_operators() {
        assert_eq!(
            humanize("invalid type: string \"x\", expected u32"),
            "expected a non-negative integer, found \"x\""
        );
        assert_eq!(
            humanize("invalid value: integer `-1`, expected u32"),
            "expected a non-negative integer, found integer -1"
        );
        assert_eq!(
            humanize("invalid type: integer `5`, expected struct Server"),
            "expected a table, found integer 5"
        );
        assert_eq!(humanize("something else"), "something else");
    }

    #[test]
    fn serde_field_lists_are_extracted() {
        assert_eq!(
            serde_expected_fields("unknown field `x`, expected one of `a`, `b`"),
            ["a", "b"]
        );
        assert_eq!(
            serde_expected_fields("unknown field `x`, expected `a`"),
            ["a"]
        );
    }
}
