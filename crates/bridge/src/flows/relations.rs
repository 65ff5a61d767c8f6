//! The relations links are kept in: named, directed pairs of a CRM module and a Books
//! entity.
//!
//! A link ties one CRM record to one Books record *in one relation*, so a deal can be
//! linked to its invoice (`deal_invoice`) and to its credit note (`deal_creditnote`) at
//! once, and a Books invoice to its deal and to its follow-up CRM task (`invoice_task`).
//! The store keeps the relation's name; flows use these constants, so a name is written
//! once.

/// A named, directed pair: CRM module ⇄ Books entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The name links are stored under (`product_item`).
    pub name: &'static str,
    /// The CRM side (`Products`).
    pub crm_module: &'static str,
    /// The Books side (`items`).
    pub books_entity: &'static str,
}

/// CRM Product ⇄ Books item (`catalog_sync`).
pub const PRODUCT_ITEM: Relation = Relation { name: "product_item", crm_module: "Products", books_entity: "items" };
/// CRM Account ⇄ Books contact (customer).
pub const ACCOUNT_CONTACT: Relation = Relation { name: "account_contact", crm_module: "Accounts", books_entity: "contacts" };
/// CRM Account in another currency → its per-currency Books customer (`Name (EUR)`,
/// `money.currency.policy = "per_currency_customer"`). The CRM side of such a link is the
/// account id and the currency code, `<account id>-<CUR>` (see `order::currency_key`),
/// as the customer's unique custom field holds it.
pub const ACCOUNT_CURRENCY_CONTACT: Relation = Relation { name: "account_currency_contact", crm_module: "Accounts", books_entity: "contacts" };
/// CRM Contact ⇄ Books contact person.
pub const CONTACT_PERSON: Relation = Relation { name: "contact_person", crm_module: "Contacts", books_entity: "contactpersons" };
/// CRM Deal → Books invoice.
pub const DEAL_INVOICE: Relation = Relation { name: "deal_invoice", crm_module: "Deals", books_entity: "invoices" };
/// CRM Deal → Books credit note.
pub const DEAL_CREDITNOTE: Relation = Relation { name: "deal_creditnote", crm_module: "Deals", books_entity: "creditnotes" };
/// CRM Quote → Books invoice.
pub const QUOTE_INVOICE: Relation = Relation { name: "quote_invoice", crm_module: "Quotes", books_entity: "invoices" };
/// CRM Task ← Books invoice (the follow-up of an overdue invoice).
pub const INVOICE_TASK: Relation = Relation { name: "invoice_task", crm_module: "Tasks", books_entity: "invoices" };
/// CRM Price Book ⇄ Books price list.
pub const PRICEBOOK_PRICELIST: Relation = Relation { name: "pricebook_pricelist", crm_module: "Price_Books", books_entity: "pricebooks" };

/// Every relation, for look-ups by name (admin commands).
pub const ALL: &[Relation] =
    &[PRODUCT_ITEM, ACCOUNT_CONTACT, ACCOUNT_CURRENCY_CONTACT, CONTACT_PERSON, DEAL_INVOICE, DEAL_CREDITNOTE, QUOTE_INVOICE, INVOICE_TASK, PRICEBOOK_PRICELIST];

/// The relation named `name`.
pub fn by_name(name: &str) -> Option<Relation> {
    ALL.iter().copied().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut names: Vec<&str> = ALL.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(by_name("deal_invoice"), Some(DEAL_INVOICE));
        assert_eq!(by_name("nope"), None);
    }
}
