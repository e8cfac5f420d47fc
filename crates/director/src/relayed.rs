//! How many sessions each director relays to each backend, for `havre
//! director status`: every director writes its own counts now and then
//! (`director:sessions:NODE` = `ADDRESS=N ...`, expiring unless written
//! again, so a director gone stops counting).

use std::collections::BTreeMap;
use std::time::Duration;

use havre_state::{Persist, State};

use crate::Result;

const SESSIONS: &str = "director:sessions:";

/// Writes this director's counts.
pub async fn publish(
    state: &dyn State,
    node: u8,
    counts: &BTreeMap<String, usize>,
    ttl: Duration,
) -> Result<()> {
    let value: Vec<String> = counts.iter().map(|(b, n)| format!("{b}={n}")).collect();
    let key = format!("{SESSIONS}{node}");
    Ok(state
        .set(&key, &value.join(" "), Some(ttl), Persist::Memory)
        .await?)
}

/// Every director's counts added up, by backend.
pub async fn total(state: &dyn State) -> Result<BTreeMap<String, usize>> {
    let mut total = BTreeMap::new();
    for entry in state.list(SESSIONS).await? {
        for field in entry.value.split_whitespace() {
            if let Some((backend, n)) = field.split_once('=')
                && let Ok(n) = n.parse::<usize>()
            {
                *total.entry(backend.to_string()).or_insert(0) += n;
            }
        }
    }
    Ok(total)
}
