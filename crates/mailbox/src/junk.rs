//! Which folder is the user's Junk, and what a message crossing its border
//! teaches: Dovecot's imapsieve convention (its `report-spam.sieve` and
//! `report-ham.sieve` calling `rspamc learn_spam` / `learn_ham`).
//!
//! - Into Junk from another folder (COPY or MOVE), or APPENDed to Junk (a
//!   client without MOVE saves it there and deletes the original): spam.
//! - Out of Junk into any folder but Trash (COPY or MOVE): ham. Into Trash
//!   it is only being thrown away, which says nothing of what it is.
//! - Within Junk, or between two other folders: nothing.
//!
//! Mailboxes tells a [`JunkLearner`] (none: nothing is learned) after the
//! messages are stored in their new folder; the learner must not make the
//! IMAP command wait (see `lessons.rs` for the one that queues).

use havre_store::MailboxRecord;

/// The special use and, failing a folder that has it, the name of the
/// user's Junk folder (RFC 6154).
pub const JUNK: (&str, &str) = ("\\Junk", "Junk");
/// The same for Trash.
pub const TRASH: (&str, &str) = ("\\Trash", "Trash");

/// Whether a mailbox has the special use `use_` (among others).
fn has_use(mailbox: &MailboxRecord, use_: &str) -> bool {
    mailbox
        .special_use
        .as_deref()
        .is_some_and(|u| u.split_whitespace().any(|u| u.eq_ignore_ascii_case(use_)))
}

/// The user's folder of one special use: the first with that special use,
/// else the one with the conventional name. The quarantine delivers into
/// the Junk it names; learning watches the same folder.
pub fn special_folder<'a>(
    list: &'a [MailboxRecord],
    (use_, name): (&str, &str),
) -> Option<&'a MailboxRecord> {
    list.iter()
        .find(|m| has_use(m, use_))
        .or_else(|| list.iter().find(|m| m.name == name))
}

/// Whether `mailbox` may be the Junk folder, without the user's list: a
/// cheap test that spares ordinary COPYs the list's query.
pub(crate) fn may_be_junk(mailbox: &MailboxRecord) -> bool {
    has_use(mailbox, JUNK.0) || mailbox.name == JUNK.1
}

/// What a message teaches about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JunkClass {
    Spam,
    Ham,
}

impl JunkClass {
    pub fn other(self) -> JunkClass {
        match self {
            JunkClass::Spam => JunkClass::Ham,
            JunkClass::Ham => JunkClass::Spam,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JunkClass::Spam => "spam",
            JunkClass::Ham => "ham",
        }
    }
}

/// How the message came into its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Copy,
    Move,
    Append,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Copy => "copy",
            Cause::Move => "move",
            Cause::Append => "append",
        }
    }
}

/// What a message coming into `to` (from `from`, none for an APPEND)
/// teaches, given the user's mailboxes.
pub fn lesson_class(
    list: &[MailboxRecord],
    from: Option<&MailboxRecord>,
    to: &MailboxRecord,
) -> Option<JunkClass> {
    let junk = special_folder(list, JUNK).map(|m| m.id);
    let trash = special_folder(list, TRASH).map(|m| m.id);
    let is_junk = |m: &MailboxRecord| Some(m.id) == junk;
    let from_junk = from.is_some_and(is_junk);
    if is_junk(to) && !from_junk {
        Some(JunkClass::Spam)
    } else if from_junk && !is_junk(to) && Some(to.id) != trash {
        Some(JunkClass::Ham)
    } else {
        None
    }
}

/// One message to learn from: where it is now and what it teaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// The owner of the mailbox (her own Bayes counts are taught).
    pub user: String,
    pub class: JunkClass,
    pub cause: Cause,
    /// The folder it came from (none for an APPEND).
    pub from: Option<String>,
    /// The folder it is in now, and its UID there.
    pub mailbox: MailboxRecord,
    pub uid: u32,
}

/// Told of the messages that crossed the Junk folder's border.
pub trait JunkLearner: Send + Sync {
    /// Whether lessons are wanted now (a switch the configuration turns):
    /// when not, Mailboxes does not even look at the user's folders.
    fn wants_lessons(&self) -> bool;
    /// The lessons of one command. Called while the IMAP command waits: it
    /// must return at once (queue, never learn here).
    fn lessons(&self, lessons: Vec<Lesson>);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(id: i64, name: &str, special: Option<&str>) -> MailboxRecord {
        MailboxRecord {
            id,
            user: "alice@example.test".into(),
            name: name.into(),
            uidvalidity: 1,
            uidnext: 1,
            highestmodseq: 1,
            special_use: special.map(str::to_string),
            subscribed: true,
        }
    }

    #[test]
    fn into_junk_is_spam_out_of_it_ham_except_into_trash() {
        let list = [
            mailbox(1, "INBOX", None),
            mailbox(2, "Spam", Some("\\Junk")),
            mailbox(3, "Junk", None),
            mailbox(4, "Corbeille", Some("\\Trash")),
            mailbox(5, "Trash", None),
        ];
        let [inbox, junk, named_junk, trash, named_trash] = &list;
        let class = |from: Option<&MailboxRecord>, to| lesson_class(&list, from, to);
        assert_eq!(class(Some(inbox), junk), Some(JunkClass::Spam));
        assert_eq!(class(None, junk), Some(JunkClass::Spam));
        assert_eq!(class(Some(junk), inbox), Some(JunkClass::Ham));
        // The special use wins over the name, for Junk and for Trash.
        assert_eq!(class(Some(inbox), named_junk), None);
        assert_eq!(class(Some(junk), named_junk), Some(JunkClass::Ham));
        assert_eq!(class(Some(junk), named_trash), Some(JunkClass::Ham));
        assert_eq!(class(Some(junk), trash), None);
        assert_eq!(class(Some(junk), junk), None);
        assert_eq!(class(Some(inbox), trash), None);
        assert_eq!(class(None, inbox), None);
    }

    #[test]
    fn without_special_uses_the_names_decide() {
        let list = [
            mailbox(1, "INBOX", None),
            mailbox(2, "Junk", None),
            mailbox(3, "Trash", None),
        ];
        let [inbox, junk, trash] = &list;
        assert_eq!(
            lesson_class(&list, Some(inbox), junk),
            Some(JunkClass::Spam)
        );
        assert_eq!(lesson_class(&list, Some(junk), trash), None);
        assert!(may_be_junk(junk) && !may_be_junk(inbox));
    }
}
