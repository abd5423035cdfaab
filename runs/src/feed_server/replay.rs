//! The replay's messages: a bar or trade file loaded into records and rendered as Binance
//! combined-stream messages.
//!
//! Messages are rendered when sent, from the records, so a long file is held as bars rather than
//! as text, and numbers are written with Rust's shortest round-trip formatting (`{}`), so a
//! client parses the same bits the file holds.

use super::{Kind, ReplayArgs};
use anyhow::{Context, Result, bail};
use market_data::columnar::{
    DEFAULT_BATCH_ROWS, FileFormat, RecordKind, RecordReader, TimeRange, read_bar_file,
};
use market_data::csv::{OnInvalid, read_bars};
use market_data::synthetic::parse_interval;
use market_data::{Bar, BarSeries, InstrumentId, Side, Timestamp, Trade};
use std::fmt::Write as _;

/// The messages of the replay, in the order they are sent.
pub(super) struct Replay {
    pub(super) streams: Vec<StreamName>,
    content: Content,
}

/// A stream's name and symbol, JSON-quoted once for rendering.
pub(super) struct StreamName {
    pub(super) name: String,
    name_json: String,
    symbol_json: String,
}

impl StreamName {
    fn new(symbol: &str, suffix: &str) -> Result<Self> {
        let lower = symbol.to_lowercase();
        // Clients split `streams=` on '/' and stream names on '@'.
        if lower.is_empty()
            || lower
                .chars()
                .any(|c| matches!(c, '/' | '@' | '?' | '&' | '%' | '#') || c.is_whitespace())
        {
            bail!("symbol {symbol:?} cannot be a stream name: give --symbol (letters and digits)");
        }
        let name = format!("{lower}@{suffix}");
        Ok(Self {
            name_json: serde_json::to_string(&name)?,
            symbol_json: serde_json::to_string(&symbol.to_uppercase())?,
            name,
        })
    }
}

enum Content {
    /// Klines: (stream, bar), ordered by close time, then stream.
    Bars {
        interval_ms: i64,
        label: String,
        bars: Vec<(usize, Bar)>,
    },
    /// Trades of one symbol, whose ids are their index + 1.
    Trades(Vec<(Timestamp, Trade)>),
}

/// Milliseconds since the epoch, as Binance stamps events.
fn ms(ts: Timestamp) -> i64 {
    ts.0.div_euclid(1_000_000)
}

impl Replay {
    pub(super) fn load(args: &ReplayArgs) -> Result<Self> {
        let path = &args.data;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let format = FileFormat::of(path);
        let replay = match args.kind {
            Kind::Bars => {
                let name = InstrumentId::new(stem);
                let series = match format {
                    Some(FileFormat::Csv) => vec![read_bars(path, name, OnInvalid::Error)?.0],
                    Some(_) => read_bar_file(path, name, TimeRange::ALL)?,
                    None => bail!(
                        "{}: expected a .csv, .parquet, .arrow, .arrows, .feather or .ipc file",
                        path.display()
                    ),
                };
                Self::bars(series, args)?
            }
            Kind::Trades => {
                if args.interval.is_some() {
                    bail!("--interval applies to bars, not trades");
                }
                if matches!(format, Some(FileFormat::Csv) | None) {
                    bail!(
                        "{}: trades are read from Parquet or Arrow files (convert a CSV with \
                         `quant data convert`)",
                        path.display()
                    );
                }
                let symbol = args.symbol.as_deref().unwrap_or(&stem);
                let mut reader = RecordReader::open(
                    path,
                    RecordKind::Trades,
                    TimeRange::ALL,
                    DEFAULT_BATCH_ROWS,
                )?;
                let mut trades = Vec::new();
                while reader.next_trades(&mut trades)? {}
                Self {
                    streams: vec![StreamName::new(symbol, "trade")?],
                    content: Content::Trades(trades),
                }
            }
        };
        if replay.len() == 0 {
            bail!("{}: no {:?} to serve", path.display(), args.kind);
        }
        if replay.sub_millisecond() {
            eprintln!(
                "warning: {}: times finer than a millisecond are truncated (Binance sends ms)",
                path.display()
            );
        }
        Ok(replay)
    }

    fn bars(series: Vec<BarSeries>, args: &ReplayArgs) -> Result<Self> {
        if args.symbol.is_some() && series.len() > 1 {
            bail!(
                "--symbol names one stream, but {} holds {} instruments",
                args.data.display(),
                series.len()
            );
        }
        let interval_ns = match &args.interval {
            Some(text) => parse_interval(text).with_context(|| {
                format!("--interval: expected 1s, 1m, 1h, 1d..., found {text:?}")
            })?,
            None => median_spacing(&series).with_context(|| {
                format!(
                    "{}: cannot infer the interval from fewer than two bars: give --interval",
                    args.data.display()
                )
            })?,
        };
        let Some(label) = interval_label(interval_ns) else {
            bail!("bar interval of {interval_ns} ns: Binance klines need whole milliseconds");
        };
        let suffix = format!("kline_{label}");
        let mut streams = Vec::with_capacity(series.len());
        let mut bars = Vec::new();
        for (k, s) in series.iter().enumerate() {
            let symbol = args.symbol.as_deref().unwrap_or(s.instrument.as_str());
            streams.push(StreamName::new(symbol, &suffix)?);
            bars.extend(s.bars.iter().map(|b| (k, *b)));
        }
        // Merged in time like a live venue's; stable, so equal times keep the file's order.
        bars.sort_by_key(|(k, b)| (b.ts, *k));
        Ok(Self {
            streams,
            content: Content::Bars {
                interval_ms: interval_ns / 1_000_000,
                label,
                bars,
            },
        })
    }

    pub(super) fn len(&self) -> usize {
        match &self.content {
            Content::Bars { bars, .. } => bars.len(),
            Content::Trades(trades) => trades.len(),
        }
    }

    pub(super) fn stream_names(&self) -> Vec<&str> {
        self.streams.iter().map(|s| s.name.as_str()).collect()
    }

    fn sub_millisecond(&self) -> bool {
        match &self.content {
            Content::Bars { bars, .. } => bars.iter().any(|(_, b)| b.ts.0 % 1_000_000 != 0),
            Content::Trades(trades) => trades.iter().any(|(ts, _)| ts.0 % 1_000_000 != 0),
        }
    }

    /// The stream of message `i`.
    pub(super) fn stream_of(&self, i: usize) -> usize {
        match &self.content {
            Content::Bars { bars, .. } => bars[i].0,
            Content::Trades(_) => 0,
        }
    }

    /// The event time of message `i` in ms, which pacing follows: a kline's close, a trade's time.
    pub(super) fn time_ms(&self, i: usize) -> i64 {
        match &self.content {
            Content::Bars {
                bars, interval_ms, ..
            } => ms(bars[i].1.ts) + interval_ms,
            Content::Trades(trades) => ms(trades[i].0),
        }
    }

    /// Renders message `i`.
    pub(super) fn render(&self, i: usize) -> String {
        let mut out = String::with_capacity(384);
        // Writing to a String cannot fail.
        let _ = match &self.content {
            Content::Bars {
                bars,
                interval_ms,
                label,
            } => {
                let (k, bar) = &bars[i];
                let s = &self.streams[*k];
                kline(
                    &mut out,
                    &s.name_json,
                    &s.symbol_json,
                    label,
                    *interval_ms,
                    bar,
                )
            }
            Content::Trades(trades) => {
                let (ts, trade) = &trades[i];
                let s = &self.streams[0];
                let t = ms(*ts);
                write!(
                    out,
                    r#"{{"stream":{},"data":{{"e":"trade","E":{t},"s":{},"t":{},"p":"{}","q":"{}","T":{t},"m":{},"M":true}}}}"#,
                    s.name_json,
                    s.symbol_json,
                    i + 1,
                    trade.price.0,
                    trade.qty.0,
                    // `m`: the buyer was the maker, so the seller crossed the spread.
                    trade.aggressor == Side::Sell,
                )
            }
        };
        out
    }

    /// Renders a well-formed one-minute kline of a stream nobody subscribed to, at message `i`'s
    /// time.
    pub(super) fn render_unknown(&self, i: usize) -> String {
        let minute = 60_000;
        let open = self.time_ms(i).div_euclid(minute) * minute;
        let bar = Bar {
            ts: Timestamp(open * 1_000_000),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 0.0,
        };
        let mut out = String::with_capacity(384);
        let _ = kline(
            &mut out,
            r#""nosuch@kline_1m""#,
            r#""NOSUCH""#,
            "1m",
            minute,
            &bar,
        );
        out
    }
}

/// Writes one final kline in the combined-stream envelope. The venue's trade ids and counts are
/// unknown for a bar file, so `f`/`L` are -1 and `n` 0, as Binance writes an interval without
/// trades; the quote-volume fields are "0".
fn kline(
    out: &mut String,
    stream_json: &str,
    symbol_json: &str,
    label: &str,
    interval_ms: i64,
    bar: &Bar,
) -> std::fmt::Result {
    let t = ms(bar.ts);
    write!(
        out,
        r#"{{"stream":{stream_json},"data":{{"e":"kline","E":{},"s":{symbol_json},"k":{{"t":{t},"T":{},"s":{symbol_json},"i":"{label}","f":-1,"L":-1,"o":"{}","c":"{}","h":"{}","l":"{}","v":"{}","n":0,"x":true,"q":"0","V":"0","Q":"0","B":"0"}}}}}}"#,
        t + interval_ms,
        t + interval_ms - 1,
        bar.open,
        bar.close,
        bar.high,
        bar.low,
        bar.volume,
    )
}

/// Returns the median spacing of consecutive bars over every series, if there are two bars.
fn median_spacing(series: &[BarSeries]) -> Option<i64> {
    let mut gaps: Vec<i64> = series
        .iter()
        .flat_map(|s| s.bars.windows(2).map(|w| w[1].ts.0 - w[0].ts.0))
        .filter(|&g| g > 0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mid = gaps.len() / 2;
    Some(*gaps.select_nth_unstable(mid).1)
}

/// Formats an interval in ns as Binance names them (`1m`, `4h`, `1d`, `1w`), in the largest unit
/// that divides it; `None` below a millisecond.
fn interval_label(ns: i64) -> Option<String> {
    const MS: i64 = 1_000_000;
    const UNITS: [(&str, i64); 6] = [
        ("w", 7 * 86_400_000 * MS),
        ("d", 86_400_000 * MS),
        ("h", 3_600_000 * MS),
        ("m", 60_000 * MS),
        ("s", 1_000 * MS),
        ("ms", MS),
    ];
    if ns <= 0 {
        return None;
    }
    UNITS
        .iter()
        .find(|(_, unit)| ns % unit == 0)
        .map(|(name, unit)| format!("{}{name}", ns / unit))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use market_data::feed::{FeedEvent, binance};
    use market_data::{Price, Qty};

    pub(crate) fn bars_replay(bars: &[Bar], interval_ms: i64) -> Replay {
        Replay {
            streams: vec![StreamName::new("GOOG", "kline_1d").unwrap()],
            content: Content::Bars {
                interval_ms,
                label: "1d".into(),
                bars: bars.iter().map(|b| (0, *b)).collect(),
            },
        }
    }

    #[test]
    fn klines_round_trip_every_bit() {
        let awkward = [
            0.1 + 0.2,
            1e-7,
            123_456_789.123_456_78,
            5e300,
            f64::MIN_POSITIVE,
        ];
        let bars: Vec<Bar> = awkward
            .iter()
            .enumerate()
            .map(|(k, &x)| Bar {
                ts: Timestamp(86_400_000_000_000 * k as i64),
                open: x,
                high: x * 3.0,
                low: x / 3.0,
                close: x * 1.5,
                volume: x * 7.0,
            })
            .collect();
        let replay = bars_replay(&bars, 86_400_000);
        for (i, bar) in bars.iter().enumerate() {
            let text = replay.render(i);
            let mut out = Vec::new();
            binance::decode(&text, &mut out).unwrap();
            let FeedEvent::Bar {
                symbol,
                bar: got,
                closed,
            } = out[0]
            else {
                panic!("not a bar: {text}");
            };
            assert_eq!((symbol, closed), ("GOOG", true));
            let bits = |b: &Bar| [b.open, b.high, b.low, b.close, b.volume].map(f64::to_bits);
            assert_eq!((got.ts, bits(&got)), (bar.ts, bits(bar)), "{text}");
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let t = bar.ts.0 / 1_000_000;
            assert_eq!(json["data"]["E"], t + 86_400_000);
            assert_eq!(json["data"]["k"]["T"], t + 86_400_000 - 1);
        }
    }

    #[test]
    fn trades_carry_consecutive_ids_and_the_aggressor() {
        let trade = |price, aggressor| Trade {
            price: Price(price),
            qty: Qty(0.001),
            aggressor,
        };
        let replay = Replay {
            streams: vec![StreamName::new("btcusdt", "trade").unwrap()],
            content: Content::Trades(vec![
                (Timestamp(1_000_000_000), trade(42_000.1, Side::Buy)),
                (Timestamp(1_001_000_000), trade(41_999.9, Side::Sell)),
            ]),
        };
        for (i, side) in [(0, Side::Buy), (1, Side::Sell)] {
            let text = replay.render(i);
            let mut out = Vec::new();
            binance::decode(&text, &mut out).unwrap();
            let FeedEvent::Trade { trade, id, ts, .. } = out[0] else {
                panic!("not a trade: {text}");
            };
            assert_eq!(id, Some(i as u64 + 1));
            assert_eq!(trade.aggressor, side);
            assert_eq!(ts.0, 1_000_000_000 + 1_000_000 * i as i64);
        }
    }

    #[test]
    fn intervals_are_named_like_binance() {
        let ms = 1_000_000;
        for (ns, label) in [
            (60_000 * ms, "1m"),
            (900_000 * ms, "15m"),
            (3_600_000 * ms, "1h"),
            (4 * 3_600_000 * ms, "4h"),
            (86_400_000 * ms, "1d"),
            (7 * 86_400_000 * ms, "1w"),
            (1_500 * ms, "1500ms"),
        ] {
            assert_eq!(interval_label(ns).as_deref(), Some(label));
            assert_eq!(parse_interval(label), Some(ns));
        }
        assert_eq!(interval_label(1_500), None);
    }
}
