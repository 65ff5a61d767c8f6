//! Contacts (`/contacts`) and contact persons (`/contacts/contactpersons`): CRUD, list
//! filters, active/inactive, unique `contact_name`, native CRM link fields, and upsert by
//! a unique custom field.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post, put},
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope, money},
    common::{
        Paging, check_unique_custom, custom_fields_json, holder_of, read_custom_fields, stamp, text_filter, touch, unique_field, upsert_body, upsert_headers,
        with_org,
    },
    store::{Address, Contact, ContactPerson, Event, Org},
};
use crate::{clock::Clock, state::AppState};

/// Contact routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list).post(create).put(upsert))
        .route("/contacts/{id}", get(read).put(update).delete(remove))
        .route("/contacts/{id}/active", post(mark_active))
        .route("/contacts/{id}/inactive", post(mark_inactive))
        .route("/contacts/{id}/contactpersons", get(list_persons))
        .route("/contacts/{id}/contactpersons/{person}", get(get_person))
        .route("/contacts/contactpersons", post(create_person))
        .route("/contacts/contactpersons/{person}", put(update_person).delete(delete_person))
        .route("/contacts/contactpersons/{person}/primary", post(mark_primary))
}

fn address_json(a: &Address) -> Value {
    json!({
        "attention": a.attention, "address": a.address, "street2": a.street2, "state_code": a.state_code,
        "city": a.city, "state": a.state, "zip": a.zip, "country": a.country, "fax": a.fax, "phone": a.phone,
    })
}

/// Reads an address object, keeping fields not given.
pub fn read_address(b: &Map<String, Value>, key: &str, into: &mut Address) -> Result<(), BooksError> {
    let Some(a) = b.opt_object(key)? else { return Ok(()) };
    let fields: [(&str, &mut String); 10] = [
        ("attention", &mut into.attention),
        ("address", &mut into.address),
        ("street2", &mut into.street2),
        ("city", &mut into.city),
        ("state", &mut into.state),
        ("state_code", &mut into.state_code),
        ("zip", &mut into.zip),
        ("country", &mut into.country),
        ("fax", &mut into.fax),
        ("phone", &mut into.phone),
    ];
    for (name, slot) in fields {
        if let Some(v) = a.opt_str(name).map_err(|_| BooksError::invalid(&format!("{key}.{name}")))? {
            *slot = v;
        }
    }
    Ok(())
}

/// Renders `address` for documents (billing/shipping of the customer).
pub fn document_address(a: &Address) -> Value {
    address_json(a)
}

fn person_json(p: &ContactPerson, contact_id: &str) -> Value {
    json!({
        "contact_id": contact_id,
        "contact_person_id": p.contact_person_id,
        "salutation": p.salutation,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "phone": p.phone,
        "mobile": p.mobile,
        "designation": p.designation,
        "department": p.department,
        "skype": "",
        "is_primary_contact": p.is_primary_contact,
        "enable_portal": p.enable_portal,
        "is_added_in_portal": p.enable_portal,
        "communication_preference": {"is_sms_enabled": false, "is_whatsapp_enabled": false},
    })
}

/// Outstanding receivable of a contact: the balance of its open invoices (read through
/// the per-customer index, so a row costs the contact's invoices, not the org's).
pub fn outstanding(org: &Org, contact_id: &str) -> Decimal {
    let Some(docs) = org.idx().customer(contact_id) else { return Decimal::ZERO };
    docs.invoices.iter().filter_map(|id| org.invoices.get(id)).filter(|i| !matches!(i.status.as_str(), "draft" | "void")).map(|i| i.balance()).sum()
}

/// Unused credits: the unapplied part of payments (excess, or released by a void) plus
/// open credit note balances.
pub fn unused_credits(org: &Org, c: &Contact) -> Decimal {
    let Some(docs) = org.idx().customer(&c.contact_id) else { return c.unused_credits };
    c.unused_credits
        + docs.payments.iter().filter_map(|id| org.payments.get(id)).map(|p| p.unused()).sum::<Decimal>()
        + docs.creditnotes.iter().filter_map(|id| org.creditnotes.get(id)).filter(|n| n.status == "open").map(|n| n.balance()).sum::<Decimal>()
}

/// Whether a contact has any invoice.
fn has_invoices(org: &Org, contact_id: &str) -> bool {
    org.idx().customer(contact_id).is_some_and(|d| !d.invoices.is_empty())
}

/// The full contact JSON.
pub fn contact_json(org: &Org, c: &Contact, clock: &Clock) -> Value {
    let cur = org.currencies.get(&c.currency_id);
    let owed = outstanding(org, &c.contact_id);
    let credits = unused_credits(org, c);
    json!({
        "contact_id": c.contact_id,
        "contact_name": c.contact_name,
        "company_name": c.company_name,
        "has_transaction": has_invoices(org, &c.contact_id),
        "contact_type": c.contact_type,
        "customer_sub_type": c.customer_sub_type,
        "is_linked_with_zohocrm": !c.zcrm_account_id.is_empty() || !c.zcrm_contact_id.is_empty(),
        "zcrm_account_id": c.zcrm_account_id,
        "zcrm_contact_id": c.zcrm_contact_id,
        "website": c.website,
        "primary_contact_id": c.primary().map(|p| p.contact_person_id.as_str()).unwrap_or(""),
        "payment_terms": c.payment_terms,
        "payment_terms_label": c.payment_terms_label,
        "currency_id": c.currency_id,
        "currency_code": cur.map(|x| x.currency_code.as_str()).unwrap_or(""),
        "currency_symbol": cur.map(|x| x.currency_symbol.as_str()).unwrap_or(""),
        "tax_id": c.tax_id,
        "outstanding_receivable_amount": money(owed),
        "outstanding_receivable_amount_bcy": money(owed),
        "unused_credits_receivable_amount": money(credits),
        "unused_credits_receivable_amount_bcy": money(credits),
        "status": c.status,
        "custom_fields": custom_fields_json(org, &c.custom_fields),
        "billing_address": address_json(&c.billing_address),
        "shipping_address": address_json(&c.shipping_address),
        "contact_persons": c.contact_persons.iter().map(|p| person_json(p, &c.contact_id)).collect::<Vec<_>>(),
        "notes": c.notes,
        "email": c.primary().map(|p| p.email.as_str()).unwrap_or(""),
        "created_time": stamp(clock, c.created_ms),
        "last_modified_time": stamp(clock, c.modified_ms),
    })
}

fn row_json(org: &Org, c: &Contact, clock: &Clock) -> Value {
    let p = c.primary();
    let cur = org.currencies.get(&c.currency_id);
    json!({
        "contact_id": c.contact_id,
        "contact_name": c.contact_name,
        "company_name": c.company_name,
        "contact_type": c.contact_type,
        "status": c.status,
        "payment_terms": c.payment_terms,
        "payment_terms_label": c.payment_terms_label,
        "currency_id": c.currency_id,
        "currency_code": cur.map(|x| x.currency_code.as_str()).unwrap_or(""),
        "outstanding_receivable_amount": money(outstanding(org, &c.contact_id)),
        "unused_credits_receivable_amount": money(unused_credits(org, c)),
        "first_name": p.map(|p| p.first_name.as_str()).unwrap_or(""),
        "last_name": p.map(|p| p.last_name.as_str()).unwrap_or(""),
        "email": p.map(|p| p.email.as_str()).unwrap_or(""),
        "phone": p.map(|p| p.phone.as_str()).unwrap_or(""),
        "mobile": p.map(|p| p.mobile.as_str()).unwrap_or(""),
        "zcrm_account_id": c.zcrm_account_id,
        "zcrm_contact_id": c.zcrm_contact_id,
        "is_linked_with_zohocrm": !c.zcrm_account_id.is_empty() || !c.zcrm_contact_id.is_empty(),
        "created_time": stamp(clock, c.created_ms),
        "last_modified_time": stamp(clock, c.modified_ms),
    })
}

fn read_person(b: &Map<String, Value>, p: &mut ContactPerson) -> Result<(), BooksError> {
    let fields: [(&str, &mut String); 8] = [
        ("salutation", &mut p.salutation),
        ("first_name", &mut p.first_name),
        ("last_name", &mut p.last_name),
        ("email", &mut p.email),
        ("phone", &mut p.phone),
        ("mobile", &mut p.mobile),
        ("designation", &mut p.designation),
        ("department", &mut p.department),
    ];
    for (name, slot) in fields {
        if let Some(v) = b.opt_str(name)? {
            *slot = v;
        }
    }
    if let Some(v) = b.opt_bool("is_primary_contact")? {
        p.is_primary_contact = v;
    }
    if let Some(v) = b.opt_bool("enable_portal")? {
        p.enable_portal = v;
    }
    Ok(())
}

/// Applies a create/update body to a contact (validated against the org).
fn apply(org: &mut Org, b: &Map<String, Value>, c: &mut Contact, creating: bool) -> Result<(), BooksError> {
    if creating || b.contains_key("contact_name") {
        c.contact_name = b.req_str("contact_name")?;
    }
    let strings: [(&str, &mut String); 8] = [
        ("company_name", &mut c.company_name),
        ("payment_terms_label", &mut c.payment_terms_label),
        ("website", &mut c.website),
        ("notes", &mut c.notes),
        ("zcrm_account_id", &mut c.zcrm_account_id),
        ("zcrm_contact_id", &mut c.zcrm_contact_id),
        ("customer_sub_type", &mut c.customer_sub_type),
        ("contact_type", &mut c.contact_type),
    ];
    for (name, slot) in strings {
        if let Some(v) = b.opt_str(name)? {
            *slot = v;
        }
    }
    if !matches!(c.contact_type.as_str(), "customer" | "vendor") {
        return Err(BooksError::invalid("contact_type"));
    }
    if !matches!(c.customer_sub_type.as_str(), "business" | "individual") {
        return Err(BooksError::invalid("customer_sub_type"));
    }
    if let Some(v) = b.opt_int("payment_terms")? {
        if v < 0 {
            return Err(BooksError::invalid("payment_terms"));
        }
        c.payment_terms = v;
        if b.opt_str("payment_terms_label")?.is_none() {
            c.payment_terms_label = if v == 0 { "Due on Receipt".into() } else { format!("Net {v}") };
        }
    }
    if let Some(cur) = b.opt_str("currency_id")? {
        if !org.currencies.contains_key(&cur) {
            return Err(BooksError::invalid("currency_id"));
        }
        c.currency_id = cur;
    }
    if let Some(t) = b.opt_str("tax_id")? {
        if !t.is_empty() && !org.taxes.contains_key(&t) && !org.tax_groups.contains_key(&t) {
            return Err(BooksError::invalid("tax_id"));
        }
        c.tax_id = t;
    }
    read_address(b, "billing_address", &mut c.billing_address)?;
    read_address(b, "shipping_address", &mut c.shipping_address)?;
    read_custom_fields(org, "contacts", b, &mut c.custom_fields)?;
    if let Some(persons) = b.opt_objects("contact_persons")? {
        let mut next = Vec::with_capacity(persons.len());
        for pb in persons {
            let existing = pb.opt_str("contact_person_id")?;
            let mut p = match &existing {
                Some(id) => c.contact_persons.iter().find(|p| &p.contact_person_id == id).cloned().ok_or_else(|| BooksError::invalid("contact_person_id"))?,
                None => ContactPerson { contact_person_id: org.new_id(), ..ContactPerson::default() },
            };
            read_person(pb, &mut p)?;
            next.push(p);
        }
        for old in &c.contact_persons {
            if !next.iter().any(|p| p.contact_person_id == old.contact_person_id) {
                org.person_owner.remove(&old.contact_person_id);
            }
        }
        c.contact_persons = next;
    }
    normalise_primary(c);
    Ok(())
}

/// Exactly one primary person (the first flagged, else the first).
fn normalise_primary(c: &mut Contact) {
    let idx = c.contact_persons.iter().position(|p| p.is_primary_contact).unwrap_or(0);
    for (i, p) in c.contact_persons.iter_mut().enumerate() {
        p.is_primary_contact = i == idx;
    }
}

/// Inserts or replaces a contact, keeping the name and person indexes right.
fn store(org: &mut Org, c: Contact) -> Result<(), BooksError> {
    let key = c.contact_name.to_lowercase();
    if let Some(owner) = org.contact_names.get(&key)
        && owner != &c.contact_id
    {
        return Err(BooksError::duplicate(format!("The contact name \"{}\" already exists.", c.contact_name)));
    }
    check_unique_custom(org, "contacts", &c.custom_fields, Some(&c.contact_id))?;
    if let Some(old) = org.contacts.get(&c.contact_id) {
        let old_key = old.contact_name.to_lowercase();
        if old_key != key {
            org.contact_names.remove(&old_key);
        }
    }
    org.contact_names.insert(key, c.contact_id.clone());
    for p in &c.contact_persons {
        org.person_owner.insert(p.contact_person_id.clone(), c.contact_id.clone());
    }
    org.put_contact(c);
    Ok(())
}

/// Creates a contact from a body (shared by POST and upsert).
pub fn create_contact(org: &mut Org, clock: &Clock, b: &Map<String, Value>) -> Result<Contact, BooksError> {
    let now = clock.now_ms();
    let mut c = Contact {
        contact_id: String::new(),
        contact_type: "customer".into(),
        customer_sub_type: "business".into(),
        status: "active".into(),
        currency_id: org.profile.currency_id.clone(),
        payment_terms_label: "Due on Receipt".into(),
        created_ms: now,
        modified_ms: now,
        ..Contact::default()
    };
    apply(org, b, &mut c, true)?;
    if org.contact_names.contains_key(&c.contact_name.to_lowercase()) {
        return Err(BooksError::duplicate(format!("The contact name \"{}\" already exists.", c.contact_name)));
    }
    c.contact_id = org.new_id();
    store(org, c.clone())?;
    Ok(c)
}

fn update_contact(org: &mut Org, clock: &Clock, id: &str, b: &Map<String, Value>) -> Result<Contact, BooksError> {
    let mut c = org.contacts.get(id).cloned().ok_or_else(|| BooksError::not_found("Contact"))?;
    apply(org, b, &mut c, false)?;
    c.modified_ms = touch(clock, c.modified_ms);
    store(org, c.clone())?;
    Ok(c)
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let c = create_contact(org, clock, &b)?;
        let out = contact_json(org, &c, clock);
        events.push(Event { event: "contact.created", key: "contact", body: out.clone() });
        Ok(envelope(StatusCode::CREATED, "The contact has been created", "contact", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let c = org.contacts.get(&id).ok_or_else(|| BooksError::not_found("Contact"))?;
        Ok(envelope(StatusCode::OK, "success", "contact", contact_json(org, c, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let c = update_contact(org, clock, &id, &b)?;
        let out = contact_json(org, &c, clock);
        events.push(Event { event: "contact.updated", key: "contact", body: out.clone() });
        Ok(envelope(StatusCode::OK, "Contact has been updated successfully", "contact", out))
    })
}

async fn upsert(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let (key, value, allow_create) = upsert_headers(&headers)?.ok_or_else(|| BooksError::missing("X-Unique-Identifier-Key"))?;
    with_org(&state, &q, |org, clock, events| {
        let def = unique_field(org, "contacts", &key)?.clone();
        let found = holder_of(org, "contacts", &def, &value);
        let b = upsert_body(&b, &def, &value)?;
        match found {
            Some(id) => {
                let c = update_contact(org, clock, &id, &b)?;
                let out = contact_json(org, &c, clock);
                events.push(Event { event: "contact.updated", key: "contact", body: out.clone() });
                Ok(envelope(StatusCode::OK, "Contact has been updated successfully", "contact", out))
            }
            None if allow_create => {
                let c = create_contact(org, clock, &b)?;
                let out = contact_json(org, &c, clock);
                events.push(Event { event: "contact.created", key: "contact", body: out.clone() });
                // An upsert answers 200 even when it creates: PUT /contacts documents only 200.
                Ok(envelope(StatusCode::OK, "The contact has been created", "contact", out))
            }
            None => Err(BooksError::not_found("Contact")),
        }
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        if !org.contacts.contains_key(&id) {
            return Err(BooksError::not_found("Contact"));
        }
        // Any document of the contact, whatever its kind, is a transaction.
        if org.idx().customer(&id).is_some() {
            return Err(BooksError::not_allowed("The contact has transactions associated with it and cannot be deleted."));
        }
        if let Some(c) = org.remove_contact(&id) {
            org.contact_names.remove(&c.contact_name.to_lowercase());
            for p in &c.contact_persons {
                org.person_owner.remove(&p.contact_person_id);
            }
        }
        Ok(done("The contact has been deleted."))
    })
}

fn set_status(state: &AppState, q: Option<String>, id: &str, status: &str, message: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, clock, events| {
        let mut c = org.contacts.get(id).cloned().ok_or_else(|| BooksError::not_found("Contact"))?;
        c.status = status.to_string();
        c.modified_ms = touch(clock, c.modified_ms);
        org.put_contact(c.clone());
        events.push(Event { event: "contact.updated", key: "contact", body: contact_json(org, &c, clock) });
        Ok(done(message))
    })
}

async fn mark_active(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "active", "The contact has been marked as active.")
}

async fn mark_inactive(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "inactive", "The contact has been marked as inactive.")
}

const SORTS: &[&str] = &["contact_name", "company_name", "email", "created_time", "last_modified_time", "outstanding_receivable_amount"];

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, SORTS)?;
    let status = match q.get("filter_by").unwrap_or("Status.All") {
        "Status.All" => None,
        "Status.Active" => Some("active"),
        "Status.Inactive" => Some("inactive"),
        "Status.Crm" => Some("crm"),
        _ => return Err(BooksError::invalid("filter_by")),
    };
    let name = text_filter(&q, "contact_name");
    let company = text_filter(&q, "company_name");
    let email = text_filter(&q, "email");
    let phone = text_filter(&q, "phone");
    let search = q.get("search_text").map(str::to_lowercase);
    let contact_type = q.get("contact_type").map(str::to_string);
    let zcrm_account = q.get("zcrm_account_id").map(str::to_string);
    let zcrm_contact = q.get("zcrm_contact_id").map(str::to_string);
    // Text filters that are not exact lookups match few rows: scanning the contacts
    // (no index lookups) and sorting the matches is then cheaper than walking an index.
    let scanning = name.is_some() || company.is_some() || email.is_some() || phone.is_some() || search.is_some();
    let unfiltered = !scanning && status.is_none() && contact_type.is_none() && zcrm_account.is_none() && zcrm_contact.is_none();
    let exact_name = q.get("contact_name").map(str::to_lowercase);
    let name_prefix = q.get("contact_name_startswith").map(str::to_lowercase);
    let name_part = q.get("contact_name_contains").map(str::to_lowercase);
    let exact_email = q.get("email").map(str::to_lowercase);
    let keep = |c: &Contact| {
        (match status {
            None => true,
            Some("crm") => !c.zcrm_account_id.is_empty() || !c.zcrm_contact_id.is_empty(),
            Some(s) => c.status == s,
        }) && name.as_ref().is_none_or(|f| f(&c.contact_name))
            && company.as_ref().is_none_or(|f| f(&c.company_name))
            && email.as_ref().is_none_or(|f| c.contact_persons.iter().any(|p| f(&p.email)))
            && phone.as_ref().is_none_or(|f| c.contact_persons.iter().any(|p| f(&p.phone) || f(&p.mobile)))
            && contact_type.as_ref().is_none_or(|t| &c.contact_type == t)
            && zcrm_account.as_ref().is_none_or(|z| &c.zcrm_account_id == z)
            && zcrm_contact.as_ref().is_none_or(|z| &c.zcrm_contact_id == z)
            && search.as_ref().is_none_or(|s| {
                c.contact_name.to_lowercase().contains(s)
                    || c.company_name.to_lowercase().contains(s)
                    || c.contact_persons.iter().any(|p| p.email.to_lowercase().contains(s))
            })
    };
    with_org(&state, &q, |org, clock, _| {
        let org: &Org = org;
        let idx = org.idx();
        // An exact filter with an index names a handful of contacts: start from those.
        let few: Option<Vec<&str>> = if let Some(n) = &exact_name {
            Some(org.contact_names.get(n).map(String::as_str).into_iter().collect())
        } else if let Some(e) = &exact_email {
            Some(ids_of(idx.contacts_by_any_email.get(e)))
        } else if let Some(z) = &zcrm_account {
            Some(ids_of(idx.contacts_by_zcrm_account.get(z)))
        } else if let Some(z) = &zcrm_contact {
            Some(ids_of(idx.contacts_by_zcrm_contact.get(z)))
        } else if let Some(p) = &name_prefix {
            // The name index is keyed by the lower-cased name: a prefix is a range of it.
            Some(org.contact_names.range(p.clone()..).take_while(|(k, _)| k.starts_with(p.as_str())).map(|(_, id)| id.as_str()).collect())
        } else {
            name_part.as_ref().map(|p| org.contact_names.iter().filter(|(k, _)| k.contains(p.as_str())).map(|(_, id)| id.as_str()).collect())
        };
        let contact = |id: &str| org.contacts.get(id);
        let (page, more) = match few {
            Some(ids) => {
                let rows: Vec<&Contact> = ids.into_iter().filter_map(contact).filter(|c| keep(c)).collect();
                paging.cut(rows, |a, b| compare(org, &paging.sort_column, a, b))
            }
            None => {
                // Otherwise walk the sort column's index in order, so a page costs the rows
                // up to it (all of them only when a filter matches few).
                let walk: Option<Box<dyn DoubleEndedIterator<Item = &str>>> = match paging.sort_column.as_str() {
                    _ if scanning => None,
                    "contact_name" => Some(Box::new(org.contact_names.values().map(String::as_str))),
                    "company_name" => Some(Box::new(idx.contacts_by_company.iter().map(|(_, id)| id.as_str()))),
                    "email" => Some(Box::new(idx.contacts_by_email.iter().map(|(_, id)| id.as_str()))),
                    "created_time" => Some(Box::new(idx.contacts_by_created.iter().map(|(_, id)| id.as_str()))),
                    "last_modified_time" => Some(Box::new(idx.contacts_by_modified.iter().map(|(_, id)| id.as_str()))),
                    _ => None,
                };
                match walk {
                    Some(ids) => {
                        let mut ids: Box<dyn Iterator<Item = &str>> = if paging.descending { Box::new(ids.rev()) } else { ids };
                        if unfiltered {
                            // Every row counts: skip to the page in the index itself.
                            let skip = (paging.page - 1).saturating_mul(paging.per_page);
                            ids = Box::new(ids.skip(skip));
                            let first = Paging { page: 1, ..paging.clone() };
                            first.walk(ids.filter_map(contact))
                        } else {
                            paging.walk(ids.filter_map(contact).filter(|c| keep(c)))
                        }
                    }
                    None if paging.sort_column == "outstanding_receivable_amount" => {
                        // Computed once per matching contact. Contacts come in id order, so
                        // their position breaks ties as the id would, without reading it.
                        let rows: Vec<(Decimal, usize, &Contact)> =
                            org.contacts.values().filter(|c| keep(c)).enumerate().map(|(n, c)| (outstanding(org, &c.contact_id), n, c)).collect();
                        let (page, more) = paging.cut(rows, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
                        (page.into_iter().map(|(_, _, c)| c).collect(), more)
                    }
                    None => {
                        let rows: Vec<&Contact> = org.contacts.values().filter(|c| keep(c)).collect();
                        paging.cut(rows, |a, b| compare(org, &paging.sort_column, a, b))
                    }
                }
            }
        };
        let rows: Vec<Value> = page.iter().map(|c| row_json(org, c, clock)).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("contacts".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Contacts", q.get("filter_by").unwrap_or("Status.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}

/// The order of a contact list (ascending; ties broken by id). The indexes walked by
/// `list` hold the same keys, so both paths give the same pages.
fn compare(org: &Org, column: &str, a: &Contact, b: &Contact) -> std::cmp::Ordering {
    let o = match column {
        "company_name" => a.company_name.to_lowercase().cmp(&b.company_name.to_lowercase()),
        "email" => a.primary().map(|p| &p.email).cmp(&b.primary().map(|p| &p.email)),
        "created_time" => a.created_ms.cmp(&b.created_ms),
        "last_modified_time" => a.modified_ms.cmp(&b.modified_ms),
        "outstanding_receivable_amount" => outstanding(org, &a.contact_id).cmp(&outstanding(org, &b.contact_id)),
        _ => a.contact_name.to_lowercase().cmp(&b.contact_name.to_lowercase()),
    };
    o.then_with(|| a.contact_id.cmp(&b.contact_id))
}

/// The ids in an index entry (none when the key is absent).
fn ids_of(ids: Option<&std::collections::BTreeSet<String>>) -> Vec<&str> {
    ids.into_iter().flatten().map(String::as_str).collect()
}

async fn list_persons(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["first_name"])?;
    with_org(&state, &q, |org, _, _| {
        let c = org.contacts.get(&id).ok_or_else(|| BooksError::not_found("Contact"))?;
        let rows: Vec<Value> = c.contact_persons.iter().map(|p| person_json(p, &c.contact_id)).collect();
        let (page, more) = paging.cut(rows, |_, _| std::cmp::Ordering::Equal);
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("contact_persons".into(), Value::Array(page));
        m.insert("page_context".into(), paging.context(more, "Contact Persons", "Status.All"));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}

async fn get_person(State(state): State<AppState>, RawQuery(q): RawQuery, Path((id, person)): Path<(String, String)>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let c = org.contacts.get(&id).ok_or_else(|| BooksError::not_found("Contact"))?;
        let p = c.contact_persons.iter().find(|p| p.contact_person_id == person).ok_or_else(|| BooksError::not_found("Contact person"))?;
        Ok(envelope(StatusCode::OK, "success", "contact_person", person_json(p, &c.contact_id)))
    })
}

fn person_change(
    org: &mut Org,
    clock: &Clock,
    contact_id: &str,
    events: &mut Vec<Event>,
    change: impl FnOnce(&mut Contact) -> Result<String, BooksError>,
) -> Result<(Contact, String), BooksError> {
    let mut c = org.contacts.get(contact_id).cloned().ok_or_else(|| BooksError::not_found("Contact"))?;
    let person_id = change(&mut c)?;
    normalise_primary(&mut c);
    c.modified_ms = touch(clock, c.modified_ms);
    store(org, c.clone())?;
    events.push(Event { event: "contact.updated", key: "contact", body: contact_json(org, &c, clock) });
    Ok((c, person_id))
}

async fn create_person(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let contact_id = b.req_str("contact_id")?;
    let first_name = b.req_str("first_name")?;
    with_org(&state, &q, |org, clock, events| {
        let new_id = org.new_id();
        let (c, pid) = person_change(org, clock, &contact_id, events, |c| {
            let mut p = ContactPerson { contact_person_id: new_id.clone(), first_name, ..ContactPerson::default() };
            read_person(&b, &mut p)?;
            if p.is_primary_contact {
                c.contact_persons.iter_mut().for_each(|x| x.is_primary_contact = false);
            }
            c.contact_persons.push(p);
            Ok(new_id)
        })?;
        let p = c.contact_persons.iter().find(|p| p.contact_person_id == pid).map(|p| person_json(p, &c.contact_id)).unwrap_or(Value::Null);
        // The spec types `contact_person` here as an array.
        Ok(envelope(StatusCode::CREATED, "The contactperson has been Created", "contact_person", Value::Array(vec![p])))
    })
}

async fn update_person(State(state): State<AppState>, RawQuery(q): RawQuery, Path(person): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let contact_id = org.person_owner.get(&person).cloned().ok_or_else(|| BooksError::not_found("Contact person"))?;
        let (c, pid) = person_change(org, clock, &contact_id, events, |c| {
            let p = c.contact_persons.iter_mut().find(|p| p.contact_person_id == person).ok_or_else(|| BooksError::not_found("Contact person"))?;
            if b.contains_key("first_name") {
                p.first_name = b.req_str("first_name")?;
            }
            read_person(&b, p)?;
            let primary = p.is_primary_contact;
            if primary {
                c.contact_persons.iter_mut().filter(|x| x.contact_person_id != person).for_each(|x| x.is_primary_contact = false);
            }
            Ok(person.clone())
        })?;
        let p = c.contact_persons.iter().find(|p| p.contact_person_id == pid).map(|p| person_json(p, &c.contact_id)).unwrap_or(Value::Null);
        Ok(envelope(StatusCode::OK, "The contactperson details has been updated.", "contact_person", Value::Array(vec![p])))
    })
}

async fn delete_person(State(state): State<AppState>, RawQuery(q): RawQuery, Path(person): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        let contact_id = org.person_owner.get(&person).cloned().ok_or_else(|| BooksError::not_found("Contact person"))?;
        person_change(org, clock, &contact_id, events, |c| {
            c.contact_persons.retain(|p| p.contact_person_id != person);
            Ok(person.clone())
        })?;
        org.person_owner.remove(&person);
        Ok(done("The contact person has been deleted."))
    })
}

async fn mark_primary(State(state): State<AppState>, RawQuery(q): RawQuery, Path(person): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        let contact_id = org.person_owner.get(&person).cloned().ok_or_else(|| BooksError::not_found("Contact person"))?;
        person_change(org, clock, &contact_id, events, |c| {
            c.contact_persons.iter_mut().for_each(|p| p.is_primary_contact = p.contact_person_id == person);
            Ok(person.clone())
        })?;
        Ok(done("This contact person has been marked as your primary contact person."))
    })
}
