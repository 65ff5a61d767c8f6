//! The sandboxed rhai engine mapping expressions run in.
//!
//! One [`rhai::Engine`] is built per compiled mapping, at config load, and shared (in an
//! `Arc`) by every clone of the [`super::Mapping`] and every record it maps; it holds the
//! mapping's lookup tables, so `lookup` needs no global state. It starts from
//! `Engine::new_raw()` (no `print` output, no file or module access) and gets only the
//! packages expressions need: arithmetic and comparisons, strings, arrays, object maps
//! and basic maths. Language-core functions (`sleep`, `exit`, `parse_json`), function
//! pointers and `eval` are left out or disabled. The parser runs in expression-only mode
//! with loops, statements in blocks and shadowing refused and strict variables on (a
//! misspelt variable is a load-time error). Every limit is set: operations, expression
//! depth, string, array and object-map sizes.

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use rhai::{
    Dynamic, Engine, EvalAltResult, ImmutableString,
    packages::{ArithmeticPackage, BasicArrayPackage, BasicMapPackage, BasicMathPackage, BasicStringPackage, LogicPackage, MoreStringPackage, Package},
};

use super::functions::{self, HelperResult};

/// Resource limits for evaluating one expression. A limit that is hit ends that
/// expression with an [`super::EvalError`] saying which limit it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Operations (roughly: expression nodes evaluated, function calls, items touched)
    /// one expression may take.
    pub max_operations: u64,
    /// Nesting depth of an expression, checked when it is compiled.
    pub max_expr_depth: usize,
    /// Largest string, in bytes, an expression may build.
    pub max_string_size: usize,
    /// Largest array, in items, an expression may build.
    pub max_array_size: usize,
    /// Largest object map, in entries, an expression may build.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_operations: 50_000, max_expr_depth: 64, max_string_size: 64 * 1024, max_array_size: 10_000, max_map_size: 10_000 }
    }
}

/// Lookup tables converted once to the values expressions see: table -> key -> value.
pub type LookupTables = BTreeMap<String, BTreeMap<String, Dynamic>>;

/// Names handled by rhai's evaluator rather than by a registered function, refused so
/// an expression cannot build or call code, evaluate text or print.
const DISABLED_SYMBOLS: &[&str] = &["eval", "Fn", "call", "curry", "print", "debug", "is_def_fn", "is_shared", "this", "global"];

/// Functions handled by rhai's evaluator that expressions may call: name and arity.
pub const EVALUATOR_FUNCTIONS: &[(&str, usize)] = &[("type_of", 1), ("is_def_var", 1)];

/// The standard packages, built once per process (building them registers several
/// hundred functions).
fn packages() -> &'static [Arc<rhai::Module>] {
    static PACKAGES: OnceLock<Vec<Arc<rhai::Module>>> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        vec![
            ArithmeticPackage::new().as_shared_module(),
            LogicPackage::new().as_shared_module(),
            BasicStringPackage::new().as_shared_module(),
            MoreStringPackage::new().as_shared_module(),
            BasicArrayPackage::new().as_shared_module(),
            BasicMapPackage::new().as_shared_module(),
            BasicMathPackage::new().as_shared_module(),
        ]
    })
}

fn into_rhai(result: HelperResult) -> Result<Dynamic, Box<EvalAltResult>> {
    result.map_err(Into::into)
}

/// Builds the engine for one mapping: limits, packages, helpers and `lookup` over
/// `tables`.
pub fn build(limits: &Limits, tables: Arc<LookupTables>) -> Engine {
    let mut engine = Engine::new_raw();
    for package in packages() {
        engine.register_global_module(package.clone());
    }
    for symbol in DISABLED_SYMBOLS {
        engine.disable_symbol(*symbol);
    }
    engine
        .set_allow_looping(false)
        .set_allow_statement_expression(false)
        .set_allow_loop_expressions(false)
        .set_allow_shadowing(false)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(false)
        .set_max_operations(limits.max_operations)
        .set_max_expr_depths(limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size);

    register_helpers(&mut engine);
    register_lookup(&mut engine, tables);
    engine
}

/// Registers the helpers of [`functions`]. Each takes `Dynamic` so `()` reaches it; the
/// text helpers also get a `String` overload, because rhai prefers an exact parameter
/// type and the string package has a `trim` of its own (which trims in place and gives
/// `()`).
fn register_helpers(engine: &mut Engine) {
    engine.register_fn("text", |x: Dynamic| into_rhai(functions::text(x)));
    engine.register_fn("text", |x: ImmutableString| into_rhai(functions::text(x.into())));
    engine.register_fn("trim", |x: Dynamic| into_rhai(functions::trim(x)));
    engine.register_fn("trim", |x: ImmutableString| into_rhai(functions::trim(x.into())));
    engine.register_fn("lower", |x: Dynamic| into_rhai(functions::lower(x)));
    engine.register_fn("upper", |x: Dynamic| into_rhai(functions::upper(x)));
    engine.register_fn("normalize", |x: Dynamic| into_rhai(functions::normalize(x)));
    engine.register_fn("present", functions::present);
    engine.register_fn("round_money", |x: Dynamic, places: Dynamic| into_rhai(functions::round_money(x, places)));
    engine.register_fn("decimal", |x: Dynamic| into_rhai(functions::decimal(x)));
    engine.register_fn("add_days", |date: Dynamic, days: Dynamic| into_rhai(functions::add_days(date, days)));
    engine.register_fn("due_date", |date: Dynamic, terms: Dynamic| into_rhai(functions::due_date(date, terms)));
}

/// `lookup("table", key)` and `lookup("table", key, default)`.
fn register_lookup(engine: &mut Engine, tables: Arc<LookupTables>) {
    let two = tables.clone();
    engine.register_fn("lookup", move |table: ImmutableString, key: Dynamic| into_rhai(lookup(&two, &table, &key, Dynamic::UNIT)));
    engine.register_fn("lookup", move |table: ImmutableString, key: Dynamic, default: Dynamic| into_rhai(lookup(&tables, &table, &key, default)));
}

/// The value of `key` in `table`; `default` when the key is `()` or not in the table.
/// Keys are matched exactly (case and spaces count); a number or boolean key is
/// matched by its text (`lookup("terms", 30)` finds `"30"`).
pub fn lookup(tables: &LookupTables, table: &str, key: &Dynamic, default: Dynamic) -> HelperResult {
    let rows = tables.get(table).ok_or_else(|| format!("lookup: there is no table named {table:?} (tables are defined under [tables.<name>])"))?;
    let Some(key) = functions::lookup_key(key)? else {
        return Ok(default);
    };
    Ok(rows.get(key.as_str()).cloned().unwrap_or(default))
}

/// Every function an expression may call, as name and number of parameters (sorted).
pub fn known_functions(engine: &Engine) -> Vec<(String, usize)> {
    let mut list: Vec<(String, usize)> = engine.collect_fn_metadata(None, |info| Some((info.metadata.name.to_string(), info.metadata.num_params)), true);
    list.extend(EVALUATOR_FUNCTIONS.iter().map(|(name, arity)| (name.to_string(), *arity)));
    list.sort();
    list.dedup();
    list
}

/// A person-readable reason for an evaluation error; limits are named with their value.
pub fn describe_error(error: &EvalAltResult, limits: &Limits) -> String {
    match error.unwrap_inner() {
        EvalAltResult::ErrorTooManyOperations(..) => format!("the operation limit ({}) was reached", limits.max_operations),
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.starts_with("Length of string") => {
            format!("the string size limit ({} bytes) was reached", limits.max_string_size)
        }
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.starts_with("Size of array") => {
            format!("the array size limit ({} items) was reached", limits.max_array_size)
        }
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.starts_with("Size of object map") => {
            format!("the object map size limit ({} entries) was reached", limits.max_map_size)
        }
        EvalAltResult::ErrorStackOverflow(..) => "the nesting depth limit was reached".to_string(),
        EvalAltResult::ErrorRuntime(value, ..) => value.to_string(),
        EvalAltResult::ErrorFunctionNotFound(signature, ..) => {
            format!("no function or operator matches {signature} (is a value of the wrong kind, or absent?)")
        }
        other => {
            let text = other.to_string();
            let position = other.position();
            if position.is_none() {
                return text;
            }
            text.strip_suffix(&format!(" ({position})")).map(str::to_string).unwrap_or(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_keys_by_text_and_falls_back() {
        let mut tables = LookupTables::new();
        let rows = BTreeMap::from([("DE".to_string(), Dynamic::from(ImmutableString::from("tax-19"))), ("30".to_string(), Dynamic::from_int(30))]);
        tables.insert("tax".to_string(), rows);
        let key = |s: &str| Dynamic::from(ImmutableString::from(s));
        assert_eq!(lookup(&tables, "tax", &key("DE"), Dynamic::UNIT).unwrap().into_string().unwrap(), "tax-19");
        assert_eq!(lookup(&tables, "tax", &Dynamic::from_int(30), Dynamic::UNIT).unwrap().as_int().unwrap(), 30);
        assert!(lookup(&tables, "tax", &key("de"), Dynamic::UNIT).unwrap().is_unit());
        assert_eq!(lookup(&tables, "tax", &key("XX"), Dynamic::from_int(0)).unwrap().as_int().unwrap(), 0);
        assert_eq!(lookup(&tables, "tax", &Dynamic::UNIT, Dynamic::from_int(0)).unwrap().as_int().unwrap(), 0);
        assert!(lookup(&tables, "nope", &key("DE"), Dynamic::UNIT).unwrap_err().contains("no table named \"nope\""));
    }

    #[test]
    fn engine_knows_the_helpers_and_not_the_io() {
        let engine = build(&Limits::default(), Arc::new(LookupTables::new()));
        let known = known_functions(&engine);
        for (name, arity) in [("text", 1), ("round_money", 2), ("lookup", 2), ("lookup", 3), ("due_date", 2), ("to_upper", 1), ("type_of", 1)] {
            assert!(known.iter().any(|(n, a)| n == name && *a == arity), "{name}/{arity}");
        }
        for name in ["sleep", "exit", "parse_json", "eval", "timestamp"] {
            assert!(!known.iter().any(|(n, _)| n == name), "{name}");
        }
    }
}
