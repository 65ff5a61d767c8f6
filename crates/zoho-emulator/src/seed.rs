//! Seed profiles beyond the demo records: the *overlap* profile, CRM and Books holding
//! many of the same customers spelled differently, with the ground truth of which is
//! which, for the bridge's dedup/matching tests and benchmarks.
//!
//! [`overlap`] fills an emulator world: CRM Accounts (each with one or more Contacts, the
//! first being the primary one whose email is "the account's email") and Books contacts,
//! and returns an [`OverlapTruth`] saying, for every CRM account, what a correct matcher
//! does with it: link it to one Books contact (and by which rule: native link field,
//! email, or normalised name in the same country), send it to review (two Books contacts
//! normalise alike), or create it in Books; plus the Books contacts that have no CRM
//! counterpart. Spelling variants exercise case, extra whitespace, punctuation, accents,
//! `&` vs `and`, legal suffixes present, absent or different, and emails differing by
//! case and surrounding whitespace; some names carry quotes, commas, parentheses,
//! accents, emoji or run to the longest value both sides accept.
//!
//! Generation is linear in the number of records and deterministic: the same seed gives
//! the same records, ids and truth ([`crate::rng::Rng`]). [`normalise_name`] is the
//! reference normalisation the variants are built against.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{World, books, clock::Clock, crm, rng::Rng};

/// The longest customer name generated: Books' 200-character display name (CRM allows
/// 255 in a single-line field). Long names stop short of it by the longest legal suffix
/// (`, Pty Ltd`), so every spelling of them fits both sides.
pub const LONG_NAME_CHARS: usize = 200;

/// Room left in a long name for `, Pty Ltd` or `, Limited`.
const SUFFIX_ROOM: usize = 9;

/// How many customers of each kind the overlap profile generates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverlapSpec {
    /// CRM accounts in all.
    pub crm_accounts: usize,
    /// Books contacts in all.
    pub books_contacts: usize,
    /// Customers in both systems, spelled differently (one Books contact each).
    pub matched: usize,
    /// Of `matched`: already linked by a native field (half Books `zcrm_account_id`,
    /// half CRM `Books_Contact_ID`).
    pub native: usize,
    /// Of `matched`: found by email (CRM primary contact vs Books primary person). The
    /// rest of `matched` match only by normalised name and country.
    pub by_email: usize,
    /// CRM accounts with two Books contacts whose names normalise alike (same country,
    /// no email match): review.
    pub ambiguous: usize,
    /// Books contacts whose name normalises like a CRM account's but in another country
    /// and without a shared email: not the same customer. Half sit beside a name-matched
    /// pair, half face a CRM account that has no counterpart.
    pub different_country: usize,
    /// Most CRM contacts per account (at least one each).
    pub max_contacts_per_account: usize,
}

impl Default for OverlapSpec {
    fn default() -> Self {
        OverlapSpec {
            crm_accounts: 2_000,
            books_contacts: 1_800,
            matched: 1_200,
            native: 60,
            by_email: 540,
            ambiguous: 30,
            different_country: 40,
            max_contacts_per_account: 3,
        }
    }
}

impl OverlapSpec {
    /// The same proportions as the default, for `accounts` CRM accounts and as many
    /// Books contacts (benchmarks: 100,000 vs 100,000).
    pub fn scaled(accounts: usize) -> OverlapSpec {
        let part = |n: usize| n * accounts / 2_000;
        OverlapSpec {
            crm_accounts: accounts,
            books_contacts: accounts,
            matched: part(1_200),
            native: part(60),
            by_email: part(540),
            ambiguous: part(30),
            different_country: part(40),
            max_contacts_per_account: 3,
        }
    }

    /// Name-matched pairs that get a different-country lookalike beside them.
    fn decoys(&self) -> usize {
        (self.different_country / 2).min(self.matched - self.native - self.by_email)
    }

    /// Checks that the counts fit together; the error says which do not.
    pub fn check(&self) -> Result<(), String> {
        if self.native + self.by_email > self.matched {
            return Err(format!("native ({}) + by_email ({}) exceed matched ({})", self.native, self.by_email, self.matched));
        }
        let standalone = self.different_country - self.decoys();
        let crm = self.matched + self.ambiguous + standalone;
        if crm > self.crm_accounts {
            return Err(format!("matched + ambiguous + standalone different-country need {crm} CRM accounts, crm_accounts is {}", self.crm_accounts));
        }
        let books = self.matched + 2 * self.ambiguous + self.different_country;
        if books > self.books_contacts {
            return Err(format!("matched + 2 × ambiguous + different_country need {books} Books contacts, books_contacts is {}", self.books_contacts));
        }
        if self.max_contacts_per_account == 0 {
            return Err("max_contacts_per_account must be at least 1".into());
        }
        Ok(())
    }
}

/// How a matched pair is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Books `zcrm_account_id` or CRM `Books_Contact_ID` already names the other side.
    Native,
    /// CRM primary-contact email equals the Books primary person's email, ignoring case
    /// and surrounding whitespace.
    Email,
    /// Normalised names are equal and the billing countries are the same.
    Name,
}

/// What a correct matcher does with one CRM account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Link it to this Books contact.
    Link {
        /// The Books contact id.
        books_contact_id: String,
        /// The rule that finds it.
        rule: Rule,
    },
    /// Ask a person: these Books contacts are equally good candidates (sorted ids).
    Review {
        /// The Books contact ids.
        candidates: Vec<String>,
    },
    /// No Books counterpart: create one.
    Create,
}

/// One generated CRM account and its expected outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTruth {
    /// CRM account id.
    pub account_id: String,
    /// `Account_Name` as stored.
    pub account_name: String,
    /// `Billing_Country`.
    pub country: String,
    /// Email of the primary (first) contact: "the account's email".
    pub primary_email: String,
    /// CRM contact ids, primary first.
    pub contact_ids: Vec<String>,
    /// The outcome.
    pub expected: Expected,
}

/// The ground truth of an overlap seed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlapTruth {
    /// Every generated CRM account, sorted by id (which is creation order).
    pub accounts: Vec<AccountTruth>,
    /// Books contacts with no CRM counterpart (including the different-country
    /// lookalikes), in creation order.
    pub books_only: Vec<String>,
    /// `(CRM account id, Books contact id)` pairs whose names normalise alike but whose
    /// countries differ: they must not be merged.
    pub different_country: Vec<(String, String)>,
    /// `(Books contact id, contact_name)` of every generated Books contact.
    pub books_names: Vec<(String, String)>,
}

impl OverlapTruth {
    /// The expected outcome for a CRM account id (a binary search: `accounts` is sorted
    /// by id).
    pub fn expected(&self, account_id: &str) -> Option<&Expected> {
        self.accounts.binary_search_by(|a| a.account_id.as_str().cmp(account_id)).ok().map(|i| &self.accounts[i].expected)
    }

    /// How many accounts expect a link by `rule`.
    pub fn links_by(&self, rule: Rule) -> usize {
        self.accounts.iter().filter(|a| matches!(&a.expected, Expected::Link { rule: r, .. } if *r == rule)).count()
    }
}

/// Legal suffixes the variants add, drop or swap.
pub const LEGAL_SUFFIXES: &[&str] = &["Inc", "Inc.", "LLC", "Ltd", "Limited", "GmbH", "S.A.", "S.r.l.", "Pty Ltd", "Oy", "AB"];

/// The reference normalisation the spelling variants are built against: lower case,
/// accents folded, `&` read as `and`, punctuation and symbols (emoji included) dropped,
/// whitespace collapsed, and trailing legal suffixes removed.
pub fn normalise_name(name: &str) -> String {
    let mut text = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        match fold_accent(ch) {
            '&' => text.push_str(" and "),
            c if c.is_alphanumeric() => text.push(c),
            _ => text.push(' '),
        }
    }
    let mut words: Vec<&str> = text.split_whitespace().collect();
    // Longest first, so `Pty Ltd` goes whole rather than leaving `pty` behind `Ltd`.
    let mut suffixes: Vec<Vec<String>> = LEGAL_SUFFIXES.iter().map(|s| normalise_words(s)).collect();
    suffixes.sort_by_key(|s| std::cmp::Reverse(s.len()));
    loop {
        let before = words.len();
        for s in &suffixes {
            if words.len() > s.len() && words[words.len() - s.len()..].iter().zip(s).all(|(w, x)| w == x) {
                words.truncate(words.len() - s.len());
                break;
            }
        }
        if words.len() == before {
            break;
        }
    }
    words.join(" ")
}

fn normalise_words(s: &str) -> Vec<String> {
    s.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

/// Billing countries, their Books currency, a city and a phone prefix.
const COUNTRIES: &[(&str, &str, &str, &str)] = &[
    ("United States", "USD", "Austin", "+1"),
    ("Germany", "EUR", "Berlin", "+49"),
    ("United Kingdom", "GBP", "Leeds", "+44"),
    ("India", "INR", "Chennai", "+91"),
    ("Japan", "JPY", "Osaka", "+81"),
    ("Kuwait", "KWD", "Kuwait City", "+965"),
    ("France", "EUR", "Lyon", "+33"),
    ("Finland", "EUR", "Espoo", "+358"),
    ("Italy", "EUR", "Turin", "+39"),
    ("Australia", "USD", "Perth", "+61"),
];
const CONSONANTS: &[u8] = b"bdfgklmnprstvzh";
const VOWELS: &[u8] = b"aeiou";
const INDUSTRIES: &[&str] = &["Holdings", "Labs", "Trading", "Systems", "Foods", "Logistics", "Partners", "Studio", "Works", "Textiles", "Media", "Energy"];
const FIRST: &[&str] = &["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana", "Ivan", "Jo", "Kiran", "Lena", "Mateo", "Nora"];
const LAST: &[&str] = &["Smith", "Müller", "O'Brien", "Iyer", "Tanaka", "Al-Sabah", "Novak", "García", "Kowalski", "Dubois", "Virtanen", "Rossi"];
const STREETS: &[&str] = &["Main Street", "Harbour Road", "Station Lane", "Market Square", "Mill Way"];
const FILLER: &[&str] = &["International", "Consolidated", "Regional", "Distribution", "Services", "Engineering", "Manufacturing", "Group"];

/// Syllables per name: 15 consonants × 5 vowels = 75; four of them give 75⁴ distinct
/// cores, enough for millions of customers.
const CORES: u64 = 75 * 75 * 75 * 75;
/// Multiplier coprime with 75⁴ (= 3⁴·5⁸): spreads consecutive indexes over the cores.
const SPREAD: u64 = 7_368_787;

fn syllable(n: u64) -> [u8; 2] {
    [CONSONANTS[(n / 5) as usize % 15], VOWELS[(n % 5) as usize]]
}

fn capital(word: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(word).into_owned();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// The unique two-word core of customer `i`: distinct `i` give distinct normalised cores.
fn core_words(i: u64) -> (String, String) {
    let p = (i % CORES) * SPREAD % CORES;
    let s: Vec<[u8; 2]> = (0..4).map(|k| syllable(p / 75u64.pow(k) % 75)).collect();
    (capital(&[s[0], s[1]].concat()), capital(&[s[2], s[3]].concat()))
}

/// One customer's canonical name, before spelling variants.
#[derive(Debug, Clone)]
struct Name {
    /// Words without a legal suffix.
    base: String,
    /// Long names take no doubled whitespace (it would push them past the limit).
    long: bool,
    /// For the domain of emails and websites.
    slug: String,
}

fn canonical(i: u64, rng: &mut Rng) -> Name {
    let (w1, w2) = core_words(i);
    let slug = format!("{}{}", w1.to_lowercase(), w2.to_lowercase());
    let industry = *rng.pick(INDUSTRIES);
    let mut long = false;
    let mut base = match rng.below(100) {
        0..=2 => format!("{w1}'s {w2} {industry}"),
        3..=5 => format!("{w1} \"{w2}\" {industry}"),
        6..=8 => format!("{w1}, {w2} & Sons"),
        9..=11 => format!("{w1} {w2} (Europe) {industry}"),
        12..=13 => format!("{w1} {w2} {industry} 🚀"),
        14..=15 => {
            long = true;
            let mut s = format!("{w1} {w2} {industry}");
            while s.chars().count() < LONG_NAME_CHARS - SUFFIX_ROOM {
                s.push(' ');
                let word: &&str = rng.pick(FILLER);
                s.push_str(word);
            }
            let cut: String = s.chars().take(LONG_NAME_CHARS - SUFFIX_ROOM).collect();
            // End on a whole word: a cut word would normalise differently from its
            // variants only by accident of where the cut fell.
            cut.rsplit_once(' ').map(|(head, _)| head.to_string()).unwrap_or(cut)
        }
        _ => format!("{w1} {w2} {industry}"),
    };
    if rng.chance(0.08) {
        // Accented in the canonical spelling; variants may drop the accent.
        base = base.replacen('e', "é", 1);
    }
    Name { base, long, slug }
}

/// A way of spelling a name. `Plain` is the canonical spelling with a suffix.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    upper: bool,
    lower: bool,
    extra_spaces: bool,
    comma_before_suffix: bool,
    toggle_accent: bool,
    toggle_and: bool,
}

impl Style {
    fn random(rng: &mut Rng, long: bool) -> Style {
        let case = rng.below(4);
        let mut s = Style {
            upper: case == 1,
            lower: case == 2,
            extra_spaces: !long && rng.chance(0.3),
            comma_before_suffix: rng.chance(0.3),
            toggle_accent: rng.chance(0.3),
            toggle_and: !long && rng.chance(0.5),
        };
        if !(s.upper || s.lower || s.extra_spaces || s.comma_before_suffix || s.toggle_accent || s.toggle_and) {
            s.lower = true;
        }
        s
    }
}

fn render(name: &Name, suffix: Option<&str>, style: Style) -> String {
    let mut base = name.base.clone();
    if style.toggle_accent {
        base = if base.contains('é') { base.replacen('é', "e", 1) } else { base.replacen('e', "é", 1) };
    }
    if style.toggle_and {
        base = if base.contains(" & ") { base.replace(" & ", " and ") } else { base.replace(" and ", " & ") };
    }
    let mut out = match suffix {
        Some(s) if style.comma_before_suffix => format!("{base}, {s}"),
        Some(s) => format!("{base} {s}"),
        None => base,
    };
    if style.upper {
        out = out.to_uppercase();
    } else if style.lower {
        out = out.to_lowercase();
    }
    if style.extra_spaces {
        out = format!(" {}  ", out.replace(' ', "  "));
    }
    out
}

/// What a customer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Linked already: the Books contact holds the CRM id.
    NativeBooksSide,
    /// Linked already: the CRM account holds the Books id.
    NativeCrmSide,
    /// Same email.
    Email,
    /// Same normalised name and country; `decoy` adds a lookalike in another country.
    Name { decoy: bool },
    /// Two Books lookalikes in the same country.
    Ambiguous,
    /// A CRM account and a Books lookalike in another country.
    Standalone,
    /// CRM only.
    CrmOnly,
    /// Books only.
    BooksOnly,
}

fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The Books contacts generated so far, with the lower-cased names Books refuses twice.
struct BooksSide {
    taken: HashSet<String>,
    currency_of: Vec<(String, String)>,
}

impl BooksSide {
    /// A spelling of `name` that no Books contact has yet and that is not `avoid` (the
    /// CRM spelling): the styled one, else the same with each legal suffix in turn, else
    /// upper or lower case (all normalise alike).
    fn unique_spelling(&mut self, name: &Name, suffix: Option<&str>, style: Style, avoid: &str) -> String {
        let first = render(name, suffix, style);
        let candidates = std::iter::once(first.clone())
            .chain(LEGAL_SUFFIXES.iter().map(|s| render(name, Some(s), style)))
            .chain(LEGAL_SUFFIXES.iter().map(|s| render(name, Some(s), Style { comma_before_suffix: !style.comma_before_suffix, ..style })))
            .chain([render(name, None, Style { upper: true, lower: false, ..style }), render(name, None, Style { lower: true, upper: false, ..style })]);
        for c in candidates.filter(|c| c != avoid) {
            if self.taken.insert(c.to_lowercase()) {
                return c;
            }
        }
        // Unreachable with at most three Books contacts per core; keep the first anyway.
        first
    }

    fn currency(&self, code: &str) -> Option<&str> {
        self.currency_of.iter().find(|(c, _)| c == code).map(|(_, id)| id.as_str())
    }
}

/// One Books contact to create.
struct BooksContact {
    contact_name: String,
    company_name: String,
    country: usize,
    email: String,
    person: (String, String),
    zcrm_account_id: String,
    slug: String,
}

fn books_body(b: &BooksContact, side: &BooksSide, rng: &mut Rng) -> Map<String, Value> {
    let (country, code, city, _) = COUNTRIES[b.country];
    let mut body = json!({
        "contact_name": b.contact_name,
        "company_name": b.company_name,
        "website": format!("https://www.{}.example", b.slug),
        "billing_address": {"address": format!("{} {}", 1 + rng.below(400), rng.pick(STREETS)), "city": city, "zip": format!("{:05}", rng.below(100_000)), "country": country},
        "contact_persons": [{"first_name": b.person.0, "last_name": b.person.1, "email": b.email, "is_primary_contact": true}],
    });
    if let Some(id) = side.currency(code) {
        body["currency_id"] = json!(id);
    }
    if !b.zcrm_account_id.is_empty() {
        body["zcrm_account_id"] = json!(b.zcrm_account_id);
    }
    obj(body)
}

/// An email differing from `email` by case and, sometimes, surrounding whitespace.
fn email_variant(email: &str, rng: &mut Rng) -> String {
    let cased = match rng.below(3) {
        0 => email.to_uppercase(),
        1 => email.split('@').enumerate().map(|(k, p)| if k == 0 { capital(p.as_bytes()) } else { p.to_uppercase() }).collect::<Vec<_>>().join("@"),
        _ => capital(email.as_bytes()),
    };
    if rng.chance(0.5) { format!("  {cased} ") } else { cased }
}

/// Fills `world` (CRM and the default Books organisation) with overlapping customers and
/// returns the truth. Deterministic for a given `seed` and world.
pub fn overlap(world: &mut World, spec: &OverlapSpec, seed: u64) -> Result<OverlapTruth, String> {
    let clock = Clock::new(0);
    clock.set_offset_ms(world.clock_offset_ms);
    let mut rng = Rng::new(seed ^ 0x0f0f_0f0f);
    overlap_with(world, spec, &mut rng, &clock)
}

/// [`overlap`] with the caller's generator and clock (`build_world`).
pub(crate) fn overlap_with(world: &mut World, spec: &OverlapSpec, rng: &mut Rng, clock: &Clock) -> Result<OverlapTruth, String> {
    spec.check()?;
    let native_books = spec.native / 2;
    let name_only = spec.matched - spec.native - spec.by_email;
    let decoys = spec.decoys();
    let standalone = spec.different_country - decoys;
    let crm_only = spec.crm_accounts - spec.matched - spec.ambiguous - standalone;
    let books_only = spec.books_contacts - spec.matched - 2 * spec.ambiguous - spec.different_country;
    let mut kinds: Vec<Kind> = Vec::with_capacity(spec.crm_accounts + books_only);
    let runs = [
        (Kind::NativeBooksSide, native_books),
        (Kind::NativeCrmSide, spec.native - native_books),
        (Kind::Email, spec.by_email),
        (Kind::Name { decoy: true }, decoys),
        (Kind::Name { decoy: false }, name_only - decoys),
        (Kind::Ambiguous, spec.ambiguous),
        (Kind::Standalone, standalone),
        (Kind::CrmOnly, crm_only),
        (Kind::BooksOnly, books_only),
    ];
    for (kind, n) in runs {
        kinds.extend(std::iter::repeat_n(kind, n));
    }
    shuffle(&mut kinds, rng);

    let org = world.books.orgs.values().next().ok_or("no Books organisation")?;
    let mut side = BooksSide {
        taken: org.contact_names.keys().cloned().collect(),
        currency_of: org.currencies.values().map(|c| (c.currency_code.clone(), c.currency_id.clone())).collect(),
    };
    let start = world.crm.modules.get("Accounts").map_or(0, |m| m.records.len() as u64) + org.contacts.len() as u64;

    // Each customer: canonical name, country, CRM spelling and primary person.
    struct Customer {
        kind: Kind,
        name: Name,
        country: usize,
        crm_name: String,
        crm_email: String,
        person: (String, String),
        books_id: String,
        account_id: u64,
    }
    let mut customers: Vec<Customer> = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let name = canonical(start + i as u64, rng);
        let country = rng.below(COUNTRIES.len() as u64) as usize;
        let suffix = if rng.chance(0.6) { Some(*rng.pick(LEGAL_SUFFIXES)) } else { None };
        let crm_name = render(&name, suffix, Style::default());
        let person = (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string());
        let local = format!("{}.{}{}", person.0, person.1, i).to_lowercase().replace(['\'', ' '], "").replace('ü', "u").replace('í', "i");
        let crm_email = format!("{local}@{}.example", name.slug);
        customers.push(Customer { kind: *kind, name, country, crm_name, crm_email, person, books_id: String::new(), account_id: 0 });
    }

    let mut truth = OverlapTruth::default();
    let books_email = |c: &Customer, tag: &str, rng: &mut Rng| if rng.chance(0.3) { String::new() } else { format!("{tag}@{}-books.example", c.name.slug) };
    let other_country = |c: usize, rng: &mut Rng| (c + 1 + rng.below(COUNTRIES.len() as u64 - 1) as usize) % COUNTRIES.len();

    // Phase 1: Books contacts the CRM side will name (native link held by CRM).
    for c in customers.iter_mut().filter(|c| c.kind == Kind::NativeCrmSide) {
        let style = Style::random(rng, c.name.long);
        let spelled = side.unique_spelling(&c.name, Some(*rng.pick(LEGAL_SUFFIXES)), style, &c.crm_name);
        let b = BooksContact {
            company_name: spelled.trim().to_string(),
            contact_name: spelled,
            country: c.country,
            email: books_email(c, "accounts", rng),
            person: c.person.clone(),
            zcrm_account_id: String::new(),
            slug: c.name.slug.clone(),
        };
        c.books_id = add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?;
    }

    // Phase 2: CRM accounts, then their contacts. Names are unique by construction, so the
    // accounts are written into an empty module and moved across: the per-create
    // duplicate scan of `Account_Name` would otherwise make this quadratic.
    let mut accounts = std::mem::take(world.crm.module_mut("Accounts"));
    for c in customers.iter_mut().filter(|c| c.kind != Kind::BooksOnly) {
        let (country, _, city, phone) = COUNTRIES[c.country];
        let mut input = json!({
            "Account_Name": c.crm_name, "Billing_Country": country, "Billing_City": city,
            "Billing_Street": format!("{} {}", 1 + rng.below(400), rng.pick(STREETS)), "Billing_Code": format!("{:05}", rng.below(100_000)),
            "Phone": format!("{phone} {:03} {:04}", rng.below(1000), rng.below(10_000)), "Website": format!("https://www.{}.example", c.name.slug),
        });
        if c.kind == Kind::NativeCrmSide {
            input["Books_Contact_ID"] = json!(c.books_id);
        }
        let id = crm::write::seed_record(&mut world.crm, "Accounts", &obj(input), clock).ok_or_else(|| format!("CRM refused account {:?}", c.crm_name))?;
        let record = world.crm.module_mut("Accounts").remove(id).ok_or("the account just written is missing")?;
        accounts.put(record);
        c.account_id = id;
    }
    let fresh = std::mem::replace(world.crm.module_mut("Accounts"), accounts);
    for (_, r) in fresh.records {
        world.crm.module_mut("Accounts").put(r);
    }
    let mut contact_ids: Vec<Vec<String>> = Vec::with_capacity(customers.len());
    for c in &customers {
        let mut ids = Vec::new();
        if c.kind != Kind::BooksOnly {
            let n = 1 + rng.below(spec.max_contacts_per_account as u64);
            for k in 0..n {
                let (first, last, email) = if k == 0 {
                    (c.person.0.clone(), c.person.1.clone(), c.crm_email.clone())
                } else {
                    let first = rng.pick(FIRST).to_string();
                    (first.clone(), c.person.1.clone(), format!("{}.{k}@{}.example", first.to_lowercase(), c.name.slug))
                };
                let input = json!({"First_Name": first, "Last_Name": last, "Email": email, "Account_Name": {"id": c.account_id.to_string()},
                    "Mailing_Country": COUNTRIES[c.country].0});
                let id = crm::write::seed_record(&mut world.crm, "Contacts", &obj(input), clock)
                    .ok_or_else(|| format!("CRM refused a contact of {:?}", c.crm_name))?;
                ids.push(id.to_string());
            }
        }
        contact_ids.push(ids);
    }

    // Phase 3: the other Books contacts, and the truth.
    for (c, contacts) in customers.iter_mut().zip(contact_ids) {
        let style = Style::random(rng, c.name.long);
        let variant = |side: &mut BooksSide, rng: &mut Rng| {
            let suffix = if rng.chance(0.5) { Some(*rng.pick(LEGAL_SUFFIXES)) } else { None };
            side.unique_spelling(&c.name, suffix, Style::random(rng, c.name.long), &c.crm_name)
        };
        let contact = |contact_name: String, country: usize, email: String, zcrm: String| BooksContact {
            company_name: contact_name.trim().to_string(),
            contact_name,
            country,
            email,
            person: c.person.clone(),
            zcrm_account_id: zcrm,
            slug: c.name.slug.clone(),
        };
        let expected = match c.kind {
            Kind::NativeCrmSide => Expected::Link { books_contact_id: c.books_id.clone(), rule: Rule::Native },
            Kind::NativeBooksSide => {
                let name = side.unique_spelling(&c.name, None, style, &c.crm_name);
                let b = contact(name, c.country, books_email(c, "accounts", rng), c.account_id.to_string());
                Expected::Link { books_contact_id: add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?, rule: Rule::Native }
            }
            Kind::Email => {
                // Half carry a person's name in Books, which no name rule can match.
                let name = if rng.chance(0.5) {
                    // The slug is the customer's own, so the name is unique in Books.
                    let n = format!("{} {} ({})", c.person.0, c.person.1, capital(c.name.slug.as_bytes()));
                    side.taken.insert(n.to_lowercase());
                    n
                } else {
                    variant(&mut side, rng)
                };
                let b = contact(name, c.country, email_variant(&c.crm_email, rng), String::new());
                Expected::Link { books_contact_id: add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?, rule: Rule::Email }
            }
            Kind::Name { decoy } => {
                let name = variant(&mut side, rng);
                let b = contact(name, c.country, books_email(c, "billing", rng), String::new());
                let id = add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?;
                if decoy {
                    let name = variant(&mut side, rng);
                    let b = contact(name, other_country(c.country, rng), books_email(c, "office", rng), String::new());
                    let other = add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?;
                    truth.different_country.push((c.account_id.to_string(), other.clone()));
                    truth.books_only.push(other);
                }
                Expected::Link { books_contact_id: id, rule: Rule::Name }
            }
            Kind::Ambiguous => {
                let mut candidates = Vec::new();
                for tag in ["billing", "office"] {
                    let name = variant(&mut side, rng);
                    let b = contact(name, c.country, books_email(c, tag, rng), String::new());
                    candidates.push(add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?);
                }
                candidates.sort();
                Expected::Review { candidates }
            }
            Kind::Standalone => {
                let name = variant(&mut side, rng);
                let b = contact(name, other_country(c.country, rng), books_email(c, "office", rng), String::new());
                let other = add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?;
                truth.different_country.push((c.account_id.to_string(), other.clone()));
                truth.books_only.push(other);
                Expected::Create
            }
            Kind::CrmOnly => Expected::Create,
            Kind::BooksOnly => {
                let suffix = if rng.chance(0.5) { Some(*rng.pick(LEGAL_SUFFIXES)) } else { None };
                let name = side.unique_spelling(&c.name, suffix, Style::default(), "");
                let b = contact(name, c.country, books_email(c, "hello", rng), String::new());
                let id = add_books(&mut world.books, &mut side, &b, rng, clock, &mut truth)?;
                truth.books_only.push(id);
                continue;
            }
        };
        truth.accounts.push(AccountTruth {
            account_id: c.account_id.to_string(),
            account_name: c.crm_name.clone(),
            country: COUNTRIES[c.country].0.to_string(),
            primary_email: c.crm_email.clone(),
            contact_ids: contacts,
            expected,
        });
    }
    truth.accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    Ok(truth)
}

/// Creates one Books contact and records its name in the truth.
fn add_books(
    books: &mut books::BooksData,
    side: &mut BooksSide,
    b: &BooksContact,
    rng: &mut Rng,
    clock: &Clock,
    truth: &mut OverlapTruth,
) -> Result<String, String> {
    let body = books_body(b, side, rng);
    let c = books::seed_contact(books, clock, &body).map_err(|e| format!("Books refused contact {:?}: {e}", b.contact_name))?;
    truth.books_names.push((c.contact_id.clone(), c.contact_name.clone()));
    Ok(c.contact_id)
}
