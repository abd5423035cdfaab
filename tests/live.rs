//! Live order routing against the mock venue (`venue.rs`) on loopback: fills, partial fills,
//! cancels and rejects reach the portfolio exactly as the simulated broker books the same
//! fills; an unacknowledged order is looked up before it is sent again, so the venue holds one;
//! a restarted session reconciles with what the venue did meanwhile; and `quant live` never
//! prints, journals or reports the secret, flattens on the kill switch, and refuses to start
//! without mode = "live" and its credential variables.

use crate::support::{repo, scratch, stderr};
use crate::venue::{KEY, MockVenue, SECRET};
use engine::{
    BrokerConfig, Ctx, Engine, EngineEvent, EngineSpec, ExecKind, ExecReport, Intents,
    OrderRequest, OrderRouter, OrderStatus, RejectReason, Replay, Size, Strategy, StrategyError,
    backtest,
};
use live::session::Session;
use live::venue::{
    Credentials, LiveRouter, LiveRouterConfig, Policy, Secret, Venue, VenueConfig, VenueEvent,
    VenueUpdate, reconcile,
};
use market_data::{
    InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Price, Qty, Side, Timestamp, Trade,
};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BTC: InstrumentIdx = InstrumentIdx(0);

/// What the scripted strategy does on one market event.
#[derive(Debug, Clone)]
enum Action {
    Submit(OrderRequest),
    /// Cancels the order it placed with this tag.
    Cancel(u32),
}

/// Does what its script says on the n-th market event, and keeps every report it sees.
#[derive(Debug, Clone)]
struct Script {
    steps: Vec<(usize, Action)>,
    seen: usize,
    ids: Vec<(u32, engine::OrderId)>,
    reports: Arc<Mutex<Vec<ExecReport>>>,
}

impl Script {
    fn new(steps: Vec<(usize, Action)>) -> Self {
        Self {
            steps,
            seen: 0,
            ids: Vec::new(),
            reports: Arc::default(),
        }
    }
}

impl Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        _: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        match event {
            EngineEvent::Exec(report) => {
                if report.kind == ExecKind::Accepted || matches!(report.kind, ExecKind::Rejected(_))
                {
                    self.ids.push((report.tag, report.order_id));
                }
                self.reports.lock().unwrap().push(*report);
            }
            EngineEvent::Market(_) => {
                for (_, action) in self.steps.iter().filter(|(at, _)| *at == self.seen) {
                    match action {
                        Action::Submit(request) => out.submit(*request),
                        Action::Cancel(tag) => {
                            if let Some((_, id)) = self.ids.iter().find(|(t, _)| t == tag) {
                                out.cancel(*id);
                            }
                        }
                    }
                }
                self.seen += 1;
            }
            EngineEvent::StepEnd(_) => {}
        }
        Ok(())
    }
}

fn spec() -> EngineSpec {
    EngineSpec {
        broker: BrokerConfig {
            initial_cash: 10_000.0,
            commission: 0.001,
            max_volume_participation: Some(1.0),
            ..BrokerConfig::default()
        },
        ..EngineSpec::default()
    }
}

fn trade(i: usize, price: f64, qty: f64) -> MarketEvent {
    let ts = Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000_000_000);
    MarketEvent {
        ts_event: ts,
        ts_recv: ts,
        instrument: BTC,
        kind: MarketKind::Trade(Trade {
            price: Price(price),
            qty: Qty(qty),
            aggressor: Side::Buy,
        }),
    }
}

fn units(side: Side, qty: f64) -> OrderRequest {
    OrderRequest::market(BTC, side, Size::Units(Qty(qty)))
}

fn limit(side: Side, qty: f64, price: f64, tag: u32) -> OrderRequest {
    OrderRequest::limit(BTC, side, Size::Units(Qty(qty)), Price(price)).with_tag(tag)
}

fn credentials() -> Credentials {
    Credentials {
        api_key: Secret::new(KEY),
        secret: Secret::new(SECRET),
    }
}

fn venue_config(url: String, ack_timeout: Duration) -> VenueConfig {
    VenueConfig {
        url,
        recv_window_ms: 5000,
        ack_timeout,
        max_attempts: 3,
        burst: 50,
        requests_per_second: 100.0,
        stale_after: Duration::from_secs(30),
        reconnect_initial: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
    }
}

fn router(prefix: &str) -> LiveRouter {
    LiveRouter::new(
        &spec(),
        LiveRouterConfig {
            prefix: prefix.into(),
            symbols: vec!["BTCUSDT".into()],
            quote_asset: "USDT".into(),
            dry_run: false,
            max_orders_per_minute: 100,
            max_order_notional: 1e9,
        },
    )
}

/// The engine side of a live session, as `quant live` runs it, generic over engine or session.
trait Live {
    fn router(&self) -> &LiveRouter;
    fn router_mut(&mut self) -> &mut LiveRouter;
    fn portfolio(&self) -> &engine::Portfolio;
    fn now(&self) -> Timestamp;
    fn book(&mut self, update: &VenueUpdate);
}

impl<S: Strategy> Live for Engine<S, LiveRouter> {
    fn router(&self) -> &LiveRouter {
        self.broker()
    }
    fn router_mut(&mut self) -> &mut LiveRouter {
        self.broker_mut()
    }
    fn portfolio(&self) -> &engine::Portfolio {
        Engine::portfolio(self)
    }
    fn now(&self) -> Timestamp {
        Engine::now(self)
    }
    fn book(&mut self, update: &VenueUpdate) {
        self.on_update(update).unwrap();
    }
}

impl<S: Strategy> Live for Session<S, LiveRouter> {
    fn router(&self) -> &LiveRouter {
        self.engine().broker()
    }
    fn router_mut(&mut self) -> &mut LiveRouter {
        Session::router_mut(self)
    }
    fn portfolio(&self) -> &engine::Portfolio {
        self.engine().portfolio()
    }
    fn now(&self) -> Timestamp {
        self.engine().now()
    }
    fn book(&mut self, update: &VenueUpdate) {
        self.on_update(update).unwrap();
    }
}

/// Books one piece of venue news; returns the differences when it is a snapshot.
fn handle(live: &mut impl Live, event: VenueEvent) -> Option<Vec<String>> {
    match event {
        VenueEvent::Connected => live.router_mut().request_snapshot(),
        VenueEvent::Snapshot(snapshot) => {
            let found = reconcile(
                live.router(),
                live.portfolio(),
                &snapshot,
                Policy::Adopt,
                live.now(),
            );
            for update in &found.updates {
                live.book(update);
            }
            return Some(found.differences);
        }
        VenueEvent::Execution(execution) => {
            if let Ok(update) = live.router().update_of(&execution) {
                live.book(&update);
            }
        }
        VenueEvent::Rejected {
            client_id,
            code,
            message,
        } => {
            let order = live.router().order_of(&client_id).unwrap();
            let ts = live.now();
            live.book(&VenueUpdate::Rejected {
                order,
                ts,
                code,
                message,
            });
        }
        VenueEvent::Disconnected(_) | VenueEvent::Notice(_) => {}
    }
    None
}

fn next_event(venue: &Venue, deadline: Instant) -> VenueEvent {
    let left = deadline.saturating_duration_since(Instant::now());
    venue
        .events()
        .recv_timeout(left)
        .expect("timed out waiting for the venue")
}

/// Handles venue news until `done` holds.
fn pump<L: Live>(venue: &Venue, live: &mut L, done: impl Fn(&L) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(live) {
        handle(live, next_event(venue, deadline));
    }
}

/// Handles venue news until a reconciliation is done; returns its differences.
fn pump_until_reconciled(venue: &Venue, live: &mut impl Live) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(differences) = handle(live, next_event(venue, deadline)) {
            return differences;
        }
    }
}

/// Connects `live` to the mock; returns the connection once reconciled.
fn connect(mock: &MockVenue, live: &mut impl Live, ack_timeout: Duration) -> Venue {
    let venue = Venue::start(venue_config(mock.url(), ack_timeout), credentials());
    live.router_mut().connect(venue.commands());
    let differences = pump_until_reconciled(&venue, live);
    assert!(differences.is_empty(), "{differences:?}");
    venue
}

fn fills<L: Live>(n: usize) -> impl Fn(&L) -> bool {
    move |live| live.router().fills().len() >= n
}

fn ended<L: Live>(id: u64) -> impl Fn(&L) -> bool {
    move |live| live.router().records()[id as usize - 1].status != OrderStatus::Working
}

#[test]
fn venue_fills_partial_fills_cancels_and_rejects_book_as_in_paper_mode() {
    let events = [
        trade(0, 100.0, 10.0),
        trade(1, 101.0, 10.0),
        trade(2, 100.0, 10.0),
        trade(3, 98.5, 1.0),
        trade(4, 98.0, 5.0),
        trade(5, 100.0, 10.0),
        trade(6, 100.5, 10.0),
        trade(7, 102.0, 10.0),
    ];
    let script = Script::new(vec![
        (0, Action::Submit(units(Side::Buy, 2.0).with_tag(1))),
        (2, Action::Submit(limit(Side::Buy, 3.0, 99.0, 2))),
        (4, Action::Submit(limit(Side::Buy, 1.0, 50.0, 3))),
        (5, Action::Cancel(3)),
        // A sell past the position would open a short: refused before it is sent, as the
        // simulation refuses it.
        (5, Action::Submit(units(Side::Sell, 100.0).with_tag(4))),
        (6, Action::Submit(units(Side::Sell, 5.0).with_tag(5))),
    ]);
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let paper = backtest(
        &spec(),
        Replay::Ticks {
            events: &events,
            instruments: instruments.clone(),
            bars: None,
        },
        script.clone(),
        None,
    )
    .unwrap();

    // The venue fills each order as the simulation does on the next trades.
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 101.0, 0.001);
    let mut live = Engine::with_router(spec(), instruments, script, router("parity"), 0);
    let venue = connect(&mock, &mut live, Duration::from_secs(5));
    let step = |live: &mut Engine<Script, LiveRouter>, i: usize| {
        live.on_event(&events[i]).unwrap();
        live.end_step(events[i].ts_event).unwrap();
    };
    step(&mut live, 0);
    pump(&venue, &mut live, fills(1));
    step(&mut live, 1);
    step(&mut live, 2);
    pump(&venue, &mut live, |_| mock.with(|s| s.orders.len()) == 2);
    step(&mut live, 3);
    // Arriving on a trade below its limit, the simulated order takes the trade's price.
    mock.fill("parity-2", 1.0, 98.5);
    pump(&venue, &mut live, fills(2));
    step(&mut live, 4);
    mock.fill("parity-2", 2.0, 99.0);
    pump(&venue, &mut live, fills(3));
    pump(&venue, &mut live, |_| mock.with(|s| s.orders.len()) == 3);
    step(&mut live, 5);
    pump(&venue, &mut live, ended(3));
    mock.with(|s| s.price = 102.0);
    step(&mut live, 6);
    pump(&venue, &mut live, fills(4));
    step(&mut live, 7);
    let live_portfolio = live.portfolio().clone();
    let live = live.finish();

    let strip = |f: &engine::FillRecord| (f.order_id, f.side, f.qty, f.price, f.fee);
    assert_eq!(
        live.fills.iter().map(strip).collect::<Vec<_>>(),
        paper.fills.iter().map(strip).collect::<Vec<_>>()
    );
    assert_eq!(live.orders.len(), paper.orders.len());
    for (l, p) in live.orders.iter().zip(&paper.orders) {
        assert_eq!(
            (l.status, l.filled, l.avg_price),
            (p.status, p.filled, p.avg_price)
        );
        assert_eq!(l.fees, p.fees);
        assert_eq!(
            std::mem::discriminant(&l.reason.unwrap_or(RejectReason::ZeroSize)),
            std::mem::discriminant(&p.reason.unwrap_or(RejectReason::ZeroSize)),
            "order {:?}",
            l.id
        );
    }
    let statuses: Vec<_> = live.orders.iter().map(|o| o.status).collect();
    use OrderStatus::*;
    assert_eq!(statuses, [Filled, Filled, Canceled, Rejected, Filled]);
    assert_eq!(live.positions, paper.positions);
    assert_eq!((live.fees, live.realized), (paper.fees, paper.realized));
    assert_eq!(live.curve.cash.last(), paper.curve.cash.last());
    assert_eq!(live.curve.equity.last(), paper.curve.equity.last());
    assert_eq!(live.trades.len(), paper.trades.len());
    // The venue agrees: its balances moved by the same fills.
    assert_eq!(mock.balance("BTC"), live_portfolio.position(BTC).qty);
    assert!((mock.balance("USDT") - live_portfolio.cash()).abs() < 1e-6);
}

#[test]
fn a_venue_reject_reaches_the_strategy_with_the_venues_reason() {
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.0);
    let reason = "Account has insufficient balance for requested action.";
    mock.with(|s| s.reject_next = Some((-2010, reason.into())));
    let script = Script::new(vec![(0, Action::Submit(units(Side::Buy, 1.0).with_tag(9)))]);
    let reports = script.reports.clone();
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let mut live = Engine::with_router(spec(), instruments, script, router("rej"), 0);
    let venue = connect(&mock, &mut live, Duration::from_secs(5));
    live.on_event(&trade(0, 100.0, 1.0)).unwrap();
    pump(&venue, &mut live, ended(1));
    let record = live.broker().records()[0];
    assert_eq!(record.status, OrderStatus::Rejected);
    let Some(RejectReason::Venue { code, message }) = record.reason else {
        panic!("{:?}", record.reason)
    };
    assert_eq!((code, message.as_str()), (-2010, reason));
    let last = *reports.lock().unwrap().last().unwrap();
    assert_eq!(
        (last.tag, last.kind),
        (9, ExecKind::Rejected(record.reason.unwrap()))
    );
    assert_eq!(live.portfolio().cash(), 10_000.0);
    assert!(live.broker().fills().is_empty());
}

#[test]
fn an_unacknowledged_order_is_looked_up_before_it_is_sent_again() {
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.0);
    let script = Script::new(vec![
        (0, Action::Submit(units(Side::Buy, 1.0))),
        (1, Action::Submit(units(Side::Buy, 2.0))),
    ]);
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let mut live = Engine::with_router(spec(), instruments, script, router("once"), 0);
    let venue = connect(&mock, &mut live, Duration::from_millis(100));
    // A late acknowledgement: the lookup finds the order, nothing is sent again.
    mock.with(|s| s.ack_delay = Duration::from_millis(400));
    live.on_event(&trade(0, 100.0, 1.0)).unwrap();
    pump(&venue, &mut live, fills(1));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(mock.with(|s| (s.places_received, s.orders.len())), (1, 1));
    // A lost request: the lookup does not find it, so it is sent again, once.
    mock.with(|s| {
        s.ack_delay = Duration::ZERO;
        s.lose_places = 1;
    });
    live.on_event(&trade(1, 100.0, 1.0)).unwrap();
    pump(&venue, &mut live, fills(2));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mock.with(|s| (s.places_received, s.orders.len())), (3, 2));
    assert_eq!(mock.with(|s| s.orders[1].client_id.clone()), "once-2");
    assert_eq!(live.portfolio().position(BTC).qty, 3.0);
    assert_eq!(mock.with(|s| s.bad_signatures), 0);
}

#[test]
fn a_restarted_session_reconciles_with_what_the_venue_did_meanwhile() {
    let dir = scratch("live-restart");
    let journal = dir.join("journal");
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.0);
    let script = || {
        Script::new(vec![
            (0, Action::Submit(limit(Side::Buy, 3.0, 99.0, 1))),
            (2, Action::Submit(limit(Side::Sell, 2.0, 105.0, 2))),
        ])
    };
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let start = || {
        let (session, resumed) = Session::start_with_router(
            &spec(),
            instruments.clone(),
            script(),
            router("rs"),
            None,
            &journal,
            Duration::ZERO,
        )
        .unwrap();
        (session, resumed)
    };
    let (mut first, _) = start();
    let venue = connect(&mock, &mut first, Duration::from_secs(5));
    first.on_event(&trade(0, 100.0, 1.0)).unwrap();
    pump(&venue, &mut first, |_| mock.with(|s| s.orders.len()) == 1);
    mock.fill("rs-1", 1.0, 99.0);
    pump(&venue, &mut first, fills(1));
    first.on_event(&trade(1, 99.5, 1.0)).unwrap();
    // The session stops (a crash: no results); meanwhile the venue fills the rest, and someone
    // buys half a unit by hand and leaves an order of their own.
    drop(venue);
    drop(first);
    mock.fill("rs-1", 2.0, 98.0);
    mock.with(|s| {
        *s.balances.get_mut("BTC").unwrap() += 0.5;
        s.orders.push(crate::venue::MockOrder {
            symbol: "BTCUSDT".into(),
            client_id: "by-hand".into(),
            side: "SELL".into(),
            kind: "LIMIT".into(),
            qty: 0.5,
            price: 120.0,
            executed: 0.0,
            quote: 0.0,
            status: "NEW".into(),
        });
    });

    let (mut second, resumed) = start();
    assert_eq!((resumed.events, resumed.orders, resumed.fills), (2, 1, 1));
    assert_eq!(second.engine().portfolio().position(BTC).qty, 1.0);
    let venue = Venue::start(
        venue_config(mock.url(), Duration::from_secs(5)),
        credentials(),
    );
    second.router_mut().connect(venue.commands());
    let differences = pump_until_reconciled(&venue, &mut second);
    let text = differences.join(
        "
",
    );
    assert!(
        text.contains("rs-1: 2 units filled at the venue while away, at 98"),
        "{text}"
    );
    assert!(text.contains("by-hand"), "{text}");
    assert!(text.contains("adopting"), "{text}");
    let records = second.engine().broker().records();
    assert_eq!(records[0].status, OrderStatus::Filled);
    assert_eq!(records[0].filled, 3.0);
    assert_eq!(
        second.engine().portfolio().position(BTC).qty,
        mock.balance("BTC")
    );

    // The connection drops while an order works; the fill it missed is found on reconnecting.
    second.on_event(&trade(2, 100.0, 1.0)).unwrap();
    pump(&venue, &mut second, |_| mock.with(|s| s.orders.len()) == 3);
    mock.disconnect();
    mock.fill("rs-2", 2.0, 105.0);
    let differences = pump_until_reconciled(&venue, &mut second);
    assert!(
        differences
            .iter()
            .any(|d| d.contains("rs-2: 2 units filled")),
        "{differences:?}"
    );
    assert_eq!(
        second.engine().broker().records()[1].status,
        OrderStatus::Filled
    );
    assert_eq!(
        second.engine().portfolio().position(BTC).qty,
        mock.balance("BTC")
    );
    drop(venue);
    second.finish().unwrap();

    // The journal holds the venue's news; a third start replays it to the same state.
    let (third, _) = start();
    assert_eq!(third.engine().portfolio().position(BTC).qty, 1.5);
    assert_eq!(third.engine().broker().fills().len(), 3);
}

#[test]
fn a_malformed_venue_message_is_reported_with_what_was_expected_and_skipped() {
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.0);
    let script = Script::new(vec![(0, Action::Submit(units(Side::Buy, 1.0)))]);
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let mut live = Engine::with_router(spec(), instruments, script, router("bad"), 0);
    let venue = connect(&mock, &mut live, Duration::from_millis(100));
    mock.with(|s| s.garbage_next = Some(r#"{"id":"#.into()));
    live.on_event(&trade(0, 100.0, 1.0)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let notice = loop {
        match next_event(&venue, deadline) {
            VenueEvent::Notice(text) => break text,
            other => {
                handle(&mut live, other);
            }
        }
    };
    assert!(notice.contains("malformed message (expected"), "{notice}");
    assert!(notice.contains(r#"{"id":"#), "{notice}");
    // The request it swallowed is looked up, not found, and sent again: one order, filled.
    pump(&venue, &mut live, fills(1));
    assert_eq!(mock.with(|s| s.orders.len()), 1);
}

#[test]
fn dry_run_notional_and_order_rate_limits_refuse_before_sending() {
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let run = |dry_run: bool, max_order_notional: f64, max_orders_per_minute: usize| {
        let mut router = router("lim");
        let mut config = router.config().clone();
        config.dry_run = dry_run;
        config.max_order_notional = max_order_notional;
        config.max_orders_per_minute = max_orders_per_minute;
        router = LiveRouter::new(&spec(), config);
        let script = Script::new(vec![
            (1, Action::Submit(units(Side::Buy, 2.0))),
            (2, Action::Submit(units(Side::Buy, 1.0))),
        ]);
        let mut live = Engine::with_router(spec(), instruments.clone(), script, router, 0);
        for i in 0..3 {
            live.on_event(&trade(i, 100.0, 1.0)).unwrap();
        }
        let notices = live.broker_mut().take_notices();
        let reasons: Vec<_> = live.broker().records().iter().map(|r| r.reason).collect();
        (reasons, notices)
    };
    let (reasons, notices) = run(true, 1e9, 100);
    assert_eq!(
        reasons,
        [Some(RejectReason::DryRun), Some(RejectReason::DryRun)]
    );
    assert!(
        notices[0].starts_with("dry run: would send order.place"),
        "{notices:?}"
    );
    assert!(
        notices[0].contains("quantity=2&side=BUY&symbol=BTCUSDT"),
        "{notices:?}"
    );
    let (reasons, _) = run(false, 150.0, 100);
    assert_eq!(reasons, [Some(RejectReason::NotionalLimit), None]);
    let (reasons, _) = run(false, 1e9, 1);
    assert_eq!(reasons, [None, Some(RejectReason::OrderRateLimit)]);
}

#[test]
fn the_live_limits_never_block_closing_a_position() {
    let mut router = router("out");
    let mut config = router.config().clone();
    (config.max_order_notional, config.max_orders_per_minute) = (150.0, 1);
    router = LiveRouter::new(&spec(), config);
    let script = Script::new(vec![
        (1, Action::Submit(units(Side::Buy, 1.0))),
        (2, Action::Submit(units(Side::Buy, 1.0))),
        (
            3,
            Action::Submit(OrderRequest::market(BTC, Side::Sell, Size::ClosePosition)),
        ),
    ]);
    let instruments = vec![InstrumentId::new("BTCUSDT")];
    let mut live = Engine::with_router(spec(), instruments, script, router, 0);
    live.on_event(&trade(0, 100.0, 1.0)).unwrap();
    live.on_event(&trade(1, 100.0, 1.0)).unwrap();
    // Filled at 100: one unit held, and the minute's one order used.
    let order = live.broker().order_of("out-1").unwrap();
    let fill = VenueUpdate::Filled {
        order,
        ts: Timestamp(1),
        qty: 1.0,
        price: 100.0,
        fee: 0.0,
    };
    live.on_update(&fill).unwrap();
    live.on_event(&trade(2, 200.0, 1.0)).unwrap();
    live.on_event(&trade(3, 200.0, 1.0)).unwrap();
    let reasons: Vec<_> = live.broker().records().iter().map(|r| r.reason).collect();
    // The second buy is refused (200 > 150 notional); the close, as large, is not.
    assert_eq!(reasons, [None, Some(RejectReason::NotionalLimit), None]);
    assert_eq!(live.broker().working()[0].len(), 1);
    assert_eq!(live.broker().working()[0][0].target, 1.0);
}

#[test]
fn flattening_trades_the_venue_back_to_the_engine_and_cancels_foreign_orders() {
    let router = router("fl");
    let portfolio = engine::Portfolio::new(10_000.0, 1);
    let order = |client_id: &str| live::venue::VenueOrder {
        symbol: "BTCUSDT".into(),
        client_order_id: client_id.into(),
        side: "BUY".into(),
        status: "NEW".into(),
        orig_qty: 1.0,
        executed_qty: 0.0,
        cummulative_quote_qty: 0.0,
    };
    let snapshot = live::venue::Snapshot {
        balances: vec![live::venue::Balance {
            asset: "BTC".into(),
            free: 0.25,
            locked: 0.0,
        }],
        open: vec![order("by-hand")],
        queried: Vec::new(),
    };
    let found = reconcile(
        &router,
        &portfolio,
        &snapshot,
        Policy::Flatten,
        Timestamp(5_000_000),
    );
    assert!(found.updates.is_empty(), "{:?}", found.updates);
    let [
        live::venue::Command::Cancel { client_id, .. },
        live::venue::Command::Place(sell),
    ] = found.commands.as_slice()
    else {
        panic!("{:?}", found.commands)
    };
    assert_eq!(client_id, "by-hand");
    assert_eq!(
        (sell.side, sell.qty, sell.client_id.as_str()),
        (Side::Sell, 0.25, "fl-f5-0")
    );
    // Not of the form <prefix>-<order id>: its fills are not booked as the engine's.
    assert_eq!(router.order_of(&sell.client_id), None);
    let adopted = reconcile(&router, &portfolio, &snapshot, Policy::Adopt, Timestamp(0));
    assert!(adopted.commands.is_empty());
    assert!(matches!(
        adopted.updates[..],
        [VenueUpdate::Adopted { qty: 0.25, .. }]
    ));
}

/// Writes a live config for the GOOG replay on `feed` and the mock venue at `venue`.
fn live_config(dir: &Path, feed: u16, venue: &str, mode: &str, kill: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo("backtests/live_sma.toml"))
        .unwrap()
        .replace("mode = \"live\"", &format!("mode = \"{mode}\""))
        .replace("ws://127.0.0.1:9001", &format!("ws://127.0.0.1:{feed}"))
        .replace("ws://127.0.0.1:9443", venue)
        .replace("BINANCE_API_KEY", "QUANT_TEST_KEY")
        .replace("BINANCE_API_SECRET", "QUANT_TEST_SECRET")
        .replace(
            "journal = \"journal/live-sma-goog\"",
            &format!("journal = \"{}\"", dir.join("journal").display()),
        )
        .replace(
            "kill_file = \"journal/KILL-live-sma-goog\"",
            &format!("kill_file = \"{}\"", kill.display()),
        );
    let path = dir.join(format!("{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn quant_live(config: &Path, out: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quant"));
    command
        .args(["live", config.to_str().unwrap(), "--duration", "60"])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("QUANT_TEST_KEY")
        .env_remove("QUANT_TEST_SECRET")
        .envs(env.iter().copied());
    command
}

#[test]
fn quant_live_keeps_the_secret_out_of_everything_and_flattens_on_the_kill_switch() {
    let dir = scratch("live-cli");
    let (_feed, port) = crate::paper::replay(&["--speed", "4320000"]);
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.002);
    let kill = dir.join("KILL");
    let config = live_config(&dir, port, &mock.url(), "live", &kill);
    let out = dir.join("out");
    let env = [("QUANT_TEST_KEY", KEY), ("QUANT_TEST_SECRET", SECRET)];

    let (stdout, stderr_text) = trade_then_stop(&mock, quant_live(&config, &out, &env), |_| {
        std::fs::write(&kill, "").unwrap();
    });
    assert_eq!(mock.with(|s| s.bad_signatures), 0);

    // The kill is journaled: a restart replays it (and the orders it placed) without diverging.
    std::fs::remove_file(&kill).unwrap();
    let resumed = quant_live(&config, &out, &env)
        .args(["--events", "1"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("resumed from"),
        "{}",
        stderr(&resumed)
    );
    let journal = std::fs::read_to_string(dir.join("journal")).unwrap();
    assert_eq!(journal.lines().filter(|l| l.starts_with("K ")).count(), 1);

    // The failures name what is missing, and print no credential either.
    let paper_mode = live_config(&dir, port, &mock.url(), "paper", &kill);
    let refused = quant_live(&paper_mode, &out, &env).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("mode = \"live\""),
        "{}",
        stderr(&refused)
    );
    let no_secret = quant_live(&config, &out, &env[..1]).output().unwrap();
    assert!(!no_secret.status.success());
    assert!(
        stderr(&no_secret).contains("QUANT_TEST_SECRET"),
        "{}",
        stderr(&no_secret)
    );
    let no_key = quant_live(&config, &out, &env[1..]).output().unwrap();
    assert!(
        stderr(&no_key).contains("QUANT_TEST_KEY"),
        "{}",
        stderr(&no_key)
    );

    let mut everything = vec![
        stderr(&resumed),
        stdout,
        stderr_text,
        stderr(&refused),
        stderr(&no_secret),
        stderr(&no_key),
    ];
    for entry in walk(&dir) {
        everything.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
    }
    assert!(everything.len() > 8, "journal and results are written");
    for text in &everything {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
        assert!(!text.contains(KEY), "the API key leaked: {text}");
    }
}

/// Runs `quant live` until the venue holds a position, then `stop`s it; checks that it
/// flattened and stopped cleanly; returns its stdout and stderr.
fn trade_then_stop(
    mock: &MockVenue,
    mut command: Command,
    stop: impl FnOnce(&std::process::Child),
) -> (String, String) {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(50);
    while mock.balance("GOOG") == 0.0 {
        assert!(Instant::now() < deadline, "no position taken at the venue");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(&child);
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr_text) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "{stderr_text}");
    assert!(stderr_text.contains("kill switch"), "{stderr_text}");
    assert_eq!(mock.balance("GOOG"), 0.0, "not flattened: {stderr_text}");
    assert!(mock.with(|s| s.orders.iter().all(|o| o.status != "NEW")));
    assert_eq!(mock.with(|s| s.bad_signatures), 0);
    (stdout, stderr_text)
}

#[test]
fn sigterm_flattens_and_a_typo_in_the_live_tables_is_named() {
    let dir = scratch("live-sigterm");
    let (_feed, port) = crate::paper::replay(&["--speed", "4320000"]);
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.0);
    let config = live_config(&dir, port, &mock.url(), "live", &dir.join("KILL"));
    let env = [("QUANT_TEST_KEY", KEY), ("QUANT_TEST_SECRET", SECRET)];
    trade_then_stop(
        &mock,
        quant_live(&config, &dir.join("out"), &env),
        |child| {
            let pid = child.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(sent.success());
        },
    );

    let typo = dir.join("typo.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &typo,
        text.replace("max_orders_per_minute", "max_order_per_minute"),
    )
    .unwrap();
    let output = quant_live(&typo, &dir.join("out"), &env).output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("max_order_per_minute"),
        "{}",
        stderr(&output)
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_fill_found_on_reconciling_pays_the_per_order_commission_like_a_simulated_one() {
    let mut spec = spec();
    spec.broker.commission_fixed = 1.5;
    let config = LiveRouterConfig {
        prefix: "fx".into(),
        symbols: vec!["BTCUSDT".into()],
        quote_asset: "USDT".into(),
        dry_run: false,
        max_orders_per_minute: 100,
        max_order_notional: 1e9,
    };
    let mut router = LiveRouter::new(&spec, config);
    let portfolio = engine::Portfolio::new(10_000.0, 1);
    let mut reports = Vec::new();
    // Not connected: the order is recorded as sent before a crash would have been.
    let id = router.submit(
        limit(Side::Buy, 3.0, 99.0, 1),
        Timestamp(1),
        None,
        &portfolio,
        &mut reports,
    );
    assert_eq!(router.order_of("fx-1"), Some(id));
    let snapshot = live::venue::Snapshot {
        balances: Vec::new(),
        open: vec![live::venue::VenueOrder {
            symbol: "BTCUSDT".into(),
            client_order_id: "fx-1".into(),
            side: "BUY".into(),
            status: "PARTIALLY_FILLED".into(),
            orig_qty: 3.0,
            executed_qty: 2.0,
            cummulative_quote_qty: 198.0,
        }],
        queried: Vec::new(),
    };
    let found = reconcile(&router, &portfolio, &snapshot, Policy::Adopt, Timestamp(2));
    let fee = found.updates.iter().find_map(|u| match u {
        VenueUpdate::Filled {
            qty, price, fee, ..
        } => Some((*qty, *price, *fee)),
        _ => None,
    });
    // The simulated broker's rule: 0.1% of notional plus 1.5 on the order's first fill.
    assert_eq!(fee, Some((2.0, 99.0, 0.001 * 2.0 * 99.0 + 1.5)));
}

#[test]
fn an_order_leaves_for_the_venue_only_once_its_journal_line_is_on_disk() {
    let dir = scratch("live-durable");
    let journal = dir.join("journal");
    let script = Script::new(vec![(0, Action::Submit(limit(Side::Buy, 3.0, 99.0, 1)))]);
    // Syncs at most hourly: only the rule for orders can put the line on disk in time.
    let (mut session, _) = Session::start_with_router(
        &spec(),
        vec![InstrumentId::new("BTCUSDT")],
        script,
        router("dur"),
        None,
        &journal,
        Duration::from_secs(3600),
    )
    .unwrap();
    let (outbox, mut sent) = tokio::sync::mpsc::unbounded_channel();
    session.router_mut().connect(outbox);
    session.on_event(&trade(0, 100.0, 1.0)).unwrap();
    let command = sent.try_recv().expect("the order was sent");
    assert!(
        matches!(command, live::venue::Command::Place(_)),
        "{command:?}"
    );
    // By the time it is sent, its line is in the file (not in a buffer).
    let on_disk = std::fs::read_to_string(&journal).unwrap();
    assert!(
        on_disk
            .lines()
            .any(|l| l.starts_with("O ") && l.contains("\"id\":1")),
        "{on_disk}"
    );
}

#[test]
fn a_venue_that_accepts_and_then_stays_silent_is_dropped_and_reconnected() {
    // A server that completes the handshake, then never reads or writes a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if let Ok(ws) = tungstenite::accept(stream) {
                *count.lock().unwrap() += 1;
                held.push(ws);
            }
        }
    });
    // The client's own deadline tick (every ack_timeout / 4 = 25 ms) once restarted the silence
    // count each time, so a silent venue was never noticed.
    let mut config = venue_config(format!("ws://127.0.0.1:{port}"), Duration::from_millis(100));
    config.stale_after = Duration::from_millis(400);
    let venue = Venue::start(config, credentials());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reason = None;
    while reason.is_none() && Instant::now() < deadline {
        if let Ok(VenueEvent::Disconnected(why)) =
            venue.events().recv_timeout(Duration::from_millis(50))
        {
            reason = Some(why);
        }
    }
    let reason = reason.expect("the silent venue was never dropped");
    assert!(reason.contains("silent"), "{reason}");
    // It reconnects (and would reconcile) rather than waiting forever.
    while *accepted.lock().unwrap() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(*accepted.lock().unwrap() >= 2, "no reconnection");
}

#[test]
fn a_dry_run_fills_like_paper_on_the_feed_and_sends_nothing() {
    let dir = scratch("live-dry");
    let (_feed, port) = crate::paper::replay(&[]);
    let mock = MockVenue::start(&[("USDT", 10_000.0)], 100.0, 0.002);
    let kill = dir.join("KILL");
    let config = live_config(&dir, port, &mock.url(), "live", &kill);
    let text = std::fs::read_to_string(&config).unwrap();
    let dry = text.replace("dry_run = false", "dry_run = true");
    assert_ne!(dry, text);
    std::fs::write(&config, dry).unwrap();
    let out = dir.join("out");
    // No credentials needed: nothing is sent.
    let output = quant_live(&config, &out, &[])
        .args(["--events", "2148"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("dry run: simulated fills"),
        "{}",
        stderr(&output)
    );
    // The strategy held positions and exited them: 46 round trips, as its backtest.
    let trades = std::fs::read_to_string(out.join("trades.csv")).unwrap();
    assert_eq!(trades.lines().count() - 1, 47, "{trades}");
    assert_eq!(mock.with(|s| s.places_received), 0);
}
