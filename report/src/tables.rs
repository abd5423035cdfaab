//! The tables of a report: headline figures, metrics by group, worst drawdowns, instruments and
//! trades. Cells are plain text, escaped here; tables marked `sortable` sort on a header click
//! (see the page's script).

use std::fmt::Write;

use super::format::{NS_PER_DAY, amount, clock, date, duration, escape, number, percent, value};
use crate::analysis::{DecisionRow, Drawdown, InstrumentRow, Metric, TradeRow, Unit};
use engine::EXTREME_TRADES;

/// Most trades listed; the rest are counted in a note (trades.csv has them all).
pub(super) const MAX_TRADE_ROWS: usize = 2000;
/// The figures shown as tiles above the metrics table, by key, when the analysis has them.
const HEADLINE: [&str; 6] = [
    "final_equity",
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "trades",
];

/// Returns an HTML table with `header` and text `rows`; a cell holding a negative number is
/// marked `neg` (shown red).
pub(super) fn table(
    class: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> String {
    let rows = rows.into_iter().map(|cells| Row {
        id: None,
        cells: cells.into_iter().map(|text| (text, None)).collect(),
    });
    linked_table(class, header, rows)
}

/// A table row with an optional anchor, whose cells may link within the page.
pub(super) struct Row {
    /// The row's `id`, a link target.
    pub(super) id: Option<String>,
    /// (text, `#anchor` it links to).
    pub(super) cells: Vec<(String, Option<String>)>,
}

/// As [`table`], with row anchors and in-page links.
pub(super) fn linked_table(
    class: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Row>,
) -> String {
    let mut html = format!("<table class=\"{class}\"><thead><tr>");
    for name in header {
        let _ = write!(html, "<th scope=\"col\">{}</th>", escape(name));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        match &row.id {
            Some(id) => {
                let _ = write!(html, "<tr id=\"{}\">", escape(id));
            }
            None => html.push_str("<tr>"),
        }
        for (cell, link) in &row.cells {
            let negative =
                cell.starts_with('-') && cell[1..].starts_with(|c: char| c.is_ascii_digit());
            let class = if negative { " class=\"neg\"" } else { "" };
            match link {
                Some(anchor) => {
                    let _ = write!(
                        html,
                        "<td{class}><a href=\"#{}\">{}</a></td>",
                        escape(anchor),
                        escape(cell)
                    );
                }
                None => {
                    let _ = write!(html, "<td{class}>{}</td>", escape(cell));
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// The anchor of an explained order in the decisions table.
fn order_anchor(id: u64) -> String {
    format!("order-{id}")
}

/// Returns the explained orders of a model-driven run, each row anchored as `order-<id>`.
pub(super) fn decisions(rows: &[DecisionRow]) -> String {
    let shown = &rows[..rows.len().min(MAX_TRADE_ROWS)];
    let intraday = shown.iter().any(|d| d.ts.rem_euclid(NS_PER_DAY) != 0);
    let body = shown.iter().map(|d| Row {
        id: Some(order_anchor(d.order_id)),
        cells: [
            d.order_id.to_string(),
            stamp(d.ts, intraday),
            d.instrument.clone(),
            d.side.clone(),
            d.class.clone(),
            d.probabilities.clone(),
            d.drivers.clone(),
            d.model_id.clone(),
        ]
        .into_iter()
        .map(|c| (c, None))
        .collect(),
    });
    let header = [
        "Order",
        "Placed",
        "Instrument",
        "Side",
        "Class explained",
        "Predicted probabilities",
        "Top features (contribution to the class probability)",
        "Model",
    ];
    let mut html = String::from(
        "<p class=\"note\">Why the model predicted what it did when each order was placed: \
         a feature's contribution is how much the explained class's probability falls when \
         that feature is set to its training mean at every lag (occlusion). attributions.csv \
         has every order.</p>",
    );
    let _ = write!(
        html,
        "<div class=\"scroll\">{}</div>",
        linked_table("sortable", &header, body)
    );
    html
}

/// Returns tiles of the headline figures (final equity, return, Sharpe, drawdown...).
pub(super) fn headline(metrics: &[Metric]) -> String {
    let tiles: String = HEADLINE
        .iter()
        .filter_map(|key| metrics.iter().find(|m| m.key == *key))
        .map(|m| {
            format!(
                "<div><span>{}</span><b>{}</b></div>",
                escape(&m.label),
                escape(&value(m.value, m.unit))
            )
        })
        .collect();
    if tiles.is_empty() {
        tiles
    } else {
        format!("<div class=\"kpis\">{tiles}</div>")
    }
}

/// Returns the end-of-year returns beside the benchmark's (quantstats' "EOY Returns vs
/// Benchmark"): year, strategy, benchmark, difference and whether the strategy won; nothing
/// without a benchmark (the yearly chart shows the strategy alone).
pub(super) fn end_of_year(years: &[(i32, f64)], benchmark: &[(i32, f64)]) -> String {
    if benchmark.is_empty() || years.is_empty() {
        return String::new();
    }
    let rows = years.iter().map(|&(year, r)| {
        let b = benchmark.iter().find(|b| b.0 == year).map(|b| b.1);
        let na = || "n/a".to_string();
        vec![
            year.to_string(),
            percent(r, 2),
            b.map_or_else(na, |b| percent(b, 2)),
            b.map_or_else(na, |b| percent(r - b, 2)),
            b.map_or_else(na, |b| if r > b { "yes" } else { "no" }.to_string()),
        ]
    });
    let header = ["Year", "Strategy", "Benchmark", "Difference", "Won"];
    format!(
        "<h3>End-of-year returns against the benchmark</h3>{}",
        table("eoy", &header, rows)
    )
}

/// Returns the metrics as one two-column table per group, groups in order of first appearance.
pub(super) fn metrics(metrics: &[Metric]) -> String {
    if metrics.is_empty() {
        return "<p class=\"note\">No metrics.</p>".into();
    }
    let mut html = String::from("<div class=\"groups\">");
    for group in groups(metrics) {
        let _ = write!(
            html,
            "<table class=\"kv\"><caption>{}</caption><tbody>",
            escape(group)
        );
        for m in metrics.iter().filter(|m| m.group == group) {
            let text = value(m.value, m.unit);
            let class = if text.starts_with('-') {
                " class=\"neg\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><th scope=\"row\">{}</th><td{class}>{}</td></tr>",
                escape(&m.label),
                escape(&text)
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</div>");
    html
}

/// Returns the distinct groups of `metrics` in order of first appearance.
pub(super) fn groups<'a>(metrics: impl IntoIterator<Item = &'a Metric>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for m in metrics {
        if !out.contains(&m.group.as_str()) {
            out.push(&m.group);
        }
    }
    out
}

/// Returns the worst drawdowns: peak, valley, recovery (or "not recovered"), depth, duration.
pub(super) fn drawdowns(rows: &[Drawdown]) -> String {
    if rows.is_empty() {
        return "<p class=\"note\">No drawdowns to list.</p>".into();
    }
    let intraday = rows
        .iter()
        .flat_map(|d| [Some(d.peak), Some(d.valley), d.recovery])
        .flatten()
        .any(|t| t.rem_euclid(NS_PER_DAY) != 0);
    let body = rows.iter().enumerate().map(|(k, d)| {
        vec![
            (k + 1).to_string(),
            stamp(d.peak, intraday),
            stamp(d.valley, intraday),
            d.recovery
                .map_or_else(|| "not recovered".into(), |t| stamp(t, intraday)),
            value(Some(d.depth), Unit::Percent),
            duration(d.duration_ns),
            number(d.periods as f64, 0),
        ]
    });
    let header = [
        "#", "Peak", "Valley", "Recovery", "Depth", "Duration", "Periods",
    ];
    format!("<h3>Worst drawdowns</h3>{}", table("plain", &header, body))
}

/// Returns the per-instrument summary, sortable.
pub(super) fn instruments(rows: &[InstrumentRow]) -> String {
    if rows.is_empty() {
        return "<p class=\"note\">No instruments.</p>".into();
    }
    let body = rows.iter().map(|r| {
        vec![
            r.name.clone(),
            value(Some(r.pnl), Unit::Money),
            value(Some(r.contribution), Unit::Percent),
            number(r.trades as f64, 0),
            value(r.win_rate, Unit::Percent),
            value(Some(r.fees), Unit::Money),
            value(Some(r.turnover), Unit::Money),
        ]
    });
    let header = [
        "Instrument",
        "P&L",
        "Contribution",
        "Trades",
        "Win rate",
        "Fees",
        "Turnover",
    ];
    format!(
        "<div class=\"scroll\">{}</div>",
        table("sortable", &header, body)
    )
}

/// Returns the trade list (sortable), at most [`MAX_TRADE_ROWS`] rows of the `total` the run
/// had, with a note on the rest.
pub(super) fn trades(rows: &[TradeRow], total: usize) -> String {
    // A report written before the total was kept lists every trade.
    let total = total.max(rows.len());
    if rows.is_empty() {
        return "<p class=\"note\">No trades.</p>".into();
    }
    let shown = &rows[..rows.len().min(MAX_TRADE_ROWS)];
    let intraday = shown
        .iter()
        .flat_map(|t| [Some(t.entry_ts), t.exit_ts])
        .flatten()
        .any(|t| t.rem_euclid(NS_PER_DAY) != 0);
    let explained = shown
        .iter()
        .any(|t| t.entry_order.is_some() || t.exit_order.is_some());
    let why = |order: Option<u64>| match order {
        Some(id) => (format!("order {id}"), Some(order_anchor(id))),
        None => (String::new(), None),
    };
    let body = shown.iter().enumerate().map(|(k, t)| {
        let number = if t.number > 0 { t.number } else { k + 1 };
        let mut cells: Vec<(String, Option<String>)> = [
            number.to_string(),
            t.instrument.clone(),
            t.side.clone(),
            amount(t.qty, 0),
            stamp(t.entry_ts, intraday),
            amount(t.entry_price, 2),
            t.exit_ts
                .map_or_else(|| "open".into(), |x| stamp(x, intraday)),
            amount(t.exit_price, 2),
            value(Some(t.pnl), Unit::Money),
            value(Some(t.ret), Unit::Percent),
            value(Some(t.fees), Unit::Money),
        ]
        .into_iter()
        .map(|c| (c, None))
        .collect();
        if explained {
            cells.extend([why(t.entry_order), why(t.exit_order)]);
        }
        Row { id: None, cells }
    });
    let mut header = vec![
        "#",
        "Instrument",
        "Side",
        "Quantity",
        "Entry",
        "Entry price",
        "Exit",
        "Exit price",
        "P&L",
        "Return",
        "Fees",
    ];
    if explained {
        header.extend(["Why entered", "Why exited"]);
    }
    let mut html = format!(
        "<p class=\"note\">Click a column header to sort.</p><div class=\"scroll\">{}</div>",
        linked_table("sortable", &header, body)
    );
    if shown.len() < rows.len() {
        let _ = write!(
            html,
            "<p class=\"note\">Showing the first {} of {} trades: {} are left out here; \
             trades.csv has them all.</p>",
            number(shown.len() as f64, 0),
            number(total as f64, 0),
            number((total - shown.len()) as f64, 0)
        );
    } else if shown.len() < total {
        let _ = write!(
            html,
            "<p class=\"note\">Showing {} of {} trades: the best and the worst closed \
             trades by P&amp;L (up to {EXTREME_TRADES} each), the latest closed ones and those \
             still open, numbered as in the run; the trades table (trades.parquet, and \
             trades.csv within its row limit) has them all.</p>",
            number(shown.len() as f64, 0),
            number(total as f64, 0),
        );
    }
    html
}

/// Formats an instant as a date, with the time of day when the table is `intraday`.
pub(super) fn stamp(ns: i64, intraday: bool) -> String {
    if intraday {
        format!("{} {}", date(ns), clock(ns))
    } else {
        date(ns)
    }
}
