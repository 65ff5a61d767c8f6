//! The demo's scripted session, checked step by step against the emulator with Zoho's
//! default limits: token refresh, a CRM list of 250 new records paged to the end, an
//! upsert that finds its duplicate, two taxed Books invoices whose totals follow Books'
//! rules, payments to partially_paid then paid, the clock moving an invoice to overdue
//! with its webhook, the engine syncing the seeded CRM products to Books items through
//! a SQLite store, and a 429 once the per-minute budget is spent.

use zoho_bridge::demo::walk_through;
use zoho_emulator::{Emulator, EmulatorConfig};

#[tokio::test]
async fn the_scripted_session_shows_every_behaviour() {
    let emu = Emulator::start(EmulatorConfig::default(), 0).await.unwrap();
    let seen = walk_through(&emu.url(), false).await.unwrap();

    assert_eq!(seen.token_expires_in, 3600);
    assert_eq!(seen.inserted, 250);
    assert!(seen.listed >= 250, "{seen:?}");
    assert_eq!(seen.pages, seen.listed.div_ceil(100), "{seen:?}");
    assert_eq!(seen.upsert, ("update".to_string(), "Email".to_string()));

    // Item-level discounts: 300 − 10% = 270.00 and 99.98 − 5 = 94.98; 10% tax on each
    // discounted line: 27.00 + 9.498 → 36.50.
    assert_eq!(seen.item_level, ("364.98".into(), "36.5".into(), "401.48".into()));
    // 5% entity discount before tax on 351.00 = 17.55; tax 10% of 333.45 = 33.345 → 33.35
    // (half away from zero); total 351.00 − 17.55 + 33.35 = 366.80.
    assert_eq!(seen.entity_level, ("351".into(), "17.55".into(), "33.35".into(), "366.8".into()));

    assert_eq!(seen.statuses_after_payments, ("partially_paid".to_string(), "paid".to_string()));
    assert_eq!(seen.status_after_clock, "overdue");
    assert!(seen.overdue_webhook_received);
    // The engine: every seeded product polled, synced once, linked; nothing new after.
    let (polled, done, links, again) = seen.engine;
    assert!(polled >= 10, "{seen:?}");
    assert_eq!((done as usize, links, again), (polled, polled, 0), "{seen:?}");
    assert!(std::path::Path::new(&seen.store).exists());
    // Customers: the duplicate spelled differently was linked, not created; the Books
    // edit reached CRM.
    let (linked, existing, _rule, before, after) = &seen.duplicate;
    assert_eq!(linked, existing, "{seen:?}");
    assert_eq!(before, after, "no Books customer created: {seen:?}");
    assert_eq!(seen.books_edit.0, seen.books_edit.1, "{seen:?}");
    assert!(seen.throttled.0 < 100, "{seen:?}");
    let reset: u32 = seen.throttled.1.parse().expect("X-Rate-Limit-Reset is a number of seconds");
    assert!((1..=60).contains(&reset));
    emu.stop().await;
}
