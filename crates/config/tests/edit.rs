//! `havre config set` and `havre init`: editing keeps the operator's file.

use std::fs;
use std::path::{Path, PathBuf};

use havre_config::toml_edit::{Array, Value};
use havre_config::{
    ConfigError, Size, defaults_commented, init_text, load, parse, set, show_non_default, unset,
};

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.toml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const COMMENTED: &str = "\
# Our mail server. Ask Léa before changing anything.

[server]
# the public name
hostname = \"old.example.org\"   # changed in 2024
user = \"havre\"

[smtp]
banner = \"ESMTP\" # keep it short
";

#[test]
fn set_keeps_the_comments_of_the_file() {
    let (_dir, path) = file(COMMENTED);
    set(&path, "server.hostname", "mail.example.org").unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        COMMENTED.replace("\"old.example.org\"", "\"mail.example.org\"")
    );
    assert_eq!(
        load(&path).unwrap().config.server.hostname,
        "mail.example.org"
    );
}

#[test]
fn set_takes_toml_values_or_plain_strings() {
    let (_dir, path) = file(COMMENTED);
    set(&path, "mx.listen", r#"["127.0.0.1:2525", "[::1]:2525"]"#).unwrap();
    set(&path, "smtp.recipient_limit", "42").unwrap();
    set(&path, "smtp.banner", r#""ESMTP ready""#).unwrap();
    set(&path, "smtp.message_size_limit", "50M").unwrap();
    set(&path, "queue.retry_max", "2h").unwrap();
    let cfg = load(&path).unwrap().config;
    assert_eq!(
        cfg.mx.listen,
        [
            "127.0.0.1:2525".parse().unwrap(),
            "[::1]:2525".parse().unwrap()
        ]
    );
    assert_eq!(cfg.smtp.recipient_limit, 42);
    assert_eq!(cfg.smtp.banner, "ESMTP ready");
    assert_eq!(cfg.smtp.message_size_limit, Size(50 << 20));
    assert_eq!(cfg.queue.retry_max.to_string(), "2h");
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("banner = \"ESMTP ready\" # keep it short\n"),
        "{text}"
    );
    assert!(
        text.contains("\n[mx]\nlisten = [\"127.0.0.1:2525\", \"[::1]:2525\"]\n"),
        "{text}"
    );
}

#[test]
fn set_creates_the_file_structure_it_needs() {
    let (_dir, path) = file("");
    set(&path, "log.level", "debug").unwrap();
    set(&path, "server.hostname", "mx.example.org").unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "[log]\nlevel = \"debug\"\n\n[server]\nhostname = \"mx.example.org\"\n"
    );
}

#[test]
fn set_of_an_invalid_value_leaves_the_file_untouched() {
    let (dir, path) = file(COMMENTED);
    let before = entries(dir.path());
    let cases = [
        (
            "smtp.message_size_limit",
            "lots",
            "smtp.message_size_limit: expected a size like",
        ),
        (
            "smtp.recipient_limit",
            "0",
            "smtp.recipient_limit: must be greater than 0",
        ),
        (
            "server.hostname",
            "42",
            "server.hostname: expected a string, found integer 42",
        ),
        (
            "server.roles",
            "[]",
            "server.roles: must list at least one role",
        ),
        (
            "storage.backend",
            "mysql",
            "storage.backend: storage backend \"mysql\" is not supported",
        ),
        (
            "server.hostnmae",
            "x",
            "unknown key server.hostnmae (known keys in [server]: hostname, data_dir, user, roles, node_id, shutdown_grace)",
        ),
        (
            "relay.routes.\"remote.test\"",
            "x",
            "relay.routes: route of \"remote.test\": expected \"smtp:[host]:port\"",
        ),
        (
            "server.hostname.x",
            "y",
            "server.hostname.x: server.hostname is a value, not a table",
        ),
    ];
    for (key, value, expected) in cases {
        let err = set(&path, key, value).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{key}: {text}");
        assert_eq!(fs::read_to_string(&path).unwrap(), COMMENTED, "{key}");
        assert_eq!(entries(dir.path()), before, "no temporary file left behind");
    }
}

#[test]
fn a_refused_set_points_at_the_line_of_the_key_in_the_file() {
    let (_dir, path) = file(COMMENTED);
    let err = set(&path, "smtp.banner", "[1]").unwrap_err();
    assert_eq!(err.line(), Some(9), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:9: smtp.banner: ", path.display())),
        "{err}"
    );
    // A key that is not in the file yet has no line to point at.
    let err = set(&path, "smtp.idle_timeout", "never").unwrap_err();
    assert_eq!(err.line(), None, "{err}");
}

#[test]
fn set_refuses_a_key_that_is_not_a_key_path() {
    let (_dir, path) = file(COMMENTED);
    assert!(matches!(
        set(&path, "server..hostname", "x"),
        Err(ConfigError::BadKey { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), COMMENTED);
}

#[test]
fn set_on_a_missing_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = set(&dir.path().join("havre.toml"), "server.hostname", "x").unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn set_keeps_permissions_and_follows_symbolic_links() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, real) = file(COMMENTED);
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    set(&link, "server.hostname", "mail.example.org").unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("mail.example.org")
    );
}

#[test]
fn init_text_output_loads_back_to_the_same_overrides() {
    let listen: Array = ["127.0.0.1:2525"].into_iter().collect();
    let overrides = [
        ("server.hostname", Value::from("mail.example.org")),
        ("server.data_dir", Value::from("data")),
        ("mx.listen", Value::Array(listen)),
        ("lmtp.listen", Value::from("127.0.0.1:2424")),
    ];
    let text = init_text(&overrides);
    let cfg = parse(&text, Path::new("havre.toml")).unwrap();
    assert_eq!(
        show_non_default(&cfg),
        [
            (
                "server.hostname".to_owned(),
                "\"mail.example.org\"".to_owned()
            ),
            ("server.data_dir".to_owned(), "\"data\"".to_owned()),
            ("mx.listen".to_owned(), "[\"127.0.0.1:2525\"]".to_owned()),
            ("lmtp.listen".to_owned(), "[\"127.0.0.1:2424\"]".to_owned()),
        ]
    );
    // Still the documented file, with only those lines changed.
    assert!(text.contains(
        "# FQDN used in the SMTP greeting, Received: headers and Maildir file names.\n\
         # default: \"localhost\"\nhostname = \"mail.example.org\"\n"
    ));
    assert_eq!(text.lines().count(), defaults_commented().lines().count());
}

#[test]
fn the_commented_defaults_survive_editing() {
    let (_dir, path) = file(&defaults_commented());
    set(&path, "smtp.message_size_limit", "100M").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("# default: \"25M\"\nmessage_size_limit = \"100M\"\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), defaults_commented().lines().count());
}

#[test]
fn a_route_for_a_quoted_domain_is_set_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.toml");
    fs::write(&path, COMMENTED).unwrap();
    set(
        &path,
        "relay.routes.\"remote.test\"",
        "smtp:[192.0.2.1]:2525",
    )
    .unwrap();
    let loaded = havre_config::load(&path).unwrap();
    assert_eq!(
        loaded
            .config
            .relay
            .routes
            .get("remote.test")
            .map(String::as_str),
        Some("smtp:[192.0.2.1]:2525")
    );
    assert_eq!(
        havre_config::get(&loaded.config, "relay.routes.\"remote.test\"").unwrap(),
        "\"smtp:[192.0.2.1]:2525\""
    );
}

#[test]
fn unset_removes_a_key_so_it_takes_its_default_and_keeps_the_rest_of_the_file() {
    let (_dir, path) = file(COMMENTED);
    assert!(unset(&path, "smtp.banner").unwrap());
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("banner"), "{text}");
    assert!(text.contains("# Our mail server. Ask Léa"), "{text}");
    assert!(text.contains("hostname = \"old.example.org\"   # changed in 2024"));
    assert_eq!(load(&path).unwrap().config.smtp.banner, "ESMTP havre");
    assert!(
        !unset(&path, "smtp.banner").unwrap(),
        "a key the file does not set is left as it is"
    );
}

#[test]
fn unset_removes_one_entry_of_a_map_written_in_any_form() {
    let (_dir, path) = file(
        "relay.routes = { \"a.test\" = \"smtp:[192.0.2.1]:25\", \"b.test\" = \"smtp:b.test\" }\n",
    );
    assert!(unset(&path, r#"relay.routes."a.test""#).unwrap());
    let routes = load(&path).unwrap().config.relay.routes;
    assert_eq!(routes.keys().collect::<Vec<_>>(), ["b.test"]);
}

#[test]
fn unset_of_a_misspelled_key_names_the_closest_ones() {
    let (_dir, path) = file(COMMENTED);
    let err = unset(&path, "smtp.baner").unwrap_err();
    assert!(matches!(err, ConfigError::NoSuchKey { .. }), "{err}");
    assert!(err.to_string().contains("smtp.banner"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), COMMENTED);
}
