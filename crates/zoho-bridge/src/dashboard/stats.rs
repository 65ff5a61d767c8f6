//! A flow's throughput and latency, from its recent runs ([`bridge::store::Run`]).
//!
//! Computed from the newest runs only (the dashboard reads a few hundred per flow), so
//! the figures describe the recent past whatever the size of the store.

use bridge::store::{JobStatus, Run};

/// What a flow's recent runs add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowStats {
    /// Runs looked at.
    pub runs: usize,
    /// Of them: done.
    pub done: usize,
    /// Skipped (nothing to do).
    pub skipped: usize,
    /// Dead (waiting for a person).
    pub dead: usize,
    /// Queued or running.
    pub waiting: usize,
    /// Finished runs per minute over the span of the runs looked at (from the first
    /// event received to the last run finished); `None` with fewer than two finished.
    pub per_minute: Option<f64>,
    /// Median latency of the done runs (event received → job done), ms.
    pub p50_ms: Option<i64>,
    /// 95th percentile latency of the done runs, ms.
    pub p95_ms: Option<i64>,
    /// Longest latency of the done runs, ms.
    pub max_ms: Option<i64>,
    /// When the newest run was last changed, epoch ms.
    pub last_ms: Option<i64>,
}

/// The value at `share` (0..=1) of sorted `values`, nearest rank.
fn percentile(sorted: &[i64], share: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl FlowStats {
    /// The figures of `runs` (any order).
    pub fn of(runs: &[Run]) -> FlowStats {
        let mut s = FlowStats { runs: runs.len(), ..FlowStats::default() };
        let mut latencies = Vec::new();
        for run in runs {
            match run.job.status {
                JobStatus::Done => s.done += 1,
                JobStatus::Skipped => s.skipped += 1,
                JobStatus::Dead => s.dead += 1,
                JobStatus::Queued | JobStatus::Running => s.waiting += 1,
            }
            if run.job.status == JobStatus::Done
                && let Some(ms) = run.latency_ms()
            {
                latencies.push(ms);
            }
        }
        latencies.sort_unstable();
        s.p50_ms = percentile(&latencies, 0.5);
        s.p95_ms = percentile(&latencies, 0.95);
        s.max_ms = latencies.last().copied();
        s.last_ms = runs.iter().map(|r| r.job.updated_ms).max();
        let finished: Vec<&Run> = runs.iter().filter(|r| r.latency_ms().is_some()).collect();
        if finished.len() >= 2 {
            let start = finished.iter().map(|r| r.received_ms).min().unwrap_or_default();
            let end = finished.iter().map(|r| r.job.updated_ms).max().unwrap_or_default();
            let minutes = ((end - start).max(1) as f64) / 60_000.0;
            s.per_minute = Some(finished.len() as f64 / minutes);
        }
        s
    }
}

/// A duration in ms as people read it: `850 ms`, `4.2 s`, `3.5 min`, `2.1 h`.
pub fn duration_text(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        60_000..3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        _ => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge::store::Job;
    use serde_json::json;

    fn run(id: i64, status: JobStatus, received_ms: i64, updated_ms: i64) -> Run {
        let job = Job {
            id,
            event_id: id,
            flow: "catalog_sync".into(),
            key: format!("crm:Products:{id}"),
            payload: json!({}),
            status,
            attempts: 1,
            run_after_ms: received_ms,
            lease_owner: None,
            lease_until_ms: None,
            last_error: None,
            outcome: None,
            created_ms: received_ms,
            updated_ms,
        };
        Run { job, received_ms }
    }

    #[test]
    fn counts_latency_percentiles_and_throughput() {
        let mut runs: Vec<Run> = (0..20).map(|i| run(i, JobStatus::Done, i * 3_000, i * 3_000 + 100 * (i + 1))).collect();
        runs.push(run(20, JobStatus::Dead, 0, 60_000));
        runs.push(run(21, JobStatus::Queued, 61_000, 61_000));
        runs.push(run(22, JobStatus::Skipped, 10_000, 10_050));
        let s = FlowStats::of(&runs);
        assert_eq!((s.runs, s.done, s.dead, s.waiting, s.skipped), (23, 20, 1, 1, 1));
        // Done latencies are 100, 200, …, 2000 ms.
        assert_eq!((s.p50_ms, s.p95_ms, s.max_ms), (Some(1_000), Some(1_900), Some(2_000)));
        // 22 finished runs between 0 and 60,000 ms: 22 per minute.
        assert_eq!(s.per_minute, Some(22.0));
        assert_eq!(s.last_ms, Some(61_000));
        assert_eq!(FlowStats::of(&[]), FlowStats::default());
        assert_eq!(FlowStats::of(&[run(1, JobStatus::Done, 0, 5)]).per_minute, None, "one run has no rate");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(4_200), "4.2 s");
        assert_eq!(duration_text(210_000), "3.5 min");
        assert_eq!(duration_text(7_560_000), "2.1 h");
    }
}
