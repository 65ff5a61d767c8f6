//! `POST /crm/v8/coql`: COQL select queries over the emulated records.
//!
//! The text is parsed by `coql_parser`; this file checks the query against the module
//! schema (unknown columns, limits, value types), charges the extra API credits a large
//! LIMIT costs, filters / sorts / pages the records and shapes Zoho's answer:
//! `{"data":[...],"info":{"count","more_records"}}`, or 204 with no body when nothing
//! matches. Numbers are compared and summed as `rust_decimal::Decimal`, date-times as
//! instants, text case-insensitively.

use std::cmp::Ordering;
use std::str::FromStr;

use axum::{body::Bytes, extract::State, http::StatusCode, response::Response};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::{
    crm::{
        coql_parser::{self, Aggregate, Cond, Expr, Literal, Op, Path, Query, SyntaxError},
        money, reply,
        schema::{self, Field, Kind, Module},
        store::{CrmData, Record, parse_id},
    },
    errors::crm_error,
    state::AppState,
};

/// Most columns in the select list.
pub const MAX_COLUMNS: usize = 50;
/// Most comparisons in the WHERE clause.
pub const MAX_CRITERIA: usize = 25;
/// Most values in one `in` / `not in` list.
pub const MAX_IN_VALUES: usize = 50;
/// Most ORDER BY keys.
pub const MAX_ORDER_KEYS: usize = 10;
/// LIMIT when none is given.
pub const DEFAULT_LIMIT: u64 = 200;
/// Largest LIMIT.
pub const MAX_LIMIT: u64 = 2000;
/// Largest OFFSET + LIMIT.
pub const MAX_REACH: u64 = 100_000;
/// Most lookup hops in one column (`A.B.C` is two).
pub const MAX_RELATIONS: usize = 2;

/// Fields of the users "module" reachable through `Owner.` / `Created_By.` / `Modified_By.`.
const USER_FIELDS: &[&str] = &["id", "first_name", "last_name", "full_name", "email"];

fn syntax_error(e: &SyntaxError) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "SYNTAX_ERROR", "error occured while parsing the query", json!({"near": e.near, "line": e.line, "column": e.column}))
}

fn invalid_column(column: &str, clause: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "column given seems to be invalid", json!({"column_name": column, "clause": clause}))
}

fn invalid_value(column: &str, expected: &str, operator: Op) -> Response {
    crm_error(
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
        "value given seems to be invalid for the column",
        json!({"column_name": column, "expected_data_type": expected, "operator": operator.text(), "clause": "where"}),
    )
}

fn unsupported_type(column: &str, data_type: &str, clause: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "data type not supported", json!({"column_name": column, "data_type": data_type, "clause": clause}))
}

fn invalid_query(clause: &str, reason: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "invalid query formed", json!({"clause": clause, "reason": reason}))
}

fn limit_exceeded(clause: &str, limit: u64) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "limit exceeded", json!({"clause": clause, "limit": limit}))
}

/// What a column path ends at.
#[derive(Debug, Clone, Copy)]
enum Leaf {
    /// The record id.
    Id,
    /// A module field.
    Field(&'static Field),
    /// An attribute of a user (`first_name`, …).
    User(&'static str),
}

/// How values of a column compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Number,
    Time,
    Text,
    Bool,
    /// Multi-line text and subforms: selectable, not comparable.
    Opaque,
}

/// A column path checked against the schema.
#[derive(Debug, Clone)]
struct Column {
    /// Canonical API name path (`Account_Name.Account_Name`).
    key: String,
    /// Lookup fields followed, with the module each points into (`None` = users).
    hops: Vec<(&'static Field, Option<&'static Module>)>,
    leaf: Leaf,
}

impl Column {
    fn class(&self) -> Class {
        match self.leaf {
            Leaf::Id => Class::Number,
            Leaf::User("id") => Class::Number,
            Leaf::User(_) => Class::Text,
            Leaf::Field(f) => match f.kind {
                Kind::Integer | Kind::Double | Kind::Currency => Class::Number,
                Kind::Lookup(_) | Kind::WhatLookup | Kind::Owner => Class::Number,
                Kind::DateTime => Class::Time,
                Kind::Boolean => Class::Bool,
                Kind::TextArea | Kind::Subform => Class::Opaque,
                _ => Class::Text,
            },
        }
    }

    fn data_type(&self) -> &'static str {
        match self.leaf {
            Leaf::Id => "bigint",
            Leaf::User("id") => "bigint",
            Leaf::User(_) => "text",
            Leaf::Field(f) => f.kind.data_type(),
        }
    }

    /// Can it be summed / averaged?
    fn is_amount(&self) -> bool {
        matches!(self.leaf, Leaf::Field(f) if matches!(f.kind, Kind::Integer | Kind::Double | Kind::Currency))
    }

    fn is_date(&self) -> bool {
        matches!(self.leaf, Leaf::Field(f) if f.kind == Kind::Date)
    }
}

fn resolve(module: &'static Module, path: &Path, clause: &str) -> Result<Column, Response> {
    let written = path.text();
    let bad = || invalid_column(&written, clause);
    if path.parts.len() > MAX_RELATIONS + 1 {
        return Err(bad());
    }
    let mut current: Option<&'static Module> = Some(module);
    let mut hops = Vec::new();
    let mut names = Vec::new();
    let last = path.parts.len() - 1;
    for (i, part) in path.parts.iter().enumerate() {
        let Some(m) = current else {
            // Inside the users "module": only a leaf attribute is allowed.
            let attr = USER_FIELDS.iter().find(|a| a.eq_ignore_ascii_case(part)).ok_or_else(bad)?;
            if i != last {
                return Err(bad());
            }
            names.push(attr.to_string());
            return Ok(Column { key: names.join("."), hops, leaf: Leaf::User(attr) });
        };
        if part.eq_ignore_ascii_case("id") {
            if i != last {
                return Err(bad());
            }
            names.push("id".to_string());
            return Ok(Column { key: names.join("."), hops, leaf: Leaf::Id });
        }
        let field = m.fields.iter().find(|f| f.api_name.eq_ignore_ascii_case(part)).ok_or_else(bad)?;
        names.push(field.api_name.to_string());
        if i == last {
            if field.kind == Kind::Subform {
                return Err(bad());
            }
            return Ok(Column { key: names.join("."), hops, leaf: Leaf::Field(field) });
        }
        current = match field.kind {
            Kind::Lookup(target) => Some(schema::module(target).ok_or_else(bad)?),
            Kind::Owner => None,
            _ => return Err(bad()),
        };
        hops.push((field, current));
    }
    Err(bad())
}

/// The raw stored value a column reaches from a record (`Null` when a hop is empty).
fn reach(crm: &CrmData, record: &Record, column: &Column) -> Value {
    let mut fields: &Map<String, Value> = &record.fields;
    for (field, target) in &column.hops {
        let id = fields.get(field.api_name).and_then(|v| v.get("id"));
        match target {
            Some(m) => match id.and_then(parse_id).and_then(|id| crm.record(m.api_name, id)) {
                Some(r) => fields = &r.fields,
                None => return Value::Null,
            },
            None => {
                let Some(user) = id.and_then(Value::as_str).and_then(|id| crm.user(id)) else {
                    return Value::Null;
                };
                return match column.leaf {
                    Leaf::User("id") => json!(user.id),
                    Leaf::User("first_name") => json!(user.first_name),
                    Leaf::User("last_name") => json!(user.last_name),
                    Leaf::User("full_name") => json!(user.full_name()),
                    Leaf::User("email") => json!(user.email),
                    _ => Value::Null,
                };
            }
        }
    }
    match column.leaf {
        Leaf::Id => fields.get("id").cloned().unwrap_or(Value::Null),
        Leaf::Field(f) => fields.get(f.api_name).cloned().unwrap_or(Value::Null),
        Leaf::User(_) => Value::Null,
    }
}

/// The value as it appears in a COQL answer: lookups as `{"id"}`, the rest as stored.
fn shown(column: &Column, value: Value) -> Value {
    match (column.leaf, &value) {
        (Leaf::Field(f), Value::Object(o)) if matches!(f.kind, Kind::Lookup(_) | Kind::WhatLookup) => {
            json!({"id": o.get("id").cloned().unwrap_or(Value::Null)})
        }
        _ => value,
    }
}

/// A comparable form of a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scalar {
    Number(Decimal),
    Time(Timestamp),
    Text(String),
    Bool(bool),
}

fn scalar(class: Class, value: &Value) -> Option<Scalar> {
    match (class, value) {
        (_, Value::Null) => None,
        (Class::Number, Value::Object(o)) => o.get("id").and_then(|id| scalar(Class::Number, id)),
        (Class::Number, v) => money::dec(v).map(Scalar::Number),
        (Class::Time, Value::String(s)) => crate::clock::parse_datetime(s).map(Scalar::Time),
        (Class::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (Class::Text, Value::String(s)) if s.is_empty() => None,
        (Class::Text, Value::String(s)) => Some(Scalar::Text(s.to_lowercase())),
        (Class::Text, Value::Array(items)) if items.is_empty() => None,
        (Class::Text, Value::Array(items)) => {
            Some(Scalar::Text(items.iter().map(|i| i.as_str().map(String::from).unwrap_or_else(|| i.to_string())).collect::<Vec<_>>().join(";").to_lowercase()))
        }
        (Class::Text, Value::Object(o)) => o.get("name").and_then(Value::as_str).map(|s| Scalar::Text(s.to_lowercase())),
        (Class::Text, v) => Some(Scalar::Text(v.to_string().to_lowercase())),
        _ => None,
    }
}

/// A literal converted for a column; `Err` when it cannot be a value of that column.
fn literal(column: &Column, lit: &Literal) -> Result<Scalar, ()> {
    match (column.class(), lit) {
        (Class::Number, Literal::Number(n) | Literal::Text(n)) => Decimal::from_str(n.trim()).map(Scalar::Number).map_err(|_| ()),
        (Class::Time, Literal::Text(t)) => crate::clock::parse_datetime(t.trim()).map(Scalar::Time).ok_or(()),
        (Class::Bool, Literal::Bool(b)) => Ok(Scalar::Bool(*b)),
        (Class::Bool, Literal::Text(t)) if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") => {
            Ok(Scalar::Bool(t.eq_ignore_ascii_case("true")))
        }
        (Class::Text, Literal::Text(t)) if column.is_date() => {
            t.trim().parse::<jiff::civil::Date>().map(|_| Scalar::Text(t.trim().to_string())).map_err(|_| ())
        }
        (Class::Text, Literal::Text(t) | Literal::Number(t)) => Ok(Scalar::Text(t.to_lowercase())),
        _ => Err(()),
    }
}

/// `%`-wildcard matching (already lower-cased on both sides).
fn like(text: &str, pattern: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('%').collect();
    if pieces.len() == 1 {
        return text == pattern;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// A WHERE tree with its columns resolved and literals converted.
enum Check {
    Cmp { column: Column, op: Op, values: Vec<Scalar> },
    And(Vec<Check>),
    Or(Vec<Check>),
}

fn compile(module: &'static Module, cond: &Cond) -> Result<Check, Response> {
    match cond {
        Cond::And(parts) => parts.iter().map(|c| compile(module, c)).collect::<Result<_, _>>().map(Check::And),
        Cond::Or(parts) => parts.iter().map(|c| compile(module, c)).collect::<Result<_, _>>().map(Check::Or),
        Cond::Cmp { path, op, values } => {
            let column = resolve(module, path, "where")?;
            let class = column.class();
            if class == Class::Opaque {
                return Err(unsupported_type(&column.key, column.data_type(), "where"));
            }
            let mut op = *op;
            if values.len() == 1 && values[0] == Literal::Null {
                op = match op {
                    Op::Eq => Op::IsNull,
                    Op::Ne => Op::IsNotNull,
                    _ => return Err(invalid_value(&column.key, column.data_type(), op)),
                };
                return Ok(Check::Cmp { column, op, values: Vec::new() });
            }
            if matches!(op, Op::Like | Op::NotLike) && (class != Class::Text || column.is_date()) {
                return Err(unsupported_type(&column.key, column.data_type(), "where"));
            }
            if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::Between | Op::NotBetween) && class == Class::Bool {
                return Err(unsupported_type(&column.key, column.data_type(), "where"));
            }
            let values = match op {
                Op::IsNull | Op::IsNotNull => Vec::new(),
                Op::Like | Op::NotLike => match &values[..] {
                    [Literal::Text(t)] => vec![Scalar::Text(t.to_lowercase())],
                    _ => return Err(invalid_value(&column.key, column.data_type(), op)),
                },
                _ => values.iter().map(|v| literal(&column, v)).collect::<Result<_, _>>().map_err(|_| invalid_value(&column.key, column.data_type(), op))?,
            };
            Ok(Check::Cmp { column, op, values })
        }
    }
}

impl Check {
    fn matches(&self, crm: &CrmData, record: &Record) -> bool {
        match self {
            Check::And(parts) => parts.iter().all(|c| c.matches(crm, record)),
            Check::Or(parts) => parts.iter().any(|c| c.matches(crm, record)),
            Check::Cmp { column, op, values } => {
                let actual = scalar(column.class(), &reach(crm, record, column));
                let first = values.first();
                let Some(a) = actual else {
                    // An empty value satisfies only the negative operators.
                    return matches!(op, Op::IsNull | Op::Ne | Op::NotIn | Op::NotLike | Op::NotBetween);
                };
                let text = |s: &Scalar| match s {
                    Scalar::Text(t) => t.clone(),
                    _ => String::new(),
                };
                let between = || match (values.first(), values.get(1)) {
                    (Some(lo), Some(hi)) => &a >= lo && &a <= hi,
                    _ => false,
                };
                match op {
                    Op::IsNull => false,
                    Op::IsNotNull => true,
                    Op::Eq => first == Some(&a),
                    Op::Ne => first != Some(&a),
                    Op::Gt => first.is_some_and(|v| &a > v),
                    Op::Ge => first.is_some_and(|v| &a >= v),
                    Op::Lt => first.is_some_and(|v| &a < v),
                    Op::Le => first.is_some_and(|v| &a <= v),
                    Op::In => values.contains(&a),
                    Op::NotIn => !values.contains(&a),
                    Op::Like => first.is_some_and(|p| like(&text(&a), &text(p))),
                    Op::NotLike => !first.is_some_and(|p| like(&text(&a), &text(p))),
                    Op::Between => between(),
                    Op::NotBetween => !between(),
                }
            }
        }
    }
}

/// One select-list entry, checked.
enum Output {
    Field { column: Column, key: String },
    Aggregate { func: Aggregate, column: Option<Column>, key: String },
}

/// `POST /crm/v8/coql`.
pub async fn query(State(state): State<AppState>, body: Bytes) -> Response {
    match run(&state, &body) {
        Ok(r) | Err(r) => r,
    }
}

fn run(state: &AppState, body: &[u8]) -> Result<Response, Response> {
    let body = reply::body(body)?;
    let text = body.get("select_query").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Err(crm_error(
            StatusCode::BAD_REQUEST,
            "MANDATORY_NOT_FOUND",
            "required field not found",
            json!({"api_name": "select_query", "json_path": "$.select_query"}),
        ));
    }
    let query = coql_parser::parse(text).map_err(|e| syntax_error(&e))?;
    let module = schema::module(&query.module)
        .ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "the module name given seems to be invalid", json!({"module": query.module})))?;
    check_limits(&query)?;
    let outputs = select_list(module, &query)?;
    let check = query.condition.as_ref().map(|c| compile(module, c)).transpose()?;
    let mut order = Vec::new();
    for key in &query.order {
        let column = resolve(module, &key.path, "order by")?;
        if column.class() == Class::Opaque {
            return Err(unsupported_type(&column.key, column.data_type(), "order by"));
        }
        if order.iter().any(|(c, _): &(Column, bool)| c.key == column.key) {
            return Err(crm_error(StatusCode::BAD_REQUEST, "DUPLICATE_DATA", "duplicate data", json!({"clause": "order by", "column_name": column.key})));
        }
        order.push((column, key.descending));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let offset = query.offset.unwrap_or(0);
    let extra = match limit {
        0..=200 => 0,
        201..=1000 => 1,
        _ => 2,
    };
    if extra > 0 && !state.limiter.crm_spend(extra, state.clock.now_ms()) {
        return Err(crm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "You have exceeded the maximum number of API credits allowed for your account in 24 hours.",
            json!({}),
        ));
    }

    let world = state.world();
    let crm = &world.crm;
    let empty = Default::default();
    let records = crm.modules.get(module.api_name).map(|s| &s.records).unwrap_or(&empty);
    let mut rows: Vec<&Record> = records.values().filter(|r| check.as_ref().is_none_or(|c| c.matches(crm, r))).collect();

    if outputs.iter().any(|o| matches!(o, Output::Aggregate { .. })) {
        if offset > 0 {
            return Ok(reply::empty(StatusCode::NO_CONTENT));
        }
        let mut row = Map::new();
        for out in &outputs {
            if let Output::Aggregate { func, column, key } = out {
                row.insert(key.clone(), aggregate(crm, &rows, *func, column.as_ref()));
            }
        }
        let data = json!({"data": [row], "info": {"count": 1, "more_records": false}});
        return Ok(reply::json(StatusCode::OK, data));
    }

    if !order.is_empty() {
        let mut keyed: Vec<(Vec<Option<Scalar>>, &Record)> =
            rows.into_iter().map(|r| (order.iter().map(|(c, _)| scalar(c.class(), &reach(crm, r, c))).collect(), r)).collect();
        keyed.sort_by(|(a, ra), (b, rb)| {
            for (i, (_, desc)) in order.iter().enumerate() {
                let o = a[i].cmp(&b[i]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            ra.id.cmp(&rb.id)
        });
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let total = rows.len() as u64;
    let page: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|r| {
            let mut out = Map::new();
            out.insert("id".into(), r.fields.get("id").cloned().unwrap_or_else(|| json!(r.id.to_string())));
            for o in &outputs {
                if let Output::Field { column, key } = o {
                    out.insert(key.clone(), shown(column, reach(crm, r, column)));
                }
            }
            Value::Object(out)
        })
        .collect();
    drop(world);
    if page.is_empty() {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    }
    let more = offset.saturating_add(page.len() as u64) < total;
    Ok(reply::json(StatusCode::OK, json!({"data": page, "info": {"count": page.len(), "more_records": more}})))
}

fn check_limits(query: &Query) -> Result<(), Response> {
    if query.columns.len() > MAX_COLUMNS {
        return Err(limit_exceeded("select", MAX_COLUMNS as u64));
    }
    if let Some(cond) = &query.condition {
        if cond.count() > MAX_CRITERIA {
            return Err(limit_exceeded("where", MAX_CRITERIA as u64));
        }
        if cond.comparisons().iter().any(|(_, op, values)| matches!(op, Op::In | Op::NotIn) && values.len() > MAX_IN_VALUES) {
            return Err(limit_exceeded("where", MAX_IN_VALUES as u64));
        }
    }
    if query.order.len() > MAX_ORDER_KEYS {
        return Err(limit_exceeded("order by", MAX_ORDER_KEYS as u64));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Err(invalid_query("limit", "the limit must be at least 1"));
    }
    if limit > MAX_LIMIT {
        return Err(limit_exceeded("limit", MAX_LIMIT));
    }
    if query.offset.unwrap_or(0).saturating_add(limit) > MAX_REACH {
        return Err(limit_exceeded("offset", MAX_REACH));
    }
    Ok(())
}

fn select_list(module: &'static Module, query: &Query) -> Result<Vec<Output>, Response> {
    let mut outputs = Vec::new();
    let mut keys: Vec<String> = vec!["id".into()];
    let mut aggregates = Vec::new();
    for col in &query.columns {
        if let Some(alias) = &col.alias
            && (coql_parser::is_keyword(alias) || alias.eq_ignore_ascii_case("id"))
        {
            return Err(crm_error(StatusCode::BAD_REQUEST, "INVALID_ALIAS", "invalid alias", json!({"alias": alias})));
        }
        let out = match &col.expr {
            Expr::Field(path) => {
                let column = resolve(module, path, "select")?;
                let key = col.alias.clone().unwrap_or_else(|| column.key.clone());
                if column.key == "id" && col.alias.is_none() {
                    continue;
                }
                Output::Field { column, key }
            }
            Expr::Aggregate { func, arg } => {
                let column = arg.as_ref().map(|p| resolve(module, p, "select")).transpose()?;
                let arg_key = column.as_ref().map(|c| c.key.clone()).unwrap_or_else(|| "*".into());
                let plain = format!("{}({arg_key})", func.name());
                if aggregates.contains(&plain) {
                    return Err(crm_error(StatusCode::BAD_REQUEST, "DUPLICATE_DATA", "duplicate data", json!({"clause": "select", "column_name": plain})));
                }
                aggregates.push(plain.clone());
                if let Some(c) = &column {
                    let ok = match func {
                        Aggregate::Count => true,
                        Aggregate::Sum | Aggregate::Avg => c.is_amount(),
                        Aggregate::Min | Aggregate::Max => c.is_amount() || c.is_date() || c.class() == Class::Time,
                    };
                    if !ok {
                        return Err(unsupported_type(&c.key, c.data_type(), "select"));
                    }
                }
                let key = col.alias.clone().unwrap_or(plain);
                Output::Aggregate { func: *func, column, key }
            }
        };
        let key = match &out {
            Output::Field { key, .. } | Output::Aggregate { key, .. } => key.clone(),
        };
        if keys.contains(&key) {
            if col.alias.is_some() {
                return Err(crm_error(StatusCode::BAD_REQUEST, "DUPLICATE_ALIAS", "duplicate alias", json!({"alias": key})));
            }
            continue;
        }
        keys.push(key);
        outputs.push(out);
    }
    let has_aggregate = outputs.iter().any(|o| matches!(o, Output::Aggregate { .. }));
    let has_field = outputs.iter().any(|o| matches!(o, Output::Field { .. }));
    if has_aggregate && has_field {
        return Err(invalid_query("select", "fields other than aggregates need a group by clause"));
    }
    Ok(outputs)
}

fn aggregate(crm: &CrmData, rows: &[&Record], func: Aggregate, column: Option<&Column>) -> Value {
    let Some(column) = column else {
        return json!(rows.len());
    };
    let values: Vec<Value> = rows.iter().map(|r| reach(crm, r, column)).filter(|v| scalar(column.class(), v).is_some()).collect();
    match func {
        Aggregate::Count => json!(values.len()),
        Aggregate::Sum | Aggregate::Avg => {
            let amounts: Vec<Decimal> = values.iter().filter_map(money::dec).collect();
            if amounts.is_empty() {
                return if func == Aggregate::Sum { json!(0) } else { Value::Null };
            }
            let sum: Decimal = amounts.iter().sum();
            if func == Aggregate::Sum {
                return money::num(sum);
            }
            let avg = sum / Decimal::from(amounts.len());
            let places = match column.leaf {
                Leaf::Field(f) if f.kind == Kind::Currency => 2,
                _ => 9,
            };
            money::num(money::round(avg, places))
        }
        Aggregate::Min | Aggregate::Max => {
            let best = values.into_iter().map(|v| (scalar(column.class(), &v), v)).reduce(|a, b| {
                let keep_a = if func == Aggregate::Min { a.0 <= b.0 } else { a.0 >= b.0 };
                if keep_a { a } else { b }
            });
            best.map(|(_, v)| v).unwrap_or(Value::Null)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deals() -> &'static Module {
        schema::module("Deals").unwrap()
    }

    fn path(s: &str) -> Path {
        Path { parts: s.split('.').map(String::from).collect() }
    }

    #[test]
    fn resolves_columns_case_insensitively_and_through_lookups() {
        let c = resolve(deals(), &path("deal_name"), "select").unwrap();
        assert_eq!(c.key, "Deal_Name");
        let c = resolve(deals(), &path("Account_Name.Account_Name"), "select").unwrap();
        assert_eq!((c.key.as_str(), c.hops.len()), ("Account_Name.Account_Name", 1));
        let c = resolve(deals(), &path("Owner.First_Name"), "select").unwrap();
        assert_eq!(c.key, "Owner.first_name");
        let c = resolve(deals(), &path("Account_Name.Parent_Account.Account_Name"), "select").unwrap();
        assert_eq!(c.hops.len(), 2);
        let c = resolve(deals(), &path("Account_Name.Owner.email"), "select").unwrap();
        assert_eq!(c.key, "Account_Name.Owner.email");
        for bad in ["Nope", "Deal_Name.x", "Account_Name.Nope", "Owner.role", "Account_Name.Parent_Account.Parent_Account.Account_Name", "id.x"] {
            assert!(resolve(deals(), &path(bad), "select").is_err(), "{bad}");
        }
        let quotes = schema::module("Quotes").unwrap();
        assert!(resolve(quotes, &path("Quoted_Items"), "select").is_err(), "subforms are not columns");
    }

    #[test]
    fn like_patterns() {
        assert!(like("acme labs", "%labs"));
        assert!(like("acme labs", "acme%"));
        assert!(like("acme labs", "%me la%"));
        assert!(like("acme labs", "a%e%s"));
        assert!(!like("acme labs", "labs%"));
        assert!(!like("ab", "a%b%b"));
        assert!(like("acme", "acme"));
        assert!(!like("acme", "acm"));
    }

    #[test]
    fn literals_are_checked_against_the_column_type() {
        let amount = resolve(deals(), &path("Amount"), "where").unwrap();
        assert_eq!(literal(&amount, &Literal::Number("10.50".into())), Ok(Scalar::Number(Decimal::new(1050, 2))));
        assert!(literal(&amount, &Literal::Text("ten".into())).is_err());
        let modified = resolve(deals(), &path("Modified_Time"), "where").unwrap();
        let a = literal(&modified, &Literal::Text("2024-01-01T05:30:00+05:30".into())).unwrap();
        let b = literal(&modified, &Literal::Text("2024-01-01T00:00:00Z".into())).unwrap();
        assert_eq!(a, b, "date-times compare as instants");
        assert!(literal(&modified, &Literal::Text("2024-01-01".into())).is_err());
        let closing = resolve(deals(), &path("Closing_Date"), "where").unwrap();
        assert!(literal(&closing, &Literal::Text("2024-02-30".into())).is_err());
        assert!(literal(&closing, &Literal::Text("2024-02-28".into())).is_ok());
    }

    #[test]
    fn limits_are_enforced() {
        let q = |s: &str| coql_parser::parse(s).unwrap();
        assert!(check_limits(&q("select id from Deals limit 2000")).is_ok());
        assert!(check_limits(&q("select id from Deals limit 2001")).is_err());
        assert!(check_limits(&q("select id from Deals limit 98000, 2000")).is_ok());
        assert!(check_limits(&q("select id from Deals limit 98001, 2000")).is_err());
        assert!(check_limits(&q("select id from Deals limit 0")).is_err());
        let cols = (0..51).map(|i| format!("F{i}")).collect::<Vec<_>>().join(", ");
        assert!(check_limits(&q(&format!("select {cols} from Deals"))).is_err());
        let conds = (0..26).map(|i| format!("F{i} = 1")).collect::<Vec<_>>().join(" and ");
        assert!(check_limits(&q(&format!("select id from Deals where {conds}"))).is_err());
        let conds = (0..25).map(|i| format!("F{i} = 1")).collect::<Vec<_>>().join(" and ");
        assert!(check_limits(&q(&format!("select id from Deals where {conds}"))).is_ok());
    }
}
