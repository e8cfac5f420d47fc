//! The Bayes probability, through a trait the classifier implements
//! (`havre-bayes`: tokens and chi-square over the store's counts, global
//! and per user), and the symbols it gives.

use async_trait::async_trait;
use havre_content::Content;

use crate::score::Found;

/// A classifier that says how likely a message is spam.
#[async_trait]
pub trait BayesModel: Send + Sync {
    /// The probability (0.0 to 1.0) that `content` is spam, for the
    /// recipients `users` (their own databases with the global one);
    /// `None` when the classifier cannot tell (not trained enough, too few
    /// known tokens, its store unavailable): no symbol then.
    async fn spam_probability(&self, content: &Content, users: &[String]) -> Option<f64>;
}

/// Confidence under which the classifier's word is not taken (a
/// probability between 0.45 and 0.55).
const MIN_CONFIDENCE: f64 = 0.1;

/// The symbol of a probability, as Rspamd scales it: `BAYES_SPAM` above
/// one half, `BAYES_HAM` below, times the confidence `|p - 0.5| * 2`, so
/// 1.0 gives the whole weight of BAYES_SPAM and 0.75 half of it.
pub fn symbol(probability: f64) -> Option<Found> {
    if !probability.is_finite() {
        return None;
    }
    let p = probability.clamp(0.0, 1.0);
    let confidence = (p - 0.5).abs() * 2.0;
    if confidence < MIN_CONFIDENCE {
        return None;
    }
    let name = if p > 0.5 { "BAYES_SPAM" } else { "BAYES_HAM" };
    Some(
        Found::new(name)
            .times(confidence)
            .with(format!("{:.1}%", p * 100.0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probability_scales_the_weight_of_the_symbol_on_its_side() {
        let spam = symbol(1.0).unwrap();
        assert_eq!((spam.name, spam.factor), ("BAYES_SPAM", 1.0));
        assert_eq!(spam.options, ["100.0%"]);
        let half = symbol(0.75).unwrap();
        assert_eq!((half.name, half.factor), ("BAYES_SPAM", 0.5));
        let ham = symbol(0.0).unwrap();
        assert_eq!((ham.name, ham.factor), ("BAYES_HAM", 1.0));
        assert!(symbol(0.52).is_none(), "too unsure to count");
        assert!(symbol(f64::NAN).is_none());
        assert_eq!(symbol(7.0).unwrap().factor, 1.0, "clamped");
    }
}
