//! A few headline lines of an analysis for the terminal.

use super::calendar::{format_instant, format_span};
use super::{Analysis, Metric};
use std::fmt::Write;

/// Returns the headline figures of `analysis` as a few lines of plain text: period, total
/// return and CAGR, Sharpe, max drawdown with its dates, trades, win rate and holding time, the benchmark's
/// alpha and beta when there is one, then the notes. Undefined figures read `n/a`.
pub fn terminal_summary(analysis: &Analysis) -> String {
    let get = |key: &str| {
        analysis
            .metrics
            .iter()
            .find(|m| m.key == key)
            .and_then(|m: &Metric| m.value)
    };
    let pct = |key: &str| get(key).map_or("n/a".to_string(), |v| format!("{:.2}%", v * 100.0));
    let num = |key: &str| get(key).map_or("n/a".to_string(), |v| format!("{v:.3}"));
    let date = |key: &str| get(key).map_or("n/a".to_string(), |v| format_instant(v as i64));
    let count = |key: &str| get(key).map_or("n/a".to_string(), |v| format!("{v:.0}"));

    let mut out = format!("{}\n", analysis.title);
    let _ = writeln!(out, "  {}", analysis.subtitle);
    let _ = writeln!(out, "  Period        {} to {}", date("start"), date("end"));
    let _ = writeln!(
        out,
        "  Return        {} total, CAGR {}",
        pct("total_return"),
        pct("cagr")
    );
    let _ = writeln!(
        out,
        "  Sharpe        {} (Sortino {})",
        num("sharpe"),
        num("sortino")
    );
    let recovery = match (get("max_drawdown_peak"), get("max_drawdown_recovery")) {
        (None, _) => String::new(),
        (Some(_), None) => ", not recovered".to_string(),
        (Some(_), Some(_)) => format!(", recovered {}", date("max_drawdown_recovery")),
    };
    let dates = if get("max_drawdown_peak").is_some() {
        format!(
            " (peak {}, valley {}{recovery})",
            date("max_drawdown_peak"),
            date("max_drawdown_valley")
        )
    } else {
        String::new()
    };
    let _ = writeln!(out, "  Max drawdown  {}{dates}", pct("max_drawdown"));
    let _ = writeln!(
        out,
        "  Trades        {} closed, {} open, win rate {}, average holding {}",
        count("trades"),
        count("open_trades"),
        pct("win_rate"),
        get("avg_holding_time_ns").map_or("n/a".to_string(), format_span)
    );
    if let Some((name, _)) = &analysis.benchmark {
        let _ = writeln!(
            out,
            "  Benchmark     {name}: {}, alpha {}, beta {}",
            pct("benchmark_return"),
            pct("alpha"),
            num("beta")
        );
    }
    for note in &analysis.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}
