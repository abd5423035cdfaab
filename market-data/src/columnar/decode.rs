//! Record batches to bars, trades and quotes, checked row by row.
//!
//! Decoding is on the path of every backtest over columnar data, so the common case is one tight
//! loop per batch that builds every row and folds all its checks into one flag; only a batch
//! that fails pays a second pass to find and describe its first bad row.

use super::schema::{Layout, RecordKind, TimeEncoding};
use crate::validate::{bars_valid, consistency_problem, crossed_problem, value_problem};
use crate::{
    Bar, Error, InvalidRecord, NANOS_PER_DAY, Price, Qty, Quote, Result, RowProblem, Side,
    Timestamp, Trade,
};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use std::path::PathBuf;

/// A half-open time range `[start, end)` in nanoseconds; rows outside it are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant kept.
    pub start: i64,
    /// First instant no longer kept.
    pub end: i64,
}

impl TimeRange {
    /// Every instant.
    pub const ALL: TimeRange = TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };

    /// Returns true when the range keeps every instant.
    pub const fn is_all(self) -> bool {
        self.start == i64::MIN && self.end == i64::MAX
    }

    /// Returns true when `[first, last]` and the range share an instant.
    pub const fn overlaps(self, first: i64, last: i64) -> bool {
        first < self.end && last >= self.start
    }
}

/// Decodes the batches of one file in order, remembering where it is for messages and order
/// checks.
#[derive(Debug)]
pub(crate) struct Decoder {
    layout: Layout,
    kind: RecordKind,
    path: PathBuf,
    range: TimeRange,
    /// Rows of the file before the next batch.
    rows_before: u64,
    /// The last timestamp decoded.
    last: i64,
    /// The timestamps of the current batch in nanoseconds (reused).
    times: Vec<i64>,
    /// Set once a row at or after `range.end` was seen: the rest of the file is not needed.
    past_end: bool,
}

impl Decoder {
    /// Returns a decoder of batches laid out as `layout` (the projected layout).
    pub(crate) fn new(
        layout: Layout,
        kind: RecordKind,
        path: PathBuf,
        range: TimeRange,
        rows_before: u64,
    ) -> Self {
        Self {
            layout,
            kind,
            path,
            range,
            rows_before,
            last: i64::MIN,
            times: Vec::new(),
            past_end: false,
        }
    }

    /// Returns true once the rows left in the file are all after the range.
    pub(crate) fn past_end(&self) -> bool {
        self.past_end
    }

    /// Returns the rows of the file before the next batch (skipped row groups included).
    pub(crate) fn rows(&self) -> u64 {
        self.rows_before
    }

    /// Returns the last timestamp decoded, if any.
    pub(crate) fn last(&self) -> Option<Timestamp> {
        (self.last != i64::MIN).then_some(Timestamp(self.last))
    }

    fn invalid(&self, row: usize, column: Option<&'static str>, problem: RowProblem) -> Error {
        Error::InvalidRecord {
            path: self.path.clone(),
            record: InvalidRecord {
                row: self.rows_before + row as u64 + 1,
                column,
                problem,
            },
        }
    }

    /// Fills `self.times` from the batch's timestamp column, in nanoseconds.
    fn load_times(&mut self, batch: &RecordBatch) -> Result<()> {
        let column = batch.column(self.layout.time.0);
        self.reject_nulls(column, "timestamp")?;
        let data = column.to_data();
        self.times.clear();
        match self.layout.time.1 {
            TimeEncoding::Int64 { nanos_per_unit: 1 } => {
                self.times.extend_from_slice(data.buffer::<i64>(0));
            }
            TimeEncoding::Int64 { nanos_per_unit } => {
                let raw = data.buffer::<i64>(0);
                if let Some(row) = raw
                    .iter()
                    .position(|t| t.checked_mul(nanos_per_unit).is_none())
                {
                    let value = raw[row].to_string();
                    return Err(self.invalid(
                        row,
                        Some("timestamp"),
                        RowProblem::Unparsable {
                            value,
                            expected: "an instant within 1677-2262 (nanoseconds in an i64)",
                        },
                    ));
                }
                self.times.extend(raw.iter().map(|t| t * nanos_per_unit));
            }
            TimeEncoding::Days32 => {
                let raw = data.buffer::<i32>(0);
                self.times
                    .extend(raw.iter().map(|&d| i64::from(d) * NANOS_PER_DAY));
            }
        }
        Ok(())
    }

    fn reject_nulls(&self, column: &ArrayRef, name: &'static str) -> Result<()> {
        if column.null_count() == 0 {
            return Ok(());
        }
        let row = (0..column.len()).find(|&i| column.is_null(i)).unwrap_or(0);
        Err(self.invalid(
            row,
            Some(name),
            RowProblem::Empty {
                expected: "a value (the column holds a null)",
            },
        ))
    }

    /// Returns the value columns of the batch as slices, after rejecting nulls.
    fn values<'b>(&self, batch: &'b RecordBatch) -> Result<Vec<&'b [f64]>> {
        let names = self.kind.value_columns();
        self.layout
            .values
            .iter()
            .zip(names)
            .map(|(&i, &name)| {
                let column = batch.column(i);
                self.reject_nulls(column, name)?;
                Ok(&column.as_primitive::<Float64Type>().values()[..])
            })
            .collect()
    }

    /// Decodes one batch of bars, appending those within the range to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidRecord`] for the first null, non-finite, non-positive price, negative
    /// volume, inconsistent OHLC or out-of-order row.
    pub(crate) fn bars(&mut self, batch: &RecordBatch, out: &mut Vec<Bar>) -> Result<()> {
        self.load_times(batch)?;
        let columns = self.values(batch)?;
        let [open, high, low, close, volume] = columns[..] else {
            return Ok(()); // `values` returns one slice per bar column
        };
        let n = batch.num_rows();
        let times = &self.times[..n];
        let (open, high, low, close, volume) =
            (&open[..n], &high[..n], &low[..n], &close[..n], &volume[..n]);
        let base = out.len();
        // Rows are built and checked in separate passes over the columns: each pass is a
        // branch-free loop the compiler vectorises, where one loop doing both was not.
        out.extend((0..n).map(|i| Bar {
            ts: Timestamp(times[i]),
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
        }));
        let ok = increasing(self.last, times) && bars_valid(open, high, low, close, volume);
        let last = times.last().copied().unwrap_or(self.last);
        if !ok {
            let error = self.first_bad_bar(&out[base..]);
            out.truncate(base);
            return Err(error);
        }
        self.finish_batch(n, last);
        self.keep_range(out, base, |bar| bar.ts.0);
        Ok(())
    }

    /// Describes the first bad bar of a batch that failed the fast check.
    fn first_bad_bar(&self, bars: &[Bar]) -> Error {
        let mut last = self.last;
        for (row, bar) in bars.iter().enumerate() {
            let fields = [bar.open, bar.high, bar.low, bar.close, bar.volume];
            let names = RecordKind::Bars.value_columns();
            for (k, (&value, &name)) in fields.iter().zip(names).enumerate() {
                if let Some(problem) = value_problem(value, k == 4) {
                    return self.invalid(row, Some(name), problem);
                }
            }
            if let Some((name, problem)) = consistency_problem(bar) {
                return self.invalid(row, Some(name), problem);
            }
            if bar.ts.0 <= last {
                return self.out_of_order(row, bar.ts.0, last, false);
            }
            last = bar.ts.0;
        }
        self.invalid(0, None, RowProblem::Empty { expected: "a row" })
    }

    fn out_of_order(&self, row: usize, found: i64, previous: i64, ties_allowed: bool) -> Error {
        self.invalid(
            row,
            Some("timestamp"),
            RowProblem::OutOfOrder {
                found: Timestamp(found).to_string(),
                previous: Timestamp(previous).to_string(),
                order: if found == previous && !ties_allowed {
                    "equal to the"
                } else {
                    "before the"
                },
            },
        )
    }

    fn finish_batch(&mut self, rows: usize, last: i64) {
        self.rows_before += rows as u64;
        self.last = last;
    }

    /// Drops the rows of `out[base..]` outside the range (they are in time order).
    fn keep_range<T>(&mut self, out: &mut Vec<T>, base: usize, ts: impl Fn(&T) -> i64) {
        if self.range.is_all() {
            return;
        }
        let batch = &out[base..];
        let lo = batch.partition_point(|r| ts(r) < self.range.start);
        let hi = batch.partition_point(|r| ts(r) < self.range.end);
        if hi < batch.len() {
            self.past_end = true;
        }
        out.truncate(base + hi);
        out.drain(base..base + lo);
    }

    /// Decodes one batch of trades (times may repeat, never decrease), appending to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidRecord`] for the first null, bad value, unknown side or out-of-order row.
    pub(crate) fn trades(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<(Timestamp, Trade)>,
    ) -> Result<()> {
        self.load_times(batch)?;
        let columns = self.values(batch)?;
        let [price, qty] = columns[..] else {
            return Ok(());
        };
        let side = match self.layout.side {
            Some(i) => {
                self.reject_nulls(batch.column(i), "side")?;
                Some(batch.column(i).as_string::<i32>())
            }
            None => None,
        };
        let base = out.len();
        let mut last = self.last;
        for i in 0..batch.num_rows() {
            let ts = self.times[i];
            if ts < last {
                out.truncate(base);
                return Err(self.out_of_order(i, ts, last, true));
            }
            for (value, name, is_qty) in [(price[i], "price", false), (qty[i], "qty", true)] {
                if let Some(problem) = value_problem(value, is_qty) {
                    out.truncate(base);
                    return Err(self.invalid(i, Some(name), problem));
                }
            }
            let aggressor = match side.map(|s| s.value(i)) {
                None | Some("buy" | "BUY" | "b" | "B") => Side::Buy,
                Some("sell" | "SELL" | "s" | "S") => Side::Sell,
                Some(other) => {
                    out.truncate(base);
                    return Err(self.invalid(
                        i,
                        Some("side"),
                        RowProblem::Unparsable {
                            value: other.to_owned(),
                            expected: "\"buy\" or \"sell\"",
                        },
                    ));
                }
            };
            last = ts;
            out.push((
                Timestamp(ts),
                Trade {
                    price: Price(price[i]),
                    qty: Qty(qty[i]),
                    aggressor,
                },
            ));
        }
        self.finish_batch(batch.num_rows(), last);
        self.keep_range(out, base, |r| r.0.0);
        Ok(())
    }

    /// Decodes one batch of quotes (times may repeat, never decrease), appending to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidRecord`] for the first null, bad value, crossed quote or out-of-order row.
    pub(crate) fn quotes(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<(Timestamp, Quote)>,
    ) -> Result<()> {
        self.load_times(batch)?;
        let columns = self.values(batch)?;
        let [bid, ask, bid_qty, ask_qty] = columns[..] else {
            return Ok(());
        };
        let base = out.len();
        let mut last = self.last;
        for i in 0..batch.num_rows() {
            let ts = self.times[i];
            if ts < last {
                out.truncate(base);
                return Err(self.out_of_order(i, ts, last, true));
            }
            let values = [
                (bid[i], "bid", false),
                (ask[i], "ask", false),
                (bid_qty[i], "bid_qty", true),
                (ask_qty[i], "ask_qty", true),
            ];
            for (value, name, is_qty) in values {
                if let Some(problem) = value_problem(value, is_qty) {
                    out.truncate(base);
                    return Err(self.invalid(i, Some(name), problem));
                }
            }
            if let Some(problem) = crossed_problem(bid[i], ask[i]) {
                out.truncate(base);
                return Err(self.invalid(i, Some("bid"), problem));
            }
            last = ts;
            out.push((
                Timestamp(ts),
                Quote {
                    bid: Price(bid[i]),
                    ask: Price(ask[i]),
                    bid_qty: Qty(bid_qty[i]),
                    ask_qty: Qty(ask_qty[i]),
                },
            ));
        }
        self.finish_batch(batch.num_rows(), last);
        self.keep_range(out, base, |r| r.0.0);
        Ok(())
    }
}

/// Returns true when `times` increase strictly, starting after `last`.
fn increasing(last: i64, times: &[i64]) -> bool {
    let Some(&first) = times.first() else {
        return true;
    };
    let mut ok = first > last;
    for pair in times.windows(2) {
        ok &= pair[1] > pair[0];
    }
    ok
}
