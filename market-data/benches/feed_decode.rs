//! How fast the feed decoders turn websocket messages into events, per format and message kind,
//! on one thread. `cargo bench -p market-data`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use market_data::feed::{FeedEvent, binance, coinbase};
use market_data::synthetic::{SyntheticSpec, generate_ticks};
use market_data::{Side, Timestamp};

/// Messages per measured batch.
const MESSAGES: usize = 20_000;

fn rfc3339(ts: Timestamp) -> String {
    ts.to_datetime()
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string()
}

/// Messages of each kind, built from synthetic ticks as the venues would send them.
fn messages() -> Vec<(&'static str, Vec<String>)> {
    let spec = SyntheticSpec {
        bars: MESSAGES,
        interval_ns: 50_000_000,
        ..SyntheticSpec::default()
    };
    let ticks = generate_ticks(&spec, 0);
    let ms = |ts: Timestamp| ts.0 / 1_000_000;
    let trades = ticks
        .trades
        .iter()
        .enumerate()
        .map(|(i, (ts, t))| {
            format!(
                r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{},"s":"BTCUSDT","t":{i},"p":"{:.2}","q":"{:.5}","T":{},"m":{},"M":true}}}}"#,
                ms(*ts),
                t.price.0,
                t.qty.0,
                ms(*ts),
                t.aggressor == Side::Sell
            )
        })
        .collect();
    let quotes = ticks
        .quotes
        .iter()
        .enumerate()
        .map(|(i, (_, q))| {
            format!(
                r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{i},"s":"BTCUSDT","b":"{:.2}","B":"{:.5}","a":"{:.2}","A":"{:.5}"}}}}"#,
                q.bid.0, q.bid_qty.0, q.ask.0, q.ask_qty.0
            )
        })
        .collect();
    let klines = ticks
        .trades
        .iter()
        .enumerate()
        .map(|(i, (ts, t))| {
            let open = ms(*ts) / 60_000 * 60_000;
            format!(
                r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":{},"s":"BTCUSDT","k":{{"t":{open},"T":{},"s":"BTCUSDT","i":"1m","f":{i},"L":{i},"o":"{p:.2}","c":"{p:.2}","h":"{p:.2}","l":"{p:.2}","v":"{:.5}","n":1,"x":false,"q":"1.0","V":"0.5","Q":"0.5","B":"0"}}}}}}"#,
                ms(*ts),
                open + 59_999,
                t.qty.0,
                p = t.price.0,
            )
        })
        .collect();
    let coinbase = ticks
        .trades
        .iter()
        .enumerate()
        .map(|(i, (ts, t))| {
            format!(
                r#"{{"channel":"market_trades","client_id":"","timestamp":"{time}","sequence_num":{i},"events":[{{"type":"update","trades":[{{"trade_id":"{i}","product_id":"BTC-USD","price":"{:.2}","size":"{:.5}","side":"{}","time":"{time}"}}]}}]}}"#,
                t.price.0,
                t.qty.0,
                if t.aggressor == Side::Buy { "SELL" } else { "BUY" },
                time = rfc3339(*ts),
            )
        })
        .collect();
    vec![
        ("binance trade", trades),
        ("binance bookTicker", quotes),
        ("binance kline", klines),
        ("coinbase market_trades", coinbase),
    ]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, texts) in messages() {
        let mut events: Vec<FeedEvent<'_>> = Vec::with_capacity(16);
        group.throughput(Throughput::Elements(texts.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut decoded = 0usize;
                for text in &texts {
                    events.clear();
                    if name.starts_with("coinbase") {
                        coinbase::decode(text, &mut events).unwrap();
                    } else {
                        binance::decode(text, &mut events).unwrap();
                    }
                    decoded += events.len();
                }
                assert_eq!(decoded, texts.len(), "{name}: one event per message");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
