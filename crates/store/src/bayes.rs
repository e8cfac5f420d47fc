//! The Bayes classifier's counts (see havre-bayes): per owner (`""` for the
//! global database, else a user's address) how many learned spam and ham
//! messages carried each token, how many messages of each class were
//! learned, and which messages (by digest) were learned as what.
//!
//! Rules the implementation keeps:
//! - learning a message already learned as the same class changes nothing;
//!   learning it as the other class moves its counts (unlearn, then learn);
//! - a batch of messages is one transaction: all counted or none;
//! - each batch that changes an owner's counts takes a new generation,
//!   written on the totals and on every token row it touched, so a copy in
//!   memory catches up by reading only the rows of later generations;
//! - counts never go below zero.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use crate::Result;
use crate::rows::StoreRow;

/// The owner of the global counts.
pub const BAYES_GLOBAL: &str = "";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BayesClass {
    Spam,
    Ham,
}

impl BayesClass {
    pub(crate) fn to_i64(self) -> i64 {
        match self {
            BayesClass::Spam => 1,
            BayesClass::Ham => 0,
        }
    }

    pub(crate) fn from_i64(value: i64) -> BayesClass {
        if value == 1 {
            BayesClass::Spam
        } else {
            BayesClass::Ham
        }
    }
}

/// One message to learn: its digest (what makes it the same message again)
/// and its tokens, each once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BayesLearn {
    pub digest: [u8; 16],
    pub class: BayesClass,
    pub tokens: Vec<u64>,
}

/// What a batch of learning did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BayesLearnReport {
    /// Messages counted for the first time.
    pub learned: u64,
    /// Messages already learned as the class asked: nothing changed.
    pub already: u64,
    /// Messages learned before as the other class, now moved.
    pub moved: u64,
}

/// How many messages of each class an owner learned, and the generation of
/// the last change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BayesTotals {
    pub spam: u64,
    pub ham: u64,
    pub generation: u64,
}

/// One token's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BayesTokenCount {
    pub token: u64,
    pub spam: u32,
    pub ham: u32,
}

#[async_trait]
pub trait BayesStore {
    /// Learns a batch of messages for `owner`, in one transaction.
    async fn bayes_learn(&self, owner: &str, messages: &[BayesLearn]) -> Result<BayesLearnReport>;
    /// The owner's totals (zeros when it learned nothing).
    async fn bayes_totals(&self, owner: &str) -> Result<BayesTotals>;
    /// The counts of those of `tokens` the owner has (a token never learned
    /// is left out).
    async fn bayes_counts(&self, owner: &str, tokens: &[u64]) -> Result<Vec<BayesTokenCount>>;
    /// The owner's totals and the tokens changed after generation `since`
    /// (all of them with 0), read at one instant.
    async fn bayes_changes(
        &self,
        owner: &str,
        since: u64,
    ) -> Result<(BayesTotals, Vec<BayesTokenCount>)>;
    /// The class a message was learned as by `owner`, if it was.
    async fn bayes_learned_as(&self, owner: &str, digest: &[u8; 16]) -> Result<Option<BayesClass>>;
    /// Every owner that learned something, with its totals (the global one
    /// first, as `""`).
    async fn bayes_owners(&self) -> Result<Vec<(String, BayesTotals)>>;
}

/// What a batch of learning changes, worked out from its messages and the
/// classes the owner had already learned them as: the rules above, the same
/// on both engines, which only read and write the rows.
#[derive(Debug, Default)]
pub(crate) struct BayesBatch {
    pub report: BayesLearnReport,
    /// The class of each message learned or moved, as it ends the batch.
    pub learned: HashMap<[u8; 16], BayesClass>,
    /// What the totals gain (negative for a class messages moved out of).
    pub spam: i64,
    pub ham: i64,
    /// (token as stored, spam, ham) that each token's counts gain, in the
    /// order of the stored tokens, so that concurrent batches lock rows in
    /// the same order; changes that cancel out are left out.
    pub tokens: Vec<(i64, i64, i64)>,
}

impl BayesBatch {
    /// The digests whose classes [`BayesBatch::new`] needs, each once.
    pub(crate) fn digests(messages: &[BayesLearn]) -> Vec<[u8; 16]> {
        let mut seen = HashSet::new();
        messages
            .iter()
            .map(|m| m.digest)
            .filter(|digest| seen.insert(*digest))
            .collect()
    }

    /// `stored`: the class each digest was learned as before the batch.
    pub(crate) fn new(
        messages: &[BayesLearn],
        stored: &HashMap<[u8; 16], BayesClass>,
    ) -> BayesBatch {
        let mut batch = BayesBatch::default();
        let mut tokens: HashMap<u64, (i64, i64)> = HashMap::new();
        let sign_of = |class: BayesClass| match class {
            BayesClass::Spam => (1, 0),
            BayesClass::Ham => (0, 1),
        };
        for message in messages {
            // A message twice in the batch counts once.
            let known = batch
                .learned
                .get(&message.digest)
                .or_else(|| stored.get(&message.digest));
            let (add_spam, add_ham) = match known {
                Some(class) if *class == message.class => {
                    batch.report.already += 1;
                    continue;
                }
                Some(old) => {
                    batch.report.moved += 1;
                    let (s_old, h_old) = sign_of(*old);
                    let (s_new, h_new) = sign_of(message.class);
                    (s_new - s_old, h_new - h_old)
                }
                None => {
                    batch.report.learned += 1;
                    sign_of(message.class)
                }
            };
            batch.learned.insert(message.digest, message.class);
            batch.spam += add_spam;
            batch.ham += add_ham;
            for &token in &message.tokens {
                let delta = tokens.entry(token).or_insert((0, 0));
                delta.0 += add_spam;
                delta.1 += add_ham;
            }
        }
        // Tokens are u64 hashes stored in signed integers.
        batch.tokens = tokens
            .into_iter()
            .filter(|(_, delta)| *delta != (0, 0))
            .map(|(token, (spam, ham))| (token as i64, spam, ham))
            .collect();
        batch.tokens.sort_unstable();
        batch
    }

    /// Whether the batch changes any count (else nothing is written).
    pub(crate) fn changes(&self) -> bool {
        self.report.learned + self.report.moved > 0
    }

    /// The owner's totals after the batch, which takes `generation`.
    pub(crate) fn totals_after(&self, before: BayesTotals, generation: u64) -> BayesTotals {
        BayesTotals {
            spam: (before.spam as i64 + self.spam).max(0) as u64,
            ham: (before.ham as i64 + self.ham).max(0) as u64,
            generation,
        }
    }
}

/// Rows per page when reading the changes of an owner: a first load reads a
/// million rows, which all at once would take half a gigabyte as sqlx's rows.
pub(crate) const CHANGES_PER_PAGE: i64 = 20_000;

/// Where the page after `page` of an owner's changes starts (in the order of
/// the stored tokens); `None` when `page` was the last.
pub(crate) fn next_changes_page(page: &[BayesTokenCount]) -> Option<i64> {
    match page.last() {
        Some(last) if page.len() as i64 == CHANGES_PER_PAGE => (last.token as i64).checked_add(1),
        _ => None,
    }
}

/// A `bayes_totals` row (`spam`, `ham`, `generation`).
pub(crate) fn totals_from_row(
    row: &impl StoreRow,
) -> std::result::Result<BayesTotals, sqlx::Error> {
    Ok(BayesTotals {
        spam: row.int("spam")?.max(0) as u64,
        ham: row.int("ham")?.max(0) as u64,
        generation: row.int("generation")?.max(0) as u64,
    })
}

/// A `bayes_tokens` row (`token`, `spam`, `ham`).
pub(crate) fn count_from_row(
    row: &impl StoreRow,
) -> std::result::Result<BayesTokenCount, sqlx::Error> {
    Ok(BayesTokenCount {
        token: row.int("token")? as u64,
        spam: row.int("spam")?.clamp(0, u32::MAX.into()) as u32,
        ham: row.int("ham")?.clamp(0, u32::MAX.into()) as u32,
    })
}
