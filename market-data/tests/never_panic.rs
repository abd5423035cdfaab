//! The readers of outside input never panic, whatever they are given: CSV bar files, feed
//! messages and timestamps, as arbitrary text and as near misses of what they expect.

#![allow(missing_docs)]

use market_data::InstrumentId;
use market_data::csv::{OnInvalid, parse_bars, parse_timestamp};
use market_data::feed::{binance, coinbase};
use proptest::prelude::*;
use std::path::Path;

/// Text shaped like a CSV bar file: a plausible header, then rows of fields that are often
/// numbers and dates, sometimes not.
fn csv_like() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "-?[0-9]{1,6}(\\.[0-9]{0,4})?",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]( [0-2][0-9]:[0-5][0-9])?",
        "(NaN|inf|-inf|1e999|-0|0x10|)",
        "[ -~]{0,12}",
    ];
    let row = prop::collection::vec(field, 0..8).prop_map(|f| f.join(","));
    let header = prop_oneof![
        Just("timestamp,open,high,low,close,volume".to_string()),
        Just("Date,Open,High,Low,Close,Adj Close,Volume".to_string()),
        "[a-z,]{0,40}",
    ];
    (header, prop::collection::vec(row, 0..12)).prop_map(|(h, rows)| {
        let mut text = h;
        for r in rows {
            text.push('\n');
            text.push_str(&r);
        }
        text
    })
}

/// Text shaped like a feed message: JSON of the right shape with odd values, or broken JSON.
fn message_like() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "\"-?[0-9]{0,8}(\\.[0-9]{0,6})?\"",
        "-?[0-9]{0,20}",
        "(true|false|null|\\[\\]|\\{\\})",
        "\"[ -~]{0,10}\"",
    ];
    let keys = [
        "e",
        "E",
        "s",
        "t",
        "T",
        "p",
        "q",
        "m",
        "k",
        "o",
        "c",
        "h",
        "l",
        "v",
        "x",
        "b",
        "a",
        "B",
        "A",
        "u",
        "stream",
        "data",
        "channel",
        "events",
        "type",
        "trades",
        "candles",
        "tickers",
        "sequence_num",
        "timestamp",
        "product_id",
        "price",
        "size",
        "side",
        "trade_id",
        "time",
        "start",
        "open",
        "close",
        "high",
        "low",
        "volume",
        "best_bid",
        "best_ask",
    ];
    let pair = (0..keys.len(), value).prop_map(move |(k, v)| format!("\"{}\":{v}", keys[k]));
    prop_oneof![
        prop::collection::vec(pair.clone(), 0..10).prop_map(|p| format!("{{{}}}", p.join(","))),
        (
            prop::collection::vec(pair.clone(), 0..6),
            prop::collection::vec(pair, 0..10)
        )
            .prop_map(|(outer, inner)| format!(
                "{{{},\"data\":{{{}}}}}",
                outer.join(","),
                inner.join(",")
            )),
        "[{}\\[\\]\":,a-z0-9. -]{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn csv_bars_never_panic(text in csv_like(), skip in any::<bool>()) {
        let on_invalid = if skip { OnInvalid::Skip } else { OnInvalid::Error };
        let _ = parse_bars(&text, Path::new("fuzz.csv"), InstrumentId::new("X"), on_invalid);
    }

    #[test]
    fn csv_bars_never_panic_on_any_text(text in any::<String>()) {
        let _ = parse_bars(&text, Path::new("fuzz.csv"), InstrumentId::new("X"), OnInvalid::Skip);
    }

    #[test]
    fn timestamps_never_panic(text in "[0-9 :T./Z+-]{0,32}|[ -~]{0,32}") {
        let _ = parse_timestamp(&text);
    }

    #[test]
    fn feed_messages_never_panic(text in message_like()) {
        let mut events = Vec::new();
        let _ = binance::decode(&text, &mut events);
        events.clear();
        let _ = coinbase::decode(&text, &mut events);
    }

    #[test]
    fn feed_messages_never_panic_on_any_text(text in any::<String>()) {
        let mut events = Vec::new();
        let _ = binance::decode(&text, &mut events);
        events.clear();
        let _ = coinbase::decode(&text, &mut events);
    }
}
