//! `[flows.customer_sync]`: the settings and the two mappings, with the shipped defaults.

use serde::{Deserialize, Serialize};

use super::{CustomerSync, NAME};
use crate::mapping::{self, CompileError, CompileOptions, MappingSpec, Tables};

/// The shipped `[flows.customer_sync]` section. A user's section overrides it field by
/// field (each mapping field by field too).
pub const DEFAULTS: &str = r#"# CRM Accounts <-> Books contacts (customers), CRM Contacts <-> Books contact persons.
# Conflicts: "last_writer_wins" (the side changed last wins, by modified time) or
# "ownership" (a direction writes only the fields listed for it below).
policy = "last_writer_wins"
# A record deleted on one side: "report" (audit and review list; the other side stays
# as it is) or "propagate" (also mark the Books contact inactive, or delete the CRM
# account).
on_delete = "report"
# When no match is found, create the customer on the other side.
create_in_books = true
create_in_crm = true
# The Books contact custom field (unique) holding the CRM account id: the key of the
# one-call, retry-safe create.
crm_id_field = "cf_crm_account_id"
# The CRM Accounts field (unique) holding the Books contact id.
books_id_field = "Books_Contact_ID"
# With policy = "ownership": the Books fields written from CRM, and the CRM fields
# written from Books.
crm_owns = ["contact_name", "company_name", "website", "billing_address", "shipping_address"]
books_owns = ["Phone"]

# CRM Account -> Books contact.
[to_books]
when = 'present(source.Account_Name)'
optional = ["website"]

# Books contacts have no phone of their own: the account's phone is the billing
# address's. Currency, payment terms and owner need lookup tables of your ids
# ([tables.*] and lookup(...)): add them here when your CRM has those fields.
[to_books.map]
contact_name = 'text(source.Account_Name)'
company_name = 'text(source.Account_Name)'
contact_type = '"customer"'
website = 'text(source.Website)'
billing_address = '#{address: text(source.Billing_Street) ?? "", city: text(source.Billing_City) ?? "", state: text(source.Billing_State) ?? "", zip: text(source.Billing_Code) ?? "", country: text(source.Billing_Country) ?? "", phone: text(source.Phone) ?? ""}'
shipping_address = '#{address: text(source.Shipping_Street) ?? "", city: text(source.Shipping_City) ?? "", state: text(source.Shipping_State) ?? "", zip: text(source.Shipping_Code) ?? "", country: text(source.Shipping_Country) ?? ""}'

# Books contact -> CRM Account.
[to_crm]
when = 'source.contact_type != "vendor"'
optional = ["Phone", "Website"]

[to_crm.map]
Account_Name = 'text(source.company_name) ?? text(source.contact_name)'
Phone = 'text(source.billing_address?.phone)'
Website = 'text(source.website)'
Billing_Street = 'text(source.billing_address?.address) ?? ""'
Billing_City = 'text(source.billing_address?.city) ?? ""'
Billing_State = 'text(source.billing_address?.state) ?? ""'
Billing_Code = 'text(source.billing_address?.zip) ?? ""'
Billing_Country = 'text(source.billing_address?.country) ?? ""'
Shipping_Street = 'text(source.shipping_address?.address) ?? ""'
Shipping_City = 'text(source.shipping_address?.city) ?? ""'
Shipping_State = 'text(source.shipping_address?.state) ?? ""'
Shipping_Code = 'text(source.shipping_address?.zip) ?? ""'
Shipping_Country = 'text(source.shipping_address?.country) ?? ""'
"#;

/// How a conflict between the two sides is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The side whose record was modified last wins.
    LastWriterWins,
    /// Each direction writes only the fields it owns (`crm_owns`, `books_owns`).
    Ownership,
}

/// What a deletion on one side does on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Audit it and put it on the review list; the other side stays.
    Report,
    /// Also mark the Books contact inactive, or delete the CRM account.
    Propagate,
}

/// `[flows.customer_sync]` (over [`DEFAULTS`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerSyncConfig {
    /// Conflict policy (default `last_writer_wins`).
    pub policy: Option<Policy>,
    /// What a deletion does (default `report`).
    pub on_delete: Option<OnDelete>,
    /// Create a Books contact when a CRM account matches none (default true).
    pub create_in_books: Option<bool>,
    /// Create a CRM account when a Books customer matches none (default true).
    pub create_in_crm: Option<bool>,
    /// The Books contact custom field (unique) holding the CRM account id.
    pub crm_id_field: Option<String>,
    /// The CRM Accounts field (unique) holding the Books contact id.
    pub books_id_field: Option<String>,
    /// Books fields written from CRM under `ownership`.
    pub crm_owns: Option<Vec<String>>,
    /// CRM fields written from Books under `ownership`.
    pub books_owns: Option<Vec<String>>,
    /// CRM Account → Books contact mapping.
    pub to_books: MappingSpec,
    /// Books contact → CRM Account mapping.
    pub to_crm: MappingSpec,
}

impl CustomerSyncConfig {
    /// This section over `base`: each setting this one gives wins.
    fn over(&self, base: &CustomerSyncConfig) -> CustomerSyncConfig {
        CustomerSyncConfig {
            policy: self.policy.or(base.policy),
            on_delete: self.on_delete.or(base.on_delete),
            create_in_books: self.create_in_books.or(base.create_in_books),
            create_in_crm: self.create_in_crm.or(base.create_in_crm),
            crm_id_field: self.crm_id_field.clone().or_else(|| base.crm_id_field.clone()),
            books_id_field: self.books_id_field.clone().or_else(|| base.books_id_field.clone()),
            crm_owns: self.crm_owns.clone().or_else(|| base.crm_owns.clone()),
            books_owns: self.books_owns.clone().or_else(|| base.books_owns.clone()),
            to_books: base.to_books.overlay(&self.to_books),
            to_crm: base.to_crm.overlay(&self.to_crm),
        }
    }

    /// The flow as configured: this section over the shipped one, both mappings
    /// compiled (`text` is the config file, for exact error offsets).
    pub fn build(&self, tables: &Tables, text: Option<&str>) -> Result<CustomerSync, CompileError> {
        let shipped: CustomerSyncConfig = toml::from_str(DEFAULTS).map_err(|e| CompileError {
            path: format!("flows.{NAME}"),
            offset: None,
            message: format!("the shipped defaults do not parse (a bug): {e}"),
        })?;
        let c = self.over(&shipped);
        let options = CompileOptions { config_text: text, ..CompileOptions::default() };
        let to_books = mapping::compile_with(&c.to_books, &format!("{NAME}.to_books"), tables, &options)?;
        let to_crm = mapping::compile_with(&c.to_crm, &format!("{NAME}.to_crm"), tables, &options)?;
        let field = |name: &str, value: Option<String>| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| CompileError {
                path: format!("flows.{NAME}.{name}"),
                offset: None,
                message: "empty: it names the field holding the other system's id".into(),
            })
        };
        let crm_owns = c.crm_owns.unwrap_or_default();
        let books_owns = c.books_owns.unwrap_or_default();
        for (name, owned, mapping) in [("crm_owns", &crm_owns, &to_books), ("books_owns", &books_owns, &to_crm)] {
            let targets = mapping.target_fields();
            if let Some(unknown) = owned.iter().find(|f| !targets.contains(f)) {
                return Err(CompileError {
                    path: format!("flows.{NAME}.{name}"),
                    offset: None,
                    message: format!("{unknown:?} is not a field of its mapping (fields: {})", targets.join(", ")),
                });
            }
        }
        let books_id_field = field("books_id_field", c.books_id_field)?;
        Ok(CustomerSync {
            account_fields: super::account_fields(&to_books, &to_crm, &books_id_field),
            policy: c.policy.unwrap_or(Policy::LastWriterWins),
            on_delete: c.on_delete.unwrap_or(OnDelete::Report),
            create_in_books: c.create_in_books.unwrap_or(true),
            create_in_crm: c.create_in_crm.unwrap_or(true),
            crm_id_field: field("crm_id_field", c.crm_id_field)?,
            books_id_field,
            crm_owns,
            books_owns,
            to_books,
            to_crm,
        })
    }
}
