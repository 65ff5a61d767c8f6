//! Tests of the mapper as flows use it: TOML in, compile, evaluate records, and the
//! errors (with config offsets) a person would see.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

/// A config document holding flows and tables, as the loader reads it.
#[derive(Debug, Deserialize)]
struct Doc {
    #[serde(default)]
    flows: BTreeMap<String, MappingSpec>,
    #[serde(default)]
    tables: Tables,
}

fn now() -> jiff::Timestamp {
    "2024-05-31T22:30:00Z".parse().unwrap()
}

/// Compiles flow `t` of `text` with the config text (exact offsets).
fn compile_doc(text: &str) -> Result<Mapping, CompileError> {
    let doc: Doc = toml::from_str(text).unwrap();
    compile_with(&doc.flows["t"], "t", &doc.tables, &CompileOptions { config_text: Some(text), ..Default::default() })
}

fn mapping(text: &str) -> Mapping {
    compile_doc(text).unwrap_or_else(|e| panic!("{e}"))
}

fn apply(mapping: &Mapping, source: Value) -> Result<serde_json::Map<String, Value>, EvalError> {
    mapping.apply(&Input { source: &source, related: &json!({}), now: now() })
}

fn one(expression: &str, source: Value) -> Result<Value, EvalError> {
    let text = format!("[flows.t.map]\nx = '''{expression}'''\n");
    apply(&mapping(&text), source).map(|mut p| p.remove("x").unwrap_or(Value::Null))
}

/// Asserts that compiling `text` fails at `path` with the offset on `token` (the first
/// occurrence of `token` after `after`).
fn assert_error_at(text: &str, path: &str, after: &str, token: &str) -> CompileError {
    let error = compile_doc(text).expect_err("should not compile");
    assert_eq!(error.path, path, "{error}");
    let from = text.find(after).unwrap();
    let expected = from + text[from..].find(token).unwrap();
    assert_eq!(error.offset, Some(expected), "{error}: offset lands on {:?}", error.offset.map(|o| &text[o..]));
    error
}

const CATALOG: &str = r#"
[flows.t]
when = 'present(source.Product_Name)'
optional = ["sku"]
[flows.t.map]
name = 'text(source.Product_Name)'
rate = 'source.Unit_Price'
sku = 'text(source.Product_Code)'
description = 'text(source.Description) ?? ""'
status = 'if source.Product_Active == false { "inactive" } else { "active" }'
"#;

#[test]
fn catalog_mapping_end_to_end() {
    let m = mapping(CATALOG);
    assert_eq!(m.source_fields(), vec!["Description", "Product_Active", "Product_Code", "Product_Name", "Unit_Price"]);
    assert_eq!(m.target_fields(), vec!["description", "name", "rate", "sku", "status"]);
    assert!(m.line_target_fields().is_empty());

    let product = json!({"Product_Name": "  Widget ", "Unit_Price": 19.99, "Product_Code": "W-1", "Product_Active": true});
    let payload = apply(&m, product.clone()).unwrap();
    assert_eq!(Value::Object(payload), json!({"description": "", "name": "Widget", "rate": 19.99, "sku": "W-1", "status": "active"}));

    let inactive = json!({"Product_Name": "Old", "Unit_Price": 5, "Product_Active": false, "Product_Code": null});
    let payload = apply(&m, inactive).unwrap();
    assert_eq!(payload["status"], json!("inactive"));
    assert_eq!(payload["rate"], json!(5));
    assert!(!payload.contains_key("sku"), "optional field left out");

    let input = Input { source: &product, related: &Value::Null, now: now() };
    assert_eq!(m.skip_reason(&input).unwrap(), None);
    let nameless = json!({"Product_Name": "  "});
    let skipped = m.skip_reason(&Input { source: &nameless, related: &Value::Null, now: now() }).unwrap();
    assert_eq!(skipped.as_deref(), Some("the condition `present(source.Product_Name)` is false"));
    assert!(matches!(m.evaluate(&Input { source: &nameless, related: &Value::Null, now: now() }).unwrap(), Outcome::Skipped(_)));
    assert!(matches!(m.evaluate(&input).unwrap(), Outcome::Payload(_)));
}

#[test]
fn decimals_are_exact() {
    assert_eq!(one("0.1 + 0.2 == 0.3", json!({})).unwrap(), json!(true));
    assert_eq!(one("source.a + source.b", json!({"a": 0.1, "b": 0.2})).unwrap(), json!(0.3));
    assert_eq!(one("source.Quantity * source.Unit_Price", json!({"Quantity": 3, "Unit_Price": 19.99})).unwrap(), json!(59.97));
    assert_eq!(one("source.Unit_Price * 3", json!({"Unit_Price": 1.1})).unwrap(), json!(3.3));
    assert_eq!(one("source.total / 3", json!({"total": 100})).unwrap(), json!(33));
    assert_eq!(one("round_money(decimal(source.total) / 3, 2)", json!({"total": 100})).unwrap(), json!(33.33));
    // A decimal with more digits than an f64 holds is written as the nearest JSON number,
    // as zoho::money does: round amounts before they leave the mapping.
    assert_eq!(one("decimal(source.total) / 3", json!({"total": 100})).unwrap().to_string(), "33.333333333333336");
    assert_eq!(one("round_money(source.a * 1.175, \"EUR\")", json!({"a": 10})).unwrap(), json!(11.75));
    assert_eq!(one("round_money(decimal(source.a) / 3, source.currency)", json!({"a": 100, "currency": "JPY"})).unwrap(), json!(33));
    assert_eq!(one("source.a > 100", json!({"a": 100.5})).unwrap(), json!(true));
    assert_eq!(one("1.50", json!({})).unwrap(), json!(1.5));
}

#[test]
fn absent_fields_and_fallbacks() {
    assert_eq!(one("source.Missing ?? \"fallback\"", json!({})).unwrap(), json!("fallback"));
    assert_eq!(one("source.Account?.name ?? \"none\"", json!({})).unwrap(), json!("none"));
    assert_eq!(one("source.Account?.name ?? \"none\"", json!({"Account": {"name": "Acme"}})).unwrap(), json!("Acme"));
    assert_eq!(one("trim(source.Missing) ?? 1", json!({})).unwrap(), json!(1));
    assert_eq!(one("source[\"Deal Name\"]", json!({"Deal Name": "Big"})).unwrap(), json!("Big"));
    assert_eq!(one("source.Nullable ?? 0", json!({"Nullable": null})).unwrap(), json!(0));
    assert_eq!(one("present(source.Missing)", json!({})).unwrap(), json!(false));
    assert_eq!(one("source.Missing == false", json!({})).unwrap(), json!(false));
    assert_eq!(one("`${source.First} ${source.Last}`", json!({"First": "Ada", "Last": "Lovelace"})).unwrap(), json!("Ada Lovelace"));
    assert_eq!(one("source.Name.trim()", json!({"Name": " x "})).unwrap(), json!("x"));
    assert_eq!(one("trim(source.Name)", json!({"Name": " x "})).unwrap(), json!("x"));
    assert_eq!(one("source.Tags.len()", json!({"Tags": [1, 2, 3]})).unwrap(), json!(3));
    assert_eq!(one("#{ a: 1, b: [source.x, ()] }", json!({"x": 2.5})).unwrap(), json!({"a": 1, "b": [2.5, null]}));
}

#[test]
fn defaults_optional_and_missing_values() {
    let m = mapping(
        r#"
        [flows.t]
        optional = ["note"]
        [flows.t.map]
        rate = 'source.Unit_Price'
        note = 'text(source.Note)'
        unit = 'text(source.Unit)'
        [flows.t.defaults]
        unit = "pcs"
        currency_code = "EUR"
        discount = 0.5
        "#,
    );
    let payload = apply(&m, json!({"Unit_Price": 2})).unwrap();
    assert_eq!(Value::Object(payload), json!({"currency_code": "EUR", "discount": 0.5, "rate": 2, "unit": "pcs"}));
    assert_eq!(m.target_fields(), vec!["currency_code", "discount", "note", "rate", "unit"]);

    let error = apply(&m, json!({})).unwrap_err();
    assert_eq!(error.field, "flows.t.map.rate");
    assert_eq!(error.reason, "no value (source.Unit_Price is absent?) and no default");
    assert_eq!(error.to_string(), "flows.t.map.rate: no value (source.Unit_Price is absent?) and no default");
}

#[test]
fn run_time_errors_name_the_field() {
    let error = one("source.a / source.b", json!({"a": 1, "b": 0})).unwrap_err();
    assert_eq!(error.field, "flows.t.map.x");
    assert!(error.reason.to_lowercase().contains("division by zero"), "{error}");
    let error = one("source.a / source.b", json!({"a": 1.5, "b": 0})).unwrap_err();
    assert!(error.reason.to_lowercase().contains("division by zero"), "{error}");

    let error = one("source.a + 1", json!({"a": true})).unwrap_err();
    assert!(error.reason.contains("no function or operator matches"), "{error}");

    let error = one("due_date(source.d, \"Net thirty\")", json!({"d": "2024-01-01"})).unwrap_err();
    assert!(error.reason.starts_with("due_date: unknown payment terms"), "{error}");

    let error = one("lookup(source.table, \"x\")", json!({"table": "nope"})).unwrap_err();
    assert!(error.reason.contains("no table named \"nope\""), "{error}");

    // The record is a constant: one field's expression cannot change what the next sees.
    let error = one("source.Tags.push(1)", json!({"Tags": []})).unwrap_err();
    assert_eq!(error.to_string(), "flows.t.map.x: Non-pure method 'push' cannot be called on constant");
}

/// Compiles `expression` as field `x` with tiny limits.
fn limited(expression: &str, limits: Limits) -> Mapping {
    let spec: MappingSpec = toml::from_str(&format!("[map]\nx = '''{expression}'''\n")).unwrap();
    compile_with(&spec, "t", &Tables::new(), &CompileOptions { limits, config_text: None }).unwrap()
}

#[test]
fn limits_give_clear_errors() {
    let input = json!({"s": "abcdefghij"});
    let m = limited("source.s + source.s + source.s + source.s + source.s", Limits { max_operations: 3, ..Limits::default() });
    let error = apply(&m, input.clone()).unwrap_err();
    assert_eq!(error.to_string(), "flows.t.map.x: the operation limit (3) was reached");

    let m = limited("source.s + source.s + source.s", Limits { max_string_size: 25, ..Limits::default() });
    let error = apply(&m, input.clone()).unwrap_err();
    assert_eq!(error.to_string(), "flows.t.map.x: the string size limit (25 bytes) was reached");

    let m = limited("trim(source.s).pad(1000, \"x\")", Limits { max_string_size: 100, ..Limits::default() });
    assert_eq!(apply(&m, input.clone()).unwrap_err().reason, "the string size limit (100 bytes) was reached");

    let m = limited("[1, 2, 3] + [4, 5, 6]", Limits { max_array_size: 4, ..Limits::default() });
    assert_eq!(apply(&m, input.clone()).unwrap_err().reason, "the array size limit (4 items) was reached");

    // The default operation limit stops an expression that does too much (without loops,
    // that takes a long one: an array of 60,000 variable reads).
    let huge = format!("[{}].len()", vec!["now"; 60_000].join(","));
    let m = limited(&huge, Limits { max_array_size: 1 << 20, max_string_size: 1 << 24, ..Limits::default() });
    assert_eq!(apply(&m, input).unwrap_err().reason, "the operation limit (50000) was reached");

    let depth = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    let spec: MappingSpec = toml::from_str(&format!("[map]\nx = '{depth}'\n")).unwrap();
    let error = compile_with(&spec, "t", &Tables::new(), &CompileOptions { limits: Limits { max_expr_depth: 10, ..Limits::default() }, config_text: None })
        .unwrap_err();
    assert_eq!(error.path, "flows.t.map.x");
}

#[test]
fn lines_are_mapped_per_element() {
    let m = mapping(
        r#"
        [flows.t.map]
        customer = 'source.Account_Name.name'
        [flows.t.lines]
        from = 'source.Product_Details'
        target = "line_items"
        optional = ["description"]
        [flows.t.lines.map]
        name = 'line.product.name'
        rate = 'line.list_price'
        quantity = 'line.quantity'
        amount = 'line.quantity * line.list_price'
        position = 'index + 1'
        description = 'text(line.description)'
        currency = 'source.Currency ?? "EUR"'
        [flows.t.lines.defaults]
        rate = 0
        "#,
    );
    assert_eq!(m.source_fields(), vec!["Account_Name", "Currency", "Product_Details"]);
    assert_eq!(m.line_target_fields(), vec!["amount", "currency", "description", "name", "position", "quantity", "rate"]);
    assert_eq!(m.lines_target(), Some("line_items"));
    let deal = json!({
        "Account_Name": {"name": "Acme", "id": "1"},
        "Product_Details": [
            {"product": {"name": "A"}, "list_price": 10.5, "quantity": 2},
            {"product": {"name": "B"}, "list_price": 0.1, "quantity": 3, "description": "b"},
        ]
    });
    let payload = apply(&m, deal).unwrap();
    assert_eq!(
        Value::Object(payload),
        json!({
            "customer": "Acme",
            "line_items": [
                {"amount": 21, "currency": "EUR", "name": "A", "position": 1, "quantity": 2, "rate": 10.5},
                {"amount": 0.3, "currency": "EUR", "description": "b", "name": "B", "position": 2, "quantity": 3, "rate": 0.1},
            ]
        })
    );

    let broken = json!({"Account_Name": {"name": "Acme"}, "Product_Details": [{"product": {"name": "A"}, "quantity": 1, "list_price": 1}, {"product": {"name": "B"}, "list_price": 1}, {"quantity": 1, "list_price": 2, "product": {}}]});
    let error = apply(&m, broken).unwrap_err();
    assert_eq!(error.field, "flows.t.lines[1].map.amount");

    let error = apply(&m, json!({"Account_Name": {"name": "Acme"}, "Product_Details": "x"})).unwrap_err();
    assert_eq!(error.field, "flows.t.lines.from");
    let payload = apply(&m, json!({"Account_Name": {"name": "Acme"}})).unwrap();
    assert_eq!(payload["line_items"], json!([]));
}

#[test]
fn scope_variables_and_lookup_tables() {
    let m = mapping(
        r#"
        [tables.tax]
        DE = "tax-19"
        FR = "tax-20"
        30 = "Net 30"
        [flows.t.map]
        tax_id = 'lookup("tax", source.Country)'
        tax_or = 'lookup("tax", source.Other, "tax-0")'
        terms = 'lookup("tax", source.Days)'
        date = 'today'
        stamp = 'now'
        due = 'due_date(today, lookup("tax", source.Days))'
        "#,
    );
    let payload = apply(&m, json!({"Country": "DE", "Days": 30})).unwrap();
    assert_eq!(
        Value::Object(payload),
        json!({"date": "2024-05-31", "due": "2024-06-30", "stamp": "2024-05-31T22:30:00Z", "tax_id": "tax-19", "tax_or": "tax-0", "terms": "Net 30"})
    );
    let error = apply(&m, json!({"Country": "XX", "Days": 30})).unwrap_err();
    assert_eq!(error.field, "flows.t.map.tax_id");
}

#[test]
fn related_records_are_readable() {
    let m = mapping("[flows.t.map]\nemail = 'related.contact.Email'\ncount = 'related.products.len()'\n");
    let related = json!({"contact": {"Email": "a@b.c"}, "products": [{}, {}]});
    let payload = m.apply(&Input { source: &json!({}), related: &related, now: now() }).unwrap();
    assert_eq!(Value::Object(payload), json!({"count": 2, "email": "a@b.c"}));
    let m = mapping("[flows.t.map]\nemail = 'related.contact?.Email ?? \"none\"'\n");
    let payload = m.apply(&Input { source: &json!({}), related: &Value::Null, now: now() }).unwrap();
    assert_eq!(payload["email"], json!("none"));
}

#[test]
fn syntax_error_points_at_the_token() {
    let text = "[flows.t.map]\nname = 'text(source.Name'\n";
    let error = assert_error_at(text, "flows.t.map.name", "name =", "'\n");
    assert!(!error.message.is_empty());

    let text = "[flows.t.map]\nrate = 'source.Price * * 2'\n";
    assert_error_at(text, "flows.t.map.rate", "rate =", "* 2");
}

#[test]
fn offsets_in_every_string_form() {
    // A multi-line literal string with a trimmed first newline, a second line and a
    // non-ASCII character before the error.
    let text = "[flows.t.map]\nname = '''\ntext(\"é\") +\n  nope(1)'''\n";
    let error = assert_error_at(text, "flows.t.map.name", "name =", "nope");
    assert_eq!(error.message, "unknown function `nope`");
    // A basic string with escapes before the error.
    let text = "[flows.t.map]\nname = \"\\\"a\\u00e9\\\" + nope(1)\"\n";
    assert_error_at(text, "flows.t.map.name", "name =", "nope");
    // Without the config text the offset is inferred (exact for single quotes).
    let text = "[flows.t.map]\nname = 'upper(source.X) + nope(1)'\n";
    let doc: Doc = toml::from_str(text).unwrap();
    let error = compile(&doc.flows["t"], "t", &doc.tables).unwrap_err();
    assert_eq!(error.offset, Some(text.find("nope").unwrap()));
}

#[test]
fn statements_loops_and_closures_are_refused() {
    for (expression, token) in [
        ("let x = 1", "let"),
        ("while true { 1 }", "while"),
        ("loop { 1 }", "loop"),
        ("for x in source.Tags { x }", "for"),
        ("|x| x + 1", "|x|"),
        ("fn f() { 1 }", "fn"),
        ("{ let a = 1; a }", "{"),
        ("source.x = 1", "="),
        ("eval(\"1\")", "eval"),
        ("Fn(\"text\")", "Fn"),
        ("1; 2", ";"),
    ] {
        let text = format!("[flows.t.map]\nx = '{expression}'\n");
        let error = compile_doc(&text).expect_err(expression);
        assert_eq!(error.path, "flows.t.map.x", "{expression}: {error}");
        let offset = error.offset.unwrap();
        let expected = text.find("x = '").unwrap() + 5 + expression.find(token).unwrap();
        assert_eq!(offset, expected, "{expression}: {error} at {:?}", &text[offset..]);
    }
}

#[test]
fn unknown_things_are_refused_at_load() {
    let text = "[flows.t]\nwhen = 'presnt(source.Name)'\n";
    let error = assert_error_at(text, "flows.t.when", "when =", "presnt");
    assert_eq!(error.to_string(), "flows.t.when: unknown function `presnt`");

    let text = "[flows.t.map]\nx = 'round_money(source.A)'\n";
    let error = assert_error_at(text, "flows.t.map.x", "x =", "round_money");
    assert_eq!(error.message, "`round_money` takes 2 argument(s), not 1");

    let text = "[flows.t.map]\nx = 'sourc.Name'\n";
    let error = assert_error_at(text, "flows.t.map.x", "x =", "sourc");
    assert!(error.message.contains("sourc"), "{error}");

    let text = "[flows.t.map]\nx = 'line.rate'\n";
    assert_error_at(text, "flows.t.map.x", "x =", "line");

    let text = "[tables.tax]\nDE = 1\n[flows.t.map]\nx = 'text(source.A) + lookup(\"taxes\", source.Country)'\n";
    let error = assert_error_at(text, "flows.t.map.x", "x =", "\"taxes\"");
    assert_eq!(error.message, "no table named \"taxes\": the config defines tax");
    let text = "[tables.tax]\nDE = 1\n[flows.t]\nwhen = 'lookup(\"taxes\", source.Country) == 1'\n[flows.t.map]\nx = 'lookup(\"tx\", 1, 2)'\n";
    assert_error_at(text, "flows.t.when", "when =", "\"taxes\"");
    let text = "[tables.tax]\nDE = 1\n[flows.t.map]\nx = 'lookup(\"tx\", 1, 2)'\n";
    assert_error_at(text, "flows.t.map.x", "x =", "\"tx\"");

    let text = "[flows.t.lines]\ntarget = \"line_items\"\n[flows.t.lines.map]\nrate = 'line.rate'\n";
    let error = compile_doc(text).unwrap_err();
    assert_eq!((error.path.as_str(), error.offset), ("flows.t.lines.from", None));

    let text = "[flows.t.lines]\nfrom = 'source.Items'\ntarget = \"line_items\"\n[flows.t.lines.map]\nrate = 'line.rate +'\n";
    let error = compile_doc(text).unwrap_err();
    assert_eq!(error.path, "flows.t.lines.map.rate");

    let text = "[flows.t.defaults]\nwhen_created = 1979-05-27T07:32:00Z\n";
    let error = compile_doc(text).unwrap_err();
    assert_eq!(error.path, "flows.t.defaults.when_created");
    assert!(error.message.contains("date-time"), "{error}");

    let text = "[tables.dates]\nx = 1979-05-27\n[flows.t.map]\nx = '1'\n";
    assert_eq!(compile_doc(text).unwrap_err().path, "tables.dates.x");
}

#[test]
fn overlay_then_compile() {
    let shipped: Doc = toml::from_str(CATALOG).unwrap();
    let user: MappingSpec = toml::from_str("[map]\nstatus = ''\nrate = 'round_money(source.Unit_Price, \"EUR\")'\n").unwrap();
    let spec = shipped.flows["t"].overlay(&user);
    let m = compile(&spec, "catalog_sync", &Tables::new()).unwrap();
    assert_eq!(m.target_fields(), vec!["description", "name", "rate", "sku"]);
    let payload = apply(&m, json!({"Product_Name": "A", "Unit_Price": 2.345})).unwrap();
    assert_eq!(payload["rate"], json!(2.35));
    let error = apply(&m, json!({"Product_Name": "A"})).unwrap_err();
    assert_eq!(error.field, "flows.catalog_sync.map.rate");
}

#[test]
fn mapping_is_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<Mapping>();
    let m = mapping(CATALOG);
    assert!(format!("{m:?}").contains("present(source.Product_Name)"));
}
