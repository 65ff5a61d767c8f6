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

/// Beats each of `holders` three times round, from `*at` on (one millisecond apart),
/// checking the limits after each beat: enough for the allotments to settle.
async fn settle<S: BudgetShares>(store: &S, holders: &[&Holder], at: &mut i64) {
    for _ in 0..3 {
        for h in holders {
            *at += 1;
            h.beat(store, T0 + *at).await.expect("heartbeat");
            within_limits(store, "crm", T0 + *at).await;
        }
    }
}

/// Takes call slots on `holder` until its allotment is all in use.
async fn fill(holder: &Holder, slots: &mut Vec<zoho::budget::Permit>) {
    while let Ok(permit) = tokio::time::timeout(Duration::from_millis(5), holder.budget().acquire(1)).await {
        slots.push(permit.expect("permit"));
    }
}

/// Join, a lowered allotment waiting for the calls in flight, a busy holder growing into
/// what an idle one leaves, busy holders splitting evenly, idle ones by weight, a dead
/// holder's share given out at its expiry, a holder leaving, old rows deleted.
pub async fn budget_shares_follow_the_live_holders<S: Store + BudgetShares>(store: S) {
    let [a, b, c] = [("a", 1), ("b", 1), ("c", 2)].map(|(id, weight)| Holder::new(crm_budget(), id, "acme", weight, TTL));
    let concurrency = |hs: &[&Holder]| hs.iter().map(|h| allotted(h, "concurrency").expect("shared")).collect::<Vec<_>>();
    // Alone: the whole of the calls in flight; of the daily credits a step at a time.
    let row = a.beat(&store, T0).await.expect("heartbeat");
    assert_eq!((row.holder.as_str(), row.api.as_str(), row.connection.as_str(), row.expires_ms), ("a", "crm", "acme", T0 + TTL_MS));
    assert_eq!((allotted(&a, "concurrency"), allotted(&a, "credits_per_day")), (Some(4), Some(10)));
    // A newcomer gets what is free (nothing) until the first holder gives some up.
    b.beat(&store, T0 + 1).await.expect("heartbeat");
    assert_eq!(allotted(&b, "concurrency"), Some(0));
    // `a` has 3 calls in flight when its allotment drops to 2: it stays committed to 3,
    // and `b` gets only what is left.
    let (mut a_slots, mut b_slots) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        a_slots.push(a.budget().acquire(1).await.expect("acquire"));
    }
    b.beat(&store, T0 + 2).await.expect("heartbeat");
    let row = a.beat(&store, T0 + 3).await.expect("heartbeat");
    let w = row.window("concurrency").expect("concurrency window");
    assert_eq!((allotted(&a, "concurrency"), w.granted, w.used, w.committed()), (Some(2), 2, 3, 3));
    assert_eq!(row.admitted, 3, "the row reports the budget's use");
    b.beat(&store, T0 + 4).await.expect("heartbeat");
    assert_eq!(allotted(&b, "concurrency"), Some(1), "what `a` still counts is not free");
    within_limits(&store, "crm", T0 + 4).await;

    // Idle, the two split evenly.
    a_slots.clear();
    let mut at = 10;
    settle(&store, &[&a, &b], &mut at).await;
    assert_eq!(concurrency(&[&a, &b]), [2, 2]);
    // `a` is busy, `b` idle: `a` grows into what `b` leaves, `b` keeps room to start.
    fill(&a, &mut a_slots).await;
    settle(&store, &[&a, &b], &mut at).await;
    fill(&a, &mut a_slots).await;
    settle(&store, &[&a, &b], &mut at).await;
    assert_eq!(concurrency(&[&a, &b]), [3, 1]);
    // Both busy: `a` drains back to half as its calls end.
    fill(&b, &mut b_slots).await;
    settle(&store, &[&a, &b], &mut at).await;
    assert_eq!((concurrency(&[&a, &b]), a_slots.len()), (vec![2, 1], 3), "`a` still has 3 calls in flight");
    a_slots.pop();
    settle(&store, &[&a, &b], &mut at).await;
    assert_eq!(concurrency(&[&a, &b]), [2, 2]);

    // `c` of weight 2 joins; all idle, the shares follow the weights.
    a_slots.clear();
    b_slots.clear();
    settle(&store, &[&a, &b, &c], &mut at).await;
    assert_eq!(concurrency(&[&a, &b, &c]), [1, 1, 2]);

    // `b` stops beating. Alive until its expiry, it keeps its share…
    let b_expires = store.budget_holders("org-1").await.expect("rows").into_iter().find(|h| h.holder == "b").expect("b").expires_ms;
    at = b_expires - T0 - 10;
    settle(&store, &[&a, &c], &mut at).await;
    assert_eq!(concurrency(&[&a, &c]), [1, 2]);
    // …and after it, `a` and `c` share all 4.
    at = b_expires - T0;
    settle(&store, &[&a, &c], &mut at).await;
    assert_eq!(concurrency(&[&a, &c]).iter().sum::<u64>(), 4);
    // Its daily credits still count against the others (Zoho counts them a day).
    let rows = store.budget_holders("org-1").await.expect("budget_holders");
    let dead = rows.iter().find(|h| h.holder == "b").expect("the dead holder's row is kept");
    assert!(!dead.is_alive(T0 + at) && dead.window("credits_per_day").is_some_and(|w| w.committed() > 0));

    // `c` leaves: nothing more is admitted on its budget, and `a` gets the whole.
    at += 1;
    c.leave(&store, T0 + at).await.expect("leave");
    assert_eq!(allotted(&c, "concurrency"), Some(0));
    settle(&store, &[&a], &mut at).await;
    assert_eq!(allotted(&a, "concurrency"), Some(4));

    // A day after their expiry, the rows of `b` and `c` are gone.
    a.beat(&store, T0 + at + DAY_MS + 1).await.expect("heartbeat");
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
