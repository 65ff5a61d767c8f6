//! The store's part in sharing a Zoho rate budget between processes: one row per
//! process (a **holder**) and API of an organisation, saying what the holder may count of
//! each window, until when it is alive and until when its row still counts.
//!
//! The store only keeps the rows and serialises the heartbeats: [`BudgetShares::share_budget`]
//! runs one holder's heartbeat as one transaction that no other heartbeat of the same
//! organisation and API runs beside (SQLite: `BEGIN IMMEDIATE`, one writer; PostgreSQL: a
//! transaction-scoped advisory lock on the pair), hands the other holders' rows to the
//! caller's decision and writes the row the decision returns. What to decide is
//! [`crate::budget_share`]'s business.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::{StoreError, StoreResult};

/// One window of a holder's row: what the holder may count and counted at its last
/// heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldWindow {
    /// The window's name (`per_minute`, `per_day`, `credits_per_day`, `concurrency`).
    pub name: String,
    /// How long a unit stays counted after its answer, ms (0 for a concurrency limit).
    pub period_ms: i64,
    /// The organisation's limit as this holder knows it.
    pub limit: u64,
    /// What the holder may count (its allotment).
    pub granted: u64,
    /// What it counted at its heartbeat (in flight plus held).
    pub used: u64,
    /// What it asked for at its heartbeat: its count and some room to grow while its
    /// allotment had room, `u64::MAX` while it used all of it.
    #[serde(default = "unbounded")]
    pub demand: u64,
}

fn unbounded() -> u64 {
    u64::MAX
}

impl HeldWindow {
    /// What the others must leave to this holder: its allotment, or more while it still
    /// counts more than that (an allotment lowered below its count until it drains).
    pub fn committed(&self) -> u64 {
        self.granted.max(self.used)
    }
}

/// One holder of an organisation's budget on one API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetHolder {
    /// The organisation (the budget's key in the zoho client).
    pub organization: String,
    /// `crm` or `books`.
    pub api: String,
    /// The holder's id, unique per process run.
    pub holder: String,
    /// The connection's name, for people.
    pub connection: String,
    /// Its weight in the sharing (a holder of weight 2 gets twice the share of one of 1).
    pub weight: u32,
    /// Its windows.
    pub windows: Vec<HeldWindow>,
    /// Requests its budget admitted so far (reporting).
    pub admitted: u64,
    /// 429s its budget met so far (reporting).
    pub throttled: u64,
    /// Alive until then, epoch ms; a holder that stops beating is dead after it.
    pub expires_ms: i64,
    /// Its row counts (and is kept) until then: after its death, each window's
    /// commitment counts for one more period of the window.
    pub keep_until_ms: i64,
    /// Its last heartbeat, epoch ms.
    pub updated_ms: i64,
}

impl BudgetHolder {
    /// Whether it is alive at `now_ms`.
    pub fn is_alive(&self, now_ms: i64) -> bool {
        self.expires_ms > now_ms
    }

    /// Its window `name`, if it has one.
    pub fn window(&self, name: &str) -> Option<&HeldWindow> {
        self.windows.iter().find(|w| w.name == name)
    }
}

/// Rows of processes sharing a rate budget, kept by a store.
pub trait BudgetShares: Clone + Send + Sync + 'static {
    /// One heartbeat of `holder` on (`organization`, `api`), in one transaction that no
    /// other heartbeat of the pair runs beside: deletes the pair's rows kept until before
    /// `now_ms`, calls `decide` with the rows of the other holders (alive or not), and
    /// writes (inserts or replaces) the row `decide` returns under `holder`'s key, which
    /// it returns.
    fn share_budget<F>(&self, organization: &str, api: &str, holder: &str, now_ms: i64, decide: F) -> impl Future<Output = StoreResult<BudgetHolder>> + Send
    where
        F: FnOnce(&[BudgetHolder]) -> BudgetHolder + Send;

    /// Every row of `organization` (both APIs, dead holders whose rows still count
    /// included), by API and holder: for `zoho-bridge budget` and the dashboard.
    fn budget_holders(&self, organization: &str) -> impl Future<Output = StoreResult<Vec<BudgetHolder>>> + Send;
}

/// A row of `budget_holders` as read.
pub(crate) type HolderRow = (String, String, String, String, i64, String, i64, i64, i64, i64, i64);

/// The columns of [`HolderRow`].
pub(crate) const HOLDER_COLUMNS: &str = "organization, api, holder, connection, weight, windows, admitted, throttled, expires_ms, keep_until_ms, updated_ms";

/// A holder from its row.
pub(crate) fn holder_from_row(row: HolderRow) -> StoreResult<BudgetHolder> {
    let (organization, api, holder, connection, weight, windows, admitted, throttled, expires_ms, keep_until_ms, updated_ms) = row;
    let windows = serde_json::from_str(&windows)
        .map_err(|e| StoreError::Database(format!("budget_holders.windows of {holder} ({organization}, {api}) is not a window list: {e}")))?;
    Ok(BudgetHolder {
        weight: u32::try_from(weight).map_err(|_| StoreError::Database(format!("budget_holders.weight of {holder} is {weight}")))?,
        organization,
        api,
        holder,
        connection,
        windows,
        admitted: admitted.max(0) as u64,
        throttled: throttled.max(0) as u64,
        expires_ms,
        keep_until_ms,
        updated_ms,
    })
}

/// `impl BudgetShares for $store`: the same SQL on both back ends; `$lock` is the
/// statement that serialises the heartbeats of one pair inside a transaction, given the
/// pair's name as `$1` (`None` where the transaction already does: SQLite's single writer).
macro_rules! shared_budget_shares {
    ($store:ty, $lock:expr) => {
        impl $crate::store::BudgetShares for $store {
            async fn share_budget<F>(
                &self,
                organization: &str,
                api: &str,
                holder: &str,
                now_ms: i64,
                decide: F,
            ) -> $crate::store::StoreResult<$crate::store::BudgetHolder>
            where
                F: FnOnce(&[$crate::store::BudgetHolder]) -> $crate::store::BudgetHolder + Send,
            {
                use $crate::store::budget_share::{HOLDER_COLUMNS, HolderRow, holder_from_row};
                use $crate::store::convert::db_err;
                let mut tx = self.begin().await?;
                let lock: Option<&'static str> = $lock;
                if let Some(lock) = lock {
                    sqlx::query(lock).bind(format!("zoho-bridge budget {organization} {api}")).execute(&mut *tx).await.map_err(db_err)?;
                }
                sqlx::query("DELETE FROM budget_holders WHERE organization = $1 AND api = $2 AND keep_until_ms < $3")
                    .bind(organization)
                    .bind(api)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let select = format!("SELECT {HOLDER_COLUMNS} FROM budget_holders WHERE organization = $1 AND api = $2 AND holder <> $3 ORDER BY holder");
                let rows: Vec<HolderRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(organization).bind(api).bind(holder).fetch_all(&mut *tx).await.map_err(db_err)?;
                let others = rows.into_iter().map(holder_from_row).collect::<$crate::store::StoreResult<Vec<_>>>()?;
                let mut mine = decide(&others);
                (mine.organization, mine.api, mine.holder) = (organization.to_string(), api.to_string(), holder.to_string());
                let windows = serde_json::to_string(&mine.windows).map_err(|e| $crate::store::StoreError::Database(format!("budget windows: {e}")))?;
                sqlx::query(
                    "INSERT INTO budget_holders (organization, api, holder, connection, weight, windows, admitted, throttled, \
                       expires_ms, keep_until_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (organization, api, holder) DO UPDATE SET connection = excluded.connection, weight = excluded.weight, \
                       windows = excluded.windows, admitted = excluded.admitted, throttled = excluded.throttled, \
                       expires_ms = excluded.expires_ms, keep_until_ms = excluded.keep_until_ms, updated_ms = excluded.updated_ms",
                )
                .bind(organization)
                .bind(api)
                .bind(holder)
                .bind(&mine.connection)
                .bind(i64::from(mine.weight))
                .bind(windows)
                .bind(i64::try_from(mine.admitted).unwrap_or(i64::MAX))
                .bind(i64::try_from(mine.throttled).unwrap_or(i64::MAX))
                .bind(mine.expires_ms)
                .bind(mine.keep_until_ms)
                .bind(mine.updated_ms)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(mine)
            }

            async fn budget_holders(&self, organization: &str) -> $crate::store::StoreResult<Vec<$crate::store::BudgetHolder>> {
                use $crate::store::budget_share::{HOLDER_COLUMNS, HolderRow, holder_from_row};
                let select = format!("SELECT {HOLDER_COLUMNS} FROM budget_holders WHERE organization = $1 ORDER BY api, holder");
                let rows: Vec<HolderRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(organization).fetch_all(self.reader()).await.map_err($crate::store::convert::db_err)?;
                rows.into_iter().map(holder_from_row).collect()
            }
        }
    };
}

pub(crate) use shared_budget_shares;
