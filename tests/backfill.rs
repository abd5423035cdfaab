//! Bars lost while a paper session was down: a session stopped after GOOG's first 1,000 bars
//! is restarted against a feed that continues 23 bars later (as a venue does), and reports the
//! gap from its journal; with `[live] backfill` from a mock Binance REST server or from a file
//! it ends exactly where an uninterrupted session does; a failing backfill is reported and the
//! session goes on.

use crate::support::{quant, repo, scratch, stderr};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// GOOG's daily bars in backtests/data/GOOG.csv.
const GOOG_BARS: usize = 2148;
/// Bars the first session uses before it stops.
const FIRST: usize = 1000;
/// Bars the feed moved on while no session was running.
const DOWN: usize = 23;

/// A child process killed when dropped.
/// Writes GOOG's rows `from..to` (0-based, after the header) to `dir/GOOG.csv`.
fn goog_rows(dir: &Path, from: usize, to: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("GOOG.csv");
    let mut out = lines[0].to_string() + "\n";
    for line in &lines[1 + from..1 + to] {
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// Starts `quant feed replay FILE` of daily bars with `extra` flags; returns it and its port.
fn replay(file: &Path, extra: &[&str]) -> (crate::paper::Running, u16) {
    let flags: Vec<&str> = ["--interval", "1d"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    crate::paper::replay_file(file, &flags)
}

/// Writes a paper config of `backtests/paper_sma.toml` for the feed on `port`, journaled in
/// `dir`, with `backfill` (a TOML value, or nothing) in `[live]`.
fn config(dir: &Path, port: u16, backfill: Option<&str>) -> PathBuf {
    let mut text = std::fs::read_to_string(repo("backtests/paper_sma.toml"))
        .unwrap()
        .replace("ws://127.0.0.1:9001", &format!("ws://127.0.0.1:{port}"))
        .replace(
            "journal = \"journal/paper-sma-goog\"",
            &format!("journal = \"{}\"", dir.join("journal").display()),
        );
    // [live] is the file's last table.
    if let Some(backfill) = backfill {
        text.push_str(&format!("backfill = {backfill}\n"));
    }
    let path = dir.join("paper.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `quant paper` until it has used `events` events (those of the journal included).
fn paper(config: &Path, out: &Path, events: usize) -> std::process::Output {
    let output = quant(&[
        "paper",
        config.to_str().unwrap(),
        "--events",
        &events.to_string(),
        "--duration",
        "60",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "paper failed: {}", stderr(&output));
    output
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the first session over GOOG's first bars, then restarts it against a feed that
/// continues `DOWN` bars later; returns the second session's output, its results folder and
/// the config.
fn down_and_up(name: &str, backfill: Option<&str>, events: usize) -> (String, PathBuf, PathBuf) {
    let dir = scratch(name);
    {
        let (_feed, port) = replay(&goog_rows(&dir.join("before"), 0, FIRST), &[]);
        paper(&config(&dir, port, backfill), &dir.join("first"), FIRST);
    }
    let journaled = text(&dir.join("journal"));
    let (_feed, port) = replay(&goog_rows(&dir.join("after"), FIRST + DOWN, GOOG_BARS), &[]);
    let config = config(&dir, port, backfill);
    let output = paper(&config, &dir.join("second"), events);
    // Nothing journaled before the restart was lost or rewritten.
    assert!(text(&dir.join("journal")).starts_with(&journaled));
    (stderr(&output), dir.join("second"), config)
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&text(&out.join("summary.json"))).unwrap()
}

/// The date of GOOG's row `k`.
fn date(k: usize) -> String {
    let text = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    let line = text.lines().nth(1 + k).unwrap();
    line.split(',').next().unwrap().to_string()
}

/// Returns the downtime's gap in `summary.json`: GOOG between rows FIRST-1 and FIRST+DOWN.
/// (The file has one more: the exchange closed for two days after Hurricane Sandy in 2012.)
fn the_gap(out: &Path) -> Value {
    let gaps = summary(out)["gaps"].clone();
    let gap = (gaps.as_array().unwrap().iter())
        .find(|g| g["after"].as_str().unwrap().starts_with(&date(FIRST - 1)))
        .unwrap_or_else(|| panic!("{gaps}"));
    assert_eq!(gap["instrument"], "GOOG");
    assert!(
        gap["before"]
            .as_str()
            .unwrap()
            .starts_with(&date(FIRST + DOWN)),
        "{gap}"
    );
    assert!(gap["missing_intervals"].as_u64().unwrap() >= DOWN as u64);
    gap.clone()
}

/// The uninterrupted run: the backtest of the same config, equal to a paper session over the
/// whole file (tests/paper.rs).
fn assert_same_as_uninterrupted(config: &Path, out: &Path) {
    let backtest = out.with_file_name("backtest");
    let output = quant(&[
        "backtest",
        config.to_str().unwrap(),
        "--out",
        backtest.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for file in ["orders.csv", "fills.csv", "trades.csv", "equity.csv"] {
        assert_eq!(
            text(&out.join(file)),
            text(&backtest.join(file)),
            "{file} differs from the uninterrupted run"
        );
    }
    assert_eq!(
        summary(out)["final_equity"],
        summary(&backtest)["final_equity"]
    );
}

#[test]
fn a_restart_after_a_downtime_reports_the_bars_missed_from_the_journal() {
    let (log, out, _) = down_and_up("gap-reported", None, GOOG_BARS - DOWN);
    assert!(
        log.contains("feed: gap in GOOG") && log.contains("not filled"),
        "{log}"
    );
    assert!(
        log.contains("2 gaps in the feed's bars, 2 not filled (see `gaps` in summary.json)"),
        "{log}"
    );
    let gap = the_gap(&out);
    assert_eq!(gap["filled"], 0);
    assert_eq!(gap["backfill"], "off");
    let report = text(&out.join("report.html"));
    assert!(report.contains("gap in GOOG"), "no gap in the report");
}

/// Serves GOOG's bars as Binance's `GET /api/v3/klines` on 127.0.0.1, at most 10 a page so a
/// 23-bar gap takes three requests; returns the base URL and the requests' paths.
fn mock_binance_rest() -> (String, Arc<Mutex<Vec<String>>>) {
    let bars = crate::support::goog().bars;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\r\n\r\n") {}
            log.lock().unwrap().push(path.clone());
            let param = |name: &str| -> i64 {
                path.split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let (start, end) = (param("startTime"), param("endTime"));
            let rows: Vec<String> = bars
                .iter()
                .map(|b| (b, b.ts.0 / 1_000_000))
                .filter(|&(_, ms)| ms >= start && ms <= end)
                .take(10)
                .map(|(b, ms)| {
                    format!(
                        r#"[{ms},"{}","{}","{}","{}","{}",{},"0",1,"0","0","0"]"#,
                        b.open,
                        b.high,
                        b.low,
                        b.close,
                        b.volume,
                        ms + 86_399_999
                    )
                })
                .collect();
            let body = format!("[{}]", rows.join(","));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, asked)
}

#[test]
fn a_backfill_from_the_venues_rest_api_ends_where_an_uninterrupted_session_does() {
    let (base, asked) = mock_binance_rest();
    let backfill = format!("{{ source = \"binance_rest\", url = \"{base}\" }}");
    let (log, out, config) = down_and_up("gap-rest", Some(&backfill), GOOG_BARS);
    assert!(
        log.contains(&format!("backfilled {DOWN} bars from Binance REST {base}")),
        "{log}"
    );
    let gap = the_gap(&out);
    assert_eq!(gap["filled"], DOWN);
    // Three pages for the downtime (GOOG's market closures are asked about too, and have none).
    let before = market_data::csv::parse_timestamp(&date(FIRST + DOWN)).unwrap();
    let end = format!("&endTime={}&", before.0 / 1_000_000 - 1);
    let asked: Vec<String> = (asked.lock().unwrap().iter())
        .filter(|p| p.contains(&end))
        .cloned()
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(
        asked[0].starts_with("/api/v3/klines?symbol=GOOG&interval=1d&startTime="),
        "{asked:?}"
    );
    assert_same_as_uninterrupted(&config, &out);
}

#[test]
fn a_backfill_from_a_file_ends_where_an_uninterrupted_session_does() {
    let file = repo("backtests/data/GOOG.csv");
    let backfill = format!(
        "{{ source = \"bars\", path = \"{}\" }}",
        file.to_str().unwrap()
    );
    let (log, out, config) = down_and_up("gap-file", Some(&backfill), GOOG_BARS);
    assert!(
        log.contains(&format!("backfilled {DOWN} bars from bars in")),
        "{log}"
    );
    assert_eq!(the_gap(&out)["filled"], DOWN);
    assert_same_as_uninterrupted(&config, &out);
}

#[test]
fn a_failed_backfill_is_reported_and_the_session_goes_on() {
    // A port just freed: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = scratch("gap-bad-sources");
    let other = dir.join("AAPL.csv");
    std::fs::copy(repo("backtests/data/GOOG.csv"), &other).unwrap();
    for (name, backfill, expected) in [
        (
            "gap-unreachable",
            format!("{{ source = \"binance_rest\", url = \"http://127.0.0.1:{port}\" }}"),
            format!("GET http://127.0.0.1:{port}/api/v3/klines?symbol=GOOG"),
        ),
        (
            "gap-other-file",
            format!(
                "{{ source = \"bars\", path = \"{}\" }}",
                other.to_str().unwrap()
            ),
            "has no bars of GOOG (it holds: AAPL)".to_string(),
        ),
    ] {
        let (log, out, _) = down_and_up(name, Some(&backfill), GOOG_BARS - DOWN);
        assert!(
            log.contains("NOT FILLED") && log.contains("live.backfill") && log.contains(&expected),
            "{log}"
        );
        let gap = the_gap(&out);
        assert_eq!(gap["filled"], 0);
        assert!(gap["error"].as_str().unwrap().contains(&expected), "{gap}");
    }
}

#[test]
fn a_bad_backfill_table_is_refused_naming_its_key() {
    let dir = scratch("gap-config");
    let coinbase = "{ source = \"binance_rest\" }";
    for (backfill, expected) in [
        (
            "{ source = \"binance_rest\", url = \"ftp://x\" }",
            "`live.backfill.url`: expected an http:// or https:// URL",
        ),
        (
            "{ source = \"binance_rest\", timeout_s = 0 }",
            "`live.backfill.timeout_s`",
        ),
        (
            "{ source = \"bars\", path = \"no/such/file.csv\" }",
            "`live.backfill.path`: expected a bar file",
        ),
        ("{ source = \"rest\" }", "unknown variant `rest`"),
        (
            "{ source = \"bars\", path = \"x\", url = \"y\" }",
            "unknown field `url`",
        ),
        (coinbase, "`live.backfill`: expected source = \"bars\""),
    ] {
        let config = config(&dir, 1, Some(backfill));
        if backfill == coinbase {
            let text = text(&config).replace("format = \"binance\"", "format = \"coinbase\"");
            std::fs::write(&config, text).unwrap();
        }
        let output = quant(&["paper", config.to_str().unwrap()]);
        let log = stderr(&output);
        assert!(!output.status.success(), "{backfill}: accepted");
        assert!(log.contains(expected), "{backfill}: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn a_session_killed_mid_run_is_backfilled_from_its_journal_on_restart() {
    // The issue's case: kill -9 while bars arrive, and a feed that has moved on meanwhile.
    let dir = scratch("gap-kill");
    let journal = dir.join("journal");
    let file = repo("backtests/data/GOOG.csv");
    let backfill = format!(
        "{{ source = \"bars\", path = \"{}\" }}",
        file.to_str().unwrap()
    );
    {
        // Paced so the session is mid-run when it is killed.
        let (_feed, port) = replay(
            &goog_rows(&dir.join("before"), 0, FIRST),
            &["--speed", "8640000"],
        );
        let config = config(&dir, port, Some(&backfill));
        let mut child = crate::paper::Running(
            Command::new(env!("CARGO_BIN_EXE_quant"))
                .args(["paper", config.to_str().unwrap()])
                .args(["--out", dir.join("first").to_str().unwrap()])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let started = std::time::Instant::now();
        let bars = || {
            std::fs::read_to_string(&journal)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with('M'))
                .count()
        };
        while bars() < 600 {
            assert!(
                started.elapsed().as_secs() < 30,
                "the session never got going"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.0.kill(); // SIGKILL: no clean shutdown
        let _ = child.0.wait();
    }
    let (_feed, port) = replay(&goog_rows(&dir.join("after"), FIRST + DOWN, GOOG_BARS), &[]);
    let config = config(&dir, port, Some(&backfill));
    let out = dir.join("second");
    let log = stderr(&paper(&config, &out, GOOG_BARS));
    assert!(log.contains("resumed from"), "{log}");
    let gaps = summary(&out)["gaps"].clone();
    let gap = (gaps.as_array().unwrap().iter())
        .find(|g| {
            g["before"]
                .as_str()
                .unwrap()
                .starts_with(&date(FIRST + DOWN))
        })
        .unwrap_or_else(|| panic!("{gaps}"));
    // Everything after the journal's last bar came back: the killed session's unsent bars too.
    assert!(gap["filled"].as_u64().unwrap() >= DOWN as u64, "{gap}");
    assert_same_as_uninterrupted(&config, &out);
}
