//! Unit tests of the catalog scan and of the reader chaining an instrument's parts.

use super::*;
use crate::columnar::{RecordWriter, write_bars};
use crate::test_support::{TempDir, assert_same_bars, bars};
use crate::{NANOS_PER_SECOND, RowProblem};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::sync::Arc;

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * NANOS_PER_SECOND;

/// Writes `bars` as `<root>/bars/<instrument>/<name>` (format by extension).
fn part(root: &Path, instrument: &str, name: &str, bars: &[Bar]) -> PathBuf {
    let folder = root.join("bars").join(instrument);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(name);
    write_bars(&path, bars, None).unwrap();
    path
}

/// Writes `bars` as Parquet in row groups of at most `group_rows` rows.
fn grouped_part(path: &Path, bars: &[Bar], group_rows: usize) {
    let float = |f: fn(&Bar) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
    };
    let times = TimestampNanosecondArray::from_iter_values(bars.iter().map(|b| b.ts.0));
    let batch = RecordBatch::try_from_iter([
        ("timestamp", Arc::new(times) as ArrayRef),
        ("open", float(|b| b.open)),
        ("high", float(|b| b.high)),
        ("low", float(|b| b.low)),
        ("close", float(|b| b.close)),
        ("volume", float(|b| b.volume)),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Reads `files` through a [`PartsReader`], checking that chunks are never empty and that the
/// reader stays exhausted.
fn read_parts(files: Vec<PathBuf>, range: TimeRange, batch_rows: usize) -> Result<Vec<Bar>> {
    let mut reader = PartsReader::new(files, range, batch_rows);
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while reader.next_chunk(&mut chunk)? {
        assert!(!chunk.is_empty(), "a chunk with bars");
        all.extend_from_slice(&chunk);
    }
    assert!(chunk.is_empty());
    assert!(!reader.next_chunk(&mut chunk)?);
    Ok(all)
}

fn names(files: &[InstrumentFiles]) -> Vec<(&str, Vec<String>)> {
    files
        .iter()
        .map(|f| {
            let parts = f.files.iter().map(|p| file_name(p)).collect();
            (f.instrument.as_str(), parts)
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn range(start: i64, end: i64) -> TimeRange {
    TimeRange { start, end }
}

#[track_caller]
fn overlap(error: Error, first: &Path, first_end: Timestamp, second: &Path, start: Timestamp) {
    let message = error.to_string();
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(message.contains(&second.display().to_string()), "{message}");
    match error {
        Error::Overlap {
            first: a,
            first_end: end,
            second: b,
            second_start: begin,
        } => assert_eq!(
            (a.as_path(), end, b.as_path(), begin),
            (first, first_end, second, start)
        ),
        other => panic!("expected an overlap, got {other:?}"),
    }
}

/// Three instruments of three parts each (Parquet, Arrow IPC file, Parquet), created out of
/// order, with stray files that are not data.
fn catalog(dir: &TempDir, bars: &[Bar]) {
    for instrument in ["CCC", "AAA", "BBB"] {
        part(dir.path(), instrument, "2024-03.parquet", &bars[200..300]);
        part(dir.path(), instrument, "2024-01.parquet", &bars[..100]);
        part(dir.path(), instrument, "2024-02.arrow", &bars[100..200]);
        let folder = dir.path().join("bars").join(instrument);
        std::fs::write(folder.join("notes.txt"), "not data").unwrap();
        std::fs::create_dir_all(folder.join("old.parquet.d")).unwrap();
    }
    std::fs::write(dir.path().join("bars").join("README.md"), "catalog").unwrap();
}

#[test]
fn scan_sorts_instruments_and_parts() {
    let dir = TempDir::new("catalog-scan");
    let bars = bars(300, T0);
    catalog(&dir, &bars);
    let found = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap();
    let parts = vec![
        "2024-01.parquet".to_owned(),
        "2024-02.arrow".to_owned(),
        "2024-03.parquet".to_owned(),
    ];
    assert_eq!(
        names(&found),
        [
            ("AAA", parts.clone()),
            ("BBB", parts.clone()),
            ("CCC", parts.clone())
        ]
    );
    let folder = dir.path().join("bars").join("AAA");
    assert_eq!(found[0].files[0], folder.join("2024-01.parquet"));

    // A selection keeps its order.
    let chosen = ["CCC".to_owned(), "AAA".to_owned()];
    let found = scan(dir.path(), RecordKind::Bars, Some(&chosen), TimeRange::ALL).unwrap();
    assert_eq!(names(&found), [("CCC", parts.clone()), ("AAA", parts)]);

    // Every part chained gives the bars back.
    let all = read_parts(found[0].files.clone(), TimeRange::ALL, 7).unwrap();
    assert_same_bars(&all, &bars);
}

#[test]
fn unknown_instruments_and_missing_folders() {
    let dir = TempDir::new("catalog-unknown");
    let bars = bars(300, T0);
    catalog(&dir, &bars);
    let chosen = ["AAA".to_owned(), "ZZZ".to_owned()];
    let err = scan(dir.path(), RecordKind::Bars, Some(&chosen), TimeRange::ALL).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    let base = dir.path().join("bars");
    assert_eq!(
        message,
        format!(
            "{}: no folder for instrument \"ZZZ\"; the catalog has: AAA, BBB, CCC",
            base.display()
        )
    );

    // No folder for the kind at all.
    let err = scan(dir.path(), RecordKind::Trades, None, TimeRange::ALL).unwrap_err();
    let trades = dir.path().join("trades");
    assert!(
        matches!(&err, Error::Io { path, .. } if *path == trades),
        "{err:?}"
    );
}

#[test]
fn an_instrument_folder_without_data_is_empty() {
    let dir = TempDir::new("catalog-empty-folder");
    let bars = bars(300, T0);
    catalog(&dir, &bars);
    let folder = dir.path().join("bars").join("DDD");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("readme.txt"), "nothing yet").unwrap();
    let err = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap_err();
    assert!(
        matches!(&err, Error::Empty { path } if *path == folder),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: no data rows", folder.display())
    );
}

#[test]
fn overlapping_parts_are_rejected_by_their_statistics() {
    let dir = TempDir::new("catalog-overlap");
    let bars = bars(300, T0);
    let first = part(dir.path(), "X", "a.parquet", &bars[..100]);
    let second = part(dir.path(), "X", "b.parquet", &bars[90..200]);
    let err = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap_err();
    overlap(err, &first, bars[99].ts, &second, bars[90].ts);

    // Touching counts: a timestamp in both parts would come out twice.
    part(dir.path(), "X", "b.parquet", &bars[99..200]);
    let err = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap_err();
    overlap(err, &first, bars[99].ts, &second, bars[99].ts);

    // Disjoint parts are fine, and so is their concatenation.
    part(dir.path(), "X", "b.parquet", &bars[100..200]);
    let found = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap();
    assert_eq!(found[0].files, [first, second]);
}

#[test]
fn parts_outside_the_range_are_left_out() {
    let dir = TempDir::new("catalog-range");
    let bars = bars(300, T0);
    catalog(&dir, &bars);
    let ts = |i: usize| bars[i].ts.0;
    let only = ["AAA".to_owned()];
    let files = |range| {
        let found = scan(dir.path(), RecordKind::Bars, Some(&only), range).unwrap();
        names(&found).remove(0).1
    };
    // The Arrow IPC part has no statistics, so it is always kept.
    assert_eq!(
        files(range(ts(10), ts(20))),
        ["2024-01.parquet", "2024-02.arrow"]
    );
    assert_eq!(files(range(ts(120), ts(130))), ["2024-02.arrow"]);
    assert_eq!(
        files(range(ts(99), ts(201))),
        ["2024-01.parquet", "2024-02.arrow", "2024-03.parquet"]
    );
    assert_eq!(files(range(ts(100), ts(200))), ["2024-02.arrow"]);
    assert_eq!(files(range(ts(299) + 1, i64::MAX)), ["2024-02.arrow"]);

    let found = scan(
        dir.path(),
        RecordKind::Bars,
        Some(&only),
        range(ts(50), ts(250)),
    )
    .unwrap();
    let kept = read_parts(found[0].files.clone(), range(ts(50), ts(250)), 16).unwrap();
    assert_same_bars(&kept, &bars[50..250]);
}

#[test]
fn parts_reader_chains_parts_of_every_format() {
    let dir = TempDir::new("catalog-chain");
    let bars = bars(1000, T0);
    let files = vec![
        part(dir.path(), "X", "1.parquet", &bars[..333]),
        part(dir.path(), "X", "2.arrow", &bars[333..334]),
        part(dir.path(), "X", "3.arrows", &bars[334..700]),
        part(dir.path(), "X", "4.parquet", &bars[700..]),
    ];
    for batch_rows in [1, 10, 100_000] {
        assert_same_bars(
            &read_parts(files.clone(), TimeRange::ALL, batch_rows).unwrap(),
            &bars,
        );
    }
    let ts = |i: usize| bars[i].ts.0;
    for (start, end) in [
        (0, 1000),
        (5, 995),
        (333, 334),
        (300, 800),
        (650, 1000),
        (0, 1),
    ] {
        let range = range(ts(start), if end == 1000 { i64::MAX } else { ts(end) });
        for batch_rows in [3, 64] {
            let kept = read_parts(files.clone(), range, batch_rows).unwrap();
            assert_same_bars(&kept, &bars[start..end]);
        }
    }
    // A range with no bar at all gives an empty stream, not an error.
    let nothing = read_parts(files.clone(), range(ts(999) + 1, i64::MAX), 8).unwrap();
    assert!(nothing.is_empty());
    assert!(
        read_parts(Vec::new(), TimeRange::ALL, 8)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn parts_without_statistics_are_checked_at_their_boundary() {
    let dir = TempDir::new("catalog-boundary");
    let bars = bars(300, T0);
    let first = part(dir.path(), "X", "a.arrow", &bars[..100]);
    let second = part(dir.path(), "X", "b.arrows", &bars[99..200]);
    let found = scan(dir.path(), RecordKind::Bars, None, TimeRange::ALL).unwrap();
    assert_eq!(found[0].files, [first.clone(), second.clone()]);
    for batch_rows in [1, 10, 1000] {
        let err = read_parts(found[0].files.clone(), TimeRange::ALL, batch_rows).unwrap_err();
        overlap(err, &first, bars[99].ts, &second, bars[99].ts);
    }
}

#[test]
fn the_boundary_is_checked_when_a_part_starts_before_the_range() {
    let dir = TempDir::new("catalog-boundary-range");
    let bars = bars(300, T0);
    let first = part(dir.path(), "X", "a.arrow", &bars[..100]);
    // In batches of 5 bars.
    let second = dir.path().join("bars").join("X").join("b.arrow");
    let mut writer = RecordWriter::create(&second, RecordKind::Bars, None).unwrap();
    for chunk in bars[50..150].chunks(5) {
        writer.write_bars(chunk).unwrap();
    }
    writer.finish().unwrap();
    // The second part's first batches are all before the range, its later ones repeat bars of
    // the first part: the stream would go back in time.
    let range = range(bars[60].ts.0, i64::MAX);
    let err = read_parts(vec![first.clone(), second.clone()], range, 5).unwrap_err();
    overlap(err, &first, bars[99].ts, &second, bars[60].ts);
    // The same with Parquet parts, read directly (a scan would catch it by statistics).
    let first = part(dir.path(), "Y", "a.parquet", &bars[..100]);
    let second = part(dir.path(), "Y", "b.parquet", &bars[50..150]);
    let err = read_parts(vec![first.clone(), second.clone()], range, 5).unwrap_err();
    overlap(err, &first, bars[99].ts, &second, bars[60].ts);
}

#[test]
fn parquet_parts_with_no_row_group_in_the_range_are_skipped() {
    let dir = TempDir::new("catalog-pruned");
    let bars = bars(300, T0);
    let files = vec![
        part(dir.path(), "X", "a.parquet", &bars[..100]),
        part(dir.path(), "X", "b.parquet", &bars[100..200]),
        part(dir.path(), "X", "c.parquet", &bars[200..]),
    ];
    // Given every part, though only the first holds bars in the range.
    let range = range(bars[10].ts.0, bars[20].ts.0);
    assert_same_bars(&read_parts(files, range, 4).unwrap(), &bars[10..20]);

    // A range between two row groups of one part.
    let mut gapped = bars.clone();
    for bar in &mut gapped[150..] {
        bar.ts.0 += 3600 * NANOS_PER_SECOND;
    }
    let path = dir.join("gapped.parquet");
    grouped_part(&path, &gapped, 150);
    let gap = TimeRange {
        start: gapped[149].ts.0 + 1,
        end: gapped[150].ts.0,
    };
    assert_eq!(
        select_parts(vec![path.clone()], RecordKind::Bars, gap).unwrap(),
        std::slice::from_ref(&path)
    );
    assert!(read_parts(vec![path.clone()], gap, 32).unwrap().is_empty());
    // A file with no rows at all is still an error.
    let empty = dir.join("empty.parquet");
    write_bars(&empty, &[], None).unwrap();
    let err = read_parts(vec![path, empty.clone()], gap, 32).unwrap_err();
    assert!(
        matches!(&err, Error::Empty { path } if *path == empty),
        "{err:?}"
    );
}

#[test]
fn empty_and_bad_parts_are_named() {
    let dir = TempDir::new("catalog-bad-parts");
    let bars = bars(100, T0);
    let good = part(dir.path(), "X", "a.parquet", &bars[..50]);
    for name in ["b.parquet", "b.arrow", "b.arrows"] {
        let empty = part(dir.path(), "Y", name, &[]);
        let err = read_parts(vec![good.clone(), empty.clone()], TimeRange::ALL, 10).unwrap_err();
        assert!(
            matches!(&err, Error::Empty { path } if *path == empty),
            "{err:?}"
        );
    }
    let mut broken = bars[50..].to_vec();
    broken[7].volume = -3.0;
    let bad = part(dir.path(), "X", "b.arrow", &broken);
    let err = read_parts(vec![good, bad.clone()], TimeRange::ALL, 10).unwrap_err();
    match err {
        Error::InvalidRecord { path, record } => {
            assert_eq!(path, bad);
            assert_eq!((record.row, record.column), (8, Some("volume")));
            assert_eq!(record.problem, RowProblem::NegativeVolume { value: -3.0 });
        }
        other => panic!("expected an invalid record, got {other:?}"),
    }
}
