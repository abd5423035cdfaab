//! Cross-indicator tests: agreement with `ta` 0.11 on GOOG, warm-up, reset and no look-ahead
//! for every kind through `Box<dyn Indicator>`, plus the helpers the per-file proptests share.

use super::*;
use market_data::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::ops::Range;

/// Returns true when `a` and `b` agree to 1e-9 relative (or 1e-9 absolute near zero), or are
/// both NaN (both not ready).
pub(super) fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    let diff = (a - b).abs();
    a == b || diff <= 1e-9 || diff <= 1e-9 * a.abs().max(b.abs())
}

/// Returns the timestamp of test row `t`: six hours apart, so sessions change every 4 rows.
pub(super) fn step_ts(t: usize) -> Timestamp {
    Timestamp::from_secs(t as i64 * 6 * 3600)
}

/// Generates positive prices.
pub(super) fn prices(len: Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(1.0f64..1000.0, len)
}

/// Wraps single values as one-input rows.
pub(super) fn singles(xs: &[f64]) -> Vec<Vec<f64>> {
    xs.iter().map(|&x| vec![x]).collect()
}

/// Generates consistent `[high, low, close]` rows (low <= close <= high, all positive).
pub(super) fn bars(len: Range<usize>) -> impl Strategy<Value = Vec<Vec<f64>>> {
    let bar = (10.0f64..1000.0, 0.0f64..10.0, 0.0f64..10.0);
    proptest::collection::vec(bar.prop_map(|(c, up, down)| vec![c + up, c - down, c]), len)
}

/// Generates `[price, volume]` rows, a fifth of them with zero volume.
pub(super) fn volumes(len: Range<usize>) -> impl Strategy<Value = Vec<Vec<f64>>> {
    let volume = prop_oneof![1 => Just(0.0), 4 => 0.0f64..1000.0];
    proptest::collection::vec((1.0f64..1000.0, volume).prop_map(|(p, v)| vec![p, v]), len)
}

/// Feeds `rows` (at `step_ts(t)`) and checks every output against `naive(history so far)`;
/// then feeds `noise`, resets, and checks the same rows again: after `reset` the indicator must
/// behave exactly like a fresh one.
pub(super) fn check_against_naive(
    ind: &mut dyn Indicator,
    rows: &[Vec<f64>],
    noise: &[Vec<f64>],
    naive: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) -> Result<(), TestCaseError> {
    let mut out = vec![0.0; ind.outputs().len()];
    for pass in ["fresh", "after reset"] {
        if pass == "after reset" {
            for (i, row) in noise.iter().enumerate() {
                ind.update(step_ts(i), row, &mut out);
            }
            ind.reset();
        }
        for t in 0..rows.len() {
            ind.update(step_ts(t), &rows[t], &mut out);
            let want = naive(&rows[..=t]);
            prop_assert_eq!(want.len(), out.len());
            for (k, name) in ind.outputs().iter().enumerate() {
                prop_assert!(
                    close(out[k], want[k]),
                    "{pass}, t = {t}, {name}: streaming {} vs naive {}",
                    out[k],
                    want[k]
                );
            }
        }
    }
    Ok(())
}

/// Returns one fresh indicator of every kind and convention, with short periods.
fn all_kinds() -> Vec<Box<dyn Indicator>> {
    vec![
        Box::new(Sma::new(5)),
        Box::new(Ema::new(5, EmaSeed::First)),
        Box::new(Ema::new(5, EmaSeed::Sma)),
        Box::new(Wma::new(5)),
        Box::new(Rsi::new(5, RsiSmoothing::Ta)),
        Box::new(Rsi::new(5, RsiSmoothing::Classic)),
        Box::new(Macd::new(3, 6, 4)),
        Box::new(Bollinger::new(5, 2.0)),
        Box::new(Atr::new(5)),
        Box::new(Stochastic::new(5, 3)),
        Box::new(Roc::new(3)),
        Box::new(LogReturn::new(1)),
        Box::new(Volatility::new(5)),
        Box::new(ZScore::new(5)),
        Box::new(RollingMin::new(5)),
        Box::new(RollingMax::new(5)),
        Box::new(Vwap::session()),
        Box::new(Vwap::rolling(5)),
        Box::new(Obv::new()),
        Box::new(Correlation::new(5)),
    ]
}

/// Shapes a generated `[high, low, close, volume]` row into an indicator's inputs.
fn input_for(inputs: usize, row: &[f64; 4]) -> Vec<f64> {
    match inputs {
        1 => vec![row[2]],
        2 => vec![row[2], row[3]],
        _ => vec![row[0], row[1], row[2]],
    }
}

/// Runs `ind` over `rows` from a fresh start, returning every output row.
fn run(ind: &mut dyn Indicator, rows: &[[f64; 4]]) -> Vec<Vec<f64>> {
    rows.iter()
        .enumerate()
        .map(|(t, row)| {
            let mut out = vec![0.0; ind.outputs().len()];
            ind.update(step_ts(t), &input_for(ind.inputs(), row), &mut out);
            out
        })
        .collect()
}

/// Generates `[high, low, close, volume]` rows with positive volume.
fn market(len: Range<usize>) -> impl Strategy<Value = Vec<[f64; 4]>> {
    let row = (
        10.0f64..1000.0,
        0.01f64..10.0,
        0.01f64..10.0,
        1.0f64..1000.0,
    );
    proptest::collection::vec(
        row.prop_map(|(c, up, down, v)| [c + up, c - down, c, v]),
        len,
    )
}

proptest! {
    #[test]
    fn prop_no_look_ahead(rows in market(1..80), cut in 0usize..80) {
        for (mut full, mut prefix) in all_kinds().into_iter().zip(all_kinds()) {
            let cut = cut.min(rows.len());
            let all = run(full.as_mut(), &rows);
            let head = run(prefix.as_mut(), &rows[..cut]);
            for (t, (a, b)) in all.iter().zip(&head).enumerate() {
                for (x, y) in a.iter().zip(b) {
                    prop_assert!(x.to_bits() == y.to_bits(), "{:?} at t = {t}", full);
                }
            }
        }
    }

    #[test]
    fn prop_not_ready_is_nan_until_warmup_then_first_output_is_ready(rows in market(40..60)) {
        for mut ind in all_kinds() {
            let warmup = ind.warmup();
            let outs = run(ind.as_mut(), &rows);
            for (t, out) in outs.iter().enumerate().take(warmup - 1) {
                prop_assert!(out.iter().all(|v| v.is_nan()), "{ind:?} ready at t = {t}: {out:?}");
            }
            prop_assert!(outs[warmup - 1][0].is_finite(), "{ind:?} not ready at warmup");
            prop_assert_eq!(outs[0].len(), ind.outputs().len());
        }
    }

    #[test]
    fn prop_reset_equals_fresh(noise in market(0..40), rows in market(1..40)) {
        for (mut used, mut fresh) in all_kinds().into_iter().zip(all_kinds()) {
            run(used.as_mut(), &noise);
            used.reset();
            let (a, b) = (run(used.as_mut(), &rows), run(fresh.as_mut(), &rows));
            let mut same = a.iter().flatten().zip(b.iter().flatten());
            prop_assert!(same.all(|(x, y)| x.to_bits() == y.to_bits()), "{used:?}");
        }
    }
}

/// The GOOG reference written by `ta` 0.11.0 and its conventions file.
mod goog {
    use super::*;

    use std::sync::OnceLock;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/reference/");

    /// Returns a reference file's text, read once at test time.
    fn fixture(cell: &'static OnceLock<String>, name: &str) -> &'static str {
        cell.get_or_init(|| std::fs::read_to_string(format!("{DIR}{name}")).expect(name))
    }

    fn csv() -> &'static str {
        static CSV: OnceLock<String> = OnceLock::new();
        fixture(&CSV, "indicators_goog.csv")
    }

    fn conventions() -> &'static str {
        static JSON: OnceLock<String> = OnceLock::new();
        fixture(&JSON, "indicators_goog_conventions.json")
    }

    /// Returns the named column, empty cells as NaN.
    fn column(name: &str) -> Vec<f64> {
        let mut lines = csv().lines();
        let header = lines.next().expect("header");
        let idx = header.split(',').position(|h| h == name).expect("column");
        lines
            .map(|line| {
                let cell = line.split(',').nth(idx).expect("cell");
                if cell.is_empty() {
                    f64::NAN
                } else {
                    cell.parse::<f64>().expect("float")
                }
            })
            .collect()
    }

    /// Returns `check_vs_plain_loops.<key>.first_valid_index` (no JSON parser in this crate's
    /// dependencies, and the file's shape is fixed).
    fn first_valid_index(key: &str) -> usize {
        let json = conventions();
        let checks = json.find("\"check_vs_plain_loops\"").expect("checks");
        let at = checks + json[checks..].find(&format!("\"{key}\": {{")).expect("key");
        let field = "\"first_valid_index\":";
        let start = at + json[at..].find(field).expect("field") + field.len();
        let digits: String = json[start..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().expect("index")
    }

    /// Feeds GOOG bars through `ind` (via the trait) and returns its outputs by column.
    fn outputs(mut ind: impl Indicator) -> Vec<Vec<f64>> {
        let (high, low, close) = (column("high"), column("low"), column("close"));
        let mut cols = vec![Vec::new(); ind.outputs().len()];
        let mut out = vec![0.0; cols.len()];
        for t in 0..close.len() {
            let input = [high[t], low[t], close[t]];
            let input = if ind.inputs() == 3 {
                &input[..]
            } else {
                &input[2..]
            };
            ind.update(step_ts(t), input, &mut out);
            for (col, &v) in cols.iter_mut().zip(&out) {
                col.push(v);
            }
        }
        cols
    }

    /// Checks `ours` against the reference column: not ready exactly before the first valid
    /// index the conventions file states, then equal to 1e-9 relative.
    fn check(ours: &[f64], reference: &str, first: usize) {
        let want = column(reference);
        assert_eq!(ours.len(), 2148);
        assert_eq!(
            ours.iter().position(|v| !v.is_nan()),
            Some(first),
            "{reference}"
        );
        for t in first..want.len() {
            let (a, b) = (ours[t], want[t]);
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1e-3),
                "{reference} t={t}: {a} vs {b}"
            );
        }
    }

    /// Checks a column whose reference NaN pattern is our not-ready pattern.
    fn check_same_warmup(ours: &[f64], reference: &str) {
        let first = first_valid_index(reference);
        assert_eq!(
            column(reference).iter().position(|v| !v.is_nan()),
            Some(first)
        );
        check(ours, reference, first);
    }

    #[test]
    fn sma20() {
        check_same_warmup(&outputs(Sma::new(20))[0], "sma20");
    }

    #[test]
    fn ema20_first_seeded() {
        check_same_warmup(&outputs(Ema::new(20, EmaSeed::First))[0], "ema20");
    }

    #[test]
    fn rsi14_ta_convention() {
        check_same_warmup(&outputs(Rsi::new(14, RsiSmoothing::Ta))[0], "rsi14");
    }

    #[test]
    fn macd_12_26_9() {
        let cols = outputs(Macd::new(12, 26, 9));
        check_same_warmup(&cols[0], "macd");
        check_same_warmup(&cols[1], "macd_signal");
        // The conventions file lists no hist check; it is defined as macd - signal, so it
        // shares the signal's first index.
        check(&cols[2], "macd_hist", first_valid_index("macd_signal"));
    }

    #[test]
    fn bollinger_20_2() {
        let cols = outputs(Bollinger::new(20, 2.0));
        check(&cols[0], "bb_mid", first_valid_index("sma20"));
        check_same_warmup(&cols[1], "bb_upper");
        check_same_warmup(&cols[2], "bb_lower");
    }

    #[test]
    fn atr14_after_warmup() {
        // `ta` writes 0.0 for t < 13, so its first "valid" index is 0; ours is not ready there
        // (a deliberate difference) and first shows the SMA seed at t = 13.
        assert_eq!(first_valid_index("atr14"), 0);
        let reference = column("atr14");
        assert!(reference[..13].iter().all(|&v| v == 0.0) && reference[13] > 0.0);
        check(&outputs(Atr::new(14))[0], "atr14", 13);
    }
}
