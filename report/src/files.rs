//! The files of the output contract: `summary.json`, `trades`, `fills`, `orders`, `equity` (and
//! `attributions` for model-driven runs) as CSV and Parquet, and `report.json`/`report.html`.

use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::render_report;
use crate::steps::{RECORD_TABLES, STEP_TABLES, StepTables, Steps, step_table};
use crate::table::{Column, CsvWriter, ParquetWriter, Table};
use engine::{BacktestOutcome, FillRecord, Summary, TradeRecord};
use market_data::InstrumentId;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::Path;

/// `trades` of the round trips `all` of a run over `instruments` (closed, then open ones).
pub(crate) fn trade_table(all: &[TradeRecord], instruments: &[InstrumentId]) -> Table {
    Table {
        name: "trades".into(),
        columns: vec![
            Column::instruments("instrument", instruments, all.iter().map(|t| t.instrument)),
            Column::few(
                "side",
                all.iter().map(|t| {
                    if t.side == market_data::Side::Buy {
                        "long"
                    } else {
                        "short"
                    }
                }),
            ),
            Column::float("quantity", all.iter().map(|t| t.qty).collect()),
            Column::time("entry_time", all.iter().map(|t| t.entry_time).collect()),
            Column::float("entry_price", all.iter().map(|t| t.entry_price).collect()),
            Column::opt_time(
                "exit_time",
                all.iter()
                    .map(|t| (!t.open).then_some(t.exit_time))
                    .collect(),
            ),
            Column::float("exit_price", all.iter().map(|t| t.exit_price).collect()),
            Column::float("pnl", all.iter().map(|t| t.pnl).collect()),
            Column::float("return", all.iter().map(|t| t.ret).collect()),
            Column::float("fees", all.iter().map(|t| t.fees).collect()),
            Column::few(
                "status",
                all.iter().map(|t| if t.open { "open" } else { "closed" }),
            ),
        ],
    }
}

/// `fills` of the fills `f` of a run over `instruments`.
pub(crate) fn fill_table(f: &[FillRecord], instruments: &[InstrumentId]) -> Table {
    Table {
        name: "fills".into(),
        columns: vec![
            Column::time("timestamp", f.iter().map(|x| x.ts).collect()),
            Column::int("order_id", f.iter().map(|x| x.order_id.0).collect()),
            Column::instruments("instrument", instruments, f.iter().map(|x| x.instrument)),
            Column::few("side", f.iter().map(|x| x.side.as_str())),
            Column::float("quantity", f.iter().map(|x| x.qty).collect()),
            Column::float("price", f.iter().map(|x| x.price).collect()),
            Column::float("fee", f.iter().map(|x| x.fee).collect()),
        ],
    }
}

/// `orders` of the records `o` of a run over `instruments`.
pub(crate) fn order_table(o: &[engine::OrderRecord], instruments: &[InstrumentId]) -> Table {
    let size = |r: &engine::OrderRecord| match r.request.size {
        engine::Size::Units(q) => q.0.to_string(),
        engine::Size::Auto => "auto".into(),
        engine::Size::Scaled(f) => format!("auto x{f}"),
        engine::Size::ClosePosition => "close_position".into(),
    };
    let price = |p: Option<market_data::Price>| p.map_or(f64::NAN, |p| p.0);
    Table {
        name: "orders".into(),
        columns: vec![
            Column::int("order_id", o.iter().map(|r| r.id.0).collect()),
            Column::time("created", o.iter().map(|r| r.created).collect()),
            Column::instruments(
                "instrument",
                instruments,
                o.iter().map(|r| r.request.instrument),
            ),
            Column::few("side", o.iter().map(|r| r.request.side.as_str())),
            Column::few("kind", o.iter().map(|r| r.request.kind.as_str())),
            Column::text("size", o.iter().map(size).collect()),
            Column::float(
                "limit_price",
                o.iter()
                    .map(|r| price(r.request.kind.limit_price()))
                    .collect(),
            ),
            Column::float(
                "stop_price",
                o.iter()
                    .map(|r| price(r.request.kind.trigger_price()))
                    .collect(),
            ),
            Column::few("time_in_force", o.iter().map(|r| r.request.tif.as_str())),
            Column::int("tag", o.iter().map(|r| u64::from(r.request.tag)).collect()),
            Column::few("status", o.iter().map(|r| r.status.as_str())),
            Column::opt_time("closed", o.iter().map(|r| r.closed).collect()),
            Column::float("filled_quantity", o.iter().map(|r| r.filled).collect()),
            Column::float(
                "avg_fill_price",
                o.iter()
                    .map(|r| {
                        if r.filled > 0.0 {
                            r.avg_price
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            ),
            Column::float("fees", o.iter().map(|r| r.fees).collect()),
            // Null (an empty CSV cell) for orders nothing refused, so readers need not treat ""
            // as "no reason".
            Column::opt_text(
                "reason",
                o.iter().map(|r| r.reason.map(|x| x.describe())).collect(),
            ),
        ],
    }
}

/// `attributions`: one row per explained order, keyed by `order_id`: the model id, the class
/// explained, every class probability (`p_<class>`, classes of the first row), and the top
/// features with their contributions (`feature_1`, `contribution_1`, ...).
fn attribution_table(outcome: &BacktestOutcome) -> Table {
    let a = &outcome.attributions;
    let classes: Vec<&str> = a.first().map_or_else(Vec::new, |first| {
        (first.attribution.probabilities())
            .map(|(c, _)| c)
            .collect()
    });
    let top = a.iter().map(|x| x.attribution.top_len()).max().unwrap_or(0);
    let instrument = |x: &engine::OrderAttribution| {
        (outcome.instruments.get(x.instrument.get()))
            .map_or_else(|| "?".into(), ToString::to_string)
    };
    let mut columns = vec![
        Column::int("order_id", a.iter().map(|x| x.order.0).collect()),
        Column::time("created", a.iter().map(|x| x.ts).collect()),
        Column::text("instrument", a.iter().map(instrument).collect()),
        Column::text(
            "model_id",
            a.iter()
                .map(|x| x.attribution.model_id().to_string())
                .collect(),
        ),
        Column::text(
            "class",
            (a.iter())
                .map(|x| x.attribution.class_name().to_string())
                .collect(),
        ),
    ];
    for class in classes {
        let p = |x: &engine::OrderAttribution| {
            (x.attribution.probabilities())
                .find(|&(c, _)| c == class)
                .map_or(f64::NAN, |(_, p)| p)
        };
        columns.push(Column::float(
            format!("p_{class}"),
            a.iter().map(p).collect(),
        ));
    }
    for k in 0..top {
        columns.push(Column::text(
            format!("feature_{}", k + 1),
            (a.iter())
                .map(|x| (x.attribution.top().nth(k)).map_or_else(String::new, |t| t.0.to_string()))
                .collect(),
        ));
        columns.push(Column::float(
            format!("contribution_{}", k + 1),
            (a.iter())
                .map(|x| (x.attribution.top().nth(k)).map_or(f64::NAN, |t| t.1))
                .collect(),
        ));
    }
    Table {
        name: "attributions".into(),
        columns,
    }
}

/// Which run wrote a folder's files, stored as key-value metadata in each of its Parquet files
/// (`quant.run_id`, `quant.config_hash`, `quant.strategy`, `quant.version`), so a file found
/// alone still names its run; and the formats its config asked for.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The run's id (its folder's name, or the time it was written with `--out`).
    pub run_id: String,
    /// A stable hash of the config it ran.
    pub config_hash: String,
    /// The strategy's name.
    pub strategy: String,
    /// The formats of its tables (`[output] formats`).
    pub formats: Formats,
    /// Whether its step tables (`equity`, `positions`, `returns`), `orders`, `fills` and `trades`
    /// were written while it ran (by a [`crate::StepWriter`]), so writing its results leaves
    /// them as they are.
    pub streamed: bool,
}

/// A format of a run's tables (`[output] formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Format {
    /// `<table>.parquet`, with the run's metadata.
    Parquet,
    /// `<table>.csv`.
    Csv,
}

impl Format {
    const ALL: [(&'static str, Format); 2] = [("parquet", Format::Parquet), ("csv", Format::Csv)];
}

impl TryFrom<String> for Format {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Self, String> {
        (Self::ALL.iter())
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown format `{name}`, expected `parquet` or `csv`{}",
                    market_data::text::did_you_mean(&name, Self::ALL.iter().map(|(n, _)| *n))
                )
            })
    }
}

impl From<Format> for String {
    fn from(format: Format) -> Self {
        let name = Format::ALL.iter().find(|(_, f)| *f == format);
        name.map_or("", |(n, _)| n).to_string()
    }
}

/// Tables with more rows than this get no CSV twin unless `[output] formats` names `csv`:
/// about a spreadsheet's limit (1,048,576 rows), past which a CSV is read by programs that
/// read Parquet faster anyway, and writing it would cost a long run more than the run itself.
pub const DEFAULT_CSV_MAX_ROWS: usize = 1_000_000;

/// The formats of a run's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// Whether tables are written as Parquet (`positions` and `returns` only ever are).
    pub parquet: bool,
    /// Whether tables are written as CSV, ...
    pub csv: bool,
    /// ... when they have at most this many rows.
    pub csv_max_rows: usize,
}

impl Default for Formats {
    /// Parquet, and CSV for tables up to [`DEFAULT_CSV_MAX_ROWS`] rows.
    fn default() -> Self {
        Self {
            parquet: true,
            csv: true,
            csv_max_rows: DEFAULT_CSV_MAX_ROWS,
        }
    }
}

impl Formats {
    /// Returns exactly the formats listed: every table in each.
    pub fn listed(formats: &[Format]) -> Self {
        Self {
            parquet: formats.contains(&Format::Parquet),
            csv: formats.contains(&Format::Csv),
            csv_max_rows: usize::MAX,
        }
    }

    /// Returns whether a table of `rows` rows gets a CSV file.
    pub fn csv(&self, rows: usize) -> bool {
        self.csv && rows <= self.csv_max_rows
    }
}

impl RunInfo {
    /// Returns the key-value pairs; the version is the workspace's, which every crate shares.
    pub fn metadata(&self) -> Vec<(String, String)> {
        [
            ("quant.run_id", &self.run_id[..]),
            ("quant.config_hash", &self.config_hash),
            ("quant.strategy", &self.strategy),
            ("quant.version", env!("CARGO_PKG_VERSION")),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec()
    }
}

/// Returns what `summary.json` holds: the summary's figures, then `extra`, then the `config`
/// the run came from.
pub fn summary_document(
    summary: &Summary,
    config: serde_json::Value,
    extra: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut json = match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    json.extend(extra);
    json.insert("config".into(), config);
    json
}

/// Returns one of a run's tables by its file's stem: `trades`, `fills`, `orders`, `equity`,
/// `positions`, `returns` or `attributions` (columns as in those files), or `None` for another
/// name.
pub fn result_table(outcome: &BacktestOutcome, name: &str) -> Option<Table> {
    if let Some(table) = step_table(outcome, name) {
        return Some(table);
    }
    let table = result_tables(outcome)
        .into_iter()
        .find(|t| t.name == name)?;
    Some((table.part)(0..table.len))
}

/// Rows per part of a table written in parts: one row group of its Parquet file.
const PART_ROWS: usize = crate::table::PARQUET_ROW_GROUP_ROWS;

/// One of a run's tables, built a part at a time so no copy of a whole long table is ever
/// held: a part is one row group of its Parquet file and a run of lines of its CSV.
struct ResultTable<'a> {
    name: &'static str,
    /// Its rows; for `positions`, the steps (each gives its held instruments and cash).
    len: usize,
    /// Whether it has a CSV twin (not `positions` and `returns`, read by pandas, quantstats
    /// and pyfolio, which take Parquet).
    csv: bool,
    /// The table of rows (or steps) `range`; a part starts at a multiple of [`PART_ROWS`].
    part: Box<dyn Fn(Range<usize>) -> Table + Send + Sync + 'a>,
}

/// The tables of a run but its step tables (see [`crate::steps`]).
fn result_tables(outcome: &BacktestOutcome) -> Vec<ResultTable<'_>> {
    let table =
        |name, len, csv, part: Box<dyn Fn(Range<usize>) -> Table + Send + Sync>| ResultTable {
            name,
            len,
            csv,
            part,
        };
    let trades = outcome.trades.len() + outcome.open_trades.len();
    let mut tables = vec![
        table(
            "trades",
            trades,
            true,
            Box::new(|rows| {
                let all = outcome.trades.iter().chain(&outcome.open_trades);
                let part: Vec<TradeRecord> =
                    all.skip(rows.start).take(rows.len()).copied().collect();
                trade_table(&part, &outcome.instruments)
            }),
        ),
        table(
            "fills",
            outcome.fills.len(),
            true,
            Box::new(|rows| fill_table(&outcome.fills[rows], &outcome.instruments)),
        ),
        table(
            "orders",
            outcome.orders.len(),
            true,
            Box::new(|rows| order_table(&outcome.orders[rows], &outcome.instruments)),
        ),
    ];
    // Only model-driven runs explain their orders; other runs' folders stay as they were. Few
    // rows, whose columns depend on them all: one part.
    if !outcome.attributions.is_empty() {
        tables.push(table(
            "attributions",
            outcome.attributions.len(),
            true,
            Box::new(|_| attribution_table(outcome)),
        ));
    }
    tables
}

/// Writes `table` into `dir` as CSV when `csv` and as Parquet (tagged with `metadata`) when
/// `parquet`, both from the same parts.
fn write_table(
    dir: &Path,
    table: &ResultTable<'_>,
    csv: bool,
    parquet: bool,
    metadata: &[(String, String)],
) -> Result<()> {
    let (mut csv_file, mut parquet_file) = (None, None);
    // One part at least, for the header and the schema of an empty table.
    for start in (0..table.len.max(1)).step_by(PART_ROWS) {
        let part = (table.part)(start..(start + PART_ROWS).min(table.len));
        if csv {
            let path = dir.join(format!("{}.csv", table.name));
            let file = match &mut csv_file {
                Some(file) => file,
                None => csv_file.insert(CsvWriter::create(&path, &part)?),
            };
            file.write(&part)?;
        }
        if parquet {
            let path = dir.join(format!("{}.parquet", table.name));
            let file = match &mut parquet_file {
                Some(file) => file,
                None => parquet_file.insert(ParquetWriter::create(&path, &part, metadata)?),
            };
            file.write(part)?;
        }
    }
    csv_file.map_or(Ok(()), CsvWriter::finish)?;
    parquet_file.map_or(Ok(()), ParquetWriter::finish)
}

/// Returns the tables (name, rows) of `outcome` that `formats` leaves without the CSV file
/// they would otherwise have, because they are longer than its CSV limit.
pub fn csv_left_out(outcome: &BacktestOutcome, formats: Formats) -> Vec<(&'static str, usize)> {
    let tables = result_tables(outcome)
        .into_iter()
        .map(|t| (t.name, t.len, t.csv));
    // Of the step tables only `equity` has a CSV twin.
    (tables.chain([("equity", outcome.curve.len(), true)]))
        .filter(|(_, len, csv)| *csv && formats.csv && !formats.csv(*len))
        .map(|(name, len, _)| (name, len))
        .collect()
}

/// Writes the step tables of a finished run kept whole in memory, in parts of the size a
/// streamed run's chunks have.
fn write_steps(dir: &Path, outcome: &BacktestOutcome, run: &RunInfo) -> Result<()> {
    let c = &outcome.curve;
    let mut tables = StepTables::new(
        dir,
        outcome.instruments.clone(),
        outcome.initial_cash,
        run.formats,
        run.metadata(),
        Some(c.len()),
        false,
    );
    for first in (0..c.len()).step_by(PART_ROWS) {
        let rows = first..(first + PART_ROWS).min(c.len());
        tables.write(Steps {
            first,
            ts: &c.ts[rows.clone()],
            equity: &c.equity[rows.clone()],
            cash: &c.cash[rows],
            holdings: &outcome.holdings,
        })?;
    }
    tables.finish().map(drop)
}

/// Writes every file of the output contract into `dir` (created if missing). `config` is the
/// config the run came from, stored in `summary.json`; `extra` adds fields to it (e.g. skipped
/// data rows); `analysis`, when given, adds `report.json` (its figures) and `report.html`;
/// `run` tags every Parquet file.
///
/// # Errors
/// Returns the file that could not be written.
pub fn write_results(
    dir: &Path,
    outcome: &BacktestOutcome,
    summary: &Summary,
    config: serde_json::Value,
    extra: serde_json::Map<String, serde_json::Value>,
    analysis: Option<&Analysis>,
    run: &RunInfo,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = summary_document(summary, config, extra);
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    let path = dir.join("summary.json");
    market_data::atomic::write(&path, (text + "\n").as_bytes())
        .map_err(|source| Error::Write { path, source })?;

    let metadata = run.metadata();
    let formats = run.formats;
    let mut tables = result_tables(outcome);
    if run.streamed {
        tables.retain(|t| !RECORD_TABLES.contains(&t.name));
    }
    // A file this run does not write must not be left from an earlier write of the folder (a
    // session's refresh) looking current.
    let steps = (!run.streamed).then(|| {
        let equity_csv = formats.csv(outcome.curve.len());
        STEP_TABLES.map(|name| (name, name == "equity" && equity_csv))
    });
    let kept = (tables.iter())
        .map(|t| (t.name, t.csv && formats.csv(t.len)))
        .chain(steps.into_iter().flatten());
    for (name, csv) in kept {
        for (ext, kept) in [("csv", csv), ("parquet", formats.parquet)] {
            let path = dir.join(format!("{name}.{ext}"));
            if !kept && path.exists() {
                std::fs::remove_file(&path).map_err(|source| Error::Write { path, source })?;
            }
        }
    }
    // Each table on its own task; the step tables (the long ones) on one beside them.
    let (stepped, rest) = rayon::join(
        || match run.streamed {
            true => Ok(()),
            false => write_steps(dir, outcome, run),
        },
        || {
            tables.par_iter().try_for_each(|table| {
                let csv = table.csv && formats.csv(table.len);
                write_table(dir, table, csv, formats.parquet, &metadata)
            })
        },
    );
    stepped?;
    rest?;

    let Some(analysis) = analysis else {
        return Ok(());
    };
    let json = serde_json::to_string(analysis).unwrap_or_default();
    let path = dir.join("report.json");
    market_data::atomic::write(&path, (json + "\n").as_bytes())
        .map_err(|source| Error::Write { path, source })?;
    let path = dir.join("report.html");
    market_data::atomic::write(&path, render_report(analysis).as_bytes())
        .map_err(|source| Error::Write { path, source })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use engine::{EngineSpec, EquityCurve, Position};
    use market_data::{InstrumentId, Timestamp};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// A run of `steps` one-minute steps over two instruments: a wavy equity (so drawdowns
    /// recover and deepen across parts) and holdings on two steps out of three.
    pub(crate) fn long_run(steps: usize) -> BacktestOutcome {
        let (mut curve, mut holdings) = (EquityCurve::default(), engine::Holdings::default());
        for i in 0..steps {
            let x = i as f64;
            let equity = 1000.0 + 100.0 * (x / 9000.0).sin() + x / 1e4 + 0.1 * (x * 1.7).cos();
            let cash = equity / 3.0;
            let ts = Timestamp(1_704_067_200_000_000_000 + i as i64 * 60_000_000_000);
            curve.push(ts, equity, cash);
            let held = |k: usize| Position {
                qty: if (i + k).is_multiple_of(3) {
                    0.0
                } else {
                    (i % 7) as f64 - 3.5
                },
                mark: 50.0 + x / 1e3,
                ..Position::default()
            };
            holdings.record(i, &[held(0), held(1)]);
        }
        BacktestOutcome {
            instruments: vec![InstrumentId::new("A"), InstrumentId::new("B")],
            spec: EngineSpec::default(),
            curve,
            holdings,
            orders: Vec::new(),
            fills: Vec::new(),
            trades: Vec::new(),
            handed_on: None,
            open_trades: Vec::new(),
            positions: vec![Position::default(); 2],
            initial_cash: 1000.0,
            fees: 0.0,
            realized: 0.0,
            traded_notional: 0.0,
            exposed_steps: 0,
            bars_per_instrument: vec![steps; 2],
            halted_at: None,
            killed: false,
            attributions: Vec::new(),
            drift: Vec::new(),
        }
    }

    fn write(dir: &Path, outcome: &BacktestOutcome, formats: Formats) {
        let run = RunInfo {
            formats,
            ..RunInfo::default()
        };
        let summary = Summary::new(outcome, None);
        let (config, extra) = (serde_json::Value::Null, serde_json::Map::new());
        write_results(dir, outcome, &summary, config, extra, None, &run).unwrap();
    }

    fn parquet_rows(path: &Path) -> (usize, usize) {
        let file = std::fs::File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let groups = builder.metadata().num_row_groups();
        let rows = builder
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        (rows, groups)
    }

    #[test]
    fn long_tables_written_in_parts_equal_the_whole() {
        let steps = 2 * PART_ROWS + 1234;
        let o = long_run(steps);
        let dir = std::env::temp_dir().join(format!("report-files-{}", std::process::id()));
        write(&dir, &o, Formats::listed(&[Format::Parquet, Format::Csv]));
        // Drawdowns against the running peak of the whole curve, by a plain loop.
        let mut want = String::from("timestamp,equity,cash,drawdown\n");
        let mut peak = f64::NEG_INFINITY;
        for ((t, e), c) in o.curve.ts.iter().zip(&o.curve.equity).zip(&o.curve.cash) {
            peak = peak.max(*e);
            want += &format!("{t},{e},{c},{}\n", e / peak - 1.0);
        }
        let text = std::fs::read_to_string(dir.join("equity.csv")).unwrap();
        assert!(
            text == want,
            "equity.csv differs from the whole-curve table"
        );
        let held = (0..steps).map(|i| (0..2).filter(|k| !(i + k).is_multiple_of(3)).count());
        let positions = held.sum::<usize>() + steps;
        assert_eq!(parquet_rows(&dir.join("positions.parquet")).0, positions);
        let (rows, groups) = parquet_rows(&dir.join("returns.parquet"));
        assert_eq!((rows, groups), (steps, 3), "one row group per part");
        // Returns of the step before each part boundary come from the previous part.
        let returns = result_table(&o, "returns").unwrap();
        let crate::table::Values::Float(r) = &returns.columns[1].values else {
            panic!("returns are numbers")
        };
        let e = &o.curve.equity;
        assert_eq!(r[0], e[0] / 1000.0 - 1.0);
        assert_eq!(r[PART_ROWS], e[PART_ROWS] / e[PART_ROWS - 1] - 1.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats_choose_the_files_and_leave_no_stale_one() {
        let dir = std::env::temp_dir().join(format!("report-formats-{}", std::process::id()));
        let o = long_run(100);
        write(&dir, &o, Formats::listed(&[Format::Csv]));
        assert!(dir.join("equity.csv").exists() && !dir.join("equity.parquet").exists());
        assert!(!dir.join("positions.parquet").exists());
        write(&dir, &o, Formats::listed(&[Format::Parquet]));
        assert!(
            !dir.join("equity.csv").exists(),
            "an old CSV would look current"
        );
        assert!(dir.join("equity.parquet").exists() && dir.join("positions.parquet").exists());
        // The default: CSV only up to its row limit.
        let small = Formats {
            csv_max_rows: 99,
            ..Formats::default()
        };
        write(&dir, &o, small);
        assert!(dir.join("trades.csv").exists() && !dir.join("equity.csv").exists());
        assert_eq!(csv_left_out(&o, small), [("equity", 100)]);
        assert!(csv_left_out(&o, Formats::listed(&[Format::Parquet])).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_folder_names_the_file() {
        let dir = std::env::temp_dir().join(format!("report-readonly-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A file where the folder should be: nothing can be created inside it, even as root.
        let blocked = dir.join("blocked");
        std::fs::write(&blocked, "").unwrap();
        let o = long_run(10);
        let summary = Summary::new(&o, None);
        let (config, extra) = (serde_json::Value::Null, serde_json::Map::new());
        let run = RunInfo::default();
        let e = write_results(&blocked, &o, &summary, config, extra, None, &run).unwrap_err();
        assert!(e.to_string().contains("blocked"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
