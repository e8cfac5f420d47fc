//! `havre config`: postconf for havre.

use std::path::PathBuf;

use crate::cli::ConfigCommand;
use crate::locate;

fn print(pairs: &[(String, String)]) {
    for (key, value) in pairs {
        println!("{key} = {value}");
    }
}

pub fn run(explicit: Option<PathBuf>, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show { defaults: true, .. } => print(&havre_config::show_defaults()),
        ConfigCommand::Show { non_default, .. } => {
            let config = locate::load(explicit)?;
            if non_default {
                print(&havre_config::show_non_default(&config.config));
            } else {
                print(&havre_config::show(&config.config));
            }
        }
        ConfigCommand::Get { key } => {
            let config = locate::load(explicit)?;
            println!("{}", havre_config::get(&config.config, &key)?);
        }
        ConfigCommand::Set { key, value } => {
            let path = locate::config_path(explicit)?;
            let before = havre_config::load(&path).ok();
            havre_config::set(&path, &key, &value)?;
            crate::reload_cmd::hint(&path, before);
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
