//! Pipeline tests: wiring, config errors, streaming equals batch, NaN and gap recovery, and no
//! look-ahead across every kind.

use super::*;
use market_data::{Bar, BarSeries, InstrumentId, Timestamp};
use proptest::prelude::*;

fn parse(text: &str) -> Vec<FeatureConfig> {
    #[derive(serde::Deserialize)]
    struct Doc {
        features: Vec<FeatureConfig>,
    }
    toml::from_str::<Doc>(text).unwrap().features
}

fn bars(closes: &[f64]) -> BarSeries {
    let bars = closes
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar {
            ts: Timestamp::from_secs(86_400 * i as i64),
            open: c,
            high: c * 1.01,
            low: c * 0.99,
            close: c,
            volume: 1000.0 + i as f64,
        })
        .collect();
    BarSeries::new(InstrumentId::new("X"), bars)
}

/// One feature of every kind, chained where a kind reads another feature.
fn every_kind() -> Vec<FeatureConfig> {
    parse(include_str!("../tests/every_kind.toml"))
}

fn stream(spec: &PipelineSpec, series: &BarSeries) -> Vec<Vec<f64>> {
    let mut state = PipelineState::new(spec);
    series
        .bars
        .iter()
        .map(|b| state.update(spec, b).unwrap().to_vec())
        .collect()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn inputs_come_before_the_features_that_read_them() {
    let spec = PipelineSpec::new(&every_kind()).unwrap();
    let position = |name: &str| {
        spec.nodes()
            .iter()
            .position(|n| n.config.name == name)
            .unwrap()
    };
    assert!(position("rsi") < position("ema_of_rsi"));
    assert!(position("macd") < position("signal_lag"));
    assert!(
        spec.column("macd_signal").is_some()
            && spec.column("bb_upper").is_some()
            && spec.column("stoch_d").is_some()
    );
    assert!(
        spec.column("macd").is_none(),
        "a multi-output feature has only <name>_<output> columns"
    );
}

#[test]
fn every_kernel_declares_the_input_and_output_counts_its_indicator_has() {
    use crate::indicators::Indicator;
    for config in every_kind() {
        let kernel = FeatureKind::parse(&config).unwrap().build().unwrap();
        assert_eq!(
            kernel.declared_arity(),
            (kernel.inputs(), kernel.outputs().len()),
            "{}",
            config.name
        );
    }
    let fused = Kernel::BandsAndZScore(
        crate::indicators::BandsAndZScore::new(crate::indicators::Bollinger::new(20, 2.0)),
        0,
    );
    assert_eq!(
        fused.declared_arity(),
        (fused.inputs(), fused.outputs().len())
    );
}

#[test]
fn every_kind_reads_back_what_it_writes() {
    let configs = every_kind();
    for (name, _) in KINDS {
        assert!(
            configs.iter().any(|c| c.kind == *name),
            "every_kind.toml lacks kind {name:?}"
        );
    }
    for config in configs {
        let kind = FeatureKind::parse(&config).unwrap();
        let written = FeatureConfig::of(&config.name, "close", kind);
        assert_eq!(FeatureKind::parse(&written), Ok(kind), "{}", config.name);
    }
}

#[test]
fn config_errors_name_the_feature_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 0\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"vwap\"\nmode = \"rolling\"\nperiod = 5\ntimezone = \"UTC\"\n",
            "a",
            "timezone",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\ntimezone = \"Asia/Tokyo\"\n",
            "a",
            "timezone",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 10000000000000\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"macd\"\nslow = 10000000000000\n",
            "a",
            "slow",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"clip\"\nmin = nan\n",
            "a",
            "min",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"clip\"\nmin = 2.0\nmax = 1.0\n",
            "a",
            "min",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"bollinger\"\nperiod = 1\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"stochastic\"\nperiod = 5\nsignal = 0\n",
            "a",
            "signal",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"stochastic\"\nperiod = 0\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"smaa\"\nperiod = 3\n",
            "a",
            "kind",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"rsi\"\nfast = 3\n",
            "a",
            "fast",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 3\ninput = \"nope\"\n",
            "a",
            "input",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 3\ninput = \"m\"\n[[features]]\nname = \"m\"\nkind = \"macd\"\n",
            "a",
            "input",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 3\ninput = \"b\"\n[[features]]\nname = \"b\"\nkind = \"sma\"\nperiod = 3\ninput = \"a\"\n",
            "a",
            "input",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 3\n[[features]]\nname = \"a\"\nkind = \"ema\"\nperiod = 3\n",
            "a",
            "name",
        ),
        (
            "[[features]]\nname = \"close\"\nkind = \"sma\"\nperiod = 3\n",
            "close",
            "name",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"macd\"\nfast = 26\nslow = 12\n",
            "a",
            "slow",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"correlation\"\nperiod = 5\n",
            "a",
            "inputs",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"standardize\"\nmode = \"frozen\"\n",
            "a",
            "fit_until",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"standardize\"\nmode = \"frozen\"\nfit_until = \"2010-01-01\"\nperiod = 5\n",
            "a",
            "period",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"standardize\"\nmode = \"frozen\"\nfit_until = \"soon\"\n",
            "a",
            "fit_until",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"ema\"\nperiod = 3\nmode = \"fast\"\n",
            "a",
            "mode",
        ),
        (
            "[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = 3\non_nan = \"ignore\"\n",
            "a",
            "on_nan",
        ),
    ];
    for (text, feature, key) in cases {
        let err = PipelineSpec::new(&parse(text)).unwrap_err();
        assert_eq!(
            (err.feature.as_str(), err.key),
            (*feature, Some(*key)),
            "{text}\n{err}"
        );
    }
    // A negative period is refused by the config reader itself, with its line.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        features: Vec<FeatureConfig>,
    }
    let err = toml::from_str::<Doc>("[[features]]\nname = \"a\"\nkind = \"sma\"\nperiod = -3\n")
        .unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
}

#[test]
fn a_feature_warms_up_after_its_input_does_and_is_never_a_silent_zero() {
    let spec = PipelineSpec::new(&parse(
        "[[features]]\nname = \"r\"\nkind = \"returns\"\n[[features]]\nname = \"s\"\nkind = \"sma\"\nperiod = 3\ninput = \"r\"\n",
    ))
    .unwrap();
    let rows = stream(&spec, &bars(&[10.0, 11.0, 12.0, 13.0, 14.0, 15.0]));
    let s = spec.column("s").unwrap();
    // r is not ready on bar 0, so s warms up from bar 1 and is ready at bar 3.
    assert!(rows[..3].iter().all(|r| r[s].is_nan()));
    let expected = (1.0 / 10.0 + 1.0 / 11.0 + 1.0 / 12.0) / 3.0;
    assert!((rows[3][s] - expected).abs() < 1e-15);
}

#[test]
fn a_nan_input_resets_and_the_feature_recovers_after_a_fresh_warm_up() {
    let spec = PipelineSpec::new(&parse(
        "[[features]]\nname = \"s\"\nkind = \"sma\"\nperiod = 2\n",
    ))
    .unwrap();
    let mut series = bars(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    series.bars[2].close = f64::NAN;
    let rows = stream(&spec, &series);
    assert_eq!(rows[1][0], 1.5);
    assert!(
        rows[2][0].is_nan() && rows[3][0].is_nan(),
        "not ready from the NaN until a fresh warm-up"
    );
    assert_eq!(rows[4][0], 4.5);
    assert_eq!(rows[5][0], 5.5);
}

#[test]
fn on_nan_error_fails_on_a_nan_after_the_input_was_ready() {
    let text = "[[features]]\nname = \"l\"\nkind = \"lag\"\nperiod = 1\n[[features]]\nname = \"s\"\nkind = \"sma\"\nperiod = 2\ninput = \"l\"\non_nan = \"error\"\n";
    let spec = PipelineSpec::new(&parse(text)).unwrap();
    // Warm-up NaNs of the input (bar 0 of the lag) are expected, not errors.
    let rows = stream(&spec, &bars(&[1.0, 2.0, 3.0]));
    assert_eq!(rows[2][spec.column("s").unwrap()], 1.5);
    let mut state = PipelineState::new(&spec);
    let mut series = bars(&[1.0, 2.0, 3.0, 4.0]);
    series.bars[3].close = f64::NAN;
    for bar in &series.bars[..3] {
        state.update(&spec, bar).unwrap();
    }
    // The NaN close resets the lag, whose output turns NaN at once: s sees it after numbers.
    let err = state.update(&spec, &series.bars[3]).unwrap_err();
    assert_eq!((err.feature.as_str(), err.key), ("s", Some("on_nan")));
}

#[test]
fn a_gap_longer_than_max_gap_resets_the_feature() {
    let spec = PipelineSpec::new(&parse(
        "[[features]]\nname = \"s\"\nkind = \"sma\"\nperiod = 2\nmax_gap = \"2d\"\n",
    ))
    .unwrap();
    let mut series = bars(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    for bar in &mut series.bars[3..] {
        bar.ts.0 += 10 * 86_400_000_000_000; // a ten-day hole before bar 3
    }
    let rows = stream(&spec, &series);
    assert_eq!(rows[2][0], 2.5);
    assert!(rows[3][0].is_nan(), "the gap resets the average");
    assert_eq!(rows[4][0], 4.5);
}

#[test]
fn frozen_standardisation_is_fitted_before_fit_until_only() {
    let spec = PipelineSpec::new(&parse(
        "[[features]]\nname = \"z\"\nkind = \"standardize\"\nmode = \"frozen\"\nfit_until = \"1970-01-04\"\n",
    ))
    .unwrap();
    let rows = stream(&spec, &bars(&[1.0, 2.0, 3.0, 100.0, 5.0]));
    // Fitted on 1, 2, 3 (mean 2, sample std 1); not ready before the window ends.
    assert!(rows[..3].iter().all(|r| r[0].is_nan()));
    assert_eq!(rows[3][0], 98.0);
    assert_eq!(rows[4][0], 3.0);
}

fn series_strategy() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-0.05f64..0.05, 2..120).prop_map(|steps| {
        let mut price = 100.0;
        steps
            .iter()
            .map(|s| {
                price *= 1.0 + s;
                price
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_streaming_equals_batch_bit_for_bit(closes in series_strategy()) {
        let spec = PipelineSpec::new(&every_kind()).unwrap();
        let series = bars(&closes);
        let streamed = stream(&spec, &series);
        let frames = compute_batch(&spec, &[series.clone(), series]).unwrap();
        for frame in &frames {
            for (t, row) in streamed.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    prop_assert!(same(*value, frame.columns[c][t]), "column {} bar {t}", spec.columns()[c]);
                }
            }
        }
    }

    #[test]
    fn prop_changing_the_future_never_changes_the_past(closes in series_strategy(), cut in 0usize..120, factor in 0.5f64..2.0) {
        let spec = PipelineSpec::new(&every_kind()).unwrap();
        let cut = cut.min(closes.len() - 1);
        let original = bars(&closes);
        let mut changed = original.clone();
        for bar in &mut changed.bars[cut + 1..] {
            bar.open *= factor;
            bar.high *= factor * 1.02;
            bar.low *= factor * 0.98;
            bar.close *= factor;
            bar.volume *= factor;
        }
        let (a, b) = (stream(&spec, &original), stream(&spec, &changed));
        for t in 0..=cut {
            for c in 0..spec.columns().len() {
                prop_assert!(same(a[t][c], b[t][c]), "column {} changed at bar {t} <= cut {cut}", spec.columns()[c]);
            }
        }
    }
}

/// Bands and a z-score over one window, each feature alone and both in one pipeline (fused).
fn bands_and_zscore(z_first: bool) -> (PipelineSpec, PipelineSpec, PipelineSpec) {
    let bands = "[[features]]\nname = \"bb\"\nkind = \"bollinger\"\nperiod = 5\nwidth = 1.5\n";
    let z = "[[features]]\nname = \"z\"\nkind = \"zscore\"\nperiod = 5\n";
    let reader = "[[features]]\nname = \"ez\"\nkind = \"ema\"\ninput = \"z\"\nperiod = 3\n";
    let both = if z_first {
        format!("{z}{reader}{bands}")
    } else {
        format!("{bands}{z}{reader}")
    };
    let spec = |text: &str| PipelineSpec::new(&parse(text)).unwrap();
    (spec(bands), spec(&format!("{z}{reader}")), spec(&both))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn prop_fused_bands_and_zscore_equal_each_alone(
        mut closes in series_strategy(),
        nan_at in proptest::option::of(0usize..120),
        z_first in any::<bool>(),
    ) {
        if let Some(i) = nan_at.filter(|&i| i < closes.len()) {
            closes[i] = f64::NAN;
        }
        let series = bars(&closes);
        let (bands, z, both) = bands_and_zscore(z_first);
        prop_assert_eq!(PipelineState::new(&both).kernels(), 2, "bands and z-score fused");
        let (bands_rows, z_rows, both_rows) =
            (stream(&bands, &series), stream(&z, &series), stream(&both, &series));
        for t in 0..closes.len() {
            for (c, name) in bands.columns().iter().enumerate() {
                let at = both.column(name).unwrap();
                prop_assert!(same(bands_rows[t][c], both_rows[t][at]), "{name} at bar {t}");
            }
            for (c, name) in z.columns().iter().enumerate() {
                let at = both.column(name).unwrap();
                prop_assert!(same(z_rows[t][c], both_rows[t][at]), "{name} at bar {t}");
            }
        }
    }
}
