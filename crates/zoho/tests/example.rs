//! The crate-level example, run for real against the emulator.

use futures_util::TryStreamExt;
use zoho::{
    Client, Connection,
    books::{ListQuery, models::Contact as BooksContact},
    crm::{
        criteria::Criteria,
        models::Contact,
        records::{ListParams, WriteOptions},
    },
};
use zoho_emulator::{Emulator, EmulatorConfig};

#[tokio::test]
async fn the_crate_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await?;
    // For real Zoho: `Connection::new(Endpoints::from(zoho::DataCenter::Eu), …)`.
    let connection = Connection::from_emulator(&emulator.url()).await?;
    // A registry of its own: tests in one process must not share the global budgets.
    let client = Client::builder(connection).budget_registry(zoho::BudgetRegistry::new()).build()?;

    let crm = client.crm();
    let ada = Contact { last_name: Some("Lovelace (Analytical), Ltd.".into()), email: Some("ada@example.com".into()), ..Contact::default() };
    let results = crm.insert("Contacts", &[ada], &WriteOptions::no_triggers()).await?;
    assert!(results[0].is_success());
    let found: Vec<Contact> = crm.search("Contacts", Criteria::equals("Last_Name", "Lovelace (Analytical), Ltd."), &["Last_Name"]).try_collect().await?;
    assert_eq!(found.len(), 1);
    let everyone: Vec<Contact> = crm.list("Contacts", ListParams::new(["Last_Name", "Email"])).try_collect().await?;
    assert_eq!(everyone.len(), 1);

    let books = client.books();
    let customer = BooksContact { contact_name: Some("Analytical Engines".into()), ..Default::default() };
    let created = books.create_contact(&customer).await?;
    assert!(created.contact_id.is_some());
    let customers: Vec<BooksContact> = books.contacts(ListQuery::new()).try_collect().await?;
    assert_eq!(customers.len(), 1);
    let usage = client.budget_usage();
    let books_usage = usage.iter().find(|u| u.api == zoho::Api::Books).unwrap();
    assert_eq!(books_usage.admitted, 2);
    emulator.stop().await;
    Ok(())
}
