//! customer_sync against the emulator and a real SQLite store: a new account becomes one
//! Books customer with its people; a duplicate spelled differently is linked, not
//! created; two candidates go to the review list and a person's decision is honoured;
//! the same name in another country is another customer; address changes travel both
//! ways; our own writes come back as echoes that cost one read and no write; a Books-only
//! customer becomes a CRM account; a deletion is reported; awkward names survive both
//! directions.

mod common;

use common::TempDir;
use std::{sync::Arc, time::Duration};

use bridge::{
    flows::{Flow, customer_sync::CustomerSync, relations},
    store::{NewEvent, RecordRef, ReviewDecision, ReviewKind, ReviewStatus, Reviews, Source, SqliteStore, Store},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    books::{ListQuery, models::Contact},
    crm::records::WriteOptions,
};
use zoho_emulator::{Emulator, EmulatorConfig};

const CONN: &str = "default";

struct Setup {
    emulator: Emulator,
    client: Client,
    store: SqliteStore,
    http: reqwest::Client,
    _dir: TempDir,
    events: std::sync::atomic::AtomicU64,
}

async fn setup() -> Setup {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");
    let dir = TempDir::new("customer_sync");
    let store = SqliteStore::open(dir.0.join("store.db")).await.expect("store");
    Setup { emulator, client, store, http: reqwest::Client::new(), _dir: dir, events: Default::default() }
}

impl Setup {
    fn worker(&self) -> Worker<SqliteStore> {
        self.worker_with(CustomerSync::default())
    }

    fn worker_with(&self, flow: CustomerSync) -> Worker<SqliteStore> {
        let flows: Vec<Arc<dyn Flow>> = vec![Arc::new(flow)];
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(20),
            backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(200) },
            batch: 8,
            ..WorkerConfig::new("w1")
        };
        Worker::new(self.store.clone(), flows, self.client.clone(), config)
    }

    /// Enqueues a customer_sync job for `record` (as a trigger would) and runs the worker
    /// until idle.
    async fn sync(&self, record: RecordRef) -> RunStats {
        enqueue(self, record).await;
        let stats = self.worker().run_until_idle().await.expect("worker");
        for job in self.store.jobs_with_status(bridge::store::JobStatus::Dead, 100).await.unwrap() {
            eprintln!("dead job {} ({}): {}", job.id, job.key, job.last_error.unwrap_or_default());
        }
        stats
    }

    async fn crm_account(&self, fields: Value) -> String {
        let r = self.client.crm().insert("Accounts", &[fields], &WriteOptions::no_triggers()).await.expect("insert account");
        assert!(r[0].is_success(), "{r:?}");
        r[0].id().unwrap().to_string()
    }

    async fn crm_contact(&self, account: &str, first: &str, last: &str, email: &str) -> String {
        let body = json!({"First_Name": first, "Last_Name": last, "Email": email, "Account_Name": {"id": account}});
        let r = self.client.crm().insert("Contacts", &[body], &WriteOptions::no_triggers()).await.expect("insert contact");
        assert!(r[0].is_success(), "{r:?}");
        r[0].id().unwrap().to_string()
    }

    async fn books_contact(&self, body: Value) -> String {
        let contact: Contact = serde_json::from_value(body).unwrap();
        self.client.books().create_contact(&contact).await.expect("create contact").contact_id.unwrap()
    }

    async fn books_contacts(&self) -> Vec<Value> {
        self.client.books().list("/books/v3/contacts", "contacts", ListQuery::new()).try_collect().await.unwrap()
    }

    async fn contact(&self, id: &str) -> Value {
        serde_json::to_value(self.client.books().contact(id).await.unwrap()).unwrap()
    }

    async fn account(&self, id: &str) -> Value {
        self.client
            .crm()
            .get::<Value>("Accounts", id, &["Account_Name", "Billing_Street", "Billing_City", "Billing_Country", "Phone", "Books_Contact_ID"])
            .await
            .unwrap()
            .unwrap()
    }

    async fn accounts(&self) -> Vec<Value> {
        let params = zoho::crm::records::ListParams::new(["Account_Name", "Billing_Country"]);
        self.client.crm().list("Accounts", params).try_collect().await.unwrap()
    }

    async fn linked_books(&self, crm_id: &str) -> Option<String> {
        self.store.link_by_crm(CONN, relations::ACCOUNT_CONTACT.name, crm_id).await.unwrap().map(|l| l.books_id)
    }

    /// The emulator's call counters since the last reset (`/__emulator/stats` rows), and
    /// resets them.
    async fn take_stats(&self) -> Vec<Value> {
        let url = format!("{}/__emulator/stats", self.emulator.url());
        let rows: Value = self.http.get(&url).send().await.unwrap().json().await.unwrap();
        self.http.delete(&url).send().await.unwrap();
        rows["stats"].as_array().cloned().unwrap_or_default()
    }

    /// CRM and Books calls since the last reset, and resets.
    async fn calls(&self) -> (u64, u64) {
        let mut by = (0, 0);
        for r in self.take_stats().await {
            let n = r["calls"].as_u64().unwrap_or(0);
            match r["api"].as_str() {
                Some("crm") => by.0 += n,
                Some("books") => by.1 += n,
                _ => {}
            }
        }
        by
    }

    /// Writes (non-GET calls) since the last reset, and resets.
    async fn writes(&self) -> u64 {
        self.take_stats().await.iter().filter(|r| r["method"] != "GET" && r["api"] != "accounts").map(|r| r["calls"].as_u64().unwrap_or(0)).sum()
    }
}

fn crm(module: &str, id: &str) -> RecordRef {
    RecordRef::crm(module, id)
}

fn books(id: &str) -> RecordRef {
    RecordRef::books("contacts", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_becomes_one_customer_with_its_people_and_echoes_write_nothing() {
    let s = setup().await;
    let account = s
        .crm_account(json!({"Account_Name": "Zenith Widgets", "Billing_Street": "1 Main St", "Billing_City": "Springfield", "Billing_Country": "USA", "Phone": "555-0100"}))
        .await;
    let person = s.crm_contact(&account, "Ann", "Lee", "ann@zenith.test").await;

    let stats = s.sync(crm("Accounts", &account)).await;
    assert_eq!(stats.done, 1, "{stats:?}");
    let books_id = s.linked_books(&account).await.expect("linked");
    let contact = s.contact(&books_id).await;
    assert_eq!(contact["contact_name"], "Zenith Widgets");
    assert_eq!(contact["billing_address"]["address"], "1 Main St");
    assert_eq!(contact["zcrm_account_id"], account.as_str());
    let persons = contact["contact_persons"].as_array().unwrap();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0]["email"], "ann@zenith.test");
    let person_link = s.store.link_by_crm(CONN, relations::CONTACT_PERSON.name, &person).await.unwrap().expect("person linked");
    assert_eq!(person_link.books_id, persons[0]["contact_person_id"].as_str().unwrap());

    // The CRM account's own event again, and Books' event for the contact we wrote: one
    // read each, no write.
    s.calls().await;
    let again = s.sync(crm("Accounts", &account)).await;
    assert_eq!(again.skipped, 1, "{again:?}");
    let echo = s.sync(books(&books_id)).await;
    assert_eq!(echo.skipped, 1, "{echo:?}");
    assert_eq!(s.writes().await, 0, "echoes write nothing");
    assert_eq!(s.books_contacts().await.len(), 1);
    assert_eq!(s.accounts().await.len(), 1, "no account created back in CRM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_spelled_differently_is_linked_and_enriched_not_created() {
    let s = setup().await;
    let existing = s
        .books_contact(
            json!({"contact_name": "ACME, Inc.", "company_name": "ACME, Inc.", "contact_type": "customer", "billing_address": {"country": "United States"}}),
        )
        .await;
    let account = s.crm_account(json!({"Account_Name": "Acme", "Billing_Country": "USA", "Phone": "555-0199", "Website": "acme.test"})).await;

    let stats = s.sync(crm("Accounts", &account)).await;
    assert_eq!(stats.done, 1, "{stats:?}");
    assert_eq!(s.linked_books(&account).await.as_deref(), Some(existing.as_str()), "matched by normalised name and country");
    assert_eq!(s.books_contacts().await.len(), 1, "nothing created");
    let contact = s.contact(&existing).await;
    assert_eq!(contact["contact_name"], "ACME, Inc.", "the existing name is kept");
    assert_eq!(contact["billing_address"]["phone"], "555-0199", "what Books lacked was added");
    assert_eq!(contact["website"], "acme.test");

    // By email: a Books customer with another name but the account's contact's email.
    let by_mail = s
        .books_contact(json!({"contact_name": "Globex Trading", "contact_type": "customer", "contact_persons": [{"first_name": "Bo", "last_name": "Ng", "email": "bo@globex.test", "is_primary_contact": true}]}))
        .await;
    let globex = s.crm_account(json!({"Account_Name": "Globex Corporation", "Billing_Country": "Canada"})).await;
    s.crm_contact(&globex, "Bo", "Ng", "  BO@Globex.TEST ").await;
    s.sync(crm("Accounts", &globex)).await;
    assert_eq!(s.linked_books(&globex).await.as_deref(), Some(by_mail.as_str()), "matched by email, trimmed and case-insensitive");
    assert_eq!(s.books_contacts().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_candidates_are_never_guessed_and_the_decision_is_honoured() {
    let s = setup().await;
    let a = s.books_contact(json!({"contact_name": "Initech LLC", "company_name": "Initech LLC", "contact_type": "customer"})).await;
    let b = s.books_contact(json!({"contact_name": "initech ltd.", "company_name": "initech ltd.", "contact_type": "customer"})).await;
    let account = s.crm_account(json!({"Account_Name": "Initech", "Billing_Country": "UK"})).await;

    s.calls().await;
    let stats = s.sync(crm("Accounts", &account)).await;
    assert_eq!(stats.skipped, 1, "{stats:?}");
    assert_eq!(s.writes().await, 0, "nothing written while a person decides");
    let open = s.store.reviews(Some(ReviewStatus::Open), 10).await.unwrap();
    assert_eq!(open.len(), 1);
    let review = &open[0];
    assert_eq!((review.kind, review.record.clone()), (ReviewKind::Ambiguous, crm("Accounts", &account)));
    let mut ids: Vec<&str> = review.candidates.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(review.candidates.iter().all(|c| c.why.contains("initech")), "{:?}", review.candidates);
    let mut names: Vec<&str> = review.candidates.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Initech LLC", "initech ltd."], "each candidate named as Books has it");

    // Still open: a second run writes nothing either.
    assert_eq!(s.sync(crm("Accounts", &account)).await.skipped, 1);
    s.store.decide_review(review.id, &ReviewDecision::Link(b.clone()), "tester", None, bridge::flows::now_ms()).await.unwrap();
    assert_eq!(s.sync(crm("Accounts", &account)).await.done, 1);
    assert_eq!(s.linked_books(&account).await.as_deref(), Some(b.as_str()));
    assert_eq!(s.books_contacts().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_in_another_country_is_another_customer_with_a_distinguishing_name() {
    let s = setup().await;
    let german = s
        .books_contact(
            json!({"contact_name": "Müller GmbH", "company_name": "Müller GmbH", "contact_type": "customer", "billing_address": {"country": "Germany"}}),
        )
        .await;
    let account = s.crm_account(json!({"Account_Name": "Müller GmbH", "Billing_Country": "Austria"})).await;
    assert_eq!(s.sync(crm("Accounts", &account)).await.done, 1);
    let linked = s.linked_books(&account).await.expect("linked");
    assert_ne!(linked, german, "not merged with the German one");
    let contact = s.contact(&linked).await;
    assert_eq!(contact["contact_name"], "Müller GmbH (Austria)");
    assert_eq!(contact["company_name"], "Müller GmbH");
    // A later change in CRM does not fight over the distinguishing name.
    s.client.crm().update("Accounts", &[json!({"id": account, "Phone": "+43 1 234"})], &WriteOptions::no_triggers()).await.unwrap();
    assert_eq!(s.sync(crm("Accounts", &account)).await.done, 1);
    let contact = s.contact(&linked).await;
    assert_eq!((contact["contact_name"].as_str(), contact["billing_address"]["phone"].as_str()), (Some("Müller GmbH (Austria)"), Some("+43 1 234")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_changes_travel_both_ways_and_their_echoes_stop() {
    let s = setup().await;
    let account = s.crm_account(json!({"Account_Name": "Hooli", "Billing_Street": "1 Old Rd", "Billing_City": "Palo Alto", "Billing_Country": "US"})).await;
    s.sync(crm("Accounts", &account)).await;
    let books_id = s.linked_books(&account).await.unwrap();

    // CRM → Books.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.client.crm().update("Accounts", &[json!({"id": account, "Billing_Street": "2 New Ave"})], &WriteOptions::no_triggers()).await.unwrap();
    s.calls().await;
    assert_eq!(s.sync(crm("Accounts", &account)).await.done, 1);
    let (crm_calls, books_calls) = s.calls().await;
    assert_eq!((crm_calls, books_calls), (1, 2), "a linked change: read the account, read and update the contact");
    assert_eq!(s.contact(&books_id).await["billing_address"]["address"], "2 New Ave");
    s.calls().await;
    assert_eq!(s.sync(books(&books_id)).await.skipped, 1, "Books' event for our write is an echo");
    assert_eq!(s.writes().await, 0);

    // Books → CRM.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let change: Contact = serde_json::from_value(json!({"billing_address": {"address": "3 Books St", "city": "Palo Alto", "country": "US"}})).unwrap();
    s.client.books().update_contact(&books_id, &change).await.unwrap();
    s.calls().await;
    assert_eq!(s.sync(books(&books_id)).await.done, 1);
    assert_eq!(s.account(&account).await["Billing_Street"], "3 Books St");
    assert_eq!(s.sync(crm("Accounts", &account)).await.skipped, 1, "CRM's event for our write is an echo");
    let writes = s.writes().await;
    assert_eq!(writes, 1, "one write for the change, none for its echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_books_only_customer_becomes_a_crm_account_once() {
    let s = setup().await;
    let id = s
        .books_contact(json!({"contact_name": "Umbrella Corp", "company_name": "Umbrella Corp", "contact_type": "customer", "billing_address": {"address": "9 Hive Ln", "country": "US"},
            "contact_persons": [{"first_name": "Al", "last_name": "Wesker", "email": "al@umbrella.test", "is_primary_contact": true}]}))
        .await;
    assert_eq!(s.sync(books(&id)).await.done, 1);
    let link = s.store.link_by_books(CONN, relations::ACCOUNT_CONTACT.name, &id).await.unwrap().expect("linked");
    let account = s.account(&link.crm_id).await;
    assert_eq!((account["Account_Name"].as_str(), account["Billing_Street"].as_str()), (Some("Umbrella Corp"), Some("9 Hive Ln")));
    assert_eq!(account["Books_Contact_ID"], id.as_str());
    // Its person became a contact of the account.
    let people: Vec<Value> =
        s.client.crm().related("Accounts", &link.crm_id, "Contacts", zoho::crm::records::ListParams::new(["Email", "Last_Name"])).try_collect().await.unwrap();
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!(people[0]["Email"], "al@umbrella.test");
    // Running again, and CRM's echo, create nothing more.
    assert_eq!(s.sync(books(&id)).await.skipped, 1);
    s.sync(crm("Accounts", &link.crm_id)).await;
    assert_eq!(s.accounts().await.len(), 1);
    assert_eq!(s.books_contacts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_reported_not_replayed() {
    let s = setup().await;
    let account = s.crm_account(json!({"Account_Name": "Soylent", "Billing_Country": "US"})).await;
    s.sync(crm("Accounts", &account)).await;
    let books_id = s.linked_books(&account).await.unwrap();
    s.client.crm().delete("Accounts", &[account.as_str()]).await.unwrap();
    s.calls().await;
    assert_eq!(s.sync(crm("Accounts", &account)).await.skipped, 1);
    assert_eq!(s.writes().await, 0, "report only");
    let open = s.store.reviews(Some(ReviewStatus::Open), 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, ReviewKind::Deleted);
    assert!(open[0].reason.contains(&books_id), "{}", open[0].reason);
    assert_eq!(s.contact(&books_id).await["status"], "active", "the Books customer stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_delete_propagate_a_deleted_account_makes_its_customer_inactive() {
    let s = setup().await;
    let account = s.crm_account(json!({"Account_Name": "Tyrell", "Billing_Country": "US"})).await;
    s.sync(crm("Accounts", &account)).await;
    let books_id = s.linked_books(&account).await.unwrap();
    s.client.crm().delete("Accounts", &[account.as_str()]).await.unwrap();
    let config: bridge::flows::customer_sync::CustomerSyncConfig = toml::from_str("on_delete = \"propagate\"").unwrap();
    let flow = config.build(&bridge::mapping::Tables::new(), None).unwrap();
    enqueue(&s, crm("Accounts", &account)).await;
    assert_eq!(s.worker_with(flow).run_until_idle().await.unwrap().done, 1);
    assert_eq!(s.contact(&books_id).await["status"], "inactive");
    assert!(s.store.reviews(Some(ReviewStatus::Open), 10).await.unwrap().is_empty(), "propagated, not reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_names_and_emails_survive_both_directions() {
    let s = setup().await;
    let long = format!("Ünïcødé \"Quoted\", (Parens) & Co 🚀 {}", "x".repeat(150));
    let account = s.crm_account(json!({"Account_Name": long, "Billing_Country": "France", "Billing_Street": "1, rue d'Église"})).await;
    s.crm_contact(&account, "Zoë", "O'Brien-Smith", "zoë.o'brien+tag@example.test").await;
    assert_eq!(s.sync(crm("Accounts", &account)).await.done, 1);
    let books_id = s.linked_books(&account).await.unwrap();
    let contact = s.contact(&books_id).await;
    assert_eq!(contact["contact_name"], long.as_str());
    assert_eq!(contact["billing_address"]["address"], "1, rue d'Église");
    assert_eq!(contact["contact_persons"][0]["last_name"], "O'Brien-Smith");

    let back = s
        .books_contact(json!({"contact_name": "Café \"Zürich\", (Süd) 🍫", "company_name": "Café \"Zürich\", (Süd) 🍫", "contact_type": "customer", "billing_address": {"country": "Switzerland"}}))
        .await;
    assert_eq!(s.sync(books(&back)).await.done, 1);
    let link = s.store.link_by_books(CONN, relations::ACCOUNT_CONTACT.name, &back).await.unwrap().unwrap();
    assert_eq!(s.account(&link.crm_id).await["Account_Name"], "Café \"Zürich\", (Süd) 🍫");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_edits_on_both_sides_converges_and_the_echo_round_writes_nothing() {
    let s = setup().await;
    let n = 12;
    let mut pairs = Vec::new();
    for i in 0..n {
        let account = s
            .crm_account(json!({"Account_Name": format!("Burst Customer {i:02}"), "Billing_Street": "0 Start St", "Billing_Country": "US", "Phone": "000"}))
            .await;
        s.sync(crm("Accounts", &account)).await;
        pairs.push((account.clone(), s.linked_books(&account).await.expect("linked")));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // 0..4: CRM only; 4..8: Books only; 8..12: both, Books later (last writer wins).
    let books_street = |i: usize| format!("{i} Books Ave");
    for (i, (account, _)) in pairs.iter().enumerate().filter(|(i, _)| !(4..8).contains(i)) {
        s.client.crm().update("Accounts", &[json!({"id": account, "Phone": format!("555-{i:04}")})], &WriteOptions::no_triggers()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (i, (_, books_id)) in pairs.iter().enumerate().filter(|(i, _)| *i >= 4) {
        let change: Contact =
            serde_json::from_value(json!({"billing_address": {"address": books_street(i), "country": "US", "phone": if i >= 8 { "999" } else { "000" }}}))
                .unwrap();
        s.client.books().update_contact(books_id, &change).await.unwrap();
    }
    s.calls().await;
    // Every edit's event, in one burst (CRM's and Books' interleaved), then the worker.
    let mut edits = 0;
    for (i, (account, books_id)) in pairs.iter().enumerate() {
        if !(4..8).contains(&i) {
            enqueue(&s, crm("Accounts", account)).await;
            edits += 1;
        }
        if i >= 4 {
            enqueue(&s, books(books_id)).await;
            edits += 1;
        }
    }
    s.worker().run_until_idle().await.unwrap();
    let (crm_calls, books_calls) = s.calls().await;
    eprintln!("{edits} edits: {crm_calls} CRM calls and {books_calls} Books calls, {:.1} per edit", (crm_calls + books_calls) as f64 / edits as f64);

    // Converged: each pair holds the winning values on both sides.
    for (i, (account, books_id)) in pairs.iter().enumerate() {
        let a = s.account(account).await;
        let c = s.contact(books_id).await;
        let (street, phone) = match i {
            0..4 => ("0 Start St".to_string(), format!("555-{i:04}")),
            4..8 => (books_street(i), "000".to_string()),
            _ => (books_street(i), "999".to_string()),
        };
        assert_eq!((a["Billing_Street"].as_str(), a["Phone"].as_str()), (Some(street.as_str()), Some(phone.as_str())), "CRM side of pair {i}");
        assert_eq!(
            (c["billing_address"]["address"].as_str(), c["billing_address"]["phone"].as_str()),
            (Some(street.as_str()), Some(phone.as_str())),
            "Books side of pair {i}"
        );
    }
    // The echo round: every record's change notification for what the burst wrote.
    s.calls().await;
    for (account, books_id) in &pairs {
        enqueue(&s, crm("Accounts", account)).await;
        enqueue(&s, books(books_id)).await;
    }
    let echo = s.worker().run_until_idle().await.unwrap();
    assert_eq!(echo.done, 0, "{echo:?}");
    assert_eq!(s.writes().await, 0, "echoes write nothing");
    assert_eq!(s.books_contacts().await.len(), n);
    assert_eq!(s.accounts().await.len(), n);
}

/// Enqueues a customer_sync job for `record` without running the worker.
async fn enqueue(s: &Setup, record: RecordRef) {
    let n = s.events.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let event = NewEvent::for_record(Source::Manual, CONN, &record, json!({"id": record.id}), format!("test:{record}:{n}"));
    s.store.add_event(&event, &[bridge::flows::customer_sync::job(&record)], bridge::flows::now_ms()).await.expect("add_event");
}
