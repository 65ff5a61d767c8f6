//! Books entity types.
//!
//! Every field is optional so one struct serves reads, creates and partial updates
//! (unset fields are not sent). Fields the flows do not name are kept in `extra` and
//! sent back unchanged on a read-modify-write (custom fields, addresses…). Money and
//! quantities are [`Decimal`]s (see [`crate::money`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads text that Books sometimes sends as a number (ids, `payment_number`):
/// strings are kept, numbers and booleans are written out, `null` is `None`.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => return Err(serde::de::Error::custom(format!("expected text, found {other}"))),
    })
}

/// A Books organisation (`GET /organizations`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Organisation id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base currency id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Base currency code.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    /// Time zone.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Whether it is the user's default organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default_org: Option<bool>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A contact person of a contact (email lives here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactPerson {
    /// Contact person id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub contact_person_id: Option<String>,
    /// The contact it belongs to (contact-person endpoints).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// Salutation.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub salutation: Option<String>,
    /// First name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Mobile.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// Whether this is the primary person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_primary_contact: Option<bool>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A customer or vendor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Contact id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// Display name (mandatory, unique per organisation).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Company name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// `customer` or `vendor`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
    /// `business` or `individual`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_sub_type: Option<String>,
    /// `active` or `inactive`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The primary person's email (list rows).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Currency id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Payment terms in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms: Option<i64>,
    /// Contact persons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_persons: Vec<ContactPerson>,
    /// Amount owed by the customer.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub outstanding_receivable_amount: Option<Decimal>,
    /// Last change (`2024-01-02T03:04:05+0000`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item (product or service).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Item id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Name (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Selling price (mandatory).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// SKU (unique per organisation; the catalogue key).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `active` or `inactive`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Tax applied by default.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// `goods`, `service` or `digital_service`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// Unit.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tax (`/settings/taxes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tax {
    /// Tax id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_name: Option<String>,
    /// Percentage.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub tax_percentage: Option<Decimal>,
    /// `tax` or `compound_tax`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_type: Option<String>,
    /// Whether it is the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default_tax: Option<bool>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A currency (`/settings/currencies`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Currency {
    /// Currency id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// ISO code.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_name: Option<String>,
    /// Symbol.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_symbol: Option<String>,
    /// Decimal places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_precision: Option<u32>,
    /// Whether it is the organisation's base currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_base_currency: Option<bool>,
    /// Rate against the base currency.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<Decimal>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A custom field value on a document, named by its api name (`cf_crm_deal_id`) or id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldValue {
    /// The field's api name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// The field's id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customfield_id: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Every other field (`label`, `data_type`… in answers).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CustomFieldValue {
    /// The value `value` for the field with api name `api_name`.
    pub fn new(api_name: impl Into<String>, value: impl Into<Value>) -> CustomFieldValue {
        CustomFieldValue { api_name: Some(api_name.into()), value: Some(value.into()), ..CustomFieldValue::default() }
    }
}

/// A tax exemption (`/settings/taxexemptions`): why a document carries no tax.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaxExemption {
    /// Id (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_exemption_id: Option<String>,
    /// Code, unique per organisation (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_exemption_code: Option<String>,
    /// The reason, as printed on the document.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `customer` or `item` (mandatory).
    #[serde(rename = "type", default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A PDF template (`/invoices/templates` and friends).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Template id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    /// Type.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub template_type: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A line of an invoice, estimate or credit note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// Line id (read only; send it back to update the line).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub line_item_id: Option<String>,
    /// The item.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Name (ad-hoc lines).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unit price.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// Quantity.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Discount: an amount or a text like `"10%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
    /// Tax or tax group.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// Position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_order: Option<i64>,
    /// Line total (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub item_total: Option<Decimal>,
    /// Credit notes: the invoice this line credits.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// Credit notes: the invoice line this line credits.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_item_id: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An invoice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// Number (auto series unless given with `ignore_auto_number_generation`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    /// Customer (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Customer name (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// `draft`, `sent`, `overdue`, `paid`, `partially_paid`, `void`…
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Date (`yyyy-mm-dd`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Due date.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// Payment terms in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms: Option<i64>,
    /// Free text; the bridge stores the CRM deal id here.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Currency.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Currency code (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    /// Exchange rate (needed when not the base currency).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<Decimal>,
    /// PDF template.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Salesperson.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub salesperson_name: Option<String>,
    /// Entity-level discount: amount or `"x%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
    /// Whether rates include tax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_inclusive_tax: Option<bool>,
    /// Adjustment.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Decimal>,
    /// Shipping charge.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub shipping_charge: Option<Decimal>,
    /// Notes.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Terms.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
    /// Label of the payment terms (`Net 30`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_terms_label: Option<String>,
    /// `entity_level` or `item_level` (line discounts).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub discount_type: Option<String>,
    /// Whether an entity-level discount comes off before tax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_discount_before_tax: Option<bool>,
    /// Native CRM deal link (`zcrm_potential_id`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub zcrm_potential_id: Option<String>,
    /// A tax exemption for the whole document (its lines then carry no tax).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_exemption_id: Option<String>,
    /// Custom field values (`cf_…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Lines (mandatory on create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
    /// Sum of lines (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<Decimal>,
    /// Tax (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub tax_total: Option<Decimal>,
    /// Total (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    /// Paid so far (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub payment_made: Option<Decimal>,
    /// Credits applied (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub credits_applied: Option<Decimal>,
    /// Outstanding (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub balance: Option<Decimal>,
    /// Last change (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An estimate (quote).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Estimate id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub estimate_id: Option<String>,
    /// Number.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub estimate_number: Option<String>,
    /// Customer (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `draft`, `sent`, `accepted`, `declined`, `invoiced`, `expired`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Date.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Expiry date.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    /// Free text (the CRM quote number).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Currency.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Discount: amount or `"x%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
    /// Adjustment.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Decimal>,
    /// Lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
    /// Sum of lines (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<Decimal>,
    /// Total (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    /// Last change (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How much of a payment goes to one invoice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentInvoice {
    /// The invoice.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// Amount applied to it.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount_applied: Option<Decimal>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A customer payment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerPayment {
    /// Payment id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Number.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_number: Option<String>,
    /// Customer (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Customer name (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// `cash`, `check`, `banktransfer`, `creditcard`… (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_mode: Option<String>,
    /// Amount received (mandatory).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// Date (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Reference.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allocation to invoices (mandatory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoices: Vec<PaymentInvoice>,
    /// Refunded so far (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount_refunded: Option<Decimal>,
    /// Not allocated (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub unused_amount: Option<Decimal>,
    /// Last change (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A credit note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditNote {
    /// Credit note id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub creditnote_id: Option<String>,
    /// Number.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub creditnote_number: Option<String>,
    /// Customer (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `draft`, `open`, `closed`, `void`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Date (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Free text.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Currency.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Exchange rate (needed when not the base currency).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<Decimal>,
    /// Entity-level discount: amount or `"x%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
    /// Notes.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Terms.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
    /// A tax exemption for the whole document (its lines then carry no tax).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tax_exemption_id: Option<String>,
    /// Custom field values (`cf_…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Lines (mandatory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
    /// Total (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    /// Not yet applied or refunded (read only).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub balance: Option<Decimal>,
    /// Last change (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Credit applied to one invoice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditApplication {
    /// The invoice.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// Amount.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount_applied: Option<Decimal>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A refund of a credit note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// Refund id (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub creditnote_refund_id: Option<String>,
    /// Date (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Mode (`cash`, `banktransfer`…).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub refund_mode: Option<String>,
    /// Amount (mandatory).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// Account paid from.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub from_account_id: Option<String>,
    /// Reference.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A refund of a customer payment's unused amount.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentRefund {
    /// Refund id (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_refund_id: Option<String>,
    /// The payment (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Date.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Mode (`cash`, `banktransfer`…).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub refund_mode: Option<String>,
    /// Amount (mandatory).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// Account paid from.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub from_account_id: Option<String>,
    /// Reference.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A price list (`/pricebooks`): a percentage markup or markdown of every item's rate
/// (`pricebook_type` `fixed_percentage`), or a rate per item (`per_item`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceList {
    /// Price list id.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_id: Option<String>,
    /// Name (mandatory, unique per organisation).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `per_item` or `fixed_percentage` (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_type: Option<String>,
    /// `sales` or `purchases` (mandatory).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub sales_or_purchase_type: Option<String>,
    /// Currency id (the base currency when left out).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
    /// Currency code (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    /// Markup or markdown in percent (`fixed_percentage`).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Decimal>,
    /// Markup (`true`) or markdown (`fixed_percentage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_increase: Option<bool>,
    /// `no_rounding`, `round_to_dollor`, `round_to_dollar_minus_01`, `round_to_half_dollar`,
    /// `round_to_half_dollar_minus_01`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub rounding_type: Option<String>,
    /// Decimal places of the rates (1–3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimal_place: Option<u32>,
    /// `unit` or `volume` (`per_item`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricing_scheme: Option<String>,
    /// `active` or `inactive` (read only: set with [`Books::set_pricelist_active`](super::Books::set_pricelist_active)).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Rates per item (`per_item`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pricebook_items: Vec<PriceListItem>,
    /// Every other field, kept for read-modify-write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item's rate in a `per_item` price list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceListItem {
    /// Line id (read only; send it back to keep the line).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_item_id: Option<String>,
    /// The item.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The item's rate in this list (`unit` pricing).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub pricebook_rate: Option<Decimal>,
    /// Discount with its percent sign (`"5%"`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_discount: Option<String>,
    /// `unit` or `volume`.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricing_scheme: Option<String>,
    /// Quantity brackets (`volume` pricing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_brackets: Vec<PriceBracket>,
    /// Every other field (the item's `name`, `sku`, `rate` in answers).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A quantity bracket of volume pricing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceBracket {
    /// Bracket id (read only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_item_id: Option<String>,
    /// Lowest quantity.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub start_quantity: Option<Decimal>,
    /// Highest quantity (0 or absent: no upper bound).
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub end_quantity: Option<Decimal>,
    /// The rate within the bracket.
    #[serde(default, with = "crate::money::option", skip_serializing_if = "Option::is_none")]
    pub pricebook_rate: Option<Decimal>,
    /// Discount with its percent sign.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub pricebook_discount: Option<String>,
}
