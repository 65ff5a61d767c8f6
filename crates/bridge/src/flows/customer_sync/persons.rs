//! CRM Contacts ⇄ Books contact persons, under the customer their account is linked to.
//!
//! A person is the same on both sides field for field (first and last name, email,
//! phone, mobile), so the two shapes are one bijection ([`PERSON_FIELDS`]) and both
//! hashes of a `contact_person` link follow from either record. A person is matched, in
//! order, by the link, the native field (`Books_Contact_Person_ID` on the CRM contact),
//! then the email among the customer's persons; else it is created (a CRM contact by
//! upsert on `Books_Contact_Person_ID`, which a repeat finds; a Books person by a plain
//! create, which a repeat finds by its email).
//!
//! The account's run brings its contacts along when it links or creates the customer; a
//! CRM contact whose account is not linked yet is skipped saying so (its account's run
//! will bring it). A Books contact's run syncs its persons after the customer.

use futures_util::TryStreamExt;
use serde_json::{Map, Value, json};
use zoho::{
    books::models::ContactPerson,
    crm::records::{ListParams, WriteOptions},
};

use super::refused;
use crate::{
    flows::{
        Context, FlowError, Outcome, Write, Wrote,
        relations::{ACCOUNT_CONTACT, CONTACT_PERSON},
    },
    hash::content_hash,
    matching,
    store::System,
};

/// CRM Contacts field ⇄ Books contact-person field.
pub const PERSON_FIELDS: &[(&str, &str)] =
    &[("First_Name", "first_name"), ("Last_Name", "last_name"), ("Email", "email"), ("Phone", "phone"), ("Mobile", "mobile")];
/// The CRM Contacts field holding the Books contact-person id.
const NATIVE: &str = "Books_Contact_Person_ID";

/// The account's contacts, oldest first (the first is its primary contact: its email is
/// the account's).
pub async fn account_people(ctx: &Context<'_>, crm_id: &str) -> Result<Vec<Value>, FlowError> {
    let mut fields: Vec<&str> = PERSON_FIELDS.iter().map(|(crm, _)| *crm).collect();
    fields.extend(["id", NATIVE, "Created_Time"]);
    let mut people: Vec<Value> = ctx.client().crm().related("Accounts", crm_id, "Contacts", ListParams::new(fields)).try_collect().await?;
    people.sort_by(|a, b| {
        let at = |v: &Value| v.get("Created_Time").and_then(Value::as_str).unwrap_or_default().to_string();
        at(a).cmp(&at(b)).then_with(|| at_id(a).cmp(&at_id(b)))
    });
    Ok(people)
}

fn at_id(v: &Value) -> String {
    v.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A person's fields read from `record` under `from`'s names, keyed by `to`'s names
/// (blank fields as empty text): a CRM contact in Books' shape, a Books person in CRM's
/// shape, or either in its own.
fn person_fields(record: &Value, from: System, to: System) -> Map<String, Value> {
    let name = |side: System, (crm, books): &(&'static str, &'static str)| if side == System::Crm { *crm } else { *books };
    PERSON_FIELDS.iter().map(|f| (name(to, f).to_string(), json!(super::text(record, &format!("/{}", name(from, f))).unwrap_or_default()))).collect()
}

/// A CRM contact in Books' shape.
fn to_books_shape(crm: &Value) -> Map<String, Value> {
    person_fields(crm, System::Crm, System::Books)
}

/// Both hashes of a person link, from its Books shape: (crm, books).
fn hashes(books_shape: &Map<String, Value>) -> (String, String) {
    let books = Value::Object(books_shape.clone());
    (content_hash(&Value::Object(person_fields(&books, System::Books, System::Crm))), content_hash(&books))
}

/// The account's contacts as the `contact_persons` of a Books contact being created (the
/// first is primary). Contacts without a last name are left out (Books needs a name).
pub fn people_as_persons(people: &[Value]) -> Vec<Value> {
    people
        .iter()
        .enumerate()
        .filter(|(_, p)| super::text(p, "/Last_Name").is_some() || super::text(p, "/First_Name").is_some())
        .map(|(i, p)| {
            let mut person = to_books_shape(p);
            person.retain(|_, v| !super::values::is_blank(Some(v)));
            person.insert("is_primary_contact".into(), json!(i == 0));
            Value::Object(person)
        })
        .collect()
}

/// After a Books contact was created with the account's people as its persons: links
/// each person (found in the answer by email, or by name) to its CRM contact.
pub fn link_created_persons(ctx: &mut Context<'_>, people: &[Value], contact: &Value) {
    let persons = contact.get("contact_persons").and_then(Value::as_array).cloned().unwrap_or_default();
    for p in people {
        let shape = to_books_shape(p);
        let Some(found) = persons.iter().find(|q| same_person(&shape, q)) else { continue };
        let (Some(crm_id), Some(person_id)) = (p.get("id").and_then(Value::as_str), found.get("contact_person_id").and_then(Value::as_str)) else { continue };
        let (crm, books) = hashes(&shape);
        ctx.link(&CONTACT_PERSON, crm_id, person_id, Wrote::Both { crm, books });
    }
}

/// Whether Books person `q` is the person `shape` describes: same email, or (neither
/// having one) same names.
fn same_person(shape: &Map<String, Value>, q: &Value) -> bool {
    let email = |v: Option<&Value>| v.and_then(Value::as_str).and_then(matching::email_key);
    match (email(shape.get("email")), email(q.get("email"))) {
        (Some(a), Some(b)) => a == b,
        (None, None) => ["first_name", "last_name"].iter().all(|f| super::values::same(shape.get(*f).unwrap_or(&json!("")), q.get(*f))),
        _ => false,
    }
}

/// A CRM contact changed: its account must be linked; then its person is updated,
/// matched or created under the account's customer.
pub async fn contact_changed(ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
    let crm_id = ctx.record().id.clone();
    let mut fields: Vec<&str> = PERSON_FIELDS.iter().map(|(crm, _)| *crm).collect();
    fields.extend(["id", NATIVE, "Account_Name"]);
    let Some(person) = ctx.client().crm().get::<Value>("Contacts", &crm_id, &fields).await? else {
        return Ok(Outcome::Skipped(format!("CRM contact {crm_id} no longer exists; its Books person is kept")));
    };
    ctx.saw_source(&person);
    let Some(account) = super::text(&person, "/Account_Name/id") else {
        return Ok(Outcome::Skipped(format!("CRM contact {crm_id} belongs to no account: only an account's contacts become Books contact persons")));
    };
    let Some(customer) = ctx.link_by_crm(&ACCOUNT_CONTACT, account).await? else {
        return Ok(Outcome::Skipped(format!("its account {account} is not linked to a Books customer yet; the account's sync brings its contacts along")));
    };
    let persons = ctx.client().books().contact_persons(&customer.books_id).await?;
    let persons: Vec<Value> = persons.into_iter().map(|p| serde_json::to_value(p).unwrap_or(Value::Null)).collect();
    sync_person(ctx, &customer.books_id, &person, &persons).await
}

/// After an account was linked to Books contact `books_id`: its contacts become (or are
/// matched to) the contact's persons.
pub async fn crm_people_to_books(ctx: &mut Context<'_>, books_id: &str, people: &[Value]) -> Result<(), FlowError> {
    if people.is_empty() {
        return Ok(());
    }
    let persons = ctx.client().books().contact_persons(books_id).await?;
    let persons: Vec<Value> = persons.into_iter().map(|p| serde_json::to_value(p).unwrap_or(Value::Null)).collect();
    for person in people {
        sync_person(ctx, books_id, person, &persons).await?;
    }
    Ok(())
}

/// One CRM contact → its Books person under `books_id` (`persons`: the contact's persons).
async fn sync_person(ctx: &mut Context<'_>, books_id: &str, person: &Value, persons: &[Value]) -> Result<Outcome, FlowError> {
    let crm_id = super::text(person, "/id").unwrap_or_default().to_string();
    let want = to_books_shape(person);
    let (crm_hash, books_hash) = hashes(&want);
    if let Some(link) = ctx.link_by_crm(&CONTACT_PERSON, &crm_id).await? {
        if link.books_hash.as_deref() == Some(books_hash.as_str()) {
            return Ok(Outcome::Skipped(format!("unchanged: Books contact person {} is in step", link.books_id)));
        }
        update_person(ctx, books_id, &link.books_id, &want).await?;
        ctx.link(&CONTACT_PERSON, &crm_id, &link.books_id, Wrote::Both { crm: crm_hash, books: books_hash });
        return Ok(Outcome::Done(format!("updated Books contact person {}", link.books_id)));
    }
    let native = super::text(person, &format!("/{NATIVE}"));
    let mut found = None;
    for q in persons {
        let Some(id) = q.get("contact_person_id").and_then(Value::as_str) else { continue };
        let free = ctx.link_by_books(&CONTACT_PERSON, id).await?.is_none();
        if free && (native == Some(id) || same_person(&want, q)) {
            found = Some(id.to_string());
            break;
        }
    }
    let (id, how) = match found {
        Some(id) => {
            update_person(ctx, books_id, &id, &want).await?;
            (id, "matched and updated")
        }
        None => {
            let mut body = want.clone();
            body.retain(|_, v| !super::values::is_blank(Some(v)));
            body.insert("contact_id".into(), json!(books_id));
            let body = Value::Object(body);
            let typed: ContactPerson = serde_json::from_value(body.clone()).map_err(|e| FlowError::Data(format!("not a Books contact person: {e}")))?;
            let write = Write { system: System::Books, module: "contactpersons", action: "create", record_id: None, request: &body };
            let books = ctx.client().books();
            let made = ctx.write(write, books.create_contact_person(&typed), |p: &ContactPerson| p.contact_person_id.clone()).await?;
            (made.contact_person_id.ok_or_else(|| FlowError::Data("Books answered a contact person without an id".into()))?, "created")
        }
    };
    ctx.link(&CONTACT_PERSON, &crm_id, &id, Wrote::Both { crm: crm_hash, books: books_hash });
    Ok(Outcome::Done(format!("{how} Books contact person {id}")))
}

async fn update_person(ctx: &mut Context<'_>, books_id: &str, person_id: &str, want: &Map<String, Value>) -> Result<(), FlowError> {
    let mut body = want.clone();
    body.insert("contact_id".into(), json!(books_id));
    let body = Value::Object(body);
    let typed: ContactPerson = serde_json::from_value(body.clone()).map_err(|e| FlowError::Data(format!("not a Books contact person: {e}")))?;
    let write = Write { system: System::Books, module: "contactpersons", action: "update", record_id: Some(person_id), request: &body };
    let books = ctx.client().books();
    ctx.write(write, books.update_contact_person(person_id, &typed), |_| Some(person_id.to_string())).await?;
    Ok(())
}

/// A Books customer's persons → CRM contacts of its linked account (linked ones updated
/// when they changed, the others matched by email among the account's contacts or
/// created).
pub async fn books_persons_to_crm(ctx: &mut Context<'_>, contact: &Value) -> Result<(), FlowError> {
    let books_id = super::text(contact, "/contact_id").unwrap_or_default().to_string();
    let persons = contact.get("contact_persons").and_then(Value::as_array).cloned().unwrap_or_default();
    if persons.is_empty() {
        return Ok(());
    }
    let Some(customer) = ctx.link_by_books(&ACCOUNT_CONTACT, &books_id).await? else { return Ok(()) };
    let account = customer.crm_id;
    let mut people: Option<Vec<Value>> = None;
    for p in &persons {
        let Some(pid) = p.get("contact_person_id").and_then(Value::as_str) else { continue };
        let books_shape = person_fields(p, System::Books, System::Books);
        let (crm_hash, books_hash) = hashes(&books_shape);
        let mut want = person_fields(p, System::Books, System::Crm);
        want.retain(|k, v| k == "Last_Name" || !super::values::is_blank(Some(v)));
        if super::values::is_blank(want.get("Last_Name")) {
            want.insert("Last_Name".into(), json!(super::text(p, "/first_name").unwrap_or("(no name)")));
        }
        if let Some(link) = ctx.link_by_books(&CONTACT_PERSON, pid).await? {
            if link.crm_hash.as_deref() == Some(crm_hash.as_str()) {
                continue;
            }
            write_crm_person(ctx, "update", Some(&link.crm_id), &want, &[]).await?;
            ctx.link(&CONTACT_PERSON, &link.crm_id, pid, Wrote::Both { crm: crm_hash, books: books_hash });
            continue;
        }
        if people.is_none() {
            people = Some(account_people(ctx, &account).await?);
        }
        let mut matched = None;
        for q in people.as_deref().unwrap_or_default() {
            let Some(qid) = q.get("id").and_then(Value::as_str) else { continue };
            if same_person(&books_shape, &Value::Object(to_books_shape(q))) && ctx.link_by_crm(&CONTACT_PERSON, qid).await?.is_none() {
                matched = Some(qid.to_string());
                break;
            }
        }
        let crm_id = match matched {
            Some(id) => {
                let mut add = want.clone();
                add.insert(NATIVE.into(), json!(pid));
                write_crm_person(ctx, "update", Some(&id), &add, &[]).await?;
                id
            }
            None => {
                let mut body = want.clone();
                body.insert(NATIVE.into(), json!(pid));
                body.insert("Account_Name".into(), json!({"id": account}));
                write_crm_person(ctx, "upsert", None, &body, &[NATIVE]).await?
            }
        };
        ctx.link(&CONTACT_PERSON, &crm_id, pid, Wrote::Both { crm: crm_hash, books: books_hash });
    }
    Ok(())
}

/// Writes a CRM contact (`update` of `id`, or `upsert` keyed by `key`); its id.
async fn write_crm_person(ctx: &mut Context<'_>, action: &str, id: Option<&str>, fields: &Map<String, Value>, key: &[&str]) -> Result<String, FlowError> {
    let mut body = fields.clone();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    let body = Value::Object(body);
    let write = Write { system: System::Crm, module: "Contacts", action, record_id: id, request: &body };
    let crm = ctx.client().crm();
    let options = WriteOptions::no_triggers();
    let records = std::slice::from_ref(&body);
    let results = match id {
        Some(_) => {
            ctx.write(write, crm.update("Contacts", records, &options), |r: &Vec<zoho::crm::models::WriteResult>| {
                r.first().and_then(|r| r.id()).map(str::to_string)
            })
            .await?
        }
        None => {
            ctx.write(write, crm.upsert("Contacts", records, key, &options), |r: &Vec<zoho::crm::models::WriteResult>| {
                r.first().and_then(|r| r.id()).map(str::to_string)
            })
            .await?
        }
    };
    refused(&results, action, "Contacts")?;
    results
        .first()
        .and_then(|r| r.id())
        .map(str::to_string)
        .or(id.map(str::to_string))
        .ok_or_else(|| FlowError::Data(format!("CRM answered the {action} of Contacts without an id")))
}
