//! What decides: a scorer learns from the training folds and says, for each
//! message of the test fold, a score and whether it is spam: the Bayes
//! probability alone, or the whole spam filter (havre-filter's symbols on
//! the message, no DNS, with the fold's Bayes probability), spam when the
//! message would be filed into Junk.

use havre_bayes::{Class, Counts, Params, Tokens, classify};
use havre_content::Content;

/// One message of the corpus, analysed once.
pub struct Sample {
    pub content: Content,
    pub tokens: Tokens,
    pub spam: bool,
}

pub struct Verdict {
    pub score: f64,
    pub spam: bool,
}

pub trait Scorer {
    /// A fresh scorer, trained on nothing.
    fn reset(&mut self);
    fn learn(&mut self, sample: &Sample);
    fn score(&self, sample: &Sample) -> Verdict;
}

/// The Bayes probability alone: spam above `threshold`.
pub struct BayesScorer {
    pub counts: Counts,
    pub params: Params,
    pub threshold: f64,
}

impl BayesScorer {
    pub fn new(params: Params, threshold: f64) -> BayesScorer {
        BayesScorer {
            counts: Counts::new(),
            params,
            threshold,
        }
    }
}

impl Scorer for BayesScorer {
    fn reset(&mut self) {
        self.counts = Counts::new();
    }

    fn learn(&mut self, sample: &Sample) {
        let class = if sample.spam { Class::Spam } else { Class::Ham };
        self.counts.learn(sample.tokens.as_slice(), class);
    }

    fn score(&self, sample: &Sample) -> Verdict {
        let result = classify(sample.tokens.as_slice(), &[&self.counts], &self.params);
        let score = result.probability.unwrap_or(0.5);
        Verdict {
            score,
            spam: is_spam(score, self.threshold),
        }
    }
}

/// The whole filter, as the mx scores a message (without DNS lists): its
/// points, spam above `threshold` (spam.junk_above, 5, by default).
pub struct FilterScorer {
    bayes: BayesScorer,
    settings: havre_filter::Settings,
    threshold: f64,
}

impl FilterScorer {
    pub fn new(params: Params, threshold: f64) -> FilterScorer {
        FilterScorer {
            bayes: BayesScorer::new(params, 0.5),
            settings: havre_filter::Settings::default(),
            threshold,
        }
    }
}

impl Scorer for FilterScorer {
    fn reset(&mut self) {
        self.bayes.reset();
    }

    fn learn(&mut self, sample: &Sample) {
        self.bayes.learn(sample);
    }

    fn score(&self, sample: &Sample) -> Verdict {
        let bayes = classify(
            sample.tokens.as_slice(),
            &[&self.bayes.counts],
            &self.bayes.params,
        );
        let envelope = havre_filter::Envelope::from_message(&sample.content);
        let score = havre_filter::score(
            &sample.content,
            &envelope,
            &self.settings,
            bayes.probability,
            Vec::new(),
        )
        .total;
        Verdict {
            score,
            spam: is_spam(score, self.threshold),
        }
    }
}

/// The decision: above the threshold.
pub fn is_spam(score: f64, threshold: f64) -> bool {
    score > threshold
}
