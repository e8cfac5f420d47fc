//! `set` modifiers (RFC 5229 §4.1, and Pigeonhole's `:quoteregex` of the
//! regex draft) and the cut of values to the size limit.

use crate::message::floor_char_boundary;
use crate::program::Modifier;

/// `value` with `modifiers` applied, in the order given (highest precedence first).
pub(crate) fn apply(value: String, modifiers: &[Modifier]) -> String {
    modifiers
        .iter()
        .fold(value, |value, modifier| match modifier {
            Modifier::Lower => value.to_lowercase(),
            Modifier::Upper => value.to_uppercase(),
            Modifier::LowerFirst => first_char(&value, |c| c.to_lowercase().collect()),
            Modifier::UpperFirst => first_char(&value, |c| c.to_uppercase().collect()),
            Modifier::QuoteWildcard => quote(&value, "*?\\"),
            Modifier::QuoteRegex => quote(&value, "\\.*?+[](){}^$|"),
            Modifier::Length => value.chars().count().to_string(),
        })
}

fn first_char(value: &str, change: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => change(c) + chars.as_str(),
        None => String::new(),
    }
}

fn quote(value: &str, special: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `value` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(mut value: String, max: usize) -> String {
    let cut = floor_char_boundary(&value, max);
    value.truncate(cut);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_as_in_rfc_5229() {
        let m = |value: &str, modifiers: &[Modifier]| apply(value.to_string(), modifiers);
        assert_eq!(m("juMBlEd lETters", &[Modifier::Lower]), "jumbled letters");
        assert_eq!(m("juMBlEd lETters", &[Modifier::Upper]), "JUMBLED LETTERS");
        assert_eq!(
            m("juMBlEd lETters", &[Modifier::UpperFirst]),
            "JuMBlEd lETters"
        );
        assert_eq!(m("ÉTÉ", &[Modifier::Lower, Modifier::UpperFirst]), "Été");
        assert_eq!(m("a*b?c\\", &[Modifier::QuoteWildcard]), "a\\*b\\?c\\\\");
        assert_eq!(m("1.5+x", &[Modifier::QuoteRegex]), "1\\.5\\+x");
        assert_eq!(m("€uro", &[Modifier::Length]), "4");
        assert_eq!(m("", &[Modifier::UpperFirst]), "");
    }

    #[test]
    fn values_are_cut_on_characters() {
        assert_eq!(truncate("ééé".to_string(), 3), "é");
        assert_eq!(truncate("abc".to_string(), 10), "abc");
    }
}
