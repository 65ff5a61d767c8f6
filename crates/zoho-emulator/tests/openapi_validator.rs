//! Tests of the OpenAPI toolkit in `tests/support/openapi.rs` itself.
//!
//! Contract tests of the emulator rely on that toolkit, so it must be shown to work against
//! Zoho's real files: they load and every `$ref` resolves, real request paths find the right
//! operation, Zoho's own response examples validate (or their mismatch is recorded as a spec
//! inconsistency), and the validator catches what it should. Tests that need Zoho's files skip
//! loudly when `ZOHO_OAS_DIR` is unset (see `spec_dir_or_skip!`); a few tests exercise the
//! validator on small hand-written schemas and always run.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};
use support::openapi::{self, Api, Spec};

fn crm(dir: &Path) -> &'static Spec {
    openapi::cached_crm(dir).unwrap_or_else(|e| panic!("CRM spec did not load: {e}"))
}

fn books(dir: &Path) -> &'static Spec {
    openapi::cached_books(dir).unwrap_or_else(|e| panic!("Books spec did not load: {e}"))
}

fn count_files(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(suffix)))
        .count()
}

/// Asserts that `errors` is non-empty and one of them contains `needle`.
fn assert_caught(errors: &[String], needle: &str) {
    assert!(errors.iter().any(|e| e.contains(needle)), "expected an error containing {needle:?}, got {errors:#?}");
}

// ------------------------------------------------------------------------------------------------
// Loading and $ref resolution
// ------------------------------------------------------------------------------------------------

#[test]
fn every_crm_file_loads_and_every_ref_resolves() {
    let dir = spec_dir_or_skip!();
    let spec = Spec::crm(&dir).unwrap_or_else(|e| panic!("{e}"));
    let on_disk = count_files(&dir.join("crm-oas/v8.0"), ".json");
    assert_eq!(spec.file_names().len(), on_disk, "every CRM JSON file is loaded");
    assert!(on_disk >= 20, "expected the 20 CRM files, found {on_disk}");
    let refs = spec.all_refs();
    assert!(refs.len() > 1000, "CRM files hold >1000 $refs, found {}", refs.len());
    let cross_file = refs.iter().filter(|(_, _, r)| r.starts_with(openapi::CRM_REMOTE_PREFIX)).count();
    assert!(cross_file > 100, "cross-file refs are counted too ({cross_file})");
    let broken = spec.check_all_refs();
    assert!(broken.is_empty(), "unresolved CRM $refs:\n{}", broken.join("\n"));
    assert!(spec.operations().len() > 100, "CRM operations indexed: {}", spec.operations().len());
}

#[test]
fn every_books_file_loads_and_every_ref_resolves() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
    let on_disk = count_files(&dir.join("books-oas/openapi-all"), ".yml");
    assert_eq!(spec.file_names().len(), on_disk, "every Books YAML file is loaded");
    assert!(on_disk >= 14, "expected the 14 Books files, found {on_disk}");
    let refs = spec.all_refs();
    assert!(refs.len() > 1000, "Books files hold >1000 $refs, found {}", refs.len());
    let broken = spec.check_all_refs();
    assert!(broken.is_empty(), "unresolved Books $refs:\n{}", broken.join("\n"));
    // Every Books operation carries the organization_id query parameter except /organizations.
    let without_org: Vec<String> = spec
        .operations()
        .iter()
        .filter(|op| !op.parameters.iter().any(|p| p.name == "organization_id" && p.location == "query"))
        .map(|op| format!("{} {}", op.method, op.full_template))
        .collect();
    assert!(
        without_org.iter().all(|o| o.contains("/organizations") || o.contains("customfields") || o.contains("/invoices/")),
        "operations without organization_id: {without_org:#?}"
    );
}

#[test]
fn a_broken_spec_is_an_error_naming_the_file_and_pointer() {
    let docs = BTreeMap::from([(
        "a.json".to_string(),
        json!({"openapi": "3.0.0", "paths": {"/x": {"get": {"parameters": [{"$ref": "#/components/parameters/nope"}], "responses": {}}}}}),
    )]);
    let err = Spec::from_documents(Api::Crm, Path::new("."), docs).expect_err("unresolvable parameter ref");
    assert!(err.contains("a.json#/paths/~1x/get/parameters/0"), "{err}");
    assert!(err.contains("#/components/parameters/nope"), "{err}");

    let missing = Spec::crm(Path::new("/nonexistent-zoho-oas")).expect_err("missing directory");
    assert!(missing.contains("/nonexistent-zoho-oas"), "{missing}");
    let bad_dir = openapi::check_spec_dir(Path::new("/nonexistent-zoho-oas")).expect_err("bad ZOHO_OAS_DIR");
    assert!(bad_dir.contains("ZOHO_OAS_DIR"), "{bad_dir}");
}

#[test]
fn ref_cycles_are_reported_not_followed() {
    let docs = BTreeMap::from([(
        "c.json".to_string(),
        json!({"components": {"schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"$ref": "#/components/schemas/A"},
            "Tree": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Tree"}}}
        }}}),
    )]);
    let spec = Spec::from_documents(Api::Crm, Path::new("."), docs).unwrap();
    let cycle = spec.component_schema("c.json", "A").expect_err("A -> B -> A");
    assert!(cycle.contains("cycle"), "{cycle}");
    assert_eq!(spec.check_all_refs().len(), 2, "both refs of the A/B cycle are reported");
    // A recursive schema is fine: the data is finite.
    let tree = spec.component_schema("c.json", "Tree").unwrap();
    assert!(spec.validate(&tree, &json!({"child": {"child": {}}})).is_empty());
    assert_caught(&spec.validate(&tree, &json!({"child": {"child": 3}})), "$.child.child: expected object");
}

// ------------------------------------------------------------------------------------------------
// Path lookup
// ------------------------------------------------------------------------------------------------

#[test]
fn crm_request_paths_find_the_right_templates() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let cases = [
        ("GET", "/crm/v8/Deals?fields=Deal_Name", "record.json", "/crm/v8/{module_api_name}"),
        ("POST", "/crm/v8/Deals", "record.json", "/crm/v8/{module_api_name}"),
        ("PUT", "/crm/v8/Deals", "record.json", "/crm/v8/{module_api_name}"),
        ("DELETE", "/crm/v8/Deals?ids=1,2", "record.json", "/crm/v8/{module_api_name}"),
        ("GET", "/crm/v8/Deals/5725767000000524157", "record.json", "/crm/v8/{module_api_name}/{id}"),
        ("PUT", "/crm/v8/Deals/5725767000000524157", "record.json", "/crm/v8/{module_api_name}/{id}"),
        ("POST", "/crm/v8/Deals/upsert", "record.json", "/crm/v8/{module_api_name}/upsert"),
        ("GET", "/crm/v8/Deals/deleted?type=all", "record.json", "/crm/v8/{module_api_name}/deleted"),
        // Both module_search.json and record.json define search; file order picks module_search.
        ("GET", "/crm/v8/Deals/search?word=abc", "module_search.json", "/crm/v8/{module}/search"),
        ("POST", "/crm/v8/coql", "coql.json", "/crm/v8/coql"),
        ("GET", "/crm/v8/settings/fields?module=Deals", "fields.json", "/crm/v8/settings/fields"),
        ("GET", "/crm/v8/settings/modules", "modules.json", "/crm/v8/settings/modules"),
        ("POST", "/crm/v8/actions/watch", "notifications.json", "/crm/v8/actions/watch"),
        ("DELETE", "/crm/v8/actions/watch?channel_ids=1", "notifications.json", "/crm/v8/actions/watch"),
        ("GET", "/crm/v8/users?type=CurrentUser", "users.json", "/crm/v8/users"),
        ("GET", "/crm/v8/users/5725767000000411001", "users.json", "/crm/v8/users/{user}"),
        ("GET", "/crm/v8/org", "org.json", "/crm/v8/org"),
        ("GET", "/crm/v8/Deals/actions/count", "record.json", "/crm/v8/{module_api_name}/actions/count"),
        ("GET", "/crm/v8/Price_Books/111/Products", "related_records.json", "/crm/v8/{module_api_name}/{record_id}/{related_list_api_name}"),
        ("GET", "https://www.zohoapis.com/crm/v8/Deals/1", "record.json", "/crm/v8/{module_api_name}/{id}"),
    ];
    let mut wrong = Vec::new();
    for (method, path, file, template) in cases {
        match spec.find_operation(method, path) {
            Some(op) if op.file == file && op.full_template == template => {}
            Some(op) => wrong.push(format!("{method} {path}: got {} {}, want {file} {template}", op.file, op.full_template)),
            None => wrong.push(format!("{method} {path}: no operation")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(spec.find_operation("PATCH", "/crm/v8/Deals").is_none(), "no PATCH on records");
    assert!(spec.find_operation("GET", "/books/v3/invoices").is_none(), "Books path is not CRM");
    // Several templates match GET /crm/v8/Deals/search; the literal one ranks first.
    let all = spec.matching_operations("GET", "/crm/v8/Deals/search");
    assert!(all.len() >= 3, "search also matches the {{id}} and external-id templates: {}", all.len());
    assert!(all[0].full_template.ends_with("/search"));
}

#[test]
fn books_request_paths_find_the_right_templates() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
    let cases = [
        ("GET", "/books/v3/invoices?organization_id=1", "invoices.yml", "/books/v3/invoices"),
        ("POST", "/books/v3/invoices", "invoices.yml", "/books/v3/invoices"),
        ("GET", "/books/v3/invoices/460000000000123", "invoices.yml", "/books/v3/invoices/{invoice_id}"),
        ("POST", "/books/v3/invoices/460000000000123/status/sent", "invoices.yml", "/books/v3/invoices/{invoice_id}/status/sent"),
        ("POST", "/books/v3/invoices/460000000000123/status/void", "invoices.yml", "/books/v3/invoices/{invoice_id}/status/void"),
        ("GET", "/books/v3/invoices/templates", "invoices.yml", "/books/v3/invoices/templates"),
        ("POST", "/books/v3/invoices/fromestimates", "invoices.yml", "/books/v3/invoices/fromestimates"),
        ("GET", "/books/v3/contacts/460000000026049", "contacts.yml", "/books/v3/contacts/{contact_id}"),
        ("POST", "/books/v3/contacts/460000000026049/inactive", "contacts.yml", "/books/v3/contacts/{contact_id}/inactive"),
        ("POST", "/books/v3/contacts/contactpersons", "contact-persons.yml", "/books/v3/contacts/contactpersons"),
        ("GET", "/books/v3/items", "items.yml", "/books/v3/items"),
        ("POST", "/books/v3/customerpayments", "customer-payments.yml", "/books/v3/customerpayments"),
        ("POST", "/books/v3/creditnotes/4600000/refunds", "credit-notes.yml", "/books/v3/creditnotes/{creditnote_id}/refunds"),
        ("GET", "/books/v3/creditnotes/refunds", "credit-notes.yml", "/books/v3/creditnotes/refunds"),
        ("POST", "/books/v3/creditnotes/4600000/invoices", "credit-notes.yml", "/books/v3/creditnotes/{creditnote_id}/invoices"),
        ("POST", "/books/v3/estimates/4600000/status/accepted", "estimates.yml", "/books/v3/estimates/{estimate_id}/status/accepted"),
        ("GET", "/books/v3/settings/taxes", "taxes.yml", "/books/v3/settings/taxes"),
        ("GET", "/books/v3/settings/currencies", "currency.yml", "/books/v3/settings/currencies"),
        ("GET", "/books/v3/organizations", "organizations.yml", "/books/v3/organizations"),
        ("GET", "/books/v3/users/me", "users.yml", "/books/v3/users/me"),
        ("PUT", "/books/v3/invoice/4600000/customfields", "invoices.yml", "/books/v3/invoice/{invoice_id}/customfields"),
    ];
    let mut wrong = Vec::new();
    for (method, path, file, template) in cases {
        match spec.find_operation(method, path) {
            Some(op) if op.file == file && op.full_template == template => {}
            Some(op) => wrong.push(format!("{method} {path}: got {} {}, want {file} {template}", op.file, op.full_template)),
            None => wrong.push(format!("{method} {path}: no operation")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(spec.find_operation("GET", "/invoices").is_none(), "paths need the /books/v3 base");
    assert!(spec.find_operation("GET", "/books/v3/nothing-here").is_none());
}

#[test]
fn inventory_lists_operations_and_spots_routes_the_spec_lacks() {
    let dir = spec_dir_or_skip!();
    let crm = crm(&dir);
    let books = books(&dir);
    let keys = crm.operation_keys();
    assert!(keys.contains(&("POST".to_string(), "/crm/v8/{module_api_name}/upsert".to_string())));
    assert!(books.operation_keys().contains(&("GET".to_string(), "/books/v3/invoices".to_string())));
    // Parameter names do not matter when comparing an emulator route with a spec template.
    let routes = [
        ("GET", "/crm/v8/{module}"),
        ("GET", "/crm/v8/{module}/{id}"),
        ("POST", "/crm/v8/{module}/upsert"),
        ("POST", "/crm/v8/coql"),
        ("POST", "/crm/v8/no_such_thing"),
        ("PATCH", "/crm/v8/{module}/{id}"),
    ];
    assert_eq!(crm.routes_missing_from_spec(&routes), vec!["POST /crm/v8/no_such_thing".to_string(), "PATCH /crm/v8/{module}/{id}".to_string()]);
    assert_eq!(books.routes_missing_from_spec(&[("GET", "/books/v3/invoices/{id}"), ("GET", "/books/v3/quotes")]), vec!["GET /books/v3/quotes".to_string()]);
}

// ------------------------------------------------------------------------------------------------
// Zoho's own examples against the spec
// ------------------------------------------------------------------------------------------------

/// Where an example directory's operation lives: (api folder, operation folder) → request.
fn example_request(area: &str, operation: &str) -> Option<(&'static str, &'static str)> {
    Some(match (area, operation) {
        ("record", "createRecords") => ("POST", "/crm/v8/Leads"),
        ("record", "updateRecords") => ("PUT", "/crm/v8/Leads"),
        ("record", "upsertRecords") => ("POST", "/crm/v8/Leads/upsert"),
        ("record", "deleteRecords") => ("DELETE", "/crm/v8/Leads"),
        ("record", "deleteRecord") => ("DELETE", "/crm/v8/Leads/5725767000000524157"),
        ("record", "getRecords") => ("GET", "/crm/v8/Leads"),
        ("record", "getDeletedRecords") => ("GET", "/crm/v8/Leads/deleted"),
        ("module_search", "searchRecords") => ("GET", "/crm/v8/Leads/search"),
        ("coql", "executeCOQLQuery") => ("POST", "/crm/v8/coql"),
        ("notifications", "createNotifications") => ("POST", "/crm/v8/actions/watch"),
        ("notifications", "getNotifications") => ("GET", "/crm/v8/actions/watch"),
        ("notifications", "disableNotifications") => ("PATCH", "/crm/v8/actions/watch"),
        _ => return None,
    })
}

/// One example file's outcome against the flat v8.0 spec.
#[derive(Debug)]
struct ExampleOutcome {
    /// `area/operation/file`.
    name: String,
    /// "ok", "not-json", "no-operation", "undocumented-status-fits-200",
    /// "undocumented-status-invalid" (status absent and the body does not fit the 200 schema
    /// either), "invalid" (documented status, body does not fit).
    verdict: &'static str,
    /// Details for the report.
    detail: String,
}

fn check_crm_examples(spec: &Spec, dir: &Path) -> Vec<ExampleOutcome> {
    let root = dir.join("crm-oas/examples-from-index/v8.0");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 30, "expected the ~33 example files, found {}", files.len());

    let mut outcomes = Vec::new();
    for path in files {
        // <root>/<area>/operations/<operation>/examples/<file>.md
        let rel = path.strip_prefix(&root).unwrap();
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
        let (area, operation, file) = (parts[0].as_str(), parts[2].as_str(), parts[4].as_str());
        let name = format!("{area}/{operation}/{file}");
        let text = std::fs::read_to_string(&path).unwrap();
        let block = openapi::markdown_code_blocks(&text).into_iter().map(|(_, body)| body).find(|b| !b.trim().is_empty());
        let Some(block) = block else {
            outcomes.push(ExampleOutcome { name, verdict: "not-json", detail: "no code block".into() });
            continue;
        };
        let body: Json = match serde_json::from_str(&block) {
            Ok(body) => body,
            Err(e) => {
                outcomes.push(ExampleOutcome { name, verdict: "not-json", detail: e.to_string() });
                continue;
            }
        };
        let Some((method, request_path)) = example_request(area, operation) else {
            outcomes.push(ExampleOutcome { name, verdict: "no-operation", detail: format!("{area}/{operation} is not in the flat v8.0 files") });
            continue;
        };
        let op = spec.operation(method, request_path).unwrap_or_else(|e| panic!("{e}"));
        let errors = if file == "request.md" {
            spec.validate_request_body(op, "application/json", &body)
        } else {
            // response-<status>-<label>.md
            let status: u16 = file.split('-').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status in {file}"));
            match spec.response_schema(op, status, "application/json") {
                Err(e) => {
                    // Still say whether the body would fit the documented 200 schema, which in
                    // the CRM files is `oneOf [success wrapper, API_Exception]`.
                    let fits_200 = spec.validate_response(op, 200, "application/json", &body);
                    let (verdict, detail) = if fits_200.is_empty() {
                        ("undocumented-status-fits-200", format!("{e}; the body does fit the 200 schema"))
                    } else {
                        ("undocumented-status-invalid", format!("{e}; against the 200 schema: {}", fits_200.join(" | ")))
                    };
                    outcomes.push(ExampleOutcome { name, verdict, detail });
                    continue;
                }
                Ok(None) => vec![format!("status {status} documented without body")],
                Ok(Some(schema)) => spec.validate(&schema, &body),
            }
        };
        let verdict = if errors.is_empty() { "ok" } else { "invalid" };
        outcomes.push(ExampleOutcome { name, verdict, detail: errors.join(" | ") });
    }
    outcomes
}

/// Zoho's verbatim CRM examples, checked against the flat v8.0 files. The expected verdicts are
/// recorded here so that a change in the files or the validator shows up as a failure; every
/// entry that is not "ok" is a spec inconsistency worth knowing (see the printed report).
#[test]
fn crm_examples_validate_or_their_spec_inconsistency_is_recorded() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let outcomes = check_crm_examples(spec, &dir);
    eprintln!("CRM examples vs crm-oas/v8.0:");
    for o in &outcomes {
        eprintln!("  {:<20} {}  {}", o.verdict, o.name, o.detail);
    }
    let got: BTreeMap<&str, &str> = outcomes.iter().map(|o| (o.name.as_str(), o.verdict)).collect();
    let expected: BTreeMap<&str, &str> = EXPECTED_EXAMPLE_VERDICTS.iter().copied().collect();
    let mut diff = Vec::new();
    for (name, verdict) in &got {
        match expected.get(name) {
            Some(want) if want == verdict => {}
            Some(want) => diff.push(format!("{name}: got {verdict}, recorded {want}")),
            None => diff.push(format!("{name}: got {verdict}, not recorded")),
        }
    }
    for name in expected.keys() {
        if !got.contains_key(name) {
            diff.push(format!("{name}: recorded but not found"));
        }
    }
    assert!(diff.is_empty(), "example verdicts changed:\n{}", diff.join("\n"));
    assert!(got.values().filter(|v| **v == "ok").count() >= 5, "a good share of examples must validate");
}

/// Recorded verdicts of [`crm_examples_validate_or_their_spec_inconsistency_is_recorded`], with
/// the reason for every one that is not "ok" (each is a spec inconsistency).
const EXPECTED_EXAMPLE_VERDICTS: &[(&str, &str)] = &[
    ("coql/executeCOQLQuery/request.md", "ok"),
    ("coql/executeCOQLQuery/response-200-successresponse.md", "ok"),
    // Query_Exception.message enum lacks "error occured while parsing the query".
    ("coql/executeCOQLQuery/response-400-syntaxerrornear.md", "invalid"),
    // bulkSearchRecords exists only in the newer upstream layout, not in v8.0/*.json.
    ("module_search/bulkSearchRecords/response-429-ratelimitexceeded.md", "no-operation"),
    // module_search.json's Response_Wrapper declares `data` but not `info`.
    ("module_search/searchRecords/response-200-leadsearchresult.md", "invalid"),
    // Upstream notifications examples are Python repr (single quotes, True/None).
    ("notifications/createNotifications/request.md", "not-json"),
    ("notifications/createNotifications/response-201-sample.md", "not-json"),
    ("notifications/disableNotifications/response-200-sample.md", "ok"),
    ("notifications/getNotifications/response-200-sample.md", "not-json"),
    // 429 undocumented; the 200 schema (Response_Wrapper, required watch+info) has no error branch.
    ("notifications/getNotifications/response-429-ratelimitexceeded.md", "undocumented-status-invalid"),
    // Only 200 is documented for create; 201/207/400 bodies use the same `data[]` wrapper.
    ("record/createRecords/response-201-success.md", "undocumented-status-fits-200"),
    // "the field api name given seems to be invalid" is not in API_Exception.message's enum.
    ("record/createRecords/response-207-mixedresults.md", "undocumented-status-invalid"),
    // AUTHORIZATION_FAILED is not in API_Exception.code's enum (nor its message).
    ("record/createRecords/response-400-authorizationfailed.md", "undocumented-status-invalid"),
    ("record/createRecords/response-400-duplicatedataerror.md", "undocumented-status-fits-200"),
    // "The field value given for Company is invalid" not in the message enum.
    ("record/createRecords/response-400-invaliddata.md", "undocumented-status-invalid"),
    // details.maximum_length is typed string, the example sends an integer.
    ("record/createRecords/response-400-invaliddatalength.md", "undocumented-status-invalid"),
    ("record/createRecords/response-400-invaliddatatype.md", "undocumented-status-fits-200"),
    // Lower-case "the module name given seems to be invalid" vs the enum's capitalised form.
    ("record/createRecords/response-400-invalidmodule.md", "undocumented-status-invalid"),
    // "Service Id Not Found" not in the message enum.
    ("record/createRecords/response-400-mandatorynotfound.md", "undocumented-status-invalid"),
    // "Unauthorized" / "Permission denied" / "Internal Server Error" not in the message enum.
    ("record/createRecords/response-401-oauthscopemismatch.md", "undocumented-status-invalid"),
    ("record/createRecords/response-403-nopermission.md", "undocumented-status-invalid"),
    ("record/createRecords/response-500-internalerror.md", "undocumented-status-invalid"),
    ("record/deleteRecord/response-200-successfuldeletion.md", "ok"),
    ("record/deleteRecords/response-207-mixedresults.md", "undocumented-status-fits-200"),
    // Deleted_Record fields (deleted_by, created_by, display_name) are null for permanent deletes
    // but not nullable in the spec.
    ("record/getDeletedRecords/response-200-deletedrecords.md", "invalid"),
    // info.previous_page_token is null in the example but not nullable in Info.
    ("record/getRecords/response-200-leads.md", "invalid"),
    ("record/updateRecords/response-200-success.md", "ok"),
    // "the field api name given seems to be invalid" not in the message enum.
    ("record/updateRecords/response-207-mixedresults.md", "undocumented-status-invalid"),
    // ALREADY_MODIFIED not in the code enum; its message neither.
    ("record/updateRecords/response-412-alreadymodified.md", "undocumented-status-invalid"),
    ("record/upsertRecords/request.md", "ok"),
    ("record/upsertRecords/response-200-success.md", "ok"),
    ("record/upsertRecords/response-207-mixedresults.md", "undocumented-status-fits-200"),
    // MULTIPLE_OR_MULTI_ERRORS not in the code enum.
    ("record/upsertRecords/response-400-multipleerrors.md", "undocumented-status-invalid"),
];

// ------------------------------------------------------------------------------------------------
// Negative tests: the validator catches what it should
// ------------------------------------------------------------------------------------------------

#[test]
fn validator_catches_wrong_type_missing_required_enum_and_item_type_in_real_schemas() {
    let dir = spec_dir_or_skip!();
    let crm = crm(&dir);
    let books = books(&dir);

    // Wrong type: CRM list `info.count` is an integer.
    let list = crm.operation("GET", "/crm/v8/Deals").unwrap();
    let ok = json!({"data": [{"id": "5725767000000524157", "Deal_Name": "x"}], "info": {"count": 1, "more_records": false, "per_page": 200, "page": 1}});
    assert_eq!(crm.validate_response(list, 200, "application/json", &ok), Vec::<String>::new());
    let wrong_type = json!({"data": [], "info": {"count": "1", "more_records": false}});
    assert_caught(&crm.validate_response(list, 200, "application/json", &wrong_type), "$.info.count: expected integer, got string");

    // Wrong item type inside an array: `data` items are records (objects); ids are strings.
    assert_caught(&crm.validate_response(list, 200, "application/json", &json!({"data": [42]})), "$.data[0]: expected object, got integer");
    assert_caught(
        &crm.validate_response(list, 200, "application/json", &json!({"data": [{"id": 5725767000000524157_u64}]})),
        "$.data[0].id: expected string, got integer",
    );

    // Enum violation: API_Exception.status must be "error" (and the success wrapper has no
    // `status`, but its `data` must be an array, so neither oneOf branch fits).
    let exc = crm.component_schema("record.json", "API_Exception").unwrap();
    assert_caught(
        &crm.validate(&exc, &json!({"status": "oops", "code": "INVALID_DATA", "message": "invalid data", "details": {}})),
        "$.status: \"oops\" is not one of [\"error\"]",
    );
    assert_caught(&crm.validate_response(list, 200, "application/json", &json!({"data": "nope", "status": "oops"})), "matches none of the 2 oneOf branches");

    // Missing required property: Books create-invoice needs customer_id and line_items.
    let create = books.operation("POST", "/books/v3/invoices").unwrap();
    let body = json!({"line_items": [{"item_id": "460000000017088", "quantity": 1, "rate": 120.0}]});
    assert_caught(&books.validate_request_body(create, "application/json", &body), "$: missing required property \"customer_id\"");
    let full = json!({"customer_id": "460000000017138", "line_items": [{"item_id": "460000000017088", "quantity": 1, "rate": 120.0}]});
    assert_eq!(books.validate_request_body(create, "application/json", &full), Vec::<String>::new());
    // Wrong item type in an array of a Books body: line_items must hold objects.
    assert_caught(
        &books.validate_request_body(create, "application/json", &json!({"customer_id": "1", "line_items": ["x"]})),
        "$.line_items[0]: expected object, got string",
    );
}

#[test]
fn query_checks_catch_unknown_missing_enum_and_type_problems() {
    let dir = spec_dir_or_skip!();
    let crm = crm(&dir);
    let books = books(&dir);

    // CRM list: known parameters pass; an unknown one is refused; page must be an integer.
    let list = crm.operation("GET", "/crm/v8/Deals").unwrap();
    assert_eq!(crm.check_query(list, &[("fields", "Deal_Name,Stage"), ("per_page", "200"), ("page", "1"), ("sort_by", "Modified_Time")]), Vec::<String>::new());
    assert_caught(&crm.check_query(list, &[("fields", "Deal_Name"), ("bogus", "1")]), "query parameter \"bogus\" is not defined");
    assert_caught(&crm.check_query(list, &[("fields", "Deal_Name"), ("page", "abc")]), "\"abc\" is not an integer");
    // Spec fact: CRM v8's flat JSON marks `fields` optional on list records (ZOHO_API.md and the
    // real API say it is required). The check reports what the spec says.
    assert_eq!(crm.check_query(list, &[]), Vec::<String>::new(), "record.json marks fields as optional");

    // CRM required query parameters that the spec does declare: fields metadata needs `module`,
    // disabling notifications needs `channel_ids`.
    let fields = crm.operation("GET", "/crm/v8/settings/fields").unwrap();
    assert_caught(&crm.check_query(fields, &[]), "required query parameter \"module\" is missing");
    assert_eq!(crm.check_query(fields, &[("module", "Deals"), ("type", "all")]), Vec::<String>::new());
    assert_caught(&crm.check_query(fields, &[("module", "Deals"), ("type", "everything")]), "\"everything\" is not one of");
    let unwatch = crm.operation("DELETE", "/crm/v8/actions/watch").unwrap();
    assert_caught(&crm.check_query(unwatch, &[]), "required query parameter \"channel_ids\" is missing");
    let users = crm.operation("GET", "/crm/v8/users").unwrap();
    assert_caught(&crm.check_query(users, &[("type", "Everyone")]), "is not one of");
    assert_eq!(crm.check_query(users, &[("type", "CurrentUser")]), Vec::<String>::new());

    // Books: organization_id is required everywhere (path-level parameter).
    let invoices = books.operation("GET", "/books/v3/invoices").unwrap();
    assert_caught(&books.check_query(invoices, &[("page", "1")]), "required query parameter \"organization_id\" is missing");
    assert_eq!(books.check_query(invoices, &[("organization_id", "10234695"), ("page", "2"), ("per_page", "200")]), Vec::<String>::new());
    assert_caught(&books.check_query(invoices, &[("organization_id", "10234695"), ("colour", "red")]), "\"colour\" is not defined");
    assert_caught(&books.check_query(invoices, &[("organization_id", "1"), ("organization_id", "2")]), "given 2 times");
    let credit_notes = books.operation("GET", "/books/v3/creditnotes").unwrap();
    assert_caught(&books.check_query(credit_notes, &[("organization_id", "1"), ("status", "lost")]), "\"lost\" is not one of");
    assert_eq!(books.check_query(credit_notes, &[("organization_id", "1"), ("status", "open")]), Vec::<String>::new());
    let taxes = books.operation("GET", "/books/v3/settings/taxes").unwrap();
    assert_caught(&books.check_query(taxes, &[("organization_id", "1"), ("per_page", "ten")]), "\"ten\" is not an integer");
    // Parsing a raw query string gives the same pairs.
    let pairs = openapi::parse_query("?organization_id=1&search_text=a%20b");
    assert_eq!(pairs[1], ("search_text".to_string(), "a b".to_string()));
    assert_eq!(books.check_query(invoices, &openapi::as_pairs(&pairs)), Vec::<String>::new());
}

#[test]
fn header_and_parameter_knowledge_is_exposed() {
    let dir = spec_dir_or_skip!();
    let crm = crm(&dir);
    let list = crm.operation("GET", "/crm/v8/Deals").unwrap();
    let headers: Vec<&str> = crm.parameters_in(list, "header").iter().map(|p| p.name.as_str()).collect();
    assert!(headers.contains(&"If-Modified-Since"), "{headers:?}");
    assert_eq!(crm.check_headers(list, &[("if-modified-since", "2024-01-01T00:00:00+00:00")]), Vec::<String>::new());
    assert_caught(&crm.check_headers(list, &[("If-Modified-Since", "yesterday")]), "is not a date-time");
    let page = list.parameters.iter().find(|p| p.name == "page").unwrap();
    let schema = crm.parameter_schema(page).unwrap().unwrap();
    assert_eq!(schema.type_name(), Some("integer"));
    let users = crm.operation("GET", "/crm/v8/users").unwrap();
    let kind = users.parameters.iter().find(|p| p.name == "type").unwrap();
    let enum_values = crm.parameter_schema(kind).unwrap().unwrap().enum_values().cloned().unwrap_or_default();
    assert!(enum_values.contains(&json!("CurrentUser")), "{enum_values:?}");
    // Path parameters are known and required.
    let get_one = crm.operation("GET", "/crm/v8/Deals/1").unwrap();
    assert!(crm.parameters_in(get_one, "path").iter().all(|p| p.required));
    // Request body schemas are reachable.
    let upsert = crm.operation("POST", "/crm/v8/Deals/upsert").unwrap();
    let body = crm.request_body_schema(upsert, "application/json; charset=utf-8").unwrap().unwrap();
    assert!(body.property_names().contains(&"duplicate_check_fields"), "{:?}", body.property_names());
}

#[test]
fn books_page_context_quirk_accepts_the_real_object_shape_and_nothing_else() {
    let dir = spec_dir_or_skip!();
    let books = books(&dir);
    let list = books.operation("GET", "/books/v3/invoices").unwrap();
    let body = json!({"code": 0, "message": "success", "invoices": [],
        "page_context": {"page": 1, "per_page": 200, "has_more_page": false, "report_name": "Invoices", "applied_filter": "Status.All", "sort_column": "created_time", "sort_order": "D"}});
    assert_eq!(books.validate_response(list, 200, "application/json", &body), Vec::<String>::new());
    // The object is still checked against the item schema.
    let bad = json!({"code": 0, "message": "success", "invoices": [], "page_context": {"page": "one"}});
    assert_caught(&books.validate_response(list, 200, "application/json", &bad), "$.page_context.page: expected integer");
    // And the quirk is off for CRM.
    assert!(!crm(&dir).quirks.page_context_object);
}

// ------------------------------------------------------------------------------------------------
// Validator semantics on small hand-written schemas (always run)
// ------------------------------------------------------------------------------------------------

fn tiny_spec(api: Api, schemas: Json) -> Spec {
    let docs = BTreeMap::from([("t.json".to_string(), json!({"components": {"schemas": schemas}}))]);
    Spec::from_documents(api, Path::new("."), docs).unwrap()
}

#[test]
fn validator_semantics_on_hand_written_schemas() {
    let spec = tiny_spec(
        Api::Crm,
        json!({
            "Thing": {
                "type": "object",
                "required": ["id", "kind"],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "maxLength": 5},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "n": {"type": "integer", "minimum": 1, "maximum": 10},
                    "x": {"type": "number", "nullable": true},
                    "when": {"type": "string", "format": "date-time"},
                    "day": {"type": "string", "format": "date"},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                    "extra": {"type": "object", "additionalProperties": {"type": "boolean"}},
                    "either": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["q"]}]},
                    "both": {"allOf": [{"type": "object", "required": ["a"]}, {"required": ["b"]}]}
                }
            }
        }),
    );
    let thing = spec.component_schema("t.json", "Thing").unwrap();
    let good = json!({"id": "12345", "kind": "a", "n": 10, "x": null, "when": "2023-05-10T01:10:47-07:00",
        "day": "2024-02-29", "tags": ["t"], "extra": {"k": true}, "either": {"q": 1}, "both": {"a": 1, "b": 2}});
    assert_eq!(spec.validate(&thing, &good), Vec::<String>::new());
    assert_eq!(spec.validate(&thing, &json!({"id": "1", "kind": "b", "n": 1.0, "when": "2013-11-18T02:17:40-0800", "either": "s"})), Vec::<String>::new());

    let cases = [
        (json!({"kind": "a"}), "$: missing required property \"id\""),
        (json!({"id": 1, "kind": "a"}), "$.id: expected string, got integer"),
        (json!({"id": "123456", "kind": "a"}), "longer than maxLength 5"),
        (json!({"id": "1", "kind": "c"}), "$.kind: \"c\" is not one of [\"a\", \"b\"]"),
        (json!({"id": "1", "kind": "a", "n": 0}), "$.n: 0 is below the minimum 1"),
        (json!({"id": "1", "kind": "a", "n": 11}), "$.n: 11 is above the maximum 10"),
        (json!({"id": "1", "kind": "a", "n": 1.5}), "$.n: expected integer, got number"),
        (json!({"id": "1", "kind": "a", "n": null}), "$.n: expected integer, got null"),
        (json!({"id": "1", "kind": "a", "when": "10/05/2023"}), "$.when: \"10/05/2023\" is not a date-time"),
        (json!({"id": "1", "kind": "a", "day": "2024-13-01"}), "$.day: \"2024-13-01\" is not a date"),
        (json!({"id": "1", "kind": "a", "tags": []}), "fewer than minItems 1"),
        (json!({"id": "1", "kind": "a", "tags": ["a", "b", "c"]}), "more than maxItems 2"),
        (json!({"id": "1", "kind": "a", "tags": ["a", 2]}), "$.tags[1]: expected string, got integer"),
        (json!({"id": "1", "kind": "a", "extra": {"k": "yes"}}), "$.extra.k: expected boolean, got string"),
        (json!({"id": "1", "kind": "a", "surprise": 1}), "$.surprise: property not allowed"),
        (json!({"id": "1", "kind": "a", "either": {"r": 1}}), "matches none of the 2 oneOf branches"),
        (json!({"id": "1", "kind": "a", "both": {"a": 1}}), "$.both: missing required property \"b\""),
        (json!([]), "$: expected object, got array"),
    ];
    for (value, needle) in cases {
        assert_caught(&spec.validate(&thing, &value), needle);
    }
}

#[test]
fn books_required_quirk_only_skips_names_that_are_not_properties() {
    let schemas = json!({
        "Payment": {"type": "object", "required": ["customer_id", "invoice_id"],
            "properties": {"customer_id": {"type": "string"}, "invoices": {"type": "array", "items": {"type": "object", "properties": {"invoice_id": {"type": "string"}}}}}}
    });
    let body = json!({"invoices": [{"invoice_id": "1"}]});
    let books = tiny_spec(Api::Books, schemas.clone());
    let errors = books.validate(&books.component_schema("t.json", "Payment").unwrap(), &body);
    assert_eq!(errors, vec!["$: missing required property \"customer_id\"".to_string()], "invoice_id (not a property) is skipped in Books");
    let strict = tiny_spec(Api::Crm, schemas);
    let errors = strict.validate(&strict.component_schema("t.json", "Payment").unwrap(), &body);
    assert_eq!(errors.len(), 2, "without the quirk both are reported: {errors:?}");
}

#[test]
fn loose_date_time_accepts_zoho_forms_only() {
    for ok in [
        "2023-05-10T01:10:47-07:00",
        "2013-11-18T02:17:40-0800",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.123+05:30",
        "2024-01-01 10:00:00",
        "2024-01-01T10:00",
    ] {
        assert!(openapi::is_loose_date_time(ok), "{ok}");
    }
    for bad in ["2024-01-01", "2024-01-01T25:00:00Z", "2024-01-01T10:00:00+5", "yesterday", "", "2024-01-01T10:00:00 +05:00"] {
        assert!(!openapi::is_loose_date_time(bad), "{bad}");
    }
}

#[test]
fn markdown_code_blocks_are_extracted() {
    let md = "Title\n\n```json\n{\"a\": 1}\n```\ntext\n```\nsecond\n```\n";
    let blocks = openapi::markdown_code_blocks(md);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].0, "json");
    assert_eq!(serde_json::from_str::<Json>(&blocks[0].1).unwrap(), json!({"a": 1}));
}
