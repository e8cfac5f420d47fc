//! ENVELOPE in IMAP syntax (RFC 3501 7.4.2), as Dovecot's
//! `imap-envelope.c` writes it: Sender and Reply-To default to From,
//! absent fields are NIL, the subject and display names are cleaned up for
//! humans, other values are written as they are in the header, line
//! breaks removed.

use crate::part::{Addr, Envelope};
use crate::quote::{nstring, nstring_nolf, string_for_humans};

fn addresses(out: &mut String, list: &[Addr]) {
    if list.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for a in list {
        out.push('(');
        match &a.name {
            None => out.push_str("NIL"),
            Some(name) => string_for_humans(out, name),
        }
        out.push(' ');
        nstring(out, a.route.as_deref());
        out.push(' ');
        nstring(out, a.mailbox.as_deref());
        out.push(' ');
        nstring(out, a.domain.as_deref());
        out.push(')');
    }
    out.push(')');
}

/// The fields of an envelope without the surrounding parentheses.
pub(crate) fn write_envelope(out: &mut String, env: Option<&Envelope>) {
    let Some(env) = env else {
        out.push_str("NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
        return;
    };
    nstring_nolf(out, env.date.as_deref());
    out.push(' ');
    match &env.subject {
        None => out.push_str("NIL"),
        Some(s) => string_for_humans(out, s),
    }
    let or_from = |list: &'_ [Addr]| -> Vec<Addr> {
        if list.is_empty() {
            env.from.clone()
        } else {
            list.to_vec()
        }
    };
    for list in [
        env.from.clone(),
        or_from(&env.sender),
        or_from(&env.reply_to),
        env.to.clone(),
        env.cc.clone(),
        env.bcc.clone(),
    ] {
        out.push(' ');
        addresses(out, &list);
    }
    out.push(' ');
    nstring_nolf(out, env.in_reply_to.as_deref());
    out.push(' ');
    nstring_nolf(out, env.message_id.as_deref());
}
