//! From byte offsets to what an operator reads: line numbers and dotted keys.
//!
//! The toml crate reports errors with a byte span; the span-keeping
//! [`toml_edit::Document`] of the same text tells which key holds that span.

use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.contains(&offset) || (s.is_empty() && s.start == offset))
}

/// The key path whose key or value covers byte `offset`, deepest first.
pub(crate) fn key_at(doc: &Document<&str>, offset: usize) -> Option<Vec<String>> {
    in_table(doc.as_table(), offset, &mut Vec::new())
}

fn in_table(table: &dyn TableLike, offset: usize, path: &mut Vec<String>) -> Option<Vec<String>> {
    for (name, item) in table.iter() {
        path.push(name.to_owned());
        if contains(table.key(name).and_then(|k| k.span()), offset) {
            return Some(path.clone());
        }
        if let Some(found) = in_item(item, offset, path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

fn in_item(item: &Item, offset: usize, path: &mut Vec<String>) -> Option<Vec<String>> {
    match item {
        Item::Table(t) => in_table(t, offset, path),
        Item::ArrayOfTables(a) => a.iter().find_map(|t| in_table(t, offset, path)),
        Item::Value(v) => in_value(v, offset, path),
        Item::None => None,
    }
}

fn in_value(value: &Value, offset: usize, path: &mut Vec<String>) -> Option<Vec<String>> {
    let inner = match value {
        Value::InlineTable(t) => in_table(t, offset, path),
        Value::Array(a) => a.iter().find_map(|v| in_value(v, offset, path)),
        _ => None,
    };
    inner.or_else(|| contains(value.span(), offset).then(|| path.clone()))
}

/// Span of the deepest existing key along `path` (the key itself when it is
/// in the file, else the header of its table), to give a line to problems
/// found after parsing.
pub(crate) fn key_span(doc: &Document<&str>, path: &[String]) -> Option<Range<usize>> {
    let mut table: &dyn TableLike = doc.as_table();
    let mut best = None;
    for segment in path {
        let Some(key) = table.key(segment) else { break };
        best = key.span().or(best);
        match table.get(segment).and_then(Item::as_table_like) {
            Some(next) => table = next,
            None => break,
        }
    }
    best
}

/// Line of the key at exactly `path` in `text`, if the file has it.
pub(crate) fn exact_key_line(text: &str, path: &[String]) -> Option<usize> {
    let doc = Document::parse(text).ok()?;
    let (last, parents) = path.split_last()?;
    let mut table: &dyn TableLike = doc.as_table();
    for segment in parents {
        table = table.get(segment)?.as_table_like()?;
    }
    let span = table.key(last)?.span()?;
    Some(line_of(text, span.start))
}
