//! `[antivirus]`: off by default, what an operator writes (with `havre
//! config set` too), and what they are told when a value cannot work.

use havre_config::{ClamdAddress, Config, Duration, OnScanError, Size, set, show_defaults};

mod common;
use common::{config, error_of};

#[test]
fn scanning_is_off_until_clamd_is_named() {
    let shown = show_defaults();
    for (key, value) in [
        ("antivirus.clamd", "\"\""),
        ("antivirus.on_error", "\"defer\""),
        ("antivirus.timeout", "\"1m\""),
        ("antivirus.max_size", "\"25M\""),
    ] {
        assert!(
            shown.contains(&(key.into(), value.into())),
            "{key} = {value} in {shown:?}"
        );
    }
    assert_eq!(Config::default().antivirus.clamd, ClamdAddress::Off);
}

#[test]
fn an_operator_names_clamd_by_tcp_or_by_its_socket() {
    let cfg = config(
        "[antivirus]\nclamd = \"127.0.0.1:3310\"\non_error = \"accept\"\ntimeout = \"20s\"\nmax_size = \"10M\"\n",
    );
    assert_eq!(
        cfg.antivirus.clamd,
        ClamdAddress::Tcp("127.0.0.1:3310".into())
    );
    assert_eq!(cfg.antivirus.on_error, OnScanError::Accept);
    assert_eq!(cfg.antivirus.timeout, Duration::from_secs(20));
    assert_eq!(cfg.antivirus.max_size, Size(10 << 20));
    let cfg = config("[antivirus]\nclamd = \"/run/clamav/clamd.ctl\"\n");
    assert_eq!(
        cfg.antivirus.clamd,
        ClamdAddress::Unix("/run/clamav/clamd.ctl".into())
    );
}

#[test]
fn config_set_takes_a_bare_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.toml");
    std::fs::write(&path, "").unwrap();
    set(&path, "antivirus.clamd", "127.0.0.1:3310").unwrap();
    set(&path, "antivirus.on_error", "accept").unwrap();
    let cfg = config(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        cfg.antivirus.clamd,
        ClamdAddress::Tcp("127.0.0.1:3310".into())
    );
    assert_eq!(cfg.antivirus.on_error, OnScanError::Accept);
    let err = set(&path, "antivirus.clamd", "localhost").unwrap_err();
    assert!(err.to_string().contains("antivirus.clamd"), "{err}");
}

#[test]
fn antivirus_values_that_cannot_work_are_refused_with_their_key() {
    let cases = [
        (
            "[antivirus]\nclamd = \"127.0.0.1\"\n",
            "antivirus.clamd: expected \"\" (off), clamd's TCP \"host:port\"",
        ),
        (
            "[antivirus]\nclamd = \"clamd.ctl\"\n",
            "antivirus.clamd: expected",
        ),
        ("[antivirus]\non_error = \"bounce\"\n", "antivirus.on_error"),
        (
            "[antivirus]\ntimeout = \"0s\"\n",
            "antivirus.timeout: must be longer than 0s",
        ),
        (
            "[antivirus]\nmax_size = 0\n",
            "antivirus.max_size: must be more than 0 bytes",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
}
