//! Series read in order, chunk by chunk, as many times as a computation needs.
//!
//! A run's figures (the summary, the report) are computed from its curve. A long run does not
//! hold its curve in memory: its writer keeps the steps on disk as they go and the figures read
//! them back in chunks, one pass per figure (or two: a mean, then deviations from it). Short runs
//! and tests hold the curve in memory; a slice is a column of one chunk. The figures are the same
//! functions for both, summing in the same order, so they agree to the last bit.
//!
//! A column read from disk that fails midway stops handing out chunks and keeps the error for
//! its owner to report, so the formulas stay free of I/O errors.

use crate::annualisation::Annualisation;
use crate::outcome::EquityCurve;
use market_data::Timestamp;

/// The most values a derived column ([`TimeColumn`], [`Returns`], [`Mapped`]) converts at a time:
/// its buffer stays small (and in cache) however long the chunks it reads from.
pub(crate) const PIECE: usize = 4_096;

/// A series of values read from its start in consecutive chunks, any number of times.
pub trait Column<T: Copy> {
    /// The number of values.
    fn len(&self) -> usize;

    /// Calls `visit` with consecutive chunks covering the series, in order (none when it is
    /// empty; never an empty chunk).
    fn chunks(&self, visit: &mut dyn FnMut(&[T]));

    /// True when the series has no values.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Folds every value, in order.
    fn fold<A>(&self, init: A, mut f: impl FnMut(A, T) -> A) -> A
    where
        Self: Sized,
    {
        let mut acc = Some(init);
        self.chunks(&mut |chunk| {
            let mut a = acc.take().expect("put back after every chunk");
            for &v in chunk {
                a = f(a, v);
            }
            acc = Some(a);
        });
        acc.expect("put back after every chunk")
    }

    /// Calls `f` with every value, in order.
    fn each(&self, mut f: impl FnMut(T))
    where
        Self: Sized,
    {
        self.chunks(&mut |chunk| chunk.iter().for_each(|&v| f(v)));
    }
}

impl<T: Copy> Column<T> for [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[T])) {
        if !<[T]>::is_empty(self) {
            visit(self);
        }
    }
}

impl<T: Copy> Column<T> for Vec<T> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[T])) {
        Column::chunks(self.as_slice(), visit);
    }
}

impl<T: Copy, const N: usize> Column<T> for [T; N] {
    fn len(&self) -> usize {
        N
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[T])) {
        Column::chunks(self.as_slice(), visit);
    }
}

impl<T: Copy, C: Column<T> + ?Sized> Column<T> for &C {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[T])) {
        (**self).chunks(visit);
    }
}

/// Consecutive steps of a curve: the same steps of each column.
#[derive(Debug, Clone, Copy)]
pub struct CurveChunk<'a> {
    /// The steps' timestamps.
    pub ts: &'a [Timestamp],
    /// Equity after each step.
    pub equity: &'a [f64],
    /// Cash after each step.
    pub cash: &'a [f64],
}

/// A run's equity curve read in chunks of consecutive steps, as often as needed: the curve in
/// memory ([`EquityCurve`]), or the one a long run's writer kept on disk.
pub trait Curve: Sync {
    /// The number of steps.
    fn steps(&self) -> usize;

    /// Calls `visit` with consecutive chunks covering the curve, in order (never an empty one).
    fn chunks(&self, visit: &mut dyn FnMut(CurveChunk<'_>));

    /// As [`Curve::chunks`], of the equity column alone (which a curve on disk reads alone).
    fn equity_chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        self.chunks(&mut |c| visit(c.equity));
    }

    /// As [`Curve::chunks`], of the cash column alone.
    fn cash_chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        self.chunks(&mut |c| visit(c.cash));
    }

    /// As [`Curve::chunks`], of the timestamps alone.
    fn time_chunks(&self, visit: &mut dyn FnMut(&[Timestamp])) {
        self.chunks(&mut |c| visit(c.ts));
    }

    /// The annualisation its timestamps show, when it was worked out as they were written (a
    /// [`crate::metrics::StampTally`]'s); `None` to read them for it.
    fn annualisation(&self) -> Option<Annualisation> {
        None
    }
}

impl Curve for EquityCurve {
    fn steps(&self) -> usize {
        self.len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(CurveChunk<'_>)) {
        if !self.is_empty() {
            visit(CurveChunk {
                ts: &self.ts,
                equity: &self.equity,
                cash: &self.cash,
            });
        }
    }
}

/// The equity column of a [`Curve`].
#[derive(Clone, Copy)]
pub struct EquityColumn<'a>(pub &'a dyn Curve);

impl Column<f64> for EquityColumn<'_> {
    fn len(&self) -> usize {
        self.0.steps()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        self.0.equity_chunks(visit);
    }
}

/// The cash column of a [`Curve`].
#[derive(Clone, Copy)]
pub struct CashColumn<'a>(pub &'a dyn Curve);

impl Column<f64> for CashColumn<'_> {
    fn len(&self) -> usize {
        self.0.steps()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        self.0.cash_chunks(visit);
    }
}

/// The timestamps of a [`Curve`], as UTC nanoseconds.
#[derive(Clone, Copy)]
pub struct TimeColumn<'a>(pub &'a dyn Curve);

impl Column<i64> for TimeColumn<'_> {
    fn len(&self) -> usize {
        self.0.steps()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[i64])) {
        let mut buf = Vec::new();
        self.0.time_chunks(&mut |ts| {
            for piece in ts.chunks(PIECE) {
                buf.clear();
                buf.extend(piece.iter().map(|t| t.0));
                visit(&buf);
            }
        });
    }
}

/// The simple returns `v[t] / v[t-1] - 1` of a column of values (equity): one fewer than it
/// has, the same values as `metrics::simple_returns`.
#[derive(Clone, Copy)]
pub struct Returns<C>(pub C);

impl<C: Column<f64>> Column<f64> for Returns<C> {
    fn len(&self) -> usize {
        self.0.len().saturating_sub(1)
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        let mut previous: Option<f64> = None;
        let mut buf = Vec::with_capacity(PIECE);
        self.0.chunks(&mut |chunk| {
            for piece in chunk.chunks(PIECE) {
                buf.clear();
                // The first value's return is against the previous piece's last (the curve's
                // first value has none); the others', zipped with the values before them, take
                // a loop without a branch per value, which the compiler vectorises.
                if let Some(p) = previous {
                    buf.push(piece[0] / p - 1.0);
                }
                buf.extend((piece[1..].iter().zip(piece)).map(|(&v, &p)| v / p - 1.0));
                previous = piece.last().copied();
                if !buf.is_empty() {
                    visit(&buf);
                }
            }
        });
    }
}

/// A column's values with a function applied, e.g. returns in excess of a rate.
#[derive(Clone, Copy)]
pub struct Mapped<C, F>(pub C, pub F);

impl<C: Column<f64>, F: Fn(f64) -> f64> Column<f64> for Mapped<C, F> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        let mut buf = Vec::new();
        self.0.chunks(&mut |chunk| {
            for piece in chunk.chunks(PIECE) {
                buf.clear();
                buf.extend(piece.iter().map(|&v| (self.1)(v)));
                visit(&buf);
            }
        });
    }
}

/// Calls `f` with the values of `a` and `b` at the same positions, in order, up to the shorter
/// one's end (chunks of the two need not line up).
pub fn zip_each<A: Column<f64> + ?Sized>(a: &A, b: &[f64], mut f: impl FnMut(f64, f64)) {
    let mut at = 0;
    a.chunks(&mut |chunk| {
        let rest = b.get(at..).unwrap_or_default();
        for (&x, &y) in chunk.iter().zip(rest) {
            f(x, y);
        }
        at += chunk.len();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column that hands out its values in chunks of `size`, as a spilled one does.
    struct Chunked(Vec<f64>, usize);

    impl Column<f64> for Chunked {
        fn len(&self) -> usize {
            self.0.len()
        }

        fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
            <[f64]>::chunks(&self.0, self.1).for_each(visit);
        }
    }

    #[test]
    fn returns_across_chunk_edges_equal_the_returns_of_the_whole() {
        let equity: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i).sin() * 7.0).collect();
        let whole: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        for size in [1, 2, 3, 7, 49, 50, 64] {
            let r = Returns(Chunked(equity.clone(), size));
            assert_eq!(r.len(), 49);
            let got = r.fold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            });
            assert_eq!(got, whole, "chunks of {size}");
        }
        assert_eq!(Returns(&[5.0][..]).len(), 0);
        assert!(Returns(Vec::<f64>::new()).is_empty());
    }

    #[test]
    fn zip_pairs_values_at_the_same_positions_up_to_the_shorter() {
        let a = Chunked(vec![1.0, 2.0, 3.0, 4.0, 5.0], 2);
        let mut pairs = Vec::new();
        zip_each(&a, &[10.0, 20.0, 30.0, 40.0], |x, y| pairs.push((x, y)));
        assert_eq!(pairs, [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]);
    }

    #[test]
    fn a_curve_in_memory_is_one_chunk_of_its_columns() {
        let mut curve = EquityCurve::default();
        curve.push(Timestamp(5), 100.0, 40.0);
        curve.push(Timestamp(9), 110.0, 50.0);
        assert_eq!(TimeColumn(&curve).fold(0, |s, t| s + t), 14);
        assert_eq!(EquityColumn(&curve).fold(0.0, |s, e| s + e), 210.0);
        assert_eq!(CashColumn(&curve).fold(0.0, |s, c| s + c), 90.0);
        let r = Returns(EquityColumn(&curve)).fold(0.0, |s, r| s + r);
        assert!((r - 0.1).abs() < 1e-15);
    }
}
