//! What backfill says about each record (one JSON line) and about the whole run (the
//! summary table): the report a person reads before letting it apply.

use std::{collections::BTreeMap, io::Write, time::Duration};

use serde::Serialize;

use crate::worker::RunStats;

/// What will happen (dry run) or was asked (apply) for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Linked to an existing record of the other side (and enriched with what it lacks).
    Link,
    /// No match: created on the other side.
    Create,
    /// Already linked: the pair is synced (what differs is written).
    Update,
    /// Two or more candidates at one step: the review list; nothing is written for it.
    Review,
    /// Nothing is done for it (the reason says why).
    Skip,
}

impl Action {
    /// As written in the report (`link`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Link => "link",
            Action::Create => "create",
            Action::Update => "update",
            Action::Review => "review",
            Action::Skip => "skip",
        }
    }
}

/// One report line: a record and what backfill decided for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// `crm` or `books`.
    pub system: &'static str,
    /// Its CRM module or Books entity.
    pub module: String,
    /// Its id.
    pub id: String,
    /// Its name as written.
    pub name: String,
    /// What happens to it.
    pub action: Action,
    /// The matching step that answered (`link`, `native`, `email`, `name`, `sku`), if any.
    pub rule: Option<&'static str>,
    /// The other side's candidates (a review's, or a conflict's).
    pub candidates: Vec<String>,
    /// The other side's record it is (or will be) linked to.
    pub other_id: Option<String>,
    /// Why, when it is skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a whole run did: counts per system, action and rule, times, and the worker's
/// counts when it applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Records reported, per (system, action, rule).
    pub counts: BTreeMap<(&'static str, Action, &'static str), u64>,
    /// Records read into the directory by the index phase.
    pub indexed: u64,
    /// Time spent indexing (reading Zoho into the directory).
    pub index_time: Duration,
    /// Time spent deciding (and enqueueing, when applying).
    pub decide_time: Duration,
    /// Time the worker spent applying.
    pub apply_time: Duration,
    /// Events stored for the worker (a re-run stores none for records already enqueued).
    pub enqueued: u64,
    /// What the worker did, when applying.
    pub applied: Option<RunStats>,
    /// The process's peak resident memory, KiB, where the system says (Linux).
    pub peak_kib: Option<u64>,
}

impl Summary {
    /// Counts one reported line.
    pub fn count(&mut self, line: &Line) {
        *self.counts.entry((line.system, line.action, line.rule.unwrap_or("-"))).or_default() += 1;
    }

    /// Records reported in all.
    pub fn reported(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Records reported with `action`, all systems and rules.
    pub fn with_action(&self, action: Action) -> u64 {
        self.counts.iter().filter(|((_, a, _), _)| *a == action).map(|(_, n)| n).sum()
    }

    /// The table printed at the end (stderr): counts per system, action and rule, the
    /// phases' times and rates, and the worker's counts.
    pub fn table(&self) -> String {
        let mut out = String::from("system  action  rule     records\n");
        for ((system, action, rule), n) in &self.counts {
            out.push_str(&format!("{system:<7} {:<7} {rule:<8} {n:>7}\n", action.as_str()));
        }
        let rate = |n: u64, d: Duration| if d.as_secs_f64() > 0.0 { n as f64 / d.as_secs_f64() } else { 0.0 };
        out.push_str(&format!(
            "index: {} records in {:.2} s ({:.0}/s); decide: {} records in {:.2} s ({:.0}/s)\n",
            self.indexed,
            self.index_time.as_secs_f64(),
            rate(self.indexed, self.index_time),
            self.reported(),
            self.decide_time.as_secs_f64(),
            rate(self.reported(), self.decide_time),
        ));
        if let Some(stats) = &self.applied {
            out.push_str(&format!(
                "applied in {:.2} s: {} events enqueued; jobs done {}, skipped {}, dead {}, retried {}, unrecorded {}\n",
                self.apply_time.as_secs_f64(),
                self.enqueued,
                stats.done,
                stats.skipped,
                stats.dead,
                stats.retried,
                stats.unrecorded
            ));
        }
        if let Some(kib) = self.peak_kib {
            out.push_str(&format!("peak memory: {:.1} MiB\n", kib as f64 / 1024.0));
        }
        out
    }
}

/// Where report lines go: written as JSON lines and counted.
pub struct Report<'w> {
    out: &'w mut (dyn Write + Send),
    /// The counts so far.
    pub summary: Summary,
}

impl<'w> Report<'w> {
    /// A report written to `out`.
    pub fn new(out: &'w mut (dyn Write + Send)) -> Report<'w> {
        Report { out, summary: Summary::default() }
    }

    /// Writes and counts one line.
    pub fn line(&mut self, line: &Line) -> std::io::Result<()> {
        serde_json::to_writer(&mut *self.out, line)?;
        self.out.write_all(b"\n")?;
        self.summary.count(line);
        Ok(())
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The peak resident memory of this process, KiB (`VmHWM` in `/proc/self/status`), on
/// systems that say.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
