//! The crate's one way to a running emulator: `Connection::from_emulator` (its seeded
//! credentials) and `BudgetConfig::from_emulator` (the limits it enforces), used by the
//! binary, the benchmarks and every test; their failures are typed and show no secret.

mod support;

use std::time::Duration;

use zoho::{BudgetConfig, Client, Connection, Error};
use zoho_emulator::{Emulator, EmulatorConfig, LimitsConfig, testkit};

#[tokio::test]
async fn the_connection_is_the_emulators_seeded_self_client() {
    let (emu, _) = support::emulator(EmulatorConfig::unlimited()).await;
    let connection = Connection::from_emulator(&format!("{}/", emu.url())).await.expect("a trailing slash is fine");
    let creds = testkit::credentials(&reqwest::Client::new(), &emu.url()).await.unwrap();
    assert_eq!(
        (connection.client_id.as_str(), connection.client_secret.expose(), connection.refresh_token.expose(), connection.organization_id.as_str()),
        (creds.client_id.as_str(), creds.client_secret.as_str(), creds.refresh_token.as_str(), creds.organization_id.as_str())
    );
    let shown = format!("{connection:?}");
    assert!(!shown.contains(&creds.client_secret) && !shown.contains(&creds.refresh_token));
    let client = Client::builder(connection).budget_registry(zoho::BudgetRegistry::new()).build().unwrap();
    let orgs = client.books().organizations().await.unwrap();
    assert!(orgs.iter().any(|o| o.organization_id.as_deref() == Some(creds.organization_id.as_str())));
    client.crm().fields("Deals").await.unwrap();
}

#[tokio::test]
async fn the_budget_is_what_the_emulator_enforces() {
    let limits = LimitsConfig { books_per_minute: Some(30), books_per_day: Some(2_000), crm_credits_per_day: Some(5_000), crm_concurrency: None };
    let (emu, _) = support::emulator(EmulatorConfig { limits, ..EmulatorConfig::unlimited() }).await;
    let budget = BudgetConfig::from_emulator(&emu.url()).await.unwrap();
    let expected = BudgetConfig {
        books_per_minute: Some(30),
        books_per_day: Some(2_000),
        books_concurrency: None,
        crm_credits_per_day: Some(5_000),
        crm_concurrency: None,
        max_wait: BudgetConfig::default().max_wait,
    };
    assert_eq!(budget, expected);
    // The emulator's own view carries the same numbers.
    let said = testkit::limits(&reqwest::Client::new(), &emu.url()).await.unwrap();
    assert_eq!(
        (said.books_per_minute, said.books_per_day, said.crm_credits_per_day, said.crm_concurrency),
        (budget.books_per_minute, budget.books_per_day, budget.crm_credits_per_day, budget.crm_concurrency)
    );
    // Unlimited emulator, unlimited budget (bar Books concurrency, never enforced there).
    let (free, _) = support::emulator(EmulatorConfig::unlimited()).await;
    assert_eq!(BudgetConfig::from_emulator(&free.url()).await.unwrap(), BudgetConfig::unlimited());
}

#[tokio::test]
async fn failures_are_typed_and_quote_nothing() {
    support::install_tls();
    // Nothing listens there.
    let gone = {
        let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
        let url = emu.url();
        emu.stop().await;
        url
    };
    let err = Connection::from_emulator(&gone).await.unwrap_err();
    assert!(matches!(&err, Error::Transport { not_sent: true, .. }), "{err:?}");
    // Something that is not an emulator: a Zoho API path answers, but not with credentials.
    let (emu, connection) = support::emulator(EmulatorConfig::unlimited()).await;
    let err = Connection::from_emulator(&format!("{}/crm/v8", emu.url())).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { .. }), "{err:?}");
    let err = tokio::time::timeout(Duration::from_secs(10), BudgetConfig::from_emulator(&format!("{}/books/v3", emu.url()))).await.unwrap().unwrap_err();
    assert!(matches!(&err, Error::Decode { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(connection.client_secret.expose()) && !text.contains(connection.refresh_token.expose()));
}
