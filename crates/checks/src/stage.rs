//! The stages of an SMTP transaction at which checks run.

use std::fmt;
use std::str::FromStr;

/// Where in the SMTP dialogue a check runs. Postfix's restriction lists
/// (`smtpd_client_restrictions` ... `smtpd_end_of_data_restrictions`) and the
/// `protocol_state` of its policy delegation map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The client connected; nothing but its address (and name) is known.
    Connect,
    /// HELO/EHLO.
    Helo,
    /// MAIL FROM.
    Mail,
    /// Each RCPT TO.
    Rcpt,
    /// The end of DATA (or the last BDAT): the whole message is known.
    Data,
}

impl Stage {
    /// Every stage, in the order of the dialogue.
    pub const ALL: [Stage; 5] = [
        Stage::Connect,
        Stage::Helo,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
    ];

    /// The spelling in `havre.toml` (`stage = "rcpt"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Helo => "helo",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
        }
    }

    /// The stage of a Postfix policy request's `protocol_state`
    /// (`CONNECT`, `EHLO`, `HELO`, `MAIL`, `RCPT`, `END-OF-MESSAGE`).
    /// `DATA` (the command, before the message), `VRFY` and `ETRN` have no
    /// stage: no check runs there (the policy service answers `DUNNO`).
    pub fn from_protocol_state(state: &str) -> Option<Stage> {
        Some(match state.to_ascii_uppercase().as_str() {
            "CONNECT" => Stage::Connect,
            "HELO" | "EHLO" => Stage::Helo,
            "MAIL" => Stage::Mail,
            "RCPT" => Stage::Rcpt,
            "END-OF-MESSAGE" => Stage::Data,
            _ => return None,
        })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("expected a stage (connect, helo, mail, rcpt or data), found {s:?}")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_from_the_config_and_from_postfix_protocol_states() {
        assert_eq!("rcpt".parse::<Stage>(), Ok(Stage::Rcpt));
        assert_eq!("DATA".parse::<Stage>(), Ok(Stage::Data));
        assert!("end".parse::<Stage>().is_err());
        assert_eq!(Stage::from_protocol_state("EHLO"), Some(Stage::Helo));
        assert_eq!(
            Stage::from_protocol_state("END-OF-MESSAGE"),
            Some(Stage::Data)
        );
        assert_eq!(Stage::from_protocol_state("VRFY"), None);
        assert_eq!(Stage::from_protocol_state("DATA"), None);
    }
}
