//! `quant paper CONFIG`: the config's strategy on a live websocket feed, with simulated fills at
//! live prices, a journal that survives a crash, a status line, and results written like a
//! backtest's when it stops (Ctrl-C, `--duration`, or the feed ending).

use crate::backfill::GapLog;
use crate::config::{FeedFormat, LiveConfig, LiveMode, LoadedConfig};
use crate::session_log::{Results as SessionResults, Status, StatusLine};
use anyhow::{Context, Result, bail};
use engine::BacktestOutcome;
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
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many market events (counting those replayed from the journal).
    #[arg(long)]
    pub(crate) events: Option<usize>,
    #[command(flatten)]
    pub(crate) out: crate::run_dir::OutArgs,
    #[command(flatten)]
    pub(crate) set: crate::overrides::SetArgs,
}

/// A session's length from seconds: finite, not negative and within `Duration`'s range.
///
/// # Errors
/// What was expected, and the value found.
pub fn session_duration(seconds: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("expected seconds >= 0 and < 1.8e19, found {seconds:e}"))
}

/// `--duration`'s value: [`session_duration`] of the number given.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let refused = || format!("expected seconds >= 0 and < 1.8e19, found {text:?}");
    let seconds = text.parse().map_err(|_| refused())?;
    session_duration(seconds).map_err(|_| refused())
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

/// The message format of a `[live]` table's feed.
pub(crate) fn feed_format(live: &LiveConfig) -> Format {
    match live.format {
        FeedFormat::Binance => Format::Binance,
        FeedFormat::Coinbase => Format::Coinbase,
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
    check(&loaded)?;
    session(&loaded, args)
}

/// Refuses what a paper session must not run: a benchmark file that cannot be read (now, not
/// when the results are written), and `[live] mode = "live"`.
///
/// # Errors
/// Names the config and what to change.
pub(crate) fn check(loaded: &LoadedConfig) -> Result<()> {
    crate::benchmark::external(loaded, None)?;
    if loaded
        .config
        .live
        .as_ref()
        .is_some_and(|l| l.mode == LiveMode::Live)
    {
        bail!(
            "{}: [live] mode = \"live\" routes real orders, which `quant paper` never does; set \
             mode = \"paper\"",
            loaded.path.display()
        );
    }
    Ok(())
}

/// Runs a session with simulated fills on the config's live feed: `quant paper`, and the dry run
/// of `quant live` (which sends nothing, and so tries the whole strategy path on the venue's
/// prices).
pub(crate) fn session(loaded: &LoadedConfig, args: &PaperArgs) -> Result<()> {
    let plan = SessionPlan {
        duration: args.duration,
        events: args.events,
        out: Some(args.out.clone()),
        redraw_status: true,
    };
    let ended = run_session(loaded, None, &plan, &mut crate::stop::is_requested)?;
    if let Some(line) = &ended.latencies {
        println!("  {line}");
    }
    println!("  {}", ended.feed);
    if let Some(line) = ended.gaps.closing() {
        tracing::warn!("{line}");
    }
    Ok(())
}

/// How a paper session stops, and where its results go.
#[derive(Debug, Clone, Default)]
pub struct SessionPlan {
    /// Stop after this long (default: until asked to stop, or the feed ends).
    pub duration: Option<Duration>,
    /// Stop after this many market events (counting those replayed from the journal).
    pub events: Option<usize>,
    /// Where results are written, and rewritten every `[live] refresh_results_s`; `None` keeps
    /// them in memory only (the journal is written either way).
    pub out: Option<crate::run_dir::OutArgs>,
    /// Whether the status line is redrawn in place when stderr is a terminal (else it is logged).
    pub redraw_status: bool,
}

impl SessionPlan {
    /// Returns the plan writing results into exactly `dir` (refused when it holds a run's
    /// results, unless `force`), as `--out DIR [--force]` does.
    #[must_use]
    pub fn writing_into(mut self, dir: PathBuf, force: bool) -> Self {
        self.out = Some(crate::run_dir::OutArgs {
            out: Some(dir),
            force,
        });
        self
    }
}

/// Why a session stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// The caller asked (a signal, Ctrl-C).
    Requested,
    /// `duration` passed.
    Duration,
    /// `events` market events were used.
    Events,
    /// The feed ended.
    FeedEnded,
    /// The strategy, the engine or the journal failed: the message.
    Failed(String),
}

/// A finished session.
#[derive(Debug)]
pub(crate) struct Ended {
    /// What the session recorded (the journal's replay included).
    pub(crate) outcome: BacktestOutcome,
    /// The feed's gaps, for the results.
    pub(crate) gaps: GapLog,
    /// Why it stopped.
    pub(crate) stopped: Stopped,
    /// Tick-to-order latencies, when an order was placed.
    pub(crate) latencies: Option<String>,
    /// The feed's counters and the journal, in one line.
    pub(crate) feed: String,
}

/// The one paper session loop, for the command line and for host programs
/// ([`crate::embedded::paper`]): `strategy` in place
/// of the config's (`None`: the config's own), fed by the config's `[live]` feed, journaled,
/// until `plan`'s limits, the feed's end, a failure, or `stop()` returning true (polled between
/// events and at least every 100 ms while the feed is quiet).
///
/// # Errors
/// No `[live]` table, the strategy cannot be built, the journal cannot be opened or replayed,
/// or the results cannot be written. A failure while trading stops the session and is returned
/// in [`Ended::stopped`], with the results written.
pub(crate) fn run_session(
    loaded: &LoadedConfig,
    strategy: Option<strategies::BuiltStrategy>,
    plan: &SessionPlan,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Ended> {
    let c = &loaded.config;
    let Some(live) = &c.live else {
        bail!(
            "{}: no [live] table: paper trading needs mode, format, url, streams and journal",
            loaded.path.display()
        );
    };
    let format = feed_format(live);
    let instruments = instruments_of(format, &live.streams);
    let built = match strategy {
        Some(built) => built,
        None => loaded.build_strategy()?,
    };
    let (strategy, features) = built.into_parts(&instruments)?;
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
    let mut results = match &plan.out {
        Some(out) => Some(SessionResults::new(
            out.for_session(resumed.events > 0)?,
            loaded,
            live,
        )),
        None => None,
    };
    let feed = Feed::start_with(
        feed_config(loaded, live, format),
        continuity(loaded, live, session.last_bars()),
    );
    let mut gaps = GapLog::default();
    let spin = Duration::from_micros(live.spin_us);
    let started = Instant::now();
    let mut status = StatusLine::new(live, plan.redraw_status);
    let (mut latencies, mut used, mut refused) = (Latencies::default(), resumed.events, 0usize);
    let mut connected = false;
    let mut last_event = Instant::now();
    let stopped = loop {
        if stop() {
            break Stopped::Requested;
        }
        if plan.duration.is_some_and(|d| started.elapsed() >= d) {
            break Stopped::Duration;
        }
        if plan.events.is_some_and(|n| used >= n) {
            break Stopped::Events;
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
                        break Stopped::Failed(error.to_string());
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
                break Stopped::FeedEnded;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Err(error) = session.idle() {
                    tracing::error!("{error}; stopping and writing results");
                    break Stopped::Failed(error.to_string());
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
        if let Some(results) = &mut results
            && results.due()
        {
            results.refresh(loaded, || session.engine().snapshot(), &gaps);
        }
    };
    status.close();
    let counters = feed.counters.clone();
    drop(feed);
    let outcome = session.finish()?;
    if let Some(results) = results {
        results.finish(loaded, &outcome, &gaps)?;
    }
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let feed = format!(
        "feed: {} messages, {used} events used, {refused} late events skipped, {} bars already \
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
    Ok(Ended {
        outcome,
        gaps,
        stopped,
        latencies: latencies.report(),
        feed,
    })
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
