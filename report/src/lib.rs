//! Reports: the analysis of a run, its result files and its HTML pages.
//!
//! HTML reports: the P&L tear sheet of one run, the comparison of several runs, and the pages of
//! a parameter sweep and of a walk-forward optimisation.
//!
//! Each page is one self-contained file that opens anywhere, offline or as a mail attachment: the
//! style is inline, the charts are SVG drawn here, and the only script is a few lines that sort
//! tables. Pages render from data ([`Analysis`], [`SweepReport`], [`WalkForwardReport`]), never
//! from a run, so a stored `report.json` can be rendered again or compared later. Every piece of
//! caller text is escaped, a missing or non-finite figure prints "n/a", and long series are
//! downsampled (keeping each bucket's min and max), so the page stays small for any run length.
//!
//! Owns: [`analysis`] (the figures and series of a run), [`table`] (CSV and Parquet tables),
//! [`write_results`] (the output contract's files) and the pages.
//! Never depends on: candle (models), tokio (live), or any strategy: it renders data.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod table;

mod axis;
mod charts;
mod compare;
pub mod csv_text;
mod error;
mod files;
mod format;
mod model_card;
mod page;
mod spill;
mod steps;
mod svg;
mod sweep;
mod tables;
#[cfg(test)]
mod tests;

pub use compare::render_comparison;
pub use error::{Error, Result};
pub use files::{
    DEFAULT_CSV_MAX_ROWS, Format, Formats, RunInfo, csv_left_out, result_table, summary_document,
    write_results,
};
pub use model_card::{
    FoldRow, ImportanceRow, ModelCard, Reliability, TrainingCurve, render_model_card,
};
pub use spill::{CurveSpill, SpilledCurve};
pub use steps::{StepSender, StepTables, StepWriter, Streamed};
pub use sweep::{
    SweepReport, SweepRow, WalkForwardReport, WalkForwardWindow, render_sweep, render_walk_forward,
};

use crate::analysis::Analysis;
use page::Page;

/// Returns the P&L report of one run as a self-contained HTML page.
///
/// Sections: summary (headline figures, metrics by group), equity against the benchmark (linear
/// and log), drawdowns (underwater chart, worst five), returns (monthly heatmap, yearly bars,
/// distribution), rolling Sharpe and volatility, exposure, instruments (P&L attribution and
/// summary), prices with buy and sell fills, and the trade list (sortable, at most 2,000 rows).
/// A chart without data is an `svg.chart.empty` placeholder saying why.
pub fn render_report(a: &Analysis) -> String {
    let mut page = Page::new(&a.title, &a.subtitle, &a.notes);
    let sections = [
        (
            "summary",
            "Summary",
            tables::headline(&a.metrics) + &tables::metrics(&a.metrics),
        ),
        (
            "equity",
            "Equity",
            charts::equity(a, false) + &charts::equity(a, true),
        ),
        (
            "drawdowns",
            "Drawdowns",
            charts::underwater(&a.underwater) + &tables::drawdowns(&a.worst_drawdowns),
        ),
        (
            "returns",
            "Returns",
            charts::monthly(&a.monthly)
                + &charts::yearly(&a.yearly, &a.yearly_benchmark, "Yearly returns")
                + &tables::end_of_year(&a.yearly, &a.yearly_benchmark)
                + &charts::distribution(&a.returns),
        ),
        ("rolling", "Rolling risk", charts::rolling(a).concat()),
        (
            "exposure",
            "Exposure and positions",
            charts::exposure(&a.exposure) + &charts::positions(&a.positions).concat(),
        ),
        (
            "instruments",
            "Instruments",
            charts::attribution(&a.instruments) + &tables::instruments(&a.instruments),
        ),
        ("prices", "Prices and fills", prices(a)),
        (
            "trades",
            "Trades",
            tables::trades(&a.trades, a.trades_total),
        ),
    ];
    for (id, heading, body) in &sections {
        page.section(id, heading, body);
    }
    if !a.decisions.is_empty() {
        page.section(
            "decisions",
            "Model decisions",
            &tables::decisions(&a.decisions),
        );
    }
    page.finish()
}

fn prices(a: &Analysis) -> String {
    if a.prices.is_empty() {
        return svg::empty(
            "price",
            "Price and fills",
            "The run kept no bars, so there are no price charts.",
        );
    }
    a.prices.iter().map(charts::price).collect()
}
