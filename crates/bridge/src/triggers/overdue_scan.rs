//! The overdue scan: the safety net behind Books' `invoice.overdue` webhook.
//!
//! Books has no event that reliably says "this invoice became overdue" (a webhook can be
//! lost, and a date-based workflow rule may not be set up), so every `scan_every_secs`
//! (`[flows.overdue_to_task]`, a day by default) this lists Books' invoices with status
//! `overdue` and puts one event per invoice in the inbox, with an `overdue_to_task` job.
//! The dedup key names the invoice and the day (`books:invoices:<id>:overdue:<date>`), so
//! scanning twice on one day adds nothing, and each day gives the flow one more look; the
//! flow itself makes no second task for an invoice that has one. Events and jobs are
//! stored in one store call per batch, as the poller stores its rows.

use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use zoho::{Client, books::ListQuery};

use super::{clock::Clock, error::TriggerError, events::parse_time};
use crate::{
    flows::overdue_to_task,
    store::{Inserted, NewEvent, NewJob, RecordRef, Source, Store},
};

/// Events stored per store call.
const BATCH: usize = 200;

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Overdue invoices listed.
    pub overdue: usize,
    /// New events stored (each with its job).
    pub new: usize,
    /// Invoices already scanned today.
    pub duplicates: usize,
}

/// Lists overdue invoices and enqueues `overdue_to_task` for each.
#[derive(Debug, Clone)]
pub struct OverdueScan<S: Store> {
    store: S,
    client: Client,
    connection: String,
    every: Duration,
    clock: Clock,
}

/// The dedup key of invoice `id` scanned on `date` (`yyyy-mm-dd`).
pub fn scan_key(invoice_id: &str, date: &str) -> String {
    format!("books:invoices:{invoice_id}:overdue:{date}")
}

impl<S: Store> OverdueScan<S> {
    /// A scan of `connection`'s Books every `every`, writing to `store`, with `clock` as
    /// "now" (its UTC date is the day in the dedup keys).
    pub fn new(store: S, client: Client, connection: impl Into<String>, every: Duration, clock: Clock) -> OverdueScan<S> {
        OverdueScan { store, client, connection: connection.into(), every, clock }
    }

    /// Scans once: every overdue invoice gets today's event and job, unless it has it.
    pub async fn scan_once(&self) -> Result<ScanReport, TriggerError> {
        let query = ListQuery::new().param("status", "overdue");
        let rows: Vec<Map<String, Value>> = self.client.books().list("/books/v3/invoices", "invoices", query).try_collect().await?;
        let now = self.clock.now_ms();
        let today = jiff::Timestamp::from_millisecond(now)
            .map_err(|e| TriggerError::Config(format!("the clock says {now}: {e}")))?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string();
        let mut report = ScanReport { overdue: rows.len(), ..ScanReport::default() };
        let mut batch: Vec<(NewEvent, Vec<NewJob>)> = Vec::new();
        for row in rows {
            let id = match row.get("invoice_id") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(TriggerError::BadRecord { stream: "books:invoices (overdue scan)".into(), problem: "an invoice without invoice_id".into() }),
            };
            let record = RecordRef::books("invoices", &id);
            let mut event = NewEvent::for_record(Source::Poller, &self.connection, &record, Value::Object(row.clone()), scan_key(&id, &today));
            event.modified_ms = row.get("last_modified_time").and_then(Value::as_str).and_then(parse_time);
            batch.push((event, vec![NewJob::for_record(overdue_to_task::NAME, &record)]));
        }
        for chunk in batch.chunks(BATCH) {
            let inserted = self.store.add_events(chunk, self.clock.now_ms()).await?;
            report.new += inserted.iter().filter(|i| matches!(i, Inserted::New(_))).count();
            report.duplicates += inserted.iter().filter(|i| matches!(i, Inserted::Duplicate)).count();
        }
        tracing::debug!(overdue = report.overdue, new = report.new, "overdue scan");
        Ok(report)
    }

    /// Scans every `every`, forever (the binary spawns it and aborts it at shutdown). A
    /// failed scan is logged and tried again next time.
    pub async fn run(&self) {
        let mut every = tokio::time::interval(self.every.max(Duration::from_secs(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.scan_once().await {
                Ok(r) if r.new > 0 => tracing::info!(new = r.new, overdue = r.overdue, "overdue scan found invoices"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "overdue scan failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_invoice_and_day() {
        assert_eq!(scan_key("9", "2024-05-10"), "books:invoices:9:overdue:2024-05-10");
        assert_ne!(scan_key("9", "2024-05-10"), scan_key("9", "2024-05-11"));
    }
}
