//! The related lists of each emulated module: what `GET /{module}/{id}/{list}` returns and
//! how `/settings/related_lists` and a module's metadata describe it.
//!
//! One table, so that a list the metadata announces can always be read, and a list that can
//! be read is always announced. Only the lists whose records the emulator holds are here
//! (Zoho also has Notes, Attachments, Activities, … which the emulator does not serve).

use crate::crm::schema;

/// Where a related list's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Records of `module` whose lookup `field` names the parent record
    /// (e.g. an account's contacts: Contacts whose `Account_Name` is the account).
    Lookup {
        /// The module of the listed records.
        module: &'static str,
        /// Their lookup field pointing at the parent.
        field: &'static str,
    },
    /// The products linked to the parent (a deal's or a price book's), with the link's
    /// `list_price` and `quantity`.
    LinkedProducts,
    /// The records of `module` that link the parent product (a product's price books or deals),
    /// with the link's `list_price` and `quantity`.
    Linking {
        /// The module holding the product links.
        module: &'static str,
    },
    /// The contact a deal names in `Contact_Name`: Zoho adds a deal's contact to the deal's
    /// contact roles, with no role until one is given.
    DealContact,
}

/// One related list of one module.
#[derive(Debug)]
pub struct RelatedList {
    /// The module whose records have this list.
    pub parent: &'static str,
    /// The list's API name, the last segment of `/{module}/{id}/{api_name}`.
    pub api_name: &'static str,
    /// Label shown in the UI.
    pub display_label: &'static str,
    /// Zoho's internal name of the list.
    pub name: &'static str,
    /// The module of the listed records.
    pub module: &'static str,
    /// Where the records come from.
    pub source: Source,
}

/// A list of the records of module `api_name` (also the list's name and label) whose lookup
/// `field` names the parent.
const fn lookup(parent: &'static str, api_name: &'static str, name: &'static str, field: &'static str) -> RelatedList {
    RelatedList { parent, api_name, display_label: api_name, name, module: api_name, source: Source::Lookup { module: api_name, field } }
}

/// Every related list the emulator serves, grouped by parent module, in Zoho's order.
pub static RELATED_LISTS: &[RelatedList] = &[
    lookup("Accounts", "Contacts", "Contacts", "Account_Name"),
    lookup("Accounts", "Deals", "Potentials", "Account_Name"),
    lookup("Accounts", "Quotes", "Quotes", "Account_Name"),
    lookup("Contacts", "Deals", "Potentials", "Contact_Name"),
    lookup("Contacts", "Quotes", "Quotes", "Contact_Name"),
    RelatedList {
        parent: "Deals",
        api_name: "Contact_Roles",
        display_label: "Contact Roles",
        name: "ContactRoles",
        module: "Contacts",
        source: Source::DealContact,
    },
    RelatedList { parent: "Deals", api_name: "Products", display_label: "Products", name: "Products", module: "Products", source: Source::LinkedProducts },
    lookup("Deals", "Quotes", "Quotes", "Deal_Name"),
    RelatedList {
        parent: "Products",
        api_name: "Price_Books",
        display_label: "Price Books",
        name: "PriceBooks",
        module: "Price_Books",
        source: Source::Linking { module: "Price_Books" },
    },
    RelatedList {
        parent: "Products",
        api_name: "Deals",
        display_label: "Deals",
        name: "Potentials",
        module: "Deals",
        source: Source::Linking { module: "Deals" },
    },
    RelatedList {
        parent: "Price_Books",
        api_name: "Products",
        display_label: "Products",
        name: "Products",
        module: "Products",
        source: Source::LinkedProducts,
    },
];

/// The related lists of `module` (its API name), in order.
pub fn of(module: &str) -> impl Iterator<Item = (usize, &'static RelatedList)> + '_ {
    RELATED_LISTS.iter().filter(move |l| l.parent == module).enumerate()
}

/// The related list `api_name` of `module` (the list name matched without regard to case).
pub fn find(module: &str, api_name: &str) -> Option<&'static RelatedList> {
    RELATED_LISTS.iter().find(|l| l.parent == module && l.api_name.eq_ignore_ascii_case(api_name))
}

/// A stable digit-string id for the `n`th related list of `module`: the module's id moved into
/// a range of its own, so it cannot collide with module, field or record ids.
pub fn id(module: &schema::Module, n: usize) -> String {
    let base: u64 = module.id.parse().unwrap_or(0);
    (base + 10_000_000 * (n as u64 + 1)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_joins_modules_the_emulator_serves() {
        for l in RELATED_LISTS {
            assert!(schema::module(l.parent).is_some(), "{} has no module", l.parent);
            assert!(schema::module(l.module).is_some(), "{}/{} lists an unknown module", l.parent, l.api_name);
            if let Source::Lookup { module, field } = l.source {
                let kind = schema::module(module).and_then(|m| m.field(field)).map(|f| f.kind);
                assert_eq!(kind, Some(schema::Kind::Lookup(l.parent)), "{}/{}", l.parent, l.api_name);
            }
        }
    }

    #[test]
    fn ids_are_distinct_digit_strings() {
        let mut ids: Vec<String> = schema::MODULES.iter().flat_map(|m| of(m.api_name).map(move |(n, _)| id(m, n))).collect();
        assert!(ids.iter().all(|i| i.len() == 19 && i.bytes().all(|b| b.is_ascii_digit())), "{ids:?}");
        let before = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), before);
        assert_eq!(find("Accounts", "contacts").map(|l| l.module), Some("Contacts"));
        assert!(find("Tasks", "Contacts").is_none());
    }
}
