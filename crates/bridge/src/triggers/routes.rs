//! The routing table: which flows a change to one (system, module) starts.
//!
//! Triggers enqueue the jobs in the same transaction as the event, so the table is read
//! at the door; the job key `system:module:record_id` keeps jobs of one record in order.

use super::config::System;
use crate::store::{NewJob, RecordRef};
use serde::{Deserialize, Serialize};

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `crm` or `books`.
    pub system: System,
    /// CRM module (`Deals`) or Books entity (`invoices`).
    pub module: String,
    /// Flows to run for every change (`deal_to_invoice`).
    pub flows: Vec<String>,
}

/// The table: a list of [`Route`]s (in TOML, `[[routes]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Routes(pub Vec<Route>);

impl Routes {
    /// Adds a route (builder style, for code and tests).
    pub fn with(mut self, system: System, module: &str, flows: &[&str]) -> Routes {
        self.0.push(Route { system, module: module.to_string(), flows: flows.iter().map(|f| f.to_string()).collect() });
        self
    }

    /// The flows for a module (every matching line; module names compare exactly).
    pub fn flows(&self, system: System, module: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for route in self.0.iter().filter(|r| r.system == system && r.module == module) {
            for flow in &route.flows {
                if !out.contains(&flow.as_str()) {
                    out.push(flow);
                }
            }
        }
        out
    }

    /// Every flow some route names, once each, in the order they first appear.
    pub fn named_flows(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for flow in self.0.iter().flat_map(|r| &r.flows) {
            if !out.contains(&flow.as_str()) {
                out.push(flow);
            }
        }
        out
    }

    /// The jobs a change to one record enqueues: one per flow, each carrying the record
    /// ([`RecordRef`]) and keyed by it (`system:module:record_id`), for CRM and Books
    /// records alike.
    pub fn jobs(&self, system: System, module: &str, record_id: &str) -> Vec<NewJob> {
        let record = RecordRef { system, module: module.to_string(), id: record_id.to_string() };
        self.flows(system, module).into_iter().map(|flow| NewJob::for_record(flow, &record)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_follow_the_table() {
        let routes = Routes::default()
            .with(System::Crm, "Deals", &["deal_to_invoice", "deal_to_credit_note"])
            .with(System::Crm, "Deals", &["deal_to_invoice"])
            .with(System::Books, "invoices", &["overdue_to_task"]);
        let jobs = routes.jobs(System::Crm, "Deals", "42");
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].key, "crm:Deals:42");
        assert_eq!(jobs[1].flow, "deal_to_credit_note");
        assert_eq!(jobs[0].payload, serde_json::json!({"system": "crm", "module": "Deals", "id": "42"}));
        let books = routes.jobs(System::Books, "invoices", "7");
        assert_eq!((books[0].key.as_str(), books[0].payload["system"].as_str()), ("books:invoices:7", Some("books")));
        assert!(routes.jobs(System::Books, "items", "1").is_empty());
        let toml_like: Routes = serde_json::from_str(r#"[{"system":"books","module":"invoices","flows":["a"]}]"#).unwrap();
        assert_eq!(toml_like.flows(System::Books, "invoices"), vec!["a"]);
    }
}
