//! Writing bars, trades and quotes as CSV that the readers take back without loss: timestamps in
//! RFC 3339 with as many fraction digits as they have, numbers in Rust's shortest round-trip form.

use crate::{Bar, Error, Quote, Result, Timestamp, Trade};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Rows formatted before each write to the file.
const ROWS_PER_WRITE: usize = 4096;

fn write_rows<T>(
    path: &Path,
    header: &str,
    rows: &[T],
    mut row: impl FnMut(&T, &mut String),
) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let (pending, file) = crate::atomic::PendingFile::create(path)?;
    let mut file = std::io::BufWriter::new(file);
    let mut text = String::with_capacity(ROWS_PER_WRITE * 96);
    text.push_str(header);
    text.push('\n');
    for chunk in rows.chunks(ROWS_PER_WRITE) {
        for r in chunk {
            row(r, &mut text);
            text.push('\n');
        }
        file.write_all(text.as_bytes()).map_err(io)?;
        text.clear();
    }
    file.write_all(text.as_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    drop(file);
    pending.commit()
}

// `write!` into a `String` cannot fail.
fn time(ts: Timestamp, out: &mut String) {
    let _ = write!(out, "{ts}");
}

/// Writes bars as `timestamp,open,high,low,close,volume`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_bars_csv(path: &Path, bars: &[Bar]) -> Result<()> {
    write_rows(
        path,
        "timestamp,open,high,low,close,volume",
        bars,
        |b, out| {
            time(b.ts, out);
            let _ = write!(
                out,
                ",{},{},{},{},{}",
                b.open, b.high, b.low, b.close, b.volume
            );
        },
    )
}

/// Writes trades as `timestamp,price,qty,side`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_trades_csv(path: &Path, trades: &[(Timestamp, Trade)]) -> Result<()> {
    write_rows(path, "timestamp,price,qty,side", trades, |(ts, t), out| {
        time(*ts, out);
        let _ = write!(out, ",{},{},{}", t.price.0, t.qty.0, t.aggressor.as_str());
    })
}

/// Writes quotes as `timestamp,bid,ask,bid_qty,ask_qty`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_quotes_csv(path: &Path, quotes: &[(Timestamp, Quote)]) -> Result<()> {
    write_rows(
        path,
        "timestamp,bid,ask,bid_qty,ask_qty",
        quotes,
        |(ts, q), out| {
            time(*ts, out);
            let _ = write!(
                out,
                ",{},{},{},{}",
                q.bid.0, q.ask.0, q.bid_qty.0, q.ask_qty.0
            );
        },
    )
}
