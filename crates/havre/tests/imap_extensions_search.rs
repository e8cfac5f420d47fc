//! IMAP extensions for reading and finding mail, seen by real clients
//! (Python's imaplib, raw commands through it) against the real binary:
//! PREVIEW (RFC 8970), SORT=DISPLAY (RFC 5957), PARTIAL (RFC 9394).

use havre_testkit::Havre;
use havre_testkit::imap::{imaplib, lines_with};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// What these scenarios add to `havre_testkit::imap::IMAPLIB_PRELUDE`.
const EXTRA: &str = r#"
def message(headers, body):
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()

"#;

fn imap(node: &Havre, script: &str) -> String {
    imaplib(node, &format!("{EXTRA}\n{script}"))
}

#[test]
fn a_client_gets_the_preview_of_a_message_another_session_appended() {
    let node = node();
    let out = imap(
        &node,
        r#"
writer = connect()
writer.append("INBOX", None, None, message(
    ["From: Bob <bob@example.test>", "Subject: lunch", "MIME-Version: 1.0",
     "Content-Type: multipart/alternative; boundary=b"],
    "--b\r\nContent-Type: text/html\r\n\r\n<html><head><style>p {color: red}</style></head>"
    "<body><p>Lunch&nbsp;at <b>noon</b>?</p></body></html>\r\n--b--\r\n"))
writer.append("INBOX", None, None, message(["Subject: quoted"],
    "> what you said\r\n> before\r\nAgreed,\r\n  see   you\r\n" + "x" * 400 + "\r\n"))
writer.append("INBOX", None, None, message(
    ["Subject: a picture", "MIME-Version: 1.0", "Content-Type: image/png",
     "Content-Transfer-Encoding: base64"], "iVBORw0KGgo=\r\n"))
reader = connect()
for l in raw(reader, "CAPABILITY"): print("cap:", l)
reader.select("INBOX")
for l in raw(reader, "FETCH 1:3 (PREVIEW)"): print("first:", l)
for l in raw(reader, "UID FETCH 1 (PREVIEW (LAZY) FLAGS)"): print("lazy:", l)
for l in raw(reader, "FETCH 1 (PREVIEW (EAGER))"): print("unknown:", l)
writer.select("INBOX")
for l in raw(writer, "FETCH 1:3 (PREVIEW)"): print("again:", l)
"#,
    );
    assert!(
        lines_with(&out, "cap: * CAPABILITY")
            .iter()
            .any(|l| l.split(' ').any(|c| c == "PREVIEW")),
        "{out}"
    );
    let first = lines_with(&out, "first: * ");
    assert_eq!(
        first,
        [
            r#"first: * 1 FETCH (PREVIEW "Lunch at noon?")"#.to_string(),
            format!(
                r#"first: * 2 FETCH (PREVIEW "Agreed, see you {}")"#,
                "x".repeat(256 - "Agreed, see you ".len())
            ),
            r#"first: * 3 FETCH (PREVIEW "")"#.to_string(),
        ],
        "{out}"
    );
    // LAZY may answer NIL for a preview not computed yet; havre always has it.
    let lazy = lines_with(&out, "lazy: * 1 FETCH (UID 1 ");
    assert!(
        lazy.len() == 1 && lazy[0].contains(r#" PREVIEW "Lunch at noon?""#),
        "{out}"
    );
    assert!(
        lines_with(&out, "unknown: ")
            .last()
            .is_some_and(|l| l.contains(" BAD ")),
        "{out}"
    );
    // The second session reads the cached analysis: the same previews.
    let again: Vec<String> = lines_with(&out, "again: * ")
        .iter()
        .map(|l| l.replacen("again:", "first:", 1))
        .collect();
    assert_eq!(again, first, "{out}");
}

#[test]
fn sort_displayfrom_orders_by_the_name_a_reader_sees() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
# By mailbox: zed, amy, bob. By what a reader sees: "Anna Zed",
# "bob@example.test", "Carla Amy" (an encoded-word).
m.append("INBOX", None, None, message(
    ["From: Anna Zed <zed@example.test>", "To: Yves <bob@example.test>", "Subject: 1"], "one\r\n"))
m.append("INBOX", None, None, message(
    ["From: =?utf-8?q?Carla_Amy?= <amy@example.test>", "To: xavier@example.test", "Subject: 2"], "two\r\n"))
m.append("INBOX", None, None, message(
    ["From: bob@example.test", "To: Walt <amy@example.test>", "Subject: 3"], "three\r\n"))
for l in raw(m, "CAPABILITY"): print("cap:", l)
m.select("INBOX")
for key in ["FROM", "DISPLAYFROM", "REVERSE DISPLAYFROM", "DISPLAYTO"]:
    typ, data = m.sort("(%s)" % key, "UTF-8", "ALL")
    print(key, "->", typ, data[0].decode())
for l in raw(m, "UID SORT RETURN (ALL) (DISPLAYFROM) UTF-8 ALL"): print("esort:", l)
"#,
    );
    assert!(
        lines_with(&out, "cap: * CAPABILITY")
            .iter()
            .any(|l| l.split(' ').any(|c| c == "SORT=DISPLAY")),
        "{out}"
    );
    let answer = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} -> ")))
            .unwrap_or_else(|| panic!("no answer to {key}: {out}"))
            .to_string()
    };
    assert_eq!(answer("FROM"), "OK 2 3 1", "{out}");
    assert_eq!(answer("DISPLAYFROM"), "OK 1 3 2", "{out}");
    assert_eq!(answer("REVERSE DISPLAYFROM"), "OK 2 3 1", "{out}");
    // Walt, xavier@example.test, Yves.
    assert_eq!(answer("DISPLAYTO"), "OK 3 2 1", "{out}");
    assert!(
        out.contains("esort: * ESEARCH (TAG ") && out.contains(" UID ALL 1,3,2"),
        "{out}"
    );
}

#[test]
fn a_client_pages_through_search_results_with_partial() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
for i in range(1, 13):
    m.append("INBOX", None, None, message(["Subject: page %d" % i], "body %d\r\n" % i))
other = connect()
other.select("INBOX")
other.store("2,5", "+FLAGS", "\\Deleted")
m.select("INBOX")
for l in raw(m, "CAPABILITY"): print("cap:", l)
for line in ["UID SEARCH RETURN (PARTIAL 1:4) UNDELETED",
             "UID SEARCH RETURN (PARTIAL 5:8 COUNT) UNDELETED",
             "UID SEARCH RETURN (PARTIAL -1:-3) UNDELETED",
             "SEARCH RETURN (PARTIAL 20:30) ALL",
             "UID SORT RETURN (PARTIAL -1:-2) (REVERSE SUBJECT) UTF-8 UNDELETED",
             "UID SEARCH RETURN (SAVE PARTIAL 1:2) UNDELETED",
             "UID FETCH $ (UID)",
             "SEARCH RETURN (ALL PARTIAL 1:5) ALL",
             "SEARCH RETURN (PARTIAL 1:-5) ALL"]:
    for l in raw(m, line): print(line, "=>", l)
"#,
    );
    assert!(
        lines_with(&out, "cap: * CAPABILITY")
            .iter()
            .any(|l| l.split(' ').any(|c| c == "PARTIAL")),
        "{out}"
    );
    let esearch = |line: &str| -> String {
        let prefix = format!("{line} => * ESEARCH (TAG ");
        let found = out
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no ESEARCH for {line}: {out}"));
        found.split_once(") ").expect("tag closes").1.to_string()
    };
    // Undeleted UIDs: 1 3 4 6 7 8 9 10 11 12 (2 and 5 deleted by the other session).
    assert_eq!(
        esearch("UID SEARCH RETURN (PARTIAL 1:4) UNDELETED"),
        "UID PARTIAL (1:4 1,3:4,6)"
    );
    assert_eq!(
        esearch("UID SEARCH RETURN (PARTIAL 5:8 COUNT) UNDELETED"),
        "UID COUNT 10 PARTIAL (5:8 7:10)"
    );
    assert_eq!(
        esearch("UID SEARCH RETURN (PARTIAL -1:-3) UNDELETED"),
        "UID PARTIAL (-1:-3 10:12)"
    );
    assert_eq!(
        esearch("SEARCH RETURN (PARTIAL 20:30) ALL"),
        "PARTIAL (20:30 NIL)"
    );
    // Subjects sort as text ("page 1" < "page 10" < ... < "page 9"), so
    // reversed the last two are "page 10" and "page 1", in that order.
    assert_eq!(
        esearch("UID SORT RETURN (PARTIAL -1:-2) (REVERSE SUBJECT) UTF-8 UNDELETED"),
        "UID PARTIAL (-1:-2 10,1)"
    );
    // SAVE keeps the page, not every match.
    let fetched = lines_with(&out, "UID FETCH $ (UID) => * ");
    assert_eq!(
        fetched,
        [
            "UID FETCH $ (UID) => * 1 FETCH (UID 1)",
            "UID FETCH $ (UID) => * 3 FETCH (UID 3)"
        ],
        "{out}"
    );
    for bad in [
        "SEARCH RETURN (ALL PARTIAL 1:5) ALL",
        "SEARCH RETURN (PARTIAL 1:-5) ALL",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{bad} => ")) && l.contains(" BAD ")),
            "{bad}: {out}"
        );
    }
}

#[test]
fn after_compress_deflate_the_session_talks_raw_deflate_both_ways() {
    let node = node();
    let out = imap(
        &node,
        r#"
import zlib
m = connect()
for l in raw(m, "CAPABILITY"): print("cap:", l)
body = "".join("line %d of a long message\r\n" % i for i in range(3000))
m.append("INBOX", None, None, message(["Subject: big"], body))
for l in raw(m, "COMPRESS DEFLATE"): print("compress:", l)
sock = m.sock
deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
inflate = zlib.decompressobj(-15)
wire = {"sent": 0, "received": 0}
pending = b""
def send(line):
    data = deflate.compress(line.encode() + b"\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH)
    wire["sent"] += len(data)
    sock.sendall(data)
def lines_until(tag):
    global pending
    out = []
    while True:
        while b"\r\n" in pending:
            line, pending = pending.split(b"\r\n", 1)
            m_ = line.decode(errors="replace")
            out.append(m_)
            if m_.startswith(tag + " "):
                return out
            if m_.endswith("}") and "{" in m_:
                size = int(m_[m_.rindex("{") + 1:-1])
                while len(pending) < size:
                    chunk = sock.recv(65536)
                    if not chunk: raise SystemExit("closed")
                    wire["received"] += len(chunk)
                    pending += inflate.decompress(chunk)
                out.append("literal of %d octets, %d lines" % (size, pending[:size].count(b"\n")))
                pending = pending[size:]
        chunk = sock.recv(65536)
        if not chunk:
            out.append("connection closed")
            return out
        wire["received"] += len(chunk)
        pending += inflate.decompress(chunk)
send("c1 SELECT INBOX")
for l in lines_until("c1"): print("select:", l)
send("c2 FETCH 1 (BODY.PEEK[TEXT])")
for l in lines_until("c2"): print("fetch:", l)
send("c3 COMPRESS DEFLATE")
for l in lines_until("c3"): print("again:", l)
send("c4 LOGOUT")
for l in lines_until("c4"): print("logout:", l)
print("octets on the wire for the FETCH's", len(body), "octets:", wire["received"])
"#,
    );
    assert!(
        lines_with(&out, "cap: * CAPABILITY")
            .iter()
            .any(|l| l.split(' ').any(|c| c == "COMPRESS=DEFLATE")),
        "{out}"
    );
    assert!(
        lines_with(&out, "compress: ")
            .last()
            .is_some_and(|l| l.contains(" OK ")),
        "{out}"
    );
    assert!(
        lines_with(&out, "select: ")
            .last()
            .is_some_and(|l| l.starts_with("select: c1 OK")),
        "{out}"
    );
    assert!(
        out.contains("fetch: literal of 85890 octets, 3000 lines") && out.contains("fetch: c2 OK"),
        "{out}"
    );
    // RFC 4978 3: a second COMPRESS gets NO [COMPRESSIONACTIVE], and the
    // session goes on.
    assert!(out.contains("again: c3 NO [COMPRESSIONACTIVE]"), "{out}");
    assert!(out.contains("logout: c4 OK"), "{out}");
    let on_wire: usize = out
        .lines()
        .find_map(|l| l.rsplit_once("octets: "))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("no wire count: {out}"));
    assert!(
        on_wire < 85_890 / 4,
        "compressed to {on_wire} octets: {out}"
    );
}
