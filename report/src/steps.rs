//! The step tables of a run (`equity`, `returns`, `positions`), written one part of consecutive
//! steps at a time: by [`StepWriter`] on its own thread while the run goes on (each chunk the
//! engine hands on ends a row group, and the orders, fills and round trips closed by then go
//! to `orders`, `fills` and `trades` as their rows make up a row group), or from a finished
//! run's curve in parts of the same size.
//! Both go through [`StepTables::write`], so the files are the same either way. The writer
//! keeps what the figures need of the records it wrote ([`engine::HandedOn`]): the trades
//! tallied and sampled, the fills on disk.
//!
//! Each file is written under a temporary name and renamed into place when complete. When a
//! write fails, every other file is closed after its last complete row group and kept as
//! `<table>.parquet.partial` (a readable Parquet file, never one that looks complete), and the
//! error names the file that failed.

use crate::error::{Error, Result};
use crate::files::{Formats, fill_table, order_table, trade_table};
use crate::spill::{CurveSpill, FillSpill, SpilledCurve, SpilledFills};
use crate::table::{Column, CsvWriter, ParquetWriter, Table};
use engine::metrics::RunningDrawdown;
use engine::{
    BacktestOutcome, FillRecord, HandedOn, Holdings, OrderRecord, StepChunk, StepSink, TradeRecord,
    TradeSample, TradeTally,
};
use market_data::{InstrumentId, Timestamp};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Consecutive steps of a run: the rows of one part of the step tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps<'a> {
    /// The run's index of the first step.
    pub(crate) first: usize,
    /// The steps' timestamps.
    pub(crate) ts: &'a [Timestamp],
    /// Equity after each step.
    pub(crate) equity: &'a [f64],
    /// Cash after each step.
    pub(crate) cash: &'a [f64],
    /// Holdings whose rows include these steps' (by the run's step index).
    pub(crate) holdings: &'a Holdings,
}

impl<'a> Steps<'a> {
    /// Returns the steps of `chunk`.
    pub(crate) fn of(chunk: &'a StepChunk) -> Self {
        Self {
            first: chunk.first,
            ts: &chunk.curve.ts,
            equity: &chunk.curve.equity,
            cash: &chunk.curve.cash,
            holdings: &chunk.holdings,
        }
    }

    fn len(&self) -> usize {
        self.ts.len()
    }
}

/// Appends `table` to the Parquet file in `file` as a row group of its own, creating the file
/// in `dir` (named after the table, tagged with `metadata`) at the first part: written out, a
/// later failure cannot cost it, and memory holds no rows of it. A file whose write failed is
/// dropped unclosed: its last row group may be incomplete.
fn write_part(
    file: &mut Option<ParquetWriter>,
    dir: &Path,
    metadata: &[(String, String)],
    table: Table,
) -> Result<()> {
    if file.is_none() {
        let path = dir.join(format!("{}.parquet", table.name));
        *file = Some(ParquetWriter::create(&path, &table, metadata)?);
    }
    let written = file
        .as_mut()
        .map_or(Ok(()), |f| f.write(table).and_then(|()| f.end_row_group()));
    if written.is_err() {
        *file = None;
    }
    written
}

/// `equity` of `steps`; `drawdown` has seen the equity before them, so the drawdowns are those
/// of the whole curve.
fn equity_table(steps: Steps<'_>, drawdown: &mut RunningDrawdown) -> Table {
    let drawdown = steps.equity.iter().map(|&e| drawdown.push(e)).collect();
    Table {
        name: "equity".into(),
        columns: vec![
            Column::time("timestamp", steps.ts.to_vec()),
            Column::float("equity", steps.equity.to_vec()),
            Column::float("cash", steps.cash.to_vec()),
            Column::float("drawdown", drawdown),
        ],
    }
}

/// `returns` of `steps`: the simple return of equity over each step against `before`, the
/// equity after the step before them (the initial cash before the first), so that they compound
/// to final equity / initial cash (quantstats' and pyfolio's input).
fn returns_table(steps: Steps<'_>, before: f64) -> Table {
    let previous = std::iter::once(before).chain(steps.equity.iter().copied());
    Table {
        name: "returns".into(),
        columns: vec![
            Column::time("timestamp", steps.ts.to_vec()),
            Column::float(
                "return",
                (steps.equity.iter().zip(previous))
                    .map(|(e, b)| e / b - 1.0)
                    .collect(),
            ),
        ],
    }
}

/// The instrument name of the cash rows of `positions`.
const CASH: &str = "cash";

/// `positions` of `steps`: per step, one row per held instrument (quantity, the price it is
/// valued at, value = quantity x price), then one `cash` row (quantity = value = cash, price 1),
/// so the values of a step add up to its equity and pivoting `value` by instrument gives
/// pyfolio's positions frame, `cash` column included. Flat instruments have no row (read them as
/// 0).
fn positions_table(steps: Steps<'_>, instruments: &[InstrumentId]) -> Table {
    let h = steps.holdings;
    let end = steps.first + steps.len();
    let mut row = h.step.partition_point(|s| *s < steps.first);
    let rows = h.step.partition_point(|s| *s < end) - row + steps.len();
    let mut ts = Vec::with_capacity(rows);
    // Codes into the run's instruments, then "cash".
    let cash_code = instruments.len() as u32;
    let mut instrument = Vec::with_capacity(rows);
    let (mut qty, mut price) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let steps_with_cash = steps.len().min(steps.ts.len()).min(steps.cash.len());
    let mut at = 0;
    while at < steps_with_cash {
        // The steps before the next one that holds something have their cash rows alone,
        // copied a stretch at a time (a run out of the market has nothing else).
        let held = (h.step.get(row)).map_or(steps_with_cash, |&s| s.saturating_sub(steps.first));
        let until = held.clamp(at, steps_with_cash);
        ts.extend_from_slice(&steps.ts[at..until]);
        qty.extend_from_slice(&steps.cash[at..until]);
        instrument.resize(ts.len(), cash_code);
        price.resize(ts.len(), 1.0);
        if until == steps_with_cash {
            break;
        }
        let (t, step) = (steps.ts[until], steps.first + until);
        while h.step.get(row) == Some(&step) {
            ts.push(t);
            instrument.push(h.instrument[row].get() as u32);
            qty.push(h.qty[row]);
            price.push(h.price[row]);
            row += 1;
        }
        ts.push(t);
        instrument.push(cash_code);
        qty.push(steps.cash[until]);
        price.push(1.0);
        at = until + 1;
    }
    let value = qty.iter().zip(&price).map(|(q, p)| q * p).collect();
    let names = (instruments.iter().map(ToString::to_string))
        .chain([CASH.to_string()])
        .collect();
    Table {
        name: "positions".into(),
        columns: vec![
            Column::time("timestamp", ts),
            Column::labels("instrument", names, instrument),
            Column::float("quantity", qty),
            Column::float("price", price),
            Column::float("value", value),
        ],
    }
}

/// The names of the step tables, which [`StepTables`] writes.
pub(crate) const STEP_TABLES: [&str; 3] = ["equity", "positions", "returns"];

/// The tables of a run's records, which [`StepTables`] writes from its chunks when asked to.
pub(crate) const RECORD_TABLES: [&str; 3] = ["orders", "fills", "trades"];

/// The step tables' files, open while parts are written to them in order.
#[derive(Debug)]
pub struct StepTables {
    dir: PathBuf,
    instruments: Vec<InstrumentId>,
    metadata: Vec<(String, String)>,
    formats: Formats,
    /// `equity.csv`, written until it would pass the CSV row limit.
    csv: LimitedCsv,
    /// `equity`, `positions`, `returns`, once their first part is written.
    parquet: [Option<ParquetWriter>; 3],
    /// `orders`, `fills` and `trades` ([`RECORD_TABLES`]), when written here, and their
    /// records held for the next row group.
    records: Option<[RecordFiles; 3]>,
    held: HeldRecords,
    /// Records of a table written as a row group ([`RECORD_GROUP_ROWS`]; fewer in tests).
    record_group: usize,
    /// The closed trades and fills written, summed up, and the fills on disk (when spilling).
    tally: TradeTally,
    sample: TradeSample,
    fills: Option<FillSpill>,
    /// The drawdown from the highest equity so far, and the last equity (the initial cash
    /// before the first step).
    drawdown: RunningDrawdown,
    previous: f64,
    steps: usize,
    /// Whether the curve is kept on disk for the run's figures (see [`crate::spill`]), and the
    /// files once the first part is written.
    spills: bool,
    spill: Option<CurveSpill>,
    /// Tests: the part whose write fails, as a full disk would fail `positions.parquet`.
    #[cfg(test)]
    fail_at_part: Option<usize>,
    /// Tests: whether completing the files fails after the record tables, as a full disk
    /// would fail `equity.csv`.
    #[cfg(test)]
    fail_at_finish: bool,
}

/// The files of a table of records written a row group at a time: its CSV twin while within
/// the row limit, its Parquet file, and the rows written.
#[derive(Debug)]
struct RecordFiles {
    csv: LimitedCsv,
    parquet: Option<ParquetWriter>,
    rows: usize,
}

/// Records a row group gathers before it is written: a run's chunks bring a few thousand, and
/// a row group each piled up the file's metadata (held until it closes) by a few hundred
/// bytes a column, 6 MB over a 20 M-step run, while a row group held open across chunks held
/// a page and a compressor a column (10-15 MB). Held as records: about 2 MB of orders, and at
/// most one chunk's more (a chunk ends at [`engine::CHUNK_ORDERS`] records).
const RECORD_GROUP_ROWS: usize = 8_192;

/// The orders, fills and round trips handed on and not written yet (fewer than
/// [`RECORD_GROUP_ROWS`] of each).
#[derive(Debug, Default)]
struct HeldRecords {
    orders: Vec<OrderRecord>,
    fills: Vec<FillRecord>,
    trades: Vec<TradeRecord>,
}

/// The table of the records `held` when there are at least `rows` (and one) of them, built by
/// `table` (whose instruments are `instruments`), leaving none held: the memory of no more than
/// a row group's kept for the next.
fn held_table<T>(
    held: &mut Vec<T>,
    rows: usize,
    table: fn(&[T], &[InstrumentId]) -> Table,
    instruments: &[InstrumentId],
) -> Option<Table> {
    if held.len() < rows.max(1) {
        return None;
    }
    let built = table(held, instruments);
    held.clear();
    held.shrink_to(RECORD_GROUP_ROWS);
    Some(built)
}

/// A table's CSV twin, written a part at a time while the table stays within the CSV row
/// limit: begun with the first part, dropped (never moved into place) once a part takes the
/// table past the limit.
#[derive(Debug)]
struct LimitedCsv {
    path: PathBuf,
    /// Whether it is still written.
    on: bool,
    file: Option<CsvWriter>,
}

impl LimitedCsv {
    fn new(path: PathBuf, on: bool) -> Self {
        Self {
            path,
            on,
            file: None,
        }
    }

    /// Writes `part`, which brings the table to `rows` rows.
    fn write(&mut self, part: &Table, rows: usize, formats: &Formats) -> Result<()> {
        if self.on && !formats.csv(rows) {
            self.on = false;
            self.file = None;
        }
        if !self.on {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(CsvWriter::create(&self.path, part)?);
        }
        let written = self.file.as_mut().map_or(Ok(()), |file| file.write(part));
        if written.is_err() {
            self.file = None;
        }
        written
    }

    /// Moves the file into place, if it is still written.
    fn finish(&mut self) -> Result<()> {
        self.file.take().map_or(Ok(()), CsvWriter::finish)
    }
}

/// What [`StepWriter::finish`] returns.
#[derive(Debug)]
pub struct Streamed {
    /// The whole curve, kept on disk, for the run's figures.
    pub curve: SpilledCurve,
    /// The tables (name, rows) left without their CSV twin by the CSV row limit.
    pub csv_left_out: Vec<(&'static str, usize)>,
    /// The closed trades and fills written, summed up, with the fills kept on disk (when
    /// spilling), for the outcome to hold in their place.
    pub handed_on: HandedOn,
    /// The same fills, to check after reading them.
    fills: Option<Arc<SpilledFills>>,
}

impl Streamed {
    fn empty() -> Self {
        Self {
            curve: SpilledCurve::empty(),
            csv_left_out: Vec::new(),
            handed_on: HandedOn::default(),
            fills: None,
        }
    }

    /// Returns the first read of the curve or the fills kept on disk that failed, if any.
    ///
    /// # Errors
    /// A part could not be read back: figures computed since are incomplete.
    pub fn check(&self) -> Result<()> {
        self.curve.check()?;
        self.fills.as_deref().map_or(Ok(()), SpilledFills::check)
    }
}

impl StepTables {
    /// Starts the step tables of a run over `instruments` into `dir` in `formats` (Parquet files
    /// tagged with `metadata`). `steps`, when known, is a number of steps the run will have at
    /// least: past the CSV row limit no `equity.csv` is begun. With `records`, the orders, fills and trades of each
    /// chunk go to `orders`, `fills` and `trades` (each CSV twin written until it passes the
    /// limit). Nothing is created until the first part.
    pub fn new(
        dir: &Path,
        instruments: Vec<InstrumentId>,
        initial_cash: f64,
        formats: Formats,
        metadata: Vec<(String, String)>,
        steps: Option<usize>,
        records: bool,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            instruments,
            metadata,
            csv: LimitedCsv::new(dir.join("equity.csv"), formats.csv(steps.unwrap_or(0))),
            formats,
            parquet: [None, None, None],
            records: records.then(|| {
                RECORD_TABLES.map(|name| RecordFiles {
                    csv: LimitedCsv::new(dir.join(format!("{name}.csv")), formats.csv),
                    parquet: None,
                    rows: 0,
                })
            }),
            held: HeldRecords::default(),
            record_group: RECORD_GROUP_ROWS,
            tally: TradeTally::default(),
            sample: TradeSample::default(),
            fills: None,
            drawdown: RunningDrawdown::default(),
            previous: initial_cash,
            steps: 0,
            spills: false,
            spill: None,
            #[cfg(test)]
            fail_at_part: None,
            #[cfg(test)]
            fail_at_finish: false,
        }
    }

    /// Returns the tables keeping the run's curve (and fills) on disk too, for
    /// [`StepTables::finish`] to return (a streamed run's figures read them there rather than
    /// from memory).
    #[must_use]
    pub fn spilling(mut self) -> Self {
        self.spills = true;
        self
    }

    /// Appends `steps` (the steps after those written before) to every file.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub(crate) fn write(&mut self, steps: Steps<'_>) -> Result<()> {
        let equity = equity_table(steps, &mut self.drawdown);
        let returns = returns_table(steps, self.previous);
        self.previous = steps.equity.last().copied().unwrap_or(self.previous);
        self.steps += steps.len();
        if self.spills {
            let spill = match &mut self.spill {
                Some(spill) => spill,
                None => self.spill.insert(CurveSpill::create(&self.dir)?),
            };
            spill.append(steps.ts, steps.equity, steps.cash)?;
        }
        self.csv.write(&equity, self.steps, &self.formats)?;
        #[cfg(test)]
        if self.formats.parquet
            && self.fail_at_part
                == Some((self.steps - steps.len()) / crate::table::PARQUET_ROW_GROUP_ROWS)
        {
            self.parquet[1] = None;
            return Err(Error::Write {
                path: self.dir.join("positions.parquet"),
                source: std::io::Error::other("No space left on device (simulated)"),
            });
        }
        if !self.formats.parquet {
            return Ok(());
        }
        // One file after the other: encoding the three at once on the pool's threads was about
        // a tenth faster, but the memory they held grew with the run (twice as fast as here).
        let tables = [equity, positions_table(steps, &self.instruments), returns];
        for (file, table) in self.parquet.iter_mut().zip(tables) {
            write_part(file, &self.dir, &self.metadata, table)?;
        }
        Ok(())
    }

    /// Appends the steps of `chunk`, and its orders, fills and trades when this writes them
    /// (summing the trades and fills up, and keeping the fills on disk when spilling).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_chunk(&mut self, chunk: &StepChunk) -> Result<()> {
        self.write(Steps::of(chunk))?;
        if self.records.is_none() {
            return Ok(());
        }
        self.tally.add_trades(&chunk.trades);
        self.tally.add_fills(&chunk.fills);
        self.sample.add(&chunk.trades);
        if self.spills && !chunk.fills.is_empty() {
            let spill = match &mut self.fills {
                Some(spill) => spill,
                None => self.fills.insert(FillSpill::create(&self.dir)?),
            };
            spill.append(&chunk.fills)?;
        }
        self.held.orders.extend_from_slice(&chunk.orders);
        self.held.fills.extend_from_slice(&chunk.fills);
        self.held.trades.extend_from_slice(&chunk.trades);
        self.write_held(self.record_group)
    }

    /// Writes the records held of each table that holds at least `rows` (and one) of them.
    fn write_held(&mut self, rows: usize) -> Result<()> {
        let instruments = &self.instruments;
        let tables = [
            held_table(&mut self.held.orders, rows, order_table, instruments),
            held_table(&mut self.held.fills, rows, fill_table, instruments),
            held_table(&mut self.held.trades, rows, trade_table, instruments),
        ];
        for (k, table) in tables.into_iter().enumerate() {
            if let Some(table) = table {
                self.write_records(k, table)?;
            }
        }
        Ok(())
    }

    /// Appends `table` to record table `k` of [`RECORD_TABLES`] (an empty table gives its
    /// header and schema).
    fn write_records(&mut self, k: usize, table: Table) -> Result<()> {
        let Some(files) = self.records.as_mut().map(|r| &mut r[k]) else {
            return Ok(());
        };
        files.rows += table.rows();
        files.csv.write(&table, files.rows, &self.formats)?;
        if self.formats.parquet {
            write_part(&mut files.parquet, &self.dir, &self.metadata, table)?;
        }
        Ok(())
    }

    /// Completes the files (an empty run gets their headers and schemas) and moves them into
    /// place; returns the tables (name, rows) left without their CSV twin by the row limit, and
    /// the curve kept on disk when [`StepTables::spilling`] (else an empty one).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn finish(mut self) -> Result<Streamed> {
        let completed = self.complete();
        if completed.is_err() {
            // The files not completed yet keep their complete row groups, as after a failed
            // part.
            self.abandon();
        }
        completed
    }

    /// Does [`StepTables::finish`]'s work, taking each file out as it is moved into place.
    fn complete(&mut self) -> Result<Streamed> {
        let mut left_out = Vec::new();
        if self.formats.csv && !self.formats.csv(self.steps) {
            left_out.push(("equity", self.steps));
        }
        self.write_held(1)?;
        for k in 0..RECORD_TABLES.len() {
            let Some(rows) = self.records.as_ref().map(|r| r[k].rows) else {
                break;
            };
            if rows == 0 {
                let empty = match k {
                    0 => order_table(&[], &self.instruments),
                    1 => fill_table(&[], &self.instruments),
                    _ => trade_table(&[], &self.instruments),
                };
                self.write_records(k, empty)?;
            }
            if self.formats.csv && !self.formats.csv(rows) {
                left_out.push((RECORD_TABLES[k], rows));
            }
        }
        for files in self.records.iter_mut().flatten() {
            files.csv.finish()?;
            if let Some(parquet) = files.parquet.take() {
                parquet.finish()?;
            }
        }
        if self.steps == 0 {
            let none = Holdings::default();
            let empty = Steps {
                first: 0,
                ts: &[],
                equity: &[],
                cash: &[],
                holdings: &none,
            };
            self.csv.on = self.formats.csv(0);
            self.write(empty)?;
        }
        #[cfg(test)]
        if self.fail_at_finish {
            return Err(Error::Write {
                path: self.dir.join("equity.csv"),
                source: std::io::Error::other("No space left on device (simulated)"),
            });
        }
        self.csv.finish()?;
        for file in self.parquet.iter_mut().filter_map(Option::take) {
            file.finish()?;
        }
        let curve = match self.spill.take() {
            Some(spill) => spill.finish()?,
            None => SpilledCurve::empty(),
        };
        let fills = match self.fills.take() {
            Some(spill) => Some(Arc::new(spill.finish()?)),
            None => None,
        };
        Ok(Streamed {
            curve,
            csv_left_out: left_out,
            handed_on: HandedOn {
                tally: std::mem::take(&mut self.tally),
                sample: std::mem::take(&mut self.sample),
                fills: fills.clone().map(|f| f as Arc<dyn engine::FillLog>),
            },
            fills,
        })
    }

    /// Appends the round trips still open at the run's end to `trades`, after the closed ones
    /// (not summed up: the outcome holds them).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_open_trades(&mut self, open: &[TradeRecord]) -> Result<()> {
        self.write_held(1)?;
        if open.is_empty() {
            return Ok(());
        }
        self.write_records(2, trade_table(open, &self.instruments))
    }

    /// Closes each Parquet file after its last complete row group as
    /// `<table>.parquet.partial`, after a failed write (records still held for their row group
    /// are not written); a file that cannot be closed is removed.
    fn abandon(mut self) {
        self.csv.file = None;
        let records = (self.records.take().into_iter().flatten()).filter_map(|files| files.parquet);
        for file in self
            .parquet
            .iter_mut()
            .filter_map(Option::take)
            .chain(records)
        {
            // Best effort: the error being reported is the one that stopped the run.
            let _ = file.finish_partial();
        }
    }
}

/// How many chunks may wait for the writer: the loop runs ahead of it by at most this many.
/// One: when the writer is the slower (it mostly is), more would only be held longer (a 20 M-
/// step run's peak memory was 7 MB higher with two), and when the loop is, none waits.
const QUEUE: usize = 1;

/// What the writer thread is sent.
#[derive(Debug)]
enum Message {
    /// A chunk of steps.
    Chunk(StepChunk),
    /// The run's last steps and records (those after the last chunk), and the round trips
    /// still open: write them and complete the files.
    Last(StepChunk, Vec<TradeRecord>),
}

/// Why the writer thread stopped, for the loop that finds it gone.
type Stopped = Arc<Mutex<Option<String>>>;

/// The thread that writes the [`StepTables`] of a run while it goes on, fed chunks of steps by
/// the [`StepSender`] the engine holds through a bounded channel, so memory holds at most
/// `QUEUE` chunks waiting. Dropped without [`StepWriter::finish`] (the run failed), it
/// abandons the files (see `StepTables::abandon`).
#[derive(Debug)]
pub struct StepWriter {
    sender: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<Result<Streamed>>>,
}

/// The engine's end of a [`StepWriter`]: a [`StepSink`] that sends each chunk to its thread.
#[derive(Debug)]
pub struct StepSender {
    sender: SyncSender<Message>,
    stopped: Stopped,
    /// Chunks the thread has written and emptied, for the loop to fill again.
    spares: Receiver<StepChunk>,
}

impl StepWriter {
    /// Starts the thread writing `tables` (see [`StepTables::spilling`] for the curve that
    /// [`StepWriter::finish`] returns).
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(tables: StepTables) -> Result<(Self, StepSender)> {
        let (sender, receiver) = sync_channel(QUEUE);
        let (give_back, spares) = sync_channel(QUEUE + 1);
        let stopped = Stopped::default();
        let told = Arc::clone(&stopped);
        let thread = std::thread::Builder::new()
            .name("step-writer".into())
            .spawn(move || {
                let written = write_all(tables, &receiver, &give_back);
                if let Err(e) = &written {
                    *told
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(chain(e));
                }
                written
            })
            .map_err(|source| Error::Write {
                path: PathBuf::from("(the step writer's thread)"),
                source,
            })?;
        let writer = Self {
            sender: Some(sender.clone()),
            thread: Some(thread),
        };
        Ok((
            writer,
            StepSender {
                sender,
                stopped,
                spares,
            },
        ))
    }

    /// Writes the run's last steps and records, `last` (what the engine did not hand on: its
    /// outcome's; `last.first` is not read), and the round trips still `open` at its end,
    /// completes the files and returns what [`StepTables::finish`] does.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn finish(mut self, last: StepChunk, open_trades: Vec<TradeRecord>) -> Result<Streamed> {
        if let Some(sender) = self.sender.take() {
            // When the writer stopped on an error, joining returns it.
            let _ = sender.send(Message::Last(last, open_trades));
        }
        self.join()
    }

    /// Closes the channel, waits for the thread and returns what it returned.
    fn join(&mut self) -> Result<Streamed> {
        self.sender = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(Streamed::empty()),
        }
    }
}

impl Drop for StepWriter {
    fn drop(&mut self) {
        // Unless finished, the thread sees the channel close and abandons the files; the
        // error, if any, was the run's to report.
        if !std::thread::panicking() {
            let _ = self.join();
        }
    }
}

/// An error with its causes, on one line.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// The writer thread: the chunks in order, then the last steps, and the files completed. On an
/// error, or when the channel closes before the last steps (the run failed elsewhere), the files
/// are abandoned (see [`StepTables::abandon`]); the loop's next send then fails and stops it.
fn write_all(
    mut tables: StepTables,
    messages: &Receiver<Message>,
    spares: &SyncSender<StepChunk>,
) -> Result<Streamed> {
    for message in messages {
        let (chunk, open) = match message {
            Message::Chunk(chunk) => (chunk, None),
            Message::Last(mut chunk, open) => {
                chunk.first = tables.steps;
                (chunk, Some(open))
            }
        };
        let written = (tables.write_chunk(&chunk)).and_then(|()| {
            open.as_deref()
                .map_or(Ok(()), |o| tables.write_open_trades(o))
        });
        if let Err(e) = written {
            tables.abandon();
            return Err(e);
        }
        if open.is_some() {
            return tables.finish();
        }
        // Handed back emptied, so the loop fills the same few chunks all run long.
        let mut spare = chunk;
        spare.curve.ts.clear();
        spare.curve.equity.clear();
        spare.curve.cash.clear();
        spare.holdings.clear();
        spare.orders.clear();
        spare.fills.clear();
        spare.trades.clear();
        let _ = spares.try_send(spare);
    }
    tables.abandon();
    Ok(Streamed::empty())
}

impl StepSink for StepSender {
    fn spare(&mut self) -> Option<StepChunk> {
        self.spares.try_recv().ok()
    }

    fn steps(
        &mut self,
        chunk: StepChunk,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.sender.send(Message::Chunk(chunk)).is_ok() {
            return Ok(());
        }
        // The thread ended early, on an error naming the file.
        let why = self.stopped.lock().ok().and_then(|w| w.clone());
        Err(why
            .unwrap_or_else(|| "the writer of the step tables stopped".into())
            .into())
    }
}

/// Returns one of the step tables of a finished run kept whole in memory, by name, or `None`
/// for another name.
pub(crate) fn step_table(outcome: &BacktestOutcome, name: &str) -> Option<Table> {
    let c = &outcome.curve;
    let whole = Steps {
        first: 0,
        ts: &c.ts,
        equity: &c.equity,
        cash: &c.cash,
        holdings: &outcome.holdings,
    };
    match name {
        "equity" => Some(equity_table(whole, &mut RunningDrawdown::default())),
        "positions" => Some(positions_table(whole, &outcome.instruments)),
        "returns" => Some(returns_table(whole, outcome.initial_cash)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `positions_table` of a part against a plain loop over its steps: sparse holdings (some
    /// at a part's first or last step, some past it), cash shorter than the part's steps.
    #[test]
    fn positions_equal_a_row_by_row_loop_over_any_part() {
        let steps = 300;
        let mut h = Holdings::default();
        for step in (0..steps).filter(|s| s % 7 == 0 || s % 50 == 49 || s % 50 == 0) {
            for k in 0..1 + step % 2 {
                h.step.push(step);
                h.instrument.push(InstrumentIdx(k as u32));
                h.qty.push(step as f64 + 0.5);
                h.price.push(10.0 + k as f64);
            }
        }
        let ts: Vec<Timestamp> = (0..steps).map(|s| Timestamp(s as i64 * 60)).collect();
        let cash: Vec<f64> = (0..steps).map(|s| 1_000.0 - s as f64).collect();
        let instruments = [InstrumentId::new("A"), InstrumentId::new("B")];
        for (first, len, cash_len) in [
            (0, 300, 300),
            (0, 50, 50),
            (50, 100, 100),
            (49, 2, 2),
            (1, 6, 6),
            (100, 50, 20),
            (250, 50, 0),
        ] {
            let part = Steps {
                first,
                ts: &ts[first..first + len],
                equity: &cash[first..first + len],
                cash: &cash[first..first + cash_len],
                holdings: &h,
            };
            let mut want: (Vec<Timestamp>, Vec<u32>, Vec<f64>, Vec<f64>) = Default::default();
            for step in first..first + cash_len {
                for row in (0..h.step.len()).filter(|&r| h.step[r] == step) {
                    want.0.push(ts[step]);
                    want.1.push(h.instrument[row].get() as u32);
                    want.2.push(h.qty[row]);
                    want.3.push(h.price[row]);
                }
                want.0.push(ts[step]);
                want.1.push(2);
                want.2.push(cash[step]);
                want.3.push(1.0);
            }
            let table = positions_table(part, &instruments);
            use crate::table::Values;
            let values: Vec<&Values> = table.columns.iter().map(|c| &c.values).collect();
            let [
                Values::Time(t),
                Values::Labels { codes, names },
                Values::Float(q),
                Values::Float(p),
                Values::Float(v),
            ] = values[..]
            else {
                panic!("positions' columns: {values:?}");
            };
            assert_eq!(names, &["A", "B", "cash"]);
            assert_eq!(
                (t, codes, q, p),
                (&want.0, &want.1, &want.2, &want.3),
                "part {first}+{len}"
            );
            let value: Vec<f64> = want.2.iter().zip(&want.3).map(|(q, p)| q * p).collect();
            assert_eq!(v, &value);
        }
    }
    use crate::files::{Format, RunInfo, write_results};
    use engine::{
        EquityCurve, FillRecord, OrderId, OrderRecord, OrderRequest, OrderStatus, Size, Summary,
    };
    use market_data::{InstrumentIdx, Side};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    const PART: usize = crate::table::PARQUET_ROW_GROUP_ROWS;

    /// A run of `steps` one-minute steps over two instruments (`files`' long run), with an
    /// order every 97 steps filled the step after, a round trip closed by every second fill,
    /// and one left open.
    fn run(steps: usize) -> BacktestOutcome {
        let mut run = crate::files::tests::long_run(steps);
        let curve = &run.curve;
        // An order every 97 steps, closed the step after.
        let orders = (0..steps / 97)
            .map(|k| {
                let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
                let one = InstrumentIdx((k % 2) as u32);
                let request = OrderRequest::market(one, side, Size::Auto);
                let created = curve.ts[k * 97];
                let mut r = OrderRecord::working(OrderId(k as u64 + 1), request, created);
                r.status = OrderStatus::Filled;
                r.closed = Some(curve.ts[k * 97 + 1]);
                (r.filled, r.avg_price, r.fees) = (2.0 + k as f64, 50.0 + k as f64 / 7.0, 0.25);
                r
            })
            .collect();
        run.orders = orders;
        run.fills = (run.orders.iter())
            .map(|r| FillRecord {
                ts: r.closed.unwrap(),
                order_id: r.id,
                instrument: r.request.instrument,
                side: r.request.side,
                qty: r.filled,
                price: r.avg_price,
                fee: r.fees,
            })
            .collect();
        let trade = |entry: &FillRecord, exit: &FillRecord, open| TradeRecord {
            instrument: entry.instrument,
            side: entry.side,
            qty: entry.qty,
            entry_time: entry.ts,
            entry_price: entry.price,
            exit_time: exit.ts,
            exit_price: exit.price,
            pnl: exit.price - entry.price - 0.5,
            ret: exit.price / entry.price - 1.0,
            fees: 0.5,
            open,
        };
        run.trades = (run.fills.chunks_exact(2))
            .map(|f| trade(&f[0], &f[1], false))
            .collect();
        let last = run.fills.last().unwrap();
        run.open_trades = vec![trade(last, last, true)];
        run
    }

    /// The steps `rows` of `o` as the engine hands them on.
    fn chunk(o: &BacktestOutcome, rows: std::ops::Range<usize>) -> StepChunk {
        let c = &o.curve;
        let h = &o.holdings;
        let held =
            h.step.partition_point(|s| *s < rows.start)..h.step.partition_point(|s| *s < rows.end);
        // Records closed by the chunk's last step, as the engine hands them on.
        let within =
            |t: market_data::Timestamp| (c.ts[rows.start]..=c.ts[rows.end - 1]).contains(&t);
        StepChunk {
            first: rows.start,
            curve: EquityCurve {
                ts: c.ts[rows.clone()].to_vec(),
                equity: c.equity[rows.clone()].to_vec(),
                cash: c.cash[rows.clone()].to_vec(),
            },
            holdings: Holdings {
                step: h.step[held.clone()].to_vec(),
                instrument: h.instrument[held.clone()].to_vec(),
                qty: h.qty[held.clone()].to_vec(),
                price: h.price[held].to_vec(),
            },
            orders: (o.orders.iter())
                .filter(|r| within(r.closed.unwrap()))
                .cloned()
                .collect(),
            fills: o.fills.iter().filter(|f| within(f.ts)).copied().collect(),
            trades: (o.trades.iter())
                .filter(|t| within(t.exit_time))
                .copied()
                .collect(),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("report-steps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn tables(dir: &Path, o: &BacktestOutcome, formats: Formats) -> StepTables {
        StepTables::new(
            dir,
            o.instruments.clone(),
            o.initial_cash,
            formats,
            Vec::new(),
            None,
            true,
        )
    }

    /// The names of the files in `dir`, sorted.
    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The rows and row groups of a Parquet file, and its batches.
    fn read(path: &Path) -> (usize, Vec<arrow::record_batch::RecordBatch>) {
        let file = std::fs::File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let groups = builder.metadata().num_row_groups();
        (
            groups,
            builder.build().unwrap().map(Result::unwrap).collect(),
        )
    }

    fn rows(batches: &[arrow::record_batch::RecordBatch]) -> usize {
        batches
            .iter()
            .map(arrow::record_batch::RecordBatch::num_rows)
            .sum()
    }

    #[test]
    fn streamed_chunks_write_the_files_of_the_whole_run() {
        let steps = 2 * PART + 777;
        let o = run(steps);
        let both = Formats::listed(&[Format::Parquet, Format::Csv]);
        let (whole, streamed) = (scratch("whole"), scratch("streamed"));
        let info = RunInfo {
            formats: both,
            ..RunInfo::default()
        };
        let summary = Summary::new(&o, None);
        let (config, extra) = (serde_json::Value::Null, serde_json::Map::new());
        write_results(&whole, &o, &summary, config, extra, None, &info).unwrap();
        let spilling = tables(&streamed, &o, both).spilling();
        let (writer, mut sender) = StepWriter::start(spilling).unwrap();
        for first in (0..2 * PART).step_by(PART) {
            sender.steps(chunk(&o, first..first + PART)).unwrap();
        }
        drop(sender);
        let tail = chunk(&o, 2 * PART..steps);
        let done = writer.finish(tail, o.open_trades.clone()).unwrap();
        let mut kept = EquityCurve::default();
        engine::column::Curve::chunks(&done.curve, &mut |c| {
            for i in 0..c.ts.len() {
                kept.push(c.ts[i], c.equity[i], c.cash[i]);
            }
        });
        assert!(kept == o.curve, "the writer keeps the whole curve on disk");
        done.curve.check().unwrap();
        assert!(done.csv_left_out.is_empty());
        let read_text = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        for table in RECORD_TABLES {
            let file = format!("{table}.csv");
            assert!(
                read_text(&whole, &file) == read_text(&streamed, &file),
                "{file} the same"
            );
        }
        let lines = |file: &str| read_text(&streamed, file).lines().count();
        assert_eq!(lines("orders.csv"), 1 + steps / 97);
        assert_eq!(
            lines("trades.csv"),
            1 + steps / 97 / 2 + 1,
            "closed, then the open one"
        );
        assert!(
            o.trades.len() > 600 && o.fills.len() > 1200,
            "records in every chunk"
        );
        // What the outcome holds in the records' place: their figures and the fills on disk.
        let handed = &done.handed_on;
        let whole_tally = engine::TradeTally::of(&o);
        assert_eq!(
            format!("{:?}", handed.tally),
            format!("{whole_tally:?}"),
            "the same sums, bit for bit"
        );
        assert_eq!(handed.sample.seen(), o.trades.len());
        let back: Vec<FillRecord> = handed.fills.as_ref().unwrap().fills().collect();
        assert!(back == o.fills, "every fill kept on disk, in order");
        done.check().unwrap();
        let text = |dir: &Path| read_text(dir, "equity.csv");
        assert!(text(&whole) == text(&streamed), "equity.csv the same");
        // Drawdowns against the running peak of the whole curve, by a plain loop.
        let mut peak = f64::NEG_INFINITY;
        let last = o.curve.equity.iter().map(|e| {
            peak = peak.max(*e);
            e / peak - 1.0
        });
        let last = last.last().unwrap();
        assert!(text(&streamed).trim_end().ends_with(&format!(",{last}")));
        for name in STEP_TABLES.into_iter().chain(RECORD_TABLES) {
            let file = format!("{name}.parquet");
            let ((_, a), (groups, b)) = (read(&whole.join(&file)), read(&streamed.join(&file)));
            assert_eq!(a, b, "{file}");
            if STEP_TABLES.contains(&name) && name != "positions" {
                assert_eq!(
                    (rows(&b), groups),
                    (steps, 3),
                    "{file}: a row group per chunk"
                );
            }
        }
        let held: usize = (0..steps)
            .map(|i| (0..2).filter(|k| !(i + k).is_multiple_of(3)).count())
            .sum();
        assert_eq!(
            rows(&read(&streamed.join("positions.parquet")).1),
            held + steps
        );
        for dir in [whole, streamed] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn a_long_unknown_run_drops_its_csv_past_the_limit() {
        let o = run(PART + 10);
        let dir = scratch("limit");
        let formats = Formats {
            csv_max_rows: PART + 9,
            ..Formats::default()
        };
        let mut t = tables(&dir, &o, formats);
        t.write_chunk(&chunk(&o, 0..PART)).unwrap();
        t.write_chunk(&chunk(&o, PART..PART + 10)).unwrap();
        assert_eq!(t.finish().unwrap().csv_left_out, [("equity", PART + 10)]);
        let names = file_names(&dir);
        // The few orders, fills and trades keep their CSV; no temporary file is left.
        assert!(
            !names.iter().any(|n| n.starts_with("equity.csv")),
            "{names:?}"
        );
        for table in RECORD_TABLES {
            assert!(names.contains(&format!("{table}.csv")), "{names:?}");
        }
        assert_eq!(names.len(), 9, "{names:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_stops_the_run_and_keeps_complete_row_groups() {
        let o = run(8 * PART);
        let dir = scratch("full");
        let mut t = tables(&dir, &o, Formats::default());
        t.fail_at_part = Some(2);
        // A part brings 675 or 676 orders and fills, and 337 or 338 round trips.
        t.record_group = 600;
        let (writer, mut sender) = StepWriter::start(t).unwrap();
        // The loop goes on until its send finds the writer stopped.
        let e = (0..8)
            .find_map(|k| sender.steps(chunk(&o, k * PART..(k + 1) * PART)).err())
            .expect("the run is stopped");
        assert!(e.to_string().contains("positions.parquet"), "{e}");
        assert!(e.to_string().contains("No space left"), "{e}");
        drop(sender);
        let e = writer.finish(StepChunk::default(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("positions.parquet"), "{e}");
        let names = file_names(&dir);
        // Nothing looks complete; the file that failed is gone; the others hold two parts.
        let (equity, fills, orders, returns, trades) = (
            "equity.parquet.partial",
            "fills.parquet.partial",
            "orders.parquet.partial",
            "returns.parquet.partial",
            "trades.parquet.partial",
        );
        assert_eq!(names, [equity, fills, orders, returns, trades]);
        // An order every 97 steps, closed (and filled) the step after; a trade every two. The
        // orders and fills make a row group a part; the round trips one of both parts, held
        // until there were 600.
        let closed = (2 * PART - 2) / 97 + 1;
        let records = [
            (orders, 2, closed),
            (fills, 2, closed),
            (trades, 1, closed / 2),
        ];
        for (name, groups_written, want) in records {
            let (groups, batches) = read(&dir.join(name));
            assert_eq!((groups, rows(&batches)), (groups_written, want), "{name}");
        }
        for name in [equity, returns] {
            let (groups, batches) = read(&dir.join(name));
            assert_eq!((groups, rows(&batches)), (2, 2 * PART), "{name}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failure_while_completing_keeps_the_files_not_yet_complete_as_partial() {
        let o = run(3 * PART);
        let dir = scratch("full-at-end");
        let mut t = tables(&dir, &o, Formats::default());
        t.fail_at_finish = true;
        let (writer, mut sender) = StepWriter::start(t).unwrap();
        for k in 0..3 {
            sender.steps(chunk(&o, k * PART..(k + 1) * PART)).unwrap();
        }
        drop(sender);
        let e = writer.finish(StepChunk::default(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("equity.csv"), "{e}");
        let names = file_names(&dir);
        // The record tables were complete before the failure; every part of the step tables
        // was written whole, so none is lost.
        assert_eq!(
            names,
            [
                "equity.parquet.partial",
                "fills.csv",
                "fills.parquet",
                "orders.csv",
                "orders.parquet",
                "positions.parquet.partial",
                "returns.parquet.partial",
                "trades.csv",
                "trades.parquet",
            ]
        );
        for name in ["equity.parquet.partial", "returns.parquet.partial"] {
            let (groups, batches) = read(&dir.join(name));
            assert_eq!((groups, rows(&batches)), (3, 3 * PART), "{name}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
