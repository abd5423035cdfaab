//! Parity with Backtesting.py, backtrader and vectorbt on SMA(10/20) over GOOG
//! (tests/fixtures/reference/sma_goog.json, computed outside this project).

use crate::support::{assert_close, repo};
use engine::{BacktestOutcome, BrokerConfig, EngineSpec, Summary};
use market_data::InstrumentId;
use market_data::csv::{OnInvalid, parse_timestamp, read_bars};
use serde_json::Value;
use strategies::StrategyConfig;
use strategies::sma_crossover::SmaCrossoverParams;

fn reference() -> Value {
    let text = std::fs::read_to_string(repo("tests/fixtures/reference/sma_goog.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn run(close_at_end: bool) -> BacktestOutcome {
    let (goog, _) = read_bars(
        &repo("backtests/data/GOOG.csv"),
        InstrumentId::new("GOOG"),
        OnInvalid::Error,
    )
    .unwrap();
    let spec = EngineSpec {
        broker: BrokerConfig {
            initial_cash: 10_000.0,
            commission: 0.002,
            close_at_end,
            ..BrokerConfig::default()
        },
        ..EngineSpec::default()
    };
    let strategy = StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 20 });
    strategy
        .build(&[])
        .unwrap()
        .run(&spec, engine::Replay::Bars(&[goog]))
        .unwrap()
}

fn ts(v: &Value) -> market_data::Timestamp {
    parse_timestamp(v.as_str().unwrap()).unwrap()
}

#[test]
fn trades_match_the_peers_exactly() {
    let r = reference();
    let expected = r["reference"]["trades"].as_array().unwrap();
    let outcome = run(false);
    assert_eq!(outcome.trades.len(), 46);
    assert_eq!(outcome.trades.len(), expected.len());
    for (i, (got, want)) in outcome.trades.iter().zip(expected).enumerate() {
        assert_eq!(
            got.entry_time,
            ts(&want["entry_time"]),
            "trade {i} entry time"
        );
        assert_eq!(got.exit_time, ts(&want["exit_time"]), "trade {i} exit time");
        assert_eq!(
            got.entry_price,
            want["entry_price"].as_f64().unwrap(),
            "trade {i} entry price"
        );
        assert_eq!(
            got.exit_price,
            want["exit_price"].as_f64().unwrap(),
            "trade {i} exit price"
        );
        assert_eq!(got.qty, want["size"].as_f64().unwrap(), "trade {i} size");
        assert_close(
            got.pnl,
            want["pnl"].as_f64().unwrap(),
            1e-9,
            &format!("trade {i} pnl"),
        );
    }
    let open = &r["reference"]["open_trade"];
    assert_eq!(outcome.open_trades.len(), 1);
    let got = &outcome.open_trades[0];
    assert_eq!(got.entry_time, ts(&open["entry_time"]));
    assert_eq!(got.entry_price, open["entry_price"].as_f64().unwrap());
    assert_eq!(got.qty, open["size"].as_f64().unwrap());
    assert_eq!(got.exit_price, open["mark_price"].as_f64().unwrap());
    assert_close(
        got.pnl,
        open["unrealized_pnl_after_entry_fee"].as_f64().unwrap(),
        1e-9,
        "open trade pnl",
    );
}

#[test]
fn final_equity_and_curve_match() {
    let r = reference();
    let outcome = run(false);
    assert_close(
        outcome.final_equity(),
        r["reference"]["final_equity"].as_f64().unwrap(),
        1e-9,
        "final equity",
    );
    let text =
        std::fs::read_to_string(repo("tests/fixtures/reference/sma_goog_equity.csv")).unwrap();
    let rows: Vec<(String, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), outcome.curve.len());
    for (i, (date, equity)) in rows.iter().enumerate() {
        assert_eq!(outcome.curve.ts[i], parse_timestamp(date).unwrap());
        assert_close(
            outcome.curve.equity[i],
            *equity,
            1e-9,
            &format!("equity on {date}"),
        );
    }
}

#[test]
fn close_at_end_matches_liquidated_equity() {
    let r = reference();
    let outcome = run(true);
    assert_close(
        outcome.final_equity(),
        r["reference"]["final_equity_liquidated"].as_f64().unwrap(),
        1e-9,
        "liquidated equity",
    );
    assert!(outcome.open_trades.is_empty());
    assert_eq!(outcome.trades.len(), 47);
}

#[test]
fn summary_metrics_match_the_reference() {
    let r = reference();
    let summary = Summary::new(&run(false), None);
    assert_eq!(summary.periods_per_year, 252.0);
    assert_close(
        -summary.max_drawdown * 100.0,
        r["reference"]["max_drawdown_pct"].as_f64().unwrap(),
        1e-9,
        "max drawdown",
    );
    assert_close(
        summary.sharpe,
        r["reference"]["sharpe_daily_sqrt252_rf0"].as_f64().unwrap(),
        1e-9,
        "sharpe",
    );
    assert_close(
        summary.total_return * 100.0,
        r["reference"]["total_return_pct"].as_f64().unwrap(),
        1e-9,
        "total return",
    );
    // Backtesting.py's "Return (Ann.)" is the geometric annualisation over 252 bars a year.
    assert_close(
        summary.cagr * 100.0,
        r["backtesting_py"]["all_stats"]["Return (Ann.) [%]"]
            .as_f64()
            .unwrap(),
        1e-9,
        "cagr",
    );
    assert_eq!(summary.trades, 46);
    // 28 of 46 closed trades win (Backtesting.py: 60.87%).
    assert_close(
        summary.win_rate * 100.0,
        r["backtesting_py"]["all_stats"]["Win Rate [%]"]
            .as_f64()
            .unwrap(),
        1e-12,
        "win rate",
    );
    // Profit factor here is gross profit / gross loss in money, from the reference trades' P&L.
    let pnls: Vec<f64> = r["reference"]["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["pnl"].as_f64().unwrap())
        .collect();
    let profit: f64 = pnls.iter().filter(|p| **p > 0.0).sum();
    let loss: f64 = -pnls.iter().filter(|p| **p < 0.0).sum::<f64>();
    assert_close(summary.profit_factor, profit / loss, 1e-9, "profit factor");
    // Backtesting.py counts only closed trades' commissions; ours adds the open trade's entry fee.
    let open_fee = 0.002 * 78.0 * 702.24;
    assert_close(
        summary.fees,
        r["backtesting_py"]["all_stats"]["Commissions [$]"]
            .as_f64()
            .unwrap()
            + open_fee,
        1e-9,
        "fees",
    );
}
