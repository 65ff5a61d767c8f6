//! The decision for one record, from what the store holds: its link, the directory's
//! candidates of one page of records, and their links.
//!
//! The order is the live flow's (`customer_sync`, see [`crate::matching`]): the link, the
//! native fields, the email, the name in the same country; a candidate linked to another
//! record is not one; two or more at one step is a review. The candidates of a whole page
//! are read in one statement ([`Directory::find_directory_any`](crate::store::Directory))
//! and grouped here by key, so deciding a page costs two statements, not four per record.

use std::collections::HashMap;

use crate::{
    matching::{self, Decision, Party, Rule},
    store::{DirectoryEntry, Key, Link},
};

use super::report::Action;

/// What was decided for one record (the report line without its identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What happens.
    pub action: Action,
    /// The step that answered.
    pub rule: Option<&'static str>,
    /// Candidates, when ambiguous.
    pub candidates: Vec<String>,
    /// The record it is linked to, or will be.
    pub other_id: Option<String>,
    /// Why, when skipped.
    pub reason: Option<String>,
}

impl Verdict {
    /// Already linked to `other`.
    pub fn linked(other: &str) -> Verdict {
        Verdict { action: Action::Update, rule: Some(Rule::Link.as_str()), candidates: Vec::new(), other_id: Some(other.to_string()), reason: None }
    }

    /// What a matching decision means: link, review, or (no match) create when `create`
    /// is on, else skip.
    pub fn of(decision: Decision, create: bool) -> Verdict {
        match decision {
            Decision::Matched { rule, id } => {
                Verdict { action: Action::Link, rule: Some(rule.as_str()), candidates: Vec::new(), other_id: Some(id), reason: None }
            }
            Decision::Ambiguous { rule, candidates } => Verdict { action: Action::Review, rule: Some(rule.as_str()), candidates, other_id: None, reason: None },
            Decision::NoMatch if create => Verdict { action: Action::Create, rule: None, candidates: Vec::new(), other_id: None, reason: None },
            Decision::NoMatch => Verdict::skip("no match, and creating on the other side is off in the config".into()),
        }
    }

    /// Nothing is done, because `reason`.
    pub fn skip(reason: String) -> Verdict {
        Verdict { action: Action::Skip, rule: None, candidates: Vec::new(), other_id: None, reason: Some(reason) }
    }

    /// Whether its record is linked, or will be, to a record of the other side.
    pub fn takes(&self) -> bool {
        matches!(self.action, Action::Link | Action::Update)
    }
}

/// The directory rows of one side read for a page, grouped by key.
#[derive(Debug, Default)]
pub struct Candidates {
    rows: Vec<Party>,
    by_id: HashMap<String, usize>,
    by_native: HashMap<String, Vec<usize>>,
    by_email: HashMap<String, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Candidates {
    /// Groups `rows` by their keys.
    pub fn new(rows: Vec<DirectoryEntry>) -> Candidates {
        let mut c = Candidates::default();
        for (i, e) in rows.into_iter().enumerate() {
            let p = e.party;
            c.by_id.insert(p.id.clone(), i);
            for (map, key) in [(&mut c.by_native, &p.native_id), (&mut c.by_email, &p.email_key), (&mut c.by_name, &p.name_key)] {
                if let Some(k) = key {
                    map.entry(k.clone()).or_default().push(i);
                }
            }
            c.rows.push(p);
        }
        c
    }

    /// Every row.
    pub fn rows(&self) -> &[Party] {
        &self.rows
    }

    /// The row with this id.
    pub fn get(&self, id: &str) -> Option<&Party> {
        self.by_id.get(id).map(|&i| &self.rows[i])
    }

    fn with(&self, map: &HashMap<String, Vec<usize>>, key: &str) -> impl Iterator<Item = &Party> {
        map.get(key).into_iter().flatten().map(|&i| &self.rows[i])
    }

    /// The keys to read the other side's candidates of `parties` by (their id is the
    /// other side's native value, their native value the other side's id).
    pub fn keys_of(parties: &[Party]) -> Vec<Key<'_>> {
        let mut keys = Vec::with_capacity(parties.len() * 4);
        for p in parties {
            keys.push(Key::Native(&p.id));
            if let Some(n) = &p.native_id {
                keys.push(Key::Id(n));
            }
            if let Some(e) = &p.email_key {
                keys.push(Key::Email(e));
            }
            if let Some(n) = &p.name_key {
                keys.push(Key::Name(n));
            }
        }
        keys
    }
}

/// The links read for a page, both ways.
#[derive(Debug, Default)]
pub struct Links {
    by_crm: HashMap<String, String>,
    by_books: HashMap<String, String>,
}

impl Links {
    /// Indexes `links` by both ids.
    pub fn new(links: Vec<Link>) -> Links {
        let mut l = Links::default();
        for link in links {
            l.by_books.insert(link.books_id.clone(), link.crm_id.clone());
            l.by_crm.insert(link.crm_id, link.books_id);
        }
        l
    }

    /// The Books record CRM record `id` is linked to.
    pub fn of_crm(&self, id: &str) -> Option<&str> {
        self.by_crm.get(id).map(String::as_str)
    }

    /// The CRM record Books record `id` is linked to.
    pub fn of_books(&self, id: &str) -> Option<&str> {
        self.by_books.get(id).map(String::as_str)
    }
}

/// The matching order for `me` over `candidates` (the other side's rows read for its
/// page): native field (mine names one that exists, then theirs name me), email, name in
/// the same country. `free(candidate)` says whether a candidate may be matched (not
/// linked to another record, not taken by another decision).
pub fn matching_order(me: &Party, candidates: &Candidates, free: impl Fn(&Party) -> bool) -> Decision {
    if let Some(native) = &me.native_id
        && let Some(c) = candidates.get(native)
        && free(c)
    {
        return Decision::Matched { rule: Rule::Native, id: c.id.clone() };
    }
    let pick = |found: Vec<Party>, rule: Rule| matching::step(rule, &found);
    let naming: Vec<Party> = candidates.with(&candidates.by_native, &me.id).filter(|c| free(c)).cloned().collect();
    if let Some(d) = pick(naming, Rule::Native) {
        return d;
    }
    if let Some(email) = &me.email_key {
        let found: Vec<Party> = candidates.with(&candidates.by_email, email).filter(|c| free(c)).cloned().collect();
        if let Some(d) = pick(found, Rule::Email) {
            return d;
        }
    }
    if let Some(name) = &me.name_key {
        let found: Vec<Party> = candidates.with(&candidates.by_name, name).filter(|c| me.same_name(c) && free(c)).cloned().collect();
        if let Some(d) = pick(found, Rule::Name) {
            return d;
        }
    }
    Decision::NoMatch
}

/// A CRM account's verdict: its link, else the matching order over Books candidates not
/// linked to another account.
pub fn account(me: &Party, books: &Candidates, links: &Links, create_in_books: bool) -> Verdict {
    if let Some(other) = links.of_crm(&me.id) {
        return Verdict::linked(other);
    }
    let decision = matching_order(me, books, |c| links.of_books(&c.id).is_none_or(|crm| crm == me.id));
    Verdict::of(decision, create_in_books)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::System;

    fn row(id: &str, name: &str, email: Option<&str>, country: Option<&str>, native: Option<&str>) -> DirectoryEntry {
        DirectoryEntry { system: System::Books, module: "contacts".into(), party: Party::new(id, name, email, country, native) }
    }

    fn link(crm: &str, books: &str) -> Link {
        Link {
            connection: "c".into(),
            relation: "account_contact".into(),
            crm_id: crm.into(),
            books_id: books.into(),
            crm_hash: None,
            books_hash: None,
            updated_ms: 0,
        }
    }

    #[test]
    fn the_order_is_link_native_email_name_and_two_at_one_step_is_a_review() {
        let books = Candidates::new(vec![
            row("b1", "Acme Inc", Some("ann@acme.test"), Some("US"), None),
            row("b2", "ACME", None, Some("USA"), None),
            row("b3", "Acme", None, Some("Germany"), None),
            row("b4", "Globex", None, None, Some("a9")),
            row("b5", "Initech", Some("bob@initech.test"), None, None),
            row("b6", "Initech Ltd", Some("BOB@initech.test"), None, None),
        ]);
        let none = Links::default();
        let acme = Party::new("a1", "Acme", Some("ANN@acme.test "), Some("United States"), None);
        assert_eq!(account(&acme, &books, &none, true).other_id.as_deref(), Some("b1"), "the email answers before the name");
        let acme_no_email = Party::new("a2", "Acme", None, Some("us"), None);
        let v = account(&acme_no_email, &books, &none, true);
        assert_eq!((v.action, v.rule, v.candidates), (Action::Review, Some("name"), vec!["b1".to_string(), "b2".to_string()]), "b3 is in another country");
        let acme_de = Party::new("a3", "Acme GmbH", None, Some("DE"), None);
        assert_eq!(account(&acme_de, &books, &none, true).other_id.as_deref(), Some("b3"));
        let named = Party::new("a9", "Whatever", None, None, None);
        assert_eq!(account(&named, &books, &none, true).rule, Some("native"), "b4 names a9 in its native field");
        let mine = Party::new("a5", "Initech", None, None, Some("b6"));
        assert_eq!(account(&mine, &books, &none, true).other_id.as_deref(), Some("b6"), "my native field names b6");
        let both = Party::new("a6", "Other", Some("bob@initech.test"), None, None);
        assert_eq!(account(&both, &books, &none, true).action, Action::Review, "two contacts with one email");
        let nobody = Party::new("a7", "Nobody", None, None, None);
        assert_eq!(account(&nobody, &books, &none, true).action, Action::Create);
        assert_eq!(account(&nobody, &books, &none, false).action, Action::Skip);
    }

    #[test]
    fn a_candidate_linked_to_another_record_is_not_one() {
        let books = Candidates::new(vec![row("b1", "Acme", None, None, None), row("b2", "Acme", None, None, None)]);
        let links = Links::new(vec![link("other", "b1")]);
        let acme = Party::new("a1", "Acme", None, None, None);
        assert_eq!(account(&acme, &books, &links, true).other_id.as_deref(), Some("b2"), "b1 is taken: b2 is the only candidate");
        let links = Links::new(vec![link("a1", "b9")]);
        assert_eq!(account(&acme, &books, &links, true), Verdict::linked("b9"), "a link answers first");
    }
}
