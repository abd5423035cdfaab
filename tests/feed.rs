//! `quant feed replay` as a child process, driven by a tokio-tungstenite client: klines equal to
//! the file bit for bit, trades with consecutive ids, one cursor across reconnects, pacing, the
//! end of the replay, and each fault flag's misbehaviour.

use crate::support::{quant, repo, scratch};
use futures_util::StreamExt;
use market_data::columnar::{RecordKind, RecordWriter, write_bars};
use market_data::csv::{OnInvalid, read_bars};
use market_data::feed::{FeedEvent, binance};
use market_data::{Bar, InstrumentId, Price, Qty, Side, Timestamp, Trade};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const GOOG: &str = "backtests/data/GOOG.csv";
const KLINES: &str = "goog@kline_1d";
const DAY_MS: i64 = 86_400_000;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running `quant feed replay`, killed on drop.
struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    // Held so the server's stdout stays open.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts the server and reads its port from the `listening on` line.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quant"))
            .args(["feed", "replay"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().unwrap());
        let log = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while pipe.read_line(&mut line).unwrap_or(0) > 0 {
                log.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line.trim_end().strip_prefix("listening on ") else {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!("first line {line:?}; stderr: {}", stderr.lock().unwrap());
        };
        assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
        Self {
            url: url.to_owned(),
            child,
            stderr,
            _stdout: stdout,
        }
    }

    async fn connect(&self, streams: &str) -> Client {
        let url = format!("{}/stream?streams={streams}", self.url);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    /// Waits up to `within` for the server to write `text` to stderr.
    fn wait_for_stderr(&self, text: &str, within: Duration) {
        let start = Instant::now();
        while !self.stderr.lock().unwrap().contains(text) {
            assert!(
                start.elapsed() < within,
                "no {text:?} in stderr: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn goog() -> Vec<Bar> {
    let path = repo(GOOG);
    read_bars(&path, InstrumentId::new("GOOG"), OnInvalid::Error)
        .unwrap()
        .0
        .bars
}

/// The next message, whatever it is, within 5 s.
async fn next(ws: &mut Client) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("nothing within 5 s")
}

/// The next text message, skipping pings.
async fn next_text(ws: &mut Client) -> String {
    loop {
        match next(ws).await {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// What a message turned out to be.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A final GOOG kline equal, bit for bit, to this bar of the file.
    Bar(usize),
    Malformed,
    /// A kline of another symbol.
    Other(String),
}

fn bits(b: &Bar) -> [u64; 5] {
    [b.open, b.high, b.low, b.close, b.volume].map(f64::to_bits)
}

fn classify(text: &str, bars: &[Bar]) -> Seen {
    let mut out = Vec::new();
    if let Err(e) = binance::decode(text, &mut out) {
        assert!(e.message.contains("malformed JSON"), "{e}: {text}");
        return Seen::Malformed;
    }
    match out[0] {
        FeedEvent::Bar {
            symbol: "GOOG",
            bar,
            closed: true,
        } => {
            let i = bars.binary_search_by_key(&bar.ts, |b| b.ts).unwrap();
            assert_eq!(bits(&bar), bits(&bars[i]), "{text}");
            Seen::Bar(i)
        }
        FeedEvent::Bar { symbol, .. } => Seen::Other(symbol.to_owned()),
        other => panic!("unexpected {other:?}"),
    }
}

/// The first `n` text messages of a GOOG replay with `flags`, classified.
async fn first_messages(flags: &[&str], n: usize) -> Vec<Seen> {
    let bars = goog();
    let server = Server::start(&[&[GOOG, "--port", "0"], flags].concat());
    let mut ws = server.connect(KLINES).await;
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        seen.push(classify(&next_text(&mut ws).await, &bars));
    }
    seen
}

/// Closes a client and waits for the server's close reply, so the server has let go of the
/// connection before the next one starts.
async fn close(mut ws: Client) {
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

#[tokio::test]
async fn bars_arrive_as_final_klines_equal_to_the_file() {
    let bars = goog();
    let server = Server::start(&[GOOG, "--port", "0"]);
    let mut ws = server.connect(KLINES).await;
    for (i, bar) in bars.iter().enumerate() {
        let text = next_text(&mut ws).await;
        assert_eq!(classify(&text, &bars), Seen::Bar(i));
        let json: Value = serde_json::from_str(&text).unwrap();
        let t = bar.ts.0 / 1_000_000;
        assert_eq!(json["stream"], KLINES);
        assert_eq!(json["data"]["e"], "kline");
        assert_eq!(json["data"]["E"], t + DAY_MS, "E: the bar's close");
        assert_eq!(json["data"]["s"], "GOOG");
        assert_eq!(json["data"]["k"]["t"], t);
        assert_eq!(json["data"]["k"]["T"], t + DAY_MS - 1);
        assert_eq!(json["data"]["k"]["i"], "1d");
        assert_eq!(json["data"]["k"]["x"], true);
    }
    server.wait_for_stderr(
        &format!("replay done: {} messages", bars.len()),
        Duration::from_secs(2),
    );
}

#[tokio::test]
async fn a_reconnect_continues_where_the_last_connection_stopped_and_speed_paces() {
    // 10 days a second: weekdays 100 ms apart, a weekend 300 ms.
    let server = Server::start(&[GOOG, "--port", "0", "--speed", "864000"]);
    let bars = goog();
    let mut ws = server.connect(KLINES).await;
    let start = Instant::now();
    for i in 0..3 {
        assert_eq!(classify(&next_text(&mut ws).await, &bars), Seen::Bar(i));
    }
    let days = (bars[2].ts.0 - bars[0].ts.0) / (DAY_MS * 1_000_000);
    let paced = Duration::from_millis(days as u64 * 100);
    assert!(
        start.elapsed() >= paced.mul_f64(0.9),
        "{:?}",
        start.elapsed()
    );
    close(ws).await;
    let mut ws = server.connect(KLINES).await;
    for i in 3..5 {
        assert_eq!(classify(&next_text(&mut ws).await, &bars), Seen::Bar(i));
    }
}

#[tokio::test]
async fn the_end_keeps_the_connection_open_with_pings() {
    // A Parquet file of three hourly bars: the stream's interval is inferred.
    let (path, bars) = hourly_bars("feed-end", 3);
    let server = Server::start(&[path.to_str().unwrap(), "--port", "0"]);
    let mut ws = server.connect("ethusdt@kline_1h").await;
    for bar in &bars {
        let text = next_text(&mut ws).await;
        let mut out = Vec::new();
        binance::decode(&text, &mut out).unwrap();
        let FeedEvent::Bar {
            symbol, bar: got, ..
        } = out[0]
        else {
            panic!("{text}");
        };
        assert_eq!(symbol, "ETHUSDT");
        assert_eq!((got.ts, bits(&got)), (bar.ts, bits(bar)));
    }
    server.wait_for_stderr("replay done: 3 messages", Duration::from_secs(2));
    match next(&mut ws).await {
        Some(Ok(Message::Ping(_))) => {}
        other => panic!("expected a ping after the end, got {other:?}"),
    }
}

#[tokio::test]
async fn trades_arrive_with_consecutive_ids() {
    let dir = scratch("feed-trades");
    let path = dir.join("trades.parquet");
    let trades: Vec<(Timestamp, Trade)> = (0..50)
        .map(|k| {
            let trade = Trade {
                price: Price(42_000.0 + 0.1 * k as f64),
                qty: Qty(0.001 * (k + 1) as f64),
                aggressor: if k % 3 == 0 { Side::Sell } else { Side::Buy },
            };
            (Timestamp(1_700_000_000_000_000_000 + k * 7_000_000), trade)
        })
        .collect();
    let mut writer = RecordWriter::create(&path, RecordKind::Trades, None).unwrap();
    writer.write_trades(&trades).unwrap();
    writer.finish().unwrap();
    let args = [path.to_str().unwrap(), "--port", "0", "--kind", "trades"];
    let server = Server::start(&[&args[..], &["--symbol", "BTCUSDT"]].concat());
    let mut ws = server.connect("btcusdt@trade").await;
    for (k, (ts, trade)) in trades.iter().enumerate() {
        let text = next_text(&mut ws).await;
        let mut out = Vec::new();
        binance::decode(&text, &mut out).unwrap();
        let FeedEvent::Trade {
            symbol,
            ts: got_ts,
            trade: got,
            id,
        } = out[0]
        else {
            panic!("{text}");
        };
        assert_eq!((symbol, got_ts, id), ("BTCUSDT", *ts, Some(k as u64 + 1)));
        assert_eq!(got.price.0.to_bits(), trade.price.0.to_bits());
        assert_eq!(got.qty.0.to_bits(), trade.qty.0.to_bits());
        assert_eq!(got.aggressor, trade.aggressor);
    }
}

#[tokio::test]
async fn unknown_streams_get_an_error_and_a_close() {
    let server = Server::start(&[GOOG, "--port", "0"]);
    let mut ws = server.connect("nosuch@trade").await;
    let error: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    let error = error["error"].as_str().unwrap();
    assert!(error.starts_with("unknown stream nosuch@trade"), "{error}");
    assert!(error.contains(KLINES), "{error}");
    assert!(matches!(next(&mut ws).await, Some(Ok(Message::Close(_)))));
    // Known streams are served, unknown ones ignored.
    let mut ws = server.connect(&format!("nosuch@trade/{KLINES}")).await;
    assert_eq!(classify(&next_text(&mut ws).await, &goog()), Seen::Bar(0));
}

#[tokio::test]
async fn fault_drop_ends_the_connection_without_a_close_frame_and_loses_a_message() {
    let bars = goog();
    let server = Server::start(&[GOOG, "--port", "0", "--fault-drop-at", "5"]);
    let mut ws = server.connect(KLINES).await;
    for i in 0..5 {
        assert_eq!(classify(&next_text(&mut ws).await, &bars), Seen::Bar(i));
    }
    match next(&mut ws).await {
        Some(Err(_)) | None => {}
        other => panic!("expected the connection to end abruptly, got {other:?}"),
    }
    // Message 5 went down with the connection: the client must see a gap.
    let mut ws = server.connect(KLINES).await;
    assert_eq!(classify(&next_text(&mut ws).await, &bars), Seen::Bar(6));
}

#[tokio::test]
async fn fault_stall_keeps_the_connection_open_and_silent() {
    let bars = goog();
    let server = Server::start(&[GOOG, "--port", "0", "--fault-stall-at", "3"]);
    let mut stalled = server.connect(KLINES).await;
    for i in 0..3 {
        assert_eq!(
            classify(&next_text(&mut stalled).await, &bars),
            Seen::Bar(i)
        );
    }
    let silence = tokio::time::timeout(Duration::from_millis(500), stalled.next()).await;
    assert!(silence.is_err(), "expected silence, got {silence:?}");
    // A watchdog's reconnect continues with the message the stall held back.
    let mut ws = server.connect(KLINES).await;
    for i in 3..6 {
        assert_eq!(classify(&next_text(&mut ws).await, &bars), Seen::Bar(i));
    }
    let silence = tokio::time::timeout(Duration::from_millis(100), stalled.next()).await;
    assert!(
        silence.is_err(),
        "the stalled connection spoke: {silence:?}"
    );
}

#[tokio::test]
async fn fault_malformed_sends_truncated_json() {
    let seen = first_messages(&["--fault-malformed-at", "2"], 5).await;
    use Seen::{Bar as B, Malformed};
    assert_eq!(seen, [B(0), B(1), Malformed, B(2), B(3)]);
}

#[tokio::test]
async fn fault_unknown_sends_a_kline_of_another_stream() {
    let seen = first_messages(&["--fault-unknown-at", "2"], 5).await;
    use Seen::{Bar as B, Other};
    assert_eq!(seen, [B(0), B(1), Other("NOSUCH".into()), B(2), B(3)]);
}

#[tokio::test]
async fn fault_duplicate_sends_a_message_twice() {
    let seen = first_messages(&["--fault-duplicate-at", "2"], 5).await;
    use Seen::Bar as B;
    assert_eq!(seen, [B(0), B(1), B(2), B(2), B(3)]);
}

#[tokio::test]
async fn fault_swap_sends_two_messages_out_of_order() {
    let seen = first_messages(&["--fault-swap-at", "2"], 5).await;
    use Seen::Bar as B;
    assert_eq!(seen, [B(0), B(1), B(3), B(2), B(4)]);
}

#[test]
fn fault_flags_are_hidden_from_help() {
    let output = quant(&["feed", "replay", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("--speed") && !help.contains("--fault"),
        "{help}"
    );
}

/// Writes `n` hourly bars (no weekends, so any missing bar is a real gap) to a Parquet file.
fn hourly_bars(name: &str, n: i64) -> (std::path::PathBuf, Vec<Bar>) {
    let path = scratch(name).join("ETHUSDT.parquet");
    let bars: Vec<Bar> = (0..n)
        .map(|k| Bar {
            ts: Timestamp(1_700_000_000_000_000_000 + k * 3_600_000_000_000),
            open: 2000.5 + k as f64,
            high: 2010.25 + k as f64,
            low: 1990.125,
            close: 2001.0 + 0.1 * k as f64,
            volume: 0.1 + 0.2,
        })
        .collect();
    write_bars(&path, &bars, None).unwrap();
    (path, bars)
}

#[test]
fn the_feed_client_reconnects_through_faults_and_reports_the_lost_message_as_a_gap() {
    use live::feed::{Feed, FeedConfig, FeedItem, Format, Notice};
    use market_data::MarketKind;
    let (path, bars) = hourly_bars("feed-client", 20);
    let flags = ["--fault-drop-at", "5", "--fault-stall-at", "10"];
    let server = Server::start(&[&[path.to_str().unwrap(), "--port", "0"], &flags[..]].concat());
    let feed = Feed::start(FeedConfig {
        format: Format::Binance,
        url: server.url.clone(),
        streams: vec!["ethusdt@kline_1h".into()],
        stale_after: Duration::from_millis(300),
        max_clock_skew: Duration::from_secs(60),
        reconnect_initial: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(100),
        capacity: 1024,
        calendar: None,
    });
    let (mut got, mut gaps, mut connects) = (Vec::new(), Vec::new(), 0);
    while got.len() < bars.len() - 1 {
        match feed.items.recv_timeout(Duration::from_secs(5)).unwrap() {
            FeedItem::Event(event, _) => match event.kind {
                MarketKind::Bar(bar) => got.push(bar),
                other => panic!("unexpected {other:?}"),
            },
            FeedItem::Notice(Notice::MissingBars(gap)) => gaps.push(gap),
            FeedItem::Notice(Notice::Connected { .. }) => connects += 1,
            FeedItem::Notice(_) => {}
            FeedItem::Stopped => panic!("the feed stopped"),
        }
    }
    let expected: Vec<Bar> = bars
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 5)
        .map(|(_, b)| *b)
        .collect();
    assert_eq!(got, expected);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].missing, 1, "{gaps:?}");
    assert_eq!((gaps[0].after, gaps[0].before), (bars[4].ts, bars[6].ts));
    // The drop and the stall each forced a reconnect.
    assert_eq!(connects, 3);
}
