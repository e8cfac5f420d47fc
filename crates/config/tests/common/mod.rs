//! What every configuration test does: read a `havre.toml` text.

use std::path::Path;

use havre_config::{Config, parse};

/// The configuration `text` gives (it must be valid).
pub fn config(text: &str) -> Config {
    parse(text, Path::new("havre.toml")).unwrap()
}

/// The error `text` gives, as the operator reads it.
#[allow(dead_code)]
pub fn error_of(text: &str) -> String {
    parse(text, Path::new("havre.toml"))
        .unwrap_err()
        .to_string()
}
