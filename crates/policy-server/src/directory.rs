//! User classes from havre's directory.

use async_trait::async_trait;
use havre_directory::{Address, Directory};

use crate::Classes;

/// The class of a `sasl_username` in the directory: the user of that
/// address (normalised as logins are), if there is one.
pub struct DirectoryClasses(pub Directory);

#[async_trait]
impl Classes for DirectoryClasses {
    async fn class_of(&self, login: &str) -> Result<Option<String>, String> {
        let Ok(address) = Address::parse(login) else {
            return Ok(None);
        };
        let user = self
            .0
            .store()
            .get_user(&address.key())
            .await
            .map_err(|e| e.to_string())?;
        Ok(user.map(|u| u.class))
    }
}
