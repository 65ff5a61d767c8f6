//! Customer matching: the keys two records are compared by, and the rule that decides.
//!
//! The most common complaint about CRM ⇄ Books links is duplicate customers, created by
//! exact-name matching or on reconnect. So before any create, a customer is matched in
//! this order, stopping at the first step that answers ([`Rule`]):
//!
//! 1. the link zoho-bridge keeps (`account_contact`);
//! 2. the native link fields (Books `zcrm_account_id`, CRM `Books_Contact_ID`);
//! 3. the primary email, trimmed and case-insensitive ([`email_key`]);
//! 4. the normalised company name ([`name_key`]: case, whitespace, punctuation, accents,
//!    `&`/`and`, legal suffixes) together with the billing country when both sides have
//!    one ([`country_key`]): the same name in two countries is two customers.
//!
//! A step with one candidate matches; a step with two or more is **ambiguous** and is
//! never guessed ([`Decision::Ambiguous`]: the record goes to the review list); a step
//! with none passes to the next. The keys are kept per record in the store's directory
//! (`store::Directory`), so a step is an index look-up, never a scan of Zoho.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// The step of the matching order that answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The link zoho-bridge keeps.
    Link,
    /// A native link field (`zcrm_account_id`, `Books_Contact_ID`).
    Native,
    /// The primary email.
    Email,
    /// The normalised company name (and billing country).
    Name,
    /// A person's decision on the review list.
    Review,
}

impl Rule {
    /// Its name in reports (`email`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Link => "link",
            Rule::Native => "native",
            Rule::Email => "email",
            Rule::Name => "name",
            Rule::Review => "review",
        }
    }
}

/// A record as matching sees it: its id and display name and its keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Party {
    /// Its id in its system.
    pub id: String,
    /// Its name as written (for people).
    pub name: String,
    /// [`email_key`] of its primary email.
    pub email_key: Option<String>,
    /// [`name_key`] of its company name.
    pub name_key: Option<String>,
    /// [`country_key`] of its billing country.
    pub country_key: Option<String>,
    /// The other system's id its native link field holds.
    pub native_id: Option<String>,
}

impl Party {
    /// A party from raw values: the keys are computed here.
    pub fn new(id: impl Into<String>, name: &str, email: Option<&str>, country: Option<&str>, native_id: Option<&str>) -> Party {
        Party {
            id: id.into(),
            name: name.trim().to_string(),
            email_key: email.and_then(email_key),
            name_key: name_key(name),
            country_key: country.and_then(country_key),
            native_id: native_id.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
        }
    }

    /// Whether `other` may be the same customer by name: same name key, and the same
    /// country unless one of them has none.
    pub fn same_name(&self, other: &Party) -> bool {
        self.name_key.is_some()
            && self.name_key == other.name_key
            && match (&self.country_key, &other.country_key) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// What matching decided for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// One candidate at `rule`: it is the same customer.
    Matched {
        /// The step that answered.
        rule: Rule,
        /// The other side's id.
        id: String,
    },
    /// Two or more candidates at `rule`: a person decides.
    Ambiguous {
        /// The step that found them.
        rule: Rule,
        /// The other side's ids.
        candidates: Vec<String>,
    },
    /// No candidate at any step: a new record on the other side.
    NoMatch,
}

/// The answer of one step over its `candidates` (already narrowed to this step's key):
/// none passes to the next step, one matches, more are ambiguous.
pub fn step(rule: Rule, candidates: &[Party]) -> Option<Decision> {
    let mut ids: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    match ids.len() {
        0 => None,
        1 => Some(Decision::Matched { rule, id: ids.remove(0) }),
        _ => Some(Decision::Ambiguous { rule, candidates: ids }),
    }
}

/// An email as compared: trimmed and lower-cased; `None` when empty or not an address.
pub fn email_key(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    (e.len() > 2 && e.contains('@')).then_some(e)
}

/// Legal-form words dropped from the end of a company name (after punctuation is
/// removed, so `S.A.` is `sa`, `S.r.l.` is `srl`, `Pty. Ltd.` is `pty ltd`).
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "kg",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "sl",
    "pty",
    "oy",
    "oyj",
    "ab",
    "bv",
    "nv",
    "as",
    "aps",
    "kk",
];

/// A company name as compared: accents folded, lower case, `&` read as `and`, periods and
/// apostrophes dropped, other punctuation as spaces, whitespace collapsed, and trailing
/// legal forms removed (never the last word). `None` when nothing is left.
pub fn name_key(raw: &str) -> Option<String> {
    let folded = fold(raw);
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// Country names and codes that mean the same country, by their folded spelling.
const COUNTRY_ALIASES: &[(&str, &[&str])] = &[
    ("us", &["usa", "united states", "united states of america", "u s", "u s a", "america"]),
    ("gb", &["uk", "united kingdom", "great britain", "england", "scotland", "wales", "u k"]),
    ("de", &["germany", "deutschland"]),
    ("fr", &["france"]),
    ("es", &["spain", "espana"]),
    ("it", &["italy", "italia"]),
    ("nl", &["netherlands", "the netherlands", "holland", "nederland"]),
    ("ch", &["switzerland", "schweiz", "suisse", "svizzera"]),
    ("at", &["austria", "osterreich"]),
    ("au", &["australia"]),
    ("fi", &["finland", "suomi"]),
    ("se", &["sweden", "sverige"]),
    ("in", &["india"]),
    ("ca", &["canada"]),
    ("ie", &["ireland"]),
    ("jp", &["japan"]),
    ("be", &["belgium", "belgie", "belgique"]),
    ("bg", &["bulgaria"]),
    ("cz", &["czechia", "czech republic"]),
    ("dk", &["denmark", "danmark"]),
    ("ee", &["estonia"]),
    ("gr", &["greece"]),
    ("hr", &["croatia"]),
    ("cy", &["cyprus"]),
    ("lv", &["latvia"]),
    ("lt", &["lithuania"]),
    ("lu", &["luxembourg"]),
    ("hu", &["hungary"]),
    ("mt", &["malta"]),
    ("pl", &["poland", "polska"]),
    ("pt", &["portugal"]),
    ("ro", &["romania"]),
    ("si", &["slovenia"]),
    ("sk", &["slovakia"]),
    ("no", &["norway", "norge"]),
    ("kw", &["kuwait"]),
    ("ae", &["united arab emirates", "uae"]),
    ("sg", &["singapore"]),
    ("nz", &["new zealand"]),
    ("br", &["brazil", "brasil"]),
    ("mx", &["mexico"]),
    ("cn", &["china"]),
];

/// A billing country as compared: folded like a name, common names and codes read as
/// the same country (`USA`, `United States`, `US`). `None` when empty.
pub fn country_key(raw: &str) -> Option<String> {
    let folded = fold(raw).split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return None;
    }
    let code = COUNTRY_ALIASES.iter().find(|(code, names)| *code == folded || names.contains(&folded.as_str())).map(|(code, _)| code.to_string());
    Some(code.unwrap_or(folded))
}

/// Lower case, accents folded (canonical decomposition without its combining marks, and
/// the letters that do not decompose), `&` as ` and `, `.` and apostrophes dropped, other
/// non-alphanumerics as spaces.
fn fold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            '&' => out.push_str(" and "),
            '.' | '\'' | '’' | '‘' | '`' => {}
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            'þ' | 'Þ' => out.push_str("th"),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => out.push(' '),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_by_every_rule() {
        let same = [
            ("Acme", "ACME"),
            ("Acme  Widgets", " acme widgets "),
            ("Acme, Widgets!", "Acme Widgets"),
            ("Café Müller", "Cafe Muller"),
            ("Smith & Sons", "Smith and Sons"),
            ("Acme Inc.", "Acme"),
            ("Acme, LLC", "acme"),
            ("Acme Ltd", "Acme Limited"),
            ("Müller GmbH", "Muller"),
            ("Telefónica S.A.", "Telefonica"),
            ("Rossi S.r.l.", "ROSSI SRL"),
            ("Koala Pty Ltd", "Koala"),
            ("Nokia Oy", "Nokia"),
            ("Volvo AB", "volvo"),
            ("O'Brien's Bakery", "OBriens Bakery"),
            ("Straße", "Strasse"),
            ("Rocket 🚀 Labs", "Rocket Labs"),
        ];
        for (a, b) in same {
            assert_eq!(name_key(a), name_key(b), "{a:?} vs {b:?}");
        }
        assert_ne!(name_key("Acme"), name_key("Acme Widgets"));
        // A legal form alone is a name; the last word is never dropped.
        assert_eq!(name_key("Inc").as_deref(), Some("inc"));
        assert_eq!(name_key(" .,! "), None);
    }

    #[test]
    fn emails_and_countries_normalise() {
        assert_eq!(email_key("  Ann@Example.COM "), Some("ann@example.com".into()));
        assert_eq!(email_key(" "), None);
        assert_eq!(email_key("not an email"), None);
        assert_eq!(country_key("USA"), country_key("United States"));
        assert_eq!(country_key("us"), Some("us".into()));
        assert_eq!(country_key("Österreich"), country_key("Austria"));
        assert_eq!(country_key("Narnia"), Some("narnia".into()));
        assert_eq!(country_key("  "), None);
    }

    #[test]
    fn same_name_needs_the_same_country_when_both_have_one() {
        let a = Party::new("1", "Acme Inc", None, Some("US"), None);
        let b = Party::new("2", "ACME", None, Some("United States"), None);
        let c = Party::new("3", "Acme", None, Some("Germany"), None);
        let d = Party::new("4", "Acme LLC", None, None, None);
        assert!(a.same_name(&b));
        assert!(!a.same_name(&c), "same name, different countries: different customers");
        assert!(a.same_name(&d) && c.same_name(&d), "no country on one side: the name decides");
    }

    #[test]
    fn a_step_matches_one_and_refuses_to_guess_between_two() {
        let one = Party::new("9", "X", None, None, None);
        let two = Party::new("8", "X", None, None, None);
        assert_eq!(step(Rule::Email, &[]), None);
        assert_eq!(step(Rule::Email, std::slice::from_ref(&one)), Some(Decision::Matched { rule: Rule::Email, id: "9".into() }));
        assert_eq!(step(Rule::Name, &[one, two]), Some(Decision::Ambiguous { rule: Rule::Name, candidates: vec!["8".into(), "9".into()] }));
    }
}
