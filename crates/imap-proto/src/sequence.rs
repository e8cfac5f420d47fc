//! Sequence sets (`1,3:5,7:*`, `$`) as the client sent them, resolved against
//! the mailbox by the session; and the compressed formatting of UID lists for
//! COPYUID, ESEARCH, VANISHED and MODIFIED.

use std::fmt;
use std::ops::RangeInclusive;

use crate::error::ParseError;
use crate::lexer::{Cursor, PResult};

/// One end of a range: a number, or `*` (the largest number in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    Star,
}

impl SeqNum {
    /// The number, with `*` standing for `max`.
    pub fn resolve(self, max: u32) -> u32 {
        match self {
            SeqNum::Value(n) => n,
            SeqNum::Star => max,
        }
    }
}

/// `a`, `a:b` or `a:*` as sent; `b` may be smaller than `a` (`5:2` is `2:5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub start: SeqNum,
    pub end: SeqNum,
}

impl SeqRange {
    /// The range in ascending order with `*` resolved to `max`.
    pub fn resolve(&self, max: u32) -> RangeInclusive<u32> {
        let (a, b) = (self.start.resolve(max), self.end.resolve(max));
        a.min(b)..=a.max(b)
    }
}

/// A `sequence-set` as sent, or `$` (RFC 5182: the result saved by
/// `SEARCH RETURN (SAVE)`, which the session keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Saved,
    Ranges(Vec<SeqRange>),
}

impl SequenceSet {
    pub fn is_saved(&self) -> bool {
        matches!(self, SequenceSet::Saved)
    }

    /// Whether any range mentions `*`.
    pub fn has_star(&self) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(r) => r
                .iter()
                .any(|r| r.start == SeqNum::Star || r.end == SeqNum::Star),
        }
    }

    /// The largest explicit number (not `*`): a sequence number beyond the
    /// mailbox size makes the command a BAD (RFC 9051 6.4.*).
    pub fn max_explicit(&self) -> Option<u32> {
        match self {
            SequenceSet::Saved => None,
            SequenceSet::Ranges(r) => r
                .iter()
                .flat_map(|r| [r.start, r.end])
                .filter_map(|n| match n {
                    SeqNum::Value(v) => Some(v),
                    SeqNum::Star => None,
                })
                .max(),
        }
    }

    /// The set with `*` as `max` (the message count, or the highest UID in
    /// use): sorted, merged ranges. `None` for `$`, which the session
    /// substitutes itself. Numbers that do not exist stay in the set: for
    /// UIDs intersect with the mailbox, for sequence numbers check
    /// [`Self::max_explicit`] first (with an empty mailbox pass `max` 0:
    /// `1:*` then resolves to `0:1`, matching nothing real).
    pub fn resolve(&self, max: u32) -> Option<RangeSet> {
        match self {
            SequenceSet::Saved => None,
            SequenceSet::Ranges(r) => Some(r.iter().map(|r| r.resolve(max)).collect()),
        }
    }

    /// Whether `n` is in the set with `*` as `max` (false for `$`).
    pub fn contains(&self, n: u32, max: u32) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(r) => r.iter().any(|r| r.resolve(max).contains(&n)),
        }
    }

    pub(crate) fn parse(c: &mut Cursor<'_>) -> PResult<SequenceSet> {
        if c.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let start = seq_num(c)?;
            let end = if c.eat(b':') { seq_num(c)? } else { start };
            ranges.push(SeqRange { start, end });
            if !c.eat(b',') {
                break;
            }
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// Parses a sequence set on its own (`"1:3,7:*"`).
    pub fn parse_str(s: &str) -> Result<SequenceSet, ParseError> {
        let mut c = Cursor::new(s.as_bytes());
        let set = SequenceSet::parse(&mut c)?;
        if !c.rest().is_empty() {
            return Err(ParseError::syntax("bad sequence set"));
        }
        Ok(set)
    }
}

fn seq_num(c: &mut Cursor<'_>) -> PResult<SeqNum> {
    if c.eat(b'*') {
        Ok(SeqNum::Star)
    } else if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.nz_number()
            .map(SeqNum::Value)
            .map_err(|_| ParseError::syntax("bad sequence number"))
    } else {
        Err(ParseError::syntax("expected a sequence set"))
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNum::Value(n) => write!(f, "{n}"),
            SeqNum::Star => f.write_str("*"),
        }
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceSet::Saved => f.write_str("$"),
            SequenceSet::Ranges(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if r.start == r.end {
                        write!(f, "{}", r.start)?;
                    } else {
                        write!(f, "{}:{}", r.start, r.end)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A set of numbers as sorted, disjoint, non-adjacent inclusive ranges.
/// `Display` gives the IMAP form (`1:3,5,9:12`); empty displays as nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet(Vec<RangeInclusive<u32>>);

impl RangeSet {
    pub fn new() -> RangeSet {
        RangeSet(Vec::new())
    }

    pub fn ranges(&self) -> &[RangeInclusive<u32>] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many numbers the set holds.
    pub fn count(&self) -> u64 {
        self.0
            .iter()
            .map(|r| u64::from(*r.end()) - u64::from(*r.start()) + 1)
            .sum()
    }

    pub fn contains(&self, n: u32) -> bool {
        let i = self.0.partition_point(|r| *r.end() < n);
        self.0.get(i).is_some_and(|r| r.contains(&n))
    }

    pub fn first(&self) -> Option<u32> {
        self.0.first().map(|r| *r.start())
    }

    pub fn last(&self) -> Option<u32> {
        self.0.last().map(|r| *r.end())
    }

    /// Every number, ascending. Mind that `1:*` over UIDs can be billions:
    /// intersect with the UIDs that exist rather than iterate blindly.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flat_map(|r| r.clone())
    }

    /// Adds a range, keeping the set sorted and merged.
    pub fn insert_range(&mut self, range: RangeInclusive<u32>) {
        let (mut lo, mut hi) = (*range.start(), *range.end());
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        // First range that could touch [lo, hi]: its end + 1 >= lo.
        let i = self.0.partition_point(|r| r.end().saturating_add(1) < lo);
        let mut j = i;
        while j < self.0.len() && *self.0[j].start() <= hi.saturating_add(1) {
            lo = lo.min(*self.0[j].start());
            hi = hi.max(*self.0[j].end());
            j += 1;
        }
        self.0.splice(i..j, std::iter::once(lo..=hi));
    }

    pub fn insert(&mut self, n: u32) {
        self.insert_range(n..=n);
    }
}

impl FromIterator<RangeInclusive<u32>> for RangeSet {
    fn from_iter<I: IntoIterator<Item = RangeInclusive<u32>>>(iter: I) -> RangeSet {
        let mut ranges: Vec<(u32, u32)> = iter
            .into_iter()
            .map(|r| {
                let (a, b) = (*r.start(), *r.end());
                (a.min(b), a.max(b))
            })
            .collect();
        ranges.sort_unstable();
        let mut out: Vec<RangeInclusive<u32>> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            if let Some(last) = out.last_mut()
                && a <= last.end().saturating_add(1)
            {
                if b > *last.end() {
                    *last = *last.start()..=b;
                }
                continue;
            }
            out.push(a..=b);
        }
        RangeSet(out)
    }
}

impl FromIterator<u32> for RangeSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> RangeSet {
        iter.into_iter().map(|n| n..=n).collect()
    }
}

impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if r.start() == r.end() {
                write!(f, "{}", r.start())?;
            } else {
                write!(f, "{}:{}", r.start(), r.end())?;
            }
        }
        Ok(())
    }
}

/// Formats numbers in the order given, joining ascending runs of consecutive
/// values into `a:b` (`[3,4,5,9,7,8]` -> `3:5,9,7:8`). COPYUID needs this:
/// its source and destination sets must pair up element by element, so they
/// must not be re-sorted. For an unordered set use [`RangeSet`].
pub fn compress_in_order(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && end.checked_add(1) == Some(numbers[i + 1]) {
            end = numbers[i + 1];
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}
