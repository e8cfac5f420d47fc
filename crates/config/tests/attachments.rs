//! `[attachments]` and `[quarantine]`: executables refused by default, what
//! an operator writes, and what they are told when a value cannot work.

use havre_config::{AttachmentAction, Config, Duration, show_defaults};

mod common;
use common::{config, error_of};

#[test]
fn by_default_executables_are_refused_in_archives_too_and_quarantine_keeps_30_days() {
    let cfg = Config::default();
    let a = &cfg.attachments;
    assert!(a.enabled && a.scan_archives);
    assert_eq!(a.action, AttachmentAction::Reject);
    for ext in [
        "exe", "scr", "com", "pif", "bat", "cmd", "js", "vbs", "jar", "msi", "lnk",
    ] {
        assert!(a.refused_extensions.iter().any(|e| e == ext), "{ext}");
    }
    assert!(
        a.refused_types
            .iter()
            .any(|t| t == "application/x-msdownload")
    );
    assert_eq!(cfg.quarantine.retention, Duration::from_secs(30 * 86_400));
    let shown = show_defaults();
    assert!(shown.contains(&("attachments.action".into(), "\"reject\"".into())));
    assert!(shown.contains(&("quarantine.retention".into(), "\"30d\"".into())));
}

#[test]
fn an_operator_quarantines_instead_and_chooses_the_lists() {
    let cfg = config(
        "[attachments]\naction = \"quarantine\"\nrefused_extensions = [\"exe\", \".SCR\"]\n\
         refused_types = []\nscan_archives = false\n[quarantine]\nretention = \"7d\"\n",
    );
    assert_eq!(cfg.attachments.action, AttachmentAction::Quarantine);
    assert_eq!(cfg.attachments.refused_extensions, ["exe", ".SCR"]);
    assert!(cfg.attachments.refused_types.is_empty());
    assert!(!cfg.attachments.scan_archives);
    assert_eq!(cfg.quarantine.retention, Duration::from_secs(7 * 86_400));
    assert!(
        config("[quarantine]\nretention = 0\n")
            .quarantine
            .retention
            .0
            .is_zero()
    );
}

#[test]
fn attachment_values_that_cannot_work_are_refused_with_their_key() {
    let cases = [
        ("[attachments]\naction = \"drop\"\n", "attachments.action"),
        (
            "[attachments]\nrefused_extensions = [\"\"]\n",
            "attachments.refused_extensions: expected an extension like \"exe\", found \"\"",
        ),
        (
            "[attachments]\nrefused_extensions = [\"*.exe\"]\n",
            "attachments.refused_extensions: expected an extension",
        ),
        (
            "[attachments]\nrefused_types = [\"exe\"]\n",
            "attachments.refused_types: expected a MIME type like \"application/x-msdownload\", found \"exe\"",
        ),
        (
            "[quarantine]\nretention = \"forever\"\n",
            "quarantine.retention",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
}
