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
//!   exist" when the field is usable), and how to create them;
//! - CRM fields a flow writes (named in its config) that CRM lacks, that have another
//!   type, lack a picklist value the flow writes or are not unique when they key an
//!   upsert, each with how to create or fix it: the Setup path in CRM, and the fields
//!   API call (`POST /crm/v8/settings/fields?module=…`) that does it.
//!
//! Nothing is written to Zoho. Calls: one `settings/fields` and one list page per CRM
//! module, one probe per custom field.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use zoho::{
    Client,
    crm::{models::FieldMeta, records::ListParams},
};

use crate::{
    config::near_miss,
    flows::{CrmField, FieldKind, Flow, FlowShape},
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
    check_crm_fields(client, &shape.crm_fields, findings).await?;
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

/// The CRM fields a flow writes: present, of a type that takes its values, with the
/// picklist values it writes, unique when it keys an upsert. One `settings/fields` call
/// per module.
async fn check_crm_fields(client: &Client, wanted: &[CrmField], findings: &mut Vec<Finding>) -> Result<(), zoho::Error> {
    let mut modules: BTreeMap<&str, Vec<FieldMeta>> = BTreeMap::new();
    for want in wanted {
        if !modules.contains_key(want.module) {
            modules.insert(want.module, client.crm().fields(want.module).await?);
        }
        let fields = &modules[want.module];
        let problem = match fields.iter().find(|f| f.api_name == want.api_name) {
            None => {
                let names: Vec<&str> = fields.iter().map(|f| f.api_name.as_str()).collect();
                let hint = near_miss(&want.api_name, &names).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
                Some(format!("CRM {} has no field {}{hint}. {}", want.module, want.api_name, create_field_advice(want)))
            }
            Some(found) if !type_fits(&found.data_type, want.data_type) => Some(format!(
                "CRM {}.{} is a {} field, but the flow writes a {} there: point the setting at a {} field, or {}",
                want.module,
                want.api_name,
                found.data_type,
                want.data_type,
                want.data_type,
                lowercase_first(&create_field_advice(&CrmField { api_name: format!("{}_{}", want.api_name, want.data_type), ..want.clone() }))
            )),
            Some(found) => {
                let have: Vec<&str> = found.pick_list_values.iter().map(|v| v.actual_value.as_str()).collect();
                let missing: Vec<&str> = want.values.iter().map(String::as_str).filter(|v| !have.contains(v)).collect();
                let unique = found.extra.get("unique").is_some_and(|u| !u.is_null() && u != &Value::Bool(false));
                if !missing.is_empty() {
                    Some(format!(
                        "the picklist CRM {}.{} lacks the value(s) {}: add them in CRM (Setup → Customization → Modules and Fields → {} → \
                         Fields → {} → Edit Properties → Pick List Option), or set the flow's values to ones it has ({})",
                        want.module,
                        want.api_name,
                        missing.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
                        want.module,
                        label(&want.api_name),
                        have.join(", ")
                    ))
                } else if want.unique && !unique {
                    Some(format!(
                        "CRM {}.{} is not marked unique: the flow keys an upsert on it, so a repeated run could add a second record. In CRM: \
                         Setup → Customization → Modules and Fields → {} → Fields → {} → Edit Properties → \"Do not allow duplicate values\"",
                        want.module,
                        want.api_name,
                        want.module,
                        label(&want.api_name)
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            findings.push(Finding { setting: want.setting.clone(), problem });
        }
    }
    Ok(())
}

/// How to create CRM field `want`: the Setup path, and the fields API call.
pub fn create_field_advice(want: &CrmField) -> String {
    let label = label(&want.api_name);
    let mut field = serde_json::json!({"field_label": label, "data_type": want.data_type});
    if !want.values.is_empty() {
        field["pick_list_values"] = Value::Array(want.values.iter().map(|v| serde_json::json!({"display_value": v, "actual_value": v})).collect());
    }
    if want.unique {
        field["unique"] = serde_json::json!({"casesensitive": "false"});
    }
    let body = serde_json::json!({"fields": [field]});
    let kind = match want.data_type {
        "currency" => "Currency",
        "date" => "Date",
        "picklist" => "Pick List",
        "datetime" => "Date/Time",
        _ => "Single Line",
    };
    let unique = if want.unique { ", with \"Do not allow duplicate values\" on" } else { "" };
    let values = if want.values.is_empty() { String::new() } else { format!(", with the values {}", want.values.join(", ")) };
    format!(
        "Create it in CRM: Setup → Customization → Modules and Fields → {module} → Layouts → drag a {kind} field in, labelled {label:?}{values}{unique} \
         (CRM makes its API name {api}); or through CRM's fields API: POST /crm/v8/settings/fields?module={module} with {body}",
        module = want.module,
        api = want.api_name,
    )
}

/// The label that gives API name `api_name` (CRM turns spaces into `_`).
fn label(api_name: &str) -> String {
    api_name.replace('_', " ")
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// Whether a CRM field of `data_type` takes what a flow writes as `wanted`.
fn type_fits(data_type: &str, wanted: &str) -> bool {
    match wanted {
        "currency" => matches!(data_type, "currency" | "double" | "decimal"),
        "text" => matches!(data_type, "text" | "textarea"),
        other => data_type == other,
    }
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
