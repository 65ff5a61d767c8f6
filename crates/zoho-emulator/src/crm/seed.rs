//! The org every emulator starts with, and the deterministic demo records.
//!
//! `bootstrap` always runs: org, users, currencies. `records` runs with `seed_data` and
//! writes accounts, contacts, products, price books, deals with products, quotes with
//! lines and tasks through the same code path as the API, so seeded records look exactly
//! like ones a client created. Same seed, same records, same ids.

use serde_json::{Map, Value, json};

use crate::{
    clock::Clock,
    crm::{
        schema,
        store::{CrmData, Currency, FIRST_ID, Org, ProductLink, User},
        write::seed_record as write_seed,
    },
    rng::Rng,
};

/// Creates the org, its users and currencies.
pub fn bootstrap(data: &mut CrmData, seed: u64, clock: &Clock) {
    data.next_id = FIRST_ID + (seed % 1000) * 1000;
    let org_id = data.new_id();
    data.org = Org {
        id: org_id.to_string(),
        company_name: "Zylker Traders".into(),
        zgid: (700_000_000 + seed % 100_000).to_string(),
        time_zone: "UTC".into(),
        currency: "USD".into(),
        country: "United States".into(),
        country_code: "US".into(),
        primary_email: "patricia.boyle@zylker.example".into(),
        created_ms: clock.now_ms(),
    };
    let people = [
        ("Patricia", "Boyle", "Administrator", "Administrator", true),
        ("Ravi", "Menon", "Manager", "Standard", false),
        ("Sofia", "Keller", "Sales Rep", "Standard", false),
    ];
    data.users = people
        .iter()
        .map(|(first, last, role, profile, current)| {
            let id = data.new_id();
            User {
                id: id.to_string(),
                first_name: first.to_string(),
                last_name: last.to_string(),
                email: format!("{}.{}@zylker.example", first.to_lowercase(), last.to_lowercase()),
                role: role.to_string(),
                profile: profile.to_string(),
                current: *current,
            }
        })
        .collect();
    let currencies = [
        ("USD", "US Dollar - USD", "$", "1.0", true),
        ("EUR", "Euro - EUR", "€", "0.92", false),
        ("GBP", "Pound Sterling - GBP", "£", "0.79", false),
        ("INR", "Indian Rupee - INR", "₹", "83.12", false),
        ("JPY", "Japanese Yen - JPY", "¥", "151.4", false),
        ("KWD", "Kuwaiti Dinar - KWD", "KD", "0.308", false),
    ];
    data.currencies = currencies
        .iter()
        .map(|(iso, name, symbol, rate, base)| {
            let id = data.new_id();
            Currency {
                id: id.to_string(),
                iso_code: iso.to_string(),
                name: name.to_string(),
                symbol: symbol.to_string(),
                exchange_rate: rate.to_string(),
                decimal_places: crate::crm::money::currency_places(iso),
                is_base: *base,
            }
        })
        .collect();
    for m in schema::MODULES {
        data.module_mut(m.api_name);
    }
}

const COUNTRIES: &[(&str, &str, &str)] = &[
    ("United States", "Austin", "USD"),
    ("Germany", "Berlin", "EUR"),
    ("United Kingdom", "Leeds", "GBP"),
    ("India", "Chennai", "INR"),
    ("Japan", "Osaka", "JPY"),
    ("Kuwait", "Kuwait City", "KWD"),
];
const COMPANY_WORDS: &[&str] = &["Acme", "Globex", "Initech", "Umbrella", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli"];
const COMPANY_KINDS: &[&str] = &["Industries", "Labs", "Holdings", "Systems", "Trading"];
const FIRST: &[&str] = &["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana", "Ivan", "Jo", "Kiran", "Lena"];
const LAST: &[&str] = &["Smith", "Müller", "O'Brien", "Iyer", "Tanaka", "Al-Sabah", "Novak", "García", "Kowalski", "Dubois"];
const PRODUCTS: &[&str] = &["Widget", "Gadget", "Sensor", "Licence", "Support Plan", "Cable", "Router", "Console"];

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn money(rng: &mut Rng, lo: i64, hi: i64) -> Value {
    let cents = rng.range(lo * 100, hi * 100);
    crate::crm::money::num(rust_decimal::Decimal::new(cents, 2))
}

/// Adds demo records (deterministic for a given rng state).
pub fn records(data: &mut CrmData, rng: &mut Rng, clock: &Clock) {
    let mut accounts = Vec::new();
    for i in 0..40 {
        let (country, city, _) = *rng.pick(COUNTRIES);
        let name = format!("{} {} {}", rng.pick(COMPANY_WORDS), rng.pick(COMPANY_KINDS), i + 1);
        let input = obj(json!({"Account_Name": name, "Billing_City": city, "Billing_Country": country,
            "Phone": format!("+1-555-{:04}", rng.below(10_000)), "Website": format!("https://account{}.example", i + 1)}));
        if let Some(id) = write_seed(data, "Accounts", &input, clock) {
            accounts.push((id, country));
        }
    }
    let mut contacts = Vec::new();
    for i in 0..80 {
        let (account, country) = accounts[rng.below(accounts.len() as u64) as usize];
        let first = *rng.pick(FIRST);
        let last = *rng.pick(LAST);
        let input = obj(json!({"First_Name": first, "Last_Name": last,
            "Email": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase().replace(['\'', ' '], ""), i),
            "Account_Name": {"id": account.to_string()}, "Mailing_Country": country}));
        if let Some(id) = write_seed(data, "Contacts", &input, clock) {
            contacts.push((id, account));
        }
    }
    let mut products = Vec::new();
    for i in 0..30 {
        let name = format!("{} {}", rng.pick(PRODUCTS), i + 1);
        let tax = if rng.chance(0.7) { json!(["Sales Tax"]) } else { json!([]) };
        let input = obj(json!({"Product_Name": name, "Product_Code": format!("SKU-{:04}", i + 1),
            "Unit_Price": money(rng, 5, 2000), "Tax": tax, "Taxable": tax.as_array().is_some_and(|t| !t.is_empty()),
            "Product_Active": rng.chance(0.9), "Usage_Unit": "Each"}));
        if let Some(id) = write_seed(data, "Products", &input, clock) {
            products.push(id);
        }
    }
    for (b, name) in ["Wholesale", "Partner"].iter().enumerate() {
        let input = obj(json!({"Price_Book_Name": format!("{name} {}", b + 1), "Active": true, "Pricing_Model": "Flat"}));
        if let Some(id) = write_seed(data, "Price_Books", &input, clock) {
            let mut links = Vec::new();
            for p in &products {
                if rng.chance(0.6) {
                    let price = format!("{}.{:02}", rng.range(5, 1500), rng.below(100));
                    links.push(ProductLink { product_id: *p, quantity: None, list_price: Some(price), discount: None });
                }
            }
            data.module_mut("Price_Books").products.insert(id, links);
        }
    }
    let mut deals = Vec::new();
    for i in 0..60 {
        let (contact, account) = contacts[rng.below(contacts.len() as u64) as usize];
        let stage = if rng.chance(0.3) { "Closed Won" } else { *rng.pick(&schema::DEAL_STAGES[..7]) };
        let currency = rng.pick(COUNTRIES).2;
        let input = obj(json!({"Deal_Name": format!("Deal {}", i + 1), "Stage": stage,
            "Account_Name": {"id": account.to_string()}, "Contact_Name": {"id": contact.to_string()},
            "Amount": money(rng, 100, 50_000), "Currency": currency,
            "Closing_Date": format!("2026-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28))}));
        if let Some(id) = write_seed(data, "Deals", &input, clock) {
            let links = (0..rng.range(1, 3))
                .map(|_| ProductLink {
                    product_id: products[rng.below(products.len() as u64) as usize],
                    quantity: Some(rng.range(1, 10).to_string()),
                    list_price: Some(format!("{}.{:02}", rng.range(5, 900), rng.below(100))),
                    discount: None,
                })
                .collect();
            data.module_mut("Deals").products.insert(id, links);
            deals.push((id, account, contact));
        }
    }
    for i in 0..20 {
        let (deal, account, contact) = deals[rng.below(deals.len() as u64) as usize];
        let lines: Vec<Value> = (0..rng.range(1, 4))
            .map(|_| {
                json!({"Product_Name": {"id": products[rng.below(products.len() as u64) as usize].to_string()},
                    "Quantity": rng.range(1, 20), "Discount": rng.range(0, 10),
                    "Line_Tax": if rng.chance(0.5) { json!([{"name": "Sales Tax", "percentage": 8.25}]) } else { json!([]) }})
            })
            .collect();
        let stage = *rng.pick(schema::QUOTE_STAGES);
        let input = obj(json!({"Subject": format!("Quote {}", i + 1), "Quote_Stage": stage,
            "Deal_Name": {"id": deal.to_string()}, "Account_Name": {"id": account.to_string()},
            "Contact_Name": {"id": contact.to_string()}, "Quoted_Items": lines,
            "Discount": rng.range(0, 20), "Adjustment": 0}));
        write_seed(data, "Quotes", &input, clock);
    }
    for i in 0..15 {
        let (deal, _, contact) = deals[rng.below(deals.len() as u64) as usize];
        let input = obj(json!({"Subject": format!("Follow up {}", i + 1), "Status": *rng.pick(schema::TASK_STATUSES),
            "Priority": *rng.pick(schema::TASK_PRIORITIES), "What_Id": {"id": deal.to_string()}, "$se_module": "Deals",
            "Who_Id": {"id": contact.to_string()}, "Due_Date": format!("2026-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28))}));
        write_seed(data, "Tasks", &input, clock);
    }
}
