//! Every shipped config loads and runs, and writes every file of the output contract.

use crate::support::{backtest, quant, scratch, stderr};
use std::path::{Path, PathBuf};

/// Returns a config ready to backtest: as shipped, or, for a model-driven strategy, a copy whose
/// model is trained first into a scratch folder.
pub(crate) fn trained(config: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap();
    let Some(line) = (text.contains("name = \"ml_trend\""))
        .then(|| text.lines().find(|l| l.starts_with("model = ")))
        .flatten()
    else {
        return config.to_path_buf();
    };
    let dir = scratch("model");
    let model = dir.join("model");
    let copy = dir.join(config.file_name().unwrap());
    let text = text.replace(line, &format!("model = {:?}", model.to_str().unwrap()));
    std::fs::write(&copy, text).unwrap();
    let output = quant(&["train", copy.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    copy
}

const FILES: &[&str] = &[
    "summary.json",
    "report.html",
    "trades.csv",
    "fills.csv",
    "orders.csv",
    "equity.csv",
    "trades.parquet",
    "fills.parquet",
    "orders.parquet",
    "equity.parquet",
];

#[test]
fn every_shipped_config_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("backtests");
    let mut configs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    configs.sort();
    assert!(
        configs.len() >= 4,
        "expected the four shipped configs, found {configs:?}"
    );
    for config in configs {
        let config = trained(&config);
        let out = scratch("configs");
        let output = backtest(&config, &out);
        assert!(
            output.status.success(),
            "{}: {}",
            config.display(),
            stderr(&output)
        );
        for file in FILES {
            assert!(
                out.join(file).is_file(),
                "{} did not write {file}",
                config.display()
            );
        }
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        for key in [
            "final_equity",
            "total_return",
            "cagr",
            "annual_volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
            "max_drawdown_duration",
            "calmar",
            "var_95",
            "cvar_95",
            "trades",
            "win_rate",
            "profit_factor",
            "expectancy",
            "fees",
            "exposure",
            "turnover",
            "periods_per_year",
            "config",
            "instruments",
        ] {
            assert!(
                summary.get(key).is_some(),
                "{}: summary.json lacks {key}",
                config.display()
            );
        }
        // Accounting balances in the written equity file: drawdown never positive, equity positive.
        let equity = std::fs::read_to_string(out.join("equity.csv")).unwrap();
        assert_eq!(
            equity.lines().next().unwrap(),
            "timestamp,equity,cash,drawdown"
        );
        for line in equity.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (e, dd): (f64, f64) = (f[1].parse().unwrap(), f[3].parse().unwrap());
            assert!(
                e > 0.0 && dd <= 0.0,
                "{}: bad equity row {line}",
                config.display()
            );
        }
        let report = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(
            !report.contains("http://") && !report.contains("https://"),
            "report must not load anything"
        );
    }
}

#[test]
fn main_command_writes_a_run_folder_under_the_config_name_each_time() {
    let out = scratch("main");
    let config = out.join("c.toml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("backtests/sma_crossover.toml"),
    )
    .unwrap()
    .replace(
        "[broker]",
        &format!(
            "[output]\ndir = {:?}\n\n[broker]",
            out.join("results").to_str().unwrap()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let output = quant(&["backtest", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for label in [
        "Final equity",
        "63341.19",
        "Total return",
        "CAGR",
        "Sharpe",
        "Sortino",
        "Max drawdown",
        "Trades",
        "Win rate",
        "Fees",
    ] {
        assert!(
            stdout.contains(label),
            "summary table lacks {label}:\n{stdout}"
        );
    }
    // Run again: a folder of its own, the first untouched, `latest` on the newest.
    let again = quant(&["backtest", config.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    let runs = out.join("results/sma-crossover-goog");
    let folders = std::fs::read_dir(&runs).unwrap().count();
    assert_eq!(folders, 3, "two runs and `latest`");
    assert!(runs.join("latest/summary.json").is_file());
}
