//! Rules compiled to a typed program over column indices, and its evaluation bar by bar.
//!
//! Compiling resolves every name once (a feature column, a bar field, a position or time value),
//! checks types (a number where a number is needed, a truth value where a condition is), and
//! gives each history function (`lag`, `highest`, `crosses_above`, ...) ring buffers of fixed
//! size. Evaluating then reads slices and rings: no strings, no lookups, no allocation.
//!
//! A value that is not ready is NaN; a condition over one is [`Truth::Unknown`] (Kleene logic:
//! `false and unknown` is false, `true or unknown` is true, `not unknown` is unknown), and only a
//! `True` rule acts.

mod eval;

use super::lang::{Ast, AstKind, BinOp, SyntaxError};
use engine::Position;
pub(crate) use eval::Chain;
use eval::{Env, NumFn, Ring};
use market_data::{Bar, Zone};

/// The truth of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Holds.
    True,
    /// Does not hold.
    False,
    /// A value it reads is not ready.
    Unknown,
}

impl Truth {
    fn of(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }
}

/// What the program reads besides feature columns, for one instrument at one bar. Position and
/// time values are derived only when a rule reads them, so a bar that reads none pays nothing
/// for them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) bar: &'a Bar,
    pub(crate) features: &'a [f64],
    pub(crate) position: &'a Position,
    /// Bars seen with the position open, this one included (0 when flat); made a number only
    /// when a rule reads it.
    pub(crate) bars_held: u64,
    /// The zone `hour`, `minute`, `weekday`, `day` and `month` are read in.
    pub(crate) zone: Zone,
}

impl Inputs<'_> {
    /// Average entry price (NaN when flat).
    pub(crate) fn entry_price(&self) -> f64 {
        if self.position.qty == 0.0 {
            f64::NAN
        } else {
            self.position.avg_price
        }
    }

    /// Hour, minute, weekday (Monday 0), day and month of the bar in the zone.
    #[inline(never)]
    pub(crate) fn calendar(&self) -> [f64; 5] {
        let t = self.zone.local(self.bar.ts);
        [t.hour, t.minute, t.weekday, t.day, t.month].map(f64::from)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
    Position,
    EntryPrice,
    BarsHeld,
    UnrealizedPnl,
    Hour,
    Minute,
    Weekday,
    Day,
    Month,
}

const FIELDS: &[(&str, Field)] = &[
    ("open", Field::Open),
    ("high", Field::High),
    ("low", Field::Low),
    ("close", Field::Close),
    ("volume", Field::Volume),
    ("position", Field::Position),
    ("entry_price", Field::EntryPrice),
    ("bars_held", Field::BarsHeld),
    ("unrealized_pnl", Field::UnrealizedPnl),
    ("hour", Field::Hour),
    ("minute", Field::Minute),
    ("weekday", Field::Weekday),
    ("day", Field::Day),
    ("month", Field::Month),
];

/// A history function over one series: the value `n` bars ago, or over the last `n` bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Lag,
    Highest,
    Lowest,
    Rising,
    Falling,
}

/// One node of the program; children are indices into the program's node list. Equal nodes
/// are stored once, so a subexpression written twice is one node (and one series).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    Const(f64),
    Truth(bool),
    Column(usize),
    Field(Field),
    Neg(u32),
    Arith(BinOp, u32, u32),
    Abs(u32),
    Min(u32, u32),
    Max(u32, u32),
    Compare(BinOp, u32, u32),
    And(u32, u32),
    Or(u32, u32),
    Not(u32),
    /// A history function over series `series` with window `n`.
    Window(Window, u32, usize),
    /// `crosses_above` (true) or `crosses_below` over two series.
    Cross(bool, u32, u32),
}

/// A series whose recent values a history function reads: its argument, and how many values
/// are read back.
#[derive(Debug, Clone, Copy)]
struct Series {
    node: u32,
    len: usize,
    /// Its ring holds the next power of two of `len` values, so a slot is a mask, not a
    /// division: this is the ring's size less one.
    mask: usize,
    /// Offset of its ring in an instrument's history buffer.
    offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Number,
    Condition,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Number => "a number",
            Type::Condition => "a condition",
        }
    }
}

/// Compiled rules.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    nodes: Vec<Node>,
    series: Vec<Series>,
    history_len: usize,
    /// The node and type of each root, in the order added.
    roots: Vec<(u32, Type)>,
    /// What runs each bar, rebuilt whenever a rule is added (a shared ring may have moved).
    run: Compiled,
}

/// The closures of a program: each root's, and each series' recorders.
#[derive(Clone, Default)]
struct Compiled {
    /// Per root: its condition, read in place (no call), or its number.
    roots: Vec<Result<Chain, NumFn>>,
    /// The series of plain feature columns: (column, ring), recorded without a closure.
    column_rings: Vec<(usize, Ring)>,
    /// The other series (computed values), in compile order: an inner series before the outer
    /// one that reads it.
    computed: Vec<(NumFn, Ring)>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("roots", &self.roots.len())
            .field("column_rings", &self.column_rings)
            .field("computed", &self.computed.len())
            .finish()
    }
}

/// An expression's root in a [`Program`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Root(u32);

/// The names a rule may read.
pub(crate) struct Names<'a> {
    /// The pipeline's columns, in column order.
    pub(crate) columns: &'a [String],
}

impl Program {
    pub(crate) fn new() -> Self {
        Self {
            nodes: Vec::new(),
            series: Vec::new(),
            history_len: 0,
            roots: Vec::new(),
            run: Compiled::default(),
        }
    }

    /// Compiles a number expression (`want = Number`) or a condition.
    pub(crate) fn add(
        &mut self,
        ast: &Ast,
        condition: bool,
        names: &Names<'_>,
    ) -> Result<Root, SyntaxError> {
        let want = if condition {
            Type::Condition
        } else {
            Type::Number
        };
        let (node, ty) = self.compile(ast, names)?;
        if ty != want {
            return Err(SyntaxError::new(
                ast.column,
                format!("{} here, found {}", want.name(), ty.name()),
            ));
        }
        self.roots.push((node, want));
        self.build();
        Ok(Root((self.roots.len() - 1) as u32))
    }

    /// Builds the closures every bar runs, from the nodes and the rings' layout.
    fn build(&mut self) {
        let ring = |s: &Series| Ring {
            offset: s.offset,
            mask: s.mask,
        };
        let mut run = Compiled::default();
        for s in &self.series {
            match self.nodes[s.node as usize] {
                Node::Column(c) => run.column_rings.push((c, ring(s))),
                _ => run.computed.push((self.number_fn(s.node), ring(s))),
            }
        }
        for &(node, ty) in &self.roots {
            run.roots.push(match ty {
                Type::Condition => Ok(self.chain(node)),
                Type::Number => Err(self.number_fn(node)),
            });
        }
        self.run = run;
    }

    fn push(&mut self, node: Node) -> u32 {
        if let Some(same) = self.nodes.iter().position(|n| *n == node) {
            return same as u32;
        }
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// Returns the series of `node` reading `len` values back, sharing one already kept.
    fn series(&mut self, node: u32, len: usize) -> u32 {
        let at = match self.series.iter().position(|s| s.node == node) {
            Some(at) => {
                self.series[at].len = self.series[at].len.max(len);
                at
            }
            None => {
                self.series.push(Series {
                    node,
                    len,
                    mask: 0,
                    offset: 0,
                });
                self.series.len() - 1
            }
        };
        // Lay the rings out again: a shared series may have grown.
        self.history_len = 0;
        for s in &mut self.series {
            let size = s.len.next_power_of_two();
            s.mask = size - 1;
            s.offset = self.history_len;
            self.history_len += size;
        }
        at as u32
    }

    fn expect(
        &mut self,
        ast: &Ast,
        want: Type,
        names: &Names<'_>,
        role: &str,
    ) -> Result<u32, SyntaxError> {
        let (node, ty) = self.compile(ast, names)?;
        if ty == want {
            Ok(node)
        } else {
            Err(SyntaxError::new(
                ast.column,
                format!("{} {role}, found {}", want.name(), ty.name()),
            ))
        }
    }

    fn compile(&mut self, ast: &Ast, names: &Names<'_>) -> Result<(u32, Type), SyntaxError> {
        use Type::{Condition, Number};
        let at = ast.column;
        Ok(match &ast.kind {
            AstKind::Number(n) => (self.push(Node::Const(*n)), Number),
            AstKind::Bool(b) => (self.push(Node::Truth(*b)), Condition),
            AstKind::Name(name) => {
                let node = resolve(name, at, names)?;
                (self.push(node), Number)
            }
            AstKind::Neg(inner) => {
                let x = self.expect(inner, Number, names, "after '-'")?;
                (self.push(Node::Neg(x)), Number)
            }
            AstKind::Not(inner) => {
                let x = self.expect(inner, Condition, names, "after `not`")?;
                (self.push(Node::Not(x)), Condition)
            }
            AstKind::Binary(op, lhs, rhs) => match op {
                BinOp::And | BinOp::Or => {
                    let word = if *op == BinOp::And { "and" } else { "or" };
                    let role = format!("on each side of `{word}`");
                    let a = self.expect(lhs, Condition, names, &role)?;
                    let b = self.expect(rhs, Condition, names, &role)?;
                    let node = if *op == BinOp::And {
                        Node::And(a, b)
                    } else {
                        Node::Or(a, b)
                    };
                    (self.push(node), Condition)
                }
                op if op.is_comparison() => {
                    let a = self.expect(lhs, Number, names, "on each side of a comparison")?;
                    let b = self.expect(rhs, Number, names, "on each side of a comparison")?;
                    (self.push(Node::Compare(*op, a, b)), Condition)
                }
                op => {
                    let a = self.expect(lhs, Number, names, "on each side of + - * /")?;
                    let b = self.expect(rhs, Number, names, "on each side of + - * /")?;
                    (self.push(Node::Arith(*op, a, b)), Number)
                }
            },
            AstKind::Call(name, args) => self.call(name, args, at, names)?,
        })
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Ast],
        at: usize,
        names: &Names<'_>,
    ) -> Result<(u32, Type), SyntaxError> {
        use Type::{Condition, Number};
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(SyntaxError::new(
                    at,
                    format!("{n} argument(s) for `{name}`, found {}", args.len()),
                ))
            }
        };
        let number = |p: &mut Self, i: usize| {
            p.expect(
                &args[i],
                Number,
                names,
                &format!("as argument {} of `{name}`", i + 1),
            )
        };
        let window = |p: &mut Self, kind: Window| -> Result<(u32, Type), SyntaxError> {
            arity(2)?;
            let x = number(p, 0)?;
            let n = bars(&args[1], name)?;
            // `lag`, `rising` and `falling` read n bars back, so keep n + 1 values.
            let len = match kind {
                Window::Highest | Window::Lowest => n,
                _ => n + 1,
            };
            let series = p.series(x, len);
            let ty = match kind {
                Window::Rising | Window::Falling => Condition,
                _ => Number,
            };
            Ok((p.push(Node::Window(kind, series, n)), ty))
        };
        match name {
            "crosses_above" | "crosses_below" => {
                arity(2)?;
                let a = number(self, 0)?;
                let b = number(self, 1)?;
                let (a, b) = (self.series(a, 2), self.series(b, 2));
                Ok((
                    self.push(Node::Cross(name == "crosses_above", a, b)),
                    Condition,
                ))
            }
            "lag" => window(self, Window::Lag),
            "highest" => window(self, Window::Highest),
            "lowest" => window(self, Window::Lowest),
            "rising" => window(self, Window::Rising),
            "falling" => window(self, Window::Falling),
            "abs" => {
                arity(1)?;
                let x = number(self, 0)?;
                Ok((self.push(Node::Abs(x)), Number))
            }
            "min" | "max" => {
                arity(2)?;
                let (a, b) = (number(self, 0)?, number(self, 1)?);
                let node = if name == "min" {
                    Node::Min(a, b)
                } else {
                    Node::Max(a, b)
                };
                Ok((self.push(node), Number))
            }
            _ => Err(SyntaxError::new(
                at,
                format!(
                    "a function ({}), found `{name}`{}",
                    FUNCTIONS.join(", "),
                    market_data::text::did_you_mean(name, FUNCTIONS.iter().copied())
                ),
            )),
        }
    }

    /// Returns the fewest bars after which a number has a value, and the column that needs the
    /// most (if any), given each column's needs.
    pub(crate) fn bars_needed(
        &self,
        root: Root,
        column: &dyn Fn(usize) -> usize,
    ) -> (usize, Option<usize>) {
        self.needed(self.roots[root.0 as usize].0, column)
    }

    fn needed(&self, at: u32, column: &dyn Fn(usize) -> usize) -> (usize, Option<usize>) {
        let of = |i: u32| self.needed(i, column);
        let most =
            |a: (usize, Option<usize>), b: (usize, Option<usize>)| if b.0 > a.0 { b } else { a };
        let plus = |(n, c): (usize, Option<usize>), k: usize| (n + k, c);
        match self.nodes[at as usize] {
            Node::Const(_) | Node::Truth(_) | Node::Field(_) => (1, None),
            Node::Column(c) => (column(c), Some(c)),
            Node::Neg(a) | Node::Abs(a) | Node::Not(a) => of(a),
            Node::Arith(_, a, b)
            | Node::Min(a, b)
            | Node::Max(a, b)
            | Node::Compare(_, a, b)
            | Node::And(a, b)
            | Node::Or(a, b) => most(of(a), of(b)),
            Node::Window(kind, s, n) => {
                let inner = of(self.series[s as usize].node);
                match kind {
                    Window::Highest | Window::Lowest => plus(inner, n - 1),
                    _ => plus(inner, n),
                }
            }
            Node::Cross(_, a, b) => plus(
                most(
                    of(self.series[a as usize].node),
                    of(self.series[b as usize].node),
                ),
                1,
            ),
        }
    }

    /// Returns the number of history values one instrument keeps.
    pub(crate) fn history_len(&self) -> usize {
        self.history_len
    }

    /// Records this bar's value of every series, oldest-nested first, into `history` (one
    /// instrument's rings) and advances `pushed`, the number of bars recorded.
    #[inline(always)]
    pub(crate) fn record(&self, inputs: &Inputs<'_>, history: &mut [f64], pushed: &mut u64) {
        let slot = (*pushed) as usize;
        let row = inputs.features;
        for &(column, ring) in &self.run.column_rings {
            history[ring.offset + (slot & ring.mask)] =
                row.get(column).copied().unwrap_or(f64::NAN);
        }
        *pushed += 1;
        // Each computed series reads only rings recorded before it, this bar's values included.
        for (value, ring) in &self.run.computed {
            let v = value(&Env {
                inputs,
                history,
                pushed: *pushed,
            });
            history[ring.offset + (slot & ring.mask)] = v;
        }
    }

    /// Returns a condition's truth at the bar last recorded.
    ///
    /// Always inlined: the strategy then reads the rule's chain in place, without a call.
    #[inline(always)]
    pub(crate) fn truth(
        &self,
        root: Root,
        inputs: &Inputs<'_>,
        history: &[f64],
        pushed: u64,
    ) -> Truth {
        match &self.run.roots[root.0 as usize] {
            Ok(condition) => Self::test(condition, inputs, history, pushed),
            Err(_) => Truth::Unknown,
        }
    }

    /// Returns the compiled condition of `root` (none when it is a number), for the strategy
    /// to hold and read with [`Program::test`]: a bar then does not look the rule up. Taken once
    /// every rule is added (adding one may move the rings a condition reads).
    pub(crate) fn compiled_condition(&self, root: Root) -> Option<Chain> {
        self.run.roots[root.0 as usize].as_ref().ok().cloned()
    }

    /// Returns the truth of a condition from [`Program::compiled_condition`] at the bar last
    /// recorded.
    ///
    /// Always inlined: the strategy then reads the rule's chain in place, without a call.
    #[inline(always)]
    pub(crate) fn test(
        condition: &Chain,
        inputs: &Inputs<'_>,
        history: &[f64],
        pushed: u64,
    ) -> Truth {
        condition.get(&Env {
            inputs,
            history,
            pushed,
        })
    }

    /// Returns a number's value at the bar last recorded (NaN when not ready).
    #[inline]
    pub(crate) fn value(
        &self,
        root: Root,
        inputs: &Inputs<'_>,
        history: &[f64],
        pushed: u64,
    ) -> f64 {
        match &self.run.roots[root.0 as usize] {
            Err(number) => number(&Env {
                inputs,
                history,
                pushed,
            }),
            Ok(_) => f64::NAN,
        }
    }
}

const FUNCTIONS: &[&str] = &[
    "crosses_above",
    "crosses_below",
    "lag",
    "rising",
    "falling",
    "highest",
    "lowest",
    "abs",
    "min",
    "max",
];

/// Returns a window length: a whole number of bars from 1 to a million, written as a literal.
fn bars(ast: &Ast, function: &str) -> Result<usize, SyntaxError> {
    match ast.kind {
        AstKind::Number(n) if n.fract() == 0.0 && (1.0..=1e6).contains(&n) => Ok(n as usize),
        _ => Err(SyntaxError::new(
            ast.column,
            format!("a whole number of bars from 1 to 1000000 as argument 2 of `{function}`"),
        )),
    }
}

/// Resolves a name: a bar, position or time value, or a feature column (`bb.lower` is the
/// column `bb_lower`).
fn resolve(name: &str, at: usize, names: &Names<'_>) -> Result<Node, SyntaxError> {
    if let Some((_, field)) = FIELDS.iter().find(|(n, _)| *n == name) {
        return Ok(Node::Field(*field));
    }
    let column = name.replace('.', "_");
    if let Some(c) = names.columns.iter().position(|c| *c == column) {
        return Ok(Node::Column(c));
    }
    let known = FIELDS
        .iter()
        .map(|(n, _)| *n)
        .chain(names.columns.iter().map(String::as_str));
    Err(SyntaxError::new(
        at,
        format!(
            "a feature column, a bar field (open, high, low, close, volume), a position value \
             (position, entry_price, bars_held, unrealized_pnl) or a time value (hour, minute, \
             weekday, day, month), found {}{}",
            market_data::text::quoted(name),
            market_data::text::did_you_mean(name, known)
        ),
    ))
}
