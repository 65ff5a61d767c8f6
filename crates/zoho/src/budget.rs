//! Rate budgets: one per organisation and API, shared by every task in the process.
//!
//! Zoho Books allows N requests per minute and M per day per organisation, CRM a number
//! of credits per rolling 24 hours and a number of calls in flight. Sending a request that
//! will be refused wastes budget and, on Books, risks a block, so a request *waits* here
//! until it fits.
//!
//! # Why not `governor`
//! A GCRA limiter lets a full burst through and then refills continuously, so a 60-second
//! window can see up to twice the quota; and it knows nothing about in-flight requests or
//! "pause everything for N seconds". Zoho counts a request when it *arrives*, in fixed
//! windows we cannot see. This budget therefore holds each slot from the moment a request
//! is admitted until one full period after its answer arrived: any period-long window of
//! arrivals on Zoho's side then contains at most `limit` requests, whatever the network
//! latency or the alignment of Zoho's clock, while a steady stream still uses
//! `period / (period + latency)` of the budget (≈ 99.99 % at 5 ms). A concurrency limit is
//! the same structure with a period of zero. A 429 pauses the whole organisation for the
//! time Zoho gives (`X-Rate-Limit-Reset`).
//!
//! # What Zoho already counted
//! The windows above only know the requests of this budget. Zoho also counts those of
//! other processes of the organisation and of this process before a restart: a budget
//! that started empty after a restart let a full burst through and met 429s, as many as
//! the burst was wide, each pausing the organisation until Zoho's reset. So a Books
//! budget starts from what Zoho says:
//!
//! - Until the first answer arrives (see [`ApiBudget::observe_server`] and
//!   [`ApiBudget::observe_answer`]), a fresh Books budget lets **one** request be in
//!   flight: that request is the probe.
//! - Every answer's `X-Rate-Limit-Limit/-Remaining/-Reset` is reconciled with the window
//!   of that length (a reset within a minute is the per-minute window, a longer one the
//!   per-day window): the window's limit never exceeds Zoho's limit, and if the window
//!   thinks more remains than Zoho says, the difference is held until Zoho's reset (plus
//!   [`RESET_MARGIN`], for Zoho's rounding of the reset to whole seconds). A window Zoho
//!   reports but the configuration switched off is added with Zoho's limit.
//!
//! Nothing is ever given back by an answer: a budget only waits longer than its own
//! count would have it, never less. CRM answers carry no such headers, so CRM budgets
//! need no probe.
//!
//! # Shared with other processes
//! Several processes of one organisation (engine workers, a backfill) must not each
//! spend the whole budget. Something outside this crate (the engine's store, see
//! `bridge::budget_share`) agrees on who may use how much, and tells each budget with
//! [`ApiBudget::allot`]: per window, the units this process may count and the units the
//! other processes may count. A window then admits a request only while its own count
//! (in flight plus held) stays within its allotment; an allotment lowered below what is
//! held admits nothing until enough slots have drained, so lowering it never lets more
//! out than the new allotment. The other processes' units also count as known when
//! Zoho's headers are reconciled, so their requests are not held twice.
//! [`ApiBudget::set_share`] allots the same fraction of every window.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{sync::Notify, time::Instant};

use crate::error::{Api, Error, Result};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Extra time a count that Zoho reported is held past the reset Zoho named: Zoho gives
/// the reset in whole seconds, so the true reset may be up to a second later.
pub const RESET_MARGIN: Duration = Duration::from_secs(1);

/// Books plans and their published per-day request quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BooksPlan {
    /// 1,000 requests a day.
    Free,
    /// 2,000 a day.
    Standard,
    /// 5,000 a day.
    Professional,
    /// 10,000 a day (also Elite and Ultimate).
    Premium,
}

impl BooksPlan {
    /// Requests per day per organisation.
    pub fn per_day(self) -> u32 {
        match self {
            BooksPlan::Free => 1_000,
            BooksPlan::Standard => 2_000,
            BooksPlan::Professional => 5_000,
            BooksPlan::Premium => 10_000,
        }
    }

    /// Requests in flight at once (Zoho: 5 on Free, 10 on paid plans).
    pub fn concurrency(self) -> u32 {
        match self {
            BooksPlan::Free => 5,
            _ => 10,
        }
    }
}

/// CRM editions and their published credit and concurrency limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmEdition {
    /// 5,000 credits, 5 concurrent calls.
    Free,
    /// 50,000 + 250 per user (cap 100,000), 10 concurrent.
    Standard {
        /// Licensed users.
        users: u32,
    },
    /// 50,000 + 500 per user (cap 3,000,000), 15 concurrent.
    Professional {
        /// Licensed users.
        users: u32,
    },
    /// 50,000 + 1,000 per user (cap 5,000,000), 20 concurrent.
    Enterprise {
        /// Licensed users.
        users: u32,
    },
    /// 50,000 + 2,000 per user (no cap), 25 concurrent.
    Ultimate {
        /// Licensed users.
        users: u32,
    },
}

impl CrmEdition {
    /// API credits per rolling 24 hours.
    pub fn credits_per_day(self) -> u64 {
        match self {
            CrmEdition::Free => 5_000,
            CrmEdition::Standard { users } => (50_000 + 250 * users as u64).min(100_000),
            CrmEdition::Professional { users } => (50_000 + 500 * users as u64).min(3_000_000),
            CrmEdition::Enterprise { users } => (50_000 + 1_000 * users as u64).min(5_000_000),
            CrmEdition::Ultimate { users } => 50_000 + 2_000 * users as u64,
        }
    }

    /// Calls in flight at once.
    pub fn concurrency(self) -> u32 {
        match self {
            CrmEdition::Free => 5,
            CrmEdition::Standard { .. } => 10,
            CrmEdition::Professional { .. } => 15,
            CrmEdition::Enterprise { .. } => 20,
            CrmEdition::Ultimate { .. } => 25,
        }
    }
}

/// The limits a client keeps to. `None` switches a limit off.
///
/// Zoho's limits differ by plan (Books) and edition (CRM), so a deployment states its
/// own: from the plans ([`BudgetConfig::for_plans`]), from plain numbers in a config
/// file, or, against the emulator, from what it enforces
/// ([`BudgetConfig::from_emulator`]). As a config table (`[zoho.limits]` in the engine's
/// file) every field is optional and defaults to [`BudgetConfig::default`]'s, unknown
/// fields are refused, `false` switches a limit off, and the wait ceiling is in seconds:
///
/// ```toml
/// books_per_minute = 100
/// books_per_day = 5000        # Books Professional
/// books_concurrency = 10
/// crm_credits_per_day = 75000 # CRM Professional, 50 users
/// crm_concurrency = 15
/// max_wait_secs = 180
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Books requests per minute per organisation (Zoho: 100).
    #[serde(with = "limit")]
    pub books_per_minute: Option<u32>,
    /// Books requests per day per organisation.
    #[serde(with = "limit")]
    pub books_per_day: Option<u32>,
    /// Books requests in flight at once.
    #[serde(with = "limit")]
    pub books_concurrency: Option<u32>,
    /// CRM credits per rolling 24 hours.
    #[serde(with = "limit")]
    pub crm_credits_per_day: Option<u64>,
    /// CRM calls in flight at once.
    #[serde(with = "limit")]
    pub crm_concurrency: Option<u32>,
    /// Longest a request waits for budget before failing with
    /// [`Error::BudgetExhausted`] (a daily quota can take hours to come back).
    /// `max_wait_secs` in a config file.
    #[serde(rename = "max_wait_secs", with = "whole_seconds")]
    pub max_wait: Duration,
}

/// A limit in a config file: a number, or `false` (or `null`) for "off".
mod limit {
    use std::{fmt, marker::PhantomData};

    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer, T: Copy + Into<u64>>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(n) => s.serialize_u64((*n).into()),
            None => s.serialize_bool(false),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
        struct Limit<T>(PhantomData<T>);
        impl<'de, T: TryFrom<u64>> de::Visitor<'de> for Limit<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a limit (a whole number) or `false` for none")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Option<T>, E> {
                T::try_from(n).map(Some).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Option<T>, E> {
                let n = u64::try_from(n).map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))?;
                self.visit_u64(n)
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Option<T>, E> {
                if on { Err(E::invalid_value(de::Unexpected::Bool(true), &self)) } else { Ok(None) }
            }
            fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_option(Limit(PhantomData))
    }
}

/// A duration as whole seconds.
mod whole_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

impl BudgetConfig {
    /// Zoho's published limits for a Books plan and a CRM edition.
    pub fn for_plans(books: BooksPlan, crm: CrmEdition) -> BudgetConfig {
        BudgetConfig {
            books_per_minute: Some(100),
            books_per_day: Some(books.per_day()),
            books_concurrency: Some(books.concurrency()),
            crm_credits_per_day: Some(crm.credits_per_day()),
            crm_concurrency: Some(crm.concurrency()),
            max_wait: Duration::from_secs(180),
        }
    }

    /// No client-side limits (429s are still honoured).
    pub fn unlimited() -> BudgetConfig {
        BudgetConfig {
            books_per_minute: None,
            books_per_day: None,
            books_concurrency: None,
            crm_credits_per_day: None,
            crm_concurrency: None,
            max_wait: Duration::from_secs(180),
        }
    }
}

impl Default for BudgetConfig {
    /// Books Premium and CRM Standard with no extra users: 100/min, 10,000/day, 10
    /// concurrent on Books; 50,000 credits and 10 concurrent on CRM.
    fn default() -> Self {
        BudgetConfig::for_plans(BooksPlan::Premium, CrmEdition::Standard { users: 0 })
    }
}

/// One limit: `limit` units per `period` (or, with a zero period, in flight at once).
#[derive(Debug)]
struct Window {
    name: &'static str,
    limit: u64,
    period: Duration,
    /// The units this process may count, when it shares the window ([`ApiBudget::allot`]).
    allotment: Option<u64>,
    /// The units the processes it shares the window with may count.
    others: u64,
    in_flight: u64,
    /// Units of finished requests and when they become free again, oldest first.
    releases: VecDeque<(Instant, u64)>,
    released_units: u64,
}

impl Window {
    fn new(name: &'static str, limit: u64, period: Duration) -> Window {
        Window { name, limit, period, allotment: None, others: 0, in_flight: 0, releases: VecDeque::new(), released_units: 0 }
    }

    /// What this process may count: the limit, or its allotment of it.
    fn cap(&self) -> u64 {
        self.allotment.map_or(self.limit, |a| a.min(self.limit))
    }

    fn prune(&mut self, now: Instant) {
        while let Some(&(at, units)) = self.releases.front() {
            if at > now {
                break;
            }
            self.releases.pop_front();
            self.released_units -= units;
        }
    }

    /// Counts `units` more until `at`, keeping `releases` ordered by time.
    fn hold_until(&mut self, units: u64, at: Instant) {
        let at_or_before = self.releases.partition_point(|(t, _)| *t <= at);
        self.releases.insert(at_or_before, (at, units));
        self.released_units += units;
    }

    fn used(&self) -> u64 {
        self.in_flight + self.released_units
    }

    fn cost(&self, cost: u64) -> u64 {
        if self.period.is_zero() { 1 } else { cost }
    }

    /// `Ok(())` if `cost` fits now; else when it will fit (`None`: only after an
    /// in-flight request finishes).
    fn fits(&self, cost: u64) -> std::result::Result<(), Option<Instant>> {
        let cost = self.cost(cost);
        let cap = self.cap();
        if self.used() + cost <= cap {
            return Ok(());
        }
        let mut freed = 0;
        for &(at, units) in &self.releases {
            freed += units;
            if self.used() - freed + cost <= cap {
                return Err(Some(at));
            }
        }
        Err(None)
    }
}

#[derive(Debug)]
struct State {
    windows: Vec<Window>,
    paused_until: Option<Instant>,
    admitted: u64,
    throttled: u64,
    waited: Duration,
    server: Option<ServerView>,
    /// Whether an answer has told where Zoho's count stands; until then only one request
    /// is let in flight. Always true for CRM (no count in its answers).
    calibrated: bool,
    /// Units (costs) of the requests holding a permit now.
    in_flight: u64,
    /// Whether other processes share this budget ([`ApiBudget::allot`]): a window Zoho
    /// reports that this budget did not have then starts with nothing allotted.
    shared: bool,
}

/// What Zoho last said about the budget (Books `X-Rate-Limit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerView {
    /// `X-Rate-Limit-Limit`.
    pub limit: u64,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: u64,
    /// `X-Rate-Limit-Reset`, seconds.
    pub reset_secs: u64,
}

/// Use of one limit, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUsage {
    /// `per_minute`, `per_day`, `credits_per_day` or `concurrency`.
    pub name: &'static str,
    /// The limit (of the whole organisation).
    pub limit: u64,
    /// How long a unit stays counted after its answer (zero for a concurrency limit).
    pub period: Duration,
    /// What this process may count of the limit when it shares it with other processes
    /// ([`ApiBudget::allot`]); `None`: the whole limit.
    pub allotment: Option<u64>,
    /// Units counted now (in flight plus finished within the period).
    pub used: u64,
    /// Units in flight.
    pub in_flight: u64,
    /// What this process may still count: its allotment (or the limit) minus `used`.
    pub remaining: u64,
}

/// A fraction of every window of a budget ([`ApiBudget::set_share`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Parts given.
    pub numerator: u64,
    /// Parts in all (not zero).
    pub denominator: u64,
}

impl Share {
    /// The whole budget.
    pub const WHOLE: Share = Share { numerator: 1, denominator: 1 };

    /// This share of `limit`, rounded down.
    pub fn of(self, limit: u64) -> u64 {
        if self.denominator == 0 {
            return 0;
        }
        (u128::from(limit) * u128::from(self.numerator.min(self.denominator)) / u128::from(self.denominator)) as u64
    }
}

/// What this process may count of one window it shares with other processes
/// ([`ApiBudget::allot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allotment {
    /// The window's name ([`WindowUsage::name`]).
    pub window: String,
    /// Units this process may count.
    pub units: u64,
    /// Units the other processes may count (at most `limit - units`): when Zoho's headers
    /// say more was counted than this process did, these explain that much of it.
    pub others: u64,
}

/// A snapshot of one budget, for metrics.
#[derive(Debug, Clone)]
pub struct BudgetUsage {
    /// The API.
    pub api: Api,
    /// The organisation key.
    pub organization: String,
    /// Each limit.
    pub windows: Vec<WindowUsage>,
    /// Remaining pause after a 429.
    pub paused_for: Option<Duration>,
    /// Requests admitted so far.
    pub admitted: u64,
    /// 429s (or limit codes) seen so far.
    pub throttled: u64,
    /// Total time requests spent waiting for budget.
    pub waited: Duration,
    /// Zoho's own view, if it sent one.
    pub server: Option<ServerView>,
}

/// The budget of one organisation on one API.
#[derive(Debug)]
pub struct ApiBudget {
    api: Api,
    organization: String,
    max_wait: Duration,
    state: Mutex<State>,
    notify: Notify,
}

/// Held while a request is in flight; dropping it records the request as finished.
#[derive(Debug)]
pub struct Permit {
    budget: Arc<ApiBudget>,
    cost: u64,
    counted: bool,
}

impl Permit {
    /// Gives the units back at once: Zoho refused the request with a 429 and did not
    /// count it (the organisation is paused separately).
    pub fn refund(mut self) {
        self.counted = false;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let now = Instant::now();
        {
            let mut state = self.budget.lock();
            state.in_flight -= self.cost;
            for w in &mut state.windows {
                let cost = w.cost(self.cost);
                w.in_flight -= cost;
                if self.counted && !w.period.is_zero() {
                    // In order: a count held from Zoho's headers may end later than this.
                    w.hold_until(cost, now + w.period);
                }
            }
        }
        self.budget.notify.notify_waiters();
    }
}

impl ApiBudget {
    /// A budget for `api` of `organization` with the limits of `config`. A Books budget
    /// starts uncalibrated: one request at a time until Zoho's first answer.
    pub fn new(api: Api, organization: impl Into<String>, config: &BudgetConfig) -> ApiBudget {
        let mut windows = Vec::new();
        match api {
            Api::Books => {
                if let Some(n) = config.books_per_minute {
                    windows.push(Window::new("per_minute", n as u64, MINUTE));
                }
                if let Some(n) = config.books_per_day {
                    windows.push(Window::new("per_day", n as u64, DAY));
                }
                if let Some(n) = config.books_concurrency {
                    windows.push(Window::new("concurrency", n as u64, Duration::ZERO));
                }
            }
            Api::Crm => {
                if let Some(n) = config.crm_credits_per_day {
                    windows.push(Window::new("credits_per_day", n, DAY));
                }
                if let Some(n) = config.crm_concurrency {
                    windows.push(Window::new("concurrency", n as u64, Duration::ZERO));
                }
            }
        }
        ApiBudget {
            api,
            organization: organization.into(),
            max_wait: config.max_wait,
            state: Mutex::new(State {
                windows,
                paused_until: None,
                admitted: 0,
                throttled: 0,
                waited: Duration::ZERO,
                server: None,
                calibrated: api == Api::Crm,
                in_flight: 0,
                shared: false,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request costing `cost` units (CRM credits; 1 on Books) fits, and
    /// reserves it.
    pub async fn acquire(self: &Arc<Self>, cost: u64) -> Result<Permit> {
        let started = Instant::now();
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait_until = {
                let now = Instant::now();
                let mut state = self.lock();
                let mut wait: Option<Option<Instant>> = None;
                if let Some(until) = state.paused_until.filter(|u| *u > now) {
                    wait = Some(Some(until));
                }
                if let Some(w) = state.windows.iter().find(|w| w.cost(cost) > w.limit) {
                    return Err(Error::InvalidInput(format!("a request costing {cost} can never fit the {} limit of {}", w.name, w.limit)));
                }
                if wait.is_none() && !state.calibrated && state.in_flight > 0 {
                    // The probe is out: wait for its answer (or for it to fail).
                    wait = Some(None);
                }
                if wait.is_none() {
                    for w in &mut state.windows {
                        w.prune(now);
                        if let Err(at) = w.fits(cost) {
                            wait = Some(match (wait.flatten(), at) {
                                (Some(a), Some(b)) => Some(a.max(b)),
                                (_, None) => None,
                                (a, b) => a.or(b),
                            });
                            if at.is_none() {
                                break;
                            }
                        }
                    }
                }
                match wait {
                    None => {
                        for w in &mut state.windows {
                            w.in_flight += w.cost(cost);
                        }
                        state.admitted += 1;
                        state.in_flight += cost;
                        state.waited += now - started;
                        return Ok(Permit { budget: Arc::clone(self), cost, counted: true });
                    }
                    Some(at) => at,
                }
            };
            match wait_until {
                Some(at) => {
                    let wait = at.saturating_duration_since(started);
                    if wait > self.max_wait {
                        return Err(Error::BudgetExhausted { api: self.api, organization: self.organization.clone(), wait });
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Pauses every request of this organisation on this API for `pause` (after a 429).
    pub fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut state = self.lock();
        state.throttled += 1;
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
        tracing::warn!(api = %self.api, organization = %self.organization, ?pause, "Zoho rate limit hit; pausing");
    }

    /// Reconciles with Zoho's own count from an answer's `X-Rate-Limit-*` headers (see
    /// the module docs): ends the probe of a fresh budget, lowers the matching window's
    /// limit to Zoho's, and holds whatever the window would allow beyond Zoho's
    /// `remaining` until Zoho's reset. Call it for every answer that carries the headers,
    /// 429s included.
    pub fn observe_server(&self, view: ServerView) {
        let now = Instant::now();
        {
            let mut state = self.lock();
            state.server = Some(view);
            state.calibrated = true;
            let reset = Duration::from_secs(view.reset_secs);
            let (name, period) = if reset <= MINUTE { ("per_minute", MINUTE) } else { ("per_day", DAY) };
            let index = match state.windows.iter().position(|w| w.name == name) {
                Some(i) => i,
                None => {
                    let mut added = Window::new(name, view.limit, period);
                    // Permits out now will give their units back to it too.
                    added.in_flight = state.in_flight;
                    // Shared: nothing of it is this process's until it is allotted.
                    if state.shared {
                        added.allotment = Some(0);
                    }
                    state.windows.push(added);
                    state.windows.len() - 1
                }
            };
            let w = &mut state.windows[index];
            w.limit = w.limit.min(view.limit.max(1));
            w.prune(now);
            // What Zoho counted in its window, at least; ours may count more (requests
            // still in flight, slots held a period after their answer), never less. The
            // other processes sharing the window may have counted their allotment.
            let counted = w.limit.saturating_sub(view.remaining);
            let used = w.used() + w.others;
            if counted > used {
                w.hold_until(counted - used, now + reset + RESET_MARGIN);
                tracing::debug!(
                    api = %self.api, organization = %self.organization, window = name,
                    held = counted - used, remaining = view.remaining, ?reset,
                    "Zoho counts more than this budget did; holding the difference until its reset"
                );
            }
        }
        self.notify.notify_waiters();
    }

    /// Records an answer that carried no `X-Rate-Limit-*` headers. Such an answer to the
    /// probe of a fresh budget ends the probe (Zoho does not report its count, so there is
    /// nothing to wait for), unless it is a 401 or a 5xx, which may come from in front of
    /// Zoho's counter (token check, proxy): then the next request is the probe.
    pub fn observe_answer(&self, status: u16) {
        if status == 401 || status >= 500 {
            return;
        }
        let mut state = self.lock();
        if !state.calibrated {
            state.calibrated = true;
            drop(state);
            self.notify.notify_waiters();
        }
    }

    /// The organisation this budget belongs to.
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// The API this budget is for.
    pub fn api(&self) -> Api {
        self.api
    }

    /// Shares every window with other processes: this process may count what
    /// `allotments` names for it (a window not named keeps its allotment, or the whole
    /// limit if it never had one). Takes effect at once: a lowered allotment admits
    /// nothing until enough held slots have drained to fit it, a raised one wakes the
    /// requests waiting. Returns the budget's use right after, under the same lock, so
    /// that the caller can report what this process counts with no admission between.
    pub fn allot(&self, allotments: &[Allotment]) -> BudgetUsage {
        let usage = {
            let mut state = self.lock();
            state.shared = true;
            for a in allotments {
                if let Some(w) = state.windows.iter_mut().find(|w| w.name == a.window) {
                    w.allotment = Some(a.units);
                    w.others = a.others;
                }
            }
            self.usage_of(&mut state)
        };
        self.notify.notify_waiters();
        usage
    }

    /// Allots `share` of every window's limit to this process and the rest to others
    /// ([`ApiBudget::allot`] with the same fraction everywhere).
    pub fn set_share(&self, share: Share) -> BudgetUsage {
        let allotments: Vec<Allotment> = self
            .lock()
            .windows
            .iter()
            .map(|w| {
                let units = share.of(w.limit);
                Allotment { window: w.name.to_string(), units, others: w.limit - units }
            })
            .collect();
        self.allot(&allotments)
    }

    /// Ends sharing: every window is this process's whole again.
    pub fn unshare(&self) {
        {
            let mut state = self.lock();
            state.shared = false;
            for w in &mut state.windows {
                w.allotment = None;
                w.others = 0;
            }
        }
        self.notify.notify_waiters();
    }

    /// A snapshot for metrics.
    pub fn usage(&self) -> BudgetUsage {
        self.usage_of(&mut self.lock())
    }

    fn usage_of(&self, state: &mut State) -> BudgetUsage {
        let now = Instant::now();
        let windows = state
            .windows
            .iter_mut()
            .map(|w| {
                w.prune(now);
                WindowUsage {
                    name: w.name,
                    limit: w.limit,
                    period: w.period,
                    allotment: w.allotment,
                    used: w.used(),
                    in_flight: w.in_flight,
                    remaining: w.cap().saturating_sub(w.used()),
                }
            })
            .collect();
        BudgetUsage {
            api: self.api,
            organization: self.organization.clone(),
            windows,
            paused_for: state.paused_until.and_then(|u| u.checked_duration_since(now)).filter(|d| !d.is_zero()),
            admitted: state.admitted,
            throttled: state.throttled,
            waited: state.waited,
            server: state.server,
        }
    }
}

/// Budgets by (organisation, API). [`BudgetRegistry::global`] is shared by every client
/// in the process, so two clients for the same organisation split one budget; tests
/// and tools that want isolation make their own with [`BudgetRegistry::new`].
#[derive(Debug, Default)]
pub struct BudgetRegistry {
    budgets: Mutex<HashMap<(String, Api), Arc<ApiBudget>>>,
}

impl BudgetRegistry {
    /// An empty registry.
    pub fn new() -> Arc<BudgetRegistry> {
        Arc::new(BudgetRegistry::default())
    }

    /// The process-wide registry.
    pub fn global() -> Arc<BudgetRegistry> {
        static GLOBAL: OnceLock<Arc<BudgetRegistry>> = OnceLock::new();
        GLOBAL.get_or_init(BudgetRegistry::new).clone()
    }

    /// The budget of `organization` on `api`, created with `config` if it does not exist
    /// yet (the first client's limits win).
    pub fn budget(&self, organization: &str, api: Api, config: &BudgetConfig) -> Arc<ApiBudget> {
        let mut map = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((organization.to_string(), api)).or_insert_with(|| Arc::new(ApiBudget::new(api, organization, config))).clone()
    }

    /// Snapshots of every budget.
    pub fn usage(&self) -> Vec<BudgetUsage> {
        let map = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(|b| b.usage()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A Books budget with `per_period` requests per `period` (short, for real-time
    /// tests), already past its probe.
    fn books(per_period: u64, period: Duration, concurrency: Option<u64>) -> Arc<ApiBudget> {
        let b = ApiBudget::new(Api::Books, "1", &BudgetConfig::unlimited());
        {
            let mut state = b.lock();
            state.calibrated = true;
            state.windows.push(Window::new("per_minute", per_period, period));
            if let Some(c) = concurrency {
                state.windows.push(Window::new("concurrency", c, Duration::ZERO));
            }
        }
        Arc::new(b)
    }

    #[tokio::test]
    async fn a_slot_comes_back_one_period_after_the_answer() {
        let b = books(2, 300 * MS, None);
        let p1 = b.acquire(1).await.unwrap();
        let p2 = b.acquire(1).await.unwrap();
        let start = Instant::now();
        drop(p1);
        tokio::time::sleep(100 * MS).await;
        drop(p2);
        let _p3 = b.acquire(1).await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= 300 * MS && waited < 800 * MS, "{waited:?}");
        assert_eq!(b.usage().windows[0].used, 2);
        assert_eq!(b.usage().windows[0].remaining, 0);
    }

    #[tokio::test]
    async fn concurrency_frees_at_once() {
        let b = books(100, 60_000 * MS, Some(1));
        let p1 = b.acquire(1).await.unwrap();
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.acquire(1).await.map(|_| ()) });
        tokio::time::sleep(50 * MS).await;
        assert!(!waiter.is_finished());
        drop(p1);
        tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn pause_holds_everyone() {
        let b = books(100, 60_000 * MS, None);
        b.pause(200 * MS);
        let start = Instant::now();
        let _p = b.acquire(1).await.unwrap();
        assert!(start.elapsed() >= 200 * MS);
        assert_eq!(b.usage().throttled, 1);
    }

    #[tokio::test]
    async fn too_long_a_wait_is_an_error() {
        let config = BudgetConfig { books_per_day: Some(1), ..BudgetConfig::unlimited() };
        let b = Arc::new(ApiBudget::new(Api::Books, "1", &config));
        drop(b.acquire(1).await.unwrap());
        assert!(matches!(b.acquire(1).await, Err(Error::BudgetExhausted { .. })));
    }

    #[tokio::test]
    async fn a_cost_above_the_limit_fails_at_once() {
        let b = books(2, 300 * MS, None);
        assert!(matches!(b.acquire(3).await, Err(Error::InvalidInput(_))));
    }

    /// A fresh Books budget of `per_minute` requests a minute, as after a restart.
    fn fresh_books(per_minute: u32) -> Arc<ApiBudget> {
        let config = BudgetConfig { books_per_minute: Some(per_minute), ..BudgetConfig::unlimited() };
        Arc::new(ApiBudget::new(Api::Books, "1", &config))
    }

    fn view(limit: u64, remaining: u64, reset_secs: u64) -> ServerView {
        ServerView { limit, remaining, reset_secs }
    }

    /// Whether an `acquire` started now is still waiting after 50 ms.
    async fn blocks(b: &Arc<ApiBudget>) -> bool {
        tokio::time::timeout(50 * MS, b.acquire(1)).await.is_err()
    }

    #[tokio::test]
    async fn a_fresh_books_budget_lets_one_request_out_until_zoho_answers() {
        let b = fresh_books(100);
        let probe = b.acquire(1).await.unwrap();
        assert!(blocks(&b).await, "a second request waits for the probe's answer");
        b.observe_server(view(100, 60, 30));
        let second = b.acquire(1).await.expect("the answer ends the probe, even before the permit is dropped");
        drop((probe, second));
        // CRM answers carry no count: no probe.
        let crm = Arc::new(ApiBudget::new(Api::Crm, "1", &BudgetConfig::unlimited()));
        let _one = crm.acquire(1).await.unwrap();
        assert!(!blocks(&crm).await);
    }

    #[tokio::test]
    async fn a_probe_that_got_no_count_hands_over_or_ends_the_probe() {
        let b = fresh_books(100);
        drop(b.acquire(1).await.unwrap());
        // The probe failed without an answer: the next request is the probe.
        let probe = b.acquire(1).await.unwrap();
        assert!(blocks(&b).await);
        // A 401 (token check, in front of Zoho's counter) does not end it either.
        b.observe_answer(401);
        assert!(blocks(&b).await);
        // A success without headers does: Zoho does not report a count to wait for.
        b.observe_answer(200);
        let _second = b.acquire(1).await.unwrap();
        drop(probe);
    }

    #[tokio::test]
    async fn never_more_remains_than_zoho_says() {
        let b = fresh_books(10);
        let probe = b.acquire(1).await.unwrap();
        // Another process (or this one before a restart) spent 7 of this minute's 10.
        b.observe_server(view(10, 2, 0));
        drop(probe);
        let start = Instant::now();
        let _a = b.acquire(1).await.unwrap();
        let _b = b.acquire(1).await.unwrap();
        assert_eq!(b.usage().windows[0].remaining, 0, "Zoho's 2 remaining are ours to use, no more");
        let _c = b.acquire(1).await.unwrap();
        let waited = start.elapsed();
        // Zoho's reset (0 s) plus the margin, not a whole period.
        assert!(waited >= RESET_MARGIN - 50 * MS && waited < RESET_MARGIN + 500 * MS, "{waited:?}");
        // A later answer saying more remains gives nothing back.
        b.observe_server(view(10, 9, 50));
        assert_eq!(b.usage().windows[0].used, 4, "the budget's own count stands");
    }

    #[tokio::test]
    async fn zohos_limit_caps_the_window_and_adds_a_missing_one() {
        let b = fresh_books(100);
        let probe = b.acquire(1).await.unwrap();
        b.observe_server(view(5, 4, 40));
        drop(probe);
        let minute = &b.usage().windows[0];
        assert_eq!((minute.name, minute.limit, minute.used), ("per_minute", 5, 1));
        // A daily count (reset beyond a minute) the configuration had switched off.
        b.observe_server(view(1_000, 990, 7_200));
        let day = b.usage().windows.into_iter().find(|w| w.name == "per_day").expect("per-day window added");
        assert_eq!((day.limit, day.used), (1_000, 10));
    }

    /// How many of `n` requests started at once are admitted within 50 ms (their permits
    /// are kept, so each admitted one stays counted).
    async fn admitted_of(b: &Arc<ApiBudget>, n: usize) -> (usize, Vec<Permit>) {
        let tries: Vec<_> = (0..n).map(|_| tokio::time::timeout(50 * MS, b.acquire(1))).collect();
        let permits: Vec<Permit> = futures_util::future::join_all(tries).await.into_iter().filter_map(|r| r.ok().map(|p| p.unwrap())).collect();
        (permits.len(), permits)
    }

    #[tokio::test]
    async fn a_share_dropping_to_a_half_admits_at_most_the_new_allotment_while_slots_are_held() {
        // 4 a minute: nothing comes back by itself during the test.
        let b = books(4, 60_000 * MS, None);
        let in_flight = b.acquire(1).await.unwrap();
        drop(b.acquire(1).await.unwrap());
        assert_eq!(b.usage().windows[0].used, 2, "one in flight, one held for the period");
        // Half of 4 is 2, and 2 are counted: nothing more, however many ask.
        b.set_share(Share { numerator: 1, denominator: 2 });
        assert_eq!(b.usage().windows[0].allotment, Some(2));
        assert_eq!(admitted_of(&b, 6).await.0, 0);
        // The answer to the one in flight frees nothing: its slot is held for the period.
        drop(in_flight);
        assert_eq!(admitted_of(&b, 6).await.0, 0);
        // The whole again: exactly the 2 units left of the 4.
        b.set_share(Share::WHOLE);
        let (admitted, _kept) = admitted_of(&b, 6).await;
        assert_eq!(admitted, 2);
        assert_eq!(b.usage().windows[0].remaining, 0);
    }

    #[tokio::test]
    async fn a_lowered_concurrency_share_waits_for_the_calls_in_flight_to_drain() {
        let b = books(1_000, 60_000 * MS, Some(4));
        let mut out: Vec<Permit> = Vec::new();
        for _ in 0..3 {
            out.push(b.acquire(1).await.unwrap());
        }
        b.set_share(Share { numerator: 1, denominator: 2 });
        assert_eq!(admitted_of(&b, 4).await.0, 0, "3 in flight, 2 allowed");
        out.pop();
        assert_eq!(admitted_of(&b, 4).await.0, 0, "2 in flight, 2 allowed");
        out.pop();
        let (admitted, _kept) = admitted_of(&b, 4).await;
        assert_eq!(admitted, 1, "1 in flight: one more fits, no more");
    }

    #[tokio::test]
    async fn what_other_processes_may_count_is_not_held_twice() {
        let b = fresh_books(10);
        let probe = b.acquire(1).await.unwrap();
        b.allot(&[Allotment { window: "per_minute".into(), units: 5, others: 5 }]);
        // Zoho counted 8 of 10: the probe, and at most 5 of the others; 2 are unexplained.
        b.observe_server(view(10, 2, 30));
        drop(probe);
        let minute = &b.usage().windows[0];
        assert_eq!((minute.allotment, minute.used, minute.remaining), (Some(5), 3, 2));
        // A window Zoho reports that this shared budget did not have is not its own yet.
        b.observe_server(view(1_000, 990, 7_200));
        let day = b.usage().windows.into_iter().find(|w| w.name == "per_day").unwrap();
        assert_eq!((day.allotment, day.remaining), (Some(0), 0));
        b.unshare();
        assert_eq!(b.usage().windows[0].allotment, None);
    }

    #[test]
    fn shares_round_down_and_never_exceed_the_whole() {
        assert_eq!(Share { numerator: 1, denominator: 3 }.of(10), 3);
        assert_eq!(Share { numerator: 5, denominator: 3 }.of(10), 10);
        assert_eq!(Share { numerator: 1, denominator: 0 }.of(10), 0);
        assert_eq!(Share::WHOLE.of(u64::MAX), u64::MAX);
    }

    #[test]
    fn limits_read_from_a_config_table_default_to_the_default_plan() {
        let parsed: BudgetConfig = toml::from_str("books_per_day = 5000\ncrm_concurrency = 15\nbooks_concurrency = false\nmax_wait_secs = 30").unwrap();
        let expected = BudgetConfig {
            books_per_day: Some(5_000),
            crm_concurrency: Some(15),
            books_concurrency: None,
            max_wait: Duration::from_secs(30),
            ..BudgetConfig::default()
        };
        assert_eq!(parsed, expected);
        assert_eq!(toml::from_str::<BudgetConfig>("").unwrap(), BudgetConfig::default());
        for wrong in ["books_per_hour = 5", "books_per_day = -1", "books_per_day = true", "books_per_minute = 5000000000", "crm_concurrency = \"ten\""] {
            assert!(toml::from_str::<BudgetConfig>(wrong).is_err(), "{wrong}");
        }
        // JSON too (the emulator's answers), with `null` for off; what is written reads back.
        let json: BudgetConfig = serde_json::from_str(r#"{"books_per_minute": null, "crm_credits_per_day": 75000}"#).unwrap();
        assert_eq!((json.books_per_minute, json.crm_credits_per_day), (None, Some(75_000)));
        for config in [BudgetConfig::default(), BudgetConfig::unlimited(), json] {
            assert_eq!(serde_json::from_value::<BudgetConfig>(serde_json::to_value(&config).unwrap()).unwrap(), config);
        }
    }

    #[test]
    fn published_defaults() {
        assert_eq!(CrmEdition::Standard { users: 1000 }.credits_per_day(), 100_000);
        assert_eq!(CrmEdition::Enterprise { users: 10 }.credits_per_day(), 60_000);
        assert_eq!(BooksPlan::Free.per_day(), 1_000);
    }
}
