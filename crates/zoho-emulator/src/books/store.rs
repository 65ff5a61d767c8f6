//! The plain data Books keeps per organisation, and id/number allocation.
//!
//! Everything here is serialisable (state snapshots). Records live in `BTreeMap`s keyed
//! by id (ids grow, so map order is creation order and get-by-id is a lookup); unique
//! values (contact names, SKUs, invoice numbers) have their own index maps so creates do
//! not scan.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::totals::Discount;

/// First id handed out in an organisation; ids are `BASE + counter` as digit strings.
pub const ID_BASE: u64 = 460_000_000_000_000;

/// An organisation and all of its records.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Org {
    /// Profile (`GET /organizations`).
    pub profile: Profile,
    /// The current user (`/users/me`).
    pub user: User,
    /// Next id counter.
    pub next_id: u64,
    /// Currencies by id.
    pub currencies: BTreeMap<String, Currency>,
    /// Taxes by id.
    pub taxes: BTreeMap<String, Tax>,
    /// Tax groups by id.
    pub tax_groups: BTreeMap<String, TaxGroup>,
    /// Tax exemptions by id.
    pub tax_exemptions: BTreeMap<String, TaxExemption>,
    /// Invoice, estimate and credit-note templates.
    pub templates: Vec<Template>,
    /// Custom field definitions.
    pub custom_fields: Vec<CustomFieldDef>,
    /// Contacts by id.
    pub contacts: BTreeMap<String, Contact>,
    /// Contact person id → contact id.
    pub person_owner: BTreeMap<String, String>,
    /// Lower-cased contact name → contact id.
    pub contact_names: BTreeMap<String, String>,
    /// Items by id.
    pub items: BTreeMap<String, Item>,
    /// Lower-cased SKU → item id.
    pub skus: BTreeMap<String, String>,
    /// Invoices by id.
    pub invoices: BTreeMap<String, Invoice>,
    /// Invoice number → invoice id.
    pub invoice_numbers: BTreeMap<String, String>,
    /// Estimates by id.
    pub estimates: BTreeMap<String, Estimate>,
    /// Customer payments by id.
    pub payments: BTreeMap<String, Payment>,
    /// Credit notes by id.
    pub creditnotes: BTreeMap<String, CreditNote>,
    /// Price lists (`/pricebooks`) by id.
    pub pricelists: BTreeMap<String, PriceList>,
    /// Next numbers of the auto series.
    pub series: Series,
    /// Derived lookups (sort orders, per-customer documents, taken numbers and unique
    /// values); not serialised, rebuilt from the records after a restore (see `index`).
    #[serde(skip)]
    pub(crate) idx: super::index::Indexes,
}

/// Auto-number counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Series {
    /// Next `INV-` number.
    pub invoice: u64,
    /// Next `EST-` number.
    pub estimate: u64,
    /// Next `CN-` number.
    pub creditnote: u64,
    /// Next payment number.
    pub payment: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series { invoice: 1, estimate: 1, creditnote: 1, payment: 1 }
    }
}

impl Org {
    /// A fresh digit-string id.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        (ID_BASE + self.next_id).to_string()
    }

    /// The base currency.
    pub fn base_currency(&self) -> Option<&Currency> {
        self.currencies.values().find(|c| c.is_base_currency)
    }

    /// Decimal places for a currency id (2 when unknown).
    pub fn precision(&self, currency_id: &str) -> u32 {
        self.currencies.get(currency_id).map(|c| c.price_precision).unwrap_or(2)
    }
}

/// The organisation profile.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Digit-string id.
    pub organization_id: String,
    /// Name.
    pub name: String,
    /// Contact name.
    pub contact_name: String,
    /// Email.
    pub email: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Plan name.
    pub plan_name: String,
    /// Base currency id.
    pub currency_id: String,
    /// Creation date.
    pub account_created_date: String,
}

/// The current user.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// Id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Created, ms.
    pub created_ms: i64,
}

/// A currency.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Currency {
    /// Id.
    pub currency_id: String,
    /// ISO code.
    pub currency_code: String,
    /// Name.
    pub currency_name: String,
    /// Symbol.
    pub currency_symbol: String,
    /// Decimal places.
    pub price_precision: u32,
    /// Display format.
    pub currency_format: String,
    /// Whether this is the org's base currency.
    pub is_base_currency: bool,
    /// Exchange rates, oldest first.
    pub rates: Vec<ExchangeRate>,
}

impl Currency {
    /// The latest exchange rate (1 for the base currency).
    pub fn current_rate(&self) -> (Decimal, String) {
        self.rates.last().map(|r| (r.rate, r.effective_date.clone())).unwrap_or((Decimal::ONE, String::new()))
    }
}

/// One exchange rate of a currency.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ExchangeRate {
    /// Id.
    pub exchange_rate_id: String,
    /// `yyyy-mm-dd`.
    pub effective_date: String,
    /// Units of base currency per unit.
    pub rate: Decimal,
}

/// A tax.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Tax {
    /// Id.
    pub tax_id: String,
    /// Name.
    pub tax_name: String,
    /// Percent.
    pub tax_percentage: Decimal,
    /// `tax`.
    pub tax_type: String,
    /// Whether it is the default tax.
    pub is_default_tax: bool,
}

/// A tax group (its rate is the sum of its taxes).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TaxGroup {
    /// Id.
    pub tax_group_id: String,
    /// Name.
    pub tax_group_name: String,
    /// Member tax ids.
    pub taxes: Vec<String>,
}

/// A tax exemption: the reason a document carries no tax.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TaxExemption {
    /// Id.
    pub tax_exemption_id: String,
    /// Code (`RESELLER`, `EU-REVERSE-CHARGE`), unique per org.
    pub tax_exemption_code: String,
    /// The reason, as printed.
    pub description: String,
    /// `customer` or `item`.
    pub kind: String,
}

/// A PDF template.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Template {
    /// Id.
    pub template_id: String,
    /// Name.
    pub template_name: String,
    /// Style (`classic`, `standard`…).
    pub template_type: String,
    /// `invoices`, `estimates` or `creditnotes`.
    pub entity: String,
}

/// A custom field definition.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomFieldDef {
    /// Id.
    pub customfield_id: String,
    /// `contacts`, `items`, `invoices`, `estimates`, `creditnotes`.
    pub entity: String,
    /// `cf_…` api name.
    pub api_name: String,
    /// Label.
    pub label: String,
    /// 1-based index among the entity's fields.
    pub index: i64,
    /// `string`, `number`…
    pub data_type: String,
    /// Whether values must be unique (usable for upsert).
    pub is_unique: bool,
}

/// A stored custom field value.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomValue {
    /// Which field.
    pub customfield_id: String,
    /// The value as a string.
    pub value: String,
}

/// A postal address.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Attention.
    pub attention: String,
    /// Street.
    pub address: String,
    /// Street, second line.
    pub street2: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// State code.
    pub state_code: String,
    /// Postal code.
    pub zip: String,
    /// Country.
    pub country: String,
    /// Fax.
    pub fax: String,
    /// Phone.
    pub phone: String,
}

/// A contact person.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactPerson {
    /// Id.
    pub contact_person_id: String,
    /// Salutation.
    pub salutation: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Mobile.
    pub mobile: String,
    /// Designation.
    pub designation: String,
    /// Department.
    pub department: String,
    /// Primary flag.
    pub is_primary_contact: bool,
    /// Portal flag.
    pub enable_portal: bool,
}

/// A contact (customer or vendor).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Id.
    pub contact_id: String,
    /// Display name (unique per org).
    pub contact_name: String,
    /// Company name.
    pub company_name: String,
    /// `customer` or `vendor`.
    pub contact_type: String,
    /// `business` or `individual`.
    pub customer_sub_type: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Currency id.
    pub currency_id: String,
    /// Payment terms in days.
    pub payment_terms: i64,
    /// Label of the terms.
    pub payment_terms_label: String,
    /// Website.
    pub website: String,
    /// Notes.
    pub notes: String,
    /// Billing address.
    pub billing_address: Address,
    /// Shipping address.
    pub shipping_address: Address,
    /// Persons, primary first.
    pub contact_persons: Vec<ContactPerson>,
    /// Custom field values.
    pub custom_fields: Vec<CustomValue>,
    /// Default tax id.
    pub tax_id: String,
    /// Native CRM Account link.
    pub zcrm_account_id: String,
    /// Native CRM Contact link.
    pub zcrm_contact_id: String,
    /// Unused credits (payments in excess, released by voids, open credit notes are separate).
    pub unused_credits: Decimal,
    /// Created, ms.
    pub created_ms: i64,
    /// Last modified, ms.
    pub modified_ms: i64,
}

impl Contact {
    /// The primary person, if any.
    pub fn primary(&self) -> Option<&ContactPerson> {
        self.contact_persons.iter().find(|p| p.is_primary_contact).or(self.contact_persons.first())
    }
}

/// An item.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Item {
    /// Id.
    pub item_id: String,
    /// Name.
    pub name: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Description.
    pub description: String,
    /// Sales rate.
    pub rate: Decimal,
    /// Unit.
    pub unit: String,
    /// Tax id.
    pub tax_id: String,
    /// SKU (unique per org when set).
    pub sku: String,
    /// `goods`, `service`, `digital_service`.
    pub product_type: String,
    /// `sales`, `purchases`, `sales_and_purchases`, `inventory`.
    pub item_type: String,
    /// Purchase rate.
    pub purchase_rate: Decimal,
    /// Custom fields.
    pub custom_fields: Vec<CustomValue>,
    /// Created, ms.
    pub created_ms: i64,
    /// Last modified, ms.
    pub modified_ms: i64,
}

/// A document line (invoice, estimate, credit note).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    /// Id.
    pub line_item_id: String,
    /// Item id, empty for ad-hoc lines.
    pub item_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Order.
    pub item_order: i64,
    /// Unit price.
    pub rate: Decimal,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit.
    pub unit: String,
    /// Line discount as given.
    pub discount: Discount,
    /// Tax or tax group id.
    pub tax_id: String,
    /// `goods`/`service`.
    pub product_type: String,
}

/// Document fields shared by invoices, estimates and credit notes.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Document {
    /// Customer id.
    pub customer_id: String,
    /// `yyyy-mm-dd`.
    pub date: String,
    /// Reference number.
    pub reference_number: String,
    /// Currency id.
    pub currency_id: String,
    /// Exchange rate to the base currency.
    pub exchange_rate: Decimal,
    /// Lines.
    pub lines: Vec<Line>,
    /// `true` for item-level discounts.
    pub item_level: bool,
    /// Entity-level discount as given.
    pub discount: Discount,
    /// Discount before tax.
    pub discount_before_tax: bool,
    /// Tax-inclusive rates.
    pub inclusive_tax: bool,
    /// Shipping charge.
    pub shipping_charge: Decimal,
    /// Adjustment.
    pub adjustment: Decimal,
    /// Adjustment description.
    pub adjustment_description: String,
    /// Salesperson.
    pub salesperson_name: String,
    /// Notes.
    pub notes: String,
    /// Terms.
    pub terms: String,
    /// Template id.
    pub template_id: String,
    /// Custom fields.
    pub custom_fields: Vec<CustomValue>,
    /// Native CRM deal link.
    pub zcrm_potential_id: String,
    /// Tax exemption applied to the whole document (its lines then carry no tax).
    pub tax_exemption_id: String,
    /// Computed total (kept for filters and balances).
    pub total: Decimal,
    /// Created, ms.
    pub created_ms: i64,
    /// Last modified, ms.
    pub modified_ms: i64,
}

/// An invoice.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Invoice {
    /// Id.
    pub invoice_id: String,
    /// Number.
    pub invoice_number: String,
    /// `draft`, `sent`, `overdue`, `partially_paid`, `paid`, `void`.
    pub status: String,
    /// Due date.
    pub due_date: String,
    /// Payment terms in days.
    pub payment_terms: i64,
    /// Label of the terms.
    pub payment_terms_label: String,
    /// Shared document fields.
    pub doc: Document,
    /// Sum of payments applied.
    pub payment_made: Decimal,
    /// Sum of credits applied.
    pub credits_applied: Decimal,
    /// Written off.
    pub write_off_amount: Decimal,
    /// Whether `invoice.overdue` has been fired.
    pub overdue_notified: bool,
    /// Estimate this came from.
    pub invoiced_estimate_id: String,
    /// Last payment date.
    pub last_payment_date: String,
}

impl Invoice {
    /// `total − payment_made − credits_applied − write_off_amount`.
    pub fn balance(&self) -> Decimal {
        self.doc.total - self.payment_made - self.credits_applied - self.write_off_amount
    }
}

/// An estimate.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Estimate {
    /// Id.
    pub estimate_id: String,
    /// Number.
    pub estimate_number: String,
    /// `draft`, `sent`, `accepted`, `declined`, `invoiced`, `expired`.
    pub status: String,
    /// Expiry date.
    pub expiry_date: String,
    /// Shared document fields.
    pub doc: Document,
}

/// One invoice a payment pays.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Allocation {
    /// Id of this allocation (`invoice_payment_id`).
    pub allocation_id: String,
    /// Invoice.
    pub invoice_id: String,
    /// Amount.
    pub amount_applied: Decimal,
    /// Date it was applied.
    pub date: String,
}

/// A customer payment.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Payment {
    /// Id.
    pub payment_id: String,
    /// Sequential number.
    pub payment_number: u64,
    /// Customer.
    pub customer_id: String,
    /// Mode.
    pub payment_mode: String,
    /// Amount received.
    pub amount: Decimal,
    /// Refunded.
    pub amount_refunded: Decimal,
    /// Bank charges.
    pub bank_charges: Decimal,
    /// Date.
    pub date: String,
    /// Reference.
    pub reference_number: String,
    /// Description.
    pub description: String,
    /// Exchange rate.
    pub exchange_rate: Decimal,
    /// Currency id (the customer's).
    pub currency_id: String,
    /// Invoices paid.
    pub invoices: Vec<Allocation>,
    /// Refunds of the unused amount (`amount_refunded` is their sum).
    pub refunds: Vec<PaymentRefund>,
    /// Created, ms.
    pub created_ms: i64,
    /// Last modified, ms.
    pub modified_ms: i64,
}

/// A refund of a customer payment's unused amount.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentRefund {
    /// Id.
    pub payment_refund_id: String,
    /// Date.
    pub date: String,
    /// Mode (`cash`, `banktransfer`…).
    pub refund_mode: String,
    /// Reference.
    pub reference_number: String,
    /// Description.
    pub description: String,
    /// Amount, in the payment's currency.
    pub amount: Decimal,
    /// Account the money left.
    pub from_account_id: String,
}

impl Payment {
    /// `amount − applied − refunded`.
    pub fn unused(&self) -> Decimal {
        self.amount - self.invoices.iter().map(|a| a.amount_applied).sum::<Decimal>() - self.amount_refunded
    }
}

/// A credit note applied to an invoice.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Credit {
    /// `creditnote_invoice_id`.
    pub creditnote_invoice_id: String,
    /// Invoice.
    pub invoice_id: String,
    /// Amount.
    pub amount: Decimal,
    /// Date.
    pub date: String,
}

/// A refund of a credit note.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Refund {
    /// Id.
    pub creditnote_refund_id: String,
    /// Date.
    pub date: String,
    /// Mode.
    pub refund_mode: String,
    /// Reference.
    pub reference_number: String,
    /// Description.
    pub description: String,
    /// Amount.
    pub amount: Decimal,
    /// Account the money left.
    pub from_account_id: String,
}

/// A credit note.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CreditNote {
    /// Id.
    pub creditnote_id: String,
    /// Number.
    pub creditnote_number: String,
    /// `draft`, `open`, `closed`, `void`.
    pub status: String,
    /// Invoice it was raised against.
    pub invoice_id: String,
    /// Shared document fields.
    pub doc: Document,
    /// Applications to invoices.
    pub credits: Vec<Credit>,
    /// Refunds.
    pub refunds: Vec<Refund>,
}

impl CreditNote {
    /// `total − applied − refunded`.
    pub fn balance(&self) -> Decimal {
        self.doc.total - self.credits.iter().map(|c| c.amount).sum::<Decimal>() - self.refunds.iter().map(|r| r.amount).sum::<Decimal>()
    }
}

/// A price list (`/pricebooks`): a percentage markup/markdown of every item's rate, or
/// a rate per item.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceList {
    /// Id.
    pub pricebook_id: String,
    /// Name (unique per org, compared case-insensitively).
    pub name: String,
    /// Description.
    pub description: String,
    /// Currency id.
    pub currency_id: String,
    /// `per_item` or `fixed_percentage`.
    pub pricebook_type: String,
    /// `sales` or `purchases`.
    pub sales_or_purchase_type: String,
    /// Markup or markdown percentage (`fixed_percentage`).
    pub percentage: Decimal,
    /// Markup (`true`) or markdown.
    pub is_increase: bool,
    /// `no_rounding`, `round_to_dollor`, …
    pub rounding_type: String,
    /// Decimal places of the computed rates.
    pub decimal_place: u32,
    /// `unit` or `volume` (`per_item`).
    pub pricing_scheme: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Per-item rates (`per_item`).
    pub items: Vec<PriceListItem>,
    /// Created, ms.
    pub created_ms: i64,
    /// Last modified, ms.
    pub modified_ms: i64,
}

/// One item's rate in a `per_item` price list.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceListItem {
    /// Id of the line.
    pub pricebook_item_id: String,
    /// The item.
    pub item_id: String,
    /// Its rate in this list (`unit` pricing).
    pub pricebook_rate: Decimal,
    /// Discount as given (`"5%"`), or empty.
    pub pricebook_discount: String,
    /// `unit` or `volume`.
    pub pricing_scheme: String,
    /// Quantity brackets (`volume` pricing).
    pub price_brackets: Vec<PriceBracket>,
}

/// A quantity bracket of volume pricing.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceBracket {
    /// Id of the bracket.
    pub pricebook_item_id: String,
    /// Lowest quantity.
    pub start_quantity: Decimal,
    /// Highest quantity (0: no upper bound).
    pub end_quantity: Decimal,
    /// The rate within the bracket.
    pub pricebook_rate: Decimal,
    /// Discount as given, or empty.
    pub pricebook_discount: String,
}

/// A webhook to fire once the world lock's work is done.
#[derive(Debug, Clone)]
pub struct Event {
    /// `invoice.created` …
    pub event: &'static str,
    /// Payload key (`invoice`, `payment` …).
    pub key: &'static str,
    /// Entity JSON.
    pub body: Value,
}
