//! Compiling a [`MappingSpec`] at config load: every expression parsed once, checked, and
//! studied for the source fields it reads.
//!
//! Everything that can be known before the first record is refused here, with the
//! config path of the expression and, when the spec came from the config file, the byte
//! offset of the faulty token in that file: syntax errors, statements, loops and
//! closures, unknown variables, unknown functions (or a known one with the wrong
//! number of arguments), a `lookup` of a table the config does not define, a `defaults`
//! value of an unusable type (a TOML date-time), a `lines` part without `from` or
//! `target`.

use std::{collections::BTreeMap, sync::Arc};

use rhai::{AST, ASTNode, Dynamic, Engine, Expr, FnCallExpr, Position, Scope, Stmt};
use toml::Spanned;

use super::{
    MappingSpec, Tables,
    engine::{self, Limits, LookupTables},
    eval::{Compiled, Expression, Field, Lines, Mapping},
    value,
};

/// A mapping that cannot be compiled, found at config load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CompileError {
    /// Config path of the faulty part: `flows.catalog_sync.map.name`, `flows.x.when`,
    /// `flows.x.lines.map.rate`, `flows.x.defaults.y`, `tables.tax.EU`.
    pub path: String,
    /// Byte offset into the config file text of the exact error point, when the
    /// expression came from the file: the string's span start, plus the length of its
    /// opening quote (1 for `'`/`"`, 3 for `'''`/`"""`), plus the byte offset of the
    /// error inside the expression. `None` for values without a span (defaults, tables,
    /// specs built in code with an empty span).
    pub offset: Option<usize>,
    /// What is wrong, for a person.
    pub message: String,
}

/// Settings for [`compile_with`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions<'a> {
    /// Resource limits of the mapping's engine.
    pub limits: Limits,
    /// The config file text the spec was read from. With it, offsets are exact even in
    /// strings with escapes or a multi-line string's trimmed first newline; without it
    /// the quote length is inferred from the span (exact for expressions written
    /// without escapes, which is what single-quoted TOML strings give).
    pub config_text: Option<&'a str>,
}

/// Variables every expression may use.
const RECORD_VARIABLES: &[&str] = &["source", "related", "now", "today"];
/// Variables a line expression may use besides the record's.
const LINE_VARIABLES: &[&str] = &["source", "related", "now", "today", "line", "index"];

/// Compiles a flow's mapping with the default [`Limits`]. `flow` names the flow in
/// error paths (`flows.<flow>.map.<field>`); `tables` are the config's lookup tables.
pub fn compile(spec: &MappingSpec, flow: &str, tables: &Tables) -> Result<Mapping, CompileError> {
    compile_with(spec, flow, tables, &CompileOptions::default())
}

/// [`compile`] with explicit limits and, optionally, the config text for exact offsets.
pub fn compile_with(spec: &MappingSpec, flow: &str, tables: &Tables, options: &CompileOptions) -> Result<Mapping, CompileError> {
    let lookup_tables = convert_tables(tables)?;
    let engine = engine::build(&options.limits, Arc::new(lookup_tables));
    let known = engine::known_functions(&engine);
    let compiler = Compiler { engine: &engine, known: &known, tables, config_text: options.config_text };
    let prefix = format!("flows.{flow}");

    let when = match &spec.when {
        Some(when) if !when.get_ref().trim().is_empty() => Some(compiler.expression(format!("{prefix}.when"), when, RECORD_VARIABLES)?),
        _ => None,
    };
    let fields = compiler.fields(&prefix, &spec.map, &spec.defaults, &spec.optional, RECORD_VARIABLES)?;
    let lines = match &spec.lines {
        None => None,
        Some(lines) => {
            let path = format!("{prefix}.lines");
            if lines.from.get_ref().trim().is_empty() {
                return Err(CompileError {
                    path: format!("{path}.from"),
                    offset: None,
                    message: "`lines` needs `from`, an expression giving the array of line elements (e.g. 'source.Product_Details')".into(),
                });
            }
            if lines.target.trim().is_empty() {
                return Err(CompileError {
                    path: format!("{path}.target"),
                    offset: None,
                    message: "`lines` needs `target`, the payload field receiving the lines (e.g. \"line_items\")".into(),
                });
            }
            let from = compiler.expression(format!("{path}.from"), &lines.from, RECORD_VARIABLES)?;
            let fields = compiler.fields(&path, &lines.map, &lines.defaults, &lines.optional, LINE_VARIABLES)?;
            Some(Lines { from, target: lines.target.clone(), fields, path })
        }
    };

    let mut source_fields: Vec<String> = Vec::new();
    let line_expressions = lines.iter().flat_map(|l| std::iter::once(&l.from).chain(l.fields.iter().filter_map(|f| f.expression.as_ref())));
    let expressions = when.iter().chain(fields.iter().filter_map(|f| f.expression.as_ref())).chain(line_expressions);
    for expression in expressions {
        source_fields.extend(expression.reads.iter().filter_map(|r| r.strip_prefix("source.")).map(str::to_string));
    }
    source_fields.sort();
    source_fields.dedup();

    Ok(Mapping { inner: Arc::new(Compiled { engine, limits: options.limits.clone(), flow: flow.to_string(), when, fields, lines, source_fields }) })
}

fn convert_tables(tables: &Tables) -> Result<LookupTables, CompileError> {
    let mut converted = LookupTables::new();
    for (name, rows) in tables {
        let mut values = BTreeMap::new();
        for (key, value) in rows {
            let dynamic = value::toml_to_dynamic(value).map_err(|message| CompileError { path: format!("tables.{name}.{key}"), offset: None, message })?;
            values.insert(key.clone(), dynamic);
        }
        converted.insert(name.clone(), values);
    }
    Ok(converted)
}

struct Compiler<'a> {
    engine: &'a Engine,
    known: &'a [(String, usize)],
    tables: &'a Tables,
    config_text: Option<&'a str>,
}

/// A problem found while walking an expression's syntax tree.
struct Problem {
    message: String,
    position: Position,
}

impl Compiler<'_> {
    fn fields(
        &self,
        prefix: &str,
        map: &BTreeMap<String, Spanned<String>>,
        defaults: &BTreeMap<String, toml::Value>,
        optional: &[String],
        variables: &[&str],
    ) -> Result<Vec<Field>, CompileError> {
        let mut fields: BTreeMap<&str, Field> = BTreeMap::new();
        for (target, default) in defaults {
            let dynamic =
                value::toml_to_dynamic(default).map_err(|message| CompileError { path: format!("{prefix}.defaults.{target}"), offset: None, message })?;
            let json =
                value::dynamic_to_json(&dynamic).map_err(|message| CompileError { path: format!("{prefix}.defaults.{target}"), offset: None, message })?;
            fields.insert(target, Field { target: target.clone(), expression: None, default: Some(json), optional: false });
        }
        for (target, text) in map {
            let path = format!("{prefix}.map.{target}");
            if text.get_ref().trim().is_empty() {
                return Err(CompileError { path, offset: self.offset(text, Position::NONE), message: "the expression is empty".into() });
            }
            let expression = self.expression(path, text, variables)?;
            let field = fields.entry(target).or_insert_with(|| Field { target: target.clone(), expression: None, default: None, optional: false });
            field.expression = Some(expression);
            field.optional = optional.iter().any(|o| o == target);
        }
        Ok(fields.into_values().collect())
    }

    fn expression(&self, path: String, text: &Spanned<String>, variables: &[&str]) -> Result<Expression, CompileError> {
        let mut scope = Scope::new();
        for variable in variables {
            scope.push_dynamic(*variable, Dynamic::UNIT);
        }
        let ast = self.engine.compile_expression_with_scope(&scope, text.get_ref()).map_err(|e| CompileError {
            offset: self.offset(text, e.position()),
            message: parse_message(e.err_type()),
            path: path.clone(),
        })?;
        let (reads, problem) = self.study(&ast);
        if let Some(problem) = problem {
            return Err(CompileError { path, offset: self.offset(text, problem.position), message: problem.message });
        }
        Ok(Expression { path, text: text.get_ref().clone(), ast, reads })
    }

    /// Walks the syntax tree: the `source.X`/`line.X` fields read, and the first
    /// problem (unknown function, wrong arity, unknown table).
    fn study(&self, ast: &AST) -> (Vec<String>, Option<Problem>) {
        let mut reads = Vec::new();
        let mut problem = None;
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(ASTNode::Stmt(Stmt::FnCall(call, position))) = path.last() {
                // A call that is the whole expression is kept as a statement.
                problem = self.check_call(call, *position, false);
            } else if let Some(ASTNode::Expr(expr)) = path.last() {
                match expr {
                    Expr::Dot(binary, ..) | Expr::Index(binary, ..) => {
                        if let Expr::Variable(variable, ..) = &binary.lhs
                            && matches!(variable.1.as_str(), "source" | "line")
                            && let Some(key) = leftmost_key(&binary.rhs)
                        {
                            let read = format!("{}.{key}", variable.1);
                            if !reads.contains(&read) {
                                reads.push(read);
                            }
                        }
                    }
                    Expr::FnCall(call, position) => problem = self.check_call(call, *position, false),
                    Expr::MethodCall(call, position) => problem = self.check_call(call, *position, true),
                    _ => {}
                }
            }
            problem.is_none()
        });
        (reads, problem)
    }

    fn check_call(&self, call: &FnCallExpr, position: Position, method: bool) -> Option<Problem> {
        let name = call.name.as_str();
        if call.op_token.is_some() || !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return None;
        }
        let arity = call.args.len() + usize::from(method);
        let arities: Vec<usize> = self.known.iter().filter(|(n, _)| n == name).map(|(_, a)| *a).collect();
        if arities.is_empty() {
            return Some(Problem { message: format!("unknown function `{name}`"), position });
        }
        if !arities.contains(&arity) {
            let takes: Vec<String> = arities.iter().map(|a| a.to_string()).collect();
            return Some(Problem { message: format!("`{name}` takes {} argument(s), not {arity}", takes.join(" or ")), position });
        }
        if name == "lookup"
            && !method
            && let Some(Expr::StringConstant(table, table_position)) = call.args.first()
            && !self.tables.contains_key(table.as_str())
        {
            let defined: Vec<&str> = self.tables.keys().map(String::as_str).collect();
            let message = if defined.is_empty() {
                format!("no table named {:?}: the config defines no [tables.<name>]", table.as_str())
            } else {
                format!("no table named {:?}: the config defines {}", table.as_str(), defined.join(", "))
            };
            return Some(Problem { message, position: *table_position });
        }
        None
    }

    /// The byte offset in the config file of `position` inside the expression `text`.
    fn offset(&self, text: &Spanned<String>, position: Position) -> Option<usize> {
        let span = text.span();
        let value = text.get_ref();
        if span.end < span.start + value.len() + 2 {
            return None; // no real span: the spec was built in code
        }
        let inside = offset_in_expression(value, position);
        if let Some(raw) = self.config_text.and_then(|t| t.get(span.clone()))
            && let Some(offset) = raw_offset(raw, inside)
        {
            return Some(span.start + offset);
        }
        let quote = if span.len() >= value.len() + 6 { 3 } else { 1 };
        Some(span.start + quote + inside)
    }
}

/// The key a chain after `source` starts with: `X` in `source.X`, `source["X"]`,
/// `source.X.Y`, `source?.X[0]`.
fn leftmost_key(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Property(property, ..) => Some(property.2.to_string()),
        Expr::StringConstant(key, ..) => Some(key.to_string()),
        Expr::Dot(binary, ..) | Expr::Index(binary, ..) => leftmost_key(&binary.lhs),
        _ => None,
    }
}

/// A parse error's text, with a hint for what expression mode refuses.
fn parse_message(error: &rhai::ParseErrorType) -> String {
    use rhai::ParseErrorType as P;
    let text = error.to_string();
    if text.contains("is disabled") {
        return format!("{text}: not available in mapping expressions");
    }
    match error {
        P::WrongFnDefinition | P::FnMissingName | P::BadInput(..) | P::MissingToken(..) | P::Reserved(..) | P::LoopBreak | P::ExprExpected(..) => {
            format!("{text} (a mapping is one expression: no statements, `let`, loops, functions or closures)")
        }
        _ => text,
    }
}

/// Byte offset inside `text` of a rhai position (1-based line and character column).
/// A position without a line (rhai gives none for some errors) is the start.
fn offset_in_expression(text: &str, position: Position) -> usize {
    let (Some(line), column) = (position.line(), position.position()) else {
        return 0;
    };
    let column = column.unwrap_or(1).max(1);
    let mut start = 0;
    for (number, content) in text.split_inclusive('\n').enumerate() {
        if number + 1 == line {
            return start + content.char_indices().nth(column - 1).map_or(content.len(), |(byte, _)| byte);
        }
        start += content.len();
    }
    text.len()
}

/// Offset inside the raw TOML string literal `raw` (quotes included) of the byte at
/// `inside` in its value: the opening quote, a multi-line string's trimmed first
/// newline and, in basic strings, escapes are accounted for. `None` when the literal
/// has a line-ending backslash before that point (then the caller estimates).
fn raw_offset(raw: &str, inside: usize) -> Option<usize> {
    let (quote, literal) = match raw.as_bytes() {
        [b'\'', b'\'', b'\'', ..] => (3, true),
        [b'"', b'"', b'"', ..] => (3, false),
        [b'\'', ..] => (1, true),
        [b'"', ..] => (1, false),
        _ => return None,
    };
    let mut start = quote;
    if quote == 3 {
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    if literal {
        return Some(start + inside);
    }
    let body = &raw[start..];
    let (mut raw_at, mut value_at) = (0, 0);
    while value_at < inside {
        let rest = body.get(raw_at..)?;
        let mut chars = rest.chars();
        let c = chars.next()?;
        if c != '\\' {
            raw_at += c.len_utf8();
            value_at += c.len_utf8();
            continue;
        }
        let (raw_len, value_len) = match chars.next()? {
            'u' => (6, rest.get(2..6).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)?.len_utf8()),
            'U' => (10, rest.get(2..10).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)?.len_utf8()),
            'x' => (4, rest.get(2..4).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)?.len_utf8()),
            ' ' | '\t' | '\r' | '\n' => return None,
            _ => (2, 1),
        };
        raw_at += raw_len;
        value_at += value_len;
    }
    Some(start + raw_at)
}
