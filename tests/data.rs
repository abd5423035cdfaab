//! Market data end to end: `quant data` conversions, backtests over Parquet, Arrow and a streamed
//! catalog against the same bars as CSV, and bad files named in errors.

use crate::support::{quant, repo, scratch, stderr};
use std::path::{Path, PathBuf};

fn ok(args: &[&str]) -> String {
    let output = quant(args);
    assert!(
        output.status.success(),
        "quant {args:?} failed: {}",
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Writes a config running SMA(10/20) over `[data]` given as TOML lines.
fn config(dir: &Path, name: &str, data: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let out = dir.join("out");
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\n[data]\n{data}\n[strategy]\nname = \"sma_crossover\"\n\
             [strategy.params]\nfast = 10\nslow = 20\n[broker]\ninitial_cash = 10_000.0\n\
             commission = 0.002\n[output]\ndir = \"{}\"\nreport = false\n",
            out.display()
        ),
    )
    .unwrap();
    path
}

/// The result files that must agree between two runs of the same bars.
const RESULTS: [&str; 4] = ["trades.csv", "fills.csv", "orders.csv", "equity.csv"];

fn assert_same_results(dir: &Path, a: &str, b: &str) {
    for file in RESULTS {
        let (x, y) = (
            dir.join("out").join(a).join("latest").join(file),
            dir.join("out").join(b).join("latest").join(file),
        );
        assert_eq!(text(&x), text(&y), "{file} differs between {a} and {b}");
    }
    let summary = |name: &str| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&text(
            &dir.join("out").join(name).join("latest/summary.json"),
        ))
        .unwrap();
        v["final_equity"].clone()
    };
    assert_eq!(summary(a), summary(b));
}

#[test]
fn csv_parquet_arrow_csv_round_trip_is_lossless() {
    let dir = scratch("roundtrip");
    let (a, p, i, st, b) = (
        dir.join("a.csv"),
        dir.join("goog.parquet"),
        dir.join("goog.arrow"),
        dir.join("goog.arrows"),
        dir.join("b.csv"),
    );
    // The Yahoo-style fixture normalised once to the writer's layout, then around the formats.
    ok(&["data", "convert", "backtests/data/GOOG.csv", s(&a)]);
    ok(&["data", "convert", s(&a), s(&p)]);
    ok(&["data", "convert", s(&p), s(&i)]);
    ok(&["data", "convert", s(&i), s(&st)]);
    ok(&["data", "convert", s(&st), s(&b)]);
    assert_eq!(text(&a), text(&b));
    assert!(text(&a).lines().count() > 2000);
}

/// The Python tests read this file in pandas and polars, which checks that other readers take
/// the encodings quant writes; it must be what `quant data convert` writes today.
#[test]
fn the_parquet_fixture_other_readers_are_tested_on_is_what_convert_writes() {
    let dir = scratch("fixture");
    let fresh = dir.join("GOOG.parquet");
    ok(&[
        "data",
        "convert",
        "backtests/data/GOOG.csv",
        s(&fresh),
        "--instrument",
        "GOOG",
    ]);
    let fixture = repo("tests/fixtures/written/GOOG.parquet");
    assert!(
        std::fs::read(&fresh).unwrap() == std::fs::read(&fixture).unwrap(),
        "{} differs from what quant writes now (its layout changed, or an upgrade of the parquet \
         crate changed the footer's `created_by`): rewrite it with `quant data convert \
         backtests/data/GOOG.csv {} --instrument GOOG`",
        fixture.display(),
        fixture.display()
    );
}

#[test]
fn backtests_over_parquet_arrow_and_csv_agree() {
    let dir = scratch("formats");
    ok(&[
        "data",
        "convert",
        "backtests/data/GOOG.csv",
        s(&dir.join("GOOG.parquet")),
    ]);
    ok(&[
        "data",
        "convert",
        "backtests/data/GOOG.csv",
        s(&dir.join("GOOG.arrow")),
    ]);
    let csv = config(
        &dir,
        "csv",
        "kind = \"csv\"\npath = \"backtests/data/GOOG.csv\"",
    );
    let parquet = config(
        &dir,
        "parquet",
        &format!(
            "kind = \"parquet\"\npath = \"{}\"",
            s(&dir.join("GOOG.parquet"))
        ),
    );
    let arrow = config(
        &dir,
        "arrow",
        &format!(
            "kind = \"arrow\"\npath = \"{}\"",
            s(&dir.join("GOOG.arrow"))
        ),
    );
    for c in [&csv, &parquet, &arrow] {
        ok(&["backtest", s(c)]);
    }
    assert_same_results(&dir, "csv", "parquet");
    assert_same_results(&dir, "csv", "arrow");
}

#[test]
fn streamed_catalog_equals_the_same_bars_in_memory() {
    let dir = scratch("catalog");
    let catalog = dir.join("catalog");
    let files = dir.join("files");
    // Parts of 700 bars: every instrument spans several files, read one after another.
    ok(&[
        "data",
        "synth",
        "--out",
        s(&catalog),
        "--instruments",
        "4",
        "--bars",
        "3000",
        "--part-rows",
        "700",
    ]);
    ok(&[
        "data",
        "synth",
        "--out",
        s(&files),
        "--instruments",
        "4",
        "--bars",
        "3000",
        "--layout",
        "files",
    ]);
    let streamed = config(
        &dir,
        "streamed",
        &format!("kind = \"catalog\"\npath = \"{}\"", s(&catalog)),
    );
    let loaded = config(
        &dir,
        "loaded",
        &format!(
            "kind = \"parquet\"\npath = \"{}\"\nstream = false",
            s(&files)
        ),
    );
    // Parquet files of one instrument each stream by default, as a catalog does.
    let files_streamed = config(
        &dir,
        "files-streamed",
        &format!("kind = \"parquet\"\npath = \"{}\"", s(&files)),
    );
    ok(&["backtest", s(&streamed)]);
    ok(&["backtest", s(&loaded)]);
    ok(&["backtest", s(&files_streamed)]);
    assert_same_results(&dir, "streamed", "loaded");
    assert_same_results(&dir, "files-streamed", "loaded");

    // A date range and an instrument selection read only those bars.
    let ranged = config(
        &dir,
        "ranged",
        &format!(
            "kind = \"catalog\"\npath = \"{}\"\ninstruments = [\"SYN002\", \"SYN000\"]\n\
             start = \"2024-01-01T10:00:00Z\"\nend = \"2024-01-02T12:00:00Z\"",
            s(&catalog)
        ),
    );
    let stdout = ok(&["backtest", s(&ranged)]);
    // 26 hours of one-minute bars for each of two instruments.
    assert!(
        stdout.contains(&format!("{} bars", 2 * 26 * 60)),
        "{stdout}"
    );
    let equity = text(&dir.join("out/ranged/latest/equity.csv"));
    let first = equity.lines().nth(1).unwrap();
    assert!(first.starts_with("2024-01-01T10:00:00Z"), "{first}");
}

#[test]
fn streamed_sleeves_equal_the_loaded_sleeves_on_one_thread_or_two() {
    let dir = scratch("sleeves-streamed");
    let (catalog, files) = (dir.join("catalog"), dir.join("files"));
    // Instruments of different lengths (the same seed, so the same bars as files), each
    // spanning several parts.
    let synth = |out: &Path, layout: &[&str]| {
        let mut args = vec!["data", "synth", "--out", s(out), "--instruments", "3"];
        args.extend(["--bars", "2500", "--part-rows", "600"]);
        args.extend(layout);
        ok(&args);
    };
    synth(&catalog, &[]);
    synth(&files, &["--layout", "files"]);
    let sleeves = "\n[portfolio]\nmode = \"sleeves\"\n[portfolio.weights]\nSYN000 = 2.0\n\
                   SYN001 = 1.0\nSYN002 = 1.0";
    let catalog_data = format!("kind = \"catalog\"\npath = \"{}\"{sleeves}", s(&catalog));
    let files_data = |stream: bool| {
        format!(
            "kind = \"parquet\"\npath = \"{}\"\nstream = {stream}{sleeves}",
            s(&files)
        )
    };
    let runs = [
        ("catalog", catalog_data.as_str(), "1"),
        ("catalog-two", catalog_data.as_str(), "2"),
        ("files", files_data(true).as_str(), "2"),
        ("loaded", files_data(false).as_str(), "1"),
    ]
    .map(|(name, data, threads)| (name.to_string(), data.to_string(), threads));
    for (name, data, threads) in &runs {
        let c = config(&dir, name, data);
        ok(&["backtest", s(&c), "--threads", threads]);
    }
    let sleeves_of = |name: &str| -> serde_json::Value {
        let path = dir.join("out").join(name).join("latest/summary.json");
        serde_json::from_str::<serde_json::Value>(&text(&path)).unwrap()["sleeves"].clone()
    };
    let loaded = sleeves_of("loaded");
    assert_eq!(loaded.as_array().map(Vec::len), Some(3), "{loaded}");
    assert_eq!(loaded[0]["weight"], 0.5, "{loaded}");
    for name in ["catalog", "catalog-two", "files"] {
        assert_same_results(&dir, name, "loaded");
        assert_eq!(sleeves_of(name), loaded, "{name}");
    }
}

#[test]
fn a_bad_row_met_mid_stream_names_the_file_and_row_in_both_modes() {
    let dir = scratch("bad-row-streamed");
    let (catalog, _, parts) = synth_parts(&dir, 3000, 1000);
    // The second part, rewritten with a NaN close in its row 101.
    let (id, all) = (
        market_data::InstrumentId::new("SYN000"),
        market_data::columnar::TimeRange::ALL,
    );
    let mut bars = market_data::columnar::read_bar_file(&parts[1], id, all).unwrap();
    bars[0].bars[100].close = f64::NAN;
    market_data::columnar::write_bars(&parts[1], &bars[0].bars, None).unwrap();
    for mode in ["shared", "sleeves"] {
        let c = config(
            &dir,
            mode,
            &format!(
                "kind = \"catalog\"\npath = \"{}\"\n[portfolio]\nmode = \"{mode}\"",
                s(&catalog)
            ),
        );
        let err = stderr(&quant(&["backtest", s(&c)]));
        let name = parts[1].file_name().unwrap().to_str().unwrap();
        assert!(
            err.contains(name) && err.contains("row 101") && err.contains("close"),
            "{mode}: {err}"
        );
    }
}

#[test]
fn overlapping_catalog_parts_and_bad_files_are_named() {
    let dir = scratch("bad-catalog");
    let (catalog, folder, parts) = synth_parts(&dir, 100, 50);
    // A copy of the first part under a later name overlaps the second.
    std::fs::copy(&parts[0], folder.join("29990101T000000.parquet")).unwrap();
    let c = config(
        &dir,
        "overlap",
        &format!("kind = \"catalog\"\npath = \"{}\"", s(&catalog)),
    );
    let err = stderr(&quant(&["backtest", s(&c)]));
    assert!(
        err.contains("overlaps") && err.contains("29990101T000000.parquet"),
        "{err}"
    );

    // A corrupt file is named with its format.
    std::fs::remove_file(folder.join("29990101T000000.parquet")).unwrap();
    std::fs::write(
        folder.join("29990101T000000.parquet"),
        b"not parquet at all",
    )
    .unwrap();
    let err = stderr(&quant(&["backtest", s(&c)]));
    assert!(
        err.contains("29990101T000000.parquet") && err.contains("Parquet"),
        "{err}"
    );

    // A typo in the kind names the key and the choices.
    let typo = config(&dir, "typo", "kind = \"parquett\"\npath = \"x\"");
    let err = stderr(&quant(&["backtest", s(&typo)]));
    assert!(err.contains("kind") && err.contains("parquet"), "{err}");
}

#[test]
fn inspect_reports_gaps_duplicates_and_bad_rows_without_stopping() {
    let dir = scratch("inspect");
    let csv = dir.join("bad.csv");
    std::fs::write(
        &csv,
        "timestamp,open,high,low,close,volume\n\
         2024-01-01T00:00:00Z,10,11,9,10,5\n\
         2024-01-01T00:01:00Z,10,11,9,10,5\n\
         2024-01-01T00:02:00Z,10,11,9,10,5\n\
         2024-01-01T00:03:00Z,10,11,9,10,5\n\
         2024-01-01T01:00:00Z,10,11,9,10,5\n\
         2024-01-01T01:01:00Z,10,9,11,10,5\n\
         2024-01-01T01:02:00Z,NaN,11,9,10,5\n",
    )
    .unwrap();
    let stdout = ok(&["data", "inspect", s(&csv)]);
    assert!(stdout.contains("1 gaps"), "{stdout}");
    assert!(
        stdout.contains("2024-01-01T00:03:00Z -> 2024-01-01T01:00:00Z"),
        "{stdout}"
    );
    assert!(stdout.contains("invalid rows 2"), "{stdout}");
    assert!(
        stdout.contains("line 7") && stdout.contains("line 8"),
        "{stdout}"
    );
}

#[test]
fn weekends_and_exchange_holidays_are_not_gaps() {
    let goog = repo("backtests/data/GOOG.csv");
    // GOOG's bars skip every weekend and US holiday (and 2007-01-02 and Sandy's two days):
    // nothing is missing for the US equity calendar, inferred from the bars.
    let stdout = ok(&["data", "inspect", s(&goog)]);
    assert!(stdout.contains("spacing 1d, 0 gaps"), "{stdout}");
    assert!(stdout.contains("us_equity calendar, inferred"), "{stdout}");
    // Read as a market open every day, each weekend is a gap; as weekdays, each holiday.
    let gaps = |calendar: &str| {
        let out = ok(&["data", "inspect", s(&goog), "--calendar", calendar]);
        let at = out.find(" gaps,").unwrap();
        out[..at]
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert!(gaps("24/7") > 400);
    assert!((60..100).contains(&gaps("weekdays")));
    let err = stderr(&quant(&["data", "inspect", s(&goog), "--calendar", "nyse"]));
    assert!(
        err.contains("\"us_equity\"") && err.contains("\"nyse\""),
        "{err}"
    );
}

#[test]
fn trades_resample_into_bars_that_conserve_volume() {
    let dir = scratch("resample");
    ok(&[
        "data",
        "synth",
        "--out",
        s(&dir),
        "--instruments",
        "1",
        "--bars",
        "5000",
        "--kind",
        "trades",
        "--interval",
        "1s",
        "--layout",
        "files",
    ]);
    let trades = dir.join("SYN000.parquet");
    let bars = dir.join("bars.csv");
    let stdout = ok(&["data", "resample", s(&trades), s(&bars), "--rule", "1m"]);
    assert!(stdout.contains("5000 input rows"), "{stdout}");
    let trades_csv = dir.join("trades.csv");
    ok(&[
        "data",
        "convert",
        s(&trades),
        s(&trades_csv),
        "--kind",
        "trades",
    ]);
    let qty: f64 = text(&trades_csv)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .sum();
    let volume: f64 = text(&bars)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((qty - volume).abs() <= 1e-9 * qty, "{qty} vs {volume}");
    // Every bar opens on a whole minute.
    assert!(
        text(&bars)
            .lines()
            .skip(1)
            .all(|l| l.split(',').next().unwrap().ends_with(":00Z") || !l.contains('T'))
    );
}

#[test]
fn bar_strategies_run_on_ticks_with_bars_built_from_trades() {
    let dir = scratch("ticks");
    let catalog = dir.join("catalog");
    for kind in ["trades", "quotes"] {
        ok(&[
            "data",
            "synth",
            "--out",
            s(&catalog),
            "--instruments",
            "2",
            "--bars",
            "6000",
            "--kind",
            kind,
            "--interval",
            "1s",
            "--part-rows",
            "2500",
        ]);
    }
    let data = format!(
        "kind = \"catalog\"\npath = \"{}\"\nticks = [\"trades\", \"quotes\"]\nresample = \"1m\"",
        s(&catalog)
    );
    let a = config(&dir, "ticks_a", &data);
    let b = config(&dir, "ticks_b", &data);
    let stdout = ok(&["backtest", s(&a)]);
    assert!(stdout.contains("24000 ticks"), "{stdout}");
    ok(&["backtest", s(&b)]);
    assert_same_results(&dir, "ticks_a", "ticks_b");
    let fills = text(&dir.join("out/ticks_a/latest/fills.csv"));
    assert!(fills.lines().count() > 3, "{fills}");
    // Orders decided on a bar fill on a later tick, never at the bar's boundary itself.
    for line in fills.lines().skip(1) {
        assert!(!line.starts_with("2024-01-01T00:00:00Z"), "{line}");
    }

    let csv = config(
        &dir,
        "csv_ticks",
        "kind = \"csv\"\npath = \"x.csv\"\nticks = [\"trades\"]",
    );
    let err = stderr(&quant(&["backtest", s(&csv)]));
    assert!(err.contains("data.ticks"), "{err}");
    let quotes_only = config(
        &dir,
        "quotes_bars",
        &format!(
            "kind = \"catalog\"\npath = \"{}\"\nticks = [\"quotes\"]\nresample = \"1m\"",
            s(&catalog)
        ),
    );
    let err = stderr(&quant(&["backtest", s(&quotes_only)]));
    assert!(
        err.contains("data.resample") && err.contains("trades"),
        "{err}"
    );
}

#[test]
fn inspect_flags_implausible_jumps_and_none_in_the_real_data() {
    let dir = scratch("inspect-jumps");
    let (file, _) = crate::support::goog_with_a_shifted_bar(&dir);
    let out = quant(&["data", "inspect", file.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("2 implausible jumps"), "{printed}");
    let real = quant(&["data", "inspect", "backtests/data/GOOG.csv"]);
    assert!(!String::from_utf8_lossy(&real.stdout).contains("implausible"));
}

/// Writes a one-instrument synthetic catalog of `bars` bars in parts of `part_rows` into
/// `dir/catalog`; returns the catalog, its instrument's folder and its parts in time order.
fn synth_parts(dir: &Path, bars: usize, part_rows: usize) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let catalog = dir.join("catalog");
    let (bars, part_rows) = (bars.to_string(), part_rows.to_string());
    ok(&[
        "data",
        "synth",
        "--out",
        s(&catalog),
        "--instruments",
        "1",
        "--bars",
        &bars,
        "--part-rows",
        &part_rows,
    ]);
    let folder = catalog.join("bars/SYN000");
    let mut parts: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    (catalog, folder, parts)
}

#[test]
fn a_run_that_fails_midway_keeps_the_last_results_of_its_out_folder() {
    let dir = scratch("keep-old-results");
    let (catalog, _, parts) = synth_parts(&dir, 3000, 1000);
    let c = config(
        &dir,
        "kept",
        &format!("kind = \"catalog\"\npath = \"{}\"", s(&catalog)),
    );
    let out = dir.join("results");
    ok(&["backtest", s(&c), "--out", s(&out)]);
    let summary = text(&out.join("summary.json"));
    // A NaN close in the second part stops the next run after a thousand bars.
    let (id, all) = (
        market_data::InstrumentId::new("SYN000"),
        market_data::columnar::TimeRange::ALL,
    );
    let good = market_data::columnar::read_bar_file(&parts[1], id, all).unwrap();
    let mut bad = good[0].bars.clone();
    bad[100].close = f64::NAN;
    market_data::columnar::write_bars(&parts[1], &bad, None).unwrap();
    let failed = quant(&["backtest", s(&c), "--out", s(&out), "--force"]);
    assert!(!failed.status.success(), "{}", stderr(&failed));
    assert_eq!(
        text(&out.join("summary.json")),
        summary,
        "the last results stay"
    );
    // Once the data is mended, a forced run replaces them and what the failed run left.
    market_data::columnar::write_bars(&parts[1], &good[0].bars, None).unwrap();
    ok(&["backtest", s(&c), "--out", s(&out), "--force"]);
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(out.join("equity.parquet").exists());
}
