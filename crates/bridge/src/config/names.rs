//! The module and entity names a config file may use, and "did you mean" for the rest.
//!
//! A misspelt module (`Prodcuts`) would load fine and then never match an event: routes
//! compare module names exactly, a poller would fail on every round, a channel would be
//! refused by CRM. So names are checked at load:
//!
//! - **CRM modules** are accepted when they are a standard API name ([`CRM_MODULES`]),
//!   listed in `[zoho] custom_modules`, or far enough from every standard name not to be
//!   a misspelling of one (real CRMs have custom modules the engine cannot know). A
//!   near miss ([`near_miss`]: the same letters in another case, or one edit away, two
//!   for standard names of ten characters or more, a swap of two neighbours counting as
//!   one edit) is refused with the name it is close to; a custom module that really is
//!   that close to a standard one goes in `custom_modules`.
//! - **Books entities** must be one the engine reads ([`BOOKS_ENTITIES`]), as Books has
//!   no custom entities; a near miss is suggested.

/// The standard CRM v8 module API names (as in `/crm/v8/{module}` and Notification API
/// events). Custom modules come on top, in `[zoho] custom_modules`.
pub const CRM_MODULES: &[&str] = &[
    "Leads",
    "Contacts",
    "Accounts",
    "Deals",
    "Tasks",
    "Events",
    "Calls",
    "Products",
    "Quotes",
    "Sales_Orders",
    "Purchase_Orders",
    "Invoices",
    "Campaigns",
    "Vendors",
    "Price_Books",
    "Cases",
    "Solutions",
    "Notes",
    "Attachments",
    "Appointments__s",
    "Services__s",
    "Visits",
];

/// The Books entities the engine's triggers read (webhooks, pollers, routes), by the
/// name events carry.
pub const BOOKS_ENTITIES: &[&str] = &["invoices", "customerpayments", "creditnotes", "estimates", "salesorders", "items", "contacts"];

/// What is wrong with CRM module `name`, given the configured custom modules; `None`
/// when it is accepted (see the module doc for the rule).
pub fn crm_module_problem(name: &str, custom_modules: &[String]) -> Option<String> {
    if name.trim().is_empty() {
        return Some("empty: a CRM module API name such as Deals".into());
    }
    if CRM_MODULES.contains(&name) || custom_modules.iter().any(|m| m == name) {
        return None;
    }
    near_miss(name, CRM_MODULES).map(|known| {
        format!("{name:?} is not a CRM module: did you mean {known}? (a custom module this close to a standard one: list it in zoho.custom_modules)")
    })
}

/// What is wrong with Books entity `name`; `None` when the engine knows it.
pub fn books_entity_problem(name: &str) -> Option<String> {
    if BOOKS_ENTITIES.contains(&name) {
        return None;
    }
    let known = BOOKS_ENTITIES.join(", ");
    Some(match near_miss(name, BOOKS_ENTITIES) {
        Some(near) => format!("{name:?} is not a Books entity the engine reads: did you mean {near}? ({known})"),
        None => format!("{name:?} is not a Books entity the engine reads ({known})"),
    })
}

/// The name of `known` that `name` is a near miss of, the closest first: equal but for
/// case, or one edit (insert, delete, replace, swap of neighbours) away, two when the
/// known name has ten characters or more.
pub fn near_miss<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .filter(|k| **k != name)
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= if k.chars().count() >= 10 { 2 } else { 1 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edits (insert, delete, replace, swap of two neighbours) turning `a` into `b`: the
/// optimal string alignment distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_of_standard_modules_are_refused_with_a_suggestion() {
        assert_eq!(near_miss("Prodcuts", CRM_MODULES), Some("Products"));
        assert_eq!(near_miss("deals", CRM_MODULES), Some("Deals"));
        assert_eq!(near_miss("Deal", CRM_MODULES), Some("Deals"));
        assert_eq!(near_miss("SalesOrders", CRM_MODULES), Some("Sales_Orders"));
        assert_eq!(near_miss("Price_Book", CRM_MODULES), Some("Price_Books"));
        assert_eq!(near_miss("Contcats", CRM_MODULES), Some("Contacts"));
        let e = crm_module_problem("Prodcuts", &[]).unwrap();
        assert!(e.starts_with("\"Prodcuts\" is not a CRM module: did you mean Products?"), "{e}");
    }

    #[test]
    fn standard_custom_and_distant_names_are_accepted() {
        for m in CRM_MODULES {
            assert_eq!(crm_module_problem(m, &[]), None, "{m}");
        }
        // Custom modules nobody could mistake for a standard one.
        for m in ["Projects", "Cars", "Subscriptions__c", "Shipments", "Leases"] {
            assert_eq!(crm_module_problem(m, &[]), None, "{m}");
        }
        // A custom module close to a standard one is accepted once listed.
        assert!(crm_module_problem("Deal", &[]).is_some());
        assert_eq!(crm_module_problem("Deal", &["Deal".into()]), None);
        assert!(crm_module_problem(" ", &[]).is_some());
    }

    #[test]
    fn books_entities_are_the_ones_the_engine_reads() {
        for e in BOOKS_ENTITIES {
            assert_eq!(books_entity_problem(e), None);
            assert!(crate::triggers::poller::books_stream_known(e), "{e}");
            assert!(crate::triggers::events::books_id_field(e).is_some(), "{e}");
        }
        let e = books_entity_problem("invoice").unwrap();
        assert!(e.contains("did you mean invoices?"), "{e}");
        let e = books_entity_problem("widgets").unwrap();
        assert!(e.starts_with("\"widgets\" is not a Books entity the engine reads (invoices,"), "{e}");
    }

    #[test]
    fn edit_distance_counts_a_swap_once() {
        assert_eq!(edit_distance("prodcuts", "products"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
