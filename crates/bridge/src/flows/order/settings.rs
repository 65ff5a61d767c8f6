//! The Books settings an order document needs (taxes and tax groups, tax exemptions,
//! templates, currencies), read once per process and kept, and the tax rule chosen for a
//! buyer resolved to Books ids through them.
//!
//! A run never reads settings of its own: the first run reads them (the independent
//! lists at once) and every later run uses what was read. A name a rule gives that the
//! kept settings do not know (a tax added in Books since) makes the next look-up read
//! them again, once, before the document is refused naming what is missing.

use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::Value;
use zoho::books::{ListQuery, models::Currency};

use crate::{
    flows::{Context, FlowError},
    money::{MoneyConfig, TaxChoice, Treatment},
};

/// One named Books setting: its id and its name (or code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Its Books id.
    pub id: String,
    /// Its name (taxes, templates) or code (exemptions).
    pub name: String,
}

/// A Books currency as the order code uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BooksCurrency {
    /// Its Books id.
    pub id: String,
    /// Its ISO code.
    pub code: String,
    /// Whether it is the organisation's base currency.
    pub base: bool,
    /// Books' rate: base currency units per one unit of this one (1 for the base).
    pub rate: Option<Decimal>,
}

/// The settings of one Books organisation, as read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BooksSettings {
    /// The organisation these are of.
    pub organization_id: String,
    /// Taxes and tax groups (Books lists both under `/settings/taxes`).
    pub taxes: Vec<Named>,
    /// Tax exemptions, by code (read only when a rule names one).
    pub exemptions: Vec<Named>,
    /// Invoice templates (read only when a rule names one).
    pub invoice_templates: Vec<Named>,
    /// Credit note templates (read only when a rule names one).
    pub creditnote_templates: Vec<Named>,
    /// Currencies.
    pub currencies: Vec<BooksCurrency>,
}

impl BooksSettings {
    /// The currency with ISO code `code` (case-insensitive).
    pub fn currency(&self, code: &str) -> Option<&BooksCurrency> {
        self.currencies.iter().find(|c| c.code.eq_ignore_ascii_case(code.trim()))
    }

    /// The currency with Books id `id`.
    pub fn currency_by_id(&self, id: &str) -> Option<&BooksCurrency> {
        self.currencies.iter().find(|c| c.id == id)
    }

    /// The base currency's code.
    pub fn base_currency(&self) -> Option<&str> {
        self.currencies.iter().find(|c| c.base).map(|c| c.code.as_str())
    }
}

/// The tax treatment of one document in Books ids: what a [`TaxChoice`] resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTax {
    /// The rule that decided (for notes, errors and the totals check).
    pub rule: String,
    /// The tax or tax group every line gets (`None` for an exempt document).
    pub tax_id: Option<String>,
    /// The tax exemption of an exempt document.
    pub exemption_id: Option<String>,
    /// Why it is exempt (printed in the document's notes).
    pub reason: Option<String>,
    /// The rule's invoice template.
    pub invoice_template_id: Option<String>,
    /// The credit note template of the same name, when Books has one.
    pub creditnote_template_id: Option<String>,
}

/// `wanted` among `rows`: its id, else its name (case and surrounding spaces ignored).
fn find<'a>(rows: &'a [Named], wanted: &str) -> Option<&'a Named> {
    let wanted = wanted.trim();
    rows.iter().find(|r| r.id == wanted).or_else(|| rows.iter().find(|r| r.name.trim().eq_ignore_ascii_case(wanted)))
}

/// `choice` in the Books ids of `settings`, or what Books lacks.
pub fn resolve(settings: &BooksSettings, choice: &TaxChoice<'_>) -> Result<AppliedTax, String> {
    let mut applied =
        AppliedTax { rule: choice.rule.name.clone(), tax_id: None, exemption_id: None, reason: None, invoice_template_id: None, creditnote_template_id: None };
    match choice.treatment {
        Treatment::Tax(tax) => {
            let found = find(&settings.taxes, tax).ok_or_else(|| format!("Books has no tax or tax group {tax:?} (by id or name)"))?;
            applied.tax_id = Some(found.id.clone());
        }
        Treatment::Exempt { exemption, reason } => {
            let found = find(&settings.exemptions, exemption).ok_or_else(|| format!("Books has no tax exemption {exemption:?} (by id or code)"))?;
            applied.exemption_id = Some(found.id.clone());
            applied.reason = Some(reason.to_string());
        }
    }
    if let Some(template) = choice.template {
        let found = find(&settings.invoice_templates, template).ok_or_else(|| format!("Books has no invoice template {template:?} (by id or name)"))?;
        applied.invoice_template_id = Some(found.id.clone());
        applied.creditnote_template_id =
            find(&settings.creditnote_templates, &found.name).or(find(&settings.creditnote_templates, template)).map(|t| t.id.clone());
    }
    Ok(applied)
}

/// CRM's currencies: (ISO code, units per one home unit).
type CrmRates = Arc<Vec<(String, Decimal)>>;

/// The settings read once per process (shared by the order flows, which are built once).
#[derive(Debug, Clone, Default)]
pub struct SettingsCache {
    /// Held across a read, so that runs starting together wait for one read instead of
    /// each making their own (three at a process's start, measured by the order-to-cash
    /// bench, before this).
    kept: Arc<tokio::sync::Mutex<Option<Arc<BooksSettings>>>>,
    /// CRM's currencies (ISO code, units per home unit), for rates taken from the deal.
    crm_rates: Arc<Mutex<Option<CrmRates>>>,
}

impl SettingsCache {
    /// The kept settings of the run's organisation; read (every list at once) when none
    /// are kept, or when `fresh`.
    pub async fn get(&self, ctx: &Context<'_>, money: &MoneyConfig, fresh: bool) -> Result<Arc<BooksSettings>, FlowError> {
        let books = ctx.client().books();
        let org = books.organization_id().to_string();
        let mut kept = self.kept.lock().await;
        if !fresh
            && let Some(kept) = kept.as_ref()
            && kept.organization_id == org
        {
            return Ok(kept.clone());
        }
        let wants_exemptions = money.tax_rules.iter().any(|r| r.exemption.is_some());
        let wants_templates = money.tax_rules.iter().any(|r| r.template.is_some());
        let taxes = async { books.taxes().try_collect::<Vec<_>>().await };
        let currencies = async { books.currencies().try_collect::<Vec<Currency>>().await };
        let exemptions = async {
            if !wants_exemptions {
                return Ok(Vec::new());
            }
            books.list::<Value>("/books/v3/settings/taxexemptions", "tax_exemptions", ListQuery::new()).try_collect::<Vec<_>>().await
        };
        let templates = async {
            if !wants_templates {
                return Ok((Vec::new(), Vec::new()));
            }
            tokio::try_join!(books.invoice_templates(), books.credit_note_templates())
        };
        let (taxes, currencies, exemptions, (invoice_templates, creditnote_templates)) = tokio::try_join!(taxes, currencies, exemptions, templates)?;
        let text = |v: &Value, k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let named = |id: Option<String>, name: Option<String>| Named { id: id.unwrap_or_default(), name: name.unwrap_or_default() };
        let settings = BooksSettings {
            organization_id: org,
            taxes: taxes.into_iter().map(|t| named(t.tax_id, t.tax_name)).collect(),
            exemptions: exemptions.iter().map(|e| Named { id: text(e, "tax_exemption_id"), name: text(e, "tax_exemption_code") }).collect(),
            invoice_templates: invoice_templates.into_iter().map(|t| named(t.template_id, t.template_name)).collect(),
            creditnote_templates: creditnote_templates.into_iter().map(|t| named(t.template_id, t.template_name)).collect(),
            currencies: currencies
                .into_iter()
                .map(|c| BooksCurrency {
                    id: c.currency_id.unwrap_or_default(),
                    code: c.currency_code.unwrap_or_default(),
                    base: c.is_base_currency.unwrap_or(false),
                    rate: if c.is_base_currency == Some(true) { Some(Decimal::ONE) } else { c.exchange_rate.filter(|r| *r > Decimal::ZERO) },
                })
                .collect(),
        };
        let settings = Arc::new(settings);
        *kept = Some(settings.clone());
        Ok(settings)
    }

    /// CRM's currencies as (ISO code, units per one home unit), read once.
    pub async fn crm_rates(&self, ctx: &Context<'_>) -> Result<CrmRates, FlowError> {
        if let Some(kept) = self.crm_rates.lock().map_err(|_| FlowError::Store("the rates cache was poisoned".into()))?.as_ref() {
            return Ok(kept.clone());
        }
        let rows = ctx.client().crm().org_currencies().await?;
        let rates: Vec<(String, Decimal)> = rows
            .iter()
            .filter_map(|r| {
                let code = r.get("iso_code")?.as_str()?.to_string();
                let rate = match r.get("exchange_rate")? {
                    Value::String(s) => s.trim().parse().ok()?,
                    Value::Number(n) => n.to_string().parse().ok()?,
                    _ => return None,
                };
                Some((code, rate))
            })
            .collect();
        let rates = Arc::new(rates);
        *self.crm_rates.lock().map_err(|_| FlowError::Store("the rates cache was poisoned".into()))? = Some(rates.clone());
        Ok(rates)
    }

    /// Books' current currencies with their rates, read now (rates move; `rates =
    /// "books"` wants today's).
    pub async fn books_rates(&self, ctx: &Context<'_>) -> Result<Vec<BooksCurrency>, FlowError> {
        let rows: Vec<Currency> = ctx.client().books().currencies().try_collect().await?;
        Ok(rows
            .into_iter()
            .map(|c| BooksCurrency {
                id: c.currency_id.unwrap_or_default(),
                code: c.currency_code.unwrap_or_default(),
                base: c.is_base_currency.unwrap_or(false),
                rate: if c.is_base_currency == Some(true) { Some(Decimal::ONE) } else { c.exchange_rate.filter(|r| *r > Decimal::ZERO) },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Buyer, TaxRule, tax};

    fn named(id: &str, name: &str) -> Named {
        Named { id: id.into(), name: name.into() }
    }

    #[test]
    fn a_rule_resolves_by_id_or_name_and_names_what_books_lacks() {
        let settings = BooksSettings {
            taxes: vec![named("1", "CA Sales Tax"), named("2", "State + City")],
            exemptions: vec![named("9", "EU-RC")],
            invoice_templates: vec![named("t1", "EU invoice")],
            creditnote_templates: vec![named("c1", "EU invoice")],
            ..BooksSettings::default()
        };
        let rules = vec![
            TaxRule { name: "ca".into(), countries: vec!["US".into()], tax: Some(" ca sales tax ".into()), ..TaxRule::default() },
            TaxRule {
                name: "eu".into(),
                countries: vec!["DE".into()],
                exemption: Some("eu-rc".into()),
                reason: Some("Reverse charge".into()),
                template: Some("t1".into()),
                ..TaxRule::default()
            },
            TaxRule { name: "fr".into(), countries: vec!["FR".into()], tax: Some("TVA".into()), ..TaxRule::default() },
        ];
        let pick = |country: &str| tax::choose(&rules, &Buyer { country: Some(country), ..Buyer::default() }).unwrap().unwrap();
        let us = resolve(&settings, &pick("US")).unwrap();
        assert_eq!((us.tax_id.as_deref(), us.exemption_id.as_deref(), us.invoice_template_id.as_deref()), (Some("1"), None, None));
        let de = resolve(&settings, &pick("Germany")).unwrap();
        assert_eq!(
            (de.tax_id, de.exemption_id.as_deref(), de.reason.as_deref(), de.invoice_template_id.as_deref(), de.creditnote_template_id.as_deref()),
            (None, Some("9"), Some("Reverse charge"), Some("t1"), Some("c1"))
        );
        assert_eq!(resolve(&settings, &pick("FR")).unwrap_err(), "Books has no tax or tax group \"TVA\" (by id or name)");
    }
}
