//! Mailgraph's graphs, kept as fixed-size round-robin series: for each
//! range (a day, a week, a month, a year) a fixed number of slots of one
//! step each, counting the messages sent, received, rejected, bounced,
//! greylisted, and found to be spam or a virus. A slot is found by its
//! time (`start / step % slots`), so a range never grows: a new step
//! overwrites the slot of the step that many slots ago, as an RRD file's
//! archive does.
//!
//! The writer adds each batch of events to every range in the batch's own
//! transaction; a graph reads one range's slots, which the database keeps
//! as at most a few thousand rows.

use serde::Serialize;

use crate::event::{Event, Kind};

/// What a graph counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Counter {
    /// Copies delivered: into a mailbox, or handed to another server.
    Sent,
    /// Messages taken into the queue.
    Received,
    Rejected,
    Bounced,
    Greylisted,
    Spam,
    Virus,
}

impl Counter {
    pub const ALL: [Counter; 7] = [
        Counter::Sent,
        Counter::Received,
        Counter::Rejected,
        Counter::Bounced,
        Counter::Greylisted,
        Counter::Spam,
        Counter::Virus,
    ];

    /// The column that keeps it, and its name in `havre stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Counter::Sent => "sent",
            Counter::Received => "received",
            Counter::Rejected => "rejected",
            Counter::Bounced => "bounced",
            Counter::Greylisted => "greylisted",
            Counter::Spam => "spam",
            Counter::Virus => "virus",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The counter an event moves, if any.
    pub fn of(kind: Kind) -> Option<Counter> {
        Some(match kind {
            Kind::Delivered => Counter::Sent,
            Kind::Accepted => Counter::Received,
            Kind::Reject => Counter::Rejected,
            Kind::Bounced => Counter::Bounced,
            Kind::Greylist => Counter::Greylisted,
            Kind::Spam => Counter::Spam,
            Kind::Virus => Counter::Virus,
            Kind::Connect | Kind::Deferred | Kind::Notice | Kind::Login | Kind::LoginFailed => {
                return None;
            }
        })
    }
}

/// A graph's time range, as Mailgraph draws them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Range {
    Day,
    Week,
    Month,
    Year,
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Day, Range::Week, Range::Month, Range::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "day",
            Range::Week => "week",
            Range::Month => "month",
            Range::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Seconds one slot covers.
    pub fn step(self) -> i64 {
        match self {
            Range::Day => 60,
            Range::Week => 10 * 60,
            Range::Month => 3600,
            Range::Year => 86_400,
        }
    }

    /// Slots the range keeps: its length over its step.
    pub fn slots(self) -> i64 {
        match self {
            Range::Day => 24 * 60,
            Range::Week => 7 * 24 * 6,
            Range::Month => 31 * 24,
            Range::Year => 366,
        }
    }

    /// The number the database keeps the range as.
    pub(crate) fn id(self) -> i64 {
        self as i64
    }

    /// The start (seconds since the epoch) of the step holding `second`.
    pub fn step_start(self, second: i64) -> i64 {
        second.div_euclid(self.step()) * self.step()
    }

    /// The slot of the step starting at `start`.
    pub(crate) fn slot(self, start: i64) -> i64 {
        (start / self.step()).rem_euclid(self.slots())
    }
}

/// The counts of one step.
pub type Counts = [u64; Counter::ALL.len()];

/// One step of a range: when it starts (seconds since the epoch) and
/// what it counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    pub start: i64,
    pub counts: Counts,
}

impl Point {
    pub fn get(&self, counter: Counter) -> u64 {
        self.counts[counter.index()]
    }
}

/// A range read back: one point per step, oldest first, ending with the
/// step that holds "now" (steps nothing happened in count zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    pub range: Range,
    pub points: Vec<Point>,
}

impl Series {
    /// The range ending at `now` (seconds), filled from the slots `rows`
    /// kept (`(slot, start, counts)`); a slot last written for an older
    /// step (the range has wrapped since) counts zero.
    pub(crate) fn assemble(
        range: Range,
        now: i64,
        rows: Vec<(i64, i64, Counts)>,
    ) -> Result<Series, SeriesError> {
        let last = range.step_start(now);
        let first = last - (range.slots() - 1) * range.step();
        let mut points: Vec<Point> = (0..range.slots())
            .map(|i| Point {
                start: first + i * range.step(),
                counts: Counts::default(),
            })
            .collect();
        for (slot, start, counts) in rows {
            if start % range.step() != 0 || range.slot(start) != slot {
                return Err(SeriesError {
                    range,
                    slot,
                    why: format!(
                        "its step starts at {start}, which is not slot {slot} of {}-second steps",
                        range.step()
                    ),
                });
            }
            if (first..=last).contains(&start) {
                points[((start - first) / range.step()) as usize].counts = counts;
            }
        }
        Ok(Series { range, points })
    }

    /// The total of `counter` over the range.
    pub fn total(&self, counter: Counter) -> u64 {
        self.points.iter().map(|p| p.get(counter)).sum()
    }

    /// `counter` at `point` as messages per minute (the graphs' unit).
    pub fn per_minute(&self, point: &Point, counter: Counter) -> f64 {
        point.get(counter) as f64 * 60.0 / self.range.step() as f64
    }

    /// The highest per-minute rate of `counter` over the range.
    pub fn max_per_minute(&self, counter: Counter) -> f64 {
        self.points
            .iter()
            .map(|p| self.per_minute(p, counter))
            .fold(0.0, f64::max)
    }

    /// The average per-minute rate of `counter` over the whole range.
    pub fn average_per_minute(&self, counter: Counter) -> f64 {
        let minutes = (self.points.len() as i64 * self.range.step()) as f64 / 60.0;
        if minutes > 0.0 {
            self.total(counter) as f64 / minutes
        } else {
            0.0
        }
    }
}

/// A slot that cannot be read as a step of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {range} graph's series is corrupted: slot {slot}: {why}", range = range.as_str())]
pub struct SeriesError {
    pub range: Range,
    pub slot: i64,
    pub why: String,
}

/// What a batch of events adds to the series: `(range, step start)` →
/// counts, few entries however many events.
pub(crate) fn tally(events: &[Event]) -> Vec<(Range, i64, Counts)> {
    let mut steps: Vec<(Range, i64, Counts)> = Vec::new();
    for event in events {
        let Some(counter) = Counter::of(event.kind) else {
            continue;
        };
        let second = event.at.div_euclid(1_000_000);
        for range in Range::ALL {
            let start = range.step_start(second);
            let at = match steps
                .iter()
                .position(|(r, s, _)| *r == range && *s == start)
            {
                Some(at) => at,
                None => {
                    steps.push((range, start, Counts::default()));
                    steps.len() - 1
                }
            };
            steps[at].2[counter.index()] += 1;
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64, kind: Kind) -> Event {
        let mut e = Event::new(kind, "test");
        e.at = second * 1_000_000;
        e
    }

    #[test]
    fn a_batch_adds_to_the_step_of_each_range_that_holds_it() {
        let day = 86_400 * 20_000;
        let tallied = tally(&[
            at(day + 5, Kind::Accepted),
            at(day + 59, Kind::Delivered),
            at(day + 61, Kind::Delivered),
            at(day + 62, Kind::Connect),
        ]);
        let of = |range: Range, start: i64| {
            tallied
                .iter()
                .find(|(r, s, _)| *r == range && *s == start)
                .map(|(_, _, c)| *c)
        };
        let minute = of(Range::Day, day).unwrap();
        assert_eq!(minute[Counter::Received.index()], 1);
        assert_eq!(minute[Counter::Sent.index()], 1);
        assert_eq!(of(Range::Day, day + 60).unwrap()[Counter::Sent.index()], 1);
        assert_eq!(of(Range::Year, day).unwrap()[Counter::Sent.index()], 2);
        // A connection moves no graph.
        assert_eq!(tallied.len(), 2 + 3);
    }

    #[test]
    fn a_range_ends_with_now_and_forgets_what_it_wrapped_over() {
        let now = 1_000_000_000;
        let range = Range::Day;
        let last = range.step_start(now);
        let mut counts = Counts::default();
        counts[0] = 7;
        let old = last - range.slots() * range.step();
        let series = Series::assemble(
            range,
            now,
            vec![
                (range.slot(last), last, counts),
                // The step a day and a minute earlier: wrapped over.
                (range.slot(old), old, counts),
            ],
        )
        .unwrap();
        assert_eq!(series.points.len(), 1440);
        assert_eq!(series.points.last().unwrap().start, last);
        assert_eq!(series.total(Counter::Sent), 7);
    }

    #[test]
    fn a_slot_that_does_not_match_its_time_is_named() {
        let err = Series::assemble(Range::Week, 0, vec![(3, 42, Counts::default())]).unwrap_err();
        assert_eq!(err.range, Range::Week);
        assert!(
            err.to_string()
                .contains("week graph's series is corrupted: slot 3"),
            "{err}"
        );
    }
}
