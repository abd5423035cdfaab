//! Training labels, which look into the future: the trend class of the forward return and the
//! forward-volatility class. Only dataset building for training and evaluation calls this
//! module; a running strategy has no path to it, so it cannot peek at the future.

use super::config::ModelConfig;
use super::error::{MlError, Result};

/// Down: the forward return is below minus the threshold.
pub const DOWN: u32 = 0;
/// Flat: the forward return is within the threshold.
pub const FLAT: u32 = 1;
/// Up: the forward return is above the threshold.
pub const UP: u32 = 2;
/// Class names of trend labels, by class index.
pub const TREND_CLASSES: [&str; 3] = ["down", "flat", "up"];
/// Class names of forward-volatility labels, by class index.
pub const VOL_CLASSES: [&str; 3] = ["low", "medium", "high"];

/// The band around zero within which a forward return counts as flat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A fixed forward-return threshold.
    Fixed(f64),
    /// `k` x the standard deviation of the last `window` 1-bar returns up to the decision row
    /// x sqrt(horizon): the same move counts for more in a quiet market.
    VolScaled {
        /// The multiple of the scaled volatility.
        k: f64,
        /// Returns in the volatility estimate.
        window: usize,
    },
}

impl Threshold {
    /// Returns the threshold a model config defines.
    pub fn from_config(cfg: &ModelConfig) -> Self {
        match cfg.vol_scaled {
            Some(k) => Self::VolScaled {
                k,
                window: cfg.vol_window,
            },
            None => Self::Fixed(cfg.threshold),
        }
    }
}

/// Returns the 1-bar simple return ending at each row (NaN at row 0 and where a price is not
/// positive and finite).
pub fn bar_returns(close: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    for t in 1..close.len() {
        out[t] = simple_return(close[t - 1], close[t]);
    }
    out
}

fn simple_return(from: f64, to: f64) -> f64 {
    if from.is_finite() && to.is_finite() && from > 0.0 {
        to / from - 1.0
    } else {
        f64::NAN
    }
}

/// Returns the trend class of every row: the forward return `close[t + horizon] / close[t] - 1`
/// against the threshold. `None` where the label needs a bar past the end, a price is missing
/// or the volatility estimate is not ready; the vol-scaled threshold reads only returns up to
/// and including row t.
pub fn trend_labels(close: &[f64], horizon: usize, threshold: Threshold) -> Vec<Option<u32>> {
    let returns = bar_returns(close);
    (0..close.len())
        .map(|t| {
            let ahead = close.get(t + horizon)?;
            let forward = simple_return(close[t], *ahead);
            let band = match threshold {
                Threshold::Fixed(x) => x,
                Threshold::VolScaled { k, window } => {
                    let past = returns.get((t + 1).checked_sub(window)?..=t)?;
                    k * sample_std(past) * (horizon as f64).sqrt()
                }
            };
            if !(forward.is_finite() && band.is_finite()) {
                return None;
            }
            Some(if forward > band {
                UP
            } else if forward < -band {
                DOWN
            } else {
                FLAT
            })
        })
        .collect()
}

/// Sample standard deviation (NaN when a value is NaN or there are fewer than two).
fn sample_std(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    (ss / (n - 1.0)).sqrt()
}

/// Returns the realised volatility of the next `horizon` bars after every row: the root mean
/// square of the 1-bar returns of rows t+1..=t+horizon (no mean removed, so it is defined for a
/// horizon of 1). `None` past the end or where a price is missing.
pub fn forward_volatility(close: &[f64], horizon: usize) -> Vec<Option<f64>> {
    let returns = bar_returns(close);
    (0..close.len())
        .map(|t| {
            let ahead = returns.get(t + 1..t + 1 + horizon)?;
            let ms = ahead.iter().map(|r| r * r).sum::<f64>() / horizon as f64;
            ms.is_finite().then(|| ms.sqrt())
        })
        .collect()
}

/// The cut points between low, medium and high forward volatility, fitted on training rows
/// only and then applied unchanged to validation and test rows.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VolTerciles {
    /// Below this is low.
    pub low: f64,
    /// At or above this is high.
    pub high: f64,
}

impl VolTerciles {
    /// Fits the terciles of `values` (the training rows' forward volatilities).
    ///
    /// # Errors
    /// Returns an error when there are fewer than three finite values.
    pub fn fit(values: &[f64]) -> Result<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.len() < 3 {
            return Err(MlError::NoSamples {
                reason: format!(
                    "volatility terciles need at least 3 training rows with a forward \
                     volatility, got {}",
                    sorted.len()
                ),
            });
        }
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
        Ok(Self {
            low: at(1.0 / 3.0),
            high: at(2.0 / 3.0),
        })
    }

    /// Returns the class of a forward volatility: 0 low, 1 medium, 2 high.
    pub fn classify(&self, vol: f64) -> u32 {
        if vol < self.low {
            0
        } else if vol < self.high {
            1
        } else {
            2
        }
    }

    /// Returns the class of every row's forward volatility (`None` stays `None`).
    pub fn labels(&self, forward: &[Option<f64>]) -> Vec<Option<u32>> {
        forward
            .iter()
            .map(|v| v.map(|v| self.classify(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_labels_follow_the_forward_return_and_threshold() {
        let close = [100.0, 101.0, 100.5, 100.5, 99.0, 99.0];
        let labels = trend_labels(&close, 1, Threshold::Fixed(0.0));
        assert_eq!(
            labels,
            vec![
                Some(UP),
                Some(DOWN),
                Some(FLAT),
                Some(DOWN),
                Some(FLAT),
                None
            ]
        );
        let labels = trend_labels(&close, 2, Threshold::Fixed(0.006));
        // 100.5/100 - 1 = 0.005 and 100.5/101 - 1 = -0.005 are within the band; 99/100.5 - 1 =
        // -0.0149 is below it.
        assert_eq!(
            labels,
            vec![Some(FLAT), Some(FLAT), Some(DOWN), Some(DOWN), None, None]
        );
        // The vol-scaled band needs `window` past returns (row 0 has none) and reads no later one.
        let scaled = Threshold::VolScaled { k: 1.0, window: 2 };
        let labels = trend_labels(&close, 1, scaled);
        assert_eq!(labels[..2], [None, None]);
        let mut changed = close;
        changed[5] = 1000.0;
        assert_eq!(
            trend_labels(&changed, 1, scaled)[..4],
            trend_labels(&close, 1, scaled)[..4]
        );
        let t = VolTerciles::fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("six values");
        assert_eq!(
            (t.classify(1.0), t.classify(3.5), t.classify(6.0)),
            (0, 1, 2)
        );
    }
}
