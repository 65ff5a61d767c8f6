//! The organisation every emulator has (bootstrap) and the optional demo records (seed).
//! Both are deterministic functions of the seed, so ids and numbers repeat run to run.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    BooksData,
    contacts::create_contact,
    invoices::{create_invoice, restatus},
    items::create_item,
    store::{Allocation, Currency, CustomFieldDef, ExchangeRate, Org, Payment, Profile, Tax, TaxGroup, Template, User},
};
use crate::{clock::Clock, crm::CrmData, rng::Rng};

/// Creates the organisation with its currencies, taxes, templates and custom fields.
pub fn bootstrap(data: &mut BooksData, seed: u64, clock: &Clock) {
    let org_id = (700_000_000 + seed % 100_000_000).to_string();
    let now = clock.now_ms();
    let mut org = Org { next_id: seed % 1_000 * 1_000_000, ..Org::default() };
    let today = clock.today();
    // (code, name, symbol, decimal places, format, rate against the base currency)
    #[allow(clippy::type_complexity)]
    let currencies: [(&str, &str, &str, u32, &str, Option<Decimal>); 6] = [
        ("USD", "US Dollar", "$", 2, "1,234,567.89", None),
        ("EUR", "Euro", "€", 2, "1.234.567,89", Some(Decimal::new(108, 2))),
        ("GBP", "Pound Sterling", "£", 2, "1,234,567.89", Some(Decimal::new(127, 2))),
        ("INR", "Indian Rupee", "₹", 2, "12,34,567.89", Some(Decimal::new(12, 3))),
        ("JPY", "Japanese Yen", "¥", 0, "1,234,567", Some(Decimal::new(67, 4))),
        ("KWD", "Kuwaiti Dinar", "KD", 3, "1,234,567.899", Some(Decimal::new(3250, 3))),
    ];
    for (code, name, symbol, precision, format, rate) in currencies {
        let id = org.new_id();
        let rates = match rate {
            Some(r) => vec![ExchangeRate { exchange_rate_id: org.new_id(), effective_date: today.clone(), rate: r }],
            None => Vec::new(),
        };
        if rate.is_none() {
            org.profile.currency_id = id.clone();
        }
        org.currencies.insert(
            id.clone(),
            Currency {
                currency_id: id,
                currency_code: code.into(),
                currency_name: name.into(),
                currency_symbol: symbol.into(),
                price_precision: precision,
                currency_format: format.into(),
                is_base_currency: rate.is_none(),
                rates,
            },
        );
    }
    let taxes = [
        ("Sales Tax", Decimal::new(825, 2)),
        ("GST", Decimal::new(5, 0)),
        ("Service Tax", Decimal::new(10, 0)),
        ("VAT", Decimal::new(20, 0)),
        ("City Tax", Decimal::new(325, 2)),
    ];
    let mut tax_ids = Vec::new();
    for (i, (name, pct)) in taxes.into_iter().enumerate() {
        let id = org.new_id();
        tax_ids.push(id.clone());
        org.taxes.insert(id.clone(), Tax { tax_id: id, tax_name: name.into(), tax_percentage: pct, tax_type: "tax".into(), is_default_tax: i == 0 });
    }
    let group_id = org.new_id();
    org.tax_groups.insert(
        group_id.clone(),
        TaxGroup { tax_group_id: group_id, tax_group_name: "State + City".into(), taxes: vec![tax_ids[1].clone(), tax_ids[4].clone()] },
    );
    for entity in ["invoices", "estimates", "creditnotes"] {
        for (name, kind) in [("Standard", "standard"), ("Classic", "classic")] {
            let id = org.new_id();
            org.templates.push(Template { template_id: id, template_name: format!("{name} Template"), template_type: kind.into(), entity: entity.into() });
        }
    }
    let fields = [
        ("invoices", "cf_crm_deal_id", "CRM Deal ID", true),
        ("invoices", "cf_project_code", "Project Code", false),
        ("contacts", "cf_crm_account_id", "CRM Account ID", true),
        ("contacts", "cf_segment", "Segment", false),
        ("items", "cf_crm_product_id", "CRM Product ID", true),
        ("estimates", "cf_crm_quote_id", "CRM Quote ID", true),
        ("creditnotes", "cf_crm_deal_id", "CRM Deal ID", false),
        ("creditnotes", "cf_crm_credit_key", "CRM Credit Key", true),
        ("invoices", "cf_crm_quote_id", "CRM Quote ID", true),
    ];
    for (entity, api, label, unique) in fields {
        let index = org.custom_fields.iter().filter(|d| d.entity == entity).count() as i64 + 1;
        let id = org.new_id();
        org.custom_fields.push(CustomFieldDef {
            customfield_id: id,
            entity: entity.into(),
            api_name: api.into(),
            label: label.into(),
            index,
            data_type: "string".into(),
            is_unique: unique,
        });
    }
    org.profile = Profile {
        organization_id: org_id.clone(),
        name: "Zylker Trading Co".into(),
        contact_name: "Ada Admin".into(),
        email: "admin@zylker.example".into(),
        time_zone: "Etc/UTC".into(),
        plan_name: "PREMIUM".into(),
        currency_id: org.profile.currency_id.clone(),
        account_created_date: today,
    };
    org.user = User { user_id: org.new_id(), name: "Ada Admin".into(), email: "admin@zylker.example".into(), created_ms: now };
    data.orgs.insert(org_id, org);
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Adds demo contacts, items, invoices in several statuses and a payment.
pub fn seed(data: &mut BooksData, rng: &mut Rng, clock: &Clock, _crm: &CrmData) {
    let Some(org) = data.orgs.values_mut().next() else { return };
    org.ensure_indexes();
    let code_of = |org: &Org, code: &str| org.currencies.values().find(|c| c.currency_code == code).map(|c| c.currency_id.clone()).unwrap_or_default();
    let people = [
        ("Acme Corp", "US", "USD", "Alice", "Ng"),
        ("Bergmann GmbH", "Germany", "EUR", "Jonas", "Bergmann"),
        ("Thames Supplies Ltd", "United Kingdom", "GBP", "Olivia", "Hart"),
        ("Mumbai Traders", "India", "INR", "Priya", "Shah"),
        ("Sakura KK", "Japan", "JPY", "Haruto", "Sato"),
        ("Gulf Kuwait Co", "Kuwait", "KWD", "Fahad", "Al-Sabah"),
    ];
    let mut customers = Vec::new();
    for (i, (company, country, code, first, last)) in people.iter().enumerate() {
        let terms: i64 = [15, 30, 45][i % 3];
        let body = obj(json!({
            "contact_name": company,
            "company_name": company,
            "currency_id": code_of(org, code),
            "payment_terms": terms,
            "billing_address": {"address": format!("{} Main Street", 10 + rng.below(90)), "city": "Springfield", "country": country},
            "contact_persons": [
                {"first_name": first, "last_name": last, "email": format!("{}@{}.example", first.to_lowercase(), company.split(' ').next().unwrap_or("x").to_lowercase()), "is_primary_contact": true},
                {"first_name": "Billing", "last_name": "Desk", "email": format!("billing{i}@example.com")},
            ],
            "custom_fields": [{"api_name": "cf_crm_account_id", "value": format!("{}", 5_000_000 + i)}],
        }));
        if let Ok(c) = create_contact(org, clock, &body) {
            customers.push(c.contact_id);
        }
    }
    let tax_id = org.taxes.values().next().map(|t| t.tax_id.clone()).unwrap_or_default();
    let mut items = Vec::new();
    for (i, (name, rate)) in [("Widget", 25), ("Gadget", 120), ("Support Plan", 450), ("Installation", 300)].iter().enumerate() {
        let body = obj(json!({
            "name": name, "rate": rate, "sku": format!("SKU-{:04}", 100 + i),
            "product_type": if i < 2 { "goods" } else { "service" }, "tax_id": tax_id,
            "custom_fields": [{"api_name": "cf_crm_product_id", "value": format!("{}", 7_000_000 + i)}],
        }));
        if let Ok(it) = create_item(org, clock, &body) {
            items.push(it.item_id);
        }
    }
    let today = clock.today();
    let mut invoice_ids = Vec::new();
    for (n, status) in ["draft", "sent", "sent", "overdue", "paid"].iter().enumerate() {
        let Some(customer) = customers.get(n % customers.len().max(1)) else { break };
        let Some(item) = items.get(n % items.len().max(1)) else { break };
        let body = obj(json!({
            "customer_id": customer,
            "line_items": [{"item_id": item, "quantity": 1 + rng.below(5)}],
            "reference_number": format!("DEAL-{}", 1000 + n),
        }));
        let Ok(inv) = create_invoice(org, clock, &body, false) else { continue };
        if let Some(stored) = org.invoices.get_mut(&inv.invoice_id) {
            if *status != "draft" {
                stored.status = "sent".into();
            }
            if *status == "overdue" {
                stored.doc.date = "2020-01-01".into();
                stored.due_date = "2020-01-31".into();
                stored.overdue_notified = true;
            }
            restatus(stored, &today);
        }
        invoice_ids.push((inv.invoice_id, *status));
    }
    if let Some((id, _)) = invoice_ids.iter().find(|(_, s)| *s == "paid")
        && let Some(inv) = org.invoices.get(id).cloned()
    {
        let pid = org.new_id();
        let aid = org.new_id();
        let now = clock.now_ms();
        org.put_payment(Payment {
            payment_id: pid,
            payment_number: org.series.payment,
            customer_id: inv.doc.customer_id.clone(),
            payment_mode: "banktransfer".into(),
            amount: inv.doc.total,
            date: today.clone(),
            exchange_rate: inv.doc.exchange_rate,
            currency_id: inv.doc.currency_id.clone(),
            invoices: vec![Allocation { allocation_id: aid, invoice_id: inv.invoice_id.clone(), amount_applied: inv.doc.total, date: today.clone() }],
            created_ms: now,
            modified_ms: now,
            ..Payment::default()
        });
        org.series.payment += 1;
        if let Some(stored) = org.invoices.get_mut(id) {
            stored.payment_made = stored.doc.total;
            stored.last_payment_date = today.clone();
            restatus(stored, &today);
        }
    }
}
