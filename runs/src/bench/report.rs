//! `quant bench report`: how long the P&L report takes to compute and render, how large the
//! page is, and how long headless Chromium takes to open it, for a 10-year daily backtest and
//! for a 1-year backtest of one-minute bars (525,600 equity points).

use crate::bench::median;
use anyhow::Result;
use engine::{EngineSpec, Replay, Summary};
use market_data::synthetic::{SyntheticSpec, generate};
use report::analysis::{AnalysisInput, PriceInput, analyse};
use report::render_report;
use std::time::{Duration, Instant};
use strategies::StrategyConfig;
use strategies::sma_crossover::SmaCrossoverParams;

/// One benchmarked run: its name, bar spacing and bars per instrument.
struct Case {
    name: &'static str,
    interval_ns: i64,
    bars: usize,
    instruments: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "10 years of daily bars, 4 instruments",
        interval_ns: 86_400_000_000_000,
        bars: 2_520,
        instruments: 4,
    },
    Case {
        name: "1 year of one-minute bars (24/7), 2 instruments",
        interval_ns: 60_000_000_000,
        bars: 525_600,
        instruments: 2,
    },
];

/// Runs the report benchmarks.
pub(crate) fn run(runs: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("quant-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("report: analyse + render (median of {runs}), page size, Chromium load (median of 3)");
    for case in CASES {
        let series = generate(&SyntheticSpec {
            instruments: case.instruments,
            bars: case.bars,
            interval_ns: case.interval_ns,
            ..SyntheticSpec::default()
        })?;
        let strategy = StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 30 });
        let outcome = strategy
            .build(&[])?
            .run(&EngineSpec::default(), Replay::Bars(&series))?;
        let prices: Vec<PriceInput<'_>> = series
            .iter()
            .map(|s| PriceInput {
                instrument: s.instrument.as_str(),
                bars: &s.bars,
            })
            .collect();
        let (mut analyse_ms, mut render_ms) = (Vec::new(), Vec::new());
        let mut html = String::new();
        let mut json_bytes = 0;
        for _ in 0..runs.max(1) {
            let start = Instant::now();
            let summary = Summary::new(&outcome, None);
            let analysis = analyse(
                &AnalysisInput {
                    title: case.name,
                    strategy: "sma_crossover",
                    outcome: &outcome,
                    curve: &outcome.curve,
                    prices: &prices,
                    benchmark: None,
                    external_benchmark: None,
                },
                &summary,
            );
            analyse_ms.push(start.elapsed().as_secs_f64() * 1e3);
            let start = Instant::now();
            html = render_report(&analysis);
            render_ms.push(start.elapsed().as_secs_f64() * 1e3);
            json_bytes = serde_json::to_string(&analysis)?.len();
        }
        let page = dir.join("report.html");
        std::fs::write(&page, &html)?;
        let mut loads = Vec::new();
        let mut problems = 0;
        for _ in 0..3 {
            let (ms, found) = crate::browser::measure_load(&page, Duration::from_secs(60))?;
            loads.push(ms);
            problems += found;
        }
        println!(
            "  {}: {} equity points, {} fills",
            case.name,
            outcome.curve.len(),
            outcome.fills.len()
        );
        println!(
            "    analyse {:.1} ms, render {:.1} ms; page {:.2} MB, report.json {:.2} MB; Chromium load {:.0} ms{}",
            median(&mut analyse_ms),
            median(&mut render_ms),
            html.len() as f64 / 1e6,
            json_bytes as f64 / 1e6,
            median(&mut loads),
            if problems > 0 {
                format!(" ({problems} problems: run quant report-check on the page)")
            } else {
                String::new()
            }
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
