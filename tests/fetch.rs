//! `quant data fetch binance` against a local HTTP server serving zipped kline dumps made here
//! (no test touches the internet): a catalog a backtest reads, checksums, resumed and skipped
//! downloads, and bad arguments.

use crate::support::{quant, scratch, stderr};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server misbehaves with the first request for a file.
#[derive(Clone, Copy, PartialEq)]
enum Trouble {
    None,
    /// Sends half the body, then closes the connection.
    Drop,
    /// Sends half the body, then waits (for the client to be stopped).
    Stall,
}

/// A tiny HTTP/1.1 server: files by path, Range requests answered with 206 unless told to
/// ignore them, and every request line (with its Range) recorded.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Site {
    files: HashMap<String, Vec<u8>>,
    trouble: (String, Trouble),
    ignore_range: bool,
}

impl Server {
    fn start(site: Site) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            let troubled = Arc::new(AtomicBool::new(false));
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (site, log, troubled, stopped) =
                    (site.clone(), log.clone(), troubled.clone(), stopped.clone());
                std::thread::spawn(move || serve(stream, &site, &log, &troubled, &stopped));
            }
        });
        Self {
            base,
            requests,
            stop,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    mut stream: TcpStream,
    site: &Site,
    log: &Mutex<Vec<String>>,
    troubled: &AtomicBool,
    stopped: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_string());
        }
    }
    log.lock().unwrap().push(match &range {
        Some(r) => format!("{path} {r}"),
        None => path.clone(),
    });
    let Some(body) = site.files.get(&path) else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let from: usize = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) if !site.ignore_range => r.trim_end_matches('-').parse().unwrap(),
        _ => 0,
    };
    let rest = &body[from..];
    let head = if from > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {from}-{}/{}\r\n",
            body.len() - 1,
            body.len()
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    let head = format!(
        "{head}content-length: {}\r\nconnection: close\r\n\r\n",
        rest.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (troubled_path, trouble) = &site.trouble;
    if *troubled_path == path && trouble != &Trouble::None && !troubled.swap(true, Ordering::SeqCst)
    {
        let _ = stream.write_all(&rest[..rest.len() / 2]);
        let _ = stream.flush();
        if *trouble == Trouble::Stall {
            while !stopped.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        return;
    }
    let _ = stream.write_all(rest);
}

const HOUR_MS: i64 = 3_600_000;

/// A month of hourly BTCUSDT klines as Binance zips them: one headerless CSV, times in
/// milliseconds before 2025 and microseconds from 2025 on (as the spot dumps changed).
fn month_zip(year: i32, month: u32, hours: usize) -> (String, Vec<u8>) {
    let start = chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let scale = if year >= 2025 { 1000 } else { 1 };
    let mut csv = String::new();
    for h in 0..hours as i64 {
        let open = 40_000.0 + (h % 50) as f64 * 10.0;
        let close = open + if h % 3 == 0 { -5.0 } else { 5.0 };
        let t = start + h * HOUR_MS;
        csv.push_str(&format!(
            "{},{open:.2},{:.2},{:.2},{close:.2},12.5,{},500000.0,100,6.0,240000.0,0\n",
            t * scale,
            open + 20.0,
            open - 20.0,
            (t + HOUR_MS - 1) * scale
        ));
    }
    let name = format!("BTCUSDT-1h-{year}-{month:02}");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(format!("{name}.csv"), options).unwrap();
    zip.write_all(csv.as_bytes()).unwrap();
    (format!("{name}.zip"), zip.finish().unwrap().into_inner())
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const MONTHLY: &str = "/data/spot/monthly/klines/BTCUSDT/1h/";

/// December 2024 (milliseconds) and January 2025 (microseconds), with their checksum files.
fn site() -> Site {
    let mut files = HashMap::new();
    for (year, month) in [(2024, 12), (2025, 1)] {
        let (name, zip) = month_zip(year, month, 31 * 24);
        files.insert(
            format!("{MONTHLY}{name}.CHECKSUM"),
            format!("{}  {name}\n", hex(&zip)).into_bytes(),
        );
        files.insert(format!("{MONTHLY}{name}"), zip);
    }
    Site {
        files,
        trouble: (String::new(), Trouble::None),
        ignore_range: false,
    }
}

fn fetch_args<'a>(server: &'a Server, out: &'a Path) -> Vec<&'a str> {
    vec![
        "data",
        "fetch",
        "binance",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1h",
        "--start",
        "2024-12",
        "--end",
        "2025-02",
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &server.base,
    ]
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", stderr(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn downloaded(out: &Path, month: &str) -> PathBuf {
    out.join(format!(
        "downloads/data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-{month}.zip"
    ))
}

#[test]
fn two_months_become_a_catalog_a_backtest_reads_and_a_rerun_skips_them() {
    let dir = scratch("fetch");
    let out = dir.join("catalog");
    let server = Server::start(site());
    let stdout = ok(&quant(&fetch_args(&server, &out)));
    let bytes = site().files[&format!("{MONTHLY}BTCUSDT-1h-2024-12.zip")].len();
    assert!(
        stdout.contains(&format!(
            "downloaded BTCUSDT-1h-2024-12.zip ({bytes} bytes)"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("1488 bars in 2 parts"), "{stdout}");
    assert_eq!(
        server.requests(),
        [
            format!("{MONTHLY}BTCUSDT-1h-2024-12.zip.CHECKSUM"),
            format!("{MONTHLY}BTCUSDT-1h-2024-12.zip"),
            format!("{MONTHLY}BTCUSDT-1h-2025-01.zip.CHECKSUM"),
            format!("{MONTHLY}BTCUSDT-1h-2025-01.zip"),
        ]
    );

    // Verified files are not fetched again.
    let stdout = ok(&quant(&fetch_args(&server, &out)));
    assert!(
        stdout.contains("skipped BTCUSDT-1h-2024-12.zip (already verified")
            && stdout.contains("skipped BTCUSDT-1h-2025-01.zip"),
        "{stdout}"
    );
    assert_eq!(server.requests().len(), 4);

    // Both time units read as one continuous hourly series.
    let config = dir.join("fetched.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"fetched\"\n[data]\nkind = \"catalog\"\npath = \"{}\"\n\
             [strategy]\nname = \"buy_and_hold\"\n[broker]\ninitial_cash = 10_000.0\n\
             [output]\ndir = \"{}\"\nreport = false\n",
            out.display(),
            dir.join("results").display()
        ),
    )
    .unwrap();
    let stdout = ok(&quant(&["backtest", config.to_str().unwrap()]));
    assert!(stdout.contains("1488 bars"), "{stdout}");
    let equity = std::fs::read_to_string(dir.join("results/fetched/latest/equity.csv")).unwrap();
    assert!(
        equity.lines().nth(1).unwrap().starts_with("2024-12-01,"),
        "{equity}"
    );
    assert!(
        equity
            .lines()
            .last()
            .unwrap()
            .starts_with("2025-01-31T23:00:00Z")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_checksum_mismatch_names_the_file_and_both_hashes_and_writes_nothing() {
    let dir = scratch("fetch-checksum");
    let out = dir.join("catalog");
    let mut site = site();
    let wrong = "0".repeat(64);
    let right = hex(&site.files[&format!("{MONTHLY}BTCUSDT-1h-2025-01.zip")]);
    site.files.insert(
        format!("{MONTHLY}BTCUSDT-1h-2025-01.zip.CHECKSUM"),
        format!("{wrong}  BTCUSDT-1h-2025-01.zip\n").into_bytes(),
    );
    let server = Server::start(site);
    let output = quant(&fetch_args(&server, &out));
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("checksum mismatch for BTCUSDT-1h-2025-01.zip")
            && err.contains(&wrong)
            && err.contains(&right),
        "{err}"
    );
    // December was verified and is kept; nothing reached the catalog, no bad file stays.
    assert!(downloaded(&out, "2024-12").exists());
    assert!(!out.join("bars").exists());
    let bad = downloaded(&out, "2025-01");
    assert!(!bad.exists() && !bad.with_extension("zip.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dropped_download_resumes_with_a_range_request() {
    let dir = scratch("fetch-resume");
    let out = dir.join("catalog");
    let mut site = site();
    let path = format!("{MONTHLY}BTCUSDT-1h-2025-01.zip");
    let size = site.files[&path].len();
    site.trouble = (path.clone(), Trouble::Drop);
    let server = Server::start(site);

    let output = quant(&fetch_args(&server, &out));
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("run the command again to resume"), "{err}");
    let partial = downloaded(&out, "2025-01").with_extension("zip.partial");
    let kept = std::fs::metadata(&partial).unwrap().len() as usize;
    assert_eq!(kept, size / 2);
    assert!(!out.join("bars").exists());

    let stdout = ok(&quant(&fetch_args(&server, &out)));
    assert!(
        stdout.contains(&format!(
            "resumed BTCUSDT-1h-2025-01.zip at {kept} bytes ({size} bytes)"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("1488 bars in 2 parts"), "{stdout}");
    assert!(
        server.requests().contains(&format!("{path} bytes={kept}-")),
        "{:?}",
        server.requests()
    );
    assert!(!partial.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_ignoring_range_restarts_the_download() {
    let dir = scratch("fetch-norange");
    let out = dir.join("catalog");
    let mut site = site();
    site.ignore_range = true;
    let zip = site.files[&format!("{MONTHLY}BTCUSDT-1h-2024-12.zip")].clone();
    let partial = downloaded(&out, "2024-12").with_extension("zip.partial");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, &zip[..100]).unwrap();
    let server = Server::start(site);
    let stdout = ok(&quant(&fetch_args(&server, &out)));
    assert!(
        stdout.contains(&format!(
            "downloaded BTCUSDT-1h-2024-12.zip ({} bytes)",
            zip.len()
        )),
        "{stdout}"
    );
    assert!(server.requests()[1].ends_with("bytes=100-"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_signal_leaves_a_partial_download_the_next_run_resumes() {
    let dir = scratch("fetch-sigint");
    let out = dir.join("catalog");
    let mut site = site();
    let path = format!("{MONTHLY}BTCUSDT-1h-2024-12.zip");
    let half = site.files[&path].len() / 2;
    site.trouble = (path, Trouble::Stall);
    let server = Server::start(site);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quant"))
        .args(fetch_args(&server, &out))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = downloaded(&out, "2024-12").with_extension("zip.partial");
    let waited = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < half as u64 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no partial file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGTERM, not SIGINT: a test run started in the background by a shell without job
    // control inherits SIGINT ignored, and the download would never stop.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!child.wait().unwrap().success());
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), half as u64);

    let stdout = ok(&quant(&fetch_args(&server, &out)));
    assert!(
        stdout.contains(&format!("resumed BTCUSDT-1h-2024-12.zip at {half} bytes")),
        "{stdout}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let dir = scratch("fetch-args");
    let out = dir.join("catalog");
    let server = Server::start(site());
    let run = |flag: &str, value: &str| -> String {
        let mut args = fetch_args(&server, &out);
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        let output = quant(&args);
        assert!(!output.status.success(), "{flag} {value} was accepted");
        stderr(&output)
    };
    let err = run("--start", "2025-03");
    assert!(
        err.contains("--start 2025-03-01 must come before --end 2025-02-01"),
        "{err}"
    );
    let err = run("--interval", "7m");
    assert!(
        err.contains("--interval: Binance publishes klines of 1s, 1m"),
        "{err}"
    );
    let err = run("--symbol", "BTC/USDT");
    assert!(
        err.contains("--symbol: expected letters and digits only"),
        "{err}"
    );
    let err = run("--end", "2025-13");
    assert!(
        err.contains("--end: expected a month (2024-01) or a day"),
        "{err}"
    );
    let err = run("--base-url", "ftp://example.invalid");
    assert!(
        err.contains("--base-url: expected an http:// or https:// URL"),
        "{err}"
    );
    assert!(server.requests().is_empty());
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_month_not_published_is_named_by_its_url() {
    let dir = scratch("fetch-404");
    let out = dir.join("catalog");
    let server = Server::start(site());
    let mut args = fetch_args(&server, &out);
    let at = args.iter().position(|a| *a == "--end").unwrap();
    args[at + 1] = "2025-03";
    let output = quant(&args);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "{}{MONTHLY}BTCUSDT-1h-2025-02.zip.CHECKSUM: not found (HTTP 404)",
            server.base
        )),
        "{err}"
    );
    assert!(!out.join("bars").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
