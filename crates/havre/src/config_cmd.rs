//! `havre config`: postconf for havre.

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::ConfigCommand;
use crate::locate;
use crate::output::{self, Report};

/// `key = value` lines as the config crate renders them (postconf's
/// layout); in JSON an object of keys to values.
struct Pairs(Vec<(String, String)>);

impl Serialize for Pairs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, &toml_to_json(value))?;
        }
        map.end()
    }
}

impl Report for Pairs {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect()
    }
}

/// A value as `havre_config` renders it (TOML), as JSON: `"25M"` a string,
/// `[...]` an array, `{}` an object.
fn toml_to_json(rendered: &str) -> serde_json::Value {
    let doc = format!("v = {rendered}");
    toml::from_str::<toml::Table>(&doc)
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or_else(|| serde_json::Value::String(rendered.to_string()))
}

pub fn run(explicit: Option<PathBuf>, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show {
            defaults: true,
            format,
            ..
        } => print(havre_config::show_defaults(), format.json)?,
        ConfigCommand::Show {
            non_default,
            format,
            ..
        } => {
            let config = locate::load(explicit)?;
            let listing = if non_default {
                havre_config::show_non_default(&config.config)
            } else {
                havre_config::show(&config.config)
            };
            print(havre_config::hide_secrets(listing), format.json)?;
        }
        ConfigCommand::Get { keys, format } => {
            let config = locate::load(explicit)?;
            if let [key] = keys.as_slice()
                && !format.json
            {
                // One key: its value alone, for `$(havre config get ...)`.
                output::write_stdout(&format!("{}\n", havre_config::get(&config.config, key)?))?;
            } else {
                let mut pairs = Vec::new();
                for key in &keys {
                    pairs.extend(havre_config::get_pairs(&config.config, key)?);
                }
                print(pairs, format.json)?;
            }
        }
        ConfigCommand::Set { key, value } => {
            let path = locate::config_path(explicit)?;
            let before = havre_config::load(&path).ok();
            havre_config::set(&path, &key, &value)?;
            crate::reload_cmd::hint(&path, before);
        }
        ConfigCommand::Unset { key } => {
            let path = locate::config_path(explicit)?;
            if havre_config::unset(&path, &key)? {
                println!(
                    "{key} removed from {}: it takes its default",
                    path.display()
                );
            } else {
                println!(
                    "{key} is not set in {}: it has its default already",
                    path.display()
                );
            }
        }
        ConfigCommand::Check => {
            let path = locate::config_path(explicit)?;
            let config = havre_config::check(&path)?;
            // What serve checks beyond the file itself: one function for both.
            crate::checks::node(&config, crate::checks::Purpose::Check)?;
            println!("{}: ok", config.path.display());
        }
    }
    Ok(())
}

fn print(pairs: Vec<(String, String)>, json: bool) -> anyhow::Result<()> {
    output::print(&Pairs(pairs), json)
}
