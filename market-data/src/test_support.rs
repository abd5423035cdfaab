//! Helpers shared by the crate's unit tests: scratch folders, awkward bars and checks that compare
//! floats bit for bit.

use crate::synthetic::{SyntheticSpec, generate_one};
use crate::{Bar, Timestamp};
use std::path::{Path, PathBuf};

/// A scratch folder under the system's temp dir, unique to this process and test, removed when
/// dropped (also when the test panics).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates an empty folder for the test `name` (unique within the crate's tests).
    pub(crate) fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("quant-md-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Returns the path of `name` inside the folder.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Returns `n` valid synthetic bars, 1.5 s apart from `start` (nanoseconds), each moved a few
/// nanoseconds off the grid (every tenth stays on it) so timestamps have awkward fractions.
pub(crate) fn bars(n: usize, start: i64) -> Vec<Bar> {
    let spec = SyntheticSpec {
        bars: n,
        interval_ns: 1_500_000_000,
        start: Timestamp(start),
        volatility: 0.6,
        ..SyntheticSpec::default()
    };
    let mut bars = generate_one(&spec, 0).bars;
    for (i, bar) in bars.iter_mut().enumerate() {
        if i % 10 != 0 {
            bar.ts.0 += (i as i64 * 7919) % 1000;
        }
    }
    bars
}

/// A bar's timestamp and the bits of its values: equal only when nothing was lost, `-0.0` and
/// NaN payloads included.
pub(crate) fn bits(bar: &Bar) -> (i64, [u64; 5]) {
    let values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
    (bar.ts.0, values.map(f64::to_bits))
}

/// Asserts that two bar slices are identical bit for bit, naming the first difference.
#[track_caller]
pub(crate) fn assert_same_bars(actual: &[Bar], expected: &[Bar]) {
    assert_eq!(actual.len(), expected.len(), "number of bars");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(bits(a), bits(e), "bar {i}: {a:?} != {e:?}");
    }
}
