//! A run's curve kept on disk while the run goes on, and read back in chunks for its figures.
//!
//! The summary and the report need every step's timestamp, equity and cash, several times over
//! (a mean, then deviations from it; a percentile's passes). Held in memory that is 24 bytes a
//! step, 480 MB for 20 M steps; here each column is a file of the values' own bytes (in the
//! machine's order: the process that writes them reads them) that the figures read back one
//! chunk at a time ([`engine::column::Curve`]), so memory stays a few
//! chunks whatever the run's length. The files are unnamed temporary files in the run's folder:
//! nothing is left behind, even when the process is killed.
//!
//! The run's fills are kept the same way ([`FillSpill`], one file of fixed-size records), for
//! the report's positions over time and price charts, which read every fill in time order.

use crate::error::{Error, Result};
use engine::column::{Curve, CurveChunk, FiniteRange, ReturnRange, extend_span};
use engine::metrics::{Annualisation, StampTally};
use engine::{FillLog, FillRecord, OrderId};
use market_data::{InstrumentIdx, Side, Timestamp};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Steps read back per chunk.
const CHUNK: usize = 65_536;

/// A column being written: its file and the bytes of the values appended last (of those not
/// written as they are).
#[derive(Debug)]
struct ColumnFile {
    file: BufWriter<File>,
    bytes: Vec<u8>,
}

impl ColumnFile {
    fn create(dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            // Smaller than a chunk's column, which goes to the file as it is; a few fills are
            // gathered.
            file: BufWriter::with_capacity(1 << 18, tempfile::tempfile_in(dir)?),
            bytes: Vec::new(),
        })
    }

    /// Appends values in the machine's byte order: the file is this process's own, read back
    /// by it alone.
    fn append<T: bytemuck::Pod>(&mut self, values: &[T]) -> std::io::Result<()> {
        self.file.write_all(bytemuck::cast_slice(values))
    }

    fn into_file(self) -> std::io::Result<File> {
        self.file
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
    }
}

/// The curve of a run being written to disk, step after step.
#[derive(Debug)]
pub struct CurveSpill {
    dir: PathBuf,
    ts: ColumnFile,
    equity: ColumnFile,
    cash: ColumnFile,
    steps: usize,
    /// The timestamps' annualisation, worked out as they pass.
    stamps: StampTally,
    /// The first and last timestamps, and the range of the returns, as they pass.
    span: Option<(Timestamp, Timestamp)>,
    returns: ReturnRange,
}

impl CurveSpill {
    /// Starts a curve kept in unnamed files in `dir`.
    ///
    /// # Errors
    /// The files cannot be created (the error names `dir`).
    pub fn create(dir: &Path) -> Result<Self> {
        let column = || ColumnFile::create(dir).map_err(|e| write_error(dir, e));
        Ok(Self {
            dir: dir.to_path_buf(),
            ts: column()?,
            equity: column()?,
            cash: column()?,
            steps: 0,
            stamps: StampTally::default(),
            span: None,
            returns: ReturnRange::default(),
        })
    }

    /// Appends steps (parallel columns).
    ///
    /// # Errors
    /// A write failed (a full disk); the error names the run's folder.
    pub fn append(&mut self, ts: &[Timestamp], equity: &[f64], cash: &[f64]) -> Result<()> {
        let written = (self.ts.append(ts))
            .and_then(|()| self.equity.append(equity))
            .and_then(|()| self.cash.append(cash));
        written.map_err(|e| write_error(&self.dir, e))?;
        self.steps += ts.len();
        self.stamps.push(ts);
        extend_span(&mut self.span, ts);
        self.returns.extend(equity);
        Ok(())
    }

    /// Completes the files and returns the curve to read back.
    ///
    /// # Errors
    /// The last writes failed; the error names the run's folder.
    pub fn finish(self) -> Result<SpilledCurve> {
        let dir = self.dir.clone();
        let files = (self.ts.into_file())
            .and_then(|ts| Ok((ts, self.equity.into_file()?, self.cash.into_file()?)))
            .map_err(|e| write_error(&dir, e))?;
        Ok(SpilledCurve {
            dir,
            files: Some(files),
            steps: self.steps,
            annualisation: self.stamps.finish(),
            span: self.span,
            return_range: self.returns.finish(),
            failed: Mutex::new(None),
        })
    }
}

fn write_error(dir: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: dir.join("(the run's curve, kept on disk while it runs)"),
        source,
    }
}

/// A run's curve on disk, read back in chunks of [`CHUNK`] steps, one column at a time when a
/// figure needs one.
///
/// A read that fails stops the pass that met it (its chunks end early) and is kept:
/// [`SpilledCurve::check`] reports it, so figures computed from a short pass are not written.
#[derive(Debug)]
pub struct SpilledCurve {
    dir: PathBuf,
    /// The timestamps, equity and cash files; `None` for a run that wrote none.
    files: Option<(File, File, File)>,
    steps: usize,
    /// The timestamps' annualisation, when it could be worked out as they were written.
    annualisation: Option<Annualisation>,
    /// The first and last timestamps, and the range of the returns, worked out as they were
    /// written.
    span: Option<(Timestamp, Timestamp)>,
    return_range: FiniteRange,
    failed: Mutex<Option<std::io::Error>>,
}

impl SpilledCurve {
    /// A curve of no steps.
    pub fn empty() -> Self {
        Self {
            dir: PathBuf::new(),
            files: None,
            steps: 0,
            annualisation: None,
            span: None,
            return_range: FiniteRange::default(),
            failed: Mutex::new(None),
        }
    }

    /// Returns the first read that failed, if any.
    ///
    /// # Errors
    /// A chunk could not be read: figures computed since are incomplete.
    pub fn check(&self) -> Result<()> {
        let failed = self.failed.lock().map_or(None, |mut f| f.take());
        failed.map_or(Ok(()), |source| {
            Err(Error::Read {
                path: self
                    .dir
                    .join("(the run's curve, kept on disk while it ran)"),
                source,
            })
        })
    }

    /// Reads steps `at..at + n` of `file` into `values`, straight into their bytes. A failed
    /// read keeps its error and returns false.
    fn read_part<T: bytemuck::Pod>(
        &self,
        file: &File,
        (at, n): (usize, usize),
        values: &mut Vec<T>,
    ) -> bool {
        values.resize(n, T::zeroed());
        let offset = (at * std::mem::size_of::<T>()) as u64;
        if let Err(e) = read_at(file, bytemuck::cast_slice_mut(values), offset) {
            if let Ok(mut failed) = self.failed.lock() {
                failed.get_or_insert(e);
            }
            return false;
        }
        true
    }

    /// The parts of [`CHUNK`] steps of the curve, as (first step, steps).
    fn parts(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let steps = self.steps;
        (0..steps)
            .step_by(CHUNK)
            .map(move |at| (at, CHUNK.min(steps - at)))
    }

    /// Hands `visit` each chunk of steps: timestamps, equity and, `with_cash`, cash; stops at the
    /// first failed read.
    fn read_chunks(
        &self,
        with_cash: bool,
        mut visit: impl FnMut(&[Timestamp], &[f64], Option<&[f64]>),
    ) {
        let Some((ts_file, equity_file, cash_file)) = &self.files else {
            return;
        };
        let (mut ts, mut equity, mut cash) = (Vec::new(), Vec::new(), Vec::new());
        for part in self.parts() {
            let read = self.read_part(ts_file, part, &mut ts)
                && self.read_part(equity_file, part, &mut equity)
                && (!with_cash || self.read_part(cash_file, part, &mut cash));
            if !read {
                return;
            }
            visit(&ts, &equity, with_cash.then_some(&cash[..]));
        }
    }

    /// Hands `visit` each chunk of `file`'s values; stops at the first failed read.
    fn read<T: bytemuck::Pod>(&self, file: &File, visit: &mut dyn FnMut(&[T])) {
        let mut values = Vec::new();
        for part in self.parts() {
            if !self.read_part(file, part, &mut values) {
                return;
            }
            visit(&values);
        }
    }
}

impl Curve for SpilledCurve {
    fn steps(&self) -> usize {
        self.steps
    }

    fn chunks(&self, visit: &mut dyn FnMut(CurveChunk<'_>)) {
        self.read_chunks(true, |ts, equity, cash| {
            visit(CurveChunk {
                ts,
                equity,
                cash: cash.unwrap_or_default(),
            });
        });
    }

    fn stamped_equity_chunks(&self, visit: &mut dyn FnMut(&[Timestamp], &[f64])) {
        self.read_chunks(false, |ts, equity, _| visit(ts, equity));
    }

    fn equity_chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        if let Some((_, equity, _)) = &self.files {
            self.read(equity, visit);
        }
    }

    fn cash_chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        if let Some((_, _, cash)) = &self.files {
            self.read(cash, visit);
        }
    }

    fn time_chunks(&self, visit: &mut dyn FnMut(&[Timestamp])) {
        if let Some((ts, _, _)) = &self.files {
            self.read(ts, visit);
        }
    }

    fn annualisation(&self) -> Option<Annualisation> {
        self.annualisation.clone()
    }

    fn span(&self) -> Option<(Timestamp, Timestamp)> {
        self.span
    }

    fn return_range(&self) -> FiniteRange {
        self.return_range
    }
}

/// Bytes of a fill on disk: time, order id, instrument, side, quantity, price, fee.
const FILL_BYTES: usize = 8 + 8 + 4 + 1 + 8 + 8 + 8;

/// Fills read back at a time.
const FILL_CHUNK: usize = 4_096;

fn encode(f: &FillRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&f.ts.0.to_le_bytes());
    out.extend_from_slice(&f.order_id.0.to_le_bytes());
    out.extend_from_slice(&f.instrument.0.to_le_bytes());
    out.push(u8::from(f.side == Side::Sell));
    for x in [f.qty, f.price, f.fee] {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn decode(b: &[u8; FILL_BYTES]) -> FillRecord {
    let word = |at: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&b[at..at + 8]);
        w
    };
    let mut four = [0; 4];
    four.copy_from_slice(&b[16..20]);
    FillRecord {
        ts: Timestamp(i64::from_le_bytes(word(0))),
        order_id: OrderId(u64::from_le_bytes(word(8))),
        instrument: InstrumentIdx(u32::from_le_bytes(four)),
        side: if b[20] == 0 { Side::Buy } else { Side::Sell },
        qty: f64::from_le_bytes(word(21)),
        price: f64::from_le_bytes(word(29)),
        fee: f64::from_le_bytes(word(37)),
    }
}

/// The fills of a run being written to disk as they are handed on.
#[derive(Debug)]
pub(crate) struct FillSpill {
    dir: PathBuf,
    file: ColumnFile,
    fills: usize,
}

fn fill_error(dir: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: dir.join("(the run's fills, kept on disk while it runs)"),
        source,
    }
}

impl FillSpill {
    /// Starts fills kept in an unnamed file in `dir`.
    ///
    /// # Errors
    /// The file cannot be created (the error names `dir`).
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            file: ColumnFile::create(dir).map_err(|e| fill_error(dir, e))?,
            fills: 0,
        })
    }

    /// Appends fills, the next in time order.
    ///
    /// # Errors
    /// A write failed (a full disk); the error names the run's folder.
    pub(crate) fn append(&mut self, fills: &[FillRecord]) -> Result<()> {
        let bytes = &mut self.file.bytes;
        bytes.clear();
        fills.iter().for_each(|f| encode(f, bytes));
        (self.file.file.write_all(bytes)).map_err(|e| fill_error(&self.dir, e))?;
        self.fills += fills.len();
        Ok(())
    }

    /// Completes the file and returns the fills to read back.
    ///
    /// # Errors
    /// The last writes failed; the error names the run's folder.
    pub(crate) fn finish(self) -> Result<SpilledFills> {
        let file = (self.file.into_file()).map_err(|e| fill_error(&self.dir, e))?;
        Ok(SpilledFills {
            dir: self.dir,
            file,
            fills: self.fills,
            failed: Mutex::new(None),
        })
    }
}

/// A run's fills on disk, read back in time order a few thousand at a time.
///
/// A read that fails ends the fills early and is kept: [`SpilledFills::check`] reports it, so
/// figures computed from them are not written.
#[derive(Debug)]
pub(crate) struct SpilledFills {
    dir: PathBuf,
    file: File,
    fills: usize,
    failed: Mutex<Option<std::io::Error>>,
}

impl SpilledFills {
    /// Returns the first read that failed, if any.
    ///
    /// # Errors
    /// Fills could not be read: figures computed since are incomplete.
    pub(crate) fn check(&self) -> Result<()> {
        let failed = self.failed.lock().map_or(None, |mut f| f.take());
        failed.map_or(Ok(()), |source| {
            Err(Error::Read {
                path: self
                    .dir
                    .join("(the run's fills, kept on disk while it ran)"),
                source,
            })
        })
    }
}

impl FillLog for SpilledFills {
    fn len(&self) -> usize {
        self.fills
    }

    fn fills(&self) -> Box<dyn Iterator<Item = FillRecord> + '_> {
        let (mut bytes, mut broken) = (Vec::new(), false);
        let parts = (0..self.fills).step_by(FILL_CHUNK);
        Box::new(parts.flat_map(move |at| {
            let n = FILL_CHUNK.min(self.fills - at);
            bytes.resize(n * FILL_BYTES, 0);
            let read = match broken {
                true => Ok(()),
                false => read_at(&self.file, &mut bytes, (at * FILL_BYTES) as u64),
            };
            if let Err(e) = read {
                broken = true;
                if let Ok(mut failed) = self.failed.lock() {
                    failed.get_or_insert(e);
                }
            }
            // After a failed read, nothing more: the fills end there.
            let part = if broken { &[][..] } else { &bytes[..] };
            part.as_chunks::<FILL_BYTES>()
                .0
                .iter()
                .map(decode)
                .collect::<Vec<_>>()
        }))
    }
}

/// Fills `buf` from `file` at `offset`, without moving a shared cursor, so passes may nest.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Fills `buf` from `file` at `offset`.
#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::EquityCurve;
    use engine::column::{CashColumn, Column, EquityColumn, Returns, TimeColumn};

    fn curve(n: usize) -> EquityCurve {
        let mut c = EquityCurve::default();
        for i in 0..n {
            let x = i as f64;
            c.push(Timestamp(i as i64 * 60), 100.0 + x.sin(), 50.0 - x.cos());
        }
        c
    }

    /// Every column, and the curve's chunks, read back as written, across chunk edges.
    #[test]
    fn a_spilled_curve_reads_back_what_was_written() {
        let dir = std::env::temp_dir();
        let whole = curve(2 * CHUNK + 17);
        let mut spill = CurveSpill::create(&dir).unwrap();
        // Appended in parts that do not line up with the chunks read back.
        for start in (0..whole.len()).step_by(40_000) {
            let r = start..(start + 40_000).min(whole.len());
            spill
                .append(
                    &whole.ts[r.clone()],
                    &whole.equity[r.clone()],
                    &whole.cash[r],
                )
                .unwrap();
        }
        let spilled = spill.finish().unwrap();
        assert_eq!(spilled.steps(), whole.len());
        let collect = |c: &dyn Fn(&mut Vec<f64>)| {
            let mut v = Vec::new();
            c(&mut v);
            v
        };
        let equity = collect(&|v| EquityColumn(&spilled).each(|x| v.push(x)));
        assert_eq!(equity, whole.equity);
        let cash = collect(&|v| CashColumn(&spilled).each(|x| v.push(x)));
        assert_eq!(cash, whole.cash);
        let mut ts = Vec::new();
        TimeColumn(&spilled).each(|t| ts.push(t));
        assert_eq!(ts, whole.ts.iter().map(|t| t.0).collect::<Vec<_>>());
        let r = collect(&|v| Returns(EquityColumn(&spilled)).each(|x| v.push(x)));
        let expected: Vec<f64> = whole.equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        assert_eq!(r, expected);
        let mut steps = EquityCurve::default();
        let mut sizes = Vec::new();
        spilled.chunks(&mut |c| {
            sizes.push(c.ts.len());
            for i in 0..c.ts.len() {
                steps.push(c.ts[i], c.equity[i], c.cash[i]);
            }
        });
        assert_eq!(sizes, [CHUNK, CHUNK, 17]);
        assert_eq!(steps, whole);
        let (mut ts, mut equity) = (Vec::new(), Vec::new());
        spilled.stamped_equity_chunks(&mut |t, e| {
            assert_eq!(t.len(), e.len());
            ts.extend_from_slice(t);
            equity.extend_from_slice(e);
        });
        assert_eq!((ts, equity), (whole.ts.clone(), whole.equity.clone()));
        // Worked out as the steps were written, as reading them back would.
        let read = engine::metrics::annualisation(&TimeColumn(&spilled));
        assert_eq!(spilled.annualisation(), Some(read));
        assert_eq!(
            spilled.span(),
            Some((whole.ts[0], whole.ts[whole.len() - 1]))
        );
        let returns = engine::metrics::simple_returns(&whole.equity);
        let (lo, hi) = (returns.iter()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
        let range = spilled.return_range();
        assert_eq!(range.bounds(), Some((lo, hi)));
        assert_eq!(range.finite(), returns.len() as u64);
        assert_eq!(whole.return_range(), range);
        spilled.check().unwrap();
    }

    #[test]
    fn an_empty_curve_has_no_chunks() {
        let spilled = CurveSpill::create(&std::env::temp_dir())
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(spilled.steps(), 0);
        let mut seen = 0;
        spilled.chunks(&mut |_| seen += 1);
        EquityColumn(&spilled).each(|_| seen += 1);
        assert_eq!(seen, 0);
        assert_eq!(
            (spilled.span(), spilled.return_range().bounds()),
            (None, None)
        );
        assert_eq!(SpilledCurve::empty().steps(), 0);
    }

    #[test]
    fn a_read_that_fails_ends_the_pass_and_is_reported() {
        let dir = std::env::temp_dir();
        // Empty files for a curve of 10 steps: every read comes up short.
        let empty = || tempfile::tempfile_in(&dir).unwrap();
        let spilled = SpilledCurve {
            dir: dir.join("run"),
            files: Some((empty(), empty(), empty())),
            steps: 10,
            ..SpilledCurve::empty()
        };
        let mut seen = 0;
        EquityColumn(&spilled).each(|_| seen += 1);
        spilled.chunks(&mut |_| seen += 1);
        assert_eq!(seen, 0, "no values from a failed read");
        let e = spilled.check().unwrap_err();
        assert!(e.to_string().contains("the run's curve"), "{e}");
        spilled.check().unwrap();
        // The timestamps and equity alone, as the report's passes read them.
        spilled.stamped_equity_chunks(&mut |_, _| seen += 1);
        assert_eq!(seen, 0, "no values from a failed read");
        assert!(spilled.check().is_err());
    }

    fn fill(k: usize) -> FillRecord {
        FillRecord {
            ts: Timestamp(k as i64 * 60 - 7),
            order_id: OrderId(u64::MAX - k as u64),
            instrument: InstrumentIdx(u32::MAX - 9 + k as u32 % 5),
            side: if k.is_multiple_of(3) {
                Side::Sell
            } else {
                Side::Buy
            },
            qty: k as f64 / 7.0 - 3.0,
            price: if k == 5 {
                f64::NAN
            } else {
                100.0 + (k as f64).sin()
            },
            fee: -0.0,
        }
    }

    /// Every field of every fill, read back as written, across the chunks it is read in.
    #[test]
    fn spilled_fills_read_back_what_was_written() {
        let fills: Vec<FillRecord> = (0..2 * FILL_CHUNK + 3).map(fill).collect();
        let mut spill = FillSpill::create(&std::env::temp_dir()).unwrap();
        for part in fills[..].chunks(1_000) {
            spill.append(part).unwrap();
        }
        let spilled = spill.finish().unwrap();
        assert_eq!(FillLog::len(&spilled), fills.len());
        let bits = |f: &FillRecord| format!("{f:?} {} {}", f.qty.to_bits(), f.fee.to_bits());
        for _ in 0..2 {
            let back: Vec<String> = spilled.fills().map(|f| bits(&f)).collect();
            assert_eq!(back, fills.iter().map(bits).collect::<Vec<_>>());
        }
        spilled.check().unwrap();
    }

    #[test]
    fn a_fill_read_that_fails_ends_the_fills_and_is_reported() {
        let dir = std::env::temp_dir();
        let spilled = SpilledFills {
            dir: dir.join("run"),
            file: tempfile::tempfile_in(&dir).unwrap(),
            fills: 10,
            failed: Mutex::new(None),
        };
        assert_eq!(spilled.fills().count(), 0);
        let e = spilled.check().unwrap_err();
        assert!(e.to_string().contains("the run's fills"), "{e}");
    }

    #[test]
    fn a_folder_that_does_not_exist_is_named() {
        let dir = std::env::temp_dir().join("quant-no-such-folder/inside");
        let e = CurveSpill::create(&dir).unwrap_err();
        assert!(e.to_string().contains("quant-no-such-folder"), "{e}");
    }
}
