//! The command line of `sendmail`, as Postfix's accepts it: getopt-style
//! letters that may be grouped (`-ti`) and take their argument attached or
//! next (`-fuser`, `-f user`), options Postfix ignores ignored the same way,
//! then recipients (commas separate several in one argument).

use std::path::PathBuf;

/// What `sendmail` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read a message and queue it (`-bm`, the default).
    Deliver,
    /// SMTP on standard input and output (`-bs`).
    Smtp,
    /// List the queue (`-bp`, `mailq`).
    ListQueue,
    /// Nothing to do, with a note (`-bi`: havre has no aliases file).
    Nothing(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub action: Action,
    /// `-t`: recipients from the headers too.
    pub extract: bool,
    /// `-i`, `-oi`: a lone dot is a line like any other.
    pub ignore_dots: bool,
    /// `-f`/`-r`: the envelope sender as given (`<>` the null sender).
    pub sender: Option<String>,
    /// `-F`: the full name of the From: header added when there is none.
    pub full_name: Option<String>,
    /// `-C`: the configuration file.
    pub config: Option<PathBuf>,
    /// `-v`: say what was queued.
    pub verbose: bool,
    pub recipients: Vec<String>,
}

/// Letters that take an argument; those not listed in [`parse`]'s match
/// arms are accepted and ignored, as Postfix does (`-B 8BITMIME`, `-N
/// never`, `-R hdrs`, `-V envid`, `-X logfile`, `-L label`, `-h hops`,
/// `-O option=value`, `-p protocol`, `-e mode`).
const WITH_ARGUMENT: &str = "BCFLNORVXbfhopre";

/// Letters without argument accepted and ignored (`-n` no aliasing, `-m`
/// me too, `-x`, `-c`, `-G`, `-U`, `-I`... and IPv4/6 choices).
const IGNORED: &str = "46GIUcmnx";

pub fn parse(argv: &[String]) -> Result<Args, String> {
    let mut args = Args {
        action: Action::Deliver,
        extract: false,
        ignore_dots: false,
        sender: None,
        full_name: None,
        config: None,
        verbose: false,
        recipients: Vec::new(),
    };
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if arg == "--help" {
            return Err("--help".into());
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            // The first recipient ends the options (POSIX getopt).
            i -= 1;
            break;
        };
        for (at, letter) in letters.char_indices() {
            if letter == 'q' {
                // A queue run (`-q`, `-q30m`): havre serve runs its queue
                // itself; accepted and ignored.
                break;
            }
            if !WITH_ARGUMENT.contains(letter) {
                match letter {
                    't' => args.extract = true,
                    'i' => args.ignore_dots = true,
                    'v' => args.verbose = true,
                    l if IGNORED.contains(l) => {}
                    l => return Err(format!("illegal option -- {l}")),
                }
                continue;
            }
            // The rest of this argument, or the next one, is the value.
            let attached = &letters[at + letter.len_utf8()..];
            let value = if !attached.is_empty() {
                attached.to_string()
            } else if let Some(next) = argv.get(i) {
                i += 1;
                next.clone()
            } else {
                return Err(format!("option requires an argument -- {letter}"));
            };
            match letter {
                'f' | 'r' => args.sender = Some(value),
                'F' => args.full_name = Some(value),
                'C' => args.config = Some(PathBuf::from(value)),
                'o' if value == "i" => args.ignore_dots = true,
                'b' => {
                    args.action = match value.as_str() {
                        "m" => Action::Deliver,
                        "s" => Action::Smtp,
                        "p" => Action::ListQueue,
                        "i" => Action::Nothing(
                            "-bi: havre keeps no aliases file to rebuild; aliases are in its \
                             database (havre alias add|list|remove)",
                        ),
                        other => {
                            return Err(format!(
                                "-b{other} is not supported (havre sendmail knows -bm, -bs, -bp, -bi)"
                            ));
                        }
                    }
                }
                _ => {}
            }
            break;
        }
    }
    for recipient in &argv[i.min(argv.len())..] {
        args.recipients.extend(
            recipient
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        );
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(argv: &[&str]) -> Args {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        parse(&argv).unwrap()
    }

    #[test]
    fn grouped_letters_attached_and_separate_arguments() {
        let args = parsed(&["-ti", "-fbounce@example.org", "-F", "Cron Daemon", "root"]);
        assert!(args.extract && args.ignore_dots);
        assert_eq!(args.sender.as_deref(), Some("bounce@example.org"));
        assert_eq!(args.full_name.as_deref(), Some("Cron Daemon"));
        assert_eq!(args.recipients, ["root"]);
        assert_eq!(args.action, Action::Deliver);
    }

    #[test]
    fn options_postfix_ignores_are_ignored_and_oi_is_i() {
        let args = parsed(&[
            "-oi", "-oem", "-odb", "-B", "8BITMIME", "-N", "never", "-n", "a@x.test",
        ]);
        assert!(args.ignore_dots);
        assert_eq!(args.recipients, ["a@x.test"]);
    }

    #[test]
    fn after_a_double_dash_or_the_first_recipient_everything_is_a_recipient() {
        let args = parsed(&["--", "-weird@x.test", "b@x.test, c@x.test"]);
        assert_eq!(args.recipients, ["-weird@x.test", "b@x.test", "c@x.test"]);
        let args = parsed(&["a@x.test", "-t"]);
        assert!(!args.extract);
        assert_eq!(args.recipients, ["a@x.test", "-t"]);
    }

    #[test]
    fn modes_and_errors() {
        assert_eq!(parsed(&["-bs"]).action, Action::Smtp);
        assert_eq!(parsed(&["-bp"]).action, Action::ListQueue);
        assert_eq!(parsed(&["-q"]).action, Action::Deliver);
        let argv = vec!["-z".to_string()];
        assert_eq!(parse(&argv).unwrap_err(), "illegal option -- z");
        let argv = vec!["-f".to_string()];
        assert_eq!(
            parse(&argv).unwrap_err(),
            "option requires an argument -- f"
        );
    }
}
