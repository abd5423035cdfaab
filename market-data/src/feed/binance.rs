//! Binance websocket market streams: the combined-stream envelope
//! `{"stream":"btcusdt@trade","data":{...}}` (or a raw stream's payload alone) holding `trade`,
//! `aggTrade`, `kline_<interval>` or `bookTicker` events.
//!
//! The stream name says what the payload is (spot `bookTicker` payloads carry no event type), so
//! the envelope is read twice: once for the name, ignoring the payload, then with the payload's
//! own layout. Both passes borrow from the text. Prices and quantities are decimal strings.

use super::{DecodeError, FeedEvent, millis, number};
use crate::{Bar, Price, Qty, Quote, Side, Trade};
use serde::Deserialize;

/// The stream name of an envelope, or the event type of a raw payload (the rest is skipped).
#[derive(Deserialize)]
struct Name<'a> {
    #[serde(borrow)]
    stream: Option<&'a str>,
    #[serde(borrow)]
    e: Option<&'a str>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// `trade` and `aggTrade` payloads.
#[derive(Deserialize)]
struct TradeMsg<'a> {
    s: &'a str,
    /// Trade id (`trade`).
    t: Option<u64>,
    /// Aggregate trade id (`aggTrade`).
    a: Option<u64>,
    p: &'a str,
    q: &'a str,
    /// Trade time, ms.
    #[serde(rename = "T")]
    time: i64,
    /// Buyer is the maker: the seller was the aggressor.
    m: bool,
}

#[derive(Deserialize)]
struct KlineMsg<'a> {
    #[serde(borrow)]
    k: Kline<'a>,
}

#[derive(Deserialize)]
struct Kline<'a> {
    /// Open time, ms.
    t: i64,
    s: &'a str,
    o: &'a str,
    h: &'a str,
    l: &'a str,
    c: &'a str,
    v: &'a str,
    /// Final: the interval has ended.
    x: bool,
}

#[derive(Deserialize)]
struct BookTicker<'a> {
    s: &'a str,
    b: &'a str,
    #[serde(rename = "B")]
    bid_qty: &'a str,
    a: &'a str,
    #[serde(rename = "A")]
    ask_qty: &'a str,
    /// Event time (futures only), ms.
    #[serde(rename = "E")]
    event_time: Option<i64>,
}

/// What a payload holds, from its stream name or event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trade,
    Kline,
    BookTicker,
}

fn kind_of(name: &str) -> Option<Kind> {
    let kind = name.rsplit('@').next().unwrap_or(name);
    if kind == "trade" || kind == "aggTrade" {
        Some(Kind::Trade)
    } else if kind.starts_with("kline") {
        Some(Kind::Kline)
    } else if kind == "bookTicker" {
        Some(Kind::BookTicker)
    } else {
        None
    }
}

/// Decodes one message into `out` (at most one event).
///
/// # Errors
/// Malformed JSON, an unknown stream or event type, a missing field or a number that does not
/// parse, each named.
pub fn decode<'a>(text: &'a str, out: &mut Vec<FeedEvent<'a>>) -> Result<(), DecodeError> {
    let name: Name<'a> = serde_json::from_str(text)?;
    let combined = name.stream.is_some();
    let kind = match (name.stream, name.e) {
        (Some(stream), _) => {
            kind_of(stream).ok_or_else(|| DecodeError::new(format!("unknown stream {stream:?}")))?
        }
        (None, Some(e)) => {
            kind_of(e).ok_or_else(|| DecodeError::new(format!("unknown event type {e:?}")))?
        }
        // A raw bookTicker payload is the only one without an event type.
        (None, None) => Kind::BookTicker,
    };
    fn payload<'a, T: Deserialize<'a>>(text: &'a str, combined: bool) -> Result<T, DecodeError> {
        Ok(if combined {
            serde_json::from_str::<Envelope<T>>(text)?.data
        } else {
            serde_json::from_str::<T>(text)?
        })
    }
    let event = match kind {
        Kind::Trade => {
            let m: TradeMsg<'a> = payload(text, combined)?;
            FeedEvent::Trade {
                symbol: m.s,
                ts: millis(m.time),
                trade: Trade {
                    price: Price(number("p", m.p)?),
                    qty: Qty(number("q", m.q)?),
                    aggressor: if m.m { Side::Sell } else { Side::Buy },
                },
                id: m.t.or(m.a),
            }
        }
        Kind::Kline => {
            let k = payload::<KlineMsg<'a>>(text, combined)?.k;
            FeedEvent::Bar {
                symbol: k.s,
                bar: Bar {
                    ts: millis(k.t),
                    open: number("o", k.o)?,
                    high: number("h", k.h)?,
                    low: number("l", k.l)?,
                    close: number("c", k.c)?,
                    volume: number("v", k.v)?,
                },
                closed: k.x,
            }
        }
        Kind::BookTicker => {
            let b: BookTicker<'a> = payload(text, combined)?;
            FeedEvent::Quote {
                symbol: b.s,
                ts: b.event_time.map(millis),
                quote: Quote {
                    bid: Price(number("b", b.b)?),
                    ask: Price(number("a", b.a)?),
                    bid_qty: Qty(number("B", b.bid_qty)?),
                    ask_qty: Qty(number("A", b.ask_qty)?),
                },
            }
        }
    };
    out.push(event);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn one(text: &str) -> FeedEvent<'_> {
        let mut out = Vec::new();
        decode(text, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        out[0]
    }

    // Examples as Binance's API documentation gives them (spot websocket streams).
    #[test]
    fn decodes_a_combined_trade() {
        let text = r#"{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}"#;
        assert_eq!(
            one(text),
            FeedEvent::Trade {
                symbol: "BNBBTC",
                ts: Timestamp(1_672_515_782_136_000_000),
                trade: Trade {
                    price: Price(0.001),
                    qty: Qty(100.0),
                    aggressor: Side::Sell,
                },
                id: Some(12345),
            }
        );
    }

    #[test]
    fn decodes_an_agg_trade_raw_and_combined() {
        let data = r#"{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":false,"M":true}"#;
        let combined = format!(r#"{{"stream":"bnbbtc@aggTrade","data":{data}}}"#);
        for text in [data, combined.as_str()] {
            let FeedEvent::Trade { trade, id, .. } = one(text) else {
                panic!("not a trade");
            };
            assert_eq!(trade.aggressor, Side::Buy);
            assert_eq!(id, Some(12345));
        }
    }

    #[test]
    fn decodes_a_kline_open_and_final() {
        let text = r#"{"stream":"bnbbtc@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}"#;
        assert_eq!(
            one(text),
            FeedEvent::Bar {
                symbol: "BNBBTC",
                bar: Bar {
                    ts: Timestamp(1_672_515_780_000_000_000),
                    open: 0.001,
                    high: 0.0025,
                    low: 0.0015,
                    close: 0.002,
                    volume: 1000.0,
                },
                closed: false,
            }
        );
        let last = text.replace(r#""x":false"#, r#""x":true"#);
        assert!(matches!(one(&last), FeedEvent::Bar { closed: true, .. }));
    }

    #[test]
    fn decodes_spot_and_futures_book_tickers() {
        // Spot: no event type or time.
        let spot = r#"{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#;
        assert_eq!(
            one(spot),
            FeedEvent::Quote {
                symbol: "BNBUSDT",
                ts: None,
                quote: Quote {
                    bid: Price(25.3519),
                    ask: Price(25.3652),
                    bid_qty: Qty(31.21),
                    ask_qty: Qty(40.66),
                },
            }
        );
        let raw = r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        assert!(matches!(one(raw), FeedEvent::Quote { ts: None, .. }));
        let futures = r#"{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        assert!(matches!(
            one(futures),
            FeedEvent::Quote {
                ts: Some(Timestamp(1_568_014_460_893_000_000)),
                ..
            }
        ));
    }

    #[test]
    fn bad_messages_are_errors_naming_what_is_wrong() {
        let mut out = Vec::new();
        let cases = [
            (
                r#"{"stream":"bnbbtc@trade","data":{"e":"trade""#,
                "malformed JSON",
            ),
            (r#"{"stream":"bnbbtc@depth","data":{}}"#, "unknown stream"),
            (
                r#"{"stream":"bnbbtc@trade","data":{"s":"BNBBTC","t":1,"p":"abc","q":"1","T":1,"m":true}}"#,
                "field `p`",
            ),
            (
                r#"{"stream":"bnbbtc@trade","data":{"s":"BNBBTC","t":1,"q":"1","T":1,"m":true}}"#,
                "missing field `p`",
            ),
            (r#"{"e":"depthUpdate","s":"BNBBTC"}"#, "unknown event type"),
        ];
        for (text, expected) in cases {
            let error = decode(text, &mut out).unwrap_err();
            assert!(error.message.contains(expected), "{text}: {error}");
        }
        assert!(out.is_empty());
    }
}
