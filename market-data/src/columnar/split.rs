//! Parquet columns of doubles split into byte streams (`BYTE_STREAM_SPLIT`, as quant writes
//! prices and sizes), decoded here a page at a time beside parquet's reader of the file's other
//! columns.
//!
//! parquet-rs joins such a page's streams a byte at a time, with a bounds check on each: about
//! 70 instructions a value, the largest single cost of reading a 5 M-bar file (12% of a whole
//! backtest's instructions, 15% of a 100-instrument catalog run's CPU time). Here eight values
//! at a time are turned over from a word of each stream (an 8 x 8 byte transpose).
//! Only required `DOUBLE` columns whose every page is split this way take this path (checked in
//! the file's metadata before reading); anything else is read by parquet's reader as before.

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::serialized_reader::SerializedPageReader;
use std::fs::File;
use std::sync::Arc;

/// Of a file's projected columns (`roots`, in file order), those read here: required `DOUBLE`
/// columns split into byte streams in every one of the row groups `groups`, each its own root
/// (a leaf of a nested column is not one of them).
pub(crate) fn split_columns(
    meta: &ParquetMetaData,
    schema: &SchemaRef,
    roots: &[usize],
    groups: &[usize],
) -> Vec<usize> {
    let descr = meta.file_metadata().schema_descr();
    let split = |c: usize| {
        if c >= descr.num_columns() || descr.get_column_root_idx(c) != c {
            return false;
        }
        let column = descr.column(c);
        column.physical_type() == PhysicalType::DOUBLE
            && column.max_def_level() == 0
            && column.max_rep_level() == 0
            && schema.field(c).data_type() == &DataType::Float64
            && groups.iter().all(|&g| {
                let chunk = meta.row_group(g).column(c);
                chunk.dictionary_page_offset().is_none()
                    && chunk.encodings().any(|e| e == Encoding::BYTE_STREAM_SPLIT)
                    // Level encodings may be listed beside the values' even without levels.
                    && chunk
                        .encodings()
                        .all(|e| matches!(e, Encoding::BYTE_STREAM_SPLIT | Encoding::RLE))
            })
    };
    roots.iter().copied().filter(|&c| split(c)).collect()
}

/// The batches of a file's projected columns: those split into byte streams decoded here, the
/// others read by parquet's reader (`rest`, which sets each batch's rows).
pub(crate) struct SplitBatches {
    rest: ParquetRecordBatchReader,
    /// Whether a batch failed: the columns may be out of step, so no batch follows.
    failed: bool,
    columns: Vec<SplitColumn>,
    /// Where each column of a batch comes from, in the projected schema's order.
    sources: Vec<Source>,
    schema: SchemaRef,
}

/// Where a batch's column comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Column `k` of the batch of the other columns.
    Rest(usize),
    /// Split column `k`.
    Split(usize),
}

impl SplitBatches {
    /// Returns the batches of the projected columns `roots` (file order) of `file`, the
    /// `split` ones among them decoded here from row groups `groups`, the others by `rest`;
    /// `schema` is the projected schema.
    pub(crate) fn new(
        file: File,
        meta: Arc<ParquetMetaData>,
        schema: SchemaRef,
        roots: &[usize],
        split: &[usize],
        groups: Vec<usize>,
        rest: ParquetRecordBatchReader,
    ) -> Self {
        let file = Arc::new(file);
        let columns = (split.iter())
            .map(|&column| SplitColumn {
                file: Arc::clone(&file),
                meta: Arc::clone(&meta),
                column,
                groups: groups.clone().into_iter(),
                pages: None,
                group: 0,
                group_rows: 0,
                group_values: 0,
                page: None,
                start: 0,
                count: 0,
                at: 0,
            })
            .collect();
        let (mut next_rest, mut next_split) = (0, 0);
        let sources = (roots.iter())
            .map(|c| {
                if split.contains(c) {
                    next_split += 1;
                    Source::Split(next_split - 1)
                } else {
                    next_rest += 1;
                    Source::Rest(next_rest - 1)
                }
            })
            .collect();
        Self {
            rest,
            failed: false,
            columns,
            sources,
            schema,
        }
    }

    fn batch(&mut self, rest: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let rows = rest.num_rows();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            arrays.push(match *source {
                Source::Rest(k) => Arc::clone(rest.column(k)),
                Source::Split(k) => Arc::new(Float64Array::from(self.columns[k].take(rows)?)),
            });
        }
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
    }
}

impl Iterator for SplitBatches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let batch = match self.rest.next() {
            Some(Ok(rest)) => self.batch(&rest),
            Some(Err(e)) => Err(e),
            // The other columns are done: so must the split ones be.
            None => match (self.columns.iter_mut()).try_for_each(SplitColumn::finish) {
                Ok(()) => return None,
                Err(e) => Err(e),
            },
        };
        self.failed = batch.is_err();
        Some(batch)
    }
}

/// One split column, read a page at a time through the row groups in order.
struct SplitColumn {
    file: Arc<File>,
    meta: Arc<ParquetMetaData>,
    column: usize,
    groups: std::vec::IntoIter<usize>,
    pages: Option<SerializedPageReader<File>>,
    /// The row group being read, its rows, and the values its pages held so far.
    group: usize,
    group_rows: usize,
    group_values: usize,
    /// The current page, where its values' bytes start, how many values it holds and how many
    /// of them were taken.
    page: Option<Page>,
    start: usize,
    count: usize,
    at: usize,
}

impl SplitColumn {
    /// Returns the next `rows` values, joined straight from the pages' byte streams.
    fn take(&mut self, rows: usize) -> Result<Vec<f64>, ArrowError> {
        let mut out = Vec::with_capacity(rows);
        while out.len() < rows {
            if self.at == self.count && !self.next_page()? {
                return Err(self.error("ends before the file's other columns"));
            }
            let k = (rows - out.len()).min(self.count - self.at);
            if let Some(page) = &self.page {
                let bytes = &page.buffer()[self.start..];
                join_doubles(bytes, self.count, self.at..self.at + k, &mut out);
            }
            self.at += k;
        }
        Ok(out)
    }

    /// Checks that the column holds no value past those taken, once the other columns end.
    fn finish(&mut self) -> Result<(), ArrowError> {
        if self.at < self.count || self.next_page()? {
            return Err(self.error("holds more values than the file's other columns"));
        }
        Ok(())
    }

    /// Moves on to the next data page; false when the row groups are done.
    fn next_page(&mut self) -> Result<bool, ArrowError> {
        loop {
            let pages = match &mut self.pages {
                Some(pages) => pages,
                None => {
                    let Some(group) = self.groups.next() else {
                        return Ok(false);
                    };
                    let meta = self.meta.row_group(group);
                    let rows = usize::try_from(meta.num_rows()).unwrap_or(0);
                    let reader = SerializedPageReader::new(
                        Arc::clone(&self.file),
                        meta.column(self.column),
                        rows,
                        None,
                    )
                    .map_err(|e| self.error(&format!("cannot be read: {e}")))?;
                    (self.group, self.group_rows, self.group_values) = (group, rows, 0);
                    self.pages.insert(reader)
                }
            };
            let next = pages.get_next_page();
            let Some(page) = next.map_err(|e| self.error(&format!("cannot be read: {e}")))? else {
                // A row group's values pair with its rows of the other columns one for one.
                if self.group_values != self.group_rows {
                    let (values, group, rows) = (self.group_values, self.group, self.group_rows);
                    return Err(self.error(&format!(
                        "holds {values} values in row group {group}, which has {rows} rows"
                    )));
                }
                self.pages = None;
                continue;
            };
            let (start, count) = match &page {
                Page::DataPage {
                    num_values,
                    encoding: Encoding::BYTE_STREAM_SPLIT,
                    ..
                } => (0, *num_values),
                Page::DataPageV2 {
                    num_values,
                    num_nulls: 0,
                    encoding: Encoding::BYTE_STREAM_SPLIT,
                    def_levels_byte_len,
                    rep_levels_byte_len,
                    ..
                } => (
                    (def_levels_byte_len + rep_levels_byte_len) as usize,
                    *num_values,
                ),
                _ => return Err(self.error("has a page not split into byte streams")),
            };
            let count = count as usize;
            if page.buffer().len().checked_sub(start) != Some(count * 8) {
                return Err(self.error("has a page whose size is not its values'"));
            }
            (self.page, self.start, self.count, self.at) = (Some(page), start, count, 0);
            self.group_values += count;
            return Ok(true);
        }
    }

    fn error(&self, what: &str) -> ArrowError {
        let name = self.meta.file_metadata().schema_descr().column(self.column);
        ArrowError::ParquetError(format!("column {} {what}", name.name()))
    }
}

/// Appends values `range` of the `count` doubles of `bytes`, split into eight streams (every
/// value's first byte, then every value's second, ...), to `out`. `bytes` holds `count` values.
fn join_doubles(bytes: &[u8], count: usize, range: std::ops::Range<usize>, out: &mut Vec<f64>) {
    let streams: [&[u8]; 8] =
        std::array::from_fn(|k| &bytes[k * count..(k + 1) * count][range.clone()]);
    let blocks = range.len() / 8;
    out.reserve(range.len());
    // Eight values at a time: a word of eight bytes from each stream is a row of an 8 x 8 byte
    // matrix whose columns are the values, turned over in three rounds of swaps.
    for b in 0..blocks {
        let mut w: [u64; 8] = std::array::from_fn(|k| {
            let bytes: [u8; 8] = streams[k][b * 8..b * 8 + 8].try_into().unwrap_or_default();
            u64::from_le_bytes(bytes)
        });
        for (shift, mask, pairs) in [
            (
                32,
                0x0000_0000_FFFF_FFFF_u64,
                [(0, 4), (1, 5), (2, 6), (3, 7)],
            ),
            (16, 0x0000_FFFF_0000_FFFF, [(0, 2), (1, 3), (4, 6), (5, 7)]),
            (8, 0x00FF_00FF_00FF_00FF, [(0, 1), (2, 3), (4, 5), (6, 7)]),
        ] {
            for (i, j) in pairs {
                let t = ((w[i] >> shift) ^ w[j]) & mask;
                w[i] ^= t << shift;
                w[j] ^= t;
            }
        }
        out.extend(w.map(f64::from_bits));
    }
    // The last few, a byte at a time.
    let tail = blocks * 8..range.len();
    out.extend(tail.map(|i| f64::from_le_bytes(std::array::from_fn(|k| streams[k][i]))));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte streams of `values` as `BYTE_STREAM_SPLIT` lays them out.
    fn split(values: &[f64]) -> Vec<u8> {
        let n = values.len();
        let mut bytes = vec![0u8; n * 8];
        for (i, v) in values.iter().enumerate() {
            for (k, b) in v.to_le_bytes().into_iter().enumerate() {
                bytes[k * n + i] = b;
            }
        }
        bytes
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn doubles_are_joined_from_their_byte_streams() {
        let values = [1.5, -0.0, f64::MAX, 1e-300, f64::NAN, 100.25];
        let n = values.len();
        let mut out = vec![7.0];
        join_doubles(&split(&values), n, 0..n, &mut out);
        let want: Vec<f64> = std::iter::once(7.0).chain(values).collect();
        assert_eq!(bits(&out), bits(&want));
    }

    /// The batches of `prices`' split columns beside `times`' timestamps (files of bars of
    /// one row group each), as a file whose columns disagree would give them.
    fn mismatched(
        times: &std::path::Path,
        prices: &std::path::Path,
    ) -> Vec<Result<RecordBatch, ArrowError>> {
        use parquet::arrow::ProjectionMask;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(times).unwrap()).unwrap();
        let mask = ProjectionMask::roots(builder.parquet_schema(), [0]);
        let rest = builder
            .with_projection(mask)
            .with_batch_size(700)
            .build()
            .unwrap();
        let split_builder =
            ParquetRecordBatchReaderBuilder::try_new(File::open(prices).unwrap()).unwrap();
        let (meta, schema) = (
            Arc::clone(split_builder.metadata()),
            split_builder.schema().clone(),
        );
        let roots: Vec<usize> = (0..6).collect();
        let split = split_columns(&meta, &schema, &roots, &[0]);
        assert_eq!(split, [1, 2, 3, 4, 5]);
        let file = File::open(prices).unwrap();
        SplitBatches::new(file, meta, schema, &roots, &split, vec![0], rest).collect()
    }

    #[test]
    fn split_columns_out_of_step_with_the_others_are_an_error_not_a_shift() {
        use crate::columnar::write_bars;
        use crate::test_support::{TempDir, bars};
        let dir = TempDir::new("columnar-split-mismatch");
        let (short, long) = (dir.join("short.parquet"), dir.join("long.parquet"));
        write_bars(&short, &bars(1_000, 0), None).unwrap();
        write_bars(&long, &bars(1_200, 0), None).unwrap();
        // More values than rows: every row gets its own, then the leftovers are an error.
        let batches = mismatched(&short, &long);
        let rows: usize = batches
            .iter()
            .filter_map(|b| b.as_ref().ok())
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 1_000);
        let last = batches.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(
            last.contains("holds more values than the file's other columns"),
            "{last}"
        );
        // Fewer: the batch that runs short is an error, and none follows it.
        let batches = mismatched(&long, &short);
        let errors: Vec<String> = batches
            .iter()
            .filter_map(|b| b.as_ref().err())
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("column open ends before the file's other columns"),
            "{errors:?}"
        );
        assert!(batches.last().unwrap().is_err());
    }

    #[test]
    fn every_range_of_a_page_is_joined_whole_blocks_and_tail_alike() {
        // Values whose eight bytes all differ, so a byte out of place shows.
        let values: Vec<f64> = (0..37u64)
            .map(|i| f64::from_bits(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x0123_4567_89AB_CDEF))
            .collect();
        let bytes = split(&values);
        for start in 0..values.len() {
            for end in start..=values.len() {
                let mut out = Vec::new();
                join_doubles(&bytes, values.len(), start..end, &mut out);
                assert_eq!(bits(&out), bits(&values[start..end]), "{start}..{end}");
            }
        }
    }
}
