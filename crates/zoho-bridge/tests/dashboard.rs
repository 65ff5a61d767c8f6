//! The dashboard as a person uses it, in a real headless Chromium (Debian's `chromium`
//! through `chromedriver`), against `zoho-bridge serve` on the emulator.
//!
//! Three things wait for a person: a CRM product whose SKU another product's Books item
//! still has (dead: Books refused the duplicate, and the item is not this product's);
//! a CRM account two Books contacts could be (a review); an agent's request to sync a
//! product (an approval). In the browser: log in; fix the product's SKU in CRM and replay
//! the dead letter → the page shows it done; link the account to one candidate → the
//! page shows it decided and the link is made; approve the request → the page shows it
//! approved and its run done. Screenshots of each page are kept in
//! `target/e2e-screenshots/`. Without a session, pages redirect to the login and a POST
//! is refused; a form without the session's CSRF token is refused.

mod support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
};

use bridge::{
    actions::{self, FlowRequest},
    flows::now_ms,
    store::{AnyStore, JobStatus, RecordRef, ReviewStatus, Reviews, Store},
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use zoho::{
    Client,
    books::{ListQuery, models::Contact},
    crm::records::WriteOptions,
};
use zoho_emulator::{Emulator, EmulatorConfig};

use support::{Running, TempDir, crm_insert, wait_for, webdriver::Browser, zoho_client};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");
const TOKEN: &str = "e2e-dashboard-token-5f1c";

async fn items_with_sku(client: &Client, sku: &str) -> Vec<Value> {
    client.books().list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await.expect("items")
}

/// Where the screenshots are kept: the workspace's `target/e2e-screenshots/`.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_replays_decides_and_approves_in_chromium() {
    zoho_emulator::install_crypto_provider();
    let Some(browser) = Browser::start(&screenshots()).await else { return };
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let client = zoho_client(&emulator).await;
    let dir = TempDir::new("dashboard");
    let db = dir.0.join("bridge.db").display().to_string();
    let config = support::serve_config(
        &dir,
        &db,
        &emulator,
        r#"
[[routes]]
system = "crm"
module = "Products"
flows = ["catalog_sync"]

[[routes]]
system = "crm"
module = "Accounts"
flows = ["customer_sync"]
"#,
    );
    let mut child = Running(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .env(bridge::config::DASHBOARD_TOKEN_ENV, TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn zoho-bridge serve"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().expect("stdout"));
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first).expect("read");
    stdout.read_line(&mut second).expect("read");
    let base = first.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {first:?}")).to_string();
    assert!(second.starts_with(&format!("dashboard at {base}/")) && second.contains("log in with the configured token"), "{second}");
    assert!(!second.contains(TOKEN), "the token is never printed");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let hook = |module: &str, id: &str| {
        let request = http.post(format!("{base}/hooks/crm/workflow")).header("X-Zoho-Bridge-Secret", "wf-secret").json(&json!({"module": module, "id": id}));
        async move { assert!(request.send().await.expect("webhook").status().is_success()) }
    };
    let store = AnyStore::connect(&db).await.expect("the store serve uses");

    // A dead letter: product B wants SKU DUP-1, whose Books item is product A's.
    let a = crm_insert(&client, "Products", json!({"Product_Name": "Anvil", "Product_Code": "DUP-1", "Unit_Price": 10.0})).await;
    hook("Products", &a).await;
    wait_for("product A's item", || async { (!items_with_sku(&client, "DUP-1").await.is_empty()).then_some(()) }).await;
    // A's SKU changes in CRM with nobody told (no webhook): its item keeps DUP-1.
    let renamed = json!({"id": a, "Product_Code": "ANV-1"});
    assert!(client.crm().update("Products", &[renamed], &WriteOptions::no_triggers()).await.expect("rename A's SKU")[0].is_success());
    let b = crm_insert(&client, "Products", json!({"Product_Name": "Bellows", "Product_Code": "DUP-1", "Unit_Price": 20.0})).await;
    hook("Products", &b).await;
    let dead = wait_for("product B's job to die", || async {
        store.jobs_with_status(JobStatus::Dead, 10).await.unwrap().into_iter().find(|j| j.key == format!("crm:Products:{b}"))
    })
    .await;
    assert!(dead.last_error.as_deref().unwrap_or_default().contains("DUP-1"), "{dead:?}");

    // A review: two Books contacts the account could be.
    let contact = |name: &str| serde_json::from_value::<Contact>(json!({"contact_name": name, "company_name": name, "contact_type": "customer"})).unwrap();
    let first_candidate = client.books().create_contact(&contact("Initech LLC")).await.expect("contact").contact_id.unwrap();
    let chosen = client.books().create_contact(&contact("initech ltd.")).await.expect("contact").contact_id.unwrap();
    let account = crm_insert(&client, "Accounts", json!({"Account_Name": "Initech", "Billing_Country": "UK"})).await;
    hook("Accounts", &account).await;
    let review = wait_for("the account's review", || async { store.reviews(Some(ReviewStatus::Open), 10).await.unwrap().into_iter().next() }).await;
    assert!(review.candidates.iter().any(|c| c.id == first_candidate) && review.candidates.iter().any(|c| c.id == chosen), "{review:?}");

    // An approval: an agent asks to sync product C.
    let c = crm_insert(&client, "Products", json!({"Product_Name": "Crucible", "Product_Code": "APP-1", "Unit_Price": 30.0})).await;
    let request = FlowRequest {
        connection: "default".into(),
        flow: "catalog_sync".into(),
        record: RecordRef::crm("Products", &c),
        summary: "sync CRM product Crucible (APP-1) to Books".into(),
        args: json!({"product_id": c}),
    };
    let approval = actions::request_approval(&store, "agent:e2e", "sync_record", &request, now_ms()).await.expect("request an approval");

    // Without a session: pages lead to the login, actions are refused.
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!((home.status().as_u16(), home.headers()["location"].to_str().unwrap()), (303, "/login"));
    let refused = http.post(format!("{base}/dead/{}/replay", dead.id)).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    // A wrong token is refused; the right one gives a session, but not the right to post
    // a form without its CSRF token.
    let wrong = http.post(format!("{base}/login")).form(&[("token", "not-it")]).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let logged = http.post(format!("{base}/login")).form(&[("token", TOKEN), ("name", "curl")]).send().await.unwrap();
    let cookie = logged.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(TOKEN), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let forged = http.post(format!("{base}/dead/{}/replay", dead.id)).header("cookie", &pair).form(&[("csrf", "guess")]).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(store.job(dead.id).await.unwrap().unwrap().status, JobStatus::Dead, "nothing was replayed");

    // In Chromium: the login page, then the overview.
    browser.go(&format!("{base}/")).await;
    assert!(browser.url().await.ends_with("/login"));
    browser.screenshot("01-login").await;
    browser.type_into("input[name=token]", TOKEN).await;
    browser.type_into("input[name=name]", "Ann").await;
    browser.click(&browser.find("form.login button").await).await;
    let text = browser.wait_for_text("dead letters").await;
    assert!(text.contains("Overview") && text.contains("1 dead letters") && text.contains("1 reviews open") && text.contains("1 approvals waiting"), "{text}");
    assert!(text.contains("catalog_sync") && text.contains("Ann"), "{text}");
    browser.screenshot("02-overview").await;

    // The dead letter, with Zoho's message; the data fixed in CRM; replayed → done.
    browser.click(&browser.find("nav a[href='/dead']").await).await;
    let text = browser.wait_for_text("Zoho said:").await;
    assert!(text.contains(&format!("Job {}", dead.id)) && text.contains("Zoho said:") && text.contains("already exists"), "{text}");
    browser.screenshot("03-dead-letters").await;
    let fix = json!({"id": b, "Product_Code": "DUP-2"});
    assert!(client.crm().update("Products", &[fix], &WriteOptions::no_triggers()).await.expect("fix the SKU")[0].is_success());
    browser.click(&browser.find(&format!("#job-{} form[action$='/replay'] button", dead.id)).await).await;
    browser.wait_for_text("was put back in the queue").await;
    assert!(browser.url().await.contains(&format!("/jobs/{}", dead.id)));
    let text = browser.reload_until("Status: done").await;
    assert!(text.contains("created") || text.contains("item"), "{text}");
    browser.screenshot("04-replayed-done").await;
    assert_eq!(items_with_sku(&client, "DUP-2").await.len(), 1, "the replayed job made B's item");
    browser.go(&format!("{base}/dead")).await;
    assert!(browser.text().await.contains("No dead letters."));
    // The product's history: its events, the jobs, the writes with Zoho's answers.
    browser.go(&format!("{base}/record?system=crm&module=Products&id={b}")).await;
    let text = browser.text().await;
    assert!(text.contains("product_item: CRM") && text.contains("Event ") && text.contains("catalog_sync"), "{text}");
    browser.screenshot("05-record-history").await;

    // The review: linked to the chosen candidate → decided, and the flow links them.
    browser.click(&browser.find("nav a[href='/reviews']").await).await;
    let text = browser.wait_for_text("Link to").await;
    assert!(text.contains(&format!("Review {}", review.id)) && text.contains("initech ltd."), "{text}");
    browser.screenshot("06-reviews").await;
    let button = format!("//section[@id='review-{}']//form[.//input[@name='chosen' and @value='{chosen}']]//button", review.id);
    browser.click(&browser.find_xpath(&button).await).await;
    let text = browser.wait_for_text("is decided").await;
    assert!(text.contains(&format!("Review {} is decided: linked", review.id)) && text.contains(&format!("linked to {chosen} by dashboard:Ann")), "{text}");
    browser.screenshot("07-review-decided").await;
    let link = wait_for("the account's link", || async { store.link_by_crm("default", "account_contact", &account).await.unwrap() }).await;
    assert_eq!(link.books_id, chosen);

    // The approval: approved → its run goes through the queue and is done.
    browser.click(&browser.find("nav a[href='/approvals']").await).await;
    let text = browser.wait_for_text("Approve").await;
    assert!(text.contains("sync CRM product Crucible (APP-1) to Books") && text.contains("agent:e2e"), "{text}");
    browser.screenshot("08-approvals").await;
    browser.click(&browser.find(&format!("#approval-{approval} form input[value=approve] ~ button")).await).await;
    let text = browser.wait_for_text("Decided:").await;
    assert!(text.contains("Decided: approved by dashboard:Ann"), "{text}");
    let text = browser.reload_until("Stage: done").await;
    assert!(text.contains("catalog_sync"), "{text}");
    browser.screenshot("09-approval-done").await;
    assert_eq!(items_with_sku(&client, "APP-1").await.len(), 1, "the approved run made C's item");

    // The rest of the pages answer, and the overview has nothing waiting any more.
    for (path, name, want) in
        [("/totals", "10-totals", "No totals warnings."), ("/budget", "11-budget", "organisation"), ("/", "12-overview-after", "0 dead letters")]
    {
        browser.go(&format!("{base}{path}")).await;
        let text = browser.text().await;
        assert!(text.contains(want), "{path}: {text}");
        browser.screenshot(name).await;
    }
    // Logging out ends the session.
    browser.click(&browser.find("form.logout button").await).await;
    browser.wait_for_text("Your name").await;
    assert!(browser.url().await.ends_with("/login"));
    browser.go(&format!("{base}/dead")).await;
    assert!(browser.url().await.ends_with("/login"));

    assert!(Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().expect("kill").success());
    assert!(child.0.wait().expect("wait").success());
    store.close().await;
}
