//! The same config twice gives byte-identical result files.

use crate::support::{quant, scratch, stderr};

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
    // summary.json, report.html, report.json and four tables as CSV and Parquet.
    assert_eq!(names.len(), 11);
    for name in names {
        let (x, y) = (
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
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
