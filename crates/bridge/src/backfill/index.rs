//! The index phase: both sides read page by page from Zoho into the store's directory,
//! with the keys the live flow computes ([`customer_sync::crm_party`] and
//! [`customer_sync::books_party`]), so that deciding is a look-up in the store.
//!
//! Memory stays flat: a page is read, written to the directory and dropped. An account's
//! email is its oldest contact's: CRM Contacts are read newest first and each page sets
//! the email of the accounts it names (the oldest contact of the page winning), so the
//! last write per account is its oldest contact's, with nothing kept across pages (ties
//! on `Created_Time` go by id, as the flow orders them: the list gives equal times in
//! descending id order, the emulator like CRM). The Books list has no billing address:
//! the few contacts whose name a CRM account also has (the name step needs their
//! country) are read one by one.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::Value;
use zoho::{
    books::ListQuery,
    crm::records::{ListParams, SortOrder},
};

use super::{Backfill, BackfillError, PAGE};
use crate::{
    flows::{catalog_sync, customer_sync},
    matching::{self, Party},
    store::{DirectoryEntry, Key, Store, System},
};

/// CRM module of customers.
pub const ACCOUNTS: &str = "Accounts";
/// Books entity of customers.
pub const CONTACTS: &str = "contacts";
/// Books entity of items.
pub const ITEMS: &str = "items";
/// Books contacts read at once for their billing country.
const DETAIL_READS: usize = 8;

/// A text value at `pointer`, trimmed, if not empty.
pub fn text<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
    record.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn entries(system: System, module: &str, parties: Vec<Party>) -> Vec<DirectoryEntry> {
    parties.into_iter().map(|party| DirectoryEntry { system, module: module.to_string(), party }).collect()
}

impl<S: Store> Backfill<S> {
    fn now_ms(&self) -> i64 {
        crate::flows::now_ms()
    }

    /// CRM Accounts into the directory (no email yet: [`Backfill::index_emails`] sets it).
    pub(super) async fn index_accounts(&self) -> Result<u64, BackfillError> {
        let crm = self.client.crm();
        let total = crm.count(ACCOUNTS).await.ok();
        self.progress.phase("index CRM accounts", total);
        let field = self.customers.books_id_field().to_string();
        let params = ListParams::new(["id", "Account_Name", "Billing_Country", field.as_str()]).sort("id", SortOrder::Asc);
        let mut pages = std::pin::pin!(crm.list_pages(ACCOUNTS, params));
        let mut n = 0;
        while let Some(page) = pages.try_next().await? {
            let parties = page.into_iter().map(|row| customer_sync::crm_party(&Value::Object(row), None, &field)).collect();
            let rows = entries(System::Crm, ACCOUNTS, parties);
            self.store.put_directory(&self.connection, &rows, self.now_ms()).await?;
            n += rows.len() as u64;
            self.progress.advance(rows.len() as u64);
        }
        Ok(n)
    }

    /// Each account's email: its oldest contact's (CRM Contacts newest first, the last
    /// write per account winning).
    pub(super) async fn index_emails(&self) -> Result<u64, BackfillError> {
        let crm = self.client.crm();
        let total = crm.count("Contacts").await.ok();
        self.progress.phase("index CRM contacts (account emails)", total);
        let params = ListParams::new(["id", "Email", "Account_Name", "Created_Time"]).sort("Created_Time", SortOrder::Desc);
        let mut pages = std::pin::pin!(crm.list_pages("Contacts", params));
        let mut n = 0;
        while let Some(page) = pages.try_next().await? {
            let count = page.len() as u64;
            // Per account, the page's oldest contact (by time, then id, as the flow sorts).
            let mut oldest: HashMap<String, (String, String, Option<String>)> = HashMap::new();
            for row in page {
                let row = Value::Object(row);
                let (Some(account), Some(id)) = (text(&row, "/Account_Name/id"), text(&row, "/id")) else { continue };
                let at = text(&row, "/Created_Time").unwrap_or_default().to_string();
                let email = text(&row, "/Email").and_then(matching::email_key);
                let candidate = (at, id.to_string(), email);
                match oldest.get_mut(account) {
                    Some(have) if (&candidate.0, &candidate.1) >= (&have.0, &have.1) => {}
                    Some(have) => *have = candidate,
                    None => {
                        oldest.insert(account.to_string(), candidate);
                    }
                }
            }
            let keys: Vec<(String, Option<String>)> = oldest.into_iter().map(|(account, (_, _, email))| (account, email)).collect();
            self.store.set_email_keys(&self.connection, System::Crm, ACCOUNTS, &keys, self.now_ms()).await?;
            n += count;
            self.progress.advance(count);
        }
        Ok(n)
    }

    /// Books customers into the directory; those whose name a CRM account has are read
    /// in full for their billing country.
    pub(super) async fn index_customers(&self) -> Result<u64, BackfillError> {
        self.progress.phase("index Books customers", None);
        let books = self.client.books();
        // Oldest first: a customer created while this runs lands on a later page instead
        // of shifting the pages already read.
        let query = ListQuery::new().param("contact_type", "customer").sort("created_time", true);
        let list = books.list::<Value>("/books/v3/contacts", "contacts", query);
        let mut pages = std::pin::pin!(list.try_chunks(PAGE as usize).map_err(|e| e.1));
        let mut n = 0;
        while let Some(page) = pages.try_next().await? {
            let mut parties: Vec<Party> = page.iter().map(customer_sync::books_party).collect();
            // The name step compares countries, which the list does not give.
            let names: Vec<Key<'_>> = parties.iter().filter(|p| p.country_key.is_none()).filter_map(|p| p.name_key.as_deref().map(Key::Name)).collect();
            let twins = self.store.find_directory_any(&self.connection, System::Crm, ACCOUNTS, &names).await?;
            let twin_names: std::collections::HashSet<String> = twins.into_iter().filter_map(|e| e.party.name_key).collect();
            let wanted: Vec<(usize, String)> = parties
                .iter()
                .enumerate()
                .filter(|(_, p)| p.country_key.is_none() && p.name_key.as_ref().is_some_and(|k| twin_names.contains(k)))
                .map(|(i, p)| (i, p.id.clone()))
                .collect();
            let details: Vec<(usize, Option<Value>)> = stream::iter(wanted)
                .map(|(i, id)| {
                    let books = books.clone();
                    async move {
                        match books.contact(&id).await {
                            Ok(c) => Ok((i, Some(serde_json::to_value(c).unwrap_or(Value::Null)))),
                            Err(e) if e.status() == Some(404) => Ok((i, None)),
                            Err(e) => Err(e),
                        }
                    }
                })
                .buffer_unordered(DETAIL_READS)
                .try_collect()
                .await?;
            for (i, detail) in details {
                if let Some(detail) = detail {
                    parties[i] = customer_sync::books_party(&detail);
                }
            }
            let rows = entries(System::Books, CONTACTS, parties);
            self.store.put_directory(&self.connection, &rows, self.now_ms()).await?;
            n += rows.len() as u64;
            self.progress.advance(rows.len() as u64);
        }
        Ok(n)
    }

    /// Books items into the directory: for items the name key is the SKU (trimmed,
    /// lower case: Books compares SKUs so) and the native value the custom field holding
    /// the CRM product id.
    pub(super) async fn index_items(&self) -> Result<u64, BackfillError> {
        self.progress.phase("index Books items", None);
        let list = self.client.books().list::<Value>("/books/v3/items", "items", ListQuery::new().sort("created_time", true));
        let mut pages = std::pin::pin!(list.try_chunks(PAGE as usize).map_err(|e| e.1));
        let mut n = 0;
        while let Some(page) = pages.try_next().await? {
            let parties = page.iter().map(|item| self.item_party(item)).collect();
            let rows = entries(System::Books, ITEMS, parties);
            self.store.put_directory(&self.connection, &rows, self.now_ms()).await?;
            n += rows.len() as u64;
            self.progress.advance(rows.len() as u64);
        }
        Ok(n)
    }

    /// A Books item as the catalog decision sees it.
    fn item_party(&self, item: &Value) -> Party {
        Party {
            id: text(item, "/item_id").unwrap_or_default().to_string(),
            name: text(item, "/name").unwrap_or_default().to_string(),
            email_key: None,
            name_key: text(item, "/sku").map(sku_key),
            country_key: None,
            native_id: catalog_sync::custom_field(item, &self.catalog_id_field).map(str::to_string),
        }
    }
}

/// A SKU as compared: trimmed, lower case.
pub fn sku_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}
