//! The checks every bar passes before the engine sees it, whatever file it came from.

use crate::csv::check_ohlc;
use crate::{Bar, MarketKind, RowProblem};

/// Returns the problem with one bar value, if any: prices must be finite and positive, volumes
/// finite and non-negative.
pub(crate) fn value_problem(value: f64, is_volume: bool) -> Option<RowProblem> {
    if !value.is_finite() {
        Some(RowProblem::NotFinite {
            value: value.to_string(),
        })
    } else if is_volume && value < 0.0 {
        Some(RowProblem::NegativeVolume { value })
    } else if !is_volume && value <= 0.0 {
        Some(RowProblem::NonPositivePrice { value })
    } else {
        None
    }
}

/// Returns the first broken OHLC relation of `bar` and the field to blame (`"high"` or `"low"`),
/// if any.
pub(crate) fn consistency_problem(bar: &Bar) -> Option<(&'static str, RowProblem)> {
    let (role, problem) = check_ohlc(bar.open, bar.high, bar.low, bar.close).err()?;
    Some((if role == 2 { "high" } else { "low" }, problem))
}

/// Returns the problem of a crossed quote (bid above ask), if it is one.
pub(crate) fn crossed_problem(bid: f64, ask: f64) -> Option<RowProblem> {
    (bid > ask).then(|| RowProblem::Inconsistent {
        detail: format!("bid {bid} is above ask {ask} (a crossed quote)"),
    })
}

/// Returns what the file readers would refuse in a market event from elsewhere (a feed), and
/// the field to blame: the same checks, so a feed's impossible bar is never traded.
pub fn event_problem(kind: &MarketKind) -> Option<(&'static str, RowProblem)> {
    let first = |values: &[(f64, &'static str, bool)]| {
        values
            .iter()
            .find_map(|&(v, name, quantity)| value_problem(v, quantity).map(|p| (name, p)))
    };
    match kind {
        MarketKind::Bar(b) => first(&[
            (b.open, "open", false),
            (b.high, "high", false),
            (b.low, "low", false),
            (b.close, "close", false),
            (b.volume, "volume", true),
        ])
        .or_else(|| consistency_problem(b)),
        MarketKind::Trade(t) => first(&[(t.price.0, "price", false), (t.qty.0, "qty", true)]),
        MarketKind::Quote(q) => first(&[
            (q.bid.0, "bid", false),
            (q.ask.0, "ask", false),
            (q.bid_qty.0, "bid_qty", true),
            (q.ask_qty.0, "ask_qty", true),
        ])
        .or_else(|| crossed_problem(q.bid.0, q.ask.0).map(|p| ("bid", p))),
    }
}

/// Returns true when every row of the columns is a bar whose values are acceptable and whose
/// OHLC relations hold: the cheap check of the decoders' fast path, a branch-free loop the
/// compiler vectorises (a batch that fails is then searched for its first problem).
///
/// A low above zero and a high below infinity bound the open and close, which must lie between
/// them, so eight comparisons check every price; each is false for NaN.
pub(crate) fn bars_valid(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
) -> bool {
    let n = open.len();
    let (high, low, close, volume) = (&high[..n], &low[..n], &close[..n], &volume[..n]);
    let mut ok = true;
    for i in 0..n {
        let (o, h, l, c, v) = (open[i], high[i], low[i], close[i], volume[i]);
        ok &= (l > 0.0)
            & (h < f64::INFINITY)
            & (h >= o)
            & (h >= c)
            & (l <= o)
            & (l <= c)
            & (0.0..f64::INFINITY).contains(&v);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    /// The fast check on one bar.
    fn bar_is_valid(bar: &Bar) -> bool {
        bars_valid(
            &[bar.open],
            &[bar.high],
            &[bar.low],
            &[bar.close],
            &[bar.volume],
        )
    }

    /// The slow, descriptive checks that the fast one must agree with.
    fn described_valid(bar: &Bar) -> bool {
        let values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
        let values_ok = values
            .iter()
            .enumerate()
            .all(|(k, &v)| value_problem(v, k == 4).is_none());
        values_ok && consistency_problem(bar).is_none()
    }

    /// Values a file may hold: special ones, both zeros, tiny and huge, and any bit pattern.
    fn odd_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            prop::sample::select(vec![
                0.0,
                -0.0,
                -1.0,
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                5e-324,
                -5e-324,
                f64::MIN_POSITIVE,
                f64::MAX,
                f64::MIN,
            ]),
            -200.0..200.0_f64,
            any::<f64>(),
        ]
    }

    /// A valid bar (wicks possibly zero, so relations hold with equality), then up to three of
    /// its five values replaced by odd ones.
    fn bars() -> impl Strategy<Value = Bar> {
        let wick = || prop_oneof![Just(0.0), 0.0..0.1_f64];
        (
            1.0..1000.0_f64,
            1.0..1000.0_f64,
            wick(),
            wick(),
            prop_oneof![Just(0.0), 0.0..1e6_f64],
            prop::collection::vec((0..5_usize, odd_value()), 0..4),
        )
            .prop_map(|(open, close, up, down, volume, changes)| {
                let mut values = [
                    open,
                    open.max(close) * (1.0 + up),
                    open.min(close) / (1.0 + down),
                    close,
                    volume,
                ];
                for (k, value) in changes {
                    values[k] = value;
                }
                let [open, high, low, close, volume] = values;
                Bar {
                    ts: Timestamp(0),
                    open,
                    high,
                    low,
                    close,
                    volume,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            rng_seed: RngSeed::Fixed(0x7661_6c69_6461_7465),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn prop_fast_check_agrees_with_the_described_problems(bar in bars()) {
            prop_assert_eq!(bar_is_valid(&bar), described_valid(&bar), "{:?}", bar);
        }

        #[test]
        fn prop_a_batch_is_valid_when_every_row_is(rows in prop::collection::vec(bars(), 0..40)) {
            let column = |f: fn(&Bar) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
            let (open, high, low) = (column(|b| b.open), column(|b| b.high), column(|b| b.low));
            let (close, volume) = (column(|b| b.close), column(|b| b.volume));
            prop_assert_eq!(
                bars_valid(&open, &high, &low, &close, &volume),
                rows.iter().all(described_valid)
            );
        }
    }

    #[test]
    fn the_property_sees_both_outcomes() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{Config, TestRunner};
        let config = Config {
            rng_seed: RngSeed::Fixed(1),
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..1000 {
            let bar = bars().new_tree(&mut runner).unwrap().current();
            if bar_is_valid(&bar) {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid > 200 && invalid > 200,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn problems_are_described() {
        assert_eq!(
            value_problem(f64::NAN, false),
            Some(RowProblem::NotFinite {
                value: "NaN".into()
            })
        );
        assert_eq!(
            value_problem(f64::NEG_INFINITY, true),
            Some(RowProblem::NotFinite {
                value: "-inf".into()
            })
        );
        assert_eq!(
            value_problem(0.0, false),
            Some(RowProblem::NonPositivePrice { value: 0.0 })
        );
        assert_eq!(
            value_problem(-2.5, true),
            Some(RowProblem::NegativeVolume { value: -2.5 })
        );
        assert_eq!(value_problem(0.0, true), None);
        assert_eq!(value_problem(-0.0, true), None);
        assert_eq!(value_problem(5e-324, false), None);

        let bar = |open, high, low, close| Bar {
            ts: Timestamp(0),
            open,
            high,
            low,
            close,
            volume: 1.0,
        };
        assert_eq!(consistency_problem(&bar(10.0, 12.0, 9.0, 11.0)), None);
        assert_eq!(consistency_problem(&bar(10.0, 10.0, 10.0, 10.0)), None);
        let describe = |b: Bar| {
            let (column, problem) = consistency_problem(&b).unwrap();
            (column, problem.to_string())
        };
        assert_eq!(
            describe(bar(10.0, 8.0, 9.0, 10.0)),
            ("high", "inconsistent bar: high 8 is below low 9".to_owned())
        );
        assert_eq!(
            describe(bar(10.0, 11.0, 9.0, 12.0)),
            (
                "high",
                "inconsistent bar: high 11 is below close 12".to_owned()
            )
        );
        assert_eq!(
            describe(bar(10.0, 12.0, 10.5, 11.0)),
            (
                "low",
                "inconsistent bar: low 10.5 is above open 10".to_owned()
            )
        );
    }
}
