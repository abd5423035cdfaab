//! Rolling means, variances and covariances over the last `n` values in O(1) per update.
//!
//! The window keeps running sums of deviations from a shift `K` (a value of the window) and
//! adds the newest value and subtracts the departed one. Subtraction is where running moments
//! lose precision: once a far-away value leaves a window of close values, the sum of squares
//! keeps an error of about `eps * (departed - K)^2`, which can dwarf the spread left behind. So
//! the window also counts the `mass` that entered its sums (every squared deviation added;
//! each leaves at most once, so twice the mass bounds what went through the sums, and with it
//! their rounding error) and recomputes the sums exactly, with
//! the newest value as the new shift, whenever the spread falls below `TOLERANCE * mass`, and
//! once every `RESHIFT_LAPS * n` updates, which bounds the number of roundings in the sums (a
//! series trending away from the shift inflates `mass` and triggers sooner). A recompute is
//! O(n), but a window value as the shift gives `mass <= (n + 1) * m2` right after it, so it
//! cannot trigger again until values move far from the window: O(1) amortized for real series. A window of
//! identical values ends with exactly zero spread and its value as the exact mean, which the
//! indicators rely on for their flat cases.

/// Relative precision kept: a recompute happens when the spread is below this share of the
/// squared deviations that entered the sums (their rounding error is ~2e-16 of that mass, as
/// what entered also leaves, so the spread keeps about 11 digits).
const TOLERANCE: f64 = 2e-5;

/// Laps of the window between exact recomputes when precision never asks for one sooner. The
/// sums' error grows with the roundings since the last recompute (a few `eps * mass` per push),
/// so 2 * 16 * n pushes stay far inside `TOLERANCE`; a recompute every lap cost ~5% of a
/// 20-feature pipeline.
const RESHIFT_LAPS: usize = 16;

/// Count, mean and sum of squared deviations of one variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Moments {
    pub(super) n: f64,
    pub(super) mean: f64,
    pub(super) m2: f64,
}

/// Count, means and co-moments of two variables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CoMoments {
    pub(super) n: f64,
    pub(super) mx: f64,
    pub(super) my: f64,
    pub(super) cxx: f64,
    pub(super) cyy: f64,
    pub(super) cxy: f64,
}

/// Running moments of the last `capacity` samples of `K` variables (1 or 2).
#[derive(Debug, Clone)]
pub(super) struct Sliding<const K: usize> {
    /// The samples, a ring: oldest at `head`.
    items: Vec<[f64; K]>,
    head: usize,
    len: usize,
    /// `1 / capacity` and `1 / len`: a full window multiplies instead of dividing, and
    /// derives its moments without testing whether it is full.
    inv_capacity: f64,
    inv_len: f64,
    /// Pushes left before the next exact recompute, and how many there are between two.
    pushes_left: usize,
    recompute_every: usize,
    shift: [f64; K],
    /// Sums of deviations from `shift`, of their squares and (two variables) of their products.
    s1: [f64; K],
    s2: [f64; K],
    sxy: f64,
    /// Squared deviations added to `s2` since the last recompute.
    mass: [f64; K],
}

impl<const K: usize> Sliding<K> {
    /// Returns an empty window of `capacity` samples (0 is treated as 1).
    pub(super) fn new(capacity: usize) -> Self {
        let cap = capacity.max(1);
        Self {
            items: vec![[0.0; K]; cap],
            head: 0,
            len: 0,
            inv_capacity: 1.0 / cap as f64,
            inv_len: f64::NAN,
            pushes_left: RESHIFT_LAPS * cap,
            recompute_every: RESHIFT_LAPS * cap,
            shift: [0.0; K],
            s1: [0.0; K],
            s2: [0.0; K],
            sxy: 0.0,
            mass: [0.0; K],
        }
    }

    /// Adds `sample` as the newest, evicting the oldest once full.
    #[inline(always)]
    pub(super) fn push(&mut self, sample: [f64; K]) {
        let cap = self.items.len();
        if self.len < cap {
            self.fill(sample);
            return;
        }
        // A full window, every update after the warm-up: replace the oldest and update the
        // sums by the difference of the two samples, in one pass.
        let old = std::mem::replace(&mut self.items[self.head], sample);
        // Compares rather than `%`: an integer division per update is the costliest step.
        self.head += 1;
        if self.head == cap {
            self.head = 0;
        }
        let (mut d_new, mut d_old) = ([0.0; K], [0.0; K]);
        for k in 0..K {
            (d_new[k], d_old[k]) = (sample[k] - self.shift[k], old[k] - self.shift[k]);
            self.s1[k] += d_new[k] - d_old[k];
            self.s2[k] += (d_new[k] - d_old[k]) * (d_new[k] + d_old[k]);
            // Only the incoming square: every departing sample came in (or was in the window
            // at the last recompute) and counted then, so this is at least half the true mass.
            self.mass[k] += d_new[k] * d_new[k];
        }
        if K == 2 {
            self.sxy += d_new[0] * d_new[K - 1] - d_old[0] * d_old[K - 1];
        }
        self.check_precision(sample);
    }

    /// Adds a sample to a window not yet full.
    #[inline(never)]
    fn fill(&mut self, sample: [f64; K]) {
        let cap = self.items.len();
        if self.len == 0 {
            self.shift = sample;
        }
        let mut slot = self.head + self.len;
        if slot >= cap {
            slot -= cap;
        }
        self.items[slot] = sample;
        self.len += 1;
        self.inv_len = 1.0 / self.len as f64;
        self.add(sample);
        self.check_precision(sample);
    }

    /// Recomputes the sums exactly when they may have lost precision (see the module docs).
    #[inline(always)]
    fn check_precision(&mut self, newest: [f64; K]) {
        self.pushes_left -= 1;
        let mut lost = self.pushes_left == 0;
        let inv_n = self.inv_len;
        for k in 0..K {
            // The spread as `total` derives it (the compiler computes it once for both).
            let m2 = self.s2[k] - self.s1[k] * self.s1[k] * inv_n;
            lost |= m2 < TOLERANCE * self.mass[k];
        }
        if lost {
            self.recompute(newest);
        }
    }

    /// Returns the means, the sums of squared deviations from them and (two variables) the
    /// sum of co-deviations, from the running sums (NaN before the first sample).
    #[inline(always)]
    fn moments(&self) -> ([f64; K], [f64; K], f64) {
        let inv_n = self.inv_len;
        let (mut mean, mut m2) = ([0.0; K], [0.0; K]);
        for k in 0..K {
            mean[k] = self.shift[k] + self.s1[k] * inv_n;
            // Rounding can leave a flat window a hair below zero.
            m2[k] = (self.s2[k] - self.s1[k] * self.s1[k] * inv_n).max(0.0);
        }
        (mean, m2, self.sxy - self.s1[0] * self.s1[K - 1] * inv_n)
    }

    /// Adds one sample's deviations to the sums.
    #[inline]
    fn add(&mut self, sample: [f64; K]) {
        let mut d = [0.0; K];
        for k in 0..K {
            d[k] = sample[k] - self.shift[k];
            let sq = d[k] * d[k];
            self.s1[k] += d[k];
            self.s2[k] += sq;
            self.mass[k] += sq;
        }
        if K == 2 {
            self.sxy += d[0] * d[K - 1];
        }
    }

    /// Recomputes the sums exactly around the newest sample, then the moments from them.
    #[cold]
    fn recompute(&mut self, newest: [f64; K]) {
        self.shift = newest;
        self.pushes_left = self.recompute_every;
        self.s1 = [0.0; K];
        self.s2 = [0.0; K];
        self.sxy = 0.0;
        self.mass = [0.0; K];
        let cap = self.items.len();
        for i in 0..self.len {
            let mut slot = self.head + i;
            if slot >= cap {
                slot -= cap;
            }
            let sample = self.items[slot];
            self.add(sample);
        }
    }

    /// Returns true once the window holds `capacity` samples.
    pub(super) fn is_full(&self) -> bool {
        self.len == self.items.len()
    }

    /// Returns `1 / capacity`: a full window's moments divided by its count, as a multiply.
    #[inline]
    pub(super) fn inv_capacity(&self) -> f64 {
        self.inv_capacity
    }

    /// Returns the window length.
    pub(super) fn capacity(&self) -> usize {
        self.items.len()
    }

    /// Forgets every sample, keeping the allocation.
    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.inv_len = f64::NAN;
        self.pushes_left = self.recompute_every;
        self.s1 = [0.0; K];
        self.s2 = [0.0; K];
        self.sxy = 0.0;
        self.mass = [0.0; K];
    }
}

impl Sliding<1> {
    /// Returns the moments of the window.
    #[inline(always)]
    pub(super) fn total(&self) -> Moments {
        let (mean, m2, _) = self.moments();
        Moments {
            n: self.len as f64,
            mean: mean[0],
            m2: m2[0],
        }
    }
}

impl Sliding<2> {
    /// Returns the co-moments of the window.
    #[inline(always)]
    pub(super) fn total(&self) -> CoMoments {
        let (mean, m2, cxy) = self.moments();
        CoMoments {
            n: self.len as f64,
            mx: mean[0],
            my: mean[1],
            cxx: m2[0],
            cyy: m2[1],
            cxy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::close;
    use proptest::prelude::*;

    #[test]
    fn flat_window_has_exactly_zero_spread_after_an_outlier_leaves() {
        let mut w = Sliding::new(3);
        for x in [1e6, 0.1, 0.1, 0.1, 0.1] {
            w.push([x]);
        }
        assert_eq!(
            w.total(),
            Moments {
                n: 3.0,
                mean: 0.1,
                m2: 0.0
            }
        );
    }

    #[test]
    fn long_trending_series_keeps_its_precision_between_recomputes() {
        // A random walk with drift, quiet stretches and jumps, far longer than RESHIFT_LAPS
        // laps, checked against two-pass moments throughout.
        let n = 20;
        let mut w = Sliding::new(n);
        let (mut x, mut state) = (1e4f64, 0x2545_f491_4f6c_dd1du64);
        let mut xs = Vec::new();
        for t in 0..200_000usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let scale = match t % 5_000 {
                0 => 1e3,
                1..=999 => 1e-6,
                _ => 1.0,
            };
            x += 0.01 + u * scale;
            xs.push(x);
            w.push([x]);
            if t % 97 == 0 && t >= n {
                let win = &xs[t + 1 - n..=t];
                let mean = win.iter().sum::<f64>() / n as f64;
                let m2: f64 = win.iter().map(|v| (v - mean) * (v - mean)).sum();
                let got = w.total();
                assert!(close(got.mean, mean), "mean at {t}: {} vs {mean}", got.mean);
                assert!(
                    (got.m2 - m2).abs() <= 1e-9 * m2 + 1e-20,
                    "m2 at {t}: {} vs {m2}",
                    got.m2
                );
            }
        }
    }

    proptest! {
        #[test]
        fn prop_moments_match_two_pass(
            // Tiny spreads between rare far-away values: where downdating formulas fail.
            xs in proptest::collection::vec(
                prop_oneof![9 => 1e3f64..1e3 + 1.0, 1 => 1.0f64..1e6],
                1..200,
            ),
            n in 1usize..20,
        ) {
            let mut w = Sliding::new(n);
            for (t, &x) in xs.iter().enumerate() {
                w.push([x]);
                let win = &xs[(t + 1).saturating_sub(n)..=t];
                let mean = win.iter().sum::<f64>() / win.len() as f64;
                let m2: f64 = win.iter().map(|v| (v - mean) * (v - mean)).sum();
                let got = w.total();
                prop_assert_eq!(got.n, win.len() as f64);
                prop_assert!(close(got.mean, mean));
                // Relative to the window's own spread (two-pass has error ~ eps * m2 too).
                prop_assert!((got.m2 - m2).abs() <= 1e-9 * m2 + 1e-20, "{} vs {}", got.m2, m2);
            }
        }

        #[test]
        fn prop_co_moments_match_two_pass(
            pairs in proptest::collection::vec(
                (prop_oneof![9 => 1e3f64..1e3 + 1.0, 1 => -1e6f64..1e6], -5.0f64..5.0),
                1..200,
            ),
            n in 1usize..20,
        ) {
            let mut w = Sliding::new(n);
            for (t, &(x, y)) in pairs.iter().enumerate() {
                w.push([x, y]);
                let win = &pairs[(t + 1).saturating_sub(n)..=t];
                let len = win.len() as f64;
                let mx = win.iter().map(|p| p.0).sum::<f64>() / len;
                let my = win.iter().map(|p| p.1).sum::<f64>() / len;
                let cxx: f64 = win.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
                let cyy: f64 = win.iter().map(|p| (p.1 - my) * (p.1 - my)).sum();
                let cxy: f64 = win.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
                let got = w.total();
                prop_assert!(close(got.mx, mx) && close(got.my, my));
                prop_assert!((got.cxx - cxx).abs() <= 1e-9 * cxx + 1e-20);
                prop_assert!((got.cyy - cyy).abs() <= 1e-9 * cyy + 1e-20);
                // The cross term is bounded by the two spreads (Cauchy-Schwarz).
                prop_assert!((got.cxy - cxy).abs() <= 1e-9 * (cxx * cyy).sqrt() + 1e-20);
            }
        }
    }
}
