//! `/stats`: Mailgraph's page. For each range (day, week, month, year) two
//! graphs of messages per minute, sent and received, then what was
//! refused or found (rejected, bounced, greylisted, spam, virus), drawn as
//! SVG inside the HTML, so the page reads without JavaScript and without
//! a second request.

use std::fmt::Write;

use havre_events::escape_html;
use havre_events::series::{Counter, Range, Series};
use plotters::prelude::*;

/// How a counter is drawn: Mailgraph's colours, an area or a line.
struct Style {
    counter: Counter,
    color: RGBColor,
    area: bool,
}

const TRAFFIC: &[Style] = &[
    Style {
        counter: Counter::Sent,
        color: RGBColor(0x00, 0x00, 0x99),
        area: true,
    },
    Style {
        counter: Counter::Received,
        color: RGBColor(0x00, 0x99, 0x00),
        area: false,
    },
];

const REFUSED: &[Style] = &[
    Style {
        counter: Counter::Rejected,
        color: RGBColor(0xAA, 0x00, 0x00),
        area: true,
    },
    Style {
        counter: Counter::Spam,
        color: RGBColor(0x99, 0x99, 0x99),
        area: true,
    },
    Style {
        counter: Counter::Virus,
        color: RGBColor(0xDD, 0xBB, 0x00),
        area: true,
    },
    Style {
        counter: Counter::Bounced,
        color: RGBColor(0x00, 0x00, 0x00),
        area: false,
    },
    Style {
        counter: Counter::Greylisted,
        color: RGBColor(0xE0, 0x70, 0x00),
        area: false,
    },
];

const WIDTH: u32 = 760;
const HEIGHT: u32 = 220;

/// The whole page for the node `name`: each range's graphs, or why a
/// range cannot be drawn (a corrupted series, events off), in its place.
pub(crate) fn page(name: &str, ranges: &[(Range, Result<Series, String>)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"300\">\
         <title>Mail statistics for {name}</title>\
         <style>body{{font-family:sans-serif;margin:1em 2em;color:#222}}\
         h2{{margin-top:1.5em;border-bottom:1px solid #ccc}}\
         table{{border-collapse:collapse;margin:.3em 0 1em}}\
         td,th{{padding:.1em .8em;text-align:right}}th:first-child,td:first-child{{text-align:left}}\
         .swatch{{display:inline-block;width:.8em;height:.8em;margin-right:.4em}}\
         .error{{color:#a00;font-weight:bold}}</style></head><body>\n\
         <h1>Mail statistics for {name}</h1>\n",
        name = escape_html(name)
    );
    for (range, series) in ranges {
        let _ = writeln!(out, "<h2 id=\"{r}\">Last {r}</h2>", r = range.as_str());
        match series {
            Ok(series) => {
                for (title, styles) in [
                    ("Sent and received", TRAFFIC),
                    ("Rejected, spam, virus, bounced and greylisted", REFUSED),
                ] {
                    match graph(series, styles, title) {
                        Ok(svg) => {
                            let _ = writeln!(
                                out,
                                "<figure>{svg}<figcaption>{}</figcaption></figure>",
                                legend(series, styles)
                            );
                        }
                        Err(why) => {
                            let _ = writeln!(out, "<p class=\"error\">{}</p>", escape_html(&why));
                        }
                    }
                }
            }
            Err(why) => {
                let _ = writeln!(out, "<p class=\"error\">{}</p>", escape_html(why));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// One graph of `styles`' counters over the series, as an `<svg>` element.
fn graph(series: &Series, styles: &[Style], title: &str) -> Result<String, String> {
    let range = series.range;
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return Err(format!("the {} graph has no steps", range.as_str()));
    };
    let (from, until) = (first.start, last.start + range.step());
    let top = series
        .points
        .iter()
        .flat_map(|p| styles.iter().map(|s| series.per_minute(p, s.counter)))
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    // Labels as precise as the scale: 0.04 steps need two decimals.
    let decimals = match top {
        t if t >= 10.0 => 0,
        t if t >= 1.0 => 1,
        _ => 2,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let failed = |e: &dyn std::fmt::Display| format!("the {} graph: {e}", range.as_str());
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(54)
            .build_cartesian_2d(from..until, 0.0..top)
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
            .x_labels(8)
            .x_label_formatter(&|t| time_label(*t, range))
            .y_labels(5)
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .y_desc("msgs/min")
            .draw()
            .map_err(|e| failed(&e))?;
        for style in styles {
            let points = series
                .points
                .iter()
                .map(|p| (p.start, series.per_minute(p, style.counter)));
            if style.area {
                chart
                    .draw_series(
                        AreaSeries::new(points, 0.0, style.color.mix(0.55))
                            .border_style(style.color),
                    )
                    .map_err(|e| failed(&e))?;
            } else {
                chart
                    .draw_series(LineSeries::new(points, style.color.stroke_width(2)))
                    .map_err(|e| failed(&e))?;
            }
        }
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

/// The totals under a graph: each counter's colour, total, average and
/// highest rate.
fn legend(series: &Series, styles: &[Style]) -> String {
    let mut out = String::from(
        "<table><tr><th></th><th>total</th><th>average /min</th><th>max /min</th></tr>",
    );
    for style in styles {
        let total = series.total(style.counter);
        let max = series.max_per_minute(style.counter);
        let RGBColor(r, g, b) = style.color;
        let _ = write!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{name}</td>\
             <td>{total}</td><td>{avg:.2}</td><td>{max:.2}</td></tr>",
            name = style.counter.as_str(),
            avg = series.average_per_minute(style.counter),
        );
    }
    out.push_str("</table>");
    out
}

/// A time on the x axis, in the node's local time, as precise as the
/// range needs.
fn time_label(second: i64, range: Range) -> String {
    use chrono::{Local, TimeZone};
    let Some(t) = Local.timestamp_opt(second, 0).earliest() else {
        return String::new();
    };
    let format = match range {
        Range::Day => "%H:%M",
        Range::Week => "%a %d",
        Range::Month => "%d %b",
        Range::Year => "%b %Y",
    };
    t.format(format).to_string()
}

#[cfg(test)]
mod tests {
    use havre_events::series::{Counts, Point};

    use super::*;

    fn day_with(sent_per_minute: &[u64]) -> Series {
        let range = Range::Day;
        let points = (0..range.slots())
            .map(|i| {
                let mut counts = Counts::default();
                counts[0] = sent_per_minute.get(i as usize).copied().unwrap_or(0);
                Point {
                    start: 1_800_000_000 + i * 60,
                    counts,
                }
            })
            .collect();
        Series { range, points }
    }

    #[test]
    fn each_range_has_its_two_graphs_and_their_totals() {
        let page = page(
            "mx1.example.test",
            &[(Range::Day, Ok(day_with(&[3, 4, 0, 9])))],
        );
        assert_eq!(page.matches("<svg").count(), 2, "{page}");
        assert!(page.contains("Mail statistics for mx1.example.test"));
        assert!(page.contains(">sent</td><td>16</td>"), "{page}");
        assert!(page.contains("msgs/min"));
        assert!(!page.contains("<script"), "no JavaScript");
    }

    #[test]
    fn a_range_that_cannot_be_read_says_why_and_the_others_are_drawn() {
        let page = page(
            "mx1",
            &[
                (Range::Day, Ok(day_with(&[1]))),
                (
                    Range::Week,
                    Err("the week graph's series is corrupted: slot 5".into()),
                ),
            ],
        );
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(
            page.contains("<p class=\"error\">the week graph's series is corrupted: slot 5</p>"),
            "{page}"
        );
    }
}
