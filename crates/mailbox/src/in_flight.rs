//! Messages this process is writing into a folder and has not indexed yet.
//!
//! An APPEND, a COPY or a delivery makes its file durable in new/ first and
//! gives it a UID second. Between the two, another session's SELECT may sync
//! the folder and see the file: were it to index it, the writer's own insert
//! would find the row taken (an APPEND answering NO for a message it stored)
//! and the flags and date the client asked for would be lost. So the writer
//! registers the file's unique part before the file exists, and sync leaves
//! registered files to their writer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct InFlight {
    uniques: Arc<Mutex<HashSet<String>>>,
}

/// Held while the file is written and indexed; dropping it (also on error or
/// cancellation) hands the file to sync again.
pub(crate) struct Writing {
    in_flight: InFlight,
    unique: String,
}

impl InFlight {
    pub(crate) fn begin(&self, unique: &str) -> Writing {
        self.lock().insert(unique.to_string());
        Writing {
            in_flight: self.clone(),
            unique: unique.to_string(),
        }
    }

    pub(crate) fn contains(&self, unique: &str) -> bool {
        self.lock().contains(unique)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.uniques.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        self.in_flight.lock().remove(&self.unique);
    }
}
