//! `customer_sync`: CRM Accounts ⇄ Books contacts (customers), two ways, without
//! duplicates; CRM Contacts ⇄ Books contact persons under their customer ([`persons`]).
//!
//! **Matching before any create** ([`crate::matching`]): the link, then the native link
//! fields (Books `zcrm_account_id`, CRM `Books_Contact_ID`), then the primary email (an
//! account's is its first contact's), then the normalised company name with the billing
//! country. Candidates come from the store's directory of match keys (every record this
//! flow or a backfill read) and, for the native field and the email, from Zoho itself.
//! A candidate already linked to another record is not one. Two candidates at one step
//! put the record on the review list, and nothing is written for it until a person
//! decides (`zoho-bridge review`); the decision is read back on the next run.
//!
//! **A match enriches**: only the fields the matched record lacks are written. A create
//! is retry-safe: the Books contact is created by upsert on the unique custom field
//! holding the CRM id (`cf_crm_account_id`), the CRM account by upsert on the unique
//! field holding the Books id (`Books_Contact_ID`), so a repeat after a lost answer finds
//! what the first call made. Books wants unique display names: a second customer of the
//! same name (in another country) is named `Name (Country)`.
//!
//! **Changes** are written field by field, only what differs, settled by the conflict
//! policy: last writer wins (by modified time), or field ownership. **Echoes**: the link
//! keeps, per side, the hash of the mapped values that side is in step with
//! (`books_hash` = the Books payload the CRM record maps to; `crm_hash` = the CRM payload
//! the Books record maps to), refreshed after every write from what the write left, so
//! the change notification of our own write maps to the same hash and is skipped after
//! one read, with no write.
//!
//! **Calls per change**: a linked change costs 3 (read the source, read the target for
//! the policy and the difference, write what differs); an echo 1 (the read); a first
//! match 3–6 (the account's contacts for its email, a Books look-up by the native field
//! and by email, the candidate, the enrichment).
//!
//! **Deletions** are reported (audit, and the review list with kind `deleted`), not
//! replayed, unless `on_delete = "propagate"`.

mod config;
mod persons;
mod values;

use futures_util::{FutureExt, TryStreamExt};
use serde_json::{Map, Value, json};
use zoho::{
    books::{ListQuery, UpsertOutcome, models::Contact},
    crm::{criteria::Criteria, records::WriteOptions, search::SearchBy},
};

pub use config::{CustomerSyncConfig, DEFAULTS, OnDelete, Policy};

use super::{
    Context, FieldKind, Flow, FlowError, FlowFuture, FlowShape, Outcome, TargetField, Write, Wrote,
    relations::{ACCOUNT_CONTACT, Relation},
};
use crate::{
    hash::content_hash,
    mapping::{self, Input, Mapping},
    matching::{self, Decision, Party, Rule},
    store::{Candidate, DirectoryEntry, Key, Link, NewJob, RecordRef, ReviewKind, ReviewStatus, System},
};
use values::{changes, lacking, merged, text, time};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "customer_sync";
/// The relation accounts and customers are linked in.
const RELATION: Relation = ACCOUNT_CONTACT;
/// Books' code for "a record with this unique value already exists" (the display name).
const DUPLICATE: i64 = 1001;
/// The CRM module of customers.
const ACCOUNTS: &str = "Accounts";
/// The Books entity of customers.
const CONTACTS: &str = "contacts";

/// CRM Accounts ⇄ Books contacts, CRM Contacts ⇄ Books contact persons.
#[derive(Debug, Clone)]
pub struct CustomerSync {
    policy: Policy,
    on_delete: OnDelete,
    create_in_books: bool,
    create_in_crm: bool,
    crm_id_field: String,
    books_id_field: String,
    crm_owns: Vec<String>,
    books_owns: Vec<String>,
    to_books: Mapping,
    to_crm: Mapping,
    /// The CRM account fields a run reads ([`account_fields`]), worked out once.
    account_fields: Vec<String>,
}

/// The CRM account fields a run reads: what `to_books` uses, what `to_crm` writes (to
/// compare), the native field and the modified time.
fn account_fields(to_books: &Mapping, to_crm: &Mapping, books_id_field: &str) -> Vec<String> {
    let mut fields: Vec<String> = to_books.source_fields().to_vec();
    fields.extend(to_crm.target_fields());
    fields.extend(["Account_Name", "Billing_Country", "Modified_Time", books_id_field].map(String::from));
    fields.sort();
    fields.dedup();
    fields
}

impl Default for CustomerSync {
    /// The flow on its shipped defaults.
    fn default() -> Self {
        CustomerSyncConfig::default().build(&mapping::Tables::new(), None).expect("the shipped customer_sync mappings compile (tested)")
    }
}

/// The job that syncs `record` (a CRM account or contact, a Books contact).
pub fn job(record: &RecordRef) -> NewJob {
    NewJob::for_record(NAME, record)
}

/// A CRM account as matching sees it: its name, its email (`email`, its first
/// contact's), its billing country and the Books id its native field holds.
pub fn crm_party(account: &Value, email: Option<&str>, books_id_field: &str) -> Party {
    Party::new(
        text(account, "/id").unwrap_or_default(),
        text(account, "/Account_Name").unwrap_or_default(),
        email,
        text(account, "/Billing_Country"),
        text(account, &format!("/{books_id_field}")),
    )
}

/// A Books contact as matching sees it: its company name (or display name), the primary
/// person's email, its billing country and the CRM account its native field names.
pub fn books_party(contact: &Value) -> Party {
    Party::new(
        text(contact, "/contact_id").unwrap_or_default(),
        text(contact, "/company_name").or_else(|| text(contact, "/contact_name")).unwrap_or_default(),
        text(contact, "/email").or_else(|| primary_person(contact).and_then(|p| text(p, "/email"))),
        text(contact, "/billing_address/country"),
        text(contact, "/zcrm_account_id"),
    )
}

/// The primary contact person in a contact's `contact_persons`, else the first.
fn primary_person(contact: &Value) -> Option<&Value> {
    let persons = contact.get("contact_persons")?.as_array()?;
    persons.iter().find(|p| p.get("is_primary_contact") == Some(&Value::Bool(true))).or_else(|| persons.first())
}

/// A directory row for a party.
fn entry(system: System, module: &str, party: &Party) -> DirectoryEntry {
    DirectoryEntry { system, module: module.into(), party: party.clone() }
}

impl CustomerSync {
    /// CRM Account → Books contact mapping.
    pub fn to_books(&self) -> &Mapping {
        &self.to_books
    }

    /// Books contact → CRM Account mapping.
    pub fn to_crm(&self) -> &Mapping {
        &self.to_crm
    }

    /// The CRM field holding the Books contact id.
    pub fn books_id_field(&self) -> &str {
        &self.books_id_field
    }

    /// The Books contact custom field (unique) holding the CRM account id.
    pub fn crm_id_field(&self) -> &str {
        &self.crm_id_field
    }

    /// `mapping` over `source`: the payload, or why the record is skipped.
    fn evaluate(mapping: &Mapping, ctx: &Context<'_>, source: &Value) -> Result<Result<Map<String, Value>, String>, FlowError> {
        let input = Input { source, related: &Value::Null, now: ctx.now() };
        match mapping.evaluate(&input).map_err(|e| FlowError::Data(e.to_string()))? {
            mapping::Outcome::Skipped(reason) => Ok(Err(reason)),
            mapping::Outcome::Payload(p) => Ok(Ok(p)),
        }
    }

    /// The hash of what `mapping` makes of `source` (`None` when it skips it).
    fn hash_of(mapping: &Mapping, ctx: &Context<'_>, source: &Value) -> Result<Option<String>, FlowError> {
        Ok(Self::evaluate(mapping, ctx, source)?.ok().map(|p| content_hash(&Value::Object(p))))
    }

    /// Reads a CRM account (`None`: gone).
    async fn read_account(&self, ctx: &Context<'_>, id: &str) -> Result<Option<Value>, FlowError> {
        let fields: Vec<&str> = self.account_fields.iter().map(String::as_str).collect();
        Ok(ctx.client().crm().get::<Value>(ACCOUNTS, id, &fields).await?)
    }

    /// Reads a Books contact (`None`: gone).
    async fn read_contact(ctx: &Context<'_>, id: &str) -> Result<Option<Value>, FlowError> {
        match ctx.client().books().contact(id).await {
            Ok(c) => Ok(Some(serde_json::to_value(c).unwrap_or(Value::Null))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `books_id` may be matched to CRM account `crm_id`: not linked to another.
    async fn books_free(ctx: &Context<'_>, books_id: &str, crm_id: &str) -> Result<bool, FlowError> {
        Ok(ctx.link_by_books(&RELATION, books_id).await?.is_none_or(|l| l.crm_id == crm_id))
    }

    /// Whether `crm_id` may be matched to Books contact `books_id`: not linked to another.
    async fn crm_free(ctx: &Context<'_>, crm_id: &str, books_id: &str) -> Result<bool, FlowError> {
        Ok(ctx.link_by_crm(&RELATION, crm_id).await?.is_none_or(|l| l.books_id == books_id))
    }

    // ---- CRM account → Books contact ------------------------------------------------

    async fn account_changed(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let crm_id = ctx.record().id.clone();
        let (account, link) = tokio::join!(self.read_account(ctx, &crm_id), ctx.link_by_crm(&RELATION, &crm_id));
        let link = link?;
        let Some(account) = account? else { return self.gone(ctx, System::Crm, &crm_id, link).await };
        ctx.saw_source(&account);
        let payload = match Self::evaluate(&self.to_books, ctx, &account)? {
            Ok(p) => p,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        ctx.mapped(&Value::Object(payload.clone()));
        let hash = content_hash(&Value::Object(payload.clone()));
        match link {
            Some(link) if link.books_hash.as_deref() == Some(hash.as_str()) => Ok(Outcome::Skipped(format!(
                "unchanged: Books contact {} is in step with these values (our own write's echo, or no synced field changed)",
                link.books_id
            ))),
            Some(link) => self.crm_change(ctx, &account, payload, hash, &link).await,
            None => self.match_account(ctx, &crm_id, &account, payload, hash).await,
        }
    }

    /// The Books customer of CRM account `crm_id`, for a flow that bills the account (the
    /// order flows): the linked one; else the one the matching order finds, or the one it
    /// creates, exactly as this flow does on the account's own change (the link is recorded
    /// by the calling run). A record that needs a person (two candidates: the review list of
    /// this flow, which a decision re-runs; an open or ignored review; creation turned off;
    /// a mapping that skips the account) is a data error saying so, naming the review.
    pub async fn customer_for_account(&self, ctx: &mut Context<'_>, crm_id: &str) -> Result<String, FlowError> {
        if let Some(link) = ctx.link_by_crm(&RELATION, crm_id).await? {
            return Ok(link.books_id);
        }
        let Some(account) = self.read_account(ctx, crm_id).await? else {
            return Err(FlowError::Data(format!("CRM account {crm_id} does not exist")));
        };
        let payload = match Self::evaluate(&self.to_books, ctx, &account)? {
            Ok(p) => p,
            Err(reason) => return Err(FlowError::Data(format!("CRM account {crm_id} has no Books customer and {NAME} does not sync it: {reason}"))),
        };
        let hash = content_hash(&Value::Object(payload.clone()));
        let outcome = self.match_account(ctx, crm_id, &account, payload, hash).await?;
        match ctx.link_by_crm(&RELATION, crm_id).await? {
            Some(link) => Ok(link.books_id),
            None => {
                let said = match outcome {
                    Outcome::Done(s) | Outcome::Skipped(s) => s,
                };
                Err(FlowError::Data(format!("no Books customer for CRM account {crm_id}: {said}; once it is decided (`zoho-bridge review`), replay this job")))
            }
        }
    }

    /// A linked account changed: write what differs to its Books contact, as the policy
    /// allows.
    async fn crm_change(&self, ctx: &mut Context<'_>, account: &Value, payload: Map<String, Value>, hash: String, link: &Link) -> Result<Outcome, FlowError> {
        let crm_id = link.crm_id.clone();
        let books_id = link.books_id.clone();
        let Some(contact) = Self::read_contact(ctx, &books_id).await? else {
            return self.gone(ctx, System::Books, &books_id, Some(link.clone())).await;
        };
        if self.policy == Policy::LastWriterWins
            && let (Some(crm_at), Some(books_at)) = (time(text(account, "/Modified_Time")), time(text(&contact, "/last_modified_time")))
            && books_at > crm_at
        {
            return Ok(Outcome::Skipped(format!(
                "Books contact {books_id} changed after this CRM change ({books_at} > {crm_at}): the last writer wins, and its change is synced to CRM by its own job"
            )));
        }
        let mut diff = changes(&payload, &contact, |f| self.policy == Policy::LastWriterWins || self.crm_owns.iter().any(|o| o == f));
        Self::keep_distinguished(&mut diff, "contact_name", &contact);
        ctx.note(format!("linked to Books contact {books_id}; fields that differ: {}", names(&diff)));
        let written = self.update_contact(ctx, &books_id, &diff, &contact).await?;
        let crm_hash = Self::hash_of(&self.to_crm, ctx, &written)?.or(link.crm_hash.clone()).unwrap_or_default();
        ctx.link(&RELATION, &crm_id, &books_id, Wrote::Both { crm: crm_hash, books: hash });
        self.remember_books(ctx, &written).await?;
        Ok(Outcome::Done(if diff.is_empty() {
            format!("Books contact {books_id} already holds these values; link refreshed")
        } else {
            format!("updated Books contact {books_id}: {}", names(&diff))
        }))
    }

    /// A name we made unique (`Name (Country)`, in Books' `contact_name` or CRM's
    /// `Account_Name`) is not "different" from the name it came from: `field` is dropped
    /// from `diff` when the two differ only by such a suffix.
    fn keep_distinguished(diff: &mut Map<String, Value>, field: &str, record: &Value) {
        if let (Some(Value::String(want)), Some(have)) = (diff.get(field), text(record, &format!("/{field}")))
            && distinguished(want.trim(), have)
        {
            diff.remove(field);
        }
    }

    /// Updates Books contact `id` with `diff` (no call when empty); the contact as it is
    /// after.
    async fn update_contact(&self, ctx: &mut Context<'_>, id: &str, diff: &Map<String, Value>, before: &Value) -> Result<Value, FlowError> {
        if diff.is_empty() {
            return Ok(before.clone());
        }
        let body = Value::Object(diff.clone());
        let contact: Contact = serde_json::from_value(body.clone()).map_err(|e| FlowError::Data(format!("the mapped values are not a Books contact: {e}")))?;
        let write = Write { system: System::Books, module: CONTACTS, action: "update", record_id: Some(id), request: &body };
        let books = ctx.client().books();
        let written = ctx.write(write, books.update_contact(id, &contact), |c: &Contact| c.contact_id.clone()).await?;
        Ok(serde_json::to_value(written).unwrap_or(Value::Null))
    }

    /// Account `crm_id` with no link: a person's decision, else the matching order.
    async fn match_account(
        &self,
        ctx: &mut Context<'_>,
        crm_id: &str,
        account: &Value,
        payload: Map<String, Value>,
        hash: String,
    ) -> Result<Outcome, FlowError> {
        let record = RecordRef::crm(ACCOUNTS, crm_id);
        if let Some(decided) = self.decided(ctx, &record).await? {
            return match decided {
                Decided::Wait(reason) => Ok(Outcome::Skipped(reason)),
                Decided::Link(books_id) => self.link_account(ctx, crm_id, payload, hash, &books_id, Rule::Review).await,
                Decided::Create => self.create_contact(ctx, crm_id, account, payload, hash).await,
            };
        }
        let people = persons::account_people(ctx, crm_id).await?;
        let email = people.first().and_then(|p| text(p, "/Email")).map(str::to_string);
        let me = crm_party(account, email.as_deref(), &self.books_id_field);
        ctx.remember(&[entry(System::Crm, ACCOUNTS, &me)]).await?;
        let (decision, found) = self.find_in_books(ctx, &me).await?;
        match decision {
            Decision::Matched { rule, id } => {
                ctx.note(format!("matched Books contact {id} by {}", rule.as_str()));
                let out = self.link_account(ctx, crm_id, payload, hash, &id, rule).await?;
                persons::crm_people_to_books(ctx, &id, &people).await?;
                Ok(out)
            }
            Decision::Ambiguous { rule, .. } => self.ambiguous(ctx, &record, System::Books, &me, rule, &found).await,
            Decision::NoMatch if self.create_in_books => self.create_contact(ctx, crm_id, account, payload, hash).await,
            Decision::NoMatch => Ok(Outcome::Skipped("no Books customer matches it, and create_in_books is off".into())),
        }
    }

    /// The matching order on the Books side for CRM account `me`.
    async fn find_in_books(&self, ctx: &mut Context<'_>, me: &Party) -> Result<(Decision, Vec<Party>), FlowError> {
        let crm_id = me.id.as_str();
        // The native fields: the account's Books_Contact_ID, and contacts naming the account.
        if let Some(native) = &me.native_id
            && let Some(contact) = Self::read_contact(ctx, native).await?
            && Self::books_free(ctx, native, crm_id).await?
        {
            self.remember_books(ctx, &contact).await?;
            return Ok((Decision::Matched { rule: Rule::Native, id: native.clone() }, Vec::new()));
        }
        let naming: Vec<Value> =
            ctx.client().books().list("/books/v3/contacts", "contacts", ListQuery::new().param("zcrm_account_id", crm_id)).try_collect().await?;
        let found = self.free_books(ctx, &naming, crm_id, |_| true).await?;
        if let Some(d) = matching::step(Rule::Native, &found) {
            return Ok((d, found));
        }
        // The primary email: Zoho's answer and the directory.
        if let Some(email) = &me.email_key {
            let listed: Vec<Value> = ctx.client().books().list("/books/v3/contacts", "contacts", ListQuery::new().param("email", email)).try_collect().await?;
            let mut found = self.free_books(ctx, &listed, crm_id, |p| p.email_key.as_deref() == Some(email)).await?;
            for p in ctx.candidates(System::Books, CONTACTS, Key::Email(email)).await? {
                if !found.iter().any(|f| f.id == p.id) && Self::books_free(ctx, &p.id, crm_id).await? {
                    found.push(p);
                }
            }
            if let Some(d) = matching::step(Rule::Email, &found) {
                return Ok((d, found));
            }
        }
        // The normalised name, in the same country: Zoho's search by the name's longest
        // word (records never seen), then the directory (every spelling seen). Books'
        // list rows carry no billing address: a candidate whose country is unknown is
        // read in full before its country is compared.
        if let Some(name) = &me.name_key {
            let listed: Vec<Value> = match search_word(name) {
                Some(w) => ctx.client().books().list("/books/v3/contacts", "contacts", ListQuery::new().param("search_text", w.as_str())).try_collect().await?,
                None => Vec::new(),
            };
            let mut seen: Vec<Party> = listed.iter().map(books_party).collect();
            seen.extend(ctx.candidates(System::Books, CONTACTS, Key::Name(name)).await?);
            let mut found: Vec<Party> = Vec::new();
            for p in seen {
                if p.name_key != me.name_key || found.iter().any(|f| f.id == p.id) {
                    continue;
                }
                let p = match (&p.country_key, &me.country_key) {
                    (None, Some(_)) => match Self::read_contact(ctx, &p.id).await? {
                        Some(full) => {
                            self.remember_books(ctx, &full).await?;
                            books_party(&full)
                        }
                        None => continue,
                    },
                    _ => p,
                };
                if me.same_name(&p) && Self::books_free(ctx, &p.id, crm_id).await? {
                    found.push(p);
                }
            }
            if let Some(d) = matching::step(Rule::Name, &found) {
                return Ok((d, found));
            }
        }
        Ok((Decision::NoMatch, Vec::new()))
    }

    /// The listed Books contacts that pass `keep` and are not linked to another account.
    /// (List rows are not kept in the directory: they lack the billing country, and would
    /// overwrite a full record's keys.)
    async fn free_books(&self, ctx: &Context<'_>, listed: &[Value], crm_id: &str, keep: impl Fn(&Party) -> bool) -> Result<Vec<Party>, FlowError> {
        let parties: Vec<Party> = listed.iter().map(books_party).collect();
        let mut out = Vec::new();
        for p in parties {
            if keep(&p) && Self::books_free(ctx, &p.id, crm_id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Links account `crm_id` to Books contact `books_id` and enriches the contact with
    /// what it lacks.
    async fn link_account(
        &self,
        ctx: &mut Context<'_>,
        crm_id: &str,
        payload: Map<String, Value>,
        hash: String,
        books_id: &str,
        rule: Rule,
    ) -> Result<Outcome, FlowError> {
        let Some(contact) = Self::read_contact(ctx, books_id).await? else {
            return Err(FlowError::Data(format!("Books contact {books_id} (matched by {}) no longer exists; replay to match again", rule.as_str())));
        };
        let mut add = lacking(&payload, &contact);
        add.remove("contact_name");
        if text(&contact, "/zcrm_account_id").is_none() {
            add.insert("zcrm_account_id".into(), json!(crm_id));
        }
        if super::catalog_sync::custom_field(&contact, &self.crm_id_field).is_none() {
            add.insert("custom_fields".into(), json!([{"api_name": self.crm_id_field, "value": crm_id}]));
        }
        ctx.note(format!("enrich Books contact {books_id} with what it lacks: {}", names(&add)));
        let written = self.update_contact(ctx, books_id, &add, &contact).await?;
        let crm_hash = Self::hash_of(&self.to_crm, ctx, &written)?.unwrap_or_default();
        ctx.link(&RELATION, crm_id, books_id, Wrote::Both { crm: crm_hash, books: hash });
        self.remember_books(ctx, &written).await?;
        Ok(Outcome::Done(format!("linked to Books contact {books_id} (matched by {}); added: {}", rule.as_str(), names(&add))))
    }

    /// Creates the Books contact for account `crm_id` (upsert on the custom field holding
    /// the CRM id: a repeat finds the first one), with a distinguishing display name if
    /// the name is taken.
    async fn create_contact(
        &self,
        ctx: &mut Context<'_>,
        crm_id: &str,
        account: &Value,
        mut payload: Map<String, Value>,
        hash: String,
    ) -> Result<Outcome, FlowError> {
        let people = persons::account_people(ctx, crm_id).await?;
        payload.insert("zcrm_account_id".into(), json!(crm_id));
        payload.insert("custom_fields".into(), json!([{"api_name": self.crm_id_field, "value": crm_id}]));
        let persons_body = persons::people_as_persons(&people);
        if !persons_body.is_empty() {
            payload.insert("contact_persons".into(), Value::Array(persons_body));
        }
        let written = match self.upsert_contact(ctx, crm_id, &payload).await {
            Err(FlowError::Zoho(e)) if e.api().and_then(|a| a.books_code()) == Some(DUPLICATE) => {
                let name = payload.get("contact_name").and_then(Value::as_str).unwrap_or_default().to_string();
                let other = text(account, "/Billing_Country").map(str::to_string).unwrap_or_else(|| format!("CRM {crm_id}"));
                let unique = format!("{name} ({other})");
                ctx.note(format!("the display name {name:?} is taken in Books: creating it as {unique:?}"));
                payload.insert("contact_name".into(), json!(unique));
                self.upsert_contact(ctx, crm_id, &payload).await?
            }
            other => other?,
        };
        let books_id = text(&written, "/contact_id").ok_or_else(|| FlowError::Data("Books answered a contact without contact_id".into()))?.to_string();
        let crm_hash = Self::hash_of(&self.to_crm, ctx, &written)?.unwrap_or_default();
        ctx.link(&RELATION, crm_id, &books_id, Wrote::Both { crm: crm_hash, books: hash });
        self.remember_books(ctx, &written).await?;
        persons::link_created_persons(ctx, &people, &written);
        Ok(Outcome::Done(format!("created Books contact {books_id}")))
    }

    async fn upsert_contact(&self, ctx: &mut Context<'_>, crm_id: &str, payload: &Map<String, Value>) -> Result<Value, FlowError> {
        let body = Value::Object(payload.clone());
        let contact: Contact = serde_json::from_value(body.clone()).map_err(|e| FlowError::Data(format!("the mapped values are not a Books contact: {e}")))?;
        let n = ctx.announce(Write { system: System::Books, module: CONTACTS, action: "upsert", record_id: None, request: &body }).await?;
        let result = ctx.client().books().upsert_contact(&self.crm_id_field, crm_id, &contact).await;
        match result {
            Ok((written, outcome)) => {
                let action = if outcome == UpsertOutcome::Created { "create" } else { "update" };
                ctx.answer(n, written.contact_id.as_deref(), Some(action), Ok(&written));
                Ok(serde_json::to_value(written).unwrap_or(Value::Null))
            }
            Err(e) => {
                ctx.answer::<Contact>(n, None, None, Err(&e));
                Err(e.into())
            }
        }
    }

    async fn remember_books(&self, ctx: &Context<'_>, contact: &Value) -> Result<(), FlowError> {
        ctx.remember(&[entry(System::Books, CONTACTS, &books_party(contact))]).await
    }

    // ---- Books contact → CRM account ------------------------------------------------

    async fn customer_changed(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let books_id = ctx.record().id.clone();
        let (contact, link) = tokio::join!(Self::read_contact(ctx, &books_id), ctx.link_by_books(&RELATION, &books_id));
        let link = link?;
        let Some(contact) = contact? else { return self.gone(ctx, System::Books, &books_id, link).await };
        ctx.saw_source(&contact);
        if link.is_none()
            && let Some(key) = super::catalog_sync::custom_field(&contact, &self.crm_id_field).filter(|k| super::order::is_currency_key(k))
        {
            return Ok(Outcome::Skipped(format!(
                "Books contact {books_id} is the per-currency customer {key} of a CRM account (made by the order flows): not a customer of its own"
            )));
        }
        let me = books_party(&contact);
        ctx.remember(&[entry(System::Books, CONTACTS, &me)]).await?;
        let payload = match Self::evaluate(&self.to_crm, ctx, &contact)? {
            Ok(p) => p,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        ctx.mapped(&Value::Object(payload.clone()));
        let hash = content_hash(&Value::Object(payload.clone()));
        let outcome = match link {
            Some(link) if link.crm_hash.as_deref() == Some(hash.as_str()) => Outcome::Skipped(format!(
                "unchanged: CRM account {} is in step with these values (our own write's echo, or no synced field changed)",
                link.crm_id
            )),
            Some(link) => self.books_change(ctx, &contact, payload, hash, &link).await?,
            None => self.match_contact(ctx, &contact, &me, payload, hash).await?,
        };
        persons::books_persons_to_crm(ctx, &contact).await?;
        Ok(outcome)
    }

    /// A linked Books contact changed: write what differs to its CRM account, as the
    /// policy allows.
    async fn books_change(&self, ctx: &mut Context<'_>, contact: &Value, payload: Map<String, Value>, hash: String, link: &Link) -> Result<Outcome, FlowError> {
        let crm_id = link.crm_id.clone();
        let books_id = link.books_id.clone();
        let Some(account) = self.read_account(ctx, &crm_id).await? else {
            return self.gone(ctx, System::Crm, &crm_id, Some(link.clone())).await;
        };
        if self.policy == Policy::LastWriterWins
            && let (Some(crm_at), Some(books_at)) = (time(text(&account, "/Modified_Time")), time(text(contact, "/last_modified_time")))
            && crm_at > books_at
        {
            return Ok(Outcome::Skipped(format!(
                "CRM account {crm_id} changed after this Books change ({crm_at} > {books_at}): the last writer wins, and its change is synced to Books by its own job"
            )));
        }
        let mut diff = changes(&payload, &account, |f| self.policy == Policy::LastWriterWins || self.books_owns.iter().any(|o| o == f));
        Self::keep_distinguished(&mut diff, "Account_Name", &account);
        ctx.note(format!("linked to CRM account {crm_id}; fields that differ: {}", names(&diff)));
        let after = self.update_account(ctx, &crm_id, &diff, &account).await?;
        let books_hash = Self::hash_of(&self.to_books, ctx, &after)?.or(link.books_hash.clone()).unwrap_or_default();
        ctx.link(&RELATION, &crm_id, &books_id, Wrote::Both { crm: hash, books: books_hash });
        Ok(if diff.is_empty() {
            Outcome::Done(format!("CRM account {crm_id} already holds these values; link refreshed"))
        } else {
            Outcome::Done(format!("updated CRM account {crm_id}: {}", names(&diff)))
        })
    }

    /// Updates CRM account `id` with `diff` (no call when empty); the account as it is
    /// after (the answer carries no record: the values written over the one read).
    async fn update_account(&self, ctx: &mut Context<'_>, id: &str, diff: &Map<String, Value>, before: &Value) -> Result<Value, FlowError> {
        if diff.is_empty() {
            return Ok(before.clone());
        }
        let mut body = diff.clone();
        body.insert("id".into(), json!(id));
        let body = Value::Object(body);
        let write = Write { system: System::Crm, module: ACCOUNTS, action: "update", record_id: Some(id), request: &body };
        let crm = ctx.client().crm();
        let results = ctx.write(write, crm.update(ACCOUNTS, std::slice::from_ref(&body), &WriteOptions::no_triggers()), |_| Some(id.to_string())).await?;
        refused(&results, "update", ACCOUNTS)?;
        Ok(merged(before, diff))
    }

    /// A Books customer with no link: a person's decision, else the matching order.
    async fn match_contact(&self, ctx: &mut Context<'_>, contact: &Value, me: &Party, payload: Map<String, Value>, hash: String) -> Result<Outcome, FlowError> {
        let record = ctx.record().clone();
        if let Some(decided) = self.decided(ctx, &record).await? {
            return match decided {
                Decided::Wait(reason) => Ok(Outcome::Skipped(reason)),
                Decided::Link(crm_id) => self.link_contact(ctx, &crm_id, payload, hash, Rule::Review).await,
                Decided::Create => self.create_account(ctx, contact, payload, hash).await,
            };
        }
        let (decision, found) = self.find_in_crm(ctx, me).await?;
        match decision {
            Decision::Matched { rule, id } => {
                ctx.note(format!("matched CRM account {id} by {}", rule.as_str()));
                self.link_contact(ctx, &id, payload, hash, rule).await
            }
            Decision::Ambiguous { rule, .. } => self.ambiguous(ctx, &record, System::Crm, me, rule, &found).await,
            Decision::NoMatch if self.create_in_crm => self.create_account(ctx, contact, payload, hash).await,
            Decision::NoMatch => Ok(Outcome::Skipped("no CRM account matches it, and create_in_crm is off".into())),
        }
    }

    /// The matching order on the CRM side for Books contact `me`.
    async fn find_in_crm(&self, ctx: &mut Context<'_>, me: &Party) -> Result<(Decision, Vec<Party>), FlowError> {
        let books_id = me.id.as_str();
        let crm = ctx.client().crm();
        if let Some(native) = &me.native_id
            && self.read_account(ctx, native).await?.is_some()
            && Self::crm_free(ctx, native, books_id).await?
        {
            return Ok((Decision::Matched { rule: Rule::Native, id: native.clone() }, Vec::new()));
        }
        let naming: Vec<Value> =
            crm.search(ACCOUNTS, Criteria::equals(self.books_id_field.as_str(), books_id), &["id", "Account_Name", "Billing_Country"]).try_collect().await?;
        let mut found = Vec::new();
        for a in &naming {
            let id = text(a, "/id").unwrap_or_default();
            if Self::crm_free(ctx, id, books_id).await? {
                found.push(crm_party(a, None, &self.books_id_field));
            }
        }
        if let Some(d) = matching::step(Rule::Native, &found) {
            return Ok((d, found));
        }
        if let Some(email) = &me.email_key {
            let people: Vec<Value> = crm.search("Contacts", SearchBy::Email(email.clone()), &["id", "Email", "Account_Name"]).try_collect().await?;
            let mut found: Vec<Party> = Vec::new();
            for p in &people {
                let Some(account) = text(p, "/Account_Name/id") else { continue };
                if matching::email_key(text(p, "/Email").unwrap_or_default()).as_deref() == Some(email.as_str())
                    && !found.iter().any(|f| f.id == account)
                    && Self::crm_free(ctx, account, books_id).await?
                {
                    let name = text(p, "/Account_Name/name").unwrap_or_default();
                    found.push(Party::new(account, name, Some(email), None, None));
                }
            }
            for p in ctx.candidates(System::Crm, ACCOUNTS, Key::Email(email)).await? {
                if !found.iter().any(|f| f.id == p.id) && Self::crm_free(ctx, &p.id, books_id).await? {
                    found.push(p);
                }
            }
            if let Some(d) = matching::step(Rule::Email, &found) {
                return Ok((d, found));
            }
        }
        if let Some(name) = &me.name_key {
            let mut found = Vec::new();
            if let Some(word) = search_word(name) {
                let listed: Vec<Value> = crm.search(ACCOUNTS, SearchBy::Word(word), &["id", "Account_Name", "Billing_Country"]).try_collect().await?;
                for a in &listed {
                    let p = crm_party(a, None, &self.books_id_field);
                    if me.same_name(&p) && Self::crm_free(ctx, &p.id, books_id).await? {
                        found.push(p);
                    }
                }
            }
            for p in ctx.candidates(System::Crm, ACCOUNTS, Key::Name(name)).await? {
                if found.iter().any(|f| f.id == p.id) {
                    continue;
                }
                if me.same_name(&p) && Self::crm_free(ctx, &p.id, books_id).await? {
                    found.push(p);
                }
            }
            if let Some(d) = matching::step(Rule::Name, &found) {
                return Ok((d, found));
            }
        }
        Ok((Decision::NoMatch, Vec::new()))
    }

    /// Links the Books contact to CRM account `crm_id` and enriches the account with what
    /// it lacks.
    async fn link_contact(&self, ctx: &mut Context<'_>, crm_id: &str, payload: Map<String, Value>, hash: String, rule: Rule) -> Result<Outcome, FlowError> {
        let books_id = ctx.record().id.clone();
        let Some(account) = self.read_account(ctx, crm_id).await? else {
            return Err(FlowError::Data(format!("CRM account {crm_id} (matched by {}) no longer exists; replay to match again", rule.as_str())));
        };
        let mut add = lacking(&payload, &account);
        add.remove("Account_Name");
        if text(&account, &format!("/{}", self.books_id_field)).is_none() {
            add.insert(self.books_id_field.clone(), json!(books_id));
        }
        ctx.note(format!("enrich CRM account {crm_id} with what it lacks: {}", names(&add)));
        let after = self.update_account(ctx, crm_id, &add, &account).await?;
        let books_hash = Self::hash_of(&self.to_books, ctx, &after)?.unwrap_or_default();
        ctx.link(&RELATION, crm_id, &books_id, Wrote::Both { crm: hash, books: books_hash });
        Ok(Outcome::Done(format!("linked to CRM account {crm_id} (matched by {}); added: {}", rule.as_str(), names(&add))))
    }

    /// Creates the CRM account for the Books customer (upsert on the unique field holding
    /// the Books id: a repeat finds the first one).
    async fn create_account(&self, ctx: &mut Context<'_>, contact: &Value, payload: Map<String, Value>, hash: String) -> Result<Outcome, FlowError> {
        let books_id = ctx.record().id.clone();
        let mut body = payload.clone();
        body.insert(self.books_id_field.clone(), json!(books_id));
        let mut body = Value::Object(body);
        let crm = ctx.client().crm();
        let key = [self.books_id_field.as_str()];
        let mut renamed = false;
        let results = loop {
            let write = Write { system: System::Crm, module: ACCOUNTS, action: "upsert", record_id: None, request: &body };
            let results = ctx
                .write(
                    write,
                    crm.upsert(ACCOUNTS, std::slice::from_ref(&body), &key, &WriteOptions::no_triggers()),
                    |r: &Vec<zoho::crm::models::WriteResult>| r.first().and_then(|r| r.id()).map(str::to_string),
                )
                .await?;
            // CRM keeps account names unique: the same name in another country is
            // created as `Name (Country)`, as Books does with display names.
            let taken = results.first().is_some_and(|r| r.code == "DUPLICATE_DATA" && r.api_name() == Some("Account_Name"));
            if taken && !renamed {
                let name = text(&body, "/Account_Name").unwrap_or_default().to_string();
                let other = text(contact, "/billing_address/country").map(str::to_string).unwrap_or_else(|| format!("Books {books_id}"));
                let unique = format!("{name} ({other})");
                ctx.note(format!("the account name {name:?} is taken in CRM: creating it as {unique:?}"));
                body["Account_Name"] = json!(unique);
                renamed = true;
                continue;
            }
            refused(&results, "upsert", ACCOUNTS)?;
            break results;
        };
        let crm_id = results.first().and_then(|r| r.id()).ok_or_else(|| FlowError::Data("CRM answered the upsert without an id".into()))?.to_string();
        let mut account = body.clone();
        account["id"] = json!(crm_id);
        let books_hash = Self::hash_of(&self.to_books, ctx, &account)?.unwrap_or_default();
        ctx.link(&RELATION, &crm_id, &books_id, Wrote::Both { crm: hash, books: books_hash });
        let mut me = crm_party(&account, None, &self.books_id_field);
        me.email_key = books_party(contact).email_key;
        ctx.remember(&[entry(System::Crm, ACCOUNTS, &me)]).await?;
        Ok(Outcome::Done(format!("created CRM account {crm_id}")))
    }

    // ---- shared ---------------------------------------------------------------------

    /// What a person decided on `record`'s review (of this flow), if anything applies now.
    async fn decided(&self, ctx: &mut Context<'_>, record: &RecordRef) -> Result<Option<Decided>, FlowError> {
        let Some(review) = ctx.last_review_of(NAME, record).await? else { return Ok(None) };
        Ok(match review.status {
            ReviewStatus::Open => Some(Decided::Wait(format!("waiting for review {} ({}): {}", review.id, review.kind.as_str(), review.reason))),
            ReviewStatus::Ignored => Some(Decided::Wait(format!("ignored on review {}", review.id))),
            ReviewStatus::Linked => review.chosen_id.map(Decided::Link),
            ReviewStatus::Created => Some(Decided::Create),
        })
    }

    /// Two or more candidates at one step (`found`, as that step saw them): `record` goes
    /// on the review list (of this flow, whichever flow asked), and nothing is written.
    async fn ambiguous(
        &self,
        ctx: &mut Context<'_>,
        record: &RecordRef,
        system: System,
        me: &Party,
        rule: Rule,
        found: &[Party],
    ) -> Result<Outcome, FlowError> {
        let why = match rule {
            Rule::Email => format!("same email {}", me.email_key.as_deref().unwrap_or_default()),
            Rule::Name => format!(
                "same name {:?}{}",
                me.name_key.as_deref().unwrap_or_default(),
                me.country_key.as_deref().map(|c| format!(" in {c}")).unwrap_or_default()
            ),
            other => format!("by {}", other.as_str()),
        };
        let mut candidates: Vec<Candidate> = Vec::new();
        for p in found {
            if !candidates.iter().any(|c| c.id == p.id) {
                candidates.push(Candidate { id: p.id.clone(), name: p.name.clone(), why: why.clone() });
            }
        }
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        let reason = format!("{} {} candidates by {}: {}", ids.len(), system.label(), rule.as_str(), ids.join(", "));
        let review = ctx.open_review_of(NAME, record, ReviewKind::Ambiguous, reason.clone(), candidates).await?;
        Ok(Outcome::Skipped(format!("not guessed: {reason}; on review {review}")))
    }

    /// A record is gone from `system`: reported (audit and review list) and, with
    /// `on_delete = "propagate"`, the linked record is made inactive (Books) or deleted
    /// (CRM).
    async fn gone(&self, ctx: &mut Context<'_>, system: System, id: &str, link: Option<Link>) -> Result<Outcome, FlowError> {
        let (module, other_system, other_module) = match system {
            System::Crm => (ACCOUNTS, System::Books, CONTACTS),
            System::Books => (CONTACTS, System::Crm, ACCOUNTS),
        };
        let what = format!("{} {module} {id} no longer exists", system.label());
        let Some(link) = link else {
            return Ok(Outcome::Skipped(format!("{what}; it was never linked")));
        };
        let other = match system {
            System::Crm => link.books_id.clone(),
            System::Books => link.crm_id.clone(),
        };
        if self.on_delete == OnDelete::Propagate {
            let done = match other_system {
                System::Books => {
                    let books = ctx.client().books();
                    ctx.set_books_active(CONTACTS, "contact_id", &other, false, books.set_contact_active(&other, false)).await?;
                    format!("marked Books contact {other} inactive")
                }
                System::Crm => {
                    let request = json!({"id": other});
                    let write = Write { system: System::Crm, module: ACCOUNTS, action: "delete", record_id: Some(&other), request: &request };
                    let crm = ctx.client().crm();
                    let results = ctx.write(write, crm.delete(ACCOUNTS, &[other.as_str()]), |_| Some(other.clone())).await?;
                    refused(&results, "delete", ACCOUNTS)?;
                    format!("deleted CRM account {other}")
                }
            };
            ctx.link(
                &RELATION,
                &link.crm_id,
                &link.books_id,
                Wrote::Both { crm: content_hash(&json!({"gone": id})), books: content_hash(&json!({"gone": id})) },
            );
            return Ok(Outcome::Done(format!("{what}: {done} (on_delete = propagate)")));
        }
        let candidate = Candidate { id: other.clone(), name: String::new(), why: format!("linked {} {other_module}", other_system.label()) };
        let review =
            ctx.open_review(ReviewKind::Deleted, format!("{what}; linked {} {other_module} {other} was kept", other_system.label()), vec![candidate]).await?;
        Ok(Outcome::Skipped(format!("{what}: reported on review {review}; {} {other_module} {other} kept (on_delete = report)", other_system.label())))
    }
}

/// What a person's decision on the review list says to do now.
enum Decided {
    /// Nothing yet (open) or nothing ever (ignored), with the reason.
    Wait(String),
    /// Link to this record.
    Link(String),
    /// Create a new record.
    Create,
}

/// The word of a name key Zoho's search is asked for: its longest (the most selective),
/// if it has two letters or more.
fn search_word(name_key: &str) -> Option<String> {
    name_key.split_whitespace().max_by_key(|w| w.len()).filter(|w| w.len() >= 2).map(str::to_string)
}

/// Whether names `a` and `b` are one name, one of them made unique with a ` (…)` suffix.
fn distinguished(a: &str, b: &str) -> bool {
    let suffixed = |long: &str, short: &str| long.strip_prefix(short).is_some_and(|rest| rest.starts_with(" (") && rest.ends_with(')'));
    a == b || suffixed(a, b) || suffixed(b, a)
}

/// The names of a payload's fields, for notes and outcomes.
fn names(fields: &Map<String, Value>) -> String {
    if fields.is_empty() { "none".into() } else { fields.keys().map(String::as_str).collect::<Vec<_>>().join(", ") }
}

/// A CRM write's per-record refusal as a data error carrying Zoho's code and message.
fn refused(results: &[zoho::crm::models::WriteResult], action: &str, module: &str) -> Result<(), FlowError> {
    match results.iter().find(|r| !r.is_success()) {
        Some(r) => Err(FlowError::Data(format!("CRM refused the {action} of {module}: {} {} {}", r.code, r.message, r.details))),
        None if results.is_empty() => Err(FlowError::Data(format!("CRM answered the {action} of {module} with no result"))),
        None => Ok(()),
    }
}

impl Flow for CustomerSync {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        async move {
            let record = ctx.record().clone();
            match (record.system, record.module.as_str()) {
                (System::Crm, ACCOUNTS) => self.account_changed(ctx).await,
                (System::Crm, "Contacts") => persons::contact_changed(ctx).await,
                (System::Books, CONTACTS) => self.customer_changed(ctx).await,
                (system, module) => Err(FlowError::Data(format!(
                    "{NAME} syncs CRM Accounts and Contacts and Books contacts, not {} {module} (check the routes in the config)",
                    system.label()
                ))),
            }
        }
        .boxed()
    }

    fn shape(&self) -> FlowShape {
        FlowShape {
            source: Some((System::Crm, ACCOUNTS)),
            target: Some((System::Books, CONTACTS)),
            mapping: Some(self.to_books.clone()),
            target_fields: CONTACT_FIELDS,
            unique_keys: vec![(format!("flows.{NAME}.crm_id_field"), self.crm_id_field.clone())],
        }
    }
}

/// The Books contact fields a mapping may write (Books v3 contacts: create and update).
const CONTACT_FIELDS: &[TargetField] = &[
    TargetField { name: "contact_name", kind: FieldKind::Text, mandatory: true },
    TargetField { name: "company_name", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "contact_type", kind: FieldKind::OneOf(&["customer", "vendor"]), mandatory: false },
    TargetField { name: "customer_sub_type", kind: FieldKind::OneOf(&["business", "individual"]), mandatory: false },
    TargetField { name: "website", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "billing_address", kind: FieldKind::Object, mandatory: false },
    TargetField { name: "shipping_address", kind: FieldKind::Object, mandatory: false },
    TargetField { name: "currency_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "payment_terms", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "payment_terms_label", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "owner_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "notes", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "custom_fields", kind: FieldKind::List, mandatory: false },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluate(mapping: &Mapping, source: &Value) -> Value {
        let input = Input { source, related: &Value::Null, now: jiff::Timestamp::UNIX_EPOCH };
        match mapping.evaluate(&input).unwrap() {
            mapping::Outcome::Payload(p) => Value::Object(p),
            mapping::Outcome::Skipped(r) => panic!("skipped: {r}"),
        }
    }

    #[test]
    fn the_shipped_mappings_carry_name_addresses_phone_and_website_both_ways() {
        let flow = CustomerSync::default();
        let account = json!({
            "id": "1", "Account_Name": " Acme, Inc. ", "Phone": "555", "Website": "acme.test",
            "Billing_Street": "1 Main St", "Billing_City": "Springfield", "Billing_Country": "USA",
        });
        let contact = evaluate(&flow.to_books, &account);
        assert_eq!(contact["contact_name"], "Acme, Inc.");
        assert_eq!(
            contact["billing_address"],
            json!({"address": "1 Main St", "city": "Springfield", "state": "", "zip": "", "country": "USA", "phone": "555"})
        );
        assert_eq!(contact["shipping_address"]["address"], "");
        // And back: the Books contact maps to the account it came from.
        let back = evaluate(&flow.to_crm, &contact);
        assert_eq!(back["Account_Name"], "Acme, Inc.");
        assert_eq!((back["Billing_Street"].as_str(), back["Billing_Country"].as_str(), back["Phone"].as_str()), (Some("1 Main St"), Some("USA"), Some("555")));
        // A vendor is not a customer.
        let input = Input { source: &json!({"contact_type": "vendor", "contact_name": "V"}), related: &Value::Null, now: jiff::Timestamp::UNIX_EPOCH };
        assert!(matches!(flow.to_crm.evaluate(&input).unwrap(), mapping::Outcome::Skipped(_)));
    }

    #[test]
    fn config_sections_override_and_bad_ownership_fails_naming_the_field() {
        let text = "policy = \"ownership\"\ncrm_owns = [\"website\"]\n[to_books.map]\nwebsite = 'upper(text(source.Website))'\n";
        let config: CustomerSyncConfig = toml::from_str(text).unwrap();
        let flow = config.build(&mapping::Tables::new(), Some(text)).unwrap();
        assert_eq!(flow.policy, Policy::Ownership);
        assert_eq!(evaluate(&flow.to_books, &json!({"Account_Name": "A", "Website": "abc"}))["website"], "ABC");
        let bad: CustomerSyncConfig = toml::from_str("crm_owns = [\"fax\"]").unwrap();
        let e = bad.build(&mapping::Tables::new(), None).unwrap_err();
        assert_eq!(e.path, "flows.customer_sync.crm_owns");
        assert!(e.message.contains("\"fax\""), "{e}");
        let bad: CustomerSyncConfig = toml::from_str("[to_crm.map]\nPhone = 'source.phone +'\n").unwrap();
        assert_eq!(bad.build(&mapping::Tables::new(), None).unwrap_err().path, "flows.customer_sync.to_crm.map.Phone");
    }

    #[test]
    fn a_name_made_unique_is_still_the_same_name() {
        assert!(distinguished("Acme", "Acme (Spain)") && distinguished("Acme (Spain)", "Acme") && distinguished("Acme", "Acme"));
        assert!(!distinguished("Acme", "Acme Labs") && !distinguished("Acme", "Acme(Spain)") && !distinguished("Acme", "Acmes (x)"));
    }

    #[test]
    fn parties_read_both_sides() {
        let account = json!({"id": "7", "Account_Name": "Café Müller GmbH", "Billing_Country": "Deutschland", "Books_Contact_ID": "99"});
        let p = crm_party(&account, Some(" Ann@X.de "), "Books_Contact_ID");
        assert_eq!(
            (p.name_key.as_deref(), p.email_key.as_deref(), p.country_key.as_deref(), p.native_id.as_deref()),
            (Some("cafe muller"), Some("ann@x.de"), Some("de"), Some("99"))
        );
        let contact = json!({"contact_id": "99", "contact_name": "Cafe Muller (Germany)", "company_name": "Cafe Muller",
            "contact_persons": [{"email": "ann@x.de", "is_primary_contact": true}], "billing_address": {"country": "Germany"}, "zcrm_account_id": "7"});
        let q = books_party(&contact);
        assert!(p.same_name(&q));
        assert_eq!((q.email_key, q.native_id.as_deref()), (p.email_key.clone(), Some("7")));
    }
}
