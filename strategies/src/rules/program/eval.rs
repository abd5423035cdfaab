//! Evaluation: each compiled expression becomes a tree of closures, built once, so a bar runs
//! only the code its rule needs. Leaves (a feature column, a constant, a bar field) are read
//! inside their parent's closure, without a call; a comparison's operator and a crossover's
//! rings are fixed when it is built. A chain of `and` (or of `or`) is one closure over a list
//! whose crossovers and comparisons are read in place. A rule's own condition is such a chain
//! (a single condition is a chain of one), read in place by the strategy: a rule costs a call only
//! per `not` or other computed operand, far fewer instructions per bar than walking the node
//! list, which the benchmark `quant bench loop` measures.

use super::{BinOp, Field, Inputs, Node, Program, Truth, Window};
use std::sync::Arc;

/// What a rule reads at one bar: the inputs and one instrument's history rings.
pub(super) struct Env<'a> {
    pub(super) inputs: &'a Inputs<'a>,
    pub(super) history: &'a [f64],
    /// Bars recorded into the rings, this one included.
    pub(super) pushed: u64,
}

/// Where a series' ring lies in an instrument's history buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ring {
    pub(super) offset: usize,
    /// The ring's size (a power of two) less one.
    pub(super) mask: usize,
}

impl Env<'_> {
    /// The value `back` bars before the newest of a ring.
    ///
    /// No test of how many bars were recorded: compiling sized every ring beyond the furthest
    /// read back (`back < len <= ring size`), and a ring starts all NaN, so a read further back
    /// than the bars recorded wraps to a slot not yet written.
    #[inline(always)]
    fn ring(&self, ring: Ring, back: usize) -> f64 {
        let slot = (self.pushed as usize).wrapping_sub(1 + back) & ring.mask;
        self.history[ring.offset + slot]
    }

    /// The newest and the previous value of a ring of two (mask 1): one bounds check for both,
    /// the slots the newest's parity and its complement.
    #[inline(always)]
    fn pair(&self, offset: usize) -> (f64, f64) {
        let newest = (self.pushed as usize).wrapping_sub(1) & 1;
        let pair = &self.history[offset..offset + 2];
        (pair[newest], pair[newest ^ 1])
    }

    #[inline(always)]
    fn column(&self, column: usize) -> f64 {
        self.inputs
            .features
            .get(column)
            .copied()
            .unwrap_or(f64::NAN)
    }

    #[inline(always)]
    fn field(&self, field: Field) -> f64 {
        let inp = self.inputs;
        match field {
            Field::Open => inp.bar.open,
            Field::High => inp.bar.high,
            Field::Low => inp.bar.low,
            Field::Close => inp.bar.close,
            Field::Volume => inp.bar.volume,
            Field::Position => inp.position.qty,
            Field::EntryPrice => inp.entry_price(),
            Field::BarsHeld => inp.bars_held as f64,
            Field::UnrealizedPnl => inp.position.unrealized(),
            Field::Hour => inp.calendar()[0],
            Field::Minute => inp.calendar()[1],
            Field::Weekday => inp.calendar()[2],
            Field::Day => inp.calendar()[3],
            Field::Month => inp.calendar()[4],
        }
    }
}

/// A compiled number (NaN when not ready).
pub(super) type NumFn = Arc<dyn Fn(&Env<'_>) -> f64 + Send + Sync>;
/// A compiled condition.
pub(super) type CondFn = Arc<dyn Fn(&Env<'_>) -> Truth + Send + Sync>;

fn num(f: impl Fn(&Env<'_>) -> f64 + Send + Sync + 'static) -> NumFn {
    Arc::new(f)
}

fn cond(f: impl Fn(&Env<'_>) -> Truth + Send + Sync + 'static) -> CondFn {
    Arc::new(f)
}

/// A number as its parent reads it: a leaf in place, anything else through its closure.
#[derive(Clone)]
enum Operand {
    Const(f64),
    Column(usize),
    Field(Field),
    Computed(NumFn),
}

impl Operand {
    #[inline(always)]
    fn get(&self, env: &Env<'_>) -> f64 {
        match self {
            Operand::Column(c) => env.column(*c),
            Operand::Const(x) => *x,
            Operand::Field(f) => env.field(*f),
            Operand::Computed(f) => f(env),
        }
    }
}

/// A condition as its parent (`and`, `or`) reads it: a crossover or a comparison in place,
/// anything else through its closure.
#[derive(Clone)]
enum Condition {
    /// A crossover whose two series keep only the two values it reads (the common case: no
    /// other function reads them further back), each side a ring of two at these offsets.
    CrossPairs {
        above: bool,
        a: usize,
        b: usize,
    },
    Cross {
        above: bool,
        a: Ring,
        b: Ring,
    },
    Compare(BinOp, Operand, Operand),
    Computed(CondFn),
}

impl Condition {
    #[inline(always)]
    fn get(&self, env: &Env<'_>) -> Truth {
        match self {
            Condition::CrossPairs { above, a, b } => {
                let ((a0, a1), (b0, b1)) = (env.pair(*a), env.pair(*b));
                crossing(*above, [a0, a1, b0, b1])
            }
            Condition::Cross { above, a, b } => cross(env, *above, *a, *b),
            Condition::Compare(op, a, b) => {
                let (a, b) = (a.get(env), b.get(env));
                if a.is_nan() || b.is_nan() {
                    return Truth::Unknown;
                }
                Truth::of(match op {
                    BinOp::Lt => a < b,
                    BinOp::Le => a <= b,
                    BinOp::Gt => a > b,
                    BinOp::Ge => a >= b,
                    BinOp::Eq => a == b,
                    _ => a != b,
                })
            }
            Condition::Computed(f) => f(env),
        }
    }
}

/// A chain of `and` or of `or`, its operands read in order until one decides it.
#[derive(Clone)]
pub(crate) struct Chain {
    /// The truth that ends the chain: false for `and`, true for `or`.
    decisive: Truth,
    /// Its truth when no operand is decisive or unknown.
    otherwise: Truth,
    /// The first operand, read before the loop over the others: on most bars it decides the
    /// chain alone (a crossover that did not happen), and the loop is then not even set up.
    first: Condition,
    rest: Box<[Condition]>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("decisive", &self.decisive)
            .field("parts", &(1 + self.rest.len()))
            .finish()
    }
}

impl Chain {
    /// Kleene logic: `false and unknown` is false, `true or unknown` is true.
    #[inline(always)]
    pub(super) fn get(&self, env: &Env<'_>) -> Truth {
        let mut result = match self.first.get(env) {
            Truth::Unknown => Truth::Unknown,
            t if t == self.decisive => return t,
            _ => self.otherwise,
        };
        for part in &self.rest {
            match part.get(env) {
                Truth::Unknown => result = Truth::Unknown,
                t if t == self.decisive => return t,
                _ => {}
            }
        }
        result
    }
}

/// A crossover over two rings of any size. Out of line: inlined, its ring arithmetic was
/// hoisted ahead of every chain's loop, a cost on each bar for chains that never read it.
#[inline(never)]
fn cross(e: &Env<'_>, above: bool, ra: Ring, rb: Ring) -> Truth {
    crossing(
        above,
        [e.ring(ra, 0), e.ring(ra, 1), e.ring(rb, 0), e.ring(rb, 1)],
    )
}

/// The reference crossover over the newest and previous values of its sides, `[a0, a1, b0, b1]`:
/// `a[t-1] <= b[t-1] and a[t] > b[t]` (below mirrors); unknown while any of the four is not
/// ready.
#[inline(always)]
fn crossing(above: bool, [a0, a1, b0, b1]: [f64; 4]) -> Truth {
    if a0.is_nan() || a1.is_nan() || b0.is_nan() || b1.is_nan() {
        return Truth::Unknown;
    }
    Truth::of(if above {
        a1 <= b1 && a0 > b0
    } else {
        a1 >= b1 && a0 < b0
    })
}

impl Program {
    fn ring(&self, series: u32) -> Ring {
        let s = &self.series[series as usize];
        Ring {
            offset: s.offset,
            mask: s.mask,
        }
    }

    fn operand(&self, at: u32) -> Operand {
        match self.nodes[at as usize] {
            Node::Const(x) => Operand::Const(x),
            Node::Column(c) => Operand::Column(c),
            Node::Field(f) => Operand::Field(f),
            _ => Operand::Computed(self.number_fn(at)),
        }
    }

    /// Builds the closure of number node `at`.
    pub(super) fn number_fn(&self, at: u32) -> NumFn {
        match self.nodes[at as usize] {
            Node::Const(_) | Node::Column(_) | Node::Field(_) => {
                let x = self.operand(at);
                num(move |e| x.get(e))
            }
            Node::Neg(a) => {
                let a = self.operand(a);
                num(move |e| -a.get(e))
            }
            Node::Abs(a) => {
                let a = self.operand(a);
                num(move |e| a.get(e).abs())
            }
            Node::Arith(op, a, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                match op {
                    BinOp::Add => num(move |e| a.get(e) + b.get(e)),
                    BinOp::Sub => num(move |e| a.get(e) - b.get(e)),
                    BinOp::Mul => num(move |e| a.get(e) * b.get(e)),
                    // A division by zero has no value: not ready, rather than infinite.
                    _ => num(move |e| {
                        let (a, b) = (a.get(e), b.get(e));
                        if b == 0.0 { f64::NAN } else { a / b }
                    }),
                }
            }
            Node::Min(a, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                num(move |e| nan_or(a.get(e), b.get(e), f64::min))
            }
            Node::Max(a, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                num(move |e| nan_or(a.get(e), b.get(e), f64::max))
            }
            Node::Window(kind, s, n) => {
                let ring = self.ring(s);
                match kind {
                    Window::Lag => num(move |e| e.ring(ring, n)),
                    Window::Highest => extreme(ring, n, f64::max),
                    Window::Lowest => extreme(ring, n, f64::min),
                    Window::Rising | Window::Falling => num(|_| f64::NAN),
                }
            }
            // Conditions are never read as numbers: compiling checked the types.
            Node::Truth(_)
            | Node::Compare(..)
            | Node::And(..)
            | Node::Or(..)
            | Node::Not(_)
            | Node::Cross(..) => num(|_| f64::NAN),
        }
    }

    fn condition(&self, at: u32) -> Condition {
        match self.nodes[at as usize] {
            Node::Cross(above, a, b) => match (self.ring(a), self.ring(b)) {
                (a, b) if a.mask == 1 && b.mask == 1 => Condition::CrossPairs {
                    above,
                    a: a.offset,
                    b: b.offset,
                },
                (a, b) => Condition::Cross { above, a, b },
            },
            Node::Compare(op, a, b) => Condition::Compare(op, self.operand(a), self.operand(b)),
            _ => Condition::Computed(self.condition_fn(at)),
        }
    }

    /// The operands of a chain of `and` (`all`) or of `or`, flattened: `a and b and c` is one
    /// list, read in one call rather than one per `and`.
    fn operands(&self, at: u32, all: bool, out: &mut Vec<Condition>) {
        match self.nodes[at as usize] {
            Node::And(a, b) if all => {
                self.operands(a, all, out);
                self.operands(b, all, out);
            }
            Node::Or(a, b) if !all => {
                self.operands(a, all, out);
                self.operands(b, all, out);
            }
            _ => out.push(self.condition(at)),
        }
    }

    /// The chain of condition node `at`: its `and` or `or` operands, or itself alone.
    pub(super) fn chain(&self, at: u32) -> Chain {
        // `and` stops at the first false; `or` at the first true. One condition alone is an `and`
        // of one part.
        let (all, decisive, otherwise) = match self.nodes[at as usize] {
            Node::Or(..) => (false, Truth::True, Truth::False),
            _ => (true, Truth::False, Truth::True),
        };
        let mut parts = Vec::new();
        self.operands(at, all, &mut parts);
        // `operands` gives at least the node itself.
        let first = parts.remove(0);
        Chain {
            decisive,
            otherwise,
            first,
            rest: parts.into(),
        }
    }

    /// Builds the closure of condition node `at`.
    fn condition_fn(&self, at: u32) -> CondFn {
        match self.nodes[at as usize] {
            Node::Truth(b) => {
                let t = Truth::of(b);
                cond(move |_| t)
            }
            Node::Compare(op, a, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                match op {
                    BinOp::Lt => compare(a, b, |x, y| x < y),
                    BinOp::Le => compare(a, b, |x, y| x <= y),
                    BinOp::Gt => compare(a, b, |x, y| x > y),
                    BinOp::Ge => compare(a, b, |x, y| x >= y),
                    BinOp::Eq => compare(a, b, |x, y| x == y),
                    _ => compare(a, b, |x, y| x != y),
                }
            }
            Node::And(..) | Node::Or(..) => {
                let chain = self.chain(at);
                cond(move |e| chain.get(e))
            }
            Node::Not(a) => {
                let a = self.condition_fn(a);
                cond(move |e| match a(e) {
                    Truth::True => Truth::False,
                    Truth::False => Truth::True,
                    Truth::Unknown => Truth::Unknown,
                })
            }
            Node::Window(kind, s, n) => {
                // rising(x, n): x is above each of its n previous values (falling: below).
                let ring = self.ring(s);
                let rising = kind == Window::Rising;
                cond(move |e| {
                    let now = e.ring(ring, 0);
                    let mut truth = Truth::True;
                    for k in 1..=n {
                        let then = e.ring(ring, k);
                        if now.is_nan() || then.is_nan() {
                            return Truth::Unknown;
                        }
                        if !(if rising { now > then } else { now < then }) {
                            truth = Truth::False;
                        }
                    }
                    truth
                })
            }
            Node::Cross(above, a, b) => {
                let (ra, rb) = (self.ring(a), self.ring(b));
                cond(move |e| cross(e, above, ra, rb))
            }
            // Numbers are never read as conditions: compiling checked the types.
            _ => cond(|_| Truth::Unknown),
        }
    }
}

/// The highest (`pick` = max) or lowest of the last `n` values of a ring, NaN when one is.
fn extreme(ring: Ring, n: usize, pick: impl Fn(f64, f64) -> f64 + Send + Sync + 'static) -> NumFn {
    num(move |e| {
        (1..n).fold(e.ring(ring, 0), |best, k| {
            let v = e.ring(ring, k);
            if best.is_nan() || v.is_nan() {
                f64::NAN
            } else {
                pick(best, v)
            }
        })
    })
}

/// A comparison, unknown when either side is not ready.
fn compare(
    a: Operand,
    b: Operand,
    holds: impl Fn(f64, f64) -> bool + Send + Sync + 'static,
) -> CondFn {
    cond(move |e| {
        let (a, b) = (a.get(e), b.get(e));
        if a.is_nan() || b.is_nan() {
            Truth::Unknown
        } else {
            Truth::of(holds(a, b))
        }
    })
}

/// `f(a, b)`, or NaN when either is NaN (`f64::min` and `max` would ignore a NaN).
#[inline]
fn nan_or(a: f64, b: f64, f: fn(f64, f64) -> f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        f(a, b)
    }
}
