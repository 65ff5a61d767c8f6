//! The store suite on SQLite: a fresh database file per test, removed afterwards.

mod common;
mod store_suite;

use bridge::store::{AnyStore, SqliteStore, Store};
use common::TempDir;

macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let dir = TempDir::new("store-test");
                let store = SqliteStore::open(dir.0.join("bridge.db")).await.expect("open SQLite store");
                store_suite::$name(store.clone()).await;
                store.close().await;
            }
        )*
    };
}

every_store_test!(on_sqlite);

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = TempDir::new("store-test");
    let path = dir.0.join("bridge.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store.add_event(&store_suite::event("1", 1), &[store_suite::job("1")], 0).await.expect("add");
    store.close().await;
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.job_counts().await.expect("counts").len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_store_picks_sqlite_from_a_path_or_url() {
    let dir = TempDir::new("store-test");
    let by_path = AnyStore::connect(dir.0.join("a.db").to_str().expect("utf-8 path")).await.expect("path");
    assert!(matches!(by_path, AnyStore::Sqlite(_)));
    store_suite::per_key_ordering(by_path.clone()).await;
    by_path.close().await;
    let url = format!("sqlite://{}", dir.0.join("b.db").display());
    let by_url = AnyStore::connect(&url).await.expect("url");
    assert!(matches!(by_url, AnyStore::Sqlite(_)));
    store_suite::approvals(by_url.clone()).await;
    by_url.close().await;
    assert!(dir.0.join("b.db").exists());
}

/// A store written before links had relations (schema version 3) keeps its links and its
/// jobs when it is opened by this version.
#[tokio::test]
async fn migration_keeps_the_links_and_jobs_of_a_version_3_store() {
    let dir = TempDir::new("store-test");
    let path = dir.0.join("bridge.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    store_suite::migrator_at_version_3("sqlite").run(&pool).await.expect("version 3");
    sqlx::raw_sql(store_suite::VERSION_3_ROWS).execute(&pool).await.expect("old rows");
    pool.close().await;
    let store = SqliteStore::open(&path).await.expect("open and migrate");
    store_suite::version_3_rows_migrated(store.clone()).await;
    store.close().await;
}
