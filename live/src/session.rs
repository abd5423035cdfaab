//! A live session (paper or live): the backtest engine fed one event at a time from a feed,
//! with every event journaled before it is used, so a restarted session resumes where the last
//! one stopped.
//!
//! Time steps end when an event with a later timestamp arrives (or the session stops): a feed
//! delivers events in time order, so this records the same equity curve a backtest of the same
//! events would.

use crate::journal::{Input, Journal, JournalError, Recovered, fill_json, order_json};
use engine::BacktestOutcome;
use engine::Engine;
use engine::Error as EngineError;
use engine::FeatureSource;
use engine::OrderRouter;
use engine::{EngineSpec, SimBroker, Strategy};
use market_data::{InstrumentId, MarketEvent, MarketKind, Timestamp};
use std::path::Path;
use std::time::Duration;

/// Why a session stopped.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The engine failed (the strategy, the features).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Replaying the journal did not reproduce the journaled orders or fills: the strategy,
    /// its parameters or the data it reads changed since the journal was written.
    #[error(
        "replaying the journal gave a different {what} at #{index}: journaled {journaled}, \
         replayed {replayed}; the config or strategy changed since the session started (start a \
         new journal)"
    )]
    Diverged {
        /// `order` or `fill`.
        what: &'static str,
        /// Its position.
        index: usize,
        /// The journaled JSON (empty when missing).
        journaled: String,
        /// The replayed JSON (empty when missing).
        replayed: String,
    },
    /// A journaled venue update does not parse: the journal was written by another version.
    #[error("journaled venue update (input #{index}) does not parse ({message}): {json}")]
    BadUpdate {
        /// Its position among the inputs.
        index: usize,
        /// The parser's complaint.
        message: String,
        /// The line.
        json: String,
    },
    /// An event went back in time, or a bar came again.
    #[error(
        "event at {ts} is not after the previous one at {previous} (late, or a bar seen before): \
         skipped"
    )]
    OutOfOrder {
        /// The event's time.
        ts: Timestamp,
        /// The previous event's time.
        previous: Timestamp,
    },
}

/// What a session found in its journal on start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resumed {
    /// Events replayed.
    pub events: usize,
    /// Orders and fills re-derived (and checked against the journal).
    pub orders: usize,
    /// Fills re-derived.
    pub fills: usize,
    /// Bytes of a torn last line dropped.
    pub torn_bytes: u64,
    /// The last event's time.
    pub last: Option<Timestamp>,
}

/// An engine fed live, with its journal.
#[derive(Debug)]
pub struct Session<S, R = SimBroker> {
    engine: Engine<S, R>,
    journal: Journal,
    orders_seen: usize,
    fills_seen: usize,
    attributions_seen: usize,
    last: Option<Timestamp>,
    /// Each instrument's last bar: a bar not after it is a repeat (a feed replayed after a
    /// restart), while ticks may share a timestamp.
    last_bar: Vec<Option<Timestamp>>,
}

impl<S: Strategy> Session<S> {
    /// Starts a session journaled at `journal` (synced every `sync_every`), replaying what the
    /// journal already holds.
    ///
    /// # Errors
    /// The journal cannot be opened, or its replay diverges from it.
    pub fn start(
        spec: &EngineSpec,
        instruments: Vec<InstrumentId>,
        strategy: S,
        features: Option<Box<dyn FeatureSource>>,
        journal: &Path,
        sync_every: Duration,
    ) -> Result<(Self, Resumed), SessionError> {
        let broker = SimBroker::new(spec, instruments.len());
        Session::start_with_router(
            spec,
            instruments,
            strategy,
            broker,
            features,
            journal,
            sync_every,
        )
    }
}

impl<S: Strategy, R: OrderRouter> Session<S, R> {
    /// Starts a session as [`Session::start`] does, routing orders to `router`; journaled venue
    /// updates are replayed among the events, in the order they came.
    ///
    /// # Errors
    /// The journal cannot be opened, or its replay diverges from it.
    pub fn start_with_router(
        spec: &EngineSpec,
        instruments: Vec<InstrumentId>,
        strategy: S,
        router: R,
        features: Option<Box<dyn FeatureSource>>,
        journal: &Path,
        sync_every: Duration,
    ) -> Result<(Self, Resumed), SessionError> {
        let (journal, recovered) = Journal::open(journal, sync_every)?;
        // Orders wait until their journal lines are durable (see `journal_new`).
        let mut router = router;
        router.hold_orders();
        let last_bar = vec![None; instruments.len()];
        let steps = recovered.events.len();
        let mut engine = Engine::with_router(spec.clone(), instruments, strategy, router, steps);
        if let Some(features) = features {
            engine = engine.with_features(features);
        }
        let mut session = Self {
            engine,
            journal,
            orders_seen: 0,
            fills_seen: 0,
            attributions_seen: 0,
            last: None,
            last_bar,
        };
        let resumed = session.replay(&recovered)?;
        Ok((session, resumed))
    }

    /// Replays journaled events without journaling them again, checking that they produce the
    /// journaled orders and fills.
    fn replay(&mut self, recovered: &Recovered) -> Result<Resumed, SessionError> {
        let mut inputs = recovered.inputs.iter().enumerate().peekable();
        for (i, event) in recovered.events.iter().enumerate() {
            while let Some((index, (_, input))) = inputs.next_if(|(_, (before, _))| *before <= i) {
                self.replay_input(index, input)?;
            }
            self.apply(event)?;
        }
        for (index, (_, input)) in inputs {
            self.replay_input(index, input)?;
        }
        let broker = self.engine.broker();
        let replayed_orders: Vec<String> = broker.records().iter().map(order_json).collect();
        let replayed_fills: Vec<String> = broker.fills().iter().map(fill_json).collect();
        // Orders are journaled as placed; their later states are not compared.
        compare("order", &recovered.orders, &replayed_orders, |j, r| {
            order_id(j) == order_id(r)
        })?;
        compare("fill", &recovered.fills, &replayed_fills, |j, r| j == r)?;
        // Orders and fills the crash kept from the journal are journaled now.
        for order in &broker.records()[recovered.orders.len().min(broker.records().len())..] {
            self.journal.order(order)?;
        }
        for fill in &broker.fills()[recovered.fills.len().min(broker.fills().len())..] {
            self.journal.fill(fill)?;
        }
        let explained = self.engine.attributions();
        for a in &explained[recovered.attributions.len().min(explained.len())..] {
            self.journal.attribution(a)?;
        }
        self.attributions_seen = explained.len();
        self.journal.sync()?;
        self.orders_seen = self.engine.broker().records().len();
        self.fills_seen = self.engine.broker().fills().len();
        Ok(Resumed {
            events: recovered.events.len(),
            orders: self.orders_seen,
            fills: self.fills_seen,
            torn_bytes: recovered.torn_bytes,
            last: self.last,
        })
    }

    fn replay_input(&mut self, index: usize, input: &Input) -> Result<(), SessionError> {
        let json = match input {
            Input::Kill => return Ok(self.engine.kill()?),
            Input::Update(json) => json,
        };
        let update = serde_json::from_str(json).map_err(|e| SessionError::BadUpdate {
            index,
            message: e.to_string(),
            json: json.clone(),
        })?;
        self.engine.on_update(&update)?;
        Ok(())
    }

    /// Journals a venue update, books it and journals the orders and fills it caused.
    ///
    /// # Errors
    /// The journal or the engine (the strategy reacting to it) failed.
    pub fn on_update(&mut self, update: &R::Update) -> Result<(), SessionError> {
        self.journal.update(update)?;
        self.engine.on_update(update)?;
        self.journal_new()
    }

    /// Fires the kill switch (see [`Engine::kill`]) and journals the orders it placed.
    ///
    /// # Errors
    /// The journal or the engine failed.
    pub fn kill(&mut self) -> Result<(), SessionError> {
        self.journal.kill(self.engine.now())?;
        self.engine.kill()?;
        self.journal_new()
    }

    /// Journals orders and fills recorded since the last call.
    fn journal_new(&mut self) -> Result<(), SessionError> {
        let broker = self.engine.broker();
        let placed = broker.records().len() > self.orders_seen;
        for order in &broker.records()[self.orders_seen..] {
            self.journal.order(order)?;
        }
        for fill in &broker.fills()[self.fills_seen..] {
            self.journal.fill(fill)?;
        }
        self.orders_seen = broker.records().len();
        self.fills_seen = broker.fills().len();
        let explained = self.engine.attributions();
        for a in &explained[self.attributions_seen..] {
            self.journal.attribution(a)?;
        }
        self.attributions_seen = explained.len();
        // An order leaves the process only once its line is on disk, whatever `sync_every`
        // says: after a crash, the journal knows every order the venue may hold, so no client
        // order id is ever used twice.
        if placed && self.engine.broker().sends_orders_out() {
            self.journal.sync()?;
        }
        self.engine.broker_mut().release();
        Ok(())
    }

    /// Returns the router, to hand it a venue connection once the journal is replayed.
    pub fn router_mut(&mut self) -> &mut R {
        self.engine.broker_mut()
    }

    /// Lets the journal hand its last lines to the disk while no event comes (see
    /// [`Journal::tick`]); call it when the feed is quiet.
    ///
    /// # Errors
    /// The file cannot be flushed, or an earlier sync failed.
    pub fn idle(&mut self) -> Result<(), SessionError> {
        Ok(self.journal.tick()?)
    }

    /// Syncs the journal to disk now.
    ///
    /// # Errors
    /// The file cannot be flushed or synced.
    pub fn sync(&mut self) -> Result<(), SessionError> {
        Ok(self.journal.sync()?)
    }

    /// Feeds one event to the engine, closing the previous time step first when it is later.
    fn apply(&mut self, event: &MarketEvent) -> Result<(), SessionError> {
        let ts = event.ts_event;
        match self.last {
            Some(previous) if ts < previous => {
                return Err(SessionError::OutOfOrder { ts, previous });
            }
            Some(previous) if ts > previous => self.engine.end_step(previous)?,
            _ => {}
        }
        self.last = Some(ts);
        if let (MarketKind::Bar(_), Some(slot)) =
            (event.kind, self.last_bar.get_mut(event.instrument.get()))
        {
            *slot = Some(ts);
        }
        self.engine.on_event(event)?;
        Ok(())
    }

    /// Journals `event`, then feeds it to the engine and journals the orders and fills it
    /// caused.
    ///
    /// # Errors
    /// The journal or the engine failed, or the event is older than the previous one (it is
    /// then neither journaled nor used).
    pub fn on_event(&mut self, event: &MarketEvent) -> Result<(), SessionError> {
        let repeated_bar = matches!(event.kind, MarketKind::Bar(_))
            && self
                .last_bar
                .get(event.instrument.get())
                .copied()
                .flatten()
                .is_some_and(|last| event.ts_event <= last);
        if let Some(previous) = self.last
            && (event.ts_event < previous || repeated_bar)
        {
            return Err(SessionError::OutOfOrder {
                ts: event.ts_event,
                previous,
            });
        }
        self.journal.market(event)?;
        self.apply(event)?;
        self.journal_new()
    }

    /// Returns the engine, for status lines.
    pub fn engine(&self) -> &Engine<S, R> {
        &self.engine
    }

    /// Returns the last event's time.
    pub fn last(&self) -> Option<Timestamp> {
        self.last
    }

    /// Returns each instrument's last bar (after a restart, the journal's): where the feed's
    /// gap detection starts, so bars lost while the session was down are reported.
    pub fn last_bars(&self) -> &[Option<Timestamp>] {
        &self.last_bar
    }

    /// Closes the last time step, syncs the journal and returns what the session recorded.
    ///
    /// # Errors
    /// The journal cannot be synced or the engine fails closing the step.
    pub fn finish(mut self) -> Result<BacktestOutcome, SessionError> {
        if let Some(last) = self.last {
            self.engine.end_step(last)?;
        }
        self.journal.sync()?;
        Ok(self.engine.finish())
    }
}

/// Returns the `id` field of an order's JSON.
fn order_id(json: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()?
        .get("id")?
        .as_u64()
}

/// Checks that every journaled item matches the replayed one at its position.
fn compare(
    what: &'static str,
    journaled: &[String],
    replayed: &[String],
    same: impl Fn(&str, &str) -> bool,
) -> Result<(), SessionError> {
    for (index, j) in journaled.iter().enumerate() {
        match replayed.get(index) {
            Some(r) if same(j, r) => {}
            other => {
                return Err(SessionError::Diverged {
                    what,
                    index,
                    journaled: j.clone(),
                    replayed: other.cloned().unwrap_or_default(),
                });
            }
        }
    }
    Ok(())
}
