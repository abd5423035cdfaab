//! Rolling means, variances and covariances over the last `n` values, without downdates.
//!
//! Removing a value from running moments (`m2 -= ...`) cancels catastrophically once a far-away
//! value leaves a window of close values: the error is about `eps * (departed - mean)^2`, which
//! can dwarf the variance left behind (and ruins z-scores, %b and correlations right after a
//! gap). So windows here are aggregated with the two-stacks scheme instead: the older part of
//! the window keeps suffix aggregates, the newer part one running aggregate, and the total is
//! one merge of the two. Merging (Chan et al.) only adds non-negative terms, so precision holds
//! whatever left the window. The suffixes are rebuilt once every `n` pushes: O(1) amortized,
//! with both arrays allocated once in `new`. A window of identical values merges to exactly
//! zero spread (every delta is exactly 0), which the indicators rely on for their flat cases.

/// An aggregate over a run of values that two adjacent runs can merge into.
pub(super) trait Merge: Copy {
    /// The aggregate of no values.
    const EMPTY: Self;
    /// Returns the aggregate of `self`'s run followed by `later`'s.
    fn merge(self, later: Self) -> Self;
}

/// Count, mean and sum of squared deviations of one variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Moments {
    pub(super) n: f64,
    pub(super) mean: f64,
    pub(super) m2: f64,
}

impl Moments {
    /// Returns the moments of the single value `x`.
    pub(super) fn of(x: f64) -> Self {
        Self {
            n: 1.0,
            mean: x,
            m2: 0.0,
        }
    }
}

impl Merge for Moments {
    const EMPTY: Self = Self {
        n: 0.0,
        mean: 0.0,
        m2: 0.0,
    };

    #[inline]
    fn merge(self, b: Self) -> Self {
        if self.n == 0.0 {
            return b;
        }
        if b.n == 0.0 {
            return self;
        }
        let n = self.n + b.n;
        let d = b.mean - self.mean;
        Self {
            n,
            mean: self.mean + d * (b.n / n),
            m2: self.m2 + b.m2 + d * d * (self.n * b.n / n),
        }
    }
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

impl CoMoments {
    /// Returns the co-moments of the single pair `(x, y)`.
    pub(super) fn of(x: f64, y: f64) -> Self {
        Self {
            n: 1.0,
            mx: x,
            my: y,
            ..Self::EMPTY
        }
    }
}

impl Merge for CoMoments {
    const EMPTY: Self = Self {
        n: 0.0,
        mx: 0.0,
        my: 0.0,
        cxx: 0.0,
        cyy: 0.0,
        cxy: 0.0,
    };

    #[inline]
    fn merge(self, b: Self) -> Self {
        if self.n == 0.0 {
            return b;
        }
        if b.n == 0.0 {
            return self;
        }
        let n = self.n + b.n;
        let (dx, dy) = (b.mx - self.mx, b.my - self.my);
        let f = self.n * b.n / n;
        Self {
            n,
            mx: self.mx + dx * (b.n / n),
            my: self.my + dy * (b.n / n),
            cxx: self.cxx + b.cxx + dx * dx * f,
            cyy: self.cyy + b.cyy + dy * dy * f,
            cxy: self.cxy + b.cxy + dx * dy * f,
        }
    }
}

/// The aggregate of the last `capacity` pushed items (two-stacks sliding window).
#[derive(Debug, Clone)]
pub(super) struct Sliding<M> {
    /// Single-item aggregates, a ring: oldest at `head`.
    items: Vec<M>,
    /// For each of the `front` oldest items: the aggregate from it through the front's end.
    suffix: Vec<M>,
    head: usize,
    len: usize,
    /// How many of the oldest items `suffix` covers.
    front: usize,
    /// The aggregate of the newer items after the front.
    back: M,
}

impl<M: Merge> Sliding<M> {
    /// Returns an empty window of `capacity` items (0 is treated as 1).
    pub(super) fn new(capacity: usize) -> Self {
        let cap = capacity.max(1);
        Self {
            items: vec![M::EMPTY; cap],
            suffix: vec![M::EMPTY; cap],
            head: 0,
            len: 0,
            front: 0,
            back: M::EMPTY,
        }
    }

    /// Adds `item` as the newest, evicting the oldest once full.
    #[inline]
    pub(super) fn push(&mut self, item: M) {
        let cap = self.items.len();
        if self.len == cap {
            if self.front == 0 {
                self.flip();
            }
            // Compares rather than `%`: an integer division per update is the costliest step.
            self.head += 1;
            if self.head == cap {
                self.head = 0;
            }
            self.len -= 1;
            self.front -= 1;
        }
        let mut slot = self.head + self.len;
        if slot >= cap {
            slot -= cap;
        }
        self.items[slot] = item;
        self.len += 1;
        self.back = self.back.merge(item);
    }

    /// Moves every item into the front, rebuilding the suffix aggregates newest to oldest.
    fn flip(&mut self) {
        let cap = self.items.len();
        let mut acc = M::EMPTY;
        for i in (0..self.len).rev() {
            let slot = (self.head + i) % cap;
            acc = self.items[slot].merge(acc);
            self.suffix[slot] = acc;
        }
        self.front = self.len;
        self.back = M::EMPTY;
    }

    /// Returns the aggregate of the whole window.
    #[inline]
    pub(super) fn total(&self) -> M {
        if self.front == 0 {
            self.back
        } else {
            self.suffix[self.head].merge(self.back)
        }
    }

    /// Returns true once the window holds `capacity` items.
    pub(super) fn is_full(&self) -> bool {
        self.len == self.items.len()
    }

    /// Returns the window length.
    pub(super) fn capacity(&self) -> usize {
        self.items.len()
    }

    /// Forgets every item, keeping the allocations.
    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.front = 0;
        self.back = M::EMPTY;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::indicators::tests::close;
    use proptest::prelude::*;

    #[test]
    fn flat_window_has_exactly_zero_spread_after_an_outlier_leaves() {
        let mut w = Sliding::new(3);
        for x in [1e6, 0.1, 0.1, 0.1, 0.1] {
            w.push(Moments::of(x));
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
                w.push(Moments::of(x));
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
    }
}
