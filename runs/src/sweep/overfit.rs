//! Is a sweep's winner skill or luck? Each job keeps what the deflated Sharpe ratio and the
//! probability of backtest overfitting need ([`Trial`]: its per-period Sharpe ratio, skewness,
//! kurtosis and the moments of its returns over [`BLOCKS`] blocks of time), journaled with its
//! row so a resumed sweep judges the same trials; [`Verdict::of`] applies the formulas of
//! `engine::overfitting` to them.

use super::table::Row;
use engine::BacktestOutcome;
use engine::metrics::{excess_sharpe, kurtosis, per_period_rate, simple_returns, skew};
use engine::overfitting::{BlockMoments, block_moments, deflated_sharpe, expected_max_sharpe};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Blocks of time CSCV splits the returns into: 16, as Bailey et al. suggest, gives
/// C(16, 8) = 12,870 splits.
pub(crate) const BLOCKS: usize = 16;

/// CSCV sums 16 blocks of every job in each of the 12,870 splits (3.3 x 10^9 block sums at this
/// many jobs): past it the sweep reports the deflated Sharpe ratio alone.
const MAX_PBO_TRIALS: usize = 20_000;

/// A DSR below this leaves the winner within what chance gives (the paper's 95% level).
const CONFIDENT: f64 = 0.95;

/// What the overfitting figures need of one job's returns in excess of the risk-free rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TrialText", into = "TrialText")]
pub(crate) struct Trial {
    /// Per-period (not annualised) Sharpe ratio.
    pub(crate) sharpe: f64,
    /// Skewness (biased, as the summary's).
    pub(crate) skew: f64,
    /// Excess kurtosis (biased, as the summary's).
    pub(crate) kurtosis: f64,
    /// Number of returns.
    pub(crate) periods: usize,
    /// Moments of the returns over [`BLOCKS`] consecutive blocks.
    pub(crate) blocks: Vec<BlockMoments>,
}

impl Trial {
    /// Returns the trial of a run measured at `periods_per_year` with an annual `risk_free` rate
    /// (the figures of its summary).
    pub(crate) fn of(outcome: &BacktestOutcome, periods_per_year: f64, risk_free: f64) -> Self {
        let rf = per_period_rate(risk_free, periods_per_year);
        let excess: Vec<f64> = simple_returns(&outcome.curve.equity)
            .iter()
            .map(|r| r - rf)
            .collect();
        Self {
            sharpe: excess_sharpe(&excess, 1.0, 0.0),
            skew: skew(&excess),
            kurtosis: kurtosis(&excess),
            periods: excess.len(),
            blocks: block_moments(&excess, BLOCKS),
        }
    }
}

/// A [`Trial`] as JSON numbers, an undefined figure as null (JSON has no NaN).
#[derive(Serialize, Deserialize)]
struct TrialText {
    sharpe: Option<f64>,
    skew: Option<f64>,
    kurtosis: Option<f64>,
    periods: usize,
    blocks: Vec<[Option<f64>; 3]>,
}

fn some(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

impl From<Trial> for TrialText {
    fn from(t: Trial) -> Self {
        Self {
            sharpe: some(t.sharpe),
            skew: some(t.skew),
            kurtosis: some(t.kurtosis),
            periods: t.periods,
            blocks: t
                .blocks
                .iter()
                .map(|b| [some(b.n), some(b.sum), some(b.sum_sq)])
                .collect(),
        }
    }
}

impl From<TrialText> for Trial {
    fn from(t: TrialText) -> Self {
        Self {
            sharpe: nan(t.sharpe),
            skew: nan(t.skew),
            kurtosis: nan(t.kurtosis),
            periods: t.periods,
            blocks: t
                .blocks
                .iter()
                .map(|[n, sum, sum_sq]| BlockMoments {
                    n: nan(*n),
                    sum: nan(*sum),
                    sum_sq: nan(*sum_sq),
                })
                .collect(),
        }
    }
}

/// The overfitting figures of a sweep's winner, written to `overfitting.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Verdict {
    /// The winner's job id (rank 1).
    pub(crate) winner: usize,
    /// Trials judged (jobs with a defined Sharpe ratio).
    pub(crate) trials: usize,
    /// The winner's per-period Sharpe ratio.
    pub(crate) winner_sharpe: Option<f64>,
    /// The best per-period Sharpe ratio expected of that many trials without skill.
    pub(crate) expected_max_sharpe: Option<f64>,
    /// The deflated Sharpe ratio of the winner.
    pub(crate) deflated_sharpe: Option<f64>,
    /// The probability of backtest overfitting (CSCV), when every trial has its blocks.
    pub(crate) pbo: Option<f64>,
    /// CSCV's splits.
    pub(crate) pbo_splits: usize,
    /// Blocks of time.
    pub(crate) pbo_blocks: usize,
    /// The plain sentences printed beside the winner.
    pub(crate) sentences: Vec<String>,
}

impl Verdict {
    /// Judges the winner `winner` among `rows` (job id to row); `None` when the winner has no
    /// trial (a walk-forward sweep, a journal of an older version).
    pub(crate) fn of(rows: &BTreeMap<usize, Row>, winner: usize) -> Option<Self> {
        let best = rows.get(&winner)?.trial.as_ref()?;
        let trials: Vec<&Trial> = rows.values().filter_map(|r| r.trial.as_ref()).collect();
        let sharpes: Vec<f64> = trials
            .iter()
            .map(|t| t.sharpe)
            .filter(|s| s.is_finite())
            .collect();
        let n = sharpes.len();
        let variance = if n < 2 {
            f64::NAN
        } else {
            let mean = sharpes.iter().sum::<f64>() / n as f64;
            sharpes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        };
        let bar = expected_max_sharpe(n, variance);
        let dsr = deflated_sharpe(
            best.sharpe,
            best.periods,
            best.skew,
            best.kurtosis + 3.0,
            n,
            variance,
        );
        let blocks: Vec<Vec<BlockMoments>> = trials.iter().map(|t| t.blocks.clone()).collect();
        let pbo = if trials.len() == rows.len() && trials.len() <= MAX_PBO_TRIALS {
            engine::overfitting::overfitting(&blocks)
        } else {
            None
        };
        let mut sentences = Vec::new();
        if dsr.is_finite() {
            let mut s = format!(
                "deflated Sharpe ratio of the winner (job {winner}): {dsr:.3}, the probability \
                 that its true Sharpe ratio beats the best of {n} trials without skill \
                 ({bar:.4} a period, against its {:.4})",
                best.sharpe
            );
            if dsr < CONFIDENT {
                s.push_str(&format!(
                    "; below {CONFIDENT}: a winner this good is expected by chance in {n} trials"
                ));
            }
            sentences.push(s);
        } else {
            sentences.push(format!(
                "deflated Sharpe ratio of the winner (job {winner}): n/a ({n} trials with a \
                 defined Sharpe ratio; it needs 2 and a winner whose returns vary)"
            ));
        }
        if let Some(p) = &pbo {
            let mut s = format!(
                "probability of backtest overfitting: {:.3} (CSCV over {BLOCKS} blocks, {} \
                 splits): the in-sample best ranks at or below the median out of sample in {:.0}% \
                 of splits",
                p.probability,
                p.splits,
                p.probability * 100.0
            );
            if p.probability >= 0.5 {
                s.push_str("; picking the best of this sweep is no better than picking at random");
            }
            sentences.push(s);
        } else if trials.len() > MAX_PBO_TRIALS {
            sentences.push(format!(
                "probability of backtest overfitting: not computed for {} jobs (CSCV ranks every \
                 job in each of its splits; at most {MAX_PBO_TRIALS}): sample the grid \
                 (`samples`) to judge it",
                trials.len()
            ));
        } else if trials.len() < rows.len() {
            sentences.push(format!(
                "probability of backtest overfitting: n/a ({} of {} jobs were journaled by an \
                 older version without their returns; delete the journal to judge them all)",
                rows.len() - trials.len(),
                rows.len()
            ));
        }
        Some(Self {
            winner,
            trials: n,
            winner_sharpe: some(best.sharpe),
            expected_max_sharpe: some(bar),
            deflated_sharpe: some(dsr),
            pbo: pbo.as_ref().map(|p| p.probability),
            pbo_splits: pbo.as_ref().map_or(0, |p| p.splits),
            pbo_blocks: BLOCKS,
            sentences,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sharpe: f64, blocks: Vec<BlockMoments>) -> Row {
        Row {
            metrics: Vec::new(),
            halted_at: None,
            trial: Some(Trial {
                sharpe,
                skew: 0.0,
                kurtosis: 0.0,
                periods: 1000,
                blocks,
            }),
        }
    }

    /// Ten trials of Sharpe ratios 0.005, 0.010, ..., 0.050 a period, the winner's over 1000
    /// normal returns (skew 0, kurtosis 3); the expected values computed in Python with the
    /// paper's formulas.
    #[test]
    fn verdict_deflates_the_winner_and_says_so() {
        let block = BlockMoments {
            n: 10.0,
            sum: 0.0,
            sum_sq: 1.0,
        };
        let rows: BTreeMap<usize, Row> = (0..10)
            .map(|j| (j, row(0.005 * (j + 1) as f64, vec![block; 4])))
            .collect();
        let v = Verdict::of(&rows, 9).unwrap();
        assert_eq!(v.trials, 10);
        // Python: statistics.variance([0.005 * k for k in range(1, 11)]); e = sqrt(v) * ((1 - g)
        // * inv_cdf(0.9) + g * inv_cdf(1 - 1/(10 e))); cdf((0.05 - e) * sqrt(999) /
        // sqrt(1 + (3 - 1) / 4 * 0.05**2)) with statistics.NormalDist.
        assert!((v.expected_max_sharpe.unwrap() - 0.023_836_665_523_153_847).abs() < 1e-9);
        let dsr = v.deflated_sharpe.unwrap();
        assert!((dsr - 0.795_719_084_438_135_2).abs() < 1e-6, "{dsr}");
        assert!(v.sentences[0].contains("expected by chance in 10 trials"));
        // Identical blocks everywhere: every split ties, the winner (first) ranks at the median.
        assert_eq!(v.pbo, Some(1.0));
        assert!(v.sentences[1].contains("no better than picking at random"));
        // A row journaled without its trial costs PBO, not DSR.
        let mut partial = rows.clone();
        partial.get_mut(&0).unwrap().trial = None;
        let v = Verdict::of(&partial, 9).unwrap();
        assert_eq!(v.pbo, None);
        assert!(v.sentences[1].contains("older version"));
    }

    #[test]
    fn a_trial_round_trips_through_json_with_undefined_figures() {
        let t = Trial {
            sharpe: f64::NAN,
            skew: 0.1 + 0.2,
            kurtosis: f64::NAN,
            periods: 3,
            blocks: vec![BlockMoments {
                n: 1.0,
                sum: 1.0 / 3.0,
                sum_sq: f64::NAN,
            }],
        };
        let back: Trial = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert!(back.sharpe.is_nan() && back.kurtosis.is_nan() && back.blocks[0].sum_sq.is_nan());
        assert_eq!(back.skew.to_bits(), t.skew.to_bits());
        assert_eq!(back.blocks[0].sum.to_bits(), t.blocks[0].sum.to_bits());
    }
}
