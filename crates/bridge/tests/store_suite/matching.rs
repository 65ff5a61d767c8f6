//! What customer matching keeps, as tests over any store: the directory of match keys
//! (`Directory`) and the review list (`Reviews`). Customer matching is only as good as
//! these look-ups, and a review decided twice or linked to a stranger would undo the
//! whole point of asking a person, so both back ends must keep the same contract.

use bridge::matching::Party;
use bridge::store::{
    Candidate, Directory, DirectoryEntry, Key, NewReview, RecordRef, Review, ReviewDecision, ReviewKind, ReviewStatus, Reviews, StoreError, System,
};

use super::T0;

/// A directory row for `system`/`module` built from raw values (keys computed by `Party`).
fn entry(system: System, module: &str, id: &str, name: &str, email: Option<&str>, country: Option<&str>, native: Option<&str>) -> DirectoryEntry {
    DirectoryEntry { system, module: module.into(), party: Party::new(id, name, email, country, native) }
}

/// A Books contact row.
fn contact(id: &str, name: &str, email: Option<&str>) -> DirectoryEntry {
    entry(System::Books, "contacts", id, name, email, None, None)
}

/// The ids of the rows found, in the order the store gave them.
fn ids(found: &[DirectoryEntry]) -> Vec<&str> {
    found.iter().map(|e| e.party.id.as_str()).collect()
}

/// A candidate with a reason.
fn candidate(id: &str, name: &str) -> Candidate {
    Candidate { id: id.into(), name: name.into(), why: format!("name {:?}", bridge::matching::name_key(name).unwrap_or_default()) }
}

/// An ambiguous `customer_sync` review of CRM account `account_id` with `candidates`.
fn ambiguous(account_id: &str, candidates: &[Candidate]) -> NewReview {
    NewReview {
        connection: "acme".into(),
        flow: "customer_sync".into(),
        record: RecordRef::crm("Accounts", account_id),
        kind: ReviewKind::Ambiguous,
        reason: format!("{} Books contacts share its name", candidates.len()),
        candidates: candidates.to_vec(),
    }
}

/// The ids of the reviews given, in order.
fn review_ids(reviews: &[Review]) -> Vec<i64> {
    reviews.iter().map(|r| r.id).collect()
}

/// Rows are found by email, by name key and by native id, only by the key asked for,
/// and with every key read back as it was put.
pub async fn directory_finds_by_email_name_and_native_id<S: Directory>(store: S) {
    let rows = [
        entry(System::Books, "contacts", "b-1", "Acme Inc.", Some("Billing@Acme.example"), Some("USA"), Some("crm-1")),
        entry(System::Books, "contacts", "b-2", "ACME", Some("ops@acme.example"), Some("Germany"), None),
        entry(System::Books, "contacts", "b-3", "Globex", None, None, Some("crm-3")),
    ];
    store.put_directory("acme", &rows, T0).await.expect("put_directory");

    let by_email = store.find_directory("acme", System::Books, "contacts", Key::Email("billing@acme.example")).await.expect("find by email");
    assert_eq!(by_email, vec![rows[0].clone()], "every key comes back as it was put");
    let by_name = store.find_directory("acme", System::Books, "contacts", Key::Name("acme")).await.expect("find by name");
    assert_eq!(ids(&by_name), ["b-1", "b-2"], "both Acmes, by record id");
    assert_eq!(by_name[1].party.country_key.as_deref(), Some("de"));
    let by_native = store.find_directory("acme", System::Books, "contacts", Key::Native("crm-3")).await.expect("find by native id");
    assert_eq!(ids(&by_native), ["b-3"]);

    // Only the key asked for is compared: an email is not a name, a name not a native id.
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Name("billing@acme.example")).await.expect("find").is_empty());
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Native("acme")).await.expect("find").is_empty());
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Email("nobody@acme.example")).await.expect("find").is_empty());
    // A row without an email is never found by an empty one.
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Email("")).await.expect("find").is_empty());
}

/// A second put of a record replaces its row (one row per record, the newest keys
/// win, also twice in one batch); connections, systems and modules do not see each
/// other's rows; remove deletes one row; count counts one module of one connection.
pub async fn directory_replaces_isolates_removes_and_counts<S: Directory>(store: S) {
    store.put_directory("acme", &[contact("b-1", "Old Name", Some("old@acme.example"))], T0).await.expect("put");
    store.put_directory("acme", &[contact("b-1", "New Name", Some("new@acme.example"))], T0 + 1).await.expect("put again");
    assert_eq!(store.directory_count("acme", System::Books, "contacts").await.expect("count"), 1, "one row per record");
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Email("old@acme.example")).await.expect("find").is_empty(), "old keys gone");
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Name("old name")).await.expect("find").is_empty());
    let found = store.find_directory("acme", System::Books, "contacts", Key::Email("new@acme.example")).await.expect("find");
    assert_eq!((ids(&found), found[0].party.name.as_str()), (vec!["b-1"], "New Name"));
    // A key that is gone in the newer version is cleared, not kept.
    store.put_directory("acme", &[contact("b-1", "New Name", None)], T0 + 2).await.expect("put without email");
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Email("new@acme.example")).await.expect("find").is_empty());
    // Twice in one batch: the later row wins.
    let batch = [contact("b-2", "First", None), contact("b-2", "Second", None)];
    store.put_directory("acme", &batch, T0 + 3).await.expect("put a batch");
    let found = store.find_directory("acme", System::Books, "contacts", Key::Name("second")).await.expect("find");
    assert_eq!(ids(&found), ["b-2"]);
    assert!(store.find_directory("acme", System::Books, "contacts", Key::Name("first")).await.expect("find").is_empty());
    assert_eq!(store.directory_count("acme", System::Books, "contacts").await.expect("count"), 2);

    // The same id and keys in another connection, another module and another system.
    store.put_directory("other", &[contact("b-1", "Shared", Some("shared@acme.example"))], T0).await.expect("put other connection");
    let crm = [
        entry(System::Crm, "Accounts", "b-1", "Shared", Some("shared@acme.example"), None, None),
        entry(System::Crm, "Contacts", "c-1", "Shared", Some("shared@acme.example"), None, None),
    ];
    store.put_directory("acme", &crm, T0).await.expect("put CRM rows");
    store.put_directory("acme", &[contact("b-9", "Shared", Some("shared@acme.example"))], T0).await.expect("put");
    let find = |connection: &'static str, system: System, module: &'static str| {
        let store = store.clone();
        async move { store.find_directory(connection, system, module, Key::Email("shared@acme.example")).await.expect("find") }
    };
    assert_eq!(ids(&find("acme", System::Books, "contacts").await), ["b-9"]);
    assert_eq!(ids(&find("other", System::Books, "contacts").await), ["b-1"]);
    assert_eq!(ids(&find("acme", System::Crm, "Accounts").await), ["b-1"]);
    assert_eq!(ids(&find("acme", System::Crm, "Contacts").await), ["c-1"]);
    assert!(find("nobody", System::Books, "contacts").await.is_empty());
    assert_eq!(store.directory_count("acme", System::Books, "contacts").await.expect("count"), 3);
    assert_eq!(store.directory_count("other", System::Books, "contacts").await.expect("count"), 1);
    assert_eq!(store.directory_count("acme", System::Crm, "Accounts").await.expect("count"), 1);
    assert_eq!(store.directory_count("acme", System::Books, "items").await.expect("count"), 0);

    // Remove takes one row of one connection and module; removing it again is no error.
    store.remove_directory("acme", System::Books, "contacts", "b-9").await.expect("remove");
    store.remove_directory("acme", System::Books, "contacts", "b-9").await.expect("remove again");
    assert!(find("acme", System::Books, "contacts").await.is_empty());
    assert_eq!(ids(&find("other", System::Books, "contacts").await), ["b-1"], "the other connection keeps its row");
    assert_eq!(ids(&find("acme", System::Crm, "Accounts").await), ["b-1"], "CRM keeps its row of the same id");
    assert_eq!(store.directory_count("acme", System::Books, "contacts").await.expect("count"), 2);

    // More than 50 rows under one key: 50 are returned (ambiguous all the same).
    let crowd: Vec<DirectoryEntry> = (0..60).map(|i| contact(&format!("crowd-{i:02}"), "Crowd Ltd", None)).collect();
    store.put_directory("acme", &crowd, T0).await.expect("put the crowd");
    let found = store.find_directory("acme", System::Books, "contacts", Key::Name("crowd")).await.expect("find");
    assert_eq!(found.len(), 50);
    assert_eq!((found[0].party.id.as_str(), found[49].party.id.as_str()), ("crowd-00", "crowd-49"), "by record id");
}

/// A backfill-sized put: 10,000 rows in one call are all kept and each is found by its
/// own keys.
pub async fn directory_takes_ten_thousand_entries<S: Directory>(store: S) {
    let rows: Vec<DirectoryEntry> = (0..10_000)
        .map(|i| {
            let email = format!("customer{i}@example.com");
            entry(System::Crm, "Accounts", &format!("a-{i}"), &format!("Customer {i} GmbH"), Some(&email), Some("DE"), Some(&format!("b-{i}")))
        })
        .collect();
    store.put_directory("acme", &rows, T0).await.expect("put 10,000 rows");
    assert_eq!(store.directory_count("acme", System::Crm, "Accounts").await.expect("count"), 10_000);
    for i in [0, 4_321, 9_999] {
        let want = rows[i].clone();
        let email = want.party.email_key.clone().expect("email key");
        assert_eq!(store.find_directory("acme", System::Crm, "Accounts", Key::Email(&email)).await.expect("find"), vec![want.clone()]);
        let name = want.party.name_key.clone().expect("name key");
        assert_eq!(name, format!("customer {i}"), "GmbH is a legal form");
        assert_eq!(store.find_directory("acme", System::Crm, "Accounts", Key::Name(&name)).await.expect("find"), vec![want.clone()]);
        assert_eq!(store.find_directory("acme", System::Crm, "Accounts", Key::Native(&format!("b-{i}"))).await.expect("find"), vec![want]);
    }
}

/// One review is open per record and flow: opening it again refreshes its kind, reason
/// and candidates under the same id; another flow or record gets its own.
pub async fn open_review_is_idempotent_per_open_record<S: Reviews>(store: S) {
    let first = ambiguous("a-1", &[candidate("b-1", "Acme"), candidate("b-2", "ACME Inc")]);
    let id = store.open_review(&first, T0).await.expect("open");
    let opened = store.review(id).await.expect("review").expect("the review");
    assert_eq!((opened.status, opened.created_ms, opened.updated_ms), (ReviewStatus::Open, T0, T0));
    assert_eq!((&opened.connection, &opened.flow, &opened.record), (&first.connection, &first.flow, &first.record));
    assert_eq!((opened.kind, &opened.reason, &opened.candidates), (ReviewKind::Ambiguous, &first.reason, &first.candidates));
    assert_eq!((opened.chosen_id, opened.decided_by, opened.note, opened.decided_ms), (None, None, None, None));

    let mut again = ambiguous("a-1", &[candidate("b-1", "Acme"), candidate("b-2", "ACME Inc"), candidate("b-3", "Acme LLC")]);
    again.reason = "3 Books contacts share its name".into();
    assert_eq!(store.open_review(&again, T0 + 10).await.expect("open again"), id, "the same review");
    let refreshed = store.review(id).await.expect("review").expect("the review");
    assert_eq!((refreshed.reason.as_str(), refreshed.candidates.len()), ("3 Books contacts share its name", 3));
    assert_eq!((refreshed.created_ms, refreshed.updated_ms), (T0, T0 + 10), "opened once, refreshed since");

    // The linked record was deleted meanwhile: the open review says so now.
    let deleted = NewReview { kind: ReviewKind::Deleted, reason: "the linked Books contact was deleted".into(), candidates: vec![], ..again.clone() };
    assert_eq!(store.open_review(&deleted, T0 + 20).await.expect("open as deleted"), id);
    let now = store.review(id).await.expect("review").expect("the review");
    assert_eq!((now.kind, now.candidates.len()), (ReviewKind::Deleted, 0));

    let other_record = store.open_review(&ambiguous("a-2", &first.candidates), T0).await.expect("open");
    let other_flow = store.open_review(&NewReview { flow: "other_sync".into(), ..first.clone() }, T0).await.expect("open");
    let other_connection = store.open_review(&NewReview { connection: "beta".into(), ..first.clone() }, T0).await.expect("open");
    let books_side = store.open_review(&NewReview { record: RecordRef::books("contacts", "a-1"), ..first.clone() }, T0).await.expect("open");
    let all = [id, other_record, other_flow, other_connection, books_side];
    let mut distinct = all.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), all.len(), "each record, flow and connection has its own review: {all:?}");
    assert_eq!(store.reviews(Some(ReviewStatus::Open), 100).await.expect("open reviews").len(), 5);
}

/// A decided review stays as decided; the record may get a new open review, and
/// `last_review` answers with the newest (open or decided) of that record and flow only.
pub async fn decided_reviews_allow_a_new_one_and_last_review_is_the_newest<S: Reviews>(store: S) {
    let record = RecordRef::crm("Accounts", "a-1");
    assert_eq!(store.last_review("acme", "customer_sync", &record).await.expect("last_review"), None);
    let candidates = [candidate("b-1", "Acme"), candidate("b-2", "Acme Inc")];
    let first = store.open_review(&ambiguous("a-1", &candidates), T0).await.expect("open");
    let linked = store.decide_review(first, &ReviewDecision::Link("b-2".into()), "ann", Some("same VAT number"), T0 + 5).await.expect("link");
    assert_eq!((linked.status, linked.chosen_id.as_deref()), (ReviewStatus::Linked, Some("b-2")));
    assert_eq!(
        (linked.decided_by.as_deref(), linked.note.as_deref(), linked.decided_ms, linked.updated_ms),
        (Some("ann"), Some("same VAT number"), Some(T0 + 5), T0 + 5)
    );
    assert_eq!(store.last_review("acme", "customer_sync", &record).await.expect("last_review"), Some(linked.clone()));

    // The link's Books contact is deleted later: a new review, and the first one stays.
    let deleted = NewReview { kind: ReviewKind::Deleted, reason: "b-2 was deleted in Books".into(), candidates: vec![], ..ambiguous("a-1", &[]) };
    let second = store.open_review(&deleted, T0 + 100).await.expect("open a second review");
    assert_ne!(second, first);
    assert_eq!(store.review(first).await.expect("review"), Some(linked), "the decided review is unchanged");
    let last = store.last_review("acme", "customer_sync", &record).await.expect("last_review").expect("a review");
    assert_eq!((last.id, last.status, last.kind), (second, ReviewStatus::Open, ReviewKind::Deleted));

    let created = store.decide_review(second, &ReviewDecision::Create, "bob", None, T0 + 200).await.expect("create");
    assert_eq!((created.status, created.chosen_id, created.note), (ReviewStatus::Created, None, None));
    let third = store.open_review(&ambiguous("a-1", &candidates), T0 + 300).await.expect("open a third review");
    let ignored = store.decide_review(third, &ReviewDecision::Ignore, "cy", Some("a test account"), T0 + 400).await.expect("ignore");
    assert_eq!(ignored.status, ReviewStatus::Ignored);
    assert_eq!(store.last_review("acme", "customer_sync", &record).await.expect("last_review"), Some(ignored));

    // Other records, flows and connections have no review of it.
    assert_eq!(store.last_review("acme", "customer_sync", &RecordRef::crm("Accounts", "a-2")).await.expect("last_review"), None);
    assert_eq!(store.last_review("acme", "customer_sync", &RecordRef::books("Accounts", "a-1")).await.expect("last_review"), None);
    assert_eq!(store.last_review("acme", "catalog_sync", &record).await.expect("last_review"), None);
    assert_eq!(store.last_review("beta", "customer_sync", &record).await.expect("last_review"), None);
}

/// `reviews(status, limit)` keeps one status (or all), oldest first, at most `limit`;
/// `count_reviews(status)` counts them.
pub async fn reviews_are_listed_by_status_oldest_first<S: Reviews>(store: S) {
    assert!(store.reviews(None, 100).await.expect("reviews").is_empty());
    assert_eq!(store.count_reviews(None).await.expect("count"), 0);
    let two = [candidate("b-1", "Acme"), candidate("b-2", "Acme")];
    let mut opened = Vec::new();
    for n in 0..6 {
        opened.push(store.open_review(&ambiguous(&format!("a-{n}"), &two), T0 + n).await.expect("open"));
    }
    store.decide_review(opened[1], &ReviewDecision::Link("b-1".into()), "ann", None, T0 + 10).await.expect("link");
    store.decide_review(opened[3], &ReviewDecision::Create, "ann", None, T0 + 11).await.expect("create");
    store.decide_review(opened[4], &ReviewDecision::Ignore, "ann", None, T0 + 12).await.expect("ignore");

    let listed = |status: Option<ReviewStatus>, limit: u32| {
        let store = store.clone();
        async move { review_ids(&store.reviews(status, limit).await.expect("reviews")) }
    };
    assert_eq!(listed(Some(ReviewStatus::Open), 100).await, [opened[0], opened[2], opened[5]]);
    assert_eq!(listed(Some(ReviewStatus::Open), 2).await, [opened[0], opened[2]], "the oldest two");
    assert_eq!(listed(Some(ReviewStatus::Linked), 100).await, [opened[1]]);
    assert_eq!(listed(Some(ReviewStatus::Created), 100).await, [opened[3]]);
    assert_eq!(listed(Some(ReviewStatus::Ignored), 100).await, [opened[4]]);
    assert_eq!(listed(None, 100).await, opened);
    assert_eq!(listed(None, 4).await, opened[..4]);
    assert!(listed(None, 0).await.is_empty());
    let statuses: Vec<ReviewStatus> = store.reviews(None, 100).await.expect("reviews").iter().map(|r| r.status).collect();
    use ReviewStatus::{Created, Ignored, Linked, Open};
    assert_eq!(statuses, [Open, Linked, Open, Created, Ignored, Open]);
    for (status, n) in [(Some(Open), 3), (Some(Linked), 1), (Some(Created), 1), (Some(Ignored), 1), (None, 6)] {
        assert_eq!(store.count_reviews(status).await.expect("count"), n, "{status:?}");
    }
}

/// A decision is taken once: a decided or unknown review is `NotFound`, a link to an id
/// that is not a candidate is `Refused` naming the candidates, and a refused decision
/// changes nothing.
pub async fn decide_refuses_decided_reviews_and_strangers<S: Reviews>(store: S) {
    let id = store.open_review(&ambiguous("a-1", &[candidate("b-1", "Acme"), candidate("b-2", "ACME")]), T0).await.expect("open");
    let before = store.review(id).await.expect("review").expect("the review");

    let err = store.decide_review(id, &ReviewDecision::Link("b-9".into()), "ann", None, T0 + 1).await.expect_err("b-9 is no candidate");
    let StoreError::Refused(message) = &err else { panic!("expected Refused, got {err:?}") };
    assert!(message.contains(&format!("review {id}")) && message.contains("b-9"), "{message}");
    assert!(message.contains("b-1") && message.contains("b-2"), "the candidates are named: {message}");
    assert_eq!(store.review(id).await.expect("review"), Some(before.clone()), "a refused decision changes nothing");

    // A review with no candidates (the linked record was deleted) cannot be linked at all.
    let deleted = NewReview { kind: ReviewKind::Deleted, reason: "deleted in Books".into(), candidates: vec![], ..ambiguous("a-2", &[]) };
    let empty = store.open_review(&deleted, T0).await.expect("open");
    assert!(matches!(store.decide_review(empty, &ReviewDecision::Link(String::new()), "ann", None, T0).await, Err(StoreError::Refused(_))));

    let linked = store.decide_review(id, &ReviewDecision::Link("b-1".into()), "ann", None, T0 + 2).await.expect("link");
    for decision in [ReviewDecision::Link("b-2".into()), ReviewDecision::Create, ReviewDecision::Ignore] {
        let err = store.decide_review(id, &decision, "bob", Some("changed my mind"), T0 + 3).await.expect_err("decided once");
        assert!(matches!(err, StoreError::NotFound(_)), "{decision:?}: {err:?}");
    }
    assert_eq!(store.review(id).await.expect("review"), Some(linked), "the first decision stands");
    assert!(matches!(store.decide_review(999_999, &ReviewDecision::Ignore, "ann", None, T0).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.review(999_999).await.expect("review"), None);
}

/// Names in any script and of any length come back as written, in the directory (with
/// their keys) and on the review list (reason, candidates, who decided and their note).
pub async fn unicode_and_long_names_round_trip<S: Directory + Reviews>(store: S) {
    let long = format!("Société Générale {} Ltd", "Ünïcødé 東京 🚀 ".repeat(400));
    let names =
        ["Société Générale S.A.", "株式会社 東京商事", "Ölçek Ağ Hizmetleri", "Rocket 🚀 Labs", "Ω\u{301} «quoted» \"double\" 'single' \\ back", long.as_str()];
    let rows: Vec<DirectoryEntry> = names
        .iter()
        .enumerate()
        .map(|(i, name)| entry(System::Books, "contacts", &format!("u-{i}"), name, Some(&format!("Ünï{i}@Exämple.com")), Some("Österreich"), None))
        .collect();
    store.put_directory("acme", &rows, T0).await.expect("put");
    for row in &rows {
        let name_key = row.party.name_key.clone().expect("a name key");
        let found = store.find_directory("acme", System::Books, "contacts", Key::Name(&name_key)).await.expect("find by name");
        assert_eq!(found, vec![row.clone()], "{:?}", row.party.name);
        let email_key = row.party.email_key.clone().expect("an email key");
        assert_eq!(store.find_directory("acme", System::Books, "contacts", Key::Email(&email_key)).await.expect("find by email"), vec![row.clone()]);
        assert_eq!(row.party.country_key.as_deref(), Some("at"));
    }
    assert!(rows[5].party.name.chars().count() > 5_000, "the long name is long");

    let candidates: Vec<Candidate> =
        names.iter().enumerate().map(|(i, name)| Candidate { id: format!("u-{i}"), name: name.to_string(), why: format!("nom «{name}»") }).collect();
    let review = NewReview { reason: format!("{} candidats: {long}", candidates.len()), ..ambiguous("ä-1 🚀", &candidates) };
    let id = store.open_review(&review, T0).await.expect("open");
    let opened = store.review(id).await.expect("review").expect("the review");
    assert_eq!((&opened.record, &opened.reason, &opened.candidates), (&review.record, &review.reason, &review.candidates));
    let decided = store.decide_review(id, &ReviewDecision::Link("u-5".into()), "Zoë Ångström", Some(long.as_str()), T0 + 1).await.expect("link");
    assert_eq!(
        (decided.chosen_id.as_deref(), decided.decided_by.as_deref(), decided.note.as_deref()),
        (Some("u-5"), Some("Zoë Ångström"), Some(long.as_str()))
    );
    assert_eq!(store.last_review("acme", "customer_sync", &review.record).await.expect("last_review"), Some(decided));
}
