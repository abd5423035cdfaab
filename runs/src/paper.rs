//! `quant paper CONFIG`: the config's strategy on a live websocket feed, with simulated fills at
//! live prices, a journal that survives a crash, a status line, and results written like a
//! backtest's when it stops (Ctrl-C, `--duration`, or the feed ending).

use crate::backfill::GapLog;
use crate::config::{FeedFormat, LiveConfig, LiveMode, LoadedConfig};
use crate::session_log::{Results as SessionResults, Status, StatusLine};
use anyhow::{Context, Result, bail};
use live::feed::{Continuity, Feed, FeedConfig, FeedItem, Format, Notice, instruments_of};
use live::session::{Resumed, Session, SessionError};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Options of `quant paper`.
#[derive(Debug, clap::Args)]
pub struct PaperArgs {
    /// The config: the backtest's, plus a `[live]` table.
    pub(crate) config: PathBuf,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub(crate) duration: Option<f64>,
    /// Stop after this many market events (counting those replayed from the journal).
    #[arg(long)]
    pub(crate) events: Option<usize>,
    #[command(flatten)]
    pub(crate) out: crate::run_dir::OutArgs,
    #[command(flatten)]
    pub(crate) set: crate::overrides::SetArgs,
}

/// Tick-to-order latencies: from a message's arrival to the order it caused reaching the broker.
#[derive(Debug, Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn report(&mut self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q).round() as usize];
        Some(format!(
            "tick-to-order over {} orders: p50 {:?}, p99 {:?}, max {:?}",
            self.0.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        ))
    }
}

/// The market data feed a `[live]` table describes, shared by paper and live sessions.
pub(crate) fn feed_config(loaded: &LoadedConfig, live: &LiveConfig, format: Format) -> FeedConfig {
    let data = &loaded.config.data;
    FeedConfig {
        calendar: data.calendar.map(|calendar| (calendar, data.zone())),
        format,
        url: live.url.clone(),
        streams: live.streams.clone(),
        stale_after: Duration::from_secs_f64(live.stale_after_s),
        max_clock_skew: Duration::from_secs_f64(live.max_clock_skew_s),
        reconnect_initial: Duration::from_millis(live.reconnect.initial_ms),
        reconnect_max: Duration::from_millis(live.reconnect.max_ms),
        capacity: live.channel_capacity,
    }
}

/// Where the feed continues a session: from the journal's last bar of each instrument (so bars
/// lost while the session was down are reported as a gap), filling gaps from `[live] backfill`.
pub(crate) fn continuity(
    loaded: &LoadedConfig,
    live: &LiveConfig,
    last_bars: &[Option<market_data::Timestamp>],
) -> Continuity {
    Continuity {
        last_bars: last_bars.to_vec(),
        backfill: live.backfill.source(loaded),
    }
}

/// Tells what a session replayed from its journal on start, if anything.
pub(crate) fn print_resumed(journal: &std::path::Path, resumed: &Resumed) {
    if resumed.events == 0 {
        return;
    }
    let torn = if resumed.torn_bytes > 0 {
        format!(
            " ({} bytes of a torn last line dropped)",
            resumed.torn_bytes
        )
    } else {
        String::new()
    };
    tracing::info!(
        journal = %journal.display(),
        events = resumed.events,
        orders = resumed.orders,
        fills = resumed.fills,
        "resumed from {}: {} events, {} orders, {} fills replayed{torn}",
        journal.display(),
        resumed.events,
        resumed.orders,
        resumed.fills,
    );
}

/// Runs a paper session.
pub fn run(args: &PaperArgs) -> Result<()> {
    let loaded = args.set.load(&args.config)?;
    // A benchmark file that cannot be read is refused now, not when the results are written.
    crate::benchmark::external(&loaded, None)?;
    if loaded
        .config
        .live
        .as_ref()
        .is_some_and(|l| l.mode == LiveMode::Live)
    {
        bail!(
            "{}: [live] mode = \"live\" routes real orders, which `quant paper` never does; set \
             mode = \"paper\"",
            args.config.display()
        );
    }
    session(&loaded, args)
}

/// Runs a session with simulated fills on the config's live feed: `quant paper`, and the dry run
/// of `quant live` (which sends nothing, and so tries the whole strategy path on the venue's
/// prices).
pub(crate) fn session(loaded: &LoadedConfig, args: &PaperArgs) -> Result<()> {
    let c = &loaded.config;
    let Some(live) = &c.live else {
        bail!(
            "{}: no [live] table: paper trading needs mode, format, url, streams and journal",
            args.config.display()
        );
    };
    let format = match live.format {
        FeedFormat::Binance => Format::Binance,
        FeedFormat::Coinbase => Format::Coinbase,
    };
    let instruments = instruments_of(format, &live.streams);
    let (strategy, features) = loaded.build_strategy()?.into_parts(&instruments)?;
    let journal = loaded.resolve(&live.journal);
    let (mut session, resumed) = Session::start(
        &loaded.engine_spec(),
        instruments.clone(),
        strategy,
        features,
        &journal,
        Duration::from_millis(live.sync_ms),
    )
    .with_context(|| {
        format!(
            "cannot start the session journaled in {}",
            journal.display()
        )
    })?;
    print_resumed(&journal, &resumed);
    let mut results = SessionResults::new(args.out.for_session(resumed.events > 0)?, loaded, live);
    let feed = Feed::start_with(
        feed_config(loaded, live, format),
        continuity(loaded, live, session.last_bars()),
    );
    let mut gaps = GapLog::default();
    let spin = Duration::from_micros(live.spin_us);
    let started = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut status = StatusLine::new(live, true);
    let (mut latencies, mut used, mut refused) = (Latencies::default(), resumed.events, 0usize);
    let mut connected = false;
    let mut last_event = Instant::now();
    loop {
        if crate::stop::is_requested()
            || deadline.is_some_and(|d| started.elapsed() >= d)
            || args.events.is_some_and(|n| used >= n)
        {
            break;
        }
        match feed.next(spin, Duration::from_millis(100)) {
            Ok(FeedItem::Event(event, received)) => {
                let orders = session.engine().broker().records().len();
                match session.on_event(&event) {
                    Ok(()) => used += 1,
                    // A late event (a venue's clock, a replayed message) is skipped, not fatal.
                    Err(SessionError::OutOfOrder { .. }) => refused += 1,
                    Err(error) => {
                        tracing::error!("{error}; stopping and writing results");
                        break;
                    }
                }
                let now = session.engine().broker().records();
                if now.len() > orders {
                    latencies.0.push(received.elapsed());
                    // The order as asked; its fills and end are in orders.csv and fills.csv.
                    for order in &now[orders..] {
                        tracing::debug!(
                            order = order.id.0,
                            "order {} submitted: {:?}",
                            order.id.0,
                            order.request
                        );
                    }
                }
                last_event = Instant::now();
            }
            Ok(FeedItem::Notice(notice)) => {
                connected = match &notice {
                    Notice::Connected { .. } => true,
                    Notice::Disconnected { .. } => false,
                    _ => connected,
                };
                gaps.record(&notice);
                crate::session_log::notice(&notice);
            }
            Ok(FeedItem::Stopped) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                break;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Err(error) = session.idle() {
                    tracing::error!("{error}; stopping and writing results");
                    break;
                }
            }
        }
        if status.due() {
            status.show(&Status::of(
                session.engine().portfolio(),
                connected,
                last_event.elapsed(),
                used,
                &gaps,
            ));
        }
        if results.due() {
            results.refresh(loaded, || session.engine().snapshot(), &gaps);
        }
    }
    status.close();
    let counters = feed.counters.clone();
    drop(feed);
    let outcome = session.finish()?;
    results.finish(loaded, &outcome, &gaps)?;
    if let Some(line) = latencies.report() {
        println!("  {line}");
    }
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "  feed: {} messages, {used} events used, {refused} late events skipped, {} bars already \
         journaled skipped, {} gaps ({} bars backfilled, {} gaps not filled), {} duplicates, {} \
         malformed, {} impossible events rejected, {} reconnects, engine behind {} times; \
         journal {}",
        n(&counters.messages),
        n(&counters.already_journaled),
        n(&counters.gaps),
        n(&counters.backfilled),
        n(&counters.unfilled_gaps),
        n(&counters.duplicates),
        n(&counters.malformed),
        n(&counters.rejected),
        n(&counters.reconnects),
        n(&counters.engine_behind),
        journal.display()
    );
    if let Some(line) = gaps.closing() {
        tracing::warn!("{line}");
    }
    Ok(())
}

/// One line for the log; text that came from the feed is escaped and cut.
pub(crate) fn describe(notice: &Notice) -> String {
    let quote = |text: &str| live::printable(text, live::QUOTED_CHARS);
    match notice {
        Notice::Connected { url } => format!("feed: connected to {url}"),
        Notice::Disconnected { reason } => format!("feed: disconnected: {}", quote(reason)),
        Notice::Reconnecting { after } => format!("feed: reconnecting in {after:.1?}"),
        Notice::MissingBars(gap) => format!("feed: {}", crate::backfill::describe(gap)),
        Notice::Gap { instrument, detail } => {
            format!("feed: gap in {}: {}", quote(instrument), quote(detail))
        }
        Notice::Duplicate { instrument, detail } => format!(
            "feed: skipped a repeated or late message of {}: {}",
            quote(instrument),
            quote(detail)
        ),
        Notice::Rejected { instrument, detail } => format!(
            "feed: rejected an impossible event of {} (never traded): {}",
            quote(instrument),
            quote(detail)
        ),
        Notice::Malformed { raw, error } => format!(
            "feed: skipped a malformed message ({}): {}",
            quote(error),
            quote(raw)
        ),
    }
}
