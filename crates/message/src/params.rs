//! MIME parameters (`; key=value`) with RFC 2231 continuations merged the
//! way Dovecot's `rfc2231-parser.c` does: `key*0`, `key*1` become one `key`;
//! extended values stay encoded (`key*` = `utf-8''caf%C3%A9`), as IMAP
//! clients expect to see them in BODYSTRUCTURE.

use crate::rfc822::Lexer;

pub(crate) type Param = (Vec<u8>, Vec<u8>);

struct Continuation {
    key: Vec<u8>,
    value: Vec<u8>,
    idx: u32,
    extended: bool,
}

/// Reads the parameters after the current position. Broken parameters are
/// skipped one byte at a time, as Dovecot does.
pub(crate) fn parse_params(lx: &mut Lexer<'_>) -> Vec<Param> {
    let mut result = Vec::new();
    let mut continuations = Vec::new();
    let mut key = Vec::new();
    let mut value = Vec::new();
    loop {
        let ret = lx.parse_content_param(&mut key, &mut value);
        if ret == 0 {
            break;
        }
        if ret < 0 {
            if lx.at_end() {
                break;
            }
            lx.pos += 1;
            continue;
        }
        match split_rfc2231_key(&key) {
            Some((name, idx, extended)) => continuations.push(Continuation {
                key: name.to_vec(),
                value: value.clone(),
                idx,
                extended,
            }),
            None => result.push((key.clone(), value.clone())),
        }
    }
    if !continuations.is_empty() {
        merge(&mut continuations, &mut result);
    }
    result
}

/// `name*`, `name*3` or `name*3*` → (name, index, extended).
fn split_rfc2231_key(key: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = key.iter().position(|&b| b == b'*')?;
    let mut p = star;
    let mut idx = 0u32;
    if p + 1 < key.len() {
        p += 1;
        while p < key.len() && key[p].is_ascii_digit() {
            idx = idx.wrapping_mul(10).wrapping_add(u32::from(key[p] - b'0'));
            p += 1;
        }
    }
    let extended = p < key.len() && key[p] == b'*';
    if extended {
        p += 1;
    }
    (p == key.len()).then_some((&key[..star], idx, extended))
}

fn merge(params: &mut [Continuation], result: &mut Vec<Param>) {
    params.sort_by(|a, b| a.key.cmp(&b.key).then(a.idx.cmp(&b.idx)));
    let mut i = 0;
    while i < params.len() {
        let mut next = i;
        let mut ok = true;
        let mut have_extended = false;
        let mut next_idx = 0;
        while next < params.len() && params[next].key.eq_ignore_ascii_case(&params[i].key) {
            if params[next].idx != next_idx {
                ok = false;
            }
            have_extended |= params[next].extended;
            next_idx += 1;
            next += 1;
        }
        if !ok {
            for p in &params[i..next] {
                let mut key = p.key.clone();
                key.extend_from_slice(format!("*{}", p.idx).as_bytes());
                if p.extended {
                    key.push(b'*');
                }
                result.push((key, p.value.clone()));
            }
        } else {
            let mut value = Vec::new();
            if !params[i].extended && have_extended {
                value.extend_from_slice(b"''");
            }
            for p in &params[i..next] {
                if !p.extended && have_extended {
                    for &b in &p.value {
                        if b == b'%' {
                            value.extend_from_slice(b"%25");
                        } else {
                            value.push(b);
                        }
                    }
                } else {
                    value.extend_from_slice(&p.value);
                }
            }
            let mut key = params[i].key.clone();
            if have_extended {
                key.push(b'*');
            }
            result.push((key, value));
        }
        i = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Vec<(String, String)> {
        let mut lx = Lexer::new(s.as_bytes());
        parse_params(&mut lx)
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn plain_and_quoted_values_keep_their_case() {
        assert_eq!(
            params("; Charset=UTF-8; name=\"a \\\"b\\\".txt\""),
            [
                ("Charset".into(), "UTF-8".into()),
                ("name".into(), "a \"b\".txt".into())
            ]
        );
    }

    #[test]
    fn rfc2231_continuations_are_merged_but_not_decoded() {
        assert_eq!(
            params("; filename*1=\"b%c\"; filename*0*=utf-8''a%20; x=1"),
            [
                ("x".into(), "1".into()),
                ("filename*".into(), "utf-8''a%20b%25c".into())
            ]
        );
        assert_eq!(params("; a*1=x"), [("a*1".into(), "x".into())]);
    }

    #[test]
    fn garbage_is_skipped() {
        assert_eq!(params(" junk; a=b"), [("a".into(), "b".into())]);
    }
}
