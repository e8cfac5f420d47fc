//! The Bayes counts: learning once per message, moving between classes,
//! generations for the copy in memory, per-user counts apart from the
//! global ones and gone with the user.

mod common;

use havre_store::*;

fn message(n: u8, class: BayesClass, tokens: &[u64]) -> BayesLearn {
    BayesLearn {
        digest: [n; 16],
        class,
        tokens: tokens.to_vec(),
    }
}

fn count(token: u64, spam: u32, ham: u32) -> BayesTokenCount {
    BayesTokenCount { token, spam, ham }
}

async fn counts(store: &dyn Store, owner: &str, tokens: &[u64]) -> Vec<BayesTokenCount> {
    let mut got = store.bayes_counts(owner, tokens).await.unwrap();
    got.sort_by_key(|c| c.token);
    got
}

on_both_engines! {
    async fn learning_a_message_twice_counts_it_once_and_the_other_class_moves_it(engine) {
        let store = common::empty(engine).await;
        let big = u64::MAX - 1; // hashes use all 64 bits
        let batch = [
            message(1, BayesClass::Spam, &[10, 11, big]),
            message(2, BayesClass::Ham, &[11, 12]),
            // The same message twice in one batch.
            message(1, BayesClass::Spam, &[10, 11, big]),
        ];
        let report = store.bayes_learn(BAYES_GLOBAL, &batch).await.unwrap();
        assert_eq!(
            report,
            BayesLearnReport {
                learned: 2,
                already: 1,
                moved: 0
            }
        );
        let totals = store.bayes_totals(BAYES_GLOBAL).await.unwrap();
        assert_eq!((totals.spam, totals.ham), (1, 1));
        assert_eq!(
            counts(&*store, BAYES_GLOBAL, &[10, 11, 12, 13, big]).await,
            vec![
                count(10, 1, 0),
                count(11, 1, 1),
                count(12, 0, 1),
                count(big, 1, 0)
            ]
        );

        // Again: nothing changes, not even the generation.
        let again = store.bayes_learn(BAYES_GLOBAL, &batch[..1]).await.unwrap();
        assert_eq!(again.already, 1);
        assert_eq!(store.bayes_totals(BAYES_GLOBAL).await.unwrap(), totals);
        // Nor does an empty batch make an owner.
        store.bayes_learn("nobody@example.test", &[]).await.unwrap();
        let owners = store.bayes_owners().await.unwrap();
        assert_eq!(owners, vec![(String::new(), totals)]);

        // Message 1 was ham after all.
        let moved = store
            .bayes_learn(BAYES_GLOBAL, &[message(1, BayesClass::Ham, &[10, 11, big])])
            .await
            .unwrap();
        assert_eq!(moved.moved, 1);
        let after = store.bayes_totals(BAYES_GLOBAL).await.unwrap();
        assert_eq!((after.spam, after.ham), (0, 2));
        assert!(after.generation > totals.generation);
        assert_eq!(
            counts(&*store, BAYES_GLOBAL, &[10, 11, 12, big]).await,
            vec![
                count(10, 0, 1),
                count(11, 0, 2),
                count(12, 0, 1),
                count(big, 0, 1)
            ]
        );
        assert_eq!(
            store
                .bayes_learned_as(BAYES_GLOBAL, &[1; 16])
                .await
                .unwrap(),
            Some(BayesClass::Ham)
        );
        assert_eq!(
            store
                .bayes_learned_as(BAYES_GLOBAL, &[9; 16])
                .await
                .unwrap(),
            None
        );
    }
}

on_both_engines! {
    async fn a_copy_in_memory_catches_up_with_the_rows_of_later_generations(engine) {
        let store = common::empty(engine).await;
        store
            .bayes_learn(BAYES_GLOBAL, &[message(1, BayesClass::Spam, &[1, 2, 3])])
            .await
            .unwrap();
        let (first, all) = store.bayes_changes(BAYES_GLOBAL, 0).await.unwrap();
        assert_eq!(all.len(), 3);
        // Nothing new since.
        let (same, none) = store
            .bayes_changes(BAYES_GLOBAL, first.generation)
            .await
            .unwrap();
        assert_eq!(same, first);
        assert!(none.is_empty());
        // A move: the tokens it touched, including those that fell to zero
        // and one the message did not have when learned (another
        // tokenizer), whose spam count stays at zero, not below.
        store
            .bayes_learn(BAYES_GLOBAL, &[message(1, BayesClass::Ham, &[1, 2, 4])])
            .await
            .unwrap();
        let (totals, mut changed) = store
            .bayes_changes(BAYES_GLOBAL, first.generation)
            .await
            .unwrap();
        changed.sort_by_key(|c| c.token);
        assert_eq!((totals.spam, totals.ham), (0, 1));
        assert_eq!(
            changed,
            vec![count(1, 0, 1), count(2, 0, 1), count(4, 0, 1)]
        );
        // Token 3 was not in the message as learned the second time: its
        // spam count stays.
        assert_eq!(
            counts(&*store, BAYES_GLOBAL, &[3]).await,
            vec![count(3, 1, 0)]
        );
    }
}

on_both_engines! {
    async fn a_users_counts_are_apart_and_go_with_her(engine) {
        let alice = "alice@example.test";
        let store = common::store_on(engine, &[alice]).await;
        store
            .bayes_learn(alice, &[message(1, BayesClass::Spam, &[5])])
            .await
            .unwrap();
        // The same message is new to the global counts.
        let global = store
            .bayes_learn(BAYES_GLOBAL, &[message(1, BayesClass::Ham, &[5])])
            .await
            .unwrap();
        assert_eq!(global.learned, 1);
        assert_eq!(counts(&*store, alice, &[5]).await, vec![count(5, 1, 0)]);
        assert_eq!(
            counts(&*store, BAYES_GLOBAL, &[5]).await,
            vec![count(5, 0, 1)]
        );
        let owners: Vec<String> = store
            .bayes_owners()
            .await
            .unwrap()
            .into_iter()
            .map(|(owner, _)| owner)
            .collect();
        assert_eq!(owners, vec![String::new(), alice.to_string()]);

        store.remove_user(alice).await.unwrap();
        assert!(counts(&*store, alice, &[5]).await.is_empty());
        assert_eq!(
            store.bayes_totals(alice).await.unwrap(),
            BayesTotals::default()
        );
        assert_eq!(store.bayes_learned_as(alice, &[1; 16]).await.unwrap(), None);
    }
}

on_both_engines! {
    async fn many_tokens_are_learned_and_read_in_chunks(engine) {
        let store = common::empty(engine).await;
        // Over two pages of changes, spread over the whole u64 range.
        let mut tokens: Vec<u64> = (0..45_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        tokens.extend([0, u64::MAX, i64::MAX as u64, i64::MIN as u64]);
        tokens.sort_unstable();
        tokens.dedup();
        store
            .bayes_learn(BAYES_GLOBAL, &[message(1, BayesClass::Spam, &tokens)])
            .await
            .unwrap();
        let read = store.bayes_counts(BAYES_GLOBAL, &tokens).await.unwrap();
        assert_eq!(read.len(), tokens.len());
        assert!(read.iter().all(|c| c.spam == 1 && c.ham == 0));
        let (_, changes) = store.bayes_changes(BAYES_GLOBAL, 0).await.unwrap();
        let mut changed: Vec<u64> = changes.iter().map(|c| c.token).collect();
        changed.sort_unstable();
        assert_eq!(changed, tokens);
    }
}

on_both_engines! {
    async fn batches_learned_at_once_lose_no_count_and_share_no_generation(engine) {
        let store = common::empty(engine).await;
        // Four batches of 25 spams each, every token in all of them, and one
        // ham in all four: on PostgreSQL each batch on a connection of its
        // own, as from four nodes.
        let tokens: Vec<u64> = (0..2_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let batch = |n: u8| {
            let mut batch: Vec<BayesLearn> = (0..25)
                .map(|i| message(n * 25 + i + 1, BayesClass::Spam, &tokens))
                .collect();
            batch.push(message(200, BayesClass::Ham, &tokens));
            batch
        };
        let batches = [batch(0), batch(1), batch(2), batch(3)];
        let reports = tokio::join!(
            store.bayes_learn(BAYES_GLOBAL, &batches[0]),
            store.bayes_learn(BAYES_GLOBAL, &batches[1]),
            store.bayes_learn(BAYES_GLOBAL, &batches[2]),
            store.bayes_learn(BAYES_GLOBAL, &batches[3]),
        );
        let reports = [reports.0, reports.1, reports.2, reports.3].map(Result::unwrap);
        assert_eq!(reports.iter().map(|r| r.learned).sum::<u64>(), 101);
        assert_eq!(reports.iter().map(|r| r.already).sum::<u64>(), 3);
        let totals = store.bayes_totals(BAYES_GLOBAL).await.unwrap();
        assert_eq!((totals.spam, totals.ham, totals.generation), (100, 1, 4));
        let read = store.bayes_counts(BAYES_GLOBAL, &tokens).await.unwrap();
        assert_eq!(read.len(), tokens.len());
        assert!(read.iter().all(|c| (c.spam, c.ham) == (100, 1)));
    }
}
