//! Baselines a model must beat, fitted on the same training rows as the model: a multinomial
//! logistic regression on the same standardised input windows, and for the risk model the
//! persistence rule (the trailing realised volatility's tercile) and a HAR-style linear model of
//! realised volatility over 1, 5 and 22 bars (Corsi 2009), by least squares.
//!
//! Plain f64 arithmetic, no candle: each fit is deterministic and small.

use super::dataset::Dataset;
use super::error::{MlError, Result};
use super::labels::{VolTerciles, bar_returns, forward_volatility};

/// A multinomial logistic regression: class scores `W x + b`, probabilities by softmax.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    /// Per class: `inputs` weights then the intercept.
    pub weights: Vec<f64>,
    /// Inputs per sample.
    pub inputs: usize,
    /// Classes.
    pub classes: usize,
}

/// L-BFGS iterations at most: a convex problem converges well before.
const MAX_ITERATIONS: usize = 300;
/// Largest gradient component at which the fit stops: the penalised loss is then within about
/// 1e-10 of its minimum, far below any difference a baseline's scores show.
const GRADIENT_TOLERANCE: f64 = 1e-5;
/// Correction pairs kept by L-BFGS.
const MEMORY: usize = 10;

impl LogisticRegression {
    /// Fits the regression on a dataset's flattened windows (the model's own inputs) with an L2
    /// penalty of `l2` on the weights (not the intercepts).
    ///
    /// # Errors
    /// As [`LogisticRegression::fit_matrix`].
    pub fn fit(ds: &Dataset, classes: usize, l2: f64) -> Result<Self> {
        let x: Vec<f64> = ds.x.iter().map(|&v| f64::from(v)).collect();
        Self::fit_matrix(&x, &ds.y, ds.window * ds.features, classes, l2)
    }

    /// Fits on `x` (row-major `[n x inputs]`) and classes `y`, minimising the mean negative
    /// log-likelihood plus `l2 / 2` times the squared weights, by L-BFGS with a backtracking
    /// line search.
    ///
    /// # Errors
    /// No samples, mismatched shapes, or a class out of range.
    pub fn fit_matrix(
        x: &[f64],
        y: &[u32],
        inputs: usize,
        classes: usize,
        l2: f64,
    ) -> Result<Self> {
        if y.is_empty() || x.len() != y.len() * inputs || classes < 2 {
            return Err(MlError::Shape {
                what: "logistic regression samples",
                expected: format!("at least one sample of {inputs} inputs and 2 classes"),
                got: format!("{} values, {} classes, {classes} classes", x.len(), y.len()),
            });
        }
        if let Some(&bad) = y.iter().find(|&&c| c as usize >= classes) {
            return Err(MlError::Shape {
                what: "class",
                expected: format!("a class below {classes}"),
                got: bad.to_string(),
            });
        }
        let mut model = Self {
            weights: vec![0.0; classes * (inputs + 1)],
            inputs,
            classes,
        };
        let mut grad = vec![0.0; model.weights.len()];
        let mut loss = model.objective(x, y, l2, &mut grad);
        let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
        let mut new_grad = vec![0.0; grad.len()];
        for _ in 0..MAX_ITERATIONS {
            if grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) < GRADIENT_TOLERANCE {
                break;
            }
            let direction = two_loop(&grad, &s_hist, &y_hist);
            let slope: f64 = direction.iter().zip(&grad).map(|(d, g)| d * g).sum();
            // Not a descent direction (numerical trouble): restart from the gradient.
            let (direction, slope) = if slope < 0.0 {
                (direction, slope)
            } else {
                s_hist.clear();
                y_hist.clear();
                let d: Vec<f64> = grad.iter().map(|g| -g).collect();
                let slope = -grad.iter().map(|g| g * g).sum::<f64>();
                (d, slope)
            };
            let start = model.weights.clone();
            let mut step = 1.0;
            let mut accepted = false;
            for _ in 0..50 {
                for ((w, w0), d) in model.weights.iter_mut().zip(&start).zip(&direction) {
                    *w = w0 + step * d;
                }
                let trial = model.objective(x, y, l2, &mut new_grad);
                if trial <= loss + 1e-4 * step * slope {
                    loss = trial;
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if !accepted {
                model.weights = start;
                break;
            }
            let s: Vec<f64> = (model.weights.iter().zip(&start))
                .map(|(a, b)| a - b)
                .collect();
            let yv: Vec<f64> = new_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
            if s.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>() > 1e-12 {
                if s_hist.len() == MEMORY {
                    s_hist.remove(0);
                    y_hist.remove(0);
                }
                s_hist.push(s);
                y_hist.push(yv);
            }
            std::mem::swap(&mut grad, &mut new_grad);
        }
        Ok(model)
    }

    /// The penalised mean negative log-likelihood at the current weights; its gradient goes to
    /// `grad`.
    fn objective(&self, x: &[f64], y: &[u32], l2: f64, grad: &mut [f64]) -> f64 {
        let (k, d) = (self.classes, self.inputs);
        grad.fill(0.0);
        let mut p = vec![0.0; k];
        let mut nll = 0.0;
        for (row, &class) in x.chunks_exact(d).zip(y) {
            self.probabilities_into(row, &mut p);
            nll -= p[class as usize].max(1e-300).ln();
            for (c, pc) in p.iter().enumerate() {
                let residual = pc - f64::from(u8::from(c == class as usize));
                let g = &mut grad[c * (d + 1)..(c + 1) * (d + 1)];
                for (gj, xj) in g.iter_mut().zip(row) {
                    *gj += residual * xj;
                }
                g[d] += residual;
            }
        }
        let n = y.len() as f64;
        let mut penalty = 0.0;
        for c in 0..k {
            for j in 0..d {
                let w = self.weights[c * (d + 1) + j];
                grad[c * (d + 1) + j] = grad[c * (d + 1) + j] / n + l2 * w;
                penalty += w * w;
            }
            grad[c * (d + 1) + d] /= n;
        }
        nll / n + 0.5 * l2 * penalty
    }

    /// Class probabilities of one sample.
    fn probabilities_into(&self, row: &[f64], out: &mut [f64]) {
        let d = self.inputs;
        for (c, slot) in out.iter_mut().enumerate() {
            let w = &self.weights[c * (d + 1)..(c + 1) * (d + 1)];
            *slot = w[d] + w[..d].iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
        }
        let max = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for v in out.iter_mut() {
            *v = (*v - max).exp();
            total += *v;
        }
        for v in out.iter_mut() {
            *v /= total;
        }
    }

    /// Class probabilities, row-major `[n x classes]`, of row-major inputs `x`.
    pub fn predict_matrix(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; x.len() / self.inputs.max(1) * self.classes];
        for (row, p) in (x.chunks_exact(self.inputs)).zip(out.chunks_exact_mut(self.classes)) {
            self.probabilities_into(row, p);
        }
        out
    }

    /// Class probabilities of every sample of `ds`, as the models give them (f32).
    pub fn predict(&self, ds: &Dataset) -> Vec<f32> {
        let x: Vec<f64> = ds.x.iter().map(|&v| f64::from(v)).collect();
        self.predict_matrix(&x).iter().map(|&p| p as f32).collect()
    }
}

/// L-BFGS's two-loop recursion: the search direction `-H grad` from the kept pairs.
fn two_loop(grad: &[f64], s: &[Vec<f64>], y: &[Vec<f64>]) -> Vec<f64> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut q = grad.to_vec();
    let mut alpha = vec![0.0; s.len()];
    for i in (0..s.len()).rev() {
        let rho = 1.0 / dot(&y[i], &s[i]);
        alpha[i] = rho * dot(&s[i], &q);
        for (qj, yj) in q.iter_mut().zip(&y[i]) {
            *qj -= alpha[i] * yj;
        }
    }
    if let (Some(s_last), Some(y_last)) = (s.last(), y.last()) {
        let gamma = dot(s_last, y_last) / dot(y_last, y_last);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for i in 0..s.len() {
        let rho = 1.0 / dot(&y[i], &s[i]);
        let beta = rho * dot(&y[i], &q);
        for (qj, sj) in q.iter_mut().zip(&s[i]) {
            *qj += (alpha[i] - beta) * sj;
        }
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

/// Solves the least-squares fit `y ~ b0 + b . x` over rows `x` of `k` regressors by the normal
/// equations (Gaussian elimination with partial pivoting); returns `[b0, b1, .., bk]`.
///
/// # Errors
/// Fewer rows than coefficients, or regressors that are collinear.
pub fn least_squares(x: &[f64], y: &[f64], k: usize) -> Result<Vec<f64>> {
    let m = k + 1;
    if y.len() < m || x.len() != y.len() * k {
        return Err(MlError::NoSamples {
            reason: format!(
                "a least-squares fit of {m} coefficients needs at least {m} rows, got {}",
                y.len()
            ),
        });
    }
    // The augmented normal equations [X'X | X'y], X with a leading column of ones.
    let mut a = vec![0.0; m * (m + 1)];
    let mut row = vec![0.0; m];
    for (xs, &target) in x.chunks_exact(k).zip(y) {
        row[0] = 1.0;
        row[1..].copy_from_slice(xs);
        for i in 0..m {
            for j in 0..m {
                a[i * (m + 1) + j] += row[i] * row[j];
            }
            a[i * (m + 1) + m] += row[i] * target;
        }
    }
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&p, &q| {
                a[p * (m + 1) + col]
                    .abs()
                    .total_cmp(&a[q * (m + 1) + col].abs())
            })
            .unwrap_or(col);
        if a[pivot * (m + 1) + col].abs() < 1e-300 {
            return Err(MlError::NoSamples {
                reason: format!("regressor {col} of the least-squares fit is collinear"),
            });
        }
        for j in 0..=m {
            a.swap(col * (m + 1) + j, pivot * (m + 1) + j);
        }
        for r in 0..m {
            if r != col {
                let f = a[r * (m + 1) + col] / a[col * (m + 1) + col];
                for j in col..=m {
                    a[r * (m + 1) + j] -= f * a[col * (m + 1) + j];
                }
            }
        }
    }
    Ok((0..m)
        .map(|i| a[i * (m + 1) + m] / a[i * (m + 1) + i])
        .collect())
}

/// Trailing realised volatility of every row over `bars` bars: the root mean square of the
/// 1-bar returns of rows t-bars+1..=t (the same measure as the label's, looking back); `None`
/// before enough returns.
pub fn trailing_volatility(close: &[f64], bars: usize) -> Vec<Option<f64>> {
    let returns = bar_returns(close);
    (0..close.len())
        .map(|t| {
            let back = returns.get((t + 1).checked_sub(bars)?.max(1)..t + 1)?;
            if back.len() < bars {
                return None;
            }
            let ms = back.iter().map(|r| r * r).sum::<f64>() / bars as f64;
            ms.is_finite().then(|| ms.sqrt())
        })
        .collect()
}

/// The HAR lags: daily, weekly and monthly realised volatility, in bars.
pub const HAR_LAGS: [usize; 3] = [1, 5, 22];

/// The risk model's two volatility baselines for one fold, scored on its test rows.
#[derive(Debug, Clone, PartialEq)]
pub struct VolatilityBaselines {
    /// The class of the trailing `horizon`-bar realised volatility, per test sample.
    pub persistence: Vec<u32>,
    /// The class of the HAR forecast, per test sample.
    pub har: Vec<u32>,
    /// The HAR coefficients `[b0, b1, b5, b22]`, fitted on the training rows.
    pub har_coefficients: Vec<f64>,
}

impl VolatilityBaselines {
    /// Fits HAR on `train`'s rows (forward `horizon`-bar volatility on 1/5/22-bar trailing
    /// volatility) and classifies `test`'s rows with `terciles` (fitted on the training rows
    /// too). `closes[i]` is instrument `i`'s closes by row.
    ///
    /// # Errors
    /// A row without a close, or too few training rows with every lag defined.
    pub fn fit(
        train: &Dataset,
        test: &Dataset,
        closes: &[&[f64]],
        horizon: usize,
        terciles: &VolTerciles,
    ) -> Result<Self> {
        let series: Vec<Series> = (closes.iter()).map(|c| Series::new(c, horizon)).collect();
        let at = |ds: &Dataset, k: usize| -> Result<&Series> {
            series.get(ds.instrument[k] as usize).ok_or(MlError::Shape {
                what: "close series",
                expected: format!("one per instrument, including {}", ds.instrument[k]),
                got: format!("{} series", series.len()),
            })
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for k in 0..train.n {
            let s = at(train, k)?;
            let t = train.rows[k];
            if let (Some(lags), Some(Some(target))) = (s.lags(t), s.forward.get(t)) {
                x.extend_from_slice(&lags);
                y.push(*target);
            }
        }
        let b = least_squares(&x, &y, HAR_LAGS.len())?;
        let (mut persistence, mut har) = (Vec::with_capacity(test.n), Vec::with_capacity(test.n));
        for k in 0..test.n {
            let s = at(test, k)?;
            let t = test.rows[k];
            let now = s.persistence.get(t).copied().flatten();
            // Undefined lags (the first bars): the middle class, as no forecast.
            persistence.push(now.map_or(1, |v| terciles.classify(v)));
            let forecast = s
                .lags(t)
                .map(|l| b[0] + (1..b.len()).map(|i| b[i] * l[i - 1]).sum::<f64>());
            har.push(forecast.map_or(1, |v| terciles.classify(v)));
        }
        Ok(Self {
            persistence,
            har,
            har_coefficients: b,
        })
    }
}

/// One instrument's trailing and forward volatilities.
struct Series {
    lags: [Vec<Option<f64>>; 3],
    persistence: Vec<Option<f64>>,
    forward: Vec<Option<f64>>,
}

impl Series {
    fn new(close: &[f64], horizon: usize) -> Self {
        Self {
            lags: HAR_LAGS.map(|bars| trailing_volatility(close, bars)),
            persistence: trailing_volatility(close, horizon),
            forward: forward_volatility(close, horizon),
        }
    }

    fn lags(&self, t: usize) -> Option<[f64; 3]> {
        let get = |i: usize| self.lags[i].get(t).copied().flatten();
        Some([get(0)?, get(1)?, get(2)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (64-bit LCG), uniform in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            // Box-Muller.
            let (u, v) = (self.next().max(1e-300), self.next());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[test]
    fn logistic_regression_separates_a_separable_set() -> Result<()> {
        // Three classes by the sign of x0 and x1: left, lower right, upper right; margin 0.2.
        let mut rng = Lcg(1);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        while y.len() < 300 {
            let (a, b) = (2.0 * rng.next() - 1.0, 2.0 * rng.next() - 1.0);
            if a.abs() < 0.2 || (a > 0.0 && b.abs() < 0.2) {
                continue;
            }
            x.extend([a, b]);
            y.push(if a < 0.0 {
                0
            } else if b < 0.0 {
                1
            } else {
                2
            });
        }
        let fit = LogisticRegression::fit_matrix(&x, &y, 2, 3, 1e-6)?;
        let p = fit.predict_matrix(&x);
        let mut mean = 0.0;
        for (probs, &class) in p.chunks_exact(3).zip(&y) {
            let best = (0..3)
                .max_by(|&i, &j| probs[i].total_cmp(&probs[j]))
                .unwrap();
            assert_eq!(best, class as usize, "{probs:?} for class {class}");
            mean += probs[class as usize] / y.len() as f64;
        }
        assert!(mean > 0.95, "mean probability of the true class {mean}");
        Ok(())
    }

    #[test]
    fn logistic_regression_recovers_planted_coefficients() -> Result<()> {
        // Scores: class 0 = 0, class 1 = 1.0 + 2 x0 - x1, class 2 = -0.5 - x0 + 1.5 x1.
        let planted = [[0.0, 0.0, 0.0], [2.0, -1.0, 1.0], [-1.0, 1.5, -0.5]];
        let mut rng = Lcg(7);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let row = [rng.normal(), rng.normal()];
            let scores: Vec<f64> = (planted.iter())
                .map(|w| w[0] * row[0] + w[1] * row[1] + w[2])
                .collect();
            let total: f64 = scores.iter().map(|s| s.exp()).sum();
            let u = rng.next() * total;
            let mut acc = 0.0;
            let class = (scores.iter().position(|s| {
                acc += s.exp();
                u < acc
            }))
            .unwrap_or(2);
            x.extend(row);
            y.push(class as u32);
        }
        let fit = LogisticRegression::fit_matrix(&x, &y, 2, 3, 0.0)?;
        // Softmax is identified up to a shift shared by the classes: compare with class 0.
        for (c, row) in planted.iter().enumerate().skip(1) {
            for (j, w) in row.iter().enumerate() {
                let got = fit.weights[c * 3 + j] - fit.weights[j];
                let want = w - planted[0][j];
                assert!(
                    (got - want).abs() < 0.1,
                    "class {c} weight {j}: {got} vs {want}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn least_squares_recovers_a_planted_har_process() -> Result<()> {
        let b = [0.001, 0.2, 0.3, 0.4];
        let mut rng = Lcg(3);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..5_000 {
            let lags = [rng.next() * 0.02, rng.next() * 0.02, rng.next() * 0.02];
            let target = b[0] + b[1] * lags[0] + b[2] * lags[1] + b[3] * lags[2];
            x.extend(lags);
            y.push(target + 0.0005 * rng.normal());
        }
        let fit = least_squares(&x, &y, 3)?;
        for (got, want) in fit.iter().zip(b) {
            assert!((got - want).abs() < 0.01, "{fit:?} vs {b:?}");
        }
        // Exact data, exact fit.
        let exact: Vec<f64> = (x.chunks_exact(3))
            .map(|l| b[0] + b[1] * l[0] + b[2] * l[1] + b[3] * l[2])
            .collect();
        for (got, want) in least_squares(&x, &exact, 3)?.iter().zip(b) {
            assert!((got - want).abs() < 1e-9);
        }
        assert!(least_squares(&x[..6], &y[..2], 3).is_err());
        Ok(())
    }

    #[test]
    fn trailing_volatility_is_the_rms_of_the_last_returns() {
        let close = [100.0, 110.0, 99.0, 99.0, 108.9];
        let v = trailing_volatility(&close, 2);
        assert_eq!(v[0], None);
        assert_eq!(v[1], None);
        // Returns 0.1 and -0.1.
        assert!((v[2].unwrap() - 0.1).abs() < 1e-12);
        // Returns 0 and 0.1.
        assert!((v[4].unwrap() - (0.01f64 / 2.0).sqrt()).abs() < 1e-12);
    }
}
