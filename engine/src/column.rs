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
use crate::metrics::simple_return;
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

    /// As [`Curve::chunks`], of the timestamps and equity alone (a curve on disk then reads
    /// two columns of three).
    fn stamped_equity_chunks(&self, visit: &mut dyn FnMut(&[Timestamp], &[f64])) {
        self.chunks(&mut |c| visit(c.ts, c.equity));
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

    /// The first and last timestamps (`None` without steps); read from the steps unless known.
    fn span(&self) -> Option<(Timestamp, Timestamp)> {
        let mut span = None;
        self.time_chunks(&mut |ts| extend_span(&mut span, ts));
        span
    }

    /// The range of the simple returns of its equity (those [`Returns`] gives); read from the
    /// steps unless it was worked out as they were written.
    fn return_range(&self) -> FiniteRange {
        let mut range = ReturnRange::default();
        self.equity_chunks(&mut |equity| range.extend(equity));
        range.finish()
    }
}

/// Widens `span`, the first and last timestamps of the steps before, by the next steps' `ts`.
pub fn extend_span(span: &mut Option<(Timestamp, Timestamp)>, ts: &[Timestamp]) {
    if let (Some(&first), Some(&last)) = (ts.first(), ts.last()) {
        *span = Some((span.map_or(first, |s| s.0), last));
    }
}

/// The smallest and largest finite value of a series, and how many finite values it has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiniteRange {
    lo: f64,
    hi: f64,
    finite: u64,
}

impl Default for FiniteRange {
    fn default() -> Self {
        Self {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            finite: 0,
        }
    }
}

impl FiniteRange {
    /// Takes the next value (NaN and infinities are not counted).
    pub fn push(&mut self, v: f64) {
        if v.is_finite() {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
            self.finite += 1;
        }
    }

    /// The smallest and largest finite value, `None` without any.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        (self.finite > 0).then_some((self.lo, self.hi))
    }

    /// How many finite values there were.
    pub fn finite(&self) -> u64 {
        self.finite
    }
}

impl FromIterator<f64> for FiniteRange {
    fn from_iter<I: IntoIterator<Item = f64>>(values: I) -> Self {
        let mut range = Self::default();
        values.into_iter().for_each(|v| range.push(v));
        range
    }
}

/// The [`FiniteRange`] of the simple returns of equity values given in consecutive pieces.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReturnRange {
    previous: Option<f64>,
    range: FiniteRange,
}

impl ReturnRange {
    /// Takes the next equity values.
    pub fn extend(&mut self, equity: &[f64]) {
        piece_returns(self.previous, equity).for_each(|r| self.range.push(r));
        self.previous = equity.last().copied().or(self.previous);
    }

    /// The range of the returns seen.
    pub fn finish(self) -> FiniteRange {
        self.range
    }
}

/// The simple returns `v[t] / v[t-1] - 1` of `piece`, the first against `previous` (none
/// without one: the curve's first value has no return). Past the first, the values zipped with
/// those before them: collected into a buffer ([`Returns`]), a loop without a branch per value,
/// which the compiler vectorises.
fn piece_returns(previous: Option<f64>, piece: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let first = previous
        .zip(piece.first())
        .map(|(p, &v)| simple_return(p, v));
    let rest = piece.get(1..).unwrap_or_default();
    first
        .into_iter()
        .chain(rest.iter().zip(piece).map(|(&v, &p)| simple_return(p, v)))
}

impl Curve for EquityCurve {
    fn steps(&self) -> usize {
        self.len()
    }

    fn span(&self) -> Option<(Timestamp, Timestamp)> {
        Some((*self.ts.first()?, *self.ts.last()?))
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
        self.0
            .time_chunks(&mut |ts| visit(Timestamp::all_nanos(ts)));
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
                buf.extend(piece_returns(previous, piece));
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
        // Chunks longer than the pieces returns are computed in.
        let equity: Vec<f64> = (0..10_001).map(|i| 100.0 + f64::from(i).sin()).collect();
        let whole: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        for size in [PIECE - 1, PIECE, 5_000, 10_001] {
            let mut got = Vec::new();
            Returns(Chunked(equity.clone(), size)).each(|r| got.push(r));
            assert_eq!(got, whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_return_range_counts_the_finite_returns_across_pieces() {
        // A fall to 0 gives -100%, then 0/0 (NaN) and a rise from 0 (infinity): not counted.
        let equity = [100.0, 110.0, 0.0, 0.0, 5.0, 4.0, 8.0];
        let mut whole = ReturnRange::default();
        whole.extend(&equity);
        let whole = whole.finish();
        assert_eq!(whole.bounds(), Some((-1.0, 1.0)));
        assert_eq!(whole.finite(), 4);
        for split in 0..=equity.len() {
            let mut parts = ReturnRange::default();
            parts.extend(&equity[..split]);
            parts.extend(&[]);
            parts.extend(&equity[split..]);
            assert_eq!(parts.finish(), whole, "split at {split}");
        }
        let mut one = ReturnRange::default();
        one.extend(&[100.0]);
        assert_eq!(one.finish().bounds(), None);
        let mut curve = EquityCurve::default();
        for (k, &e) in equity.iter().enumerate() {
            curve.push(Timestamp(k as i64), e, 0.0);
        }
        assert_eq!(curve.return_range(), whole);
        assert_eq!(curve.span(), Some((Timestamp(0), Timestamp(6))));
        assert_eq!(EquityCurve::default().span(), None);
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
