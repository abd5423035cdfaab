//! Synthetic data with a planted signal whose Bayes rate is known exactly, shared by the tests
//! and by `quant bench augmentation`, so that both measure the same task.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Columns of [`lag3`]'s feature matrix: the coin, then two columns of noise.
pub const LAG3_COLUMNS: usize = 3;

/// The best accuracy any predictor can reach on [`lag3`] (one-bar horizon).
pub const LAG3_BAYES_RATE: f64 = 2.0 / 3.0;

/// Prices and features of a planted task, row by row.
#[derive(Debug, Clone)]
pub struct Planted {
    /// Row-major `[rows x LAG3_COLUMNS]`.
    pub features: Vec<f64>,
    /// Close prices, one per row.
    pub close: Vec<f64>,
    /// What the rule that knows the process calls at each decision row: +1 up, -1 down.
    pub call: Vec<f64>,
}

/// Returns `rows` rows of the lag-3 task: column 0 a fair coin (+1 or -1), columns 1 and 2
/// independent N(0, 1) noise; the return of the bar after decision bar t has the sign of the
/// coin at t - 3 with probability 2/3, the other sign otherwise, and a size (0.2% to 1.2%)
/// independent of everything. Nothing else carries information about the label, so the Bayes
/// rate of a one-bar-horizon direction label is exactly 2/3, reached by calling the coin three
/// rows back; a model must find which row of its window holds it.
pub fn lag3(rows: usize, seed: u64) -> Planted {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut features = Vec::with_capacity(rows * LAG3_COLUMNS);
    for _ in 0..rows {
        let coin = if rng.random::<bool>() { 1.0 } else { -1.0 };
        features.extend([
            coin,
            StandardNormal.sample(&mut rng),
            StandardNormal.sample(&mut rng),
        ]);
    }
    let (mut close, mut call) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    close.push(100.0);
    for t in 0..rows {
        let c = if t >= 3 && features[(t - 3) * LAG3_COLUMNS] < 0.0 {
            -1.0
        } else {
            1.0
        };
        call.push(c);
        let sign = if rng.random::<f64>() < LAG3_BAYES_RATE {
            c
        } else {
            -c
        };
        let size = 0.002 + 0.01 * rng.random::<f64>();
        if t + 1 < rows {
            close.push(close[t] * (1.0 + sign * size));
        }
    }
    Planted {
        features,
        close,
        call,
    }
}
