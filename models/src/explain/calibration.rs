//! Calibration of predicted probabilities: the reliability curve of the top class's confidence
//! and the multi-class Brier score. A model that says 70% should be right about 70% of the
//! time it says so; sizing and risk limits that read probabilities rely on it.

use serde::{Deserialize, Serialize};

/// Equal-width confidence bins of the reliability curve.
const BINS: usize = 10;

/// One confidence bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the top-class probability.
    #[serde(deserialize_with = "super::nan::f64")]
    pub lo: f64,
    /// Upper edge.
    #[serde(deserialize_with = "super::nan::f64")]
    pub hi: f64,
    /// Samples whose top-class probability falls in the bin.
    pub count: u64,
    /// Their mean top-class probability (NaN when empty).
    #[serde(deserialize_with = "super::nan::f64")]
    pub confidence: f64,
    /// Share of them whose top class is the true class (NaN when empty).
    #[serde(deserialize_with = "super::nan::f64")]
    pub accuracy: f64,
}

/// Calibration of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Reliability bins of the top-class probability, low to high.
    pub bins: Vec<ReliabilityBin>,
    /// Mean over samples of sum over classes of (p - 1[true class])^2: 0 is perfect, 2 worst.
    #[serde(deserialize_with = "super::nan::f64")]
    pub brier: f64,
    /// Expected calibration error: the count-weighted mean |accuracy - confidence| over bins.
    #[serde(deserialize_with = "super::nan::f64")]
    pub ece: f64,
}

impl Calibration {
    /// Scores probabilities `probs` (row-major, `classes` per sample) against `truth`; samples
    /// beyond the shorter of the two are ignored.
    pub fn new(truth: &[u32], probs: &[f32], classes: usize) -> Self {
        let classes = classes.max(1);
        let (mut count, mut conf, mut hits) = ([0u64; BINS], [0.0f64; BINS], [0u64; BINS]);
        let mut brier = 0.0;
        let mut n = 0usize;
        for (&t, p) in truth.iter().zip(probs.chunks_exact(classes)) {
            let top = crate::argmax(p);
            let c = f64::from(p[top]);
            let b = ((c * BINS as f64) as usize).min(BINS - 1);
            count[b] += 1;
            conf[b] += c;
            hits[b] += u64::from(top == t as usize);
            brier += (p.iter().enumerate())
                .map(|(k, &pk)| (f64::from(pk) - f64::from(u8::from(k == t as usize))).powi(2))
                .sum::<f64>();
            n += 1;
        }
        let bins: Vec<ReliabilityBin> = (0..BINS)
            .map(|b| {
                let k = count[b] as f64;
                ReliabilityBin {
                    lo: b as f64 / BINS as f64,
                    hi: (b + 1) as f64 / BINS as f64,
                    count: count[b],
                    confidence: if k > 0.0 { conf[b] / k } else { f64::NAN },
                    accuracy: if k > 0.0 {
                        hits[b] as f64 / k
                    } else {
                        f64::NAN
                    },
                }
            })
            .collect();
        let ece = (bins.iter().filter(|b| b.count > 0))
            .map(|b| b.count as f64 * (b.accuracy - b.confidence).abs())
            .sum::<f64>()
            / n.max(1) as f64;
        Self {
            bins,
            brier: if n > 0 { brier / n as f64 } else { f64::NAN },
            ece,
        }
    }
}
