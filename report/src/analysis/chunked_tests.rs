//! An analysis of a curve handed out in chunks (as a long run's curve kept on disk is read)
//! equals the analysis of the same curve in memory, figure for figure.

use super::tests::{bars, day, fill, outcome, trade};
use super::*;
use engine::column::{Curve, CurveChunk};
use engine::{EquityCurve, Summary};
use market_data::{NANOS_PER_DAY, Side, Timestamp};

/// A curve that hands out its steps in chunks of `size`.
struct Chunked<'a>(&'a EquityCurve, usize);

impl Curve for Chunked<'_> {
    fn steps(&self) -> usize {
        self.0.len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(CurveChunk<'_>)) {
        let c = self.0;
        for start in (0..c.len()).step_by(self.1) {
            let end = (start + self.1).min(c.len());
            visit(CurveChunk {
                ts: &c.ts[start..end],
                equity: &c.equity[start..end],
                cash: &c.cash[start..end],
            });
        }
    }
}

/// A pseudo-random walk in [0, 1), the same on every machine.
fn uniform(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

/// Six years of steps every eight hours (with a month-long gap), two instruments traded and
/// held, equity with drawdowns, flat stretches and a jump, cash apart from equity.
fn long_run() -> (engine::BacktestOutcome, Vec<Vec<market_data::Bar>>) {
    let mut seed = 42;
    let step = NANOS_PER_DAY / 3;
    let ts: Vec<i64> = (0..6_600i64)
        .map(|i| day(-40) + i * step + if i > 3_000 { 30 * NANOS_PER_DAY } else { 0 })
        .collect();
    let mut e = 10_000.0;
    let equity: Vec<f64> = (0..ts.len())
        .map(|i| {
            if !(2_000..2_500).contains(&i) {
                e *= 1.0 + (uniform(&mut seed) - 0.49) * 0.02;
            }
            if i == 4_321 {
                e *= 0.7;
            }
            e
        })
        .collect();
    let mut o = outcome(&["A", "B"], &ts, &equity, 10_000.0);
    o.curve.cash = equity
        .iter()
        .enumerate()
        .map(|(i, e)| e * (0.2 + 0.6 * ((i / 500) % 2) as f64))
        .collect();
    o.fills = (0..60)
        .map(|k| {
            let side = if k % 3 == 0 { Side::Sell } else { Side::Buy };
            fill((k % 2) as u32, ts[k * 100 + 7], side, 5.0, 100.0 + k as f64)
        })
        .collect();
    o.trades = (0..30)
        .map(|k| {
            trade(
                (k % 2) as u32,
                ts[k * 200],
                ts[k * 200 + 50],
                (k as f64 - 12.0) * 3.0,
            )
        })
        .collect();
    let closes = |scale: f64, seed: &mut u64| {
        let mut p = 100.0 * scale;
        // Every step but a few, so each is valued at its last close.
        let points: Vec<(i64, f64)> = (ts.iter())
            .enumerate()
            .filter(|(i, _)| i % 97 != 5)
            .map(|(_, &t)| {
                p *= 1.0 + (uniform(seed) - 0.5) * 0.03;
                (t, p)
            })
            .collect();
        bars(&points)
    };
    let kept = vec![closes(1.0, &mut seed), closes(0.5, &mut seed)];
    (o, kept)
}

fn analysis(
    o: &engine::BacktestOutcome,
    summary: &Summary,
    curve: &dyn Curve,
    prices: &[PriceInput<'_>],
) -> String {
    let a = analyse(
        &AnalysisInput {
            title: "chunks",
            strategy: "hand",
            outcome: o,
            curve,
            prices,
            benchmark: None,
            external_benchmark: None,
        },
        summary,
    );
    serde_json::to_string(&a).unwrap()
}

#[test]
fn a_curve_read_in_chunks_gives_the_analysis_of_the_curve_in_memory() {
    let (o, kept) = long_run();
    let prices = [
        PriceInput {
            instrument: "A",
            bars: &kept[0],
        },
        PriceInput {
            instrument: "B",
            bars: &kept[1],
        },
    ];
    let summary = Summary::new(&o, Some(3.0 * 252.0));
    for prices in [&prices[..], &[]] {
        let whole = analysis(&o, &summary, &o.curve, prices);
        let parsed: Analysis = serde_json::from_str(&whole).unwrap();
        // The run exercises what streaming could get wrong: downsampled charts, rolling
        // windows, drawdowns, years and trailing windows up to five years.
        assert!(parsed.equity.ts.len() > 1_800 && parsed.equity.ts.len() <= MAX_POINTS);
        assert!(parsed.rolling_sharpe.ts.len() > 1_000);
        assert_eq!(parsed.worst_drawdowns.len(), 5);
        assert_eq!(parsed.yearly.len(), 7);
        assert!(
            parsed
                .metrics
                .iter()
                .any(|m| m.key == "return_5y" && m.value.is_some())
        );
        if prices.is_empty() {
            assert!(parsed.benchmark.is_none() && parsed.positions.gross.ts.is_empty());
        } else {
            assert!(parsed.rolling_beta.ts.len() > 1_000);
            assert!(parsed.positions.gross.ts.len() > 1_800);
        }
        for size in [1, 7, 64, 6_599] {
            let chunked = analysis(&o, &summary, &Chunked(&o.curve, size), prices);
            assert!(chunked == whole, "chunks of {size} differ");
        }
    }
    // A curve given apart from the outcome is the one analysed.
    let mut empty = o.clone();
    empty.curve = EquityCurve::default();
    assert_eq!(
        analysis(&empty, &summary, &Chunked(&o.curve, 64), &[]),
        analysis(&o, &summary, &o.curve, &[])
    );
    assert_eq!(o.curve.ts[0], Timestamp(day(-40)));
}
