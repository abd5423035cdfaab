//! The pages of a parameter sweep (ranked table, parameter heatmap) and of a walk-forward
//! optimisation (windows, in-sample against out-of-sample, stitched out-of-sample equity).
//!
//! The data types mirror the sweep's files (`sweep.csv`, `walk_forward.csv`,
//! `walk_forward_equity.csv`) so the CLI fills them from what it writes; metric names are the
//! `summary.json` keys, which also decide how values are shown (percent, money, ratio...).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::axis::{Fmt, min_max};
use super::charts::{Bars, Heat, Line, Style, bar_chart, heatmap, time_chart};
use super::format::{NS_PER_DAY, escape, number, unit_of, value};
use super::page::Page;
use super::svg::{BLUE, PALETTE, diverging};
use super::tables::{stamp, table};
use crate::analysis::{Series, Unit};

/// Most sweep rows listed; sweep.csv has them all.
const MAX_SWEEP_ROWS: usize = 1000;

/// A parameter sweep as its page shows it: rows best first, as in `sweep.csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The config's name.
    pub title: String,
    /// The ranking as written in the config: a metric name, with a leading `-` when lower is
    /// better (e.g. `sharpe`, `-max_drawdown`).
    pub rank_by: String,
    /// The swept config keys, e.g. `strategy.params.fast`.
    pub parameters: Vec<String>,
    /// The metric columns, as `summary.json` keys.
    pub metrics: Vec<String>,
    /// One row per parameter set, best first.
    pub rows: Vec<SweepRow>,
    /// The parameter along the heatmap's x axis; no heatmap unless both axes are set.
    pub heatmap_x: Option<String>,
    /// The parameter along the heatmap's y axis.
    pub heatmap_y: Option<String>,
    /// The metric coloured in the heatmap; `None`: the ranking metric.
    pub heatmap_metric: Option<String>,
    /// Remarks shown under the title.
    pub notes: Vec<String>,
}

/// One parameter set of a sweep and its figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// One value per [`SweepReport::parameters`], as text.
    pub parameters: Vec<String>,
    /// One value per [`SweepReport::metrics`]; `None` when undefined (NaN in `sweep.csv`).
    pub metrics: Vec<Option<f64>>,
}

/// A walk-forward optimisation as its page shows it, from `walk_forward.csv` and
/// `walk_forward_equity.csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardReport {
    /// The config's name.
    pub title: String,
    /// The metric compared in and out of sample, as a `summary.json` key (the ranking metric).
    pub metric: String,
    /// One entry per window, in time order.
    pub windows: Vec<WalkForwardWindow>,
    /// The out-of-sample equity of every window, stitched end to end.
    pub equity: Series,
    /// Remarks shown under the title.
    pub notes: Vec<String>,
}

/// One in-sample / out-of-sample pair of a walk-forward optimisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardWindow {
    /// First in-sample instant, UTC nanoseconds.
    pub train_start: i64,
    /// Last in-sample instant.
    pub train_end: i64,
    /// First out-of-sample instant.
    pub test_start: i64,
    /// Last out-of-sample instant.
    pub test_end: i64,
    /// The parameters chosen in sample, as text (e.g. `fast=10, slow=50`).
    pub parameters: String,
    /// The metric of the chosen parameters in sample.
    pub in_sample: Option<f64>,
    /// The metric of the chosen parameters on the following out-of-sample window.
    pub out_of_sample: Option<f64>,
}

/// Returns the sweep page: the ranked table (sortable, at most 1,000 rows) and, when
/// [`SweepReport::heatmap_x`] and [`SweepReport::heatmap_y`] are set, a heatmap of the metric
/// over those two parameters.
pub fn render_sweep(s: &SweepReport) -> String {
    let subtitle = format!(
        "{} parameter sets, ranked by {}",
        number(s.rows.len() as f64, 0),
        s.rank_by
    );
    let mut page = Page::new(&s.title, &subtitle, &s.notes);
    if let (Some(x), Some(y)) = (&s.heatmap_x, &s.heatmap_y) {
        page.section("heatmap", "Parameter heatmap", &sweep_heatmap(s, x, y));
    }
    let header: Vec<&str> = ["Rank"]
        .into_iter()
        .chain(s.parameters.iter().map(String::as_str))
        .chain(s.metrics.iter().map(String::as_str))
        .collect();
    let shown = &s.rows[..s.rows.len().min(MAX_SWEEP_ROWS)];
    let rows = shown.iter().enumerate().map(|(k, r)| {
        let metrics = s
            .metrics
            .iter()
            .enumerate()
            .map(|(m, name)| value(r.metrics.get(m).copied().flatten(), unit_of(name)));
        [(k + 1).to_string()]
            .into_iter()
            .chain(r.parameters.iter().cloned())
            .chain(metrics)
            .collect()
    });
    let mut body = format!(
        "<p class=\"note\">Click a column header to sort.</p><div class=\"scroll\">{}</div>",
        table("sortable", &header, rows)
    );
    if shown.len() < s.rows.len() {
        let _ = write!(
            body,
            "<p class=\"note\">Showing the best {} of {} parameter sets; sweep.csv has them \
             all.</p>",
            number(shown.len() as f64, 0),
            number(s.rows.len() as f64, 0)
        );
    }
    page.section("ranking", "Ranking", &body);
    page.finish()
}

/// Returns the heatmap of the metric over parameters `x` and `y`: the best row of each pair
/// (rows come best first), blank where no row has it.
fn sweep_heatmap(s: &SweepReport, x: &str, y: &str) -> String {
    let ranked = s.rank_by.trim_start_matches('-');
    let metric = s.heatmap_metric.as_deref().unwrap_or(ranked);
    let title = format!("{metric} by {x} and {y}");
    let find = |list: &[String], name: &str| list.iter().position(|p| p == name);
    let (Some(xi), Some(yi), Some(mi)) = (
        find(&s.parameters, x),
        find(&s.parameters, y),
        find(&s.metrics, metric),
    ) else {
        let why = format!("The sweep has no parameter {x} or {y}, or no metric {metric}.");
        return heatmap(("sweep_heatmap", &title, &why), Vec::new(), Vec::new(), &[]);
    };
    let mut best: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for r in &s.rows {
        let (Some(px), Some(py)) = (r.parameters.get(xi), r.parameters.get(yi)) else {
            continue;
        };
        if let Some(v) = r
            .metrics
            .get(mi)
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
        {
            best.entry((px.as_str(), py.as_str())).or_insert(v);
        }
    }
    let xs = distinct(best.keys().map(|k| k.0));
    // Higher y values at the top, as on a plotted axis.
    let ys: Vec<&str> = distinct(best.keys().map(|k| k.1))
        .into_iter()
        .rev()
        .collect();
    // Green is better: around 0 when values straddle it, else around the middle of their range.
    let (lo, hi) = min_max(best.values().copied()).unwrap_or((0.0, 0.0));
    let centre = if lo < 0.0 && hi > 0.0 {
        0.0
    } else {
        (lo + hi) / 2.0
    };
    let scale = (hi - centre).abs().max((lo - centre).abs());
    let sign = if s.rank_by.starts_with('-') && metric == ranked {
        -1.0
    } else {
        1.0
    };
    let unit = unit_of(metric);
    let cells: Vec<Vec<Option<Heat>>> = ys
        .iter()
        .map(|py| {
            xs.iter()
                .map(|px| {
                    best.get(&(*px, *py)).map(|&v| Heat {
                        fill: diverging(sign * (v - centre), scale),
                        text: value(Some(v), unit),
                        bold: false,
                    })
                })
                .collect()
        })
        .collect();
    let mut html = format!(
        "<p class=\"note\">Columns: {}; rows: {}. Greener is better.",
        escape(x),
        escape(y)
    );
    if s.parameters.len() > 2 {
        html.push_str(" Each cell shows the best run over the other parameters.");
    }
    html.push_str("</p>");
    let why = "No run has a value for this metric.";
    html + &heatmap(
        ("sweep_heatmap", &title, why),
        xs.iter().map(|v| v.to_string()).collect(),
        ys.iter().map(|v| v.to_string()).collect(),
        &cells,
    )
}

/// Returns the distinct values, numerically sorted when all are numbers, else as text.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = values.collect();
    let numeric = out.iter().all(|v| v.parse::<f64>().is_ok());
    if numeric {
        out.sort_by(|a, b| {
            let (a, b) = (a.parse::<f64>(), b.parse::<f64>());
            a.unwrap_or(0.0).total_cmp(&b.unwrap_or(0.0))
        });
    } else {
        out.sort_unstable();
    }
    out.dedup();
    out
}

/// Returns the walk-forward page: windows with their chosen parameters, the metric in and out of
/// sample per window, and the stitched out-of-sample equity.
pub fn render_walk_forward(w: &WalkForwardReport) -> String {
    let unit = unit_of(&w.metric);
    let mean = |f: fn(&WalkForwardWindow) -> Option<f64>| {
        let v: Vec<f64> = w
            .windows
            .iter()
            .filter_map(f)
            .filter(|v| v.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let subtitle = format!(
        "{} windows; {}: in sample {} on average, out of sample {}",
        w.windows.len(),
        w.metric,
        value(mean(|x| x.in_sample), unit),
        value(mean(|x| x.out_of_sample), unit)
    );
    let mut page = Page::new(&w.title, &subtitle, &w.notes);
    let intraday = w
        .windows
        .iter()
        .flat_map(|x| [x.train_start, x.train_end, x.test_start, x.test_end])
        .any(|t| t.rem_euclid(NS_PER_DAY) != 0);
    let span = |a: i64, b: i64| format!("{} to {}", stamp(a, intraday), stamp(b, intraday));
    let rows = w.windows.iter().enumerate().map(|(k, x)| {
        vec![
            (k + 1).to_string(),
            span(x.train_start, x.train_end),
            span(x.test_start, x.test_end),
            x.parameters.clone(),
            value(x.in_sample, unit),
            value(x.out_of_sample, unit),
        ]
    });
    let in_label = format!("In sample {}", w.metric);
    let out_label = format!("Out of sample {}", w.metric);
    let header = [
        "Window",
        "Train",
        "Test",
        "Parameters",
        &in_label,
        &out_label,
    ];
    let title = format!("{} in and out of sample, per window", w.metric);
    let scores = bar_chart(Bars {
        name: "walk_forward_scores",
        title: &title,
        why_empty: "No window has a value for this metric.",
        labels: (1..=w.windows.len()).map(|k| k.to_string()).collect(),
        series: vec![
            (
                "In sample",
                BLUE,
                w.windows.iter().map(|x| x.in_sample).collect(),
            ),
            (
                "Out of sample",
                PALETTE[1],
                w.windows.iter().map(|x| x.out_of_sample).collect(),
            ),
        ],
        fmt: if unit == Unit::Percent {
            Fmt::Percent
        } else {
            Fmt::Number
        },
        horizontal: false,
        value_text: None,
    });
    let equity = time_chart(
        "walk_forward_equity",
        "Out-of-sample equity, windows stitched end to end",
        "No out-of-sample equity.",
        &[Line::new("Out of sample", &w.equity, BLUE)],
        Style::LINES,
    );
    page.section("oos", "In sample and out of sample", &(scores + &equity));
    let body = format!(
        "<div class=\"scroll\">{}</div>",
        table("plain", &header, rows)
    );
    page.section("windows", "Windows", &body);
    page.finish()
}
