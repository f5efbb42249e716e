//! GitHub Actions expressions (`${{ … }}`), evaluated as the runner does.
//!
//! Values are JSON values. Literals: `null`, `true`, `false`, numbers (`12`, `-1.5`, `0xff`,
//! `1e3`), strings in single quotes (`'it''s'`). Named values (`inputs`, `steps`, …) come from a
//! `Scope`; a name the scope does not know is an error, as on GitHub ("Unrecognized
//! named-value"). Property access `a.b`, `a['b']`, `a[0]`, and the filter `a.*.b`; a missing
//! property is `null`, and object keys match case-insensitively.
//!
//! Operators, from the loosest: `||`, `&&`, `==` `!=`, `<` `<=` `>` `>=`, `!`, then access and
//! parentheses. `a && b` is `a` when `a` is falsy and `b` otherwise; `a || b` is `a` when `a`
//! is truthy and `b` otherwise (so `a && b || c` picks a value). Falsy: `false`, `0`, `-0`,
//! `''`, `null`, NaN; everything else (including arrays and objects) is truthy. Comparisons
//! between values of different types compare them as numbers (`null` and `''` are 0, `true` is
//! 1, other strings are parsed, NaN otherwise); strings compare case-insensitively.
//!
//! Functions: `contains`, `startsWith`, `endsWith`, `format`, `join`, `toJSON`, `fromJSON`, and
//! the status functions `success()`, `failure()`, `always()`, `cancelled()` (only where a scope
//! has a status: job and step `if:`). Anything else is an error, never an empty string.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

/// The outcome so far, for the status functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// `success()`: every previous step succeeded (for a job: every job it needs, directly or
    /// not, succeeded; a skipped one does not count as success).
    pub success: bool,
    /// `failure()`: a previous step (for a job: a job it needs) failed.
    pub failure: bool,
    pub cancelled: bool,
}

impl Status {
    /// Within a job: nothing has failed yet, or something has.
    pub fn steps(failed: bool) -> Status {
        Status {
            success: !failed,
            failure: failed,
            cancelled: false,
        }
    }
}

/// What an expression can see.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub contexts: BTreeMap<String, Value>,
    /// `None` where GitHub does not allow the status functions (anything but `if:`).
    pub status: Option<Status>,
}

impl Scope {
    pub fn new() -> Self {
        Scope::default()
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.contexts.insert(name.to_string(), value);
        self
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.contexts.insert(name.to_string(), value);
    }
}

// -- lexer -----------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Ident(String),
    Dot,
    Star,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '.' if !next.is_some_and(|n| n.is_ascii_digit()) => {
                tokens.push(Token::Dot);
                i += 1;
            }
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            '[' => {
                tokens.push(Token::LBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::RBracket);
                i += 1;
            }
            '!' if next == Some('=') => {
                tokens.push(Token::Ne);
                i += 2;
            }
            '!' => {
                tokens.push(Token::Not);
                i += 1;
            }
            '=' if next == Some('=') => {
                tokens.push(Token::Eq);
                i += 2;
            }
            '<' if next == Some('=') => {
                tokens.push(Token::Le);
                i += 2;
            }
            '<' => {
                tokens.push(Token::Lt);
                i += 1;
            }
            '>' if next == Some('=') => {
                tokens.push(Token::Ge);
                i += 2;
            }
            '>' => {
                tokens.push(Token::Gt);
                i += 1;
            }
            '&' if next == Some('&') => {
                tokens.push(Token::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                tokens.push(Token::Or);
                i += 2;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string in `{text}`")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_ascii_digit()
                || c == '.'
                || (c == '-' && next.is_some_and(|n| n.is_ascii_digit() || n == '.'))
                || (c == '+' && next.is_some_and(|n| n.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')
                            && !chars[start..i].contains(&'x')))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens
                    .push(Token::Number(parse_number_literal(&word).ok_or_else(
                        || format!("`{word}` is not a number (in `{text}`)"),
                    )?));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.as_str() {
                    "null" => Token::Null,
                    "true" => Token::Bool(true),
                    "false" => Token::Bool(false),
                    "NaN" => Token::Number(f64::NAN),
                    "Infinity" => Token::Number(f64::INFINITY),
                    _ => Token::Ident(word),
                });
            }
            _ => return Err(format!("unexpected character `{c}` in `{text}`")),
        }
    }
    Ok(tokens)
}

fn parse_number_literal(word: &str) -> Option<f64> {
    let (negative, body) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word.strip_prefix('+').unwrap_or(word)),
    };
    let value = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else if let Some(oct) = body.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()? as f64
    } else {
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    Some(if negative { -value } else { value })
}

// -- parser ----------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Expr {
    Literal(Value),
    Named(String),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `a.*`: the values of an object or the elements of an array, as an array.
    Filter(Box<Expr>),
    Not(Box<Expr>),
    Compare(Token, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    text: &'t str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            other => Err(format!(
                "expected {want:?}, found {other:?} in `{}`",
                self.text
            )),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.equality()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.equality()?));
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while let Some(op @ (Token::Eq | Token::Ne)) = self.peek().cloned() {
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(op @ (Token::Lt | Token::Le | Token::Gt | Token::Ge)) = self.peek().cloned()
        {
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    match self.next() {
                        Some(Token::Ident(name)) => expr = Expr::Property(Box::new(expr), name),
                        // `a.true` / `a.null`: keywords are property names after a dot.
                        Some(Token::Bool(b)) => {
                            expr = Expr::Property(Box::new(expr), b.to_string())
                        }
                        Some(Token::Null) => expr = Expr::Property(Box::new(expr), "null".into()),
                        Some(Token::Star) => expr = Expr::Filter(Box::new(expr)),
                        other => {
                            return Err(format!(
                                "expected a property name after `.`, found {other:?} in `{}`",
                                self.text
                            ));
                        }
                    }
                }
                Some(Token::LBracket) => {
                    self.at += 1;
                    if self.peek() == Some(&Token::Star) {
                        self.at += 1;
                        self.expect(&Token::RBracket)?;
                        expr = Expr::Filter(Box::new(expr));
                    } else {
                        let index = self.or()?;
                        self.expect(&Token::RBracket)?;
                        expr = Expr::Index(Box::new(expr), Box::new(index));
                    }
                }
                _ => return Ok(expr),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Null) => Ok(Expr::Literal(Value::Null)),
            Some(Token::Bool(b)) => Ok(Expr::Literal(Value::Bool(b))),
            Some(Token::Number(n)) => Ok(Expr::Literal(number(n))),
            Some(Token::Str(s)) => Ok(Expr::Literal(Value::String(s))),
            Some(Token::LParen) => {
                let inner = self.or()?;
                self.expect(&Token::RParen)?;
                Ok(inner)
            }
            Some(Token::Ident(name)) => {
                if self.peek() == Some(&Token::LParen) {
                    self.at += 1;
                    let mut args = Vec::new();
                    if self.peek() == Some(&Token::RParen) {
                        self.at += 1;
                    } else {
                        loop {
                            args.push(self.or()?);
                            match self.next() {
                                Some(Token::Comma) => continue,
                                Some(Token::RParen) => break,
                                other => {
                                    return Err(format!(
                                        "expected `,` or `)` in the arguments of {name}, found {other:?} in `{}`",
                                        self.text
                                    ));
                                }
                            }
                        }
                    }
                    Ok(Expr::Call(name, args))
                } else {
                    Ok(Expr::Named(name))
                }
            }
            other => Err(format!(
                "unexpected {other:?} in the expression `{}`",
                self.text
            )),
        }
    }
}

/// A parsed expression.
#[derive(Clone, Debug)]
pub struct Expression {
    text: String,
    root: Expr,
}

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Err("an empty expression".into());
        }
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            text,
        };
        let root = parser.or()?;
        if parser.at != tokens.len() {
            return Err(format!(
                "unexpected {:?} after the end of the expression `{text}`",
                tokens[parser.at]
            ));
        }
        Ok(Expression {
            text: text.to_string(),
            root,
        })
    }

    /// Whether the expression calls a status function (`if:` conditions without one get an
    /// implicit `success() &&`).
    pub fn uses_status_function(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::Call(name, args) => {
                    matches!(
                        name.to_ascii_lowercase().as_str(),
                        "success" | "failure" | "always" | "cancelled"
                    ) || args.iter().any(walk)
                }
                Expr::Literal(_) | Expr::Named(_) => false,
                Expr::Property(a, _) | Expr::Filter(a) | Expr::Not(a) => walk(a),
                Expr::Index(a, b) | Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a) || walk(b)
                }
            }
        }
        walk(&self.root)
    }

    pub fn evaluate(&self, scope: &Scope) -> Result<Value, String> {
        eval(&self.root, scope).map_err(|e| format!("{e} (in `{}`)", self.text))
    }
}

// -- evaluation ------------------------------------------------------------------------------------

fn eval(e: &Expr, scope: &Scope) -> Result<Value, String> {
    Ok(match e {
        Expr::Literal(v) => v.clone(),
        Expr::Named(name) => scope
            .contexts
            .get(name)
            .or_else(|| {
                scope
                    .contexts
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .cloned()
            .ok_or_else(|| format!("Unrecognized named-value: '{name}'"))?,
        Expr::Property(target, name) => property(&eval(target, scope)?, name),
        Expr::Index(target, index) => {
            let target = eval(target, scope)?;
            let index = eval(index, scope)?;
            match (&target, &index) {
                (Value::Array(items), _) => {
                    let n = to_number(&index);
                    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 {
                        items.get(n as usize).cloned().unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    }
                }
                (Value::Object(_), _) => property(&target, &to_string(&index)),
                _ => Value::Null,
            }
        }
        Expr::Filter(target) => match eval(target, scope)? {
            Value::Array(items) => Value::Array(items),
            Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
            _ => Value::Array(Vec::new()),
        },
        Expr::Not(inner) => Value::Bool(!truthy(&eval(inner, scope)?)),
        Expr::Compare(op, a, b) => {
            let (a, b) = (eval(a, scope)?, eval(b, scope)?);
            Value::Bool(match op {
                Token::Eq => loose_eq(&a, &b),
                Token::Ne => !loose_eq(&a, &b),
                _ => compare(op, &a, &b),
            })
        }
        Expr::And(a, b) => {
            let left = eval(a, scope)?;
            if !truthy(&left) {
                left
            } else {
                eval(b, scope)?
            }
        }
        Expr::Or(a, b) => {
            let left = eval(a, scope)?;
            if truthy(&left) { left } else { eval(b, scope)? }
        }
        Expr::Call(name, args) => call(name, args, scope)?,
    })
}

/// Property access on a filtered array maps over it (`steps.*.outcome`).
fn property(target: &Value, name: &str) -> Value {
    match target {
        Value::Object(map) => map
            .get(name)
            .or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| i.is_object())
                .map(|i| property(i, name))
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn call(name: &str, args: &[Expr], scope: &Scope) -> Result<Value, String> {
    let lower = name.to_ascii_lowercase();
    let arity = |min: usize, max: usize| -> Result<(), String> {
        if args.len() < min || args.len() > max {
            Err(format!(
                "{name}() takes {min}{} arguments, got {}",
                if max > min {
                    format!(" to {max}")
                } else {
                    String::new()
                },
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    if matches!(
        lower.as_str(),
        "success" | "failure" | "always" | "cancelled"
    ) {
        arity(0, 0)?;
        let status = scope
            .status
            .ok_or_else(|| format!("{name}() is only allowed in `if:` conditions"))?;
        return Ok(Value::Bool(match lower.as_str() {
            "success" => status.success && !status.cancelled,
            "failure" => status.failure && !status.cancelled,
            "cancelled" => status.cancelled,
            _ => true,
        }));
    }
    let values = args
        .iter()
        .map(|a| eval(a, scope))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match lower.as_str() {
        "contains" => {
            arity(2, 2)?;
            match &values[0] {
                Value::Array(items) => Value::Bool(items.iter().any(|i| loose_eq(i, &values[1]))),
                other => Value::Bool(
                    to_string(other)
                        .to_lowercase()
                        .contains(&to_string(&values[1]).to_lowercase()),
                ),
            }
        }
        "startswith" => {
            arity(2, 2)?;
            Value::Bool(
                to_string(&values[0])
                    .to_lowercase()
                    .starts_with(&to_string(&values[1]).to_lowercase()),
            )
        }
        "endswith" => {
            arity(2, 2)?;
            Value::Bool(
                to_string(&values[0])
                    .to_lowercase()
                    .ends_with(&to_string(&values[1]).to_lowercase()),
            )
        }
        "format" => {
            if values.is_empty() {
                return Err("format() needs a format string".into());
            }
            Value::String(format_string(&to_string(&values[0]), &values[1..])?)
        }
        "join" => {
            arity(1, 2)?;
            let sep = values.get(1).map(to_string).unwrap_or_else(|| ",".into());
            match &values[0] {
                Value::Array(items) => {
                    Value::String(items.iter().map(to_string).collect::<Vec<_>>().join(&sep))
                }
                other => Value::String(to_string(other)),
            }
        }
        "tojson" => {
            arity(1, 1)?;
            Value::String(serde_json::to_string_pretty(&values[0]).expect("JSON values print"))
        }
        "fromjson" => {
            arity(1, 1)?;
            let text = to_string(&values[0]);
            serde_json::from_str(text.trim())
                .map_err(|e| format!("fromJSON: `{text}` is not JSON: {e}"))?
        }
        "hashfiles" => return Err("hashFiles() is not supported by the workflow runner".into()),
        _ => return Err(format!("Unrecognized function: '{name}'")),
    })
}

fn format_string(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '{' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .ok_or_else(|| format!("format: unclosed `{{` in `{fmt}`"))?;
                let index: String = chars[i + 1..i + end].iter().collect();
                let n: usize = index
                    .parse()
                    .map_err(|_| format!("format: `{{{index}}}` is not an argument index"))?;
                let arg = args.get(n).ok_or_else(|| {
                    format!(
                        "format: `{{{n}}}` but only {} arguments in `{fmt}`",
                        args.len()
                    )
                })?;
                out.push_str(&to_string(arg));
                i += end + 1;
            }
            '}' => return Err(format!("format: a lone `}}` in `{fmt}`")),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// GitHub's truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A value as text, the way `${{ }}` puts it into a string.
pub fn to_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                format!("{}", f as i64)
            } else {
                format!("{f}")
            }
        }
        Value::String(s) => s.clone(),
        Value::Array(_) => "Array".into(),
        Value::Object(_) => "Object".into(),
    }
}

fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                0.0
            } else {
                parse_number_literal(t).unwrap_or(f64::NAN)
            }
        }
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    if same_kind(a, b) {
        match (a, b) {
            (Value::String(x), Value::String(y)) => x.to_lowercase() == y.to_lowercase(),
            (Value::Number(_), Value::Number(_)) => to_number(a) == to_number(b),
            (Value::Array(_), _) | (Value::Object(_), _) => false,
            _ => a == b,
        }
    } else {
        to_number(a) == to_number(b)
    }
}

fn compare(op: &Token, a: &Value, b: &Value) -> bool {
    let ordering = match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        _ => to_number(a).partial_cmp(&to_number(b)),
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        Token::Lt => ordering.is_lt(),
        Token::Le => ordering.is_le(),
        Token::Gt => ordering.is_gt(),
        Token::Ge => ordering.is_ge(),
        _ => unreachable!("only ordering operators"),
    }
}

// -- templates -------------------------------------------------------------------------------------

/// The pieces of a string with `${{ }}` in it.
enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let body = &rest[start + 3..];
        // The closing `}}` outside string literals.
        let mut in_string = false;
        let mut end = None;
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\'' => in_string = !in_string,
                b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let end = end.ok_or_else(|| format!("`${{{{` without `}}}}` in `{template}`"))?;
        out.push(Piece::Expr(&body[..end]));
        rest = &body[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Evaluates a value from a workflow file: a string that is exactly one `${{ expr }}` keeps the
/// expression's type; any other string gets each expression's text put in; other values stay.
pub fn evaluate_value(value: &Value, scope: &Scope) -> Result<Value, String> {
    let Value::String(template) = value else {
        return Ok(value.clone());
    };
    let parts = pieces(template)?;
    if let [Piece::Expr(e)] = parts.as_slice() {
        return Expression::parse(e)?.evaluate(scope);
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(e) => out.push_str(&to_string(&Expression::parse(e)?.evaluate(scope)?)),
        }
    }
    Ok(Value::String(out))
}

/// A template evaluated to text (for `env:`, `with:` values given to a program, `run:`).
pub fn evaluate_string(template: &str, scope: &Scope) -> Result<String, String> {
    Ok(to_string(&evaluate_value(
        &Value::String(template.to_string()),
        scope,
    )?))
}

/// An `if:` condition: with or without `${{ }}`, with the implicit `success() &&` when it calls
/// no status function.
pub fn condition(text: &str, scope: &Scope) -> Result<bool, String> {
    let trimmed = text.trim();
    let inner = match pieces(trimmed)?.as_slice() {
        [Piece::Expr(e)] => e.to_string(),
        [Piece::Text(t)] => t.to_string(),
        _ => {
            return Err(format!(
                "`if: {text}` mixes text and `${{{{ }}}}`: GitHub reads it as a non-empty string, always true"
            ));
        }
    };
    let expr = Expression::parse(&inner)?;
    let expr = if expr.uses_status_function() {
        expr
    } else {
        Expression::parse(&format!("success() && ({inner})"))?
    };
    Ok(truthy(&expr.evaluate(scope)?))
}

/// Builds a JSON object from string pairs.
pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::new()
            .with(
                "inputs",
                json!({"prompt": "Add a flag", "plan_only": false, "branch_name": "", "n": 3}),
            )
            .with(
                "steps",
                json!({"run-implement": {"outputs": {"completed_steps": "3"}, "outcome": "success"},
                       "prepare": {"outputs": {}, "outcome": "skipped"}}),
            )
            .with("secrets", json!({"ONESHOT_TOKEN": "pat"}))
            .with("github", json!({"token": "ghs", "run_id": "42", "event": {"repository": {"default_branch": "main"}}}));
        s.status = Some(Status::steps(false));
        s
    }

    fn ev(text: &str) -> Value {
        Expression::parse(text)
            .and_then(|e| e.evaluate(&scope()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn literals_and_access() {
        assert_eq!(ev("null"), Value::Null);
        assert_eq!(ev("'it''s'"), json!("it's"));
        assert_eq!(ev("0xff"), json!(255));
        assert_eq!(ev("-1.5"), json!(-1.5));
        assert_eq!(ev("1e3"), json!(1000));
        assert_eq!(
            ev("steps.run-implement.outputs.completed_steps"),
            json!("3")
        );
        assert_eq!(ev("steps['run-implement'].outcome"), json!("success"));
        assert_eq!(ev("secrets.oneshot_token"), json!("pat"));
        assert_eq!(ev("secrets.MISSING"), Value::Null);
        assert_eq!(ev("github.event.repository.default_branch"), json!("main"));
        assert_eq!(ev("steps.*.outcome"), json!(["success", "skipped"]));
    }

    #[test]
    fn operators_follow_github() {
        assert_eq!(ev("inputs.branch_name || 'x'"), json!("x"));
        assert_eq!(ev("inputs.prompt && 'yes' || 'no'"), json!("yes"));
        assert_eq!(ev("inputs.branch_name && 'yes' || 'no'"), json!("no"));
        assert_eq!(ev("!inputs.plan_only"), json!(true));
        assert_eq!(ev("inputs.branch_name == ''"), json!(true));
        assert_eq!(ev("secrets.MISSING == ''"), json!(true));
        assert_eq!(ev("'ABC' == 'abc'"), json!(true));
        assert_eq!(ev("inputs.n == '3'"), json!(true));
        assert_eq!(ev("true == 1"), json!(true));
        assert_eq!(ev("'a' != 'b' && (1 < 2) && !(2 <= 1)"), json!(true));
        assert_eq!(ev("'x' == 0"), json!(false)); // NaN
    }

    #[test]
    fn functions() {
        assert_eq!(
            ev("format('oneshot [{0}]: {1} {{x}}', 'id', inputs.prompt)"),
            json!("oneshot [id]: Add a flag {x}")
        );
        assert_eq!(ev("contains('Hello', 'ELL')"), json!(true));
        assert_eq!(ev("contains(fromJSON('[1, 2]'), 2)"), json!(true));
        assert_eq!(ev("startsWith(github.token, 'GH')"), json!(true));
        assert_eq!(ev("endsWith('abc', 'd')"), json!(false));
        assert_eq!(ev("fromJSON('{\"a\": true}').a"), json!(true));
        assert_eq!(ev("toJSON(inputs.n)"), json!("3"));
        assert_eq!(ev("join(fromJSON('[\"a\",\"b\"]'), '-')"), json!("a-b"));
        assert_eq!(
            ev("success() && !failure() && always() && !cancelled()"),
            json!(true)
        );
    }

    #[test]
    fn unknown_syntax_is_an_error() {
        for bad in [
            "nope.x",
            "hashFiles('x')",
            "unknown()",
            "a ==",
            "'open",
            "1 + 2",
            "inputs.",
            "format('{1}', 'a')",
        ] {
            assert!(
                Expression::parse(bad)
                    .and_then(|e| e.evaluate(&scope()))
                    .is_err(),
                "{bad} should fail"
            );
        }
        let no_status = Scope::new();
        assert!(
            Expression::parse("success()")
                .unwrap()
                .evaluate(&no_status)
                .is_err()
        );
    }

    #[test]
    fn templates_and_conditions() {
        let s = scope();
        assert_eq!(
            evaluate_value(&json!("${{ inputs.plan_only }}"), &s).unwrap(),
            json!(false)
        );
        assert_eq!(
            evaluate_string("run ${{ github.run_id }} of ${{ inputs.n }}", &s).unwrap(),
            "run 42 of 3"
        );
        assert_eq!(
            evaluate_string("${{ format('{0}}}', 'a') }}", &s).unwrap(),
            "a}"
        );
        assert!(condition("inputs.branch_name == ''", &s).unwrap());
        assert!(condition("${{ !inputs.plan_only }}", &s).unwrap());
        let mut failed = s.clone();
        failed.status = Some(Status::steps(true));
        assert!(!condition("true", &failed).unwrap());
        assert!(condition("always() && steps.prepare.outcome == 'skipped'", &failed).unwrap());
        assert!(condition("failure()", &failed).unwrap());
        assert!(condition("a ${{ true }}", &s).is_err());
    }
}
