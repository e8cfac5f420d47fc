//! The cache format of an [`Analysis`]: one line of text, `M3 ` (the format
//! version: other versions are refused, the caller analyses again) followed by
//! an S-expression of numbers, `N` (none), "strings" (with `\"`, `\\` and
//! `\xHH` escapes for control characters) and (lists):
//!
//! ```text
//! M3 (size part sortkeys preview)
//! part     = (header_start body_start end lines data envelope|N kind)
//! kind     = N | (1 part...) multipart | (2 part) message/rfc822
//! data     = (type/subtype-list|N (params) id desc cte md5 disp|N (disp-params) (langs)|N location)
//! envelope = (date subject (from) (sender) (reply-to) (to) (cc) (bcc) in-reply-to message-id)
//! address  = (name route mailbox domain)
//! sortkeys = (date|N subject reply-or-forward from to cc message-id|N (references) in-reply-to|N
//!             display-from display-to)
//! ```

use crate::analysis::Analysis;
use crate::part::{Addr, Envelope, Kind, MimeData, Part};
use crate::sexpr::{V, parse, write};
use crate::sort::SortKeys;

const MAGIC: &str = "M3 ";

fn s(v: &str) -> V {
    V::Str(v.to_owned())
}

fn opt(v: &Option<String>) -> V {
    v.as_deref().map_or(V::Nil, s)
}

fn num(n: usize) -> V {
    V::Num(n as i64)
}

fn pairs(list: &[(String, String)]) -> V {
    V::List(list.iter().flat_map(|(k, v)| [s(k), s(v)]).collect())
}

fn addrs(list: &[Addr]) -> V {
    V::List(
        list.iter()
            .map(|a| {
                V::List(vec![
                    opt(&a.name),
                    opt(&a.route),
                    opt(&a.mailbox),
                    opt(&a.domain),
                ])
            })
            .collect(),
    )
}

fn data_value(d: &MimeData) -> V {
    V::List(vec![
        d.content_type
            .as_ref()
            .map_or(V::Nil, |(t, st)| V::List(vec![s(t), s(st)])),
        pairs(&d.params),
        opt(&d.id),
        opt(&d.description),
        opt(&d.transfer_encoding),
        opt(&d.md5),
        opt(&d.disposition),
        pairs(&d.disposition_params),
        d.language
            .as_ref()
            .map_or(V::Nil, |l| V::List(l.iter().map(|x| s(x)).collect())),
        opt(&d.location),
    ])
}

fn envelope_value(e: &Envelope) -> V {
    V::List(vec![
        opt(&e.date),
        opt(&e.subject),
        addrs(&e.from),
        addrs(&e.sender),
        addrs(&e.reply_to),
        addrs(&e.to),
        addrs(&e.cc),
        addrs(&e.bcc),
        opt(&e.in_reply_to),
        opt(&e.message_id),
    ])
}

fn part_value(p: &Part) -> V {
    let kind = match &p.kind {
        Kind::Leaf => V::Nil,
        Kind::Multipart(children) => {
            let mut l = vec![V::Num(1)];
            l.extend(children.iter().map(part_value));
            V::List(l)
        }
        Kind::Message(inner) => V::List(vec![V::Num(2), part_value(inner)]),
    };
    V::List(vec![
        num(p.header_start),
        num(p.body_start),
        num(p.end),
        V::Num(p.lines as i64),
        data_value(&p.data),
        p.envelope.as_ref().map_or(V::Nil, envelope_value),
        kind,
    ])
}

fn sort_value(k: &SortKeys) -> V {
    V::List(vec![
        k.date.map_or(V::Nil, V::Num),
        s(&k.subject),
        V::Num(i64::from(k.reply_or_forward)),
        s(&k.from),
        s(&k.to),
        s(&k.cc),
        opt(&k.message_id),
        V::List(k.references.iter().map(|r| s(r)).collect()),
        opt(&k.in_reply_to),
        s(&k.display_from),
        s(&k.display_to),
    ])
}

pub(crate) fn to_cache(a: &Analysis) -> String {
    let mut out = String::from(MAGIC);
    let v = V::List(vec![
        V::Num(a.size as i64),
        part_value(&a.root),
        sort_value(&a.sort),
        s(&a.preview),
    ]);
    write(&mut out, &v);
    out
}

fn list(v: V) -> Option<Vec<V>> {
    match v {
        V::List(l) => Some(l),
        _ => None,
    }
}

fn get_num(v: V) -> Option<i64> {
    match v {
        V::Num(n) => Some(n),
        _ => None,
    }
}

fn get_usize(v: V) -> Option<usize> {
    usize::try_from(get_num(v)?).ok()
}

fn get_str(v: V) -> Option<String> {
    match v {
        V::Str(s) => Some(s),
        _ => None,
    }
}

fn get_opt(v: V) -> Option<Option<String>> {
    match v {
        V::Nil => Some(None),
        V::Str(s) => Some(Some(s)),
        _ => None,
    }
}

fn get_pairs(v: V) -> Option<Vec<(String, String)>> {
    let l = list(v)?;
    if l.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut it = l.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((get_str(k)?, get_str(v)?));
    }
    Some(out)
}

fn get_addrs(v: V) -> Option<Vec<Addr>> {
    list(v)?
        .into_iter()
        .map(|a| {
            let [name, route, mailbox, domain]: [V; 4] = list(a)?.try_into().ok()?;
            Some(Addr {
                name: get_opt(name)?,
                route: get_opt(route)?,
                mailbox: get_opt(mailbox)?,
                domain: get_opt(domain)?,
            })
        })
        .collect()
}

fn get_data(v: V) -> Option<MimeData> {
    let [ct, params, id, desc, cte, md5, disp, dparams, lang, loc]: [V; 10] =
        list(v)?.try_into().ok()?;
    let content_type = match ct {
        V::Nil => None,
        v => {
            let [t, st]: [V; 2] = list(v)?.try_into().ok()?;
            Some((get_str(t)?, get_str(st)?))
        }
    };
    let language = match lang {
        V::Nil => None,
        v => Some(
            list(v)?
                .into_iter()
                .map(get_str)
                .collect::<Option<Vec<_>>>()?,
        ),
    };
    Some(MimeData {
        content_type,
        params: get_pairs(params)?,
        id: get_opt(id)?,
        description: get_opt(desc)?,
        transfer_encoding: get_opt(cte)?,
        md5: get_opt(md5)?,
        disposition: get_opt(disp)?,
        disposition_params: get_pairs(dparams)?,
        language,
        location: get_opt(loc)?,
    })
}

fn get_envelope(v: V) -> Option<Option<Envelope>> {
    if let V::Nil = v {
        return Some(None);
    }
    let [date, subject, from, sender, reply_to, to, cc, bcc, irt, mid]: [V; 10] =
        list(v)?.try_into().ok()?;
    Some(Some(Envelope {
        date: get_opt(date)?,
        subject: get_opt(subject)?,
        from: get_addrs(from)?,
        sender: get_addrs(sender)?,
        reply_to: get_addrs(reply_to)?,
        to: get_addrs(to)?,
        cc: get_addrs(cc)?,
        bcc: get_addrs(bcc)?,
        in_reply_to: get_opt(irt)?,
        message_id: get_opt(mid)?,
    }))
}

fn get_part(v: V, size: usize) -> Option<Part> {
    let [hs, bs, end, lines, data, env, kind]: [V; 7] = list(v)?.try_into().ok()?;
    let kind = match kind {
        V::Nil => Kind::Leaf,
        v => {
            let mut l = list(v)?.into_iter();
            match get_num(l.next()?)? {
                1 => Kind::Multipart(l.map(|p| get_part(p, size)).collect::<Option<_>>()?),
                2 => {
                    let inner = get_part(l.next()?, size)?;
                    if l.next().is_some() {
                        return None;
                    }
                    Kind::Message(Box::new(inner))
                }
                _ => return None,
            }
        }
    };
    let part = Part {
        header_start: get_usize(hs)?,
        body_start: get_usize(bs)?,
        end: get_usize(end)?,
        lines: u64::try_from(get_num(lines)?).ok()?,
        data: get_data(data)?,
        envelope: get_envelope(env)?,
        kind,
    };
    let ordered = part.header_start <= part.body_start && part.body_start <= part.end;
    (ordered && part.end <= size).then_some(part)
}

fn get_sort(v: V) -> Option<SortKeys> {
    let [date, subject, rf, from, to, cc, mid, refs, irt, dfrom, dto]: [V; 11] =
        list(v)?.try_into().ok()?;
    Some(SortKeys {
        date: match date {
            V::Nil => None,
            v => Some(get_num(v)?),
        },
        subject: get_str(subject)?,
        reply_or_forward: get_num(rf)? != 0,
        from: get_str(from)?,
        to: get_str(to)?,
        cc: get_str(cc)?,
        message_id: get_opt(mid)?,
        references: list(refs)?
            .into_iter()
            .map(get_str)
            .collect::<Option<_>>()?,
        in_reply_to: get_opt(irt)?,
        display_from: get_str(dfrom)?,
        display_to: get_str(dto)?,
    })
}

pub(crate) fn from_cache(text: &str) -> Option<Analysis> {
    let v = parse(text.strip_prefix(MAGIC)?)?;
    let [size, root, sort, preview]: [V; 4] = list(v)?.try_into().ok()?;
    let size = get_usize(size)?;
    Some(Analysis {
        size: size as u64,
        root: get_part(root, size)?,
        sort: get_sort(sort)?,
        preview: get_str(preview)?,
    })
}
