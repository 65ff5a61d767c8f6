//! CRM record and envelope types.
//!
//! Typed structs carry the fields the sync flows use; every other field (custom fields
//! included) lands in `extra` and is written back unchanged, so a read-modify-write
//! loses nothing. Money fields are [`Decimal`]s (see [`crate::money`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Any record of any module: its id and every field as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record id (absent on records not yet inserted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Every other field by API name.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Record {
    /// A field's value.
    pub fn get(&self, api_name: &str) -> Option<&Value> {
        self.fields.get(api_name)
    }

    /// A field's value as text.
    pub fn str(&self, api_name: &str) -> Option<&str> {
        self.fields.get(api_name).and_then(Value::as_str)
    }

    /// Sets a field.
    pub fn set(&mut self, api_name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.fields.insert(api_name.into(), value.into());
        self
    }
}

/// A lookup field: `{"name": "...", "id": "..."}` (Owner also has `email`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    /// Id of the referenced record.
    pub id: String,
    /// Display name (read only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other keys (`email` on Owner, `Product_Code` on products in line items…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Lookup {
    /// A lookup to write: only the id.
    pub fn id(id: impl Into<String>) -> Lookup {
        Lookup { id: id.into(), name: None, extra: Map::new() }
    }
}

/// A Deal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Deal_Name` (mandatory).
    #[serde(rename = "Deal_Name", default, skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
    /// `Stage` (mandatory).
    #[serde(rename = "Stage", default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `Amount`.
    #[serde(rename = "Amount", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// `Closing_Date` (`yyyy-MM-dd`).
    #[serde(rename = "Closing_Date", default, skip_serializing_if = "Option::is_none")]
    pub closing_date: Option<String>,
    /// `Account_Name` lookup.
    #[serde(rename = "Account_Name", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Lookup>,
    /// `Contact_Name` lookup.
    #[serde(rename = "Contact_Name", default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Lookup>,
    /// `Owner` lookup.
    #[serde(rename = "Owner", default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Lookup>,
    /// `Currency` ISO code (multi-currency orgs).
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `Modified_Time` (read only).
    #[serde(rename = "Modified_Time", default, skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An Account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Account_Name` (mandatory).
    #[serde(rename = "Account_Name", default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// `Phone`.
    #[serde(rename = "Phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `Website`.
    #[serde(rename = "Website", default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// `Owner` lookup.
    #[serde(rename = "Owner", default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Lookup>,
    /// `Modified_Time` (read only).
    #[serde(rename = "Modified_Time", default, skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<String>,
    /// Every other field (billing/shipping address parts, custom fields…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `First_Name`.
    #[serde(rename = "First_Name", default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// `Last_Name` (mandatory).
    #[serde(rename = "Last_Name", default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `Email`.
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `Phone`.
    #[serde(rename = "Phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `Account_Name` lookup.
    #[serde(rename = "Account_Name", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Lookup>,
    /// `Modified_Time` (read only).
    #[serde(rename = "Modified_Time", default, skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Product_Name` (mandatory).
    #[serde(rename = "Product_Name", default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// `Product_Code` (the SKU the catalogue sync keys on).
    #[serde(rename = "Product_Code", default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// `Unit_Price`.
    #[serde(rename = "Unit_Price", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Decimal>,
    /// `Product_Active`.
    #[serde(rename = "Product_Active", default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// `Taxable`.
    #[serde(rename = "Taxable", default, skip_serializing_if = "Option::is_none")]
    pub taxable: Option<bool>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Quote, with its `Quoted_Items` line items (the quote-to-invoice flow reads these).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Subject` (mandatory).
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `Quote_Stage` (which stage means accepted is an org convention).
    #[serde(rename = "Quote_Stage", default, skip_serializing_if = "Option::is_none")]
    pub quote_stage: Option<String>,
    /// `Quote_Number` (read only).
    #[serde(rename = "Quote_Number", default, skip_serializing_if = "Option::is_none")]
    pub quote_number: Option<String>,
    /// `Deal_Name` lookup.
    #[serde(rename = "Deal_Name", default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<Lookup>,
    /// `Account_Name` lookup.
    #[serde(rename = "Account_Name", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Lookup>,
    /// `Contact_Name` lookup.
    #[serde(rename = "Contact_Name", default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Lookup>,
    /// `Valid_Till` (`yyyy-MM-dd`).
    #[serde(rename = "Valid_Till", default, skip_serializing_if = "Option::is_none")]
    pub valid_till: Option<String>,
    /// `Currency` ISO code.
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `Quoted_Items`: the line items.
    #[serde(rename = "Quoted_Items", default, skip_serializing_if = "Vec::is_empty")]
    pub quoted_items: Vec<QuotedItem>,
    /// `Sub_Total` (computed).
    #[serde(rename = "Sub_Total", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<Decimal>,
    /// `Discount` (quote level).
    #[serde(rename = "Discount", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub discount: Option<Decimal>,
    /// `Tax` (computed).
    #[serde(rename = "Tax", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub tax: Option<Decimal>,
    /// `Adjustment`.
    #[serde(rename = "Adjustment", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Decimal>,
    /// `Grand_Total` (computed).
    #[serde(rename = "Grand_Total", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub grand_total: Option<Decimal>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One row of `Quoted_Items`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotedItem {
    /// Row id (send it back to update the row; omit it to append one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Product_Name` lookup to a Product.
    #[serde(rename = "Product_Name", default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Lookup>,
    /// `Quantity`.
    #[serde(rename = "Quantity", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// `List_Price` (unit price).
    #[serde(rename = "List_Price", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub list_price: Option<Decimal>,
    /// `Discount` (line level, an amount).
    #[serde(rename = "Discount", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub discount: Option<Decimal>,
    /// `Description`.
    #[serde(rename = "Description", default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Total`: quantity × list price (read only).
    #[serde(rename = "Total", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    /// `Total_After_Discount` (read only).
    #[serde(rename = "Total_After_Discount", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub total_after_discount: Option<Decimal>,
    /// `Tax` amount of the line (read only).
    #[serde(rename = "Tax", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub tax: Option<Decimal>,
    /// `Net_Total` (read only).
    #[serde(rename = "Net_Total", default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub net_total: Option<Decimal>,
    /// Every other field (`Line_Tax`, `Sequence_Number`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Task (the overdue-invoice flow creates these).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Subject` (mandatory).
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `Due_Date` (`yyyy-MM-dd`).
    #[serde(rename = "Due_Date", default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// `Status`.
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `What_Id` lookup (a Deal or Account).
    #[serde(rename = "What_Id", default, skip_serializing_if = "Option::is_none")]
    pub what: Option<Lookup>,
    /// `$se_module`: the module of `What_Id`.
    #[serde(rename = "$se_module", default, skip_serializing_if = "Option::is_none")]
    pub se_module: Option<String>,
    /// `Owner` lookup.
    #[serde(rename = "Owner", default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Lookup>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `info` object of list, search and COQL answers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Info {
    /// Records per page.
    #[serde(default)]
    pub per_page: Option<u32>,
    /// Records in this page.
    #[serde(default)]
    pub count: Option<u32>,
    /// Page number.
    #[serde(default)]
    pub page: Option<u32>,
    /// Whether more pages follow.
    #[serde(default)]
    pub more_records: bool,
    /// Token for the next page (needed beyond 2,000 records).
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of records.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Page<T> {
    /// The records.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Paging information.
    #[serde(default)]
    pub info: Info,
}

/// The result of writing one record (insert, update, upsert, delete): CRM reports each
/// record separately, and partial success is normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteResult {
    /// `SUCCESS` or an error code such as `MANDATORY_NOT_FOUND`, `DUPLICATE_DATA`.
    pub code: String,
    /// `success` or `error`.
    #[serde(default)]
    pub status: String,
    /// Zoho's message (`record added`, `required field not found`…).
    #[serde(default)]
    pub message: String,
    /// On success: `id`, created/modified stamps; on error: `api_name`, `json_path`…
    #[serde(default)]
    pub details: Value,
    /// Upsert: `insert` or `update`.
    #[serde(default)]
    pub action: Option<String>,
    /// Upsert: the field that matched an existing record.
    #[serde(default)]
    pub duplicate_field: Option<String>,
}

impl WriteResult {
    /// Whether this record was written.
    pub fn is_success(&self) -> bool {
        self.status.eq_ignore_ascii_case("success") || self.code == "SUCCESS"
    }

    /// Refused because the record was modified after the write's `unmodified_since`
    /// ([`WriteOptions`](super::records::WriteOptions)): `ALREADY_MODIFIED`, with the
    /// record's current `Modified_Time` in `details`.
    pub fn is_already_modified(&self) -> bool {
        self.code == "ALREADY_MODIFIED"
    }

    /// The record id (on success; on `DUPLICATE_DATA` the existing record's id).
    pub fn id(&self) -> Option<&str> {
        self.details.get("id").and_then(Value::as_str).or_else(|| self.details.pointer("/duplicate_record/id").and_then(Value::as_str))
    }

    /// The field an error is about (`details.api_name`).
    pub fn api_name(&self) -> Option<&str> {
        self.details.get("api_name").and_then(Value::as_str)
    }
}

/// A deleted record (`GET /crm/v8/{module}/deleted`), for delete propagation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedRecord {
    /// Id of the deleted record.
    pub id: String,
    /// `recycle` (in the recycle bin) or `permanent`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its display name (null once permanently deleted).
    #[serde(default)]
    pub display_name: Option<String>,
    /// When it was deleted.
    #[serde(default)]
    pub deleted_time: Option<String>,
    /// Who deleted it, who created it, and anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A picklist value in field metadata.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PickListValue {
    /// What users see.
    #[serde(default)]
    pub display_value: String,
    /// What the API stores.
    #[serde(default)]
    pub actual_value: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Metadata of one field (`GET /crm/v8/settings/fields?module=…`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldMeta {
    /// Field id (what `DELETE /settings/fields/{id}` takes).
    #[serde(default)]
    pub id: Option<String>,
    /// API name, as used in records.
    pub api_name: String,
    /// Data type (`text`, `currency`, `lookup`, `picklist`, `subform`…).
    #[serde(default)]
    pub data_type: String,
    /// Label shown in the UI.
    #[serde(default)]
    pub field_label: Option<String>,
    /// Maximum length, if any.
    #[serde(default)]
    pub length: Option<u32>,
    /// Whether the field is read only.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Picklist values.
    #[serde(default)]
    pub pick_list_values: Vec<PickListValue>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A notification callback POSTed by CRM to a channel's `notify_url`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NotificationCallback {
    /// Zoho's time of sending, epoch ms.
    #[serde(default)]
    pub server_time: i64,
    /// The module, e.g. `Deals`.
    pub module: String,
    /// `insert`, `update` or `delete`.
    pub operation: String,
    /// Ids of the affected records (several may be batched).
    #[serde(default)]
    pub ids: Vec<String>,
    /// The channel, as given when enabling it.
    #[serde(deserialize_with = "string_or_number")]
    pub channel_id: String,
    /// The verification token given when enabling the channel.
    #[serde(default)]
    pub token: Option<String>,
    /// Changed fields per record (shape varies with `return_affected_field_values`).
    #[serde(default)]
    pub affected_fields: Value,
    /// Query parameters of the `notify_url`.
    #[serde(default)]
    pub query_params: Value,
    /// The resource URI.
    #[serde(default)]
    pub resource_uri: Option<String>,
    /// Anything else Zoho adds.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Accepts `"123"` or `123`.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string or number, found {other}"))),
    }
}
