//! `[attachments]` and `[quarantine]`: the attachment rules checked at the
//! end of DATA, and what becomes of the mail they (or other checks) hold.
//!
//! The file's shapes only; the check itself (`havre-attachments`) gets its
//! own rules, built by the binary from these.

use serde::{Deserialize, Serialize};

use crate::values::Duration;

/// File name extensions refused by default: programs and scripts Windows
/// runs on a double click, installers, shortcuts, disk images that mount
/// as drives, Office add-ins. The union of Amavis' long
/// `banned_filename_re` list and Rspamd's `mime_types` bad extensions,
/// close to Outlook's blocked attachments (level 1), without the types an
/// institution exchanges as documents or data (`.py`, `.cer`, `.mdb`).
pub const DEFAULT_REFUSED_EXTENSIONS: &[&str] = &[
    "ade",
    "adp",
    "app",
    "appx",
    "appxbundle",
    "bas",
    "bat",
    "cab",
    "chm",
    "cmd",
    "com",
    "cpl",
    "exe",
    "gadget",
    "hlp",
    "hta",
    "img",
    "inf",
    "ins",
    "iso",
    "isp",
    "jar",
    "jnlp",
    "js",
    "jse",
    "lnk",
    "msc",
    "msi",
    "msix",
    "msixbundle",
    "msp",
    "mst",
    "pif",
    "ps1",
    "psm1",
    "reg",
    "scf",
    "scr",
    "sct",
    "shb",
    "shs",
    "url",
    "vb",
    "vbe",
    "vbs",
    "vhd",
    "vhdx",
    "wsc",
    "wsf",
    "wsh",
    "xll",
];

/// MIME types refused by default, declared by the message or found in the
/// content itself (executables of Windows, Linux and macOS, installers,
/// HTML applications, Java archives, shortcuts): Amavis' banned types.
pub const DEFAULT_REFUSED_TYPES: &[&str] = &[
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/vnd.microsoft.portable-executable",
    "application/x-executable",
    "application/x-elf",
    "application/x-mach-binary",
    "application/x-msi",
    "application/x-ms-installer",
    "application/x-ole-storage-msi",
    "application/hta",
    "application/java-archive",
    "application/x-java-archive",
    "application/x-ms-shortcut",
];

/// `[attachments]`: attachments refused by name or type, in zip archives
/// too, and whether a message carrying one is refused or quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attachments {
    pub enabled: bool,
    /// Extensions without their dot, compared without case.
    pub refused_extensions: Vec<String>,
    /// `type/subtype`, compared without case, against the declared type
    /// and the type the content shows.
    pub refused_types: Vec<String>,
    pub action: AttachmentAction,
    /// Look at the names (and contents) of files inside zip archives.
    pub scan_archives: bool,
}

impl Default for Attachments {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Self {
            enabled: true,
            refused_extensions: owned(DEFAULT_REFUSED_EXTENSIONS),
            refused_types: owned(DEFAULT_REFUSED_TYPES),
            action: AttachmentAction::Reject,
            scan_archives: true,
        }
    }
}

/// `attachments.action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentAction {
    /// 554 5.7.1 at the end of DATA, naming the file.
    #[default]
    Reject,
    /// Accepted and held in the queue (`havre quarantine`).
    Quarantine,
}

/// `[quarantine]`: mail accepted on hold by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quarantine {
    /// Quarantined mail older than this is deleted; zero keeps it.
    pub retention: Duration,
}

impl Default for Quarantine {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}
