//! `quant features`: computes a config's feature pipeline over all its data and writes it.

use crate::config::LoadedConfig;
use crate::data;
use crate::overrides::SetArgs;
use anyhow::{Context, Result};
use features::{PipelineSpec, compute_batch};
use market_data::BarSeries;
use report::table::{Column, Table};
use std::path::{Path, PathBuf};

/// Computes the config's feature pipeline (its `[[features]]` plus those its strategy reads, if
/// it has one) over all its data, in parallel across instruments, and writes one file: a
/// `timestamp` and an `instrument` column, then one column per feature output. CSV for `.csv`,
/// else Parquet.
///
/// # Errors
/// A config, data or feature error, or the file that could not be written.
pub fn run(path: &Path, set: &SetArgs, out: Option<PathBuf>) -> Result<()> {
    let loaded = set.load(path)?;
    let c = &loaded.config;
    // A config may hold only data and features: there is no strategy to add any.
    let pipeline = match &c.strategy {
        Some(_) => loaded.build_strategy()?.pipeline,
        None => std::sync::Arc::new(
            PipelineSpec::new(&c.features).map_err(|e| loaded.feature_error(&e))?,
        ),
    };
    if pipeline.is_empty() {
        anyhow::bail!(
            "{}: no features to compute: add [[features]] tables (or a [strategy] that reads some)",
            path.display()
        );
    }
    let data = data::load(&loaded)?;
    let start = std::time::Instant::now();
    let table = table(&loaded, &pipeline, &data.series)?;
    let seconds = start.elapsed().as_secs_f64();
    let rows = table.rows();
    let instruments = data.series.len();
    let file = out.unwrap_or_else(|| c.output.dir.join(&c.name).join("features.parquet"));
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    table.write(&file)?;
    println!(
        "{} features x {rows} bars of {instruments} instruments in {seconds:.3} s -> {}",
        pipeline.columns().len(),
        file.display()
    );
    println!("  columns: {pipeline}");
    Ok(())
}

/// Returns `pipeline` computed over `series` (in parallel across instruments) as one table: a
/// `timestamp` and an `instrument` column, then one column per feature output (NaN, written
/// empty or null, where a feature is not ready).
///
/// # Errors
/// A feature that cannot be computed, named with its line in the config.
pub(crate) fn table(
    loaded: &LoadedConfig,
    pipeline: &PipelineSpec,
    series: &[BarSeries],
) -> Result<Table> {
    let frames = compute_batch(pipeline, series).map_err(|e| loaded.feature_error(&e))?;
    let mut columns = vec![
        Column::time(
            "timestamp",
            frames.iter().flat_map(|f| f.ts.iter().copied()).collect(),
        ),
        Column::text(
            "instrument",
            frames
                .iter()
                .flat_map(|f| f.ts.iter().map(|_| f.instrument.to_string()))
                .collect(),
        ),
    ];
    for (i, name) in pipeline.columns().iter().enumerate() {
        columns.push(Column::float(
            name.clone(),
            frames
                .iter()
                .flat_map(|f| f.columns[i].iter().copied())
                .collect(),
        ));
    }
    Ok(Table {
        name: "features".into(),
        columns,
    })
}
