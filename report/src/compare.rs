//! The comparison page: several runs side by side (metrics, equity scaled to a common start,
//! drawdowns, yearly returns).

use std::fmt::Write;

use super::axis::Fmt;
use super::charts::{Bars, Line, Style, bar_chart, time_chart, yearly};
use super::format::{escape, percent, value};
use super::page::Page;
use super::svg::{PALETTE, points};
use super::tables::groups;
use crate::analysis::{Analysis, Metric, Series};

/// Returns a page comparing `runs`: a metrics table with one column per run, equity of each run
/// scaled to 1.0 at its start, drawdowns and yearly returns overlaid, then a section per run
/// with its yearly returns (linked from the top). Runs are numbered in the given order.
pub fn render_comparison(runs: &[Analysis]) -> String {
    let names: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(k, a)| format!("{}. {}", k + 1, a.title))
        .collect();
    let color = |k: usize| PALETTE[k % PALETTE.len()];
    let mut notes: Vec<String> = runs
        .iter()
        .zip(&names)
        .flat_map(|(a, name)| a.notes.iter().map(move |n| format!("{name}: {n}")))
        .collect();
    if runs.is_empty() {
        notes.push("No runs to compare.".into());
    }
    if runs.len() > PALETTE.len() {
        notes.push(format!(
            "More runs than colours: run k and run k + {} share a colour.",
            PALETTE.len()
        ));
    }
    let title = format!("Comparison of {} runs", runs.len());
    let mut page = Page::new(&title, &names.join(" \u{b7} "), &notes);
    let mut links = vec![
        ("metrics".to_string(), "Metrics".to_string()),
        ("equity".into(), "Equity".into()),
    ];
    links.extend((0..runs.len()).map(|k| (format!("run-{}", k + 1), names[k].clone())));
    page.nav(&links);
    page.section("metrics", "Metrics", &metrics_table(runs, &names));

    let equity: Vec<Line<'_>> = runs
        .iter()
        .enumerate()
        .map(|(k, a)| Line {
            name: &names[k],
            points: normalised(&a.equity),
            color: color(k),
        })
        .collect();
    let underwater: Vec<Line<'_>> = runs
        .iter()
        .enumerate()
        .map(|(k, a)| Line::new(&names[k], &a.underwater, color(k)))
        .collect();
    let mut years: Vec<i32> = runs
        .iter()
        .flat_map(|a| a.yearly.iter().map(|y| y.0))
        .collect();
    years.sort_unstable();
    years.dedup();
    let yearly_bars = bar_chart(Bars {
        name: "compare_yearly",
        title: "Yearly returns",
        why_empty: "No yearly returns.",
        labels: years.iter().map(i32::to_string).collect(),
        series: runs
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let of = |y: &i32| a.yearly.iter().find(|r| r.0 == *y).map(|r| r.1);
                (names[k].as_str(), color(k), years.iter().map(of).collect())
            })
            .collect(),
        fmt: Fmt::Percent,
        horizontal: false,
        value_text: Some(|v| percent(v, 1)),
    });
    let body = time_chart(
        "compare_equity",
        "Equity, each run scaled to 1.0 at its start",
        "No equity recorded.",
        &equity,
        Style::LINES,
    ) + &time_chart(
        "compare_underwater",
        "Underwater: drawdown from the running peak",
        "No equity recorded.",
        &underwater,
        Style {
            fill: false,
            height: 240.0,
            ..Style::AREA
        },
    ) + &yearly_bars;
    page.section("equity", "Equity and drawdowns", &body);
    for (k, a) in runs.iter().enumerate() {
        let mut body = String::new();
        if !a.subtitle.trim().is_empty() {
            let _ = write!(body, "<p class=\"sub\">{}</p>", escape(&a.subtitle));
        }
        body.push_str(&yearly(
            &a.yearly,
            &[],
            &format!("Yearly returns of {}", names[k]),
        ));
        page.section(&format!("run-{}", k + 1), &names[k], &body);
    }
    page.finish()
}

/// Returns the metrics of every run, one column each, grouped as in the runs' tables.
fn metrics_table(runs: &[Analysis], names: &[String]) -> String {
    // The union of the runs' metrics, by key, in order of first appearance.
    let mut all: Vec<&Metric> = Vec::new();
    for m in runs.iter().flat_map(|a| &a.metrics) {
        if !all.iter().any(|x| x.key == m.key) {
            all.push(m);
        }
    }
    let mut html = String::from("<div class=\"scroll\"><table><thead><tr><th>Metric</th>");
    for name in names {
        let _ = write!(html, "<th scope=\"col\">{}</th>", escape(name));
    }
    html.push_str("</tr></thead><tbody>");
    for group in groups(all.iter().copied()) {
        let _ = write!(
            html,
            "<tr class=\"group\"><th colspan=\"{}\">{}</th></tr>",
            names.len() + 1,
            escape(group)
        );
        for m in all.iter().filter(|m| m.group == group) {
            let _ = write!(html, "<tr><th scope=\"row\">{}</th>", escape(&m.label));
            for a in runs {
                let found = a.metrics.iter().find(|x| x.key == m.key);
                let text = found.map_or_else(|| "n/a".into(), |x| value(x.value, x.unit));
                let class = if text.starts_with('-') {
                    " class=\"neg\""
                } else {
                    ""
                };
                let _ = write!(html, "<td{class}>{}</td>", escape(&text));
            }
            html.push_str("</tr>");
        }
    }
    html.push_str("</tbody></table></div>");
    html
}

/// Returns the points of `equity` scaled so its first value is 1.0; none when that value cannot
/// be divided by.
fn normalised(equity: &Series) -> Vec<(f64, f64)> {
    match equity.values.iter().find(|v| v.is_finite()) {
        Some(&first) if first > 0.0 => points(&equity.ts, &equity.values)
            .into_iter()
            .map(|(t, v)| (t, v / first))
            .collect(),
        _ => Vec::new(),
    }
}
