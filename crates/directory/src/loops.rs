//! Alias loops, as the operator sees them: the chain of aliases that leads an
//! address back to itself, so `havre alias add` can name it when it creates one.

use std::collections::HashSet;
use std::sync::Arc;

use havre_store::Store;

use crate::DirectoryError;
use crate::resolve::MAX_DEPTH;

/// A chain `source -> ... -> source` through alias targets, if there is one.
/// Catch-all rewrites (`@domain` targets) are not followed: they depend on the
/// address being resolved, not on the alias. A self-target (`alice -> alice`)
/// is the keep-a-copy idiom, not a loop.
pub(crate) async fn alias_cycle(
    store: &Arc<dyn Store>,
    source: &str,
) -> Result<Option<Vec<String>>, DirectoryError> {
    let mut path = vec![source.to_string()];
    let mut dead_ends = HashSet::new();
    search(store, source, &mut path, &mut dead_ends).await
}

async fn search(
    store: &Arc<dyn Store>,
    source: &str,
    path: &mut Vec<String>,
    dead_ends: &mut HashSet<String>,
) -> Result<Option<Vec<String>>, DirectoryError> {
    let Some(current) = path.last().cloned() else {
        return Ok(None);
    };
    if path.len() > MAX_DEPTH {
        return Ok(None);
    }
    for target in store.alias_targets(&current).await? {
        if target == current || target.starts_with('@') {
            continue;
        }
        if target == source {
            let mut cycle = path.clone();
            cycle.push(target);
            return Ok(Some(cycle));
        }
        if path.contains(&target) || dead_ends.contains(&target) {
            continue;
        }
        path.push(target.clone());
        let found = Box::pin(search(store, source, path, dead_ends)).await?;
        path.pop();
        if found.is_some() {
            return Ok(found);
        }
        dead_ends.insert(target);
    }
    Ok(None)
}
