//! Exact order statistics of a column in bounded memory: the values a sort would put at given
//! ranks, found by passes over the column instead of by sorting a copy of it.
//!
//! Percentiles (VaR, the tail ratio) and medians (the bar spacing) read a few ranks of series as
//! long as a run. Values map to `u64` keys that order as the sort the figures always used
//! (`f64::total_cmp`: -NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN), so the answers are
//! those of sorting, bit for bit. Each pass counts the keys that share the high bits found so
//! far by their next 16 bits (a radix histogram), which narrows a rank to one bucket; a bucket
//! small enough ([`COLLECT`]) is gathered and sorted, and one whose keys are all equal is its own
//! answer. So at most four passes, and memory of 65,536 counters (or values) per distinct
//! bucket sought, whatever the length.

use crate::column::Column;

/// Bits of the key a pass resolves.
const DIGIT: u32 = 16;
/// Buckets of one pass.
const BUCKETS: usize = 1 << DIGIT;
/// The most values of a bucket gathered and sorted rather than counted by a further pass.
const COLLECT: usize = 1 << 16;

/// A value with a `u64` key that orders as the values do.
pub(crate) trait OrderKey: Copy {
    /// The key: `a` sorts before `b` exactly when `a.key() < b.key()`.
    fn key(self) -> u64;
    /// The value of a key.
    fn from_key(key: u64) -> Self;
}

impl OrderKey for f64 {
    /// `f64::total_cmp`'s order: negative values' bits flipped, positive ones' sign bit set.
    fn key(self) -> u64 {
        let bits = self.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        }
    }

    fn from_key(key: u64) -> Self {
        f64::from_bits(if key >> 63 == 1 {
            key & !(1 << 63)
        } else {
            !key
        })
    }
}

/// Returns a key that orders values as `f64::total_cmp` does (-NaN < -inf < ... < -0.0 < +0.0 <
/// ... < +inf < +NaN): a comparison of keys is one of integers, and a key computed once serves
/// every comparison of its value.
pub fn order_key(value: f64) -> u64 {
    value.key()
}

impl OrderKey for i64 {
    fn key(self) -> u64 {
        (self as u64) ^ 1 << 63
    }

    fn from_key(key: u64) -> Self {
        (key ^ 1 << 63) as i64
    }
}

/// Returns the values at `ranks` (0-based) of `column` sorted ascending (`total_cmp` for
/// floats), in the order of `ranks`. Every rank must be below the column's length.
pub(crate) fn select<T: OrderKey, C: Column<T> + ?Sized>(column: &C, ranks: &[usize]) -> Vec<T> {
    select_with(column, ranks, COLLECT)
}

/// One rank sought: where it stands within the bucket of keys that start with `prefix`.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// Its rank among the keys of the bucket.
    rank: usize,
    /// The high `DIGIT * digits` bits shared by the bucket's keys.
    prefix: u64,
    /// How many digits the prefix has (0: the whole column).
    digits: u32,
    /// How many keys the bucket holds.
    count: usize,
    /// The key, once found.
    found: Option<u64>,
}

/// What one pass learns about one bucket.
struct Bucket {
    prefix: u64,
    digits: u32,
    /// Counts by the next digit, or empty when the keys are gathered instead.
    counts: Vec<usize>,
    /// The bucket's keys when it is small enough to gather.
    keys: Vec<u64>,
    gather: bool,
    min: u64,
    max: u64,
}

impl Bucket {
    fn new(t: &Target, collect: usize) -> Self {
        let gather = t.count <= collect;
        Self {
            prefix: t.prefix,
            digits: t.digits,
            counts: if gather { Vec::new() } else { vec![0; BUCKETS] },
            keys: Vec::with_capacity(if gather { t.count } else { 0 }),
            gather,
            min: u64::MAX,
            max: 0,
        }
    }

    fn holds(&self, t: &Target) -> bool {
        (self.prefix, self.digits) == (t.prefix, t.digits)
    }

    #[inline]
    fn offer(&mut self, key: u64) {
        if self.digits > 0 && key >> (64 - DIGIT * self.digits) != self.prefix {
            return;
        }
        self.min = self.min.min(key);
        self.max = self.max.max(key);
        if self.gather {
            self.keys.push(key);
        } else {
            let digit = (key >> (64 - DIGIT * (self.digits + 1))) as usize & (BUCKETS - 1);
            self.counts[digit] += 1;
        }
    }

    /// Moves `t` on by what this pass learnt: its key, or the narrower bucket that holds it.
    fn narrow(&self, t: &mut Target) {
        if self.min > self.max {
            // No values at all: the column handed out fewer than it said (a read that failed
            // midway, which its owner reports). Any answer ends the search: key 0, a NaN.
            t.found = Some(0);
        } else if self.min == self.max {
            t.found = Some(self.min);
        } else if self.gather {
            // `min` only as far as the column handed out values (see above).
            t.found = Some(self.keys[t.rank.min(self.keys.len() - 1)]);
        } else {
            let seen: usize = self.counts.iter().sum();
            t.rank = t.rank.min(seen - 1);
            let mut below = 0;
            for (digit, &count) in self.counts.iter().enumerate() {
                if below + count > t.rank {
                    t.rank -= below;
                    t.prefix = t.prefix << DIGIT | digit as u64;
                    t.digits += 1;
                    t.count = count;
                    break;
                }
                below += count;
            }
            if t.digits * DIGIT == 64 {
                t.found = Some(t.prefix);
            }
        }
    }
}

/// [`select`], gathering buckets of at most `collect` values (small in tests, to take every path
/// on short series).
fn select_with<T: OrderKey, C: Column<T> + ?Sized>(
    column: &C,
    ranks: &[usize],
    collect: usize,
) -> Vec<T> {
    let n = column.len();
    let mut targets: Vec<Target> = ranks
        .iter()
        .map(|&rank| {
            assert!(rank < n, "rank {rank} of a column of {n} values");
            Target {
                rank,
                prefix: 0,
                digits: 0,
                count: n,
                found: None,
            }
        })
        .collect();
    loop {
        // One bucket per distinct place sought (VaR's two ranks usually share one).
        let mut buckets: Vec<Bucket> = Vec::new();
        for t in targets.iter().filter(|t| t.found.is_none()) {
            if !buckets.iter().any(|b| b.holds(t)) {
                buckets.push(Bucket::new(t, collect));
            }
        }
        if buckets.is_empty() {
            break;
        }
        column.chunks(&mut |chunk| {
            for &v in chunk {
                let key = v.key();
                for b in &mut buckets {
                    b.offer(key);
                }
            }
        });
        for b in &mut buckets {
            b.keys.sort_unstable();
        }
        for t in targets.iter_mut().filter(|t| t.found.is_none()) {
            let b = buckets
                .iter()
                .find(|b| b.holds(t))
                .expect("a bucket per target");
            b.narrow(t);
        }
    }
    targets
        .iter()
        .map(|t| T::from_key(t.found.expect("every target found")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Chunked;
    use proptest::prelude::*;

    /// Values with many ties, both zeros, both NaNs, infinities and extremes.
    fn awkward() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => any::<f64>(),
            4 => (-3i32..3).prop_map(f64::from),
            2 => -1e-3..1e-3f64,
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(-f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(f64::MIN_POSITIVE),
            1 => Just(f64::MAX),
        ]
    }

    fn sorted_copy(values: &[f64]) -> Vec<f64> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn selection_equals_sorting_then_indexing(
            values in prop::collection::vec(awkward(), 1..400),
            picks in prop::collection::vec(0.0..1.0f64, 1..6),
            size in prop::sample::select(vec![1usize, 7, 64, 1_000]),
            collect in prop::sample::select(vec![0usize, 1, 5, 64, COLLECT]),
        ) {
            let ranks: Vec<usize> = picks
                .iter()
                .map(|p| ((values.len() as f64 * p) as usize).min(values.len() - 1))
                .collect();
            let sorted = sorted_copy(&values);
            let expected: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
            let got = select_with(&Chunked(values.clone(), size), &ranks, collect);
            prop_assert_eq!(bits(&got), bits(&expected));
        }

        #[test]
        fn integer_selection_equals_sorting(
            values in prop::collection::vec(prop_oneof![any::<i64>(), -2i64..2], 1..300),
            pick in 0.0..1.0f64,
            collect in prop::sample::select(vec![0usize, 3, COLLECT]),
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = ((values.len() as f64 * pick) as usize).min(values.len() - 1);
            prop_assert_eq!(select_with(&Chunked(values, 7), &[rank], collect), vec![sorted[rank]]);
        }
    }

    /// A column that says it has more values than it hands out, as one whose read failed.
    struct Short(Vec<f64>, usize);

    impl Column<f64> for Short {
        fn len(&self) -> usize {
            self.1
        }

        fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
            <[f64]>::chunks(&self.0, 3).for_each(visit);
        }
    }

    #[test]
    fn a_column_short_of_its_length_ends_the_search_without_panic() {
        let values: Vec<f64> = (0..40).map(|i| f64::from(i % 7)).collect();
        for collect in [0, 5, COLLECT] {
            let got = select_with(&Short(values.clone(), 100), &[0, 39, 60, 99], collect);
            assert_eq!(got.len(), 4);
            assert_eq!(got[0], 0.0);
            assert!(select_with(&Short(Vec::new(), 10), &[5], collect)[0].is_nan());
        }
    }

    #[test]
    fn keys_order_as_total_cmp() {
        let values = [
            -f64::NAN,
            f64::NEG_INFINITY,
            -1.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            2.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in values.windows(2) {
            assert!(w[0].key() < w[1].key(), "{} {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(f64::from_key(v.key()).to_bits(), v.to_bits());
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            assert_eq!(i64::from_key(v.key()), v);
        }
        assert!((-1i64).key() < 0i64.key());
    }

    #[test]
    fn a_long_series_takes_several_passes_and_ties_need_no_storage() {
        // More values than a bucket gathers: the histogram passes run; 200,000 equal values
        // are one bucket whose keys are all equal.
        let flat = vec![0.25; 200_000];
        assert_eq!(select(&Chunked(flat, 65_536), &[0, 199_999]), [0.25, 0.25]);
        let mut values: Vec<f64> = (0..150_000)
            .map(|i| ((i * 7_919 % 10_007) as f64 - 5_000.0) * 1e-7)
            .collect();
        values.extend(std::iter::repeat_n(0.0, 60_000));
        let sorted = sorted_copy(&values);
        let ranks = [0, 7_499, 7_500, 105_000, 142_499, 209_999];
        let expected: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
        assert_eq!(
            bits(&select(&Chunked(values, 65_536), &ranks)),
            bits(&expected)
        );
    }
}
