//! Page-level tests: a hand-made analysis renders every chart, safely and within budget.

use super::format::{NS_PER_DAY, days_from_civil};
use super::*;
use crate::analysis::{
    Drawdown, Histogram, InstrumentRow, Metric, MonthlyRow, PriceChart, Series, TradeRow, Unit,
};

const DAY: i64 = NS_PER_DAY;
const MINUTE: i64 = 60_000_000_000;

/// The `data-chart` names of one run's report.
const REPORT_CHARTS: [&str; 15] = [
    "equity",
    "equity_log",
    "underwater",
    "monthly_returns",
    "yearly_returns",
    "returns_distribution",
    "rolling_sharpe",
    "rolling_volatility",
    "rolling_beta",
    "exposure",
    "positions",
    "concentration",
    "attribution",
    "price",
    "price",
];

fn start() -> i64 {
    days_from_civil(2019, 12, 30) * DAY
}

fn series(ts: &[i64], f: impl FnMut(usize) -> f64) -> Series {
    Series {
        ts: ts.to_vec(),
        values: (0..ts.len()).map(f).collect(),
    }
}

fn metric(key: &str, label: &str, value: Option<f64>, unit: Unit, group: &str) -> Metric {
    Metric {
        key: key.into(),
        label: label.into(),
        value,
        unit,
        group: group.into(),
    }
}

/// Returns an analysis of `n` points `step` apart: two instruments, trades, a benchmark, notes,
/// and a metric of every unit (one undefined).
fn fixture(n: usize, step: i64) -> Analysis {
    let ts: Vec<i64> = (0..n as i64).map(|k| start() + k * step).collect();
    let equity = series(&ts, |k| {
        10_000.0 * (1.0 + 0.3 * (k as f64 / n as f64)) + 600.0 * (k as f64 / 25.0).sin()
    });
    let mut peak = f64::MIN;
    let underwater = series(&ts, |k| {
        peak = peak.max(equity.values[k]);
        equity.values[k] / peak - 1.0
    });
    let trades: Vec<TradeRow> = (0..n / 10)
        .map(|k| TradeRow {
            number: k + 1,
            instrument: if k % 2 == 0 { "GOOG" } else { "AAPL" }.into(),
            side: if k % 3 == 0 { "short" } else { "long" }.into(),
            qty: 10.0 + k as f64,
            entry_ts: ts[k * 10],
            entry_price: 100.0 + k as f64,
            exit_ts: (k + 1 < n / 10).then(|| ts[k * 10 + 5]),
            exit_price: 101.5 + k as f64 * 0.9,
            pnl: if k % 4 == 0 { -42.5 } else { 120.25 },
            ret: if k % 4 == 0 { -0.012 } else { 0.034 },
            fees: 1.5,
            entry_order: None,
            exit_order: None,
        })
        .collect();
    // Fills at the close of their bar, on the price line.
    let price = |name: &str, base: f64| {
        let close = series(&ts, |k| base + 10.0 * (k as f64 / 30.0).cos());
        let at = |t: i64| (t, close.values[ts.partition_point(|x| *x < t)]);
        let mine = || trades.iter().filter(|t| t.instrument == name);
        PriceChart {
            instrument: name.into(),
            buys: mine().map(|t| at(t.entry_ts)).collect(),
            sells: mine().filter_map(|t| Some(at(t.exit_ts?))).collect(),
            close,
        }
    };
    let years = (ts[0] / DAY, ts[n - 1] / DAY);
    let (first, last) = (
        format::civil_from_days(years.0).0 as i32,
        format::civil_from_days(years.1).0 as i32,
    );
    Analysis {
        title: "sma-crossover <goog> & co".into(),
        subtitle: "sma_crossover on GOOG, AAPL".into(),
        metrics: vec![
            metric(
                "final_equity",
                "Final equity",
                Some(13_012.5),
                Unit::Money,
                "Returns",
            ),
            metric(
                "total_return",
                "Total return",
                Some(0.30126),
                Unit::Percent,
                "Returns",
            ),
            metric("start", "Start", Some(ts[0] as f64), Unit::Date, "Returns"),
            metric("sharpe", "Sharpe", Some(0.8812), Unit::Ratio, "Risk"),
            metric(
                "max_drawdown",
                "Max drawdown",
                Some(-0.0653),
                Unit::Percent,
                "Risk",
            ),
            metric(
                "dd_duration",
                "Max drawdown duration",
                Some(40.0 * DAY as f64),
                Unit::Duration,
                "Risk",
            ),
            metric(
                "trades",
                "Trades",
                Some(trades.len() as f64),
                Unit::Count,
                "Trades",
            ),
            metric("payoff", "Payoff", None, Unit::Ratio, "Trades"),
            metric(
                "information_ratio",
                "Information ratio",
                Some(f64::NAN),
                Unit::Ratio,
                "Benchmark",
            ),
        ],
        benchmark: Some((
            "Buy & hold".into(),
            series(&ts, |k| 10_000.0 * (1.0 + 0.2 * k as f64 / n as f64)),
        )),
        underwater,
        rolling_sharpe: series(&ts[n / 5..], |k| (k as f64 / 40.0).sin() * 2.0),
        rolling_volatility: series(&ts[n / 5..], |k| 0.15 + 0.05 * (k as f64 / 40.0).cos()),
        rolling_beta: series(&ts[n / 5..], |k| 1.0 + 0.2 * (k as f64 / 30.0).sin()),
        rolling_window: 63,
        exposure: series(&ts, |k| if (k / 50) % 2 == 0 { 0.95 } else { 0.0 }),
        positions: crate::analysis::PositionSeries {
            long: series(&ts, |k| if (k / 50) % 2 == 0 { 1.05 } else { 0.0 }),
            short: series(&ts, |k| if (k / 50) % 2 == 0 { -0.1 } else { 0.0 }),
            gross: series(&ts, |k| if (k / 50) % 2 == 0 { 1.15 } else { 0.0 }),
            net: series(&ts, |k| if (k / 50) % 2 == 0 { 0.95 } else { 0.0 }),
            top5: series(&ts, |k| if (k / 50) % 2 == 0 { 1.15 } else { 0.0 }),
        },
        monthly: (first..=last)
            .map(|year| MonthlyRow {
                year,
                months: std::array::from_fn(|m| {
                    (year != first || m == 11).then_some((m as f64 - 5.0) / 100.0)
                }),
                total: 0.0421 * f64::from(year - first) - 0.01,
            })
            .collect(),
        yearly: (first..=last)
            .map(|y| (y, 0.05 * f64::from(y - first) - 0.02))
            .collect(),
        yearly_benchmark: (first..=last)
            .map(|y| (y, 0.03 * f64::from(y - first) + 0.01))
            .collect(),
        returns: Histogram {
            edges: (0..=20).map(|k| -0.05 + k as f64 * 0.005).collect(),
            counts: (0..20u64).map(|k| 10 * k.min(19 - k)).collect(),
        },
        worst_drawdowns: vec![
            Drawdown {
                peak: ts[10],
                valley: ts[30],
                recovery: Some(ts[60]),
                depth: -0.0653,
                periods: 50,
                duration_ns: 50 * step,
            },
            Drawdown {
                peak: ts[n - 20],
                valley: ts[n - 5],
                recovery: None,
                depth: -0.021,
                periods: 19,
                duration_ns: 19 * step,
            },
        ],
        instruments: vec![
            InstrumentRow {
                name: "GOOG".into(),
                pnl: 2_500.75,
                contribution: 0.25,
                trades: trades.len() / 2,
                win_rate: Some(0.6),
                fees: 31.5,
                turnover: 150_000.0,
            },
            InstrumentRow {
                name: "AAPL".into(),
                pnl: -480.0,
                contribution: -0.048,
                trades: trades.len() / 2,
                win_rate: None,
                fees: 12.0,
                turnover: 90_000.0,
            },
        ],
        prices: vec![price("GOOG", 500.0), price("AAPL", 150.0)],
        trades_total: trades.len(),
        trades,
        decisions: Vec::new(),
        equity,
        notes: vec![
            "Payoff is n/a: AAPL has no losing trades.".into(),
            "Information ratio is n/a: the benchmark's tracking error is zero.".into(),
        ],
    }
}

/// Returns an analysis with no data at all (a run that never produced a bar).
fn empty_analysis() -> Analysis {
    Analysis {
        title: "empty".into(),
        subtitle: String::new(),
        metrics: Vec::new(),
        equity: Series::default(),
        benchmark: None,
        underwater: Series::default(),
        rolling_sharpe: Series::default(),
        rolling_volatility: Series::default(),
        rolling_beta: Series::default(),
        rolling_window: 63,
        exposure: Series::default(),
        monthly: Vec::new(),
        yearly: Vec::new(),
        yearly_benchmark: Vec::new(),
        positions: Default::default(),
        returns: Histogram::default(),
        worst_drawdowns: Vec::new(),
        instruments: Vec::new(),
        trades: Vec::new(),
        trades_total: 0,
        decisions: Vec::new(),
        prices: Vec::new(),
        notes: vec!["No bars: every chart is empty.".into()],
    }
}

/// Returns the `data-chart` names of the drawn and of the empty charts, in page order.
fn charts(html: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut drawn, mut empty) = (Vec::new(), Vec::new());
    for part in html.split("<svg class=\"chart").skip(1) {
        let name = part
            .split("data-chart=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("?");
        if part.starts_with(" empty") {
            empty.push(name);
        } else {
            // Drawn content: a mark after the axes (a path of two points or more, or a rect).
            let marks = part.split_once("</g>").map_or("", |p| p.1);
            let marks = &marks[..marks.find("</svg>").unwrap_or(marks.len())];
            assert!(
                marks.contains("<rect") || marks.contains("<path d=\"M"),
                "{name} has no drawn content"
            );
            drawn.push(name);
        }
    }
    (drawn, empty)
}

/// Asserts the markup outside the scripts nests properly (void `meta` aside).
fn assert_balanced(html: &str) {
    // Every script's text is left out: the script and the zoomable charts' JSON data.
    let mut body = String::new();
    let mut rest = html;
    while let (Some(a), Some(b)) = (rest.find("<script"), rest.find("</script>")) {
        body.push_str(&rest[..a]);
        rest = &rest[b + 9..];
    }
    body.push_str(rest);
    let mut stack: Vec<&str> = Vec::new();
    for tag in body.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("unclosed tag")];
        if tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        if let Some(closing) = name.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(closing), "mismatched </{closing}>");
        } else if name != "meta" {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

/// Asserts the page shows no NaN or infinity and loads nothing from elsewhere.
fn assert_clean(html: &str) {
    assert!(!html.contains("NaN"), "NaN in the page");
    let token = |w: &str| {
        html.match_indices(w).any(|(i, _)| {
            let before = html[..i].chars().last().is_some_and(char::is_alphanumeric);
            let after = html[i + w.len()..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric);
            !before && !after
        })
    };
    assert!(!token("inf") && !token("infinity"), "infinity in the page");
    for banned in ["http://", "https://", "src=", "<link", "@import"] {
        assert!(!html.contains(banned), "page contains {banned}");
    }
    // `url(#id)` names an element of the page (the zoomable charts' clip paths), nothing else.
    assert!(
        html.match_indices("url(")
            .all(|(i, _)| html[i..].starts_with("url(#"))
    );
    // One script runs; the zoomable charts' data is inert JSON.
    let data = html.matches("<script type=\"application/json\">").count();
    assert_eq!(
        html.matches("<script").count(),
        1 + data,
        "one inline script only"
    );
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert_balanced(html);
}

#[test]
fn report_has_every_chart_and_is_self_contained() {
    let a = fixture(600, DAY);
    let html = render_report(&a);
    std::fs::write("/tmp/report-sample.html", &html).unwrap();
    assert_clean(&html);
    let (drawn, empty) = charts(&html);
    assert_eq!(drawn, REPORT_CHARTS, "empty: {empty:?}");
    assert!(empty.is_empty());
    // The title is escaped; notes, n/a figures, legend and recovery text are shown.
    assert!(html.contains("<title>sma-crossover &lt;goog&gt; &amp; co</title>"));
    assert!(html.contains("Payoff is n/a") && html.contains(">n/a</td>"));
    assert!(html.contains(">Buy &amp; hold</text>") && html.contains(">not recovered<"));
    assert!(html.contains(">13,012.50<") && html.contains(">30.13%<") && html.contains(">0.881<"));
    assert!(html.contains(">2019-12-30<") && html.contains(">40 days<"));
    assert!(html.contains("data-instrument=\"AAPL\""));
    assert!(html.contains("<table class=\"sortable\">"));
}

#[test]
fn script_in_a_title_is_escaped() {
    let mut a = fixture(100, DAY);
    a.title = "<script>alert(1)</script>".into();
    a.instruments[0].name = "<img src=x onerror=alert(1)>".into();
    a.notes.push("</ul><script>".into());
    let html = render_report(&a);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("<script>").count(), 1);
    let data = html.matches("<script type=\"application/json\">").count();
    assert_eq!(html.matches("<script").count(), 1 + data);
    assert!(!html.contains("<img"));
    assert_balanced(&html);
}

#[test]
fn empty_data_renders_placeholders() {
    let html = render_report(&empty_analysis());
    assert_clean(&html);
    let (drawn, empty) = charts(&html);
    assert!(drawn.is_empty(), "{drawn:?}");
    assert_eq!(empty.len(), 14, "{empty:?}");
    for name in REPORT_CHARTS {
        assert!(empty.contains(&name), "no placeholder for {name}");
    }
    assert!(html.contains("No trades.") && html.contains("No metrics."));
}

#[test]
fn one_point_and_constant_runs_draw_without_nan() {
    for n in [1, 2] {
        let mut a = fixture(100, DAY);
        let ts = &a.equity.ts[..n].to_vec();
        a.equity = series(ts, |_| 10_000.0);
        a.benchmark = None;
        a.underwater = series(ts, |_| 0.0);
        a.rolling_sharpe = Series::default();
        a.rolling_volatility = Series::default();
        a.exposure = series(ts, |_| 0.0);
        a.worst_drawdowns.clear();
        a.monthly.clear();
        a.yearly = vec![(2019, 0.0)];
        a.returns = Histogram {
            edges: vec![0.0, 0.0],
            counts: vec![n as u64],
        };
        let html = render_report(&a);
        assert_clean(&html);
        let (drawn, empty) = charts(&html);
        assert!(drawn.contains(&"equity") && drawn.contains(&"yearly_returns"));
        assert!(empty.contains(&"rolling_sharpe") && empty.contains(&"monthly_returns"));
    }
}

#[test]
fn non_finite_data_never_reaches_the_page() {
    let mut a = fixture(300, DAY);
    a.equity.values[10] = f64::NAN;
    a.equity.values[11] = f64::INFINITY;
    a.benchmark = Some(("b".into(), series(&a.equity.ts, |_| f64::NAN)));
    a.underwater.values[5] = f64::NEG_INFINITY;
    a.yearly[0].1 = f64::NAN;
    a.monthly[0].total = f64::INFINITY;
    a.returns.edges[3] = f64::NAN;
    a.instruments[1].pnl = f64::NAN;
    a.trades[0].pnl = f64::INFINITY;
    a.prices[0].buys.push((a.equity.ts[3], f64::NAN));
    a.worst_drawdowns[0].depth = f64::NAN;
    let html = render_report(&a);
    assert_clean(&html);
    assert!(charts(&html).1.contains(&"returns_distribution"));
}

#[test]
fn intraday_run_shows_times_and_caps_the_trade_list() {
    let mut a = fixture(30_000, MINUTE);
    let extra = a.trades[0].clone();
    a.trades.resize(2_345, extra);
    // As a report written before the list was sampled: every trade, no total.
    a.trades_total = 0;
    let html = render_report(&a);
    assert_clean(&html);
    assert!(html.contains("Showing the first 2,000 of 2,345 trades: 345 are left out here"));
    assert!(html.contains("trades.csv has them all"));
    assert_eq!(
        html.matches("<tr><td>").count(),
        2_000 + 2 + 2 + 2,
        "trades, drawdowns, instruments, end-of-year returns"
    );
    // Entry times carry the time of day; the axis of a three-week span ticks by day or week.
    assert!(html.contains(">2019-12-30 00:00<"));
}

#[test]
fn a_sampled_trade_list_says_how_many_the_run_had_and_keeps_their_numbers() {
    let mut a = fixture(30_000, MINUTE);
    a.trades.truncate(1_500);
    for (k, t) in a.trades.iter_mut().enumerate() {
        t.number = 10 * k + 7;
    }
    a.trades_total = 123_456;
    let html = render_report(&a);
    assert_clean(&html);
    assert!(
        html.contains("Showing 1,500 of 123,456 trades: the best and the worst closed trades by P&amp;L (up to 50 each)"),
        "the note on the sample"
    );
    assert!(
        html.contains("<tr><td>14997</td>"),
        "the last row keeps its number"
    );
    assert_eq!(html.matches("<tr><td>").count(), 1_500 + 2 + 2 + 2);
    // Every trade listed: no note.
    a.trades_total = 1_500;
    assert!(!render_report(&a).contains("Showing"));
}

#[test]
fn a_350k_point_run_stays_small() {
    let mut a = fixture(350_000, MINUTE);
    let many = a.trades.clone();
    a.trades = many.iter().cycle().take(20_000).cloned().collect();
    let started = std::time::Instant::now();
    let html = render_report(&a);
    let elapsed = started.elapsed();
    assert_clean(&html);
    assert_eq!(charts(&html).0, REPORT_CHARTS);
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    // Coordinates carry one decimal at most.
    for attr in [" d=\"", " x=\"", " y=\"", " width=\"", " height=\""] {
        for value in html.split(attr).skip(1) {
            let value = &value[..value.find('"').unwrap()];
            let long = value
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .any(|n| n.split('.').nth(1).is_some_and(|f| f.len() > 1));
            assert!(!long, "{attr}{value}");
        }
    }
    eprintln!("350,000 points: {} bytes in {elapsed:?}", html.len());
}

#[test]
fn comparison_overlays_runs() {
    let (a, mut b, c) = (fixture(400, DAY), fixture(300, DAY), empty_analysis());
    b.title = "other".into();
    b.metrics
        .push(metric("beta", "Beta", Some(0.9), Unit::Ratio, "Benchmark"));
    let html = render_comparison(&[a, b, c]);
    std::fs::write("/tmp/report-compare-sample.html", &html).unwrap();
    assert_clean(&html);
    let (drawn, _) = charts(&html);
    for name in [
        "compare_equity",
        "compare_underwater",
        "compare_yearly",
        "yearly_returns",
    ] {
        assert!(drawn.contains(&name), "{name} missing from {drawn:?}");
    }
    assert!(html.contains(">1. sma-crossover &lt;goog&gt; &amp; co</text>"));
    assert!(html.contains(">2. other</text>") && html.contains("href=\"#run-3\""));
    // One column per run; a metric a run lacks is n/a.
    assert!(html.contains("<th scope=\"row\">Beta</th><td>n/a</td><td>0.900</td><td>n/a</td>"));
    assert_clean(&render_comparison(&[]));
}

fn sweep_report() -> SweepReport {
    let mut rows = Vec::new();
    for fast in [5, 10, 20] {
        for slow in [20, 50, 100] {
            // 20 x 20 is not a valid pair: its cell stays blank.
            if fast < slow {
                let sharpe = 1.0 - (f64::from(fast) - 10.0).abs() / 10.0 - f64::from(slow) / 200.0;
                rows.push(SweepRow {
                    parameters: vec![fast.to_string(), slow.to_string(), "x".into()],
                    metrics: vec![Some(sharpe), Some(sharpe / 10.0), None],
                });
            }
        }
    }
    rows.sort_by(|a, b| b.metrics[0].unwrap().total_cmp(&a.metrics[0].unwrap()));
    SweepReport {
        title: "sma sweep".into(),
        rank_by: "sharpe".into(),
        parameters: vec![
            "strategy.params.fast".into(),
            "strategy.params.slow".into(),
            "strategy.params.kind".into(),
        ],
        metrics: vec![
            "sharpe".into(),
            "total_return".into(),
            "profit_factor".into(),
        ],
        rows,
        heatmap_x: Some("strategy.params.fast".into()),
        heatmap_y: Some("strategy.params.slow".into()),
        heatmap_metric: None,
        notes: Vec::new(),
    }
}

#[test]
fn sweep_page_ranks_and_maps_parameters() {
    let s = sweep_report();
    let html = render_sweep(&s);
    std::fs::write("/tmp/report-sweep-sample.html", &html).unwrap();
    assert_clean(&html);
    assert_eq!(charts(&html).0, ["sweep_heatmap"]);
    let heatmap = &html[html.find("sweep_heatmap").unwrap()..];
    // Eight pairs, one blank; the total return column is a percentage.
    assert_eq!(
        heatmap[..heatmap.find("</svg>").unwrap()]
            .matches("<rect")
            .count(),
        8
    );
    assert!(html.contains(">0.900<") && html.contains(">9.00%<"));
    assert!(
        html.contains("<td>1</td><td>10</td><td>20</td>"),
        "best first"
    );
    assert!(html.contains("best run over the other parameters"));
    let unknown = render_sweep(&SweepReport {
        heatmap_x: Some("nope".into()),
        ..s
    });
    assert_eq!(charts(&unknown).1, ["sweep_heatmap"]);
}

#[test]
fn walk_forward_page_compares_in_and_out_of_sample() {
    let t = |d: i64| start() + d * DAY;
    let windows: Vec<WalkForwardWindow> = (0..4)
        .map(|k| WalkForwardWindow {
            train_start: t(k * 100),
            train_end: t(k * 100 + 499),
            test_start: t(k * 100 + 500),
            test_end: t(k * 100 + 599),
            parameters: format!("fast={}, slow=50", 5 + k),
            in_sample: Some(1.2 - k as f64 * 0.1),
            out_of_sample: (k != 2).then_some(0.4 - k as f64 * 0.3),
        })
        .collect();
    let ts: Vec<i64> = (500..900).map(t).collect();
    let w = WalkForwardReport {
        title: "wf".into(),
        metric: "sharpe".into(),
        windows,
        equity: series(&ts, |k| 10_000.0 + k as f64),
        notes: Vec::new(),
    };
    let html = render_walk_forward(&w);
    std::fs::write("/tmp/report-walk-forward-sample.html", &html).unwrap();
    assert_clean(&html);
    assert_eq!(
        charts(&html).0,
        ["walk_forward_scores", "walk_forward_equity"]
    );
    assert!(html.contains(">In sample</text>") && html.contains(">Out of sample</text>"));
    assert!(html.contains("2019-12-30 to 2021-05-12") && html.contains("fast=6, slow=50"));
    assert!(html.contains("in sample 1.050 on average"));
}
