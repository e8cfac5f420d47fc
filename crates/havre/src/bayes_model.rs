//! The Bayes classifier on the store's counts: the global counts kept in
//! memory (read once, then only the rows changed since, when the store's
//! generation moved), a user's own counts read for the tokens of one
//! message, added to the global ones.
//!
//! A message never waits for the global counts: they are caught up by a
//! task of their own (at most one at a time, at most once a second), and a
//! message classified meanwhile uses the copy as it is. So the first load
//! of a large database, seconds long, runs to its end even when the filter
//! gives up on a slow answer, and until it ends the classifier says nothing
//! (too little learned).
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
    global: Arc<RwLock<Global>>,
    /// One refresh at a time; the time of the last one.
    refreshed: Arc<tokio::sync::Mutex<Option<Instant>>>,
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
            global: Arc::new(RwLock::new(Global::default())),
            refreshed: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Brings the copy of the global counts up to the store's generation
    /// (at most once per [`REFRESH_EVERY`] unless `now`).
    pub async fn refresh(&self, now: bool) -> Result<(), StoreError> {
        refresh(&self.store, &self.global, &self.refreshed, now).await
    }

    /// Keeps the copy of the global counts current on a task of its own
    /// (serve's), so what `havre spam learn` recorded is used within about a
    /// second even before the next message asks.
    pub fn keep_current(&self) {
        let (store, global, refreshed) = (
            self.store.clone(),
            self.global.clone(),
            self.refreshed.clone(),
        );
        tokio::spawn(async move {
            loop {
                if let Err(err) = refresh(&store, &global, &refreshed, false).await {
                    tracing::warn!(target: "checks", "spam: cannot read the Bayes counts: {err}");
                }
                tokio::time::sleep(REFRESH_EVERY).await;
            }
        });
    }

    /// Starts a refresh on a task of its own when one is due and none runs.
    fn refresh_in_background(&self) {
        match self.refreshed.try_lock() {
            Ok(last) if last.is_none_or(|at| at.elapsed() >= REFRESH_EVERY) => {}
            _ => return,
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, global, refreshed) = (
            self.store.clone(),
            self.global.clone(),
            self.refreshed.clone(),
        );
        runtime.spawn(async move {
            if let Err(err) = refresh(&store, &global, &refreshed, false).await {
                tracing::warn!(target: "checks", "spam: cannot read the Bayes counts: {err}");
            }
        });
    }

    fn read_global(&self) -> std::sync::RwLockReadGuard<'_, Global> {
        self.global.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Classifies a message for `users` (their own counts added to the
    /// global ones; none for the global counts alone).
    pub async fn classify(&self, tokens: &Tokens, users: &[String]) -> Result<Verdict, StoreError> {
        self.refresh_in_background();
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
    /// (logged). What the spam filter asks through `havre_filter::BayesModel`.
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

async fn refresh(
    store: &Arc<dyn Store>,
    global: &RwLock<Global>,
    refreshed: &tokio::sync::Mutex<Option<Instant>>,
    now: bool,
) -> Result<(), StoreError> {
    let mut last = refreshed.lock().await;
    if !now && last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
        return Ok(());
    }
    let mut since = global.read().unwrap_or_else(|e| e.into_inner()).generation;
    let (mut totals, mut changes) = store.bayes_changes(BAYES_GLOBAL, since).await?;
    if totals.generation < since {
        // The database went back (restored from a backup): read it all.
        (totals, changes) = store.bayes_changes(BAYES_GLOBAL, 0).await?;
        *global.write().unwrap_or_else(|e| e.into_inner()) = Global::default();
        since = 0;
    }
    if totals.generation != since {
        let mut global = global.write().unwrap_or_else(|e| e.into_inner());
        apply(&mut global.counts, totals, &changes);
        global.generation = totals.generation;
    }
    *last = Some(Instant::now());
    Ok(())
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

#[async_trait::async_trait]
impl havre_filter::BayesModel for StoredBayes {
    async fn spam_probability(&self, content: &Content, users: &[String]) -> Option<f64> {
        StoredBayes::spam_probability(self, content, users).await
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

    /// `store` learns `n` messages of `text` as `class` for `owner`.
    async fn teach(store: &Arc<dyn Store>, owner: &str, n: usize, class: BayesClass, text: &str) {
        store
            .bayes_learn(owner, &learn(n, class, text))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_copy_in_memory_follows_what_another_process_learns() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        let model = StoredBayes::new(store.clone(), Params::default(), 3);
        let message = tokens("cheap pills online");
        let before = model.classify(&message, &[]).await.unwrap();
        assert_eq!(before.classification.probability, None);
        assert!(!before.trained);

        teach(
            &store,
            BAYES_GLOBAL,
            3,
            BayesClass::Spam,
            "cheap pills online",
        )
        .await;
        teach(
            &store,
            BAYES_GLOBAL,
            3,
            BayesClass::Ham,
            "meeting notes attached",
        )
        .await;
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
        teach(
            &store,
            BAYES_GLOBAL,
            3,
            BayesClass::Spam,
            "cheap pills online",
        )
        .await;
        teach(&store, BAYES_GLOBAL, 4, BayesClass::Ham, "meeting notes").await;
        model.refresh(true).await.unwrap();
        assert_eq!(model.spam_probability(&content, &[]).await, None);
        teach(
            &store,
            BAYES_GLOBAL,
            4,
            BayesClass::Spam,
            "cheap pills online",
        )
        .await;
        model.refresh(true).await.unwrap();
        let p = model.spam_probability(&content, &[]).await.unwrap();
        assert!(p > 0.9, "{p}");
    }

    #[tokio::test]
    async fn a_message_does_not_wait_for_the_counts_which_catch_up_on_their_own() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        teach(
            &store,
            BAYES_GLOBAL,
            3,
            BayesClass::Spam,
            "cheap pills online",
        )
        .await;
        teach(&store, BAYES_GLOBAL, 3, BayesClass::Ham, "meeting notes").await;
        let model = StoredBayes::new(store.clone(), Params::default(), 3);
        let message = tokens("cheap pills online");
        // Nothing loaded yet: no word, and no wait.
        let first = model.classify(&message, &[]).await.unwrap();
        assert!(!first.trained);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let verdict = model.classify(&message, &[]).await.unwrap();
            if verdict.trained {
                assert!(verdict.classification.probability.unwrap() > 0.9);
                break;
            }
            assert!(Instant::now() < deadline, "the counts never caught up");
        }
    }

    #[tokio::test]
    async fn a_users_own_counts_join_the_global_ones() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().await.unwrap());
        let model = StoredBayes::new(store.clone(), Params::default(), 1);
        teach(&store, BAYES_GLOBAL, 5, BayesClass::Spam, "viagra casino").await;
        teach(&store, BAYES_GLOBAL, 5, BayesClass::Ham, "project schedule").await;
        // Alice calls the newsletter spam; globally it is unknown.
        let alice = "alice@example.test".to_string();
        store
            .bayes_learn(
                &alice,
                &learn(5, BayesClass::Spam, "weekly newsletter digest"),
            )
            .await
            .unwrap();
        model.refresh(true).await.unwrap();
        let newsletter = tokens("weekly newsletter digest");
        let global = model.classify(&newsletter, &[]).await.unwrap();
        let hers = model.classify(&newsletter, &[alice]).await.unwrap();
        assert_eq!(global.classification.probability, Some(0.5));
        assert!(hers.classification.probability.unwrap() > 0.9, "{hers:?}");
    }
}
