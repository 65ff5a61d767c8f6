//! Zoho's search criteria language: `((Field:operator:value) and (Field2:operator:value))`.
//!
//! Values may contain `(`, `)`, `,` and `\` escaped with a backslash. `and` binds tighter
//! than `or`. The parser returns a tree that [`Node::matches`] evaluates against a record.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::crm::schema::{Kind, Module};

/// Most conditions in one criteria string.
pub const MAX_CONDITIONS: usize = 10;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `equals` (contains, on text fields).
    Equals,
    /// `not_equal`.
    NotEqual,
    /// `starts_with`.
    StartsWith,
    /// `in` (a list).
    In,
    /// `greater_than`.
    GreaterThan,
    /// `greater_equal`.
    GreaterEqual,
    /// `less_than`.
    LessThan,
    /// `less_equal`.
    LessEqual,
    /// `between` (two values, inclusive).
    Between,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "equals" => Op::Equals,
            "not_equal" => Op::NotEqual,
            "starts_with" => Op::StartsWith,
            "in" => Op::In,
            "greater_than" => Op::GreaterThan,
            "greater_equal" => Op::GreaterEqual,
            "less_than" => Op::LessThan,
            "less_equal" => Op::LessEqual,
            "between" => Op::Between,
            _ => return None,
        })
    }
}

/// A parsed criteria tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// One `(Field:op:value)`.
    Cond {
        /// Field API name.
        field: String,
        /// Operator.
        op: Op,
        /// Values (one, or several for `in` / `between`), unescaped.
        values: Vec<String>,
    },
    /// All must match.
    And(Vec<Node>),
    /// Any must match.
    Or(Vec<Node>),
}

/// Why criteria were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriteriaError {
    /// Not well formed; the text says where.
    Syntax(String),
    /// An operator Zoho does not know.
    Operator(String, String),
    /// More than [`MAX_CONDITIONS`] conditions.
    TooMany,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    conditions: usize,
    _s: &'a str,
}

/// Parses criteria text.
pub fn parse(text: &str) -> Result<Node, CriteriaError> {
    let mut p = Parser { chars: text.trim().chars().collect(), pos: 0, conditions: 0, _s: text };
    let node = p.expr()?;
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err(CriteriaError::Syntax(format!("unexpected text at {}", p.pos)));
    }
    Ok(node)
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn keyword(&mut self) -> Option<&'static str> {
        self.skip_ws();
        for kw in ["and", "or"] {
            let end = self.pos + kw.len();
            if end <= self.chars.len()
                && self.chars[self.pos..end].iter().collect::<String>().eq_ignore_ascii_case(kw)
                && self.chars.get(end).is_some_and(|c| c.is_whitespace() || *c == '(')
            {
                self.pos = end;
                return Some(kw);
            }
        }
        None
    }

    /// expr := group (('and'|'or') group)*, `and` before `or`.
    fn expr(&mut self) -> Result<Node, CriteriaError> {
        let mut ors = Vec::new();
        let mut ands = vec![self.group()?];
        while let Some(kw) = self.keyword() {
            let next = self.group()?;
            if kw == "and" {
                ands.push(next);
            } else {
                ors.push(collapse(std::mem::take(&mut ands), Node::And));
                ands.push(next);
            }
        }
        ors.push(collapse(ands, Node::And));
        Ok(collapse(ors, Node::Or))
    }

    /// group := '(' (expr | condition) ')'
    fn group(&mut self) -> Result<Node, CriteriaError> {
        self.skip_ws();
        if self.chars.get(self.pos) != Some(&'(') {
            return Err(CriteriaError::Syntax(format!("expected ( at {}", self.pos)));
        }
        self.pos += 1;
        self.skip_ws();
        let node = if self.chars.get(self.pos) == Some(&'(') { self.expr()? } else { self.condition()? };
        self.skip_ws();
        if self.chars.get(self.pos) != Some(&')') {
            return Err(CriteriaError::Syntax(format!("expected ) at {}", self.pos)));
        }
        self.pos += 1;
        Ok(node)
    }

    /// condition := field ':' op ':' value, value ending at an unescaped ')'.
    fn condition(&mut self) -> Result<Node, CriteriaError> {
        let mut raw = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            if c == '\\' {
                raw.push(c);
                if let Some(&n) = self.chars.get(self.pos + 1) {
                    raw.push(n);
                }
                self.pos += 2;
                continue;
            }
            if c == ')' {
                break;
            }
            raw.push(c);
            self.pos += 1;
        }
        let mut parts = raw.splitn(3, ':');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CriteriaError::Syntax(format!("condition without field:operator:value near {raw}")));
        };
        let field = field.trim().to_string();
        if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$') {
            return Err(CriteriaError::Syntax(format!("bad field name {field}")));
        }
        let op = Op::parse(op.trim()).ok_or_else(|| CriteriaError::Operator(field.clone(), op.trim().to_string()))?;
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(CriteriaError::TooMany);
        }
        let values = split_values(value);
        let values = match op {
            Op::In | Op::Between => values,
            _ => vec![unescape(value)],
        };
        if op == Op::Between && values.len() != 2 {
            return Err(CriteriaError::Syntax("between needs two values".into()));
        }
        Ok(Node::Cond { field, op, values })
    }
}

fn collapse(mut nodes: Vec<Node>, wrap: fn(Vec<Node>) -> Node) -> Node {
    if nodes.len() == 1 { nodes.remove(0) } else { wrap(nodes) }
}

/// Removes Zoho's backslash escapes.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            } else {
                out.push('\\');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Adds Zoho's backslash escapes (what a client does before sending a value).
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '(' | ')' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

impl Node {
    /// Every field the criteria mention.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Node::Cond { field, .. } => vec![field.as_str()],
            Node::And(n) | Node::Or(n) => n.iter().flat_map(Node::fields).collect(),
        }
    }

    /// Does a record (its fields) match?
    pub fn matches(&self, module: &Module, fields: &serde_json::Map<String, Value>) -> bool {
        match self {
            Node::And(n) => n.iter().all(|x| x.matches(module, fields)),
            Node::Or(n) => n.iter().any(|x| x.matches(module, fields)),
            Node::Cond { field, op, values } => {
                let kind = module.field(field).map(|f| f.kind).unwrap_or(Kind::Text);
                let actual = fields.get(field.as_str()).unwrap_or(&Value::Null);
                compare(kind, actual, *op, values)
            }
        }
    }
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Object(o) => ["id", "name"].iter().filter_map(|k| o.get(*k).and_then(Value::as_str)).map(String::from).collect(),
        Value::Array(a) => a.iter().flat_map(texts).collect(),
        other => vec![other.to_string()],
    }
}

fn ordering(a: &str, b: &str) -> std::cmp::Ordering {
    if let (Ok(x), Ok(y)) = (Decimal::from_str(a.trim()), Decimal::from_str(b.trim())) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (crate::clock::parse_datetime(a), crate::clock::parse_datetime(b)) {
        return x.cmp(&y);
    }
    a.to_lowercase().cmp(&b.to_lowercase())
}

fn equal(a: &str, b: &str) -> bool {
    ordering(a, b) == std::cmp::Ordering::Equal
}

fn compare(kind: Kind, actual: &Value, op: Op, values: &[String]) -> bool {
    let have = texts(actual);
    let want = values.first().map(String::as_str).unwrap_or("");
    let any = |f: &dyn Fn(&str) -> bool| have.iter().any(|h| f(h));
    match op {
        Op::Equals if kind.is_text() => {
            let w = want.to_lowercase();
            any(&|h| h.to_lowercase().contains(&w))
        }
        Op::Equals => {
            if want.eq_ignore_ascii_case("null") {
                return have.is_empty();
            }
            any(&|h| equal(h, want))
        }
        Op::NotEqual => !any(&|h| equal(h, want)),
        Op::StartsWith => {
            let w = want.to_lowercase();
            any(&|h| h.to_lowercase().starts_with(&w))
        }
        Op::In => any(&|h| values.iter().any(|w| equal(h, w))),
        Op::GreaterThan => any(&|h| ordering(h, want).is_gt()),
        Op::GreaterEqual => any(&|h| ordering(h, want).is_ge()),
        Op::LessThan => any(&|h| ordering(h, want).is_lt()),
        Op::LessEqual => any(&|h| ordering(h, want).is_le()),
        Op::Between => {
            let hi = values.get(1).map(String::as_str).unwrap_or("");
            any(&|h| ordering(h, want).is_ge() && ordering(h, hi).is_le())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, op: Op, values: &[&str]) -> Node {
        Node::Cond { field: field.into(), op, values: values.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn parses_and_or_with_and_binding_tighter() {
        let n = parse("((A:equals:1) or (B:starts_with:x) and (C:in:p,q))").unwrap();
        assert_eq!(n, Node::Or(vec![cond("A", Op::Equals, &["1"]), Node::And(vec![cond("B", Op::StartsWith, &["x"]), cond("C", Op::In, &["p", "q"])]),]));
        assert_eq!(parse("(A:between:1,5)").unwrap(), cond("A", Op::Between, &["1", "5"]));
    }

    #[test]
    fn escaped_specials_round_trip() {
        for value in ["a(b)", "x,y", r"back\slash", "quote's \"q\"", r"end\"] {
            let text = format!("(Account_Name:equals:{})", escape(value));
            assert_eq!(parse(&text).unwrap(), cond("Account_Name", Op::Equals, &[value]), "{value}");
        }
        assert_eq!(parse(r"(A:in:a\,b,c)").unwrap(), cond("A", Op::In, &["a,b", "c"]));
    }

    #[test]
    fn refuses_malformed_and_too_long_criteria() {
        assert!(matches!(parse("(A:equals:1"), Err(CriteriaError::Syntax(_))));
        assert!(matches!(parse("A:equals:1"), Err(CriteriaError::Syntax(_))));
        assert!(matches!(parse("(A:equals)"), Err(CriteriaError::Syntax(_))));
        assert!(matches!(parse("(A:like:1)"), Err(CriteriaError::Operator(..))));
        assert!(matches!(parse("((A:equals:1) xor (B:equals:2))"), Err(CriteriaError::Syntax(_))));
        let eleven = (0..11).map(|i| format!("(F{i}:equals:1)")).collect::<Vec<_>>().join(" and ");
        assert_eq!(parse(&format!("({eleven})")), Err(CriteriaError::TooMany));
    }

    #[test]
    fn equals_on_text_is_contains_but_not_on_picklists() {
        assert!(compare(Kind::Text, &Value::String("Acme Labs".into()), Op::Equals, &["labs".into()]));
        assert!(!compare(Kind::Picklist(&[]), &Value::String("Closed Won".into()), Op::Equals, &["Won".into()]));
        assert!(compare(Kind::Currency, &serde_json::json!(10.5), Op::Between, &["10".into(), "11".into()]));
        assert!(compare(Kind::Currency, &serde_json::json!(10.5), Op::GreaterThan, &["9.99".into()]));
    }
}
