//! Contract tests of the emulated Zoho Books v3 against Zoho's own OpenAPI files
//! (`books-oas/openapi-all/*.yml`).
//!
//! Why it exists: the issue asks that every Books operation the emulator serves is checked the
//! same way as CRM — request parameters accepted and refused as the files say, answers that
//! validate against their schemas — following the files where they and `ZOHO_API.md` disagree.
//! This file holds:
//!
//! - [`script`]: one scripted call per operation the emulator serves (organizations, users/me,
//!   contacts and contact persons, items, taxes, tax groups, currencies and exchange rates,
//!   templates, invoices with their status changes, payments, credits and upsert, estimates,
//!   customer payments, credit notes with applications and refunds, price lists), run by
//!   `tests/support/contract.rs` (spec lookup, `check_query`/`check_headers`, HTTP,
//!   `validate_response`);
//! - [`refusals`]: requests Books refuses beyond the derived probes (organization_id missing is
//!   probed on every call; enum parameters get out-of-enum values; upsert headers are left out);
//! - [`DOCUMENTED_DEVIATIONS`] and [`KNOWN_EMULATOR_GAPS`], as in `contract_crm.rs`.
//!
//! The Books files document only 200/201 answers, so error bodies are checked for Zoho's shape
//! (`{"code": <non-zero int>, "message": …}`) but cannot be validated against a schema.
//! Zoho's files are found through `ZOHO_OAS_DIR`; without it every test prints a loud `SKIPPED`
//! line and returns.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};
use support::contract::{self, Call, ErrorShape, Listed, Runner};
use support::openapi::{self, Spec};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

/// Families the harness must exercise; dropping a call for one of them fails the coverage test.
const FAMILIES: [&str; 63] = [
    "organizations.list",
    "organizations.get",
    "users.me",
    "taxes.list",
    "taxes.create",
    "taxes.get",
    "taxes.delete",
    "taxgroups.create",
    "taxgroups.get",
    "taxgroups.delete",
    "currencies.list",
    "currencies.get",
    "exchangerates.list",
    "exchangerates.create",
    "templates.invoices",
    "templates.estimates",
    "templates.creditnotes",
    "contacts.create",
    "contacts.list",
    "contacts.get",
    "contacts.update",
    "contacts.inactive",
    "contacts.active",
    "contacts.upsert",
    "contacts.delete",
    "contactpersons.create",
    "contactpersons.list",
    "contactpersons.get",
    "contactpersons.update",
    "contactpersons.primary",
    "contactpersons.delete",
    "items.create",
    "items.list",
    "items.get",
    "items.update",
    "items.upsert",
    "items.inactive",
    "items.active",
    "items.delete",
    "invoices.create",
    "invoices.list",
    "invoices.get",
    "invoices.update",
    "invoices.upsert",
    "invoices.sent",
    "invoices.void",
    "invoices.draft",
    "invoices.delete",
    "invoices.payments",
    "invoices.credits.apply",
    "invoices.creditsapplied",
    "customerpayments.create",
    "customerpayments.list",
    "customerpayments.get",
    "customerpayments.delete",
    "creditnotes.create",
    "creditnotes.list",
    "creditnotes.get",
    "creditnotes.update",
    "creditnotes.invoices.apply",
    "creditnotes.invoices.list",
    "creditnotes.refunds.create",
    "creditnotes.refunds.list",
];

/// More families (split only to keep the arrays readable).
const MORE_FAMILIES: [&str; 27] = [
    "taxexemptions.create",
    "taxexemptions.list",
    "taxexemptions.get",
    "taxexemptions.update",
    "taxexemptions.delete",
    "customerpayments.update",
    "customerpayments.refunds.create",
    "customerpayments.refunds.list",
    "creditnotes.refunds.all",
    "creditnotes.upsert",
    "creditnotes.void",
    "creditnotes.draft",
    "creditnotes.open",
    "creditnotes.delete",
    "estimates.create",
    "estimates.list",
    "estimates.get",
    "estimates.update",
    "estimates.sent",
    "estimates.accepted",
    "estimates.declined",
    "pricebooks.create",
    "pricebooks.list",
    "pricebooks.update",
    "pricebooks.inactive",
    "pricebooks.active",
    "pricebooks.delete",
];

/// Where the emulator knowingly differs from the Books files, and why. Each entry is a place
/// where the files contradict themselves or every real answer, so "follow the spec" has no
/// single meaning; the harness fails on any difference not listed here, and on stale entries.
const DOCUMENTED_DEVIATIONS: &[Listed] = &[
    // invoices.yml types `total`, `balance` and `shipping_charge` as `string` but gives numeric
    // examples (10000, 40.6, 0), types every sibling amount (`sub_total`, `tax_total`,
    // `payment_made`, `credits_applied`, `adjustment`) as `number`, and estimates.yml types
    // `total` as `number`; ZOHO_API.md §3.1 says money is a JSON number. We keep numbers.
    Listed {
        op: "*",
        kind: "response",
        contains: ".total: expected string, got",
        reason: "invoices.yml mistypes total as string (numeric example, number siblings)",
    },
    Listed {
        op: "*",
        kind: "response",
        contains: ".balance: expected string, got",
        reason: "invoices.yml mistypes balance as string (numeric example, number siblings)",
    },
    Listed {
        op: "*",
        kind: "response",
        contains: ".shipping_charge: expected string, got",
        reason: "invoices.yml/estimates.yml mistype shipping_charge as string (numeric example 0)",
    },
    Listed { op: "*", kind: "probe-response", contains: ".total: expected string, got", reason: "as above (total)" },
    Listed { op: "*", kind: "probe-response", contains: ".balance: expected string, got", reason: "as above (balance)" },
    // credit-notes.yml types the `creditnotes` list of `GET /creditnotes` as one object (the
    // row's properties), while every other list (invoices, estimates, payments) is an array and
    // the answer carries `page_context`; ZOHO_API.md §3.2 says lists are arrays.
    Listed {
        op: "GET /books/v3/creditnotes",
        kind: "response",
        contains: "$.creditnotes: expected object, got array",
        reason: "credit-notes.yml types the list as an object",
    },
    Listed {
        op: "GET /books/v3/creditnotes",
        kind: "probe-response",
        contains: "$.creditnotes: expected object, got array",
        reason: "credit-notes.yml types the list as an object",
    },
    // invoices.yml and estimates.yml type `page_context` as an array of one object; real answers,
    // Zoho's SDKs (PageContext model), books-oas/INDEX.md and ZOHO_API.md §3.2 make it one
    // object. The toolkit's `page_context_object` leniency lets it validate; listed here so the
    // leniency stays visible.
    Listed { op: "GET /books/v3/invoices", kind: "quirk", contains: "page_context is an object", reason: "invoices.yml types page_context as array" },
    Listed { op: "GET /books/v3/estimates", kind: "quirk", contains: "page_context is an object", reason: "estimates.yml types page_context as array" },
];

/// Conformance failures the emulator still has to fix (reported to the lead): the files are
/// right (or at least unambiguous) and the emulator differs.
const KNOWN_EMULATOR_GAPS: &[Listed] = &[];

/// Loads the Books spec (cached per test binary).
fn books(dir: &std::path::Path) -> &'static Spec {
    openapi::cached_books(dir).unwrap_or_else(|e| panic!("Books spec did not load: {e}"))
}

/// A call under `/books/v3` carrying `organization_id` (as every Books call must).
fn call(family: &'static str, method: &'static str, path: &str) -> Call {
    Call::new(family, method, format!("/books/v3{path}")).q("organization_id", "{org}")
}

/// One invoice/estimate/credit-note line.
fn line(rate: f64, quantity: f64) -> Json {
    json!([{"item_id": "{item}", "name": "Contract Widget", "rate": rate, "quantity": quantity}])
}

/// The whole scripted session, in order.
fn script() -> Vec<Call> {
    let mut c = Vec::new();
    // Organisation, user, settings.
    c.push(Call::new("organizations.list", "GET", "/books/v3/organizations"));
    c.push(Call::new("organizations.get", "GET", "/books/v3/organizations/{org}"));
    c.push(call("users.me", "GET", "/users/me"));
    c.push(call("taxes.list", "GET", "/settings/taxes").q("page", "1").q("per_page", "50").capture("tax", "/taxes/0/tax_id"));
    c.push(
        call("taxes.create", "POST", "/settings/taxes")
            .body(json!({"tax_name": "Contract Tax", "tax_percentage": 7.5, "tax_type": "tax"}))
            .capture("tax_new", "/tax/tax_id|/tax/0/tax_id")
            .no_probe(),
    );
    c.push(call("taxes.get", "GET", "/settings/taxes/{tax_new}"));
    c.push(
        call("taxgroups.create", "POST", "/settings/taxgroups")
            .body(json!({"tax_group_name": "Contract Group", "taxes": "{tax},{tax_new}"}))
            .capture("tax_group", "/tax_group/tax_group_id")
            .no_probe(),
    );
    c.push(call("taxgroups.get", "GET", "/settings/taxgroups/{tax_group}"));
    c.push(call("taxgroups.delete", "DELETE", "/settings/taxgroups/{tax_group}").no_probe());
    c.push(call("taxes.delete", "DELETE", "/settings/taxes/{tax_new}").no_probe());
    c.push(
        call("currencies.list", "GET", "/settings/currencies")
            .q("filter_by", "Currencies.ExcludeBaseCurrency")
            .q("page", "1")
            .q("per_page", "50")
            .capture("currency", "/currencies/0/currency_id"),
    );
    c.push(call("currencies.get", "GET", "/settings/currencies/{currency}"));
    c.push(call("exchangerates.list", "GET", "/settings/currencies/{currency}/exchangerates"));
    c.push(
        call("exchangerates.create", "POST", "/settings/currencies/{currency}/exchangerates")
            .body(json!({"effective_date": "2030-01-01", "rate": 1.1}))
            .no_probe(),
    );
    c.push(
        call("taxexemptions.create", "POST", "/settings/taxexemptions")
            .body(json!({"tax_exemption_code": "CONTRACT-EX", "type": "customer", "description": "Contract exemption"}))
            .capture("exemption", "/tax_exemption/tax_exemption_id")
            .no_probe(),
    );
    c.push(
        call("taxexemptions.create", "POST", "/settings/taxexemptions")
            .body(json!({"tax_exemption_code": "CONTRACT-DROP", "type": "item"}))
            .capture("exemption_drop", "/tax_exemption/tax_exemption_id")
            .no_probe(),
    );
    c.push(call("taxexemptions.list", "GET", "/settings/taxexemptions"));
    c.push(call("taxexemptions.get", "GET", "/settings/taxexemptions/{exemption}"));
    c.push(
        call("taxexemptions.update", "PUT", "/settings/taxexemptions/{exemption}")
            .body(json!({"tax_exemption_code": "CONTRACT-EX", "type": "customer", "description": "Contract exemption, updated"})),
    );
    c.push(call("taxexemptions.delete", "DELETE", "/settings/taxexemptions/{exemption_drop}").no_probe());
    c.push(call("templates.invoices", "GET", "/invoices/templates"));
    c.push(call("templates.estimates", "GET", "/estimates/templates"));
    c.push(call("templates.creditnotes", "GET", "/creditnotes/templates"));

    // Contacts and contact persons.
    c.push(
        call("contacts.create", "POST", "/contacts")
            .body(json!({"contact_name": "Contract Customer", "company_name": "Contract Co", "contact_type": "customer",
                          "contact_persons": [{"first_name": "Casey", "last_name": "Contract", "email": "casey@example.com", "is_primary_contact": true}]}))
            .capture("contact", "/contact/contact_id")
            .no_probe(),
    );
    c.push(call("contacts.list", "GET", "/contacts").q("contact_type", "customer").q("sort_column", "contact_name").q("page", "1").q("per_page", "10"));
    c.push(call("contacts.get", "GET", "/contacts/{contact}"));
    c.push(call("contacts.update", "PUT", "/contacts/{contact}").body(json!({"contact_name": "Contract Customer", "notes": "updated"})));
    c.push(call("contacts.inactive", "POST", "/contacts/{contact}/inactive"));
    c.push(call("contacts.active", "POST", "/contacts/{contact}/active"));
    c.push(
        call("contacts.upsert", "PUT", "/contacts")
            .header("X-Unique-Identifier-Key", "cf_crm_account_id")
            .header("X-Unique-Identifier-Value", "C-CONTRACT-1")
            .header("X-Upsert", "true")
            .body(json!({"contact_name": "Contract Upserted"}))
            .capture("contact_upserted", "/contact/contact_id"),
    );
    c.push(
        call("contactpersons.create", "POST", "/contacts/contactpersons")
            .body(json!({"contact_id": "{contact}", "first_name": "Robin", "last_name": "Contract", "email": "robin@example.com"}))
            .capture("person", "/contact_person/contact_person_id|/contact_person/0/contact_person_id")
            .no_probe(),
    );
    c.push(call("contactpersons.list", "GET", "/contacts/{contact}/contactpersons").q("page", "1").q("per_page", "10"));
    c.push(call("contactpersons.get", "GET", "/contacts/{contact}/contactpersons/{person}"));
    c.push(
        call("contactpersons.update", "PUT", "/contacts/contactpersons/{person}")
            .body(json!({"contact_id": "{contact}", "first_name": "Robin", "phone": "555-0300"})),
    );
    c.push(call("contactpersons.delete", "DELETE", "/contacts/contactpersons/{person}").no_probe());
    c.push(
        call("contactpersons.create", "POST", "/contacts/contactpersons")
            .body(json!({"contact_id": "{contact}", "first_name": "Sam", "last_name": "Contract", "email": "sam@example.com"}))
            .capture("person2", "/contact_person/contact_person_id|/contact_person/0/contact_person_id")
            .no_probe(),
    );
    c.push(call("contactpersons.primary", "POST", "/contacts/contactpersons/{person2}/primary"));
    c.push(call("contacts.delete", "DELETE", "/contacts/{contact_upserted}").no_probe());

    // Items.
    c.push(
        call("items.create", "POST", "/items")
            .body(json!({"name": "Contract Widget", "rate": 50.0, "sku": "CW-1", "description": "for the contract tests", "product_type": "goods"}))
            .capture("item", "/item/item_id")
            .no_probe(),
    );
    c.push(
        call("items.create", "POST", "/items")
            .body(json!({"name": "Contract Spare", "rate": 5.0, "sku": "CW-2"}))
            .capture("item_spare", "/item/item_id")
            .no_probe(),
    );
    c.push(call("items.list", "GET", "/items").q("name_startswith", "Contract").q("sort_column", "name").q("page", "1").q("per_page", "10"));
    c.push(call("items.get", "GET", "/items/{item}"));
    c.push(call("items.update", "PUT", "/items/{item}").body(json!({"name": "Contract Widget", "rate": 55.0})));
    // Upsert by the unique `cf_crm_product_id`: the first creates, the second updates.
    let item_upsert = |rate: f64| {
        call("items.upsert", "PUT", "/items")
            .header("X-Unique-Identifier-Key", "cf_crm_product_id")
            .header("X-Unique-Identifier-Value", "P-CONTRACT-1")
            .header("X-Upsert", "true")
            .body(json!({"name": "Contract Upserted Item", "rate": rate, "sku": "CW-3"}))
    };
    c.push(item_upsert(7.0).capture("item_upserted", "/item/item_id"));
    c.push(item_upsert(8.0));
    // Price lists: one per item, one by percentage.
    c.push(
        call("pricebooks.create", "POST", "/pricebooks")
            .body(json!({"name": "Contract Wholesale", "description": "per item", "pricebook_type": "per_item", "sales_or_purchase_type": "sales",
                          "currency_id": "{currency}", "decimal_place": 2, "rounding_type": "no_rounding",
                          "pricebook_items": [{"item_id": "{item}", "pricebook_rate": 45.5}, {"item_id": "{item_spare}", "pricing_scheme": "volume",
                              "price_brackets": [{"start_quantity": 1, "end_quantity": 9, "pricebook_rate": 5.0}, {"start_quantity": 10, "end_quantity": 0, "pricebook_rate": 4.5, "pricebook_discount": "10%"}]}]}))
            .capture("pricebook", "/pricebook/pricebook_id")
            .no_probe(),
    );
    c.push(
        call("pricebooks.create", "POST", "/pricebooks")
            .body(
                json!({"name": "Contract Markup", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 4, "is_increase": true,
                          "rounding_type": "round_to_dollar_minus_01"}),
            )
            .capture("pricebook_markup", "/pricebook/pricebook_id")
            .no_probe(),
    );
    c.push(
        call("pricebooks.list", "GET", "/pricebooks")
            .q("filter_by", "SalesOrPurchaseType.Sales")
            .q("search_text", "Contract")
            .q("page", "1")
            .q("per_page", "10"),
    );
    c.push(
        call("pricebooks.update", "PUT", "/pricebooks/{pricebook}")
            .body(json!({"name": "Contract Wholesale", "pricebook_type": "per_item", "sales_or_purchase_type": "sales",
                                                                                 "pricebook_items": [{"item_id": "{item}", "pricebook_rate": 44.0}]})),
    );
    c.push(call("pricebooks.inactive", "POST", "/pricebooks/{pricebook}/inactive"));
    c.push(call("pricebooks.active", "POST", "/pricebooks/{pricebook}/active"));
    c.push(call("pricebooks.delete", "DELETE", "/pricebooks/{pricebook_markup}").no_probe());
    c.push(call("items.inactive", "POST", "/items/{item_spare}/inactive"));
    c.push(call("items.active", "POST", "/items/{item_spare}/active"));
    c.push(call("items.delete", "DELETE", "/items/{item_spare}").no_probe());
    c.push(call("items.delete", "DELETE", "/items/{item_upserted}").no_probe());

    // Invoices.
    let invoice = |reference: &str| json!({"customer_id": "{contact}", "date": "2030-01-10", "due_date": "2030-02-10", "reference_number": reference, "line_items": line(50.0, 2.0)});
    c.push(call("invoices.create", "POST", "/invoices").body(invoice("CONTRACT-1")).capture("invoice", "/invoice/invoice_id").no_probe());
    c.push(call("invoices.create", "POST", "/invoices").body(invoice("CONTRACT-2")).capture("invoice_void", "/invoice/invoice_id").no_probe());
    c.push(call("invoices.create", "POST", "/invoices").body(invoice("CONTRACT-3")).capture("invoice_drop", "/invoice/invoice_id").no_probe());
    c.push(
        call("invoices.list", "GET", "/invoices")
            .q("customer_id", "{contact}")
            .q("status", "draft")
            .q("sort_column", "created_time")
            .q("page", "1")
            .q("per_page", "10"),
    );
    c.push(call("invoices.get", "GET", "/invoices/{invoice}"));
    c.push(call("invoices.update", "PUT", "/invoices/{invoice}").body(json!({"customer_id": "{contact}", "notes": "updated", "line_items": line(50.0, 2.0)})));
    c.push(
        call("invoices.upsert", "PUT", "/invoices")
            .header("X-Unique-Identifier-Key", "cf_crm_deal_id")
            .header("X-Unique-Identifier-Value", "D-CONTRACT-1")
            .header("X-Upsert", "true")
            .body(json!({"customer_id": "{contact}", "line_items": line(20.0, 1.0)})),
    );
    c.push(call("invoices.sent", "POST", "/invoices/{invoice}/status/sent"));
    c.push(call("invoices.sent", "POST", "/invoices/{invoice_void}/status/sent"));
    c.push(call("invoices.void", "POST", "/invoices/{invoice_void}/status/void"));
    c.push(call("invoices.draft", "POST", "/invoices/{invoice_void}/status/draft"));
    c.push(call("invoices.delete", "DELETE", "/invoices/{invoice_drop}").no_probe());

    // Customer payments.
    let payment = |amount: f64| {
        json!({"customer_id": "{contact}", "payment_mode": "cash", "amount": amount, "date": "2030-01-15",
               "invoices": [{"invoice_id": "{invoice}", "amount_applied": amount}]})
    };
    c.push(call("customerpayments.create", "POST", "/customerpayments").body(payment(20.0)).capture("payment", "/payment/payment_id").no_probe());
    c.push(call("customerpayments.create", "POST", "/customerpayments").body(payment(1.0)).capture("payment_drop", "/payment/payment_id").no_probe());
    c.push(call("customerpayments.list", "GET", "/customerpayments").q("customer_id", "{contact}").q("page", "1").q("per_page", "10"));
    c.push(call("customerpayments.get", "GET", "/customerpayments/{payment}"));
    c.push(call("customerpayments.delete", "DELETE", "/customerpayments/{payment_drop}").no_probe());
    // Receive 25 for the 20 applied: 5 unused, 1 of it refunded.
    let mut bigger = payment(20.0);
    bigger["amount"] = json!(25.0);
    c.push(call("customerpayments.update", "PUT", "/customerpayments/{payment}").body(bigger));
    c.push(
        call("customerpayments.refunds.create", "POST", "/customerpayments/{payment}/refunds")
            .body(json!({"date": "2030-01-16", "refund_mode": "cash", "amount": 1.0, "from_account_id": "460000000000001", "reference_number": "PR-1"}))
            .no_probe(),
    );
    c.push(call("customerpayments.refunds.list", "GET", "/customerpayments/{payment}/refunds"));
    c.push(call("invoices.payments", "GET", "/invoices/{invoice}/payments"));

    // Credit notes.
    let note = || json!({"customer_id": "{contact}", "date": "2030-01-20", "line_items": line(10.0, 1.0)});
    c.push(call("creditnotes.create", "POST", "/creditnotes").body(note()).capture("creditnote", "/creditnote/creditnote_id").no_probe());
    c.push(call("creditnotes.create", "POST", "/creditnotes").body(note()).capture("creditnote_void", "/creditnote/creditnote_id").no_probe());
    c.push(call("creditnotes.create", "POST", "/creditnotes").body(note()).capture("creditnote_drop", "/creditnote/creditnote_id").no_probe());
    c.push(
        call("creditnotes.list", "GET", "/creditnotes")
            .q("customer_id", "{contact}")
            .q("filter_by", "Status.All")
            .q("sort_column", "date")
            .q("page", "1")
            .q("per_page", "10"),
    );
    c.push(call("creditnotes.get", "GET", "/creditnotes/{creditnote}"));
    c.push(
        call("creditnotes.update", "PUT", "/creditnotes/{creditnote}")
            .body(json!({"customer_id": "{contact}", "date": "2030-01-20", "notes": "updated", "line_items": line(10.0, 1.0)})),
    );
    c.push(
        call("invoices.credits.apply", "POST", "/invoices/{invoice}/credits")
            .body(json!({"apply_creditnotes": [{"creditnote_id": "{creditnote}", "amount_applied": 3.0}]}))
            .no_probe(),
    );
    c.push(call("invoices.creditsapplied", "GET", "/invoices/{invoice}/creditsapplied"));
    c.push(
        call("creditnotes.invoices.apply", "POST", "/creditnotes/{creditnote}/invoices")
            .body(json!({"invoices": [{"invoice_id": "{invoice}", "amount_applied": 2.0}]}))
            .no_probe(),
    );
    c.push(call("creditnotes.invoices.list", "GET", "/creditnotes/{creditnote}/invoices"));
    c.push(
        call("creditnotes.refunds.create", "POST", "/creditnotes/{creditnote}/refunds")
            .body(json!({"date": "2030-01-25", "refund_mode": "cash", "amount": 1.0, "reference_number": "R-1", "description": "contract refund"}))
            .no_probe(),
    );
    c.push(call("creditnotes.refunds.list", "GET", "/creditnotes/{creditnote}/refunds").q("page", "1").q("per_page", "10"));
    c.push(call("creditnotes.refunds.all", "GET", "/creditnotes/refunds").q("customer_id", "{contact}").q("page", "1").q("per_page", "10"));
    c.push(
        call("creditnotes.upsert", "PUT", "/creditnotes")
            .header("X-Unique-Identifier-Key", "cf_crm_credit_key")
            .header("X-Unique-Identifier-Value", "D-CONTRACT-1/lost")
            .header("X-Upsert", "true")
            .body(note())
            .no_probe(),
    );
    c.push(call("creditnotes.void", "POST", "/creditnotes/{creditnote_void}/status/void"));
    c.push(call("creditnotes.draft", "POST", "/creditnotes/{creditnote_void}/status/draft"));
    c.push(call("creditnotes.open", "POST", "/creditnotes/{creditnote_void}/status/open"));
    c.push(call("creditnotes.delete", "DELETE", "/creditnotes/{creditnote_drop}").no_probe());

    // Estimates.
    let estimate = |reference: &str| json!({"customer_id": "{contact}", "date": "2030-01-05", "expiry_date": "2030-02-05", "reference_number": reference, "line_items": line(50.0, 1.0)});
    c.push(call("estimates.create", "POST", "/estimates").body(estimate("EST-1")).capture("estimate", "/estimate/estimate_id").no_probe());
    c.push(call("estimates.create", "POST", "/estimates").body(estimate("EST-2")).capture("estimate_declined", "/estimate/estimate_id").no_probe());
    c.push(call("estimates.create", "POST", "/estimates").body(estimate("EST-3")).capture("estimate_drop", "/estimate/estimate_id").no_probe());
    c.push(
        call("estimates.list", "GET", "/estimates")
            .q("customer_id", "{contact}")
            .q("filter_by", "Status.All")
            .q("sort_column", "date")
            .q("page", "1")
            .q("per_page", "10"),
    );
    c.push(call("estimates.get", "GET", "/estimates/{estimate}"));
    c.push(
        call("estimates.update", "PUT", "/estimates/{estimate}").body(json!({"customer_id": "{contact}", "notes": "updated", "line_items": line(50.0, 1.0)})),
    );
    c.push(call("estimates.sent", "POST", "/estimates/{estimate}/status/sent"));
    c.push(call("estimates.accepted", "POST", "/estimates/{estimate}/status/accepted"));
    c.push(call("estimates.sent", "POST", "/estimates/{estimate_declined}/status/sent"));
    c.push(call("estimates.declined", "POST", "/estimates/{estimate_declined}/status/declined"));
    c.push(call("estimates.delete", "DELETE", "/estimates/{estimate_drop}").no_probe());
    c
}

/// Requests Books refuses, beyond the probes derived from the spec.
fn refusals() -> Vec<Call> {
    let code = |n: i64| Some(json!(n));
    vec![
        Call::new("refuse.no-organization-id.invoices", "GET", "/books/v3/invoices").refused(None),
        Call::new("refuse.no-organization-id.contacts", "GET", "/books/v3/contacts").refused(None),
        Call::new("refuse.unknown-organization-id", "GET", "/books/v3/invoices").q("organization_id", "999").refused(code(57)),
        call("refuse.unknown-invoice", "GET", "/invoices/460000000999999").refused(code(1002)),
        call("refuse.invoice-without-customer", "POST", "/invoices").body(json!({"line_items": line(1.0, 1.0)})).refused(None),
        call("refuse.contact-without-name", "POST", "/contacts").body(json!({"company_name": "Nameless"})).refused(None),
        call("refuse.upsert-without-key-header", "PUT", "/invoices")
            .header("X-Unique-Identifier-Value", "D-CONTRACT-2")
            .body(json!({"customer_id": "{contact}", "line_items": line(1.0, 1.0)}))
            .refused(None),
        call("refuse.item-upsert-of-a-missing-item-without-x-upsert", "PUT", "/items")
            .header("X-Unique-Identifier-Key", "cf_crm_product_id")
            .header("X-Unique-Identifier-Value", "P-CONTRACT-MISSING")
            .body(json!({"name": "Never Created", "rate": 1.0}))
            .refused(code(1002)),
        call("refuse.item-upsert-by-a-field-not-marked-unique", "PUT", "/items")
            .header("X-Unique-Identifier-Key", "cf_segment")
            .header("X-Unique-Identifier-Value", "P-CONTRACT-2")
            .header("X-Upsert", "true")
            .body(json!({"name": "Never Created", "rate": 1.0}))
            .refused(None),
        call("refuse.pricebook-name-taken", "POST", "/pricebooks")
            .body(json!({"name": "contract wholesale", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 1}))
            .refused(code(1001)),
        call("refuse.pricebook-without-type", "POST", "/pricebooks").body(json!({"name": "Typeless", "sales_or_purchase_type": "sales"})).refused(code(4)),
        call("refuse.pricebook-of-an-unknown-item", "POST", "/pricebooks")
            .body(json!({"name": "Ghost", "pricebook_type": "per_item", "sales_or_purchase_type": "sales", "pricebook_items": [{"item_id": "460000000999999", "pricebook_rate": 1}]}))
            .refused(code(4)),
        call("refuse.unknown-pricebook", "PUT", "/pricebooks/460000000999999")
            .body(json!({"name": "Nope", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 1}))
            .refused(code(1002)),
        call("refuse.payment-without-amount", "POST", "/customerpayments")
            .body(json!({"customer_id": "{contact}", "payment_mode": "cash", "date": "2030-01-15", "invoices": []}))
            .refused(None),
    ]
}

/// Starts an emulator and a runner logged in to it, with `{org}` set.
async fn start(spec: &'static Spec) -> (Emulator, Runner<'static>) {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator starts");
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.expect("login");
    let mut runner = Runner::new(spec, ErrorShape::Books, emu.url(), token);
    assert!(!creds.organization_id.is_empty(), "the emulator has a Books organisation");
    runner.vars.insert("org".into(), creds.organization_id);
    (emu, runner)
}

/// Every scripted call: the spec has the operation, our parameters are the spec's, the answer is
/// 2xx and its body validates.
#[tokio::test]
async fn every_books_operation_answers_as_the_v3_spec_says() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
    let (emu, mut runner) = start(spec).await;
    for call in script() {
        runner.run(&call).await;
    }
    let exercised: BTreeSet<String> = runner.exercised.iter().map(|(key, _, _)| key.clone()).collect();
    let wanted: BTreeSet<String> = script().iter().map(Call::coverage_key).collect();
    assert_eq!(exercised, wanted, "every scripted family was sent");
    contract::assert_clean(
        "every_books_operation_answers_as_the_v3_spec_says",
        &runner.problems,
        DOCUMENTED_DEVIATIONS,
        KNOWN_EMULATOR_GAPS,
        &contract::HARNESS_KINDS,
    );
    emu.stop().await;
}

/// Refusals: every call without `organization_id`, every enum parameter out of its enum, every
/// upsert without its required headers → 4xx Books error; GET with only required parameters →
/// accepted; plus the scripted refusals.
#[tokio::test]
async fn books_refuses_and_accepts_parameters_as_the_v3_spec_says() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
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
    assert!(probes >= 50, "the spec yields refusal probes for Books ({probes} sent)");
    if !runner.undocumented_error_statuses.is_empty() {
        eprintln!("Books error answers with no documented schema (the files document only 200/201): {}", runner.undocumented_error_statuses.len());
    }
    contract::assert_clean(
        "books_refuses_and_accepts_parameters_as_the_v3_spec_says",
        &runner.problems,
        DOCUMENTED_DEVIATIONS,
        KNOWN_EMULATOR_GAPS,
        &contract::REFUSAL_KINDS,
    );
    emu.stop().await;
}

/// The harness covers every route family of the emulated Books, and every scripted call finds its
/// operation in the spec. Dropping a call from [`script`] fails here.
#[test]
fn books_harness_covers_every_route_family() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
    let calls = script();
    let mut listed = Vec::new();
    let mut missing_from_spec = Vec::new();
    for call in &calls {
        let path = call.path.replace(['{', '}'], "");
        match spec.find_operation(call.method, &path) {
            Some(op) => listed.push(format!("{:<28} {} {} ({})", call.family, op.method, op.full_template, op.file)),
            None => missing_from_spec.push(format!("{} {}", call.method, call.path)),
        }
    }
    eprintln!("Books operations exercised by the harness:\n  {}", listed.join("\n  "));
    assert!(missing_from_spec.is_empty(), "scripted calls without a spec operation: {missing_from_spec:?}");
    let have: BTreeSet<&str> = calls.iter().map(|c| c.family).collect();
    let absent: Vec<&&str> = FAMILIES.iter().chain(MORE_FAMILIES.iter()).filter(|f| !have.contains(**f)).collect();
    assert!(absent.is_empty(), "route families the harness does not exercise: {absent:?}");
    let upserts: Vec<&Call> = calls.iter().filter(|c| c.family.ends_with(".upsert")).collect();
    assert!(upserts.iter().all(|c| c.headers.iter().any(|(k, _)| k == "X-Unique-Identifier-Key")), "upserts go through the X-Unique-Identifier headers");
    let refusal_keys: BTreeSet<&str> = refusals().iter().map(|c| c.family).collect();
    assert!(refusal_keys.contains("refuse.no-organization-id.invoices"), "Books without organization_id is scripted");
}

/// `Authorization: Bearer <access token>` works like `Zoho-oauthtoken` (Zoho Accounts documents
/// both, ZOHO_API.md §1.4; third-party Books clients send `Bearer`): the same calls answer 2xx
/// with bodies that validate against the v3 files, and a made-up token is still refused with
/// code 57.
#[tokio::test]
async fn books_accepts_the_bearer_authorization_scheme() {
    let dir = spec_dir_or_skip!();
    let spec = books(&dir);
    let (emu, mut runner) = start(spec).await;
    let bearer = format!("Bearer {}", runner.token);
    let calls = [
        Call::new("organizations.list", "GET", "/books/v3/organizations"),
        call("users.me", "GET", "/users/me"),
        call("taxes.list", "GET", "/settings/taxes").q("page", "1").q("per_page", "50"),
        call("contacts.list", "GET", "/contacts").q("page", "1").q("per_page", "10"),
    ];
    for c in calls {
        let answer = runner.run(&c.header("Authorization", bearer.clone())).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let refused = call("refuse.bearer-made-up", "GET", "/contacts").header("Authorization", "Bearer 1000.made.up").refused(Some(json!(57)));
    let answer = runner.run(&refused).await;
    assert_eq!(answer.status, 401);
    contract::assert_clean("books_accepts_the_bearer_authorization_scheme", &runner.problems, DOCUMENTED_DEVIATIONS, KNOWN_EMULATOR_GAPS, &[]);
    emu.stop().await;
}
