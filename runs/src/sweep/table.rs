//! The sweep table: one row per parameter set with every scalar summary metric, ranked; written
//! as `sweep.csv` and `sweep.parquet` (or as one shard of them), and read back to merge shards.
//!
//! Rows are built in job order and then ranked with a stable tie-break on the job id, so the
//! table is the same whatever the thread count, the shard split or the order jobs finished in.

use super::spec::{Axis, RankBy};
use anyhow::{Context, Result, bail};
use arrow::array::{Array, Float64Array, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::DataType;
use engine::{MetricDef, Summary};
use market_data::Timestamp;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use report::table::{Column, Table, Values};
use report::{SweepReport, SweepRow, render_sweep};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The table's metrics: the summary's figures marked for sweeps, in their declared order.
pub(crate) static METRICS: LazyLock<Vec<&'static MetricDef>> =
    LazyLock::new(|| engine::METRICS.iter().filter(|m| m.in_sweep).collect());

/// The figures of one finished job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// The metrics, in [`METRICS`] order.
    pub(crate) metrics: Vec<f64>,
    /// When the drawdown kill switch fired (UTC ns), if it did.
    pub(crate) halted_at: Option<i64>,
    /// What the overfitting figures need of its returns (none for walk-forward windows).
    pub(crate) trial: Option<super::overfit::Trial>,
}

impl Row {
    /// Returns the row of a run's summary.
    pub(crate) fn new(summary: &Summary, halted_at: Option<Timestamp>) -> Self {
        let metrics = METRICS.iter().map(|m| m.of(summary)).collect();
        Self {
            metrics,
            halted_at: halted_at.map(|t| t.0),
            trial: None,
        }
    }

    /// Returns the value of metric `name`.
    pub(crate) fn metric(&self, name: &str) -> f64 {
        METRICS
            .iter()
            .position(|m| m.key == name)
            .map_or(f64::NAN, |i| self.metrics[i])
    }
}

/// Returns the table of `rows` (job id, row), in the given (job) order, unranked: `job`, one
/// column per axis, the metrics, `halted_at`.
pub(crate) fn unranked(axes: &[Axis], rows: &[(usize, Vec<&toml::Value>, &Row)]) -> Table {
    let mut columns = vec![Column::int(
        "job",
        rows.iter().map(|(job, _, _)| *job as u64).collect(),
    )];
    for (a, axis) in axes.iter().enumerate() {
        columns.push(if axis.numeric() {
            Column::float(
                axis.key.clone(),
                rows.iter()
                    .map(|(_, values, _)| {
                        let v = values[a];
                        v.as_float()
                            .or_else(|| v.as_integer().map(|i| i as f64))
                            .unwrap_or(f64::NAN)
                    })
                    .collect(),
            )
        } else {
            Column::text(
                axis.key.clone(),
                rows.iter()
                    .map(|(_, values, _)| Axis::text(values[a]))
                    .collect(),
            )
        });
    }
    for (m, metric) in METRICS.iter().enumerate() {
        let values = rows.iter().map(|(_, _, row)| row.metrics[m]);
        columns.push(if metric.is_whole() {
            Column::int(metric.key, values.map(|v| v as u64).collect())
        } else {
            Column::float(metric.key, values.collect())
        });
    }
    columns.push(Column::opt_time(
        "halted_at",
        rows.iter()
            .map(|(_, _, row)| row.halted_at.map(Timestamp))
            .collect(),
    ));
    Table {
        name: "sweep".into(),
        columns,
    }
}

/// Returns `table` ranked by `rank_by`, best first (NaN last, ties by job id), with a `rank`
/// column (1 = best) in front; an existing `rank` column is replaced.
///
/// # Errors
/// When the table lacks a `job` or the ranking column.
pub(crate) fn ranked(table: &Table, rank_by: &RankBy) -> Result<Table> {
    let columns: Vec<&Column> = table.columns.iter().filter(|c| c.name != "rank").collect();
    let find = |name: &str| {
        columns
            .iter()
            .find(|c| c.name == name)
            .with_context(|| format!("the sweep table has no `{name}` column"))
    };
    let Values::Int(jobs) = &find("job")?.values else {
        bail!("the sweep table's `job` column is not a whole number");
    };
    let score: Vec<f64> = match &find(&rank_by.metric)?.values {
        Values::Float(v) => v.clone(),
        Values::Int(v) => v.iter().map(|x| *x as f64).collect(),
        _ => bail!(
            "the sweep table's `{}` column is not numeric",
            rank_by.metric
        ),
    };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| rank_order(rank_by, (score[a], jobs[a]), (score[b], jobs[b])));
    let mut out = vec![Column::int("rank", (1..=order.len() as u64).collect())];
    out.extend(columns.iter().map(|c| Column {
        name: c.name.clone(),
        values: take(&c.values, &order),
    }));
    Ok(Table {
        name: table.name.clone(),
        columns: out,
    })
}

/// Orders two (score, job) pairs best first: by score (higher first, or lower with a leading
/// `-`), NaN last, then by job id.
pub(crate) fn rank_order(rank_by: &RankBy, a: (f64, u64), b: (f64, u64)) -> std::cmp::Ordering {
    let ((x, ja), (y, jb)) = (a, b);
    x.is_nan()
        .cmp(&y.is_nan())
        .then_with(|| {
            if rank_by.descending {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        })
        .then(ja.cmp(&jb))
}

/// Returns the values at `order`.
pub(crate) fn take(values: &Values, order: &[usize]) -> Values {
    match values {
        Values::Text(v) => Values::Text(order.iter().map(|&i| v[i].clone()).collect()),
        Values::OptText(v) => Values::OptText(order.iter().map(|&i| v[i].clone()).collect()),
        Values::Float(v) => Values::Float(order.iter().map(|&i| v[i]).collect()),
        Values::Int(v) => Values::Int(order.iter().map(|&i| v[i]).collect()),
        Values::Time(v) => Values::Time(order.iter().map(|&i| v[i]).collect()),
        Values::OptTime(v) => Values::OptTime(order.iter().map(|&i| v[i]).collect()),
        Values::Labels { names, codes } => Values::Labels {
            names: names.clone(),
            codes: order.iter().map(|&i| codes[i]).collect(),
        },
    }
}

/// Returns the `job` column of a table.
pub(crate) fn jobs(table: &Table) -> Result<Vec<u64>> {
    match table
        .columns
        .iter()
        .find(|c| c.name == "job")
        .map(|c| &c.values)
    {
        Some(Values::Int(v)) => Ok(v.clone()),
        _ => bail!("the sweep table has no whole-number `job` column"),
    }
}

/// Writes `table` as `<dir>/<stem>.csv` and `<dir>/<stem>.parquet`.
///
/// # Errors
/// Names the file that could not be written.
pub(crate) fn write(table: &Table, dir: &Path, stem: &str) -> Result<()> {
    table.write_csv(&dir.join(format!("{stem}.csv")))?;
    table
        .clone()
        .write_parquet(&dir.join(format!("{stem}.parquet")))?;
    Ok(())
}

/// Reads a table written by [`write`] back from its Parquet file.
///
/// # Errors
/// Names the file when it cannot be read or holds a column type no sweep table has.
pub(crate) fn read_parquet(path: &Path) -> Result<Table> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(ParquetRecordBatchReaderBuilder::build)
        .with_context(|| format!("cannot read {} as Parquet", path.display()))?;
    let mut columns: Vec<Column> = Vec::new();
    for batch in reader {
        let batch = batch.with_context(|| format!("cannot read {}", path.display()))?;
        if columns.is_empty() {
            columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let values = match f.data_type() {
                        DataType::Utf8 => Values::Text(Vec::new()),
                        DataType::Float64 => Values::Float(Vec::new()),
                        DataType::UInt64 => Values::Int(Vec::new()),
                        DataType::Timestamp(..) => Values::OptTime(Vec::new()),
                        other => bail!(
                            "{}: column `{}` has type {other}, which no sweep table has",
                            path.display(),
                            f.name()
                        ),
                    };
                    Ok(Column {
                        name: f.name().clone(),
                        values,
                    })
                })
                .collect::<Result<_>>()?;
        }
        for (column, array) in columns.iter_mut().zip(batch.columns()) {
            let wrong =
                || anyhow::anyhow!("{}: column `{}` changes type", path.display(), column.name);
            match &mut column.values {
                Values::Text(v) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or_else(wrong)?;
                    v.extend((0..a.len()).map(|i| a.value(i).to_string()));
                }
                // Sweep tables have no nullable text: their columns are read as `Text` above,
                // and their times as `OptTime` (a run that did not halt has none).
                Values::OptText(_) | Values::Labels { .. } | Values::Time(_) => {
                    return Err(wrong());
                }
                Values::Float(v) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .ok_or_else(wrong)?;
                    v.extend(
                        (0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }),
                    );
                }
                Values::Int(v) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<UInt64Array>()
                        .ok_or_else(wrong)?;
                    v.extend(a.values().iter().copied());
                }
                Values::OptTime(v) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<TimestampNanosecondArray>()
                        .ok_or_else(wrong)?;
                    v.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| Timestamp(a.value(i)))));
                }
            }
        }
    }
    Ok(Table {
        name: "sweep".into(),
        columns,
    })
}

/// Returns a text description of a column's type, for consistency messages.
pub(crate) fn kind(values: &Values) -> &'static str {
    match values {
        Values::Text(_) | Values::OptText(_) | Values::Labels { .. } => "text",
        Values::Float(_) => "number",
        Values::Int(_) => "whole number",
        Values::Time(_) | Values::OptTime(_) => "time",
    }
}

/// Writes `<dir>/sweep.html`: the ranked table and, over the first two swept parameters, a
/// heatmap of the ranking metric.
///
/// # Errors
/// Names the file that cannot be written.
pub(crate) fn write_html(
    table: &Table,
    title: &str,
    keys: &[String],
    rank_by: &RankBy,
    notes: &[String],
    dir: &Path,
) -> Result<PathBuf> {
    let column = |name: &str| table.columns.iter().find(|c| c.name == name);
    let cell = |c: &Column, r: usize| {
        let mut s = String::new();
        c.write_cell(r, &mut s);
        s
    };
    let metrics: Vec<String> = METRICS
        .iter()
        .filter(|m| column(m.key).is_some())
        .map(|m| m.key.to_string())
        .collect();
    let rows = (0..table.rows())
        .map(|r| SweepRow {
            parameters: keys
                .iter()
                .map(|k| column(k).map(|c| cell(c, r)).unwrap_or_default())
                .collect(),
            metrics: metrics
                .iter()
                .map(|m| {
                    column(m)
                        .and_then(|c| cell(c, r).parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                })
                .collect(),
        })
        .collect();
    let report = SweepReport {
        title: title.to_string(),
        rank_by: rank_by.text(),
        parameters: keys.to_vec(),
        metrics,
        rows,
        heatmap_x: keys.first().cloned(),
        heatmap_y: keys.get(1).cloned(),
        heatmap_metric: None,
        notes: notes.to_vec(),
    };
    let path = dir.join("sweep.html");
    market_data::atomic::write(&path, render_sweep(&report).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(jobs: Vec<u64>, score: Vec<f64>) -> Table {
        Table {
            name: "sweep".into(),
            columns: vec![Column::int("job", jobs), Column::float("sharpe", score)],
        }
    }

    fn order(t: &Table) -> Vec<u64> {
        jobs(t).unwrap()
    }

    #[test]
    fn ranks_best_first_with_nan_last_and_ties_by_job() {
        let t = table(vec![0, 1, 2, 3, 4], vec![0.5, f64::NAN, 0.9, 0.5, -1.0]);
        let desc = RankBy {
            metric: "sharpe".into(),
            descending: true,
        };
        let r = ranked(&t, &desc).unwrap();
        assert_eq!(order(&r), vec![2, 0, 3, 4, 1]);
        assert_eq!(r.columns[0].name, "rank");
        let asc = RankBy {
            metric: "sharpe".into(),
            descending: false,
        };
        assert_eq!(order(&ranked(&t, &asc).unwrap()), vec![4, 0, 3, 2, 1]);
        // Ranking twice replaces the rank column rather than adding one.
        let twice = ranked(&r, &desc).unwrap();
        assert_eq!(twice.columns.len(), 3);
        assert_eq!(order(&twice), order(&r));
    }

    #[test]
    fn parquet_round_trip_is_exact() {
        let dir = std::env::temp_dir().join(format!("quant-sweep-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = Table {
            name: "sweep".into(),
            columns: vec![
                Column::int("job", vec![0, 1]),
                Column::float("x", vec![0.1 + 0.2, f64::NAN]),
                Column::text("s", vec!["a,b".into(), "c".into()]),
                Column::opt_time("halted_at", vec![None, Some(Timestamp(5))]),
            ],
        };
        write(&t, &dir, "t").unwrap();
        let back = read_parquet(&dir.join("t.parquet")).unwrap();
        write(&back, &dir, "u").unwrap();
        for ext in ["csv", "parquet"] {
            assert_eq!(
                std::fs::read(dir.join(format!("t.{ext}"))).unwrap(),
                std::fs::read(dir.join(format!("u.{ext}"))).unwrap()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
