//! The COQL text parser: turns a `select ... from ... where ... order by ... limit ...`
//! string into a [`Query`] tree, without looking at modules or fields.
//!
//! It exists apart from the executor (`coql.rs`) so the grammar can be unit-tested on its
//! own. Keywords are case-insensitive; string literals are single-quoted with `\'` as the
//! escape for a quote (and `\\` for a backslash). Every failure is a [`SyntaxError`]
//! carrying the offending text and its line/column (line 1-based, column 0-based, the way
//! Zoho's ANTLR-style messages count). Nesting depth is bounded so hostile input cannot
//! overflow the stack.

/// Deepest parenthesis nesting accepted in a WHERE clause.
pub const MAX_DEPTH: usize = 64;

/// A parse failure: the text near the problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The token (or text) at which parsing failed.
    pub near: String,
    /// 1-based line.
    pub line: u32,
    /// 0-based column within the line.
    pub column: u32,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT`.
    Count,
    /// `SUM`.
    Sum,
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `AVG`.
    Avg,
}

impl Aggregate {
    fn parse(word: &str) -> Option<Aggregate> {
        Some(match word.to_ascii_lowercase().as_str() {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "avg" => Aggregate::Avg,
            _ => return None,
        })
    }

    /// The upper-case function name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "COUNT",
            Aggregate::Sum => "SUM",
            Aggregate::Min => "MIN",
            Aggregate::Max => "MAX",
            Aggregate::Avg => "AVG",
        }
    }
}

/// A field reference as written: `Amount`, `Account_Name.Account_Name`, `Owner.first_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The dot-separated parts.
    pub parts: Vec<String>,
}

impl Path {
    /// The path as written, parts joined with dots.
    pub fn text(&self) -> String {
        self.parts.join(".")
    }
}

/// One entry of the select list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A field (possibly through lookups).
    Field(Path),
    /// An aggregate; `arg` is `None` for `COUNT(*)`.
    Aggregate {
        /// Which function.
        func: Aggregate,
        /// Its argument.
        arg: Option<Path>,
    },
}

/// A select-list column with its optional `as` alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// What is selected.
    pub expr: Expr,
    /// `as alias`.
    pub alias: Option<String>,
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` (unescaped).
    Text(String),
    /// A number as written (kept as text so decimals stay exact).
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `like`.
    Like,
    /// `not like`.
    NotLike,
    /// `in (...)`.
    In,
    /// `not in (...)`.
    NotIn,
    /// `is null`.
    IsNull,
    /// `is not null`.
    IsNotNull,
    /// `between a and b`.
    Between,
    /// `not between a and b`.
    NotBetween,
}

impl Op {
    /// The operator as COQL writes it.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Like => "like",
            Op::NotLike => "not like",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::IsNull => "is null",
            Op::IsNotNull => "is not null",
            Op::Between => "between",
            Op::NotBetween => "not between",
        }
    }
}

/// A WHERE tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// One comparison.
    Cmp {
        /// The field.
        path: Path,
        /// The operator.
        op: Op,
        /// Its values (none for `is null`, two for `between`, a list for `in`).
        values: Vec<Literal>,
    },
    /// All must hold.
    And(Vec<Cond>),
    /// Any must hold.
    Or(Vec<Cond>),
}

impl Cond {
    /// How many comparisons the tree holds.
    pub fn count(&self) -> usize {
        match self {
            Cond::Cmp { .. } => 1,
            Cond::And(c) | Cond::Or(c) => c.iter().map(Cond::count).sum(),
        }
    }

    /// Every comparison, in order.
    pub fn comparisons(&self) -> Vec<(&Path, Op, &[Literal])> {
        match self {
            Cond::Cmp { path, op, values } => vec![(path, *op, values.as_slice())],
            Cond::And(c) | Cond::Or(c) => c.iter().flat_map(Cond::comparisons).collect(),
        }
    }
}

/// One `order by` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The field.
    pub path: Path,
    /// `desc`.
    pub descending: bool,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The select list.
    pub columns: Vec<Column>,
    /// The module as written after `from`.
    pub module: String,
    /// The WHERE clause.
    pub condition: Option<Cond>,
    /// The ORDER BY keys.
    pub order: Vec<OrderKey>,
    /// LIMIT as written (`None` when absent). Values too large for `u64` saturate.
    pub limit: Option<u64>,
    /// OFFSET as written (`None` when absent).
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Comma,
    Open,
    Close,
    Star,
    Semi,
    Cmp(&'static str),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    text: String,
    pos: usize,
}

const KEYWORDS: &[&str] = &[
    "select", "from", "where", "order", "by", "limit", "offset", "and", "or", "not", "like", "in", "is", "null", "between", "asc", "desc", "as", "group",
    "having",
];

/// Is `word` a reserved COQL keyword?
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn error_at(chars: &[char], pos: usize, near: &str) -> SyntaxError {
    let before = &chars[..pos.min(chars.len())];
    let line = before.iter().filter(|c| **c == '\n').count() + 1;
    let column = before.iter().rev().take_while(|c| **c != '\n').count();
    SyntaxError { near: near.to_string(), line: line as u32, column: column as u32 }
}

fn lex(chars: &[char]) -> Result<Vec<Token>, SyntaxError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_alphabetic() || c == '_' || c == '$' {
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.')) {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '_') {
                return Err(error_at(chars, start, &chars[start..=i].iter().collect::<String>()));
            }
            Tok::Num(chars[start..i].iter().collect())
        } else if c == '\'' {
            i += 1;
            let mut value = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(error_at(chars, start, &chars[start..].iter().collect::<String>())),
                    Some('\\') => {
                        if let Some(&n) = chars.get(i + 1) {
                            value.push(n);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            Tok::Str(value)
        } else {
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let (tok, len) = match (c, two.as_str()) {
                (_, "!=") => (Tok::Cmp("!="), 2),
                (_, "<>") => (Tok::Cmp("!="), 2),
                (_, ">=") => (Tok::Cmp(">="), 2),
                (_, "<=") => (Tok::Cmp("<="), 2),
                ('=', _) => (Tok::Cmp("="), 1),
                ('>', _) => (Tok::Cmp(">"), 1),
                ('<', _) => (Tok::Cmp("<"), 1),
                (',', _) => (Tok::Comma, 1),
                ('(', _) => (Tok::Open, 1),
                (')', _) => (Tok::Close, 1),
                ('*', _) => (Tok::Star, 1),
                (';', _) => (Tok::Semi, 1),
                _ => return Err(error_at(chars, start, &c.to_string())),
            };
            i += len;
            tok
        };
        out.push(Token { tok, text: chars[start..i].iter().collect(), pos: start });
    }
    out.push(Token { tok: Tok::End, text: String::new(), pos: chars.len() });
    Ok(out)
}

struct Parser<'a> {
    chars: &'a [char],
    toks: Vec<Token>,
    at: usize,
}

/// Parses a COQL select query.
pub fn parse(text: &str) -> Result<Query, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let toks = lex(&chars)?;
    let mut p = Parser { chars: &chars, toks, at: 0 };
    p.query()
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    /// An error at the current token; at the end of input it points at the last token.
    fn fail(&self) -> SyntaxError {
        let t = self.peek();
        if t.tok == Tok::End {
            if let Some(prev) = self.at.checked_sub(1).and_then(|i| self.toks.get(i)) {
                return error_at(self.chars, prev.pos, &prev.text);
            }
            return error_at(self.chars, 0, "");
        }
        error_at(self.chars, t.pos, &t.text)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.next();
        }
        yes
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SyntaxError> {
        if self.eat_kw(kw) { Ok(()) } else { Err(self.fail()) }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), SyntaxError> {
        if self.peek().tok == tok {
            self.next();
            Ok(())
        } else {
            Err(self.fail())
        }
    }

    fn query(&mut self) -> Result<Query, SyntaxError> {
        self.expect_kw("select")?;
        let mut columns = vec![self.column()?];
        while self.peek().tok == Tok::Comma {
            self.next();
            columns.push(self.column()?);
        }
        self.expect_kw("from")?;
        let module = match self.peek().tok.clone() {
            Tok::Word(w) if !is_keyword(&w) && !w.contains('.') => {
                self.next();
                w
            }
            _ => return Err(self.fail()),
        };
        let condition = if self.eat_kw("where") { Some(self.or(0)?) } else { None };
        let mut order = Vec::new();
        if self.eat_kw("order") {
            self.expect_kw("by")?;
            loop {
                let path = self.path()?;
                let descending = if self.eat_kw("desc") {
                    true
                } else {
                    self.eat_kw("asc");
                    false
                };
                order.push(OrderKey { path, descending });
                if self.peek().tok != Tok::Comma {
                    break;
                }
                self.next();
            }
        }
        let (mut limit, mut offset) = (None, None);
        if self.eat_kw("limit") {
            let first = self.count()?;
            if self.peek().tok == Tok::Comma {
                self.next();
                offset = Some(first);
                limit = Some(self.count()?);
            } else {
                limit = Some(first);
                if self.eat_kw("offset") {
                    offset = Some(self.count()?);
                }
            }
        } else if self.eat_kw("offset") {
            offset = Some(self.count()?);
        }
        if self.peek().tok == Tok::Semi {
            self.next();
        }
        if self.peek().tok != Tok::End {
            return Err(self.fail());
        }
        Ok(Query { columns, module, condition, order, limit, offset })
    }

    /// A non-negative integer (LIMIT / OFFSET); too large saturates to `u64::MAX`.
    fn count(&mut self) -> Result<u64, SyntaxError> {
        match self.peek().tok.clone() {
            Tok::Num(n) if n.chars().all(|c| c.is_ascii_digit()) => {
                self.next();
                Ok(n.parse().unwrap_or(u64::MAX))
            }
            _ => Err(self.fail()),
        }
    }

    fn path(&mut self) -> Result<Path, SyntaxError> {
        match self.peek().tok.clone() {
            Tok::Word(w) if !is_keyword(&w) => {
                let parts: Vec<String> = w.split('.').map(String::from).collect();
                if parts.iter().any(|p| p.is_empty()) {
                    return Err(self.fail());
                }
                self.next();
                Ok(Path { parts })
            }
            _ => Err(self.fail()),
        }
    }

    fn column(&mut self) -> Result<Column, SyntaxError> {
        let func = match &self.peek().tok {
            Tok::Word(w) => Aggregate::parse(w),
            _ => None,
        };
        let is_call = func.is_some() && self.toks.get(self.at + 1).is_some_and(|t| t.tok == Tok::Open);
        let expr = match func {
            Some(func) if is_call => {
                self.next();
                self.next();
                let arg = if self.peek().tok == Tok::Star && func == Aggregate::Count {
                    self.next();
                    None
                } else {
                    Some(self.path()?)
                };
                self.expect(Tok::Close)?;
                Expr::Aggregate { func, arg }
            }
            _ => Expr::Field(self.path()?),
        };
        let alias = if self.eat_kw("as") {
            match self.peek().tok.clone() {
                Tok::Word(w) if !w.contains('.') => {
                    self.next();
                    Some(w)
                }
                _ => return Err(self.fail()),
            }
        } else {
            None
        };
        Ok(Column { expr, alias })
    }

    fn or(&mut self, depth: usize) -> Result<Cond, SyntaxError> {
        let mut parts = vec![self.and(depth)?];
        while self.eat_kw("or") {
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::Or(parts) })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, SyntaxError> {
        let mut parts = vec![self.atom(depth)?];
        while self.eat_kw("and") {
            parts.push(self.atom(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::And(parts) })
    }

    fn atom(&mut self, depth: usize) -> Result<Cond, SyntaxError> {
        if self.peek().tok == Tok::Open {
            if depth >= MAX_DEPTH {
                return Err(self.fail());
            }
            self.next();
            let inner = self.or(depth + 1)?;
            self.expect(Tok::Close)?;
            return Ok(inner);
        }
        let path = self.path()?;
        let (op, values) = match self.peek().tok.clone() {
            Tok::Cmp(c) => {
                self.next();
                let op = match c {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    _ => Op::Le,
                };
                (op, vec![self.literal()?])
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("is") => {
                self.next();
                let not = self.eat_kw("not");
                self.expect_kw("null")?;
                (if not { Op::IsNotNull } else { Op::IsNull }, Vec::new())
            }
            Tok::Word(w) if ["not", "like", "in", "between"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                let not = self.eat_kw("not");
                if self.eat_kw("like") {
                    (if not { Op::NotLike } else { Op::Like }, vec![self.literal()?])
                } else if self.eat_kw("in") {
                    self.expect(Tok::Open)?;
                    let mut values = vec![self.literal()?];
                    while self.peek().tok == Tok::Comma {
                        self.next();
                        values.push(self.literal()?);
                    }
                    self.expect(Tok::Close)?;
                    (if not { Op::NotIn } else { Op::In }, values)
                } else if self.eat_kw("between") {
                    let lo = self.literal()?;
                    self.expect_kw("and")?;
                    let hi = self.literal()?;
                    (if not { Op::NotBetween } else { Op::Between }, vec![lo, hi])
                } else {
                    return Err(self.fail());
                }
            }
            _ => return Err(self.fail()),
        };
        Ok(Cond::Cmp { path, op, values })
    }

    fn literal(&mut self) -> Result<Literal, SyntaxError> {
        let lit = match self.peek().tok.clone() {
            Tok::Str(s) => Literal::Text(s),
            Tok::Num(n) => Literal::Number(n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return Err(self.fail()),
        };
        self.next();
        Ok(lit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Path {
        Path { parts: s.split('.').map(String::from).collect() }
    }

    fn cmp(p: &str, op: Op, values: Vec<Literal>) -> Cond {
        Cond::Cmp { path: path(p), op, values }
    }

    fn text(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    #[test]
    fn parses_a_full_query() {
        let q = parse(
            "SELECT Deal_Name, Amount, Account_Name.Account_Name from Deals \
             where Stage = 'Closed Won' and Modified_Time > '2024-01-01T00:00:00+00:00' \
             order by Modified_Time asc, Amount DESC limit 0, 200",
        )
        .unwrap();
        assert_eq!(q.columns.len(), 3);
        assert_eq!(q.columns[2].expr, Expr::Field(path("Account_Name.Account_Name")));
        assert_eq!(q.module, "Deals");
        assert_eq!(
            q.condition,
            Some(Cond::And(vec![cmp("Stage", Op::Eq, vec![text("Closed Won")]), cmp("Modified_Time", Op::Gt, vec![text("2024-01-01T00:00:00+00:00")]),]))
        );
        assert_eq!(q.order, vec![OrderKey { path: path("Modified_Time"), descending: false }, OrderKey { path: path("Amount"), descending: true }]);
        assert_eq!((q.limit, q.offset), (Some(200), Some(0)));
    }

    #[test]
    fn limit_forms_and_defaults() {
        let q = parse("select id from Deals").unwrap();
        assert_eq!((q.limit, q.offset, q.condition), (None, None, None));
        let q = parse("select id from Deals limit 10 offset 20;").unwrap();
        assert_eq!((q.limit, q.offset), (Some(10), Some(20)));
        let q = parse("select id from Deals limit 5").unwrap();
        assert_eq!((q.limit, q.offset), (Some(5), None));
        let q = parse("select id from Deals limit 99999999999999999999999").unwrap();
        assert_eq!(q.limit, Some(u64::MAX));
    }

    #[test]
    fn operators_literals_and_precedence() {
        let q = parse(
            "select id from Deals where (a like '%x%' or b not like 'y%') and c in ('p', 'q\\'s') \
             and d not in (1, 2.5) and e is null and f is not null and g between 1 and 10 \
             and h <> true and i != null and j <= -3",
        )
        .unwrap();
        let Some(Cond::And(parts)) = q.condition else { panic!("expected and") };
        assert_eq!(parts.len(), 9);
        assert_eq!(parts[0], Cond::Or(vec![cmp("a", Op::Like, vec![text("%x%")]), cmp("b", Op::NotLike, vec![text("y%")])]));
        assert_eq!(parts[1], cmp("c", Op::In, vec![text("p"), text("q's")]));
        assert_eq!(parts[2], cmp("d", Op::NotIn, vec![Literal::Number("1".into()), Literal::Number("2.5".into())]));
        assert_eq!(parts[3], cmp("e", Op::IsNull, vec![]));
        assert_eq!(parts[4], cmp("f", Op::IsNotNull, vec![]));
        assert_eq!(parts[5], cmp("g", Op::Between, vec![Literal::Number("1".into()), Literal::Number("10".into())]));
        assert_eq!(parts[6], cmp("h", Op::Ne, vec![Literal::Bool(true)]));
        assert_eq!(parts[7], cmp("i", Op::Ne, vec![Literal::Null]));
        assert_eq!(parts[8], cmp("j", Op::Le, vec![Literal::Number("-3".into())]));
        let q = parse("select id from Deals where a = 1 or b = 2 and c = 3").unwrap();
        assert_eq!(
            q.condition,
            Some(Cond::Or(vec![
                cmp("a", Op::Eq, vec![Literal::Number("1".into())]),
                Cond::And(vec![cmp("b", Op::Eq, vec![Literal::Number("2".into())]), cmp("c", Op::Eq, vec![Literal::Number("3".into())])]),
            ]))
        );
    }

    #[test]
    fn aggregates_and_aliases() {
        let q = parse("select COUNT(*), count(id) as n, SUM(Amount), min(Amount), MAX(Amount), avg(Amount) from Deals").unwrap();
        let exprs: Vec<_> = q.columns.iter().map(|c| c.expr.clone()).collect();
        assert_eq!(exprs[0], Expr::Aggregate { func: Aggregate::Count, arg: None });
        assert_eq!(exprs[1], Expr::Aggregate { func: Aggregate::Count, arg: Some(path("id")) });
        assert_eq!(q.columns[1].alias.as_deref(), Some("n"));
        assert_eq!(exprs[5], Expr::Aggregate { func: Aggregate::Avg, arg: Some(path("Amount")) });
    }

    #[test]
    fn refuses_malformed_queries_with_position() {
        let e = parse("select Last_Name from Leads wher Last_Name = 'x'").unwrap_err();
        assert_eq!(e, SyntaxError { near: "wher".into(), line: 1, column: 28 });
        let e = parse("select Last_Name\nfrom Leads where").unwrap_err();
        assert_eq!((e.near.as_str(), e.line, e.column), ("where", 2, 11));
        for bad in [
            "",
            "select",
            "select from Deals",
            "select a, from Deals",
            "select a from",
            "select a from Deals where",
            "select a from Deals where b =",
            "select a from Deals where b = 'unterminated",
            "select a from Deals where (b = 1",
            "select a from Deals where b = 1)",
            "select a from Deals where b in ()",
            "select a from Deals where b between 1",
            "select a from Deals where b is 1",
            "select a from Deals order a",
            "select a from Deals limit -1",
            "select a from Deals limit x",
            "select a from Deals limit 1, ",
            "select * from Deals",
            "select sum(*) from Deals",
            "select a from Deals # b",
            "select a.b. from Deals",
            "update Deals set a = 1",
            "select a from Deals where b = 1 extra",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("select a from Deals where {}b = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let ok = format!("select a from Deals where {}b = 1{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&ok).is_ok());
    }
}
