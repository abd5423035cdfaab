//! `quant bench paper`: tick-to-order latency of a paper session on loopback, from a message
//! arriving on the socket to the order it causes reaching the paper broker (journal included):
//! 100,000 trades served by `quant feed replay`, a strategy that orders on every trade.

use anyhow::{Context, Result, bail};
use engine::{Ctx, EngineEvent, EngineSpec, Intents, OrderRequest, Size, Strategy, StrategyError};
use live::feed::{Feed, FeedConfig, FeedItem, Format};
use live::session::Session;
use market_data::columnar::{RecordKind, RecordWriter};
use market_data::synthetic::{SyntheticSpec, generate_ticks};
use market_data::{MarketKind, Qty, Side};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRADES: usize = 100_000;

/// Replay pace: trades 10 ms apart played 50 times faster, 5,000 a second. Latency is measured
/// below saturation; served as fast as possible, the messages would queue and the figure would
/// measure the queue, not the path.
const SPEED: &str = "50";

/// The engine thread polls this long before sleeping (`[live] spin_us`): longer than the gaps
/// between messages, so it never pays a wake-up.
const SPIN: Duration = Duration::from_millis(5);

/// Buys one unit on a trade when flat and sells it on the next: an order on every trade.
#[derive(Debug, Default)]
struct EveryTrade {
    long: bool,
}

impl Strategy for EveryTrade {
    fn name(&self) -> &str {
        "every_trade"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        _ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        if let EngineEvent::Market(m) = event
            && matches!(m.kind, MarketKind::Trade(_))
        {
            let side = if self.long { Side::Sell } else { Side::Buy };
            self.long = !self.long;
            out.submit(OrderRequest::market(
                m.instrument,
                side,
                Size::Units(Qty(1.0)),
            ));
        }
        Ok(())
    }
}

/// Kills the replay server when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the latency benchmark.
pub(crate) fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("quant-bench-paper-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let trades = generate_ticks(
        &SyntheticSpec {
            bars: TRADES,
            interval_ns: 10_000_000,
            ..SyntheticSpec::default()
        },
        0,
    )
    .trades;
    let file = dir.join("syn000.parquet");
    let mut writer = RecordWriter::create(&file, RecordKind::Trades, None)?;
    writer.write_trades(&trades)?;
    writer.finish()?;
    let exe = std::env::current_exe().context("cannot find the quant executable")?;
    let mut child = Command::new(exe)
        .args([
            "feed", "replay", "--kind", "trades", "--port", "0", "--speed", SPEED,
        ])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start quant feed replay")?;
    let stdout = child.stdout.take().context("no stdout from the replay")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected replay output {line:?}"))?
        .to_string();

    let feed = Feed::start(FeedConfig {
        format: Format::Binance,
        url,
        streams: vec!["syn000@trade".into()],
        stale_after: Duration::from_secs(10),
        max_clock_skew: Duration::from_secs(60),
        reconnect_initial: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        capacity: 65_536,
        calendar: None,
    });
    let spec = EngineSpec::default();
    let (mut session, _) = Session::start(
        &spec,
        feed.instruments.clone(),
        EveryTrade::default(),
        None,
        &dir.join("journal"),
        Duration::from_secs(1),
    )?;
    let mut latencies = Vec::with_capacity(TRADES);
    // The hop from the socket to the engine thread (decode, channel, wake-up), apart.
    let mut hops = Vec::with_capacity(TRADES);
    let (mut used, started) = (0usize, Instant::now());
    while used < TRADES {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("only {used} of {TRADES} trades arrived in 120 s");
        }
        match feed.next(SPIN, Duration::from_secs(10)) {
            Ok(FeedItem::Event(event, received)) => {
                hops.push(received.elapsed());
                let orders = session.engine().broker().records().len();
                session.on_event(&event)?;
                if session.engine().broker().records().len() > orders {
                    latencies.push(received.elapsed());
                }
                used += 1;
            }
            Ok(_) => {}
            Err(e) => bail!("the feed stopped after {used} trades: {e}"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(feed);
    drop(server);
    drop(session);
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort_unstable();
    hops.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let hop = |q: f64| hops[((hops.len() - 1) as f64 * q).round() as usize];
    println!(
        "paper session on loopback: {used} trades from quant feed replay at {}/s, an order on \
         each, journaled, engine polling {:?} before sleeping",
        100 * SPEED.parse::<usize>().unwrap_or(0),
        SPIN
    );
    println!(
        "  {:.0} messages/s end to end; tick-to-order over {} orders: p50 {:?}, p99 {:?}, max {:?}",
        used as f64 / seconds,
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    println!(
        "  of which socket to engine thread (decode, channel, wake-up): p50 {:?}, p99 {:?}, max {:?}",
        hop(0.5),
        hop(0.99),
        hop(1.0)
    );
    Ok(())
}
