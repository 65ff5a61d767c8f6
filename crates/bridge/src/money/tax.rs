//! Tax rules: which Books tax, tax group or tax exemption a document gets.
//!
//! A rule has conditions (billing countries, states, customer type) and says what to
//! apply: a Books tax or tax group (by name or id) on every line, or a tax exemption
//! with its reason (EU reverse charge, exempt organisations), and optionally the invoice
//! template for the region. Rules are tried in order; the first whose conditions all
//! hold decides. A document matching no rule is refused with [`NoTaxRule`], which names
//! what it was looking for: never an invoice with a wrong tax.
//!
//! Countries match by name or code through [`country_key`] (`Germany`, `DE`,
//! `Deutschland`); US states by name or postal code (`California`, `CA`); other states
//! by their folded spelling.

use serde::{Deserialize, Serialize};

use crate::matching::{country_key, name_key};

/// The kind of customer a rule may require (Books' `customer_sub_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    /// A company.
    Business,
    /// A person.
    Individual,
}

impl CustomerType {
    /// Books' `customer_sub_type` value (`business`, `individual`); other values are not a
    /// type a rule can name.
    pub fn from_books(sub_type: &str) -> Option<CustomerType> {
        match sub_type.trim().to_ascii_lowercase().as_str() {
            "business" => Some(CustomerType::Business),
            "individual" => Some(CustomerType::Individual),
            _ => None,
        }
    }

    /// The config's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerType::Business => "business",
            CustomerType::Individual => "individual",
        }
    }
}

/// Who a document is for, as the rules see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Buyer<'a> {
    /// Billing country, as written (name or code).
    pub country: Option<&'a str>,
    /// Billing state, as written.
    pub state: Option<&'a str>,
    /// Business or individual, when known.
    pub customer_type: Option<CustomerType>,
}

/// One `[[money.tax_rules]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRule {
    /// A name for people (errors, the audit, `leaks`).
    pub name: String,
    /// Billing countries it applies to (names or codes); empty: any country.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Billing states it applies to (names or codes); empty: any state.
    #[serde(default)]
    pub states: Vec<String>,
    /// Only customers of this type; absent: any.
    #[serde(default)]
    pub customer_type: Option<CustomerType>,
    /// The Books tax or tax group every line gets, by name or id.
    #[serde(default)]
    pub tax: Option<String>,
    /// The Books tax exemption (code or id) the document gets instead of a tax.
    #[serde(default)]
    pub exemption: Option<String>,
    /// Why the document is exempt, printed in its notes (required with `exemption`).
    #[serde(default)]
    pub reason: Option<String>,
    /// The Books invoice template (name or id) for this region; absent: Books' default.
    #[serde(default)]
    pub template: Option<String>,
}

/// What a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment<'a> {
    /// This Books tax or tax group (name or id) on every taxable line.
    Tax(&'a str),
    /// No tax: this Books exemption (code or id), for this reason.
    Exempt {
        /// The exemption's code or id.
        exemption: &'a str,
        /// Why (printed on the document).
        reason: &'a str,
    },
}

/// The rule chosen for a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxChoice<'a> {
    /// The rule that decided.
    pub rule: &'a TaxRule,
    /// What it applies.
    pub treatment: Treatment<'a>,
    /// Its invoice template, if it names one.
    pub template: Option<&'a str>,
}

/// No rule matched: the document is refused, and this says what was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no tax rule matches billing country {country}, state {state}, customer type {customer_type} (tried {tried}): add a [[money.tax_rules]] entry for it, then replay"
)]
pub struct NoTaxRule {
    /// The billing country as written (`-` when empty).
    pub country: String,
    /// The billing state as written (`-` when empty).
    pub state: String,
    /// The customer type (`-` when unknown).
    pub customer_type: String,
    /// The rules tried, by name.
    pub tried: String,
}

impl TaxRule {
    /// What it applies; `None` for a rule [`validate`] refuses.
    pub fn treatment(&self) -> Option<Treatment<'_>> {
        match (&self.tax, &self.exemption, &self.reason) {
            (Some(tax), None, _) => Some(Treatment::Tax(tax)),
            (None, Some(exemption), Some(reason)) => Some(Treatment::Exempt { exemption, reason }),
            _ => None,
        }
    }

    /// Whether its conditions all hold for `buyer`.
    pub fn applies_to(&self, buyer: &Buyer) -> bool {
        let country = buyer.country.and_then(country_key);
        if !self.countries.is_empty() && !self.countries.iter().any(|c| country_key(c).is_some_and(|c| Some(c) == country)) {
            return false;
        }
        let state = buyer.state.and_then(|s| state_key(s, country.as_deref()));
        if !self.states.is_empty() && !self.states.iter().any(|s| state_key(s, country.as_deref()).is_some_and(|s| Some(s) == state)) {
            return false;
        }
        self.customer_type.is_none_or(|t| buyer.customer_type == Some(t))
    }
}

/// The first rule of `rules` that applies to `buyer`. No rules at all: `Ok(None)` (taxes
/// are left to the items). Rules but none applies: [`NoTaxRule`].
pub fn choose<'a>(rules: &'a [TaxRule], buyer: &Buyer) -> Result<Option<TaxChoice<'a>>, NoTaxRule> {
    if rules.is_empty() {
        return Ok(None);
    }
    for rule in rules {
        if let (true, Some(treatment)) = (rule.applies_to(buyer), rule.treatment()) {
            return Ok(Some(TaxChoice { rule, treatment, template: rule.template.as_deref() }));
        }
    }
    let or_dash = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map_or("-".to_string(), |s| format!("{s:?}"));
    Err(NoTaxRule {
        country: or_dash(buyer.country),
        state: or_dash(buyer.state),
        customer_type: buyer.customer_type.map_or("-", CustomerType::as_str).to_string(),
        tried: rules.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", "),
    })
}

/// A rule [`validate`] refuses: which one (its index in `money.tax_rules`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("money.tax_rules[{index}]: {message}")]
pub struct RuleError {
    /// The rule's index.
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Checks every rule says what it applies, and names are unique.
pub fn validate(rules: &[TaxRule]) -> Result<(), RuleError> {
    for (index, rule) in rules.iter().enumerate() {
        let fail = |message: &str| Err(RuleError { index, message: format!("{:?}: {message}", rule.name) });
        if rule.name.trim().is_empty() {
            return Err(RuleError { index, message: "`name` is empty".into() });
        }
        if rules[..index].iter().any(|r| r.name == rule.name) {
            return fail("another rule has this name");
        }
        match (&rule.tax, &rule.exemption, &rule.reason) {
            (Some(_), Some(_), _) => return fail("give `tax` or `exemption`, not both"),
            (None, None, _) => return fail("says neither `tax` (a Books tax or tax group) nor `exemption` (with `reason`)"),
            (None, Some(_), None) => return fail("an `exemption` needs its `reason` (it is printed on the document)"),
            (Some(_), None, Some(_)) => return fail("`reason` goes with `exemption`; a taxed document has no exemption reason"),
            _ => {}
        }
        if let Some(empty) = rule.countries.iter().chain(&rule.states).find(|c| c.trim().is_empty()) {
            return fail(&format!("an empty country or state {empty:?}"));
        }
    }
    Ok(())
}

/// US states by postal code and name (folded), for comparing `CA` with `California`.
const US_STATES: &[(&str, &str)] = &[
    ("al", "alabama"),
    ("ak", "alaska"),
    ("az", "arizona"),
    ("ar", "arkansas"),
    ("ca", "california"),
    ("co", "colorado"),
    ("ct", "connecticut"),
    ("de", "delaware"),
    ("dc", "district of columbia"),
    ("fl", "florida"),
    ("ga", "georgia"),
    ("hi", "hawaii"),
    ("id", "idaho"),
    ("il", "illinois"),
    ("in", "indiana"),
    ("ia", "iowa"),
    ("ks", "kansas"),
    ("ky", "kentucky"),
    ("la", "louisiana"),
    ("me", "maine"),
    ("md", "maryland"),
    ("ma", "massachusetts"),
    ("mi", "michigan"),
    ("mn", "minnesota"),
    ("ms", "mississippi"),
    ("mo", "missouri"),
    ("mt", "montana"),
    ("ne", "nebraska"),
    ("nv", "nevada"),
    ("nh", "new hampshire"),
    ("nj", "new jersey"),
    ("nm", "new mexico"),
    ("ny", "new york"),
    ("nc", "north carolina"),
    ("nd", "north dakota"),
    ("oh", "ohio"),
    ("ok", "oklahoma"),
    ("or", "oregon"),
    ("pa", "pennsylvania"),
    ("ri", "rhode island"),
    ("sc", "south carolina"),
    ("sd", "south dakota"),
    ("tn", "tennessee"),
    ("tx", "texas"),
    ("ut", "utah"),
    ("vt", "vermont"),
    ("va", "virginia"),
    ("wa", "washington"),
    ("wv", "west virginia"),
    ("wi", "wisconsin"),
    ("wy", "wyoming"),
    ("pr", "puerto rico"),
];

/// A state as compared: folded; in the US (or when the country is unknown) a name and its
/// postal code are the same state.
fn state_key(raw: &str, country: Option<&str>) -> Option<String> {
    let folded = name_key(raw)?;
    if matches!(country, None | Some("us"))
        && let Some((code, _)) = US_STATES.iter().find(|(code, name)| *code == folded || *name == folded)
    {
        return Some(code.to_string());
    }
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<TaxRule> {
        let text = r#"
            [[tax_rules]]
            name = "EU reverse charge"
            countries = ["AT", "Belgium", "DE", "FR", "NL"]
            customer_type = "business"
            exemption = "EU-RC"
            reason = "Reverse charge"
            template = "EU invoice"

            [[tax_rules]]
            name = "US California"
            countries = ["United States"]
            states = ["CA"]
            tax = "CA Sales Tax"

            [[tax_rules]]
            name = "US other states"
            countries = ["US"]
            tax = "No Sales Tax"
        "#;
        #[derive(Deserialize)]
        struct File {
            tax_rules: Vec<TaxRule>,
        }
        toml::from_str::<File>(text).unwrap().tax_rules
    }

    #[test]
    fn the_first_rule_whose_conditions_all_hold_decides() {
        let rules = rules();
        validate(&rules).unwrap();
        let business = Some(CustomerType::Business);
        let name = |buyer: Buyer| choose(&rules, &buyer).map(|c| c.map(|c| c.rule.name.clone()));
        let cases = [
            (Buyer { country: Some("Germany"), state: None, customer_type: business }, Ok(Some("EU reverse charge"))),
            (Buyer { country: Some("belgique"), state: Some("Brussels"), customer_type: business }, Ok(Some("EU reverse charge"))),
            (Buyer { country: Some("USA"), state: Some("California"), customer_type: None }, Ok(Some("US California"))),
            (Buyer { country: Some("US"), state: Some(" ca "), customer_type: business }, Ok(Some("US California"))),
            (Buyer { country: Some("United States of America"), state: Some("NY"), customer_type: None }, Ok(Some("US other states"))),
        ];
        for (buyer, want) in cases {
            assert_eq!(name(buyer), want.map(|w| w.map(str::to_string)), "{buyer:?}");
        }
        // A German person is no business: no rule.
        let err = choose(&rules, &Buyer { country: Some("DE"), state: None, customer_type: Some(CustomerType::Individual) }).unwrap_err();
        assert_eq!(err.country, "\"DE\"");
        assert!(err.to_string().contains("customer type individual"), "{err}");
        assert!(err.to_string().contains("\"EU reverse charge\", \"US California\", \"US other states\""), "{err}");
        let err = choose(&rules, &Buyer { country: Some("Brazil"), state: Some("SP"), customer_type: business }).unwrap_err();
        assert!(err.to_string().starts_with("no tax rule matches billing country \"Brazil\", state \"SP\""), "{err}");
        assert_eq!(choose(&[], &Buyer::default()), Ok(None));
    }

    #[test]
    fn what_a_rule_applies_is_checked_at_load() {
        let rules = rules();
        let chosen = choose(&rules[..1], &Buyer { country: Some("NL"), state: None, customer_type: Some(CustomerType::Business) }).unwrap().unwrap();
        assert_eq!(chosen.treatment, Treatment::Exempt { exemption: "EU-RC", reason: "Reverse charge" });
        assert_eq!(chosen.template, Some("EU invoice"));
        let base = TaxRule { name: "r".into(), ..TaxRule::default() };
        let cases = [
            (TaxRule { tax: Some("t".into()), exemption: Some("e".into()), reason: Some("r".into()), ..base.clone() }, "not both"),
            (base.clone(), "says neither"),
            (TaxRule { exemption: Some("e".into()), ..base.clone() }, "needs its `reason`"),
            (TaxRule { tax: Some("t".into()), reason: Some("r".into()), ..base.clone() }, "goes with `exemption`"),
            (TaxRule { tax: Some("t".into()), countries: vec![" ".into()], ..base.clone() }, "empty country"),
            (TaxRule { name: " ".into(), tax: Some("t".into()), ..base.clone() }, "`name` is empty"),
        ];
        for (rule, want) in cases {
            let err = validate(std::slice::from_ref(&rule)).unwrap_err().to_string();
            assert!(err.contains(want), "{rule:?}: {err}");
        }
        let twice = TaxRule { tax: Some("t".into()), ..base };
        assert_eq!(validate(&[twice.clone(), twice]).unwrap_err().to_string(), "money.tax_rules[1]: \"r\": another rule has this name");
    }
}
