//! `postconf`-style listings: every key as `dotted.key = value`, in document
//! order, generated from the serialised [`Config`] so that tables and maps of
//! any depth flatten the same way.

use std::str::FromStr;

use toml_edit::{DocumentMut, Item, Value};

use crate::error::ConfigError;
use crate::keys::{close_matches, format_key, parse_key};
use crate::model::Config;

/// The configuration as a TOML document (no comments), in struct order.
pub(crate) fn to_document(cfg: &Config) -> DocumentMut {
    // Serialisation only fails for values TOML cannot hold (non-UTF-8 paths
    // set from code); show what can be shown rather than panic.
    toml::to_string(cfg)
        .ok()
        .and_then(|text| DocumentMut::from_str(&text).ok())
        .unwrap_or_default()
}

/// A value rendered as TOML, without the surrounding whitespace of its file.
pub(crate) fn render_value(value: &Value) -> String {
    let mut value = value.clone();
    match &mut value {
        Value::Array(a) => a.fmt(),
        Value::InlineTable(t) => t.fmt(),
        _ => {}
    }
    value.decor_mut().clear();
    value.to_string()
}

/// Flatten `item` found at `path` into `(dotted key, value)` pairs.
fn flatten_item(item: &Item, path: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    if let Some(table) = item.as_table_like() {
        if table.is_empty() {
            out.push((format_key(path), "{}".to_owned()));
        }
        for (key, child) in table.iter() {
            path.push(key.to_owned());
            flatten_item(child, path, out);
            path.pop();
        }
        return;
    }
    let rendered = match item {
        Item::Value(v) => render_value(v),
        Item::ArrayOfTables(a) => render_value(&Value::Array(a.clone().into_array())),
        Item::None | Item::Table(_) => return,
    };
    out.push((format_key(path), rendered));
}

fn flatten_doc(doc: &DocumentMut) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, item) in doc.iter() {
        let mut path = vec![key.to_owned()];
        flatten_item(item, &mut path, &mut out);
    }
    out
}

/// Every table and every key of `doc`, as dotted paths, tables first.
pub(crate) fn all_paths(doc: &DocumentMut) -> Vec<String> {
    fn walk(item: &Item, path: &mut Vec<String>, out: &mut Vec<String>) {
        out.push(format_key(path));
        if let Some(table) = item.as_table_like() {
            for (key, child) in table.iter() {
                path.push(key.to_owned());
                walk(child, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for (key, item) in doc.iter() {
        walk(item, &mut vec![key.to_owned()], &mut out);
    }
    out
}

/// Every key of `cfg` with its effective value, in document order
/// (`postconf`).
pub fn show(cfg: &Config) -> Vec<(String, String)> {
    flatten_doc(&to_document(cfg))
}

/// Every key with its default value (`postconf -d`).
pub fn show_defaults() -> Vec<(String, String)> {
    show(&Config::default())
}

/// Only the keys whose value differs from the default (`postconf -n`).
pub fn show_non_default(cfg: &Config) -> Vec<(String, String)> {
    let defaults = show_defaults();
    show(cfg)
        .into_iter()
        .filter(|(key, value)| !defaults.iter().any(|(k, v)| k == key && v == value))
        .collect()
}

/// The keys whose value differs between `old` and `new`, in document order,
/// each named by its table and field (`relay.routes`, not each route): what
/// a reload logs as changed.
pub fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let field = |key: &str| {
        parse_key(key)
            .map(|segments| format_key(&segments[..segments.len().min(2)]))
            .unwrap_or_else(|_| key.to_owned())
    };
    let (old, new) = (show(old), show(new));
    let mut out: Vec<String> = Vec::new();
    let mut note = |key: &str| {
        let key = field(key);
        if !out.contains(&key) {
            out.push(key);
        }
    };
    for (key, value) in &new {
        if !old.iter().any(|(k, v)| k == key && v == value) {
            note(key);
        }
    }
    for (key, _) in &old {
        if !new.iter().any(|(k, _)| k == key) {
            note(key);
        }
    }
    out
}

/// The value of one key, rendered as TOML; a table gives its flattened keys,
/// one `key = value` per line.
pub fn get(cfg: &Config, key: &str) -> Result<String, ConfigError> {
    let (pairs, table) = lookup(cfg, key)?;
    if !table {
        return Ok(pairs.into_iter().map(|(_, v)| v).collect());
    }
    let lines: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    Ok(lines.join("\n"))
}

/// The `(dotted key, value)` pairs under `key`: the key itself for a value,
/// each of its keys for a table (like [`show`], limited to `key`).
pub fn get_pairs(cfg: &Config, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
    Ok(lookup(cfg, key)?.0)
}

/// The pairs under `key`, and whether it is a table.
fn lookup(cfg: &Config, key: &str) -> Result<(Vec<(String, String)>, bool), ConfigError> {
    let segments = parse_key(key)?;
    let doc = to_document(cfg);
    let mut item = doc.as_item();
    for (depth, segment) in segments.iter().enumerate() {
        match item.as_table_like().and_then(|t| t.get(segment)) {
            Some(child) => item = child,
            None => return Err(no_such_key(&doc, &segments, depth)),
        }
    }
    let mut out = Vec::new();
    flatten_item(item, &mut segments.clone(), &mut out);
    Ok((out, item.is_table_like()))
}

/// The error for `segments`, of which the first `found` exist in `doc`.
pub(crate) fn no_such_key(doc: &DocumentMut, segments: &[String], found: usize) -> ConfigError {
    let key = format_key(segments);
    let suggestions = close_matches(&key, &all_paths(doc));
    let known = if suggestions.is_empty() {
        let mut item = doc.as_item();
        let mut depth = 0;
        for segment in &segments[..found] {
            match item.as_table_like().and_then(|t| t.get(segment)) {
                Some(child) => item = child,
                None => break,
            }
            depth += 1;
        }
        let parent = &segments[..depth];
        item.as_table_like()
            .map(|t| {
                t.iter()
                    .map(|(k, _)| format_key(&[parent, &[k.to_owned()]].concat()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    ConfigError::NoSuchKey {
        key,
        suggestions,
        known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_name_the_field_once_in_document_order() {
        let old = Config::default();
        let mut new = old.clone();
        new.smtp.recipient_limit = 5;
        new.relay
            .routes
            .insert("a.test".into(), "smtp:[192.0.2.1]:25".into());
        new.relay
            .routes
            .insert("b.test".into(), "smtp:[192.0.2.2]:25".into());
        new.log.level = "debug".into();
        assert_eq!(
            changed_keys(&old, &new),
            ["log.level", "smtp.recipient_limit", "relay.routes"]
        );
        assert_eq!(changed_keys(&new, &old), changed_keys(&old, &new));
        assert!(changed_keys(&old, &old).is_empty());
    }

    #[test]
    fn nested_tables_and_maps_flatten_with_quoted_segments() {
        let doc: DocumentMut = r#"
[relay]
recipient_delimiter = "+"
[relay.routes."remote.test"]
host = "[192.0.2.1]:25"
[relay.routes.plain]
host = "mx.plain.test"
[relay.empty]
[[relay.rules]]
match = "a"
[[relay.rules]]
match = "b"
[x]
inline = { "a b" = 1, c = { d = true } }
"#
        .parse()
        .unwrap();
        let flat: Vec<String> = flatten_doc(&doc)
            .into_iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        assert_eq!(
            flat,
            [
                r#"relay.recipient_delimiter = "+""#,
                r#"relay.routes."remote.test".host = "[192.0.2.1]:25""#,
                r#"relay.routes.plain.host = "mx.plain.test""#,
                "relay.empty = {}",
                r#"relay.rules = [{ match = "a" }, { match = "b" }]"#,
                r#"x.inline."a b" = 1"#,
                "x.inline.c.d = true",
            ]
        );
    }
}
