//! What customer matching keeps: the directory of match keys and the review list.
//!
//! The **directory** holds, per record seen on either side, the keys matching compares
//! ([`crate::matching`]: email, company name, country, the native link field), so finding
//! candidates is an index look-up in the store rather than a scan of Zoho, and a backfill
//! of 100,000 customers keeps only these rows, not the records, in memory. Flows refresh
//! the row of every record they read; backfill fills it from both sides.
//!
//! The **review list** holds the records zoho-bridge would not guess about: two or more
//! candidates at one matching step, a record deleted or merged on the other side. While a
//! record's review is open nothing is written for it; a person links it to a candidate,
//! has a new record created, or ignores it (`zoho-bridge review`), and the record's job
//! is run again.
//!
//! Kept apart from [`Store`](super::Store) like [`Approvals`](super::Approvals); every back
//! end implements both traits here with the same SQL.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Link, RecordRef, StoreError, StoreResult, System};
use crate::matching::Party;

/// One directory row: a record of `system`/`module` and its match keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The system it lives in.
    pub system: System,
    /// CRM module or Books entity (`Accounts`, `contacts`).
    pub module: String,
    /// Its id, name and keys.
    pub party: Party,
}

/// Which key a directory look-up compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// The email key.
    Email(&'a str),
    /// The name key.
    Name(&'a str),
    /// The native link field's value.
    Native(&'a str),
    /// The record's own id (does it exist, as far as the directory knows).
    Id(&'a str),
}

/// The match-key directory kept by a store.
pub trait Directory: Clone + Send + Sync + 'static {
    /// Adds or replaces these rows (the newest keys of each record win).
    fn put_directory(&self, connection: &str, entries: &[DirectoryEntry], now_ms: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// The rows of `system`/`module` whose `key` equals the given value (at most 50: more
    /// candidates than that is ambiguous all the same).
    fn find_directory(&self, connection: &str, system: System, module: &str, key: Key<'_>) -> impl Future<Output = StoreResult<Vec<DirectoryEntry>>> + Send;

    /// Removes a record's row (it was deleted).
    fn remove_directory(&self, connection: &str, system: System, module: &str, record_id: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// How many rows `system`/`module` has.
    fn directory_count(&self, connection: &str, system: System, module: &str) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Sets the email key of these rows of `system`/`module` (record id, email key; `None`
    /// clears it). Ids with no row are left out: the key of a record nobody indexed is not
    /// kept. Backfill fills an account's email from its contacts this way, a page at a time.
    fn set_email_keys(
        &self,
        connection: &str,
        system: System,
        module: &str,
        keys: &[(String, Option<String>)],
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Up to `limit` rows of `system`/`module` whose id sorts after `after` (`""`: from
    /// the first), by id: the directory read page by page.
    fn directory_page(
        &self,
        connection: &str,
        system: System,
        module: &str,
        after: &str,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<DirectoryEntry>>> + Send;

    /// The rows of `system`/`module` matching any of `keys` (each row once), by id:
    /// [`Directory::find_directory`] for a page of records in one statement. Unlike it, no
    /// cap per key: callers bound the keys they ask for.
    fn find_directory_any(
        &self,
        connection: &str,
        system: System,
        module: &str,
        keys: &[Key<'_>],
    ) -> impl Future<Output = StoreResult<Vec<DirectoryEntry>>> + Send;

    /// Refreshes the query planner's statistics of the directory (`ANALYZE`), after a
    /// bulk load: without them SQLite reads a page of look-ups by key through the primary
    /// key (every row of the module) instead of the key's index, 38 ms instead of 5 ms
    /// per thousand keys over 100,000 rows.
    fn analyze_directory(&self) -> impl Future<Output = StoreResult<()>> + Send;

    /// The links in `relation` of any of these CRM or Books records (a candidate linked to
    /// another record is not one), in one statement.
    fn links_among(&self, connection: &str, relation: &str, crm_ids: &[&str], books_ids: &[&str]) -> impl Future<Output = StoreResult<Vec<Link>>> + Send;
}

/// Why a record is on the review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// Two or more candidates at one matching step.
    Ambiguous,
    /// The linked record was deleted (or merged away) on the other side.
    Deleted,
}

impl ReviewKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::Ambiguous => "ambiguous",
            ReviewKind::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> StoreResult<ReviewKind> {
        match s {
            "ambiguous" => Ok(ReviewKind::Ambiguous),
            "deleted" => Ok(ReviewKind::Deleted),
            other => Err(StoreError::Corrupt(format!("reviews.kind {other:?}"))),
        }
    }
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting for a person; nothing is written for the record meanwhile.
    Open,
    /// Linked to the chosen candidate.
    Linked,
    /// A new record is to be created on the other side.
    Created,
    /// Left as it is: the record is not synced.
    Ignored,
}

impl ReviewStatus {
    /// As stored and typed (`open`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Linked => "linked",
            ReviewStatus::Created => "created",
            ReviewStatus::Ignored => "ignored",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<ReviewStatus> {
        [ReviewStatus::Open, ReviewStatus::Linked, ReviewStatus::Created, ReviewStatus::Ignored].into_iter().find(|r| r.as_str() == s)
    }
}

/// A record a person may pick on the review list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its id (in the other system).
    pub id: String,
    /// Its name as written.
    pub name: String,
    /// Why it is a candidate (`email ann@example.com`, `name "acme" in us`).
    pub why: String,
}

/// A review to open (or to refresh, if the record's review is already open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReview {
    /// The connection.
    pub connection: String,
    /// The flow that asks.
    pub flow: String,
    /// The record it is about.
    pub record: RecordRef,
    /// Why.
    pub kind: ReviewKind,
    /// Why, for people.
    pub reason: String,
    /// The records a person may pick.
    pub candidates: Vec<Candidate>,
}

/// An entry of the review list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Its id.
    pub id: i64,
    /// The connection.
    pub connection: String,
    /// The flow that asked.
    pub flow: String,
    /// The record it is about.
    pub record: RecordRef,
    /// Why.
    pub kind: ReviewKind,
    /// Why, for people.
    pub reason: String,
    /// The records a person may pick.
    pub candidates: Vec<Candidate>,
    /// Where it stands.
    pub status: ReviewStatus,
    /// The candidate chosen (status `linked`).
    pub chosen_id: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Their note.
    pub note: Option<String>,
    /// Opened, epoch ms.
    pub created_ms: i64,
    /// Last refreshed, epoch ms.
    pub updated_ms: i64,
    /// Decided, epoch ms.
    pub decided_ms: Option<i64>,
}

/// A person's decision on an open review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    /// Link the record to this candidate.
    Link(String),
    /// Create a new record on the other side.
    Create,
    /// Do not sync the record.
    Ignore,
}

/// The review list kept by a store.
pub trait Reviews: Clone + Send + Sync + 'static {
    /// Opens a review for the record, or refreshes its reason and candidates if one is
    /// open already (at most one is open per record and flow); returns its id.
    fn open_review(&self, review: &NewReview, now_ms: i64) -> impl Future<Output = StoreResult<i64>> + Send;

    /// The review with this id.
    fn review(&self, id: i64) -> impl Future<Output = StoreResult<Option<Review>>> + Send;

    /// Reviews in `status` (all when `None`), oldest first, at most `limit`.
    fn reviews(&self, status: Option<ReviewStatus>, limit: u32) -> impl Future<Output = StoreResult<Vec<Review>>> + Send;

    /// How many reviews are in `status` (all when `None`): the open ones are what people
    /// still have to decide (a gauge of `/metrics`).
    fn count_reviews(&self, status: Option<ReviewStatus>) -> impl Future<Output = StoreResult<i64>> + Send;

    /// The newest review of a record for a flow, open or decided.
    fn last_review(&self, connection: &str, flow: &str, record: &RecordRef) -> impl Future<Output = StoreResult<Option<Review>>> + Send;

    /// Decides an open review. One that is not open (unknown or decided) is `NotFound`:
    /// a decision is never changed. A link to an id that is not a candidate is refused.
    fn decide_review(&self, id: i64, decision: &ReviewDecision, by: &str, note: Option<&str>, now_ms: i64) -> impl Future<Output = StoreResult<Review>> + Send;
}

/// The columns a review is read from, in [`ReviewRow`]'s order.
pub(crate) const REVIEW_COLUMNS: &str =
    "id, connection, flow, system, module, record_id, kind, reason, candidates, status, chosen_id, decided_by, note, created_ms, updated_ms, decided_ms";

/// A `reviews` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ReviewRow {
    id: i64,
    connection: String,
    flow: String,
    system: String,
    module: String,
    record_id: String,
    kind: String,
    reason: String,
    candidates: String,
    status: String,
    chosen_id: Option<String>,
    decided_by: Option<String>,
    note: Option<String>,
    created_ms: i64,
    updated_ms: i64,
    decided_ms: Option<i64>,
}

impl TryFrom<ReviewRow> for Review {
    type Error = StoreError;

    fn try_from(row: ReviewRow) -> StoreResult<Review> {
        let system = System::parse(&row.system).ok_or_else(|| StoreError::Corrupt(format!("reviews.system {:?}", row.system)))?;
        let candidates: Vec<Candidate> = serde_json::from_str(&row.candidates).map_err(|e| StoreError::Corrupt(format!("reviews.candidates: {e}")))?;
        Ok(Review {
            id: row.id,
            connection: row.connection,
            flow: row.flow,
            record: RecordRef { system, module: row.module, id: row.record_id },
            kind: ReviewKind::parse(&row.kind)?,
            reason: row.reason,
            candidates,
            status: ReviewStatus::parse(&row.status).ok_or_else(|| StoreError::Corrupt(format!("reviews.status {:?}", row.status)))?,
            chosen_id: row.chosen_id,
            decided_by: row.decided_by,
            note: row.note,
            created_ms: row.created_ms,
            updated_ms: row.updated_ms,
            decided_ms: row.decided_ms,
        })
    }
}

/// The columns a directory row is read from, in [`DirectoryRow`]'s order.
pub(crate) const DIRECTORY_COLUMNS: &str = "system, module, record_id, name, email_key, name_key, country_key, native_id";

/// A `directory` row.
#[derive(sqlx::FromRow)]
pub(crate) struct DirectoryRow {
    system: String,
    module: String,
    record_id: String,
    name: String,
    email_key: Option<String>,
    name_key: Option<String>,
    country_key: Option<String>,
    native_id: Option<String>,
}

impl TryFrom<DirectoryRow> for DirectoryEntry {
    type Error = StoreError;

    fn try_from(row: DirectoryRow) -> StoreResult<DirectoryEntry> {
        let system = System::parse(&row.system).ok_or_else(|| StoreError::Corrupt(format!("directory.system {:?}", row.system)))?;
        Ok(DirectoryEntry {
            system,
            module: row.module,
            party: Party {
                id: row.record_id,
                name: row.name,
                email_key: row.email_key,
                name_key: row.name_key,
                country_key: row.country_key,
                native_id: row.native_id,
            },
        })
    }
}

/// The candidates' JSON as stored.
pub(crate) fn candidates_json(candidates: &[Candidate]) -> String {
    serde_json::to_value(candidates).unwrap_or(Value::Array(Vec::new())).to_string()
}

/// `$1`..`$n` placeholders from `first` on, comma-separated.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The statement of [`Directory::find_directory_any`] (`None` when no key is given) and
/// its values in bind order after `$1..$3` (connection, system, module).
pub(crate) fn any_key_sql<'a>(keys: &[Key<'a>]) -> (Option<String>, Vec<&'a str>) {
    let mut values = Vec::new();
    let mut selects = Vec::new();
    for column in ["email_key", "name_key", "native_id", "record_id"] {
        let mut these: Vec<&str> = keys
            .iter()
            .filter_map(|k| match (column, k) {
                ("email_key", Key::Email(v)) | ("name_key", Key::Name(v)) | ("native_id", Key::Native(v)) | ("record_id", Key::Id(v)) => Some(*v),
                _ => None,
            })
            .collect();
        these.sort_unstable();
        these.dedup();
        if these.is_empty() {
            continue;
        }
        // One SELECT per key, each on its own index (an OR of IN lists is a scan on
        // SQLite), joined by UNION (a row matching two keys comes once).
        selects.push(format!(
            "SELECT {DIRECTORY_COLUMNS} FROM directory WHERE connection = $1 AND system = $2 AND module = $3 AND {column} IN ({})",
            placeholders(4 + values.len(), these.len())
        ));
        values.extend(these);
    }
    if selects.is_empty() {
        return (None, values);
    }
    (Some(format!("{} ORDER BY record_id", selects.join(" UNION "))), values)
}

/// The statement of [`Directory::links_among`] for `crm` CRM ids then `books` Books ids
/// after `$1, $2` (connection, relation); `None` when both are empty.
pub(crate) fn links_among_sql(crm: usize, books: usize) -> Option<String> {
    let select = |column: &str, first: usize, n: usize| {
        format!("SELECT {} FROM links WHERE connection = $1 AND relation = $2 AND {column} IN ({})", super::rows::LINK_COLUMNS, placeholders(first, n))
    };
    match (crm, books) {
        (0, 0) => None,
        (c, 0) => Some(select("crm_id", 3, c)),
        (0, b) => Some(select("books_id", 3, b)),
        // Each side on its own index, as in `any_key_sql`.
        (c, b) => Some(format!("{} UNION {}", select("crm_id", 3, c), select("books_id", 3 + c, b))),
    }
}

/// `impl Directory` and `impl Reviews` for `$store`: the same SQL on both back ends.
macro_rules! shared_matching {
    ($store:ty) => {
        impl $crate::store::Directory for $store {
            async fn put_directory(
                &self,
                connection: &str,
                entries: &[$crate::store::DirectoryEntry],
                now_ms: i64,
            ) -> $crate::store::StoreResult<()> {
                if entries.is_empty() {
                    return Ok(());
                }
                let mut tx = self.writer().begin().await.map_err($crate::store::convert::db_err)?;
                for e in entries {
                    let p = &e.party;
                    sqlx::query(
                        "INSERT INTO directory (connection, system, module, record_id, name, email_key, name_key, country_key, native_id, updated_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (connection, system, module, record_id) DO UPDATE SET name = excluded.name, email_key = excluded.email_key, \
                         name_key = excluded.name_key, country_key = excluded.country_key, native_id = excluded.native_id, updated_ms = excluded.updated_ms",
                    )
                    .bind(connection)
                    .bind(e.system.as_str())
                    .bind(&e.module)
                    .bind(&p.id)
                    .bind(&p.name)
                    .bind(&p.email_key)
                    .bind(&p.name_key)
                    .bind(&p.country_key)
                    .bind(&p.native_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::convert::db_err)?;
                }
                tx.commit().await.map_err($crate::store::convert::db_err)
            }

            async fn find_directory(
                &self,
                connection: &str,
                system: $crate::store::System,
                module: &str,
                key: $crate::store::Key<'_>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DirectoryEntry>> {
                let (column, value) = match key {
                    $crate::store::Key::Email(v) => ("email_key", v),
                    $crate::store::Key::Name(v) => ("name_key", v),
                    $crate::store::Key::Native(v) => ("native_id", v),
                    $crate::store::Key::Id(v) => ("record_id", v),
                };
                let sql = format!(
                    "SELECT {} FROM directory WHERE connection = $1 AND system = $2 AND module = $3 AND {column} = $4 ORDER BY record_id LIMIT 50",
                    $crate::store::matching::DIRECTORY_COLUMNS
                );
                let rows: Vec<$crate::store::matching::DirectoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module)
                    .bind(value)
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::DirectoryEntry::try_from).collect()
            }

            async fn remove_directory(&self, connection: &str, system: $crate::store::System, module: &str, record_id: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM directory WHERE connection = $1 AND system = $2 AND module = $3 AND record_id = $4")
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module)
                    .bind(record_id)
                    .execute(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                Ok(())
            }

            async fn directory_count(&self, connection: &str, system: $crate::store::System, module: &str) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM directory WHERE connection = $1 AND system = $2 AND module = $3")
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module)
                    .fetch_one(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)
            }

            async fn set_email_keys(
                &self,
                connection: &str,
                system: $crate::store::System,
                module: &str,
                keys: &[(String, Option<String>)],
                now_ms: i64,
            ) -> $crate::store::StoreResult<()> {
                if keys.is_empty() {
                    return Ok(());
                }
                let mut tx = self.writer().begin().await.map_err($crate::store::convert::db_err)?;
                for (id, email) in keys {
                    sqlx::query(
                        "UPDATE directory SET email_key = $1, updated_ms = $2 WHERE connection = $3 AND system = $4 AND module = $5 AND record_id = $6",
                    )
                    .bind(email)
                    .bind(now_ms)
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::convert::db_err)?;
                }
                tx.commit().await.map_err($crate::store::convert::db_err)
            }

            async fn directory_page(
                &self,
                connection: &str,
                system: $crate::store::System,
                module: &str,
                after: &str,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DirectoryEntry>> {
                let sql = format!(
                    "SELECT {} FROM directory WHERE connection = $1 AND system = $2 AND module = $3 AND record_id > $4 ORDER BY record_id LIMIT $5",
                    $crate::store::matching::DIRECTORY_COLUMNS
                );
                let rows: Vec<$crate::store::matching::DirectoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::DirectoryEntry::try_from).collect()
            }

            async fn find_directory_any(
                &self,
                connection: &str,
                system: $crate::store::System,
                module: &str,
                keys: &[$crate::store::Key<'_>],
            ) -> $crate::store::StoreResult<Vec<$crate::store::DirectoryEntry>> {
                let (sql, values) = $crate::store::matching::any_key_sql(keys);
                let Some(sql) = sql else { return Ok(Vec::new()) };
                let mut query = sqlx::query_as::<_, $crate::store::matching::DirectoryRow>(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .bind(system.as_str())
                    .bind(module);
                for v in values {
                    query = query.bind(v);
                }
                let rows = query.fetch_all(self.reader()).await.map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::DirectoryEntry::try_from).collect()
            }

            async fn analyze_directory(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("ANALYZE directory").execute(self.writer()).await.map_err($crate::store::convert::db_err)?;
                Ok(())
            }

            async fn links_among(
                &self,
                connection: &str,
                relation: &str,
                crm_ids: &[&str],
                books_ids: &[&str],
            ) -> $crate::store::StoreResult<Vec<$crate::store::Link>> {
                let Some(sql) = $crate::store::matching::links_among_sql(crm_ids.len(), books_ids.len()) else { return Ok(Vec::new()) };
                let mut query = sqlx::query_as::<_, $crate::store::rows::LinkRow>(sqlx::AssertSqlSafe(sql)).bind(connection).bind(relation);
                for id in crm_ids.iter().chain(books_ids) {
                    query = query.bind(*id);
                }
                let rows = query.fetch_all(self.reader()).await.map_err($crate::store::convert::db_err)?;
                Ok(rows.into_iter().map($crate::store::Link::from).collect())
            }
        }

        impl $crate::store::Reviews for $store {
            async fn open_review(&self, review: &$crate::store::NewReview, now_ms: i64) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO reviews (connection, flow, system, module, record_id, kind, reason, candidates, status, created_ms, updated_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9) \
                     ON CONFLICT (connection, flow, system, module, record_id) WHERE status = 'open' \
                     DO UPDATE SET kind = excluded.kind, reason = excluded.reason, candidates = excluded.candidates, updated_ms = excluded.updated_ms \
                     RETURNING id",
                )
                .bind(&review.connection)
                .bind(&review.flow)
                .bind(review.record.system.as_str())
                .bind(&review.record.module)
                .bind(&review.record.id)
                .bind(review.kind.as_str())
                .bind(&review.reason)
                .bind($crate::store::matching::candidates_json(&review.candidates))
                .bind(now_ms)
                .fetch_one(self.writer())
                .await
                .map_err($crate::store::convert::db_err)
            }

            async fn review(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::Review>> {
                let sql = format!("SELECT {} FROM reviews WHERE id = $1", $crate::store::matching::REVIEW_COLUMNS);
                let row: Option<$crate::store::matching::ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                row.map($crate::store::Review::try_from).transpose()
            }

            async fn reviews(
                &self,
                status: Option<$crate::store::ReviewStatus>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Review>> {
                let sql = format!(
                    "SELECT {} FROM reviews WHERE ($1 IS NULL OR status = $1) ORDER BY id LIMIT $2",
                    $crate::store::matching::REVIEW_COLUMNS
                );
                let rows: Vec<$crate::store::matching::ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(status.map(|s| s.as_str()))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::Review::try_from).collect()
            }

            async fn count_reviews(&self, status: Option<$crate::store::ReviewStatus>) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM reviews WHERE ($1 IS NULL OR status = $1)")
                    .bind(status.map(|s| s.as_str()))
                    .fetch_one(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)
            }

            async fn last_review(
                &self,
                connection: &str,
                flow: &str,
                record: &$crate::store::RecordRef,
            ) -> $crate::store::StoreResult<Option<$crate::store::Review>> {
                let sql = format!(
                    "SELECT {} FROM reviews WHERE connection = $1 AND flow = $2 AND system = $3 AND module = $4 AND record_id = $5 \
                     ORDER BY id DESC LIMIT 1",
                    $crate::store::matching::REVIEW_COLUMNS
                );
                let row: Option<$crate::store::matching::ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .bind(flow)
                    .bind(record.system.as_str())
                    .bind(&record.module)
                    .bind(&record.id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                row.map($crate::store::Review::try_from).transpose()
            }

            async fn decide_review(
                &self,
                id: i64,
                decision: &$crate::store::ReviewDecision,
                by: &str,
                note: Option<&str>,
                now_ms: i64,
            ) -> $crate::store::StoreResult<$crate::store::Review> {
                use $crate::store::{ReviewDecision, ReviewStatus};
                let Some(open) = $crate::store::Reviews::review(self, id).await?.filter(|r| r.status == ReviewStatus::Open) else {
                    return Err($crate::store::StoreError::NotFound(format!("open review {id}")));
                };
                let (status, chosen) = match decision {
                    ReviewDecision::Link(chosen) => {
                        if !open.candidates.iter().any(|c| &c.id == chosen) {
                            let ids: Vec<&str> = open.candidates.iter().map(|c| c.id.as_str()).collect();
                            return Err($crate::store::StoreError::Refused(format!(
                                "review {id}: {chosen} is not one of its candidates ({})",
                                ids.join(", ")
                            )));
                        }
                        (ReviewStatus::Linked, Some(chosen.as_str()))
                    }
                    ReviewDecision::Create => (ReviewStatus::Created, None),
                    ReviewDecision::Ignore => (ReviewStatus::Ignored, None),
                };
                let sql = format!(
                    "UPDATE reviews SET status = $1, chosen_id = $2, decided_by = $3, note = $4, decided_ms = $5, updated_ms = $5 \
                     WHERE id = $6 AND status = 'open' RETURNING {}",
                    $crate::store::matching::REVIEW_COLUMNS
                );
                let row: Option<$crate::store::matching::ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(status.as_str())
                    .bind(chosen)
                    .bind(by)
                    .bind(note)
                    .bind(now_ms)
                    .bind(id)
                    .fetch_optional(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                row.ok_or_else(|| $crate::store::StoreError::NotFound(format!("open review {id}")))?.try_into()
            }
        }
    };
}

pub(crate) use shared_matching;
