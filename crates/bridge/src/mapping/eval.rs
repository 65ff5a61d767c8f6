//! A compiled mapping and its evaluation against one record.
//!
//! The record and its related records are turned into rhai values once per call and
//! pushed, as constants, into one `Scope` every field expression is evaluated against;
//! line expressions add `line` and `index` for each element and rewind afterwards.

use std::{fmt, sync::Arc};

use rhai::{AST, Array, Dynamic, Engine, INT, ImmutableString, Scope};

use super::{
    engine::{self, Limits},
    value,
};

/// What a mapping reads from one record: the source record, the records the flow
/// loaded with it, and the engine's clock.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The source record (a JSON object), as read fresh from Zoho.
    pub source: &'a serde_json::Value,
    /// An object: name -> related record or array of records the flow loaded (the
    /// deal's account, its products…). `null` when there are none (read as an empty
    /// object: `related.x` is then `()`).
    pub related: &'a serde_json::Value,
    /// The current time from the engine's clock (never the system clock here): `now`
    /// is its RFC 3339 text and `today` its UTC date.
    pub now: jiff::Timestamp,
}

/// An expression failed on one record, or gave no value for a required field. The flow
/// dead-letters the record with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EvalError {
    /// Config path of the expression: `flows.catalog_sync.map.rate`,
    /// `flows.deal_to_invoice.lines[2].map.rate`, `flows.x.when`, `flows.x.lines.from`.
    pub field: String,
    /// What went wrong, for a person: rhai's reason, a limit that was hit, or
    /// `no value (source.X is absent?) and no default`.
    pub reason: String,
}

/// The result of [`Mapping::evaluate`]: the record is skipped, or mapped.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `when` did not pass; the text names the condition.
    Skipped(String),
    /// The payload, as [`Mapping::apply`] gives it.
    Payload(serde_json::Map<String, serde_json::Value>),
}

/// One compiled expression with what the compiler learnt about it.
pub(super) struct Expression {
    /// Config path, used in errors.
    pub path: String,
    /// The expression as written.
    pub text: String,
    pub ast: AST,
    /// `source.X` and `line.X` the expression reads, for "is absent?" messages.
    pub reads: Vec<String>,
}

/// One target field: its expression (none for a constant from `defaults`), its
/// default as JSON, and whether it may be left out.
pub(super) struct Field {
    pub target: String,
    pub expression: Option<Expression>,
    pub default: Option<serde_json::Value>,
    pub optional: bool,
}

/// The compiled `lines` part.
pub(super) struct Lines {
    pub from: Expression,
    pub target: String,
    pub fields: Vec<Field>,
    /// `flows.<name>.lines`, prefix of the per-element paths.
    pub path: String,
}

/// Everything a [`Mapping`] shares between its clones.
pub(super) struct Compiled {
    pub engine: Engine,
    pub limits: Limits,
    pub flow: String,
    pub when: Option<Expression>,
    pub fields: Vec<Field>,
    pub lines: Option<Lines>,
    pub source_fields: Vec<String>,
}

/// A compiled mapping: cheap to clone (an `Arc` inside), safe to share between worker
/// tasks. Built by [`super::compile`] at config load.
#[derive(Clone)]
pub struct Mapping {
    pub(super) inner: Arc<Compiled>,
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("flow", &self.inner.flow)
            .field("when", &self.inner.when.as_ref().map(|w| &w.text))
            .field("fields", &self.target_fields())
            .field("line_fields", &self.line_target_fields())
            .finish()
    }
}

impl Mapping {
    /// The flow this mapping belongs to.
    pub fn flow(&self) -> &str {
        &self.inner.flow
    }

    /// `None` when the record passes `when` (or there is no `when`); `Some(reason)`
    /// naming the condition when it is false or gives no value.
    pub fn skip_reason(&self, input: &Input) -> Result<Option<String>, EvalError> {
        let Some(when) = &self.inner.when else {
            return Ok(None);
        };
        let mut scope = self.scope(input);
        self.check_when(when, &mut scope)
    }

    /// The payload: one JSON object with every mapped field (plus `lines.target`, an
    /// array of objects, when lines are configured). Does not look at `when`.
    pub fn apply(&self, input: &Input) -> Result<serde_json::Map<String, serde_json::Value>, EvalError> {
        let mut scope = self.scope(input);
        self.payload(&mut scope)
    }

    /// [`Self::skip_reason`] then [`Self::apply`], converting the record only once.
    pub fn evaluate(&self, input: &Input) -> Result<Outcome, EvalError> {
        let mut scope = self.scope(input);
        if let Some(when) = &self.inner.when
            && let Some(reason) = self.check_when(when, &mut scope)?
        {
            return Ok(Outcome::Skipped(reason));
        }
        self.payload(&mut scope).map(Outcome::Payload)
    }

    /// Source fields the expressions read (`source.X`, `source["X"]`), sorted and
    /// deduplicated: flows read exactly these from Zoho. A field reached only through a
    /// computed index (`source[name]`) cannot be known and is not listed.
    pub fn source_fields(&self) -> &[String] {
        &self.inner.source_fields
    }

    /// Target fields of the payload (mapped or constant), sorted; for `zoho-bridge check`.
    pub fn target_fields(&self) -> Vec<String> {
        self.inner.fields.iter().map(|f| f.target.clone()).collect()
    }

    /// Target fields of each line, sorted; empty without `lines`.
    pub fn line_target_fields(&self) -> Vec<String> {
        self.inner.lines.as_ref().map(|l| l.fields.iter().map(|f| f.target.clone()).collect()).unwrap_or_default()
    }

    /// The payload field receiving the lines, if lines are configured.
    pub fn lines_target(&self) -> Option<&str> {
        self.inner.lines.as_ref().map(|l| l.target.as_str())
    }

    fn scope(&self, input: &Input) -> Scope<'static> {
        let mut scope = Scope::new();
        scope.push_constant_dynamic("source", value::json_to_dynamic(input.source));
        // No related records is an empty object, so `related.x` is `()` rather than an error.
        let related = if input.related.is_null() { Dynamic::from_map(rhai::Map::new()) } else { value::json_to_dynamic(input.related) };
        scope.push_constant_dynamic("related", related);
        scope.push_constant("now", ImmutableString::from(input.now.to_string()));
        let today = jiff::tz::Offset::UTC.to_datetime(input.now).date();
        scope.push_constant("today", ImmutableString::from(today.to_string()));
        scope
    }

    fn run(&self, expression: &Expression, scope: &mut Scope, path: &str) -> Result<Dynamic, EvalError> {
        self.inner
            .engine
            .eval_ast_with_scope::<Dynamic>(scope, &expression.ast)
            .map_err(|e| EvalError { field: path.to_string(), reason: engine::describe_error(&e, &self.inner.limits) })
    }

    fn check_when(&self, when: &Expression, scope: &mut Scope) -> Result<Option<String>, EvalError> {
        let result = self.run(when, scope, &when.path)?;
        if result.is_unit() {
            return Ok(Some(format!("the condition `{}` gave no value", when.text)));
        }
        match result.as_bool() {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some(format!("the condition `{}` is false", when.text))),
            Err(_) => {
                Err(EvalError { field: when.path.clone(), reason: format!("the condition must give true or false, not {}", super::functions::kind(&result)) })
            }
        }
    }

    fn payload(&self, scope: &mut Scope) -> Result<serde_json::Map<String, serde_json::Value>, EvalError> {
        let mut payload = serde_json::Map::with_capacity(self.inner.fields.len() + 1);
        self.fill(&self.inner.fields, scope, None, &mut payload)?;
        if let Some(lines) = &self.inner.lines {
            let elements = self.run(&lines.from, scope, &lines.from.path)?;
            let elements: Array = if elements.is_unit() {
                Array::new()
            } else {
                elements
                    .into_array()
                    .map_err(|kind| EvalError { field: lines.from.path.clone(), reason: format!("`from` must give an array of line elements, not {kind}") })?
            };
            let mut items = Vec::with_capacity(elements.len());
            let depth = scope.len();
            for (index, element) in elements.into_iter().enumerate() {
                scope.push_constant_dynamic("line", element);
                scope.push_constant("index", index as INT);
                let mut line = serde_json::Map::with_capacity(lines.fields.len());
                let result = self.fill(&lines.fields, scope, Some((&lines.path, index)), &mut line);
                scope.rewind(depth);
                result?;
                items.push(serde_json::Value::Object(line));
            }
            payload.insert(lines.target.clone(), serde_json::Value::Array(items));
        }
        Ok(payload)
    }

    /// Evaluates `fields` into `out`. `line` is the lines path and element index when
    /// these are line fields (error paths become `flows.x.lines[2].map.rate`).
    fn fill(
        &self,
        fields: &[Field],
        scope: &mut Scope,
        line: Option<(&str, usize)>,
        out: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), EvalError> {
        for field in fields {
            let Some(expression) = &field.expression else {
                if let Some(default) = &field.default {
                    out.insert(field.target.clone(), default.clone());
                }
                continue;
            };
            let path = match line {
                Some((lines_path, index)) => format!("{lines_path}[{index}].map.{}", field.target),
                None => expression.path.clone(),
            };
            let result = self.run(expression, scope, &path)?;
            if result.is_unit() {
                if let Some(default) = &field.default {
                    out.insert(field.target.clone(), default.clone());
                } else if !field.optional {
                    let reason = if expression.reads.is_empty() {
                        "no value and no default".to_string()
                    } else {
                        format!("no value ({} is absent?) and no default", expression.reads.join(" or "))
                    };
                    return Err(EvalError { field: path, reason });
                }
                continue;
            }
            let json = value::dynamic_to_json(&result).map_err(|reason| EvalError { field: path, reason })?;
            out.insert(field.target.clone(), json);
        }
        Ok(())
    }
}
