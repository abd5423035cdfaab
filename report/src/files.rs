//! The files of the output contract: `summary.json`, `trades`, `fills`, `orders`, `equity` (and
//! `attributions` for model-driven runs) as CSV and Parquet, and `report.json`/`report.html`.

use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::render_report;
use crate::table::{Column, Table};
use engine::metrics::drawdown_series;
use engine::{BacktestOutcome, Summary, TradeRecord};
use std::path::Path;

fn trade_table(outcome: &BacktestOutcome) -> Table {
    let all: Vec<&TradeRecord> = outcome.trades.iter().chain(&outcome.open_trades).collect();
    let name = |t: &&TradeRecord| outcome.instruments[t.instrument.get()].to_string();
    Table {
        name: "trades".into(),
        columns: vec![
            Column::text("instrument", all.iter().map(name).collect()),
            Column::text(
                "side",
                all.iter()
                    .map(|t| {
                        if t.side == market_data::Side::Buy {
                            "long"
                        } else {
                            "short"
                        }
                        .into()
                    })
                    .collect(),
            ),
            Column::float("quantity", all.iter().map(|t| t.qty).collect()),
            Column::time(
                "entry_time",
                all.iter().map(|t| Some(t.entry_time)).collect(),
            ),
            Column::float("entry_price", all.iter().map(|t| t.entry_price).collect()),
            Column::time(
                "exit_time",
                all.iter()
                    .map(|t| (!t.open).then_some(t.exit_time))
                    .collect(),
            ),
            Column::float("exit_price", all.iter().map(|t| t.exit_price).collect()),
            Column::float("pnl", all.iter().map(|t| t.pnl).collect()),
            Column::float("return", all.iter().map(|t| t.ret).collect()),
            Column::float("fees", all.iter().map(|t| t.fees).collect()),
            Column::text(
                "status",
                all.iter()
                    .map(|t| if t.open { "open" } else { "closed" }.into())
                    .collect(),
            ),
        ],
    }
}

fn fill_table(outcome: &BacktestOutcome) -> Table {
    let f = &outcome.fills;
    Table {
        name: "fills".into(),
        columns: vec![
            Column::time("timestamp", f.iter().map(|x| Some(x.ts)).collect()),
            Column::int("order_id", f.iter().map(|x| x.order_id.0).collect()),
            Column::text(
                "instrument",
                f.iter()
                    .map(|x| outcome.instruments[x.instrument.get()].to_string())
                    .collect(),
            ),
            Column::text("side", f.iter().map(|x| x.side.as_str().into()).collect()),
            Column::float("quantity", f.iter().map(|x| x.qty).collect()),
            Column::float("price", f.iter().map(|x| x.price).collect()),
            Column::float("fee", f.iter().map(|x| x.fee).collect()),
        ],
    }
}

fn order_table(outcome: &BacktestOutcome) -> Table {
    let o = &outcome.orders;
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
            Column::time("created", o.iter().map(|r| Some(r.created)).collect()),
            Column::text(
                "instrument",
                o.iter()
                    .map(|r| {
                        outcome
                            .instruments
                            .get(r.request.instrument.get())
                            .map_or_else(|| "?".into(), ToString::to_string)
                    })
                    .collect(),
            ),
            Column::text(
                "side",
                o.iter().map(|r| r.request.side.as_str().into()).collect(),
            ),
            Column::text(
                "kind",
                o.iter().map(|r| r.request.kind.as_str().into()).collect(),
            ),
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
            Column::text(
                "time_in_force",
                o.iter().map(|r| r.request.tif.as_str().into()).collect(),
            ),
            Column::int("tag", o.iter().map(|r| u64::from(r.request.tag)).collect()),
            Column::text(
                "status",
                o.iter().map(|r| r.status.as_str().into()).collect(),
            ),
            Column::time("closed", o.iter().map(|r| r.closed).collect()),
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
        Column::time("created", a.iter().map(|x| Some(x.ts)).collect()),
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

fn equity_table(outcome: &BacktestOutcome) -> Table {
    let c = &outcome.curve;
    Table {
        name: "equity".into(),
        columns: vec![
            Column::time("timestamp", c.ts.iter().map(|t| Some(*t)).collect()),
            Column::float("equity", c.equity.clone()),
            Column::float("cash", c.cash.clone()),
            Column::float("drawdown", drawdown_series(&c.equity)),
        ],
    }
}

/// `returns`: the simple return of equity over each step, the first against the initial cash,
/// so that they compound to final equity / initial cash (quantstats' and pyfolio's input).
fn returns_table(outcome: &BacktestOutcome) -> Table {
    let c = &outcome.curve;
    let before = std::iter::once(outcome.initial_cash).chain(c.equity.iter().copied());
    Table {
        name: "returns".into(),
        columns: vec![
            Column::time("timestamp", c.ts.iter().map(|t| Some(*t)).collect()),
            Column::float(
                "return",
                (c.equity.iter().zip(before))
                    .map(|(e, b)| e / b - 1.0)
                    .collect(),
            ),
        ],
    }
}

/// The instrument name of the cash rows of `positions`.
const CASH: &str = "cash";

/// `positions`: per step, one row per held instrument (quantity, the price it is valued at,
/// value = quantity x price), then one `cash` row (quantity = value = cash, price 1), so the
/// values of a step add up to its equity and pivoting `value` by instrument gives pyfolio's
/// positions frame, `cash` column included. Flat instruments have no row (read them as 0).
fn positions_table(outcome: &BacktestOutcome) -> Table {
    let (c, h) = (&outcome.curve, &outcome.holdings);
    let rows = h.len() + c.len();
    let mut ts = Vec::with_capacity(rows);
    let mut instrument = Vec::with_capacity(rows);
    let (mut qty, mut price) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut row = 0;
    for (step, (t, cash)) in c.ts.iter().zip(&c.cash).enumerate() {
        while h.step.get(row) == Some(&step) {
            ts.push(Some(*t));
            let name = outcome.instruments.get(h.instrument[row].get());
            instrument.push(name.map_or_else(|| "?".into(), ToString::to_string));
            qty.push(h.qty[row]);
            price.push(h.price[row]);
            row += 1;
        }
        ts.push(Some(*t));
        instrument.push(CASH.to_string());
        qty.push(*cash);
        price.push(1.0);
    }
    let value = qty.iter().zip(&price).map(|(q, p)| q * p).collect();
    Table {
        name: "positions".into(),
        columns: vec![
            Column::time("timestamp", ts),
            Column::text("instrument", instrument),
            Column::float("quantity", qty),
            Column::float("price", price),
            Column::float("value", value),
        ],
    }
}

/// Which run wrote a folder's files, stored as key-value metadata in each of its Parquet files
/// (`quant.run_id`, `quant.config_hash`, `quant.strategy`, `quant.version`), so a file found
/// alone still names its run.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The run's id (its folder's name, or the time it was written with `--out`).
    pub run_id: String,
    /// A stable hash of the config it ran.
    pub config_hash: String,
    /// The strategy's name.
    pub strategy: String,
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
    let mut json = match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    json.extend(extra);
    json.insert("config".into(), config);
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    let path = dir.join("summary.json");
    market_data::atomic::write(&path, (text + "\n").as_bytes())
        .map_err(|source| Error::Write { path, source })?;

    let metadata = run.metadata();
    for table in [
        trade_table(outcome),
        fill_table(outcome),
        order_table(outcome),
        equity_table(outcome),
    ] {
        table.write_csv(&dir.join(format!("{}.csv", table.name)))?;
        table.write_parquet_with(&dir.join(format!("{}.parquet", table.name)), &metadata)?;
    }
    // Read by pandas, quantstats and pyfolio, which take Parquet: no CSV twins.
    for table in [positions_table(outcome), returns_table(outcome)] {
        table.write_parquet_with(&dir.join(format!("{}.parquet", table.name)), &metadata)?;
    }
    // Only model-driven runs explain their orders; other runs' folders stay as they were.
    if !outcome.attributions.is_empty() {
        let table = attribution_table(outcome);
        table.write_csv(&dir.join("attributions.csv"))?;
        table.write_parquet_with(&dir.join("attributions.parquet"), &metadata)?;
    }

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
