//! SEARCH (with ESEARCH, SEARCHRES, CONDSTORE MODSEQ, WITHIN), SORT (ESORT)
//! and THREAD over the selected mailbox.

use std::cmp::Ordering;

use havre_imap_proto::{
    Code, Date, Esearch, SearchCommand, SearchKey, SearchReturn, SortCommand, SortKey,
    ThreadAlgorithm, ThreadCommand, ThreadNode,
};
use havre_store::MessageRecord;

use crate::search_index::IndexHits;
use crate::session::{Outcome, Session};
use crate::view::has_flag;

/// A message a search found.
struct Candidate {
    seq: u32,
    record: MessageRecord,
    raw: Option<Vec<u8>>,
}

/// Whether some key needs the message's bytes (not answered by the index).
fn needs_content(keys: &[SearchKey], index: &IndexHits) -> bool {
    keys.iter().any(|k| match k {
        k if index.answered(k) => false,
        SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::EmailId(_)
        | SearchKey::ThreadId(_) => true,
        SearchKey::Not(k) => needs_content(std::slice::from_ref(k), index),
        SearchKey::Or(a, b) => {
            needs_content(std::slice::from_ref(a), index)
                || needs_content(std::slice::from_ref(b), index)
        }
        SearchKey::And(keys) => needs_content(keys, index),
        _ => false,
    })
}

fn needs_save_date(keys: &[SearchKey]) -> bool {
    keys.iter().any(|k| match k {
        SearchKey::SavedBefore(_) | SearchKey::SavedOn(_) | SearchKey::SavedSince(_) => true,
        SearchKey::Not(k) => needs_save_date(std::slice::from_ref(k)),
        SearchKey::Or(a, b) => {
            needs_save_date(std::slice::from_ref(a)) || needs_save_date(std::slice::from_ref(b))
        }
        SearchKey::And(keys) => needs_save_date(keys),
        _ => false,
    })
}

fn uses_modseq(keys: &[SearchKey]) -> bool {
    keys.iter().any(|k| match k {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => uses_modseq(std::slice::from_ref(k)),
        SearchKey::Or(a, b) => {
            uses_modseq(std::slice::from_ref(a)) || uses_modseq(std::slice::from_ref(b))
        }
        SearchKey::And(keys) => uses_modseq(keys),
        _ => false,
    })
}

const DAY: i64 = 86_400;

fn day(ts: i64) -> i64 {
    ts.div_euclid(DAY)
}

fn date_day(date: &Date) -> i64 {
    day(date.to_unix())
}

struct Context<'a> {
    exists: u32,
    max_uid: u32,
    saved: &'a [u32],
    now: i64,
    recent: &'a crate::recent::Recent,
    index: &'a IndexHits,
}

/// A message being matched, borrowed from the view: only matches are
/// copied into [`Candidate`]s.
struct Probe<'a> {
    seq: u32,
    record: &'a MessageRecord,
    raw: Option<&'a [u8]>,
    /// When the message was saved in this mailbox (RFC 8514), if asked for.
    saved: Option<i64>,
}

fn matches(key: &SearchKey, c: &Probe<'_>, ctx: &Context<'_>) -> bool {
    let m = c.record;
    let raw = c.raw.unwrap_or(b"");
    let flag = |f: &str| has_flag(&m.flags, f);
    if let Some(found) = ctx.index.answer(key, m.uid) {
        return found;
    }
    match key {
        SearchKey::All => true,
        SearchKey::Recent => ctx.recent.contains(m.uid),
        SearchKey::New => ctx.recent.contains(m.uid) && !flag("\\Seen"),
        SearchKey::Old => !ctx.recent.contains(m.uid),
        SearchKey::Answered => flag("\\Answered"),
        SearchKey::Deleted => flag("\\Deleted"),
        SearchKey::Draft => flag("\\Draft"),
        SearchKey::Flagged => flag("\\Flagged"),
        SearchKey::Seen => flag("\\Seen"),
        SearchKey::Unanswered => !flag("\\Answered"),
        SearchKey::Undeleted => !flag("\\Deleted"),
        SearchKey::Undraft => !flag("\\Draft"),
        SearchKey::Unflagged => !flag("\\Flagged"),
        SearchKey::Unseen => !flag("\\Seen"),
        SearchKey::Keyword(k) => flag(k),
        SearchKey::Unkeyword(k) => !flag(k),
        SearchKey::Larger(n) => m.size > *n,
        SearchKey::Smaller(n) => m.size < *n,
        SearchKey::Before(d) => day(m.internal_date) < date_day(d),
        SearchKey::On(d) => day(m.internal_date) == date_day(d),
        SearchKey::Since(d) => day(m.internal_date) >= date_day(d),
        SearchKey::SentBefore(d) => {
            havre_message::sent_day(raw).is_some_and(|sent| sent < date_day(d))
        }
        SearchKey::SentOn(d) => {
            havre_message::sent_day(raw).is_some_and(|sent| sent == date_day(d))
        }
        SearchKey::SentSince(d) => {
            havre_message::sent_day(raw).is_some_and(|sent| sent >= date_day(d))
        }
        SearchKey::SavedBefore(d) => c.saved.is_some_and(|t| day(t) < date_day(d)),
        SearchKey::SavedOn(d) => c.saved.is_some_and(|t| day(t) == date_day(d)),
        SearchKey::SavedSince(d) => c.saved.is_some_and(|t| day(t) >= date_day(d)),
        // Maildir keeps a save date for every message (its file's).
        SearchKey::SaveDateSupported => true,
        SearchKey::EmailId(id) => havre_message::email_id(raw) == *id,
        SearchKey::ThreadId(id) => {
            havre_message::thread_id(&havre_message::sort_keys(raw)).is_some_and(|t| t == *id)
        }
        SearchKey::Older(secs) => m.internal_date <= ctx.now - *secs as i64,
        SearchKey::Younger(secs) => m.internal_date > ctx.now - *secs as i64,
        SearchKey::Bcc(s) => havre_message::address_contains(raw, "Bcc", s),
        SearchKey::Cc(s) => havre_message::address_contains(raw, "Cc", s),
        SearchKey::From(s) => havre_message::address_contains(raw, "From", s),
        SearchKey::To(s) => havre_message::address_contains(raw, "To", s),
        SearchKey::Subject(s) => havre_message::header_contains(raw, "Subject", s),
        SearchKey::Header(field, s) => havre_message::header_contains(raw, field, s),
        SearchKey::Body(s) => havre_message::body_contains(raw, s),
        SearchKey::Text(s) => havre_message::text_contains(raw, s),
        SearchKey::Uid(set) => {
            if set.is_saved() {
                ctx.saved.contains(&m.uid)
            } else {
                set.contains(m.uid, ctx.max_uid)
            }
        }
        SearchKey::Sequence(set) => {
            if set.is_saved() {
                ctx.saved.contains(&m.uid)
            } else {
                set.contains(c.seq, ctx.exists)
            }
        }
        SearchKey::ModSeq { modseq, .. } => m.modseq >= *modseq,
        SearchKey::Not(k) => !matches(k, c, ctx),
        SearchKey::Or(a, b) => matches(a, c, ctx) || matches(b, c, ctx),
        SearchKey::And(keys) => keys.iter().all(|k| matches(k, c, ctx)),
    }
}

fn wants(result: &Option<Vec<SearchReturn>>, option: SearchReturn) -> bool {
    result.as_ref().is_some_and(|r| r.contains(&option))
}

fn charset_ok(charset: Option<&str>) -> bool {
    charset.is_none_or(|c| c.eq_ignore_ascii_case("UTF-8") || c.eq_ignore_ascii_case("US-ASCII"))
}

impl Session {
    /// Messages matching all `keys`, in mailbox order, with their content
    /// when `keep_content`.
    async fn candidates(&mut self, keys: &[SearchKey], keep_content: bool) -> Vec<Candidate> {
        self.candidates_among(keys, keep_content, None).await
    }

    /// The UIDs among `uids` (in mailbox order) that match all `keys`.
    pub(crate) async fn matching_among(&mut self, keys: &[SearchKey], uids: &[u32]) -> Vec<u32> {
        let among: std::collections::HashSet<u32> = uids.iter().copied().collect();
        self.candidates_among(keys, false, Some(&among))
            .await
            .into_iter()
            .map(|c| c.record.uid)
            .collect()
    }

    async fn candidates_among(
        &mut self,
        keys: &[SearchKey],
        keep_content: bool,
        among: Option<&std::collections::HashSet<u32>>,
    ) -> Vec<Candidate> {
        let Some(view) = self.selected.as_ref() else {
            return Vec::new();
        };
        let mailbox = view.mailbox.clone();
        let ctx_exists = view.exists();
        let ctx_max = view.max_uid();
        let index = self
            .index_hits(&mailbox, keys, among.map(|a| a.len()))
            .await;
        let Some(view) = self.selected.as_ref() else {
            return Vec::new();
        };
        // Sequence numbers follow UIDs: a message's is its place in `uids`.
        let uids = view.uids();
        let mut positions: Vec<(u32, u32)> = match index.narrowest(keys) {
            Some(hits) => hits
                .iter()
                .filter(|u| among.is_none_or(|a| a.contains(u)))
                .filter_map(|u| uids.binary_search(u).ok().map(|i| (i as u32 + 1, *u)))
                .collect(),
            None => uids
                .iter()
                .enumerate()
                .filter(|(_, u)| among.is_none_or(|a| a.contains(u)))
                .map(|(i, u)| (i as u32 + 1, *u))
                .collect(),
        };
        positions.sort_unstable();
        let content = needs_content(keys, &index) || keep_content;
        let save_dates = needs_save_date(keys);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let saved = self.saved.clone();
        let recent = self.recent.clone();
        let ctx = Context {
            recent: &recent,
            exists: ctx_exists,
            max_uid: ctx_max,
            saved: &saved,
            now,
            index: &index,
        };
        let mut out = Vec::new();
        for (seq, uid) in positions {
            let Some(record) = self.selected.as_ref().and_then(|v| v.message(uid)) else {
                continue;
            };
            let raw = if content {
                self.load(&mailbox, record).await.ok()
            } else {
                None
            };
            let saved = if save_dates {
                self.save_date(&mailbox, record).await
            } else {
                None
            };
            let probe = Probe {
                seq,
                record,
                raw: raw.as_deref(),
                saved,
            };
            if keys.iter().all(|k| matches(k, &probe, &ctx)) {
                out.push(Candidate {
                    seq,
                    record: record.clone(),
                    raw,
                });
            }
        }
        out
    }

    fn answer_search(
        &mut self,
        uid: bool,
        found: &[(u32, u32, u64)],
        result: Option<&[SearchReturn]>,
        with_modseq: bool,
        sort: bool,
    ) {
        let ids: Vec<u32> = found
            .iter()
            .map(|(s, u, _)| if uid { *u } else { *s })
            .collect();
        // No match, no MODSEQ (RFC 7162 3.1.5).
        let modseq = with_modseq
            .then(|| found.iter().map(|f| f.2).max())
            .flatten();
        let esearch = result.is_some() || (self.enabled.rev2 && !sort);
        if !esearch {
            if sort {
                self.out.sort(&ids, modseq);
            } else {
                self.out.search(&ids, modseq);
            }
            return;
        }
        // UPDATE and CONTEXT (RFC 5267) ask for no result of their own:
        // without other options the client gets ALL, as with `RETURN ()`.
        let mut options: Vec<SearchReturn> = result
            .unwrap_or_default()
            .iter()
            .filter(|o| !matches!(o, SearchReturn::Update | SearchReturn::Context))
            .copied()
            .collect();
        if options.is_empty() {
            options.push(SearchReturn::All);
        }
        let partial = options.iter().find_map(|o| match o {
            SearchReturn::Partial(range) => Some(*range),
            _ => None,
        });
        // The page PARTIAL asks for, as positions in `found`.
        let page = partial.map_or(0..0, |range| range.indices(found.len()));
        if options.contains(&SearchReturn::Save) {
            // With PARTIAL, what is saved is the page returned (RFC 9394 3.1).
            let saved = if partial.is_some() {
                &found[page.clone()]
            } else {
                found
            };
            self.saved = saved.iter().map(|f| f.1).collect();
            if options.len() == 1 {
                return;
            }
        }
        let tag = self.tag.clone();
        let want = |o: SearchReturn| options.contains(&o);
        let (min, max) = if sort {
            (ids.first().copied(), ids.last().copied())
        } else {
            (ids.iter().min().copied(), ids.iter().max().copied())
        };
        // RFC 4731 3.2: with only MIN, MAX and/or a PARTIAL page returned,
        // MODSEQ is that of the messages returned, not of every match.
        let modseq = if want(SearchReturn::All) || want(SearchReturn::Count) {
            modseq
        } else {
            modseq.and_then(|_| {
                found
                    .iter()
                    .enumerate()
                    .filter(|(i, (s, u, _))| {
                        let id = if uid { *u } else { *s };
                        (want(SearchReturn::Min) && Some(id) == min)
                            || (want(SearchReturn::Max) && Some(id) == max)
                            || page.contains(i)
                    })
                    .map(|(_, f)| f)
                    .map(|f| f.2)
                    .max()
            })
        };
        self.out.esearch(&Esearch {
            tag: Some(&tag),
            uid,
            min: if want(SearchReturn::Min) { min } else { None },
            max: if want(SearchReturn::Max) { max } else { None },
            count: want(SearchReturn::Count).then_some(ids.len() as u32),
            all: want(SearchReturn::All).then_some(&ids[..]),
            modseq,
            partial: partial.map(|range| (range, &ids[page.clone()])),
            ..Default::default()
        });
    }

    pub(crate) async fn search(&mut self, search: SearchCommand) -> Outcome {
        if !charset_ok(search.charset.as_deref()) {
            return Outcome::no_code(
                Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]),
                "Unsupported charset.",
            );
        }
        let update = wants(&search.result, SearchReturn::Update);
        if update && let Err(o) = self.check_context_tag() {
            return o;
        }
        let with_modseq = uses_modseq(&search.criteria);
        if with_modseq {
            self.enable_condstore();
        }
        let found: Vec<(u32, u32, u64)> = self
            .candidates(&search.criteria, false)
            .await
            .into_iter()
            .map(|c| (c.seq, c.record.uid, c.record.modseq))
            .collect();
        self.answer_search(
            search.uid,
            &found,
            search.result.as_deref(),
            with_modseq,
            false,
        );
        if update {
            let uids: Vec<u32> = found.iter().map(|f| f.1).collect();
            self.start_context(search.uid, &search.criteria, &uids);
        }
        Outcome::ok("Search completed.")
    }

    pub(crate) async fn sort(&mut self, sort: SortCommand) -> Outcome {
        if !charset_ok(Some(&sort.charset)) {
            return Outcome::no_code(
                Code::BadCharset(vec!["UTF-8".into()]),
                "Unsupported charset.",
            );
        }
        if wants(&sort.result, SearchReturn::Update) {
            // CONTEXT=SORT is not offered: the sort is answered, not kept.
            let tag = self.tag.clone();
            self.out.untagged(
                havre_imap_proto::Status::No,
                Some(&Code::NoUpdate(tag)),
                "Sorted results are not kept up to date",
            );
        }
        let candidates = self.candidates(&sort.search, false).await;
        let mut keyed: Vec<(Candidate, havre_message::SortKeys)> = Vec::new();
        for c in candidates {
            let keys = self.sort_keys_of(&c).await;
            keyed.push((c, keys));
        }
        keyed.sort_by(|(a, ka), (b, kb)| {
            for criterion in &sort.criteria {
                let order = match criterion.key {
                    SortKey::Arrival => a.record.internal_date.cmp(&b.record.internal_date),
                    SortKey::Date => ka
                        .sent_date_or(a.record.internal_date)
                        .cmp(&kb.sent_date_or(b.record.internal_date)),
                    SortKey::Size => a.record.size.cmp(&b.record.size),
                    SortKey::Subject => ka.subject.cmp(&kb.subject),
                    SortKey::From => ka.from.cmp(&kb.from),
                    SortKey::To => ka.to.cmp(&kb.to),
                    SortKey::DisplayFrom => ka.display_from.cmp(&kb.display_from),
                    SortKey::DisplayTo => ka.display_to.cmp(&kb.display_to),
                    SortKey::Cc => ka.cc.cmp(&kb.cc),
                };
                let order = if criterion.reverse {
                    order.reverse()
                } else {
                    order
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
            a.seq.cmp(&b.seq)
        });
        let found: Vec<(u32, u32, u64)> = keyed
            .iter()
            .map(|(c, _)| (c.seq, c.record.uid, c.record.modseq))
            .collect();
        self.answer_search(sort.uid, &found, sort.result.as_deref(), false, true);
        Outcome::ok("Sort completed.")
    }

    /// SORT/THREAD keys from the cached analysis (the file is read only when
    /// the message was never analysed).
    async fn sort_keys_of(&mut self, c: &Candidate) -> havre_message::SortKeys {
        match self.analysis(c.record.uid, c.raw.as_deref()).await {
            Some(analysis) => analysis.sort_keys().clone(),
            None => havre_message::sort_keys(c.raw.as_deref().unwrap_or(b"")),
        }
    }

    pub(crate) async fn thread(&mut self, thread: ThreadCommand) -> Outcome {
        if !charset_ok(Some(&thread.charset)) {
            return Outcome::no_code(
                Code::BadCharset(vec!["UTF-8".into()]),
                "Unsupported charset.",
            );
        }
        let candidates = self.candidates(&thread.search, false).await;
        let mut keyed: Vec<(u32, havre_message::SortKeys, i64)> = Vec::new();
        for c in &candidates {
            let id = if thread.uid { c.record.uid } else { c.seq };
            keyed.push((id, self.sort_keys_of(c).await, c.record.internal_date));
        }
        let input: Vec<(u32, &havre_message::SortKeys, i64)> =
            keyed.iter().map(|(id, k, d)| (*id, k, *d)).collect();
        let threads = match thread.algorithm {
            ThreadAlgorithm::OrderedSubject => havre_message::thread_orderedsubject(&input),
            ThreadAlgorithm::References => havre_message::thread_references(&input),
        };
        let nodes: Vec<ThreadNode> = threads.iter().map(convert_thread).collect();
        self.out.thread(&nodes);
        Outcome::ok("Thread completed.")
    }
}

/// Converts the analyser's thread tree to the writer's without recursion: a
/// reply chain thousands of messages deep must not exhaust the stack.
fn convert_thread(root: &havre_message::ThreadNode) -> ThreadNode {
    // Post-order: a node is built once all its children are.
    let mut stack: Vec<(&havre_message::ThreadNode, usize)> = vec![(root, 0)];
    let mut built: Vec<ThreadNode> = Vec::new();
    while let Some((node, next_child)) = stack.pop() {
        if next_child < node.children.len() {
            stack.push((node, next_child + 1));
            stack.push((&node.children[next_child], 0));
        } else {
            let children = built.split_off(built.len() - node.children.len());
            built.push(ThreadNode {
                id: node.id,
                children,
            });
        }
    }
    built.pop().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_chain_fifty_thousand_deep_converts_without_overflow() {
        let mut node = havre_message::ThreadNode {
            id: Some(50_000),
            children: vec![],
        };
        for id in (1..50_000).rev() {
            node = havre_message::ThreadNode {
                id: Some(id),
                children: vec![node],
            };
        }
        let converted = convert_thread(&node);
        assert_eq!(converted.id, Some(1));
        assert_eq!(converted.children[0].id, Some(2));
        // The converted tree is dropped without recursion too.
        let mut depth = 0;
        let mut cursor = &converted;
        while let Some(child) = cursor.children.first() {
            cursor = child;
            depth += 1;
        }
        assert_eq!(depth, 49_999);
    }
}
