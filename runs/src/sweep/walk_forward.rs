//! Walk-forward optimisation: on each in-sample window every job of the grid runs and the best
//! by `rank_by` is chosen; that parameter set then runs on the next out-of-sample window. The
//! out-of-sample returns, stitched end to end, show what the optimisation would have earned.
//!
//! Windows count time steps (the union of the instruments' timestamps): window k trains on steps
//! `[k * test, k * test + train)` and tests on the `test` steps after it (the last may be
//! shorter). The out-of-sample run starts at the training window's first bar, so indicators are
//! warm and positions carry over, and only its returns at test-window steps are kept; the chosen
//! parameters never saw those bars.

use super::Plan;
use super::spec::WalkForward;
use super::table::{Row, rank_order};
use crate::runner;
use anyhow::{Context, Result, bail};
use engine::Summary;
use engine::metrics::{ReturnMetrics, infer_periods_per_year};
use market_data::{BarSeries, Timestamp};
use rayon::prelude::*;
use report::analysis::Series;
use report::table::{Column, Table};
use report::{WalkForwardReport, WalkForwardWindow, render_walk_forward};
use std::ops::Range;
use std::path::Path;

/// One in-sample / out-of-sample pair, as ranges of time steps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    train: Range<usize>,
    test: Range<usize>,
}

/// Returns the windows over `steps` time steps (the last test window may be shorter).
fn windows(steps: usize, wf: WalkForward) -> Vec<Window> {
    (0..)
        .map(|k| k * wf.test)
        .take_while(|start| start + wf.train < steps)
        .map(|start| Window {
            train: start..start + wf.train,
            test: start + wf.train..(start + wf.train + wf.test).min(steps),
        })
        .collect()
}

/// Returns the bars of `series` stamped in `[from, to)`.
fn slice(series: &[BarSeries], from: Timestamp, to: Timestamp) -> Vec<BarSeries> {
    series
        .iter()
        .map(|s| {
            let a = s.bars.partition_point(|b| b.ts < from);
            let b = s.bars.partition_point(|b| b.ts < to);
            BarSeries::new(s.instrument.clone(), s.bars[a..b].to_vec())
        })
        .collect()
}

/// Runs the walk-forward optimisation of `plan` and writes `walk_forward.csv`/`.parquet` (one row
/// per window) and `walk_forward_equity.csv`/`.parquet` (the stitched out-of-sample equity).
///
/// # Errors
/// When the data is too short for one window, or a job fails.
pub(super) fn run(plan: &Plan, wf: WalkForward, series: &[BarSeries], out: &Path) -> Result<()> {
    let mut steps: Vec<Timestamp> = series
        .iter()
        .flat_map(|s| s.bars.iter().map(|b| b.ts))
        .collect();
    steps.sort_unstable();
    steps.dedup();
    let wins = windows(steps.len(), wf);
    if wins.is_empty() {
        bail!(
            "invalid sweep in {}: `sweep.walk_forward`: expected train ({}) + at least one test bar \
             within the data's {} time steps",
            plan.loaded.path.display(),
            wf.train,
            steps.len()
        );
    }
    let jobs = plan.grid.len();
    let configs = (0..jobs)
        .into_par_iter()
        .map(|job| plan.grid.config(plan.loaded, job))
        .collect::<Result<Vec<_>>>()?;
    let end = |i: usize| steps.get(i).copied().unwrap_or(Timestamp(i64::MAX));
    let train_data: Vec<Vec<BarSeries>> = wins
        .iter()
        .map(|w| slice(series, steps[w.train.start], end(w.train.end)))
        .collect();
    let rank_by = &plan.spec.rank_by;
    let progress = super::progress_bar((wins.len() * (jobs + 1)) as u64, "jobs");

    // In sample: every (window, job) pair, across cores.
    let pairs: Vec<(usize, usize)> = (0..wins.len())
        .flat_map(|w| (0..jobs).map(move |j| (w, j)))
        .collect();
    let in_sample = pairs
        .par_iter()
        .map(|&(w, j)| {
            let run = runner::run(&configs[j], &train_data[w])?;
            let c = &configs[j].config;
            let summary = Summary::measured(&run.outcome, c.metrics.spec());
            progress.inc(1);
            Ok(Row::new(&summary, run.outcome.halted_at))
        })
        .collect::<Result<Vec<Row>>>()?;
    let best: Vec<usize> = (0..wins.len())
        .map(|w| {
            let rows = &in_sample[w * jobs..(w + 1) * jobs];
            (0..jobs)
                .min_by(|&a, &b| {
                    rank_order(
                        rank_by,
                        (rows[a].metric(&rank_by.metric), a as u64),
                        (rows[b].metric(&rank_by.metric), b as u64),
                    )
                })
                .unwrap_or(0)
        })
        .collect();

    // Out of sample: the chosen job from the training window's start to the test window's end.
    let oos = wins
        .par_iter()
        .zip(&best)
        .map(|(w, &job)| {
            let data = slice(series, steps[w.train.start], end(w.test.end));
            let run = runner::run(&configs[job], &data)?;
            progress.inc(1);
            let curve = run.outcome.curve;
            let first = curve
                .ts
                .partition_point(|t| *t < steps[w.test.start])
                .max(1);
            let returns: Vec<(Timestamp, f64)> = (first..curve.len())
                .map(|k| (curve.ts[k], curve.equity[k] / curve.equity[k - 1] - 1.0))
                .collect();
            Ok(returns)
        })
        .collect::<Result<Vec<_>>>()?;
    progress.finish_and_clear();

    let initial = plan.loaded.config.broker.initial_cash;
    let (mut ts, mut equity, mut window) = (Vec::new(), Vec::new(), Vec::new());
    let mut value = initial;
    for (w, returns) in oos.iter().enumerate() {
        for (t, r) in returns {
            value *= 1.0 + r;
            ts.push(*t);
            equity.push(value);
            window.push(w as u64);
        }
    }
    let ppy = plan
        .loaded
        .config
        .metrics
        .periods_per_year
        .unwrap_or_else(|| infer_periods_per_year(Timestamp::all_nanos(&steps)));
    let mut with_start = vec![initial];
    with_start.extend(&equity);
    let stitched = ReturnMetrics::from_equity(&with_start, ppy);

    let mut columns = vec![
        Column::int("window", (0..wins.len() as u64).collect()),
        Column::time(
            "train_start",
            wins.iter().map(|w| steps[w.train.start]).collect(),
        ),
        Column::time(
            "train_end",
            wins.iter().map(|w| steps[w.train.end - 1]).collect(),
        ),
        Column::time(
            "test_start",
            wins.iter().map(|w| steps[w.test.start]).collect(),
        ),
        Column::time(
            "test_end",
            wins.iter().map(|w| steps[w.test.end - 1]).collect(),
        ),
        Column::int("best_job", best.iter().map(|j| *j as u64).collect()),
    ];
    for (a, axis) in plan.grid.axes.iter().enumerate() {
        let values: Vec<&toml::Value> = best.iter().map(|j| plan.grid.values(*j)[a]).collect();
        columns.push(if axis.numeric() {
            Column::float(
                axis.key.clone(),
                values
                    .iter()
                    .map(|v| {
                        v.as_float()
                            .or_else(|| v.as_integer().map(|i| i as f64))
                            .unwrap_or(f64::NAN)
                    })
                    .collect(),
            )
        } else {
            Column::text(
                axis.key.clone(),
                values.iter().map(|v| super::spec::Axis::text(v)).collect(),
            )
        });
    }
    let best_rows: Vec<&Row> = best
        .iter()
        .enumerate()
        .map(|(w, j)| &in_sample[w * jobs + j])
        .collect();
    columns.push(Column::float(
        format!("in_sample_{}", rank_by.metric),
        best_rows
            .iter()
            .map(|r| r.metric(&rank_by.metric))
            .collect(),
    ));
    columns.push(Column::float(
        "in_sample_total_return",
        best_rows.iter().map(|r| r.metric("total_return")).collect(),
    ));
    let oos_metrics: Vec<ReturnMetrics> = oos
        .iter()
        .map(|returns| {
            let mut e = vec![1.0];
            for (_, r) in returns {
                e.push(e[e.len() - 1] * (1.0 + r));
            }
            ReturnMetrics::from_equity(&e, ppy)
        })
        .collect();
    columns.push(Column::float(
        "out_of_sample_total_return",
        oos_metrics.iter().map(|m| m.total_return).collect(),
    ));
    columns.push(Column::float(
        "out_of_sample_sharpe",
        oos_metrics.iter().map(|m| m.sharpe).collect(),
    ));
    columns.push(Column::float(
        "out_of_sample_max_drawdown",
        oos_metrics.iter().map(|m| m.max_drawdown).collect(),
    ));
    let table = Table {
        name: "walk_forward".into(),
        columns,
    };
    super::table::write(&table, out, "walk_forward")?;
    let finite = |x: f64| x.is_finite().then_some(x);
    let report = WalkForwardReport {
        title: plan.loaded.config.name.clone(),
        metric: "total_return".into(),
        windows: wins
            .iter()
            .zip(&best)
            .zip(best_rows.iter().zip(&oos_metrics))
            .map(|((w, job), (is_row, oos_m))| WalkForwardWindow {
                train_start: steps[w.train.start].0,
                train_end: steps[w.train.end - 1].0,
                test_start: steps[w.test.start].0,
                test_end: steps[w.test.end - 1].0,
                parameters: plan
                    .grid
                    .axes
                    .iter()
                    .zip(plan.grid.values(*job))
                    .map(|(a, v)| {
                        let name = a.key.rsplit('.').next().unwrap_or(&a.key);
                        format!("{name}={}", super::spec::Axis::text(v))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                in_sample: finite(is_row.metric("total_return")),
                out_of_sample: finite(oos_m.total_return),
            })
            .collect(),
        equity: Series {
            ts: ts.iter().map(|t| t.0).collect(),
            values: equity.clone(),
        },
        notes: vec![format!(
            "Parameters chosen in each training window by {}; total return compared in sample \
             and on the following test window.",
            rank_by.text()
        )],
    };
    let page = out.join("walk_forward.html");
    market_data::atomic::write(&page, render_walk_forward(&report).as_bytes())
        .with_context(|| format!("cannot write {}", page.display()))?;
    let curve = Table {
        name: "walk_forward_equity".into(),
        columns: vec![
            Column::time("timestamp", ts),
            Column::float("equity", equity),
            Column::int("window", window),
        ],
    };
    super::table::write(&curve, out, "walk_forward_equity")?;

    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let is_scores: Vec<f64> = best_rows
        .iter()
        .map(|r| r.metric(&rank_by.metric))
        .collect();
    let is_returns: Vec<f64> = best_rows.iter().map(|r| r.metric("total_return")).collect();
    println!(
        "walk-forward {}: {} windows (train {} steps, test {}), {} jobs each, ranked by {}",
        plan.loaded.config.name,
        wins.len(),
        wf.train,
        wf.test,
        jobs,
        rank_by.text()
    );
    println!(
        "  out of sample, stitched ({} steps): total return {:.2}%, sharpe {:.3}, max drawdown {:.2}%",
        curve.rows(),
        stitched.total_return * 100.0,
        stitched.sharpe,
        stitched.max_drawdown * 100.0
    );
    println!(
        "  in sample, best of each window (mean): {} {:.3}, total return {:.2}% per window",
        rank_by.metric,
        mean(&is_scores),
        mean(&is_returns) * 100.0
    );
    println!(
        "  per window: {} (.csv); stitched equity: {} (.csv); report: {}",
        out.join("walk_forward.parquet").display(),
        out.join("walk_forward_equity.parquet").display(),
        out.join("walk_forward.html").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_step_by_the_test_length() {
        let wf = WalkForward { train: 5, test: 2 };
        let w = windows(10, wf);
        assert_eq!(
            w,
            vec![
                Window {
                    train: 0..5,
                    test: 5..7
                },
                Window {
                    train: 2..7,
                    test: 7..9
                },
                Window {
                    train: 4..9,
                    test: 9..10
                },
            ]
        );
        assert!(windows(5, wf).is_empty());
    }
}
