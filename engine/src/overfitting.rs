//! How much of the best of many trials is luck: the deflated Sharpe ratio and the probability of
//! backtest overfitting by combinatorially symmetric cross-validation (CSCV), both of Bailey and
//! López de Prado.
//!
//! The best Sharpe ratio of N trials that have no skill at all still grows with N; the deflated
//! Sharpe ratio is the probabilistic Sharpe ratio of the winner measured against that expected
//! maximum rather than against 0. CSCV splits the trials' returns into S blocks of time, and for
//! every way of picking half of them as "in sample" asks how the in-sample winner ranks on the
//! other half: a winner that is no better than the median out of sample was overfit.

use crate::metrics::sharpe_above;

/// The Euler-Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Returns the expected maximum of `trials` per-period Sharpe ratios drawn without skill whose
/// variance across trials is `variance` (Bailey and López de Prado 2014, eq. 7):
/// `sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))`, γ the Euler-Mascheroni constant.
///
/// `NaN` with fewer than 2 trials or an undefined variance.
pub fn expected_max_sharpe(trials: usize, variance: f64) -> f64 {
    if trials < 2 || variance.is_nan() || variance < 0.0 {
        return f64::NAN;
    }
    let n = trials as f64;
    variance.sqrt()
        * ((1.0 - EULER_GAMMA) * inverse_normal_cdf(1.0 - 1.0 / n)
            + EULER_GAMMA * inverse_normal_cdf(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// Returns the deflated Sharpe ratio (Bailey and López de Prado 2014): the probability that the
/// winner's true Sharpe ratio exceeds the best that `trials` trials without skill would show,
/// given its per-period Sharpe ratio `sr` over `n` returns of skewness `skew` and kurtosis
/// `kurtosis` (not excess) and the `variance` of the per-period Sharpe ratios of all trials.
pub fn deflated_sharpe(
    sr: f64,
    n: usize,
    skew: f64,
    kurtosis: f64,
    trials: usize,
    variance: f64,
) -> f64 {
    sharpe_above(sr, n, skew, kurtosis, expected_max_sharpe(trials, variance))
}

/// The standard normal quantile function, by Acklam's rational approximation (relative error
/// below 1.15e-9 over (0, 1)); `NaN` outside (0, 1).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, k| acc * x + k);
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        poly(&C, q) / (poly(&D, q) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -poly(&C, q) / (poly(&D, q) * q + 1.0)
    }
}

/// The count, sum and sum of squares of the returns of one block of time: enough to give the
/// Sharpe ratio of any union of blocks without keeping the returns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockMoments {
    /// Returns in the block.
    pub n: f64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_sq: f64,
}

impl BlockMoments {
    fn add(self, other: Self) -> Self {
        Self {
            n: self.n + other.n,
            sum: self.sum + other.sum,
            sum_sq: self.sum_sq + other.sum_sq,
        }
    }

    fn sub(self, other: Self) -> Self {
        Self {
            n: self.n - other.n,
            sum: self.sum - other.sum,
            sum_sq: self.sum_sq - other.sum_sq,
        }
    }

    /// The per-period Sharpe ratio `mean / std (ddof = 1)`; `NaN` with fewer than 2 returns or
    /// no spread.
    fn sharpe(self) -> f64 {
        if self.n < 2.0 {
            return f64::NAN;
        }
        let mean = self.sum / self.n;
        let variance = (self.sum_sq - self.sum * mean) / (self.n - 1.0);
        if variance > 0.0 {
            mean / variance.sqrt()
        } else {
            f64::NAN
        }
    }
}

/// Splits `returns` into `blocks` consecutive blocks of (nearly) equal length, block k holding
/// positions `k T / S .. (k + 1) T / S`, and returns each block's moments.
pub fn block_moments(returns: &[f64], blocks: usize) -> Vec<BlockMoments> {
    let t = returns.len();
    (0..blocks)
        .map(|k| {
            returns[k * t / blocks..(k + 1) * t / blocks].iter().fold(
                BlockMoments::default(),
                |m, r| BlockMoments {
                    n: m.n + 1.0,
                    sum: m.sum + r,
                    sum_sq: m.sum_sq + r * r,
                },
            )
        })
        .collect()
}

/// The probability of backtest overfitting of a set of trials, by CSCV.
#[derive(Debug, Clone, PartialEq)]
pub struct Overfitting {
    /// The share of splits whose in-sample winner ranks at or below the median out of sample.
    pub probability: f64,
    /// The splits: C(S, S/2).
    pub splits: usize,
    /// The logit `ln(ω / (1 - ω))` of each split's winner's relative out-of-sample rank ω, in
    /// split order (the subsets of blocks in increasing bit order).
    pub logits: Vec<f64>,
}

/// Returns the probability of backtest overfitting (Bailey, Borwein, López de Prado and Zhu
/// 2015) of `trials`, each given as the moments of the same S blocks of time ([`block_moments`]),
/// S even: for each of the C(S, S/2) ways to choose half the blocks as in sample, the trial of
/// best in-sample Sharpe ratio (ties to the first) gets its out-of-sample rank r among the N
/// trials (1 = worst, ties counted half), ω = r / (N + 1) and the logit λ = ln(ω / (1 - ω));
/// the probability is the share of splits with λ ≤ 0, a winner no better than the median out
/// of sample. An undefined Sharpe ratio ranks below every number.
///
/// `None` with fewer than 2 trials, an odd, zero or unequal number of blocks.
pub fn overfitting(trials: &[Vec<BlockMoments>]) -> Option<Overfitting> {
    let s = trials.first()?.len();
    if trials.len() < 2 || s == 0 || s % 2 == 1 || s > 24 || trials.iter().any(|t| t.len() != s) {
        return None;
    }
    let order = |x: f64| if x.is_nan() { f64::NEG_INFINITY } else { x };
    let totals: Vec<BlockMoments> = trials
        .iter()
        .map(|t| t.iter().fold(BlockMoments::default(), |a, b| a.add(*b)))
        .collect();
    let n = trials.len() as f64;
    let mut logits = Vec::new();
    let mut oos = vec![0.0; trials.len()];
    for mask in 0u32..(1 << s) {
        if mask.count_ones() as usize != s / 2 {
            continue;
        }
        let mut best = (f64::NAN, 0);
        for (i, t) in trials.iter().enumerate() {
            let inside = t
                .iter()
                .enumerate()
                .filter(|(k, _)| mask & (1 << k) != 0)
                .fold(BlockMoments::default(), |a, (_, b)| a.add(*b));
            let score = order(inside.sharpe());
            if i == 0 || score > best.0 {
                best = (score, i);
            }
            oos[i] = order(totals[i].sub(inside).sharpe());
        }
        let winner = oos[best.1];
        let below = oos.iter().filter(|x| **x < winner).count() as f64;
        let tied = oos.iter().filter(|x| **x == winner).count() as f64 - 1.0;
        let omega = (below + tied / 2.0 + 1.0) / (n + 1.0);
        logits.push((omega / (1.0 - omega)).ln());
    }
    let overfit = logits.iter().filter(|l| **l <= 0.0).count();
    Some(Overfitting {
        probability: overfit as f64 / logits.len() as f64,
        splits: logits.len(),
        logits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sharpe;

    fn close(a: f64, b: f64, tol: f64, what: &str) {
        assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
    }

    /// Quantiles from Python's `statistics.NormalDist().inv_cdf`.
    #[test]
    fn inverse_normal_matches_known_quantiles() {
        close(
            inverse_normal_cdf(0.99),
            2.326_347_874_040_840_8,
            1e-8,
            "0.99",
        );
        close(
            inverse_normal_cdf(0.025),
            -1.959_963_984_540_054,
            1e-8,
            "0.025",
        );
        close(inverse_normal_cdf(0.5), 0.0, 1e-12, "0.5");
        close(
            inverse_normal_cdf(1e-6),
            -4.753_424_308_822_899,
            1e-7,
            "1e-6",
        );
        assert!(inverse_normal_cdf(0.0).is_nan() && inverse_normal_cdf(1.0).is_nan());
    }

    /// The numerical example of Bailey and López de Prado (2014), "The Deflated Sharpe Ratio",
    /// section 5: an annualised Sharpe ratio of 2.5 over 1250 daily returns (250 a year) with
    /// skewness -3 and kurtosis 10, the best of N = 100 trials whose annualised Sharpe ratios
    /// vary by 1/2: expected maximum 0.1132 a day, DSR 0.9004. The digits beyond the paper's are
    /// Python's (statistics.NormalDist):
    /// `sqrt(V) * ((1 - g) * inv_cdf(1 - 1/N) + g * inv_cdf(1 - 1/(N e)))` and
    /// `cdf((sr - e) * sqrt(T - 1) / sqrt(1 - sk sr + (k - 1) / 4 sr^2))`.
    #[test]
    fn deflated_sharpe_matches_the_papers_example() {
        let variance = 0.5 / 250.0;
        close(
            expected_max_sharpe(100, variance),
            0.113_172_001_865_132_14,
            1e-9,
            "E[max SR]",
        );
        let sr = 2.5 / 250f64.sqrt();
        let dsr = deflated_sharpe(sr, 1250, -3.0, 10.0, 100, variance);
        close(dsr, 0.900_396_834_449_390_4, 1e-6, "DSR");
        close(dsr, 0.9004, 5e-5, "DSR as printed in the paper");
        // More trials raise the bar; a single trial has no bar.
        assert!(deflated_sharpe(sr, 1250, -3.0, 10.0, 1000, variance) < dsr);
        assert!(deflated_sharpe(sr, 1250, -3.0, 10.0, 1, variance).is_nan());
    }

    /// A small deterministic returns matrix (trial i, period t).
    fn matrix(trials: usize, periods: usize) -> Vec<Vec<f64>> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..trials)
            .map(|i| {
                (0..periods)
                    .map(|t| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        noise * 0.02 + 0.001 * ((i * 7 + t) % 5) as f64 - 0.002
                    })
                    .collect()
            })
            .collect()
    }

    /// CSCV written the plain way: every split's returns concatenated and measured with
    /// `metrics::sharpe`, ranks counted one trial against another.
    fn plain_pbo(returns: &[Vec<f64>], s: usize) -> f64 {
        let t = returns[0].len();
        let block = |k: usize| k * t / s..(k + 1) * t / s;
        let (mut overfit, mut splits) = (0, 0);
        for mask in 0u32..(1 << s) {
            if mask.count_ones() as usize != s / 2 {
                continue;
            }
            let pick = |r: &Vec<f64>, inside: bool| -> Vec<f64> {
                (0..s)
                    .filter(|k| (mask & (1 << k) != 0) == inside)
                    .flat_map(|k| r[block(k)].to_vec())
                    .collect()
            };
            let is: Vec<f64> = returns
                .iter()
                .map(|r| sharpe(&pick(r, true), 1.0))
                .collect();
            let oos: Vec<f64> = returns
                .iter()
                .map(|r| sharpe(&pick(r, false), 1.0))
                .collect();
            let mut best = 0;
            for i in 1..is.len() {
                if is[i] > is[best] {
                    best = i;
                }
            }
            let rank = 1 + oos.iter().filter(|x| **x < oos[best]).count();
            let omega = rank as f64 / (returns.len() + 1) as f64;
            if omega <= 0.5 {
                overfit += 1;
            }
            splits += 1;
        }
        overfit as f64 / splits as f64
    }

    #[test]
    fn overfitting_matches_a_plain_implementation() {
        for (trials, periods, s) in [(5, 60, 4), (8, 97, 6), (3, 40, 8)] {
            let returns = matrix(trials, periods);
            let moments: Vec<_> = returns.iter().map(|r| block_moments(r, s)).collect();
            let got = overfitting(&moments).unwrap();
            let splits = [(4, 6), (6, 20), (8, 70)]
                .iter()
                .find(|x| x.0 == s)
                .unwrap()
                .1;
            assert_eq!(got.splits, splits);
            close(got.probability, plain_pbo(&returns, s), 1e-12, "pbo");
        }
    }

    /// Two trials over four blocks: A earns in blocks 0 and 1 and loses in 2 and 3, B the
    /// reverse, each with a little noise so every block varies. Of the six splits, {0,1} and
    /// {2,3} pick the trial that loses on the other half (λ = ln(1/2) < 0); the four mixed ones
    /// see the same Sharpe ratio in and out of sample, so the winner is best out of sample too
    /// (λ = ln 2). PBO = 2/6.
    #[test]
    fn overfitting_of_a_hand_made_pair() {
        let block = |up: bool| -> Vec<f64> {
            let m = if up { 0.01 } else { -0.01 };
            vec![m + 0.001, m - 0.001, m + 0.002, m - 0.002]
        };
        let a: Vec<f64> = [true, true, false, false]
            .iter()
            .flat_map(|u| block(*u))
            .collect();
        // B is A's mirror in time but slightly better, so the mixed splits are not ties.
        let b: Vec<f64> = [false, false, true, true]
            .iter()
            .flat_map(|u| block(*u))
            .map(|r| r + 0.000_5)
            .collect();
        let got = overfitting(&[block_moments(&a, 4), block_moments(&b, 4)]).unwrap();
        assert_eq!(got.splits, 6);
        let l = (2f64).ln();
        // Splits in bit order: {0,1}, {0,2}, {1,2}, {0,3}, {1,3}, {2,3}.
        let expected = [-l, l, l, l, l, -l];
        for (g, e) in got.logits.iter().zip(expected) {
            close(*g, e, 1e-12, "logit");
        }
        close(got.probability, 2.0 / 6.0, 1e-15, "pbo");
        // A trial that is best in every block is never overfit.
        let c: Vec<f64> = a.iter().map(|r| r.abs() + 0.02).collect();
        let got = overfitting(&[block_moments(&a, 4), block_moments(&c, 4)]).unwrap();
        assert_eq!(got.probability, 0.0);
        // Undefined: one trial, an odd number of blocks.
        assert!(overfitting(&[block_moments(&a, 4)]).is_none());
        assert!(overfitting(&[block_moments(&a, 3), block_moments(&b, 3)]).is_none());
    }
}
