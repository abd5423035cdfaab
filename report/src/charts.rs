//! The charts of the pages: three shapes (lines over time, bars per category, a heatmap of
//! cells) built on [`super::svg::Plot`], and the report's charts made from them.
//!
//! A chart without data is a placeholder (`svg.chart.empty`) that says why, never an empty
//! frame, so a browser check can require drawn content in every other chart.

use super::axis::{Axis, Fmt, min_max};
use super::format::{MONTHS, amount, number, percent};
use super::svg::{self, BLUE, Detail, GREEN, GREY, Plot, RED, Tip, diverging, empty, points};
use crate::analysis::{
    Analysis, Histogram, InstrumentRow, MonthlyRow, PositionSeries, PriceChart, Series,
};

/// Fill markers kept per side of a price chart; more are thinned evenly to bound the page size.
const MAX_MARKERS: usize = 1500;
/// Instruments shown in the attribution chart: the largest gains and losses, half each.
const MAX_BARS: usize = 40;
const INK: &str = "#374151";

/// One series of a chart over time.
pub(super) struct Line<'a> {
    /// Legend text.
    pub(super) name: &'a str,
    /// (UTC ns, value) points, downsampled.
    pub(super) points: Vec<(f64, f64)>,
    /// Stroke colour.
    pub(super) color: &'a str,
}

impl<'a> Line<'a> {
    /// Returns the line of `series`.
    pub(super) fn new(name: &'a str, series: &Series, color: &'a str) -> Self {
        Self {
            name,
            points: points(&series.ts, &series.values),
            color,
        }
    }
}

/// How a chart over time is scaled and drawn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    /// Tick labels of the value axis.
    pub(super) fmt: Fmt,
    /// Log value axis.
    pub(super) log: bool,
    /// Include 0 in the value axis and draw a dashed zero line.
    pub(super) zero: bool,
    /// Shade the area between each line and 0.
    pub(super) fill: bool,
    /// Height in SVG units.
    pub(super) height: f64,
}

impl Style {
    /// Plain lines on a linear axis, 320 units high.
    pub(super) const LINES: Self = Self {
        fmt: Fmt::Number,
        log: false,
        zero: false,
        fill: false,
        height: 320.0,
    };
    /// A shaded fraction with its zero line, 200 units high.
    pub(super) const AREA: Self = Self {
        fmt: Fmt::Percent,
        log: false,
        zero: true,
        fill: true,
        height: 200.0,
    };
}

/// Returns a chart of `lines` over time; the first line is drawn last, on top.
pub(super) fn time_chart(
    name: &'static str,
    title: &str,
    why_empty: &str,
    lines: &[Line<'_>],
    style: Style,
) -> String {
    time_plot(name, title, why_empty, lines, style).map_or_else(|empty| empty, Plot::finish)
}

/// Returns the plot of [`time_chart`], unfinished, or the placeholder when there is no data.
fn time_plot(
    name: &'static str,
    title: &str,
    why_empty: &str,
    lines: &[Line<'_>],
    style: Style,
) -> Result<Plot, String> {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let y = if style.log {
        Axis::log(all().map(|p| p.1), style.fmt)
    } else {
        Axis::value(all().map(|p| p.1), style.fmt, style.zero)
    };
    let (Some(x), Some(y)) = (Axis::time(all().map(|p| p.0 as i64)), y) else {
        return Err(empty(name, title, why_empty));
    };
    let mut plot = Plot::new(name, title, style.height, x, y);
    if lines.len() > 1 {
        // Runs without data stay out of the legend, as they draw nothing.
        let keys: Vec<(&str, &str)> = lines
            .iter()
            .filter(|l| !l.points.is_empty())
            .map(|l| (l.name, l.color))
            .collect();
        plot = plot.legend(&keys);
    }
    if style.zero {
        plot.rule(0.0);
    }
    for (k, line) in lines.iter().enumerate().rev() {
        if style.fill {
            plot.area(&line.points, 0.0, line.color);
        } else {
            plot.line(&line.points, line.color, line_width(k));
        }
    }
    Ok(plot)
}

/// Stroke width of line `k` of a chart over time: the first, the strategy's, stands out.
fn line_width(k: usize) -> f64 {
    if k == 0 { 1.6 } else { 1.2 }
}

/// Returns the detail series of `series` for a zoomable chart (see [`Plot::zoom`]).
fn detail<'a>(name: &'a str, series: &Series, color: &'a str, kind: char, k: usize) -> Detail<'a> {
    Detail {
        name,
        color,
        kind,
        width: line_width(k),
        points: svg::detail(&series.ts, &series.values),
    }
}

/// Tooltip values of equity and prices, as the tables print money.
const MONEY: Tip = Tip {
    text: |v| number(v, 2),
    unit: "",
    per: 1.0,
};

/// One series of an x-y chart: legend text, colour, (x, y) points joined in order.
pub(super) type XyLine<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// Returns a chart of `lines` over a numeric x axis (epochs, probabilities), with point
/// markers when `markers`, and the dashed diagonal y = x when `diagonal` (a reliability curve's
/// perfect calibration).
pub(super) fn xy_chart(
    (name, title, why_empty): (&'static str, &str, &str),
    lines: &[XyLine<'_>],
    (x_fmt, y_fmt): (Fmt, Fmt),
    markers: bool,
    diagonal: bool,
) -> String {
    let all = || {
        lines
            .iter()
            .flat_map(|l| l.2.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let extra = if diagonal { vec![0.0, 1.0] } else { Vec::new() };
    let x = Axis::value(all().map(|p| p.0).chain(extra.clone()), x_fmt, false);
    let y = Axis::value(all().map(|p| p.1).chain(extra), y_fmt, false);
    let (Some(x), Some(y)) = (x, y) else {
        return empty(name, title, why_empty);
    };
    let mut plot = Plot::new(name, title, 300.0, x, y);
    if lines.len() > 1 {
        let keys: Vec<(&str, &str)> = (lines.iter())
            .filter(|l| !l.2.is_empty())
            .map(|l| (l.0, l.1))
            .collect();
        plot = plot.legend(&keys);
    }
    if diagonal {
        plot.line(&[(0.0, 0.0), (1.0, 1.0)], GREY, 1.0);
    }
    for (_, color, points) in lines.iter().rev() {
        plot.line(points, color, 1.6);
        if markers {
            plot.markers(points, true, color);
        }
    }
    plot.finish()
}

/// A bar chart: one band per label, one bar per series in each band.
pub(super) struct Bars<'a> {
    /// The `data-chart` name.
    pub(super) name: &'static str,
    /// Accessible title.
    pub(super) title: &'a str,
    /// Placeholder text when there is nothing to draw.
    pub(super) why_empty: &'a str,
    /// One label per band.
    pub(super) labels: Vec<String>,
    /// (legend name, colour, one value per band); a single series is coloured by sign.
    pub(super) series: Vec<(&'a str, &'a str, Vec<Option<f64>>)>,
    /// Value axis labels.
    pub(super) fmt: Fmt,
    /// Bars grow right from a category axis on the left (else up from one at the bottom).
    pub(super) horizontal: bool,
    /// Text written at the end of each bar of a single series, when given.
    pub(super) value_text: Option<fn(f64) -> String>,
}

/// Returns the bar chart `b`.
pub(super) fn bar_chart(b: Bars<'_>) -> String {
    let values: Vec<f64> = b
        .series
        .iter()
        .flat_map(|s| s.2.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .collect();
    // Headroom beyond the longest bars for their value labels.
    let room = if b.horizontal { 1.45 } else { 1.15 };
    let axis = Axis::value(values.iter().map(|v| v * room), b.fmt, true);
    let Some(axis) = axis.filter(|_| !b.labels.is_empty()) else {
        return empty(b.name, b.title, b.why_empty);
    };
    let n = b.labels.len();
    let bands = Axis::Bands(b.labels);
    let mut plot = if b.horizontal {
        Plot::new(b.name, b.title, 60.0 + 22.0 * n as f64, axis, bands)
    } else {
        Plot::new(b.name, b.title, 260.0, bands, axis)
    };
    let single = b.series.len() == 1;
    if !single {
        let keys: Vec<(&str, &str)> = b
            .series
            .iter()
            .filter(|s| s.2.iter().flatten().any(|v| v.is_finite()))
            .map(|s| (s.0, s.1))
            .collect();
        plot = plot.legend(&keys);
    }
    plot.rule(0.0);
    for (k, (_, color, vals)) in b.series.iter().enumerate() {
        for (i, v) in vals.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite()) else {
                continue;
            };
            let color = match (single, v < 0.0) {
                (false, _) => color,
                (true, true) => RED,
                (true, false) => GREEN,
            };
            plot.bar(i, v, color, (k, b.series.len()));
            if let (true, Some(text)) = (single && (b.horizontal || n <= 40), b.value_text) {
                plot.bar_label(i, v, &text(v));
            }
        }
    }
    plot.finish()
}

/// One cell of a heatmap.
pub(super) struct Heat {
    /// Background colour.
    pub(super) fill: String,
    /// The value as text.
    pub(super) text: String,
    /// Bold text (totals).
    pub(super) bold: bool,
}

/// Returns a heatmap with `cols` x `rows` bands; `cells[row][col]`, blank when `None`.
pub(super) fn heatmap(
    (name, title, why_empty): (&'static str, &str, &str),
    cols: Vec<String>,
    rows: Vec<String>,
    cells: &[Vec<Option<Heat>>],
) -> String {
    if cells.iter().flatten().all(Option::is_none) || cols.is_empty() {
        return empty(name, title, why_empty);
    }
    let height = 50.0 + 24.0 * rows.len() as f64;
    let mut plot = Plot::new(name, title, height, Axis::Bands(cols), Axis::Bands(rows));
    for (j, row) in cells.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            if let Some(c) = cell {
                plot.cell((i, j), &c.fill, &c.text, c.bold);
            }
        }
    }
    plot.finish()
}

/// Equity and the benchmark, on a linear or a log axis; zoomable, the log chart drawing the
/// linear chart's embedded series.
pub(super) fn equity(a: &Analysis, log: bool) -> String {
    let mut lines = vec![Line::new("Strategy", &a.equity, BLUE)];
    let mut details = vec![detail("Strategy", &a.equity, BLUE, 'l', 0)];
    if let Some((name, series)) = &a.benchmark {
        lines.push(Line::new(name, series, GREY));
        details.push(detail(name, series, GREY, 'l', 1));
    }
    let (name, title) = if log {
        ("equity_log", "Equity, log scale")
    } else {
        ("equity", "Equity")
    };
    let style = Style {
        log,
        ..Style::LINES
    };
    let reuse = log.then_some("equity");
    time_plot(name, title, "No equity recorded.", &lines, style)
        .map_or_else(|e| e, |p| p.zoom(&details, MONEY, reuse).finish())
}

/// Drawdown from the running peak, shaded; zoomable.
pub(super) fn underwater(series: &Series) -> String {
    let lines = [Line::new("Drawdown", series, RED)];
    let title = "Underwater: drawdown from the running peak";
    // As the drawdown table prints it: a percentage with two decimals.
    let tip = Tip {
        text: |v| number(v * 100.0, 2),
        unit: "%",
        per: 100.0,
    };
    let details = [detail("Drawdown", series, RED, 'a', 0)];
    time_plot(
        "underwater",
        title,
        "No equity recorded.",
        &lines,
        Style::AREA,
    )
    .map_or_else(|e| e, |p| p.zoom(&details, tip, None).finish())
}

/// Rolling Sharpe ratio, rolling volatility and rolling beta, each with its zero line.
pub(super) fn rolling(a: &Analysis) -> [String; 3] {
    let (why, window) = match a.rolling_window {
        0 => (
            "No rolling figures for this run.".to_string(),
            String::new(),
        ),
        n => (
            format!("Fewer periods than the {n}-period rolling window."),
            format!(" ({n} periods)"),
        ),
    };
    let line_style = Style {
        zero: true,
        height: 200.0,
        ..Style::LINES
    };
    let sharpe = format!("Rolling Sharpe ratio{window}");
    let vol = format!("Rolling annualised volatility{window}");
    let beta = format!("Rolling beta against the benchmark{window}");
    let why_beta = if a.benchmark.is_none() {
        "No benchmark to measure beta against.".to_string()
    } else {
        format!("{why} Or the benchmark did not move within any window.")
    };
    [
        time_chart(
            "rolling_sharpe",
            &sharpe,
            &why,
            &[Line::new("Sharpe", &a.rolling_sharpe, BLUE)],
            line_style,
        ),
        time_chart(
            "rolling_volatility",
            &vol,
            &why,
            &[Line::new("Volatility", &a.rolling_volatility, BLUE)],
            Style {
                fmt: Fmt::Percent,
                ..line_style
            },
        ),
        time_chart(
            "rolling_beta",
            &beta,
            &why_beta,
            &[Line::new("Beta", &a.rolling_beta, BLUE)],
            line_style,
        ),
    ]
}

/// Net exposure as a share of equity.
pub(super) fn exposure(series: &Series) -> String {
    let lines = [Line::new("Exposure", series, BLUE)];
    let style = Style {
        height: 180.0,
        ..Style::AREA
    };
    let title = "Exposure: net position value over equity";
    time_chart("exposure", title, "No exposure recorded.", &lines, style)
}

/// Positions over time as fractions of equity: long, short, gross and net exposure, then the
/// share of equity in the five largest positions.
pub(super) fn positions(p: &PositionSeries) -> [String; 2] {
    let why = "No positions over time: the run's bars were not kept.";
    let lines = [
        Line::new("Net", &p.net, BLUE),
        Line::new("Long", &p.long, GREEN),
        Line::new("Short", &p.short, RED),
        Line::new("Gross (leverage)", &p.gross, GREY),
    ];
    let style = Style {
        fmt: Fmt::Percent,
        zero: true,
        height: 220.0,
        ..Style::LINES
    };
    let title = "Long, short, gross and net exposure over equity";
    let top = [Line::new("Top 5", &p.top5, BLUE)];
    let top_title = "Top-5 concentration: the five largest positions over equity";
    [
        time_chart("positions", title, why, &lines, style),
        time_chart("concentration", top_title, why, &top, Style::AREA),
    ]
}

/// Monthly returns, years by months plus the year's total, on a red-green scale.
pub(super) fn monthly(rows: &[MonthlyRow]) -> String {
    // Months and years get their own colour scales: a year moves more than its months.
    let largest = |values: &mut dyn Iterator<Item = f64>| {
        values
            .filter(|v| v.is_finite())
            .fold(0.0, |m: f64, v| m.max(v.abs()))
    };
    let month_scale = largest(&mut rows.iter().flat_map(|r| r.months.iter().flatten().copied()));
    let year_scale = largest(&mut rows.iter().map(|r| r.total));
    let heat = |v: f64, scale: f64, bold: bool| {
        Some(v).filter(|v| v.is_finite()).map(|v| Heat {
            fill: diverging(v, scale),
            text: percent(v, 1),
            bold,
        })
    };
    let cells: Vec<Vec<Option<Heat>>> = rows
        .iter()
        .map(|r| {
            r.months
                .iter()
                .map(|m| m.and_then(|v| heat(v, month_scale, false)))
                .chain([heat(r.total, year_scale, true)])
                .collect()
        })
        .collect();
    let cols = MONTHS.iter().map(|m| m.to_string()).chain(["Year".into()]);
    heatmap(
        ("monthly_returns", "Monthly returns", "No complete month."),
        cols.collect(),
        rows.iter().map(|r| r.year.to_string()).collect(),
        &cells,
    )
}

/// Return of each calendar year as bars, beside the benchmark's when there is one.
pub(super) fn yearly(years: &[(i32, f64)], benchmark: &[(i32, f64)], title: &str) -> String {
    let values = |of: &[(i32, f64)]| -> Vec<Option<f64>> {
        years
            .iter()
            .map(|(y, _)| of.iter().find(|b| b.0 == *y).map(|b| b.1))
            .collect()
    };
    let mut series = vec![("Strategy", BLUE, values(years))];
    if !benchmark.is_empty() {
        series.push(("Benchmark", GREY, values(benchmark)));
    }
    bar_chart(Bars {
        name: "yearly_returns",
        title,
        why_empty: "No yearly returns.",
        labels: years.iter().map(|y| y.0.to_string()).collect(),
        series,
        fmt: Fmt::Percent,
        horizontal: false,
        value_text: Some(|v| percent(v, 1)),
    })
}

/// The histogram of per-period returns; losing bins red, winning bins green.
pub(super) fn distribution(h: &Histogram) -> String {
    let (name, title) = ("returns_distribution", "Distribution of per-period returns");
    let why = "Fewer than two equity points: no returns.";
    let bins = h.counts.len();
    let usable = h.edges.len() == bins + 1 && h.edges.iter().all(|e| e.is_finite());
    let x = Axis::value(h.edges.iter().copied(), Fmt::Percent, false);
    let y = Axis::value(h.counts.iter().map(|c| *c as f64), Fmt::Number, true);
    let (Some(x), Some(y)) = (x, y) else {
        return empty(name, title, why);
    };
    if !usable || h.counts.iter().all(|c| *c == 0) {
        return empty(name, title, why);
    }
    let mut plot = Plot::new(name, title, 220.0, x, y);
    for (k, &count) in h.counts.iter().enumerate() {
        let (a, b) = (h.edges[k], h.edges[k + 1]);
        // A sliver between bins keeps them apart.
        let gap = (b - a) * 0.06;
        let color = if a + b < 0.0 { RED } else { GREEN };
        if count > 0 {
            plot.span((a + gap, 0.0), (b - gap, count as f64), color);
        }
    }
    plot.finish()
}

/// P&L by instrument as horizontal bars: the largest gains and losses when there are many.
pub(super) fn attribution(rows: &[InstrumentRow]) -> String {
    let mut rows: Vec<&InstrumentRow> = rows.iter().filter(|r| r.pnl.is_finite()).collect();
    rows.sort_by(|a, b| b.pnl.total_cmp(&a.pnl));
    let title = if rows.len() > MAX_BARS {
        let total = rows.len();
        rows.drain(MAX_BARS / 2..total - MAX_BARS / 2);
        format!(
            "P&L by instrument: the {} largest gains and losses of {total}",
            MAX_BARS / 2
        )
    } else {
        "P&L by instrument".into()
    };
    bar_chart(Bars {
        name: "attribution",
        title: &title,
        why_empty: "No instruments.",
        labels: rows.iter().map(|r| r.name.clone()).collect(),
        series: vec![("P&L", BLUE, rows.iter().map(|r| Some(r.pnl)).collect())],
        fmt: Fmt::Number,
        horizontal: true,
        value_text: Some(|v| number(v, 2)),
    })
}

/// Closes of one instrument with buy (green, up) and sell (red, down) fill markers.
pub(super) fn price(p: &PriceChart) -> String {
    let close = points(&p.close.ts, &p.close.values);
    let (buys, thinned_buys) = thin(&p.buys);
    let (sells, thinned_sells) = thin(&p.sells);
    let mut title = format!("{}: price and fills", p.instrument);
    if thinned_buys || thinned_sells {
        title.push_str(" (fills thinned evenly to 1,500 per side)");
    }
    let all = || close.iter().chain(&buys).chain(&sells);
    let x = Axis::time(all().map(|q| q.0 as i64));
    // Room above and below the prices for the markers, which sit beside their price.
    let pad = min_max(all().map(|q| q.1)).map_or(0.0, |(lo, hi)| (hi - lo) * 0.06);
    let extent = all().flat_map(|q| [q.1 - pad, q.1 + pad]);
    let y = Axis::value(extent, Fmt::Number, false);
    let (Some(x), Some(y)) = (x, y) else {
        return empty("price", &title, "No prices kept for this instrument.");
    };
    let mut plot = Plot::new("price", &title, 260.0, x, y)
        .attr("data-instrument", &p.instrument)
        .legend(&[("Close", INK), ("Buy", GREEN), ("Sell", RED)]);
    plot.line(&close, INK, 1.2);
    plot.markers(&buys, true, GREEN);
    plot.markers(&sells, false, RED);
    let series = |name, color, kind, points| Detail {
        name,
        color,
        kind,
        width: 1.2,
        points,
    };
    // The script draws the last first, as above: the close, buys, then sells; prices as the
    // trade list prints them.
    let details = [
        series("Sell", RED, 'd', sells),
        series("Buy", GREEN, 'u', buys),
        series("Close", INK, 'l', svg::detail(&p.close.ts, &p.close.values)),
    ];
    let tip = Tip {
        text: |v| amount(v, 2),
        unit: "",
        per: 1.0,
    };
    plot.zoom(&details, tip, None).finish()
}

/// Returns the finite fills as points, every k-th when there are more than [`MAX_MARKERS`], and
/// whether any were left out.
fn thin(fills: &[(i64, f64)]) -> (Vec<(f64, f64)>, bool) {
    let every = fills.len().div_ceil(MAX_MARKERS).max(1);
    let kept = fills
        .iter()
        .step_by(every)
        .filter(|f| f.1.is_finite())
        .map(|&(t, v)| (t as f64, v))
        .collect();
    (kept, every > 1)
}
