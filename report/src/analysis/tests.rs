//! Checks of every figure against values worked out by hand (or by plain loops written here),
//! on small equity curves spelled out in each test.

use super::*;
use engine::EngineSpec;
use engine::FillRecord;
use engine::OrderId;
use engine::Summary;
use engine::{BacktestOutcome, EquityCurve};
use engine::{Position, TradeRecord};
use market_data::{Bar, InstrumentId, InstrumentIdx, NANOS_PER_DAY, Side, Timestamp};
use proptest::strategy::Strategy as _;

const DAY: i64 = NANOS_PER_DAY;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`), written here
/// rather than borrowed from the code under test.
fn ymd(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY
}

/// 2024-01-01 plus `n` days.
pub(super) fn day(n: i64) -> i64 {
    ymd(2024, 1, 1) + n * DAY
}

/// A run with no position ever (cash = equity) over `ts`, in instruments `names`.
pub(super) fn outcome(names: &[&str], ts: &[i64], equity: &[f64], initial: f64) -> BacktestOutcome {
    let mut curve = EquityCurve::default();
    for (&t, &e) in ts.iter().zip(equity) {
        curve.push(Timestamp(t), e, e);
    }
    BacktestOutcome {
        instruments: names.iter().map(|n| InstrumentId::new(*n)).collect(),
        spec: EngineSpec::default(),
        curve,
        holdings: engine::Holdings::default(),
        orders: Vec::new(),
        fills: Vec::new(),
        trades: Vec::new(),
        handed_on: None,
        open_trades: Vec::new(),
        positions: vec![Position::default(); names.len()],
        initial_cash: initial,
        fees: 0.0,
        realized: 0.0,
        traded_notional: 0.0,
        exposed_steps: 0,
        bars_per_instrument: vec![ts.len(); names.len()],
        halted_at: None,
        killed: false,
        attributions: Vec::new(),
        drift: Vec::new(),
    }
}

pub(super) fn trade(instrument: u32, entry: i64, exit: i64, pnl: f64) -> TradeRecord {
    TradeRecord {
        instrument: InstrumentIdx(instrument),
        side: Side::Buy,
        qty: 10.0,
        entry_time: Timestamp(entry),
        entry_price: 100.0,
        exit_time: Timestamp(exit),
        exit_price: 100.0 + pnl / 10.0,
        pnl,
        ret: pnl / 1000.0,
        fees: 1.0,
        open: false,
    }
}

pub(super) fn fill(instrument: u32, ts: i64, side: Side, qty: f64, price: f64) -> FillRecord {
    FillRecord {
        ts: Timestamp(ts),
        order_id: OrderId(1),
        instrument: InstrumentIdx(instrument),
        side,
        qty,
        price,
        fee: 0.0,
    }
}

pub(super) fn bars(points: &[(i64, f64)]) -> Vec<Bar> {
    points
        .iter()
        .map(|&(ts, close)| Bar {
            ts: Timestamp(ts),
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
        })
        .collect()
}

fn analysis_of(o: &BacktestOutcome, prices: &[PriceInput<'_>], ppy: f64) -> Analysis {
    let summary = Summary::new(o, Some(ppy));
    analyse(
        &AnalysisInput {
            title: "test",
            strategy: "hand",
            outcome: o,
            curve: &o.curve,
            prices,
            benchmark: None,
            external_benchmark: None,
        },
        &summary,
    )
}

fn value(a: &Analysis, key: &str) -> Option<f64> {
    a.metrics
        .iter()
        .find(|m| m.key == key)
        .unwrap_or_else(|| panic!("no metric {key}"))
        .value
}

fn assert_near(actual: f64, expected: f64, what: &str) {
    let tol = 1e-9 * expected.abs().max(1e-12);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: {actual} vs {expected}"
    );
}

fn assert_metric(a: &Analysis, key: &str, expected: f64) {
    let v = value(a, key).unwrap_or_else(|| panic!("{key} is undefined"));
    assert_near(v, expected, key);
}

/// Serialises, checks that no NaN or infinity slipped in, and checks the round trip.
fn json_round_trip(a: &Analysis) -> String {
    let text = serde_json::to_string(a).unwrap();
    // serde_json cannot write these, but a hand-rolled writer could: keep the check.
    for bad in ["NaN", "Infinity", ":inf", ":-inf"] {
        assert!(!text.contains(bad), "report.json holds {bad}");
    }
    let back: Analysis = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, a);
    text
}

#[test]
fn return_metrics_match_hand_computation() {
    // Returns +10%, -10%, +10%, +10%, -10%: three ups, two downs.
    let equity = [100.0, 110.0, 99.0, 108.9, 119.79, 107.811];
    let ts: Vec<i64> = (0..6).map(day).collect();
    let a = analysis_of(&outcome(&["A"], &ts, &equity, 100.0), &[], 252.0);
    let (p, q): (f64, f64) = (0.6, 0.4);
    // Mean 0.02; deviations +0.08 (x3) and -0.12 (x2): sum of squares 0.048.
    let (mean, sample_var) = (0.02, 0.048 / 4.0);
    let cagr = 1.07811f64.powf(252.0 / 5.0) - 1.0;
    assert_metric(&a, "start", day(0) as f64);
    assert_metric(&a, "end", day(5) as f64);
    assert_metric(&a, "initial_cash", 100.0);
    assert_metric(&a, "final_equity", 107.811);
    assert_metric(&a, "total_return", 0.07811);
    assert_metric(&a, "cagr", cagr);
    assert_metric(&a, "annual_volatility", (sample_var * 252.0f64).sqrt());
    assert_metric(&a, "sharpe", mean / sample_var.sqrt() * 252.0f64.sqrt());
    // Downside deviation over all 5 returns: sqrt(2 x 0.01 / 5).
    let downside = (0.02f64 / 5.0).sqrt() * 252.0f64.sqrt();
    assert_metric(&a, "sortino", mean * 252.0 / downside);
    // Two-point distribution: skew (q - p) / sqrt(pq), excess kurtosis (1 - 6pq) / pq.
    assert_metric(&a, "skew", (q - p) / (p * q).sqrt());
    assert_metric(&a, "kurtosis", (1.0 - 6.0 * p * q) / (p * q));
    assert_metric(&a, "omega", 0.3 / 0.2);
    // Sorted [-.1, -.1, .1, .1, .1]: the 5th percentile sits between the two -10%s, the 95th
    // between the last two +10%s, and CVaR averages the int(4 x 0.05) + 1 = 1 smallest.
    assert_metric(&a, "var_95", -0.1);
    assert_metric(&a, "cvar_95", -0.1);
    assert_metric(&a, "tail_ratio", 1.0);
    assert_metric(&a, "max_drawdown", -0.1);
    assert_metric(&a, "calmar", cagr / 0.1);
    // Stability: R² of cumulative log returns against 0..4, by the textbook formula.
    let logs = [
        1.1f64.ln(),
        0.9f64.ln(),
        1.1f64.ln(),
        1.1f64.ln(),
        0.9f64.ln(),
    ];
    let y: Vec<f64> = logs
        .iter()
        .scan(0.0, |s, l| {
            *s += l;
            Some(*s)
        })
        .collect();
    let (mx, my) = (2.0, y.iter().sum::<f64>() / 5.0);
    let sxy: f64 = y
        .iter()
        .enumerate()
        .map(|(x, v)| (x as f64 - mx) * (v - my))
        .sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    assert_metric(&a, "stability", sxy * sxy / (10.0 * syy));
    // The same numbers reach summary.json.
    let s = Summary::new(&outcome(&["A"], &ts, &equity, 100.0), Some(252.0));
    assert_near(s.skew, (q - p) / (p * q).sqrt(), "summary skew");
    assert_near(
        s.kurtosis,
        (1.0 - 6.0 * p * q) / (p * q),
        "summary kurtosis",
    );
    assert_near(s.omega, 1.5, "summary omega");
    // Groups come in display order.
    let groups: Vec<&str> = a.metrics.iter().map(|m| m.group.as_str()).collect();
    let mut seen: Vec<&str> = groups.clone();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "Returns",
            "Risk",
            "Trades",
            "Benchmark",
            "Trailing returns",
            "Calendar",
            "Positions"
        ]
    );
    json_round_trip(&a);
}

#[test]
fn drawdown_dates_and_worst_five() {
    let equity = [
        100.0, 95.0, 100.0, 80.0, 90.0, 100.0, 110.0, 99.0, 110.0, 77.0, 120.0, 117.6, 120.0, 102.0,
    ];
    // Weekdays from Monday 2024-01-01: irregular spacing, so durations are real time spans.
    let ts: Vec<i64> = (0..20)
        .filter(|d| d % 7 < 5)
        .take(equity.len())
        .map(day)
        .collect();
    let a = analysis_of(&outcome(&["A"], &ts, &equity, 100.0), &[], 252.0);
    // (peak, valley, recovery, depth) by index, worst first; the -2% one is the sixth.
    let expected = [
        (8, 9, Some(10), 77.0 / 110.0 - 1.0),
        (2, 3, Some(5), -0.2),
        (12, 13, None, 102.0 / 120.0 - 1.0),
        (6, 7, Some(8), -0.1),
        (0, 1, Some(2), -0.05),
    ];
    assert_eq!(a.worst_drawdowns.len(), 5);
    for (got, &(peak, valley, recovery, depth)) in a.worst_drawdowns.iter().zip(&expected) {
        assert_eq!(got.peak, ts[peak]);
        assert_eq!(got.valley, ts[valley]);
        assert_eq!(got.recovery, recovery.map(|i: usize| ts[i]));
        assert_near(got.depth, depth, "depth");
        let end = recovery.unwrap_or(equity.len() - 1);
        assert_eq!(got.periods, end - peak);
        assert_eq!(got.duration_ns, ts[end] - ts[peak]);
    }
    assert_metric(&a, "max_drawdown", 77.0 / 110.0 - 1.0);
    assert_metric(&a, "max_drawdown_peak", ts[8] as f64);
    assert_metric(&a, "max_drawdown_valley", ts[9] as f64);
    assert_metric(&a, "max_drawdown_recovery", ts[10] as f64);
    // Index 8 is Thursday 2024-01-11, index 10 Monday 2024-01-15: four days.
    assert_metric(&a, "max_drawdown_length", (4 * DAY) as f64);
    // The longest stretch below a peak: from index 2 to 5.
    assert_metric(&a, "max_drawdown_duration", 3.0);
    // The underwater curve is 0 at peaks and the drawdown elsewhere.
    assert_eq!(a.underwater.values.len(), equity.len());
    assert_near(a.underwater.values[9], 77.0 / 110.0 - 1.0, "underwater");
    assert_eq!(a.underwater.values[10], 0.0);
    assert!(!a.notes.iter().any(|n| n.contains("had not recovered")));

    // A max drawdown still open at the end has no recovery date, and a note says so.
    let open = analysis_of(
        &outcome(&["A"], &ts[..4], &[100.0, 90.0, 95.0, 80.0], 100.0),
        &[],
        252.0,
    );
    assert_eq!(value(&open, "max_drawdown_recovery"), None);
    assert_metric(&open, "max_drawdown_length", (ts[3] - ts[0]) as f64);
    assert!(open.notes.iter().any(|n| n.contains("had not recovered")));
    assert!(
        !open
            .notes
            .iter()
            .any(|n| n.contains("recovery is undefined")),
        "{:?}",
        open.notes
    );
}

#[test]
fn trade_figures_match_hand_computation() {
    let ts: Vec<i64> = (0..10).map(day).collect();
    let equity = [
        1000.0, 1010.0, 1005.0, 1030.0, 1020.0, 1040.0, 1035.0, 1050.0, 1045.0, 1050.0,
    ];
    let mut o = outcome(&["A", "B"], &ts, &equity, 1000.0);
    // Holding 1, 2, 3, 4 and 5 days; P&L +30, -10, +50, -20, 0 (a scratch counts as neither).
    o.trades = vec![
        trade(0, day(0), day(1), 30.0),
        trade(1, day(1), day(3), -10.0),
        trade(0, day(2), day(5), 50.0),
        trade(1, day(3), day(7), -20.0),
        trade(0, day(4), day(9), 0.0),
    ];
    o.open_trades = vec![TradeRecord {
        open: true,
        ..trade(1, day(8), day(9), 7.0)
    }];
    o.fills = vec![
        fill(0, day(0), Side::Buy, 10.0, 100.0),
        fill(0, day(1), Side::Sell, 10.0, 103.0),
        fill(1, day(1), Side::Buy, 5.0, 50.0),
    ];
    o.positions[0].fees = 3.0;
    o.positions[1].fees = 2.0;
    let a = analysis_of(&o, &[], 252.0);
    assert_metric(&a, "trades", 5.0);
    assert_metric(&a, "open_trades", 1.0);
    assert_metric(&a, "win_rate", 2.0 / 5.0);
    assert_metric(&a, "profit_factor", 80.0 / 30.0);
    // Mean win (30 + 50) / 2 = 40 over |mean loss| (10 + 20) / 2 = 15.
    assert_metric(&a, "payoff_ratio", 40.0 / 15.0);
    assert_metric(&a, "expectancy", 50.0 / 5.0);
    assert_metric(&a, "avg_holding_time_ns", (3 * DAY) as f64);

    // Per instrument: A has +80 closed; B has -30 closed and +7 open.
    assert_eq!(a.instruments.len(), 2);
    let (first, second) = (&a.instruments[0], &a.instruments[1]);
    assert_eq!((first.name.as_str(), second.name.as_str()), ("A", "B"));
    assert_near(first.pnl, 80.0, "A pnl");
    assert_near(second.pnl, -23.0, "B pnl");
    assert_near(first.contribution, 0.08, "A contribution");
    assert_near(second.contribution, -0.023, "B contribution");
    assert_eq!((first.trades, second.trades), (3, 2));
    assert_eq!(first.win_rate, Some(2.0 / 3.0));
    assert_eq!(second.win_rate, Some(0.0));
    assert_eq!((first.fees, second.fees), (3.0, 2.0));
    assert_near(first.turnover, 1000.0 + 1030.0, "A turnover");
    assert_near(second.turnover, 250.0, "B turnover");

    // The list holds the closed trades in order, then the open one.
    assert_eq!(a.trades.len(), 6);
    assert_eq!(a.trades[1].instrument, "B");
    assert_eq!(a.trades[0].exit_ts, Some(day(1)));
    assert_eq!(a.trades[5].exit_ts, None);
    assert_eq!(a.trades[5].side, "long");
    json_round_trip(&a);
}

#[test]
fn benchmark_figures_match_hand_computation() {
    // The instrument's returns b, and a strategy that earns 2b + 0.1% every day.
    let b = [0.01, -0.02, 0.015, 0.005, -0.01, 0.02, -0.005];
    let ts: Vec<i64> = (0..=b.len() as i64).map(day).collect();
    let mut close = vec![50.0];
    let mut equity = vec![10_000.0];
    for r in b {
        close.push(close.last().unwrap() * (1.0 + r));
        equity.push(equity.last().unwrap() * (1.0 + 2.0 * r + 0.001));
    }
    let o = outcome(&["AAA"], &ts, &equity, 10_000.0);
    let kept = bars(
        &ts.iter()
            .copied()
            .zip(close.iter().copied())
            .collect::<Vec<_>>(),
    );
    let prices = [PriceInput {
        instrument: "AAA",
        bars: &kept,
    }];
    let a = analysis_of(&o, &prices, 252.0);

    let n = b.len() as f64;
    let mean_b = b.iter().sum::<f64>() / n;
    let std_b = (b.iter().map(|x| (x - mean_b).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert_metric(&a, "beta", 2.0);
    assert_metric(&a, "alpha", 1.001f64.powf(252.0) - 1.0);
    // Active returns r - b = b + 0.001: b's spread, b's mean plus 0.1%.
    assert_metric(&a, "tracking_error", std_b * 252.0f64.sqrt());
    assert_metric(
        &a,
        "information_ratio",
        (mean_b + 0.001) / std_b * 252.0f64.sqrt(),
    );
    let growth: f64 = b.iter().map(|r| 1.0 + r).product();
    assert_metric(&a, "benchmark_return", growth - 1.0);
    let (name, series) = a.benchmark.as_ref().unwrap();
    assert_eq!(name, "Buy & hold AAA");
    assert_eq!(series.ts, ts);
    assert_near(
        series.values[3],
        10_000.0 * close[3] / 50.0,
        "benchmark equity",
    );

    // summary.json gets the very same numbers from Summary::with_benchmark.
    let bench = buy_and_hold(&o, &prices, None).unwrap();
    let s = Summary::new(&o, Some(252.0)).with_benchmark(&o, &bench.equity);
    for (key, v) in [
        ("alpha", s.alpha),
        ("beta", s.beta),
        ("information_ratio", s.information_ratio),
        ("tracking_error", s.tracking_error),
    ] {
        assert_eq!(value(&a, key), Some(v), "{key}");
    }
    json_round_trip(&a);
}

#[test]
fn benchmark_aligns_with_forward_fill() {
    let ts: Vec<i64> = (0..6).map(day).collect();
    let o = outcome(&["A", "B"], &ts, &[1000.0; 6], 1000.0);
    // A misses day 3; B starts on day 2 and trades only on days 2 and 4; A also has a bar
    // between two equity steps (day 4, noon), first seen at day 5's step.
    let a_bars = bars(&[
        (day(0), 10.0),
        (day(1), 11.0),
        (day(2), 12.0),
        (day(4), 14.0),
        (day(4) + DAY / 2, 14.5),
        (day(5), 15.0),
    ]);
    let b_bars = bars(&[(day(2), 20.0), (day(4), 30.0)]);
    let prices = [
        PriceInput {
            instrument: "A",
            bars: &a_bars,
        },
        PriceInput {
            instrument: "B",
            bars: &b_bars,
        },
    ];
    // 500 each: 50 units of A at 10; B's 500 waits as cash, then buys 25 units at 20.
    let both = buy_and_hold(&o, &prices, None).unwrap();
    assert_eq!(
        both.equity,
        [1000.0, 1050.0, 1100.0, 1100.0, 1450.0, 1500.0]
    );
    assert_eq!(both.name, "Equal-weight buy & hold (2 instruments)");
    // B alone: cash until day 2, then 50 units.
    let only_b = buy_and_hold(&o, &prices, Some("B")).unwrap();
    assert_eq!(
        only_b.equity,
        [1000.0, 1000.0, 1000.0, 1000.0, 1500.0, 1500.0]
    );
    assert_eq!(
        buy_and_hold(&o, &prices, Some("C")),
        Err(NoBenchmark::UnknownInstrument("C".into()))
    );
    assert_eq!(buy_and_hold(&o, &[], None), Err(NoBenchmark::NoBars));

    let summary = Summary::new(&o, Some(252.0));
    let missing = analyse(
        &AnalysisInput {
            title: "t",
            strategy: "s",
            outcome: &o,
            curve: &o.curve,
            prices: &prices,
            benchmark: Some("C"),
            external_benchmark: None,
        },
        &summary,
    );
    assert!(missing.benchmark.is_none());
    assert_eq!(value(&missing, "beta"), None);
    assert!(
        missing
            .notes
            .iter()
            .any(|n| n.contains("no benchmark") && n.contains("C has no prices")),
        "{:?}",
        missing.notes
    );
}

#[test]
fn monthly_and_yearly_returns_span_a_year_boundary() {
    let ts = [
        ymd(2023, 11, 15),
        ymd(2023, 11, 30),
        ymd(2023, 12, 29),
        ymd(2024, 1, 2),
        ymd(2024, 1, 31),
        ymd(2024, 2, 15),
    ];
    let equity = [101.0, 110.0, 99.0, 100.0, 120.0, 108.0];
    let a = analysis_of(&outcome(&["A"], &ts, &equity, 100.0), &[], 252.0);
    assert_eq!(a.monthly.len(), 2);
    let (y23, y24) = (&a.monthly[0], &a.monthly[1]);
    assert_eq!((y23.year, y24.year), (2023, 2024));
    // November from the initial capital (100), then month end to month end.
    let mut nov_dec = [None; 12];
    nov_dec[10] = Some(110.0 / 100.0 - 1.0);
    nov_dec[11] = Some(99.0 / 110.0 - 1.0);
    assert_eq!(y23.months, nov_dec);
    let mut jan_feb = [None; 12];
    jan_feb[0] = Some(120.0 / 99.0 - 1.0);
    jan_feb[1] = Some(108.0 / 120.0 - 1.0);
    assert_eq!(y24.months, jan_feb);
    assert_near(y23.total, -0.01, "2023");
    assert_near(y24.total, 108.0 / 99.0 - 1.0, "2024");
    assert_eq!(a.yearly, vec![(2023, y23.total), (2024, y24.total)]);
    // The years compound to the total return.
    let compounded = (1.0 + y23.total) * (1.0 + y24.total) - 1.0;
    assert_near(compounded, value(&a, "total_return").unwrap(), "compounded");
}

#[test]
fn rolling_series_and_exposure() {
    // 300 daily points, window 126: the rolling lines start at the 127th point.
    let ts: Vec<i64> = (0..300).map(day).collect();
    let equity: Vec<f64> = (0..300)
        .map(|i| 1000.0 * (1.0 + 0.001 * i as f64 + 0.02 * ((i * 37 % 11) as f64 / 10.0)))
        .collect();
    let mut o = outcome(&["A"], &ts, &equity, 1000.0);
    // Half of equity in the position: cash is the other half.
    o.curve.cash = equity.iter().map(|e| e / 2.0).collect();
    let a = analysis_of(&o, &[], 252.0);
    assert_eq!(a.rolling_window, 126);
    assert_eq!(a.rolling_sharpe.ts.len(), 300 - 126);
    assert_eq!(a.rolling_sharpe.ts[0], ts[126]);
    // The last point's window: the 126 returns ending at the last point, by a plain loop.
    let r: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let window = &r[r.len() - 126..];
    let m = window.iter().sum::<f64>() / 126.0;
    let sd = (window.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 125.0).sqrt();
    assert_near(
        *a.rolling_sharpe.values.last().unwrap(),
        m / sd * 252.0f64.sqrt(),
        "rolling sharpe",
    );
    assert_near(
        *a.rolling_volatility.values.last().unwrap(),
        sd * 252.0f64.sqrt(),
        "rolling volatility",
    );
    assert!(a.exposure.values.iter().all(|x| (x - 0.5).abs() < 1e-12));
    assert_eq!(a.returns.counts.iter().sum::<u64>(), 299);
    assert_eq!(a.returns.edges.len(), a.returns.counts.len() + 1);
    assert!(a.returns.edges.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(rolling_window(252.0), 126);
    assert_eq!(rolling_window(52.0), 26);
    assert_eq!(rolling_window(98_280.0), 8_190);
}

#[test]
fn long_series_are_downsampled_keeping_extremes() {
    let n = 350_000;
    let ts: Vec<i64> = (0..n).map(|i| day(0) + i * 60_000_000_000).collect();
    let mut equity: Vec<f64> = (0..n)
        .map(|i| 10_000.0 + (i as f64 * 0.001).sin() * 100.0)
        .collect();
    equity[123_457] = 5_000.0;
    equity[234_567] = 20_000.0;
    let o = outcome(&["A"], &ts, &equity, 10_000.0);
    let a = analysis_of(&o, &[], 98_280.0);
    for s in [
        &a.equity,
        &a.underwater,
        &a.rolling_sharpe,
        &a.rolling_volatility,
        &a.exposure,
    ] {
        assert!(s.ts.len() <= MAX_POINTS && s.ts.len() == s.values.len());
        assert!(s.ts.windows(2).all(|w| w[0] < w[1]));
    }
    assert!(a.equity.values.contains(&5_000.0) && a.equity.values.contains(&20_000.0));
    assert!(a.equity.ts.contains(&ts[123_457]));
    let deepest = a.underwater.values.iter().copied().fold(0.0, f64::min);
    assert_near(
        deepest,
        value(&a, "max_drawdown").unwrap(),
        "underwater floor",
    );
    let text = json_round_trip(&a);
    assert!(
        text.len() < 1_000_000,
        "report.json is {} bytes",
        text.len()
    );
}

#[test]
fn price_charts_thin_fills_and_cap_instruments() {
    let names: Vec<String> = (0..10).map(|i| format!("I{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ts: Vec<i64> = (0..1500).map(day).collect();
    let mut o = outcome(&refs, &ts, &[1000.0; 1500], 1000.0);
    // 1,200 alternating fills on I0, 2 on I1.
    o.fills = (0..1200)
        .map(|k| {
            let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
            fill(0, day(k), side, 1.0, 100.0 + k as f64)
        })
        .chain([
            fill(1, day(3), Side::Buy, 1.0, 9.0),
            fill(1, day(4), Side::Sell, 1.0, 10.0),
        ])
        .collect();
    let kept = bars(&ts.iter().map(|&t| (t, 100.0)).collect::<Vec<_>>());
    let prices: Vec<PriceInput<'_>> = refs
        .iter()
        .map(|n| PriceInput {
            instrument: n,
            bars: &kept,
        })
        .collect();
    let a = analysis_of(&o, &prices, 252.0);
    assert_eq!(a.prices.len(), 8);
    assert_eq!(a.prices[0].instrument, "I0");
    let first = &a.prices[0];
    assert!(first.buys.len() + first.sells.len() <= 500);
    assert_eq!(first.buys[0], (day(0), 100.0));
    assert_eq!(*first.sells.last().unwrap(), (day(1199), 1299.0));
    assert_eq!(a.prices[1].buys, vec![(day(3), 9.0)]);
    assert_eq!(a.prices[1].sells, vec![(day(4), 10.0)]);
    assert!(first.close.ts.len() <= MAX_POINTS);
    assert!(a.notes.iter().any(|n| n.contains("first 8 of 10")));
    assert!(a.notes.iter().any(|n| n.contains("thinned")));
    // Equal-weight benchmark of ten flat instruments: flat at the capital.
    let (_, bench) = a.benchmark.as_ref().unwrap();
    assert!(bench.values.iter().all(|v| (v - 1000.0).abs() < 1e-9));
}

/// Runs `analyse` on an edge case and returns it after the checks every case shares.
fn edge(o: &BacktestOutcome) -> Analysis {
    let a = analysis_of(o, &[], 252.0);
    json_round_trip(&a);
    let text = terminal_summary(&a);
    assert!(!text.contains("NaN") && !text.contains(" inf"), "{text}");
    // Every undefined figure is explained by some note.
    if a.metrics.iter().any(|m| m.value.is_none()) {
        assert!(!a.notes.is_empty());
    }
    a
}

#[test]
fn zero_bars() {
    let a = edge(&outcome(&["A"], &[], &[], 1000.0));
    assert!(a.equity.ts.is_empty() && a.monthly.is_empty() && a.worst_drawdowns.is_empty());
    assert!(a.returns.counts.is_empty());
    assert_eq!(value(&a, "start"), None);
    assert!(a.notes[0].contains("no equity"), "{:?}", a.notes);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("undefined: the run recorded no equity")),
        "{:?}",
        a.notes
    );
}

#[test]
fn one_bar() {
    let a = edge(&outcome(&["A"], &[day(0)], &[1000.0], 1000.0));
    assert_eq!(a.equity.values, vec![1000.0]);
    assert_eq!(value(&a, "start"), value(&a, "end"));
    assert_eq!(value(&a, "sharpe"), None);
    assert_eq!(value(&a, "max_drawdown"), Some(0.0));
    assert!(a.notes[0].contains("single equity point"), "{:?}", a.notes);
    assert!(a.notes.iter().any(|n| n.contains("no returns")));
    // One month, measured from the initial capital.
    assert_eq!(a.monthly.len(), 1);
    assert_eq!(a.monthly[0].months[0], Some(0.0));
}

#[test]
fn constant_equity_without_trades() {
    let ts: Vec<i64> = (0..30).map(day).collect();
    let a = edge(&outcome(&["A"], &ts, &[1000.0; 30], 1000.0));
    for key in ["sharpe", "sortino", "calmar", "skew", "kurtosis", "omega"] {
        assert_eq!(value(&a, key), None, "{key}");
    }
    assert_eq!(value(&a, "annual_volatility"), Some(0.0));
    assert_eq!(value(&a, "trades"), Some(0.0));
    assert_eq!(value(&a, "win_rate"), None);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("Sharpe ratio") && n.ends_with("equity never changed.")),
        "{:?}",
        a.notes
    );
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("Win rate") && n.ends_with("there were no trades.")),
        "{:?}",
        a.notes
    );
    assert!(a.worst_drawdowns.is_empty());
    assert_eq!(a.returns.counts, vec![29]);
    assert!(a.rolling_sharpe.ts.is_empty());
    assert!(terminal_summary(&a).contains("Sharpe        n/a"));
}

#[test]
fn all_losing_trades() {
    let ts: Vec<i64> = (0..5).map(day).collect();
    let mut o = outcome(&["A"], &ts, &[1000.0, 990.0, 980.0, 975.0, 960.0], 1000.0);
    o.trades = vec![
        trade(0, day(0), day(1), -10.0),
        trade(0, day(1), day(2), -10.0),
        trade(0, day(2), day(4), -20.0),
    ];
    let a = edge(&o);
    assert_eq!(value(&a, "win_rate"), Some(0.0));
    assert_eq!(value(&a, "profit_factor"), Some(0.0));
    assert_eq!(value(&a, "payoff_ratio"), None);
    assert_metric(&a, "expectancy", -40.0 / 3.0);
    assert!(
        a.notes
            .iter()
            .any(|n| n == "Payoff ratio is undefined: no closed trade made money."),
        "{:?}",
        a.notes
    );
    assert!(a.notes.iter().any(|n| n.contains("had not recovered")));
    assert!(terminal_summary(&a).contains("not recovered"));
}

#[test]
fn summary_json_writes_null_for_undefined_figures() {
    let ts: Vec<i64> = (0..3).map(day).collect();
    let o = outcome(&["A"], &ts, &[1000.0; 3], 1000.0);
    let summary = Summary::new(&o, None);
    assert!(summary.sharpe.is_nan() && summary.alpha.is_nan());
    let dir = std::env::temp_dir().join(format!("quant-analysis-{}", std::process::id()));
    crate::write_results(
        &dir,
        &o,
        &summary,
        serde_json::Value::Null,
        serde_json::Map::new(),
        None,
        &crate::RunInfo::default(),
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !text.contains("NaN") && !text.contains("Infinity"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "sharpe",
        "sortino",
        "skew",
        "kurtosis",
        "payoff_ratio",
        "avg_holding_time_ns",
        "alpha",
        "beta",
        "information_ratio",
        "tracking_error",
        "omega",
        "tail_ratio",
    ] {
        assert_eq!(json.get(key), Some(&serde_json::Value::Null), "{key}");
    }
    assert_eq!(json["stability"], serde_json::json!(0.0));
}

#[test]
fn terminal_summary_shows_headline_figures() {
    let equity = [100.0, 120.0, 90.0, 130.0];
    let ts = [
        ymd(2024, 3, 1),
        ymd(2024, 3, 4),
        ymd(2024, 3, 5),
        ymd(2024, 3, 6),
    ];
    let mut o = outcome(&["GOOG"], &ts, &equity, 100.0);
    o.trades = vec![trade(0, ts[0], ts[2], 5.0), trade(0, ts[2], ts[3], -1.0)];
    let text = terminal_summary(&analysis_of(&o, &[], 252.0));
    for line in [
        "Period        2024-03-01 to 2024-03-06",
        "Return        30.00% total",
        "Max drawdown  -25.00% (peak 2024-03-04, valley 2024-03-05, recovered 2024-03-06)",
        "Trades        2 closed, 0 open, win rate 50.00%",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn histogram_bins_like_numpy() {
    // 0..=40 in 40 unit bins: one value per bin, the last also holds its right edge.
    let values: Vec<f64> = (0..=40).map(f64::from).collect();
    let h = super::histogram::histogram(&values);
    assert_eq!(h.edges.len(), 41);
    assert_eq!((h.edges[0], h.edges[40]), (0.0, 40.0));
    let mut expected = vec![1; 40];
    expected[39] = 2;
    assert_eq!(h.counts, expected);
    let flat = super::histogram::histogram(&[0.01; 7]);
    assert_eq!(flat.counts, vec![7]);
    assert!(flat.edges[0] < 0.01 && flat.edges[1] > 0.01);
    assert_eq!(
        super::histogram::histogram(&[f64::NAN]),
        Histogram::default()
    );
}

proptest::proptest! {
    /// Each value lands in the bin whose edges hold it (`[left, right)`, the last bin closed),
    /// found here by scanning the edges, however the bin's first guess rounds.
    #[test]
    fn histogram_counts_each_value_between_its_edges(
        values in proptest::collection::vec(
            proptest::prop_oneof![-1e-3..1e-3f64, -1e6..1e6f64, (-40i32..40).prop_map(f64::from)],
            2..300,
        ),
    ) {
        let h = super::histogram::histogram(&values);
        let mut expected = vec![0; h.counts.len()];
        for v in values {
            let last = h.counts.len() - 1;
            let k = (0..last).find(|&k| v < h.edges[k + 1]).unwrap_or(last);
            proptest::prop_assert!(h.edges[k] <= v);
            expected[k] += 1;
        }
        proptest::prop_assert_eq!(h.counts, expected);
    }
}

#[test]
fn a_halt_says_who_stopped_trading_and_when() {
    let ts: Vec<i64> = (0..3).map(day).collect();
    let mut run = outcome(&["A"], &ts, &[100.0, 101.0, 102.0], 100.0);
    let note = |run: &BacktestOutcome| {
        analysis_of(run, &[], 252.0)
            .notes
            .iter()
            .find(|n| n.contains("kill switch"))
            .cloned()
            .unwrap_or_default()
    };
    run.halted_at = Some(Timestamp(day(1)));
    assert!(
        note(&run).starts_with("The drawdown kill switch stopped trading at"),
        "{}",
        note(&run)
    );
    // An operator's kill before any event: no 1677-09-21, and not the drawdown limit.
    run.halted_at = Some(Timestamp(i64::MIN));
    run.killed = true;
    let said = note(&run);
    assert!(
        said.contains("operator") && said.contains("before the first market event"),
        "{said}"
    );
    let summary = Summary::new(&run, Some(252.0));
    assert_eq!(
        summary.halted_at.as_deref(),
        Some("before the first market event")
    );
}

#[test]
fn positions_over_time_by_hand() {
    // A long 10 A from day 1; a short 5 B from day 2. Closes: A 100, 100, 110, 120; B 50, 50,
    // 50, 40. Equity 1000, 1000, 1100, 1300 (given, so each fraction is plain arithmetic).
    let ts: Vec<i64> = (0..4).map(day).collect();
    let mut o = outcome(&["A", "B"], &ts, &[1000.0, 1000.0, 1100.0, 1300.0], 1000.0);
    o.fills = vec![
        fill(0, ts[1], Side::Buy, 10.0, 100.0),
        fill(1, ts[2], Side::Sell, 5.0, 50.0),
    ];
    let a = bars(&[
        (ts[0], 100.0),
        (ts[1], 100.0),
        (ts[2], 110.0),
        (ts[3], 120.0),
    ]);
    let b = bars(&[(ts[0], 50.0), (ts[1], 50.0), (ts[2], 50.0), (ts[3], 40.0)]);
    let prices = [
        PriceInput {
            instrument: "A",
            bars: &a,
        },
        PriceInput {
            instrument: "B",
            bars: &b,
        },
    ];
    let e = super::positions::exposures(&o, &prices).unwrap();
    let close = |got: &[f64], want: [f64; 4], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{what}: {got:?} vs {want:?}");
        }
    };
    close(&e.long, [0.0, 1.0, 1.0, 1200.0 / 1300.0], "long");
    close(
        &e.short,
        [0.0, 0.0, -250.0 / 1100.0, -200.0 / 1300.0],
        "short",
    );
    close(
        &e.gross,
        [0.0, 1.0, 1350.0 / 1100.0, 1400.0 / 1300.0],
        "gross",
    );
    close(&e.net, [0.0, 1.0, 850.0 / 1100.0, 1000.0 / 1300.0], "net");
    close(
        &e.top5,
        [0.0, 1.0, 1350.0 / 1100.0, 1400.0 / 1300.0],
        "top 5",
    );
    let an = analysis_of(&o, &prices, 252.0);
    assert_metric(&an, "gross_leverage_max", 1350.0 / 1100.0);
    assert_metric(
        &an,
        "gross_leverage_mean",
        (1.0 + 1350.0 / 1100.0 + 1400.0 / 1300.0) / 4.0,
    );
    assert_eq!(an.positions.gross.values.len(), 4);
    // Without the bars, fills cannot be valued: n/a with the reason.
    let none = analysis_of(&o, &[], 252.0);
    assert_eq!(value(&none, "gross_leverage_max"), None);
    assert!(none.notes.iter().any(|n| n.contains("bars were not kept")));
}

#[test]
fn an_external_benchmark_is_bought_and_held_on_the_run_steps() {
    // A benchmark that is not traded: its closes 10, 11, 12.1 (+10% a step) from day 0, and a
    // bar stamped between steps (day 1.5) that only the later step may see.
    let ts: Vec<i64> = (0..3).map(day).collect();
    let o = outcome(&["A"], &ts, &[1000.0, 1050.0, 1100.0], 1000.0);
    let spy = bars(&[
        (ts[0], 10.0),
        (ts[1], 11.0),
        (ts[1] + DAY / 2, 50.0),
        (ts[2], 12.1),
    ]);
    let summary = Summary::new(&o, Some(252.0));
    let a = analyse(
        &AnalysisInput {
            title: "t",
            strategy: "s",
            outcome: &o,
            curve: &o.curve,
            prices: &[],
            benchmark: None,
            external_benchmark: Some(PriceInput {
                instrument: "SPY",
                bars: &spy,
            }),
        },
        &summary,
    );
    let (name, series) = a.benchmark.as_ref().unwrap();
    assert_eq!(name, "Buy & hold SPY");
    assert_eq!(series.values, [1000.0, 1100.0, 1210.0]);
    assert_metric(&a, "benchmark_return", 0.21);
    assert_eq!(a.yearly_benchmark.len(), 1);
}
