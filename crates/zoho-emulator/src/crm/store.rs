//! Where CRM records live: per-module maps keyed by id, with sort indexes.
//!
//! Records keep their fields as the JSON Zoho returns (lookups already `{name,id}`,
//! times already rendered), so reads are a lookup and a clone. Ids are `u64` internally
//! and 19-digit strings on the wire. The sort indexes are derived data: they are not
//! serialised and are rebuilt on first use after a snapshot is restored.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The first id handed out; Zoho ids are 19-digit numbers.
pub const FIRST_ID: u64 = 5_725_767_000_000_400_000;

/// A CRM user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// Id.
    pub id: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Role name.
    pub role: String,
    /// Profile name.
    pub profile: String,
    /// The user the API token belongs to.
    pub current: bool,
}

impl User {
    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// One enabled currency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Currency {
    /// Id.
    pub id: String,
    /// ISO code.
    pub iso_code: String,
    /// Name.
    pub name: String,
    /// Symbol.
    pub symbol: String,
    /// Units of this currency per unit of the base currency, as a decimal string.
    pub exchange_rate: String,
    /// Decimal places.
    pub decimal_places: u32,
    /// The org's home currency.
    pub is_base: bool,
}

/// The organisation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Org {
    /// Org id.
    pub id: String,
    /// Company name.
    pub company_name: String,
    /// `zgid`.
    pub zgid: String,
    /// Time zone name.
    pub time_zone: String,
    /// Base currency ISO code.
    pub currency: String,
    /// Country.
    pub country: String,
    /// Country code.
    pub country_code: String,
    /// Primary email.
    pub primary_email: String,
    /// When the org was created (ms).
    pub created_ms: i64,
}

/// One record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Numeric id.
    pub id: u64,
    /// Created_Time in ms.
    pub created_ms: i64,
    /// Modified_Time in ms.
    pub modified_ms: i64,
    /// Every field as Zoho returns it (including `id`, `Created_Time`, `Owner`, …).
    pub fields: Map<String, Value>,
}

impl Record {
    /// A field's value as text, if it is a string.
    pub fn text(&self, api_name: &str) -> Option<&str> {
        self.fields.get(api_name).and_then(Value::as_str)
    }
}

/// A record that was deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeletedRecord {
    /// Id.
    pub id: u64,
    /// Its name field at deletion.
    pub display_name: Option<String>,
    /// Who created it `{name,id}`.
    pub created_by: Value,
    /// Who deleted it `{name,id}`.
    pub deleted_by: Value,
    /// When, ms.
    pub deleted_ms: i64,
}

/// A product related to a deal or a price book, with its price there.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductLink {
    /// The product.
    pub product_id: u64,
    /// Quantity (deals), decimal string.
    pub quantity: Option<String>,
    /// Price in the deal or the price book, decimal string.
    pub list_price: Option<String>,
    /// Discount on the line (deals), an amount in the deal's currency, decimal string.
    pub discount: Option<String>,
}

/// The records of one module.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModuleStore {
    /// Live records by id.
    pub records: BTreeMap<u64, Record>,
    /// Deleted records, oldest first.
    pub deleted: Vec<DeletedRecord>,
    /// Related products (Deals, Price_Books) by record id.
    pub products: BTreeMap<u64, Vec<ProductLink>>,
    #[serde(skip)]
    by_modified: BTreeSet<(i64, u64)>,
    #[serde(skip)]
    by_created: BTreeSet<(i64, u64)>,
}

/// The three orders a list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// By id.
    Id,
    /// By Created_Time, then id.
    CreatedTime,
    /// By Modified_Time, then id.
    ModifiedTime,
}

impl SortBy {
    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            SortBy::Id => "id",
            SortBy::CreatedTime => "Created_Time",
            SortBy::ModifiedTime => "Modified_Time",
        }
    }
}

impl ModuleStore {
    fn ensure_indexes(&mut self) {
        if self.by_modified.len() != self.records.len() || self.by_created.len() != self.records.len() {
            self.by_modified = self.records.values().map(|r| (r.modified_ms, r.id)).collect();
            self.by_created = self.records.values().map(|r| (r.created_ms, r.id)).collect();
        }
    }

    /// Stores a record (new or changed), keeping the indexes in step.
    pub fn put(&mut self, record: Record) {
        self.ensure_indexes();
        if let Some(old) = self.records.get(&record.id) {
            self.by_modified.remove(&(old.modified_ms, old.id));
            self.by_created.remove(&(old.created_ms, old.id));
        }
        self.by_modified.insert((record.modified_ms, record.id));
        self.by_created.insert((record.created_ms, record.id));
        self.records.insert(record.id, record);
    }

    /// Removes a record.
    pub fn remove(&mut self, id: u64) -> Option<Record> {
        self.ensure_indexes();
        let old = self.records.remove(&id)?;
        self.by_modified.remove(&(old.modified_ms, old.id));
        self.by_created.remove(&(old.created_ms, old.id));
        self.products.remove(&id);
        Some(old)
    }

    /// Records in the given order, starting strictly after `after` (a sort key from
    /// [`ModuleStore::key`]) when given.
    pub fn ordered(&mut self, sort: SortBy, descending: bool, after: Option<(i64, u64)>) -> Box<dyn Iterator<Item = &Record> + '_> {
        self.ensure_indexes();
        let records = &self.records;
        match sort {
            SortBy::Id => {
                let ids: Box<dyn Iterator<Item = &Record>> = match (descending, after) {
                    (false, None) => Box::new(records.values()),
                    (true, None) => Box::new(records.values().rev()),
                    (false, Some((_, id))) => Box::new(records.range(id.saturating_add(1)..).map(|(_, r)| r)),
                    (true, Some((_, id))) => Box::new(records.range(..id).rev().map(|(_, r)| r)),
                };
                ids
            }
            SortBy::CreatedTime | SortBy::ModifiedTime => {
                let index = if sort == SortBy::CreatedTime { &self.by_created } else { &self.by_modified };
                let keys: Box<dyn Iterator<Item = &(i64, u64)>> = match (descending, after) {
                    (false, None) => Box::new(index.iter()),
                    (true, None) => Box::new(index.iter().rev()),
                    (false, Some(k)) => Box::new(index.range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))),
                    (true, Some(k)) => Box::new(index.range(..k).rev()),
                };
                Box::new(keys.filter_map(move |(_, id)| records.get(id)))
            }
        }
    }

    /// The sort key of a record for `sort`.
    pub fn key(record: &Record, sort: SortBy) -> (i64, u64) {
        match sort {
            SortBy::Id => (0, record.id),
            SortBy::CreatedTime => (record.created_ms, record.id),
            SortBy::ModifiedTime => (record.modified_ms, record.id),
        }
    }
}

/// Everything the emulated CRM stores.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CrmData {
    /// The organisation.
    pub org: Org,
    /// Users; the first one with `current` is the API user.
    pub users: Vec<User>,
    /// Enabled currencies; one is the base.
    pub currencies: Vec<Currency>,
    /// Records per module API name.
    pub modules: BTreeMap<String, ModuleStore>,
    /// Notification channels.
    pub watches: Vec<crate::crm::notifications::Watch>,
    /// The next id to hand out.
    pub next_id: u64,
    /// The next quote number.
    pub next_quote_number: u64,
    /// Fields created through `POST /settings/fields`, per module API name.
    pub custom_fields: BTreeMap<String, Vec<crate::crm::fields::CustomField>>,
}

impl CrmData {
    /// A fresh id.
    pub fn new_id(&mut self) -> u64 {
        if self.next_id < FIRST_ID {
            self.next_id = FIRST_ID;
        }
        self.next_id += 1;
        self.next_id
    }

    /// The records of a module (created on first use).
    pub fn module_mut(&mut self, api_name: &str) -> &mut ModuleStore {
        self.modules.entry(api_name.to_string()).or_default()
    }

    /// A record by module and id.
    pub fn record(&self, module: &str, id: u64) -> Option<&Record> {
        self.modules.get(module)?.records.get(&id)
    }

    /// The user the API token belongs to.
    pub fn current_user(&self) -> User {
        self.users.iter().find(|u| u.current).or(self.users.first()).cloned().unwrap_or_default()
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The base currency.
    pub fn base_currency(&self) -> Option<&Currency> {
        self.currencies.iter().find(|c| c.is_base)
    }

    /// The fields a user created in `module`, oldest first.
    pub fn custom_fields(&self, module: &str) -> &[crate::crm::fields::CustomField] {
        self.custom_fields.get(module).map(Vec::as_slice).unwrap_or_default()
    }

    /// The kind of `module`'s field `api_name`, built in or created by a user.
    pub fn field_kind(&self, module: &crate::crm::schema::Module, api_name: &str) -> Option<crate::crm::schema::Kind> {
        module.field(api_name).map(|f| f.kind).or_else(|| self.custom_fields(module.api_name).iter().find(|f| f.api_name == api_name).map(|f| f.kind()))
    }

    /// A currency by ISO code.
    pub fn currency(&self, iso: &str) -> Option<&Currency> {
        self.currencies.iter().find(|c| c.iso_code == iso)
    }
}

/// Parses a 19-digit id string (or number) into `u64`.
pub fn parse_id(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}
