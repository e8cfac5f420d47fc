//! Streaming CRLF → LF conversion, with the two sizes Dovecot puts in the
//! file name. Dovecot stores messages with LF line endings (as every Unix
//! Maildir does), while SMTP delivers them with CRLF.
//!
//! The conversion is only right for pure CRLF text, which turning LFs back
//! into CRLF restores. A message with a bare LF (a `binary` part) or a CR
//! before a CRLF would come back changed, so the writer says so
//! ([`LfWriter::reversible`]) and the message is stored as received; the
//! reader tells the two kinds apart by the CRLFs only the second one has
//! (`havre_message::imap_form`).

use std::io::{self, Write};

/// Writes bytes to `inner`, turning each CRLF into LF. A CR that is not
/// followed by LF is kept. Because a CRLF may be split across two `write`
/// calls, a trailing CR is held back until the next byte (or `finish`).
pub(crate) struct LfWriter<W: Write> {
    inner: W,
    pending_cr: bool,
    /// Bytes written to `inner`: Dovecot's `S=`.
    size: u64,
    /// LFs written to `inner`: each counts twice in the CRLF size `W=`.
    lines: u64,
    buf: Vec<u8>,
    /// The last two input bytes, across writes.
    last: [u8; 2],
    /// Whether the input had a CRLF, and whether it had a bare LF or a CR
    /// before a CRLF (which LF form cannot tell apart from other text).
    saw_crlf: bool,
    irreversible: bool,
    /// Input bytes: the size of the message stored as received.
    input: u64,
}

impl<W: Write> LfWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        LfWriter {
            inner,
            pending_cr: false,
            size: 0,
            lines: 0,
            buf: Vec::new(),
            last: [0; 2],
            saw_crlf: false,
            irreversible: false,
            input: 0,
        }
    }

    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.input += data.len() as u64;
        for &b in data {
            if b == b'\n' {
                match self.last {
                    [b'\r', b'\r'] => self.irreversible = true,
                    [_, b'\r'] => self.saw_crlf = true,
                    _ => self.irreversible = true,
                }
            }
            self.last = [self.last[1], b];
            if std::mem::take(&mut self.pending_cr) && b != b'\n' {
                self.buf.push(b'\r');
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    self.lines += 1;
                    self.buf.push(b'\n');
                }
                b => self.buf.push(b),
            }
        }
        self.inner.write_all(&self.buf)?;
        self.size += self.buf.len() as u64;
        Ok(())
    }

    /// False when the LF form would not give back the message: it has a
    /// CRLF (so it is meant as CRLF text) and also a bare LF or a CR before
    /// a CRLF. Such a message must be stored as received, whose size, for
    /// both `S=` and `W=`, is [`LfWriter::input_size`].
    pub(crate) fn reversible(&self) -> bool {
        !(self.saw_crlf && self.irreversible)
    }

    pub(crate) fn input_size(&self) -> u64 {
        self.input
    }

    /// Writes a held-back final CR and returns the inner writer with
    /// `(size on disk, size with CRLF line endings)`.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64, u64)> {
        if self.pending_cr {
            self.inner.write_all(b"\r")?;
            self.size += 1;
        }
        Ok((self.inner, self.size, self.size + self.lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(chunks: &[&[u8]]) -> (Vec<u8>, u64, u64) {
        let mut w = LfWriter::new(Vec::new());
        for c in chunks {
            w.write_all(c).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn crlf_becomes_lf_and_lone_cr_stays() {
        let (out, s, w) = convert(&[b"a\r\nb\rc\r\r\n\n"]);
        assert_eq!(out, b"a\nb\rc\r\n\n");
        assert_eq!(s, out.len() as u64);
        // three LFs on disk, each CRLF in the RFC 822 size
        assert_eq!(w, s + 3);
    }

    #[test]
    fn a_crlf_split_across_writes_is_still_converted() {
        let (out, _, _) = convert(&[b"a\r", b"\nb\r", b"", b"\n"]);
        assert_eq!(out, b"a\nb\n");
    }

    fn reversible(chunks: &[&[u8]]) -> bool {
        let mut w = LfWriter::new(Vec::new());
        for c in chunks {
            w.write_all(c).unwrap();
        }
        w.reversible()
    }

    #[test]
    fn only_crlf_text_with_a_bare_lf_or_a_cr_before_crlf_must_be_stored_as_received() {
        assert!(reversible(&[b"a\r\nb\rc\r\n"]));
        // LF text (an LF-stored file being copied) comes back the same.
        assert!(reversible(&[b"a\nb\n"]));
        assert!(!reversible(&[b"a\r\n\r\n\x00\n\x01\r\n"]));
        assert!(!reversible(&[b"a\r\nb\r", b"\r\n"]));
        assert!(!reversible(&[b"a\r", b"\nb\n"]));
    }

    #[test]
    fn a_final_cr_is_kept() {
        let (out, s, w) = convert(&[b"a\r"]);
        assert_eq!(out, b"a\r");
        assert_eq!((s, w), (2, 2));
    }
}
