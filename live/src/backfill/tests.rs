//! The backfill sources against a mock Binance REST server on loopback (a std TcpListener
//! answering each request from a function of its path), and against bar files.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const MINUTE: i64 = 60_000_000_000;
const T0: i64 = 1_700_000_040_000_000_000; // a whole minute

/// Serves HTTP on 127.0.0.1 until the test ends: each request's path goes to `answer`, whose
/// status and body are sent back. Returns the base URL and the paths asked.
fn serve(
    answer: impl Fn(&str) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
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
            let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            log.lock().unwrap().push(path.clone());
            let (status, body) = answer(&path);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, asked)
}

/// The bar opening `k` minutes after T0.
fn bar(k: i64) -> Bar {
    Bar {
        ts: Timestamp(T0 + k * MINUTE),
        open: 100.0 + k as f64,
        high: 101.5 + k as f64,
        low: 99.25 + k as f64,
        close: 100.5 + k as f64,
        volume: 10.0 + 0.1,
    }
}

/// Bars as Binance's klines endpoint writes them.
fn klines(bars: &[Bar]) -> String {
    let rows: Vec<String> = bars
        .iter()
        .map(|b| {
            let ms = b.ts.0 / 1_000_000;
            format!(
                r#"[{ms},"{}","{}","{}","{}","{}",{},"0",1,"0","0","0"]"#,
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
                ms + 59_999
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// A query parameter of a request path.
fn param(path: &str, name: &str) -> i64 {
    path.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
        .parse()
        .unwrap()
}

/// A mock that answers like Binance, at most `page` klines per request, from `all`.
fn binance_like(all: Vec<Bar>, page: usize) -> impl Fn(&str) -> (u16, String) {
    move |path| {
        let (start, end) = (param(path, "startTime"), param(path, "endTime"));
        let chosen: Vec<Bar> = (all.iter())
            .filter(|b| b.ts.0 / 1_000_000 >= start && b.ts.0 / 1_000_000 <= end)
            .take(page)
            .copied()
            .collect();
        (200, klines(&chosen))
    }
}

fn gap(after: i64, before: i64) -> GapRequest<'static> {
    GapRequest {
        instrument: "ETHUSDT",
        interval: "1m",
        step: MINUTE,
        after: Timestamp(T0 + after * MINUTE),
        before: Timestamp(T0 + before * MINUTE),
    }
}

fn rest(base: &str) -> BinanceRest {
    BinanceRest::new(base, Duration::from_secs(2))
}

#[test]
fn binance_rest_pages_through_a_gap_and_returns_exactly_its_bars() {
    let all: Vec<Bar> = (0..100).map(bar).collect();
    let (base, asked) = serve(binance_like(all.clone(), 10));
    let bars = fetch(&mut rest(&base), &gap(3, 40)).unwrap();
    assert_eq!(bars, all[4..40].to_vec());
    let asked = asked.lock().unwrap().clone();
    // 36 bars at 10 a page: 4 pages; the last one reaches the end of the gap.
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(
        asked[0].starts_with("/api/v3/klines?symbol=ETHUSDT&interval=1m&startTime="),
        "{asked:?}"
    );
    assert_eq!(
        param(&asked[0], "startTime"),
        (T0 + 3 * MINUTE) / 1_000_000 + 1
    );
    assert_eq!(
        param(&asked[0], "endTime"),
        (T0 + 40 * MINUTE) / 1_000_000 - 1
    );
    assert_eq!(param(&asked[0], "limit"), 1000);
}

#[test]
fn binance_rest_stops_on_an_empty_page() {
    // The venue has nothing for the gap's second half (a halt): what it has is used.
    let all: Vec<Bar> = (0..20).map(bar).collect();
    let (base, _) = serve(binance_like(all.clone(), 5));
    let bars = fetch(&mut rest(&base), &gap(3, 40)).unwrap();
    assert_eq!(bars, all[4..20].to_vec());
}

#[test]
fn an_unreachable_endpoint_names_the_url() {
    // A port just freed: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let error = fetch(&mut rest(&base), &gap(3, 40)).unwrap_err();
    assert!(
        error.contains(&format!("GET {base}/api/v3/klines?symbol=ETHUSDT"))
            && error.contains("Connection refused"),
        "{error}"
    );
}

#[test]
fn https_to_a_server_that_does_not_speak_tls_fails_cleanly() {
    let (base, _) = serve(|_| (200, "[]".into()));
    let base = base.replace("http://", "https://");
    let error = fetch(&mut rest(&base), &gap(3, 40)).unwrap_err();
    assert!(
        error.contains(&format!("GET {base}/api/v3/klines")),
        "{error}"
    );
}

#[test]
fn an_http_error_names_the_status_and_the_body() {
    let (base, _) = serve(|_| {
        (
            429,
            r#"{"code":-1003,"msg":"Too many requests."}"#.to_string(),
        )
    });
    let error = fetch(&mut rest(&base), &gap(3, 40)).unwrap_err();
    assert!(
        error.contains("HTTP 429") && error.contains("Too many requests") && error.contains(&base),
        "{error}"
    );
}

#[test]
fn malformed_klines_are_refused_with_the_reason() {
    for (body, expected) in [
        ("<html>oops</html>", "malformed klines JSON"),
        (r#"{"code":0}"#, "malformed klines JSON"),
        (r#"[["x","1","1","1","1","1"]]"#, "open time"),
        (r#"[[1700000100000,"1","abc","1","1","1"]]"#, "the high"),
        (r#"[[1700000100000,"1","2"]]"#, "the low"),
    ] {
        let (base, _) = serve(move |_| (200, body.to_string()));
        let error = fetch(&mut rest(&base), &gap(0, 40)).unwrap_err();
        assert!(
            error.contains(expected) && error.contains("GET http://"),
            "{body}: {error}"
        );
    }
}

#[test]
fn bars_outside_the_gap_or_out_of_order_are_refused() {
    // A server that ignores startTime and answers from the beginning.
    let all: Vec<Bar> = (0..50).map(bar).collect();
    let from_start = all.clone();
    let (base, _) = serve(move |_| (200, klines(&from_start[..10])));
    let error = fetch(&mut rest(&base), &gap(3, 40)).unwrap_err();
    assert!(error.contains("outside the requested range"), "{error}");
    let swapped = vec![all[6], all[5]];
    let (base, _) = serve(move |_| (200, klines(&swapped)));
    let error = fetch(&mut rest(&base), &gap(3, 40)).unwrap_err();
    assert!(error.contains("out of order"), "{error}");
}

#[test]
fn bar_files_give_the_gaps_bars_from_csv_parquet_a_folder_or_a_catalog() {
    let dir = std::env::temp_dir().join(format!("quant-backfill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("catalog/bars/ETHUSDT")).unwrap();
    let all: Vec<Bar> = (0..60).map(bar).collect();
    let csv = dir.join("ETHUSDT.csv");
    market_data::csv_write::write_bars_csv(&csv, &all).unwrap();
    std::fs::create_dir_all(dir.join("columnar")).unwrap();
    let parquet = dir.join("columnar/ETHUSDT.parquet");
    market_data::columnar::write_bars(&parquet, &all, None).unwrap();
    let part = dir.join("catalog/bars/ETHUSDT/part-0.parquet");
    market_data::columnar::write_bars(&part, &all, None).unwrap();
    for path in [csv.clone(), dir.clone(), parquet, dir.join("catalog")] {
        let bars = fetch(&mut BarFiles::new(&path), &gap(3, 40)).unwrap();
        assert_eq!(bars, all[4..40].to_vec(), "{}", path.display());
    }
    // A file of another instrument is not taken for this one.
    let other = GapRequest {
        instrument: "BTCUSDT",
        ..gap(3, 40)
    };
    for path in [csv, dir.clone(), part, dir.join("catalog")] {
        let error = fetch(&mut BarFiles::new(&path), &other).unwrap_err();
        assert!(
            error.contains("BTCUSDT") && error.contains(&path.display().to_string()),
            "{error}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
