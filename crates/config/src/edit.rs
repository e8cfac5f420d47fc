//! `havre config set`: change one key in place, keeping the comments and
//! layout of the file, and never leaving an invalid or half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use crate::error::ConfigError;
use crate::keys::{format_key, parse_key};
use crate::load::{parse, read};
use crate::locate::exact_key_line;

/// Interpret a VALUE from the command line: TOML when it is valid TOML
/// (`42`, `"[\"127.0.0.1:25\"]"`, `"\"x\""`), else the plain string
/// (`mail.example.org`).
pub fn parse_value(text: &str) -> Value {
    Value::from_str(text).unwrap_or_else(|_| Value::from(text))
}

/// Set `segments` to `value` under `root`, creating missing tables. A value
/// replacing another keeps the old one's surrounding comments. The error is
/// the dotted path of a non-table value in the way.
pub(crate) fn set_in_table(
    root: &mut Table,
    segments: &[String],
    mut value: Value,
) -> Result<(), String> {
    let Some((last, parents)) = segments.split_last() else {
        return Err(String::new());
    };
    let mut table: &mut dyn toml_edit::TableLike = root;
    let mut inline = false;
    for (depth, segment) in parents.iter().enumerate() {
        let fresh = if inline {
            Item::Value(Value::InlineTable(InlineTable::new()))
        } else {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        };
        let item = table.entry(segment).or_insert(fresh);
        inline = item.is_value();
        table = item
            .as_table_like_mut()
            .ok_or_else(|| format_key(&segments[..=depth]))?;
    }
    match table.get_mut(last) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        Some(item) => *item = Item::Value(value),
        None => {
            value.decor_mut().clear();
            table.insert(last, Item::Value(value));
        }
    }
    Ok(())
}

/// Set `key` to `value` (see [`parse_value`]) in the file at `path`.
///
/// The file is edited in place: comments, order and layout are kept, missing
/// tables are created. The whole resulting configuration is checked as
/// [`load`](crate::load) would; if it is invalid the file is left untouched.
/// The new file replaces the old one atomically (temporary file in the same
/// directory, fsync, rename, fsync of the directory).
pub fn set(path: &Path, key: &str, value: &str) -> Result<(), ConfigError> {
    let segments = parse_key(key)?;
    let text = read(path)?;
    let mut doc = DocumentMut::from_str(&text).map_err(|e| ConfigError::Syntax {
        at: crate::error::Location {
            path: path.to_owned(),
            line: e.span().map(|s| crate::locate::line_of(&text, s.start)),
        },
        message: e.message().to_owned(),
    })?;
    set_in_table(doc.as_table_mut(), &segments, parse_value(value)).map_err(|blocker| {
        ConfigError::Invalid {
            at: crate::error::Location {
                path: path.to_owned(),
                line: None,
            },
            key: format_key(&segments),
            message: format!("{blocker} is a value, not a table"),
        }
    })?;
    let new_text = doc.to_string();
    if let Err(mut e) = parse(&new_text, path) {
        // Lines of the edited text mean nothing to the operator: point at the
        // key in the file as it stands, if it is there.
        let line = e
            .key()
            .and_then(|k| parse_key(k).ok())
            .and_then(|k| exact_key_line(&text, &k));
        if let Some(at) = e.location_mut() {
            at.line = line;
        }
        return Err(e);
    }
    write_atomically(path, new_text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Remove `key` from the file at `path`, so that it takes its default again
/// (`postconf -X`); an entry of a map (`relay.routes."remote.test"`) goes.
///
/// Returns false when the file does not set the key (it already has its
/// default). A key that is no key of the configuration is refused with the
/// closest known ones. The result is checked and written as [`set`] does.
pub fn unset(path: &Path, key: &str) -> Result<bool, ConfigError> {
    let segments = parse_key(key)?;
    let text = read(path)?;
    let mut doc = DocumentMut::from_str(&text).map_err(|e| ConfigError::Syntax {
        at: crate::error::Location {
            path: path.to_owned(),
            line: e.span().map(|s| crate::locate::line_of(&text, s.start)),
        },
        message: e.message().to_owned(),
    })?;
    if !remove_in_table(doc.as_table_mut(), &segments) {
        // Not in the file: either a known key at its default, or a typo.
        let config = parse(&text, path)?;
        crate::flatten::get(&config, key)?;
        return Ok(false);
    }
    let new_text = doc.to_string();
    parse(&new_text, path)?;
    write_atomically(path, new_text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(true)
}

/// Removes `segments` under `root`, whether written as a table, a dotted
/// key or an inline table; false when it is not there.
fn remove_in_table(root: &mut Table, segments: &[String]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut table: &mut dyn toml_edit::TableLike = root;
    for segment in parents {
        match table.get_mut(segment).and_then(Item::as_table_like_mut) {
            Some(child) => table = child,
            None => return false,
        }
    }
    table.remove(last).is_some()
}

/// Replace `path` with `contents` so that a crash leaves either the old or
/// the new file, never a mix. Permissions (and on Unix ownership) are kept;
/// a symbolic link is followed, not replaced.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = fs::canonicalize(path)?;
    let dir = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = fs::metadata(&target)?;
    let (tmp_path, mut tmp) = create_temp(&dir, &name)?;
    let result = (|| {
        // Restrict the new file before it holds anything.
        tmp.set_permissions(old.permissions())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let new = tmp.metadata()?;
            if new.uid() != old.uid() || new.gid() != old.gid() {
                std::os::unix::fs::fchown(&tmp, Some(old.uid()), Some(old.gid()))?;
            }
        }
        tmp.write_all(contents)?;
        tmp.sync_all()?;
        fs::rename(&tmp_path, &target)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut attempt = 0u32;
    loop {
        let path = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
