//! A websocket feed client: connects, subscribes, decodes, checks for gaps and duplicates, and
//! hands events to the engine thread over a bounded channel; reconnects with exponential
//! backoff and jitter when the connection drops or falls silent.
//!
//! The client runs a single-threaded tokio runtime on its own thread, so the engine thread runs
//! the same synchronous loop as in backtests. When the engine falls behind and the channel is
//! full, the client waits for it (no event is dropped: the socket's buffers absorb the burst)
//! and counts each wait. Malformed messages are reported with their raw text and skipped.

use crate::backfill::{BarSource, GapRequest};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use futures_util::{SinkExt, StreamExt};
use market_data::feed::{FeedEvent, binance, coinbase};
use market_data::synthetic::parse_interval;
use market_data::{
    Calendar, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Timestamp, Zone,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

/// The message format a feed speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Binance combined streams: `<url>/stream?streams=btcusdt@trade/ethusdt@kline_1m`.
    Binance,
    /// Coinbase Advanced Trade: streams written `<channel>:<product>` (`market_trades:BTC-USD`).
    Coinbase,
}

/// How to connect and when to give up on a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// The message format.
    pub format: Format,
    /// `ws://` or `wss://` base URL.
    pub url: String,
    /// The streams to subscribe to.
    pub streams: Vec<String>,
    /// A connection silent for this long is dropped and reopened.
    pub stale_after: Duration,
    /// An event stamped further than this ahead of the wall clock is rejected.
    pub max_clock_skew: Duration,
    /// The first wait before reconnecting; it doubles on each failure...
    pub reconnect_initial: Duration,
    /// ...up to this bound.
    pub reconnect_max: Duration,
    /// Events the channel to the engine holds.
    pub capacity: usize,
    /// The market's calendar and zone (`[data] calendar`, `timezone`): bars it does not expect
    /// (a weekend, a holiday, the night) are not missing. Without one, a spacing of more than an
    /// interval is a gap, or for daily bars more than four days.
    pub calendar: Option<(Calendar, Zone)>,
}

/// Something the feed reports besides market events.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Connected (and subscribed).
    Connected {
        /// The URL.
        url: String,
    },
    /// The connection ended.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Reconnecting after a wait.
    Reconnecting {
        /// The wait.
        after: Duration,
    },
    /// Bars are missing: a bar came more than an interval after the instrument's last one (or,
    /// after a restart, the journal's last one). Reported after any backfill, before the bars
    /// it fetched and the bar that revealed the gap.
    MissingBars(BarGap),
    /// Messages are missing: sequence numbers or trade ids jumped.
    Gap {
        /// The instrument, or `*` for a connection-wide sequence.
        instrument: String,
        /// What is missing.
        detail: String,
    },
    /// A message repeated or went back in time; it was skipped.
    Duplicate {
        /// The instrument.
        instrument: String,
        /// What repeated.
        detail: String,
    },
    /// An event with values the file readers would refuse (a price at or below 0, a high below
    /// the low, a crossed quote); it was skipped, never traded.
    Rejected {
        /// The instrument.
        instrument: String,
        /// The field and what is wrong with it.
        detail: String,
    },
    /// A message could not be decoded; it was skipped.
    Malformed {
        /// The message as received.
        raw: String,
        /// Why.
        error: String,
    },
}

/// Bars missing from one instrument's series, and what the backfill did about them.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGap {
    /// The instrument.
    pub instrument: String,
    /// The last bar before the gap.
    pub after: Timestamp,
    /// The bar that revealed it (of this instrument, or of another one that moved past it).
    pub before: Timestamp,
    /// Bars missing between the two: those the calendar expected (without a calendar, every
    /// interval, so for daily bars weekends and holidays count too).
    pub missing: u64,
    /// The backfill's outcome.
    pub backfill: Backfilled,
}

/// What a backfill did for one gap.
#[derive(Debug, Clone, PartialEq)]
pub enum Backfilled {
    /// No backfill is configured: the bars stay missing.
    Off,
    /// These many bars were fetched, checked and handed to the engine.
    Filled {
        /// The source.
        source: String,
        /// Bars used.
        bars: usize,
        /// Bars the source returned that failed the feed's checks (never traded).
        rejected: usize,
    },
    /// The source failed: the bars stay missing, the session goes on.
    Failed {
        /// The source.
        source: String,
        /// Why.
        error: String,
    },
}

/// Where a session's series left off, and where missing bars come from.
#[derive(Default)]
pub struct Continuity {
    /// Each instrument's last bar already used (from the journal), by index of the feed's
    /// instruments: a bar at or before it is skipped, and the first bar after a downtime that
    /// skipped some reveals the gap.
    pub last_bars: Vec<Option<Timestamp>>,
    /// Fetches the bars of a gap; `None`: gaps are only reported.
    pub backfill: Option<Box<dyn BarSource>>,
}

impl std::fmt::Debug for Continuity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Continuity")
            .field("last_bars", &self.last_bars)
            .field("backfill", &self.backfill.as_ref().map(|b| b.describe()))
            .finish()
    }
}

/// What the feed hands the engine thread.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedItem {
    /// A market event, and when its message arrived.
    Event(MarketEvent, Instant),
    /// A notice to log.
    Notice(Notice),
    /// The feed stopped (asked to, or the engine went away).
    Stopped,
}

/// Counters of a feed's life, readable from any thread.
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Messages received.
    pub messages: AtomicU64,
    /// Events handed to the engine.
    pub events: AtomicU64,
    /// Malformed messages skipped.
    pub malformed: AtomicU64,
    /// Events with impossible values skipped (never traded).
    pub rejected: AtomicU64,
    /// Gaps detected.
    pub gaps: AtomicU64,
    /// Bars a backfill handed to the engine.
    pub backfilled: AtomicU64,
    /// Gaps whose backfill failed or was off: bars that stay missing.
    pub unfilled_gaps: AtomicU64,
    /// Bars skipped because the journal already held them (a feed that replays history).
    pub already_journaled: AtomicU64,
    /// Duplicates or out-of-order messages skipped.
    pub duplicates: AtomicU64,
    /// Reconnections.
    pub reconnects: AtomicU64,
    /// Times the engine's channel was full and the feed waited.
    pub engine_behind: AtomicU64,
    /// When the last message arrived, in ns since the epoch (0: never).
    pub last_message_ns: AtomicU64,
}

/// A running feed.
#[derive(Debug)]
pub struct Feed {
    /// Events and notices, in arrival order.
    pub items: Receiver<FeedItem>,
    /// Live counters.
    pub counters: Arc<FeedCounters>,
    /// The instruments, by index, from the streams.
    pub instruments: Vec<InstrumentId>,
    stop: Arc<(AtomicBool, Notify)>,
    thread: Option<JoinHandle<()>>,
}

/// Returns the instruments the streams name, in order of first mention: Binance symbols
/// upper-cased (`eurusd@kline_1h` -> `EURUSD`), Coinbase products as written.
pub fn instruments_of(format: Format, streams: &[String]) -> Vec<InstrumentId> {
    let mut names: Vec<InstrumentId> = Vec::new();
    for stream in streams {
        let name = match format {
            Format::Binance => stream.split('@').next().unwrap_or(stream).to_uppercase(),
            Format::Coinbase => stream
                .split_once(':')
                .map_or(stream.as_str(), |s| s.1)
                .to_owned(),
        };
        if !names.iter().any(|n| n.as_str() == name) {
            names.push(InstrumentId::new(name));
        }
    }
    names
}

impl Feed {
    /// Waits up to `timeout` for the next item, spinning for the first `spin` before parking
    /// the thread: waking a parked thread costs tens of microseconds, more than the engine takes
    /// to act on an event, so a live engine polls briefly first.
    ///
    /// # Errors
    /// Timeout, or the feed thread is gone.
    pub fn next(
        &self,
        spin: Duration,
        timeout: Duration,
    ) -> Result<FeedItem, crossbeam_channel::RecvTimeoutError> {
        let start = Instant::now();
        loop {
            match self.items.try_recv() {
                Ok(item) => return Ok(item),
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(crossbeam_channel::RecvTimeoutError::Disconnected);
                }
                Err(crossbeam_channel::TryRecvError::Empty) if start.elapsed() < spin => {
                    std::hint::spin_loop();
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    return self.items.recv_timeout(timeout.saturating_sub(spin));
                }
            }
        }
    }

    /// Starts the feed on its own thread, with no journal behind it and no backfill.
    pub fn start(config: FeedConfig) -> Self {
        Self::start_with(config, Continuity::default())
    }

    /// Starts the feed on its own thread, continuing a session's series: gaps are measured from
    /// `continuity.last_bars` and filled from its backfill.
    pub fn start_with(config: FeedConfig, continuity: Continuity) -> Self {
        let (tx, items) = bounded(config.capacity.max(1));
        let counters = Arc::new(FeedCounters::default());
        let stop = Arc::new((AtomicBool::new(false), Notify::new()));
        let instruments = instruments_of(config.format, &config.streams);
        let thread = {
            let (counters, stop, instruments) =
                (counters.clone(), stop.clone(), instruments.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => {
                        rt.block_on(run(config, instruments, continuity, &tx, &counters, &stop))
                    }
                    Err(e) => {
                        let _ = tx.send(FeedItem::Notice(Notice::Disconnected {
                            reason: format!("cannot start the feed runtime: {e}"),
                        }));
                    }
                }
                let _ = tx.send(FeedItem::Stopped);
            })
        };
        Self {
            items,
            counters,
            instruments,
            stop,
            thread: Some(thread),
        }
    }

    /// Asks the feed to stop; it sends [`FeedItem::Stopped`] once it has.
    pub fn stop(&self) {
        self.stop.0.store(true, Ordering::SeqCst);
        self.stop.1.notify_one();
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            // Keep draining until the feed thread ends: one waiting on a full channel must get
            // room to notice the stop, however many messages it still had in hand.
            while !thread.is_finished() {
                while self.items.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = thread.join();
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Sends an item to the engine, waiting (and counting the wait) when its channel is full;
/// false once the engine is gone.
fn send(tx: &Sender<FeedItem>, counters: &FeedCounters, item: FeedItem) -> bool {
    match tx.try_send(item) {
        Ok(()) => true,
        Err(TrySendError::Full(item)) => {
            counters.engine_behind.fetch_add(1, Ordering::Relaxed);
            tx.send(item).is_ok()
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// The connect, read, reconnect loop.
async fn run(
    config: FeedConfig,
    instruments: Vec<InstrumentId>,
    continuity: Continuity,
    tx: &Sender<FeedItem>,
    counters: &FeedCounters,
    stop: &(AtomicBool, Notify),
) {
    // rustls needs a process-wide crypto provider; another part may have installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = match config.format {
        Format::Binance if !config.url.contains("/stream") => format!(
            "{}/stream?streams={}",
            config.url.trim_end_matches('/'),
            config.streams.join("/")
        ),
        _ => config.url.clone(),
    };
    let mut state = State::new(&config, instruments).continuing(continuity);
    let mut delay = config.reconnect_initial;
    let mut jitter = Jitter(now_ns() as u64 | 1);
    while !stop.0.load(Ordering::SeqCst) {
        let reason = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut ws, _)) => {
                delay = config.reconnect_initial;
                state.reset_connection();
                let subscribed = subscribe(&config, &mut ws).await;
                if !send(
                    tx,
                    counters,
                    FeedItem::Notice(Notice::Connected { url: url.clone() }),
                ) {
                    return;
                }
                match subscribed {
                    Ok(()) => read(&mut ws, &config, &mut state, tx, counters, stop).await,
                    Err(e) => Ok(format!("cannot subscribe: {e}")),
                }
            }
            Err(e) => Ok(format!("cannot connect to {url}: {e}")),
        };
        let Ok(reason) = reason else {
            return; // the engine is gone
        };
        if !send(
            tx,
            counters,
            FeedItem::Notice(Notice::Disconnected { reason }),
        ) {
            return;
        }
        if stop.0.load(Ordering::SeqCst) {
            return;
        }
        counters.reconnects.fetch_add(1, Ordering::Relaxed);
        let wait = jitter.around(delay);
        if !send(
            tx,
            counters,
            FeedItem::Notice(Notice::Reconnecting { after: wait }),
        ) {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.1.notified() => return,
        }
        delay = (delay * 2).min(config.reconnect_max);
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends Coinbase's subscribe messages, one per channel; Binance subscribes in the URL.
async fn subscribe(config: &FeedConfig, ws: &mut Socket) -> Result<(), String> {
    if config.format != Format::Coinbase {
        return Ok(());
    }
    let mut channels: Vec<(&str, Vec<&str>)> = Vec::new();
    for stream in &config.streams {
        let (channel, product) = stream.split_once(':').unwrap_or((stream, ""));
        match channels.iter_mut().find(|(c, _)| *c == channel) {
            Some((_, products)) => products.push(product),
            None => channels.push((channel, vec![product])),
        }
    }
    for (channel, products) in channels {
        let message = serde_json::json!({
            "type": "subscribe", "channel": channel, "product_ids": products,
        });
        ws.send(Message::text(message.to_string()))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads until the connection ends, falls silent or the feed is stopped; returns why, or
/// `Err` once the engine is gone.
async fn read(
    ws: &mut Socket,
    config: &FeedConfig,
    state: &mut State,
    tx: &Sender<FeedItem>,
    counters: &FeedCounters,
    stop: &(AtomicBool, Notify),
) -> Result<String, ()> {
    // Decoded events borrow the message, so the vector is emptied and re-typed per message;
    // collecting an emptied vector in place keeps its allocation.
    let mut spare: Vec<FeedEvent<'static>> = Vec::with_capacity(16);
    let mut items: Vec<FeedItem> = Vec::with_capacity(16);
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(config.stale_after, ws.next()) => next,
            () = stop.1.notified() => {
                let _ = ws.close(None).await;
                return Ok("stopped".into());
            }
        };
        let message = match next {
            Err(_) => return Ok(format!("silent for {:?} (watchdog)", config.stale_after)),
            Ok(None) => return Ok("closed by the server".into()),
            Ok(Some(Err(e))) => return Ok(format!("connection error: {e}")),
            Ok(Some(Ok(message))) => message,
        };
        let received = Instant::now();
        counters.messages.fetch_add(1, Ordering::Relaxed);
        counters
            .last_message_ns
            .store(now_ns() as u64, Ordering::Relaxed);
        let text = match message {
            Message::Text(text) => text,
            // tungstenite queues the pong; flushing sends it now.
            Message::Ping(_) => {
                let _ = ws.flush().await;
                continue;
            }
            Message::Close(frame) => {
                return Ok(format!(
                    "closed by the server{}",
                    frame.map(|f| format!(": {}", f.reason)).unwrap_or_default()
                ));
            }
            Message::Binary(_) => {
                let notice = Notice::Malformed {
                    raw: "<binary message>".into(),
                    error: "expected a text message".into(),
                };
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                send(tx, counters, FeedItem::Notice(notice))
                    .then_some(())
                    .ok_or(())?;
                continue;
            }
            Message::Pong(_) | Message::Frame(_) => continue,
        };
        let mut events = recycle(spare);
        let decoded = match config.format {
            Format::Binance => binance::decode(text.as_str(), &mut events).map(|()| None),
            Format::Coinbase => coinbase::decode(text.as_str(), &mut events),
        };
        items.clear();
        match decoded {
            Ok(sequence) => state.accept(sequence, &events, received, &mut items),
            Err(e) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                items.push(FeedItem::Notice(Notice::Malformed {
                    raw: text.as_str().to_owned(),
                    error: e.message,
                }));
            }
        }
        events.clear();
        spare = recycle(events);
        counters
            .already_journaled
            .store(state.already_journaled, Ordering::Relaxed);
        for item in items.drain(..) {
            match &item {
                FeedItem::Event(..) => counters.events.fetch_add(1, Ordering::Relaxed),
                FeedItem::Notice(Notice::Gap { .. }) => {
                    counters.gaps.fetch_add(1, Ordering::Relaxed)
                }
                FeedItem::Notice(Notice::MissingBars(gap)) => {
                    if let Backfilled::Filled { bars, .. } = gap.backfill {
                        counters
                            .backfilled
                            .fetch_add(bars as u64, Ordering::Relaxed);
                    } else {
                        counters.unfilled_gaps.fetch_add(1, Ordering::Relaxed);
                    }
                    counters.gaps.fetch_add(1, Ordering::Relaxed)
                }
                FeedItem::Notice(Notice::Duplicate { .. }) => {
                    counters.duplicates.fetch_add(1, Ordering::Relaxed)
                }
                FeedItem::Notice(Notice::Rejected { .. }) => {
                    counters.rejected.fetch_add(1, Ordering::Relaxed)
                }
                _ => 0,
            };
            if !send(tx, counters, item) {
                return Err(());
            }
        }
    }
}

/// The longest spacing between consecutive bars that is not a gap: one interval, or for daily
/// and longer bars four days, as markets close over weekends and holidays (a feed of daily
/// equity bars would otherwise report every Monday).
fn gap_allowance(step: i64) -> i64 {
    const DAY: i64 = 86_400_000_000_000;
    if step >= DAY { step.max(4 * DAY) } else { step }
}

/// Empties `events` and gives its allocation a new lifetime (collecting in place reuses it).
#[allow(clippy::unnecessary_filter_map)] // a `filter` could not change the element's lifetime
fn recycle<'b>(events: Vec<FeedEvent<'_>>) -> Vec<FeedEvent<'b>> {
    events.into_iter().filter_map(|_| None).collect()
}

/// A small xorshift for reconnect jitter: waits spread over 80-120% of the nominal delay, so
/// many clients dropped together do not reconnect together.
struct Jitter(u64);

impl Jitter {
    fn around(&mut self, delay: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        delay.mul_f64(0.8 + 0.4 * unit)
    }
}

/// What the feed remembers to detect gaps and duplicates, per instrument.
struct State {
    instruments: Vec<InstrumentId>,
    /// Bar interval per instrument (ns, and as the venue writes it), from its kline stream
    /// (Binance) or candles (Coinbase's are 5 minutes), if any.
    intervals: Vec<Option<(i64, String)>>,
    last_bar: Vec<Option<i64>>,
    /// The journal's last bar per instrument: bars at or before it were used already.
    journaled: Vec<Option<i64>>,
    /// Bars skipped as already journaled.
    already_journaled: u64,
    /// Where the bars of a gap come from.
    backfill: Option<Box<dyn BarSource>>,
    last_trade_id: Vec<Option<u64>>,
    /// Coinbase candles still forming, per instrument.
    forming: Vec<Option<market_data::Bar>>,
    /// Coinbase's per-connection sequence number.
    sequence: Option<u64>,
    /// Nanoseconds an event may be stamped ahead of the wall clock.
    max_skew_ns: i64,
    calendar: Option<(Calendar, Zone)>,
}

impl State {
    fn new(config: &FeedConfig, instruments: Vec<InstrumentId>) -> Self {
        let n = instruments.len();
        let mut intervals = vec![None; n];
        for stream in &config.streams {
            let (symbol, interval) = match config.format {
                Format::Binance => stream
                    .split_once('@')
                    .and_then(|(s, kind)| Some((s, kind.strip_prefix("kline_")?))),
                Format::Coinbase => stream
                    .split_once(':')
                    .filter(|(channel, _)| *channel == "candles")
                    .map(|(_, product)| (product, "5m")),
            }
            .unzip();
            if let (Some(symbol), Some(interval)) = (symbol, interval)
                && let Some(i) = instruments
                    .iter()
                    .position(|n| n.as_str().eq_ignore_ascii_case(symbol))
            {
                intervals[i] = parse_interval(interval).map(|ns| (ns, interval.to_owned()));
            }
        }
        Self {
            instruments,
            intervals,
            last_bar: vec![None; n],
            journaled: vec![None; n],
            already_journaled: 0,
            backfill: None,
            last_trade_id: vec![None; n],
            forming: vec![None; n],
            sequence: None,
            max_skew_ns: i64::try_from(config.max_clock_skew.as_nanos()).unwrap_or(i64::MAX),
            calendar: config.calendar,
        }
    }

    /// Returns how many bars of `step` are missing strictly between bars at `last` and `at`.
    fn missing(&self, last: i64, at: Timestamp, step: i64) -> u64 {
        if at.0 - last <= step {
            return 0; // the common case: the next bar
        }
        match self.calendar {
            Some((calendar, zone)) => calendar.missing_bars(zone, Timestamp(last), at, step),
            None if at.0 - last > gap_allowance(step) => {
                u64::try_from((at.0 - last) / step - 1).unwrap_or(0)
            }
            None => 0,
        }
    }

    /// Continues a session: its journaled bars are skipped and gaps measured from them.
    fn continuing(mut self, continuity: Continuity) -> Self {
        for (i, last) in continuity
            .last_bars
            .into_iter()
            .enumerate()
            .take(self.last_bar.len())
        {
            self.journaled[i] = last.map(|t| t.0);
            self.last_bar[i] = last.map(|t| t.0);
        }
        self.backfill = continuity.backfill;
        self
    }

    /// A new connection numbers its messages afresh.
    fn reset_connection(&mut self) {
        self.sequence = None;
    }

    fn index(&self, symbol: &str) -> Option<usize> {
        self.instruments
            .iter()
            .position(|n| n.as_str().eq_ignore_ascii_case(symbol))
    }

    /// Turns decoded events into items: market events to use, and notices.
    fn accept(
        &mut self,
        sequence: Option<u64>,
        events: &[FeedEvent<'_>],
        received: Instant,
        items: &mut Vec<FeedItem>,
    ) {
        if let Some(seq) = sequence {
            if let Some(last) = self.sequence
                && seq > last + 1
            {
                items.push(FeedItem::Notice(Notice::Gap {
                    instrument: "*".into(),
                    detail: format!("sequence jumped from {last} to {seq}"),
                }));
            }
            self.sequence = Some(seq.max(self.sequence.unwrap_or(0)));
        }
        let recv = Timestamp(now_ns());
        for event in events {
            let symbol = match event {
                FeedEvent::Trade { symbol, .. }
                | FeedEvent::Bar { symbol, .. }
                | FeedEvent::Quote { symbol, .. } => *symbol,
                FeedEvent::Heartbeat { .. } => continue,
            };
            let Some(i) = self.index(symbol) else {
                items.push(FeedItem::Notice(Notice::Malformed {
                    raw: format!("{event:?}"),
                    error: format!("instrument {symbol:?} is not subscribed"),
                }));
                continue;
            };
            // Named only in notices: events themselves carry the index.
            let name = |state: &Self| state.instruments[i].to_string();
            let kind = match *event {
                FeedEvent::Trade { trade, .. } => MarketKind::Trade(trade),
                FeedEvent::Quote { quote, .. } => MarketKind::Quote(quote),
                FeedEvent::Bar { bar, .. } => MarketKind::Bar(bar),
                FeedEvent::Heartbeat { .. } => continue,
            };
            let stamped = match *event {
                FeedEvent::Trade { ts, .. } => ts,
                FeedEvent::Quote { ts, .. } => ts.unwrap_or(recv),
                FeedEvent::Bar { bar, .. } => bar.ts,
                FeedEvent::Heartbeat { .. } => recv,
            };
            if let Some(detail) = self.rejection(&kind, stamped, recv) {
                items.push(FeedItem::Notice(Notice::Rejected {
                    instrument: name(self),
                    detail,
                }));
                continue;
            }
            let make = |ts: Timestamp, kind| MarketEvent {
                ts_event: ts,
                ts_recv: recv,
                instrument: InstrumentIdx(i as u32),
                kind,
            };
            match *event {
                FeedEvent::Trade { ts, trade, id, .. } => {
                    if let (Some(id), Some(last)) = (id, self.last_trade_id[i]) {
                        if id <= last {
                            items.push(FeedItem::Notice(Notice::Duplicate {
                                instrument: name(self),
                                detail: format!("trade {id} after trade {last}"),
                            }));
                            continue;
                        }
                        if id > last + 1 {
                            items.push(FeedItem::Notice(Notice::Gap {
                                instrument: name(self),
                                detail: format!("{} trades missing after {last}", id - last - 1),
                            }));
                        }
                    }
                    if id.is_some() {
                        self.last_trade_id[i] = id;
                    }
                    items.push(FeedItem::Event(
                        make(ts, MarketKind::Trade(trade)),
                        received,
                    ));
                }
                FeedEvent::Quote { ts, quote, .. } => {
                    items.push(FeedItem::Event(
                        make(ts.unwrap_or(recv), MarketKind::Quote(quote)),
                        received,
                    ));
                }
                FeedEvent::Bar { bar, closed, .. } => {
                    let bar = if closed {
                        Some(bar)
                    } else if sequence.is_some() {
                        // Coinbase candles have no final flag: one is final once the next starts.
                        let done = self.forming[i].filter(|f| bar.ts > f.ts);
                        self.forming[i] = Some(bar);
                        done
                    } else {
                        None // a Binance kline still forming
                    };
                    let Some(bar) = bar else { continue };
                    // A feed that replays history after a restart: these bars were used.
                    if self.journaled[i].is_some_and(|j| bar.ts.0 <= j) {
                        self.already_journaled += 1;
                        continue;
                    }
                    if let Some(last) = self.last_bar[i] {
                        if bar.ts.0 <= last {
                            items.push(FeedItem::Notice(Notice::Duplicate {
                                instrument: name(self),
                                detail: format!(
                                    "bar at {} after the bar at {}",
                                    bar.ts,
                                    Timestamp(last)
                                ),
                            }));
                            continue;
                        }
                        if let Some((step, _)) = self.intervals[i]
                            && self.missing(last, bar.ts, step) > 0
                        {
                            self.fill_gaps(bar.ts, recv, received, items);
                        }
                    }
                    self.last_bar[i] = Some(bar.ts.0);
                    items.push(FeedItem::Event(
                        make(bar.ts, MarketKind::Bar(bar)),
                        received,
                    ));
                }
                FeedEvent::Heartbeat { .. } => {}
            }
        }
    }
}

impl State {
    /// Returns why an event must not be traded: values the file readers would refuse, or a time
    /// far ahead of the clock, which would make every later event late (and, journaled, every
    /// restart too).
    fn rejection(&self, kind: &MarketKind, stamped: Timestamp, recv: Timestamp) -> Option<String> {
        if let Some((field, problem)) = market_data::event_problem(kind) {
            return Some(format!("{field}: {problem}"));
        }
        (stamped.0.saturating_sub(recv.0) > self.max_skew_ns).then(|| {
            format!(
                "stamped {stamped}, more than the allowed {} s ahead of the clock ({recv})",
                self.max_skew_ns / 1_000_000_000
            )
        })
    }

    /// A bar at `at` revealed a gap: reports every instrument whose bars stop more than an
    /// interval before `at` (not only the one that revealed it, so backfilled bars of all of
    /// them reach the engine in time order), backfills them, and pushes the bars that pass the
    /// live checks, oldest first. Fetching blocks the feed's thread; the socket buffers the live
    /// messages meanwhile, and the source's timeouts bound the wait.
    fn fill_gaps(
        &mut self,
        at: Timestamp,
        recv: Timestamp,
        received: Instant,
        items: &mut Vec<FeedItem>,
    ) {
        let mut gaps = Vec::new();
        let mut fetched: Vec<(Timestamp, usize, market_data::Bar)> = Vec::new();
        for j in 0..self.instruments.len() {
            let (Some(last), Some((step, interval))) = (self.last_bar[j], &self.intervals[j])
            else {
                continue;
            };
            let missing = self.missing(last, at, *step);
            if missing == 0 {
                continue;
            }
            let request = GapRequest {
                instrument: self.instruments[j].as_str(),
                interval,
                step: *step,
                after: Timestamp(last),
                before: at,
            };
            let backfill = match self.backfill.as_deref_mut() {
                None => Backfilled::Off,
                Some(source) => match crate::backfill::fetch(source, &request) {
                    Ok(bars) => {
                        fetched.extend(bars.iter().map(|b| (b.ts, j, *b)));
                        Backfilled::Filled {
                            source: source.describe(),
                            bars: bars.len(),
                            rejected: 0,
                        }
                    }
                    Err(error) => Backfilled::Failed {
                        source: source.describe(),
                        error,
                    },
                },
            };
            gaps.push(BarGap {
                instrument: self.instruments[j].to_string(),
                after: Timestamp(last),
                before: at,
                missing,
                backfill,
            });
        }
        fetched.sort_by_key(|&(ts, j, _)| (ts, j));
        let mut events = Vec::with_capacity(fetched.len());
        for (ts, j, bar) in fetched {
            let kind = MarketKind::Bar(bar);
            if let Some(detail) = self.rejection(&kind, ts, recv) {
                if let Some(Backfilled::Filled { bars, rejected, .. }) = gaps
                    .iter_mut()
                    .find(|g| g.instrument == self.instruments[j].as_str())
                    .map(|g| &mut g.backfill)
                {
                    *bars -= 1;
                    *rejected += 1;
                }
                events.push(FeedItem::Notice(Notice::Rejected {
                    instrument: self.instruments[j].to_string(),
                    detail: format!("backfilled bar: {detail}"),
                }));
                continue;
            }
            self.last_bar[j] = Some(ts.0);
            let event = MarketEvent {
                ts_event: ts,
                ts_recv: recv,
                instrument: InstrumentIdx(j as u32),
                kind,
            };
            events.push(FeedItem::Event(event, received));
        }
        items.extend(
            gaps.into_iter()
                .map(|g| FeedItem::Notice(Notice::MissingBars(g))),
        );
        items.extend(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A final kline of BNBBTC with these open, close, high and low.
    fn kline(o: &str, c: &str, h: &str, l: &str) -> String {
        format!(
            r#"{{"stream":"bnbbtc@kline_1m","data":{{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"{o}","c":"{c}","h":"{h}","l":"{l}","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}}}}"#
        )
    }

    /// A feed of BNBBTC one-minute klines, never connected.
    fn config(calendar: Option<(Calendar, Zone)>) -> FeedConfig {
        FeedConfig {
            format: Format::Binance,
            url: "ws://127.0.0.1:1".into(),
            streams: vec!["bnbbtc@kline_1m".into()],
            stale_after: Duration::from_secs(30),
            max_clock_skew: Duration::from_secs(60),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(1),
            capacity: 16,
            calendar,
        }
    }

    fn accept(text: &str) -> Vec<FeedItem> {
        let mut state = State::new(&config(None), vec![InstrumentId::new("BNBBTC")]);
        let mut events = Vec::new();
        binance::decode(text, &mut events).unwrap();
        let mut items = Vec::new();
        state.accept(None, &events, Instant::now(), &mut items);
        items
    }

    const MINUTE: i64 = 60_000_000_000;
    /// The open time of `kline`'s bar.
    const OPEN: i64 = 1_672_515_780_000_000_000;

    /// A final kline of BNBBTC opening `k` minutes after [`OPEN`].
    fn kline_at(k: i64) -> String {
        let ms = OPEN / 1_000_000 + k * 60_000;
        kline("0.0015", "0.0020", "0.0025", "0.0010")
            .replace("1672515780000", &ms.to_string())
            .replace("1672515839999", &(ms + 59_999).to_string())
    }

    /// A source that answers every gap with `bars`, or fails.
    struct Canned(Result<Vec<market_data::Bar>, String>);

    impl BarSource for Canned {
        fn describe(&self) -> String {
            "canned".into()
        }
        fn bars(&mut self, _: &GapRequest<'_>) -> Result<Vec<market_data::Bar>, String> {
            self.0.clone()
        }
    }

    /// A state continuing a session whose journal ends with the bar at minute 0.
    fn resumed(backfill: Option<Box<dyn BarSource>>) -> State {
        resumed_in(backfill, None)
    }

    /// As [`resumed`], with a calendar.
    fn resumed_in(
        backfill: Option<Box<dyn BarSource>>,
        calendar: Option<(Calendar, Zone)>,
    ) -> State {
        State::new(&config(calendar), vec![InstrumentId::new("BNBBTC")]).continuing(Continuity {
            last_bars: vec![Some(Timestamp(OPEN))],
            backfill,
        })
    }

    fn feed(state: &mut State, text: &str) -> Vec<FeedItem> {
        let mut events = Vec::new();
        binance::decode(text, &mut events).unwrap();
        let mut items = Vec::new();
        state.accept(None, &events, Instant::now(), &mut items);
        items
    }

    fn bar_times(items: &[FeedItem]) -> Vec<i64> {
        items
            .iter()
            .filter_map(|i| match i {
                FeedItem::Event(e, _) => Some((e.ts_event.0 - OPEN) / MINUTE),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn after_a_restart_the_first_bar_past_a_downtime_reveals_the_gap_from_the_journal() {
        let mut state = resumed(None);
        // A feed replaying history: bars the journal holds are skipped without a notice.
        assert!(feed(&mut state, &kline_at(0)).is_empty());
        assert_eq!(state.already_journaled, 1);
        let items = feed(&mut state, &kline_at(24));
        match &items[..] {
            [
                FeedItem::Notice(Notice::MissingBars(gap)),
                FeedItem::Event(..),
            ] => {
                assert_eq!(gap.instrument, "BNBBTC");
                assert_eq!((gap.after.0, gap.before.0), (OPEN, OPEN + 24 * MINUTE));
                assert_eq!(gap.missing, 23);
                assert_eq!(gap.backfill, Backfilled::Off);
            }
            other => panic!("{other:?}"),
        }
        // The next bar follows on: no gap.
        assert_eq!(bar_times(&feed(&mut state, &kline_at(25))), [25]);
    }

    #[test]
    fn bars_the_calendar_does_not_expect_are_not_missing() {
        // Minute 0 is Saturday 2022-12-31 19:43 UTC: a US equity market is closed all weekend.
        let us = Some((Calendar::UsEquity, Calendar::UsEquity.zone()));
        let mut state = resumed_in(None, us);
        assert_eq!(bar_times(&feed(&mut state, &kline_at(24))), [24]);
        // Monday 2023-01-02 was a holiday: Tuesday's 09:30 bar (14:30 UTC, minute 4007) follows
        // on, and two minutes skipped after it are missing.
        assert_eq!(bar_times(&feed(&mut state, &kline_at(4007))), [4007]);
        match &feed(&mut state, &kline_at(4010))[0] {
            FeedItem::Notice(Notice::MissingBars(gap)) => assert_eq!(gap.missing, 2),
            other => panic!("{other:?}"),
        }
        // Open every day, the same 23 minutes are missing.
        let mut state = resumed_in(None, Some((Calendar::AlwaysOpen, Zone::UTC)));
        match &feed(&mut state, &kline_at(24))[0] {
            FeedItem::Notice(Notice::MissingBars(gap)) => assert_eq!(gap.missing, 23),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_backfill_goes_through_the_live_checks_before_the_bar_that_revealed_the_gap() {
        let mut bars: Vec<market_data::Bar> = (1..24)
            .map(|k| market_data::Bar {
                ts: Timestamp(OPEN + k * MINUTE),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 3.0,
            })
            .collect();
        bars[4].high = 0.1; // below the low: rejected like a live bar would be
        let mut state = resumed(Some(Box::new(Canned(Ok(bars)))));
        let items = feed(&mut state, &kline_at(24));
        match &items[0] {
            FeedItem::Notice(Notice::MissingBars(gap)) => assert_eq!(
                gap.backfill,
                Backfilled::Filled {
                    source: "canned".into(),
                    bars: 22,
                    rejected: 1
                }
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            items.iter().any(|i| matches!(i,
                FeedItem::Notice(Notice::Rejected { detail, .. }) if detail.starts_with("backfilled bar: high"))),
            "{items:?}"
        );
        let expected: Vec<i64> = (1..25).filter(|&k| k != 5).collect();
        assert_eq!(bar_times(&items), expected);
    }

    #[test]
    fn a_failed_backfill_reports_the_gap_and_the_feed_goes_on() {
        let mut state = resumed(Some(Box::new(Canned(Err("HTTP 500".into())))));
        let items = feed(&mut state, &kline_at(24));
        match &items[..] {
            [
                FeedItem::Notice(Notice::MissingBars(gap)),
                FeedItem::Event(..),
            ] => {
                assert_eq!(
                    gap.backfill,
                    Backfilled::Failed {
                        source: "canned".into(),
                        error: "HTTP 500".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // A source returning bars outside the gap fails the same way, and uses none of them.
        let outside = vec![market_data::Bar {
            ts: Timestamp(OPEN + 30 * MINUTE),
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
        }];
        let mut state = resumed(Some(Box::new(Canned(Ok(outside)))));
        let items = feed(&mut state, &kline_at(24));
        assert_eq!(bar_times(&items), [24]);
        assert!(
            matches!(&items[0], FeedItem::Notice(Notice::MissingBars(g))
                if matches!(&g.backfill, Backfilled::Failed { error, .. } if error.contains("outside"))),
            "{items:?}"
        );
    }

    #[test]
    fn an_event_stamped_far_ahead_of_the_clock_is_rejected() {
        // A kline opening on 2100-01-01: once it moved the session's clock, every later bar was
        // late, and the journal carried it into every restart.
        let text = kline("0.0015", "0.0020", "0.0025", "0.0010")
            .replace("1672515780000", "4102444800000")
            .replace("1672515839999", "4102444859999");
        match &accept(&text)[..] {
            [FeedItem::Notice(Notice::Rejected { detail, .. })] => {
                assert!(
                    detail.contains("2100-01-01") && detail.contains("ahead of the clock"),
                    "{detail}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_impossible_bar_from_the_feed_is_rejected_never_traded() {
        let good = accept(&kline("0.0015", "0.0020", "0.0025", "0.0010"));
        assert!(matches!(good[..], [FeedItem::Event(..)]), "{good:?}");
        for (o, c, h, l, field) in [
            ("0", "-5", "0.0025", "0.0015", "open"),
            ("0.0015", "0.0020", "0.0005", "0.0010", "high"),
            ("0.0015", "0.0020", "0.0025", "-0.0010", "low"),
        ] {
            let items = accept(&kline(o, c, h, l));
            match &items[..] {
                [FeedItem::Notice(Notice::Rejected { instrument, detail })] => {
                    assert_eq!(instrument, "BNBBTC");
                    assert!(detail.starts_with(field), "{detail}");
                }
                other => panic!("{o} {c} {h} {l}: {other:?}"),
            }
        }
    }
}
