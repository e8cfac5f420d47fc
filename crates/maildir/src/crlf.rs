//! Streaming CRLF → LF conversion, with the two sizes Dovecot puts in the
//! file name. Dovecot stores messages with LF line endings (as every Unix
//! Maildir does), while SMTP delivers them with CRLF.

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
}

impl<W: Write> LfWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        LfWriter {
            inner,
            pending_cr: false,
            size: 0,
            lines: 0,
            buf: Vec::new(),
        }
    }

    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.clear();
        for &b in data {
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

    #[test]
    fn a_final_cr_is_kept() {
        let (out, s, w) = convert(&[b"a\r"]);
        assert_eq!(out, b"a\r");
        assert_eq!((s, w), (2, 2));
    }
}
