//! Contacts (customers, vendors) and their contact persons.

use futures_core::Stream;
use reqwest::Method;

use super::{
    Books, ListQuery, Message, UpsertOutcome,
    models::{Contact, ContactPerson},
};
use crate::error::Result;

impl Books {
    /// Contacts matching `query` (e.g. `contact_type=customer`, `email=…`), as a stream.
    pub fn contacts(&self, query: ListQuery) -> impl Stream<Item = Result<Contact>> + Send + 'static {
        self.list("/books/v3/contacts", "contacts", query)
    }

    /// One contact.
    pub async fn contact(&self, contact_id: &str) -> Result<Contact> {
        self.get_entity(format!("/books/v3/contacts/{contact_id}"), "contact").await
    }

    /// Creates a contact (with its contact persons). Not idempotent.
    pub async fn create_contact(&self, contact: &Contact) -> Result<Contact> {
        self.create("/books/v3/contacts".into(), "contact", contact, &[]).await
    }

    /// Creates or updates, in one call, the contact whose unique custom field `key_field`
    /// (api name, e.g. `cf_crm_account_id`) holds `key_value`, and says which happened.
    /// Idempotent, as [`Books::upsert_item`].
    pub async fn upsert_contact(&self, key_field: &str, key_value: &str, contact: &Contact) -> Result<(Contact, UpsertOutcome)> {
        self.upsert("/books/v3/contacts".into(), "contact", key_field, key_value, contact).await
    }

    /// Updates a contact with the fields set in `contact`.
    pub async fn update_contact(&self, contact_id: &str, contact: &Contact) -> Result<Contact> {
        self.update(format!("/books/v3/contacts/{contact_id}"), "contact", contact).await
    }

    /// Marks a contact active or inactive.
    pub async fn set_contact_active(&self, contact_id: &str, active: bool) -> Result<Message> {
        let state = if active { "active" } else { "inactive" };
        self.action(Method::POST, format!("/books/v3/contacts/{contact_id}/{state}"), true).await
    }

    /// Deletes a contact.
    pub async fn delete_contact(&self, contact_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/contacts/{contact_id}"), true).await
    }

    /// The contact persons of a contact.
    pub async fn contact_persons(&self, contact_id: &str) -> Result<Vec<ContactPerson>> {
        self.get_entity(format!("/books/v3/contacts/{contact_id}/contactpersons"), "contact_persons").await
    }

    /// Adds a contact person (`contact_id` must be set). Not idempotent.
    pub async fn create_contact_person(&self, person: &ContactPerson) -> Result<ContactPerson> {
        self.create("/books/v3/contacts/contactpersons".into(), "contact_person", person, &[]).await
    }

    /// Updates a contact person.
    pub async fn update_contact_person(&self, contact_person_id: &str, person: &ContactPerson) -> Result<ContactPerson> {
        self.update(format!("/books/v3/contacts/contactpersons/{contact_person_id}"), "contact_person", person).await
    }

    /// Deletes a contact person.
    pub async fn delete_contact_person(&self, contact_person_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/contacts/contactpersons/{contact_person_id}"), true).await
    }
}
