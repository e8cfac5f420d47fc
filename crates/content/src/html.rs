//! HTML rendered to the text a reader sees, and what it hides.
//!
//! Not a browser: a single forward pass over the tags that keeps a stack of
//! open elements with their visibility and colours. Script, style and
//! title contents are dropped; block tags break lines; character
//! references are decoded. Text is hidden when an element (or one it is
//! in) has `display:none`, `visibility:hidden`, `opacity:0`, a zero font
//! size or the `hidden` attribute, or when its colour is that of its
//! background (white on the default white page, `<font color>` on a
//! `bgcolor` cell); a background image makes the background unknown, so
//! colours are not compared there. The work is linear in the input and
//! the stack has a fixed bound.

use crate::content::Link;
use crate::entities::decode_entity;
use crate::text_sink::Sink;
use crate::urls::{host_from_authority, host_named_by};

const MAX_STACK: usize = 256;
const MAX_LINK_TEXT: usize = 256;

/// What one HTML part gave.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    pub(crate) links: Vec<Link>,
    pub(crate) links_full: bool,
    pub(crate) images: usize,
    /// Hosts of hrefs and image sources.
    pub(crate) hosts: Vec<String>,
}

/// The background behind an element.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Background {
    Colour(u32),
    /// An image, or a colour we cannot read: text colours are not compared.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Element {
    name: Name,
    hidden: bool,
    colour: Option<u32>,
    background: Background,
}

/// A tag name, lower case, cut at 15 bytes (no allocation per tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Name {
    bytes: [u8; 15],
    len: u8,
}

impl Name {
    fn new(raw: &[u8]) -> Name {
        let mut bytes = [0u8; 15];
        let len = raw.len().min(15);
        for (d, s) in bytes.iter_mut().zip(&raw[..len]) {
            *d = s.to_ascii_lowercase();
        }
        Name {
            bytes,
            len: len as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    fn is(&self, name: &str) -> bool {
        self.as_bytes() == name.as_bytes()
    }

    fn is_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.is(n))
    }
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
    "body",
    "html",
    "tbody",
    "thead",
    "tfoot",
    "caption",
    "option",
    "title",
];
/// Elements a new one of the same name closes (`<p>a<p>b`).
const SELF_CLOSING_SIBLINGS: &[&str] = &["p", "li", "td", "th", "tr", "option", "dt", "dd"];
/// Elements whose content is not text: skipped up to their end tag.
const RAW: &[&str] = &["script", "style", "title", "textarea", "xml", "template"];

struct Renderer<'s> {
    visible: &'s mut Sink,
    hidden: &'s mut Sink,
    stack: Vec<Element>,
    page: Element,
    link: Option<(Option<String>, String)>,
    out: Rendered,
    max_links: usize,
}

/// Renders `html` into `visible` and `hidden`; links and image counts come
/// back. At most `max_links` links are kept.
pub(crate) fn render(
    html: &str,
    visible: &mut Sink,
    hidden: &mut Sink,
    max_links: usize,
) -> Rendered {
    let mut r = Renderer {
        visible,
        hidden,
        stack: Vec::new(),
        page: Element {
            name: Name::new(b""),
            hidden: false,
            colour: None,
            background: Background::Colour(0xffffff),
        },
        link: None,
        out: Rendered::default(),
        max_links,
    };
    r.run(html);
    r.end_link();
    r.visible.block_break();
    r.hidden.block_break();
    r.out
}

impl Renderer<'_> {
    fn top(&self) -> &Element {
        self.stack.last().unwrap_or(&self.page)
    }

    fn run(&mut self, html: &str) {
        let bytes = html.as_bytes();
        let mut i = 0;
        let mut text_start = 0;
        while i < bytes.len() {
            if bytes[i] != b'<' {
                i += 1;
                continue;
            }
            let next = bytes.get(i + 1).copied().unwrap_or(0);
            if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?') {
                i += 1;
                continue;
            }
            self.text(&html[text_start..i]);
            i = if html[i..].starts_with("<!--") {
                html[i + 4..]
                    .find("-->")
                    .map_or(bytes.len(), |e| i + 4 + e + 3)
            } else if next == b'!' || next == b'?' {
                html[i..].find('>').map_or(bytes.len(), |e| i + e + 1)
            } else {
                self.tag(html, i + 1)
            };
            text_start = i;
        }
        self.text(&html[text_start.min(html.len())..]);
    }

    /// Text between tags, references decoded, into the sink its
    /// visibility says.
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let top = *self.top();
        let hidden = top.hidden || same_colour(top.colour, top.background);
        let mut rest = text;
        loop {
            let (plain, after) = match rest.find('&') {
                Some(amp) => (&rest[..amp], Some(&rest[amp + 1..])),
                None => (rest, None),
            };
            self.emit_str(plain, hidden);
            let Some(after) = after else { break };
            match decode_entity(after) {
                Some((c, len)) => {
                    self.emit_char(c, hidden);
                    rest = &after[len..];
                }
                None => {
                    self.emit_char('&', hidden);
                    rest = after;
                }
            }
        }
    }

    fn emit_str(&mut self, s: &str, hidden: bool) {
        if s.is_empty() {
            return;
        }
        if let Some((_, text)) = &mut self.link
            && text.len() < MAX_LINK_TEXT
        {
            let room = MAX_LINK_TEXT - text.len();
            let mut cut = s.len().min(room);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            text.push_str(&s[..cut]);
        }
        for c in s.chars() {
            let c = if c == '\u{a0}' { ' ' } else { c };
            if hidden {
                self.hidden.push(c);
            } else {
                self.visible.push(c);
            }
        }
    }

    fn emit_char(&mut self, c: char, hidden: bool) {
        let mut buf = [0u8; 4];
        self.emit_str(c.encode_utf8(&mut buf), hidden);
    }

    /// A tag whose name starts at `start` (after `<`); returns where the
    /// text after it starts.
    fn tag(&mut self, html: &str, start: usize) -> usize {
        let bytes = html.as_bytes();
        let closing = bytes[start] == b'/';
        let name_start = start + usize::from(closing);
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b':' || *b == b'-'))
            .map_or(bytes.len(), |p| name_start + p);
        let name = Name::new(&bytes[name_start..name_end]);
        let mut attrs = Attrs::default();
        let end = parse_attributes(html, name_end, |key, value| attrs.set(key, value));
        if closing {
            self.close(name);
            return end;
        }
        self.open(name, &attrs);
        if name.is_any(RAW) {
            return skip_raw_text(html, end, name.as_bytes());
        }
        end
    }

    fn open(&mut self, name: Name, attrs: &Attrs) {
        if name.is_any(BLOCK) {
            self.visible.block_break();
            self.hidden.block_break();
        }
        if name.is("a") {
            self.end_link();
            let host = attrs.href.as_deref().and_then(href_host);
            if let Some(host) = &host {
                self.out.hosts.push(host.clone());
            }
            self.link = Some((host, String::new()));
        } else if name.is("img") {
            self.out.images += 1;
            if let Some(host) = attrs.src.as_deref().and_then(href_host) {
                self.out.hosts.push(host);
            }
        } else if name.is_any(&["area", "form"])
            && let Some(host) = attrs.href.as_deref().and_then(href_host)
        {
            self.out.hosts.push(host);
        }
        if name.is_any(VOID) {
            return;
        }
        if name.is_any(SELF_CLOSING_SIBLINGS) && self.stack.last().is_some_and(|e| e.name == name) {
            self.stack.pop();
        }
        if self.stack.len() >= MAX_STACK {
            return;
        }
        let parent = *self.top();
        let mut element = Element {
            name,
            hidden: parent.hidden || attrs.hidden,
            colour: attrs.colour.or(parent.colour),
            background: attrs.background.unwrap_or(parent.background),
        };
        if let Some(style) = &attrs.style {
            apply_style(&mut element, style);
        }
        if name.is("body") {
            // The page's own colours apply to everything, even text the
            // markup put outside <body>.
            self.page.colour = element.colour;
            self.page.background = element.background;
        }
        self.stack.push(element);
    }

    fn close(&mut self, name: Name) {
        if name.is("a") {
            self.end_link();
        }
        if name.is_any(BLOCK) {
            self.visible.block_break();
            self.hidden.block_break();
        }
        if let Some(at) = self.stack.iter().rposition(|e| e.name == name) {
            self.stack.truncate(at);
        }
    }

    fn end_link(&mut self) {
        let Some((href_host, text)) = self.link.take() else {
            return;
        };
        if self.out.links.len() >= self.max_links {
            self.out.links_full = true;
            return;
        }
        self.out.links.push(Link {
            href_host,
            text_host: host_named_by(&text),
        });
    }
}

/// Where the content of a raw-text element (`<script>`...) ends: after its
/// end tag, or at the end of the input.
fn skip_raw_text(html: &str, from: usize, name: &[u8]) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'<') {
        let at = i + p;
        let tail = &bytes[at + 1..];
        if tail.first() == Some(&b'/')
            && tail.len() > name.len()
            && tail[1..=name.len()].eq_ignore_ascii_case(name)
        {
            return html[at..].find('>').map_or(bytes.len(), |e| at + e + 1);
        }
        i = at + 1;
    }
    bytes.len()
}

/// The attributes of a tag that matter here.
#[derive(Debug, Default)]
struct Attrs {
    href: Option<String>,
    src: Option<String>,
    style: Option<String>,
    colour: Option<u32>,
    background: Option<Background>,
    hidden: bool,
}

impl Attrs {
    fn set(&mut self, key: &[u8], value: &str) {
        let is = |n: &str| key.eq_ignore_ascii_case(n.as_bytes());
        if is("href") || is("action") {
            self.href = Some(crate::entities::decode_all(value).into_owned());
        } else if is("src") {
            self.src = Some(crate::entities::decode_all(value).into_owned());
        } else if is("style") {
            self.style = Some(value.to_ascii_lowercase());
        } else if is("color") {
            self.colour = parse_colour(value);
        } else if is("bgcolor") {
            self.background =
                Some(parse_colour(value).map_or(Background::Unknown, Background::Colour));
        } else if is("background") {
            self.background = Some(Background::Unknown);
        } else if is("hidden") {
            self.hidden = true;
        }
    }
}

/// Calls `attr` for each attribute of the tag whose attributes start at
/// `from`; returns the index after the tag's `>` (or the input's end).
fn parse_attributes(html: &str, from: usize, mut attr: impl FnMut(&[u8], &str)) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return bytes.len();
        }
        if bytes[i] == b'>' {
            return i + 1;
        }
        let key_start = i;
        while i < bytes.len()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
            && !bytes[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let key = &bytes[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            attr(key, "");
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == q)
                    .map_or(bytes.len(), |p| i + 1 + p);
                let v = &html[i + 1..end];
                i = (end + 1).min(bytes.len());
                v
            }
            _ => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'>' && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &html[start..i]
            }
        };
        attr(key, value);
    }
}

/// Applies the declarations of a `style` attribute (already lower case).
fn apply_style(element: &mut Element, style: &str) {
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_end_matches("!important").trim();
        match prop.trim() {
            "display" if value == "none" => element.hidden = true,
            "visibility" if value == "hidden" || value == "collapse" => element.hidden = true,
            "opacity" if value.parse::<f32>().is_ok_and(|o| o < 0.05) => element.hidden = true,
            "font-size" if is_zero_length(value) => element.hidden = true,
            "color" => element.colour = parse_colour(value).or(element.colour),
            "background-color" => {
                element.background =
                    parse_colour(value).map_or(Background::Unknown, Background::Colour);
            }
            "background" => {
                element.background = if value.contains("url(") {
                    Background::Unknown
                } else {
                    value
                        .split_whitespace()
                        .find_map(parse_colour)
                        .map_or(Background::Unknown, Background::Colour)
                };
            }
            "background-image" if value.contains("url(") => {
                element.background = Background::Unknown
            }
            _ => {}
        }
    }
}

fn is_zero_length(value: &str) -> bool {
    let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
    number.parse::<f32>().is_ok_and(|n| n < 1.0)
}

/// Text in `colour` on `background` cannot be read: the same colour, or
/// nearly (each channel within a few steps).
fn same_colour(colour: Option<u32>, background: Background) -> bool {
    let (Some(fg), Background::Colour(bg)) = (colour, background) else {
        return false;
    };
    let channel = |c: u32, shift: u32| ((c >> shift) & 0xff) as i32;
    [16, 8, 0]
        .iter()
        .map(|&s| (channel(fg, s) - channel(bg, s)).abs())
        .sum::<i32>()
        <= 24
}

/// `#rgb`, `#rrggbb`, `rrggbb` (legacy attributes), `rgb(r, g, b)` and a
/// few colour names.
fn parse_colour(value: &str) -> Option<u32> {
    let v = value.trim().to_ascii_lowercase();
    if let Some(args) = v.strip_prefix("rgb(").or_else(|| v.strip_prefix("rgba(")) {
        let mut parts = args
            .trim_end_matches(')')
            .split(',')
            .map(|p| p.trim().parse::<u8>());
        let (r, g, b) = (
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        );
        return Some(u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b));
    }
    let hex = v.strip_prefix('#').unwrap_or(&v);
    if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return match hex.len() {
            6 => u32::from_str_radix(hex, 16).ok(),
            3 => {
                let n = u32::from_str_radix(hex, 16).ok()?;
                let (r, g, b) = ((n >> 8) & 0xf, (n >> 4) & 0xf, n & 0xf);
                Some((r * 17) << 16 | (g * 17) << 8 | (b * 17))
            }
            _ => None,
        };
    }
    Some(match v.as_str() {
        "white" => 0xffffff,
        "black" => 0x000000,
        "red" => 0xff0000,
        "green" => 0x008000,
        "blue" => 0x0000ff,
        "yellow" => 0xffff00,
        "gray" | "grey" => 0x808080,
        "silver" => 0xc0c0c0,
        "snow" => 0xfffafa,
        "ivory" => 0xfffff0,
        _ => return None,
    })
}

/// The host an href or src points to, for absolute (or
/// protocol-relative) http, https and ftp URLs and `www.` names.
fn href_host(href: &str) -> Option<String> {
    let href = href.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let lower_prefix = href
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| href.to_ascii_lowercase());
    let rest = if let Some(scheme_len) = ["https:", "http:", "ftp:"]
        .iter()
        .find(|s| lower_prefix.starts_with(**s))
        .map(|s| s.len())
    {
        &href[scheme_len..]
    } else if href.starts_with("//") {
        href
    } else if lower_prefix.starts_with("www.") {
        return host_named_by(href.split(['/', '?', '#']).next().unwrap_or(href));
    } else {
        return None;
    };
    // Browsers accept any number of slashes and backslashes here.
    let rest = rest.trim_start_matches(['/', '\\']);
    let end = rest
        .find(|c: char| matches!(c, '/' | '?' | '#' | '\\') || c.is_whitespace())
        .unwrap_or(rest.len());
    host_from_authority(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(html: &str) -> (String, String, Rendered) {
        let mut visible = Sink::new(1 << 20, true);
        let mut hidden = Sink::new(1 << 20, true);
        let r = render(html, &mut visible, &mut hidden, 100);
        (visible.out, hidden.out, r)
    }

    #[test]
    fn markup_scripts_and_styles_are_dropped_and_blocks_break_lines() {
        let (text, hidden, _) = run(
            "<html><head><title>T</title><style>p{color:red}</style><script>var a='<b>';</script></head>\
             <body><p>Caf&eacute;  &amp;\n th<b>&#233;</b></p><div>next</div> 1 &lt; 2 <3</body></html>",
        );
        assert_eq!(text, "Café & thé\nnext\n1 < 2 <3\n");
        assert_eq!(hidden, "");
    }

    #[test]
    fn hidden_text_is_kept_apart() {
        let (text, hidden, _) = run(
            "<p>shown</p><div style=\"display: none\">poison words</div>\
             <span style='font-size:0px'>tiny</span><font color=\"#FFFFFF\">white</font>\
             <table><tr><td bgcolor=\"#000000\"><font color=\"white\">readable</font></td></tr></table>\
             <td style=\"background:url(x.png)\"><font color=\"#fff\">on image</font></td>\
             <p hidden>attr</p><p style=\"color:#000;background-color:#010101\">dark</p>",
        );
        assert_eq!(text, "shown\nreadable\non image\n");
        assert_eq!(hidden, "poison words\ntinywhite\nattr\ndark\n");
    }

    #[test]
    fn links_give_href_and_text_hosts() {
        let (_, _, r) = run("<a href=\"http://evil.example/login\">www.bank.com</a> \
             <a href='HTTPS://Shop.Example'>Shop now</a><a href=\"mailto:a@b.c\">mail</a>\
             <a href=\"&#104;ttp://x.example\">https://x.example/</a><img src=\"//img.example/p.gif\"><img>");
        let links: Vec<_> = r
            .links
            .iter()
            .map(|l| (l.href_host.as_deref(), l.text_host.as_deref()))
            .collect();
        assert_eq!(
            links,
            [
                (Some("evil.example"), Some("www.bank.com")),
                (Some("shop.example"), None),
                (None, None),
                (Some("x.example"), Some("x.example")),
            ]
        );
        assert!(r.links[0].text_names_other_host());
        assert!(!r.links[3].text_names_other_host());
        assert_eq!(r.images, 2);
        assert_eq!(
            r.hosts,
            ["evil.example", "shop.example", "x.example", "img.example"]
        );
    }

    #[test]
    fn broken_markup_ends_without_looping() {
        for html in [
            "<",
            "<a",
            "<a href=\"x",
            "<!--",
            "<script>",
            "<p style='display:none'",
            "&",
            "&#",
            "<b></",
        ] {
            run(html);
        }
        let deep = "<div style=\"display:none\">".repeat(10_000) + "x";
        let (_, hidden, _) = run(&deep);
        assert_eq!(hidden.trim(), "x");
    }
}
