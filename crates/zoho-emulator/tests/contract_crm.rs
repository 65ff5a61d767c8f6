//! Contract tests of the emulated Zoho CRM v8 against Zoho's own OpenAPI files (`crm-oas/v8.0`).
//!
//! Why it exists: the issue asks that every CRM operation the emulator serves accepts and refuses
//! request parameters as the official v8 files say, and answers with bodies that validate against
//! their schemas; where the files and `ZOHO_API.md` disagree we follow the files unless the issue
//! itself demands the `ZOHO_API.md` behaviour. This file holds:
//!
//! - [`script`]: one scripted call per operation and module (records list/get/insert/update/
//!   upsert/delete/deleted/count/search, related lists, COQL, metadata, users, org, watch),
//!   run by `tests/support/contract.rs` (spec lookup, `check_query`, HTTP, `validate_response`);
//! - [`refusals`]: requests Zoho refuses (unknown module, list without `fields`, …), on top of
//!   the refusal probes derived from the spec (required parameter left out, value outside an enum);
//! - [`DOCUMENTED_DEVIATIONS`]: the one list of places where the emulator knowingly differs from
//!   the files, each with its reason; [`KNOWN_EMULATOR_GAPS`]: conformance failures the emulator
//!   still has to fix. Anything on neither list fails, and so does an entry that matches nothing.
//!
//! Zoho's files are found through `ZOHO_OAS_DIR` (see `tests/support/openapi.rs`); without it
//! every test here prints a loud `SKIPPED` line and returns.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};
use support::contract::{self, Call, ErrorShape, Listed, Runner};
use support::openapi::{self, Spec};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

/// The record modules the sync uses; each gets the full set of record operations.
const MODULES: [&str; 7] = ["Products", "Accounts", "Contacts", "Deals", "Quotes", "Tasks", "Price_Books"];

/// Record operation families every module in [`MODULES`] must exercise.
const RECORD_FAMILIES: [&str; 11] =
    ["insert", "get", "list", "update.one", "update.bulk", "upsert", "count", "search.criteria", "delete.one", "delete.bulk", "deleted"];

/// Families exercised once (or for the modules where they make sense).
const OTHER_FAMILIES: [&str; 33] = [
    "insert.mixed@Accounts",
    "search.email@Contacts",
    "search.phone@Contacts",
    "search.word@Accounts",
    "link.account@Contacts",
    "link.account@Deals",
    "link.deal@Quotes",
    "related.put@Deals",
    "related.list@Deals",
    "related.put@Price_Books",
    "related.list@Price_Books",
    "related.list@Accounts",
    "related.list@Contacts",
    "related.list@Products",
    "coql",
    "settings.fields",
    "settings.fields.create",
    "settings.field",
    "settings.fields.delete",
    "settings.modules",
    "settings.module",
    "settings.related_lists",
    "users",
    "users.current",
    "users.page",
    "users.modified-since",
    "org",
    "org.currencies",
    "watch.enable",
    "watch.list",
    "watch.replace",
    "watch.patch",
    "watch.disable",
];

/// Where the emulator knowingly differs from the v8 files, and why. The harness fails on any
/// difference not listed here, and on any entry that no longer matches a difference.
const DOCUMENTED_DEVIATIONS: &[Listed] = &[
    Listed {
        op: "GET /crm/v8/{module_api_name}",
        kind: "refused-but-spec-accepts",
        contains: "dropped fields",
        reason: "record.json marks `fields` optional on Get Records, but ZOHO_API.md §2.3 and the \
                 issue demand it (v8 answers 400 REQUIRED_PARAM_MISSING); we keep it required.",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "refused-but-spec-accepts",
        contains: "dropped criteria",
        reason: "The files mark criteria/email/phone/word each optional; they cannot express \
                 \"exactly one of them\" (ZOHO_API.md §2.4, module_search.json description); \
                 without any of them Zoho answers 400 EXPECTED_PARAM_MISSING.",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "refused-but-spec-accepts",
        contains: "dropped email",
        reason: "Same as criteria: one of criteria/email/phone/word is needed.",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "refused-but-spec-accepts",
        contains: "dropped phone",
        reason: "Same as criteria: one of criteria/email/phone/word is needed.",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "refused-but-spec-accepts",
        contains: "dropped word",
        reason: "Same as criteria: one of criteria/email/phone/word is needed.",
    },
    // record.json documents only 200 for record writes (its 200 schema already holds the error
    // branch), but Zoho answers 201 when every record was inserted, 207 for mixed results and
    // 400 when all failed (ZOHO_API.md §2.2, the status-codes page, the upstream examples). The
    // emulator answers like Zoho; the toolkit validates those bodies against the 200 schema
    // (`undocumented_status_uses_200`). The 207/400 cases are not produced by this script.
    Listed {
        op: "POST /crm/v8/{module_api_name}",
        kind: "quirk",
        contains: "status 201 is not documented",
        reason: "record.json documents only 200; real inserts answer 201",
    },
    Listed {
        op: "POST /crm/v8/{module_api_name}",
        kind: "quirk",
        contains: "status 207 is not documented",
        reason: "record.json documents only 200; a write with some failed records answers 207",
    },
    // The two search operations of the files disagree: module_search.json (which the toolkit
    // matches first) marks `per_page` required and has no `page`; record.json's copy of the
    // same path has both, optional. ZOHO_API.md §2.4 agrees with record.json, and so does the
    // emulator (optional `per_page`, default 200; `page` supported).
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "request",
        contains: "query parameter \"page\" is not defined",
        reason: "module_search.json lacks `page`; record.json's search defines it",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "accepted-but-spec-refuses",
        contains: "without required query parameter per_page",
        reason: "module_search.json requires per_page, record.json and ZOHO_API.md §2.4 do not",
    },
    // module_search.json's Response_Wrapper declares only `data`; record.json's search answer and
    // ZOHO_API.md §2.4 carry `info` (per_page, count, page, more_records) too.
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "response",
        contains: "$.info: not declared by module_search.json",
        reason: "module_search.json omits `info`, record.json and ZOHO_API.md include it",
    },
    Listed {
        op: "GET /crm/v8/{module}/search",
        kind: "response",
        contains: "matches none of the 1 oneOf branches; closest is module_search.json#/components/schemas/Response_Wrapper",
        reason: "the same `info` omission, reported at the top level",
    },
    // users.json types `time_zone` as an object (real answers and the SDK: a string such as
    // "Asia/Kolkata") and turns the example date format into a one-value enum.
    Listed { op: "GET /crm/v8/users", kind: "response", contains: ".time_zone: expected object, got string", reason: "users.json mistypes time_zone" },
    Listed {
        op: "GET /crm/v8/users",
        kind: "response",
        contains: ".date_format: \"MM-dd-yyyy\" is not one of [\"MMM d, yyyy\"]",
        reason: "users.json's date_format enum is one example value",
    },
    Listed {
        op: "GET /crm/v8/users",
        kind: "response",
        contains: "matches none of the 1 oneOf branches; closest is users.json",
        reason: "the two users.json mistypes above, reported at the top level",
    },
    Listed { op: "GET /crm/v8/users", kind: "probe-response", contains: ".time_zone: expected object, got string", reason: "users.json mistypes time_zone" },
    Listed {
        op: "GET /crm/v8/users",
        kind: "probe-response",
        contains: ".date_format: \"MM-dd-yyyy\" is not one of [\"MMM d, yyyy\"]",
        reason: "users.json's date_format enum is one example value",
    },
    Listed { op: "GET /crm/v8/users", kind: "probe-response", contains: "matches none of the 1 oneOf branches; closest is users.json", reason: "as above" },
    // notifications.json types Notification.channel_id as an object, while its own event and
    // Success_Response types it as a string (ZOHO_API.md §2.8: a long you choose).
    Listed {
        op: "GET /crm/v8/actions/watch",
        kind: "response",
        contains: ".channel_id: expected object, got string",
        reason: "notifications.json mistypes Notification.channel_id",
    },
    Listed {
        op: "GET /crm/v8/actions/watch",
        kind: "probe-response",
        contains: ".channel_id: expected object, got string",
        reason: "notifications.json mistypes Notification.channel_id",
    },
    Listed {
        op: "GET /crm/v8/actions/watch",
        kind: "response",
        contains: "matches none of the 1 oneOf branches; closest is notifications.json",
        reason: "the channel_id mistyping, reported at the top level",
    },
    Listed {
        op: "GET /crm/v8/actions/watch",
        kind: "probe-response",
        contains: "matches none of the 1 oneOf branches; closest is notifications.json",
        reason: "the channel_id mistyping, reported at the top level",
    },
];

/// Conformance failures the emulator still has to fix (reported to the lead). Empty means the
/// emulator conforms everywhere the harness looks, apart from the documented deviations.
const KNOWN_EMULATOR_GAPS: &[Listed] = &[];

/// Loads the CRM spec (cached per test binary).
fn crm(dir: &std::path::Path) -> &'static Spec {
    openapi::cached_crm(dir).unwrap_or_else(|e| panic!("CRM spec did not load: {e}"))
}

/// A record of `module` numbered `n`, with the module's mandatory fields.
fn record(module: &str, n: usize) -> Json {
    match module {
        "Products" => json!({"Product_Name": format!("Contract Widget {n}"), "Product_Code": format!("CW-{n}"), "Unit_Price": 10.5 + n as f64}),
        "Accounts" => json!({"Account_Name": format!("Contract Account {n}"), "Phone": format!("555-010{n}")}),
        "Contacts" => {
            json!({"Last_Name": format!("Contract{n}"), "First_Name": "Casey", "Email": format!("casey{n}@example.com"), "Phone": format!("555-020{n}")})
        }
        "Deals" => json!({"Deal_Name": format!("Contract Deal {n}"), "Stage": "Qualification", "Closing_Date": "2030-12-31", "Amount": 1000 * n}),
        "Quotes" => {
            json!({"Subject": format!("Contract Quote {n}"), "Quoted_Items": [{"Product_Name": {"id": "{Products_1}"}, "Quantity": 2, "List_Price": 10.5}]})
        }
        "Tasks" => json!({"Subject": format!("Contract Task {n}"), "Status": "Not Started", "Due_Date": "2030-12-31"}),
        "Price_Books" => json!({"Price_Book_Name": format!("Contract Price Book {n}"), "Pricing_Model": "Flat", "Active": true}),
        other => panic!("no record template for {other}"),
    }
}

/// The display-name field of `module`.
fn name_field(module: &str) -> &'static str {
    match module {
        "Products" => "Product_Name",
        "Accounts" => "Account_Name",
        "Contacts" => "Last_Name",
        "Deals" => "Deal_Name",
        "Quotes" | "Tasks" => "Subject",
        "Price_Books" => "Price_Book_Name",
        other => panic!("no name field for {other}"),
    }
}

/// Record operations of one module, in an order that leaves `{<Module>_1}` alive at the end.
fn record_calls(m: &'static str) -> Vec<Call> {
    let base = format!("/crm/v8/{m}");
    let name = name_field(m);
    let first_name = record(m, 1)[name].as_str().unwrap().to_string();
    let upsert_key = if m == "Contacts" { "Email" } else { name };
    let upsert_existing = {
        let mut r = record(m, 1);
        r["Description"] = json!("upserted");
        r
    };
    vec![
        Call::new("insert", "POST", base.clone())
            .body(json!({"data": [record(m, 1), record(m, 2), record(m, 3)], "trigger": []}))
            .capture(&format!("{m}_1"), "/data/0/details/id")
            .capture(&format!("{m}_2"), "/data/1/details/id")
            .capture(&format!("{m}_3"), "/data/2/details/id")
            .no_probe(),
        Call::new("get", "GET", format!("{base}/{{{m}_1}}")),
        Call::new("list", "GET", base.clone())
            .q("fields", format!("{name},Created_Time,Modified_Time"))
            .q("per_page", "2")
            .q("page", "1")
            .q("sort_by", "Modified_Time")
            .q("sort_order", "desc"),
        Call::new("update.one", "PUT", format!("{base}/{{{m}_1}}")).body(json!({"data": [{"Description": "updated one"}]})),
        Call::new("update.bulk", "PUT", base.clone()).body(json!({"data": [
            {"id": format!("{{{m}_1}}"), "Description": "updated bulk"},
            {"id": format!("{{{m}_2}}"), "Description": "updated bulk"}
        ]})),
        Call::new("upsert", "POST", format!("{base}/upsert"))
            .body(json!({"data": [upsert_existing, record(m, 4)], "duplicate_check_fields": [upsert_key]}))
            .no_probe(),
        Call::new("count", "GET", format!("{base}/actions/count")),
        Call::new("search.criteria", "GET", format!("{base}/search")).q("criteria", format!("({name}:equals:{first_name})")).q("page", "1").q("per_page", "10"),
        Call::new("delete.one", "DELETE", format!("{base}/{{{m}_3}}")).no_probe(),
        Call::new("delete.bulk", "DELETE", base.clone()).q("ids", format!("{{{m}_2}}")).q("wf_trigger", "false").no_probe(),
        Call::new("deleted", "GET", format!("{base}/deleted")).q("type", "all").q("page", "1").q("per_page", "10"),
    ]
}

/// The whole scripted session, in order.
fn script() -> Vec<Call> {
    // Metadata first: it needs no records.
    let mut calls = vec![Call::new("org", "GET", "/crm/v8/org"), Call::new("org.currencies", "GET", "/crm/v8/org/currencies")];
    calls.push(Call::new("users", "GET", "/crm/v8/users").q("type", "ActiveUsers").q("page", "1").q("per_page", "10"));
    calls.push(Call::new("users.current", "GET", "/crm/v8/users").q("type", "CurrentUser"));
    // Users come in pages: the second page of one user each.
    calls.push(Call::new("users.page", "GET", "/crm/v8/users").q("type", "ActiveUsers").q("page", "2").q("per_page", "1"));
    calls.push(Call::new("users.modified-since", "GET", "/crm/v8/users").header("If-Modified-Since", "2000-01-01T00:00:00+00:00"));
    calls.push(Call::new("settings.modules", "GET", "/crm/v8/settings/modules"));
    // A custom field created, read and deleted through the fields API.
    calls.push(
        Call::new("settings.fields.create", "POST", "/crm/v8/settings/fields")
            .q("module", "Deals")
            .body(json!({"fields": [{"field_label": "Contract Balance", "data_type": "currency", "length": 16}]}))
            .capture("field", "/fields/0/details/id")
            .no_probe(),
    );
    calls.push(Call::new("settings.field", "GET", "/crm/v8/settings/fields/{field}").q("module", "Deals"));
    calls.push(Call::new("settings.fields.delete", "DELETE", "/crm/v8/settings/fields/{field}").q("module", "Deals").no_probe());
    for m in MODULES {
        calls.push(Call::new("settings.fields", "GET", "/crm/v8/settings/fields").q("module", m).q("type", "all"));
        calls.push(Call::new("settings.module", "GET", format!("/crm/v8/settings/modules/{m}")));
        calls.push(Call::new("settings.related_lists", "GET", "/crm/v8/settings/related_lists").q("module", m));
    }
    for m in MODULES {
        calls.extend(record_calls(m));
    }
    // A write where one record fails: Zoho answers 207 with one entry per record.
    calls.push(Call::new("insert.mixed", "POST", "/crm/v8/Accounts").body(json!({"data": [record("Accounts", 7), {"Phone": "555-0999"}]})).no_probe());
    // Searches by email, phone and word where the module has such fields.
    calls.push(Call::new("search.email", "GET", "/crm/v8/Contacts/search").q("email", "casey1@example.com").q("per_page", "10"));
    calls.push(Call::new("search.phone", "GET", "/crm/v8/Contacts/search").q("phone", "555-0201").q("per_page", "10"));
    calls.push(Call::new("search.word", "GET", "/crm/v8/Accounts/search").q("word", "Contract").q("per_page", "10"));
    // Lookups that make related lists: the contact, the deal and the quote belong to the
    // account, the deal and the quote name the contact, the quote belongs to the deal.
    calls.push(Call::new("link.account", "PUT", "/crm/v8/Contacts/{Contacts_1}").body(json!({"data": [{"Account_Name": {"id": "{Accounts_1}"}}]})).no_probe());
    calls.push(
        Call::new("link.account", "PUT", "/crm/v8/Deals/{Deals_1}")
            .body(json!({"data": [{"Account_Name": {"id": "{Accounts_1}"}, "Contact_Name": {"id": "{Contacts_1}"}}]}))
            .no_probe(),
    );
    calls.push(
        Call::new("link.deal", "PUT", "/crm/v8/Quotes/{Quotes_1}")
            .body(json!({"data": [{"Deal_Name": {"id": "{Deals_1}"}, "Account_Name": {"id": "{Accounts_1}"}, "Contact_Name": {"id": "{Contacts_1}"}}]}))
            .no_probe(),
    );
    for list in ["Contacts", "Deals", "Quotes"] {
        let fields = if list == "Contacts" { "Last_Name,Email" } else { name_field(list) };
        calls.push(Call::new("related.list", "GET", format!("/crm/v8/Accounts/{{Accounts_1}}/{list}")).q("fields", fields).q("page", "1").q("per_page", "10"));
    }
    calls.push(Call::new("related.list", "GET", "/crm/v8/Contacts/{Contacts_1}/Deals").q("fields", "Deal_Name").q("page", "1").q("per_page", "10"));
    calls.push(Call::new("related.list", "GET", "/crm/v8/Deals/{Deals_1}/Contact_Roles").q("fields", "Last_Name,Email").q("per_page", "10"));
    calls.push(Call::new("related.list", "GET", "/crm/v8/Deals/{Deals_1}/Quotes").q("fields", "Subject").q("per_page", "10"));
    // Related lists: link a product, then list it.
    calls.push(
        Call::new("related.put", "PUT", "/crm/v8/Deals/{Deals_1}/Products")
            .body(json!({"data": [{"id": "{Products_1}", "quantity": 3, "list_price": 9.5}]}))
            .no_probe(),
    );
    calls.push(Call::new("related.list", "GET", "/crm/v8/Deals/{Deals_1}/Products").q("fields", "Product_Name,Unit_Price").q("page", "1").q("per_page", "10"));
    calls.push(
        Call::new("related.put", "PUT", "/crm/v8/Price_Books/{Price_Books_1}/Products")
            .body(json!({"data": [{"id": "{Products_1}", "list_price": 8.25}]}))
            .no_probe(),
    );
    calls.push(
        Call::new("related.list", "GET", "/crm/v8/Price_Books/{Price_Books_1}/Products")
            .q("fields", "Product_Name,Unit_Price")
            .q("page", "1")
            .q("per_page", "10"),
    );
    // The same links seen from the product.
    for list in ["Price_Books", "Deals"] {
        calls.push(
            Call::new("related.list", "GET", format!("/crm/v8/Products/{{Products_1}}/{list}"))
                .q("fields", name_field(list))
                .q("page", "1")
                .q("per_page", "10"),
        );
    }
    calls.push(Call::new("coql", "POST", "/crm/v8/coql").body(json!({
        "select_query": "select Deal_Name, Amount, Stage from Deals where Amount >= 0 order by Deal_Name asc limit 0, 10"
    })));
    // Notification channels: enable, list, replace, patch, disable.
    let watch = |events: Json| {
        json!({"watch": [{"channel_id": "1000000068001", "events": events, "notify_url": "http://127.0.0.1:9/zoho/crm?k=v",
                          "token": "contract-token", "notify_on_related_action": false}]})
    };
    calls.push(Call::new("watch.enable", "POST", "/crm/v8/actions/watch").body(watch(json!(["Deals.all"]))).no_probe());
    calls
        .push(Call::new("watch.list", "GET", "/crm/v8/actions/watch").q("channel_id", "1000000068001").q("module", "Deals").q("page", "1").q("per_page", "10"));
    calls.push(Call::new("watch.replace", "PUT", "/crm/v8/actions/watch").body(watch(json!(["Deals.create", "Deals.edit"]))).no_probe());
    calls.push(Call::new("watch.patch", "PATCH", "/crm/v8/actions/watch").body(watch(json!(["Contacts.create"]))).no_probe());
    calls.push(Call::new("watch.disable", "DELETE", "/crm/v8/actions/watch").q("channel_ids", "1000000068001"));
    calls
}

/// Requests Zoho refuses, beyond what the spec's parameter lists can express.
fn refusals() -> Vec<Call> {
    let code = |c: &str| Some(json!(c));
    let many_fields: Vec<String> = (0..51).map(|i| format!("Field_{i}")).collect();
    let too_many: Vec<Json> = (0..101).map(|i| record("Accounts", 100 + i)).collect();
    vec![
        Call::new("refuse.unknown-module.list", "GET", "/crm/v8/No_Such_Module").q("fields", "Name").refused(code("INVALID_MODULE")),
        Call::new("refuse.unknown-module.get", "GET", "/crm/v8/No_Such_Module/5725767000000524157").refused(code("INVALID_MODULE")),
        Call::new("refuse.unknown-module.insert", "POST", "/crm/v8/No_Such_Module").body(json!({"data": [{"Name": "x"}]})).refused(code("INVALID_MODULE")),
        Call::new("refuse.unknown-module.search", "GET", "/crm/v8/No_Such_Module/search").q("word", "abc").q("per_page", "10").refused(code("INVALID_MODULE")),
        Call::new("refuse.list-without-fields", "GET", "/crm/v8/Deals").refused(code("REQUIRED_PARAM_MISSING")),
        Call::new("refuse.list-51-fields", "GET", "/crm/v8/Deals").q("fields", many_fields.join(",")).refused(code("LIMIT_EXCEEDED")),
        Call::new("refuse.get-unknown-id", "GET", "/crm/v8/Deals/1").refused(code("INVALID_DATA")),
        Call::new("refuse.insert-mandatory-missing", "POST", "/crm/v8/Deals")
            .body(json!({"data": [{"Stage": "Qualification", "Amount": 5}]}))
            .refused(code("MANDATORY_NOT_FOUND")),
        Call::new("refuse.insert-101-records", "POST", "/crm/v8/Accounts").body(json!({"data": too_many})).refused(None),
        Call::new("refuse.search-without-criteria", "GET", "/crm/v8/Deals/search").q("per_page", "10").refused(code("EXPECTED_PARAM_MISSING")),
        Call::new("refuse.search-bad-criteria", "GET", "/crm/v8/Deals/search").q("criteria", "(Deal_Name:frobnicates:x").q("per_page", "10").refused(None),
        Call::new("refuse.deleted-bad-type", "GET", "/crm/v8/Deals/deleted").q("type", "sometimes").refused(None),
        // A search needs one of criteria/email/phone/word, even with approval_state, and an
        // empty one is none; per_page is checked on every search (module_search.json:
        // INVALID_REQUEST), whatever the approval_state.
        Call::new("refuse.search-only-approval-state", "GET", "/crm/v8/Deals/search")
            .q("approval_state", "approved")
            .q("per_page", "10")
            .refused(code("EXPECTED_PARAM_MISSING")),
        Call::new("refuse.search-other-approval-state", "GET", "/crm/v8/Deals/search")
            .q("approval_state", "webform_invalid")
            .q("per_page", "10")
            .refused(code("EXPECTED_PARAM_MISSING")),
        Call::new("refuse.search-empty-email", "GET", "/crm/v8/Contacts/search").q("email", "").q("per_page", "10").refused(code("EXPECTED_PARAM_MISSING")),
        Call::new("refuse.search-per-page-0", "GET", "/crm/v8/Accounts/search").q("word", "Contract").q("per_page", "0").refused(code("INVALID_REQUEST")),
        Call::new("refuse.search-per-page-201", "GET", "/crm/v8/Accounts/search").q("word", "Contract").q("per_page", "201").refused(code("INVALID_REQUEST")),
        Call::new("refuse.search-per-page-text", "GET", "/crm/v8/Deals/search")
            .q("approval_state", "webform_invalid")
            .q("word", "Contract")
            .q("per_page", "many")
            .refused(code("INVALID_REQUEST")),
        // Users: paging parameters and If-Modified-Since are checked (users.json: INVALID_DATA).
        Call::new("refuse.users-per-page-0", "GET", "/crm/v8/users").q("per_page", "0").refused(code("INVALID_DATA")),
        Call::new("refuse.users-per-page-201", "GET", "/crm/v8/users").q("per_page", "201").refused(code("INVALID_DATA")),
        Call::new("refuse.users-page-0", "GET", "/crm/v8/users").q("page", "0").refused(code("INVALID_DATA")),
        Call::new("refuse.users-bad-modified-since", "GET", "/crm/v8/users").header("If-Modified-Since", "yesterday").refused(code("INVALID_DATA")),
        Call::new("refuse.deleted-bad-modified-since", "GET", "/crm/v8/Deals/deleted").header("If-Modified-Since", "not a date").refused(code("INVALID_DATA")),
        // `module` of settings/fields is a query parameter: fields.json's details are {api_name}.
        Call::new("refuse.fields-unknown-module", "GET", "/crm/v8/settings/fields").q("module", "No_Such_Module").refused(code("INVALID_MODULE")),
        Call::new("refuse.fields-empty-module", "GET", "/crm/v8/settings/fields").q("module", "").refused(code("INVALID_MODULE")),
        Call::new("refuse.module-unknown", "GET", "/crm/v8/settings/modules/No_Such_Module").refused(code("INVALID_MODULE")),
        Call::new("refuse.related-lists-unknown-module", "GET", "/crm/v8/settings/related_lists").q("module", "No_Such_Module").refused(code("INVALID_MODULE")),
        Call::new("refuse.related-lists-without-module", "GET", "/crm/v8/settings/related_lists").refused(code("REQUIRED_PARAM_MISSING")),
        Call::new("refuse.related-unknown-list", "GET", "/crm/v8/Accounts/{Accounts_1}/No_Such_List").refused(code("INVALID_DATA")),
        Call::new("refuse.related-unknown-record", "GET", "/crm/v8/Accounts/1/Contacts").refused(code("INVALID_DATA")),
        Call::new("refuse.related-per-page-0", "GET", "/crm/v8/Accounts/{Accounts_1}/Contacts").q("per_page", "0").refused(code("INVALID_DATA")),
        Call::new("refuse.coql-syntax", "POST", "/crm/v8/coql").body(json!({"select_query": "select from where"})).refused(code("SYNTAX_ERROR")),
        Call::new("refuse.watch-without-notify-url", "POST", "/crm/v8/actions/watch")
            .body(json!({"watch": [{"channel_id": "1000000068002", "events": ["Deals.all"]}]}))
            .refused(None),
    ]
}

/// Starts an emulator and a runner logged in to it.
async fn start(spec: &'static Spec) -> (Emulator, Runner<'static>) {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator starts");
    let http = reqwest::Client::new();
    let (_, token) = testkit::login(&http, &emu.url()).await.expect("login");
    let runner = Runner::new(spec, ErrorShape::Crm, emu.url(), token);
    (emu, runner)
}

/// Every scripted call: the spec has the operation, our parameters are the spec's, the answer is
/// 2xx and its body validates.
#[tokio::test]
async fn every_crm_operation_answers_as_the_v8_spec_says() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let (emu, mut runner) = start(spec).await;
    for call in script() {
        runner.run(&call).await;
    }
    let exercised: BTreeSet<String> = runner.exercised.iter().map(|(key, _, _)| key.clone()).collect();
    let wanted: BTreeSet<String> = script().iter().map(Call::coverage_key).collect();
    assert_eq!(exercised, wanted, "every scripted family was sent");
    contract::assert_clean(
        "every_crm_operation_answers_as_the_v8_spec_says",
        &runner.problems,
        DOCUMENTED_DEVIATIONS,
        KNOWN_EMULATOR_GAPS,
        &contract::HARNESS_KINDS,
    );
    emu.stop().await;
}

/// Refusals: derived probes (required parameter missing, value outside an enum → 4xx Zoho
/// error; GET with only required parameters → accepted) for every scripted call, plus the
/// scripted refusals. Error bodies validate against the files' error schemas.
#[tokio::test]
async fn crm_refuses_and_accepts_parameters_as_the_v8_spec_says() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let (emu, mut runner) = start(spec).await;
    let mut probes = 0;
    for call in script() {
        let before = runner.exercised.len();
        runner.probe_refusals(&call).await;
        probes += runner.exercised.len() - before;
        // The call itself is checked by the harness test; here it only sets up later probes.
        let keep = runner.problems.len();
        runner.run(&call).await;
        runner.problems.truncate(keep);
    }
    for call in refusals() {
        runner.run(&call).await;
    }
    assert!(probes >= 10, "the spec yields refusal probes for CRM ({probes} sent)");
    contract::assert_clean(
        "crm_refuses_and_accepts_parameters_as_the_v8_spec_says",
        &runner.problems,
        DOCUMENTED_DEVIATIONS,
        KNOWN_EMULATOR_GAPS,
        &contract::REFUSAL_KINDS,
    );
    emu.stop().await;
}

/// The harness covers every route family of the emulated CRM: every record family for every
/// module, the searches, related lists, COQL, metadata, users, org and watch. Every scripted
/// call finds its operation in the spec. Dropping a call from [`script`] fails here.
#[test]
fn crm_harness_covers_every_route_family() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let calls = script();
    let mut listed = Vec::new();
    let mut missing_from_spec = Vec::new();
    for call in &calls {
        let path = call.path.replace(['{', '}'], "");
        match spec.find_operation(call.method, &path) {
            Some(op) => listed.push(format!("{:<22} {} {} ({})", call.coverage_key(), op.method, op.full_template, op.file)),
            None => missing_from_spec.push(format!("{} {}", call.method, call.path)),
        }
    }
    eprintln!("CRM operations exercised by the harness:\n  {}", listed.join("\n  "));
    assert!(missing_from_spec.is_empty(), "scripted calls without a spec operation: {missing_from_spec:?}");
    let have: BTreeSet<String> = calls.iter().map(Call::coverage_key).collect();
    let mut wanted: Vec<String> = Vec::new();
    for m in MODULES {
        for f in RECORD_FAMILIES {
            wanted.push(format!("{f}@{m}"));
        }
        wanted.push("settings.fields".to_string());
    }
    wanted.extend(OTHER_FAMILIES.iter().map(|f| f.to_string()));
    let absent: Vec<&String> = wanted.iter().filter(|w| !have.contains(*w)).collect();
    assert!(absent.is_empty(), "route families the harness does not exercise: {absent:?}");
    // Every spec operation template the harness reaches, so losing one shows up in review.
    let templates: BTreeSet<String> = calls
        .iter()
        .filter_map(|c| spec.find_operation(c.method, &c.path.replace(['{', '}'], "")))
        .map(|o| format!("{} {}", o.method, o.full_template))
        .collect();
    assert!(templates.len() >= 20, "distinct CRM operations exercised: {templates:#?}");
    let refusal_keys: BTreeSet<String> = refusals().iter().map(|c| c.family.to_string()).collect();
    for needed in ["refuse.unknown-module.list", "refuse.list-without-fields"] {
        assert!(refusal_keys.contains(needed), "refusal {needed} is scripted");
    }
}

/// The values Zoho documents beyond what the schemas can check, each answer also validated against
/// the v8 files by the runner: nine-decimal exchange rates, custom views with digit-string ids,
/// users paged with a true `info` and 304 under `If-Modified-Since`, one module's metadata with its
/// fields and related lists, the related lists of a module, an account's contacts through its
/// related list, a deleted list under `If-Modified-Since`, and the `Bearer` authorization scheme.
#[tokio::test]
async fn crm_answers_carry_the_values_zoho_documents() {
    let dir = spec_dir_or_skip!();
    let spec = crm(&dir);
    let (emu, mut runner) = start(spec).await;
    let digits = |v: &Json| v.as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));

    // org/currencies: "1.000000000", nine decimals on every rate.
    let body = runner.run(&Call::new("org.currencies", "GET", "/crm/v8/org/currencies")).await.json.expect("currencies");
    for c in body["currencies"].as_array().expect("currencies array") {
        let rate = c["exchange_rate"].as_str().expect("exchange_rate is a string");
        assert_eq!(rate.split_once('.').map(|(_, d)| d.len()), Some(9), "{rate}");
        if c["is_base"] == json!(true) {
            assert_eq!(rate, "1.000000000");
        }
    }

    // settings/modules: every module's custom view has digit-string ids, distinct per module.
    let body = runner.run(&Call::new("settings.modules", "GET", "/crm/v8/settings/modules")).await.json.expect("modules");
    let mut views = BTreeSet::new();
    for m in body["modules"].as_array().expect("modules array") {
        let view = &m["custom_view"];
        for id in [&view["id"], &view["created_by"]["id"], &view["modified_by"]["id"], &view["module"]["id"], &view["sort_by"]["id"]] {
            assert!(digits(id), "{}: custom_view id {id}", m["api_name"]);
        }
        assert_eq!(view["module"]["id"], m["id"]);
        assert!(views.insert(view["id"].to_string()), "custom view ids are distinct");
    }

    // settings/modules/{api_name}: that module only, with its fields and related lists.
    let body = runner.run(&Call::new("settings.module", "GET", "/crm/v8/settings/modules/Accounts")).await.json.expect("module");
    let modules = body["modules"].as_array().expect("modules array");
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0]["api_name"], "Accounts");
    assert!(modules[0]["fields"].as_array().is_some_and(|f| f.iter().any(|f| f["api_name"] == "Account_Name")));
    assert!(modules[0]["related_lists"].as_array().is_some_and(|l| l.iter().any(|l| l["api_name"] == "Contacts")));

    // settings/related_lists: api_name, module, name, href of each list.
    let body = runner.run(&Call::new("settings.related_lists", "GET", "/crm/v8/settings/related_lists").q("module", "Deals")).await.json.expect("lists");
    let lists = body["related_lists"].as_array().expect("related_lists array");
    let products = lists.iter().find(|l| l["api_name"] == "Products").expect("Deals has Products");
    assert_eq!(products["module"]["api_name"], "Products");
    assert_eq!(products["href"], "Deals/{ENTITYID}/Products");
    assert!(digits(&products["id"]) && digits(&products["module"]["id"]) && products["name"].is_string());
    for name in ["Contact_Roles", "Quotes"] {
        assert!(lists.iter().any(|l| l["api_name"] == name), "Deals has {name}");
    }

    // Accounts/{id}/Contacts: the contacts whose Account_Name is the account, paged.
    let account = runner
        .run(
            &Call::new("insert", "POST", "/crm/v8/Accounts")
                .body(json!({"data": [record("Accounts", 1), record("Accounts", 2)]}))
                .capture("acc", "/data/0/details/id")
                .capture("other", "/data/1/details/id"),
        )
        .await;
    assert_eq!(account.status, 201);
    let contacts: Vec<Json> = (1..=3)
        .map(|n| {
            let mut c = record("Contacts", n);
            c["Account_Name"] = json!({"id": if n == 3 { "{other}" } else { "{acc}" }});
            c
        })
        .collect();
    runner.run(&Call::new("insert", "POST", "/crm/v8/Contacts").body(json!({"data": contacts}))).await;
    let page = |n: &str| {
        Call::new("related.list", "GET", "/crm/v8/Accounts/{acc}/Contacts").q("fields", "Last_Name,Email,Account_Name").q("page", n).q("per_page", "1")
    };
    let first = runner.run(&page("1")).await.json.expect("page 1");
    assert_eq!(first["info"], json!({"per_page": 1, "count": 1, "page": 1, "more_records": true}));
    let second = runner.run(&page("2")).await.json.expect("page 2");
    assert_eq!(second["info"]["more_records"], json!(false));
    let emails: BTreeSet<String> = [&first, &second].iter().map(|b| b["data"][0]["Email"].as_str().expect("email").to_string()).collect();
    assert_eq!(emails, BTreeSet::from(["casey1@example.com".to_string(), "casey2@example.com".to_string()]));
    assert_eq!(first["data"][0]["Account_Name"]["id"], json!(runner.vars["acc"]));

    // users: true paging, and 304 when no user changed since (ZOHO_API.md §2.2; users.json
    // documents only 200/204, so the 304 is checked here rather than by the validator).
    let all = runner.run(&Call::new("users", "GET", "/crm/v8/users")).await.json.expect("users");
    let total = all["users"].as_array().expect("users array").len();
    assert!(total >= 2, "the emulator has several users");
    let last = runner.run(&Call::new("users.page", "GET", "/crm/v8/users").q("page", total.to_string()).q("per_page", "1")).await.json.expect("last page");
    assert_eq!(last["info"], json!({"per_page": 1, "count": 1, "page": total, "more_records": false}));
    assert_eq!(last["users"][0]["id"], all["users"][total - 1]["id"]);
    let later = Call::new("users.modified-since", "GET", "/crm/v8/users").header("If-Modified-Since", "2999-01-01T00:00:00+00:00");
    let answer = runner.send(&later).await;
    assert_eq!((answer.status, answer.text.as_str()), (304, ""));

    // deleted: If-Modified-Since after every deletion → 304.
    runner.run(&Call::new("delete.one", "DELETE", "/crm/v8/Accounts/{other}")).await;
    let answer = runner.send(&Call::new("deleted", "GET", "/crm/v8/Accounts/deleted").header("If-Modified-Since", "2999-01-01T00:00:00+00:00")).await;
    assert_eq!(answer.status, 304);
    let earlier = runner.run(&Call::new("deleted", "GET", "/crm/v8/Accounts/deleted").header("If-Modified-Since", "2000-01-01T00:00:00+00:00")).await;
    assert_eq!(earlier.json.expect("deleted")["data"][0]["id"], json!(runner.vars["other"]));

    // Authorization: Bearer works like Zoho-oauthtoken.
    let bearer = format!("Bearer {}", runner.token);
    let answer = runner.run(&Call::new("org", "GET", "/crm/v8/org").header("Authorization", bearer.clone())).await;
    assert_eq!(answer.status, 200);
    let answer = runner.run(&Call::new("related.list", "GET", "/crm/v8/Accounts/{acc}/Contacts").q("fields", "Email").header("Authorization", bearer)).await;
    assert_eq!(answer.json.expect("contacts")["info"]["count"], json!(2));

    contract::assert_clean("crm_answers_carry_the_values_zoho_documents", &runner.problems, DOCUMENTED_DEVIATIONS, KNOWN_EMULATOR_GAPS, &[]);
    emu.stop().await;
}
