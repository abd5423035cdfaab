//! `rules`: a strategy written in the config, as conditions and prices over features.
//!
//! ```toml
//! [strategy]
//! name = "rules"
//! [strategy.params]
//! entry_long = "crosses_above(sma_fast, sma_slow) and rsi < 70"
//! exit_long  = "crosses_below(sma_fast, sma_slow) or bars_held >= 50"
//! stop_loss  = "2 * atr"
//! ```
//!
//! Each bar, per instrument, with every rule evaluated at that bar's close:
//!
//! - **Flat**: `entry_long` true buys (`entry_short` true sells short; long wins a tie). A
//!   market entry goes to the next bar's open, sized by `[sizing]`, unless an entry is already
//!   working. A limit entry rests at `entry_price`, re-quoted every bar while its rule holds and
//!   canceled when the rule is false.
//! - **Long** (short mirrors): `exit_long` true closes the position, at the next open
//!   (`exit_order = "market"`, canceling the bracket) or with a limit at `exit_price`
//!   re-quoted every bar while the rule holds.
//! - `stop_loss` and `take_profit` are distances from the entry price (the limit, or the
//!   deciding bar's close for a market entry) and become the entry's bracket; `trailing_stop`
//!   is a stop at the close minus the distance (plus, when short), re-evaluated every bar and
//!   moved only in the position's favour.
//! - A value that is not ready (a feature warming up) makes a rule unknown, and an unknown rule
//!   changes nothing: it neither acts nor cancels.

mod lang;
mod program;

#[cfg(test)]
mod tests;

use crate::custom::ParamDoc;
use crate::state_for;
use engine::{
    Bracket, Ctx, EngineEvent, Intents, OrderKind, OrderRequest, RangeError, Size, Strategy,
    StrategyError,
};
use features::PipelineSpec;
use market_data::{Bar, InstrumentIdx, Price, Side};
use program::{Chain, Inputs, Names, Program, Root};
use serde::{Deserialize, Serialize};

pub use lang::SyntaxError;
pub use program::Truth;

/// What `quant strategies` says about it.
pub const ABOUT: &str =
    "Entries, exits, stops and limit prices written as expressions over features (README: rules)";

/// Its parameters, as `quant strategies` lists them.
pub const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "entry_long",
        ty: "condition",
        default: None,
        example: Some(r#""crosses_above(sma_fast, sma_slow) and rsi < 70""#),
        doc: "opens a long position when true (this or entry_short is required)",
    },
    ParamDoc {
        name: "exit_long",
        ty: "condition",
        default: None,
        example: Some(r#""crosses_below(sma_fast, sma_slow) or bars_held >= 50""#),
        doc: "closes a long position when true",
    },
    ParamDoc {
        name: "entry_short",
        ty: "condition",
        default: None,
        example: None,
        doc: "opens a short position when true ([broker] allow_short)",
    },
    ParamDoc {
        name: "exit_short",
        ty: "condition",
        default: None,
        example: None,
        doc: "closes a short position when true",
    },
    ParamDoc {
        name: "stop_loss",
        ty: "number",
        default: None,
        example: Some(r#""2 * atr""#),
        doc: "distance from the entry price to the bracket's stop",
    },
    ParamDoc {
        name: "take_profit",
        ty: "number",
        default: None,
        example: None,
        doc: "distance from the entry price to the bracket's take-profit",
    },
    ParamDoc {
        name: "trailing_stop",
        ty: "number",
        default: None,
        example: None,
        doc: "distance of a stop from the close, moved only in the position's favour",
    },
    ParamDoc {
        name: "entry_order",
        ty: "\"market\" | \"limit\"",
        default: Some("\"market\""),
        example: None,
        doc: "market at the next open, or a limit at entry_price",
    },
    ParamDoc {
        name: "entry_price",
        ty: "number",
        default: None,
        example: None,
        doc: "the limit price of a limit entry, re-quoted every bar",
    },
    ParamDoc {
        name: "exit_order",
        ty: "\"market\" | \"limit\"",
        default: Some("\"market\""),
        example: None,
        doc: "market at the next open, or a limit at exit_price",
    },
    ParamDoc {
        name: "rank_by",
        ty: "number",
        default: None,
        example: None,
        doc: "rotation: hold the instruments where this is highest (entry_long filters them)",
    },
    ParamDoc {
        name: "top",
        ty: "integer",
        default: None,
        example: None,
        doc: "rotation: how many instruments to hold (1 if not set)",
    },
    ParamDoc {
        name: "rebalance",
        ty: "integer | duration",
        default: None,
        example: None,
        doc: "rotation: rank again every N bars or \"1d\", \"1w\" (every bar if not set)",
    },
    ParamDoc {
        name: "exit_price",
        ty: "number",
        default: None,
        example: None,
        doc: "the limit price of a limit exit, re-quoted every bar",
    },
];

/// How an entry or exit is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// At the next bar's open.
    #[default]
    Market,
    /// Resting at a price re-evaluated every bar.
    Limit,
}

/// `[strategy.params]` of `rules`: each rule is an expression (see the module documentation).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesParams {
    /// Condition to open a long position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_long: Option<String>,
    /// Condition to close a long position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_long: Option<String>,
    /// Condition to open a short position (needs `[broker] allow_short`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_short: Option<String>,
    /// Condition to close a short position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_short: Option<String>,
    /// Distance from the entry price to the bracket's stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<String>,
    /// Distance from the entry price to the bracket's take-profit limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<String>,
    /// Distance of a trailing stop from the best close since entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_stop: Option<String>,
    /// `market` (default) or `limit` at `entry_price`.
    #[serde(default)]
    pub entry_order: OrderType,
    /// The limit price of a limit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_price: Option<String>,
    /// `market` (default) or `limit` at `exit_price`.
    #[serde(default)]
    pub exit_order: OrderType,
    /// The limit price of a limit exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_price: Option<String>,
    /// Rotation: rank the instruments by this number and hold the `top` highest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_by: Option<String>,
    /// Rotation: how many instruments to hold (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// Rotation: when to rank again, every N bars (`20`) or a duration (`"1d"`, `"1w"`);
    /// default every bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<Rebalance>,
}

/// When a rotation ranks again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rebalance {
    /// Every this many time steps.
    Bars(u64),
    /// When this much time has passed (`"1d"`, `"1w"`, `"4h"`).
    Every(String),
}

/// A rule that does not compile: the parameter, the 1-based column inside its expression, and
/// what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`strategy.params.{key}`, column {column}: expected {message}")]
pub struct RuleError {
    /// The parameter (`entry_long`, ...).
    pub key: &'static str,
    /// 1-based character column inside the expression.
    pub column: usize,
    /// What was expected, and what was found.
    pub message: String,
}

impl RulesParams {
    /// The rules with their keys, and whether each is a condition (else a number).
    fn rules(&self) -> [(&'static str, Option<&String>, bool); 10] {
        [
            ("entry_long", self.entry_long.as_ref(), true),
            ("exit_long", self.exit_long.as_ref(), true),
            ("entry_short", self.entry_short.as_ref(), true),
            ("exit_short", self.exit_short.as_ref(), true),
            ("stop_loss", self.stop_loss.as_ref(), false),
            ("take_profit", self.take_profit.as_ref(), false),
            ("trailing_stop", self.trailing_stop.as_ref(), false),
            ("entry_price", self.entry_price.as_ref(), false),
            ("exit_price", self.exit_price.as_ref(), false),
            ("rank_by", self.rank_by.as_ref(), false),
        ]
    }

    /// Checks that the rules fit together: an entry rule, and a price exactly for limit orders.
    ///
    /// # Errors
    /// Names the parameter at fault.
    pub fn validate(&self) -> Result<(), RangeError> {
        if self.rank_by.is_some() {
            return self.validate_rotation();
        }
        for (key, set) in [
            ("top", self.top.is_some()),
            ("rebalance", self.rebalance.is_some()),
        ] {
            if set {
                return Err(RangeError::new(
                    format!("strategy.params.{key}"),
                    "`rank_by` with it: it belongs to a rotation",
                ));
            }
        }
        if self.entry_long.is_none() && self.entry_short.is_none() {
            return Err(RangeError::new(
                "strategy.params.entry_long",
                "an entry rule: `entry_long`, `entry_short` or both",
            ));
        }
        for (order, price, key) in [
            (self.entry_order, &self.entry_price, "entry"),
            (self.exit_order, &self.exit_price, "exit"),
        ] {
            match (order, price) {
                (OrderType::Limit, None) => {
                    return Err(RangeError::new(
                        format!("strategy.params.{key}_price"),
                        format!("the limit price of `{key}_order = \"limit\"`"),
                    ));
                }
                (OrderType::Market, Some(_)) => {
                    return Err(RangeError::new(
                        format!("strategy.params.{key}_price"),
                        format!("no price for a market {key} (set `{key}_order = \"limit\"`)"),
                    ));
                }
                _ => {}
            }
        }
        if self.exit_order == OrderType::Limit
            && self.exit_long.is_none()
            && self.exit_short.is_none()
        {
            return Err(RangeError::new(
                "strategy.params.exit_long",
                "an exit rule for the limit exit (`exit_long = \"true\"` to always quote it)",
            ));
        }
        Ok(())
    }

    /// Checks a rotation: `top` and `rebalance` in range, and none of the rules that do not apply
    /// to it (it exits what drops out of the top, with market orders).
    fn validate_rotation(&self) -> Result<(), RangeError> {
        let key = |k: &str| format!("strategy.params.{k}");
        for (name, set) in [
            ("exit_long", self.exit_long.is_some()),
            ("entry_short", self.entry_short.is_some()),
            ("exit_short", self.exit_short.is_some()),
            ("stop_loss", self.stop_loss.is_some()),
            ("take_profit", self.take_profit.is_some()),
            ("trailing_stop", self.trailing_stop.is_some()),
            ("entry_price", self.entry_price.is_some()),
            ("exit_price", self.exit_price.is_some()),
        ] {
            if set {
                return Err(RangeError::new(
                    key(name),
                    format!(
                        "no `{name}` with `rank_by`: a rotation holds the top instruments and \
                         sells what drops out (`entry_long` may filter which are ranked)"
                    ),
                ));
            }
        }
        if self.top.is_some_and(|t| !(1..=100_000).contains(&t)) {
            return Err(RangeError::new(
                key("top"),
                format!("1 to 100000 instruments, found {}", self.top.unwrap_or(0)),
            ));
        }
        self.rebalance_every().map(|_| ())
    }

    /// Returns when a rotation ranks again.
    fn rebalance_every(&self) -> Result<Every, RangeError> {
        match &self.rebalance {
            None => Ok(Every::Steps(1)),
            Some(Rebalance::Bars(n)) if *n >= 1 => Ok(Every::Steps(*n)),
            Some(Rebalance::Every(text)) => market_data::synthetic::parse_interval(text)
                .map(Every::Nanos)
                .ok_or_else(|| {
                    RangeError::new(
                        "strategy.params.rebalance",
                        format!(
                            "a number of bars (20) or a duration (\"1d\", \"1w\", \"4h\"), \
                             found {text:?}"
                        ),
                    )
                }),
            Some(Rebalance::Bars(n)) => Err(RangeError::new(
                "strategy.params.rebalance",
                format!("at least 1 bar, found {n}"),
            )),
        }
    }

    /// Returns whether the rules are a rotation that holds several instruments (whose buys are
    /// each a share of what `[sizing]` gives one position).
    pub fn rotates_several(&self) -> bool {
        self.rank_by.is_some() && self.top.unwrap_or(1) > 1
    }

    /// Returns the text of rule `key` (`entry_long`, ...), if set.
    pub fn rule(&self, key: &str) -> Option<&str> {
        let rules = self.rules();
        let (_, text, _) = rules.iter().find(|(k, _, _)| *k == key)?;
        text.map(String::as_str)
    }

    /// Returns whether the rules open short positions.
    pub fn shorts(&self) -> bool {
        self.entry_short.is_some()
    }
}

/// Tags of the strategy's resting orders, to tell them apart in the book and in reports (market
/// orders, which never rest past the next bar, are untagged, as `sma_crossover`'s).
const ENTRY: u32 = 1;
const EXIT: u32 = 2;
const TRAIL: u32 = 3;

/// The compiled rules of one side.
#[derive(Debug, Clone, Copy)]
struct Side2 {
    entry: Option<Root>,
    exit: Option<Root>,
}

/// The conditions of one side as each bar reads them: compiled chains held here, read in place
/// (no lookup of the rule in the program).
#[derive(Debug, Clone)]
struct Conditions {
    entry: Option<Chain>,
    exit: Option<Chain>,
}

impl Conditions {
    fn of(side: Side2, program: &Program) -> Self {
        let condition = |root: Option<Root>| root.and_then(|r| program.compiled_condition(r));
        Self {
            entry: condition(side.entry),
            exit: condition(side.exit),
        }
    }
}

/// Per-instrument state.
#[derive(Debug, Clone)]
struct State {
    history: Vec<f64>,
    pushed: u64,
    bars_held: u64,
    /// The trailing stop's level (NaN when none).
    trail: f64,
    /// Rotation: the rank value at the instrument's last bar (NaN when none or filtered out).
    rank: f64,
    /// Rotation: when that bar was.
    ranked_at: market_data::Timestamp,
}

/// When a rotation ranks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    Steps(u64),
    Nanos(i64),
}

/// A rotation's compiled rule and bookkeeping.
#[derive(Debug, Clone)]
struct Rotation {
    rank: Root,
    top: usize,
    every: Every,
    /// Time steps seen, and the step and time of the last ranking.
    steps: u64,
    last: Option<(u64, market_data::Timestamp)>,
    /// Entries waiting for the sales of the last ranking to fill (bought at the next step).
    pending: Vec<InstrumentIdx>,
    /// (rank, instrument) of one ranking, reused.
    ranked: Vec<(f64, u32)>,
}

/// The strategy.
#[derive(Debug, Clone)]
pub struct Rules {
    program: Program,
    long: Side2,
    short: Side2,
    long_conditions: Conditions,
    short_conditions: Conditions,
    stop_loss: Option<Root>,
    take_profit: Option<Root>,
    trailing_stop: Option<Root>,
    entry_order: OrderType,
    entry_price: Option<Root>,
    exit_order: OrderType,
    exit_price: Option<Root>,
    rotation: Option<Rotation>,
    states: Vec<State>,
}

impl Rules {
    /// Compiles the rules against the pipeline's columns; call `params.validate()` first.
    ///
    /// # Errors
    /// The first rule that does not parse, names something unknown or mixes types, with the
    /// column inside its expression.
    pub fn new(params: &RulesParams, pipeline: &PipelineSpec) -> Result<Self, RuleError> {
        let names = Names {
            columns: pipeline.columns(),
        };
        let mut program = Program::new();
        let mut roots: [Option<Root>; 10] = [None; 10];
        for (slot, (key, text, condition)) in roots.iter_mut().zip(params.rules()) {
            let Some(text) = text else { continue };
            let fail = |e: SyntaxError| RuleError {
                key,
                column: e.column,
                message: e.message,
            };
            let ast = lang::parse(text).map_err(fail)?;
            *slot = Some(program.add(&ast, condition, &names).map_err(fail)?);
        }
        let [
            entry_long,
            exit_long,
            entry_short,
            exit_short,
            stop_loss,
            take_profit,
            trailing_stop,
            entry_price,
            exit_price,
            rank_by,
        ] = roots;
        let rotation = match rank_by {
            Some(rank) => Some(Rotation {
                rank,
                top: params.top.unwrap_or(1),
                every: params.rebalance_every().map_err(|e| RuleError {
                    key: "rebalance",
                    column: 1,
                    message: e.expected,
                })?,
                steps: 0,
                last: None,
                pending: Vec::new(),
                ranked: Vec::new(),
            }),
            None => None,
        };
        let long = Side2 {
            entry: entry_long,
            exit: exit_long,
        };
        let short = Side2 {
            entry: entry_short,
            exit: exit_short,
        };
        Ok(Self {
            rotation,
            long_conditions: Conditions::of(long, &program),
            short_conditions: Conditions::of(short, &program),
            program,
            long,
            short,
            stop_loss,
            take_profit,
            trailing_stop,
            entry_order: params.entry_order,
            entry_price,
            exit_order: params.exit_order,
            exit_price,
            states: Vec::new(),
        })
    }
}

impl Rules {
    /// Checks that every rule can have a value within `bars` bars (the longest series of a
    /// run): a rule that reads a feature still warming up at the end could never act.
    ///
    /// # Errors
    /// Names the rule, the feature, the bars it needs and the bars there are.
    pub fn check_reachable(
        params: &RulesParams,
        pipeline: &PipelineSpec,
        bars: usize,
    ) -> Result<(), RuleError> {
        let rules = Self::new(params, pipeline)?;
        let roots = [
            ("entry_long", rules.long.entry),
            ("exit_long", rules.long.exit),
            ("entry_short", rules.short.entry),
            ("exit_short", rules.short.exit),
            ("stop_loss", rules.stop_loss),
            ("take_profit", rules.take_profit),
            ("trailing_stop", rules.trailing_stop),
            ("entry_price", rules.entry_price),
            ("exit_price", rules.exit_price),
            ("rank_by", rules.rotation.as_ref().map(|r| r.rank)),
        ];
        for (key, root) in roots {
            let Some(root) = root else { continue };
            let (needed, column) = rules
                .program
                .bars_needed(root, &|c| pipeline.bars_needed(c));
            if needed > bars {
                let what = column.map_or("its history functions".to_string(), |c| {
                    format!("feature `{}`", pipeline.columns()[c])
                });
                return Err(RuleError {
                    key,
                    column: 1,
                    message: format!(
                        "a rule that can be evaluated within the data: it needs {needed} bars \
                         (through {what}) and the longest series has {bars}"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Strategy for Rules {
    fn name(&self) -> &str {
        "rules"
    }

    fn step_events(&self) -> bool {
        self.rotation.is_some()
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        // A bar, the hot case, is told apart first and alone: matched in the same function as
        // the step's end, the event's kind took a dozen instructions a bar to decode.
        match event.as_bar() {
            Some((idx, bar)) => self.on_bar(idx, bar, ctx, out),
            None => self.on_other(event, ctx, out),
        }
        Ok(())
    }
}

impl Rules {
    /// Any event but a bar: a rotation acts at the end of a time step.
    #[inline(never)]
    fn on_other(&mut self, event: &EngineEvent, ctx: &Ctx<'_>, out: &mut Intents) {
        if let EngineEvent::StepEnd(ts) = event {
            self.rotate(*ts, ctx, out);
        }
    }

    /// Records a bar of `idx` and acts on the rules it makes true.
    #[inline(always)]
    fn on_bar(&mut self, idx: InstrumentIdx, bar: &Bar, ctx: &Ctx<'_>, out: &mut Intents) {
        let state = state_for(&mut self.states, idx, || State {
            history: vec![f64::NAN; self.program.history_len()],
            pushed: 0,
            bars_held: 0,
            trail: f64::NAN,
            rank: f64::NAN,
            ranked_at: market_data::Timestamp(i64::MIN),
        });
        let position = ctx.position(idx);
        let flat = position.qty == 0.0;
        if flat {
            state.bars_held = 0;
            state.trail = f64::NAN;
        } else {
            state.bars_held += 1;
        }
        let inputs = Inputs {
            bar,
            features: ctx.features(idx),
            position,
            bars_held: state.bars_held,
            zone: ctx.timezone(),
        };
        self.program
            .record(&inputs, &mut state.history, &mut state.pushed);
        if self.rotation.is_some() {
            self.rank(idx, &inputs);
            return;
        }
        // The quiet bar (no rule acts) returns here; acting is out of line. Its rules read the
        // instrument's state found above, not looked up again.
        let truth = |rule: &Option<Chain>| match rule {
            Some(condition) => Program::test(condition, &inputs, &state.history, state.pushed),
            None => Truth::False,
        };
        if flat {
            // Long wins a tie, so the short rule is read only when long does not enter.
            let long = truth(&self.long_conditions.entry);
            if long == Truth::True {
                self.enter(idx, Side::Buy, ctx, out, &inputs);
                return;
            }
            let short = truth(&self.short_conditions.entry);
            if short == Truth::True {
                self.enter(idx, Side::Sell, ctx, out, &inputs);
                return;
            }
            // Both false cancel a resting limit entry; an unknown rule decides nothing.
            if self.entry_order == OrderType::Limit
                && (long, short) == (Truth::False, Truth::False)
                && working(ctx, idx, ENTRY)
            {
                out.cancel_all(idx);
            }
            return;
        }
        let (rules, exit_side) = if position.qty > 0.0 {
            (&self.long_conditions, Side::Sell)
        } else {
            (&self.short_conditions, Side::Buy)
        };
        // Read before the trailing stop moves, which changes nothing a rule reads.
        let exit = truth(&rules.exit);
        if self.trailing_stop.is_some() {
            self.trail(idx, bar.close, exit_side, ctx, out, &inputs);
        }
        if exit != Truth::True && self.exit_order == OrderType::Market {
            return;
        }
        self.exit(idx, exit, exit_side, ctx, out, &inputs);
    }
}

/// Returns whether an order tagged `tag` is working for `idx`.
fn working(ctx: &Ctx<'_>, idx: InstrumentIdx, tag: u32) -> bool {
    ctx.open_orders(idx).iter().any(|o| o.request.tag == tag)
}

/// Returns whether a market order is still working: an entry or exit sent on the last bar, not
/// yet filled. Looked at only when a rule acts: the book is not read on quiet bars.
fn in_flight(ctx: &Ctx<'_>, idx: InstrumentIdx) -> bool {
    ctx.open_orders(idx)
        .iter()
        .any(|o| matches!(o.request.kind, OrderKind::Market))
}

impl Rules {
    /// A condition's truth for `idx` at the bar last recorded (false when the rule is not set).
    fn truth(&self, rule: Option<Root>, idx: InstrumentIdx, inputs: &Inputs<'_>) -> Truth {
        let Some(rule) = rule else {
            return Truth::False;
        };
        let state = &self.states[idx.get()];
        self.program
            .truth(rule, inputs, &state.history, state.pushed)
    }

    /// A price or distance for `idx`: a positive finite number, or none (not ready or
    /// nonsensical).
    fn amount(&self, rule: Option<Root>, idx: InstrumentIdx, inputs: &Inputs<'_>) -> Option<f64> {
        let state = &self.states[idx.get()];
        rule.map(|r| self.program.value(r, inputs, &state.history, state.pushed))
            .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Rotation: records the instrument's rank value for the ranking at the step's end;
    /// `entry_long`, if set, decides which may be ranked.
    #[inline(never)]
    fn rank(&mut self, idx: InstrumentIdx, inputs: &Inputs<'_>) {
        let Some(rotation) = &self.rotation else {
            return;
        };
        let eligible =
            self.long.entry.is_none() || self.truth(self.long.entry, idx, inputs) == Truth::True;
        let state = &self.states[idx.get()];
        let rank = self
            .program
            .value(rotation.rank, inputs, &state.history, state.pushed);
        let state = &mut self.states[idx.get()];
        state.rank = if eligible { rank } else { f64::NAN };
        state.ranked_at = inputs.bar.ts;
    }

    /// Opens a position on `side`: a market order (unless one is in flight) or a limit at
    /// `entry_price`, with its bracket.
    #[inline(never)]
    fn enter(
        &self,
        idx: InstrumentIdx,
        side: Side,
        ctx: &Ctx<'_>,
        out: &mut Intents,
        inputs: &Inputs<'_>,
    ) {
        let reference = match self.entry_order {
            OrderType::Market if in_flight(ctx, idx) => return,
            OrderType::Market => inputs.bar.close,
            OrderType::Limit => match self.amount(self.entry_price, idx, inputs) {
                Some(price) => price,
                None => return,
            },
        };
        // Exits are distances on the side the position would lose or win.
        let sign = side.sign();
        let level = |distance: Option<f64>| {
            distance
                .map(|d| reference + sign * d)
                .filter(|v| *v > 0.0)
                .map(Price)
        };
        let bracket = Bracket {
            stop_loss: level(self.amount(self.stop_loss, idx, inputs).map(|d| -d)),
            take_profit: level(self.amount(self.take_profit, idx, inputs)),
        };
        let order = match self.entry_order {
            OrderType::Market => OrderRequest::market(idx, side, Size::Auto),
            OrderType::Limit => {
                OrderRequest::limit(idx, side, Size::Auto, Price(reference)).with_tag(ENTRY)
            }
        };
        out.cancel_all(idx);
        out.submit(order.with_bracket(bracket));
    }

    /// Acts on the exit rule of an open position: a market close when it holds, or a limit at
    /// `exit_price` re-quoted while it holds and canceled when it does not.
    #[inline(never)]
    fn exit(
        &self,
        idx: InstrumentIdx,
        exit: Truth,
        exit_side: Side,
        ctx: &Ctx<'_>,
        out: &mut Intents,
        inputs: &Inputs<'_>,
    ) {
        let cancel_exits = |out: &mut Intents| {
            for order in ctx
                .open_orders(idx)
                .iter()
                .filter(|o| o.request.tag == EXIT)
            {
                out.cancel(order.id);
            }
        };
        match (exit, self.exit_order) {
            (Truth::True, OrderType::Market) if !in_flight(ctx, idx) => {
                out.cancel_all(idx);
                let close = OrderRequest::market(idx, exit_side, Size::ClosePosition);
                out.submit(close.reduce_only());
            }
            (Truth::True, OrderType::Limit) => {
                if let Some(price) = self.amount(self.exit_price, idx, inputs) {
                    cancel_exits(out);
                    let limit =
                        OrderRequest::limit(idx, exit_side, Size::ClosePosition, Price(price));
                    out.submit(limit.reduce_only().with_tag(EXIT));
                }
            }
            (Truth::False, OrderType::Limit) => cancel_exits(out),
            _ => {}
        }
    }
}

impl Rules {
    /// At the end of a time step: buys what the last ranking chose once its sales are in, and
    /// ranks again when due, selling what dropped out of the top and buying what came in (each
    /// new holding sized at 1/top of what `[sizing]` gives one position; holdings that stay
    /// are kept as they are).
    fn rotate(&mut self, ts: market_data::Timestamp, ctx: &Ctx<'_>, out: &mut Intents) {
        let Some(rotation) = self.rotation.as_mut() else {
            return;
        };
        rotation.steps += 1;
        let share = 1.0 / rotation.top as f64;
        let buy = |idx: InstrumentIdx, out: &mut Intents| {
            if ctx.qty(idx) == 0.0 && ctx.open_orders(idx).is_empty() {
                out.submit(OrderRequest::market(idx, Side::Buy, Size::Scaled(share)));
            }
        };
        for idx in rotation.pending.drain(..) {
            buy(idx, out);
        }
        let due = match (rotation.last, rotation.every) {
            (None, _) => true,
            (Some((step, _)), Every::Steps(n)) => rotation.steps - step >= n,
            (Some((_, at)), Every::Nanos(n)) => ts.0.saturating_sub(at.0) >= n,
        };
        if !due {
            return;
        }
        rotation.ranked.clear();
        rotation.ranked.extend(
            self.states
                .iter()
                .enumerate()
                .filter(|(_, s)| s.ranked_at == ts && !s.rank.is_nan())
                .map(|(i, s)| (s.rank, i as u32)),
        );
        if rotation.ranked.is_empty() {
            return; // nothing ranked yet (warming up): try again next step
        }
        rotation.last = Some((rotation.steps, ts));
        // Highest first; ties to the lower instrument index, so runs are deterministic.
        rotation
            .ranked
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        rotation.ranked.truncate(rotation.top);
        let chosen = |i: usize| rotation.ranked.iter().any(|&(_, j)| j as usize == i);
        let mut sold = false;
        for i in 0..self.states.len() {
            let idx = InstrumentIdx(i as u32);
            // A holding without a bar this step is kept: there is nothing new to rank it by.
            if ctx.qty(idx) != 0.0 && !chosen(i) && self.states[i].ranked_at == ts {
                out.cancel_all(idx);
                let close = OrderRequest::market(idx, Side::Sell, Size::ClosePosition);
                out.submit(close.reduce_only());
                sold = true;
            }
        }
        for &(_, i) in &rotation.ranked {
            let idx = InstrumentIdx(i);
            if sold {
                // Bought once the sales have filled, with their cash.
                rotation.pending.push(idx);
            } else {
                buy(idx, out);
            }
        }
    }

    /// Moves the trailing stop of an open position in its favour: `trailing_stop` below the best
    /// close since entry when long (above when short).
    fn trail(
        &mut self,
        idx: InstrumentIdx,
        close: f64,
        exit_side: Side,
        ctx: &Ctx<'_>,
        out: &mut Intents,
        inputs: &Inputs<'_>,
    ) {
        let Some(rule) = self.trailing_stop else {
            return;
        };
        let state = &mut self.states[idx.get()];
        let distance = self
            .program
            .value(rule, inputs, &state.history, state.pushed);
        if !(distance.is_finite() && distance > 0.0) {
            return;
        }
        // Exiting with a sell protects a long: the stop sits below and only rises.
        let (level, better) = if exit_side == Side::Sell {
            (
                close - distance,
                state.trail.is_nan() || close - distance > state.trail,
            )
        } else {
            (
                close + distance,
                state.trail.is_nan() || close + distance < state.trail,
            )
        };
        if !better || level <= 0.0 {
            return;
        }
        state.trail = level;
        for order in ctx
            .open_orders(idx)
            .iter()
            .filter(|o| o.request.tag == TRAIL)
        {
            out.cancel(order.id);
        }
        let stop = OrderRequest::stop(idx, exit_side, Size::ClosePosition, Price(level));
        out.submit(stop.reduce_only().with_tag(TRAIL));
    }
}
