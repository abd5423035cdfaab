//! The strategy through the registry, against the same idea written as `rules`, on GOOG; and the
//! binary's `backtest` command on the shipped config.

use engine::{BrokerConfig, EngineSpec, Replay};
use features::indicators::RsiSmoothing;
use features::{FeatureConfig, FeatureKind};
use market_data::InstrumentId;
use market_data::csv::{OnInvalid, read_bars};
use std::path::Path;
use strategies::StrategyConfig;
use strategies::custom::{Registration, register};
use strategies::rules::RulesParams;

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

#[test]
fn trades_like_the_same_rules_on_goog() {
    // Tests share the process: the first one to run registers the strategy.
    let _ = register(Registration::of::<rsi_reversion::RsiReversion>());
    let goog =
        read_bars(&repo("backtests/data/GOOG.csv"), InstrumentId::new("GOOG"), OnInvalid::Error).unwrap().0;
    let spec = EngineSpec {
        broker: BrokerConfig { commission: 0.001, ..BrokerConfig::default() },
        ..EngineSpec::default()
    };
    let mine: StrategyConfig = toml::from_str(
        "name = \"rsi_reversion\"\n[params]\nperiod = 14\noversold = 35.0\noverbought = 65.0\n",
    )
    .unwrap();
    mine.validate().unwrap();
    let ours = mine.build(&[]).unwrap().run(&spec, Replay::Bars(std::slice::from_ref(&goog))).unwrap();

    let rules = StrategyConfig::Rules(RulesParams {
        entry_long: Some("rsi < 35 and close < lag(low, 1)".into()),
        exit_long: Some("rsi > 65".into()),
        ..RulesParams::default()
    });
    let rsi = FeatureKind::Rsi { period: 14, smoothing: RsiSmoothing::Ta };
    let features = [FeatureConfig::of("rsi", "close", rsi)];
    let theirs = rules.build(&features).unwrap().run(&spec, Replay::Bars(&[goog])).unwrap();

    assert!(ours.fills.len() >= 10, "{} fills", ours.fills.len());
    assert_eq!(ours.fills, theirs.fills);
    assert_eq!(ours.curve.equity, theirs.curve.equity);
}

#[test]
fn bad_params_are_refused_naming_the_key() {
    let _ = register(Registration::of::<rsi_reversion::RsiReversion>());
    for (params, key) in
        [("oversold = 80.0\n", "strategy.params.oversold"), ("oversld = 30.0\n", "strategy.params")]
    {
        let config: StrategyConfig =
            toml::from_str(&format!("name = \"rsi_reversion\"\n[params]\n{params}")).unwrap();
        let err = config.validate().unwrap_err();
        assert_eq!(err.key, key, "{err}");
    }
}

#[test]
fn the_binary_runs_every_command_with_the_strategy_by_name() {
    let out = std::env::temp_dir().join(format!("rsi-reversion-{}", std::process::id()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rsi-reversion"))
        .args(["backtest", "examples/custom-strategy/rsi_reversion.toml", "--out"])
        .arg(&out)
        .current_dir(repo(""))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"rsi_reversion\""), "{summary}");
    let _ = std::fs::remove_dir_all(&out);
}
