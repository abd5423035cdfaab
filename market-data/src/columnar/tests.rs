//! Unit tests of the columnar readers and writers: lossless round trips through every format,
//! foreign schemas, clear errors for bad input, time ranges over row groups and files with an
//! instrument column.

use super::*;
use crate::csv::{OnInvalid, read_bars};
use crate::csv_write::{write_bars_csv, write_quotes_csv, write_trades_csv};
use crate::synthetic::{SyntheticSpec, generate_ticks};
use crate::test_support::{TempDir, assert_same_bars, bars};
use crate::{
    Bar, Error, InstrumentId, NANOS_PER_DAY, NANOS_PER_SECOND, Price, Quote, Result, RowProblem,
    Side, Timestamp, Trade,
};
use arrow::array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow::datatypes::Int32Type;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::fmt::Debug;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// 2023-11-14T22:13:20Z, a start on whole seconds.
const T0: i64 = 1_700_000_000 * NANOS_PER_SECOND;

/// Reads a bar file without an instrument column, as one series.
fn read_all(path: &Path) -> Result<Vec<Bar>> {
    read_range(path, TimeRange::ALL)
}

fn read_range(path: &Path, range: TimeRange) -> Result<Vec<Bar>> {
    let mut series = read_bar_file(path, InstrumentId::new("X"), range)?;
    assert_eq!(series.len(), 1, "one series");
    assert_eq!(series[0].instrument.as_str(), "X");
    Ok(series.remove(0).bars)
}

/// Reads every bar of `path` within `range`, `batch_rows` rows per batch.
fn read_batches(path: &Path, range: TimeRange, batch_rows: usize) -> Result<Vec<Bar>> {
    let mut reader = RecordReader::open(path, RecordKind::Bars, range, batch_rows)?;
    let mut bars = Vec::new();
    while reader.next_bars(&mut bars)? {}
    Ok(bars)
}

fn float(bars: &[Bar], f: fn(&Bar) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
}

/// The five value columns of `bars`.
fn value_columns(bars: &[Bar]) -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("open", float(bars, |b| b.open)),
        ("high", float(bars, |b| b.high)),
        ("low", float(bars, |b| b.low)),
        ("close", float(bars, |b| b.close)),
        ("volume", float(bars, |b| b.volume)),
    ]
}

fn nanos_column(bars: &[Bar]) -> ArrayRef {
    let times = TimestampNanosecondArray::from_iter_values(bars.iter().map(|b| b.ts.0));
    Arc::new(times.with_timezone("UTC"))
}

/// `timestamp` as `Timestamp(Nanosecond, "UTC")`, then the value columns.
fn bar_columns(bars: &[Bar]) -> Vec<(&'static str, ArrayRef)> {
    let mut columns = vec![("timestamp", nanos_column(bars))];
    columns.extend(value_columns(bars));
    columns
}

/// Writes `columns` as one Parquet file of row groups of at most `group_rows` rows (with the
/// default statistics).
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, group_rows: usize) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Writes `columns` as an Arrow IPC file.
fn write_ipc_file(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = File::create(path).unwrap();
    let mut writer = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
}

/// Writes `bars` with our writer, `chunk` rows per batch (the IPC formats keep those batches).
fn write_chunked(path: &Path, bars: &[Bar], chunk: usize) {
    let mut writer = RecordWriter::create(path, RecordKind::Bars, None).unwrap();
    for part in bars.chunks(chunk) {
        writer.write_bars(part).unwrap();
    }
    assert_eq!(writer.finish().unwrap(), bars.len() as u64);
}

/// Checks that `result` failed on `row` (1-based, in the file) and `column` of `path`, in the
/// error's fields and in its message, and returns the problem.
#[track_caller]
fn invalid_record<T: Debug>(result: Result<T>, path: &Path, row: u64, column: &str) -> RowProblem {
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: ", path.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("row {row}, column \"{column}\": ")),
        "{message}"
    );
    match err {
        Error::InvalidRecord { path: at, record } => {
            assert_eq!(at, path);
            assert_eq!((record.row, record.column), (row, Some(column)));
            record.problem
        }
        other => panic!("expected an invalid record, got {other:?}"),
    }
}

/// Checks that `result` is a schema error naming `path` and returns its message.
#[track_caller]
fn schema_error<T: Debug>(result: Result<T>, path: &Path) -> String {
    match result.unwrap_err() {
        err @ Error::Schema { .. } => {
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("{}: ", path.display())),
                "{message}"
            );
            message
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

/// Checks that `result` is a decode error of `path` read as `format`.
#[track_caller]
fn decode_error<T: Debug>(result: Result<T>, path: &Path, format: &str) {
    match result.unwrap_err() {
        err @ Error::Decode { .. } => {
            let message = err.to_string();
            let expected = format!("{}: cannot decode as {format}: ", path.display());
            assert!(message.starts_with(&expected), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// Deterministic bytes that are no file format (a 64-bit LCG's high bytes).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

mod round_trips {
    use super::*;

    /// Synthetic bars crossing the epoch on awkward nanoseconds, plus extreme and inexact values.
    fn awkward_bars() -> Vec<Bar> {
        // From 45 s before the epoch, so bar 30 falls on 1970-01-01 exactly and earlier ones
        // have negative times.
        let mut bars = bars(300, -45 * NANOS_PER_SECOND);
        assert_eq!(bars[30].ts, Timestamp(0));
        assert!(bars[1].ts.0 % NANOS_PER_SECOND != 0);
        let tiny = 5e-324; // the smallest subnormal
        bars[5] = Bar {
            ts: bars[5].ts,
            open: tiny,
            high: tiny,
            low: tiny,
            close: tiny,
            volume: -0.0,
        };
        bars[6] = Bar {
            ts: bars[6].ts,
            open: f64::MAX,
            high: f64::MAX,
            low: 0.1 + 0.2,
            close: 1.7e308,
            volume: 0.0,
        };
        bars[7] = Bar {
            ts: bars[7].ts,
            open: 0.1 + 0.2,
            high: 1.0 / 3.0,
            low: 0.1,
            close: 0.3,
            volume: 1e-7,
        };
        bars
    }

    #[test]
    fn bars_survive_csv_parquet_arrow_file_arrow_stream_and_csv_again() {
        let dir = TempDir::new("columnar-bars-round-trip");
        let original = awkward_bars();
        let first_csv = dir.join("bars.csv");
        write_bars_csv(&first_csv, &original).unwrap();
        let (series, skipped) =
            read_bars(&first_csv, InstrumentId::new("X"), OnInvalid::Error).unwrap();
        assert_eq!(skipped.skipped, 0);
        assert_same_bars(&series.bars, &original);

        let mut bars = series.bars;
        for (name, format) in [
            ("bars.parquet", FileFormat::Parquet),
            ("bars.arrow", FileFormat::ArrowFile),
            ("bars.arrows", FileFormat::ArrowStream),
        ] {
            let path = dir.join(name);
            write_bars(&path, &bars, None).unwrap();
            assert_eq!(FileFormat::of(&path), Some(format), "{name}");
            bars = read_all(&path).unwrap();
            assert_same_bars(&bars, &original);
            // Small batches give the same bars.
            assert_same_bars(&read_batches(&path, TimeRange::ALL, 7).unwrap(), &original);
        }

        let second_csv = dir.join("again.csv");
        write_bars_csv(&second_csv, &bars).unwrap();
        let (series, _) = read_bars(&second_csv, InstrumentId::new("X"), OnInvalid::Error).unwrap();
        assert_same_bars(&series.bars, &original);
        assert_eq!(
            std::fs::read_to_string(&first_csv).unwrap(),
            std::fs::read_to_string(&second_csv).unwrap()
        );
    }

    #[test]
    fn written_schema_and_instrument_column() {
        let dir = TempDir::new("columnar-written-schema");
        let original = bars(40, T0);
        let path = dir.join("goog.parquet");
        write_bars(&path, &original, Some("GOOG")).unwrap();
        let reader = RecordReader::open(&path, RecordKind::Bars, TimeRange::ALL, 10).unwrap();
        assert_eq!(reader.format(), FileFormat::Parquet);
        assert!(reader.has_instrument_column());
        assert_eq!(reader.last(), None);
        assert_eq!(
            **reader.schema(),
            *schema::schema_of(RecordKind::Bars, true),
            "the reader reports the whole schema"
        );
        // The column names the series, whatever name the caller offers.
        let series = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].instrument.as_str(), "GOOG");
        assert_same_bars(&series[0].bars, &original);
        assert_eq!(
            parquet_time_span(&path, RecordKind::Bars).unwrap(),
            Some((original[0].ts, original[39].ts))
        );
    }

    fn trade_bits(t: &(Timestamp, Trade)) -> (i64, u64, u64, Side) {
        (
            t.0.0,
            t.1.price.0.to_bits(),
            t.1.qty.0.to_bits(),
            t.1.aggressor,
        )
    }

    fn quote_bits(q: &(Timestamp, Quote)) -> (i64, [u64; 4]) {
        let values = [q.1.bid.0, q.1.ask.0, q.1.bid_qty.0, q.1.ask_qty.0];
        (q.0.0, values.map(f64::to_bits))
    }

    #[test]
    fn trades_and_quotes_round_trip_in_every_format() {
        let dir = TempDir::new("columnar-ticks-round-trip");
        let spec = SyntheticSpec {
            bars: 3000,
            // A few nanoseconds between ticks, so many share a timestamp.
            interval_ns: 3,
            start: Timestamp(T0 + 123_456_789),
            ..SyntheticSpec::default()
        };
        let ticks = generate_ticks(&spec, 3);
        assert!(ticks.trades.windows(2).any(|w| w[0].0 == w[1].0));
        assert!(ticks.trades.iter().any(|t| t.1.aggressor == Side::Sell));
        assert!(ticks.trades.iter().any(|t| t.1.aggressor == Side::Buy));
        for ext in ["parquet", "arrow", "arrows"] {
            let path = dir.join(&format!("trades.{ext}"));
            let mut writer =
                RecordWriter::create(&path, RecordKind::Trades, Some("SYN003")).unwrap();
            for chunk in ticks.trades.chunks(777) {
                writer.write_trades(chunk).unwrap();
            }
            assert_eq!(writer.finish().unwrap(), 3000);
            let mut reader =
                RecordReader::open(&path, RecordKind::Trades, TimeRange::ALL, 500).unwrap();
            let mut trades = Vec::new();
            while reader.next_trades(&mut trades).unwrap() {}
            let expected: Vec<_> = ticks.trades.iter().map(trade_bits).collect();
            assert_eq!(trades.iter().map(trade_bits).collect::<Vec<_>>(), expected);

            let path = dir.join(&format!("quotes.{ext}"));
            let mut writer = RecordWriter::create(&path, RecordKind::Quotes, None).unwrap();
            for chunk in ticks.quotes.chunks(1000) {
                writer.write_quotes(chunk).unwrap();
            }
            writer.finish().unwrap();
            let mut reader =
                RecordReader::open(&path, RecordKind::Quotes, TimeRange::ALL, 999).unwrap();
            let mut quotes = Vec::new();
            while reader.next_quotes(&mut quotes).unwrap() {}
            let expected: Vec<_> = ticks.quotes.iter().map(quote_bits).collect();
            assert_eq!(quotes.iter().map(quote_bits).collect::<Vec<_>>(), expected);
        }
        // A time range applies to ticks too, ties included.
        let path = dir.join("trades.parquet");
        let (start, end) = (ticks.trades[1000].0.0, ticks.trades[2000].0.0);
        let range = TimeRange { start, end };
        let mut reader = RecordReader::open(&path, RecordKind::Trades, range, 64).unwrap();
        let mut trades = Vec::new();
        while reader.next_trades(&mut trades).unwrap() {}
        let expected: Vec<_> = ticks
            .trades
            .iter()
            .filter(|t| (start..end).contains(&t.0.0))
            .map(trade_bits)
            .collect();
        assert_eq!(trades.iter().map(trade_bits).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn parquet_splits_numbers_into_byte_streams_and_delta_packs_times() {
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = TempDir::new("columnar-encodings");
        let ticks = generate_ticks(&SyntheticSpec::default(), 5);
        let path = dir.join("trades.parquet");
        let mut writer = RecordWriter::create(&path, RecordKind::Trades, Some("SYN003")).unwrap();
        writer.write_trades(&ticks.trades).unwrap();
        writer.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let encoding_of = |name: &str| {
            let column = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            let mut encodings: Vec<Encoding> = column.encodings().collect();
            // Levels: the columns are required, but writers list RLE all the same.
            encodings.retain(|e| *e != Encoding::RLE);
            encodings
        };
        assert_eq!(encoding_of("timestamp"), [Encoding::DELTA_BINARY_PACKED]);
        for name in ["price", "qty"] {
            assert_eq!(encoding_of(name), [Encoding::BYTE_STREAM_SPLIT], "{name}");
        }
        for name in ["instrument", "side"] {
            let encodings = encoding_of(name);
            assert!(
                encodings.contains(&Encoding::RLE_DICTIONARY),
                "{name}: {encodings:?}"
            );
        }
    }

    /// Bars as parquet's own Arrow reader reads `path` (every column, one batch at a time).
    fn bars_by_parquets_reader(path: &Path) -> Vec<Bar> {
        use arrow::array::AsArray;
        use arrow::datatypes::{Float64Type, TimestampNanosecondType};
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let mut bars = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let column = |name: &str| batch.column_by_name(name).unwrap().clone();
            let ts = column("timestamp");
            let ts = ts.as_primitive::<TimestampNanosecondType>();
            let values: Vec<ArrayRef> = ["open", "high", "low", "close", "volume"]
                .into_iter()
                .map(column)
                .collect();
            let v = |k: usize, i: usize| values[k].as_primitive::<Float64Type>().value(i);
            bars.extend((0..batch.num_rows()).map(|i| Bar {
                ts: Timestamp(ts.value(i)),
                open: v(0, i),
                high: v(1, i),
                low: v(2, i),
                close: v(3, i),
                volume: v(4, i),
            }));
        }
        bars
    }

    #[test]
    fn prices_split_into_byte_streams_read_as_parquets_own_reader_reads_them() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = TempDir::new("columnar-split");
        // Three row groups of many pages each, the last one short.
        let written = bars(300_000, T0);
        let path = dir.join("bars.parquet");
        write_bars(&path, &written, None).unwrap();
        let footer = |path: &Path| {
            (SerializedFileReader::new(File::open(path).unwrap()).unwrap())
                .metadata()
                .clone()
        };
        let meta = footer(&path);
        let schema = super::schema::schema_of(RecordKind::Bars, false);
        let all: Vec<usize> = (0..6).collect();
        let groups: Vec<usize> = (0..meta.num_row_groups()).collect();
        assert_eq!(groups.len(), 3);
        // The five value columns are decoded by the split path, the time by parquet's reader.
        let split = super::split::split_columns(&meta, &schema, &all, &groups);
        assert_eq!(split, [1, 2, 3, 4, 5]);
        let theirs = bars_by_parquets_reader(&path);
        assert_same_bars(&theirs, &written);
        // Batches across pages and row groups, smaller and larger than both.
        for batch_rows in [1_000, 8_192, 65_536, 300_000] {
            let ours = read_batches(&path, TimeRange::ALL, batch_rows).unwrap();
            assert_same_bars(&ours, &theirs);
        }
        // A range that skips the first row group and ends within the last.
        let (start, end) = (written[140_000].ts.0, written[280_000].ts.0);
        let range = TimeRange { start, end };
        let within: Vec<Bar> = (theirs.iter())
            .filter(|b| (start..end).contains(&b.ts.0))
            .copied()
            .collect();
        assert_same_bars(&read_batches(&path, range, 8_192).unwrap(), &within);
        // Numbers written plainly (parquet's default properties: dictionaries) are read by
        // parquet's reader, with the same bars.
        let plain = dir.join("plain.parquet");
        let batch = bars_to_batch(&written[..20_000]).unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(&plain).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let split = super::split::split_columns(&footer(&plain), &batch.schema(), &all, &[0]);
        assert!(split.is_empty(), "{split:?}");
        assert_same_bars(&read_all(&plain).unwrap(), &written[..20_000]);
    }

    #[test]
    fn a_writer_takes_only_its_kind() {
        let dir = TempDir::new("columnar-writer-kind");
        let path = dir.join("trades.parquet");
        let mut writer = RecordWriter::create(&path, RecordKind::Trades, None).unwrap();
        let message = schema_error(writer.write_bars(&bars(2, T0)), &path);
        assert!(
            message.contains("created for trades, not bars"),
            "{message}"
        );
        let message = schema_error(writer.write_quotes(&[]), &path);
        assert!(message.contains("not quotes"), "{message}");
        let path = dir.join("bars.txt");
        let message = schema_error(RecordWriter::create(&path, RecordKind::Bars, None), &path);
        assert!(message.contains("unknown extension"), "{message}");
    }

    #[test]
    fn csv_writers_of_ticks_are_lossless() {
        let dir = TempDir::new("columnar-ticks-csv");
        let ticks = generate_ticks(
            &SyntheticSpec {
                bars: 200,
                interval_ns: 1001,
                start: Timestamp(T0 + 7),
                ..SyntheticSpec::default()
            },
            0,
        );
        let path = dir.join("trades.csv");
        write_trades_csv(&path, &ticks.trades).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("timestamp,price,qty,side"));
        for (line, (ts, trade)) in lines.by_ref().zip(&ticks.trades) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(crate::csv::parse_timestamp(fields[0]), Some(*ts), "{line}");
            assert_eq!(
                fields[1].parse::<f64>().unwrap().to_bits(),
                trade.price.0.to_bits()
            );
            assert_eq!(
                fields[2].parse::<f64>().unwrap().to_bits(),
                trade.qty.0.to_bits()
            );
            assert_eq!(fields[3], trade.aggressor.as_str());
        }
        assert_eq!(text.lines().count(), 201);

        let path = dir.join("quotes.csv");
        write_quotes_csv(&path, &ticks.quotes).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("timestamp,bid,ask,bid_qty,ask_qty"));
        for (line, (ts, quote)) in lines.zip(&ticks.quotes) {
            let fields: Vec<f64> = line
                .split(',')
                .skip(1)
                .map(|f| f.parse().unwrap())
                .collect();
            assert_eq!(
                crate::csv::parse_timestamp(line.split(',').next().unwrap()),
                Some(*ts)
            );
            let expected = [quote.bid.0, quote.ask.0, quote.bid_qty.0, quote.ask_qty.0];
            assert_eq!(
                fields.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
                expected.map(f64::to_bits)
            );
        }
        assert_eq!(text.lines().count(), 201);
    }

    #[test]
    fn formats_by_extension_and_magic() {
        let dir = TempDir::new("columnar-formats");
        let original = bars(20, T0);
        // A stream saved as `.arrow` is recognised by its missing file magic.
        let stream = dir.join("stream.arrows");
        write_bars(&stream, &original, None).unwrap();
        let renamed = dir.join("stream.arrow");
        std::fs::rename(&stream, &renamed).unwrap();
        assert_eq!(FileFormat::of(&renamed), Some(FileFormat::ArrowStream));
        assert_same_bars(&read_all(&renamed).unwrap(), &original);
        for (name, format) in [
            ("a.pq", FileFormat::Parquet),
            ("a.feather", FileFormat::ArrowFile),
            ("a.ipc", FileFormat::ArrowFile),
        ] {
            let path = dir.join(name);
            write_bars(&path, &original, None).unwrap();
            assert_eq!(FileFormat::of(&path), Some(format), "{name}");
            assert_same_bars(&read_all(&path).unwrap(), &original);
        }
        assert_eq!(FileFormat::of(Path::new("x.CSV")), Some(FileFormat::Csv));
        assert_eq!(
            FileFormat::of(Path::new("x.PARQUET")),
            Some(FileFormat::Parquet)
        );
        assert_eq!(FileFormat::of(Path::new("x.txt")), None);
        assert_eq!(FileFormat::of(Path::new("parquet")), None);
    }
}

mod foreign_schemas {
    use super::*;

    /// Bars on whole milliseconds, which every time unit below holds exactly.
    fn millisecond_bars() -> Vec<Bar> {
        let mut bars = bars(60, T0);
        for bar in &mut bars {
            bar.ts.0 -= bar.ts.0.rem_euclid(1_000_000);
        }
        bars
    }

    fn check(dir: &TempDir, name: &str, columns: Vec<(&str, ArrayRef)>, expected: &[Bar]) {
        let path = dir.join(name);
        write_parquet(&path, columns.clone(), 1 << 20);
        assert_same_bars(&read_all(&path).unwrap(), expected);
        let path = dir.join(&format!("{name}.arrow"));
        write_ipc_file(&path, columns);
        assert_same_bars(&read_all(&path).unwrap(), expected);
    }

    #[test]
    fn int64_nanoseconds() {
        let dir = TempDir::new("columnar-foreign-int64");
        let bars = bars(60, T0);
        let times = Int64Array::from_iter_values(bars.iter().map(|b| b.ts.0));
        let mut columns: Vec<(&str, ArrayRef)> = vec![("timestamp", Arc::new(times))];
        columns.extend(value_columns(&bars));
        check(&dir, "int64.parquet", columns, &bars);
    }

    #[test]
    fn milliseconds_without_zone_under_the_ts_alias() {
        let dir = TempDir::new("columnar-foreign-ms");
        let bars = millisecond_bars();
        let times =
            TimestampMillisecondArray::from_iter_values(bars.iter().map(|b| b.ts.0 / 1_000_000));
        let mut columns: Vec<(&str, ArrayRef)> = vec![("ts", Arc::new(times))];
        columns.extend(value_columns(&bars));
        check(&dir, "ms.parquet", columns, &bars);
    }

    #[test]
    fn seconds() {
        let dir = TempDir::new("columnar-foreign-s");
        let mut bars = bars(30, T0);
        for (i, bar) in bars.iter_mut().enumerate() {
            bar.ts = Timestamp(T0 + i as i64 * 60 * NANOS_PER_SECOND);
        }
        let times =
            TimestampSecondArray::from_iter_values(bars.iter().map(|b| b.ts.0 / NANOS_PER_SECOND));
        let mut columns: Vec<(&str, ArrayRef)> = vec![("Time", Arc::new(times))];
        columns.extend(value_columns(&bars));
        check(&dir, "s.parquet", columns.clone(), &bars);
        // Statistics in seconds prune row groups correctly.
        let path = dir.join("s-groups.parquet");
        write_parquet(&path, columns, 7);
        let range = TimeRange {
            start: bars[10].ts.0,
            end: bars[17].ts.0,
        };
        assert_same_bars(&read_range(&path, range).unwrap(), &bars[10..17]);
    }

    #[test]
    fn microseconds_in_a_named_zone_are_utc_instants_in_any_column_order() {
        let dir = TempDir::new("columnar-foreign-us");
        let bars = millisecond_bars();
        let times =
            TimestampMicrosecondArray::from_iter_values(bars.iter().map(|b| b.ts.0 / 1_000))
                .with_timezone("America/New_York");
        let values = value_columns(&bars);
        let note = StringArray::from_iter_values(bars.iter().map(|_| "ignored"));
        let count = Int32Array::from_iter_values(0..bars.len() as i32);
        // Reversed, with extra columns before, between and after, and a capitalised name.
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("note", Arc::new(note)),
            ("volume", values[4].1.clone()),
            ("Close", values[3].1.clone()),
            ("count", Arc::new(count)),
            ("low", values[2].1.clone()),
            ("high", values[1].1.clone()),
            ("open", values[0].1.clone()),
            ("timestamp", Arc::new(times)),
            ("vwap", values[3].1.clone()),
        ];
        check(&dir, "us.parquet", columns, &bars);
    }

    #[test]
    fn date32_days() {
        let dir = TempDir::new("columnar-foreign-date32");
        let mut bars = bars(40, T0);
        let first_day = 12_000; // 2002-11-08
        for (i, bar) in bars.iter_mut().enumerate() {
            bar.ts = Timestamp((first_day + i as i64) * NANOS_PER_DAY);
        }
        let days = Date32Array::from_iter_values((0..40).map(|i| first_day as i32 + i));
        let mut columns: Vec<(&str, ArrayRef)> = vec![("date", Arc::new(days))];
        columns.extend(value_columns(&bars));
        check(&dir, "days.parquet", columns.clone(), &bars);
        // Without usable statistics the groups are all read, and the range still applies.
        let path = dir.join("days-groups.parquet");
        write_parquet(&path, columns, 8);
        let range = TimeRange {
            start: bars[9].ts.0,
            end: bars[30].ts.0 + 1,
        };
        assert_same_bars(&read_range(&path, range).unwrap(), &bars[9..31]);
        assert_eq!(parquet_time_span(&path, RecordKind::Bars).unwrap(), None);
    }
}

mod bad_input {
    use super::*;

    /// Writes `bars` (valid or not) in every format, 4 rows per IPC batch, and returns the paths.
    fn every_format(dir: &TempDir, stem: &str, bars: &[Bar]) -> Vec<std::path::PathBuf> {
        ["parquet", "arrow", "arrows"]
            .iter()
            .map(|ext| {
                let path = dir.join(&format!("{stem}.{ext}"));
                write_chunked(&path, bars, 4);
                path
            })
            .collect()
    }

    /// Checks that `bars` fail at `row` and `column` in every format, read in one batch and in
    /// batches of 4 rows, and returns the problem.
    fn fails_at(dir: &TempDir, stem: &str, bars: &[Bar], row: u64, column: &str) -> RowProblem {
        let mut problems = Vec::new();
        for path in every_format(dir, stem, bars) {
            problems.push(invalid_record(read_all(&path), &path, row, column));
            problems.push(invalid_record(
                read_batches(&path, TimeRange::ALL, 4),
                &path,
                row,
                column,
            ));
        }
        assert!(problems.windows(2).all(|w| w[0] == w[1]), "{problems:?}");
        problems.remove(0)
    }

    #[test]
    fn missing_or_mistyped_columns() {
        let dir = TempDir::new("columnar-bad-columns");
        let bars = bars(5, T0);
        let path = dir.join("no-close.parquet");
        let columns: Vec<_> = bar_columns(&bars)
            .into_iter()
            .filter(|(name, _)| *name != "close")
            .collect();
        write_parquet(&path, columns, 100);
        let message = schema_error(read_all(&path), &path);
        assert!(
            message.contains("no `close` column (expected Float64) for bars"),
            "{message}"
        );
        assert!(
            message.contains("the file has: timestamp (Timestamp(ns, \"UTC\")"),
            "{message}"
        );

        let path = dir.join("int-close.parquet");
        let mut columns = bar_columns(&bars);
        columns[4].1 = Arc::new(Int64Array::from_iter_values(0..5));
        write_parquet(&path, columns, 100);
        let message = schema_error(read_all(&path), &path);
        assert!(
            message.contains("column `close` has type Int64, expected Float64"),
            "{message}"
        );

        let path = dir.join("no-time.parquet");
        write_parquet(&path, value_columns(&bars), 100);
        let message = schema_error(read_all(&path), &path);
        assert!(message.contains("no `timestamp` column"), "{message}");

        let path = dir.join("text-time.arrow");
        let mut columns = bar_columns(&bars);
        columns[0].1 = Arc::new(StringArray::from_iter_values(bars.iter().map(|_| "2024")));
        write_ipc_file(&path, columns);
        let message = schema_error(read_all(&path), &path);
        assert!(
            message.contains("column `timestamp` has type Utf8"),
            "{message}"
        );

        let path = dir.join("int-instrument.parquet");
        let mut columns = bar_columns(&bars);
        columns.push(("instrument", Arc::new(Int64Array::from_iter_values(0..5))));
        write_parquet(&path, columns, 100);
        let message = schema_error(read_all(&path), &path);
        assert!(
            message.contains("column `instrument` has type Int64, expected Utf8"),
            "{message}"
        );
    }

    #[test]
    fn null_values_and_times() {
        let dir = TempDir::new("columnar-bad-nulls");
        let bars = bars(9, T0);
        let path = dir.join("null-high.parquet");
        let mut columns = bar_columns(&bars);
        columns[2].1 = Arc::new(Float64Array::from_iter(
            bars.iter()
                .enumerate()
                .map(|(i, b)| (i != 6).then_some(b.high)),
        ));
        write_parquet(&path, columns, 100);
        let problem = invalid_record(read_all(&path), &path, 7, "high");
        assert!(matches!(problem, RowProblem::Empty { .. }), "{problem:?}");
        invalid_record(read_batches(&path, TimeRange::ALL, 2), &path, 7, "high");

        let path = dir.join("null-time.arrow");
        let mut columns = bar_columns(&bars);
        let times = TimestampNanosecondArray::from_iter(
            bars.iter()
                .enumerate()
                .map(|(i, b)| (i != 3).then_some(b.ts.0)),
        );
        columns[0].1 = Arc::new(times);
        write_ipc_file(&path, columns);
        invalid_record(read_all(&path), &path, 4, "timestamp");
    }

    #[test]
    fn bad_values() {
        let dir = TempDir::new("columnar-bad-values");
        let good = bars(12, T0);

        let mut bars = good.clone();
        bars[8].close = f64::NAN;
        let problem = fails_at(&dir, "nan", &bars, 9, "close");
        assert_eq!(
            problem,
            RowProblem::NotFinite {
                value: "NaN".into()
            }
        );

        let mut bars = good.clone();
        bars[2].open = f64::INFINITY;
        bars[2].high = f64::INFINITY;
        fails_at(&dir, "inf", &bars, 3, "open");

        let mut bars = good.clone();
        bars[5].low = 0.0;
        let problem = fails_at(&dir, "zero", &bars, 6, "low");
        assert_eq!(problem, RowProblem::NonPositivePrice { value: 0.0 });

        let mut bars = good.clone();
        bars[10].volume = -1.5;
        let problem = fails_at(&dir, "volume", &bars, 11, "volume");
        assert_eq!(problem, RowProblem::NegativeVolume { value: -1.5 });

        let mut bars = good.clone();
        bars[6].high = bars[6].low * 0.5;
        let problem = fails_at(&dir, "high-low", &bars, 7, "high");
        let RowProblem::Inconsistent { detail } = problem else {
            panic!("{problem:?}")
        };
        assert!(detail.contains("below low"), "{detail}");

        let mut bars = good.clone();
        bars[1].low = bars[1].open.max(bars[1].close) * 1.01;
        bars[1].high = bars[1].low * 1.01;
        let problem = fails_at(&dir, "low-above", &bars, 2, "low");
        assert!(
            matches!(problem, RowProblem::Inconsistent { .. }),
            "{problem:?}"
        );
    }

    #[test]
    fn time_order() {
        let dir = TempDir::new("columnar-bad-order");
        let good = bars(12, T0);

        // Row 7 (in the second batch of four) goes back in time.
        let mut bars = good.clone();
        bars[6].ts = Timestamp(bars[4].ts.0 + 1);
        let problem = fails_at(&dir, "back", &bars, 7, "timestamp");
        let RowProblem::OutOfOrder {
            found,
            previous,
            order,
        } = problem
        else {
            panic!("{problem:?}")
        };
        assert_eq!(found, bars[6].ts.to_string());
        assert_eq!(previous, bars[5].ts.to_string());
        assert_eq!(order, "before the");

        // Across a batch boundary: the first row of the third batch.
        let mut bars = good.clone();
        bars[8].ts = bars[7].ts;
        let problem = fails_at(&dir, "dup", &bars, 9, "timestamp");
        assert!(
            matches!(
                problem,
                RowProblem::OutOfOrder {
                    order: "equal to the",
                    ..
                }
            ),
            "{problem:?}"
        );

        // The first bad row wins: a value problem at row 3 comes before the order problem.
        let mut bars = good.clone();
        bars[2].volume = -1.0;
        bars[3].ts = bars[2].ts;
        fails_at(&dir, "first", &bars, 3, "volume");
    }

    #[test]
    fn tick_errors() {
        let dir = TempDir::new("columnar-bad-ticks");
        let ticks = generate_ticks(&SyntheticSpec::default(), 0);
        let mut trades = ticks.trades[..10].to_vec();
        trades[4].0 = Timestamp(trades[3].0.0 - 1);
        let path = dir.join("trades.arrows");
        let mut writer = RecordWriter::create(&path, RecordKind::Trades, None).unwrap();
        writer.write_trades(&trades[..3]).unwrap();
        writer.write_trades(&trades[3..]).unwrap();
        writer.finish().unwrap();
        let mut reader = RecordReader::open(&path, RecordKind::Trades, TimeRange::ALL, 3).unwrap();
        let mut out = Vec::new();
        assert!(reader.next_trades(&mut out).unwrap());
        invalid_record(reader.next_trades(&mut out), &path, 5, "timestamp");
        assert_eq!(out.len(), 3, "a failed batch adds nothing");

        let mut quotes = ticks.quotes[..10].to_vec();
        quotes[8].1.bid = Price(quotes[8].1.ask.0 + 0.01);
        let path = dir.join("quotes.parquet");
        let mut writer = RecordWriter::create(&path, RecordKind::Quotes, None).unwrap();
        writer.write_quotes(&quotes).unwrap();
        writer.finish().unwrap();
        let mut reader = RecordReader::open(&path, RecordKind::Quotes, TimeRange::ALL, 4).unwrap();
        let mut out = Vec::new();
        let result = (|| {
            while reader.next_quotes(&mut out)? {}
            Ok(())
        })();
        let problem = invalid_record(result, &path, 9, "bid");
        assert!(
            matches!(problem, RowProblem::Inconsistent { .. }),
            "{problem:?}"
        );

        // An unknown aggressor side.
        let path = dir.join("side.parquet");
        let trades = &ticks.trades[..4];
        let mut columns: Vec<(&str, ArrayRef)> = vec![(
            "timestamp",
            Arc::new(Int64Array::from_iter_values(trades.iter().map(|t| t.0.0))),
        )];
        columns.push((
            "price",
            Arc::new(Float64Array::from_iter_values(
                trades.iter().map(|t| t.1.price.0),
            )),
        ));
        columns.push((
            "qty",
            Arc::new(Float64Array::from_iter_values(
                trades.iter().map(|t| t.1.qty.0),
            )),
        ));
        columns.push((
            "side",
            Arc::new(StringArray::from(vec!["buy", "S", "hold", "sell"])),
        ));
        write_parquet(&path, columns, 100);
        let mut reader = RecordReader::open(&path, RecordKind::Trades, TimeRange::ALL, 10).unwrap();
        let problem = invalid_record(reader.next_trades(&mut Vec::new()), &path, 3, "side");
        assert!(
            matches!(problem, RowProblem::Unparsable { .. }),
            "{problem:?}"
        );
    }

    #[test]
    fn corrupt_and_truncated_files() {
        let dir = TempDir::new("columnar-bad-files");
        let path = dir.join("noise.parquet");
        std::fs::write(&path, noise(4096)).unwrap();
        decode_error(read_all(&path), &path, "Parquet");
        decode_error(parquet_time_span(&path, RecordKind::Bars), &path, "Parquet");

        let path = dir.join("noise.arrow");
        std::fs::write(&path, noise(4096)).unwrap();
        decode_error(read_all(&path), &path, "Arrow IPC stream");
        let path = dir.join("noise.arrows");
        std::fs::write(&path, noise(100)).unwrap();
        decode_error(read_all(&path), &path, "Arrow IPC stream");

        let good = bars(2000, T0);
        for (name, format) in [
            ("cut.parquet", "Parquet"),
            ("cut.arrow", "Arrow IPC file"),
            ("cut.arrows", "Arrow IPC stream"),
        ] {
            let path = dir.join(name);
            write_chunked(&path, &good, 500);
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
            decode_error(read_all(&path), &path, format);
            // Only the first bytes, magic included.
            std::fs::write(&path, &bytes[..10]).unwrap();
            decode_error(read_all(&path), &path, format);
        }
        // Parquet data damaged behind an intact footer.
        let path = dir.join("damaged.parquet");
        write_chunked(&path, &good, 500);
        let mut bytes = std::fs::read(&path).unwrap();
        let damage = noise(bytes.len() / 2);
        bytes[4..4 + damage.len()].copy_from_slice(&damage);
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_all(&path).is_err());
    }

    #[test]
    fn empty_missing_and_unknown_files() {
        let dir = TempDir::new("columnar-bad-empty");
        for ext in ["parquet", "arrow", "arrows"] {
            let path = dir.join(&format!("empty.{ext}"));
            let writer = RecordWriter::create(&path, RecordKind::Bars, None).unwrap();
            assert_eq!(writer.finish().unwrap(), 0);
            let err = read_all(&path).unwrap_err();
            assert!(
                matches!(&err, Error::Empty { path: p } if *p == path),
                "{err:?}"
            );
            assert_eq!(err.to_string(), format!("{}: no data rows", path.display()));
        }
        // An empty batch written explicitly, and an empty file with an instrument column.
        let path = dir.join("empty-batch.parquet");
        write_bars(&path, &[], None).unwrap();
        assert!(matches!(read_all(&path), Err(Error::Empty { .. })));
        let path = dir.join("empty-multi.parquet");
        write_bars(&path, &[], Some("A")).unwrap();
        let result = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL);
        assert!(matches!(result, Err(Error::Empty { .. })), "{result:?}");

        let path = dir.join("missing.parquet");
        let err = read_all(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert_eq!(err.to_string(), format!("cannot read {}", path.display()));

        let path = dir.join("bars.txt");
        std::fs::write(&path, "timestamp,open\n").unwrap();
        let message = schema_error(read_all(&path), &path);
        assert!(message.contains("unknown extension"), "{message}");
        let path = dir.join("bars.csv");
        write_bars_csv(&path, &bars(3, T0)).unwrap();
        let message = schema_error(read_all(&path), &path);
        assert!(message.contains("CSV reader"), "{message}");
    }

    #[test]
    fn out_of_range_time_units() {
        let dir = TempDir::new("columnar-bad-units");
        let bars = bars(3, T0);
        let path = dir.join("far.parquet");
        let seconds = [0, i64::MAX / 1000, i64::MAX / 100];
        let mut columns: Vec<(&str, ArrayRef)> = vec![(
            "timestamp",
            Arc::new(TimestampSecondArray::from_iter_values(seconds)),
        )];
        columns.extend(value_columns(&bars));
        write_parquet(&path, columns, 100);
        let problem = invalid_record(read_all(&path), &path, 2, "timestamp");
        assert!(
            matches!(problem, RowProblem::Unparsable { .. }),
            "{problem:?}"
        );
    }
}

mod ranges {
    use super::*;

    /// 5000 bars in row groups of 1000.
    fn grouped(dir: &TempDir, name: &str, bars: &[Bar]) -> std::path::PathBuf {
        let path = dir.join(name);
        write_parquet(&path, bar_columns(bars), 1000);
        let file = File::open(&path).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader as _;
        assert_eq!(
            reader.metadata().num_row_groups(),
            bars.len().div_ceil(1000)
        );
        path
    }

    fn range(start: i64, end: i64) -> TimeRange {
        TimeRange { start, end }
    }

    #[test]
    fn time_range_basics() {
        assert!(TimeRange::ALL.is_all());
        assert!(!range(0, i64::MAX).is_all());
        let r = range(10, 20);
        assert!(r.overlaps(10, 10) && r.overlaps(19, 30) && r.overlaps(0, 10));
        assert!(!r.overlaps(20, 30) && !r.overlaps(0, 9));
    }

    #[test]
    fn keeps_exactly_the_half_open_range_across_row_groups() {
        let dir = TempDir::new("columnar-ranges");
        let bars = bars(5000, T0);
        let path = grouped(&dir, "bars.parquet", &bars);
        let ts = |i: usize| bars[i].ts.0;
        let cases = [
            (ts(0), ts(4999) + 1, 0..5000),
            (ts(2500), ts(3700), 2500..3700),
            (ts(2500) + 1, ts(3700) + 1, 2501..3701),
            (ts(999), ts(1001), 999..1001),
            (ts(1000), ts(2000), 1000..2000),
            (ts(0) - 1, ts(1), 0..1),
            (i64::MIN, ts(10), 0..10),
            (ts(4990), i64::MAX, 4990..5000),
            (ts(4999), i64::MAX, 4999..5000),
            (ts(0) - 100, ts(0), 0..0),
            (ts(4999) + 1, i64::MAX, 0..0),
            (ts(77) + 1, ts(78), 0..0),
        ];
        for (start, end, expected) in cases {
            let range = range(start, end);
            for batch_rows in [1 << 16, 333, 1] {
                let got = read_batches(&path, range, batch_rows).unwrap();
                assert_same_bars(&got, &bars[expected.clone()]);
            }
            let whole = read_range(&path, range);
            if expected.is_empty() {
                assert!(matches!(whole, Err(Error::Empty { .. })), "{whole:?}");
            } else {
                assert_same_bars(&whole.unwrap(), &bars[expected]);
            }
        }
        // The same through Arrow IPC, which has no statistics.
        let ipc = dir.join("bars.arrow");
        write_chunked(&ipc, &bars, 700);
        let range = range(ts(1234) + 1, ts(4321));
        assert_same_bars(&read_batches(&ipc, range, 10).unwrap(), &bars[1235..4321]);
        assert_eq!(
            parquet_time_span(&path, RecordKind::Bars).unwrap(),
            Some((bars[0].ts, bars[4999].ts))
        );
        assert_eq!(parquet_time_span(&ipc, RecordKind::Bars).unwrap(), None);
    }

    #[test]
    fn rows_certainly_within_a_range_come_from_whole_row_groups() {
        let dir = TempDir::new("columnar-rows-within");
        let bars = bars(5000, T0);
        let path = grouped(&dir, "bars.parquet", &bars);
        let ts = |i: usize| bars[i].ts.0;
        // Row groups of 1,000 bars: only groups wholly inside the range count.
        let cases = [
            (TimeRange::ALL, 5000),
            (range(ts(0), ts(4999) + 1), 5000),
            (range(ts(1000), ts(3000)), 2000),
            (range(ts(999), ts(3000)), 2000),
            (range(ts(1000), ts(2999)), 1000),
            (range(ts(2500), ts(3700)), 0),
            (range(ts(4999) + 1, i64::MAX), 0),
        ];
        for (range, expected) in cases {
            let got = rows_within_at_least(&path, RecordKind::Bars, range).unwrap();
            assert_eq!(got, expected, "{range:?}");
            assert!(read_range(&path, range).map_or(0, |b| b.len()) as u64 >= got);
        }
        // Arrow IPC has no row counts in its footer's reach here: nothing is certain.
        let ipc = dir.join("bars.arrow");
        write_chunked(&ipc, &bars, 700);
        assert_eq!(
            rows_within_at_least(&ipc, RecordKind::Bars, TimeRange::ALL).unwrap(),
            0
        );
        let missing = dir.join("missing.parquet");
        assert!(rows_within_at_least(&missing, RecordKind::Bars, TimeRange::ALL).is_err());
    }

    #[test]
    fn skipped_row_groups_are_not_decoded_and_rows_stay_file_relative() {
        let dir = TempDir::new("columnar-ranges-rows");
        let mut bars = bars(5000, T0);
        bars[100].close = f64::NAN; // in the first row group
        bars[2600].volume = -2.0; // in the third
        let path = grouped(&dir, "bars.parquet", &bars);
        let ts = |i: usize| bars[i].ts.0;
        invalid_record(read_all(&path), &path, 101, "close");
        // Reading only the second group decodes neither bad row...
        let fine = read_range(&path, range(ts(1500), ts(2000))).unwrap();
        assert_same_bars(&fine, &bars[1500..2000]);
        // ...and the bad row of the third group keeps its number in the file.
        for batch_rows in [1 << 16, 64] {
            let result = read_batches(&path, range(ts(2100), i64::MAX), batch_rows);
            invalid_record(result, &path, 2601, "volume");
        }
        invalid_record(
            read_range(&path, range(ts(1500), ts(4000))),
            &path,
            2601,
            "volume",
        );
    }

    #[test]
    fn nested_columns_before_the_timestamp_do_not_mislead_pruning() {
        let dir = TempDir::new("columnar-ranges-nested");
        let bars = bars(3000, T0);
        // A struct of two Int64 leaves first: the timestamp is root column 1 but leaf column 2,
        // and leaf 1 holds small integers that look like times in 1970.
        let small = || Arc::new(Int64Array::from_iter_values(0..3000)) as ArrayRef;
        let fields = arrow::datatypes::Fields::from(vec![
            arrow::datatypes::Field::new("a", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("b", arrow::datatypes::DataType::Int64, false),
        ]);
        let nested = arrow::array::StructArray::new(fields, vec![small(), small()], None);
        let mut columns: Vec<(&str, ArrayRef)> = vec![("meta", Arc::new(nested))];
        columns.extend(bar_columns(&bars));
        let path = dir.join("nested.parquet");
        write_parquet(&path, columns, 500);
        let range = range(bars[1200].ts.0, bars[2222].ts.0);
        assert_same_bars(&read_range(&path, range).unwrap(), &bars[1200..2222]);
        assert_eq!(
            parquet_time_span(&path, RecordKind::Bars).unwrap(),
            Some((bars[0].ts, bars[2999].ts))
        );
    }

    #[test]
    fn millisecond_statistics_prune_correctly() {
        let dir = TempDir::new("columnar-ranges-ms");
        let mut bars = bars(3000, T0);
        for bar in &mut bars {
            bar.ts.0 -= bar.ts.0.rem_euclid(1_000_000);
        }
        let path = dir.join("ms.parquet");
        let mut columns: Vec<(&str, ArrayRef)> = vec![(
            "timestamp",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                bars.iter().map(|b| b.ts.0 / 1_000_000),
            )),
        )];
        columns.extend(value_columns(&bars));
        write_parquet(&path, columns, 500);
        let range = range(bars[1200].ts.0, bars[2222].ts.0);
        assert_same_bars(&read_range(&path, range).unwrap(), &bars[1200..2222]);
        assert_eq!(
            parquet_time_span(&path, RecordKind::Bars).unwrap(),
            Some((bars[0].ts, bars[2999].ts))
        );
    }
}

mod instruments {
    use super::*;

    /// Instrument of row `i`: B, A, B, C, A, ... so first appearances are B, A, C.
    fn name(i: usize) -> &'static str {
        ["B", "A", "B", "C", "A"][i % 5]
    }

    fn multi_columns(bars: &[Bar], names: ArrayRef) -> Vec<(&'static str, ArrayRef)> {
        let mut columns = bar_columns(bars);
        columns.insert(3, ("instrument", names));
        columns
    }

    fn expected(bars: &[Bar], instrument: &str) -> Vec<Bar> {
        bars.iter()
            .enumerate()
            .filter(|(i, _)| name(*i) == instrument)
            .map(|(_, b)| *b)
            .collect()
    }

    #[test]
    fn one_series_per_instrument_in_order_of_first_appearance() {
        let dir = TempDir::new("columnar-multi");
        let bars = bars(53, T0);
        let names = StringArray::from_iter_values((0..bars.len()).map(name));
        let path = dir.join("multi.parquet");
        write_parquet(&path, multi_columns(&bars, Arc::new(names)), 1000);
        let series = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL).unwrap();
        let found: Vec<&str> = series.iter().map(|s| s.instrument.as_str()).collect();
        assert_eq!(found, ["B", "A", "C"]);
        for s in &series {
            assert_same_bars(&s.bars, &expected(&bars, s.instrument.as_str()));
        }

        // Dictionary-encoded names in an Arrow IPC file, with a time range: C's first bar is
        // before it, so C comes last.
        let keys = Int32Array::from_iter_values((0..bars.len()).map(|i| (i % 5) as i32));
        let values = StringArray::from(vec!["B", "A", "B", "C", "A"]);
        let names = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
        let path = dir.join("multi.arrow");
        write_ipc_file(&path, multi_columns(&bars, Arc::new(names)));
        let range = TimeRange {
            start: bars[4].ts.0,
            end: bars[40].ts.0,
        };
        let series = read_bar_file(&path, InstrumentId::new("X"), range).unwrap();
        let found: Vec<&str> = series.iter().map(|s| s.instrument.as_str()).collect();
        assert_eq!(found, ["B", "A", "C"]);
        for s in &series {
            let all = expected(&bars, s.instrument.as_str());
            let kept: Vec<Bar> = all
                .into_iter()
                .filter(|b| (range.start..range.end).contains(&b.ts.0))
                .collect();
            assert_same_bars(&s.bars, &kept);
        }
    }

    #[test]
    fn each_instrument_checks_its_own_order() {
        let dir = TempDir::new("columnar-multi-order");
        // Two instruments sharing timestamps: fine, as each is in order.
        let bars = bars(10, T0);
        let mut both = Vec::new();
        for bar in &bars {
            both.push(*bar);
            both.push(*bar);
        }
        let names = StringArray::from_iter_values((0..20).map(|i| ["X", "Y"][i % 2]));
        let path = dir.join("pairs.parquet");
        write_parquet(&path, multi_columns(&both, Arc::new(names)), 1000);
        let series = read_bar_file(&path, InstrumentId::new("unused"), TimeRange::ALL).unwrap();
        assert_eq!(series.len(), 2);
        assert_same_bars(&series[0].bars, &bars);
        assert_same_bars(&series[1].bars, &bars);
    }

    #[test]
    fn errors_name_the_row_in_the_file() {
        let dir = TempDir::new("columnar-multi-rows");
        let mut bars = bars(40, T0);
        bars[12].close = f64::NAN; // row 13, the sixth row of B
        let names = StringArray::from_iter_values((0..bars.len()).map(name));
        let path = dir.join("bad.parquet");
        write_parquet(&path, multi_columns(&bars, Arc::new(names)), 1000);
        let result = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL);
        invalid_record(result, &path, 13, "close");

        // Also past skipped row groups.
        let mut bars = super::bars(5000, T0);
        bars[3333].high = bars[3333].low / 2.0;
        let names = StringArray::from_iter_values((0..bars.len()).map(name));
        let path = dir.join("groups.parquet");
        write_parquet(&path, multi_columns(&bars, Arc::new(names)), 1000);
        let range = TimeRange {
            start: bars[2100].ts.0,
            end: i64::MAX,
        };
        let result = read_bar_file(&path, InstrumentId::new("X"), range);
        invalid_record(result, &path, 3334, "high");

        // An instrument's time order is checked within it.
        let mut bars = super::bars(20, T0);
        bars[9].ts = Timestamp(bars[2].ts.0 - 1); // row 10 (A) before row 5 (A)
        let names = StringArray::from_iter_values((0..bars.len()).map(name));
        let path = dir.join("order.parquet");
        write_parquet(&path, multi_columns(&bars, Arc::new(names)), 1000);
        let result = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL);
        invalid_record(result, &path, 10, "timestamp");
    }

    #[test]
    fn a_null_instrument_is_an_error() {
        let dir = TempDir::new("columnar-multi-null");
        let bars = bars(8, T0);
        let names = StringArray::from_iter((0..bars.len()).map(|i| (i != 5).then_some("A")));
        let path = dir.join("null.parquet");
        write_parquet(&path, multi_columns(&bars, Arc::new(names)), 1000);
        let result = read_bar_file(&path, InstrumentId::new("X"), TimeRange::ALL);
        let problem = invalid_record(result, &path, 6, "instrument");
        assert!(matches!(problem, RowProblem::Empty { .. }), "{problem:?}");
    }
}
