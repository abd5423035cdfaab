//! `quant live CONFIG`: the config's strategy with real orders at a venue. The same session as
//! `quant paper` (journal, replay, results), with the live router in place of the simulated
//! broker, reconciliation with the venue before trading, and the kill switch.
//!
//! It refuses to start unless `[live] mode = "live"` is written and both credential variables
//! are set. Stops on `--duration`/`--events` (orders stay as they are, for a restart), or on
//! SIGINT, SIGTERM or the kill file (every order canceled and every position closed first).

use crate::config::{FeedFormat, LiveMode, ReconcilePolicy};
use anyhow::{Context, Result, bail};
use engine::OrderRouter;
use live::feed::{Feed, FeedItem, Format, instruments_of};
use live::session::{Session, SessionError};
use live::venue::{
    Credentials, LiveRouter, LiveRouterConfig, Policy, Venue, VenueConfig, VenueEvent, VenueUpdate,
    reconcile,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `quant live`.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// The config: the backtest's, plus `[live]` with mode = "live", `[live.venue]` and
    /// `[live.safety]`.
    config: PathBuf,
    /// Stop after this many seconds, leaving orders and positions as they are.
    #[arg(long, value_parser = crate::paper::parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many market events (counting those replayed from the journal).
    #[arg(long)]
    events: Option<usize>,
    #[command(flatten)]
    out: crate::run_dir::OutArgs,
    #[command(flatten)]
    set: crate::overrides::SetArgs,
}

/// Returns the client order id prefix: the one configured, else the config's name reduced to
/// what a client order id may hold.
fn client_prefix(configured: Option<&str>, name: &str) -> String {
    configured.map_or_else(
        || {
            let p: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(16)
                .collect();
            if p.is_empty() { "quant".into() } else { p }
        },
        str::to_owned,
    )
}

/// Runs a live session.
pub fn run(args: &LiveArgs) -> Result<()> {
    let loaded = args.set.load(&args.config)?;
    // A benchmark file that cannot be read is refused now, not when the results are written.
    crate::benchmark::external(&loaded, None)?;
    let c = &loaded.config;
    let path = args.config.display();
    let Some(live) = &c.live else {
        bail!("{path}: no [live] table: live trading needs [live] with mode = \"live\"");
    };
    if live.mode != LiveMode::Live {
        bail!(
            "{path}: `quant live` routes real orders and needs [live] mode = \"live\" written \
             explicitly (found mode = \"paper\"; use `quant paper` for simulated fills)"
        );
    }
    let Some(venue) = &live.venue else {
        bail!(
            "{path}: no [live.venue] table: live trading needs url, api_key_env, \
             api_secret_env and reconcile"
        );
    };
    let Some(safety) = &live.safety else {
        bail!("{path}: no [live.safety] table: live trading needs at least max_order_notional");
    };
    if c.broker.close_at_end {
        bail!(
            "{path}: `broker.close_at_end`: a live session does not close positions when it \
             stops; use the kill switch (SIGINT, SIGTERM or live.safety.kill_file)"
        );
    }
    if live.format != FeedFormat::Binance {
        bail!(
            "{path}: `live.format`: live trading speaks to Binance-style venues, set \"binance\""
        );
    }
    if safety.dry_run {
        // Nothing goes to the venue: the strategy trades the venue's feed with simulated fills,
        // so its entries, exits and stops are all tried (an order refused instead would leave
        // it flat for ever).
        tracing::info!(
            "dry run: simulated fills on the venue's feed, as `quant paper`; no order is sent"
        );
        return crate::paper::session(
            &loaded,
            &crate::paper::PaperArgs {
                config: args.config.clone(),
                duration: args.duration,
                events: args.events,
                out: args.out.clone(),
                set: args.set.clone(),
            },
        );
    }
    let credentials = Credentials::from_env(&venue.api_key_env, &venue.api_secret_env)
        .with_context(|| format!("{path}: [live.venue] names the credential variables"))?;
    let instruments = instruments_of(Format::Binance, &live.streams);
    let (strategy, features) = loaded.build_strategy()?.into_parts(&instruments)?;
    let spec = loaded.engine_spec();
    let router = LiveRouter::new(
        &spec,
        LiveRouterConfig {
            prefix: client_prefix(venue.client_prefix.as_deref(), &c.name),
            symbols: instruments.iter().map(|i| i.as_str().to_owned()).collect(),
            quote_asset: venue.quote_asset.clone(),
            dry_run: safety.dry_run,
            max_orders_per_minute: safety.max_orders_per_minute,
            max_order_notional: safety.max_order_notional,
        },
    );
    let journal = loaded.resolve(&live.journal);
    let (mut session, resumed) = Session::start_with_router(
        &spec,
        instruments.clone(),
        strategy,
        router,
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
    let mut results =
        crate::session_log::Results::new(args.out.for_session(resumed.events > 0)?, &loaded, live);
    crate::paper::print_resumed(&journal, &resumed);
    let connection = Venue::start(
        VenueConfig {
            url: venue.url.clone(),
            recv_window_ms: venue.recv_window_ms,
            ack_timeout: Duration::from_millis(venue.ack_timeout_ms),
            max_attempts: venue.max_attempts,
            burst: venue.rate.burst,
            requests_per_second: venue.rate.per_second,
            stale_after: Duration::from_secs_f64(live.stale_after_s),
            reconnect_initial: Duration::from_millis(live.reconnect.initial_ms),
            reconnect_max: Duration::from_millis(live.reconnect.max_ms),
        },
        credentials,
    );
    session.router_mut().connect(connection.commands());
    let policy = match venue.reconcile {
        ReconcilePolicy::Adopt => Policy::Adopt,
        ReconcilePolicy::Flatten => Policy::Flatten,
    };
    let feed = Feed::start_with(
        crate::paper::feed_config(&loaded, live, Format::Binance),
        crate::paper::continuity(&loaded, live, session.last_bars()),
    );
    let mut gaps = crate::backfill::GapLog::default();
    let kill_file = safety.kill_file.as_ref().map(|f| loaded.resolve(f));
    let started = Instant::now();
    let deadline = args.duration;
    let mut used = resumed.events;
    // Trading waits for a reconciliation after every (re)connection.
    let mut reconciled = false;
    let mut killed: Option<Instant> = None;
    let mut last_kill = Instant::now();
    let kill_wait = Duration::from_secs_f64(safety.kill_wait_s);
    let mut failure: Option<SessionError> = None;
    // Live logs its status (no line redrawn: venue and reconcile news come at any time).
    let mut status = crate::session_log::StatusLine::new(live, false);
    let (mut connected, mut last_event) = (false, Instant::now());
    'run: loop {
        // Venue news first: it is booked before the next market event is seen.
        while let Ok(event) = connection.events().try_recv() {
            let outcome = match event {
                VenueEvent::Connected => {
                    tracing::info!(url = %venue.url, "venue: connected to {}; reconciling", venue.url);
                    reconciled = false;
                    session.router_mut().request_snapshot();
                    Ok(())
                }
                VenueEvent::Disconnected(reason) => {
                    tracing::warn!("venue: disconnected: {reason}");
                    reconciled = false;
                    Ok(())
                }
                // A NEW report only acknowledges what the router already reported accepted.
                VenueEvent::Execution(execution) if execution.exec_type == "NEW" => Ok(()),
                VenueEvent::Execution(execution) => {
                    match session.engine().broker().update_of(&execution) {
                        Ok(update) => session.on_update(&update),
                        Err(note) => {
                            tracing::warn!("venue: {note}");
                            Ok(())
                        }
                    }
                }
                VenueEvent::Rejected {
                    client_id,
                    code,
                    message,
                } => match session.engine().broker().order_of(&client_id) {
                    Some(order) => {
                        tracing::warn!(
                            code,
                            "venue: rejected {}: {} ({code})",
                            live::printable(&client_id, live::QUOTED_CHARS),
                            live::printable(&message, live::QUOTED_CHARS)
                        );
                        let ts = session.engine().now();
                        session.on_update(&VenueUpdate::Rejected {
                            order,
                            ts,
                            code,
                            message,
                        })
                    }
                    None => {
                        tracing::warn!(
                            "venue: rejected {} (not this session's): {}",
                            live::printable(&client_id, live::QUOTED_CHARS),
                            live::printable(&message, live::QUOTED_CHARS)
                        );
                        Ok(())
                    }
                },
                VenueEvent::Snapshot(snapshot) => {
                    let engine = session.engine();
                    let found = reconcile(
                        engine.broker(),
                        engine.portfolio(),
                        &snapshot,
                        policy,
                        engine.now(),
                    );
                    for line in &found.differences {
                        tracing::warn!("reconcile: {line}");
                    }
                    let mut outcome = Ok(());
                    for update in &found.updates {
                        outcome = outcome.and_then(|()| session.on_update(update));
                    }
                    for command in found.commands {
                        session.router_mut().send(command);
                    }
                    tracing::info!(
                        differences = found.differences.len(),
                        "reconciled: {} differences; trading",
                        found.differences.len()
                    );
                    reconciled = true;
                    outcome
                }
                VenueEvent::Notice(line) => {
                    tracing::info!("{line}");
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                failure = Some(e);
                break 'run;
            }
        }
        // The router's word on orders: sent, acknowledged, throttled, refused by a limit.
        for line in session.router_mut().take_notices() {
            tracing::info!("{line}");
        }
        let kill = crate::stop::is_requested() || kill_file.as_ref().is_some_and(|f| f.exists());
        if kill && killed.is_none() {
            tracing::warn!("kill switch: canceling every order and closing every position");
            killed = Some(Instant::now());
            last_kill = Instant::now();
            if let Err(e) = session.kill() {
                failure = Some(e);
                break;
            }
        }
        if let Some(at) = killed {
            let open = session.engine().broker().working().iter().flatten().count();
            let held = session
                .engine()
                .portfolio()
                .positions()
                .iter()
                .any(|p| p.qty != 0.0);
            if !held && open == 0 {
                break;
            }
            if at.elapsed() >= kill_wait {
                tracing::error!(
                    "kill switch: {open} orders still open or positions held after \
                     {kill_wait:?}; check the venue"
                );
                break;
            }
            // A fill that was on its way when the switch fired leaves a position: close it too.
            if open == 0 && last_kill.elapsed() >= Duration::from_millis(200) {
                last_kill = Instant::now();
                if let Err(e) = session.kill() {
                    failure = Some(e);
                    break;
                }
            }
        } else if deadline.is_some_and(|d| started.elapsed() >= d)
            || args.events.is_some_and(|n| used >= n)
        {
            break;
        }
        if status.due() {
            status.show(&crate::session_log::Status::of(
                session.engine().portfolio(),
                connected && reconciled,
                last_event.elapsed(),
                used,
                &gaps,
            ));
        }
        if results.due() {
            results.refresh(&loaded, || session.engine().snapshot(), &gaps);
        }
        if !reconciled || killed.is_some() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match feed.next(Duration::ZERO, Duration::from_millis(5)) {
            Ok(FeedItem::Event(event, _)) => match session.on_event(&event) {
                Ok(()) => {
                    used += 1;
                    last_event = Instant::now();
                }
                Err(SessionError::OutOfOrder { .. }) => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            },
            Ok(FeedItem::Notice(notice)) => {
                connected = match &notice {
                    live::feed::Notice::Connected { .. } => true,
                    live::feed::Notice::Disconnected { .. } => false,
                    _ => connected,
                };
                gaps.record(&notice);
                crate::session_log::notice(&notice);
            }
            Ok(FeedItem::Stopped) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                break;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Err(e) = session.idle() {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    drop(feed);
    drop(connection);
    status.close();
    if let Some(e) = &failure {
        tracing::error!("{e}; stopping and writing results");
    }
    let open = session.engine().broker().working().iter().flatten().count();
    let outcome = session.finish()?;
    results.finish(&loaded, &outcome, &gaps)?;
    println!(
        "  live: {used} events used, {} orders, {} fills, {open} orders left working; journal {}",
        outcome.orders.len(),
        outcome.fills.len(),
        journal.display()
    );
    if let Some(line) = gaps.closing() {
        tracing::warn!("{line}");
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
