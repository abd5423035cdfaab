//! The config reader never panics: every shipped config with one value replaced by something
//! absurd (huge, negative, NaN, the wrong type, a long string) loads or is refused, never more.

use super::LoadedConfig;
use proptest::prelude::*;
use std::path::Path;

const SHIPPED: &[&str] = &[
    include_str!("../../../backtests/sma_crossover.toml"),
    include_str!("../../../backtests/sma_rules.toml"),
    include_str!("../../../backtests/rotation.toml"),
    include_str!("../../../backtests/bollinger_reversion.toml"),
    include_str!("../../../backtests/features_goog.toml"),
    include_str!("../../../backtests/ml_trend.toml"),
    include_str!("../../../backtests/paper_sma.toml"),
    include_str!("../../../backtests/live_sma.toml"),
    include_str!("../../../backtests/synthetic_portfolio.toml"),
    include_str!("../../../backtests/sleeves_sweep.toml"),
];

fn absurd() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("1e308".to_string()),
        Just("5e-324".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"\"".to_string()),
        Just(format!("\"{}\"", "x".repeat(5000))),
        Just("\"crosses_above(((((((\"".to_string()),
        Just("\"2100-01-01\"".to_string()),
        "-?[0-9]{1,19}",
        "\"[ -~&&[^\"\\\\]]{0,30}\"",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn a_config_with_an_absurd_value_loads_or_is_refused(
        which in 0..SHIPPED.len(),
        line in any::<prop::sample::Index>(),
        value in absurd(),
    ) {
        let text = SHIPPED[which];
        let lines: Vec<&str> = text.lines().collect();
        let assignments: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].trim_start().starts_with('#') && lines[i].contains(" = "))
            .collect();
        prop_assume!(!assignments.is_empty());
        let at = assignments[line.index(assignments.len())];
        let key = lines[at].split(" = ").next().unwrap_or_default();
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        changed[at] = format!("{key} = {value}");
        let source = changed.join("\n");
        // From the repository root, where the shipped configs' relative paths resolve.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backtests/fuzzed.toml");
        if let Ok(loaded) = LoadedConfig::from_source(&path, source) {
            let _ = loaded.build_strategy();
        }
    }
}

#[test]
fn session_vwaps_start_at_the_exchanges_midnight() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backtests/zoned.toml");
    let source = |data: &str, feature: &str| {
        format!(
            "name = \"z\"\n[data]\nkind = \"csv\"\npath = \"backtests/data/GOOG.csv\"\n{data}\n\
             [[features]]\nname = \"v\"\nkind = \"vwap\"\n{feature}\n"
        )
    };
    let zone_of = |data: &str, feature: &str| {
        let loaded = LoadedConfig::from_source(&path, source(data, feature)).unwrap();
        loaded.config.features[0].timezone.map(|z| z.name())
    };
    // [data] timezone, or the calendar's zone, anchors a session vwap that names none.
    let ny = Some("America/New_York");
    assert_eq!(zone_of("timezone = \"America/New_York\"", ""), ny);
    assert_eq!(zone_of("calendar = \"us_equity\"", ""), ny);
    assert_eq!(zone_of("", ""), None);
    // Its own `timezone` wins; a rolling vwap has no sessions to anchor.
    let tokyo = "timezone = \"Asia/Tokyo\"";
    assert_eq!(
        zone_of("calendar = \"us_equity\"", tokyo),
        Some("Asia/Tokyo")
    );
    let rolling = "mode = \"rolling\"\nperiod = 5";
    assert_eq!(zone_of("calendar = \"us_equity\"", rolling), None);
}

#[test]
fn output_formats_are_read_and_a_typo_is_named_with_the_closest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backtests/formats.toml");
    let source = |output: &str| {
        format!(
            "name = \"f\"\n[data]\nkind = \"csv\"\npath = \"backtests/data/GOOG.csv\"\n\
             [strategy]\nname = \"buy_and_hold\"\n[output]\n{output}\n"
        )
    };
    let formats = |output: &str| {
        LoadedConfig::from_source(&path, source(output))
            .unwrap()
            .config
            .output
            .formats()
    };
    // Unset: Parquet, CSV up to the limit; listed: exactly those.
    assert_eq!(formats(""), report::Formats::default());
    assert!(formats("").csv(report::DEFAULT_CSV_MAX_ROWS));
    assert!(!formats("").csv(report::DEFAULT_CSV_MAX_ROWS + 1));
    let both = formats("formats = [\"parquet\", \"csv\"]");
    assert!(both.parquet && both.csv(usize::MAX));
    let parquet = formats("formats = [\"parquet\"]");
    assert!(parquet.parquet && !parquet.csv(0));
    let csv = formats("formats = [\"csv\"]");
    assert!(!csv.parquet && csv.csv(usize::MAX));
    let err =
        LoadedConfig::from_source(&path, source("formats = [\"parquet\", \"cvs\"]")).unwrap_err();
    let err = format!("{err:#}");
    for part in [
        "formats",
        "line 8",
        "unknown format `cvs`",
        "did you mean `csv`",
    ] {
        assert!(err.contains(part), "{part:?} missing: {err}");
    }
}
