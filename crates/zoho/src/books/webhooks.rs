//! Parsing of Books workflow webhook bodies.
//!
//! Books webhooks are configured in its UI, carry no signature (put a shared secret in a
//! header or query parameter and check it yourself), and send either the *default
//! payload* — the entity's JSON, usually wrapped as `{"invoice": {...}}` — or a form body
//! with a `JSONString` field. [`parse_webhook`] accepts all of these and names the
//! entity. Treat the payload as a hint: re-read the entity before acting on it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::models::{Contact, CreditNote, CustomerPayment, Estimate, Invoice, Item};
use crate::error::{Error, Result};

/// Entities a Books webhook can carry, with the key of their id.
const ENTITIES: [(&str, &str); 7] = [
    ("invoice", "invoice_id"),
    ("payment", "payment_id"),
    ("creditnote", "creditnote_id"),
    ("estimate", "estimate_id"),
    ("salesorder", "salesorder_id"),
    ("item", "item_id"),
    ("contact", "contact_id"),
];

/// A parsed webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPayload {
    /// `invoice`, `payment`, `creditnote`, `estimate`, `salesorder`, `item`, `contact`,
    /// or `unknown`.
    pub entity: String,
    /// The entity's fields.
    pub data: Map<String, Value>,
}

impl WebhookPayload {
    /// The entity's id, if present.
    pub fn id(&self) -> Option<&str> {
        let key = ENTITIES.iter().find(|(e, _)| *e == self.entity).map(|(_, k)| *k)?;
        self.data.get(key).and_then(Value::as_str)
    }

    fn typed<T: DeserializeOwned>(&self, entity: &str) -> Option<Result<T>> {
        (self.entity == entity).then(|| {
            serde_json::from_value(Value::Object(self.data.clone()))
                .map_err(|e| Error::InvalidInput(format!("the {entity} in the Books webhook does not fit Books' {entity}: {e}")))
        })
    }

    /// The invoice, if this is one.
    pub fn invoice(&self) -> Option<Result<Invoice>> {
        self.typed("invoice")
    }

    /// The payment, if this is one.
    pub fn payment(&self) -> Option<Result<CustomerPayment>> {
        self.typed("payment")
    }

    /// The credit note, if this is one.
    pub fn credit_note(&self) -> Option<Result<CreditNote>> {
        self.typed("creditnote")
    }

    /// The estimate, if this is one.
    pub fn estimate(&self) -> Option<Result<Estimate>> {
        self.typed("estimate")
    }

    /// The contact, if this is one.
    pub fn contact(&self) -> Option<Result<Contact>> {
        self.typed("contact")
    }

    /// The item, if this is one.
    pub fn item(&self) -> Option<Result<Item>> {
        self.typed("item")
    }
}

/// Parses a webhook body: JSON (wrapped or bare entity) or a form with `JSONString`. A
/// body it cannot read is [`Error::InvalidInput`] saying what is wrong with it.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookPayload> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(json_err) => {
            let json_string = url::form_urlencoded::parse(body).find(|(k, _)| k == "JSONString").map(|(_, v)| v.into_owned()).ok_or_else(|| {
                Error::InvalidInput(format!("the body is neither JSON ({json_err}) nor a form with a JSONString field, the two ways Books sends webhooks"))
            })?;
            serde_json::from_str(&json_string).map_err(|e| Error::InvalidInput(format!("the body's JSONString field is not JSON: {e}")))?
        }
    };
    let Value::Object(map) = value else {
        return Err(Error::InvalidInput(format!(
            "the body is JSON but not an object (it is {}): Books sends {{\"invoice\": {{...}}}} or the entity's fields",
            kind(&value)
        )));
    };
    // Wrapped: {"invoice": {...}} (possibly next to other top-level keys).
    for (entity, _) in ENTITIES {
        if let Some(Value::Object(inner)) = map.get(entity) {
            return Ok(WebhookPayload { entity: entity.to_string(), data: inner.clone() });
        }
    }
    // Bare entity: name it by its id key (invoice before contact: invoices carry
    // customer ids, not contact ids, but check the most specific keys first).
    let entity = ENTITIES.iter().find(|(_, key)| map.contains_key(*key)).map(|(e, _)| e.to_string()).unwrap_or_else(|| "unknown".to_string());
    Ok(WebhookPayload { entity, data: map })
}

/// What kind of JSON value `v` is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_bare_and_form_bodies() {
        let wrapped = br#"{"invoice":{"invoice_id":"9","total":10.5,"status":"sent"}}"#;
        let p = parse_webhook(wrapped).unwrap();
        assert_eq!((p.entity.as_str(), p.id()), ("invoice", Some("9")));
        let inv = p.invoice().unwrap().unwrap();
        assert_eq!(inv.total.unwrap().to_string(), "10.5");
        let bare = br#"{"payment_id":"4","amount":3}"#;
        assert_eq!(parse_webhook(bare).unwrap().entity, "payment");
        let form = b"JSONString=%7B%22creditnote%22%3A%7B%22creditnote_id%22%3A%227%22%7D%7D";
        let p = parse_webhook(form).unwrap();
        assert_eq!((p.entity.as_str(), p.id()), ("creditnote", Some("7")));
        assert!(parse_webhook(b"[1]").is_err());
    }

    #[test]
    fn unreadable_bodies_say_what_is_wrong_with_them() {
        let said = |body: &[u8]| parse_webhook(body).unwrap_err().to_string();
        let not_json = said(b"{{{");
        assert!(not_json.contains("neither JSON (") && not_json.contains("nor a form with a JSONString field"), "{not_json}");
        let bad_form = said(b"JSONString=%7Bnope");
        assert!(bad_form.contains("the body's JSONString field is not JSON"), "{bad_form}");
        let array = said(b"[1]");
        assert!(array.contains("not an object (it is an array)"), "{array}");
        let typed = parse_webhook(br#"{"invoice":{"invoice_id":"9","total":"lots"}}"#).unwrap().invoice().unwrap().unwrap_err().to_string();
        assert!(typed.contains("the invoice in the Books webhook does not fit Books' invoice"), "{typed}");
        for message in [not_json, bad_form, array, typed] {
            assert!(!message.contains("unexpected answer"), "a webhook body is not an answer: {message}");
        }
    }
}
