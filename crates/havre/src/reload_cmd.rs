//! `havre reload`: check havre.toml as serve would, then ask the running
//! serve to apply it (SIGHUP to the pid in `<data_dir>/havre.pid`). And the
//! hint `havre config set` gives while serve runs.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use havre_config::{LoadedConfig, changed_keys};

use crate::checks::{self, Purpose};
use crate::live::effective;
use crate::{locate, pidfile};

pub fn run(explicit: Option<PathBuf>) -> anyhow::Result<()> {
    let loaded = locate::load(explicit).map_err(|e| {
        anyhow!("{e:#}\nhavre: not reloaded: a running serve keeps the configuration it has")
    })?;
    let data_dir = loaded.data_dir();
    let Some(pid) = pidfile::running(&data_dir)? else {
        bail!(
            "no havre serve runs on the data directory {} (server.data_dir in {}): nothing to reload; \
             start it with `havre serve`",
            data_dir.display(),
            loaded.path.display()
        );
    };
    // The same checks serve makes: a file it would refuse is not sent to it.
    if let Err(e) = checks::node(&loaded, Purpose::Check) {
        bail!("{e:#}\nhavre: not reloaded: serve (pid {pid}) keeps running with its configuration");
    }
    let signalled = i32::try_from(pid)
        .ok()
        // SAFETY: kill(2) with a pid read from the locked pid file.
        .is_some_and(|pid| unsafe { libc::kill(pid, libc::SIGHUP) } == 0);
    if !signalled {
        return Err(anyhow!(
            "cannot signal serve (pid {pid}): {} (run this as root or as server.user)",
            std::io::Error::last_os_error()
        ));
    }
    println!(
        "havre: serve (pid {pid}) is reloading {}; its log says what changed and what needs a restart",
        loaded.path.display()
    );
    Ok(())
}

/// After a change to the file (`before` is the configuration it held, if it
/// loaded): tells the operator how a running serve takes it, reload or
/// restart.
pub fn hint(config: &Path, before: Option<LoadedConfig>) {
    let Ok(after) = havre_config::load(config) else {
        return;
    };
    let Ok(Some(pid)) = pidfile::running(&after.data_dir()) else {
        return;
    };
    let restart = before
        .map(|b| changed_keys(&effective(&b.config, &after.config), &after.config))
        .unwrap_or_default();
    if restart.is_empty() {
        eprintln!("havre: serve is running (pid {pid}): run `havre reload` to apply");
    } else {
        eprintln!(
            "havre: serve is running (pid {pid}): {} only changes when serve restarts",
            restart.join(", ")
        );
    }
}
