//! Coinbase Advanced Trade websocket channels: `market_trades`, `ticker`, `candles` and
//! `heartbeats`. A message carries a `channel`, a per-connection `sequence_num` (gap detection
//! happens on it, in the feed) and a list of events, each with a list of trades, tickers or
//! candles, so one message may decode into many events. Times are RFC 3339 text (candles: Unix
//! seconds as text); numbers are decimal strings.

use super::{DecodeError, FeedEvent, number};
use crate::csv::parse_timestamp;
use crate::{Bar, Price, Qty, Quote, Side, Timestamp, Trade};
use serde::Deserialize;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    channel: &'a str,
    #[serde(borrow)]
    timestamp: Option<&'a str>,
    sequence_num: Option<u64>,
    #[serde(borrow, default)]
    events: Vec<Event<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default)]
    trades: Vec<TradeMsg<'a>>,
    #[serde(borrow, default)]
    tickers: Vec<Ticker<'a>>,
    #[serde(borrow, default)]
    candles: Vec<Candle<'a>>,
}

#[derive(Deserialize)]
struct TradeMsg<'a> {
    trade_id: &'a str,
    product_id: &'a str,
    price: &'a str,
    size: &'a str,
    /// The side of the resting (maker) order, as Coinbase's exchange feed has always reported
    /// it; the aggressor is the other side.
    side: &'a str,
    time: &'a str,
}

#[derive(Deserialize)]
struct Ticker<'a> {
    product_id: &'a str,
    best_bid: Option<&'a str>,
    best_bid_quantity: Option<&'a str>,
    best_ask: Option<&'a str>,
    best_ask_quantity: Option<&'a str>,
}

#[derive(Deserialize)]
struct Candle<'a> {
    start: &'a str,
    open: &'a str,
    high: &'a str,
    low: &'a str,
    close: &'a str,
    volume: &'a str,
    product_id: &'a str,
}

fn time(field: &str, text: &str) -> Result<Timestamp, DecodeError> {
    parse_timestamp(text).ok_or_else(|| {
        DecodeError::new(format!(
            "field `{field}`: expected an RFC 3339 time, found {text:?}"
        ))
    })
}

/// Decodes one message into `out` (any number of events) and returns its sequence number.
///
/// Candles are updated every second while they form and carry no "final" flag: they are
/// reported with `closed = false`, and the feed closes a candle when the next one starts.
/// Tickers without best bid/ask (older message versions) give no quote.
///
/// # Errors
/// Malformed JSON, an unknown channel, a missing field or a value that does not parse, named.
pub fn decode<'a>(text: &'a str, out: &mut Vec<FeedEvent<'a>>) -> Result<Option<u64>, DecodeError> {
    let message: Message<'a> = serde_json::from_str(text)?;
    let start = out.len();
    let result = decode_events(&message, out);
    if result.is_err() {
        out.truncate(start);
    }
    result.map(|()| message.sequence_num)
}

fn decode_events<'a>(
    message: &Message<'a>,
    out: &mut Vec<FeedEvent<'a>>,
) -> Result<(), DecodeError> {
    match message.channel {
        "market_trades" => {
            for t in message.events.iter().flat_map(|e| &e.trades) {
                // Coinbase reports the maker's side: a trade whose maker sold was bought by the
                // taker, the aggressor.
                let aggressor = match t.side {
                    "SELL" | "sell" => Side::Buy,
                    "BUY" | "buy" => Side::Sell,
                    other => {
                        return Err(DecodeError::new(format!(
                            "field `side`: expected BUY or SELL, found {other:?}"
                        )));
                    }
                };
                out.push(FeedEvent::Trade {
                    symbol: t.product_id,
                    ts: time("time", t.time)?,
                    trade: Trade {
                        price: Price(number("price", t.price)?),
                        qty: Qty(number("size", t.size)?),
                        aggressor,
                    },
                    id: t.trade_id.parse().ok(),
                });
            }
        }
        "ticker" | "ticker_batch" => {
            let ts = message
                .timestamp
                .map(|t| time("timestamp", t))
                .transpose()?;
            for t in message.events.iter().flat_map(|e| &e.tickers) {
                let (Some(b), Some(bq), Some(a), Some(aq)) = (
                    t.best_bid,
                    t.best_bid_quantity,
                    t.best_ask,
                    t.best_ask_quantity,
                ) else {
                    continue;
                };
                out.push(FeedEvent::Quote {
                    symbol: t.product_id,
                    ts,
                    quote: Quote {
                        bid: Price(number("best_bid", b)?),
                        ask: Price(number("best_ask", a)?),
                        bid_qty: Qty(number("best_bid_quantity", bq)?),
                        ask_qty: Qty(number("best_ask_quantity", aq)?),
                    },
                });
            }
        }
        "candles" => {
            for c in message.events.iter().flat_map(|e| &e.candles) {
                let start: i64 = c.start.parse().map_err(|_| {
                    DecodeError::new(format!(
                        "field `start`: expected Unix seconds, found {:?}",
                        c.start
                    ))
                })?;
                out.push(FeedEvent::Bar {
                    symbol: c.product_id,
                    bar: Bar {
                        ts: Timestamp::from_secs(start),
                        open: number("open", c.open)?,
                        high: number("high", c.high)?,
                        low: number("low", c.low)?,
                        close: number("close", c.close)?,
                        volume: number("volume", c.volume)?,
                    },
                    closed: false,
                });
            }
        }
        "heartbeats" => out.push(FeedEvent::Heartbeat {
            ts: message
                .timestamp
                .map(|t| time("timestamp", t))
                .transpose()?,
        }),
        // Acknowledgements of (un)subscriptions carry no market data.
        "subscriptions" => {}
        other => return Err(DecodeError::new(format!("unknown channel {other:?}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples as Coinbase's Advanced Trade websocket documentation gives them.
    #[test]
    fn decodes_market_trades() {
        let text = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"000000001","product_id":"ETH-USD","price":"1260.02","size":"0.1","side":"SELL","time":"2019-08-14T20:42:27.266Z"}]}]}"#;
        let mut out = Vec::new();
        assert_eq!(decode(text, &mut out).unwrap(), Some(0));
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            FeedEvent::Trade {
                symbol: "ETH-USD",
                ts: parse_timestamp("2019-08-14T20:42:27.265Z").unwrap(),
                trade: Trade {
                    price: Price(1260.01),
                    qty: Qty(0.3),
                    aggressor: Side::Sell,
                },
                id: Some(0),
            }
        );
        assert!(matches!(out[1], FeedEvent::Trade { id: Some(1), .. }));
    }

    #[test]
    fn decodes_tickers_with_and_without_best_bid_ask() {
        let text = r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":7,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"},{"type":"ticker","product_id":"ETH-USD","price":"1500"}]}]}"#;
        let mut out = Vec::new();
        assert_eq!(decode(text, &mut out).unwrap(), Some(7));
        assert_eq!(
            out.len(),
            1,
            "the ticker without best bid/ask gives no quote"
        );
        assert_eq!(
            out[0],
            FeedEvent::Quote {
                symbol: "BTC-USD",
                ts: parse_timestamp("2023-02-09T20:30:37.167359596Z"),
                quote: Quote {
                    bid: Price(21931.98),
                    ask: Price(21933.98),
                    bid_qty: Qty(8000.21),
                    ask_qty: Qty(8_038.077_709_38),
                },
            }
        );
    }

    #[test]
    fn decodes_candles_and_heartbeats() {
        let text = r#"{"channel":"candles","client_id":"","timestamp":"2023-06-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","candles":[{"start":"1688998200","high":"1867.72","low":"1863.59","open":"1867.72","close":"1866.13","volume":"2.26","product_id":"ETH-USD"}]}]}"#;
        let mut out = Vec::new();
        decode(text, &mut out).unwrap();
        assert_eq!(
            out[0],
            FeedEvent::Bar {
                symbol: "ETH-USD",
                bar: Bar {
                    ts: Timestamp::from_secs(1_688_998_200),
                    open: 1867.72,
                    high: 1867.72,
                    low: 1863.59,
                    close: 1866.13,
                    volume: 2.26,
                },
                closed: false,
            }
        );
        let beat = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}"#;
        out.clear();
        decode(beat, &mut out).unwrap();
        assert!(matches!(out[0], FeedEvent::Heartbeat { ts: Some(_) }));
        let ack = r#"{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:59.987390413Z","sequence_num":1,"events":[{"subscriptions":{"ticker":["BTC-USD"]}}]}"#;
        out.clear();
        assert_eq!(decode(ack, &mut out).unwrap(), Some(1));
        assert!(out.is_empty());
    }

    #[test]
    fn bad_messages_are_errors_and_leave_nothing_behind() {
        let mut out = Vec::new();
        let cases = [
            (
                r#"{"channel":"market_trades","events":[{"trades":[{"#,
                "malformed JSON",
            ),
            (r#"{"channel":"level2","events":[]}"#, "unknown channel"),
            (
                r#"{"channel":"market_trades","events":[{"trades":[{"trade_id":"1","product_id":"X","price":"1","size":"1","side":"BUY","time":"2019-08-14T20:42:27Z"},{"trade_id":"2","product_id":"X","price":"x","size":"1","side":"BUY","time":"2019-08-14T20:42:27Z"}]}]}"#,
                "field `price`",
            ),
            (
                r#"{"channel":"market_trades","events":[{"trades":[{"trade_id":"1","product_id":"X","price":"1","size":"1","side":"UP","time":"2019-08-14T20:42:27Z"}]}]}"#,
                "field `side`",
            ),
        ];
        for (text, expected) in cases {
            let error = decode(text, &mut out).unwrap_err();
            assert!(error.message.contains(expected), "{text}: {error}");
            assert!(out.is_empty(), "{text}");
        }
    }
}
