//! Sharing an organisation's Zoho rate budget between the processes of one store.
//!
//! The `zoho` client keeps one budget per organisation and API *per process*
//! ([`zoho::ApiBudget`]). Several processes of one organisation (`serve` with extra
//! `worker`s on PostgreSQL, a `backfill` beside the engine) each believed they owned the
//! whole budget and together met 429s, CRM worst of all (no rate headers to reconcile
//! with, and a limit on calls in flight). Here they agree, through the store, on who may
//! count how much of each window.
//!
//! # The one call
//! ```ignore
//! let keeper = bridge::budget_share::join(store.clone(), "default", &client, ShareSettings::default()).await?;
//! // … use `client` …
//! keeper.leave().await; // or drop it: its row then dies with its lease
//! ```
//! Join right after building the client and before its first call: until then the
//! process counts on the whole budget.
//!
//! # How
//! Each process is a **holder** of (organisation, API), with a row in the store's
//! `budget_holders` ([`crate::store::BudgetShares`]). Every heartbeat
//! ([`ShareSettings::interval`], 1 s) runs in one transaction that no other heartbeat of
//! the pair runs beside. For each window of its budget (Books per minute and per day, CRM
//! credits per day, calls in flight) the holder computes:
//!
//! - its **fair share** of the limit among the live holders that keep the window, by
//!   weighted max-min fairness over their **demands** ([`share_by_demand`]): a holder
//!   using all of its allotment asks for as much as it can get; one that is not asks for
//!   what it uses plus a quarter of its weighted part (room to start when work arrives).
//!   Demands below a holder's weighted part of what is left are met; the rest is split by
//!   weight among the others, rounded down, the units left over going one each to the
//!   largest remainders (ties by holder id). The fair shares add up to the limit exactly,
//!   never more (with fewer units than holders, some get none). So an idle engine leaves
//!   most of the budget to a busy backfill, and two busy holders split it by weight;
//! - what is **free**: the limit less what every other holder has **committed** (its
//!   allotment, or its count while that is higher: an allotment lowered below what is held
//!   stays committed until it drains);
//! - its **allotment**: the smaller of the two. On a window of a day, also at most its
//!   count plus a hundredth of the limit, or ten units if more (so at most that much per
//!   heartbeat): a holder that dies keeps counting against the others for a whole period,
//!   and should not take a day's unused allotment with it.
//!
//! A lowered allotment is applied to the budget *inside* the transaction, before the row
//! that says so is committed; a raised one only after the commit. Every holder therefore
//! counts on no more than its row says, and a holder raises only into what the others'
//! rows leave free, so the allotments in force add up to at most the limit at every
//! moment, while holders join, change weight, drain and leave. A newcomer starts with what
//! is free, often nothing, and gets its share after the others' next heartbeats: at most
//! about two heartbeat intervals.
//!
//! A holder is **alive** until its row's expiry ([`ShareSettings::ttl`], 10 s after its
//! last heartbeat) and then stops counting in the fair shares; its commitment on each
//! window still counts until one period of the window after the expiry (Zoho still counts
//! its requests that long), then its row is deleted. A holder whose heartbeats fail lowers
//! its allotments to nothing before its row can expire. [`ShareKeeper::leave`] ends a
//! holder at once: no more admissions, and what it counted stays counted for a period.
//!
//! What it cannot know: processes of one organisation must use the same store, and should
//! be configured with the same limits (each window uses the lowest limit the live holders
//! report). Expiry compares epoch milliseconds of different machines on PostgreSQL: keep
//! their clocks synchronised (NTP) to well within the time to live. Calls still in flight
//! when a holder's row expires (a store unreachable for longer than the time to live) are
//! no longer counted by the others on a concurrency limit.
//!
//! A holder that becomes busy gets its share back as the others' heartbeats lower theirs
//! and their counts drain: within a call's length for calls in flight, but up to a minute
//! on Books' per-minute window (the room to start covers a small burst meanwhile).
//!
//! # Measured
//! Two clients with budgets of their own, each with its own handle on one SQLite store
//! file, against one emulator allowing 2 CRM calls in flight (80 ms each) and 8 Books
//! calls a minute; each client makes 12 CRM and 4 Books calls at once. Sharing (heartbeat
//! every 50 ms): 0 429s in 10 runs, the burst over in 1.26–1.56 s (the 24 CRM calls take
//! 0.96 s two at a time). Unshared: 10–18 CRM 429s per run, 1.45–1.68 s
//! (`cargo nextest run -p bridge --test budget_share --no-capture`, 2 shared cores).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};
use zoho::{Allotment, Api, ApiBudget, BudgetUsage};

use crate::{
    store::{BudgetHolder, BudgetShares, HeldWindow, StoreResult},
    triggers::Clock,
};

/// How often a holder beats, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// How long a holder stays alive after its last heartbeat, by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Windows at least this long are granted step by step ([`LONG_WINDOW_STEPS`]).
const LONG_WINDOW: Duration = Duration::from_secs(3_600);

/// On a long window an allotment is at most the holder's count plus the limit divided by
/// this…
const LONG_WINDOW_STEPS: u64 = 100;

/// …or plus this many units, if more: a step must fit the costliest request (a COQL
/// query of 2,000 records costs 3 CRM credits, Convert Lead 5).
const LONG_WINDOW_MIN_STEP: u64 = 10;

/// How a process takes part in sharing.
#[derive(Debug, Clone)]
pub struct ShareSettings {
    /// Its weight: a holder of weight 2 gets twice the fair share of one of weight 1 (a
    /// backfill can take a smaller part than the engine). At least 1.
    pub weight: u32,
    /// Time between heartbeats.
    pub interval: Duration,
    /// How long it stays alive after a heartbeat (several intervals).
    pub ttl: Duration,
    /// Names the holder in the store, a random tag added (a worker's id, `backfill`);
    /// default `process-<pid>`.
    pub label: String,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for ShareSettings {
    fn default() -> Self {
        ShareSettings { weight: 1, interval: DEFAULT_INTERVAL, ttl: DEFAULT_TTL, label: format!("process-{}", std::process::id()), clock: Clock::system() }
    }
}

/// One process's part in one budget (organisation and API): its heartbeat and leave.
/// [`ShareKeeper`] runs these; tests drive them with their own clock.
#[derive(Debug, Clone)]
pub struct Holder {
    budget: Arc<ApiBudget>,
    id: String,
    connection: String,
    weight: u32,
    ttl_ms: i64,
}

impl Holder {
    /// The holder `id` (unique per process run) of `budget`, for `connection`.
    pub fn new(budget: Arc<ApiBudget>, id: impl Into<String>, connection: impl Into<String>, weight: u32, ttl: Duration) -> Holder {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        Holder { budget, id: id.into(), connection: connection.into(), weight: weight.max(1), ttl_ms }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its budget.
    pub fn budget(&self) -> &Arc<ApiBudget> {
        &self.budget
    }

    /// One heartbeat at `now_ms`: recomputes the allotments (see the module docs), lowers
    /// them on the budget before the store commits and raises them after. Returns the
    /// row as stored.
    pub async fn beat<S: BudgetShares>(&self, store: &S, now_ms: i64) -> StoreResult<BudgetHolder> {
        let mut raised: Vec<Allotment> = Vec::new();
        let row = store
            .share_budget(self.budget.organization(), &api_name(self.budget.api()), &self.id, now_ms, |others| {
                let (row, allotments) = self.decide(others, now_ms);
                raised = allotments;
                row
            })
            .await?;
        self.budget.allot(&raised);
        Ok(row)
    }

    /// Leaves at `now_ms`: the budget admits nothing more, and the row says the holder
    /// is dead, its count still counting for one period of each window.
    pub async fn leave<S: BudgetShares>(&self, store: &S, now_ms: i64) -> StoreResult<BudgetHolder> {
        store
            .share_budget(self.budget.organization(), &api_name(self.budget.api()), &self.id, now_ms, |_| {
                let nothing: Vec<Allotment> =
                    self.budget.usage().windows.iter().map(|w| Allotment { window: w.name.into(), units: 0, others: w.limit }).collect();
                let usage = self.budget.allot(&nothing);
                let windows = usage.windows.iter().map(|w| held(w.name, w.period, w.limit, 0, w.used, 0)).collect();
                self.row(&usage, windows, now_ms, now_ms)
            })
            .await
    }

    /// Lowers every allotment to nothing: the heartbeats failed and the row is about to
    /// expire, after which the others stop leaving room for this holder.
    pub fn stop_admitting(&self) {
        let nothing: Vec<Allotment> = self.budget.usage().windows.iter().map(|w| Allotment { window: w.name.into(), units: 0, others: w.limit }).collect();
        self.budget.allot(&nothing);
    }

    /// This heartbeat's row and the allotments to raise to after it commits; lowers the
    /// allotments that go down on the budget now.
    fn decide(&self, others: &[BudgetHolder], now_ms: i64) -> (BudgetHolder, Vec<Allotment>) {
        let before = self.budget.usage();
        let mut demands = Vec::new();
        let live: Vec<&BudgetHolder> = others.iter().filter(|h| h.is_alive(now_ms)).collect();
        let targets: Vec<Allotment> = before
            .windows
            .iter()
            .map(|w| {
                let period_ms = duration_ms(w.period);
                let limit = live.iter().filter_map(|h| h.window(w.name)).map(|o| o.limit).fold(w.limit, u64::min);
                // Among the live holders keeping this window (one without it keeps no count
                // to share, e.g. a worker run with `--no-budget`).
                let keeping: Vec<(&BudgetHolder, &HeldWindow)> = live.iter().filter_map(|h| Some((*h, h.window(w.name)?))).collect();
                let weights: Vec<(&str, u32)> = keeping.iter().map(|(h, _)| (h.holder.as_str(), h.weight)).chain([(self.id.as_str(), self.weight)]).collect();
                // What this holder asks for: everything while it uses all it has, else
                // what it uses and a quarter of its fair share to grow into.
                let demand = if w.used >= w.allotment.unwrap_or(w.limit) {
                    UNBOUNDED
                } else {
                    w.used.saturating_add((fair_share(limit, &weights, &self.id) / 4).max(1))
                };
                demands.push(demand);
                let wants: Vec<Want> = keeping
                    .iter()
                    .map(|(h, o)| Want { holder: h.holder.as_str(), weight: h.weight, demand: o.demand })
                    .chain([Want { holder: self.id.as_str(), weight: self.weight, demand }])
                    .collect();
                let fair = share_by_demand(limit, &wants, &self.id);
                let others_committed: u64 = others.iter().filter_map(|h| counted(h, w.name, period_ms, now_ms)).sum();
                let mut units = fair.min(limit.saturating_sub(others_committed));
                if w.period >= LONG_WINDOW {
                    units = units.min(w.used + (limit / LONG_WINDOW_STEPS).max(LONG_WINDOW_MIN_STEP));
                }
                Allotment { window: w.name.into(), units, others: others_committed.min(limit) }
            })
            .collect();
        // Down now, before the row saying so is committed; up only after.
        let lowered: Vec<Allotment> =
            targets.iter().zip(&before.windows).map(|(t, w)| Allotment { units: t.units.min(w.allotment.unwrap_or(w.limit)), ..t.clone() }).collect();
        let after = self.budget.allot(&lowered);
        let windows = after
            .windows
            .iter()
            .map(|w| {
                let index = targets.iter().position(|t| t.window == w.name);
                let granted = index.map_or(0, |i| targets[i].units);
                // A window that appeared meanwhile (Zoho's headers) asks for its share.
                let demand = index.map_or(UNBOUNDED, |i| demands[i]);
                held(w.name, w.period, w.limit, granted, w.used, demand)
            })
            .collect();
        (self.row(&after, windows, now_ms + self.ttl_ms, now_ms), targets)
    }

    fn row(&self, usage: &BudgetUsage, windows: Vec<HeldWindow>, expires_ms: i64, now_ms: i64) -> BudgetHolder {
        let longest = windows.iter().map(|w: &HeldWindow| w.period_ms).max().unwrap_or(0);
        BudgetHolder {
            organization: self.budget.organization().to_string(),
            api: api_name(self.budget.api()),
            holder: self.id.clone(),
            connection: self.connection.clone(),
            weight: self.weight,
            windows,
            admitted: usage.admitted,
            throttled: usage.throttled,
            expires_ms,
            keep_until_ms: expires_ms.saturating_add(longest),
            updated_ms: now_ms,
        }
    }
}

fn held(name: &str, period: Duration, limit: u64, granted: u64, used: u64, demand: u64) -> HeldWindow {
    HeldWindow { name: name.to_string(), period_ms: duration_ms(period), limit, granted, used, demand }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn api_name(api: Api) -> String {
    api.to_string()
}

/// What holder `h` still counts on window `name` at `now_ms`: its commitment while it is
/// alive and for one period of the window after (Zoho counts its requests that long).
fn counted(h: &BudgetHolder, name: &str, period_ms: i64, now_ms: i64) -> Option<u64> {
    let w = h.window(name)?;
    let until = h.expires_ms.saturating_add(w.period_ms.max(period_ms));
    (h.is_alive(now_ms) || until > now_ms).then(|| w.committed())
}

/// The fair share of `limit` of holder `me` among `holders` (id, weight; `me` among
/// them): by weight, rounded down, the units left over going one each to the largest
/// remainders, ties to the smaller id. The shares of all holders add up to `limit`.
pub fn fair_share(limit: u64, holders: &[(&str, u32)], me: &str) -> u64 {
    let total: u128 = holders.iter().map(|(_, w)| u128::from(*w)).sum();
    if total == 0 {
        return 0;
    }
    let split = |w: u32| {
        let units = u128::from(limit) * u128::from(w);
        ((units / total) as u64, units % total)
    };
    let given: u64 = holders.iter().map(|(_, w)| split(*w).0).sum();
    let left_over = limit - given;
    let mut order: Vec<(u128, &str)> = holders.iter().map(|(id, w)| (split(*w).1, *id)).collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let Some(&(_, weight)) = holders.iter().find(|(id, _)| *id == me) else { return 0 };
    let extra = order.iter().take(left_over as usize).any(|(_, id)| *id == me);
    split(weight).0 + u64::from(extra)
}

/// A demand with no bound: the holder uses all it has.
const UNBOUNDED: u64 = u64::MAX;

/// One holder's claim on a window, for [`share_by_demand`].
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// The holder's id.
    pub holder: &'a str,
    /// Its weight.
    pub weight: u32,
    /// The units it asks for (`u64::MAX`: as many as it can get).
    pub demand: u64,
}

/// The share of `limit` of holder `me` among `wants` (`me` among them), by demand: a
/// holder asking for less than its weighted part of what is left gets what it asks for,
/// round after round; the rest is split by weight ([`fair_share`]) among those asking for
/// more, or, when every demand is met, among all of them on top of their demands. The
/// shares add up to `limit`. (Weighted max-min fairness.)
pub fn share_by_demand(limit: u64, wants: &[Want<'_>], me: &str) -> u64 {
    let mut left = limit;
    let mut open: Vec<Want<'_>> = wants.to_vec();
    let mut met: Option<u64> = None;
    loop {
        let weights: u128 = open.iter().map(|w| u128::from(w.weight)).sum();
        let (content, hungry): (Vec<Want<'_>>, Vec<Want<'_>>) =
            open.iter().partition(|w| u128::from(w.demand) * weights <= u128::from(w.weight) * u128::from(left));
        if content.is_empty() {
            break;
        }
        for w in &content {
            left -= w.demand;
            if w.holder == me {
                met = Some(w.demand);
            }
        }
        open = hungry;
        if open.is_empty() {
            break;
        }
    }
    if open.is_empty() {
        // Every demand met: what is left goes to all, by weight.
        let all: Vec<(&str, u32)> = wants.iter().map(|w| (w.holder, w.weight)).collect();
        return met.unwrap_or(0) + fair_share(left, &all, me);
    }
    match met {
        Some(demand) => demand,
        None => fair_share(left, &open.iter().map(|w| (w.holder, w.weight)).collect::<Vec<_>>(), me),
    }
}

/// A unique holder id: the label and a tag random to this run (`worker-4242-1f0c9a3e0`).
fn holder_id(label: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{:08x}{seq}", fastrand::u32(..))
}

/// Keeps a process's holders of a connection's budgets beating, in a task of its own.
/// Stop it with [`ShareKeeper::leave`]; dropped, it stops beating and its rows die at
/// their expiry.
#[derive(Debug)]
pub struct ShareKeeper {
    holders: Vec<Holder>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    leave: Box<dyn LeaveFn>,
}

/// The store and clock a keeper leaves with, type-erased.
trait LeaveFn: Send + Sync + std::fmt::Debug {
    fn leave<'a>(&'a self, holders: &'a [Holder]) -> futures_util::future::BoxFuture<'a, StoreResult<()>>;
}

#[derive(Debug)]
struct Leaver<S> {
    store: S,
    clock: Clock,
}

impl<S: BudgetShares + std::fmt::Debug> LeaveFn for Leaver<S> {
    fn leave<'a>(&'a self, holders: &'a [Holder]) -> futures_util::future::BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            for h in holders {
                h.leave(&self.store, self.clock.now_ms()).await?;
            }
            Ok(())
        })
    }
}

/// Joins the sharing of `client`'s budgets (CRM and Books of its organisation) through
/// `store`, for `connection`: beats once for each (so the budgets are shared when this
/// returns) and keeps beating in the background. See the module docs.
pub async fn join<S: BudgetShares + std::fmt::Debug>(store: S, connection: &str, client: &zoho::Client, settings: ShareSettings) -> StoreResult<ShareKeeper> {
    let budgets = [Api::Crm, Api::Books].map(|api| client.transport().budget(api).clone());
    join_budgets(store, connection, &budgets, settings).await
}

/// [`join`] for budgets given one by one.
pub async fn join_budgets<S: BudgetShares + std::fmt::Debug>(
    store: S,
    connection: &str,
    budgets: &[Arc<ApiBudget>],
    settings: ShareSettings,
) -> StoreResult<ShareKeeper> {
    let id = holder_id(&settings.label);
    let holders: Vec<Holder> = budgets.iter().map(|b| Holder::new(b.clone(), id.clone(), connection, settings.weight, settings.ttl)).collect();
    for h in &holders {
        h.beat(&store, settings.clock.now_ms()).await?;
    }
    tracing::info!(holder = %id, connection, weight = settings.weight, "sharing the Zoho rate budget through the store");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(keep_beating(store.clone(), holders.clone(), settings.clone(), stopped));
    Ok(ShareKeeper { holders, stop, task: Some(task), leave: Box::new(Leaver { store, clock: settings.clock }) })
}

/// Beats every `interval` until told to stop; when the beats fail for long enough that
/// the rows may expire, stops the budgets admitting until a beat succeeds again.
async fn keep_beating<S: BudgetShares>(store: S, holders: Vec<Holder>, settings: ShareSettings, mut stopped: watch::Receiver<bool>) {
    let interval_ms = duration_ms(settings.interval);
    let ttl_ms = duration_ms(settings.ttl);
    let mut alive_until: Vec<i64> = vec![settings.clock.now_ms() + ttl_ms; holders.len()];
    let mut every = tokio::time::interval(settings.interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        for (h, until) in holders.iter().zip(alive_until.iter_mut()) {
            let now_ms = settings.clock.now_ms();
            match h.beat(&store, now_ms).await {
                Ok(row) => *until = row.expires_ms,
                Err(e) => {
                    // Two intervals of margin: the next beat could come too late.
                    let expiring = now_ms + 2 * interval_ms >= *until;
                    tracing::warn!(holder = %h.id, api = %h.budget.api(), error = %e, expiring, "budget heartbeat failed");
                    if expiring {
                        h.stop_admitting();
                    }
                }
            }
        }
    }
}

impl ShareKeeper {
    /// The holders it keeps (one per budget).
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    /// Stops beating and leaves: the budgets admit nothing more (call it once the
    /// client's work is done), and the rows say so at once instead of at their expiry.
    pub async fn leave(mut self) -> StoreResult<()> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.leave.leave(&self.holders).await
    }
}

impl Drop for ShareKeeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{UNBOUNDED, Want, fair_share, share_by_demand};

    fn shares(limit: u64, wants: &[(&'static str, u32, u64)]) -> Vec<u64> {
        let wants: Vec<Want<'_>> = wants.iter().map(|&(holder, weight, demand)| Want { holder, weight, demand }).collect();
        wants.iter().map(|w| share_by_demand(limit, &wants, w.holder)).collect()
    }

    #[test]
    fn shares_by_demand_give_what_idle_holders_leave_to_busy_ones() {
        // Both busy: by weight.
        assert_eq!(shares(10, &[("a", 1, UNBOUNDED), ("b", 1, UNBOUNDED)]), [5, 5]);
        assert_eq!(shares(100, &[("engine", 3, UNBOUNDED), ("backfill", 1, UNBOUNDED)]), [75, 25]);
        // An idle holder keeps what it asks for, the busy one gets the rest.
        assert_eq!(shares(10, &[("a", 1, 2), ("b", 1, UNBOUNDED)]), [2, 8]);
        // Asking for more than its part is asking for its part.
        assert_eq!(shares(10, &[("a", 1, 7), ("b", 1, UNBOUNDED)]), [5, 5]);
        // `a`'s 1 and `b`'s 3 are within their thirds; `c` gets the rest.
        assert_eq!(shares(10, &[("a", 1, 1), ("b", 1, 3), ("c", 1, UNBOUNDED)]), [1, 3, 6]);
        // Every demand met: the rest by weight on top.
        assert_eq!(shares(10, &[("a", 1, 1), ("b", 1, 1)]), [5, 5]);
        assert_eq!(shares(4, &[("a", 1, 1), ("b", 1, 1), ("c", 2, 1)]), [1, 1, 2]);
        for limit in [0, 1, 3, 10, 101] {
            for wants in [&[("a", 1, 0), ("b", 2, UNBOUNDED), ("c", 1, 4)][..], &[("a", 3, 2), ("b", 1, 2)][..], &[("a", 1, UNBOUNDED)][..]] {
                assert_eq!(shares(limit, wants).iter().sum::<u64>(), limit, "{limit} {wants:?}");
            }
        }
    }

    #[test]
    fn fair_shares_add_up_to_the_limit_and_follow_the_weights() {
        let holders = [("a", 1), ("b", 1), ("c", 1)];
        let shares: Vec<u64> = ["a", "b", "c"].iter().map(|me| fair_share(4, &holders, me)).collect();
        assert_eq!(shares, [2, 1, 1]);
        let shares: Vec<u64> = ["a", "b", "c"].iter().map(|me| fair_share(2, &holders, me)).collect();
        assert_eq!(shares, [1, 1, 0], "fewer units than holders: some get none, none get more");
        let weighted = [("engine", 3), ("backfill", 1)];
        assert_eq!((fair_share(100, &weighted, "engine"), fair_share(100, &weighted, "backfill")), (75, 25));
        assert_eq!(fair_share(10, &[("a", 1)], "a"), 10);
        assert_eq!(fair_share(10, &[("a", 1)], "someone else"), 0);
        for limit in [0, 1, 7, 99, 100, 5_000] {
            let holders = [("a", 2), ("b", 3), ("c", 5), ("d", 1)];
            let sum: u64 = holders.iter().map(|(id, _)| fair_share(limit, &holders, id)).sum();
            assert_eq!(sum, limit);
        }
    }
}
