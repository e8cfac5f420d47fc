//! Request framing: bytes in, complete requests (or the first problem of a
//! malformed one) out.

use crate::Request;

/// Bounds on what one request may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one line, newline not counted. Postfix's own SMTP line
    /// limit is 2048 bytes, so no attribute it sends comes near it.
    pub line_length: usize,
    /// Attributes of one request; Postfix 3.7 sends about 30.
    pub attributes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            line_length: 2048,
            attributes: 100,
        }
    }
}

/// Why a request was not understood: the first problem met in it.
/// `line` counts from 1 within the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("line {line}: longer than {limit} bytes")]
    LineTooLong { line: usize, limit: usize },
    #[error("more than {limit} attributes")]
    TooManyAttributes { limit: usize },
    #[error("line {line}: not UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: no '=' (expected name=value)")]
    NoEquals { line: usize },
    #[error("line {line}: empty attribute name")]
    EmptyName { line: usize },
    /// A NUL (which Postfix's README forbids) or a CR that does not end
    /// the line.
    #[error("line {line}: NUL or CR inside the line")]
    ControlByte { line: usize },
}

/// What the decoder found at the end of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Request(Request),
    /// A request read to its empty line but not understood.
    Invalid(RequestError),
}

/// Reads requests from a stream of bytes given in pieces of any size.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    /// The line being read, without its newline, while within the limit.
    line: Vec<u8>,
    /// The line being read is longer than the limit: its bytes are dropped.
    line_too_long: bool,
    /// Complete lines of the request being read.
    lines: usize,
    request: Request,
    /// The first problem of the request being read; the rest of it, up to
    /// its empty line, is read without being kept.
    error: Option<RequestError>,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            line: Vec::new(),
            line_too_long: false,
            lines: 0,
            request: Request::new(),
            error: None,
        }
    }

    /// Whether part of a request has been read (a request has begun and
    /// its empty line has not come yet).
    pub fn in_request(&self) -> bool {
        self.lines > 0 || !self.line.is_empty() || self.line_too_long
    }

    /// Reads `input` up to the end of the first request that ends in it.
    /// Returns how many bytes were taken (all of them when no request
    /// ended) and that request; the caller gives the rest again.
    pub fn decode(&mut self, input: &[u8]) -> (usize, Option<Frame>) {
        let mut taken = 0;
        while taken < input.len() {
            let rest = &input[taken..];
            let newline = rest.iter().position(|&b| b == b'\n');
            let chunk = &rest[..newline.unwrap_or(rest.len())];
            taken += chunk.len();
            self.take(chunk);
            if newline.is_some() {
                taken += 1;
                if let Some(frame) = self.end_line() {
                    return (taken, Some(frame));
                }
            }
        }
        (taken, None)
    }

    /// Part of a line (without newline).
    fn take(&mut self, chunk: &[u8]) {
        if self.line_too_long {
            return;
        }
        if self.line.len() + chunk.len() > self.limits.line_length {
            self.line_too_long = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(chunk);
        }
    }

    /// A newline came: the line is complete; an empty one ends the request.
    fn end_line(&mut self) -> Option<Frame> {
        let mut line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.line_too_long) {
            self.lines += 1;
            let limit = self.limits.line_length;
            self.fail(RequestError::LineTooLong {
                line: self.lines,
                limit,
            });
            return None;
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return Some(self.finish());
        }
        self.lines += 1;
        if self.error.is_none() {
            self.parse(line);
        }
        None
    }

    fn parse(&mut self, line: Vec<u8>) {
        let n = self.lines;
        if line.iter().any(|&b| b == 0 || b == b'\r') {
            return self.fail(RequestError::ControlByte { line: n });
        }
        let Ok(text) = String::from_utf8(line) else {
            return self.fail(RequestError::NotUtf8 { line: n });
        };
        let Some((name, value)) = text.split_once('=') else {
            return self.fail(RequestError::NoEquals { line: n });
        };
        if name.is_empty() {
            return self.fail(RequestError::EmptyName { line: n });
        }
        if self.request.len() == self.limits.attributes {
            let limit = self.limits.attributes;
            return self.fail(RequestError::TooManyAttributes { limit });
        }
        self.request.push(name.to_owned(), value.to_owned());
    }

    /// Keeps the first problem; the attributes read so far are dropped.
    fn fail(&mut self, error: RequestError) {
        if self.error.is_none() {
            self.error = Some(error);
            self.request = Request::new();
        }
    }

    fn finish(&mut self) -> Frame {
        self.lines = 0;
        let request = std::mem::take(&mut self.request);
        match self.error.take() {
            Some(error) => Frame::Invalid(error),
            None => Frame::Request(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame in `input`, fed in pieces of `piece` bytes.
    fn frames(input: &[u8], piece: usize, limits: Limits) -> (Vec<Frame>, bool) {
        let mut d = Decoder::new(limits);
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            let mut at = 0;
            while at < chunk.len() {
                let (n, frame) = d.decode(&chunk[at..]);
                at += n;
                out.extend(frame);
            }
        }
        (out, d.in_request())
    }

    const POSTFIX_RCPT: &[u8] = b"request=smtpd_access_policy\nprotocol_state=RCPT\n\
protocol_name=ESMTP\nclient_address=192.0.2.7\nclient_name=unknown\nhelo_name=client.example\n\
sender=alice@example.org\nrecipient=bob@example.edu\nrecipient_count=0\nqueue_id=\n\
instance=1a2b.5f3e0c1d.0\nsize=0\nsasl_username=\n\n";

    #[test]
    fn requests_come_out_whole_however_the_bytes_are_cut() {
        let two = [
            POSTFIX_RCPT,
            b"request=smtpd_access_policy\r\nprotocol_state=END-OF-MESSAGE\r\n\r\n",
        ]
        .concat();
        for piece in [1, 2, 7, 64, two.len()] {
            let (out, pending) = frames(&two, piece, Limits::default());
            assert_eq!(out.len(), 2, "piece {piece}");
            let Frame::Request(first) = &out[0] else {
                panic!("{out:?}")
            };
            assert_eq!(first.get("recipient"), Some("bob@example.edu"));
            assert_eq!(first.get("queue_id"), Some(""));
            assert_eq!(first.len(), 13);
            let Frame::Request(second) = &out[1] else {
                panic!("{out:?}")
            };
            assert_eq!(
                second.get("protocol_state"),
                Some("END-OF-MESSAGE"),
                "a CR before the LF is dropped"
            );
            assert!(!pending);
        }
    }

    #[test]
    fn decode_stops_after_each_request_so_the_caller_answers_in_order() {
        let two = [POSTFIX_RCPT, POSTFIX_RCPT].concat();
        let mut d = Decoder::new(Limits::default());
        let (n, frame) = d.decode(&two);
        assert_eq!(n, POSTFIX_RCPT.len());
        assert!(matches!(frame, Some(Frame::Request(_))));
        let (n, frame) = d.decode(&two[n..]);
        assert_eq!(n, POSTFIX_RCPT.len());
        assert!(matches!(frame, Some(Frame::Request(_))));
    }

    #[test]
    fn a_malformed_request_is_read_to_its_empty_line_and_reported_once() {
        let cases: [(&[u8], RequestError); 6] = [
            (
                b"request=smtpd_access_policy\nthis is garbage\nsender=a@b\n\n",
                RequestError::NoEquals { line: 2 },
            ),
            (b"=value\n\n", RequestError::EmptyName { line: 1 }),
            (b"sender=\xff\xfe\n\n", RequestError::NotUtf8 { line: 1 }),
            (b"sender=a\0b\n\n", RequestError::ControlByte { line: 1 }),
            (
                b"x=1\nsender=a\rb\n\n",
                RequestError::ControlByte { line: 2 },
            ),
            (
                b"a=1\nb=2\nc=3\nd=4\n\n",
                RequestError::TooManyAttributes { limit: 3 },
            ),
        ];
        let limits = Limits {
            line_length: 2048,
            attributes: 3,
        };
        for (input, error) in cases {
            let then_good = [input, b"request=smtpd_access_policy\n\n"].concat();
            for piece in [1, then_good.len()] {
                let (out, _) = frames(&then_good, piece, limits);
                assert_eq!(
                    out,
                    [
                        Frame::Invalid(error.clone()),
                        Frame::Request(Request::new().with("request", "smtpd_access_policy"))
                    ],
                    "{input:?}"
                );
            }
        }
    }

    #[test]
    fn an_overlong_line_is_not_kept_and_costs_only_its_request() {
        let limits = Limits {
            line_length: 16,
            attributes: 100,
        };
        let mut input = b"sender=".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1_000_000));
        input.extend_from_slice(b"\nrecipient=b\n\nrequest=x\n\n");
        for piece in [1000, input.len()] {
            let mut d = Decoder::new(limits);
            let mut out = Vec::new();
            for chunk in input.chunks(piece) {
                let mut at = 0;
                while at < chunk.len() {
                    let (n, frame) = d.decode(&chunk[at..]);
                    at += n;
                    out.extend(frame);
                    assert!(d.line.len() <= 16, "never more than a line is kept");
                }
            }
            assert_eq!(
                out,
                [
                    Frame::Invalid(RequestError::LineTooLong { line: 1, limit: 16 }),
                    Frame::Request(Request::new().with("request", "x"))
                ]
            );
        }
        // Exactly at the limit is fine.
        let (out, _) = frames(b"sender=012345678\n\n", 3, limits);
        assert_eq!(
            out,
            [Frame::Request(Request::new().with("sender", "012345678"))]
        );
    }

    #[test]
    fn an_unfinished_request_is_pending_and_an_empty_one_has_no_attributes() {
        let (out, pending) = frames(
            b"request=smtpd_access_policy\nsender=a",
            4,
            Limits::default(),
        );
        assert!(out.is_empty());
        assert!(pending, "the server's request timeout applies");
        let (out, pending) = frames(b"\n", 1, Limits::default());
        assert_eq!(out, [Frame::Request(Request::new())]);
        assert!(!pending);
        assert!(!Decoder::new(Limits::default()).in_request());
    }

    #[test]
    fn a_value_may_hold_equals_signs_and_spaces() {
        let (out, _) = frames(b"ccert_subject=CN=a b, O=c\n\n", 5, Limits::default());
        assert_eq!(
            out,
            [Frame::Request(
                Request::new().with("ccert_subject", "CN=a b, O=c")
            )]
        );
    }
}
