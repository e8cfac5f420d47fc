//! A message's score: the symbols that matched, each with the points it
//! added, their sum, and the action and level the thresholds give.

use serde::Serialize;

use crate::settings::Settings;
use crate::symbols::symbol;

/// A symbol a family of tests found: its name, how much of its weight it
/// adds (1 for most; a list's weight, the Bayes confidence), and details
/// (the list, the host, the attachment) for `havre spam check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: &'static str,
    pub factor: f64,
    pub options: Vec<String>,
}

impl Found {
    pub fn new(name: &'static str) -> Found {
        debug_assert!(symbol(name).is_some(), "{name} is not in SYMBOLS");
        Found {
            name,
            factor: 1.0,
            options: Vec::new(),
        }
    }

    pub fn times(mut self, factor: f64) -> Found {
        self.factor = factor;
        self
    }

    pub fn with(mut self, option: impl Into<String>) -> Found {
        self.options.push(option.into());
        self
    }
}

/// A symbol in a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub name: &'static str,
    /// The points it added (its weight times its factor).
    pub score: f64,
    /// Its configured weight.
    pub weight: f64,
    pub description: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What the thresholds say to do with a message (Rspamd's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accept it (marked with its score and symbols all the same).
    NoAction,
    /// Defer it once (451 4.7.1); the same message retried is accepted.
    Greylist,
    /// Accept it with `X-Spam: Yes`.
    AddHeader,
    /// Refuse it (554 5.7.1).
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoAction => "no action",
            Action::Greylist => "greylist",
            Action::AddHeader => "add header",
            Action::Reject => "reject",
        }
    }
}

/// The seeds' spam levels (`X-Spam-Status:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    #[serde(rename = "LOW")]
    Low,
    #[serde(rename = "MEDIUM")]
    Medium,
    #[serde(rename = "HIGH")]
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
        }
    }
}

/// The score of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// The sum of the points of the symbols (`score` in JSON).
    #[serde(rename = "score")]
    pub total: f64,
    /// The symbols, most points first (by absolute value), then by name.
    pub symbols: Vec<Hit>,
    pub action: Action,
    /// The symbol that forced the action whatever the score (GTUBE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_by: Option<&'static str>,
    /// `HIGH`, `MEDIUM`, `LOW`, or none below `level_low`.
    pub level: Option<Level>,
    /// Above `junk_above`: filed into the recipient's Junk folder.
    pub junk: bool,
}

impl Score {
    /// The score of `found` under `settings`: weights applied, symbols
    /// sorted, thresholds read. A symbol found twice counts once, with the
    /// options of both.
    pub fn new(found: Vec<Found>, settings: &Settings) -> Score {
        let mut symbols: Vec<Hit> = Vec::new();
        for f in found {
            let Some(def) = symbol(f.name) else { continue };
            if let Some(hit) = symbols.iter_mut().find(|h| h.name == f.name) {
                hit.options.extend(f.options);
                continue;
            }
            let weight = settings.weights.get(f.name);
            symbols.push(Hit {
                name: def.name,
                score: weight * f.factor,
                weight,
                description: def.description,
                options: f.options,
            });
        }
        symbols.sort_by(|a, b| {
            b.score
                .abs()
                .total_cmp(&a.score.abs())
                .then_with(|| a.name.cmp(b.name))
        });
        let total = symbols.iter().map(|h| h.score).sum::<f64>();
        // A sum of weights like 0.1 + 0.2 is not exactly 0.3: compare the
        // score as it is shown (two decimals) with the thresholds.
        // (+ 0.0: an empty sum is -0.0, shown "-0.0".)
        let total = (total * 100.0).round() / 100.0 + 0.0;
        let forced_by = symbols.iter().find(|h| h.name == "GTUBE").map(|h| h.name);
        let action = if forced_by.is_some() || total >= settings.reject {
            Action::Reject
        } else if total >= settings.add_header {
            Action::AddHeader
        } else if total >= settings.greylist {
            Action::Greylist
        } else {
            Action::NoAction
        };
        let level = if total > settings.level_high {
            Some(Level::High)
        } else if total >= settings.level_medium {
            Some(Level::Medium)
        } else if total >= settings.level_low {
            Some(Level::Low)
        } else {
            None
        };
        Score {
            total,
            symbols,
            action,
            forced_by,
            level,
            junk: total > settings.junk_above,
        }
    }

    /// Whether `name` matched.
    pub fn has(&self, name: &str) -> bool {
        self.symbols.iter().any(|h| h.name == name)
    }

    /// `NAME(points), ...`, as `X-Spam-Symbols:` carries them.
    pub fn symbols_line(&self) -> String {
        self.symbols
            .iter()
            .map(|h| format!("{}({:.2})", h.name, h.score))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The total as `X-Spam-Score:` carries it: one decimal (`7.2`).
    pub fn total_text(&self) -> String {
        format!("{:.1}", self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_give_rspamds_actions_and_the_seeds_levels() {
        let settings = Settings::default();
        let score = |found: Vec<Found>| Score::new(found, &settings);
        let quiet = score(vec![Found::new("R_SPF_ALLOW")]);
        assert_eq!(
            (quiet.action, quiet.level, quiet.junk),
            (Action::NoAction, None, false)
        );
        assert_eq!(quiet.total_text(), "-0.2");

        // 3.0 (RBL, one list) -> LOW.
        let low = score(vec![Found::new("RBL_LISTED")]);
        assert_eq!(
            (low.action, low.level),
            (Action::NoAction, Some(Level::Low))
        );
        // 4.0 -> greylist, MEDIUM, not junk.
        let medium = score(vec![Found::new("DATE_IN_FUTURE")]);
        assert_eq!(
            (medium.action, medium.level, medium.junk),
            (Action::Greylist, Some(Level::Medium), false)
        );
        // 5.0 exactly is still MEDIUM: "above 5" is HIGH.
        let five = score(vec![
            Found::new("DATE_IN_FUTURE"),
            Found::new("MISSING_DATE"),
        ]);
        assert_eq!((five.level, five.junk), (Some(Level::Medium), false));
        // 6.5 -> add header, HIGH, junk.
        let high = score(vec![Found::new("PHISHING"), Found::new("MISSING_MID")]);
        assert_eq!(
            (high.action, high.level, high.junk),
            (Action::AddHeader, Some(Level::High), true)
        );
        assert_eq!(high.symbols_line(), "PHISHING(4.00), MISSING_MID(2.50)");
        let gtube = score(vec![
            Found::new("GTUBE"),
            Found::new("BAYES_HAM").times(1.0),
        ]);
        assert_eq!(
            (gtube.action, gtube.forced_by),
            (Action::Reject, Some("GTUBE"))
        );
    }

    #[test]
    fn a_symbol_found_twice_counts_once_and_dynamic_symbols_scale() {
        let settings = Settings::default();
        let s = Score::new(
            vec![
                Found::new("URIBL_LISTED").times(2.0).with("a.example"),
                Found::new("URIBL_LISTED").with("b.example"),
                Found::new("BAYES_SPAM").times(0.5),
            ],
            &settings,
        );
        assert_eq!(s.symbols.len(), 2);
        assert_eq!(s.symbols[0].score, 9.0);
        assert_eq!(s.symbols[0].options, ["a.example", "b.example"]);
        assert_eq!(s.symbols[1].score, 2.55);
        assert_eq!(s.total, 11.55);
    }
}
