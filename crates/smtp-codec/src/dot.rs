//! The DATA decoder (RFC 5321 4.5.2): dot-unstuffing and the end marker.
//!
//! The end of DATA is `CRLF . CRLF` and nothing else. A bare LF never ends a
//! line for this purpose: `LF . LF` or `LF . CRLF` are message content. This is
//! what stops SMTP smuggling, where a second message hides inside the first
//! behind a terminator that only some servers honour. Written as an explicit
//! byte state machine so every transition can be read and fuzzed.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// At the start of a line (after CRLF, or the first byte).
    LineStart,
    /// A line began with '.'.
    Dot,
    /// A line was "." then CR.
    DotCr,
    Middle,
    /// CR seen inside a line.
    Cr,
}

/// The DATA decoder as an explicit byte state machine.
pub struct DotDecoder {
    state: State,
    out: Vec<u8>,
}

impl Default for DotDecoder {
    fn default() -> Self {
        DotDecoder {
            state: State::LineStart,
            out: Vec::with_capacity(16 * 1024),
        }
    }
}

impl DotDecoder {
    /// Decodes `input`; returns how many bytes were used and whether the end
    /// marker was reached (bytes after it belong to the next command).
    pub fn decode(&mut self, input: &[u8]) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            self.state = match self.state {
                State::LineStart => match b {
                    b'.' => State::Dot,
                    b'\r' => State::Cr,
                    _ => {
                        self.out.push(b);
                        State::Middle
                    }
                },
                State::Dot => match b {
                    b'\r' => State::DotCr,
                    // The leading dot was stuffing: drop it, keep the byte.
                    _ => self.middle(b),
                },
                State::DotCr => match b {
                    b'\n' => {
                        self.state = State::LineStart;
                        return (i + 1, true);
                    }
                    _ => {
                        // ".\r" then something else: the CR is content.
                        self.out.push(b'\r');
                        self.middle(b)
                    }
                },
                State::Middle => self.middle(b),
                State::Cr => match b {
                    b'\n' => {
                        self.out.extend_from_slice(b"\r\n");
                        State::LineStart
                    }
                    _ => {
                        self.out.push(b'\r');
                        self.middle(b)
                    }
                },
            };
        }
        (input.len(), false)
    }

    fn middle(&mut self, b: u8) -> State {
        if b == b'\r' {
            State::Cr
        } else {
            self.out.push(b);
            State::Middle
        }
    }

    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<u8>, Option<usize>) {
        let mut d = DotDecoder::default();
        let (used, done) = d.decode(input);
        (d.take(), done.then_some(used))
    }

    #[test]
    fn a_stuffed_dot_is_unstuffed_and_crlf_dot_crlf_ends_the_body() {
        let (out, end) = decode_all(b"Subject: x\r\n\r\n..hidden\r\n.\r\nQUIT\r\n");
        assert_eq!(out, b"Subject: x\r\n\r\n.hidden\r\n");
        assert_eq!(end, Some(b"Subject: x\r\n\r\n..hidden\r\n.\r\n".len()));
    }

    #[test]
    fn bare_lf_dot_sequences_do_not_end_the_body() {
        for smuggle in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\n.\r\nb\r\n",
            b"a\r\n.\nb\r\n",
        ] {
            let (_, end) = decode_all(smuggle);
            assert_eq!(end, None, "{:?}", String::from_utf8_lossy(smuggle));
        }
    }

    #[test]
    fn the_decoder_resumes_across_reads_split_anywhere() {
        let input = b"l1\r\n..l2\r\nl3\r\n.\r\n";
        for split in 0..input.len() {
            let mut d = DotDecoder::default();
            let (_, done1) = d.decode(&input[..split]);
            assert!(!done1);
            let (_, done2) = d.decode(&input[split..]);
            assert!(done2, "split at {split}");
            assert_eq!(d.take(), b"l1\r\n.l2\r\nl3\r\n");
        }
    }

    #[test]
    fn an_empty_body_is_just_the_marker() {
        assert_eq!(decode_all(b".\r\n"), (vec![], Some(3)));
    }
}
