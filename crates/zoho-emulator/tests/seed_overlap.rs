//! The overlap seed profile: its truth agrees with itself and with the records it wrote
//! (counts, unique Books names, lookalikes that differ in spelling but normalise alike,
//! emails that match only where the truth says so, every spelling rule exercised), it is
//! deterministic, and an emulator started with the profile serves exactly that data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use zoho_emulator::{
    Emulator, EmulatorConfig, SeedProfile, World,
    seed::{self, Expected, LEGAL_SUFFIXES, OverlapSpec, OverlapTruth, Rule, normalise_name},
    testkit,
};

fn empty_world(seed: u64) -> World {
    zoho_emulator::build_world(&EmulatorConfig { seed, seed_data: false, ..EmulatorConfig::unlimited() })
}

fn generate(spec: &OverlapSpec, seed: u64) -> (World, OverlapTruth) {
    let mut world = empty_world(seed);
    let truth = seed::overlap(&mut world, spec, seed).expect("the spec fits");
    (world, truth)
}

/// What the world holds about one Books contact: name, country, primary email, CRM link.
struct BooksRow {
    name: String,
    country: String,
    email: String,
    zcrm_account_id: String,
}

fn books_rows(world: &World) -> HashMap<String, BooksRow> {
    let org = world.books.orgs.values().next().unwrap();
    org.contacts
        .values()
        .map(|c| {
            let row = BooksRow {
                name: c.contact_name.clone(),
                country: c.billing_address.country.clone(),
                email: c.primary().map(|p| p.email.clone()).unwrap_or_default(),
                zcrm_account_id: c.zcrm_account_id.clone(),
            };
            (c.contact_id.clone(), row)
        })
        .collect()
}

fn email_key(e: &str) -> String {
    e.trim().to_lowercase()
}

fn check_truth(spec: &OverlapSpec, world: &World, truth: &OverlapTruth) {
    let books = books_rows(world);
    let accounts = &world.crm.modules["Accounts"].records;
    let contacts = &world.crm.modules["Contacts"].records;

    // Counts.
    assert_eq!(truth.accounts.len(), spec.crm_accounts);
    assert_eq!(accounts.len(), spec.crm_accounts);
    assert_eq!(books.len(), spec.books_contacts);
    assert_eq!(truth.books_names.len(), spec.books_contacts);
    assert_eq!(truth.links_by(Rule::Native), spec.native);
    assert_eq!(truth.links_by(Rule::Email), spec.by_email);
    assert_eq!(truth.links_by(Rule::Name), spec.matched - spec.native - spec.by_email);
    let reviews = truth.accounts.iter().filter(|a| matches!(a.expected, Expected::Review { .. })).count();
    assert_eq!(reviews, spec.ambiguous);
    assert_eq!(truth.different_country.len(), spec.different_country);
    let creates = truth.accounts.iter().filter(|a| a.expected == Expected::Create).count();
    let standalone = truth.different_country.iter().filter(|(crm, _)| truth.expected(crm) == Some(&Expected::Create)).count();
    assert_eq!(creates, spec.crm_accounts - spec.matched - spec.ambiguous);
    assert!(standalone > 0 && standalone < spec.different_country, "both kinds of lookalike: {standalone}");
    assert_eq!(truth.books_only.len(), spec.books_contacts - spec.matched - 2 * spec.ambiguous);

    // Every Books contact is exactly one of: linked, a review candidate, Books-only.
    let mut claimed: BTreeMap<&str, &str> = BTreeMap::new();
    for a in &truth.accounts {
        let ids: Vec<&str> = match &a.expected {
            Expected::Link { books_contact_id, .. } => vec![books_contact_id],
            Expected::Review { candidates } => candidates.iter().map(String::as_str).collect(),
            Expected::Create => vec![],
        };
        for id in ids {
            assert!(claimed.insert(id, "crm").is_none(), "{id} claimed twice");
        }
    }
    for id in &truth.books_only {
        assert!(claimed.insert(id, "books-only").is_none(), "{id} is both matched and Books-only");
    }
    assert_eq!(claimed.len(), spec.books_contacts);
    assert!(claimed.keys().all(|id| books.contains_key(*id)));

    // Books names are unique, case-insensitively, and are what the truth says.
    let lower: BTreeSet<String> = books.values().map(|b| b.name.to_lowercase()).collect();
    assert_eq!(lower.len(), books.len());
    for (id, name) in &truth.books_names {
        assert_eq!(&books[id].name, name);
    }

    // Each account: stored as the truth says, primary contact first with its email.
    let all_books_emails: HashMap<String, Vec<&str>> = books.iter().fold(HashMap::new(), |mut m, (id, b)| {
        if !b.email.trim().is_empty() {
            m.entry(email_key(&b.email)).or_default().push(id.as_str());
        }
        m
    });
    for a in &truth.accounts {
        let record = &accounts[&a.account_id.parse::<u64>().unwrap()];
        assert_eq!(record.text("Account_Name"), Some(a.account_name.as_str()));
        assert_eq!(record.text("Billing_Country"), Some(a.country.as_str()));
        assert!(!a.contact_ids.is_empty() && a.contact_ids.len() <= spec.max_contacts_per_account);
        let primary = &contacts[&a.contact_ids[0].parse::<u64>().unwrap()];
        assert_eq!(primary.text("Email"), Some(a.primary_email.as_str()));
        for c in &a.contact_ids {
            let c = &contacts[&c.parse::<u64>().unwrap()];
            assert_eq!(c.fields["Account_Name"]["id"].as_str(), Some(a.account_id.as_str()));
        }
        let crm_norm = normalise_name(&a.account_name);
        let email_hits = all_books_emails.get(&email_key(&a.primary_email)).cloned().unwrap_or_default();
        match &a.expected {
            Expected::Link { books_contact_id, rule } => {
                let b = &books[books_contact_id];
                assert_eq!(b.country, a.country, "a linked pair is in one country");
                match rule {
                    Rule::Native => {
                        let crm_side = record.text("Books_Contact_ID") == Some(books_contact_id.as_str());
                        assert!(crm_side || b.zcrm_account_id == a.account_id, "{a:?}");
                    }
                    Rule::Email => {
                        assert_eq!(email_hits, vec![books_contact_id.as_str()], "exactly one Books email matches");
                        assert_ne!(b.email, a.primary_email, "the emails differ in spelling");
                    }
                    Rule::Name => {
                        assert!(email_hits.is_empty(), "a name match shares no email: {a:?}");
                        assert_eq!(normalise_name(&b.name), crm_norm, "{:?} vs {:?}", b.name, a.account_name);
                        assert_ne!(b.name, a.account_name, "spelled differently");
                    }
                }
                if *rule != Rule::Native {
                    assert!(b.zcrm_account_id.is_empty() && record.text("Books_Contact_ID").is_none());
                }
            }
            Expected::Review { candidates } => {
                assert_eq!(candidates.len(), 2);
                assert!(email_hits.is_empty(), "review cases share no email");
                let (x, y) = (&books[&candidates[0]], &books[&candidates[1]]);
                assert_ne!(x.name.to_lowercase(), y.name.to_lowercase());
                assert_eq!(normalise_name(&x.name), normalise_name(&y.name));
                assert_eq!(normalise_name(&x.name), crm_norm);
                assert_eq!((x.country.as_str(), y.country.as_str()), (a.country.as_str(), a.country.as_str()));
            }
            Expected::Create => assert!(email_hits.is_empty(), "nothing in Books has this account's email"),
        }
        // Apart from the truth's pairs and lookalikes, no Books contact normalises alike in
        // the same country.
    }
    for (crm, books_id) in &truth.different_country {
        let a = truth.accounts.iter().find(|a| &a.account_id == crm).unwrap();
        let b = &books[books_id];
        assert_eq!(normalise_name(&b.name), normalise_name(&a.account_name));
        assert_ne!(b.country, a.country);
        assert!(truth.books_only.contains(books_id));
        assert!(b.email.is_empty() || email_key(&b.email) != email_key(&a.primary_email));
    }
    // Same normalised name and country only where the truth pairs them.
    let mut by_key: HashMap<(String, String), Vec<&str>> = HashMap::new();
    for (id, b) in &books {
        by_key.entry((normalise_name(&b.name), b.country.clone())).or_default().push(id);
    }
    for a in &truth.accounts {
        let mut same: Vec<&str> = by_key.get(&(normalise_name(&a.account_name), a.country.clone())).cloned().unwrap_or_default();
        same.sort();
        match &a.expected {
            Expected::Review { candidates } => assert_eq!(same, candidates.iter().map(String::as_str).collect::<Vec<_>>()),
            Expected::Link { books_contact_id, rule: Rule::Name } => assert_eq!(same, vec![books_contact_id.as_str()]),
            Expected::Link { books_contact_id, .. } => assert!(same.is_empty() || same == vec![books_contact_id.as_str()], "{a:?}"),
            Expected::Create => assert!(same.is_empty(), "{a:?} has a same-country lookalike"),
        }
    }
}

/// Every spelling rule the matcher must handle occurs in the data.
fn check_coverage(world: &World, truth: &OverlapTruth) {
    let books = books_rows(world);
    let names: Vec<&str> = books.values().map(|b| b.name.as_str()).chain(truth.accounts.iter().map(|a| a.account_name.as_str())).collect();
    let any = |f: &dyn Fn(&str) -> bool| names.iter().any(|n| f(n));
    assert!(any(&|n| n.contains('é')), "accents");
    assert!(any(&|n| n.contains(" & ")) && any(&|n| n.contains(" and ")), "& and 'and'");
    assert!(any(&|n| n.contains('"')) && any(&|n| n.contains('\'')), "quotes");
    assert!(any(&|n| n.contains('(')) && any(&|n| n.contains(',')), "parentheses and commas");
    assert!(any(&|n| n.contains('🚀')), "emoji");
    assert!(any(&|n| n.contains("  ") || n.starts_with(' ')), "extra whitespace");
    assert!(any(&|n| n.chars().count() >= 190) && names.iter().all(|n| n.chars().count() <= seed::LONG_NAME_CHARS), "long names within limits");
    assert!(any(&|n| n.chars().any(char::is_alphabetic) && n == n.to_uppercase()), "upper-case spellings");
    assert!(any(&|n| n.chars().any(char::is_alphabetic) && n == n.to_lowercase()), "lower-case spellings");
    for s in LEGAL_SUFFIXES {
        assert!(any(&|n| n.trim_end().ends_with(s)), "suffix {s}");
    }
    // Name matches where one side has a suffix and the other none, and where they differ.
    let mut absent = 0;
    let mut different = 0;
    for a in &truth.accounts {
        if let Expected::Link { books_contact_id, rule: Rule::Name } = &a.expected {
            let b = books[books_contact_id].name.trim().to_lowercase();
            let c = a.account_name.to_lowercase();
            let suffix_of = |n: &str| LEGAL_SUFFIXES.iter().find(|s| n.ends_with(&s.to_lowercase())).map(|s| s.to_lowercase());
            match (suffix_of(&c), suffix_of(&b)) {
                (Some(x), Some(y)) if x != y => different += 1,
                (Some(_), None) | (None, Some(_)) => absent += 1,
                _ => {}
            }
        }
    }
    assert!(absent > 0 && different > 0, "suffix absent on one side {absent}, different {different}");
    let email_variants: Vec<&str> = truth
        .accounts
        .iter()
        .filter_map(|a| match &a.expected {
            Expected::Link { books_contact_id, rule: Rule::Email } => Some(books[books_contact_id].email.as_str()),
            _ => None,
        })
        .collect();
    assert!(email_variants.iter().any(|e| e.starts_with(' ')) && email_variants.iter().any(|e| e.chars().any(char::is_uppercase)));
}

#[test]
fn the_default_overlap_is_self_consistent_and_covers_every_spelling_rule() {
    let spec = OverlapSpec::default();
    assert_eq!((spec.crm_accounts, spec.books_contacts, spec.matched, spec.ambiguous), (2_000, 1_800, 1_200, 30));
    let (world, truth) = generate(&spec, 7);
    check_truth(&spec, &world, &truth);
    check_coverage(&world, &truth);
}

#[test]
fn other_sizes_hold_together_too() {
    for spec in [OverlapSpec::scaled(500), OverlapSpec { max_contacts_per_account: 1, ..OverlapSpec::scaled(5_000) }] {
        let (world, truth) = generate(&spec, 11);
        check_truth(&spec, &world, &truth);
    }
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    let spec = OverlapSpec::scaled(400);
    let (a_world, a) = generate(&spec, 3);
    let (b_world, b) = generate(&spec, 3);
    let (_, c) = generate(&spec, 4);
    assert_eq!(a, b);
    let names = |w: &World| w.books.orgs.values().next().unwrap().contacts.values().map(|c| c.contact_name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a_world), names(&b_world));
    assert_ne!(a.books_names, c.books_names);
}

#[test]
fn counts_that_do_not_fit_are_refused_with_the_reason() {
    let mut world = empty_world(1);
    let too_many = OverlapSpec { matched: 2_500, ..OverlapSpec::default() };
    let err = seed::overlap(&mut world, &too_many, 1).unwrap_err();
    assert!(err.contains("crm_accounts") || err.contains("exceed"), "{err}");
    let bad_split = OverlapSpec { native: 700, by_email: 600, ..OverlapSpec::default() };
    assert!(seed::overlap(&mut world, &bad_split, 1).unwrap_err().contains("native"));
    let config = EmulatorConfig { seed_profile: SeedProfile::Overlap(too_many), ..EmulatorConfig::default() };
    assert!(zoho_emulator::try_build_world(&config).is_err());
}

/// What `zoho-bridge emulator --seed-profile overlap` builds: the emulator serves the
/// truth's records through the APIs.
#[tokio::test]
async fn an_emulator_started_with_the_overlap_profile_serves_the_truths_records() {
    let spec = OverlapSpec::default();
    let config = EmulatorConfig { seed_profile: SeedProfile::Overlap(spec.clone()), ..EmulatorConfig::unlimited() };
    let config = EmulatorConfig { seed_data: true, ..config };
    // The truth the same seed gives on a fresh world (what a test in another crate does).
    let (_, truth) = generate(&spec, config.seed);
    let emu = Emulator::start(config, 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let auth = testkit::auth_header(&token);
    let get = |url: String| {
        let (http, auth) = (http.clone(), auth.clone());
        async move { http.get(url).header("Authorization", auth).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut served = BTreeSet::new();
    for page in 1.. {
        let body = get(format!("{}/books/v3/contacts?organization_id={}&per_page=200&page={page}", emu.url(), creds.organization_id)).await;
        served.extend(body["contacts"].as_array().unwrap().iter().map(|c| c["contact_id"].as_str().unwrap().to_string()));
        if body["page_context"]["has_more_page"] != true {
            break;
        }
    }
    let expected: BTreeSet<String> = truth.books_names.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(served, expected);
    let mut accounts = BTreeSet::new();
    for page in 1.. {
        let body = get(format!("{}/crm/v8/Accounts?fields=Account_Name,Billing_Country&per_page=200&page={page}", emu.url())).await;
        accounts.extend(body["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()));
        if body["info"]["more_records"] != true {
            break;
        }
    }
    assert_eq!(accounts, truth.accounts.iter().map(|a| a.account_id.clone()).collect::<BTreeSet<_>>());
    // A linked-by-native pair is visible from the Books side through the API filter.
    let native = truth
        .accounts
        .iter()
        .find_map(|a| match &a.expected {
            Expected::Link { books_contact_id, rule: Rule::Native } => Some((a.account_id.clone(), books_contact_id.clone())),
            _ => None,
        })
        .unwrap();
    let body = get(format!("{}/books/v3/contacts?organization_id={}&zcrm_account_id={}", emu.url(), creds.organization_id, native.0)).await;
    let by_link: Vec<&str> = body["contacts"].as_array().unwrap().iter().map(|c| c["contact_id"].as_str().unwrap()).collect();
    let crm = get(format!("{}/crm/v8/Accounts/{}", emu.url(), native.0)).await;
    assert!(by_link == vec![native.1.as_str()] || crm["data"][0]["Books_Contact_ID"] == native.1.as_str(), "{by_link:?} {crm}");
    emu.stop().await;
}
