//! Order round trip of the live router against the mock venue of the tests, on loopback: from
//! the market event whose handling places a market order to the venue's fill booked in the
//! portfolio (engine -> router -> signed request -> venue -> execution report -> engine).
//!
//! ```sh
//! cargo run --release --example live_roundtrip -- 2000
//! ```

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/venue.rs"]
mod venue;

use engine::{
    Ctx, Engine, EngineEvent, EngineSpec, Intents, OrderRequest, OrderRouter, Size, Strategy,
    StrategyError,
};
use live::venue::{
    Credentials, LiveRouter, LiveRouterConfig, Policy, Secret, Venue, VenueConfig, VenueEvent,
    reconcile,
};
use market_data::{
    InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Price, Qty, Side, Timestamp, Trade,
};
use std::time::{Duration, Instant};

/// Buys one unit on even events and sells it on odd ones.
struct PingPong(usize);

impl Strategy for PingPong {
    fn name(&self) -> &str {
        "ping_pong"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        _: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        if let EngineEvent::Market(_) = event {
            let side = if self.0.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            };
            out.submit(OrderRequest::market(
                InstrumentIdx(0),
                side,
                Size::Units(Qty(1.0)),
            ));
            self.0 += 1;
        }
        Ok(())
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let mock = venue::MockVenue::start(&[("USDT", 1e9)], 100.0, 0.0);
    let spec = EngineSpec::default();
    let router = LiveRouter::new(
        &spec,
        LiveRouterConfig {
            prefix: "rtt".into(),
            symbols: vec!["BTCUSDT".into()],
            quote_asset: "USDT".into(),
            dry_run: false,
            max_orders_per_minute: usize::MAX,
            max_order_notional: 1e9,
        },
    );
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let mut engine = Engine::with_router(spec, instruments, PingPong(0), router, n);
    let connection = Venue::start(
        VenueConfig {
            url: mock.url(),
            recv_window_ms: 5000,
            ack_timeout: Duration::from_secs(5),
            max_attempts: 3,
            burst: u32::MAX,
            requests_per_second: 1e9,
            stale_after: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(1),
        },
        Credentials {
            api_key: Secret::new(venue::KEY),
            secret: Secret::new(venue::SECRET),
        },
    );
    engine.broker_mut().connect(connection.commands());
    loop {
        match connection.events().recv().unwrap() {
            VenueEvent::Connected => engine.broker_mut().request_snapshot(),
            VenueEvent::Snapshot(snapshot) => {
                let found = reconcile(
                    engine.broker(),
                    engine.portfolio(),
                    &snapshot,
                    Policy::Adopt,
                    engine.now(),
                );
                assert!(found.updates.is_empty());
                break;
            }
            _ => {}
        }
    }
    let mut rtt = Vec::with_capacity(n);
    for i in 0..n {
        let ts = Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000_000);
        let event = MarketEvent {
            ts_event: ts,
            ts_recv: ts,
            instrument: InstrumentIdx(0),
            kind: MarketKind::Trade(Trade {
                price: Price(100.0),
                qty: Qty(1.0),
                aggressor: Side::Buy,
            }),
        };
        let started = Instant::now();
        engine.on_event(&event).unwrap();
        while engine.broker().fills().len() <= i {
            if let VenueEvent::Execution(execution) = connection.events().recv().unwrap()
                && let Ok(update) = engine.broker().update_of(&execution)
            {
                engine.on_update(&update).unwrap();
            }
        }
        rtt.push(started.elapsed());
    }
    rtt.sort_unstable();
    let at = |q: f64| rtt[((rtt.len() - 1) as f64 * q).round() as usize];
    println!(
        "order round trip over {n} market orders (mock venue, loopback): p50 {:?}, p99 {:?}, \
         max {:?}",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
