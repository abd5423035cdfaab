//! Temperature scaling (Guo et al. 2017): one number `T` divides the network's log-probabilities
//! before the softmax, fitted on the validation rows to minimise their log loss. `T > 1` softens
//! an over-confident model (class weights and early stopping both skew raw probabilities), `T <
//! 1` sharpens an under-confident one; the predicted class never changes.

/// Smallest and largest temperature searched.
const RANGE: (f64, f64) = (0.05, 20.0);

/// Rescales row-major class probabilities (`classes` per sample) in place to temperature `t`:
/// `p_i^(1/t)` renormalised, the softmax of the log-probabilities over `t`.
pub fn apply_temperature(probs: &mut [f32], classes: usize, t: f64) {
    if t == 1.0 || classes == 0 {
        return;
    }
    let mut scaled = vec![0.0f64; classes];
    for row in probs.chunks_exact_mut(classes) {
        for (s, &p) in scaled.iter_mut().zip(row.iter()) {
            *s = f64::from(p).max(1e-30).ln() / t;
        }
        let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = scaled.iter().map(|s| (s - max).exp()).sum();
        for (slot, s) in row.iter_mut().zip(&scaled) {
            *slot = ((s - max).exp() / total) as f32;
        }
    }
}

/// Mean negative log-likelihood of `truth` under `probs` at temperature `t`.
fn log_loss_at(truth: &[u32], probs: &[f32], classes: usize, t: f64) -> f64 {
    let mut total = 0.0;
    for (&class, row) in truth.iter().zip(probs.chunks_exact(classes)) {
        let logits = row.iter().map(|&p| f64::from(p).max(1e-30).ln() / t);
        let max = logits.clone().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + logits.map(|l| (l - max).exp()).sum::<f64>().ln();
        total += log_sum - f64::from(row[class as usize]).max(1e-30).ln() / t;
    }
    total / truth.len().max(1) as f64
}

/// Returns the temperature in [0.05, 20] that minimises the log loss of `probs` against
/// `truth` (golden-section search on log T; the loss is unimodal there); 1 without samples.
pub fn fit_temperature(truth: &[u32], probs: &[f32], classes: usize) -> f64 {
    if truth.is_empty() || probs.len() != truth.len() * classes {
        return 1.0;
    }
    let loss = |log_t: f64| log_loss_at(truth, probs, classes, log_t.exp());
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (RANGE.0.ln(), RANGE.1.ln());
    let (mut c, mut d) = (b - golden * (b - a), a + golden * (b - a));
    let (mut fc, mut fd) = (loss(c), loss(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - golden * (b - a);
            fc = loss(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + golden * (b - a);
            fd = loss(d);
        }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Calibration;

    #[test]
    fn an_over_confident_model_gets_a_temperature_above_one_and_a_lower_ece() {
        // True class probabilities softmax(z); the model reports softmax(3 z): over-confident.
        let mut state = 11u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let softmax = |z: &[f64]| {
            let total: f64 = z.iter().map(|v| v.exp()).sum();
            z.iter().map(|v| v.exp() / total).collect::<Vec<f64>>()
        };
        let (mut truth, mut probs) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let z: Vec<f64> = (0..3).map(|_| 2.0 * uniform() - 1.0).collect();
            let p = softmax(&z);
            let u = uniform();
            let class = if u < p[0] {
                0
            } else if u < p[0] + p[1] {
                1
            } else {
                2
            };
            truth.push(class);
            let sharp: Vec<f64> = z.iter().map(|v| 3.0 * v).collect();
            probs.extend(softmax(&sharp).iter().map(|&v| v as f32));
        }
        let t = fit_temperature(&truth, &probs, 3);
        assert!((t - 3.0).abs() < 0.3, "temperature {t}, planted 3");
        let before = Calibration::new(&truth, &probs, 3).ece;
        let mut calibrated = probs.clone();
        apply_temperature(&mut calibrated, 3, t);
        let after = Calibration::new(&truth, &calibrated, 3).ece;
        assert!(after < before / 2.0, "ECE {before} -> {after}");
        // The predicted class is unchanged.
        for (a, b) in probs.chunks_exact(3).zip(calibrated.chunks_exact(3)) {
            assert_eq!(crate::argmax(a), crate::argmax(b));
        }
        assert!(log_loss_at(&truth, &probs, 3, t) < log_loss_at(&truth, &probs, 3, 1.0));
    }

    #[test]
    fn temperature_one_changes_nothing_and_two_softens_by_hand() {
        let mut p = [0.8f32, 0.1, 0.1];
        apply_temperature(&mut p, 3, 1.0);
        assert_eq!(p, [0.8, 0.1, 0.1]);
        // sqrt(0.8) : sqrt(0.1) : sqrt(0.1), normalised.
        apply_temperature(&mut p, 3, 2.0);
        let (a, b) = (0.8f64.sqrt(), 0.1f64.sqrt());
        assert!((f64::from(p[0]) - a / (a + 2.0 * b)).abs() < 1e-6);
        assert!((f64::from(p[1]) - b / (a + 2.0 * b)).abs() < 1e-6);
        assert_eq!(fit_temperature(&[], &[], 3), 1.0);
    }
}
