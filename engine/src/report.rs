//! A self-contained HTML report of one backtest: summary, equity and drawdown charts, monthly
//! returns, per-instrument attribution and trades.
//!
//! The page must open anywhere, offline or as a mail attachment, so it makes no network requests:
//! the CSS is inline and the charts are SVG drawn here rather than by a JavaScript library. Charts
//! keep the min and max of each bucket when downsampling, so a million-bar run stays a small file
//! and still shows its worst drawdown. Every piece of caller text is escaped before it is inserted.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::analysis::calendar::civil_from_days;
use crate::analysis::downsample_indices;
use crate::metrics::drawdown_series;

// `write!` into a `String` cannot fail, so its `Result` is dropped with `let _`.

const MAX_CHART_POINTS: usize = 2000;
const MAX_TRADE_ROWS: usize = 500;
const NS_PER_DAY: i64 = 86_400_000_000_000;
const STRATEGY_COLOR: &str = "#2563eb";
const BENCHMARK_COLOR: &str = "#9ca3af";
const LOSS_COLOR: &str = "#dc2626";

const CSS: &str = "\
body{margin:0;background:#f5f6f8;color:#1f2937;font:14px/1.45 system-ui,-apple-system,'Segoe UI',\
Roboto,Helvetica,Arial,sans-serif}\
main{max-width:1040px;margin:0 auto;padding:24px 20px}\
h1{font-size:22px;font-weight:600;margin:0 0 2px}\
h2{font-size:13px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#4b5563;\
margin:0 0 12px}\
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;\
margin:0 0 16px}\
.sub,.note{color:#6b7280;margin:0 0 16px}.note{font-size:12px;margin:8px 0 0}\
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px}\
.kpis div{border-left:3px solid #e5e7eb;padding:2px 0 2px 10px}\
.kpis span{display:block;font-size:12px;color:#6b7280}\
.kpis b{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}\
svg{display:block;width:100%;height:auto}svg text{font-size:11px;fill:#6b7280}\
.scroll{overflow:auto;max-height:520px}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}\
th,td{padding:4px 8px;text-align:right;white-space:nowrap;border-bottom:1px solid #f0f1f3}\
th:first-child,td:first-child{text-align:left}\
thead th{position:sticky;top:0;background:#fff;color:#6b7280;font-weight:600;\
border-bottom:1px solid #d1d5db}\
.monthly td,.monthly th+th{text-align:center;min-width:44px}\
.monthly td:last-child{font-weight:600}";

/// Everything one backtest report shows; the caller formats the figures.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// Page title, e.g. the run name.
    pub title: &'a str,
    /// Headline figures: label and formatted value.
    pub summary: &'a [(&'a str, String)],
    /// UTC nanoseconds since the epoch, one per equity point.
    pub timestamps: &'a [i64],
    /// Portfolio equity, one value per bar.
    pub equity: &'a [f64],
    /// A comparison curve and its name (e.g. buy-and-hold of the first instrument), same length.
    pub benchmark: Option<(&'a str, &'a [f64])>,
    /// Column names of the trades table.
    pub trades_header: &'a [&'a str],
    /// Trade rows, already formatted cell by cell.
    pub trades: &'a [Vec<String>],
    /// Per-instrument attribution rows: name, P&L, trade count, return.
    pub instruments: &'a [(&'a str, String, String, String)],
}

/// Returns the report as one HTML page with no external references.
///
/// Charts plot points evenly by bar index (so overnight and weekend gaps take no room) with date
/// ticks from `timestamps`; at most 500 trades are listed. Monthly returns pair `timestamps`
/// with `equity` point by point and are measured from the first equity value.
pub fn render_html(input: &ReportInput<'_>) -> String {
    let mut html = String::with_capacity(64 * 1024 + 120 * input.trades.len().min(MAX_TRADE_ROWS));
    let title = escape(input.title);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{CSS}</style></head><body><main><h1>{title}</h1>"
    );
    let bars = input.equity.len();
    match (input.timestamps.first(), input.timestamps.last()) {
        (Some(&first), Some(&last)) => {
            let (first, last) = (format_date(first), format_date(last));
            let _ = write!(html, "<p class=\"sub\">{first} to {last} · {bars} bars</p>");
        }
        _ => {
            let _ = write!(html, "<p class=\"sub\">{bars} bars</p>");
        }
    }

    html.push_str("<section><h2>Summary</h2><div class=\"kpis\">");
    for (label, value) in input.summary {
        let _ = write!(
            html,
            "<div><span>{}</span><b>{}</b></div>",
            escape(label),
            escape(value)
        );
    }
    html.push_str("</div></section>");

    html.push_str("<section><h2>Equity</h2>");
    html.push_str(&equity_chart(input));
    html.push_str("</section><section><h2>Drawdown</h2>");
    html.push_str(&drawdown_chart(input));
    html.push_str("</section><section><h2>Monthly returns</h2>");
    html.push_str(&monthly_table(input.timestamps, input.equity));
    html.push_str("</section>");

    if !input.instruments.is_empty() {
        let rows: Vec<Vec<String>> = input
            .instruments
            .iter()
            .map(|(name, pnl, trades, ret)| {
                vec![name.to_string(), pnl.clone(), trades.clone(), ret.clone()]
            })
            .collect();
        html.push_str("<section><h2>Per instrument</h2>");
        html.push_str(&table(&["Instrument", "P&L", "Trades", "Return"], &rows));
        html.push_str("</section>");
    }

    html.push_str("<section><h2>Trades</h2>");
    if input.trades.is_empty() {
        html.push_str("<p class=\"note\">No trades.</p>");
    } else {
        let shown = &input.trades[..input.trades.len().min(MAX_TRADE_ROWS)];
        let _ = write!(
            html,
            "<div class=\"scroll\">{}</div>",
            table(input.trades_header, shown)
        );
        if shown.len() < input.trades.len() {
            let _ = write!(
                html,
                "<p class=\"note\">showing {} of {}</p>",
                shown.len(),
                input.trades.len()
            );
        }
    }
    html.push_str("</section></main></body></html>\n");
    html
}

/// Plot area of one chart in SVG user units, with its y domain.
struct Frame {
    height: f64,
    points: usize,
    lo: f64,
    hi: f64,
}

impl Frame {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 26.0;

    fn x(&self, i: usize) -> f64 {
        let span = self.points.saturating_sub(1).max(1) as f64;
        Self::LEFT + (Self::WIDTH - Self::LEFT - Self::RIGHT) * i as f64 / span
    }

    fn y(&self, v: f64) -> f64 {
        Self::TOP + (self.height - Self::TOP - Self::BOTTOM) * (self.hi - v) / (self.hi - self.lo)
    }

    /// Opens the SVG and draws the y grid with labels and the x axis with date ticks.
    fn open(
        &self,
        label: &str,
        ticks: &[f64],
        fmt: impl Fn(f64) -> String,
        stamps: &[i64],
    ) -> String {
        let (w, h, base) = (Self::WIDTH, self.height, self.height - Self::BOTTOM);
        let mut svg = format!("<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{label}\">");
        for &v in ticks {
            let (y, text) = (self.y(v), fmt(v));
            let _ = write!(
                svg,
                "<line x1=\"{}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eef0f3\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{text}</text>",
                Self::LEFT,
                w - Self::RIGHT,
                Self::LEFT - 8.0,
                y + 4.0
            );
        }
        let _ = write!(
            svg,
            "<line x1=\"{}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#d1d5db\"/>",
            Self::LEFT,
            w - Self::RIGHT
        );
        // About six date ticks at even bar positions, the ends aligned inward so they fit.
        let last = self.points.saturating_sub(1);
        let mut at: Vec<usize> = (0..=5).map(|k| k * last / 5).collect();
        at.dedup();
        for (k, &i) in at.iter().enumerate() {
            let Some(&ts) = stamps.get(i) else { continue };
            let anchor = match k {
                0 => "start",
                _ if k + 1 == at.len() => "end",
                _ => "middle",
            };
            let x = self.x(i);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{base:.1}\" y2=\"{:.1}\" \
                 stroke=\"#d1d5db\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                base + 4.0,
                base + 17.0,
                format_date(ts)
            );
        }
        svg
    }

    fn coords(&self, points: &[(usize, f64)]) -> String {
        let mut out = String::with_capacity(points.len() * 12);
        for &(i, v) in points {
            let _ = write!(out, "{:.1},{:.1} ", self.x(i), self.y(v));
        }
        out.pop();
        out
    }
}

fn equity_chart(input: &ReportInput<'_>) -> String {
    let strategy = downsample(input.equity, MAX_CHART_POINTS);
    let benchmark = input
        .benchmark
        .map(|(name, v)| (name, downsample(v, MAX_CHART_POINTS)));
    let values = strategy
        .iter()
        .chain(benchmark.iter().flat_map(|b| &b.1))
        .map(|p| p.1);
    let Some((lo, hi)) = min_max(values) else {
        return "<p class=\"note\">No equity data.</p>".to_string();
    };
    let pad = if hi > lo {
        0.0
    } else {
        (lo.abs() * 0.05).max(1.0)
    };
    let (lo, hi, step, ticks) = nice_scale(lo - pad, hi + pad);
    let points = input
        .equity
        .len()
        .max(input.benchmark.map_or(0, |b| b.1.len()));
    let frame = Frame {
        height: 320.0,
        points,
        lo,
        hi,
    };
    let decimals = decimals_for(step);
    let mut svg = frame.open(
        "Equity",
        &ticks,
        |v| fmt_number(v, decimals),
        input.timestamps,
    );
    let mut legend = vec![("Strategy".to_string(), STRATEGY_COLOR)];
    if let Some((name, points)) = &benchmark {
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{BENCHMARK_COLOR}\" stroke-width=\"1.2\" \
             points=\"{}\"/>",
            frame.coords(points)
        );
        legend.push((escape(name), BENCHMARK_COLOR));
    }
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"{STRATEGY_COLOR}\" stroke-width=\"1.5\" \
         stroke-linejoin=\"round\" points=\"{}\"/>",
        frame.coords(&strategy)
    );
    for (k, (name, color)) in legend.iter().enumerate() {
        let (x, y) = (Frame::LEFT + 12.0 + 150.0 * k as f64, Frame::TOP + 14.0);
        let _ = write!(
            svg,
            "<line x1=\"{x}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{color}\" \
             stroke-width=\"2.5\"/>\
             <text x=\"{}\" y=\"{}\" style=\"fill:#374151\">{name}</text>",
            x + 18.0,
            x + 24.0,
            y + 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn drawdown_chart(input: &ReportInput<'_>) -> String {
    let drawdown = drawdown_series(input.equity);
    let points = downsample(&drawdown, MAX_CHART_POINTS);
    let (Some(lo), Some(first), Some(last)) = (
        min_max(points.iter().map(|p| p.1)).map(|m| m.0),
        points.first(),
        points.last(),
    ) else {
        return "<p class=\"note\">No equity data.</p>".to_string();
    };
    // At least a -1% axis, so a curve without drawdowns still gets a sensible scale.
    let (lo, hi, step, ticks) = nice_scale(lo.min(-0.01), 0.0);
    let frame = Frame {
        height: 180.0,
        points: drawdown.len(),
        lo,
        hi,
    };
    let decimals = decimals_for(step * 100.0);
    let mut svg = frame.open(
        "Drawdown",
        &ticks,
        |v| format!("{}%", fmt_number(v * 100.0, decimals)),
        input.timestamps,
    );
    let line = frame.coords(&points);
    let (x0, x1, zero) = (frame.x(first.0), frame.x(last.0), frame.y(0.0));
    let _ = write!(
        svg,
        "<polygon fill=\"{LOSS_COLOR}\" fill-opacity=\".15\" \
         points=\"{x0:.1},{zero:.1} {line} {x1:.1},{zero:.1}\"/>\
         <polyline fill=\"none\" stroke=\"{LOSS_COLOR}\" stroke-width=\"1.2\" \
         points=\"{line}\"/></svg>"
    );
    svg
}

/// Renders year rows of Jan..Dec returns plus the year's total, from the last equity of each
/// calendar month (UTC); the first month is measured from the first equity value.
fn monthly_table(timestamps: &[i64], equity: &[f64]) -> String {
    let mut month_end = BTreeMap::new();
    for (&ts, &e) in timestamps.iter().zip(equity) {
        let (year, month, _) = civil_from_days(ts.div_euclid(NS_PER_DAY));
        month_end.insert((year, month), e);
    }
    let Some(&start) = equity.first().filter(|_| !month_end.is_empty()) else {
        return "<p class=\"note\">No monthly data.</p>".to_string();
    };
    let mut years: BTreeMap<i64, [Option<f64>; 13]> = BTreeMap::new();
    let (mut prev, mut year_base) = (start, (i64::MIN, start));
    for ((year, month), e) in month_end {
        if year != year_base.0 {
            year_base = (year, prev);
        }
        let row = years.entry(year).or_insert([None; 13]);
        row[month as usize - 1] = Some(e / prev - 1.0);
        row[12] = Some(e / year_base.1 - 1.0);
        prev = e;
    }
    // Colour intensity is relative to the largest monthly move, so quiet runs still show contrast.
    let scale = years
        .values()
        .flat_map(|r| r[..12].iter().flatten())
        .fold(0.0, |m: f64, r| m.max(r.abs()));
    let mut html =
        String::from("<div class=\"scroll\"><table class=\"monthly\"><thead><tr><th>Year</th>");
    for month in [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ] {
        let _ = write!(html, "<th>{month}</th>");
    }
    html.push_str("<th>Total</th></tr></thead><tbody>");
    for (year, row) in &years {
        let _ = write!(html, "<tr class=\"yr\"><th>{year}</th>");
        for cell in row {
            match cell.filter(|r| r.is_finite()) {
                None => html.push_str("<td></td>"),
                // A flat month (no position) stays uncoloured: it is neither a gain nor a loss.
                Some(0.0) => html.push_str("<td>0.0%</td>"),
                Some(r) => {
                    let alpha = 0.1 + 0.45 * (r.abs() / scale).min(1.0);
                    let rgb = if r < 0.0 { "220,38,38" } else { "22,163,74" };
                    let _ = write!(
                        html,
                        "<td style=\"background:rgba({rgb},{alpha:.2})\">{}%</td>",
                        fmt_number(r * 100.0, 1)
                    );
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table><thead><tr>");
    for name in header {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// Keeps at most `max_points` finite points as (index, value), by the shared rule of
/// [`downsample_indices`]: the min and the max of each bucket, so peaks and troughs survive.
fn downsample(values: &[f64], max_points: usize) -> Vec<(usize, f64)> {
    downsample_indices(values, max_points)
        .into_iter()
        .map(|i| (i, values[i]))
        .collect()
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Returns a domain widened to whole steps of a 1-2-5 step giving about five ticks, the step, and
/// the ticks. Ticks are integer multiples of the step, so 0 prints as 0, never -0.
fn nice_scale(lo: f64, hi: f64) -> (f64, f64, f64, Vec<f64>) {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = magnitude
        * match raw / magnitude {
            f if f < 1.5 => 1.0,
            f if f < 3.0 => 2.0,
            f if f < 7.0 => 5.0,
            _ => 10.0,
        };
    let (first, last) = ((lo / step).floor() as i64, (hi / step).ceil() as i64);
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (first as f64 * step, last as f64 * step, step, ticks)
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    }
}

/// Formats with `decimals` places and thousands separators, e.g. `-12,345.6`.
fn fmt_number(v: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, v.abs());
    let (int, frac) = text.split_at(text.find('.').unwrap_or(text.len()));
    let mut out = String::from(
        if v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
            "-"
        } else {
            ""
        },
    );
    for (k, digit) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out + frac
}

/// Formats UTC nanoseconds since the epoch as `YYYY-MM-DD`.
fn format_date(ns: i64) -> String {
    let (y, m, d) = civil_from_days(ns.div_euclid(NS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Escapes the five HTML-significant characters, for text and attribute values alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DAY: i64 = NS_PER_DAY;
    // 2019-12-30 00:00 UTC.
    const START: i64 = 1_577_664_000 * 1_000_000_000;

    fn input<'a>(
        title: &'a str,
        timestamps: &'a [i64],
        equity: &'a [f64],
        trades: &'a [Vec<String>],
    ) -> ReportInput<'a> {
        ReportInput {
            title,
            summary: &[],
            timestamps,
            equity,
            benchmark: None,
            trades_header: &["instrument", "pnl"],
            trades,
            instruments: &[],
        }
    }

    #[test]
    fn full_report_has_no_network_references() {
        let stamps: Vec<i64> = (0..900).map(|d| START + d * DAY).collect();
        let equity: Vec<f64> = (0..900)
            .map(|d| 100.0 + (d as f64 / 20.0).sin() * 10.0 + d as f64 * 0.1)
            .collect();
        let hold: Vec<f64> = equity.iter().map(|e| e * 0.9).collect();
        let trades: Vec<Vec<String>> = (0..3)
            .map(|k| vec![format!("GOOG"), format!("{k}.0")])
            .collect();
        let summary = [
            ("Sharpe", "0.88".to_string()),
            ("Max drawdown", "-65.3%".to_string()),
        ];
        let instruments = [(
            "GOOG",
            "1,234.5".to_string(),
            "3".to_string(),
            "12.3%".to_string(),
        )];
        let html = render_html(&ReportInput {
            summary: &summary,
            benchmark: Some(("Buy & hold", &hold)),
            instruments: &instruments,
            ..input("run", &stamps, &equity, &trades)
        });
        for banned in [
            "http://",
            "https://",
            "<script src",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(banned), "report contains {banned}");
        }
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(html.contains("Buy &amp; hold") && html.contains("Max drawdown"));
        assert!(html.contains(">2019-12-30<") && html.contains(&format_date(stamps[899])));
        assert_eq!(html.matches("<polyline").count(), 3);
        assert!(!html.contains("NaN") && !html.contains("inf"));
        assert!(!html.contains("showing"));
    }

    #[test]
    fn escapes_caller_text() {
        let trades = vec![vec!["<i>".to_string(), "'1'".to_string()]];
        let html = render_html(&input("<b>&\"", &[], &[], &trades));
        assert!(html.contains("<title>&lt;b&gt;&amp;&quot;</title>"));
        assert!(html.contains("<td>&lt;i&gt;</td><td>&#39;1&#39;</td>"));
        assert!(!html.contains("<b>&\"") && !html.contains("<i>"));
        assert_eq!(escape("a&<>\"'z"), "a&amp;&lt;&gt;&quot;&#39;z");
    }

    #[test]
    fn one_monthly_row_per_calendar_year() {
        // 2019-12-30 .. 2022-01-03 daily: calendar years 2019, 2020, 2021 and 2022.
        let stamps: Vec<i64> = (0..736).map(|d| START + d * DAY).collect();
        let equity: Vec<f64> = (0..736).map(|d| 100.0 + d as f64).collect();
        let html = render_html(&input("t", &stamps, &equity, &[]));
        assert_eq!(html.matches("<tr class=\"yr\">").count(), 4);
        // December 2019 is measured from the first value: 101 / 100 - 1.
        let december = format!("<th>2019</th>{}<td style=", "<td></td>".repeat(11));
        assert!(html.contains(&december) && html.contains(">1.0%</td></tr>"));
    }

    #[test]
    fn monthly_returns_chain_month_ends() {
        let day = |y: i64, m: u32, d: u32| {
            (0..20_000)
                .find(|&n| civil_from_days(n) == (y, m, d))
                .unwrap()
                * DAY
        };
        let stamps = [
            day(2020, 1, 2),
            day(2020, 1, 31),
            day(2020, 2, 28),
            day(2021, 1, 4),
        ];
        let html = monthly_table(&stamps, &[100.0, 110.0, 99.0, 198.0]);
        // Jan +10%, Feb -10%, 2020 total -1%; 2021: Jan +100%, total +100%.
        for cell in [">10.0%<", ">-10.0%<", ">-1.0%<", ">100.0%<"] {
            assert!(html.contains(cell), "missing {cell}");
        }
        assert_eq!(html.matches("<tr class=\"yr\">").count(), 2);
    }

    #[test]
    fn empty_and_tiny_inputs_render() {
        let html = render_html(&input("empty", &[], &[], &[]));
        assert!(html.contains("No equity data.") && html.contains("No trades."));
        assert_eq!(html.matches("<tr class=\"yr\">").count(), 0);
        let one = render_html(&input("one", &[START], &[100.0], &[]));
        assert!(one.contains("<svg") && !one.contains("NaN"));
        let flat = render_html(&input("flat", &[START, START + DAY], &[5.0, 5.0], &[]));
        assert!(!flat.contains("NaN") && flat.contains(">0.0%<"));
        // A flat month is neither green nor red.
        assert!(flat.contains("<th>2019</th>") && !flat.contains("rgba("));
    }

    #[test]
    fn caps_trade_rows() {
        let trades: Vec<Vec<String>> = (0..1234).map(|k| vec![k.to_string()]).collect();
        let html = render_html(&input("t", &[], &[], &trades));
        assert!(html.contains("showing 500 of 1234"));
        assert_eq!(html.matches("<tr><td>").count(), 500);
    }

    #[test]
    fn downsampling_keeps_extremes() {
        let values: Vec<f64> = (0..100_000)
            .map(|i| (i as f64 * 0.001).sin() + i as f64 * 1e-5)
            .collect();
        let (min_at, &min) = values
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        let mut spiky = values.clone();
        spiky[77_777] = -50.0;
        for (series, lowest) in [(&values, (min_at, min)), (&spiky, (77_777, -50.0))] {
            let kept = downsample(series, MAX_CHART_POINTS);
            assert!(kept.len() <= MAX_CHART_POINTS && kept.len() > MAX_CHART_POINTS / 2);
            assert!(kept.contains(&lowest));
            assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_eq!(
            downsample(&[1.0, f64::NAN, 2.0], 10),
            vec![(0, 1.0), (2, 2.0)]
        );
        // A one-bar crash to -60% in 100k bars reaches the bottom of the drawdown axis (-60%).
        let mut equity = vec![100.0; 100_000];
        equity[77_777] = 40.0;
        let html = drawdown_chart(&input("t", &[], &equity, &[]));
        let line = html
            .rsplit("points=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(line.split(' ').count() <= MAX_CHART_POINTS);
        assert!(line.contains(",154.0") && html.contains(">-60%</text>"));
    }

    #[test]
    fn formats_dates_and_numbers() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_date(951_782_400 * 1_000_000_000), "2000-02-29");
        assert_eq!(format_date(1_362_096_000 * 1_000_000_000), "2013-03-01");
        assert_eq!(format_date(START), "2019-12-30");
        assert_eq!(fmt_number(-1_234_567.891, 1), "-1,234,567.9");
        assert_eq!(fmt_number(-0.04, 1), "0.0");
        assert_eq!(fmt_number(999.0, 0), "999");
        let (lo, hi, step, ticks) = nice_scale(-0.653, 0.0);
        assert!((lo + 0.7).abs() < 1e-12 && (hi, step, ticks.len()) == (0.0, 0.1, 8));
        assert_eq!(ticks[7], 0.0);
    }
}
