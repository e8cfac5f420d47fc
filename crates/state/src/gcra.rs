//! The generic cell rate algorithm: a rate limit without fixed buckets.
//!
//! Each key remembers one number, its theoretical arrival time (TAT): when
//! the next request would be on schedule if requests came exactly at the
//! rate. A request of cost `c` moves the TAT `c` emission intervals
//! (`per / count`) forward; it is allowed if the new TAT is no further ahead
//! of now than the burst allows (`burst` intervals). A refused request moves
//! nothing. So `count = 10, per = 1m, burst = 10` lets 10 messages through at
//! once and then one every 6 seconds: there is no window edge where a second
//! batch of 10 would be let through, as fixed per-minute buckets do.
//!
//! Times are microseconds since the Unix epoch. The same arithmetic fits in
//! a Redis Lua script (one `GET`, one `SET PX`), which the Redis
//! implementation of [`crate::State`] will run.

use std::time::Duration;

/// A rate: `count` units per `per`, with bursts of up to `burst` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub per: Duration,
    /// The most units let through at once after a quiet period; at least 1.
    pub burst: u64,
}

impl Rate {
    /// `count` per `per`, with a burst of `count` (an idle sender may send
    /// its whole allowance at once).
    pub fn new(count: u64, per: Duration) -> Rate {
        Rate {
            count,
            per,
            burst: count,
        }
    }

    /// Microseconds that `units` take at this rate (rounded up, so a tiny
    /// cost still counts).
    pub(crate) fn span_us(&self, units: u64) -> i64 {
        let per = self.per.as_micros();
        let count = u128::from(self.count.max(1));
        let us = (u128::from(units) * per).div_ceil(count);
        i64::try_from(us).unwrap_or(i64::MAX)
    }
}

/// The answer to one rate-limited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateAnswer {
    pub allowed: bool,
    /// When refused: how long until the same request would be allowed
    /// (`None` if never: its cost exceeds the burst). Zero when allowed.
    pub retry_after: Option<Duration>,
}

/// One GCRA step: the answer and the TAT to store (`None`: store nothing).
pub(crate) fn step(
    tat: Option<i64>,
    now: i64,
    rate: &Rate,
    cost: u64,
) -> (RateAnswer, Option<i64>) {
    let tolerance = rate.span_us(rate.burst.max(1));
    let increment = rate.span_us(cost);
    if increment > tolerance {
        let never = RateAnswer {
            allowed: false,
            retry_after: None,
        };
        return (never, None);
    }
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(increment);
    let allow_at = new_tat - tolerance;
    if now < allow_at {
        let wait = Duration::from_micros(u64::try_from(allow_at - now).unwrap_or(u64::MAX));
        let denied = RateAnswer {
            allowed: false,
            retry_after: Some(wait),
        };
        return (denied, None);
    }
    let allowed = RateAnswer {
        allowed: true,
        retry_after: Some(Duration::ZERO),
    };
    (allowed, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000;

    /// Runs requests of cost 1 at `times` (seconds) and returns those allowed.
    fn run(rate: &Rate, times: &[f64]) -> Vec<f64> {
        let mut tat = None;
        let mut allowed = Vec::new();
        for &t in times {
            let now = (t * SEC as f64) as i64;
            let (answer, new_tat) = step(tat, now, rate, 1);
            if answer.allowed {
                allowed.push(t);
                tat = new_tat;
            }
        }
        allowed
    }

    #[test]
    fn ten_a_minute_lets_ten_through_at_once_then_one_every_six_seconds() {
        let rate = Rate::new(10, Duration::from_secs(60));
        let mut tat = None;
        for i in 0..10 {
            let (a, t) = step(tat, 1000 * SEC, &rate, 1);
            assert!(a.allowed, "message {}", i + 1);
            tat = t;
        }
        let (a, _) = step(tat, 1000 * SEC, &rate, 1);
        assert!(!a.allowed, "the 11th in the same instant");
        assert_eq!(a.retry_after, Some(Duration::from_secs(6)));
        let (a, _) = step(tat, 1006 * SEC, &rate, 1);
        assert!(a.allowed, "six seconds later");
    }

    #[test]
    fn a_gcra_never_lets_twice_the_rate_through_at_a_window_boundary() {
        let rate = Rate::new(10, Duration::from_secs(60));
        // The fixed-bucket attack: a full batch just before a minute ends
        // and another just after it begins.
        let mut times: Vec<f64> = (0..10).map(|i| 59.5 + f64::from(i) * 0.01).collect();
        times.extend((0..10).map(|i| 60.0 + f64::from(i) * 0.01));
        assert_eq!(run(&rate, &times).len(), 10);
        // A steady flood, one request every 100 ms for five minutes: no
        // 60-second window holds twice the rate.
        let flood: Vec<f64> = (0..3000).map(|i| f64::from(i) * 0.1).collect();
        let allowed = run(&rate, &flood);
        for (i, start) in allowed.iter().enumerate() {
            let in_window = allowed[i..]
                .iter()
                .take_while(|t| **t < start + 60.0)
                .count();
            assert!(
                in_window < 20,
                "{in_window} allowed in the minute from {start}s"
            );
        }
        assert!(allowed.len() <= 10 + 300 / 6 + 1, "{}", allowed.len());
    }

    #[test]
    fn a_refused_request_costs_nothing_and_a_cost_above_the_burst_never_passes() {
        let rate = Rate::new(100, Duration::from_secs(60));
        let (a, t) = step(None, 0, &rate, 100);
        assert!(a.allowed);
        let (a, none) = step(t, 0, &rate, 50);
        assert!(!a.allowed && none.is_none());
        assert_eq!(a.retry_after, Some(Duration::from_secs(30)));
        let (a, _) = step(None, 0, &rate, 101);
        assert_eq!(
            a,
            RateAnswer {
                allowed: false,
                retry_after: None
            }
        );
    }

    #[test]
    fn byte_rates_keep_their_precision() {
        // 100 MiB an hour: one interval is about 34 us.
        let rate = Rate::new(100 << 20, Duration::from_secs(3600));
        let (a, t) = step(None, 0, &rate, 1 << 20);
        assert!(a.allowed);
        assert_eq!(t, Some(36 * SEC));
    }
}
