//! Bars from record batches a host program holds in memory (a pandas or polars frame handed over
//! as Arrow), checked exactly as a file's: the same column layout, the same row checks.

use super::decode::{Decoder, TimeRange};
use super::schema::{Layout, RecordKind, schema_of};
use crate::{Bar, BarSeries, Error, InstrumentId, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use std::path::PathBuf;
use std::sync::Arc;

/// Decodes `batches` (one table, in order, all with `batches[0]`'s schema) into the bars of
/// `instrument`. `label` names the table in messages where a file's path would be, e.g.
/// `data["GOOG"]`; rows are counted from 1 across the batches.
///
/// # Errors
/// [`Error::Schema`] naming a missing or mistyped column; [`Error::InvalidRecord`] naming the
/// row and column of the first null, NaN, non-positive price, inconsistent bar or timestamp out
/// of order; [`Error::Empty`] when there are no rows.
pub fn bars_from_batches(
    instrument: InstrumentId,
    label: &str,
    batches: &[RecordBatch],
) -> Result<BarSeries> {
    let path = PathBuf::from(label);
    let Some(first) = batches.first() else {
        return Err(Error::Empty { path });
    };
    let layout = Layout::resolve(&first.schema(), RecordKind::Bars, &path)?;
    let mut decoder = Decoder::new(layout, RecordKind::Bars, path.clone(), TimeRange::ALL, 0);
    let mut bars = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        if batch.schema() != first.schema() {
            return Err(Error::Schema {
                path,
                message: "record batches with different schemas in one table".into(),
            });
        }
        decoder.bars(batch, &mut bars)?;
    }
    if bars.is_empty() {
        return Err(Error::Empty { path });
    }
    Ok(BarSeries::new(instrument, bars))
}

/// Returns `bars` as one record batch with the bar files' layout (see [`super::schema`]):
/// `timestamp` (UTC nanoseconds), `open`, `high`, `low`, `close`, `volume`.
///
/// # Errors
/// Never in practice: the columns are built to the schema.
pub fn bars_to_batch(bars: &[Bar]) -> Result<RecordBatch> {
    let times = TimestampNanosecondArray::from_iter_values(bars.iter().map(|b| b.ts.0))
        .with_timezone("UTC");
    let field = |f: fn(&Bar) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
    };
    let columns = vec![
        Arc::new(times) as ArrayRef,
        field(|b| b.open),
        field(|b| b.high),
        field(|b| b.low),
        field(|b| b.close),
        field(|b| b.volume),
    ];
    RecordBatch::try_new(schema_of(RecordKind::Bars, false), columns).map_err(|e| Error::Schema {
        path: PathBuf::from("bars"),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(ts: &[i64], close: &[f64], with_volume: bool) -> RecordBatch {
        let mut fields = vec![Field::new("timestamp", DataType::Int64, false)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ts.to_vec()))];
        let names: &[&str] = if with_volume {
            &["Open", "High", "Low", "Close", "Volume"]
        } else {
            &["Open", "High", "Low", "Close"]
        };
        for name in names {
            fields.push(Field::new(*name, DataType::Float64, false));
            let values = if *name == "Volume" {
                vec![100.0; close.len()]
            } else {
                close.to_vec()
            };
            columns.push(Arc::new(Float64Array::from(values)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn batches_decode_in_order_with_rows_counted_across_them() {
        let a = batch(&[1, 2], &[10.0, 11.0], true);
        let b = batch(&[3, 4], &[12.0, f64::NAN], true);
        let err = bars_from_batches(InstrumentId::new("X"), "data[\"X\"]", &[a.clone(), b])
            .unwrap_err()
            .to_string();
        // Rows count across the batches: the NaN is in the second batch's second row.
        assert!(err.starts_with("data[\"X\"]: row 4, column "), "{err}");
        assert!(err.ends_with("NaN is not a finite number"), "{err}");
        let late = batch(&[3, 1], &[12.0, 13.0], true);
        let err = bars_from_batches(InstrumentId::new("X"), "t", &[a.clone(), late])
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 4, column \"timestamp\""), "{err}");
        let series = bars_from_batches(InstrumentId::new("X"), "t", &[a]).unwrap();
        assert_eq!(series.bars.len(), 2);
        assert_eq!(series.bars[1].close, 11.0);
        assert_eq!(series.bars[1].ts.0, 2);
        // And back: the batch of these bars decodes to the same bars.
        let again = bars_to_batch(&series.bars).unwrap();
        let round = bars_from_batches(InstrumentId::new("X"), "t", &[again]).unwrap();
        assert_eq!(round.bars, series.bars);
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = bars_from_batches(InstrumentId::new("X"), "t", &[batch(&[1], &[1.0], false)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `volume` column"), "{err}");
    }
}
