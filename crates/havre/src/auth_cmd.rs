//! `havre auth test`: doveadm auth test. The same check as a login, with
//! the reason of a refusal, which a client is never told.

use std::path::PathBuf;

use havre_directory::Login;

use crate::cli::AuthCommand;
use crate::exit::{EX_NOPERM, Exit};

pub async fn run(explicit: Option<PathBuf>, command: AuthCommand) -> anyhow::Result<()> {
    let AuthCommand::Test {
        user,
        password_stdin,
    } = command;
    let (config, store) = crate::directory_cmd::store(explicit).await?;
    let password = crate::password_input::read_one(password_stdin)?;
    let directory = crate::locate::directory(&config, store)?;
    let failed = |why: &str| -> anyhow::Result<()> {
        println!("passdb: {user} auth failed");
        Err(Exit::new(EX_NOPERM, format!("{user}: {why}")).into())
    };
    match directory.check_login(None, &user, &password).await? {
        Login::Accepted(found) => {
            println!("passdb: {} auth succeeded", found.email);
            println!(
                "extra fields:\n  user={}\n  class={}\n  quota={}",
                found.email,
                found.class,
                found
                    .quota
                    .map(|q| q.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            );
            Ok(())
        }
        Login::UnknownUser => failed("no such user"),
        Login::NoPassword(found) => failed(&format!(
            "{} has no password (havre user passwd {})",
            found.email, found.email
        )),
        Login::WrongPassword(_) => failed("wrong password"),
        Login::Disabled(found) => failed(&format!(
            "the password is right but the account is disabled (havre user modify {} --enable)",
            found.email
        )),
        Login::UnusableHash(found, err) => failed(&format!(
            "the stored password of {} is unusable: {err}",
            found.email
        )),
    }
}
