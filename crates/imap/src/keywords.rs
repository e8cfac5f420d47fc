//! Telling the client which keywords the selected mailbox uses: `* FLAGS`
//! and `* OK [PERMANENTFLAGS]` at SELECT, and again before a FETCH shows a
//! keyword it has not heard of (RFC 9051 7.3.5), as Dovecot does.

use havre_imap_proto::{Code, Flag, Status};

use crate::command::wire_flags;
use crate::session::Session;

impl Session {
    /// Writes FLAGS (system flags, then every keyword the view knows) and
    /// PERMANENTFLAGS (none for a read-only mailbox).
    pub(crate) fn write_flags(&mut self) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let read_only = view.read_only;
        let mut flags = vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
        ];
        flags.extend(wire_flags(view.keywords()));
        self.out.flags(&flags);
        self.out.untagged(
            Status::Ok,
            Some(&Code::PermanentFlags {
                flags: if read_only { Vec::new() } else { flags },
                allow_new: !read_only,
            }),
            "Flags permitted.",
        );
    }

    /// Before `flags` are shown in a FETCH: announces the keywords among
    /// them that the client does not know yet.
    pub(crate) fn announce_keywords(&mut self, flags: &[String]) {
        let new = self
            .selected
            .as_mut()
            .is_some_and(|view| view.learn_keywords(flags));
        if new {
            self.write_flags();
        }
    }
}
