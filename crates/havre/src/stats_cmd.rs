//! `havre stats [--range day|week|month|year]`: the graphs of `/stats` in
//! the terminal, a line per counter with its totals and a sparkline.

use std::path::PathBuf;

use anyhow::bail;
use chrono::{Local, TimeZone};
use havre_events::series::{Counter, Range, Series};
use serde_json::{Map, Value, json};

use crate::locate;
use crate::report_cmd::events_db;

/// Columns of a sparkline.
const WIDTH: usize = 60;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub(crate) async fn run(config: Option<PathBuf>, range: String, json: bool) -> anyhow::Result<()> {
    let Some(range) = Range::parse(&range) else {
        bail!("--range {range:?}: expected day, week, month or year");
    };
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    let db = events_db(&loaded).await?;
    let now = Local::now().timestamp();
    let series = db.series(range, now).await?;
    let node = &loaded.config.server.hostname;
    if json {
        println!("{}", serde_json::to_string_pretty(&as_json(node, &series))?);
    } else {
        print!("{}", text(node, &series));
    }
    Ok(())
}

fn text(node: &str, series: &Series) -> String {
    let range = series.range;
    let step = match range.step() {
        s if s % 3600 == 0 => format!("{}-hour", s / 3600),
        s => format!("{}-minute", s / 60),
    };
    let time = |second: i64| {
        Local.timestamp_opt(second, 0).earliest().map_or_else(
            || second.to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let (from, until) = match (series.points.first(), series.points.last()) {
        (Some(first), Some(last)) => (first.start, last.start + range.step()),
        _ => (0, 0),
    };
    let mut out = format!(
        "Mail graphs of {node}, last {} ({step} steps, {} to {})\n{:<11}{:>9}{:>10}{:>10}  per minute, oldest on the left\n",
        range.as_str(),
        time(from),
        time(until),
        "",
        "total",
        "avg/min",
        "max/min",
    );
    for counter in Counter::ALL {
        out.push_str(&format!(
            "{:<11}{:>9}{:>10.2}{:>10.2}  {}\n",
            counter.as_str(),
            series.total(counter),
            series.average_per_minute(counter),
            series.max_per_minute(counter),
            sparkline(series, counter)
        ));
    }
    out
}

/// The counter over the range in [`WIDTH`] columns, each the sum of its
/// steps, scaled to the highest column: a space where nothing happened.
fn sparkline(series: &Series, counter: Counter) -> String {
    let per_column = series.points.len().div_ceil(WIDTH).max(1);
    let columns: Vec<u64> = series
        .points
        .chunks(per_column)
        .map(|chunk| chunk.iter().map(|p| p.get(counter)).sum())
        .collect();
    let top = columns.iter().copied().max().unwrap_or(0);
    columns
        .iter()
        .map(|&n| match n {
            0 => ' ',
            n => BARS[((n * BARS.len() as u64).div_ceil(top) as usize).clamp(1, BARS.len()) - 1],
        })
        .collect()
}

fn as_json(node: &str, series: &Series) -> Value {
    let counts = |get: &dyn Fn(Counter) -> u64| -> Map<String, Value> {
        Counter::ALL
            .into_iter()
            .map(|c| (c.as_str().to_string(), Value::from(get(c))))
            .collect()
    };
    let points: Vec<Value> = series
        .points
        .iter()
        .map(|p| {
            let mut row = counts(&|c| p.get(c));
            row.insert("start".into(), Value::from(p.start));
            Value::Object(row)
        })
        .collect();
    json!({
        "node": node,
        "range": series.range.as_str(),
        "step_seconds": series.range.step(),
        "totals": counts(&|c| series.total(c)),
        "points": points,
    })
}

#[cfg(test)]
mod tests {
    use havre_events::series::{Counts, Point};

    use super::*;

    #[test]
    fn a_sparkline_is_as_wide_as_asked_and_blank_where_nothing_happened() {
        let points = (0..1440)
            .map(|i| {
                let mut counts = Counts::default();
                counts[0] = if i >= 1416 { 5 } else { 0 };
                counts[1] = 1;
                Point {
                    start: i * 60,
                    counts,
                }
            })
            .collect();
        let series = Series {
            range: Range::Day,
            points,
        };
        let sent = sparkline(&series, Counter::Sent);
        assert_eq!(sent.chars().count(), WIDTH);
        assert_eq!(sent.trim_end(), format!("{}█", " ".repeat(WIDTH - 1)));
        assert_eq!(sparkline(&series, Counter::Received), "█".repeat(WIDTH));
        let text = text("mx1", &series);
        assert!(
            text.contains("sent             120      0.08      5.00"),
            "{text}"
        );
    }
}
