//! The Bayes classifier on the store's counts: the global counts kept in
//! memory (read once, then only the rows changed since, when the store's
//! generation moved), a user's own counts read for the tokens of one
//! message, added to the global ones.
//!
//! `spam_probability` has the signature of `havre_filter::BayesModel`, so
//! the filter asks it through that trait.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use havre_bayes::{Classification, Count, Counts, Params, Tokens, Totals, classify, tokenize};
use havre_content::Content;
use havre_store::{BAYES_GLOBAL, BayesTokenCount, BayesTotals, Store, StoreError};

/// Learned messages of each class, globally and for the user together,
/// before the classifier's word is taken (SpamAssassin's
/// `bayes_min_spam_num`/`bayes_min_ham_num`, Rspamd's `min_learns`): with
/// fewer, a few messages decide what whole words mean.
pub const MIN_LEARNS: u64 = 200;

/// How often the copy of the global counts asks the store whether they
/// changed (one indexed read of one row).
const REFRESH_EVERY: Duration = Duration::from_secs(1);

pub struct StoredBayes {
    store: Arc<dyn Store>,
    params: Params,
    min_learns: u64,
    global: RwLock<Global>,
    /// One refresh at a time; the time of the last one.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Global {
    counts: Counts,
    generation: u64,
}

/// What the classifier said of one message.
#[derive(Clone, Copy, Debug)]
pub struct Verdict {
    pub classification: Classification,
    /// The learned totals it compared with (global and the users' together).
    pub totals: Totals,
    /// Whether enough messages of each class were learned for the
    /// probability to be used.
    pub trained: bool,
}

impl StoredBayes {
    pub fn new(store: Arc<dyn Store>, params: Params, min_learns: u64) -> StoredBayes {
        StoredBayes {
            store,
            params,
            min_learns,
            global: RwLock::new(Global::default()),
            refreshed: tokio::sync::Mutex::new(None),
        }
    }

    /// Brings the copy of the global counts up to the store's generation
    /// (at most once per [`REFRESH_EVERY`] unless `now`).
    pub async fn refresh(&self, now: bool) -> Result<(), StoreError> {
        let mut last = self.refreshed.lock().await;
        if !now && last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
            return Ok(());
        }
        let mut since = self.read_global().generation;
        let (mut totals, mut changes) = self.store.bayes_changes(BAYES_GLOBAL, since).await?;
        if totals.generation < since {
            // The database went back (restored from a backup): read it all.
            (totals, changes) = self.store.bayes_changes(BAYES_GLOBAL, 0).await?;
            *self.global.write().unwrap_or_else(|e| e.into_inner()) = Global::default();
            since = 0;
        }
        if totals.generation != since {
            let mut global = self.global.write().unwrap_or_else(|e| e.into_inner());
            apply(&mut global.counts, totals, &changes);
            global.generation = totals.generation;
        }
        *last = Some(Instant::now());
        Ok(())
    }

    fn read_global(&self) -> std::sync::RwLockReadGuard<'_, Global> {
        self.global.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Classifies a message for `users` (their own counts added to the
    /// global ones; none for the global counts alone).
    pub async fn classify(&self, tokens: &Tokens, users: &[String]) -> Result<Verdict, StoreError> {
        self.refresh(false).await?;
        let mut layers = Vec::new();
        for user in users {
            let totals = self.store.bayes_totals(user).await?;
            if totals.spam + totals.ham == 0 {
                continue;
            }
            let counts = self.store.bayes_counts(user, tokens.as_slice()).await?;
            let mut layer = Counts::new();
            apply(&mut layer, totals, &counts);
            layers.push(layer);
        }
        let global = self.read_global();
        let mut all: Vec<&Counts> = vec![&global.counts];
        all.extend(layers.iter());
        let classification = classify(tokens.as_slice(), &all, &self.params);
        let totals = all.iter().fold(Totals::default(), |sum, layer| Totals {
            spam: sum.spam + layer.totals().spam,
            ham: sum.ham + layer.totals().ham,
        });
        Ok(Verdict {
            classification,
            totals,
            trained: totals.spam >= self.min_learns && totals.ham >= self.min_learns,
        })
    }

    /// The probability that `content` is spam for `users`, or `None` when
    /// the classifier cannot tell: too little learned, or the store failed
    /// (logged). The signature of `havre_filter::BayesModel`, through which
    /// the filter calls it once wired in `pipelines.rs`.
    #[allow(dead_code)]
    pub async fn spam_probability(&self, content: &Content, users: &[String]) -> Option<f64> {
        let tokens = tokenize(content);
        match self.classify(&tokens, users).await {
            Ok(verdict) if verdict.trained => verdict.classification.probability,
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(target: "checks", "spam: Bayes counts unavailable: {err}");
                None
            }
        }
    }
}

/// Sets the counts and totals the store gave.
fn apply(counts: &mut Counts, totals: BayesTotals, changes: &[BayesTokenCount]) {
    counts.set_totals(Totals {
        spam: totals.spam,
        ham: totals.ham,
    });
    for change in changes {
        counts.set(
            change.token,
            Count {
                spam: change.spam,
                ham: change.ham,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use havre_bayes::{Tokenizer, digest};
    use havre_store::{BayesClass, BayesLearn, SqliteStore};

    use super::*;

    fn tokens(text: &str) -> Tokens {
        let mut t = Tokenizer::new();
        t.text(text);
        t.finish()
    }

    fn learn(n: usize, class: BayesClass, text: &str) -> Vec<BayesLearn> {
        (0..n)
            .map(|i| {
                let text = format!("{text} number{i}");
                BayesLearn {
                    digest: digest(text.as_bytes(), None),
                    class,
                    tokens: tokens(&text).into_vec(),
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn the_copy_in_memory_follows_what_another_process_learns() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        let model = StoredBayes::new(store.clone(), Params::default(), 3);
        let message = tokens("cheap pills online");
        let before = model.classify(&message, &[]).await.unwrap();
        assert_eq!(before.classification.probability, None);
        assert!(!before.trained);

        store
            .bayes_learn(
                BAYES_GLOBAL,
                &learn(3, BayesClass::Spam, "cheap pills online"),
            )
            .await
            .unwrap();
        store
            .bayes_learn(
                BAYES_GLOBAL,
                &learn(3, BayesClass::Ham, "meeting notes attached"),
            )
            .await
            .unwrap();
        model.refresh(true).await.unwrap();
        let spam = model.classify(&message, &[]).await.unwrap();
        assert!(spam.trained);
        assert!(spam.classification.probability.unwrap() > 0.9, "{spam:?}");

        // Moving them all to ham: the copy reads the changed rows only.
        let moved: Vec<BayesLearn> = learn(3, BayesClass::Spam, "cheap pills online")
            .into_iter()
            .map(|m| BayesLearn {
                class: BayesClass::Ham,
                ..m
            })
            .collect();
        store.bayes_learn(BAYES_GLOBAL, &moved).await.unwrap();
        model.refresh(true).await.unwrap();
        let after = model.classify(&message, &[]).await.unwrap();
        assert_eq!(after.totals, Totals { spam: 0, ham: 6 });
        assert_eq!(after.classification.probability, None, "no spam left");
    }

    #[tokio::test]
    async fn the_filter_gets_no_probability_until_enough_is_learned() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        let model = StoredBayes::new(store.clone(), Params::default(), 4);
        let content = havre_content::analyze(
            b"Subject: hello\r\n\r\ncheap pills online\r\n",
            &havre_content::Limits::default(),
        );
        store
            .bayes_learn(
                BAYES_GLOBAL,
                &learn(3, BayesClass::Spam, "cheap pills online"),
            )
            .await
            .unwrap();
        store
            .bayes_learn(BAYES_GLOBAL, &learn(4, BayesClass::Ham, "meeting notes"))
            .await
            .unwrap();
        model.refresh(true).await.unwrap();
        assert_eq!(model.spam_probability(&content, &[]).await, None);
        store
            .bayes_learn(
                BAYES_GLOBAL,
                &learn(4, BayesClass::Spam, "cheap pills online"),
            )
            .await
            .unwrap();
        model.refresh(true).await.unwrap();
        let p = model.spam_probability(&content, &[]).await.unwrap();
        assert!(p > 0.9, "{p}");
    }

    #[tokio::test]
    async fn a_users_own_counts_join_the_global_ones() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        let model = StoredBayes::new(store.clone(), Params::default(), 1);
        store
            .bayes_learn(BAYES_GLOBAL, &learn(5, BayesClass::Spam, "viagra casino"))
            .await
            .unwrap();
        store
            .bayes_learn(BAYES_GLOBAL, &learn(5, BayesClass::Ham, "project schedule"))
            .await
            .unwrap();
        // Alice calls the newsletter spam; globally it is unknown.
        let alice = "alice@example.test".to_string();
        store
            .bayes_learn(
                &alice,
                &learn(5, BayesClass::Spam, "weekly newsletter digest"),
            )
            .await
            .unwrap();
        let newsletter = tokens("weekly newsletter digest");
        let global = model.classify(&newsletter, &[]).await.unwrap();
        let hers = model.classify(&newsletter, &[alice]).await.unwrap();
        assert_eq!(global.classification.probability, Some(0.5));
        assert!(hers.classification.probability.unwrap() > 0.9, "{hers:?}");
    }
}
