//! The `rules` strategy end to end: the built-in strategies rewritten as rules trade the same on
//! GOOG, and a broken rule is refused with its line and column before anything runs.

use crate::support::{backtest, goog, repo, scratch, stderr};
use engine::{BacktestOutcome, BrokerConfig, EngineSpec, Replay};
use features::{FeatureConfig, FeatureKind};
use strategies::StrategyConfig;
use strategies::bollinger_reversion::BollingerParams;
use strategies::rules::{OrderType, RulesParams};

fn run(
    strategy: &StrategyConfig,
    features: &[FeatureConfig],
    spec: &EngineSpec,
) -> BacktestOutcome {
    strategy
        .build(features)
        .unwrap()
        .run(spec, Replay::Bars(&[goog()]))
        .unwrap()
}

#[test]
fn the_sma_crossover_as_rules_writes_the_same_files_as_the_built_in() {
    let out = scratch("sma-rules");
    let (builtin, rules) = (out.join("builtin"), out.join("rules"));
    for (config, dir) in [
        ("backtests/sma_crossover.toml", &builtin),
        ("backtests/sma_rules.toml", &rules),
    ] {
        let output = backtest(&repo(config), dir);
        assert!(output.status.success(), "{config}: {}", stderr(&output));
    }
    for file in ["trades.csv", "fills.csv", "orders.csv", "equity.csv"] {
        let a = std::fs::read(builtin.join(file)).unwrap();
        let b = std::fs::read(rules.join(file)).unwrap();
        assert!(a == b, "{file} differs");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rules.join("summary.json")).unwrap())
            .unwrap();
    // The reference run (tests/fixtures/reference/sma_goog.json): Backtesting.py, backtrader
    // and vectorbt agree on 63,341.19136 with 46 closed trades and one open.
    let equity = summary["final_equity"].as_f64().unwrap();
    assert!((equity - 63_341.191_36).abs() < 1e-4, "{equity}");
    assert_eq!(summary["trades"].as_u64(), Some(46), "{summary}");
    assert_eq!(summary["open_trades"].as_u64(), Some(1), "{summary}");
}

#[test]
fn bollinger_reversion_as_rules_trades_like_the_built_in() {
    let spec = EngineSpec {
        broker: BrokerConfig {
            commission: 0.001,
            slippage_bps: 2.0,
            ..BrokerConfig::default()
        },
        ..EngineSpec::default()
    };
    let builtin = run(
        &StrategyConfig::BollingerReversion(BollingerParams::default()),
        &[],
        &spec,
    );
    let bands = FeatureConfig::of(
        "bb",
        "close",
        FeatureKind::Bollinger {
            period: 20,
            width: 2.0,
        },
    );
    let rules = StrategyConfig::Rules(RulesParams {
        entry_long: Some("true".into()),
        entry_order: OrderType::Limit,
        entry_price: Some("bb.lower".into()),
        stop_loss: Some("0.05 * bb_lower".into()),
        exit_long: Some("true".into()),
        exit_order: OrderType::Limit,
        exit_price: Some("bb_mid".into()),
        ..RulesParams::default()
    });
    let rules = run(&rules, &[bands], &spec);
    assert!(builtin.fills.len() > 20, "{} fills", builtin.fills.len());
    assert_eq!(builtin.orders.len(), rules.orders.len());
    assert_eq!(builtin.fills.len(), rules.fills.len());
    // The stop is the entry less 5% of it: lower * 0.95 in the built-in, lower - 0.05 * lower
    // as rules, equal to the last bit or two.
    for (a, b) in builtin.fills.iter().zip(&rules.fills) {
        assert_eq!((a.ts, a.side, a.order_id), (b.ts, b.side, b.order_id));
        assert!(
            (a.price - b.price).abs() <= 1e-9 * a.price,
            "{a:?} vs {b:?}"
        );
        assert!((a.qty - b.qty).abs() <= 1e-9 * a.qty, "{a:?} vs {b:?}");
    }
    for (a, b) in builtin.orders.iter().zip(&rules.orders) {
        assert_eq!(
            (a.status, a.created, a.request.tag),
            (b.status, b.created, b.request.tag)
        );
    }
    let (x, y) = (
        *builtin.curve.equity.last().unwrap(),
        *rules.curve.equity.last().unwrap(),
    );
    assert!((x - y).abs() <= 1e-6 * x, "{x} vs {y}");
}

#[test]
fn a_rule_over_a_feature_never_ready_within_the_data_is_refused() {
    let dir = scratch("rules-unreachable");
    let base = std::fs::read_to_string(repo("backtests/sma_rules.toml")).unwrap();
    let slow = "name = \"sma_slow\"\nkind = \"sma\"\nperiod = 20";
    assert!(base.contains(slow));
    // GOOG has 2,148 bars: a crossing of an SMA(2148) first has a value on bar 2,149.
    let config = dir.join("late.toml");
    std::fs::write(&config, base.replace(slow, &slow.replace("20", "2148"))).unwrap();
    let output = backtest(&config, &dir.join("out"));
    let err = stderr(&output);
    assert!(!output.status.success());
    for expected in [
        "`strategy.params.entry_long`",
        "line 14",
        "needs 2149 bars (through feature `sma_slow`) and the longest series has 2148",
    ] {
        assert!(err.contains(expected), "expected {expected:?} in\n{err}");
    }
    assert!(!dir.join("out").exists());
    // One bar shorter, it can act on the last bar: it runs.
    std::fs::write(&config, base.replace(slow, &slow.replace("20", "2147"))).unwrap();
    let output = backtest(&config, &dir.join("out"));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_broken_rule_is_refused_with_its_line_and_column_before_anything_runs() {
    let dir = scratch("rules-error");
    let base = std::fs::read_to_string(repo("backtests/sma_rules.toml")).unwrap();
    let cases = [
        (
            "exit_long = \"crosses_below(sma_fast, sma_slow)\"",
            "exit_long = \"crosses_below(sma_fast, sma_slwo)\"",
            // Line 15; the value's quote is at column 13, so expression column 25 is column 38.
            [
                "line 15, column 38",
                "did you mean `sma_slow`",
                "column 25 of the expression",
            ],
        ),
        (
            "entry_long = \"crosses_above(sma_fast, sma_slow)\"",
            "entry_long = \"sma_fast and rsi < 70\"",
            [
                "line 14, column 15",
                "a condition on each side of `and`",
                "found a number",
            ],
        ),
        (
            "entry_long = \"crosses_above(sma_fast, sma_slow)\"",
            "entry_long = \"rsi < 70 and (close > open\"",
            [
                "line 14, column 41",
                "')' closing",
                "the end of the expression",
            ],
        ),
    ];
    for (from, to, expected) in cases {
        assert!(base.contains(from));
        let config = dir.join("broken.toml");
        std::fs::write(&config, base.replace(from, to)).unwrap();
        let out = dir.join("out");
        let output = backtest(&config, &out);
        let err = stderr(&output);
        assert!(!output.status.success(), "{to}");
        for e in expected {
            assert!(err.contains(e), "{to}: expected {e:?} in\n{err}");
        }
        assert!(!out.exists(), "{to}: wrote results");
    }
}

#[test]
fn a_rotation_holds_the_top_ranked_instruments_computed_independently() {
    use market_data::synthetic::{SyntheticSpec, generate};
    use market_data::{Side, Timestamp};
    use strategies::rules::Rebalance;
    let data = generate(&SyntheticSpec {
        instruments: 6,
        bars: 400,
        interval_ns: 86_400 * 1_000_000_000,
        seed: 3,
        ..SyntheticSpec::default()
    })
    .unwrap();
    let (top, period, every) = (2, 20, 5);
    let spec = EngineSpec {
        broker: BrokerConfig {
            initial_cash: 1e6,
            fractional: true,
            ..BrokerConfig::default()
        },
        sizing: engine::SizingConfig {
            method: engine::SizingMethod::FixedFraction,
            fraction: 0.9,
            ..engine::SizingConfig::default()
        },
        ..EngineSpec::default()
    };
    let rotation = StrategyConfig::Rules(RulesParams {
        rank_by: Some("roc".into()),
        top: Some(top),
        rebalance: Some(Rebalance::Bars(every)),
        ..RulesParams::default()
    });
    let roc = FeatureConfig::of("roc", "close", FeatureKind::Roc { period });
    let outcome = rotation
        .build(&[roc])
        .unwrap()
        .run(&spec, Replay::Bars(&data))
        .unwrap();

    // The expected trades, from the closes alone: every `every` steps from the first with a
    // 20-bar return, the top 2 by that return (ties to the lower index); sell what leaves,
    // buy what enters (one step later when something was sold).
    let steps = data[0].bars.len();
    let mut held: Vec<usize> = Vec::new();
    let mut expected: Vec<(Timestamp, usize, Side)> = Vec::new();
    let mut t = period;
    while t < steps {
        let ts = data[0].bars[t].ts;
        let mut ranked: Vec<(f64, usize)> = data
            .iter()
            .enumerate()
            .map(|(i, s)| (s.bars[t].close / s.bars[t - period].close - 1.0, i))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let chosen: Vec<usize> = ranked.iter().take(top).map(|&(_, i)| i).collect();
        let sells: Vec<usize> = held
            .iter()
            .copied()
            .filter(|i| !chosen.contains(i))
            .collect();
        let buys: Vec<usize> = chosen
            .iter()
            .copied()
            .filter(|i| !held.contains(i))
            .collect();
        for &i in &sells {
            expected.push((ts, i, Side::Sell));
        }
        let buy_step = if sells.is_empty() { t } else { t + 1 };
        if buy_step < steps {
            for &i in &buys {
                expected.push((data[0].bars[buy_step].ts, i, Side::Buy));
            }
        }
        held = chosen;
        t += every as usize;
    }
    let mut got: Vec<(Timestamp, usize, Side)> = outcome
        .orders
        .iter()
        .map(|o| (o.created, o.request.instrument.get(), o.request.side))
        .collect();
    got.sort_by_key(|&(ts, i, side)| (ts, side == Side::Buy, i));
    expected.sort_by_key(|&(ts, i, side)| (ts, side == Side::Buy, i));
    assert!(expected.len() > 20, "{} orders expected", expected.len());
    assert_eq!(got, expected);
    assert!(
        outcome
            .orders
            .iter()
            .all(|o| o.status == engine::OrderStatus::Filled
                || o.created >= data[0].bars[steps - 1].ts),
        "every order but the last step's fills"
    );
}

#[test]
fn a_rotation_of_several_needs_a_sizing_that_shares_equity() {
    let dir = scratch("rotation-all-in");
    let base = std::fs::read_to_string(repo("backtests/rotation.toml")).unwrap();
    let sizing = "method = \"fixed_fraction\"";
    assert!(base.contains(sizing));
    let config = dir.join("all_in.toml");
    std::fs::write(&config, base.replace(sizing, "method = \"all_in\"")).unwrap();
    let output = backtest(&config, &dir.join("out"));
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("`sizing.method`") && err.contains("fixed_fraction"),
        "{err}"
    );
}

#[test]
fn rules_sweep_like_any_key_and_each_job_is_its_backtest() {
    let out = scratch("rules-sweep");
    let output = crate::support::quant(&[
        "sweep",
        repo("backtests/sma_rules.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 5, "a header and 2 x 2 jobs:\n{table}");
    // The plain crossover's job is the shipped backtest: the reference final equity.
    let plain = rows
        .iter()
        .find(|r| {
            r.contains(
                "\"crosses_above(sma_fast, sma_slow)\",\"crosses_below(sma_fast, sma_slow)\"",
            )
        })
        .unwrap_or_else(|| panic!("no plain job in\n{table}"));
    assert!(plain.contains("63341.19135999999"), "{plain}");
}

#[test]
fn time_values_are_read_in_the_configs_time_zone() {
    // Buy when the bar's weekday is Monday, sell on Wednesday. GOOG's daily bars are stamped at
    // midnight UTC, which in New York is 19:00 the evening before: Monday's bar reads as Sunday.
    let base = std::fs::read_to_string(repo("backtests/sma_rules.toml")).unwrap();
    let rules = |text: &str| {
        let start = text.find("entry_long").unwrap();
        let end = start + text[start..].find("\n[[features]]").unwrap();
        text.replace(
            &text[start..end],
            "entry_long = \"weekday == 0\"\nexit_long = \"weekday == 2\"\n",
        )
    };
    let dir = scratch("rules-zone");
    let weekday_of_first_entry = |zone: Option<&str>| {
        let mut text = rules(&base);
        if let Some(zone) = zone {
            text = text.replace("[data]\n", &format!("[data]\ntimezone = \"{zone}\"\n"));
        }
        let config = dir.join("zone.toml");
        std::fs::write(&config, text).unwrap();
        let out = dir.join(zone.unwrap_or("UTC").replace('/', "-"));
        let output = backtest(&config, &out);
        assert!(output.status.success(), "{}", stderr(&output));
        let trades = std::fs::read_to_string(out.join("trades.csv")).unwrap();
        let entry = trades
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(3)
            .unwrap()
            .to_string();
        let ts = market_data::csv::parse_timestamp(&entry).unwrap();
        market_data::Zone::UTC.local(ts).weekday
    };
    // Decided on Monday's bar, filled at the next open: Tuesday in UTC.
    assert_eq!(weekday_of_first_entry(None), 1);
    // In New York "Monday" is the bar stamped Tuesday 00:00 UTC: filled on Wednesday.
    assert_eq!(weekday_of_first_entry(Some("America/New_York")), 2);
    // A misspelt zone is refused with its key, line and the closest names.
    let config = dir.join("typo.toml");
    std::fs::write(
        &config,
        rules(&base).replace("[data]\n", "[data]\ntimezone = \"America/NewYork\"\n"),
    )
    .unwrap();
    let output = backtest(&config, &dir.join("typo"));
    let err = stderr(&output);
    assert!(!output.status.success());
    for part in ["timezone", "line", "did you mean `America/New_York`"] {
        assert!(err.contains(part), "{part:?} missing: {err}");
    }
}
