//! Token counts: how many learned spam and ham messages carried each token,
//! and how many messages of each class were learned.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Which class a message is learned as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Spam,
    Ham,
}

impl Class {
    pub fn other(self) -> Class {
        match self {
            Class::Spam => Class::Ham,
            Class::Ham => Class::Spam,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Spam => "spam",
            Class::Ham => "ham",
        }
    }
}

/// How many learned messages of each class carried one token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub spam: u32,
    pub ham: u32,
}

impl Count {
    pub fn is_zero(self) -> bool {
        self.spam == 0 && self.ham == 0
    }

    fn add(&mut self, class: Class, delta: i64) {
        let slot = match class {
            Class::Spam => &mut self.spam,
            Class::Ham => &mut self.ham,
        };
        *slot = (i64::from(*slot) + delta).clamp(0, i64::from(u32::MAX)) as u32;
    }
}

/// How many messages of each class were learned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub spam: u64,
    pub ham: u64,
}

impl Totals {
    pub fn of(self, class: Class) -> u64 {
        match class {
            Class::Spam => self.spam,
            Class::Ham => self.ham,
        }
    }

    fn add(&mut self, class: Class, delta: i64) {
        let slot = match class {
            Class::Spam => &mut self.spam,
            Class::Ham => &mut self.ham,
        };
        *slot = slot.saturating_add_signed(delta);
    }
}

/// Tokens are already hashes (xxh3): hashing them again for the map would
/// only cost time.
#[derive(Default)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type TokenMap<V> = HashMap<u64, V, BuildHasherDefault<TokenHasher>>;

/// A set of counts in memory: the global database loaded from the store, a
/// user's counts for the tokens of one message, or a model trained in a
/// benchmark.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    tokens: TokenMap<Count>,
    totals: Totals,
}

impl Counts {
    pub fn new() -> Counts {
        Counts::default()
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    pub fn set_totals(&mut self, totals: Totals) {
        self.totals = totals;
    }

    /// The count of a token (zero when never seen).
    pub fn get(&self, token: u64) -> Count {
        self.tokens.get(&token).copied().unwrap_or_default()
    }

    /// Sets a token's count as the store has it; a zero count forgets it.
    pub fn set(&mut self, token: u64, count: Count) {
        if count.is_zero() {
            self.tokens.remove(&token);
        } else {
            self.tokens.insert(token, count);
        }
    }

    /// How many distinct tokens have a count.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Counts one message of `class` carrying `tokens` (deduplicated).
    pub fn learn(&mut self, tokens: &[u64], class: Class) {
        self.change(tokens, class, 1);
    }

    /// Takes back what [`Counts::learn`] added (never below zero).
    pub fn unlearn(&mut self, tokens: &[u64], class: Class) {
        self.change(tokens, class, -1);
    }

    fn change(&mut self, tokens: &[u64], class: Class, delta: i64) {
        self.totals.add(class, delta);
        for &token in tokens {
            let count = self.tokens.entry(token).or_default();
            count.add(class, delta);
            if count.is_zero() {
                self.tokens.remove(&token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_then_unlearning_leaves_nothing() {
        let mut counts = Counts::new();
        counts.learn(&[1, 2, 3], Class::Spam);
        counts.learn(&[2, 3], Class::Ham);
        assert_eq!(counts.get(2), Count { spam: 1, ham: 1 });
        assert_eq!(counts.totals(), Totals { spam: 1, ham: 1 });
        counts.unlearn(&[1, 2, 3], Class::Spam);
        counts.unlearn(&[2, 3], Class::Ham);
        assert!(counts.is_empty());
        assert_eq!(counts.totals(), Totals::default());
        // Never below zero.
        counts.unlearn(&[9], Class::Ham);
        assert!(counts.is_empty());
        assert_eq!(counts.totals(), Totals::default());
    }
}
