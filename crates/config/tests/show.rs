//! `postconf`-like listings: show, show --defaults, show --non-default, get.

use std::path::Path;

use havre_config::{
    Config, ConfigError, KEY_DOCS, Size, get, parse, show, show_defaults, show_non_default,
};

#[test]
fn show_defaults_lists_every_key_in_document_order() {
    let keys: Vec<String> = show_defaults().into_iter().map(|(k, _)| k).collect();
    let documented_leaves: Vec<String> = KEY_DOCS
        .iter()
        .map(|(k, _)| (*k).to_owned())
        // Sections (`smtp`, `ldap.attributes`) are not listed, their keys
        // are; `routing` is a table of entries at the top, listed whole as
        // `relay.routes` is.
        .filter(|k| {
            let section = KEY_DOCS
                .iter()
                .any(|(other, _)| other.starts_with(&format!("{k}.")));
            (k.contains('.') && !section) || *k == "routing"
        })
        .collect();
    assert_eq!(keys, documented_leaves);
    let defaults = show_defaults();
    assert!(defaults.contains(&("smtp.message_size_limit".into(), "\"25M\"".into())));
    assert!(defaults.contains(&(
        "server.roles".into(),
        "[\"mx\", \"submission\", \"relay\", \"lmtp\", \"imap\", \"pop3\", \"managesieve\", \"web\"]".into()
    )));
    assert!(defaults.contains(&("smtp.recipient_limit".into(), "1000".into())));
    assert!(defaults.contains(&("queue.max_lifetime".into(), "\"5d\"".into())));
    assert!(defaults.contains(&("dkim.selector".into(), "\"havre\"".into())));
    assert!(defaults.contains(&("dkim.sign".into(), "true".into())));
}

#[test]
fn show_gives_the_effective_values() {
    let cfg = parse(
        "[smtp]\nmessage_size_limit = 52428800\n",
        Path::new("havre.toml"),
    )
    .unwrap();
    let shown = show(&cfg);
    assert!(shown.contains(&("smtp.message_size_limit".into(), "\"50M\"".into())));
    assert_eq!(shown.len(), show_defaults().len());
}

#[test]
fn show_non_default_lists_only_what_the_operator_changed() {
    let text = "\
[server]
hostname = \"mx.example.org\"
user = \"havre\"            # same as the default: not listed
[smtp]
message_size_limit = \"50M\"
[queue]
retry_max = \"2h\"
";
    let cfg = parse(text, Path::new("havre.toml")).unwrap();
    assert_eq!(
        show_non_default(&cfg),
        [
            (
                "server.hostname".to_owned(),
                "\"mx.example.org\"".to_owned()
            ),
            ("smtp.message_size_limit".to_owned(), "\"50M\"".to_owned()),
            ("queue.retry_max".to_owned(), "\"2h\"".to_owned()),
        ]
    );
    assert!(show_non_default(&Config::default()).is_empty());
}

#[test]
fn get_gives_one_value_or_a_whole_table() {
    let mut cfg = Config::default();
    cfg.smtp.message_size_limit = Size(512 << 10);
    assert_eq!(get(&cfg, "smtp.message_size_limit").unwrap(), "\"512K\"");
    assert_eq!(get(&cfg, "server.hostname").unwrap(), "\"localhost\"");
    assert_eq!(get(&cfg, " mx . listen ").unwrap(), "[\"0.0.0.0:25\"]");
    assert_eq!(
        get(&cfg, "queue").unwrap(),
        "queue.delivery_concurrency = 20\nqueue.destination_concurrency = 20\nqueue.retry_min = \"5m\"\nqueue.retry_max = \"1h\"\nqueue.max_lifetime = \"5d\"\nqueue.delay_warning = \"4h\"\nqueue.min_free_space = 0"
    );
}

#[test]
fn get_of_an_unknown_key_suggests_close_matches() {
    let cfg = Config::default();
    let err = get(&cfg, "server.hostnmae").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown key server.hostnmae (did you mean server.hostname?)"
    );
    let err = get(&cfg, "hostname").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown key hostname (did you mean server.hostname?)"
    );
    let err = get(&cfg, "smtp.zzzzzzzzzz").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown key smtp.zzzzzzzzzz (known keys there: smtp.banner, "),
        "{err}"
    );
    let err = get(&cfg, "server.hostname.x").unwrap_err();
    assert!(matches!(err, ConfigError::NoSuchKey { .. }), "{err}");
    let err = get(&cfg, "server..hostname").unwrap_err();
    assert!(matches!(err, ConfigError::BadKey { .. }), "{err}");
}
