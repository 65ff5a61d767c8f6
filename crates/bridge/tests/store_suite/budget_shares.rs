//! Processes sharing a rate budget through the store (`bridge::budget_share`): joining,
//! heartbeats, weights, draining, expiry and leaving, with the allotments in force never
//! adding up to more than a limit. Time is given to each heartbeat, so nothing here waits.

use std::sync::Arc;
use std::time::Duration;

use bridge::budget_share::Holder;
use bridge::store::{BudgetShares, Store};
use zoho::{Api, ApiBudget, BudgetConfig};

use super::T0;

const TTL: Duration = Duration::from_secs(10);
const TTL_MS: i64 = 10_000;
const DAY_MS: i64 = 86_400_000;

fn crm_budget() -> Arc<ApiBudget> {
    let config = BudgetConfig { crm_concurrency: Some(4), crm_credits_per_day: Some(1_000), ..BudgetConfig::unlimited() };
    Arc::new(ApiBudget::new(Api::Crm, "org-1", &config))
}

/// The allotment of `window` in force on `holder`'s budget.
fn allotted(holder: &Holder, window: &str) -> Option<u64> {
    holder.budget().usage().windows.iter().find(|w| w.name == window).and_then(|w| w.allotment)
}

/// Every window's commitments still counted at `now_ms` add up to at most its limit.
async fn within_limits<S: BudgetShares>(store: &S, api: &str, now_ms: i64) {
    let rows: Vec<_> = store.budget_holders("org-1").await.expect("budget_holders").into_iter().filter(|h| h.api == api).collect();
    let names: std::collections::BTreeSet<&str> = rows.iter().flat_map(|h| h.windows.iter().map(|w| w.name.as_str())).collect();
    for name in names {
        let mut limit = u64::MAX;
        let mut committed = 0;
        for h in &rows {
            if let Some(w) = h.window(name)
                && (h.is_alive(now_ms) || h.expires_ms + w.period_ms > now_ms)
            {
                limit = limit.min(w.limit);
                committed += w.committed();
            }
        }
        assert!(committed <= limit, "{api} {name}: {committed} committed of {limit} at {now_ms}: {rows:#?}");
    }
}

/// Join, shares by weight, a lowered allotment waiting for the calls in flight, a dead
/// holder leaving the fair shares at its expiry, a holder leaving, old rows deleted.
pub async fn budget_shares_follow_the_live_holders<S: Store + BudgetShares>(store: S) {
    let [a, b, c] = [("a", 1), ("b", 1), ("c", 2)].map(|(id, weight)| Holder::new(crm_budget(), id, "acme", weight, TTL));
    let beat = |h: &Holder, at: i64| {
        let (h, store) = (h.clone(), store.clone());
        async move {
            let row = h.beat(&store, T0 + at).await.expect("heartbeat");
            within_limits(&store, "crm", T0 + at).await;
            row
        }
    };
    // Alone: the whole of the calls in flight; of the daily credits a step at a time.
    let row = beat(&a, 0).await;
    assert_eq!((row.holder.as_str(), row.api.as_str(), row.connection.as_str(), row.expires_ms), ("a", "crm", "acme", T0 + TTL_MS));
    assert_eq!((allotted(&a, "concurrency"), allotted(&a, "credits_per_day")), (Some(4), Some(10)));
    // A newcomer gets what is free (nothing) until the first holder gives up its half.
    beat(&b, 100).await;
    assert_eq!(allotted(&b, "concurrency"), Some(0));
    // `a` has 3 calls in flight when it learns its share is 2: it stays committed to 3.
    let mut calls = Vec::new();
    for _ in 0..3 {
        calls.push(a.budget().acquire(1).await.expect("acquire"));
    }
    let row = beat(&a, 200).await;
    assert_eq!(allotted(&a, "concurrency"), Some(2));
    let w = row.window("concurrency").expect("concurrency window");
    assert_eq!((w.granted, w.used, w.committed()), (2, 3, 3));
    assert_eq!(row.admitted, 3, "the row reports the budget's use");
    beat(&b, 300).await;
    assert_eq!(allotted(&b, "concurrency"), Some(1), "what `a` still counts is not free");
    calls.pop();
    beat(&a, 400).await;
    beat(&b, 500).await;
    assert_eq!((allotted(&a, "concurrency"), allotted(&b, "concurrency")), (Some(2), Some(2)));

    // `c` of weight 2 joins: shares 1, 1, 2, reached as the others drain.
    beat(&c, 600).await;
    assert_eq!(allotted(&c, "concurrency"), Some(0));
    beat(&a, 700).await;
    beat(&b, 800).await;
    beat(&c, 900).await;
    assert_eq!(allotted(&c, "concurrency"), Some(1), "`a` still has 2 calls in flight");
    calls.clear();
    beat(&a, 1_000).await;
    beat(&c, 1_100).await;
    assert_eq!([&a, &b, &c].map(|h| allotted(h, "concurrency")), [Some(1), Some(1), Some(2)]);

    // `b` stops beating. Alive until its expiry, it keeps its share…
    let b_expires = T0 + 800 + TTL_MS;
    beat(&a, 800 + TTL_MS - 1).await;
    assert_eq!(allotted(&a, "concurrency"), Some(1));
    // …and after it, the fair shares are split between `a` and `c` (1 and 3 of 4).
    beat(&a, 800 + TTL_MS + 1).await;
    beat(&c, 800 + TTL_MS + 2).await;
    assert_eq!((allotted(&a, "concurrency"), allotted(&c, "concurrency")), (Some(1), Some(3)));
    // Its daily credits still count against the others (Zoho counts them a day).
    let rows = store.budget_holders("org-1").await.expect("budget_holders");
    let dead = rows.iter().find(|h| h.holder == "b").expect("the dead holder's row is kept");
    assert!(!dead.is_alive(T0 + 800 + TTL_MS + 2) && dead.expires_ms == b_expires);

    // `c` leaves: nothing more is admitted on its budget, and `a` gets the whole.
    c.leave(&store, T0 + 12_000).await.expect("leave");
    assert_eq!(allotted(&c, "concurrency"), Some(0));
    beat(&a, 12_100).await;
    assert_eq!(allotted(&a, "concurrency"), Some(4));

    // A day after their expiry, the rows of `b` and `c` are gone.
    beat(&a, 12_000 + DAY_MS + 1).await;
    let left: Vec<String> = store.budget_holders("org-1").await.expect("budget_holders").into_iter().map(|h| h.holder).collect();
    assert_eq!(left, ["a"]);
}

/// A dead holder's count on a window of a minute keeps counting for a minute after its
/// expiry, then the survivor gets the whole; another organisation and a holder keeping no
/// limits are not concerned.
pub async fn a_dead_holders_count_drains_with_its_window<S: Store + BudgetShares>(store: S) {
    let config = BudgetConfig { books_per_minute: Some(10), ..BudgetConfig::unlimited() };
    let books = || Arc::new(ApiBudget::new(Api::Books, "org-1", &config));
    let (x, y) = (Holder::new(books(), "x", "acme", 1, TTL), Holder::new(books(), "y", "acme", 1, TTL));
    let other_org = Holder::new(Arc::new(ApiBudget::new(Api::Books, "org-2", &config)), "z", "other", 1, TTL);
    // A process keeping no limits (`--no-budget`) has nothing to share and takes no share.
    let unlimited = Holder::new(Arc::new(ApiBudget::new(Api::Books, "org-1", &BudgetConfig::unlimited())), "u", "acme", 1, TTL);
    for (h, at) in [(&unlimited, 0), (&x, 0), (&y, 1), (&x, 2), (&y, 3), (&other_org, 4)] {
        h.beat(&store, T0 + at).await.expect("heartbeat");
        within_limits(&store, "books", T0 + at).await;
    }
    assert_eq!([&x, &y, &other_org].map(|h| allotted(h, "per_minute")), [Some(5), Some(5), Some(10)]);
    // `x` spends its 5 (the first is a fresh budget's probe; Zoho's answer ends it).
    let probe = x.budget().acquire(1).await.expect("probe");
    x.budget().observe_answer(200);
    drop(probe);
    for _ in 0..4 {
        drop(x.budget().acquire(1).await.expect("acquire"));
    }
    x.beat(&store, T0 + 5).await.expect("heartbeat");
    // …and dies. After its expiry `y` is alone, but `x`'s 5 count for a minute more.
    let dead_at = T0 + 5 + TTL_MS;
    y.beat(&store, dead_at + 1).await.expect("heartbeat");
    assert_eq!(allotted(&y, "per_minute"), Some(5));
    within_limits(&store, "books", dead_at + 1).await;
    y.beat(&store, dead_at + 60_001).await.expect("heartbeat");
    assert_eq!(allotted(&y, "per_minute"), Some(10));
    assert_eq!(store.budget_holders("org-2").await.expect("budget_holders").len(), 1);
}

/// Four holders beating at once, each taking a call slot when its allotment lets it and
/// handing it back a beat later: every state the store commits leaves each window's
/// commitments within its limit (the heartbeats of one budget take turns).
pub async fn concurrent_heartbeats_keep_the_sum_within_the_limit<S: Store + BudgetShares>(store: S) {
    let config = BudgetConfig { crm_concurrency: Some(3), ..BudgetConfig::unlimited() };
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(T0));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ["p", "q", "r", "s"] {
        let holder = Holder::new(Arc::new(ApiBudget::new(Api::Crm, "org-1", &config)), id, "acme", 1, TTL);
        let (store, clock) = (store.clone(), clock.clone());
        tasks.spawn(async move {
            let mut held = None;
            for _ in 0..25 {
                let now = clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                holder.beat(&store, now).await.expect("heartbeat");
                within_limits(&store, "crm", now).await;
                // Hand the slot back, or take one if the allotment has room.
                if held.take().is_none() {
                    held = tokio::time::timeout(Duration::from_millis(1), holder.budget().acquire(1)).await.ok().map(|p| p.expect("permit"));
                }
            }
            holder.budget().usage().admitted
        });
    }
    let mut admitted = 0;
    while let Some(done) = tasks.join_next().await {
        admitted += done.expect("holder task");
    }
    assert!(admitted > 0, "the holders did get slots");
}
