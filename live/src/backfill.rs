//! Backfill: the closed bars a gap lost, fetched from the venue's REST API (Binance klines) or
//! read from a bar file or catalog, so the strategy sees a continuous series after a downtime or
//! a dropped connection.
//!
//! A source only fetches; [`fetch`] checks that what it returned lies inside the gap and goes
//! forward in time, and the feed then puts each bar through the same checks as a live one
//! (impossible values, clock skew, order) before it reaches the engine, ahead of the live bar
//! that revealed the gap.

mod http;

use market_data::catalog::{PartsReader, scan};
use market_data::columnar::{DEFAULT_BATCH_ROWS, RecordKind, TimeRange, read_bar_file};
use market_data::csv::{OnInvalid, read_bars};
use market_data::merge::BarSource as _;
use market_data::{Bar, InstrumentId, Timestamp};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bars one gap lost: those of `instrument` opening strictly between `after` and `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapRequest<'a> {
    /// The instrument (a Binance symbol, upper case).
    pub instrument: &'a str,
    /// The stream's interval as the venue writes it (`1m`, `1d`)...
    pub interval: &'a str,
    /// ...and in nanoseconds.
    pub step: i64,
    /// The last bar before the gap.
    pub after: Timestamp,
    /// The bar that revealed the gap.
    pub before: Timestamp,
}

/// Where missing bars come from.
pub trait BarSource: Send {
    /// Names the source in messages (`Binance REST https://api.binance.com`).
    fn describe(&self) -> String;

    /// Returns the closed bars of the gap, oldest first.
    ///
    /// # Errors
    /// Why they could not be had, naming the URL or the file.
    fn bars(&mut self, gap: &GapRequest<'_>) -> Result<Vec<Bar>, String>;
}

/// Fetches a gap's bars from `source` and checks that each lies inside the gap, after the one
/// before it: a source that answers another range must not put bars out of order.
///
/// # Errors
/// The source's error, or the first bar out of range or out of order.
pub fn fetch(source: &mut dyn BarSource, gap: &GapRequest<'_>) -> Result<Vec<Bar>, String> {
    let bars = source.bars(gap)?;
    check(&bars, gap, gap.after)?;
    Ok(bars)
}

/// Checks that `bars` go forward in time from `previous` and open before the gap ends.
fn check(bars: &[Bar], gap: &GapRequest<'_>, mut previous: Timestamp) -> Result<(), String> {
    for bar in bars {
        if bar.ts <= gap.after || bar.ts >= gap.before {
            return Err(format!(
                "returned a bar at {} outside the requested range ({} to {}, both excluded)",
                bar.ts, gap.after, gap.before
            ));
        }
        if bar.ts <= previous {
            return Err(format!(
                "returned a bar at {} after the bar at {}: out of order",
                bar.ts, previous
            ));
        }
        previous = bar.ts;
    }
    Ok(())
}

/// Binance's `GET /api/v3/klines`, paginated (at most 1,000 klines a request).
#[derive(Debug, Clone)]
pub struct BinanceRest {
    base: String,
    timeout: Duration,
}

/// Requests one backfill makes at most: 1,000 pages of 1,000 klines.
const MAX_PAGES: usize = 1000;

impl BinanceRest {
    /// A client of the REST API at `base` (`https://api.binance.com`), waiting at most
    /// `timeout` to connect and for each read.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    fn page(&self, url: &str) -> Result<Vec<Bar>, String> {
        let (status, body) = http::get(url, self.timeout).map_err(|e| format!("GET {url}: {e}"))?;
        if status != 200 {
            return Err(format!(
                "GET {url}: HTTP {status}: {}",
                crate::printable(&body, crate::QUOTED_CHARS)
            ));
        }
        parse_klines(&body).map_err(|e| format!("GET {url}: {e}"))
    }
}

impl BarSource for BinanceRest {
    fn describe(&self) -> String {
        format!("Binance REST {}", self.base)
    }

    fn bars(&mut self, gap: &GapRequest<'_>) -> Result<Vec<Bar>, String> {
        const MS: i64 = 1_000_000;
        // Binance's startTime and endTime are inclusive bounds on the open time, in ms.
        let mut start = gap.after.0.div_euclid(MS) + 1;
        let end = (gap.before.0 - 1).div_euclid(MS);
        let mut bars = Vec::new();
        for _ in 0..MAX_PAGES {
            if start > end {
                return Ok(bars);
            }
            let url = format!(
                "{}/api/v3/klines?symbol={}&interval={}&startTime={start}&endTime={end}&limit=1000",
                self.base, gap.instrument, gap.interval
            );
            let page = self.page(&url)?;
            let previous = bars.last().map_or(gap.after, |b: &Bar| b.ts);
            check(&page, gap, previous).map_err(|e| format!("GET {url}: {e}"))?;
            let Some(last) = page.last() else {
                return Ok(bars);
            };
            start = last.ts.0.div_euclid(MS) + 1;
            bars.extend_from_slice(&page);
            // The next bar would open where the gap ends: no request for an empty page.
            if last.ts.0.saturating_add(gap.step) >= gap.before.0 {
                return Ok(bars);
            }
        }
        Err(format!(
            "{}: more than {MAX_PAGES} pages for one gap",
            self.describe()
        ))
    }
}

/// Reads a klines response: `[[openTime, "open", "high", "low", "close", "volume", closeTime,
/// ...], ...]`.
fn parse_klines(body: &str) -> Result<Vec<Bar>, String> {
    let quoted = || crate::printable(body, crate::QUOTED_CHARS);
    let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(body)
        .map_err(|e| format!("malformed klines JSON ({e}): {}", quoted()))?;
    rows.iter()
        .enumerate()
        .map(|(k, row)| {
            let bad = |what: &str| format!("kline #{k}: {what}: {}", quoted());
            let open_ms = row
                .first()
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| bad("expected the open time in ms first"))?;
            let number = |at: usize, name: &str| {
                row.get(at)
                    .and_then(|v| match v {
                        serde_json::Value::String(s) => s.parse::<f64>().ok(),
                        other => other.as_f64(),
                    })
                    .ok_or_else(|| bad(&format!("expected {name} as a number at position {at}")))
            };
            Ok(Bar {
                ts: Timestamp(
                    open_ms
                        .checked_mul(1_000_000)
                        .ok_or_else(|| bad("open time out of range"))?,
                ),
                open: number(1, "the open")?,
                high: number(2, "the high")?,
                low: number(3, "the low")?,
                close: number(4, "the close")?,
                volume: number(5, "the volume")?,
            })
        })
        .collect()
}

/// Bars read from a file or catalog of any format: a CSV, Parquet or Arrow file (one instrument
/// named by its file stem, or an `instrument` column), a folder of such files, or a catalog
/// (`<path>/bars/<instrument>/`). Read again for each gap: gaps are rare, files change.
#[derive(Debug, Clone)]
pub struct BarFiles {
    path: PathBuf,
}

impl BarFiles {
    /// Bars from `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    /// The file of `instrument` in a folder of bar files: the one whose stem is its name.
    fn file_in_folder(&self, instrument: &str) -> Result<PathBuf, String> {
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let mut stems = Vec::new();
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if kind(&path).is_none() {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if stem.eq_ignore_ascii_case(instrument) {
                return Ok(path);
            }
            stems.push(stem.to_owned());
        }
        stems.sort();
        Err(format!(
            "{} has no bar file of {instrument} (it has: {})",
            self.path.display(),
            if stems.is_empty() {
                "none".into()
            } else {
                stems.join(", ")
            }
        ))
    }

    /// Reads `file` whole (each instrument named by its `instrument` column, else by the file's
    /// stem) and keeps `instrument`'s bars within `range`.
    fn read(file: &Path, instrument: &str, range: TimeRange) -> Result<Vec<Bar>, String> {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let named = InstrumentId::new(stem);
        // The whole file: a range with no rows would read as an empty file, or an absent
        // instrument.
        let series = if kind(file) == Some(FileKind::Csv) {
            vec![
                read_bars(file, named, OnInvalid::Error)
                    .map_err(|e| e.to_string())?
                    .0,
            ]
        } else {
            read_bar_file(file, named, TimeRange::ALL).map_err(|e| e.to_string())?
        };
        let Some(found) = series
            .iter()
            .find(|s| s.instrument.as_str().eq_ignore_ascii_case(instrument))
        else {
            let names: Vec<&str> = series.iter().map(|s| s.instrument.as_str()).collect();
            return Err(missing(file, instrument, &names));
        };
        Ok(found
            .bars
            .iter()
            .filter(|b| b.ts.0 >= range.start && b.ts.0 < range.end)
            .copied()
            .collect())
    }

    fn catalog(&self, instrument: &str, range: TimeRange) -> Result<Vec<Bar>, String> {
        let folder = self.path.join("bars");
        let names = std::fs::read_dir(&folder)
            .map_err(|e| format!("cannot read {}: {e}", folder.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect::<Vec<_>>();
        let Some(name) = names.iter().find(|n| n.eq_ignore_ascii_case(instrument)) else {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(missing(&self.path, instrument, &names));
        };
        let parts = scan(
            &self.path,
            RecordKind::Bars,
            Some(std::slice::from_ref(name)),
            range,
        )
        .map_err(|e| e.to_string())?;
        let mut bars = Vec::new();
        for part in parts {
            let mut reader = PartsReader::new(part.files, range, DEFAULT_BATCH_ROWS);
            let mut chunk = Vec::new();
            while reader.next_chunk(&mut chunk).map_err(|e| e.to_string())? {
                bars.extend_from_slice(&chunk);
            }
        }
        Ok(bars)
    }
}

/// Says that `path` holds no bars of `instrument`, listing those it holds.
fn missing(path: &Path, instrument: &str, holds: &[&str]) -> String {
    let mut holds = holds.to_vec();
    holds.sort_unstable();
    format!(
        "{} has no bars of {instrument} (it holds: {})",
        path.display(),
        holds.join(", ")
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Csv,
    Columnar,
}

fn kind(path: &Path) -> Option<FileKind> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(FileKind::Csv),
        "parquet" | "pq" | "arrow" | "arrows" | "feather" | "ipc" => Some(FileKind::Columnar),
        _ => None,
    }
}

impl BarSource for BarFiles {
    fn describe(&self) -> String {
        format!("bars in {}", self.path.display())
    }

    fn bars(&mut self, gap: &GapRequest<'_>) -> Result<Vec<Bar>, String> {
        let range = TimeRange {
            start: gap.after.0.saturating_add(1),
            end: gap.before.0,
        };
        let bars = if self.path.join("bars").is_dir() {
            self.catalog(gap.instrument, range)
        } else if self.path.is_dir() {
            let file = self.file_in_folder(gap.instrument)?;
            Self::read(&file, gap.instrument, range)
        } else {
            Self::read(&self.path, gap.instrument, range)
        };
        bars.map_err(|e| format!("{}: {e}", self.describe()))
    }
}

#[cfg(test)]
mod tests;
