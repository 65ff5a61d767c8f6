//! Books at the size of real accounts (run with
//! `cargo bench -p zoho-emulator --bench books_scale`; `BOOKS_SCALE_N=20000` for a
//! quicker run).
//!
//! Creates 10,000 and then 100,000 contacts through the real HTTP router (one keep-alive
//! connection, each create carrying a unique custom field value, a person with an email
//! and every tenth a CRM link) and prints the mean time per create over the first and
//! the last tenth of each run: flat when creates are linear. Then times one page
//! (`per_page=200`) of the 100,000-contact list, unfiltered and with each kind of filter
//! and sort, estimates and credit notes created in bulk (their numbering once scanned),
//! and the overlap seed's generation at 100,000 vs 100,000.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{call, request};
use tokio::net::TcpStream;
use zoho_emulator::{
    Emulator, EmulatorConfig,
    seed::{self, OverlapSpec},
    testkit,
};

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    token: String,
    org: String,
}

impl Client {
    async fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let raw = request(method, &format!("/books/v3{path}{sep}organization_id={}", self.org), &self.token, body);
        call(&mut self.stream, &mut self.buf, &raw).await
    }
}

async fn connect(emu: &Emulator) -> Client {
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.expect("login");
    let stream = TcpStream::connect(emu.addr()).await.expect("connect");
    stream.set_nodelay(true).ok();
    Client { stream, buf: Vec::with_capacity(256 * 1024), token, org: creds.organization_id }
}

fn micros(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n.max(1) as f64
}

/// Creates `n` contacts; prints the mean per create over the first and last tenth.
async fn create_contacts(c: &mut Client, n: usize) {
    let tenth = (n / 10).max(1);
    let (mut first, mut last) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for i in 0..n {
        let mut body = json!({
            "contact_name": format!("Customer {i:06} {}", ["Labs", "Trading", "Foods"][i % 3]),
            "company_name": format!("Company {:05}", (i * 7919) % 50_000),
            "contact_persons": [{"first_name": "Pat", "email": format!("pat{i}@customer{}.example", i % 997), "is_primary_contact": true}],
            "custom_fields": [{"api_name": "cf_crm_account_id", "value": format!("A-{i}")}],
        });
        if i % 10 == 0 {
            body["zcrm_account_id"] = json!(format!("5725767{i:012}"));
        }
        let t = Instant::now();
        let (status, out) = c.send("POST", "/contacts", Some(&body)).await;
        let took = t.elapsed();
        assert_eq!(status, 201, "{out}");
        if i < tenth {
            first += took;
        } else if i >= n - tenth {
            last += took;
        }
    }
    println!(
        "create {n:>7} contacts: {:>6.1} s in all, {:>6.1} µs per create (first tenth {:>6.1} µs, last tenth {:>6.1} µs)",
        started.elapsed().as_secs_f64(),
        micros(started.elapsed(), n),
        micros(first, tenth),
        micros(last, tenth)
    );
}

/// Times `path` (a list page) `reps` times; prints the mean and the rows it returned.
async fn time_page(c: &mut Client, label: &str, path: &str, key: &str, reps: usize) {
    let (status, body) = c.send("GET", path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    let rows = body[key].as_array().map_or(usize::from(body[key].is_object()), Vec::len);
    let t = Instant::now();
    for _ in 0..reps {
        let (status, _) = c.send("GET", path, None).await;
        assert_eq!(status, 200);
    }
    println!("  {label:<58} {:>8.2} ms per page ({rows} rows)", t.elapsed().as_secs_f64() * 1e3 / reps as f64);
}

async fn create_documents(c: &mut Client, path: &str, n: usize, customer: &str) {
    let tenth = (n / 10).max(1);
    let (mut first, mut last) = (Duration::ZERO, Duration::ZERO);
    let body = json!({"customer_id": customer, "line_items": [{"name": "Work", "rate": 12.5, "quantity": 2}]});
    for i in 0..n {
        let t = Instant::now();
        let (status, out) = c.send("POST", path, Some(&body)).await;
        let took = t.elapsed();
        assert_eq!(status, 201, "{out}");
        if i < tenth {
            first += took;
        } else if i >= n - tenth {
            last += took;
        }
    }
    println!("create {n:>7} {:<11} first tenth {:>6.1} µs, last tenth {:>6.1} µs per create", &path[1..], micros(first, tenth), micros(last, tenth));
}

fn main() {
    let big: usize = std::env::var("BOOKS_SCALE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for n in [10_000, big] {
        let emu = server.block_on(async { Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator starts") });
        client.block_on(async {
            let mut c = connect(&emu).await;
            create_contacts(&mut c, n).await;
            if n != big {
                return;
            }
            println!("one page (per_page=200) of the {n}-contact list:");
            let deep = n / 200 / 2;
            let pages = [
                ("no filter, default sort (contact_name)", "/contacts?per_page=200".to_string()),
                ("no filter, page in the middle", format!("/contacts?per_page=200&page={deep}")),
                ("sort company_name descending", "/contacts?per_page=200&sort_column=company_name&sort_order=D".to_string()),
                ("sort last_modified_time", "/contacts?per_page=200&sort_column=last_modified_time".to_string()),
                ("filter_by=Status.Active", "/contacts?per_page=200&filter_by=Status.Active".to_string()),
                ("email= (one contact)", format!("/contacts?per_page=200&email=PAT{}@customer{}.example", n / 2, (n / 2) % 997)),
                ("zcrm_account_id= (one contact)", format!("/contacts?per_page=200&zcrm_account_id=5725767{:012}", n / 2)),
                (
                    "contact_name= (one contact)",
                    format!("/contacts?per_page=200&contact_name=customer%20{:06}%20{}", n / 3, ["Labs", "Trading", "Foods"][(n / 3) % 3]),
                ),
                ("Status.Crm (a tenth match), by created_time", "/contacts?per_page=200&filter_by=Status.Crm&sort_column=created_time".to_string()),
                ("contact_name_contains= (scans the name index)", "/contacts?per_page=200&contact_name_contains=999".to_string()),
                ("sort outstanding_receivable_amount", "/contacts?per_page=200&sort_column=outstanding_receivable_amount".to_string()),
            ];
            for (label, path) in pages {
                time_page(&mut c, label, &path, "contacts", 20).await;
            }
            let (_, first) = c.send("GET", "/contacts?per_page=1", None).await;
            let customer = first["contacts"][0]["contact_id"].as_str().unwrap_or_default().to_string();
            create_documents(&mut c, "/estimates", 10_000, &customer).await;
            create_documents(&mut c, "/creditnotes", 10_000, &customer).await;
            time_page(&mut c, "GET /contacts/{id} of a customer with 20,000 documents", &format!("/contacts/{customer}"), "contact", 20).await;
        });
        server.block_on(async { emu.stop().await });
    }
    let spec = OverlapSpec::scaled(big);
    let mut world = zoho_emulator::build_world(&EmulatorConfig { seed_data: false, ..EmulatorConfig::unlimited() });
    let t = Instant::now();
    let truth = seed::overlap(&mut world, &spec, 1).expect("overlap spec fits");
    println!(
        "overlap seed {} CRM accounts vs {} Books contacts: {:.1} s ({} accounts in the truth, {} Books-only)",
        spec.crm_accounts,
        spec.books_contacts,
        t.elapsed().as_secs_f64(),
        truth.accounts.len(),
        truth.books_only.len()
    );
}
