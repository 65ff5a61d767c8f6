//! Who a document bills and in which currency: the Books customer of a CRM account, and
//! what happens when the CRM record's currency is not that customer's
//! (`[money.currency]`: refuse, a per-currency customer, or converted amounts).

use rust_decimal::Decimal;
use serde_json::{Value, json};
use zoho::books::{UpsertOutcome, models::Contact};

use super::settings::BooksSettings;
use crate::{
    flows::{Context, FlowError, Write, Wrote, relations::ACCOUNT_CURRENCY_CONTACT},
    hash::content_hash,
    money::{Buyer, CustomerType, RateSource, currency},
    store::System,
};

/// A Books customer as the order flows use it.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Its Books contact id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its currency's Books id.
    pub currency_id: String,
    /// Its currency's ISO code.
    pub currency_code: String,
    /// Billing country, as written.
    pub country: Option<String>,
    /// Billing state, as written.
    pub state: Option<String>,
    /// Business or individual.
    pub customer_type: Option<CustomerType>,
    /// The contact as Books answered.
    pub contact: Value,
}

impl Customer {
    /// The customer as `contact` (a Books contact) says, its currency code from
    /// `settings` when the contact does not carry it.
    pub fn from_contact(contact: Value, settings: &BooksSettings) -> Result<Customer, FlowError> {
        let text = |p: &str| contact.pointer(p).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let id = text("/contact_id").ok_or_else(|| FlowError::Data("Books answered a contact without contact_id".into()))?;
        let currency_id = text("/currency_id").or_else(|| settings.currencies.iter().find(|c| c.base).map(|c| c.id.clone())).unwrap_or_default();
        let currency_code = text("/currency_code")
            .or_else(|| settings.currency_by_id(&currency_id).map(|c| c.code.clone()))
            .ok_or_else(|| FlowError::Data(format!("Books customer {id} has no currency Books knows ({currency_id:?})")))?;
        Ok(Customer {
            name: text("/contact_name").unwrap_or_default(),
            currency_id,
            currency_code,
            country: text("/billing_address/country"),
            state: text("/billing_address/state"),
            customer_type: text("/customer_sub_type").and_then(|t| CustomerType::from_books(&t)),
            id,
            contact,
        })
    }

    /// The buyer tax rules are chosen for.
    pub fn buyer(&self) -> Buyer<'_> {
        Buyer { country: self.country.as_deref(), state: self.state.as_deref(), customer_type: self.customer_type }
    }
}

/// Amounts in one currency converted into another, at rates given per one unit of a
/// common home currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The CRM record's currency.
    pub from: String,
    /// The document's (the customer's) currency.
    pub to: String,
    /// Units of `from` per home unit.
    pub from_per_home: Decimal,
    /// Units of `to` per home unit.
    pub to_per_home: Decimal,
    /// Where the rates came from.
    pub source: RateSource,
}

impl Conversion {
    /// `amount` in `from` as `to`, rounded to `to`'s decimal places.
    pub fn amount(&self, amount: Decimal) -> Decimal {
        currency::convert(amount, self.from_per_home, self.to_per_home, &self.to).unwrap_or(amount)
    }
}

/// Who a document bills, in which currency, and how its CRM amounts are converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Billing {
    /// The customer billed.
    pub customer: Customer,
    /// The document's currency (ISO code): the customer's.
    pub currency: String,
    /// Set when the CRM amounts are in another currency and are converted.
    pub conversion: Option<Conversion>,
}

impl Billing {
    /// A CRM amount in the document's currency, rounded to its decimal places.
    pub fn amount(&self, amount: Decimal) -> Decimal {
        match &self.conversion {
            Some(c) => c.amount(amount),
            None => currency::round(amount, &self.currency),
        }
    }
}

/// The per-currency customer's key (the unique custom field's value, and the CRM side
/// of its link): `<account id>-<CUR>`.
pub fn currency_key(account_id: &str, code: &str) -> String {
    format!("{account_id}-{}", code.trim().to_ascii_uppercase())
}

/// Whether `value` (a Books customer's CRM-id custom field) is a per-currency
/// customer's key ([`currency_key`]): an id, a dash and three capital letters.
pub fn is_currency_key(value: &str) -> bool {
    match value.rsplit_once('-') {
        Some((account, code)) => !account.is_empty() && code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
        None => false,
    }
}

/// The Books customer billing CRM account `account_id` in `code`, under the policy
/// `per_currency_customer`: the linked one, else created (or found, by Books' upsert on
/// the unique custom field `key_field` holding [`currency_key`]) as a copy of `main` named
/// `Name (CUR)` in that currency.
pub async fn currency_customer(
    ctx: &mut Context<'_>,
    settings: &BooksSettings,
    key_field: &str,
    account_id: &str,
    main: &Customer,
    code: &str,
) -> Result<Customer, FlowError> {
    let key = currency_key(account_id, code);
    if let Some(link) = ctx.link_by_crm(&ACCOUNT_CURRENCY_CONTACT, &key).await? {
        match ctx.client().books().contact(&link.books_id).await {
            Ok(c) => return Customer::from_contact(serde_json::to_value(c).unwrap_or(Value::Null), settings),
            Err(e) if e.status() == Some(404) => ctx.note(format!("the {code} customer {} of account {account_id} is gone: making it again", link.books_id)),
            Err(e) => return Err(e.into()),
        }
    }
    let books_currency = settings
        .currency(code)
        .ok_or_else(|| FlowError::Data(format!("Books has no currency {code}: add it in Books (Settings → Currencies), then replay")))?;
    let mut body = json!({
        "contact_name": format!("{} ({code})", main.name),
        "contact_type": "customer",
        "currency_id": books_currency.id,
        "custom_fields": [{"api_name": key_field, "value": key}],
    });
    for field in ["company_name", "customer_sub_type", "billing_address", "shipping_address", "payment_terms", "payment_terms_label"] {
        if let Some(v) = main.contact.get(field).filter(|v| !v.is_null()) {
            body[field] = v.clone();
        }
    }
    let contact: Contact = serde_json::from_value(body.clone()).map_err(|e| FlowError::Data(format!("the {code} customer is not a Books contact: {e}")))?;
    let n = ctx.announce(Write { system: System::Books, module: "contacts", action: "upsert", record_id: None, request: &body }).await?;
    let result = ctx.client().books().upsert_contact(key_field, &key, &contact).await;
    let written = match result {
        Ok((written, outcome)) => {
            let action = if outcome == UpsertOutcome::Created { "create" } else { "update" };
            ctx.answer(n, written.contact_id.as_deref(), Some(action), Ok(&written));
            written
        }
        Err(e) => {
            ctx.answer::<Contact>(n, None, None, Err(&e));
            return Err(e.into());
        }
    };
    let customer = Customer::from_contact(serde_json::to_value(written).unwrap_or(Value::Null), settings)?;
    ctx.note(format!("the {code} customer of account {account_id} is Books contact {}", customer.id));
    ctx.link(&ACCOUNT_CURRENCY_CONTACT, &key, &customer.id, Wrote::Books(content_hash(&body)));
    Ok(customer)
}

/// The rates converting `from` into `to`, per one home unit, from `source`: the CRM
/// record's own rate (`from_rate`, units of `from` per CRM home unit) and CRM's rate for
/// `to`; or Books' current rates (base units per unit: inverted).
pub fn rates(
    source: RateSource,
    from: &str,
    to: &str,
    from_rate: Option<Decimal>,
    crm_rates: &[(String, Decimal)],
    books_rates: &[super::settings::BooksCurrency],
) -> Result<Conversion, String> {
    let (from_per_home, to_per_home) = match source {
        RateSource::Deal => {
            let from_per_home = from_rate.filter(|r| *r > Decimal::ZERO).ok_or_else(|| format!("the record has no exchange rate for {from}"))?;
            let to_per_home = crm_rates
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(to))
                .map(|(_, r)| *r)
                .filter(|r| *r > Decimal::ZERO)
                .ok_or_else(|| format!("CRM has no exchange rate for {to}"))?;
            (from_per_home, to_per_home)
        }
        RateSource::Books => {
            let per_home = |code: &str| {
                books_rates
                    .iter()
                    .find(|c| c.code.eq_ignore_ascii_case(code))
                    .and_then(|c| c.rate)
                    .filter(|r| *r > Decimal::ZERO)
                    .map(|r| Decimal::ONE / r)
                    .ok_or_else(|| format!("Books has no exchange rate for {code}"))
            };
            (per_home(from)?, per_home(to)?)
        }
    };
    Ok(Conversion { from: from.to_string(), to: to.to_string(), from_per_home, to_per_home, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn currency_keys_are_told_from_account_ids() {
        assert_eq!(currency_key("5725767000000123", "eur"), "5725767000000123-EUR");
        assert!(is_currency_key("5725767000000123-EUR"));
        assert!(!is_currency_key("5725767000000123") && !is_currency_key("-EUR") && !is_currency_key("12-Eur") && !is_currency_key("12-EURO"));
    }

    #[test]
    fn rates_come_from_the_deal_and_crm_or_from_books() {
        let crm = vec![("USD".to_string(), d("1")), ("JPY".to_string(), d("151.4"))];
        // 100 EUR at the deal's 0.92 per USD, into JPY at CRM's 151.4: 16,457 JPY.
        let c = rates(RateSource::Deal, "EUR", "JPY", Some(d("0.92")), &crm, &[]).unwrap();
        assert_eq!(c.amount(d("100")), d("16457"));
        assert!(rates(RateSource::Deal, "EUR", "KWD", Some(d("0.92")), &crm, &[]).unwrap_err().contains("KWD"));
        let books = vec![
            super::super::settings::BooksCurrency { id: "1".into(), code: "USD".into(), base: true, rate: Some(d("1")) },
            super::super::settings::BooksCurrency { id: "2".into(), code: "EUR".into(), base: false, rate: Some(d("1.08")) },
        ];
        // Books: 1 EUR = 1.08 USD, so 100 EUR = 108.00 USD.
        assert_eq!(rates(RateSource::Books, "EUR", "USD", None, &[], &books).unwrap().amount(d("100")), d("108.00"));
    }
}
