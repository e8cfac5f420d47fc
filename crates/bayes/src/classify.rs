//! Robinson's token probabilities combined by Fisher's chi-square method, as
//! SpamBayes, bogofilter and SpamAssassin's Bayes do.
//!
//! For each token: `p = (s/S) / (s/S + h/H)` where `s`, `h` are the learned
//! spam and ham messages that carried it and `S`, `H` the learned totals
//! (ratios, so a corpus with five times more ham does not make every token
//! hammy); then Robinson's smoothing towards `x` with strength `k` over the
//! `n = s + h` observations: `f = (k·x + n·p) / (k + n)`. Tokens seen fewer
//! than `min_token_count` times, or whose `f` is within `min_deviation` of
//! 0.5, say nothing; of the rest the `max_tokens` farthest from 0.5 count.
//!
//! Combining: `S = 1 - C⁻¹(-2 Σ ln(1 - f), 2n)` (spamminess), `H = 1 -
//! C⁻¹(-2 Σ ln f, 2n)` (hamminess), probability `(1 + S - H) / 2`: near 1
//! when the spam evidence is strong and the ham evidence weak, near 0 the
//! other way round, 0.5 when they are equal or there is none.

use crate::counts::{Count, Counts, Totals};

/// The knobs of the classifier. The defaults were chosen by 5-fold
/// cross-validation on the training corpus (docs/benchmarks.md): with OSB
/// pairs a message has thousands of correlated tokens, and SpamBayes's 150
/// most significant ones leave both Fisher sums saturated (0.5, "unsure",
/// for a third of the spam); combining every significant token, as
/// bogofilter does, separates them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Robinson's `k` (SpamBayes's `unknown_word_strength`).
    pub strength: f64,
    /// Robinson's `x`: the probability of a token never seen.
    pub prior: f64,
    /// Tokens whose probability is closer than this to 0.5 are ignored.
    pub min_deviation: f64,
    /// At most this many tokens, the most significant, are combined.
    pub max_tokens: usize,
    /// Tokens learned fewer times than this (spam + ham) are ignored.
    pub min_token_count: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            strength: 1.0,
            prior: 0.5,
            min_deviation: 0.1,
            max_tokens: 5000,
            min_token_count: 1,
        }
    }
}

/// What the classifier made of one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Classification {
    /// The probability that the message is spam, from 0 to 1; `None` when no
    /// spam or no ham was ever learned (nothing to compare with).
    pub probability: Option<f64>,
    /// How many tokens counted (after the minimums and the selection).
    pub tokens: usize,
}

/// Classifies a message by its (deduplicated) tokens against one or more
/// layers of counts, summed: the global counts and a user's own.
pub fn classify(tokens: &[u64], layers: &[&Counts], params: &Params) -> Classification {
    let totals = layers.iter().fold(Totals::default(), |sum, layer| {
        let t = layer.totals();
        Totals {
            spam: sum.spam + t.spam,
            ham: sum.ham + t.ham,
        }
    });
    let lookup = |token: u64| {
        layers.iter().fold(Count::default(), |sum, layer| {
            let c = layer.get(token);
            Count {
                spam: sum.spam.saturating_add(c.spam),
                ham: sum.ham.saturating_add(c.ham),
            }
        })
    };
    classify_with(tokens, lookup, totals, params)
}

/// [`classify`] over any source of counts.
pub fn classify_with(
    tokens: &[u64],
    lookup: impl Fn(u64) -> Count,
    totals: Totals,
    params: &Params,
) -> Classification {
    if totals.spam == 0 || totals.ham == 0 {
        return Classification {
            probability: None,
            tokens: 0,
        };
    }
    let mut clues: Vec<(f64, f64)> = Vec::with_capacity(tokens.len().min(4096));
    for &token in tokens {
        let count = lookup(token);
        let n = count.spam.saturating_add(count.ham);
        if n == 0 || n < params.min_token_count {
            continue;
        }
        let f = token_probability(count, totals, params);
        let deviation = (f - 0.5).abs();
        if deviation >= params.min_deviation {
            clues.push((deviation, f));
        }
    }
    if clues.len() > params.max_tokens {
        clues.select_nth_unstable_by(params.max_tokens, |a, b| b.0.total_cmp(&a.0));
        clues.truncate(params.max_tokens);
    }
    Classification {
        probability: Some(fisher(clues.iter().map(|&(_, f)| f))),
        tokens: clues.len(),
    }
}

/// Robinson's smoothed probability that a message carrying the token is spam.
pub fn token_probability(count: Count, totals: Totals, params: &Params) -> f64 {
    let spam_ratio = f64::from(count.spam) / totals.spam.max(1) as f64;
    let ham_ratio = f64::from(count.ham) / totals.ham.max(1) as f64;
    let n = f64::from(count.spam) + f64::from(count.ham);
    let p = if spam_ratio + ham_ratio > 0.0 {
        spam_ratio / (spam_ratio + ham_ratio)
    } else {
        params.prior
    };
    let f = (params.strength * params.prior + n * p) / (params.strength + n);
    // Keep the logarithms finite whatever the parameters.
    f.clamp(1e-6, 1.0 - 1e-6)
}

/// Fisher's combining of token probabilities into one.
fn fisher(probabilities: impl Iterator<Item = f64>) -> f64 {
    let mut n = 0usize;
    let mut ln_ham = 0.0; // Σ ln f
    let mut ln_spam = 0.0; // Σ ln (1 - f)
    for f in probabilities {
        n += 1;
        ln_ham += f.ln();
        ln_spam += (1.0 - f).ln();
    }
    if n == 0 {
        return 0.5;
    }
    let spamminess = 1.0 - chi2q(-2.0 * ln_spam, 2 * n);
    let hamminess = 1.0 - chi2q(-2.0 * ln_ham, 2 * n);
    ((1.0 + spamminess - hamminess) / 2.0).clamp(0.0, 1.0)
}

/// The probability that a chi-square variable with `dof` (even) degrees of
/// freedom is at least `x2`: for even degrees it is the Poisson sum
/// `e^-m Σ_{i<dof/2} m^i / i!` with `m = x2 / 2`, summed in logarithms so
/// that large `m` neither underflows nor overflows.
pub fn chi2q(x2: f64, dof: usize) -> f64 {
    debug_assert!(dof.is_multiple_of(2));
    let m = x2 / 2.0;
    if m <= 0.0 {
        return 1.0;
    }
    let ln_m = m.ln();
    let mut ln_term = -m;
    let mut sum = ln_term.exp();
    for i in 1..dof / 2 {
        ln_term += ln_m - (i as f64).ln();
        sum += ln_term.exp();
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::Class;

    #[test]
    fn chi2q_matches_known_values() {
        // chi2q(x, 2) = e^(-x/2).
        assert!((chi2q(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        // The mean of a chi-square variable is its degrees of freedom: about
        // half the mass above it for many degrees.
        let q = chi2q(300.0, 300);
        assert!((0.4..0.6).contains(&q), "{q}");
        // Far in the tail without underflowing to nonsense.
        assert!(chi2q(5000.0, 300) < 1e-100);
        assert!(chi2q(0.0, 300) == 1.0);
    }

    #[test]
    fn no_learning_of_one_class_gives_no_probability() {
        let mut counts = Counts::new();
        counts.learn(&[1, 2], Class::Spam);
        let result = classify(&[1, 2], &[&counts], &Params::default());
        assert_eq!(result.probability, None);
    }

    #[test]
    fn a_message_like_the_learned_spam_is_spam_and_one_like_the_ham_is_ham() {
        let mut counts = Counts::new();
        for i in 0..20u64 {
            counts.learn(&[100, 101, 102, 1000 + i], Class::Spam);
            counts.learn(&[200, 201, 202, 2000 + i], Class::Ham);
        }
        let params = Params::default();
        let spam = classify(&[100, 101, 102, 9999], &[&counts], &params);
        let ham = classify(&[200, 201, 202, 9999], &[&counts], &params);
        assert!(spam.probability.unwrap() > 0.99, "{spam:?}");
        assert!(ham.probability.unwrap() < 0.01, "{ham:?}");
        assert_eq!(spam.tokens, 3, "the unknown token says nothing");
        let unknown = classify(&[9999], &[&counts], &params);
        assert_eq!(unknown.probability, Some(0.5));
        assert_eq!(unknown.tokens, 0);
    }

    #[test]
    fn a_users_counts_add_to_the_global_ones() {
        let mut global = Counts::new();
        for i in 0..10u64 {
            global.learn(&[1, 500 + i], Class::Spam);
            global.learn(&[2, 600 + i], Class::Ham);
        }
        // Token 7 is unknown globally; the user taught it as spam.
        let mut user = Counts::new();
        for _ in 0..5 {
            user.learn(&[7], Class::Spam);
            user.learn(&[8], Class::Ham);
        }
        let params = Params::default();
        let alone = classify(&[7], &[&global], &params);
        let with_user = classify(&[7], &[&global, &user], &params);
        assert_eq!(alone.probability, Some(0.5));
        assert!(with_user.probability.unwrap() > 0.9, "{with_user:?}");
    }

    #[test]
    fn only_the_most_significant_tokens_count() {
        let mut counts = Counts::new();
        for i in 0..10u64 {
            counts.learn(&[1, 2, 3, 4, 5, 100 + i], Class::Spam);
            counts.learn(&[200 + i], Class::Ham);
        }
        let params = Params {
            max_tokens: 2,
            ..Params::default()
        };
        let result = classify(&[1, 2, 3, 4, 5], &[&counts], &params);
        assert_eq!(result.tokens, 2);
    }
}
