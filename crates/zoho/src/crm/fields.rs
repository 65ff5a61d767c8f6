//! CRM's fields API: reading one field and creating or deleting custom fields
//! (`/crm/v8/settings/fields`).
//!
//! Why it exists: the order-to-cash flows write into CRM fields the user names in config;
//! `check --online` (and a user following its advice) creates the missing ones with
//! [`Crm::create_field`]. Listing every field of a module is [`Crm::fields`].

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Crm, models::FieldMeta};
use crate::{
    error::{Api, Error, Result},
    transport::Request,
};

/// A custom field to create. CRM derives its API name from the label (`Balance Due` →
/// `Balance_Due`) and refuses a label or API name the module already has (`DUPLICATE_DATA`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewField {
    /// The label users see; unique in the module.
    pub field_label: String,
    /// `text`, `textarea`, `email`, `phone`, `website`, `picklist`, `multiselectpicklist`,
    /// `integer`, `double`, `currency`, `date`, `datetime` or `boolean`.
    pub data_type: String,
    /// Most characters (text) or digits (numbers); CRM's default when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// Decimal places of a `currency` or `double` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal_place: Option<u32>,
    /// Values of a picklist, in order (required for picklists).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "pick_list")]
    pub pick_list_values: Vec<String>,
}

impl NewField {
    /// A field of `data_type` labelled `label`, with CRM's defaults.
    pub fn new(label: impl Into<String>, data_type: impl Into<String>) -> NewField {
        NewField { field_label: label.into(), data_type: data_type.into(), length: None, decimal_place: None, pick_list_values: Vec::new() }
    }

    /// A picklist labelled `label` offering `values`.
    pub fn picklist<I, S>(label: impl Into<String>, values: I) -> NewField
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        NewField { pick_list_values: values.into_iter().map(Into::into).collect(), ..NewField::new(label, "picklist") }
    }
}

/// Picklist values as CRM takes them: `[{"display_value": v, "actual_value": v}]`.
fn pick_list<S: serde::Serializer>(values: &[String], s: S) -> std::result::Result<S::Ok, S::Error> {
    let rows: Vec<Value> = values.iter().map(|v| json!({"display_value": v, "actual_value": v})).collect();
    rows.serialize(s)
}

/// The id in the first entry of a `{"fields":[{"code":"SUCCESS","details":{"id":…}}]}` answer.
fn first_id(body: &Value, path: &str) -> Result<String> {
    body.pointer("/fields/0/details/id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| Error::decode(path, "no field id in the answer"))
}

impl Crm {
    /// Creates a custom field in `module` and returns its id. The field's API name is then
    /// in [`Crm::fields`] (and [`Crm::field`] by that name). Not idempotent: CRM refuses
    /// the same label twice with `DUPLICATE_DATA`, which a caller may take as "already there".
    pub async fn create_field(&self, module: &str, field: &NewField) -> Result<String> {
        let path = "/crm/v8/settings/fields";
        let req = Request::new(Api::Crm, Method::POST, path).query("module", module).json(&json!({"fields": [field]}))?;
        let body: Value = self.transport().send(&req).await?.json(path)?;
        first_id(&body, path)
    }

    /// One field of `module` by id or API name; `None` when the module has no such field.
    pub async fn field(&self, module: &str, id_or_api_name: &str) -> Result<Option<FieldMeta>> {
        if id_or_api_name.bytes().all(|b| b.is_ascii_digit()) && !id_or_api_name.is_empty() {
            let path = format!("/crm/v8/settings/fields/{id_or_api_name}");
            let resp = self.transport().send(&Request::new(Api::Crm, Method::GET, path.clone()).query("module", module)).await?;
            if resp.is_empty() {
                return Ok(None);
            }
            #[derive(serde::Deserialize)]
            struct Fields {
                #[serde(default)]
                fields: Vec<FieldMeta>,
            }
            return Ok(resp.json::<Fields>(&path)?.fields.into_iter().next());
        }
        Ok(self.fields(module).await?.into_iter().find(|f| f.api_name == id_or_api_name))
    }

    /// Deletes a custom field of `module` by id (and its values on every record).
    pub async fn delete_field(&self, module: &str, id: &str) -> Result<()> {
        let path = format!("/crm/v8/settings/fields/{id}");
        let req = Request::new(Api::Crm, Method::DELETE, path.clone()).query("module", module).idempotent(true);
        let body: Value = self.transport().send(&req).await?.json(&path)?;
        first_id(&body, &path).map(|_| ())
    }
}
