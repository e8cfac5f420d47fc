//! Precision, recall, F1 and the false-positive rate of a set of decisions.

#[derive(Clone, Copy, Debug, Default)]
pub struct Confusion {
    pub true_spam: u64,
    pub false_spam: u64,
    pub missed_spam: u64,
    pub true_ham: u64,
}

impl Confusion {
    pub fn add(&mut self, actual_spam: bool, said_spam: bool) {
        match (actual_spam, said_spam) {
            (true, true) => self.true_spam += 1,
            (false, true) => self.false_spam += 1,
            (true, false) => self.missed_spam += 1,
            (false, false) => self.true_ham += 1,
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_spam, self.true_spam + self.false_spam)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_spam, self.true_spam + self.missed_spam)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Share of ham called spam.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_spam, self.false_spam + self.true_ham)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
