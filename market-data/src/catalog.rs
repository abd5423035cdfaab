//! A folder of columnar files laid out as `<root>/<kind>/<instrument>/<part>.parquet` (parts in
//! time order by name, e.g. one per day or month), and the per-instrument readers that chain an
//! instrument's parts into one stream.

use crate::columnar::{RecordKind, RecordReader, TimeRange, parquet_time_span};
use crate::merge::BarSource;
use crate::{Bar, Error, InstrumentId, Result, Timestamp};
use std::path::{Path, PathBuf};

/// The files of one instrument, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentFiles {
    /// The instrument (its folder's name).
    pub instrument: InstrumentId,
    /// Its part files within the selected range, sorted by name.
    pub files: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_data_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("parquet" | "pq" | "arrow" | "arrows" | "feather" | "ipc")
    )
}

/// The part of `instrument` whose first record is at `first`:
/// `<root>/<kind>/<instrument>/<first as 20240101T000000.000000000>.<extension>`, so parts sort
/// by name in time order as [`scan`] reads them.
pub fn part_path(
    root: &Path,
    kind: RecordKind,
    instrument: &str,
    first: Timestamp,
    extension: &str,
) -> PathBuf {
    let stamp = first.to_datetime().format("%Y%m%dT%H%M%S%.9f");
    root.join(kind.as_str())
        .join(instrument)
        .join(format!("{stamp}.{extension}"))
}

/// Lists the catalog's `kind` files: every instrument folder under `<root>/<kind>/` (or only
/// `instruments`, in that order when given; otherwise sorted by name), each with its part files
/// sorted by name. Parts wholly outside `range` (by their Parquet statistics) are left out.
///
/// # Errors
/// [`Error::Io`] if a folder cannot be read; [`Error::Schema`] if a requested instrument has no
/// folder (naming those that exist); [`Error::Empty`] for an instrument folder without data
/// files or a part without rows; [`Error::Overlap`] when two parts of one instrument overlap
/// in time.
pub fn scan(
    root: &Path,
    kind: RecordKind,
    instruments: Option<&[String]>,
    range: TimeRange,
) -> Result<Vec<InstrumentFiles>> {
    let base = root.join(kind.as_str());
    let mut available: Vec<String> = std::fs::read_dir(&base)
        .map_err(io(&base))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect();
    available.sort();
    let chosen: Vec<String> = match instruments {
        Some(names) => {
            if let Some(missing) = names.iter().find(|n| !available.contains(n)) {
                return Err(Error::Schema {
                    path: base.clone(),
                    message: format!(
                        "no folder for instrument {missing:?}; the catalog has: {}",
                        available.join(", ")
                    ),
                });
            }
            names.to_vec()
        }
        None => available,
    };
    chosen
        .into_iter()
        .map(|name| {
            let folder = base.join(&name);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
                .map_err(io(&folder))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| is_data_file(path))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::Empty { path: folder });
            }
            let files = select_parts(files, kind, range)?;
            Ok(InstrumentFiles {
                instrument: InstrumentId::new(name),
                files,
            })
        })
        .collect()
}

/// Keeps the parts that may hold rows within `range` and checks that consecutive parts do not
/// overlap, both by the parts' statistics where they have them (others are checked as read).
fn select_parts(files: Vec<PathBuf>, kind: RecordKind, range: TimeRange) -> Result<Vec<PathBuf>> {
    let mut kept = Vec::with_capacity(files.len());
    let mut previous: Option<(PathBuf, Timestamp)> = None;
    for file in files {
        let span = parquet_time_span(&file, kind)?;
        if let Some((first, last)) = span {
            if let Some((earlier, end)) = &previous
                && first <= *end
            {
                return Err(Error::Overlap {
                    first: earlier.clone(),
                    first_end: *end,
                    second: file,
                    second_start: first,
                });
            }
            previous = Some((file.clone(), last));
            if !range.overlaps(first.0, last.0) {
                continue;
            }
        }
        kept.push(file);
    }
    Ok(kept)
}

/// Reads one instrument's parts in order as one stream of bar chunks, checking that time keeps
/// increasing from one part to the next.
#[derive(Debug)]
pub struct PartsReader {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<RecordReader>,
    range: TimeRange,
    batch_rows: usize,
    /// The previous part and its last timestamp.
    previous: Option<(PathBuf, Timestamp)>,
    /// Whether the current part's first bars were checked against the previous part.
    checked: bool,
}

impl PartsReader {
    /// Returns a reader of `files` (in this order), keeping bars within `range`.
    pub fn new(files: Vec<PathBuf>, range: TimeRange, batch_rows: usize) -> Self {
        Self {
            files,
            next_file: 0,
            current: None,
            range,
            batch_rows,
            previous: None,
            checked: false,
        }
    }

    /// Checks the first bar of a new part against the last of the previous part.
    fn check_boundary(&self, path: &Path, first: Option<&Bar>) -> Result<()> {
        let (Some((earlier, end)), Some(bar)) = (&self.previous, first) else {
            return Ok(());
        };
        if bar.ts > *end {
            return Ok(());
        }
        Err(Error::Overlap {
            first: earlier.clone(),
            first_end: *end,
            second: path.to_path_buf(),
            second_start: bar.ts,
        })
    }
}

impl BarSource for PartsReader {
    fn next_chunk(&mut self, out: &mut Vec<Bar>) -> Result<bool> {
        out.clear();
        loop {
            let Some(reader) = self.current.as_mut() else {
                let Some(path) = self.files.get(self.next_file).cloned() else {
                    return Ok(false);
                };
                self.next_file += 1;
                self.current = Some(RecordReader::open(
                    &path,
                    RecordKind::Bars,
                    self.range,
                    self.batch_rows,
                )?);
                self.checked = false;
                continue;
            };
            if reader.next_bars(out)? {
                if out.is_empty() {
                    continue; // a batch wholly outside the range
                }
                if !self.checked {
                    // The part's first bars in the range, whichever batch they come in (the
                    // leading batches may all be before the range).
                    self.checked = true;
                    let path = self.files[self.next_file - 1].clone();
                    self.check_boundary(&path, out.first())?;
                }
                return Ok(true);
            }
            let path = self.files[self.next_file - 1].clone();
            match reader.last() {
                Some(last) => self.previous = Some((path, last)),
                // Nothing decoded: the file has no rows, unless its row groups were all skipped
                // as outside the range.
                None if !reader.skipped_row_groups() => return Err(Error::Empty { path }),
                None => {}
            }
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests;
