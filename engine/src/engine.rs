//! The event loop: one engine per run, fed one market event at a time.
//!
//! Backtests drive it through one function, [`backtest`], from bar series in memory, bars
//! streamed by a merger, or a sorted tick stream ([`Replay`]); paper and live sessions drive the
//! same `Engine` from a feed. Per event it matches working orders, marks the position, lets the
//! strategy decide, and routes what it asked for: nothing allocates once buffers are warm.

use crate::broker::SimBroker;
use crate::config::EngineSpec;
use crate::error::{Error, Result};
use crate::features::{FeatureSource, OrderAttribution};
use crate::history::BarHistory;
use crate::order::{OrderRequest, Size};
use crate::outcome::{BacktestOutcome, EquityCurve};
use crate::portfolio::Portfolio;
use crate::router::OrderRouter;
use crate::sink::{CHUNK_HOLDINGS, CHUNK_ORDERS, CHUNK_STEPS, StepChunk, StepSink};
use crate::strategy::{Ctx, EngineEvent, ExecReport, Intent, Intents, RejectReason, Strategy};
use market_data::merge::StepMerger;
use market_data::resample::{BarRule, Resampler};
use market_data::{
    Bar, BarSeries, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Quote, Timestamp,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many reports one event may cause before the strategy is deemed to be looping.
const MAX_REPORTS_PER_EVENT: usize = 10_000;

/// One run of one strategy over a set of instruments with shared cash, routing its orders to
/// `R` (the simulated broker unless told otherwise).
#[derive(Debug)]
pub struct Engine<S, R = SimBroker> {
    strategy: S,
    spec: EngineSpec,
    instruments: Vec<InstrumentId>,
    portfolio: Portfolio,
    broker: R,
    intents: Intents,
    reports: Vec<ExecReport>,
    /// The steps recorded and not yet handed to `sink` (all of them without one).
    steps: StepChunk,
    /// Where full chunks of steps go while the run goes on, if anywhere.
    sink: Option<Box<dyn StepSink>>,
    /// The order records, fills and closed trades still held after the last chunk was handed
    /// on.
    records_kept: usize,
    now: Timestamp,
    peak: f64,
    halted_at: Option<Timestamp>,
    /// Whether the halt was asked for by an operator ([`Engine::kill`]).
    killed: bool,
    held_at_step_start: bool,
    filled_this_step: bool,
    exposed_steps: usize,
    events_seen: Vec<usize>,
    fill_count: usize,
    features: Option<Box<dyn FeatureSource>>,
    attributions: Vec<OrderAttribution>,
    history: BarHistory,
    /// Whether the strategy is told when each step ends.
    step_events: bool,
}

impl<S: Strategy> Engine<S> {
    /// Returns an engine with the simulated broker; `steps_hint` preallocates the equity curve.
    pub fn new(
        spec: EngineSpec,
        instruments: Vec<InstrumentId>,
        strategy: S,
        steps_hint: usize,
    ) -> Self {
        let broker = SimBroker::new(&spec, instruments.len());
        Engine::with_router(spec, instruments, strategy, broker, steps_hint)
    }
}

impl<S: Strategy, R: OrderRouter> Engine<S, R> {
    /// Returns an engine routing orders to `router`; `steps_hint` preallocates the equity curve.
    pub fn with_router(
        spec: EngineSpec,
        instruments: Vec<InstrumentId>,
        strategy: S,
        router: R,
        steps_hint: usize,
    ) -> Self {
        let n = instruments.len();
        Self {
            history: BarHistory::new(strategy.bar_history(), n),
            step_events: strategy.step_events(),
            strategy,
            portfolio: Portfolio::new(spec.broker.initial_cash, n),
            broker: router,
            peak: spec.broker.initial_cash,
            spec,
            instruments,
            intents: Intents::default(),
            reports: Vec::with_capacity(64),
            steps: StepChunk::starting_at(0, steps_hint),
            sink: None,
            records_kept: 0,
            now: Timestamp(i64::MIN),
            halted_at: None,
            killed: false,
            held_at_step_start: false,
            filled_this_step: false,
            exposed_steps: 0,
            events_seen: vec![0; n],
            fill_count: 0,
            features: None,
            attributions: Vec::new(),
        }
    }

    /// Returns the engine with a feature pipeline, updated with each bar before the strategy.
    pub fn with_features(mut self, features: Box<dyn FeatureSource>) -> Self {
        self.features = Some(features);
        self
    }

    /// Returns the engine handing each full chunk of [`CHUNK_STEPS`] steps to `sink` while it
    /// runs, with the records of the orders closed by then (see [`StepChunk::orders`]) and the
    /// fills and round trips since the chunk before: [`Engine::finish`] then returns only the
    /// steps, orders, fills and round trips after those handed on.
    pub fn with_sink(mut self, sink: Box<dyn StepSink>) -> Self {
        self.steps = StepChunk::starting_at(self.steps.first, CHUNK_STEPS);
        self.sink = Some(sink);
        self
    }

    /// Returns the account.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Returns the broker (the router) with its working orders, order records and fills.
    pub fn broker(&self) -> &R {
        &self.broker
    }

    /// Returns the router, for a live session that hands it venue news or a new connection.
    pub fn broker_mut(&mut self) -> &mut R {
        &mut self.broker
    }

    /// Returns the time of the last event processed.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Books news from outside the engine (a venue's execution report) and lets the strategy
    /// react to the reports it causes.
    ///
    /// # Errors
    /// Returns the strategy's error, or `Runaway` when it loops on reports.
    pub fn on_update(&mut self, update: &R::Update) -> Result<()> {
        self.broker
            .apply(update, &mut self.portfolio, &mut self.reports);
        let mut next = 0;
        self.deliver(&mut next)?;
        self.reports.clear();
        Ok(())
    }

    /// Fires the kill switch now (an operator's signal or flag file): cancels every working
    /// order, closes every position and refuses new orders, as the drawdown limit does. Called
    /// again, it cancels and closes again what is left (a live fill that came in meanwhile).
    ///
    /// # Errors
    /// Returns the strategy's error from the reports this causes.
    pub fn kill(&mut self) -> Result<()> {
        if self.halted_at.is_none() {
            self.killed = true;
        }
        self.halt(self.now)
    }

    /// Returns the equity curve recorded so far (with a sink, of the steps not yet handed on).
    pub fn curve(&self) -> &EquityCurve {
        &self.steps.curve
    }

    /// Returns the attributions of the orders placed so far, in order (explaining those the
    /// feature source still holds).
    pub fn attributions(&mut self) -> &[OrderAttribution] {
        if let Some(features) = self.features.as_deref_mut() {
            self.attributions.extend(features.attributions());
        }
        &self.attributions
    }

    /// Processes one completed bar of one instrument: fills working orders at its prices, marks
    /// the position at its close, then lets the strategy decide.
    ///
    /// # Errors
    /// Returns the strategy's error, or `Runaway` when it loops on reports.
    pub fn on_bar(&mut self, instrument: InstrumentIdx, bar: &Bar) -> Result<()> {
        if let Some(features) = self.features.as_mut() {
            features
                .update(instrument, bar)
                .map_err(|source| Error::Feature { ts: bar.ts, source })?;
        }
        self.process_bar(instrument, bar)
    }

    /// Processes the bars of one time step (at most one per instrument, in instrument order):
    /// the feature pipeline first, for all of them at once (in parallel where the pipeline finds
    /// it pays), then each bar as [`Engine::on_bar`] does.
    ///
    /// # Errors
    /// As [`Engine::on_bar`].
    pub fn on_step(&mut self, bars: &[(InstrumentIdx, Bar)]) -> Result<()> {
        if let (Some(features), Some((_, first))) = (self.features.as_mut(), bars.first()) {
            features
                .update_step(bars)
                .map_err(|source| Error::Feature {
                    ts: first.ts,
                    source,
                })?;
        }
        for (instrument, bar) in bars {
            self.process_bar(*instrument, bar)?;
        }
        Ok(())
    }

    /// Processes one market event: a bar as [`Engine::on_bar`] does; a trade or a quote by
    /// filling working orders of its instrument against it (see [`SimBroker::on_event`]),
    /// marking the position at the trade price or the quote's mid, then delivering the event
    /// to the strategy as it is and routing what it asks for.
    ///
    /// An order placed while handling an event acts only on events stamped strictly later, so a
    /// tick loop may feed several events with one timestamp and call [`Engine::end_step`] once
    /// after the last of them. Ticks do not update the feature pipeline, which is fed bars.
    ///
    /// # Errors
    /// Returns the strategy's error, or `Runaway` when it loops on reports.
    ///
    /// # Panics
    /// Panics when the event's instrument is not part of the run.
    pub fn on_event(&mut self, event: &MarketEvent) -> Result<()> {
        let (instrument, ts) = (event.instrument, event.ts_event);
        let mark = match &event.kind {
            MarketKind::Bar(bar) => return self.on_bar(instrument, bar),
            MarketKind::Trade(trade) => Some(trade.price.0),
            MarketKind::Quote(quote) => quote_mark(quote),
        };
        self.now = ts;
        self.events_seen[instrument.get()] += 1;
        // Value the position at this tick before matching, so sizing and risk see its price.
        if let Some(mark) = mark {
            self.portfolio.mark(instrument, mark);
        }
        if !self.broker.working()[instrument.get()].is_empty() {
            self.broker
                .on_event(event, &mut self.portfolio, &mut self.reports);
        }
        if let Some(mark) = mark {
            // Volatility targeting then estimates from tick prices (noisier than closes).
            self.broker.observe_close(instrument, ts, mark);
        }
        self.dispatch(EngineEvent::Market(*event))
    }

    /// Delivers a bar built from ticks, complete once a tick at `known_at` fell past its
    /// interval: the features take it and the strategy sees it, but nothing fills or is marked
    /// on it (its prices were already traded as ticks). Orders placed on it act on ticks after
    /// `known_at`.
    ///
    /// # Errors
    /// As [`Engine::on_bar`].
    pub fn on_tick_bar(
        &mut self,
        instrument: InstrumentIdx,
        known_at: Timestamp,
        bar: &Bar,
    ) -> Result<()> {
        if let Some(features) = self.features.as_mut() {
            features
                .update(instrument, bar)
                .map_err(|source| Error::Feature { ts: bar.ts, source })?;
        }
        self.now = known_at;
        self.history.push(instrument, bar);
        let event = MarketEvent {
            ts_event: bar.ts,
            ts_recv: known_at,
            instrument,
            kind: MarketKind::Bar(*bar),
        };
        self.dispatch(EngineEvent::Market(event))
    }

    /// Matches orders on a bar, marks the position and lets the strategy decide; features are
    /// already updated.
    fn process_bar(&mut self, instrument: InstrumentIdx, bar: &Bar) -> Result<()> {
        self.now = bar.ts;
        self.events_seen[instrument.get()] += 1;
        if !self.broker.working()[instrument.get()].is_empty() {
            // Orders fill at the open (or later in the bar): value the position there first.
            self.portfolio.mark(instrument, bar.open);
            self.broker
                .on_bar(instrument, bar, &mut self.portfolio, &mut self.reports);
        }
        self.portfolio.mark(instrument, bar.close);
        self.broker.observe_close(instrument, bar.ts, bar.close);
        self.history.push(instrument, bar);
        let event = MarketEvent {
            ts_event: bar.ts,
            ts_recv: bar.ts,
            instrument,
            kind: MarketKind::Bar(*bar),
        };
        self.dispatch(EngineEvent::Market(event))
    }

    /// Delivers pending reports, then `event`, then the reports its intents cause, to the strategy.
    fn dispatch(&mut self, event: EngineEvent) -> Result<()> {
        let mut next = 0;
        // Reports from this bar's fills come first; in the common case there are none.
        if !self.reports.is_empty() {
            self.deliver(&mut next)?;
        }
        self.call(&event)?;
        if !self.reports.is_empty() {
            self.deliver(&mut next)?;
            self.reports.clear();
        }
        Ok(())
    }

    fn deliver(&mut self, next: &mut usize) -> Result<()> {
        while *next < self.reports.len() {
            if *next >= MAX_REPORTS_PER_EVENT {
                return Err(Error::Runaway {
                    ts: self.now,
                    limit: MAX_REPORTS_PER_EVENT,
                });
            }
            let report = self.reports[*next];
            *next += 1;
            if matches!(report.kind, crate::strategy::ExecKind::Filled { .. }) {
                self.filled_this_step = true;
                self.fill_count += 1;
            }
            self.call(&EngineEvent::Exec(report))?;
        }
        Ok(())
    }

    /// Calls the strategy with one event and routes what it asks for.
    fn call(&mut self, event: &EngineEvent) -> Result<()> {
        let ctx = Ctx {
            now: self.now,
            portfolio: &self.portfolio,
            orders: self.broker.working(),
            instruments: &self.instruments,
            halted: self.halted_at.is_some(),
            features: self.features.as_deref(),
            history: &self.history,
            timezone: self.spec.timezone,
        };
        self.strategy
            .on_event(event, &ctx, &mut self.intents)
            .map_err(|source| Error::Strategy {
                ts: self.now,
                source,
            })?;
        if self.intents.is_empty() {
            return Ok(());
        }
        let refuse = self.halted_at.map(|_| RejectReason::KillSwitch);
        for intent in self.intents.drain() {
            match intent {
                Intent::Submit(request) => {
                    let order = self.broker.submit(
                        request,
                        self.now,
                        refuse,
                        &self.portfolio,
                        &mut self.reports,
                    );
                    // Explained from the prediction the strategy just read.
                    if let Some(features) = self.features.as_deref_mut() {
                        features.explain(order, request.instrument, request.side, self.now);
                    }
                }
                Intent::Cancel(id) => self.broker.cancel(id, self.now, &mut self.reports),
                Intent::CancelAll(idx) => self.broker.cancel_all(idx, self.now, &mut self.reports),
            }
        }
        Ok(())
    }

    /// Closes the time step `ts` once every event stamped `ts` is processed: tells a strategy
    /// that asked ([`Strategy::step_events`]), records equity and checks the drawdown kill
    /// switch.
    ///
    /// # Errors
    /// Returns the strategy's error from reports the kill switch causes.
    pub fn end_step(&mut self, ts: Timestamp) -> Result<()> {
        if self.step_events {
            self.dispatch(EngineEvent::StepEnd(ts))?;
        }
        let equity = self.portfolio.equity();
        // A full chunk goes only once the next step comes, so the last step stays here for
        // `finish` to restate after closing positions. Without a sink nothing is measured: the
        // run is one chunk.
        let full = self.sink.is_some()
            && (self.steps.curve.len() == CHUNK_STEPS
                || self.steps.holdings.len() + self.instruments.len() > CHUNK_HOLDINGS
                || Self::records_held(&self.broker, &self.portfolio)
                    >= self.records_kept + CHUNK_ORDERS);
        if full {
            self.hand_on()?;
        }
        let step = self.steps.end();
        let held_now = self.steps.holdings.record(step, self.portfolio.positions());
        if self.held_at_step_start || held_now || self.filled_this_step {
            self.exposed_steps += 1;
        }
        self.held_at_step_start = held_now;
        self.filled_this_step = false;
        self.steps.curve.push(ts, equity, self.portfolio.cash());
        self.peak = self.peak.max(equity);
        let limit = self.spec.risk.max_drawdown;
        if self.halted_at.is_none() && limit < 1.0 && equity < self.peak * (1.0 - limit) {
            self.halt(ts)?;
        }
        Ok(())
    }

    /// Returns how many order records, fills and closed trades `broker` and `portfolio` hold.
    fn records_held(broker: &R, portfolio: &Portfolio) -> usize {
        broker.records().len() + broker.fills().len() + portfolio.closed_trades().len()
    }

    /// Hands the recorded steps to the sink and starts the next chunk.
    fn hand_on(&mut self) -> Result<()> {
        let Some(sink) = self.sink.as_mut() else {
            return Ok(());
        };
        let first = self.steps.end();
        let next = match sink.spare() {
            Some(mut spare) => {
                spare.first = first;
                spare
            }
            None => StepChunk::starting_at(first, CHUNK_STEPS),
        };
        let mut full = std::mem::replace(&mut self.steps, next);
        // A run whose pipeline explains its orders keeps them for the report's decisions.
        if !self.features.as_deref().is_some_and(|f| f.explains()) {
            self.broker.hand_on_closed(&mut full.orders);
        }
        self.broker.hand_on_fills(&mut full.fills);
        self.portfolio.hand_on_trades(&mut full.trades);
        self.records_kept = Self::records_held(&self.broker, &self.portfolio);
        let first = full.first;
        sink.steps(full)
            .map_err(|source| Error::Sink { first, source })
    }

    /// Fires the kill switch: cancels every order and closes every position at the next prices.
    fn halt(&mut self, ts: Timestamp) -> Result<()> {
        self.halted_at.get_or_insert(ts);
        for idx in 0..self.instruments.len() {
            let instrument = InstrumentIdx(idx as u32);
            self.broker.cancel_all(instrument, ts, &mut self.reports);
            let qty = self.portfolio.position(instrument).qty;
            if qty != 0.0 {
                let side = if qty > 0.0 {
                    market_data::Side::Sell
                } else {
                    market_data::Side::Buy
                };
                let request = OrderRequest::market(instrument, side, Size::ClosePosition);
                self.broker
                    .submit(request, ts, None, &self.portfolio, &mut self.reports);
            }
        }
        let mut next = 0;
        self.deliver(&mut next)?;
        self.reports.clear();
        Ok(())
    }

    /// Returns what the run has recorded so far and leaves the engine untouched, so a session
    /// can rewrite its results while it runs without changing what it finally writes. Unlike
    /// [`Engine::finish`] nothing is liquidated, the step under way is not closed, and
    /// explanations the feature source still holds stay there.
    pub fn snapshot(&self) -> BacktestOutcome {
        let p = &self.portfolio;
        BacktestOutcome {
            attributions: self.attributions.clone(),
            drift: (self.features.as_deref()).map_or_else(Vec::new, |f| f.drift()),
            open_trades: p.open_trades(self.now),
            instruments: self.instruments.clone(),
            curve: self.steps.curve.clone(),
            holdings: self.steps.holdings.clone(),
            orders: self.broker.records().to_vec(),
            fills: self.broker.fills().to_vec(),
            trades: p.closed_trades().to_vec(),
            handed_on: None,
            positions: p.positions().to_vec(),
            initial_cash: p.initial_cash(),
            fees: p.fees(),
            realized: p.realized(),
            traded_notional: p.traded_notional(),
            exposed_steps: self.exposed_steps,
            bars_per_instrument: self.events_seen.clone(),
            halted_at: self.halted_at,
            killed: self.killed,
            spec: self.spec.clone(),
        }
    }

    /// Ends the run: closes positions if `close_at_end`, and gathers everything recorded (with
    /// a sink, the steps not handed to it: at least the last).
    pub fn finish(mut self) -> BacktestOutcome {
        // Explanations the feature source still holds (a backtest batches them to the end).
        self.attributions();
        let last = self.now;
        if self.spec.broker.close_at_end && !self.steps.curve.is_empty() {
            self.broker
                .liquidate(&mut self.portfolio, last, &mut self.reports);
            self.reports.clear();
            (self.steps.curve).replace_last(self.portfolio.equity(), self.portfolio.cash());
            let step = self.steps.end() - 1;
            (self.steps.holdings).replace_last(step, self.portfolio.positions());
        }
        let p = &self.portfolio;
        let (open_trades, positions) = (p.open_trades(last), p.positions().to_vec());
        let (initial_cash, fees, realized, traded_notional) = (
            p.initial_cash(),
            p.fees(),
            p.realized(),
            p.traded_notional(),
        );
        let (orders, fills) = self.broker.into_journal();
        let drift = self
            .features
            .as_deref()
            .map_or_else(Vec::new, |f| f.drift());
        BacktestOutcome {
            attributions: self.attributions,
            drift,
            open_trades,
            instruments: self.instruments,
            curve: self.steps.curve,
            holdings: self.steps.holdings,
            orders,
            fills,
            trades: self.portfolio.into_closed_trades(),
            handed_on: None,
            positions,
            initial_cash,
            fees,
            realized,
            traded_notional,
            exposed_steps: self.exposed_steps,
            bars_per_instrument: self.events_seen,
            halted_at: self.halted_at,
            killed: self.killed,
            spec: self.spec,
        }
    }
}

/// Returns the price a quote values a position at: the mid, or the one side shown when the
/// book is one-sided, or `None` when neither side has a usable price.
fn quote_mark(quote: &Quote) -> Option<f64> {
    let usable = |p: f64| p.is_finite() && p > 0.0;
    match (usable(quote.bid.0), usable(quote.ask.0)) {
        (true, true) => Some(0.5 * (quote.bid.0 + quote.ask.0)),
        (true, false) => Some(quote.bid.0),
        (false, true) => Some(quote.ask.0),
        (false, false) => None,
    }
}

/// What a backtest replays.
#[derive(Debug)]
pub enum Replay<'a> {
    /// One bar series per instrument, in memory, merged in (timestamp, instrument) order.
    Bars(&'a [BarSeries]),
    /// The time steps of a merger (bars streamed from files, only its chunks in memory);
    /// instrument `i` of the merger is `instruments[i]`, and `steps_hint` sizes the results.
    Merged {
        /// The merger.
        merger: &'a mut StepMerger,
        /// The instruments, by the merger's index.
        instruments: Vec<InstrumentId>,
        /// The expected number of time steps.
        steps_hint: usize,
    },
    /// Trades and quotes of `instruments`, sorted by (`ts_event`, instrument); several events
    /// may share both. With `bars`, bars of that rule are built from each instrument's trades
    /// for the strategy and its features: a bar is delivered (see [`Engine::on_tick_bar`]) just
    /// before the first trade past its interval, so bar strategies run unchanged on ticks and
    /// their orders fill at tick prices. The last, unfinished bar of each instrument is not
    /// delivered.
    Ticks {
        /// The events.
        events: &'a [MarketEvent],
        /// The instruments, by index.
        instruments: Vec<InstrumentId>,
        /// Bars to build from trades, if any.
        bars: Option<BarRule>,
    },
}

/// Runs `strategy` (with shared cash, and `features` it reads through its context) over
/// `replay` and returns everything it recorded. Bars are processed one time step at a time;
/// ticks one event at a time, equity recorded once per distinct timestamp, after its last event.
///
/// # Errors
/// The strategy's or the pipeline's error; [`Error::Data`] when a merger's source fails; for
/// ticks, checked before anything runs: [`Error::OutOfOrder`] for an event sorted before its
/// predecessor, [`Error::UnknownInstrument`] for an index outside `instruments`, and
/// [`Error::BarInTicks`] for a bar (stamped at its open, it would show a strategy its close
/// before the ticks of its interval).
pub fn backtest<S: Strategy>(
    spec: &EngineSpec,
    replay: Replay<'_>,
    strategy: S,
    features: Option<Box<dyn FeatureSource>>,
) -> Result<BacktestOutcome> {
    backtest_into(spec, replay, strategy, features, None)
}

/// Runs a backtest as [`backtest`] does, handing each full chunk of steps to `sink` when one is
/// given (see [`Engine::with_sink`]): the outcome then holds only the steps and records after
/// the last chunk.
///
/// # Errors
/// As [`backtest`], and [`Error::Sink`] when the sink refuses a chunk.
pub fn backtest_into<S: Strategy>(
    spec: &EngineSpec,
    replay: Replay<'_>,
    strategy: S,
    features: Option<Box<dyn FeatureSource>>,
    sink: Option<Box<dyn StepSink>>,
) -> Result<BacktestOutcome> {
    let parts = Parts { features, sink };
    match replay {
        Replay::Bars(data) => replay_bars(spec, data, strategy, parts),
        Replay::Merged {
            merger,
            instruments,
            steps_hint,
        } => replay_merged(spec, instruments, merger, strategy, parts, steps_hint),
        Replay::Ticks {
            events,
            instruments,
            bars,
        } => replay_ticks(spec, instruments, events, strategy, parts, bars),
    }
}

/// Runs `strategy` over `data` as [`backtest`] does, without features.
///
/// # Errors
/// The strategy's error, if any.
pub fn run_backtest<S: Strategy>(
    spec: &EngineSpec,
    data: &[BarSeries],
    strategy: S,
) -> Result<BacktestOutcome> {
    backtest(spec, Replay::Bars(data), strategy, None)
}

/// What a backtest's engine is given besides its strategy.
struct Parts {
    features: Option<Box<dyn FeatureSource>>,
    sink: Option<Box<dyn StepSink>>,
}

impl Parts {
    fn attach<S: Strategy>(self, mut engine: Engine<S>) -> Engine<S> {
        if let Some(features) = self.features {
            engine = engine.with_features(features);
        }
        if let Some(sink) = self.sink {
            engine = engine.with_sink(sink);
        }
        engine
    }
}

fn replay_ticks<S: Strategy>(
    spec: &EngineSpec,
    instruments: Vec<InstrumentId>,
    events: &[MarketEvent],
    strategy: S,
    parts: Parts,
    bars: Option<BarRule>,
) -> Result<BacktestOutcome> {
    let steps = check_ticks(events, instruments.len())?;
    let n = instruments.len();
    let mut engine = parts.attach(Engine::new(spec.clone(), instruments, strategy, steps));
    let mut resamplers = match bars {
        Some(rule) => (0..n)
            .map(|_| Resampler::try_new(rule))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Feature {
                ts: events.first().map_or(Timestamp(0), |e| e.ts_event),
                source: Box::new(e),
            })?,
        None => Vec::new(),
    };
    for (i, event) in events.iter().enumerate() {
        if let (MarketKind::Trade(trade), Some(resampler)) =
            (&event.kind, resamplers.get_mut(event.instrument.get()))
        {
            let bar = resampler
                .push_trade(event.ts_event, trade)
                .map_err(|e| Error::Feature {
                    ts: event.ts_event,
                    source: Box::new(e),
                })?;
            if let Some(bar) = bar {
                engine.on_tick_bar(event.instrument, event.ts_event, &bar)?;
            }
        }
        engine.on_event(event)?;
        let ts = event.ts_event;
        if events.get(i + 1).is_none_or(|next| next.ts_event != ts) {
            engine.end_step(ts)?;
        }
    }
    Ok(engine.finish())
}

/// Checks that a tick stream is sorted and names only known instruments; returns the number of
/// distinct timestamps (the length of the equity curve).
fn check_ticks(events: &[MarketEvent], instruments: usize) -> Result<usize> {
    let mut steps = 0;
    let mut previous: Option<&MarketEvent> = None;
    for (index, event) in events.iter().enumerate() {
        let (ts, instrument) = (event.ts_event, event.instrument);
        if instrument.get() >= instruments {
            return Err(Error::UnknownInstrument {
                index,
                ts,
                instrument,
                instruments,
            });
        }
        if matches!(event.kind, MarketKind::Bar(_)) {
            return Err(Error::BarInTicks { index, ts });
        }
        match previous {
            Some(prev) if (ts, instrument) < (prev.ts_event, prev.instrument) => {
                return Err(Error::OutOfOrder {
                    index,
                    ts,
                    instrument,
                    previous_ts: prev.ts_event,
                    previous_instrument: prev.instrument,
                });
            }
            Some(prev) if ts == prev.ts_event => {}
            _ => steps += 1,
        }
        previous = Some(event);
    }
    Ok(steps)
}

fn replay_bars<S: Strategy>(
    spec: &EngineSpec,
    data: &[BarSeries],
    strategy: S,
    parts: Parts,
) -> Result<BacktestOutcome> {
    let instruments = data.iter().map(|s| s.instrument.clone()).collect();
    let longest = data.iter().map(BarSeries::len).max().unwrap_or(0);
    let mut engine = parts.attach(Engine::new(spec.clone(), instruments, strategy, longest));
    if let [series] = data {
        // One instrument: every bar is its own time step, no merge needed.
        for bar in &series.bars {
            engine.on_bar(InstrumentIdx(0), bar)?;
            engine.end_step(bar.ts)?;
        }
        return Ok(engine.finish());
    }
    let mut cursors = vec![0usize; data.len()];
    let mut heap = BinaryHeap::with_capacity(data.len());
    for (i, series) in data.iter().enumerate() {
        if let Some(bar) = series.bars.first() {
            heap.push(Reverse((bar.ts, i as u32)));
        }
    }
    // The bars of one time step, gathered so features can be computed for all at once.
    let mut step: Vec<(InstrumentIdx, Bar)> = Vec::with_capacity(data.len());
    while let Some(Reverse((ts, i))) = heap.pop() {
        let idx = i as usize;
        step.push((InstrumentIdx(i), data[idx].bars[cursors[idx]]));
        cursors[idx] += 1;
        if let Some(next) = data[idx].bars.get(cursors[idx]) {
            heap.push(Reverse((next.ts, i)));
        }
        if heap
            .peek()
            .is_none_or(|Reverse((next_ts, _))| *next_ts != ts)
        {
            engine.on_step(&step)?;
            step.clear();
            engine.end_step(ts)?;
        }
    }
    Ok(engine.finish())
}

fn replay_merged<S: Strategy>(
    spec: &EngineSpec,
    instruments: Vec<InstrumentId>,
    merger: &mut StepMerger,
    strategy: S,
    parts: Parts,
    steps_hint: usize,
) -> Result<BacktestOutcome> {
    let mut engine = parts.attach(Engine::new(spec.clone(), instruments, strategy, steps_hint));
    let mut step = Vec::with_capacity(merger.instruments());
    let mut processed = 0;
    while let Some(ts) = merger.next_step(&mut step).map_err(|source| Error::Data {
        processed,
        source: Box::new(source),
    })? {
        engine.on_step(&step)?;
        engine.end_step(ts)?;
        processed += 1;
    }
    Ok(engine.finish())
}
