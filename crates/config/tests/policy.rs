//! `[greylist]` and `[[policy.rules]]`: what an operator writes, and what
//! they are told when a rule cannot work.

use havre_config::{
    Config, Duration, PolicyAction, PolicyStage, RateKey, RateWhat, Size, show_defaults,
};

mod common;
use common::{config, error_of};

#[test]
fn the_shipped_rules_limit_students_to_10_messages_a_minute_and_staff_to_60() {
    let defaults = Config::default();
    let rules = &defaults.policy.rules;
    assert_eq!(rules.len(), 2);
    for (rule, class, count) in [(&rules[0], "student", 10), (&rules[1], "staff", 60)] {
        assert_eq!(rule.class, [class]);
        assert_eq!(rule.action, Some(PolicyAction::Rate));
        let limit = rule.rate_limit.as_ref().unwrap();
        assert_eq!(
            (limit.count, limit.per, limit.key, limit.what),
            (
                count,
                Duration::from_secs(60),
                RateKey::SaslLogin,
                RateWhat::Messages
            )
        );
    }
    let shown = show_defaults();
    let rules_line = shown.iter().find(|(k, _)| k == "policy.rules").unwrap();
    assert!(
        rules_line
            .1
            .contains("Rate limit exceeded: 10 messages per minute for class student"),
        "config show lists the default rules: {}",
        rules_line.1
    );
    assert!(shown.contains(&("greylist.enabled".into(), "false".into())));
    assert!(shown.contains(&("greylist.delay".into(), "\"5m\"".into())));
}

#[test]
fn rules_are_written_as_tables_with_single_values_or_lists() {
    let cfg = config(
        r#"
[greylist]
enabled = true
delay = "2s"
exempt = ["192.0.2.0/24", "2001:db8::1", "partner.example"]

[[policy.rules]]
name = "partners"
client_address = "198.51.100.0/24"
action = "accept"

[[policy.rules]]
name = "big-mail"
stage = "mail"
sender = ["@lists.example.org", "/^bounce-/"]
size_min = "10M"
action = "defer"
text = "Too big for now"

[[policy.rules]]
name = "newsletters"
stage = "data"
action = "rate"
rate_limit = { count = 500, per = "1h", key = "sender", what = "recipients", burst = 50 }
"#,
    );
    assert!(cfg.greylist.enabled);
    assert_eq!(cfg.greylist.delay, Duration::from_secs(2));
    let rules = &cfg.policy.rules;
    assert_eq!(rules.len(), 3, "the file's rules replace the defaults");
    assert_eq!(rules[0].client_address, ["198.51.100.0/24"]);
    assert_eq!(rules[1].stage, Some(PolicyStage::Mail));
    assert_eq!(rules[1].size_min, Some(Size(10 << 20)));
    assert_eq!(rules[1].sender.len(), 2);
    let limit = rules[2].rate_limit.as_ref().unwrap();
    assert_eq!((limit.what, limit.burst), (RateWhat::Recipients, Some(50)));
}

#[test]
fn a_rule_that_cannot_work_is_refused_naming_the_rule_and_the_field() {
    let cases = [
        (
            "[[policy.rules]]\nname = \"a\"\naction = \"rate\"\n",
            "policy.rules: rule 1 (\"a\"), field rate_limit: is missing",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\naction = \"accept\"\n[[policy.rules]]\nname = \"b\"\n\
             action = \"rate\"\nrate_limit = { count = 0, per = \"1m\", key = \"class\" }\n",
            "rule 2 (\"b\"), field rate_limit.count: must be greater than 0",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\nclient_name = \"/(dsl/\"\naction = \"reject\"\n",
            "rule 1 (\"a\"), field client_name: invalid regular expression \"/(dsl/\"",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\nclient_address = [\"10.0.0.0/33\"]\naction = \"reject\"\n",
            "rule 1 (\"a\"), field client_address: expected networks",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\n",
            "rule 1 (\"a\"), field action: is missing",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\naction = \"accept\"\n[[policy.rules]]\nname = \"a\"\naction = \"accept\"\n",
            "rule 2 (\"a\"), field name: is also the name of rule 1",
        ),
        (
            "[[policy.rules]]\naction = \"accept\"\n",
            "rule 1, field name: must not be empty",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\nstage = \"mail\"\naction = \"greylist\"\n",
            "rule 1 (\"a\"), field stage: greylisting works at stage \"rcpt\" only",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\naction = \"add_header\"\nheader = \"no colon\"\n",
            "rule 1 (\"a\"), field header: expected \"Name: value\"",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\naction = \"accept\"\ntext = \"hello\"\n",
            "rule 1 (\"a\"), field text: only goes with action = \"reject\" or \"defer\" or \"rate\"",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\nstage = \"connect\"\naction = \"rate\"\n\
             rate_limit = { count = 5, per = \"1m\", key = \"client_address\", what = \"recipients\" }\n",
            "rule 1 (\"a\"), field stage: recipients cannot be counted at stage connect",
        ),
        (
            "[[policy.rules]]\nname = \"a\"\nsize_min = \"2M\"\nsize_max = \"1M\"\naction = \"reject\"\n",
            "rule 1 (\"a\"), field size_min: 2M is above size_max 1M",
        ),
        (
            "[greylist]\nexempt = [\"not a domain\"]\n",
            "greylist.exempt: expected a network like \"192.0.2.0/24\" or a domain",
        ),
        (
            "[greylist]\ndelay = \"3d\"\n",
            "greylist.retry_window: must be longer than greylist.delay (3d)",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
}

#[test]
fn an_unknown_action_or_field_in_a_rule_is_refused_with_the_line() {
    let err = error_of("[[policy.rules]]\nname = \"a\"\naction = \"drop\"\n");
    assert!(err.starts_with("havre.toml:3: policy.rules"), "{err}");
    assert!(
        err.contains("accept") && err.contains("add_header"),
        "{err}"
    );
    let err = error_of("[[policy.rules]]\nname = \"a\"\nclas = \"student\"\naction = \"accept\"\n");
    assert!(
        err.starts_with("havre.toml:3: unknown key policy.rules.clas"),
        "{err}"
    );
    let err = error_of(
        "[[policy.rules]]\nname = \"a\"\naction = \"rate\"\nrate_limit = { count = 1, per = \"1m\", key = \"ip\" }\n",
    );
    assert!(
        err.contains("sasl_login"),
        "the known keys are listed: {err}"
    );
}

#[test]
fn the_policy_service_is_off_until_it_has_an_address_and_refuses_to_share_one() {
    let defaults = Config::default();
    assert!(defaults.policy.listen.is_empty(), "no service by default");
    assert_eq!(defaults.policy.max_connections, 100);
    assert_eq!(defaults.policy.idle_timeout, Duration::from_secs(360));
    assert_eq!(defaults.policy.request_timeout, Duration::from_secs(100));
    let cfg = config("[policy]\nlisten = \"127.0.0.1:10023\"\nrequest_timeout = \"1s\"\n");
    assert_eq!(cfg.policy.listen, ["127.0.0.1:10023".parse().unwrap()]);
    assert_eq!(cfg.policy.rules, defaults.policy.rules, "rules kept");
    assert!(
        error_of("[policy]\nlisten = [\"127.0.0.1:25\"]\n")
            .contains("policy.listen: 127.0.0.1:25 overlaps 0.0.0.0:25 of mx.listen"),
        "{}",
        error_of("[policy]\nlisten = [\"127.0.0.1:25\"]\n")
    );
    assert!(
        error_of("[policy]\nidle_timeout = \"0s\"\n")
            .contains("policy.idle_timeout: must be longer than 0s")
    );
    assert!(
        error_of("[policy]\nlisten = \"localhost:10023\"\n").contains("policy.listen"),
        "{}",
        error_of("[policy]\nlisten = \"localhost:10023\"\n")
    );
}
