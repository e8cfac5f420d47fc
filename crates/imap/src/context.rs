//! Search contexts (RFC 5267 CONTEXT=SEARCH): a `SEARCH RETURN (UPDATE)`
//! result kept up to date while the mailbox stays selected.
//!
//! A context remembers the UIDs in its result and how far it has looked:
//! the highest UID and mod-sequence it evaluated. After each update pass
//! (after a command, in IDLE, in a NOTIFY push) the messages above those
//! marks (new, or whose flags changed, by anyone, this session included)
//! are matched again and the differences sent as
//! `* ESEARCH (TAG "t") [UID] REMOVEFROM (0 ...) ADDTO (0 ...)`; a message
//! leaving the mailbox is taken out of every result just before its
//! EXPUNGE, while its sequence number still holds (as Dovecot does).
//!
//! What cannot be kept exact this way is refused with `NOUPDATE` (the
//! search is still answered): a program with sequence numbers or `$` (they
//! change meaning as the mailbox does), with OLDER/YOUNGER (matches change
//! with time alone), more than [`MAX_CONTEXTS`] at once, and SORT (ESORT
//! positions; CONTEXT=SORT is not offered).

use std::collections::BTreeSet;

use havre_imap_proto::{Code, Esearch, SearchKey, Status};

use crate::session::{Outcome, Session};

/// Searches one session keeps up to date (Dovecot keeps 10 too).
pub(crate) const MAX_CONTEXTS: usize = 10;

#[derive(Debug, Clone, Default)]
pub(crate) struct Contexts {
    list: Vec<SearchContext>,
}

#[derive(Debug, Clone)]
struct SearchContext {
    tag: String,
    /// Results are UIDs (UID SEARCH), else sequence numbers.
    uid: bool,
    criteria: Vec<SearchKey>,
    /// The UIDs in the result as the client knows it.
    matched: BTreeSet<u32>,
    /// Messages up to this UID were evaluated...
    seen_uid: u32,
    /// ...as they were at this mod-sequence.
    seen_modseq: u64,
}

impl Contexts {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn has(&self, tag: &str) -> bool {
        self.list.iter().any(|c| c.tag == tag)
    }
}

/// Why a program cannot be kept up to date, if it cannot.
fn refusal(keys: &[SearchKey]) -> Option<&'static str> {
    keys.iter().find_map(|k| match k {
        SearchKey::Sequence(_) => Some("sequence numbers"),
        SearchKey::Uid(set) if set.is_saved() => Some("a saved result"),
        SearchKey::Older(_) | SearchKey::Younger(_) => Some("a time window"),
        SearchKey::Not(k) => refusal(std::slice::from_ref(k)),
        SearchKey::Or(a, b) => {
            refusal(std::slice::from_ref(a)).or_else(|| refusal(std::slice::from_ref(b)))
        }
        SearchKey::And(keys) => refusal(keys),
        _ => None,
    })
}

impl Session {
    /// Before a `SEARCH RETURN (UPDATE)` runs: a tag already updating is a
    /// client bug (Dovecot's answer).
    pub(crate) fn check_context_tag(&self) -> Result<(), Outcome> {
        let busy = self
            .selected
            .as_ref()
            .is_some_and(|v| v.contexts.has(&self.tag));
        if busy {
            return Err(Outcome::bad("Duplicate search update tag."));
        }
        Ok(())
    }

    /// Keeps the result `found` (UIDs) of the running search up to date,
    /// or says `* NO [NOUPDATE "tag"]` and why not.
    pub(crate) fn start_context(&mut self, uid: bool, criteria: &[SearchKey], found: &[u32]) {
        let tag = self.tag.clone();
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        let why = if view.contexts.list.len() >= MAX_CONTEXTS {
            Some("Too many updated searches")
        } else {
            refusal(criteria).map(|_| "This search cannot be kept up to date")
        };
        if let Some(why) = why {
            self.out
                .untagged(Status::No, Some(&Code::NoUpdate(tag)), why);
            return;
        }
        let context = SearchContext {
            tag,
            uid,
            criteria: criteria.to_vec(),
            matched: found.iter().copied().collect(),
            seen_uid: view.max_uid(),
            seen_modseq: view.max_modseq(),
        };
        view.contexts.list.push(context);
    }

    /// CANCELUPDATE (RFC 5267 4.3.5): a tag that updates nothing is a NO
    /// (Dovecot's answer), and then none is cancelled.
    pub(crate) fn cancel_update(&mut self, tags: &[String]) -> Outcome {
        let Some(view) = self.selected.as_mut() else {
            return Outcome::bad("No mailbox selected.");
        };
        if tags.iter().any(|t| !view.contexts.has(t)) {
            return Outcome::no("Unknown tag.");
        }
        view.contexts.list.retain(|c| !tags.contains(&c.tag));
        Outcome::ok("CANCELUPDATE completed.")
    }

    /// Takes messages about to be reported expunged out of the results,
    /// `(seq, uid)` numbered as the client still numbers them.
    pub(crate) fn context_removals(&mut self, gone: &[(u32, u32)]) {
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        for context in &mut view.contexts.list {
            let ids: Vec<u32> = gone
                .iter()
                .filter(|(_, uid)| context.matched.remove(uid))
                .map(|(seq, uid)| if context.uid { *uid } else { *seq })
                .collect();
            if !ids.is_empty() {
                self.out.esearch(&Esearch {
                    tag: Some(&context.tag),
                    uid: context.uid,
                    remove_from: Some(&ids),
                    ..Default::default()
                });
            }
        }
    }

    /// Matches again what is new or changed since each context last
    /// looked, and tells the client what joined or left its results.
    pub(crate) async fn refresh_contexts(&mut self) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        if view.contexts.is_empty() {
            return;
        }
        let (max_uid, max_modseq) = (view.max_uid(), view.max_modseq());
        for i in 0..view.contexts.list.len() {
            let Some(view) = self.selected.as_ref() else {
                return;
            };
            let context = &view.contexts.list[i];
            let changed: Vec<u32> = view
                .uids()
                .iter()
                .copied()
                .filter(|uid| {
                    *uid > context.seen_uid
                        || view
                            .message(*uid)
                            .is_some_and(|m| m.modseq > context.seen_modseq)
                })
                .collect();
            if changed.is_empty() {
                continue;
            }
            let criteria = context.criteria.clone();
            let matching: BTreeSet<u32> = self
                .matching_among(&criteria, &changed)
                .await
                .into_iter()
                .collect();
            let Some(view) = self.selected.as_mut() else {
                return;
            };
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            {
                let context = &mut view.contexts.list[i];
                for uid in &changed {
                    let now = matching.contains(uid);
                    if now && context.matched.insert(*uid) {
                        added.push(*uid);
                    } else if !now && context.matched.remove(uid) {
                        removed.push(*uid);
                    }
                }
                context.seen_uid = max_uid;
                context.seen_modseq = max_modseq;
            }
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            let context = &view.contexts.list[i];
            let number = |uids: Vec<u32>| -> Vec<u32> {
                if context.uid {
                    uids
                } else {
                    uids.iter().filter_map(|u| view.seq_of(*u)).collect()
                }
            };
            let (added, removed) = (number(added), number(removed));
            self.out.esearch(&Esearch {
                tag: Some(&context.tag),
                uid: context.uid,
                remove_from: Some(&removed),
                add_to: Some(&added),
                ..Default::default()
            });
        }
    }
}
