//! Bad configs and bad data fail with a message naming the key or file, the line, and what was
//! expected, and a non-zero exit.

use crate::support::{backtest, quant, repo, scratch, stderr};
use std::path::PathBuf;

const GOOD: &str = r#"name = "t"

[data]
kind = "csv"
path = "GOOG_PATH"

[strategy]
name = "sma_crossover"
[strategy.params]
fast = 10
slow = 20

[broker]
initial_cash = 10_000.0
commission = 0.002
"#;

fn config(text: &str) -> PathBuf {
    let dir = scratch("bad");
    let path = dir.join("config.toml");
    let goog = repo("backtests/data/GOOG.csv");
    std::fs::write(&path, text.replace("GOOG_PATH", goog.to_str().unwrap())).unwrap();
    path
}

/// Runs a config text that must fail and returns its error text.
fn fails(text: &str) -> String {
    backtest_fails(&config(text))
}

/// Runs a config file that must fail (exit code 1) and returns its error text.
fn backtest_fails(config: &std::path::Path) -> String {
    let out = scratch("bad-out");
    let output = backtest(config, &out);
    assert!(
        !output.status.success(),
        "expected {} to fail",
        config.display()
    );
    assert_eq!(output.status.code(), Some(1));
    stderr(&output)
}

fn assert_mentions(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "error lacks {part:?}:\n{err}");
    }
}

#[test]
fn the_good_config_runs() {
    let path = config(GOOD);
    let out = scratch("good");
    let output = quant(&[
        "backtest",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn unknown_key_names_it_and_its_line() {
    let err = fails(&GOOD.replace("slow = 20", "slwo = 20"));
    assert_mentions(&err, &["slwo", "line 11", "fast", "slow"]);
}

#[test]
fn unknown_table_names_it() {
    let err = fails(&GOOD.replace("[broker]", "[brokr]"));
    assert_mentions(&err, &["brokr", "line 13"]);
}

#[test]
fn wrong_type_names_the_key_and_line() {
    let err = fails(&GOOD.replace("fast = 10", "fast = \"ten\""));
    assert_mentions(&err, &["line 10", "invalid type", "ten"]);
}

#[test]
fn missing_data_file_names_the_path_and_key() {
    let err = fails(&GOOD.replace("GOOG_PATH", "no/such/file.csv"));
    assert_mentions(
        &err,
        &["data.path", "line 5", "no/such/file.csv", "does not exist"],
    );
}

#[test]
fn unknown_strategy_lists_the_known_ones() {
    let err = fails(&GOOD.replace("name = \"sma_crossover\"", "name = \"sma_cross\""));
    assert_mentions(
        &err,
        &[
            "sma_cross",
            "line 8",
            "sma_crossover",
            "buy_and_hold",
            "bollinger_reversion",
        ],
    );
}

#[test]
fn fast_not_below_slow_is_out_of_range() {
    let err = fails(&GOOD.replace("fast = 10", "fast = 30"));
    assert_mentions(
        &err,
        &[
            "strategy.params.fast",
            "line 10",
            "fewer bars than slow (20)",
            "30",
        ],
    );
}

#[test]
fn commission_out_of_range_names_the_key() {
    let err = fails(&GOOD.replace("commission = 0.002", "commission = 1.5"));
    assert_mentions(&err, &["broker.commission", "line 15", "[0, 1)", "1.5"]);
}

#[test]
fn bad_synthetic_interval_names_the_key() {
    let text = "name = \"s\"\n[data]\nkind = \"synthetic\"\ninterval = \"1 minute\"\n[strategy]\nname = \"buy_and_hold\"\n";
    let err = fails(text);
    assert_mentions(&err, &["data.interval", "line 4", "1 minute"]);
}

#[test]
fn missing_config_file_names_it() {
    let output = quant(&["backtest", "backtests/nope.toml"]);
    assert!(!output.status.success());
    assert_mentions(&stderr(&output), &["backtests/nope.toml"]);
}

/// A copy of GOOG with one row broken, and a config pointing at it.
fn broken_data(row_line: usize, replacement: &str, on_invalid: &str) -> (PathBuf, PathBuf) {
    let dir = scratch("data");
    let text = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[row_line - 1] = replacement.to_string();
    let csv = dir.join("BROKEN.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let cfg = dir.join("config.toml");
    let body = GOOD.replace("GOOG_PATH", csv.to_str().unwrap()).replace(
        "kind = \"csv\"",
        &format!("kind = \"csv\"\non_invalid = \"{on_invalid}\""),
    );
    std::fs::write(&cfg, body).unwrap();
    (cfg, csv)
}

#[test]
fn nan_price_names_file_line_and_column() {
    let (cfg, csv) = broken_data(4, "2004-08-23,110.75,113.48,109.05,NaN,9137200", "error");
    assert_mentions(
        &backtest_fails(&cfg),
        &[
            csv.to_str().unwrap(),
            "line 4",
            "\"Close\"",
            "not a finite number",
        ],
    );
}

#[test]
fn out_of_order_row_names_its_line() {
    let (cfg, _) = broken_data(10, "2004-08-19,100,104.06,95.96,100.34,22351900", "error");
    assert_mentions(
        &backtest_fails(&cfg),
        &["line 10", "before the previous row"],
    );
}

#[test]
fn skip_mode_reports_what_it_skipped() {
    let (cfg, _) = broken_data(4, "2004-08-23,110.75,100,109.05,109.4,9137200", "skip");
    let out = scratch("skip");
    let output = quant(&[
        "backtest",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mentions(&stderr(&output), &["skipped 1 invalid rows", "line 4"]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["skipped_rows"]["BROKEN"]["rows"], 1);
    assert_eq!(summary["instruments"][0]["bars"], 2147);
}

#[test]
fn converting_a_file_onto_itself_keeps_it_whole_and_leaves_no_partial_file() {
    let dir = scratch("convert-in-place");
    let csv = dir.join("goog.csv");
    std::fs::copy(repo("backtests/data/GOOG.csv"), &csv).unwrap();
    for ext in ["parquet", "arrow", "csv"] {
        let file = dir.join(format!("goog.{ext}"));
        if ext != "csv" {
            let made = quant(&[
                "data",
                "convert",
                csv.to_str().unwrap(),
                file.to_str().unwrap(),
            ]);
            assert!(made.status.success(), "{}", stderr(&made));
        }
        // Once truncated the file to 4 bytes before reading it (Parquet).
        let again = quant(&[
            "data",
            "convert",
            file.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(again.status.success(), "{ext}: {}", stderr(&again));
        let inspected = quant(&["data", "inspect", file.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&inspected.stdout);
        assert!(text.contains("2148"), "{ext}: {text}{}", stderr(&inspected));
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A write that fails (no such folder) leaves nothing behind either.
    let bad = quant(&[
        "data",
        "convert",
        csv.to_str().unwrap(),
        "/nonexistent-dir/x.parquet",
    ]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("x.parquet"),
        "{}",
        stderr(&bad)
    );
}

#[cfg(unix)]
#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quant"))
        .arg("strategies")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line, as `| head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        output.status.success() || output.status.signal() == Some(13),
        "{:?}: {err}",
        output.status
    );
}

#[test]
fn a_benchmark_that_is_not_in_the_data_is_refused_naming_the_instruments() {
    let text = std::fs::read_to_string(repo("backtests/sma_crossover.toml"))
        .unwrap()
        .replace("[sizing]", "[output]\nbenchmark = \"GOOGL\"\n\n[sizing]");
    let err = fails(&text);
    assert_mentions(
        &err,
        &["`output.benchmark`", "\"GOOG\"", "found \"GOOGL\"", "line "],
    );
}

#[test]
fn absurd_numbers_are_refused_at_load_not_by_a_panic() {
    let base = std::fs::read_to_string(repo("backtests/sma_crossover.toml")).unwrap();
    let lookback = base.replace(
        "method = \"all_in\"",
        "method = \"volatility_target\"\nlookback = 4611686018427387904",
    );
    assert_mentions(
        &fails(&lookback),
        &["`sizing.lookback`", "2 to 10000000 bars"],
    );
    // A sweep range over every i64: refused by its size, not an overflow.
    let range = base.replace(
        "\"strategy.params.fast\" = [5, 10, 20]",
        "\"strategy.params.fast\" = { from = -9223372036854775808, to = 9223372036854775807 }",
    );
    let dir = scratch("absurd-sweep");
    let config = dir.join("sweep.toml");
    std::fs::write(&config, range).unwrap();
    let output = quant(&[
        "sweep",
        config.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert!(
        !output.status.success() && !err.contains("panicked"),
        "{err}"
    );
    assert_mentions(&err, &["`strategy.params.fast`", "at most 1000000 values"]);
    // A huge value is quoted as written, not as 300 digits.
    let err = fails(&GOOD.replace("commission = 0.002", "commission = 1e300"));
    assert_mentions(&err, &["`broker.commission`", "found 1e300"]);
    assert!(err.len() < 400, "{err}");
}

#[test]
fn an_unknown_calendar_or_time_zone_names_the_choices() {
    let err = fails(&GOOD.replace("[data]\n", "[data]\ncalendar = \"nyse\"\n"));
    assert_mentions(&err, &["calendar", "\"us_equity\"", "\"24/7\"", "line 4"]);
    let err = fails(&GOOD.replace("[data]\n", "[data]\ntimezone = \"Europe/Londn\"\n"));
    assert_mentions(&err, &["timezone", "`Europe/London`", "line 4"]);
}

#[test]
fn extreme_finite_inputs_run_to_a_complete_report() {
    let dir = scratch("extreme");
    // Forty days of prices at the smallest positive doubles, alternating.
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    for day in 0..40 {
        let price = if day % 2 == 0 { 1e-323 } else { 5e-324 };
        let date = market_data::Timestamp::from_secs(1_704_067_200 + 86_400 * day);
        csv.push_str(&format!("{date},{price:e},1e-323,5e-324,{price:e},100\n"));
    }
    let tiny = dir.join("TINY.csv");
    std::fs::write(&tiny, csv).unwrap();
    for (data, edit) in [
        (
            tiny.to_str().unwrap(),
            ("fast = 10\nslow = 20", "fast = 2\nslow = 3"),
        ),
        (
            repo("backtests/data/GOOG.csv").to_str().unwrap(),
            ("initial_cash = 10_000.0", "initial_cash = 1e300"),
        ),
    ] {
        let config = dir.join("config.toml");
        let text = GOOD.replace("GOOG_PATH", data).replace(edit.0, edit.1);
        assert!(text.contains(edit.1));
        std::fs::write(&config, text).unwrap();
        let out = scratch("extreme-out");
        let output = backtest(&config, &out);
        assert!(output.status.success(), "{}", stderr(&output));
        let page = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(
            page.trim_end().ends_with("</html>"),
            "{data}: a complete page"
        );
        // Amounts near a double's limit stay finite: a trade's fee share is taken before the
        // fee is scaled (fee x units overflowed, and every trade showed a P&L of -inf).
        let trades = std::fs::read_to_string(out.join("trades.csv")).unwrap();
        assert!(
            !trades.contains("inf") && !trades.contains("NaN"),
            "{trades}"
        );
    }
}

#[test]
fn a_credential_pasted_as_a_variable_name_is_refused_and_never_printed() {
    let secret = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    let text = std::fs::read_to_string(repo("backtests/live_sma.toml"))
        .unwrap()
        .replace("\"BINANCE_API_SECRET\"", &format!("\"{secret}\""));
    assert!(text.contains(secret));
    let dir = scratch("pasted-secret");
    let config = dir.join("live.toml");
    std::fs::write(&config, text).unwrap();
    let output = quant(&["live", config.to_str().unwrap()]);
    let (out, err) = (String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(!output.status.success());
    assert!(err.contains("`live.venue.api_secret_env`"), "{err}");
    assert!(!err.contains(secret) && !out.contains(secret), "{err}{out}");
}

#[test]
fn a_decimal_shifted_bar_is_flagged_as_a_data_quality_warning() {
    let dir = scratch("shifted");
    let (data, date) = crate::support::goog_with_a_shifted_bar(&dir);
    let config = std::fs::read_to_string(repo("backtests/sma_crossover.toml"))
        .unwrap()
        .replace("backtests/data/GOOG.csv", data.to_str().unwrap());
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    let output = backtest(&path, &dir.join("out"));
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("data-quality warning: GOOG at"), "{err}");
    let day = &date[..10];
    assert!(err.contains(day), "expected {day} in {err}");
}

#[test]
fn an_error_quotes_at_most_a_few_hundred_characters_of_what_was_written() {
    let base = std::fs::read_to_string(repo("backtests/sma_crossover.toml")).unwrap();
    let long = "x".repeat(100_000);
    for text in [
        base.replace("name = \"sma_crossover\"", &format!("name = \"{long}\"")),
        base.replace("path = \"backtests/data/GOOG.csv\"", "path = \"backtests/data/GOOG.csv\"\n[[features]]\nname = \"f\"\nkind = \"LONG\"\nperiod = 3")
            .replace("LONG", &long),
    ] {
        let err = fails(&text);
        assert!(err.len() < 2_000, "{} characters: {}", err.len(), &err[..300]);
        assert!(err.contains("more characters"), "{err}");
    }
}
