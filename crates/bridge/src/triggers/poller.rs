//! The poller: reads each stream from its modified-time cursor, the safety net for
//! webhooks that were lost.
//!
//! One poll of a stream takes its start time as the upper bound (a record changed while
//! we read is left for the next poll rather than skipped; and since Zoho's modified
//! times have whole seconds, only seconds that have fully passed are taken, so a later
//! change can never share a modified time, and a dedup key, with one already read),
//! reads every record modified at or
//! after the cursor (`>=`: the boundary is re-read, and the dedup keys, which include
//! the modified time, absorb the repeats), and stores the events and the new cursor in
//! one store call, so the cursor never moves past events that are not in the inbox.

use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use zoho::{
    Client,
    books::ListQuery,
    crm::records::{ListParams, SortOrder},
};

use super::{
    clock::Clock,
    config::{StreamConfig, System, TriggerConfig},
    error::TriggerError,
    events::{books_id_field, change_key, parse_time},
};
use crate::store::{Cursor, Inserted, NewEvent, Source, Store};

/// Events stored per store call (each call also moves the cursor).
const BATCH: usize = 200;

/// What one poll of one stream did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// The stream (`crm:Deals`).
    pub stream: String,
    /// Records read within the bounds.
    pub read: usize,
    /// New events stored.
    pub new: usize,
    /// Records already in the inbox with the same modified time (or deletion).
    pub duplicates: usize,
    /// New deletion events (CRM streams).
    pub deleted: usize,
    /// The cursor before, epoch ms.
    pub cursor_before: i64,
    /// The cursor after, epoch ms.
    pub cursor_after: i64,
}

/// Polls the configured streams of one connection.
#[derive(Debug, Clone)]
pub struct Poller<S: Store> {
    store: S,
    client: Client,
    config: TriggerConfig,
    clock: Clock,
}

/// A record read from a stream: id, modified time, the row as read.
struct Row {
    id: String,
    modified_ms: i64,
    row: Map<String, Value>,
}

impl<S: Store> Poller<S> {
    /// A poller writing to `store`, reading through `client`, with `clock` as "now"
    /// (Zoho's clock; the system clock in production).
    pub fn new(store: S, client: Client, config: TriggerConfig, clock: Clock) -> Poller<S> {
        Poller { store, client, config, clock }
    }

    /// Polls one stream once. A CRM stream also reads the module's deleted records
    /// from a cursor of their own (`crm:Deals:deleted`), so that a deletion whose
    /// notification was lost still reaches the inbox.
    pub async fn poll_once(&self, stream: &StreamConfig) -> Result<PollReport, TriggerError> {
        // The last whole second that has fully passed at the sync's start.
        let upper = self.clock.now_ms().div_euclid(1000) * 1000 - 1;
        let name = stream.name();
        let before = self.position(&name).await?;
        let rows = match stream.system {
            System::Crm => self.read_crm(stream, before).await?,
            System::Books => self.read_books(stream, before).await?,
        };
        let key = |r: &Row| change_key(stream.system, &stream.module, &r.id, r.modified_ms);
        let mut report = self.store_rows(stream, &name, rows, before, upper, key).await?;
        if stream.system == System::Crm {
            let name = format!("{name}:deleted");
            let before = self.position(&name).await?;
            let rows = self.read_crm_deleted(stream, before).await?;
            let key = |r: &Row| format!("{}:deleted", change_key(stream.system, &stream.module, &r.id, r.modified_ms));
            let deletions = self.store_rows(stream, &name, rows, before, upper, key).await?;
            report.deleted = deletions.new;
            report.duplicates += deletions.duplicates;
        }
        tracing::debug!(stream = %name, read = report.read, new = report.new, deleted = report.deleted, cursor = report.cursor_after, "polled");
        Ok(report)
    }

    /// Where cursor `name` stands (the configured start when it has none).
    async fn position(&self, name: &str) -> Result<i64, TriggerError> {
        Ok(match self.store.cursor(self.config.connection(), name).await? {
            Some(c) => c.position_ms,
            None => self.config.poller.start_ms,
        })
    }

    /// Stores the rows within `[before, upper]` as events keyed by `key`, in order of
    /// their time, moving cursor `name` with each batch.
    async fn store_rows(
        &self,
        stream: &StreamConfig,
        name: &str,
        mut rows: Vec<Row>,
        before: i64,
        upper: i64,
        key: impl Fn(&Row) -> String,
    ) -> Result<PollReport, TriggerError> {
        let connection = self.config.connection().to_string();
        rows.retain(|r| r.modified_ms >= before && r.modified_ms <= upper);
        rows.sort_by(|a, b| a.modified_ms.cmp(&b.modified_ms).then_with(|| a.id.cmp(&b.id)));
        let mut report = PollReport { stream: name.to_string(), read: rows.len(), cursor_before: before, cursor_after: before, ..PollReport::default() };
        for chunk in rows.chunks(BATCH) {
            let events: Vec<(NewEvent, Vec<_>)> = chunk
                .iter()
                .map(|r| {
                    let event = NewEvent {
                        source: Source::Poller,
                        connection: connection.clone(),
                        system: stream.system.as_str().to_string(),
                        module: stream.module.clone(),
                        record_id: r.id.clone(),
                        modified_ms: Some(r.modified_ms),
                        payload: Value::Object(r.row.clone()),
                        dedup_key: key(r),
                    };
                    (event, self.config.routes.jobs(stream.system, &stream.module, &r.id))
                })
                .collect();
            // Sorted ascending: the chunk's last row is as far as the inbox now holds.
            let position = chunk.last().map_or(report.cursor_after, |r| r.modified_ms.max(report.cursor_after));
            let now = self.clock.now_ms();
            let cursor = Cursor { connection: connection.clone(), stream: name.to_string(), position_ms: position, updated_ms: now };
            let inserted = self.store.add_events_and_move_cursor(&events, &cursor, now).await?;
            report.new += inserted.iter().filter(|i| matches!(i, Inserted::New(_))).count();
            report.duplicates += inserted.iter().filter(|i| matches!(i, Inserted::Duplicate)).count();
            report.cursor_after = position;
        }
        Ok(report)
    }

    /// CRM: the module's deleted records (recycle bin and permanent), newest first, read
    /// until one deleted before the cursor. The event's payload is the deleted record as
    /// CRM lists it, with `"deleted": true`.
    async fn read_crm_deleted(&self, stream: &StreamConfig, from: i64) -> Result<Vec<Row>, TriggerError> {
        let mut deleted = std::pin::pin!(self.client.crm().deleted(&stream.module, "all"));
        let mut rows = Vec::new();
        while let Some(record) = deleted.try_next().await? {
            let mut row = serde_json::to_value(&record).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
            row.insert("deleted".into(), Value::Bool(true));
            let row = to_row(&format!("{}:deleted", stream.name()), row, "id", "deleted_time")?;
            if row.modified_ms < from {
                break;
            }
            rows.push(row);
        }
        Ok(rows)
    }

    /// CRM: the module's records sorted by `Modified_Time`, with `If-Modified-Since` one
    /// second before the cursor (CRM's header means "after" and has whole seconds, so
    /// this reads `>=` the cursor).
    async fn read_crm(&self, stream: &StreamConfig, from: i64) -> Result<Vec<Row>, TriggerError> {
        let mut params = ListParams::new(["Modified_Time"]).sort("Modified_Time", SortOrder::Asc);
        if from > 0 {
            let since = jiff::Timestamp::from_millisecond(from - 1000).map_err(|e| TriggerError::Config(format!("cursor of {}: {e}", stream.name())))?;
            params = params.modified_since(since);
        }
        let records: Vec<Map<String, Value>> = self.client.crm().list(&stream.module, params).try_collect().await?;
        records.into_iter().map(|row| to_row(&stream.name(), row, "id", "Modified_Time")).collect()
    }

    /// Books: the entity's list, with the `last_modified_time` filter (`>=`) where
    /// Books offers it; other lists are read whole and filtered here.
    async fn read_books(&self, stream: &StreamConfig, from: i64) -> Result<Vec<Row>, TriggerError> {
        let (key, id_field) =
            books_list(&stream.module).ok_or_else(|| TriggerError::Config(format!("{} is not a Books stream the poller knows", stream.name())))?;
        let mut query = ListQuery::new();
        if matches!(stream.module.as_str(), "invoices" | "estimates" | "creditnotes") && from > 0 {
            let since = jiff::Timestamp::from_millisecond(from).map_err(|e| TriggerError::Config(format!("cursor of {}: {e}", stream.name())))?;
            query = query.modified_since(since);
        }
        let path = format!("/books/v3/{}", stream.module);
        let records: Vec<Map<String, Value>> = self.client.books().list(&path, key, query).try_collect().await?;
        records.into_iter().map(|row| to_row(&stream.name(), row, id_field, "last_modified_time")).collect()
    }

    /// Polls every configured stream every `interval_secs`, forever (the binary spawns
    /// it and aborts it at shutdown). A failing stream is logged and retried next time.
    pub async fn run(&self) {
        let mut every = tokio::time::interval(Duration::from_secs(self.config.poller.interval_secs.max(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            for stream in &self.config.poller.streams {
                match self.poll_once(stream).await {
                    Ok(r) if r.new > 0 => tracing::info!(stream = %r.stream, new = r.new, "poller found changes"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(stream = %stream.name(), error = %e, "poll failed"),
                }
            }
        }
    }
}

/// Whether the poller can read Books entity `module`.
pub fn books_stream_known(module: &str) -> bool {
    books_list(module).is_some()
}

/// The list key and id field of a Books stream (static: the client wants `'static`). The
/// key is the entity's path but for payments: `GET /customerpayments` answers
/// `{"customer_payments": [...]}` (customer-payments.yml).
fn books_list(module: &str) -> Option<(&'static str, &'static str)> {
    let key: &'static str = match module {
        "invoices" => "invoices",
        "customerpayments" => "customer_payments",
        "creditnotes" => "creditnotes",
        "estimates" => "estimates",
        "salesorders" => "salesorders",
        "items" => "items",
        "contacts" => "contacts",
        _ => return None,
    };
    Some((key, books_id_field(module)?))
}

fn to_row(stream: &str, row: Map<String, Value>, id_field: &str, time_field: &str) -> Result<Row, TriggerError> {
    let bad = |problem: String| TriggerError::BadRecord { stream: stream.to_string(), problem };
    let id = match row.get(id_field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad(format!("a record without {id_field}"))),
    };
    let modified_ms =
        row.get(time_field).and_then(Value::as_str).and_then(parse_time).ok_or_else(|| bad(format!("record {id} has no readable {time_field}")))?;
    Ok(Row { id, modified_ms, row })
}
