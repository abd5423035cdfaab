//! Sessions: a journaled session gives the backtest's results, and one killed mid-run and
//! restarted resumes with the same positions, orders and fills, none twice.

use crate::journal::Journal;
use crate::session::{Session, SessionError};
use engine::{BacktestOutcome, EngineSpec, Strategy, run_backtest};
use engine::{Ctx, EngineEvent, Intents, StrategyError};
use engine::{OrderRequest, Size};
use market_data::{Bar, NANOS_PER_DAY, Timestamp};

use market_data::{BarSeries, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Side};
use std::path::PathBuf;
use std::time::Duration;

/// A daily bar stamped `day` days after 2024-01-01.
fn bar(day: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
    Bar {
        ts: Timestamp((19_723 + day) * NANOS_PER_DAY),
        open,
        high,
        low,
        close,
        volume,
    }
}

/// The default engine spec.
fn spec() -> EngineSpec {
    EngineSpec::default()
}

/// Buys on every fourth bar and sells three bars later: its state is its bar count, rebuilt
/// only by seeing the same bars again.
#[derive(Debug, Default)]
struct Flip {
    bars: usize,
}

impl Strategy for Flip {
    fn name(&self) -> &str {
        "flip"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        _ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        if let Some((instrument, _)) = event.as_bar() {
            self.bars += 1;
            let side = match self.bars % 4 {
                1 => Side::Buy,
                0 => Side::Sell,
                _ => return Ok(()),
            };
            let size = if side == Side::Buy {
                Size::Units(market_data::Qty(3.0))
            } else {
                Size::ClosePosition
            };
            out.submit(OrderRequest::market(instrument, side, size));
        }
        Ok(())
    }
}

fn events() -> Vec<MarketEvent> {
    (0..40)
        .map(|d| {
            let p = 100.0 + (d as f64 * 0.7).sin() * 5.0;
            let b = bar(d, p, p + 1.0, p - 1.0, p + 0.5, 1000.0);
            MarketEvent {
                ts_event: b.ts,
                ts_recv: b.ts,
                instrument: InstrumentIdx(0),
                kind: MarketKind::Bar(b),
            }
        })
        .collect()
}

/// A journal in a folder of its own, removed with the folder when the test drops it.
fn journal() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("journal.log");
    (dir, path)
}

fn start(path: &std::path::Path) -> (Session<Flip>, crate::session::Resumed) {
    Session::start(
        &spec(),
        vec![InstrumentId::new("X")],
        Flip::default(),
        None,
        path,
        Duration::ZERO,
    )
    .expect("session starts")
}

fn fills(outcome: &BacktestOutcome) -> Vec<(i64, f64, f64)> {
    outcome
        .fills
        .iter()
        .map(|f| (f.ts.0, f.qty, f.price))
        .collect()
}

#[test]
fn a_session_gives_the_backtest_of_the_same_bars() {
    let events = events();
    let (_dir, path) = journal();
    let (mut session, resumed) = start(&path);
    assert_eq!(resumed.events, 0);
    for e in &events {
        session.on_event(e).unwrap();
    }
    let live = session.finish().unwrap();
    let bars = events
        .iter()
        .filter_map(|e| match e.kind {
            MarketKind::Bar(b) => Some(b),
            _ => None,
        })
        .collect::<Vec<_>>();
    let backtest = run_backtest(
        &spec(),
        &[BarSeries::new(InstrumentId::new("X"), bars)],
        Flip::default(),
    )
    .unwrap();
    assert!(!backtest.fills.is_empty());
    assert_eq!(fills(&live), fills(&backtest));
    assert_eq!(live.curve, backtest.curve);
}

#[test]
fn a_killed_session_resumes_without_losing_or_repeating_anything() {
    let events = events();
    let whole = {
        let (_dir, path) = journal();
        let (mut session, _) = start(&path);
        for e in &events {
            session.on_event(e).unwrap();
        }
        session.finish().unwrap()
    };
    let (_dir, path) = journal();
    {
        let (mut session, _) = start(&path);
        for e in &events[..23] {
            session.on_event(e).unwrap();
        }
        // Killed: no finish; the last line is cut short as a crash mid-write would.
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"M {\"ts_event\":12"))
        .unwrap();
    let (mut session, resumed) = start(&path);
    assert_eq!(resumed.events, 23);
    assert_eq!(resumed.torn_bytes, 16);
    let before = session.engine().portfolio().position(InstrumentIdx(0)).qty;
    assert!(before > 0.0, "the replay rebuilt the open position");
    for e in &events[23..] {
        session.on_event(e).unwrap();
    }
    let resumed_outcome = session.finish().unwrap();
    assert_eq!(fills(&resumed_outcome), fills(&whole));
    assert_eq!(resumed_outcome.curve, whole.curve);
    // The journal holds each order and fill once.
    let (_, recovered) = Journal::open(&path, Duration::ZERO).unwrap();
    assert_eq!(recovered.fills.len(), whole.fills.len());
    assert_eq!(recovered.orders.len(), whole.orders.len());
    assert_eq!(recovered.events.len(), events.len());
}

#[test]
fn old_events_are_refused_and_a_changed_strategy_is_caught() {
    let events = events();
    let (_dir, path) = journal();
    let (mut session, _) = start(&path);
    for e in &events[..10] {
        session.on_event(e).unwrap();
    }
    let error = session.on_event(&events[3]).unwrap_err();
    assert!(matches!(error, SessionError::OutOfOrder { .. }), "{error}");
    drop(session);
    // The same journal under a strategy that trades differently does not replay.
    let other = Session::start(
        &spec(),
        vec![InstrumentId::new("X")],
        Flip { bars: 1 },
        None,
        &path,
        Duration::ZERO,
    );
    assert!(matches!(other, Err(SessionError::Diverged { .. })));
}

/// A feature source that explains every order (as a model-driven source does), with no
/// columns.
#[derive(Debug, Default)]
struct Explains(Vec<engine::OrderAttribution>);

impl engine::FeatureSource for Explains {
    fn columns(&self) -> &[String] {
        &[]
    }

    fn update(
        &mut self,
        _instrument: InstrumentIdx,
        _bar: &market_data::Bar,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }

    fn values(&self, _instrument: InstrumentIdx) -> &[f64] {
        &[]
    }

    fn explain(
        &mut self,
        order: engine::OrderId,
        instrument: InstrumentIdx,
        side: Side,
        ts: market_data::Timestamp,
    ) {
        self.0.push(engine::OrderAttribution {
            order,
            ts,
            instrument,
            attribution: {
                let mut values = engine::AttributionValues::new(2, 1);
                let row = values.push(&[0.2, 0.8], &[(0, 0.3)]);
                let names = std::sync::Arc::new(engine::ModelNames {
                    model_id: "m1".into(),
                    classes: vec!["down".into(), "up".into()],
                    features: vec!["x".into()],
                });
                engine::Attribution::new(
                    names,
                    usize::from(side == Side::Buy),
                    std::sync::Arc::new(values),
                    row,
                )
            },
        });
    }

    fn attributions(&mut self) -> Vec<engine::OrderAttribution> {
        std::mem::take(&mut self.0)
    }
}

#[test]
fn the_journal_records_each_order_attribution_once_across_a_restart() {
    let events = events();
    let (_dir, path) = journal();
    let start = |path: &std::path::Path| {
        Session::start(
            &spec(),
            vec![InstrumentId::new("X")],
            Flip::default(),
            Some(Box::new(Explains::default())),
            path,
            Duration::ZERO,
        )
        .expect("session starts")
    };
    {
        let (mut session, _) = start(&path);
        for e in &events[..23] {
            session.on_event(e).unwrap();
        }
    }
    let (mut session, _) = start(&path);
    for e in &events[23..] {
        session.on_event(e).unwrap();
    }
    let outcome = session.finish().unwrap();
    assert_eq!(outcome.attributions.len(), outcome.orders.len());
    let (_, recovered) = Journal::open(&path, Duration::ZERO).unwrap();
    assert_eq!(recovered.attributions.len(), outcome.orders.len());
    for (line, order) in recovered.attributions.iter().zip(&outcome.orders) {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(a["order"], order.id.0, "{line}");
        let class = if order.request.side == Side::Buy {
            "up"
        } else {
            "down"
        };
        assert_eq!(a["attribution"]["class"], class, "{line}");
    }
}
