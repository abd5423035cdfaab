//! Is a model's edge over a baseline more than luck? The Diebold-Mariano test (Diebold and
//! Mariano 1995) on per-sample losses, with a Newey-West (Bartlett kernel) variance: labels
//! `horizon` bars ahead overlap, so consecutive loss differences are correlated up to
//! `horizon - 1` lags and a plain variance would overstate the evidence.

use serde::{Deserialize, Serialize};

/// The outcome of a Diebold-Mariano test of model against baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DieboldMariano {
    /// Mean loss difference, model minus baseline (negative: the model's loss is lower).
    pub mean_difference: f64,
    /// The statistic: the mean difference over its HAC standard error.
    pub statistic: f64,
    /// Two-sided p-value under the normal approximation.
    pub p_value: f64,
    /// Autocovariance lags in the variance.
    pub lags: usize,
    /// Samples.
    pub n: usize,
}

impl DieboldMariano {
    /// Tests `model_loss` against `baseline_loss` (per sample, in time order) with `lags`
    /// autocovariance lags (`horizon - 1` for `horizon`-bar forecasts). `None` with fewer than
    /// two samples, unequal lengths, or no variation in the differences.
    pub fn test(model_loss: &[f64], baseline_loss: &[f64], lags: usize) -> Option<Self> {
        let n = model_loss.len();
        if n < 2 || baseline_loss.len() != n {
            return None;
        }
        let d: Vec<f64> = model_loss
            .iter()
            .zip(baseline_loss)
            .map(|(a, b)| a - b)
            .collect();
        let mean = d.iter().sum::<f64>() / n as f64;
        let autocovariance = |k: usize| {
            (k..n)
                .map(|t| (d[t] - mean) * (d[t - k] - mean))
                .sum::<f64>()
                / n as f64
        };
        let lags = lags.min(n - 1);
        let mut variance = autocovariance(0);
        for k in 1..=lags {
            let weight = 1.0 - k as f64 / (lags + 1) as f64;
            variance += 2.0 * weight * autocovariance(k);
        }
        if variance.is_nan() || variance <= 0.0 {
            return None;
        }
        let statistic = mean / (variance / n as f64).sqrt();
        Some(Self {
            mean_difference: mean,
            statistic,
            p_value: erfc(statistic.abs() / std::f64::consts::SQRT_2),
            lags,
            n,
        })
    }
}

/// The complementary error function, to about 1e-7 relative (Numerical Recipes' `erfcc`,
/// Chebyshev fit).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statistic_matches_a_hand_computed_example() {
        // d = model - baseline = [0.5, -0.2, 0.3, 0.1, -0.4, 0.6, 0.2, -0.1]: mean 0.125;
        // deviations 0.375, -0.325, 0.175, -0.025, -0.525, 0.475, 0.075, -0.225;
        // gamma0 = 0.835 / 8 = 0.104375; gamma1 = -0.400625 / 8 = -0.050078125;
        // Bartlett weight 1/2 at lag 1: variance 0.104375 - 0.050078125 = 0.054296875;
        // DM = 0.125 / sqrt(0.054296875 / 8) = 1.5172865; p = erfc(1.5172865 / sqrt 2) = 0.129194.
        let model = [1.5, 0.8, 1.3, 1.1, 0.6, 1.6, 1.2, 0.9];
        let baseline = [1.0; 8];
        let dm = DieboldMariano::test(&model, &baseline, 1).unwrap();
        assert!((dm.mean_difference - 0.125).abs() < 1e-12);
        assert!((dm.statistic - 1.517_286_5).abs() < 1e-6, "{dm:?}");
        assert!((dm.p_value - 0.129_194).abs() < 1e-5, "{dm:?}");
        // Swapped: the same evidence the other way.
        let swapped = DieboldMariano::test(&baseline, &model, 1).unwrap();
        assert!((swapped.statistic + dm.statistic).abs() < 1e-12);
        assert!(DieboldMariano::test(&baseline, &baseline, 1).is_none());
        assert!(DieboldMariano::test(&model[..1], &baseline[..1], 0).is_none());
    }

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207, erfc(1.959964 / sqrt 2) = 0.05, erfc(-1) = 1.842700793.
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(1.959_964 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
    }
}
