//! The rule language: errors with their columns, the parser against arbitrary text, and the
//! compiled program against a direct interpreter of the syntax tree over whole series.

use super::lang::{Ast, AstKind, BinOp, parse};
use super::program::{Inputs, Names, Program, Truth};
use market_data::{Bar, Timestamp};
use proptest::prelude::*;

const COLUMNS: [&str; 4] = ["a", "b", "c", "sma_fast"];

fn compile(text: &str, condition: bool) -> Result<(), (usize, String)> {
    let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let ast = parse(text).map_err(|e| (e.column, e.message))?;
    let mut program = Program::new();
    program
        .add(&ast, condition, &Names { columns: &columns })
        .map(|_| ())
        .map_err(|e| (e.column, e.message))
}

#[test]
fn errors_name_the_column_and_what_was_expected() {
    let cases: &[(&str, bool, usize, &str)] = &[
        ("crosses_above(a, b", true, 19, "')'"),
        ("a <", true, 4, "a number, a name"),
        ("a = 3", true, 3, "'=='"),
        ("smaa_fast > b", true, 1, "did you mean `sma_fast`"),
        ("a > 1 and clsoe < 2", true, 11, "did you mean `close`"),
        ("a and b > 1", true, 1, "a condition on each side of `and`"),
        ("a + (b < 1)", false, 6, "a number on each side"),
        ("a > 1", false, 1, "a number here, found a condition"),
        ("a + b", true, 1, "a condition here, found a number"),
        ("lag(a)", false, 1, "2 argument(s) for `lag`"),
        ("lag(a, b)", false, 8, "a whole number of bars"),
        ("highest(a, 0)", false, 12, "a whole number of bars"),
        ("lag(a, 2.5)", false, 8, "a whole number of bars"),
        (
            "crosess_above(a, b)",
            true,
            1,
            "did you mean `crosses_above`",
        ),
        ("1 < a < 2", true, 7, "a < b < c is not allowed"),
        ("a > 1 b", true, 7, "the end of the expression"),
        ("", true, 1, "an expression"),
        ("a # b", false, 3, "found '#'"),
        ("1e999 > a", true, 1, "a finite number"),
    ];
    for (text, condition, column, expected) in cases {
        let (at, message) = compile(text, *condition).expect_err(text);
        assert_eq!(at, *column, "{text:?}: {message}");
        assert!(message.contains(expected), "{text:?}: {message}");
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    assert!(compile(&deep, false).unwrap_err().1.contains("nesting"));
    let negations = format!("{}a > 1", "not ".repeat(100));
    assert!(compile(&negations, true).unwrap_err().1.contains("nesting"));
}

#[test]
fn names_resolve_to_fields_columns_and_dotted_outputs() {
    for ok in [
        "close > open and volume > 0 and high >= low",
        "position == 0 and bars_held < 5 and unrealized_pnl > -10 and entry_price > 0",
        "hour >= 9 and minute < 30 and weekday < 5 and day > 0 and month <= 12",
        "sma.fast > a",
        "not (a > b) or true and not false",
        "rising(a, 3) and falling(b, 2) and abs(-a) >= min(a, b) and max(a, b) > 0",
        "- - a * 2 / 3 - 1 > lag(a, 1) + highest(b, 5) - lowest(c, 5)",
    ] {
        assert_eq!(compile(ok, true), Ok(()), "{ok}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = compile(&text, true);
    }

    #[test]
    fn prop_parsing_near_miss_text_never_panics(
        text in "[a-c0-9 ().,+*/<>=!_-]{0,40}|(not |and |or |lag|crosses_above|highest)[a-c0-9 (),.<>-]{0,30}"
    ) {
        let _ = compile(&text, true);
        let _ = compile(&text, false);
    }
}

// --- The program against a direct interpreter ----------------------------------------------

/// A number expression's text, built from columns a, b, c, literals and every number function.
fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        (0u8..6).prop_map(|n| format!("{}", f64::from(n) * 0.5)),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), 0..4usize)
                .prop_map(|(x, y, op)| { format!("({x} {} {y})", ["+", "-", "*", "/"][op]) }),
            inner.clone().prop_map(|x| format!("-{x}")),
            inner.clone().prop_map(|x| format!("abs({x})")),
            (inner.clone(), inner.clone(), any::<bool>())
                .prop_map(|(x, y, lo)| format!("{}({x}, {y})", if lo { "min" } else { "max" })),
            (inner, 1..4usize, 0..3usize)
                .prop_map(|(x, n, f)| { format!("{}({x}, {n})", ["lag", "highest", "lowest"][f]) }),
        ]
    })
}

/// A condition's text over [`number`]s.
fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (number(), number(), 0..6usize).prop_map(|(x, y, op)| {
            format!("{x} {} {y}", ["<", "<=", ">", ">=", "==", "!="][op])
        }),
        (number(), number(), any::<bool>()).prop_map(|(x, y, up)| {
            format!("crosses_{}({x}, {y})", if up { "above" } else { "below" })
        }),
        (number(), 1..4usize, any::<bool>())
            .prop_map(|(x, n, up)| format!("{}({x}, {n})", if up { "rising" } else { "falling" })),
        Just("true".to_string()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), any::<bool>())
                .prop_map(|(x, y, and)| format!("({x} {} {y})", if and { "and" } else { "or" })),
            inner.prop_map(|x| format!("not ({x})")),
        ]
    })
}

/// Columns of a few repeating values (so ties and crossings happen), with NaN gaps.
fn series() -> impl Strategy<Value = Vec<[f64; 3]>> {
    let value = prop_oneof![
        8 => (0u8..5).prop_map(f64::from),
        1 => Just(f64::NAN),
    ];
    prop::collection::vec([value.clone(), value.clone(), value], 1..30)
}

/// The value of a number at bar `t`, read straight from the whole series.
fn number_at(ast: &Ast, rows: &[[f64; 3]], t: isize) -> f64 {
    if t < 0 {
        return f64::NAN;
    }
    let at = |x: &Ast, k: isize| number_at(x, rows, t - k);
    let nan_or = |a: f64, b: f64, f: fn(f64, f64) -> f64| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            f(a, b)
        }
    };
    match &ast.kind {
        AstKind::Number(n) => *n,
        AstKind::Name(name) => rows[t as usize][COLUMNS.iter().position(|c| c == name).unwrap()],
        AstKind::Neg(x) => -at(x, 0),
        AstKind::Binary(op, x, y) => {
            let (x, y) = (at(x, 0), at(y, 0));
            match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                _ if y == 0.0 => f64::NAN,
                _ => x / y,
            }
        }
        AstKind::Call(f, args) => {
            let n = match args.get(1).map(|a| &a.kind) {
                Some(AstKind::Number(n)) => *n as isize,
                _ => 0,
            };
            match f.as_str() {
                "abs" => at(&args[0], 0).abs(),
                "min" => nan_or(at(&args[0], 0), at(&args[1], 0), f64::min),
                "max" => nan_or(at(&args[0], 0), at(&args[1], 0), f64::max),
                "lag" => at(&args[0], n),
                "highest" | "lowest" => {
                    let values: Vec<f64> = (0..n).map(|k| at(&args[0], k)).collect();
                    if values.iter().any(|v| v.is_nan()) {
                        f64::NAN
                    } else if f == "highest" {
                        values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    } else {
                        values.iter().copied().fold(f64::INFINITY, f64::min)
                    }
                }
                other => unreachable!("{other}"),
            }
        }
        AstKind::Bool(_) | AstKind::Not(_) => unreachable!(),
    }
}

/// The truth of a condition at bar `t`, read straight from the whole series.
fn truth_at(ast: &Ast, rows: &[[f64; 3]], t: isize) -> Truth {
    let known = |v: &[f64]| v.iter().all(|x| !x.is_nan());
    let of = |b: bool| if b { Truth::True } else { Truth::False };
    match &ast.kind {
        AstKind::Bool(b) => of(*b),
        AstKind::Not(x) => match truth_at(x, rows, t) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        },
        AstKind::Binary(BinOp::And, x, y) => match (truth_at(x, rows, t), truth_at(y, rows, t)) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        },
        AstKind::Binary(BinOp::Or, x, y) => match (truth_at(x, rows, t), truth_at(y, rows, t)) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        },
        AstKind::Binary(op, x, y) => {
            let (x, y) = (number_at(x, rows, t), number_at(y, rows, t));
            if !known(&[x, y]) {
                return Truth::Unknown;
            }
            of(match op {
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                BinOp::Ge => x >= y,
                BinOp::Eq => x == y,
                _ => x != y,
            })
        }
        AstKind::Call(f, args) if f.starts_with("crosses") => {
            let (a, b) = (&args[0], &args[1]);
            let v = [
                number_at(a, rows, t),
                number_at(a, rows, t - 1),
                number_at(b, rows, t),
                number_at(b, rows, t - 1),
            ];
            if !known(&v) {
                return Truth::Unknown;
            }
            of(if f == "crosses_above" {
                v[1] <= v[3] && v[0] > v[2]
            } else {
                v[1] >= v[3] && v[0] < v[2]
            })
        }
        AstKind::Call(f, args) => {
            let AstKind::Number(n) = args[1].kind else {
                unreachable!()
            };
            let now = number_at(&args[0], rows, t);
            let past: Vec<f64> = (1..=n as isize)
                .map(|k| number_at(&args[0], rows, t - k))
                .collect();
            if now.is_nan() || !known(&past) {
                return Truth::Unknown;
            }
            of(past
                .iter()
                .all(|p| if f == "rising" { now > *p } else { now < *p }))
        }
        _ => unreachable!(),
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Runs the compiled program bar by bar, checking each bar against the interpreter.
fn check_against_interpreter(text: &str, condition: bool, rows: &[[f64; 3]]) {
    let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let ast = parse(text).unwrap();
    let mut program = Program::new();
    let root = program
        .add(&ast, condition, &Names { columns: &columns })
        .unwrap();
    let mut history = vec![f64::NAN; program.history_len()];
    let mut pushed = 0;
    for (t, row) in rows.iter().enumerate() {
        let bar = Bar {
            ts: Timestamp::from_secs(86_400 * t as i64),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        let features = [row[0], row[1], row[2], f64::NAN];
        let inputs = Inputs {
            bar: &bar,
            features: &features,
            position: &engine::Position::default(),
            bars_held: 0,
            zone: market_data::Zone::UTC,
        };
        program.record(&inputs, &mut history, &mut pushed);
        if condition {
            let got = program.truth(root, &inputs, &history, pushed);
            let want = truth_at(&ast, rows, t as isize);
            assert_eq!(got, want, "{text} at bar {t} of {rows:?}");
        } else {
            let got = program.value(root, &inputs, &history, pushed);
            let want = number_at(&ast, rows, t as isize);
            assert!(
                same(got, want),
                "{text} at bar {t}: {got} vs {want}, {rows:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_numbers_equal_the_interpreter(text in number(), rows in series()) {
        check_against_interpreter(&text, false, &rows);
    }

    #[test]
    fn prop_conditions_equal_the_interpreter(text in condition(), rows in series()) {
        check_against_interpreter(&text, true, &rows);
    }
}

#[test]
fn a_rotation_refuses_what_does_not_apply_to_it() {
    use super::{Rebalance, RulesParams};
    let rotation = |edit: fn(&mut RulesParams)| {
        let mut p = RulesParams {
            rank_by: Some("a".into()),
            ..RulesParams::default()
        };
        edit(&mut p);
        p.validate().map_err(|e| e.key)
    };
    assert_eq!(rotation(|_| {}), Ok(()));
    assert_eq!(rotation(|p| p.entry_long = Some("a > 0".into())), Ok(()));
    assert_eq!(
        rotation(|p| p.rebalance = Some(Rebalance::Every("1w".into()))),
        Ok(())
    );
    for (edit, key) in [
        (
            (|p: &mut RulesParams| p.exit_long = Some("a < 0".into())) as fn(&mut RulesParams),
            "strategy.params.exit_long",
        ),
        (
            |p| p.stop_loss = Some("1".into()),
            "strategy.params.stop_loss",
        ),
        (|p| p.top = Some(0), "strategy.params.top"),
        (
            |p| p.rebalance = Some(Rebalance::Bars(0)),
            "strategy.params.rebalance",
        ),
        (
            |p| p.rebalance = Some(Rebalance::Every("fortnight".into())),
            "strategy.params.rebalance",
        ),
    ] {
        assert_eq!(rotation(edit), Err(key.to_string()));
    }
    // `top` and `rebalance` belong to a rotation.
    let p = RulesParams {
        entry_long: Some("a > 0".into()),
        top: Some(3),
        ..RulesParams::default()
    };
    assert_eq!(p.validate().unwrap_err().key, "strategy.params.top");
}

#[test]
fn time_values_are_the_bars_calendar_in_the_exchange_zone() {
    let columns: Vec<String> = Vec::new();
    let mut program = Program::new();
    let ast =
        parse("hour == 9 and minute == 30 and weekday == 0 and day == 1 and month == 1").unwrap();
    let root = program
        .add(&ast, true, &Names { columns: &columns })
        .unwrap();
    // 2024-01-01 was a Monday (weekday 0).
    let at_in = |text: &str, zone: market_data::Zone| {
        let bar = Bar {
            ts: market_data::csv::parse_timestamp(text).unwrap(),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        let inputs = Inputs {
            bar: &bar,
            features: &[],
            position: &engine::Position::default(),
            bars_held: 0,
            zone,
        };
        program.truth(root, &inputs, &[], 0)
    };
    let at = |text: &str| at_in(text, market_data::Zone::UTC);
    assert_eq!(at("2024-01-01T09:30:00Z"), Truth::True);
    assert_eq!(at("2024-01-01T09:31:00Z"), Truth::False);
    assert_eq!(at("2024-01-02T09:30:00Z"), Truth::False);
    assert_eq!(at("2024-01-01T04:30:00-05:00"), Truth::True, "read in UTC");
    // In New York (UTC-5 in January), the same rule holds at 14:30 UTC.
    let ny = market_data::Zone::parse("America/New_York").unwrap();
    assert_eq!(at_in("2024-01-01T14:30:00Z", ny), Truth::True);
    assert_eq!(at_in("2024-01-01T09:30:00Z", ny), Truth::False);
}
