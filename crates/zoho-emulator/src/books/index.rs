//! Derived lookups over an organisation's records, so Books stays fast at the size of
//! real accounts (100,000 contacts and more).
//!
//! Without them a contact list sorts every contact, a contact's row sums every invoice,
//! payment and credit note of the organisation, and every create scans for a taken
//! number or unique custom value, which makes bulk creates quadratic. The indexes here
//! are kept in step by the `Org::put_*`/`Org::remove_*` methods below, which every write
//! goes through.
//!
//! They are derived data: `#[serde(skip)]`, so a state snapshot holds only the records
//! (and the few unique-value maps `store` already serialised), and they are rebuilt from
//! the records on first use after a snapshot is restored ([`Org::ensure_indexes`], called
//! by `with_org`, the tick and every write).

use std::collections::{BTreeSet, HashMap};

use super::store::{Contact, CreditNote, CustomValue, Estimate, Invoice, Item, Org, Payment};

/// The documents of one customer (ids), so balances and "has transactions" read only
/// that customer's records.
#[derive(Debug, Default, Clone)]
pub struct CustomerDocs {
    /// Invoice ids.
    pub invoices: BTreeSet<String>,
    /// Customer payment ids.
    pub payments: BTreeSet<String>,
    /// Credit note ids.
    pub creditnotes: BTreeSet<String>,
    /// Estimate ids.
    pub estimates: BTreeSet<String>,
}

impl CustomerDocs {
    fn is_empty(&self) -> bool {
        self.invoices.is_empty() && self.payments.is_empty() && self.creditnotes.is_empty() && self.estimates.is_empty()
    }
}

/// Which document set of a customer a record belongs to.
#[derive(Clone, Copy)]
enum DocKind {
    Invoice,
    Payment,
    CreditNote,
    Estimate,
}

/// Every derived lookup of an organisation.
#[derive(Debug, Default, Clone)]
pub struct Indexes {
    built: bool,
    /// Contacts by `(lower-cased company_name, id)`: the `company_name` sort.
    pub contacts_by_company: BTreeSet<(String, String)>,
    /// Contacts by `(primary person's email, id)`: the `email` sort.
    pub contacts_by_email: BTreeSet<(Option<String>, String)>,
    /// Contacts by `(created ms, id)`.
    pub contacts_by_created: BTreeSet<(i64, String)>,
    /// Contacts by `(last modified ms, id)`.
    pub contacts_by_modified: BTreeSet<(i64, String)>,
    /// Lower-cased email of any contact person → contact ids (the `email=` filter).
    pub contacts_by_any_email: HashMap<String, BTreeSet<String>>,
    /// `zcrm_account_id` → contact ids.
    pub contacts_by_zcrm_account: HashMap<String, BTreeSet<String>>,
    /// `zcrm_contact_id` → contact ids.
    pub contacts_by_zcrm_contact: HashMap<String, BTreeSet<String>>,
    /// Customer id → its documents.
    pub customers: HashMap<String, CustomerDocs>,
    /// Estimate number → estimate ids.
    pub estimate_numbers: HashMap<String, BTreeSet<String>>,
    /// Credit note number → credit note ids.
    pub creditnote_numbers: HashMap<String, BTreeSet<String>>,
    /// `(entity, customfield_id, value)` → record ids holding that value.
    pub custom_values: HashMap<(&'static str, String, String), BTreeSet<String>>,
}

fn add(map: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if !key.is_empty() {
        map.entry(key.to_string()).or_default().insert(id.to_string());
    }
}

fn drop_from(map: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if let Some(ids) = map.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

/// The lower-cased emails of a contact's persons, each once.
fn person_emails(c: &Contact) -> BTreeSet<String> {
    c.contact_persons.iter().filter(|p| !p.email.is_empty()).map(|p| p.email.to_lowercase()).collect()
}

impl Indexes {
    fn add_contact(&mut self, c: &Contact) {
        let id = &c.contact_id;
        self.contacts_by_company.insert((c.company_name.to_lowercase(), id.clone()));
        self.contacts_by_email.insert((c.primary().map(|p| p.email.clone()), id.clone()));
        self.contacts_by_created.insert((c.created_ms, id.clone()));
        self.contacts_by_modified.insert((c.modified_ms, id.clone()));
        for e in person_emails(c) {
            add(&mut self.contacts_by_any_email, &e, id);
        }
        add(&mut self.contacts_by_zcrm_account, &c.zcrm_account_id, id);
        add(&mut self.contacts_by_zcrm_contact, &c.zcrm_contact_id, id);
        self.add_custom("contacts", &c.custom_fields, id);
    }

    fn drop_contact(&mut self, c: &Contact) {
        let id = &c.contact_id;
        self.contacts_by_company.remove(&(c.company_name.to_lowercase(), id.clone()));
        self.contacts_by_email.remove(&(c.primary().map(|p| p.email.clone()), id.clone()));
        self.contacts_by_created.remove(&(c.created_ms, id.clone()));
        self.contacts_by_modified.remove(&(c.modified_ms, id.clone()));
        for e in person_emails(c) {
            drop_from(&mut self.contacts_by_any_email, &e, id);
        }
        drop_from(&mut self.contacts_by_zcrm_account, &c.zcrm_account_id, id);
        drop_from(&mut self.contacts_by_zcrm_contact, &c.zcrm_contact_id, id);
        self.drop_custom("contacts", &c.custom_fields, id);
    }

    fn add_custom(&mut self, entity: &'static str, values: &[CustomValue], id: &str) {
        for v in values.iter().filter(|v| !v.value.is_empty()) {
            self.custom_values.entry((entity, v.customfield_id.clone(), v.value.clone())).or_default().insert(id.to_string());
        }
    }

    fn drop_custom(&mut self, entity: &'static str, values: &[CustomValue], id: &str) {
        for v in values {
            let key = (entity, v.customfield_id.clone(), v.value.clone());
            if let Some(ids) = self.custom_values.get_mut(&key) {
                ids.remove(id);
                if ids.is_empty() {
                    self.custom_values.remove(&key);
                }
            }
        }
    }

    fn docs_of(&mut self, customer: &str, kind: DocKind) -> &mut BTreeSet<String> {
        let docs = self.customers.entry(customer.to_string()).or_default();
        match kind {
            DocKind::Invoice => &mut docs.invoices,
            DocKind::Payment => &mut docs.payments,
            DocKind::CreditNote => &mut docs.creditnotes,
            DocKind::Estimate => &mut docs.estimates,
        }
    }

    fn add_doc(&mut self, customer: &str, kind: DocKind, id: &str) {
        self.docs_of(customer, kind).insert(id.to_string());
    }

    fn drop_doc(&mut self, customer: &str, kind: DocKind, id: &str) {
        self.docs_of(customer, kind).remove(id);
        if self.customers.get(customer).is_some_and(CustomerDocs::is_empty) {
            self.customers.remove(customer);
        }
    }

    /// The documents of a customer (empty when it has none).
    pub fn customer(&self, customer_id: &str) -> Option<&CustomerDocs> {
        self.customers.get(customer_id)
    }

    /// Record ids of `entity` whose custom field `customfield_id` holds `value`.
    pub fn holding(&self, entity: &'static str, customfield_id: &str, value: &str) -> impl Iterator<Item = &String> {
        self.custom_values.get(&(entity, customfield_id.to_string(), value.to_string())).into_iter().flatten()
    }
}

fn entity_key(entity: &str) -> &'static str {
    match entity {
        "contacts" => "contacts",
        "items" => "items",
        "invoices" => "invoices",
        "estimates" => "estimates",
        "creditnotes" => "creditnotes",
        _ => "other",
    }
}

impl Org {
    /// Builds the indexes from the records if they are not built (a fresh or just
    /// restored organisation). Cheap when they are.
    pub fn ensure_indexes(&mut self) {
        if self.idx.built && self.idx.contacts_by_created.len() == self.contacts.len() {
            return;
        }
        let mut idx = Indexes { built: true, ..Indexes::default() };
        for c in self.contacts.values() {
            idx.add_contact(c);
        }
        for i in self.items.values() {
            idx.add_custom("items", &i.custom_fields, &i.item_id);
        }
        for i in self.invoices.values() {
            idx.add_doc(&i.doc.customer_id, DocKind::Invoice, &i.invoice_id);
            idx.add_custom("invoices", &i.doc.custom_fields, &i.invoice_id);
        }
        for p in self.payments.values() {
            idx.add_doc(&p.customer_id, DocKind::Payment, &p.payment_id);
        }
        for n in self.creditnotes.values() {
            idx.add_doc(&n.doc.customer_id, DocKind::CreditNote, &n.creditnote_id);
            idx.add_custom("creditnotes", &n.doc.custom_fields, &n.creditnote_id);
            add(&mut idx.creditnote_numbers, &n.creditnote_number, &n.creditnote_id);
        }
        for e in self.estimates.values() {
            idx.add_doc(&e.doc.customer_id, DocKind::Estimate, &e.estimate_id);
            idx.add_custom("estimates", &e.doc.custom_fields, &e.estimate_id);
            add(&mut idx.estimate_numbers, &e.estimate_number, &e.estimate_id);
        }
        self.idx = idx;
    }

    /// The indexes (built by `ensure_indexes`, which every entry point calls).
    pub(crate) fn idx(&self) -> &Indexes {
        &self.idx
    }

    /// Stores a contact (new or changed) and indexes it. Name and person maps are the
    /// caller's (`contacts::store` checks the name first).
    pub fn put_contact(&mut self, c: Contact) {
        self.ensure_indexes();
        if let Some(old) = self.contacts.get(&c.contact_id) {
            self.idx.drop_contact(old);
        }
        self.idx.add_contact(&c);
        self.contacts.insert(c.contact_id.clone(), c);
    }

    /// Removes a contact and its index entries.
    pub fn remove_contact(&mut self, id: &str) -> Option<Contact> {
        self.ensure_indexes();
        let c = self.contacts.remove(id)?;
        self.idx.drop_contact(&c);
        Some(c)
    }

    /// Stores an item (new or changed) and indexes its custom values.
    pub fn put_item(&mut self, i: Item) {
        self.ensure_indexes();
        if let Some(old) = self.items.get(&i.item_id) {
            self.idx.drop_custom("items", &old.custom_fields, &old.item_id);
        }
        self.idx.add_custom("items", &i.custom_fields, &i.item_id);
        self.items.insert(i.item_id.clone(), i);
    }

    /// Removes an item.
    pub fn remove_item(&mut self, id: &str) -> Option<Item> {
        self.ensure_indexes();
        let i = self.items.remove(id)?;
        self.idx.drop_custom("items", &i.custom_fields, id);
        Some(i)
    }

    /// Stores an invoice (new or changed) and indexes it under its customer.
    pub fn put_invoice(&mut self, inv: Invoice) {
        self.ensure_indexes();
        if let Some(old) = self.invoices.get(&inv.invoice_id) {
            self.idx.drop_doc(&old.doc.customer_id, DocKind::Invoice, &old.invoice_id);
            self.idx.drop_custom("invoices", &old.doc.custom_fields, &old.invoice_id);
        }
        self.idx.add_doc(&inv.doc.customer_id, DocKind::Invoice, &inv.invoice_id);
        self.idx.add_custom("invoices", &inv.doc.custom_fields, &inv.invoice_id);
        self.invoices.insert(inv.invoice_id.clone(), inv);
    }

    /// Removes an invoice.
    pub fn remove_invoice(&mut self, id: &str) -> Option<Invoice> {
        self.ensure_indexes();
        let inv = self.invoices.remove(id)?;
        self.idx.drop_doc(&inv.doc.customer_id, DocKind::Invoice, id);
        self.idx.drop_custom("invoices", &inv.doc.custom_fields, id);
        Some(inv)
    }

    /// Stores a payment (new or changed) under its customer.
    pub fn put_payment(&mut self, p: Payment) {
        self.ensure_indexes();
        if let Some(old) = self.payments.get(&p.payment_id) {
            self.idx.drop_doc(&old.customer_id, DocKind::Payment, &old.payment_id);
        }
        self.idx.add_doc(&p.customer_id, DocKind::Payment, &p.payment_id);
        self.payments.insert(p.payment_id.clone(), p);
    }

    /// Removes a payment.
    pub fn remove_payment(&mut self, id: &str) -> Option<Payment> {
        self.ensure_indexes();
        let p = self.payments.remove(id)?;
        self.idx.drop_doc(&p.customer_id, DocKind::Payment, id);
        Some(p)
    }

    /// Stores a credit note (new or changed): customer, number and custom values.
    pub fn put_creditnote(&mut self, n: CreditNote) {
        self.ensure_indexes();
        if let Some(old) = self.creditnotes.get(&n.creditnote_id) {
            self.idx.drop_doc(&old.doc.customer_id, DocKind::CreditNote, &old.creditnote_id);
            self.idx.drop_custom("creditnotes", &old.doc.custom_fields, &old.creditnote_id);
            drop_from(&mut self.idx.creditnote_numbers, &old.creditnote_number, &old.creditnote_id);
        }
        self.idx.add_doc(&n.doc.customer_id, DocKind::CreditNote, &n.creditnote_id);
        self.idx.add_custom("creditnotes", &n.doc.custom_fields, &n.creditnote_id);
        add(&mut self.idx.creditnote_numbers, &n.creditnote_number, &n.creditnote_id);
        self.creditnotes.insert(n.creditnote_id.clone(), n);
    }

    /// Removes a credit note.
    pub fn remove_creditnote(&mut self, id: &str) -> Option<CreditNote> {
        self.ensure_indexes();
        let n = self.creditnotes.remove(id)?;
        self.idx.drop_doc(&n.doc.customer_id, DocKind::CreditNote, id);
        self.idx.drop_custom("creditnotes", &n.doc.custom_fields, id);
        drop_from(&mut self.idx.creditnote_numbers, &n.creditnote_number, id);
        Some(n)
    }

    /// Stores an estimate (new or changed): customer, number and custom values.
    pub fn put_estimate(&mut self, e: Estimate) {
        self.ensure_indexes();
        if let Some(old) = self.estimates.get(&e.estimate_id) {
            self.idx.drop_doc(&old.doc.customer_id, DocKind::Estimate, &old.estimate_id);
            self.idx.drop_custom("estimates", &old.doc.custom_fields, &old.estimate_id);
            drop_from(&mut self.idx.estimate_numbers, &old.estimate_number, &old.estimate_id);
        }
        self.idx.add_doc(&e.doc.customer_id, DocKind::Estimate, &e.estimate_id);
        self.idx.add_custom("estimates", &e.doc.custom_fields, &e.estimate_id);
        add(&mut self.idx.estimate_numbers, &e.estimate_number, &e.estimate_id);
        self.estimates.insert(e.estimate_id.clone(), e);
    }

    /// Removes an estimate.
    pub fn remove_estimate(&mut self, id: &str) -> Option<Estimate> {
        self.ensure_indexes();
        let e = self.estimates.remove(id)?;
        self.idx.drop_doc(&e.doc.customer_id, DocKind::Estimate, id);
        self.idx.drop_custom("estimates", &e.doc.custom_fields, id);
        drop_from(&mut self.idx.estimate_numbers, &e.estimate_number, id);
        Some(e)
    }

    /// Whether an estimate other than `except` has `number`.
    pub fn estimate_number_taken(&self, number: &str, except: &str) -> bool {
        self.idx.estimate_numbers.get(number).is_some_and(|ids| ids.iter().any(|id| id != except))
    }

    /// Whether a credit note has `number`.
    pub fn creditnote_number_taken(&self, number: &str) -> bool {
        self.idx.creditnote_numbers.contains_key(number)
    }

    /// The first record (lowest id) of `entity` holding `value` in custom field
    /// `customfield_id`, other than `except`.
    pub fn custom_holder(&self, entity: &str, customfield_id: &str, value: &str, except: Option<&str>) -> Option<&String> {
        self.idx.holding(entity_key(entity), customfield_id, value).find(|id| Some(id.as_str()) != except)
    }
}
