//! The actions of a run as they are added: duplicates collapsed,
//! conflicts refused, the implicit keep cancelled, the limits kept.
//!
//! - `keep` and `fileinto "INBOX"` are one delivery; two `fileinto` into
//!   the same mailbox are one (their flags joined); two redirects to the
//!   same address are one (RFC 5228 §2.10.3).
//! - `discard`, `fileinto` and `redirect` without `:copy`, `reject` and an
//!   explicit `keep` cancel the implicit keep (§2.10.2, RFC 3894).
//! - `reject`/`ereject` cannot go with `keep`, `fileinto` or `redirect`,
//!   nor with another reject (RFC 5429 §2.2); nor two `vacation`s (RFC 5230 §4.7).

use crate::error::RuntimeError;
use crate::limits::Limits;
use crate::outcome::Action;

pub(crate) struct Actions {
    list: Vec<Action>,
    implicit_keep: bool,
    redirects: usize,
    max_redirects: usize,
    max_actions: usize,
}

fn is_inbox(mailbox: &str) -> bool {
    mailbox.eq_ignore_ascii_case("INBOX")
}

/// Joins `more` into `flags`, without duplicates (flags compare without case).
fn join_flags(flags: &mut Vec<String>, more: Vec<String>) {
    for flag in more {
        if !flags.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
            flags.push(flag);
        }
    }
}

impl Actions {
    pub(crate) fn new(limits: &Limits) -> Self {
        Actions {
            list: Vec::new(),
            implicit_keep: true,
            redirects: 0,
            max_redirects: limits.max_redirects,
            max_actions: limits.max_actions,
        }
    }

    pub(crate) fn finish(self) -> (Vec<Action>, bool) {
        (self.list, self.implicit_keep)
    }

    fn has_reject(&self) -> bool {
        self.list.iter().any(|a| matches!(a, Action::Reject { .. }))
    }

    fn conflicts_with_reject(&self, line: u32, what: &str) -> Result<(), RuntimeError> {
        if self.has_reject() {
            return Err(RuntimeError::new(
                line,
                format!("{what} cannot be combined with reject"),
            ));
        }
        Ok(())
    }

    pub(crate) fn add(&mut self, line: u32, action: Action) -> Result<(), RuntimeError> {
        match action {
            Action::Keep { flags } => {
                self.conflicts_with_reject(line, "keep")?;
                self.implicit_keep = false;
                for existing in &mut self.list {
                    match existing {
                        Action::Keep { flags: old } => {
                            join_flags(old, flags);
                            return Ok(());
                        }
                        Action::FileInto {
                            mailbox,
                            flags: old,
                            ..
                        } if is_inbox(mailbox) => {
                            join_flags(old, flags);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                self.push(line, Action::Keep { flags })
            }
            Action::FileInto {
                mailbox,
                flags,
                create,
                copy,
            } => {
                self.conflicts_with_reject(line, "fileinto")?;
                if !copy {
                    self.implicit_keep = false;
                }
                for existing in &mut self.list {
                    match existing {
                        Action::FileInto {
                            mailbox: old_mailbox,
                            flags: old,
                            create: old_create,
                            copy: old_copy,
                        } if *old_mailbox == mailbox
                            || (is_inbox(old_mailbox) && is_inbox(&mailbox)) =>
                        {
                            join_flags(old, flags);
                            *old_create |= create;
                            *old_copy &= copy;
                            return Ok(());
                        }
                        Action::Keep { flags: old } if is_inbox(&mailbox) => {
                            join_flags(old, flags);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                self.push(
                    line,
                    Action::FileInto {
                        mailbox,
                        flags,
                        create,
                        copy,
                    },
                )
            }
            Action::Redirect { address, copy } => {
                self.conflicts_with_reject(line, "redirect")?;
                if !copy {
                    self.implicit_keep = false;
                }
                for existing in &mut self.list {
                    if let Action::Redirect {
                        address: old,
                        copy: old_copy,
                    } = existing
                        && old.eq_ignore_ascii_case(&address)
                    {
                        *old_copy &= copy;
                        return Ok(());
                    }
                }
                if self.redirects >= self.max_redirects {
                    return Err(RuntimeError::new(
                        line,
                        format!(
                            "too many redirect actions (the limit is {})",
                            self.max_redirects
                        ),
                    ));
                }
                self.redirects += 1;
                self.push(line, Action::Redirect { address, copy })
            }
            Action::Discard => {
                self.implicit_keep = false;
                if self.list.contains(&Action::Discard) {
                    return Ok(());
                }
                self.push(line, Action::Discard)
            }
            Action::Reject { reason, extended } => {
                if self.has_reject() {
                    return Err(RuntimeError::new(line, "more than one reject"));
                }
                if let Some(other) = self.list.iter().find(|a| {
                    matches!(
                        a,
                        Action::Keep { .. } | Action::FileInto { .. } | Action::Redirect { .. }
                    )
                }) {
                    let name = match other {
                        Action::Keep { .. } => "keep",
                        Action::FileInto { .. } => "fileinto",
                        _ => "redirect",
                    };
                    return Err(RuntimeError::new(
                        line,
                        format!("reject cannot be combined with {name}"),
                    ));
                }
                self.implicit_keep = false;
                self.push(line, Action::Reject { reason, extended })
            }
            Action::Vacation(vacation) => {
                if self.list.iter().any(|a| matches!(a, Action::Vacation(_))) {
                    return Err(RuntimeError::new(line, "more than one vacation action"));
                }
                self.push(line, Action::Vacation(vacation))
            }
        }
    }

    fn push(&mut self, line: u32, action: Action) -> Result<(), RuntimeError> {
        if self.list.len() >= self.max_actions {
            return Err(RuntimeError::new(
                line,
                format!("too many actions (the limit is {})", self.max_actions),
            ));
        }
        self.list.push(action);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fileinto(mailbox: &str, flags: &[&str], copy: bool) -> Action {
        Action::FileInto {
            mailbox: mailbox.into(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            create: false,
            copy,
        }
    }

    #[test]
    fn keep_and_fileinto_inbox_are_one_delivery() {
        let mut actions = Actions::new(&Limits::default());
        actions
            .add(
                1,
                Action::Keep {
                    flags: vec!["\\Seen".into()],
                },
            )
            .unwrap();
        actions
            .add(2, fileinto("inbox", &["$Work"], false))
            .unwrap();
        let (list, implicit) = actions.finish();
        assert_eq!(
            list,
            [Action::Keep {
                flags: vec!["\\Seen".into(), "$Work".into()]
            }]
        );
        assert!(!implicit);
    }

    #[test]
    fn copies_keep_the_implicit_keep() {
        let mut actions = Actions::new(&Limits::default());
        actions.add(1, fileinto("Archive", &[], true)).unwrap();
        actions
            .add(2, fileinto("Archive", &["\\Seen"], true))
            .unwrap();
        let (list, implicit) = actions.finish();
        assert_eq!(list, [fileinto("Archive", &["\\Seen"], true)]);
        assert!(implicit);
    }

    #[test]
    fn reject_conflicts() {
        let mut actions = Actions::new(&Limits::default());
        actions.add(1, fileinto("A", &[], false)).unwrap();
        let error = actions
            .add(
                2,
                Action::Reject {
                    reason: "no".into(),
                    extended: false,
                },
            )
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2: reject cannot be combined with fileinto"
        );

        let mut actions = Actions::new(&Limits::default());
        actions
            .add(
                1,
                Action::Reject {
                    reason: "no".into(),
                    extended: true,
                },
            )
            .unwrap();
        let error = actions.add(3, Action::Keep { flags: vec![] }).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 3: keep cannot be combined with reject"
        );
        assert!(actions.add(4, Action::Discard).is_ok());
    }

    #[test]
    fn redirects_are_counted_once_per_address() {
        let mut actions = Actions::new(&Limits::default());
        for (i, to) in ["a@x", "A@X", "b@x", "c@x", "d@x"].iter().enumerate() {
            actions
                .add(
                    i as u32 + 1,
                    Action::Redirect {
                        address: to.to_string(),
                        copy: false,
                    },
                )
                .unwrap();
        }
        let error = actions
            .add(
                9,
                Action::Redirect {
                    address: "e@x".into(),
                    copy: false,
                },
            )
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 9: too many redirect actions (the limit is 4)"
        );
    }
}
