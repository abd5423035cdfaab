//! Paper trading end to end: `quant paper` against `quant feed replay` on loopback gives the
//! backtest's orders and fills, survives a misbehaving feed, and resumes after kill -9.

use crate::support::{quant, repo, scratch, stderr};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// GOOG's daily bars in backtests/data/GOOG.csv.
const GOOG_BARS: usize = 2148;

/// A child process killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `quant feed replay` of GOOG with `extra` flags; returns it and its port.
pub(crate) fn replay(extra: &[&str]) -> (Running, u16) {
    replay_file(Path::new("backtests/data/GOOG.csv"), extra)
}

/// Starts `quant feed replay FILE` with `extra` flags; returns it and its port.
pub(crate) fn replay_file(file: &Path, extra: &[&str]) -> (Running, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quant"))
        .args(["feed", "replay", file.to_str().unwrap(), "--port", "0"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (Running(child), port)
}

/// Writes a paper config for the replay on `port`, journaled in `dir`.
fn config(dir: &Path, port: u16, stale_after_s: f64) -> PathBuf {
    let text = std::fs::read_to_string(repo("backtests/paper_sma.toml"))
        .unwrap()
        .replace("ws://127.0.0.1:9001", &format!("ws://127.0.0.1:{port}"))
        .replace(
            "journal = \"journal/paper-sma-goog\"",
            &format!("journal = \"{}\"", dir.join("journal").display()),
        )
        .replace(
            "stale_after_s = 30",
            &format!("stale_after_s = {stale_after_s}"),
        )
        .replace(
            "reconnect = { initial_ms = 250, max_ms = 5_000 }",
            "reconnect = { initial_ms = 20, max_ms = 200 }",
        );
    let path = dir.join("paper.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `quant paper` until it has used every GOOG bar.
fn paper(config: &Path, out: &Path) -> std::process::Output {
    let output = quant(&[
        "paper",
        s(config),
        "--events",
        &GOOG_BARS.to_string(),
        "--duration",
        "60",
        "--out",
        s(out),
    ]);
    assert!(output.status.success(), "paper failed: {}", stderr(&output));
    output
}

fn backtest(config: &Path, out: &Path) {
    let output = quant(&["backtest", s(config), "--out", s(out)]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Order ids in the journal's order lines.
fn journaled_order_ids(journal: &Path) -> Vec<u64> {
    text(journal)
        .lines()
        .filter_map(|l| l.strip_prefix("O "))
        .map(|json| {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            v["id"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn paper_over_a_replay_gives_the_backtests_orders_and_fills() {
    let dir = scratch("paper-parity");
    let (_server, port) = replay(&[]);
    let config = config(&dir, port, 30.0);
    paper(&config, &dir.join("paper"));
    backtest(&config, &dir.join("backtest"));
    for file in ["orders.csv", "fills.csv", "trades.csv", "equity.csv"] {
        assert_eq!(
            text(&dir.join("paper").join(file)),
            text(&dir.join("backtest").join(file)),
            "{file} differs between paper and backtest"
        );
    }
}

#[test]
fn rules_trade_the_same_in_paper_as_in_their_backtest() {
    let dir = scratch("paper-rules");
    let (_server, port) = replay(&[]);
    let config = config(&dir, port, 30.0);
    let sma = "name = \"sma_crossover\"\n[strategy.params]\nfast = 10\nslow = 20\n";
    let rules = "name = \"rules\"\n[strategy.params]\n\
        entry_long = \"crosses_above(sma_fast, sma_slow) and rsi < 75\"\n\
        exit_long = \"crosses_below(sma_fast, sma_slow) or bars_held >= 40\"\n\
        stop_loss = \"3 * atr\"\ntrailing_stop = \"4 * atr\"\n\n\
        [[features]]\nname = \"sma_fast\"\nkind = \"sma\"\nperiod = 10\n\
        [[features]]\nname = \"sma_slow\"\nkind = \"sma\"\nperiod = 20\n\
        [[features]]\nname = \"rsi\"\nkind = \"rsi\"\n\
        [[features]]\nname = \"atr\"\nkind = \"atr\"\n";
    let written = text(&config);
    assert!(written.contains(sma));
    std::fs::write(&config, written.replace(sma, rules)).unwrap();
    paper(&config, &dir.join("paper"));
    backtest(&config, &dir.join("backtest"));
    let orders = text(&dir.join("backtest").join("orders.csv"));
    assert!(orders.lines().count() > 40, "{orders}");
    assert!(
        orders.contains(",stop,"),
        "no trailing or bracket stop in\n{orders}"
    );
    for file in ["orders.csv", "fills.csv", "trades.csv", "equity.csv"] {
        assert_eq!(
            text(&dir.join("paper").join(file)),
            text(&dir.join("backtest").join(file)),
            "{file} differs between paper and backtest"
        );
    }
}

#[test]
fn a_misbehaving_feed_is_survived_and_reported() {
    let dir = scratch("paper-faults");
    let (_server, port) = replay(&[
        "--fault-malformed-at",
        "300",
        "--fault-unknown-at",
        "400",
        "--fault-drop-at",
        "500",
        "--fault-duplicate-at",
        "700",
        "--fault-stall-at",
        "900",
        "--fault-swap-at",
        "1100",
    ]);
    let config = config(&dir, port, 1.0);
    let out = dir.join("paper");
    // The dropped connection loses the bar in flight (a gap), and a bar sent after its
    // successor is skipped as late: two events fewer than the file.
    let output = quant(&[
        "paper",
        s(&config),
        "--events",
        &(GOOG_BARS - 2).to_string(),
        "--duration",
        "60",
        "--out",
        s(&out),
    ]);
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    for expected in [
        "malformed",
        "not subscribed",
        "disconnected",
        "reconnecting",
        "watchdog",
        "skipped a repeated or late message",
        "gap in GOOG",
    ] {
        assert!(log.contains(expected), "no {expected:?} in the log:\n{log}");
    }
    let ids = journaled_order_ids(&dir.join("journal"));
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "an order was journaled twice");
    assert!(out.join("summary.json").exists());
}

#[test]
fn a_killed_session_resumes_from_its_journal() {
    let dir = scratch("paper-kill");
    let journal = dir.join("journal");
    {
        // Paced so the session is mid-run when it is killed.
        let (_server, port) = replay(&["--speed", "8640000"]);
        let config = config(&dir, port, 30.0);
        let mut child = Running(
            Command::new(env!("CARGO_BIN_EXE_quant"))
                .args(["paper", s(&config), "--out", s(&dir.join("first"))])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let started = Instant::now();
        while text_or_empty(&journal)
            .lines()
            .filter(|l| l.starts_with('M'))
            .count()
            < 600
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the session never got going"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.0.kill(); // SIGKILL: no clean shutdown
        let _ = child.0.wait();
    }
    let before = journaled_order_ids(&journal);
    // A new replay of the whole file: bars the journal holds arrive again and are skipped as
    // late, the rest continue the session.
    let (_server, port) = replay(&[]);
    let config = config(&dir, port, 30.0);
    let output = paper(&config, &dir.join("resumed"));
    let log = stderr(&output);
    assert!(log.contains("resumed from"), "{log}");
    let after = journaled_order_ids(&journal);
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "journaled orders changed"
    );
    let mut unique = after.clone();
    unique.dedup();
    assert_eq!(after, unique, "an order was journaled twice");
    // Nothing was lost: the resumed session ends exactly where an uninterrupted one does.
    backtest(&config, &dir.join("backtest"));
    for file in ["orders.csv", "fills.csv", "trades.csv"] {
        assert_eq!(
            text(&dir.join("resumed").join(file)),
            text(&dir.join("backtest").join(file)),
            "{file} differs between the resumed session and the backtest"
        );
    }
}

fn text_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The pids of the processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            // Field 4 of /proc/<p>/stat, after the parenthesised command name, is the parent.
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// Sends SIGTERM to `child` and waits (at most 30 s) for it to exit; returns its status.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} still runs 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_paper_and_the_feed_server_each_one_process_and_paper_writes_results() {
    let dir = scratch("paper-sigterm");
    // About 50 bars a second, so the session is mid-run when it is stopped.
    let (mut server, port) = replay(&["--speed", "4320000"]);
    let config = config(&dir, port, 30.0);
    let out = dir.join("out");
    let mut session = Command::new(env!("CARGO_BIN_EXE_quant"))
        .args(["paper", s(&config), "--out", s(&out)])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let journal = dir.join("journal");
    let deadline = Instant::now() + Duration::from_secs(30);
    while text_or_empty(&journal).lines().count() < 50 {
        assert!(Instant::now() < deadline, "the session journaled nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in [session.id(), server.0.id()] {
        assert_eq!(
            children_of(pid),
            Vec::<u32>::new(),
            "pid {pid} has children"
        );
    }

    let status = terminate(&mut session);
    let mut stderr_text = String::new();
    std::io::Read::read_to_string(session.stderr.as_mut().unwrap(), &mut stderr_text).unwrap();
    assert!(
        status.success(),
        "paper after SIGTERM: {status}: {stderr_text}"
    );
    assert!(stderr_text.contains("SIGTERM"), "{stderr_text}");
    let summary: serde_json::Value =
        serde_json::from_str(&text(&out.join("summary.json"))).unwrap();
    assert!(summary["final_equity"].as_f64().unwrap() > 0.0);
    assert!(out.join("equity.csv").exists() && out.join("report.html").exists());
    let steps = text(&out.join("equity.csv")).lines().count() - 1;
    assert!(
        steps > 0 && steps < GOOG_BARS,
        "{steps} steps: stopped mid-run"
    );

    let status = terminate(&mut server.0);
    assert!(status.success(), "feed replay after SIGTERM: {status}");
}

#[test]
fn a_benchmark_file_that_misses_a_session_costs_the_comparison_not_the_results() {
    let dir = scratch("paper-benchmark-miss");
    let old = dir.join("OLD.csv");
    std::fs::write(
        &old,
        "date,open,high,low,close,volume\n2001-01-02,1,1.2,1,1,10\n2001-01-03,1,1.2,1,1.1,10\n",
    )
    .unwrap();
    let (_server, port) = replay(&[]);
    let config = config(&dir, port, 30.0);
    let text = text(&config) + &format!("\n[output]\nbenchmark = {{ path = {old:?} }}\n");
    std::fs::write(&config, text).unwrap();
    let out = dir.join("paper");
    let output = paper(&config, &out);
    let err = stderr(&output);
    assert!(
        err.contains("without the benchmark file") && err.contains("2001-01-03 only"),
        "{err}"
    );
    assert!(out.join("summary.json").exists() && out.join("trades.csv").exists());
    // A benchmark file that does not exist is refused before the session starts.
    let missing = dir.join("missing.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("{old:?}"), "\"no/such.csv\"");
    std::fs::write(&missing, text).unwrap();
    let output = quant(&["paper", s(&missing), "--out", s(&dir.join("never"))]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("output.benchmark"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.join("never").exists());
}

/// Adds `lines` to the `[live]` table of a config written by [`config`].
fn with_live_keys(config: &Path, lines: &str) {
    let written = text(config);
    assert!(written.contains("sync_ms = 200"), "{written}");
    std::fs::write(
        config,
        written.replace("sync_ms = 200", &format!("sync_ms = 200\n{lines}")),
    )
    .unwrap();
}

#[test]
fn paper_logs_json_lines_with_timestamps_and_levels_and_quiet_keeps_only_warnings() {
    let dir = scratch("paper-logs");
    let (_server, port) = replay(&[]);
    let json_config = config(&dir, port, 30.0);
    let events = GOOG_BARS.to_string();
    let run = |flags: &[&str], out: &str| {
        let out = dir.join(out);
        let mut args = vec![
            "paper",
            s(&json_config),
            "--events",
            &events,
            "--out",
            s(&out),
        ];
        args.extend_from_slice(flags);
        let output = quant(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    };
    let log = run(&["-v", "--log-format", "json"], "json");
    let lines: Vec<serde_json::Value> = (log.lines())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    for line in &lines {
        assert!(
            line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert!(line["message"].is_string(), "{line}");
    }
    let level = |l: &serde_json::Value| l["level"].as_str().unwrap_or_default().to_owned();
    let connected = (lines.iter())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("feed: connected"))
        })
        .unwrap_or_else(|| panic!("no connected line in {log}"));
    assert_eq!(level(connected), "INFO");
    assert!(
        connected["url"]
            .as_str()
            .is_some_and(|u| u.contains(&port.to_string()))
    );
    // -v shows each order as it is submitted.
    assert!(
        lines.iter().any(|l| level(l) == "DEBUG" && l["order"] == 1),
        "{log}"
    );
    // The replay's two weekend-and-holiday gaps are warnings with their kind as a field.
    assert!(
        lines
            .iter()
            .any(|l| level(l) == "WARN" && l["notice"] == "missing_bars"),
        "{log}"
    );

    // A session of its own (a new journal, a new feed): the first one's journal would resume.
    let (_server, port) = replay(&[]);
    let quiet_dir = dir.join("q");
    std::fs::create_dir_all(&quiet_dir).unwrap();
    let quiet_config = config(&quiet_dir, port, 30.0);
    let output = quant(&[
        "paper",
        s(&quiet_config),
        "--events",
        &events,
        "--out",
        s(&quiet_dir.join("out")),
        "-q",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let quiet = stderr(&output);
    assert!(
        !quiet.contains("INFO") && !quiet.contains("feed: connected"),
        "{quiet}"
    );
    assert!(
        quiet.contains("WARN") && quiet.contains("feed: gap in GOOG"),
        "{quiet}"
    );
}

#[test]
fn a_long_paper_session_logs_its_status_and_refreshes_its_results_while_it_runs() {
    let dir = scratch("paper-refresh");
    // About a bar a millisecond: the session lasts two seconds or so.
    let (_server, port) = replay(&["--speed", "86400000"]);
    let config = config(&dir, port, 30.0);
    with_live_keys(&config, "status_every_s = 0.2\nrefresh_results_s = 0.3");
    let out = dir.join("paper");
    let mut session = Command::new(env!("CARGO_BIN_EXE_quant"))
        .args([
            "paper",
            s(&config),
            "--events",
            &GOOG_BARS.to_string(),
            "--out",
            s(&out),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_while_running = false;
    while session.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the session did not end");
        seen_while_running |= out.join("summary.json").exists();
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut log = String::new();
    std::io::Read::read_to_string(session.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(session.wait().unwrap().success(), "{log}");
    assert!(
        seen_while_running,
        "no summary.json before the session ended: {log}"
    );
    assert!(log.contains("results refreshed"), "{log}");
    // stderr is a pipe, not a terminal: status lines are logged, never redrawn with \r.
    let status = log
        .lines()
        .filter(|l| l.contains("INFO status: connected"))
        .count();
    assert!(status >= 2, "{status} status lines in {log}");
    assert!(!log.contains('\r'), "{log}");
    // Refreshes read the session and never change it: the final files are the backtest's.
    backtest(&config, &dir.join("backtest"));
    for file in ["orders.csv", "fills.csv", "trades.csv", "equity.csv"] {
        assert_eq!(
            text(&out.join(file)),
            text(&dir.join("backtest").join(file)),
            "{file} differs between paper and backtest"
        );
    }
}

#[test]
fn a_session_length_that_is_not_seconds_is_refused_naming_the_option() {
    // Before any connection: the value is checked as the command line is read.
    for command in ["paper", "live"] {
        for bad in ["-1", "NaN", "inf", "1e30", "soon"] {
            let output = quant(&[
                command,
                "backtests/paper_sma.toml",
                &format!("--duration={bad}"),
            ]);
            let err = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{command} {bad}: {err}");
            assert!(
                err.contains("--duration") && err.contains("expected seconds >= 0"),
                "{command} {bad}: {err}"
            );
        }
    }
}
