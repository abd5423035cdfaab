//! No look-ahead with the shipped strategies on real data: rewriting every bar after a cut point
//! never changes an order or a fill stamped at or before it.

use crate::support::goog;
use engine::{BrokerConfig, EngineSpec};
use features::{FeatureConfig, FeatureKind};
use market_data::BarSeries;
use proptest::prelude::*;
use strategies::StrategyConfig;
use strategies::bollinger_reversion::BollingerParams;
use strategies::rules::{OrderType, RulesParams};
use strategies::sma_crossover::SmaCrossoverParams;

/// Scales every bar after `cut` by a factor that varies bar to bar, keeping bars valid.
fn rewrite_after(series: &BarSeries, cut: usize, seed: u64) -> BarSeries {
    let mut out = series.clone();
    let mut x = seed | 1;
    for bar in out.bars.iter_mut().skip(cut + 1) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = 0.7 + (x % 600) as f64 / 1000.0;
        bar.open *= f;
        bar.high *= f * 1.01;
        bar.low *= f * 0.99;
        bar.close *= f;
    }
    out
}

fn check(strategy: &StrategyConfig, features: &[FeatureConfig], cut: usize, seed: u64) {
    let spec = EngineSpec {
        broker: BrokerConfig {
            commission: 0.001,
            slippage_bps: 1.0,
            ..BrokerConfig::default()
        },
        ..EngineSpec::default()
    };
    let original = goog();
    let changed = rewrite_after(&original, cut, seed);
    let cut_ts = original.bars[cut].ts;
    let a = strategy
        .build(features)
        .unwrap()
        .run(&spec, engine::Replay::Bars(&[original]))
        .unwrap();
    let b = strategy
        .build(features)
        .unwrap()
        .run(&spec, engine::Replay::Bars(&[changed]))
        .unwrap();
    let orders = |o: &engine::BacktestOutcome| {
        o.orders
            .iter()
            .filter(|r| r.created <= cut_ts)
            .map(|r| (r.id, r.request, r.created))
            .collect::<Vec<_>>()
    };
    let fills = |o: &engine::BacktestOutcome| {
        o.fills
            .iter()
            .filter(|f| f.ts <= cut_ts)
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(orders(&a), orders(&b), "orders before the cut changed");
    assert_eq!(fills(&a), fills(&b), "fills before the cut changed");
    assert_eq!(
        a.curve.equity[..=cut],
        b.curve.equity[..=cut],
        "equity before the cut changed"
    );
}

/// Rules reading history (crossings, lags, extremes), position values, a limit entry, a
/// bracket and a trailing stop.
fn rules() -> (StrategyConfig, Vec<FeatureConfig>) {
    let sma = |name: &str, period| FeatureConfig::of(name, "close", FeatureKind::Sma { period });
    let rules = RulesParams {
        entry_long: Some(
            "(crosses_above(fast, slow) or rising(close, 3)) and close > lowest(low, 10)".into(),
        ),
        exit_long: Some(
            "crosses_below(fast, slow) or bars_held >= 15 or unrealized_pnl < -500".into(),
        ),
        entry_order: OrderType::Limit,
        entry_price: Some("min(close, lag(close, 1))".into()),
        stop_loss: Some("highest(high, 5) - lowest(low, 5)".into()),
        take_profit: Some("0.1 * close".into()),
        trailing_stop: Some("2 * abs(close - lag(close, 2))".into()),
        ..RulesParams::default()
    };
    (
        StrategyConfig::Rules(rules),
        vec![sma("fast", 5), sma("slow", 15)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn prop_future_bars_never_change_past_decisions(cut in 30usize..2140, seed in any::<u64>()) {
        check(&StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 20 }), &[], cut, seed);
        check(&StrategyConfig::BollingerReversion(BollingerParams::default()), &[], cut, seed);
        let (rules, features) = rules();
        check(&rules, &features, cut, seed);
    }
}
