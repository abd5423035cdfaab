//! Shell habits: runs never overwrite each other (a folder per run, `latest` on the newest, an
//! `--out` folder holding results refused without `--force`), and `--set KEY=VALUE` replaces a
//! config value, checked like the file.

use crate::support::{backtest, quant, repo, scratch, stderr};
use std::path::{Path, PathBuf};

/// Writes the shipped crossover config with its results under `dir/results`; returns it.
fn crossover_in(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo("backtests/sma_crossover.toml"))
        .unwrap()
        .replace(
            "[broker]",
            &format!(
                "[output]\ndir = {:?}\n\n[broker]",
                dir.join("results").to_str().unwrap()
            ),
        );
    let config = dir.join("c.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn ok(args: &[&str]) -> String {
    let output = quant(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let output = quant(args);
    assert_eq!(output.status.code(), Some(1), "{args:?} should fail");
    stderr(&output)
}

#[test]
fn a_second_run_gets_its_own_folder_and_latest_points_at_it() {
    let dir = scratch("runs");
    let config = crossover_in(&dir);
    let config = config.to_str().unwrap();
    ok(&["backtest", config]);
    ok(&["backtest", config, "--set", "strategy.params.fast=5"]);
    let runs = dir.join("results/sma-crossover-goog");
    let mut folders: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "latest")
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    assert!(folders[0].ends_with('Z'), "a UTC run-id: {folders:?}");
    let first = summary(&runs.join(&folders[0]));
    let second = summary(&runs.join(&folders[1]));
    assert_eq!(first["config"]["strategy"]["params"]["fast"], 10);
    assert_eq!(second["config"]["strategy"]["params"]["fast"], 5);
    assert_eq!(
        std::fs::read_link(runs.join("latest")).unwrap(),
        Path::new(&folders[1])
    );
    // `quant report results/<name>` reads the latest run.
    let stdout = ok(&["report", runs.to_str().unwrap()]);
    assert!(stdout.contains("latest"), "{stdout}");
}

#[test]
fn an_out_folder_holding_results_is_refused_without_force() {
    let dir = scratch("out");
    let out = dir.join("run");
    let config = repo("backtests/sma_crossover.toml");
    let output = backtest(&config, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let (config, out) = (config.to_str().unwrap(), out.to_str().unwrap());
    let set = ["--set", "strategy.params.fast=5"];
    let err = fails(&[&["backtest", config, "--out", out][..], &set].concat());
    assert!(
        err.contains("--force") && err.contains("summary.json"),
        "{err}"
    );
    let after = std::fs::read(Path::new(out).join("summary.json")).unwrap();
    assert_eq!(after, before, "the refused run changed nothing");
    ok(&[&["backtest", config, "--out", out, "--force"][..], &set].concat());
    let fast = &summary(Path::new(out))["config"]["strategy"]["params"]["fast"];
    assert_eq!(fast, 5);
}

#[test]
fn set_changes_the_run() {
    let dir = scratch("set");
    let (base, fast) = (dir.join("base"), dir.join("fast"));
    let config = "backtests/sma_crossover.toml";
    ok(&["backtest", config, "--out", base.to_str().unwrap()]);
    ok(&[
        "backtest",
        config,
        "--out",
        fast.to_str().unwrap(),
        "--set",
        "strategy.params.fast=5",
        "--set",
        "broker.allow_short=false",
    ]);
    let (base, fast) = (summary(&base), summary(&fast));
    assert_eq!(fast["config"]["strategy"]["params"]["fast"], 5);
    assert_ne!(base["final_equity"], fast["final_equity"]);
    assert_ne!(base["trades"], fast["trades"]);
    // A rule, quoted as TOML text.
    let rules = dir.join("rules");
    ok(&[
        "backtest",
        "backtests/sma_rules.toml",
        "--out",
        rules.to_str().unwrap(),
        "--set",
        "strategy.params.entry_long=\"close > sma_slow\"",
    ]);
    let entry = &summary(&rules)["config"]["strategy"]["params"]["entry_long"];
    assert_eq!(entry, "close > sma_slow");
}

#[test]
fn set_with_an_unknown_key_or_a_wrong_type_names_the_key() {
    let config = "backtests/sma_crossover.toml";
    let err = fails(&["backtest", config, "--set", "strategy.params.fsat=5"]);
    assert!(
        err.contains("--set") && err.contains("`strategy.params.fsat`"),
        "{err}"
    );
    assert!(err.contains("expected `fast` or `slow`"), "{err}");
    let err = fails(&["backtest", config, "--set", "strategy.params.fast=\"five\""]);
    assert!(
        err.contains("--set") && err.contains("`strategy.params.fast`"),
        "{err}"
    );
    assert!(err.contains("invalid type: string \"five\""), "{err}");
    let err = fails(&["backtest", config, "--set", "strategy.params.fast=30"]);
    assert!(
        err.contains("--set strategy.params.fast=30") && err.contains("fewer bars than slow"),
        "{err}"
    );
    let err = fails(&["backtest", config, "--set", "strategy.params.fast"]);
    assert!(err.contains("KEY=VALUE"), "{err}");
    let err = fails(&["backtest", config, "--set", "strategy.name=buy_and_hold"]);
    assert!(err.contains("expected a TOML value"), "{err}");
    // Every command that reads a config takes it, with the same check.
    for command in ["features", "sweep", "train", "paper", "live"] {
        let err = fails(&[command, config, "--set", "broker.comission=0.1"]);
        assert!(
            err.contains("--set") && err.contains("`broker.comission`"),
            "{command}: {err}"
        );
        assert!(err.contains("`commission`"), "{command}: {err}");
    }
}

#[test]
fn set_reaches_a_sweep() {
    let dir = scratch("set-sweep");
    let out = dir.join("sweep");
    let stdout = ok(&[
        "sweep",
        "backtests/sma_crossover.toml",
        "--set",
        "sweep.keep=0",
        "--set",
        "broker.commission=0.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("jobs"), "{stdout}");
    let top = std::fs::read_dir(out.join("top")).map_or(0, Iterator::count);
    assert_eq!(top, 0, "keep = 0 writes no top run");
}
