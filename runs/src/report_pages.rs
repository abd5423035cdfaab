//! `quant report RESULTS_DIR [--compare OTHER_DIR ...]`: renders a run's report again from the
//! figures it stored (`report.json`), or a side-by-side comparison of several runs.

use anyhow::{Context, Result, bail};
use report::analysis::{Analysis, terminal_summary};
use report::{render_comparison, render_report};
use std::path::{Path, PathBuf};

/// Options of `quant report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A results folder written by `quant backtest`, `quant paper` or a sweep's top runs (or
    /// `results/<name>`, meaning its latest run), or a model folder written by `quant train`
    /// (renders its model card, model_card.html).
    dir: PathBuf,
    /// Other results folders to compare with it, side by side.
    #[arg(long, num_args = 1..)]
    compare: Vec<PathBuf>,
    /// The page to write (default: DIR/report.html, or DIR/comparison.html with --compare).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Reads the figures a run stored.
fn read(dir: &Path) -> Result<Analysis> {
    let path = dir.join("report.json");
    if !path.exists() {
        bail!(
            "{}: no report.json; run the backtest again with `[output] report = true` (the \
             default)",
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a report written by this version of quant",
            path.display()
        )
    })
}

/// Renders the report or the comparison, or the model card of a model folder.
pub fn run(args: &ReportArgs) -> Result<()> {
    if crate::model_card::is_model_dir(&args.dir) {
        if !args.compare.is_empty() {
            bail!(
                "{}: a model folder has a model card, not a comparison",
                args.dir.display()
            );
        }
        let html = crate::model_card::render(&args.dir)?;
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| args.dir.join("model_card.html"));
        market_data::atomic::write(&out, html.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("{} ({:.0} KB)", out.display(), html.len() as f64 / 1024.0);
        return Ok(());
    }
    let dir = crate::run_dir::run_in(&args.dir);
    let first = read(&dir)?;
    let (html, default_name) = if args.compare.is_empty() {
        print!("{}", terminal_summary(&first));
        (render_report(&first), "report.html")
    } else {
        let mut runs = vec![first];
        for dir in &args.compare {
            runs.push(read(&crate::run_dir::run_in(dir))?);
        }
        (render_comparison(&runs), "comparison.html")
    };
    let out = args.out.clone().unwrap_or_else(|| dir.join(default_name));
    market_data::atomic::write(&out, html.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{} ({:.0} KB)", out.display(), html.len() as f64 / 1024.0);
    Ok(())
}
