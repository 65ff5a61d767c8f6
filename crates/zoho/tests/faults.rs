//! Transient failures under the emulator's fault injection: 5xx and timeouts are retried,
//! permanent errors are not, and a write whose answer was dropped after Zoho committed it
//! surfaces as "outcome unknown" instead of being sent twice.

mod support;

use std::time::Duration;

use futures_util::TryStreamExt;
use zoho::{
    Error, RetryPolicy,
    books::{ListQuery, models::Contact},
    crm::{models::Record, records::WriteOptions},
};
use zoho_emulator::{FaultConfig, FaultRule};

fn set_faults(emu: &zoho_emulator::Emulator, rules: Vec<FaultRule>) {
    emu.state().faults.set(FaultConfig { seed: Some(7), rules, ..FaultConfig::default() }, 7);
}

fn contact(name: &str) -> Contact {
    Contact { contact_name: Some(name.into()), contact_type: Some("customer".into()), ..Contact::default() }
}

#[tokio::test]
async fn server_errors_are_retried_until_they_pass() {
    let (emu, client, _) = support::start().await;
    set_faults(&emu, vec![FaultRule { path_prefix: "/books".into(), error_rate: 0.4, ..FaultRule::default() }]);
    for i in 0..20 {
        let made = client.books().create_contact(&contact(&format!("Retry {i}"))).await.unwrap();
        assert!(made.contact_id.is_some());
        client.books().contact(made.contact_id.as_deref().unwrap()).await.unwrap();
    }
    set_faults(&emu, vec![]);
    let all: Vec<Contact> = client.books().contacts(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 20, "every create happened exactly once");
}

#[tokio::test]
async fn retries_give_up_after_the_limit() {
    let (emu, creds) = support::emulator(zoho_emulator::EmulatorConfig::unlimited()).await;
    let client = support::builder(&creds)
        .retry(RetryPolicy { max_retries: 2, min_delay: Duration::from_millis(5), max_delay: Duration::from_millis(10), ..RetryPolicy::default() })
        .build()
        .unwrap();
    client.books().organizations().await.unwrap();
    set_faults(&emu, vec![FaultRule { path_prefix: "/books".into(), error_rate: 1.0, error_statuses: vec![503], ..FaultRule::default() }]);
    let err = client.books().organizations().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let (_emu, client, _) = support::start().await;
    client.books().create_contact(&contact("Unique Name")).await.unwrap();
    let err = client.books().create_contact(&contact("Unique Name")).await.unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.status / 100, 4, "{err}");
    assert!(api.books_code().is_some_and(|c| c != 0));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn timeouts_of_reads_are_retried() {
    let (emu, creds) = support::emulator(zoho_emulator::EmulatorConfig::unlimited()).await;
    let client = support::builder(&creds).timeout(Duration::from_millis(300)).build().unwrap();
    client.books().organizations().await.unwrap();
    set_faults(
        &emu,
        vec![FaultRule { path_prefix: "/books".into(), method: Some("GET".into()), timeout_rate: 0.5, timeout_ms: 2_000, ..FaultRule::default() }],
    );
    for _ in 0..10 {
        client.books().organizations().await.unwrap();
    }
}

#[tokio::test]
async fn a_dropped_answer_to_an_insert_is_outcome_unknown() {
    let (emu, client, _) = support::start().await;
    client.books().organizations().await.unwrap();
    set_faults(&emu, vec![FaultRule { path_prefix: "/".into(), method: Some("POST".into()), drop_response_rate: 1.0, ..FaultRule::default() }]);
    // Books: the contact is created, the answer lost.
    let err = client.books().create_contact(&contact("Committed Then Dropped")).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(!err.is_retryable());
    // CRM insert: same.
    let mut rec = Record::default();
    rec.set("Last_Name", "Dropped");
    let err = client.crm().insert("Contacts", &[rec], &WriteOptions::default()).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    set_faults(&emu, vec![]);
    // Exactly one of each exists: the client did not send them twice.
    let found: Vec<Contact> = client.books().contacts(ListQuery::new().param("contact_name", "Committed Then Dropped")).try_collect().await.unwrap();
    assert_eq!(found.len(), 1);
    let found: Vec<Record> =
        client.crm().search("Contacts", zoho::crm::criteria::Criteria::equals("Last_Name", "Dropped"), &["Last_Name"]).try_collect().await.unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn a_dropped_answer_to_an_idempotent_write_is_retried() {
    let (emu, client, _) = support::start().await;
    let made = client.books().create_contact(&contact("Before")).await.unwrap();
    let id = made.contact_id.clone().unwrap();
    set_faults(&emu, vec![FaultRule { path_prefix: "/books".into(), method: Some("PUT".into()), drop_response_rate: 0.5, ..FaultRule::default() }]);
    for i in 0..6 {
        let update = Contact { contact_name: Some(format!("After {i}")), ..Contact::default() };
        let got = client.books().update_contact(&id, &update).await.unwrap();
        assert_eq!(got.contact_name.as_deref(), Some(format!("After {i}").as_str()));
    }
}

#[tokio::test]
async fn connect_errors_are_retryable_and_typed() {
    support::install_tls();
    // Nothing listens on port 9 of loopback.
    let conn = zoho::Connection::new(zoho::Endpoints::custom("http://127.0.0.1:9", "http://127.0.0.1:9"), "id", "secret", "refresh", "1");
    let client = zoho::Client::builder(conn)
        .budget_registry(zoho::BudgetRegistry::new())
        .retry(RetryPolicy { max_retries: 1, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2), ..RetryPolicy::default() })
        .build()
        .unwrap();
    let err = client.books().organizations().await.unwrap_err();
    assert!(matches!(err, Error::Transport { not_sent: true, .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_multi_batch_insert_failing_part_way_reports_what_was_written() {
    use zoho_emulator::faults::{Action, Faults};
    let (emu, client, _) = support::start().await;
    client.crm().fields("Contacts").await.unwrap();
    // Find fault dice that let the first POST through and refuse the second with a 400
    // (permanent, so not retried).
    let rule = FaultRule { path_prefix: "/crm".into(), method: Some("POST".into()), error_rate: 0.5, error_statuses: vec![400], ..FaultRule::default() };
    let config = |seed| FaultConfig { seed: Some(seed), rules: vec![rule.clone()], ..FaultConfig::default() };
    let seed = (0..1000u64)
        .find(|seed| {
            let dice = Faults::new(config(*seed), 0);
            dice.decide("POST", "/crm/v8/Contacts").1 == Action::Pass && dice.decide("POST", "/crm/v8/Contacts").1 == Action::Error(400)
        })
        .expect("some seed gives pass-then-refuse");
    emu.state().faults.set(config(seed), 0);
    let records: Vec<Record> = (0..250)
        .map(|i| {
            let mut r = Record::default();
            r.set("Last_Name", format!("Batch {i}"));
            r
        })
        .collect();
    let err = client.crm().insert("Contacts", &records, &WriteOptions::default()).await.unwrap_err();
    match &err {
        Error::PartialBatch { completed, source } => {
            assert_eq!(completed.len(), 100, "the first batch was written");
            assert!(completed.iter().all(|r| r.is_success()));
            assert_eq!(source.status(), Some(400));
        }
        other => panic!("expected a partial batch, got {other:?}"),
    }
    assert!(!err.is_retryable() && !err.is_outcome_unknown());
}
