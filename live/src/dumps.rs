//! Binance's public kline dumps (data.binance.vision) fetched into a catalog: the files covering
//! a date range are downloaded and checked against their published SHA-256 (`download`), and
//! only once every one is verified are they read (by [`market_data::binance`]'s kline parser)
//! and written as catalog parts, so a bad download leaves the catalog as it was.
//!
//! The zips are kept under `<out>/downloads/`, mirroring their URLs, each beside the checksum
//! it matched: a second run skips them, and an interrupted one continues where it stopped.

mod download;
pub mod plan;

pub use download::Outcome;

use market_data::catalog::part_path;
use market_data::columnar::{RecordKind, write_bars};
use market_data::csv::OnInvalid;
use market_data::{InstrumentId, binance};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The public dumps' address.
pub const DEFAULT_BASE_URL: &str = "https://data.binance.vision";

/// What to fetch and where to write it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where the dumps are served from (a local server in tests).
    pub base_url: String,
    /// `BTCUSDT`: letters and digits, checked by [`plan::symbol`].
    pub symbol: String,
    /// One of [`plan::INTERVALS`].
    pub interval: String,
    /// The first day, `YYYY-MM` or `YYYY-MM-DD`.
    pub start: String,
    /// The day after the last, `YYYY-MM` or `YYYY-MM-DD` (excluded).
    pub end: String,
    /// The catalog's folder: bars go to `<out>/bars/<symbol>/`, downloads to `<out>/downloads/`.
    pub out: PathBuf,
}

/// What a fetch wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The catalog folder of the symbol's bars.
    pub folder: PathBuf,
    /// Parts written, one per dump.
    pub parts: usize,
    /// Bars in them.
    pub bars: usize,
}

/// Fetches the dumps of `request` and writes them into its catalog, calling `progress` with one
/// line per file (downloaded, resumed or skipped, with its size).
///
/// # Errors
/// A message naming what is wrong: a bad symbol, interval or date range (before any request), a
/// file not published, a dropped connection (its partial download kept for the next run), a
/// checksum mismatch (with both hashes), or a dump that is not a zip of one valid kline CSV.
pub fn fetch(request: &Request, mut progress: impl FnMut(&str)) -> Result<Fetched, String> {
    let symbol = plan::symbol(&request.symbol)?;
    let interval = plan::interval(&request.interval)?;
    let start = plan::date("--start", &request.start)?;
    let end = plan::date("--end", &request.end)?;
    let dumps = plan::dumps(&symbol, interval, start, end)?;
    let base = request.base_url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!(
            "--base-url: expected an http:// or https:// URL, found {:?}",
            crate::printable(base, crate::QUOTED_CHARS)
        ));
    }

    // Every file verified before any part is written.
    let http = download::Http::new();
    let downloads = request.out.join("downloads");
    let mut zips = Vec::with_capacity(dumps.len());
    for dump in &dumps {
        let target = downloads.join(&dump.path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        let outcome = download::fetch(&http, &format!("{base}/{}", dump.path), &target)?;
        progress(&match outcome {
            Outcome::Downloaded { bytes } => format!("downloaded {} ({bytes} bytes)", dump.file),
            Outcome::Resumed { from, bytes } => {
                format!("resumed {} at {from} bytes ({bytes} bytes)", dump.file)
            }
            Outcome::Skipped { bytes } => {
                format!("skipped {} (already verified, {bytes} bytes)", dump.file)
            }
        });
        zips.push(target);
    }

    let mut bars = 0;
    for zip in &zips {
        let (name, text) = unzip_csv(zip)?;
        let shown = zip.join(&name);
        let (series, _) = binance::parse_klines(
            &text,
            &shown,
            InstrumentId::new(symbol.clone()),
            OnInvalid::Error,
        )
        .map_err(|e| e.to_string())?;
        let first = series.bars[0].ts;
        let part = part_path(&request.out, RecordKind::Bars, &symbol, first, "parquet");
        if let Some(folder) = part.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        write_bars(&part, &series.bars, None).map_err(|e| e.to_string())?;
        bars += series.bars.len();
    }
    Ok(Fetched {
        folder: request.out.join(RecordKind::Bars.as_str()).join(&symbol),
        parts: zips.len(),
        bars,
    })
}

/// The one CSV file a dump holds, with its name.
fn unzip_csv(path: &Path) -> Result<(String, String), String> {
    let bad = |e: &dyn std::fmt::Display| format!("{}: not a readable zip: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(&e))?;
    if archive.len() != 1 {
        return Err(format!(
            "{}: expected one CSV file in the zip, found {} files",
            path.display(),
            archive.len()
        ));
    }
    let mut entry = archive.by_index(0).map_err(|e| bad(&e))?;
    let name = entry.name().map_err(|e| bad(&e))?.into_owned();
    let mut text = String::new();
    entry.read_to_string(&mut text).map_err(|e| bad(&e))?;
    Ok((name, text))
}
