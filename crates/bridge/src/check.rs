//! `zoho-bridge check --online`: the flows' mappings against the fields the two APIs
//! report, as a catalog would (Singer's discovery).
//!
//! Loading the config already compiled every expression (offline). Online, for each flow
//! this reads what Zoho says and reports, as [`Finding`]s a person can act on:
//! - fields a mapping reads that the CRM module does not have (`settings/fields`), with
//!   the nearest name;
//! - target fields the mapping writes that the Books entity does not take, and
//!   mandatory target fields it leaves out;
//! - values of the wrong type, found by mapping a few real records (read, never written);
//! - custom fields the flow needs that are absent or not marked unique in Books, checked
//!   with an upsert that names no record and may not create one (Books answers "does not
//!   exist" when the field is usable), and how to create them.
//!
//! Nothing is written to Zoho. Calls: one `settings/fields` and one list page per CRM
//! module, one probe per custom field.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use zoho::{Client, crm::records::ListParams};

use crate::{
    config::near_miss,
    flows::{FieldKind, Flow, FlowShape},
    mapping::{Input, Outcome},
    store::System,
    triggers::Clock,
};

/// Records mapped per flow to check the values' types.
const SAMPLE: usize = 3;

/// One thing wrong, and where in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The setting at fault (`flows.catalog_sync.map.rate`).
    pub setting: String,
    /// What is wrong, and what to do.
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

/// Checks every flow against Zoho (reads only); an empty list means all is well. A
/// failure to read Zoho itself is an error, not a finding.
pub async fn check_online(client: &Client, flows: &[std::sync::Arc<dyn Flow>], clock: &Clock) -> Result<Vec<Finding>, zoho::Error> {
    let now = jiff::Timestamp::from_millisecond(clock.now_ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut findings: Vec<Finding> = Vec::new();
    for flow in flows {
        let shape = flow.shape();
        check_flow(client, flow.name(), &shape, now, &mut findings).await?;
    }
    // One finding per setting and kind of problem: the sampled records repeat each other.
    let mut seen = BTreeSet::new();
    findings.retain(|f| seen.insert((f.setting.clone(), f.problem.split(" for CRM ").next().unwrap_or_default().to_string())));
    Ok(findings)
}

async fn check_flow(client: &Client, flow: &str, shape: &FlowShape, now: jiff::Timestamp, findings: &mut Vec<Finding>) -> Result<(), zoho::Error> {
    let mut find = |setting: String, problem: String| findings.push(Finding { setting, problem });
    let (Some((source_system, source_module)), Some(mapping)) = (shape.source, &shape.mapping) else {
        return Ok(());
    };
    let target = shape.target.map(|(system, entity)| format!("{} {entity}", system.label())).unwrap_or_default();

    // Fields read: the source module's fields, as CRM reports them.
    let read = mapping.source_fields();
    if source_system == System::Crm {
        let fields = client.crm().fields(source_module).await?;
        let known: Vec<&str> = fields.iter().map(|f| f.api_name.as_str()).collect();
        for field in read {
            if !known.contains(&field.as_str()) {
                let hint = near_miss(field, &known).map(|n| format!(" (did you mean source.{n}?)")).unwrap_or_default();
                find(format!("flows.{flow}"), format!("reads source.{field}, but CRM {source_module} has no such field{hint}"));
            }
        }
    }

    // Fields written: ones the target takes, and the mandatory ones present.
    if !shape.target_fields.is_empty() {
        let written: BTreeSet<String> = mapping.target_fields().into_iter().collect();
        let takes: Vec<&str> = shape.target_fields.iter().map(|f| f.name).collect();
        for field in &written {
            if !takes.contains(&field.as_str()) {
                let hint = near_miss(field, &takes).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
                find(format!("flows.{flow}.map.{field}"), format!("{target} has no field {field}{hint}"));
            }
        }
        for f in shape.target_fields.iter().filter(|f| f.mandatory && !written.contains(f.name)) {
            find(format!("flows.{flow}.map"), format!("{target} needs {} to be created, and the mapping does not set it", f.name));
        }
    }

    // Values: a few real records through the mapping, each field checked for its kind.
    if source_system == System::Crm && !read.is_empty() {
        let params = ListParams { per_page: SAMPLE as u32, ..ListParams::new(read.iter().cloned()) };
        let pages = client.crm().list_pages(source_module, params);
        futures_util::pin_mut!(pages);
        let records: Vec<serde_json::Map<String, Value>> = pages.try_next().await?.unwrap_or_default();
        for record in records.into_iter().take(SAMPLE) {
            let id = record.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
            let source = Value::Object(record);
            let input = Input { source: &source, related: &Value::Null, now };
            match mapping.evaluate(&input) {
                Ok(Outcome::Payload(payload)) => {
                    for (field, value) in &payload {
                        let Some(spec) = shape.target_fields.iter().find(|f| f.name == field) else { continue };
                        if let Some(wrong) = kind_problem(spec.kind, value) {
                            find(format!("flows.{flow}.map.{field}"), format!("gave {value} for CRM {source_module} {id}, but {target}.{field} takes {wrong}"));
                        }
                    }
                }
                Ok(Outcome::Skipped(_)) => {}
                Err(e) => find(e.field.clone(), format!("fails for CRM {source_module} {id}: {}", e.reason)),
            }
        }
    }

    // Custom fields the flow relies on as upsert keys.
    if let Some((System::Books, entity)) = shape.target {
        for (setting, field) in &shape.unique_keys {
            if let Err(e) = client.books().check_upsert_key(entity, field).await {
                if e.api().is_none() {
                    return Err(e);
                }
                let label = entity.trim_end_matches('s');
                find(
                    setting.clone(),
                    format!(
                        "Books {entity} has no custom field {field} marked unique (Books said: {e}). Create it in Books: Settings → Preferences → \
                         {} → Field Customization → New Custom Field, data type Text, \"Do not allow duplicate values\" on, so that its API \
                         name is {field}; it holds the CRM id each {label} is kept in step with",
                        capitalised(entity)
                    ),
                );
            }
        }
    }
    Ok(())
}

/// What a field of `kind` takes, when `value` is not that.
fn kind_problem(kind: FieldKind, value: &Value) -> Option<String> {
    match (kind, value) {
        (FieldKind::Text, Value::String(_))
        | (FieldKind::Number, Value::Number(_))
        | (FieldKind::Bool, Value::Bool(_))
        | (FieldKind::List, Value::Array(_))
        | (FieldKind::Object, Value::Object(_)) => None,
        (FieldKind::OneOf(allowed), Value::String(s)) if allowed.contains(&s.as_str()) => None,
        (FieldKind::Text, _) => Some("text".into()),
        (FieldKind::Number, _) => Some("a number".into()),
        (FieldKind::Bool, _) => Some("true or false".into()),
        (FieldKind::List, _) => Some("a list".into()),
        (FieldKind::Object, _) => Some("an object".into()),
        (FieldKind::OneOf(allowed), _) => Some(format!("one of {}", allowed.join(", "))),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds() {
        assert_eq!(kind_problem(FieldKind::Number, &json!(1.5)), None);
        assert_eq!(kind_problem(FieldKind::Number, &json!("1.5")).as_deref(), Some("a number"));
        assert_eq!(kind_problem(FieldKind::OneOf(&["active", "inactive"]), &json!("on")).as_deref(), Some("one of active, inactive"));
        assert_eq!(kind_problem(FieldKind::Text, &json!("x")), None);
    }
}
