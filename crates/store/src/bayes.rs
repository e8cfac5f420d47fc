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

use async_trait::async_trait;

use crate::Result;

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
