//! The rule language's text: tokens and a recursive-descent parser to a syntax tree, with the
//! column of every node for error messages.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | atom
//! atom    := number | "true" | "false" | name | name "(" expr ("," expr)* ")" | "(" expr ")"
//! ```

/// The longest expression accepted, in bytes.
pub(crate) const MAX_LEN: usize = 4096;
/// The deepest nesting accepted, so no text can exhaust the stack.
const MAX_DEPTH: usize = 64;

/// A syntax or meaning error at a 1-based character column of the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// 1-based character column.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl SyntaxError {
    pub(crate) fn new(column: usize, message: impl Into<String>) -> Self {
        Self {
            column,
            message: message.into(),
        }
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// A syntax tree node and the column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub(crate) column: usize,
    pub(crate) kind: AstKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AstKind {
    Number(f64),
    Bool(bool),
    Name(String),
    Call(String, Vec<Ast>),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Name(String),
    Open,
    Close,
    Comma,
    Op(BinOp),
    Minus,
    Not,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Number(n) => format!("number {n}"),
        Tok::Name(n) => format!("{n:?}"),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Op(_) | Tok::Minus => "an operator".into(),
        Tok::Not => "\"not\"".into(),
        Tok::End => "the end of the expression".into(),
    }
}

/// Splits `text` into tokens with their 1-based character columns.
fn tokens(text: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two = |next: char| chars.get(i + 1) == Some(&next);
        let (tok, len) = match c {
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Op(BinOp::Add), 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Op(BinOp::Mul), 1),
            '/' => (Tok::Op(BinOp::Div), 1),
            '<' if two('=') => (Tok::Op(BinOp::Le), 2),
            '<' => (Tok::Op(BinOp::Lt), 1),
            '>' if two('=') => (Tok::Op(BinOp::Ge), 2),
            '>' => (Tok::Op(BinOp::Gt), 1),
            '=' if two('=') => (Tok::Op(BinOp::Eq), 2),
            '!' if two('=') => (Tok::Op(BinOp::Ne), 2),
            '=' => return Err(SyntaxError::new(column, "'==' to compare, found '='")),
            c if c.is_ascii_digit() || c == '.' => {
                let end = (i..chars.len())
                    .find(|&j| {
                        let d = chars[j];
                        let exponent_sign =
                            matches!(d, '+' | '-') && j > i && matches!(chars[j - 1], 'e' | 'E');
                        !(d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '_') || exponent_sign)
                    })
                    .unwrap_or(chars.len());
                let written: String = chars[i..end].iter().filter(|&&d| d != '_').collect();
                let value: f64 = written.parse().map_err(|_| {
                    SyntaxError::new(column, format!("a number, found {written:?}"))
                })?;
                if !value.is_finite() {
                    return Err(SyntaxError::new(
                        column,
                        format!("a finite number, found {written:?}"),
                    ));
                }
                (Tok::Number(value), end - i)
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = (i..chars.len())
                    .find(|&j| !(chars[j].is_alphanumeric() || matches!(chars[j], '_' | '.')))
                    .unwrap_or(chars.len());
                let word: String = chars[i..end].iter().collect();
                let tok = match word.as_str() {
                    "and" => Tok::Op(BinOp::And),
                    "or" => Tok::Op(BinOp::Or),
                    "not" => Tok::Not,
                    _ => Tok::Name(word),
                };
                (tok, end - i)
            }
            other => {
                return Err(SyntaxError::new(
                    column,
                    format!(
                        "a number, a name, an operator (+ - * / < <= > >= == != and or not) or a \
                         parenthesis, found {other:?}"
                    ),
                ));
            }
        };
        out.push((column, tok));
        i += len;
    }
    out.push((chars.len() + 1, Tok::End));
    Ok(out)
}

/// Parses one expression.
///
/// # Errors
/// The column of the first token that does not fit, with what was expected.
pub(crate) fn parse(text: &str) -> Result<Ast, SyntaxError> {
    if text.len() > MAX_LEN {
        return Err(SyntaxError::new(
            1,
            format!(
                "an expression of at most {MAX_LEN} bytes, found {}",
                text.len()
            ),
        ));
    }
    let mut p = Parser {
        toks: tokens(text)?,
        at: 0,
        depth: 0,
    };
    if p.peek() == &Tok::End {
        return Err(SyntaxError::new(1, "an expression, found nothing"));
    }
    let ast = p.or()?;
    match p.peek() {
        Tok::End => Ok(ast),
        other => Err(SyntaxError::new(
            p.column(),
            format!(
                "an operator or the end of the expression, found {}",
                describe(other)
            ),
        )),
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn column(&self) -> usize {
        self.toks[self.at].0
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                self.column(),
                format!("at most {MAX_DEPTH} levels of nesting"),
            ));
        }
        Ok(())
    }

    fn binary(
        &mut self,
        ops: &[BinOp],
        operand: fn(&mut Self) -> Result<Ast, SyntaxError>,
    ) -> Result<Ast, SyntaxError> {
        let mut lhs = operand(self)?;
        while let Tok::Op(op) = *self.peek() {
            if !ops.contains(&op) {
                break;
            }
            self.next();
            let rhs = operand(self)?;
            lhs = Ast {
                column: lhs.column,
                kind: AstKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn or(&mut self) -> Result<Ast, SyntaxError> {
        self.deeper()?;
        let ast = self.binary(&[BinOp::Or], Self::and);
        self.depth -= 1;
        ast
    }

    fn and(&mut self) -> Result<Ast, SyntaxError> {
        self.binary(&[BinOp::And], Self::not)
    }

    fn not(&mut self) -> Result<Ast, SyntaxError> {
        if self.peek() == &Tok::Not {
            let (column, _) = self.next();
            self.deeper()?;
            let inner = self.not();
            self.depth -= 1;
            return Ok(Ast {
                column,
                kind: AstKind::Not(Box::new(inner?)),
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Ast, SyntaxError> {
        let lhs = self.sum()?;
        match *self.peek() {
            Tok::Op(op) if op.is_comparison() => {
                self.next();
                let rhs = self.sum()?;
                if let Tok::Op(next) = *self.peek()
                    && next.is_comparison()
                {
                    return Err(SyntaxError::new(
                        self.column(),
                        "`and` between two comparisons (a < b < c is not allowed)",
                    ));
                }
                Ok(Ast {
                    column: lhs.column,
                    kind: AstKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                })
            }
            _ => Ok(lhs),
        }
    }

    fn sum(&mut self) -> Result<Ast, SyntaxError> {
        let mut lhs = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Op(BinOp::Add) => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.product()?;
            lhs = Ast {
                column: lhs.column,
                kind: AstKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
    }

    fn product(&mut self) -> Result<Ast, SyntaxError> {
        self.binary(&[BinOp::Mul, BinOp::Div], Self::unary)
    }

    fn unary(&mut self) -> Result<Ast, SyntaxError> {
        if self.peek() == &Tok::Minus {
            let (column, _) = self.next();
            self.deeper()?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Ast {
                column,
                kind: AstKind::Neg(Box::new(inner?)),
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Ast, SyntaxError> {
        let (column, tok) = self.next();
        let kind = match tok {
            Tok::Number(n) => AstKind::Number(n),
            Tok::Name(name) if name == "true" => AstKind::Bool(true),
            Tok::Name(name) if name == "false" => AstKind::Bool(false),
            Tok::Name(name) if self.peek() == &Tok::Open => {
                self.next();
                let mut args = vec![self.or()?];
                while self.peek() == &Tok::Comma {
                    self.next();
                    args.push(self.or()?);
                }
                self.expect_close(column)?;
                AstKind::Call(name, args)
            }
            Tok::Name(name) => AstKind::Name(name),
            Tok::Open => {
                let inner = self.or()?;
                self.expect_close(column)?;
                return Ok(inner);
            }
            other => {
                return Err(SyntaxError::new(
                    column,
                    format!("a number, a name, '(' or '-', found {}", describe(&other)),
                ));
            }
        };
        Ok(Ast { column, kind })
    }

    fn expect_close(&mut self, opened: usize) -> Result<(), SyntaxError> {
        match self.peek() {
            Tok::Close => {
                self.next();
                Ok(())
            }
            other => Err(SyntaxError::new(
                self.column(),
                format!(
                    "')' closing the '(' at column {opened}, found {}",
                    describe(other)
                ),
            )),
        }
    }
}
