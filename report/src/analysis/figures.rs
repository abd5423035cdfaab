//! The metrics table and the notes that explain its undefined figures.
//!
//! Every figure is computed once, by `engine::metrics` or `Summary`, and copied here with its
//! key, label, unit and group; a figure that is NaN or infinite becomes `None`, and the reason
//! it is undefined for this run goes to the notes, with the figures it affects grouped per
//! reason ("Sharpe, Sortino and Calmar are undefined: equity never changed").

use super::benchmark::{Benchmark, NoBenchmark};
use super::{Drawdown, Metric, Unit};
use engine::metrics::RelativeMetrics;
use engine::{Summary, TradeTally};

/// What the table is built from.
pub(crate) struct Facts<'a> {
    /// The run's headline figures.
    pub(crate) summary: &'a Summary,
    /// The equity curve's first and last stamps and its returns, as far as the notes need them.
    pub(crate) curve: CurveFacts,
    /// The deepest drawdown period, if equity ever fell below a peak.
    pub(crate) worst: Option<&'a Drawdown>,
    /// The closed trades and fills, summed up.
    pub(crate) trades: &'a TradeTally,
    /// The benchmark, or why there is none.
    pub(crate) benchmark: Result<&'a Benchmark, &'a NoBenchmark>,
    /// Figures against the benchmark (NaN without one).
    pub(crate) relative: RelativeMetrics,
    /// Rows computed elsewhere (trailing and calendar returns, positions), appended in order.
    pub(crate) extra: Vec<Row>,
}

/// What the table and its notes read of the equity curve, gathered in one pass over it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CurveFacts {
    /// The first stamp (UTC ns), `None` without equity.
    pub(crate) first: Option<i64>,
    /// The last stamp.
    pub(crate) last: Option<i64>,
    /// How many per-period simple returns of equity there are.
    pub(crate) returns: usize,
    /// Whether every return is 0 (a NaN is not).
    pub(crate) all_zero: bool,
    /// Whether every return is at least 0 (a NaN is not).
    pub(crate) none_negative: bool,
}

impl Default for CurveFacts {
    fn default() -> Self {
        Self {
            first: None,
            last: None,
            returns: 0,
            all_zero: true,
            none_negative: true,
        }
    }
}

impl CurveFacts {
    /// Takes the next step's stamp.
    pub(crate) fn step(&mut self, ts: i64) {
        self.first.get_or_insert(ts);
        self.last = Some(ts);
    }

    /// Takes the next return.
    pub(crate) fn ret(&mut self, r: f64) {
        self.returns += 1;
        self.all_zero &= r == 0.0;
        self.none_negative &= r >= 0.0;
    }
}

/// One row before its undefined value is explained.
pub(crate) struct Row {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: Unit,
    pub(crate) group: &'static str,
    /// Why the value is undefined, when the code that computed it knows better than
    /// [`why_undefined`].
    pub(crate) reason: Option<String>,
}

/// Returns the metrics table in display order and one note per reason a figure is undefined.
pub(crate) fn metric_table(f: &Facts<'_>) -> (Vec<Metric>, Vec<String>) {
    let rows = rows(f);
    let mut reasons: Vec<(String, Vec<&'static str>)> = Vec::new();
    let mut metrics = Vec::with_capacity(rows.len());
    for row in rows {
        let value = row.value.is_finite().then_some(row.value);
        // An unrecovered drawdown is a fact, not an undefined figure: it gets its own note.
        if value.is_none() && !(row.key == "max_drawdown_recovery" && f.worst.is_some()) {
            let reason = row
                .reason
                .clone()
                .unwrap_or_else(|| why_undefined(row.key, f));
            match reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, labels)) => labels.push(row.label),
                None => reasons.push((reason, vec![row.label])),
            }
        }
        metrics.push(Metric {
            key: row.key.to_string(),
            label: row.label.to_string(),
            value,
            unit: row.unit,
            group: row.group.to_string(),
        });
    }
    let mut notes: Vec<String> = reasons
        .into_iter()
        .map(|(reason, labels)| format!("{}: {reason}.", undefined_list(&labels)))
        .collect();
    if f.worst.is_some_and(|w| w.recovery.is_none()) {
        notes.push("The max drawdown had not recovered by the end of the run.".to_string());
    }
    (metrics, notes)
}

fn rows(f: &Facts<'_>) -> Vec<Row> {
    let mut rows = own_rows(f);
    rows.extend(f.extra.iter().map(|r| Row {
        reason: r.reason.clone(),
        ..*r
    }));
    rows
}

fn own_rows(f: &Facts<'_>) -> Vec<Row> {
    use Unit::{Date, Duration, Percent};
    let s = f.summary;
    let date = |ns: Option<i64>| ns.map_or(f64::NAN, |t| t as f64);
    let worst = |pick: fn(&Drawdown) -> f64| f.worst.map_or(f64::NAN, pick);
    let benchmark_return = match f.benchmark {
        Ok(b) => b
            .equity
            .last()
            .map_or(f64::NAN, |e| e / s.initial_cash - 1.0),
        Err(_) => f64::NAN,
    };
    let row = |key, label, value, unit, group| Row {
        key,
        label,
        value,
        unit,
        group,
        reason: None,
    };
    // A figure of the summary, as the summary declares it; `measured` with its value computed
    // here (against this page's benchmark).
    let measured = |key: &'static str, value: f64, group| match engine::metric(key) {
        Some(m) => row(m.key, m.label, value, Unit::of(m.unit), group),
        None => row(key, key, value, Unit::Ratio, group),
    };
    let summary = |key: &'static str, group| {
        let value = engine::metric(key).map_or(f64::NAN, |m| m.of(s));
        measured(key, value, group)
    };
    let (ret, risk, trades, bench) = ("Returns", "Risk", "Trades", "Benchmark");
    vec![
        row("start", "Start", date(f.curve.first), Date, ret),
        row("end", "End", date(f.curve.last), Date, ret),
        summary("periods", ret),
        summary("periods_per_year", ret),
        summary("initial_cash", ret),
        summary("final_equity", ret),
        summary("total_return", ret),
        summary("cagr", ret),
        summary("annual_volatility", risk),
        summary("risk_free", risk),
        summary("sharpe", risk),
        summary("probabilistic_sharpe", risk),
        summary("sortino", risk),
        summary("calmar", risk),
        summary("max_drawdown", risk),
        row(
            "max_drawdown_peak",
            "Max drawdown peak",
            worst(|w| w.peak as f64),
            Date,
            risk,
        ),
        row(
            "max_drawdown_valley",
            "Max drawdown valley",
            worst(|w| w.valley as f64),
            Date,
            risk,
        ),
        row(
            "max_drawdown_recovery",
            "Max drawdown recovery",
            worst(|w| w.recovery.map_or(f64::NAN, |t| t as f64)),
            Date,
            risk,
        ),
        row(
            "max_drawdown_length",
            "Max drawdown duration",
            worst(|w| w.duration_ns as f64),
            Duration,
            risk,
        ),
        summary("max_drawdown_duration", risk),
        summary("ulcer_index", risk),
        summary("var_95", risk),
        summary("cvar_95", risk),
        summary("skew", risk),
        summary("kurtosis", risk),
        summary("omega", risk),
        summary("tail_ratio", risk),
        summary("stability", risk),
        summary("longest_win_streak", risk),
        summary("longest_loss_streak", risk),
        summary("kelly", risk),
        summary("trades", trades),
        summary("open_trades", trades),
        summary("win_rate", trades),
        summary("profit_factor", trades),
        summary("payoff_ratio", trades),
        summary("expectancy", trades),
        summary("avg_holding_time_ns", trades),
        summary("exposure", trades),
        summary("turnover", trades),
        summary("fees", trades),
        row(
            "benchmark_return",
            "Benchmark return",
            benchmark_return,
            Percent,
            bench,
        ),
        measured("alpha", f.relative.alpha, bench),
        measured("beta", f.relative.beta, bench),
        measured("information_ratio", f.relative.information_ratio, bench),
        measured("tracking_error", f.relative.tracking_error, bench),
    ]
}

/// Returns why figure `key` is undefined for this run.
fn why_undefined(key: &str, f: &Facts<'_>) -> String {
    let s = f.summary;
    let c = &f.curve;
    let (wins, losses) = f.trades.wins_and_losses();
    let series = || -> &'static str {
        if c.first.is_none() {
            "the run recorded no equity"
        } else if c.returns == 0 {
            "a single equity point has no returns"
        } else if c.all_zero {
            "equity never changed"
        } else {
            ""
        }
    };
    let reason = match key {
        "win_rate" | "profit_factor" | "payoff_ratio" | "expectancy" | "avg_holding_time_ns"
            if f.trades.closed() == 0 =>
        {
            if s.open_trades > 0 {
                "no trade was closed"
            } else {
                "there were no trades"
            }
        }
        "profit_factor" | "payoff_ratio" if losses == 0 => "no closed trade lost money",
        "payoff_ratio" if wins == 0 => "no closed trade made money",
        "benchmark_return" | "alpha" | "beta" | "information_ratio" | "tracking_error"
            if f.benchmark.is_err() =>
        {
            return match f.benchmark {
                Err(why) => format!("there is no benchmark ({why})"),
                Ok(_) => String::new(),
            };
        }
        "initial_cash" | "final_equity" | "periods" | "periods_per_year" | "trades"
        | "open_trades" | "fees" => "its inputs are not finite",
        "total_return" | "benchmark_return" => "the initial capital is 0",
        _ if !series().is_empty() => series(),
        "annual_volatility" | "sharpe" | "skew" | "kurtosis" | "stability" | "alpha" | "beta"
        | "information_ratio" | "tracking_error"
            if c.returns < 2 =>
        {
            "one return has no spread"
        }
        "sharpe" | "skew" | "kurtosis" | "probabilistic_sharpe" if c.returns < 2 => {
            "one return has no spread"
        }
        "sharpe" | "skew" | "kurtosis" => "returns never varied",
        "probabilistic_sharpe" => {
            "returns never varied, or their skew leaves the Sharpe ratio's variance undefined"
        }
        "sortino" | "omega" | "kelly" if c.none_negative => "no period lost money",
        "kelly" => "no period gained",
        "sortino" | "omega" => "no period lost money",
        "calmar"
        | "max_drawdown_peak"
        | "max_drawdown_valley"
        | "max_drawdown_length"
        | "max_drawdown_recovery" => "equity never fell below a peak",
        "tail_ratio" => "the 5th percentile of returns is 0",
        "alpha" | "beta" => "the benchmark never moved",
        "information_ratio" => "returns matched the benchmark's every period",
        _ => {
            "its inputs are not finite (equity at or below 0, or amounts beyond the range of a double)"
        }
    };
    reason.to_string()
}

/// Returns "X is undefined", "X and Y are undefined", "X, Y and Z are undefined", or for long
/// lists "X, Y, Z and 9 other figures are undefined".
fn undefined_list(labels: &[&str]) -> String {
    match labels {
        [] => String::new(),
        [one] => format!("{one} is undefined"),
        [init @ .., last] if labels.len() <= 5 => {
            format!("{} and {last} are undefined", init.join(", "))
        }
        _ => format!(
            "{} and {} other figures are undefined",
            labels[..3].join(", "),
            labels.len() - 3
        ),
    }
}
