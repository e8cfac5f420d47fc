//! SEARCH keys on header and body text answered from the mailbox's search
//! index (kept at delivery, see havre-store's `SearchStore`) instead of
//! reading and parsing every message. The index holds the exact folded
//! strings the file-reading helpers compare, so its answer is theirs; a key
//! it cannot answer exactly (a needle containing its separators, a HEADER
//! field other than Subject) is left to the files, as is every key when the
//! index cannot be read.

use std::collections::{HashMap, HashSet};

use havre_imap_proto::SearchKey;
use havre_message::{IndexedField, IndexedText};
use havre_store::MailboxRecord;

use crate::session::Session;

/// Below this many messages to look at (a CONTEXT update's changed
/// messages), reading them costs less than scanning the mailbox's index.
const FEW: usize = 64;

/// The UIDs matching each key the index answered, by the key's address.
#[derive(Default)]
pub(crate) struct IndexHits {
    hits: HashMap<usize, HashSet<u32>>,
}

fn address(key: &SearchKey) -> usize {
    key as *const SearchKey as usize
}

impl IndexHits {
    /// Whether the message matches `key`, when the index answered it.
    pub(crate) fn answer(&self, key: &SearchKey, uid: u32) -> Option<bool> {
        self.hits.get(&address(key)).map(|uids| uids.contains(&uid))
    }

    pub(crate) fn answered(&self, key: &SearchKey) -> bool {
        self.hits.contains_key(&address(key))
    }

    /// The smallest set of UIDs every match is in: that of a key the index
    /// answered among those all of `keys` require (top level, or in an
    /// `AND` there). A search need only look at those messages.
    pub(crate) fn narrowest(&self, keys: &[SearchKey]) -> Option<&HashSet<u32>> {
        let mut best: Option<&HashSet<u32>> = None;
        for key in keys {
            let found = match key {
                SearchKey::And(inner) => self.narrowest(inner),
                _ => self.hits.get(&address(key)),
            };
            if let Some(found) = found
                && best.is_none_or(|b| found.len() < b.len())
            {
                best = Some(found);
            }
        }
        best
    }
}

/// The stored field and folded needle for `key`, if the index answers it.
fn indexed(key: &SearchKey) -> Option<(IndexedField, String)> {
    let (field, needle) = match key {
        SearchKey::Subject(s) => (IndexedField::Subject, s),
        SearchKey::Header(name, s) if name.eq_ignore_ascii_case("Subject") => {
            (IndexedField::Subject, s)
        }
        SearchKey::From(s) => (IndexedField::From, s),
        SearchKey::To(s) => (IndexedField::To, s),
        SearchKey::Cc(s) => (IndexedField::Cc, s),
        SearchKey::Bcc(s) => (IndexedField::Bcc, s),
        SearchKey::Body(s) => (IndexedField::Body, s),
        SearchKey::Text(s) => (IndexedField::Text, s),
        _ => return None,
    };
    IndexedText::answers(field, needle).map(|folded| (field, folded))
}

/// Every key of the tree the index can answer.
fn indexed_keys<'a>(keys: &'a [SearchKey], out: &mut Vec<(&'a SearchKey, IndexedField, String)>) {
    for key in keys {
        match key {
            SearchKey::Not(k) => indexed_keys(std::slice::from_ref(k), out),
            SearchKey::Or(a, b) => {
                indexed_keys(std::slice::from_ref(a), out);
                indexed_keys(std::slice::from_ref(b), out);
            }
            SearchKey::And(keys) => indexed_keys(keys, out),
            _ => {
                if let Some((field, folded)) = indexed(key) {
                    out.push((key, field, folded));
                }
            }
        }
    }
}

impl Session {
    /// Asks the index for the text keys of `keys`, after indexing what the
    /// mailbox still has pending. `among`: how many messages the search
    /// looks at, when it is not the whole mailbox.
    pub(crate) async fn index_hits(
        &self,
        mailbox: &MailboxRecord,
        keys: &[SearchKey],
        among: Option<usize>,
    ) -> IndexHits {
        let mut wanted = Vec::new();
        indexed_keys(keys, &mut wanted);
        let mut result = IndexHits::default();
        if wanted.is_empty() || among.is_some_and(|n| n < FEW) {
            return result;
        }
        let mailboxes = &self.services.mailboxes;
        if let Err(err) = mailboxes.fill_search_index(self.user(), mailbox).await {
            tracing::warn!(target: "imap", "user=<{}> {}: search index not filled in, searching the files: {err}", self.user(), mailbox.name);
            return result;
        }
        for (key, field, folded) in wanted {
            match mailboxes
                .store()
                .text_search(mailbox.id, field, &folded)
                .await
            {
                Ok(uids) => {
                    result.hits.insert(address(key), uids.into_iter().collect());
                }
                Err(err) => {
                    tracing::warn!(target: "imap", "user=<{}> {}: search index not read, searching the files: {err}", self.user(), mailbox.name);
                }
            }
        }
        result
    }
}
