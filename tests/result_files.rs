//! The result files pandas, quantstats and pyfolio read: `returns.parquet` and
//! `positions.parquet` agree with the equity curve and `summary.json`; every Parquet file names
//! its run in its key-value metadata; an order nothing refused has a null reason.

use crate::support::{assert_close, backtest, quant, repo, scratch, stderr};
use arrow::array::{Array, Float64Array, StringArray, TimestampNanosecondArray};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;

/// Returns the rows of a Parquet file as one batch, and its key-value metadata.
fn read(path: &Path) -> (RecordBatch, BTreeMap<String, String>) {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let metadata = (builder.metadata().file_metadata().key_value_metadata())
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    (
        arrow::compute::concat_batches(&schema, &batches).unwrap(),
        metadata,
    )
}

/// Returns the run id a Parquet file of a run carries.
pub(crate) fn run_id(path: &Path) -> String {
    read(path).1.remove("quant.run_id").unwrap()
}

fn floats<'a>(batch: &'a RecordBatch, name: &str) -> &'a Float64Array {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

fn stamps<'a>(batch: &'a RecordBatch, name: &str) -> &'a TimestampNanosecondArray {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

fn texts<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

/// Checks that each step's position values plus its cash row add up to its equity, and
/// returns how many rows held an instrument.
fn positions_add_up_to_equity(dir: &Path) -> usize {
    let (equity, _) = read(&dir.join("equity.parquet"));
    let (positions, _) = read(&dir.join("positions.parquet"));
    let (ts, values) = (stamps(&positions, "timestamp"), floats(&positions, "value"));
    let instruments = texts(&positions, "instrument");
    let (qty, price) = (floats(&positions, "quantity"), floats(&positions, "price"));
    let mut sums: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    let mut held = 0;
    for row in 0..positions.num_rows() {
        assert_eq!(values.value(row), qty.value(row) * price.value(row));
        let entry = sums.entry(ts.value(row)).or_default();
        entry.0 += values.value(row);
        if instruments.value(row) == "cash" {
            entry.1 += 1;
        } else {
            held += 1;
            assert_ne!(qty.value(row), 0.0, "only held instruments have rows");
        }
    }
    let (steps, curve) = (stamps(&equity, "timestamp"), floats(&equity, "equity"));
    assert_eq!(sums.len(), equity.num_rows(), "every step has rows");
    for step in 0..equity.num_rows() {
        let (sum, cash_rows) = sums[&steps.value(step)];
        assert_eq!(cash_rows, 1, "one cash row per step");
        assert_close(
            sum,
            curve.value(step),
            1e-9,
            "positions value + cash vs equity",
        );
    }
    held
}

#[test]
fn returns_and_positions_match_the_equity_curve_on_goog() {
    let dir = scratch("result-files");
    let output = backtest(&repo("backtests/sma_crossover.toml"), &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let final_equity = summary["final_equity"].as_f64().unwrap();
    let initial_cash = summary["config"]["broker"]["initial_cash"]
        .as_f64()
        .unwrap();

    let (returns, _) = read(&dir.join("returns.parquet"));
    let (equity, _) = read(&dir.join("equity.parquet"));
    assert_eq!(returns.num_rows(), equity.num_rows(), "one return per step");
    assert_eq!(
        stamps(&returns, "timestamp").values(),
        stamps(&equity, "timestamp").values()
    );
    let r = floats(&returns, "return");
    assert_eq!(r.null_count(), 0);
    let growth: f64 = r.values().iter().map(|x| 1.0 + x).product();
    assert_close(
        growth,
        final_equity / initial_cash,
        1e-9,
        "compounded returns",
    );

    let held = positions_add_up_to_equity(&dir);
    assert!(
        held > 1000,
        "GOOG is held over much of the run: {held} rows"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sleeves_positions_add_up_to_the_combined_equity() {
    let dir = scratch("result-files-sleeves");
    let output = quant(&[
        "backtest",
        "backtests/synthetic_portfolio.toml",
        "--set",
        "portfolio.mode=\"sleeves\"",
        "--set",
        "data.bars=3000",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(positions_add_up_to_equity(&dir) > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_parquet_file_names_its_run_and_empty_reasons_are_null() {
    let dir = scratch("result-files-meta");
    let output = backtest(&repo("backtests/sma_crossover.toml"), &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut files = 0;
    let mut hashes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        files += 1;
        let (_, meta) = read(&path);
        let name = path.display();
        let run_id = &meta["quant.run_id"];
        assert!(
            run_id.len() == 16 && run_id.ends_with('Z'),
            "{name}: {run_id}"
        );
        assert_eq!(meta["quant.strategy"], "sma_crossover", "{name}");
        assert_eq!(meta["quant.version"], env!("CARGO_PKG_VERSION"), "{name}");
        hashes.push(meta["quant.config_hash"].clone());
    }
    assert_eq!(
        files, 6,
        "trades, fills, orders, equity, positions, returns"
    );
    assert!(hashes.iter().all(|h| h.len() == 16 && *h == hashes[0]));

    let (orders, _) = read(&dir.join("orders.parquet"));
    let reason = texts(&orders, "reason");
    assert!(orders.num_rows() > 0);
    assert!(
        reason.null_count() > 0,
        "orders nothing refused have no reason"
    );
    for row in 0..orders.num_rows() {
        assert!(
            reason.is_null(row) || !reason.value(row).is_empty(),
            "row {row}: \"\""
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
