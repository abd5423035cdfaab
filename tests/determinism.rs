//! The same config twice gives byte-identical result files.

use crate::result_files::run_id;
use crate::support::{quant, scratch, stderr};
use std::path::Path;

/// Returns the file's bytes, a Parquet file's run id (the time it was written, which differs
/// between two runs by design) blanked: everything else must be equal, byte for byte.
fn without_run_id(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "parquet") {
        let id = run_id(path).into_bytes();
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(id.len()).position(|w| w == id) {
            bytes[at + i..at + i + id.len()].fill(b'-');
            at += i + id.len();
        }
    }
    bytes
}

fn run_twice(config: &str) {
    let (a, b) = (scratch("det-a"), scratch("det-b"));
    for dir in [&a, &b] {
        let output = quant(&["backtest", config, "--out", dir.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // summary.json, report.html, report.json, four tables as CSV and Parquet, and the
    // positions and returns as Parquet.
    assert_eq!(names.len(), 13);
    for name in names {
        let (x, y) = (
            without_run_id(&a.join(&name)),
            without_run_id(&b.join(&name)),
        );
        assert!(
            x == y,
            "{config}: {name:?} differs between two identical runs"
        );
    }
}

#[test]
fn csv_backtest_is_byte_identical() {
    run_twice("backtests/bollinger_reversion.toml");
}

#[test]
fn synthetic_portfolio_is_byte_identical() {
    run_twice("backtests/synthetic_portfolio.toml");
}
