//! The webhook receiver: the HTTP endpoints Zoho calls when something changes.
//!
//! | route | caller | authentication |
//! |---|---|---|
//! | `POST /hooks/crm/notify` | CRM Notification API callbacks | the channel's `token`, compared in constant time with the one registered for `channel_id` |
//! | `POST /hooks/crm/workflow` | CRM workflow-rule webhooks | shared secret: header `X-Zoho-Bridge-Secret` or query `secret` |
//! | `POST /hooks/books` | Books workflow webhooks | shared secret: header `X-Zoho-Bridge-Secret` or query `secret` |
//!
//! Every accepted event is in the inbox, with its jobs, before the 2xx goes back; a
//! repeated delivery answers 200 and stores nothing new.
//!
//! Deliveries arriving together are stored together: the handlers hand their events to
//! one intake task, which stores every delivery waiting in one transaction
//! ([`Store::add_events`]) and then answers each handler. One commit per delivery capped
//! intake at 450–540 webhooks/s (zero-latency emulator, SQLite with `synchronous =
//! FULL`: a disk sync per commit); one commit per group pays that sync once for the
//! group, and no delivery is acknowledged before the commit that holds it. If a group is
//! refused, each delivery is stored on its own, so one bad delivery does not refuse the
//! others. Refusals: 400 with what was
//! wrong and where (`{"error": "...", "at": "$.ids[0]"}`), 401 when no token or secret
//! was presented, 403 when it is wrong (or the endpoint has no secret configured), 413
//! when the body is over `webhooks.max_body_bytes` (after the secret is checked, on the
//! routes that have one), 500 when the store failed (the poller will pick the change up
//! later). Every refusal is JSON with an `error`. Nothing refused is enqueued, and no
//! secret or token is ever logged.
//!
//! # CRM workflow webhook
//!
//! Body: JSON (or a form with the same names) with `module` (the module API name),
//! `id` (the record id) and, recommended, `modified_time` (the record's
//! `Modified_Time`, so that a webhook and the poller seeing the same change collapse
//! into one event). Other fields are kept in the event's payload. In CRM: Setup →
//! Automation → Actions → Webhooks → Configure Webhook:
//!
//! ```text
//! Method:          POST
//! URL to notify:   https://bridge.example.com/hooks/crm/workflow
//! Authorization:   General; Header  X-Zoho-Bridge-Secret = <webhooks.crm_workflow_secret>
//! Body:            Raw, JSON:
//!   {"module": "Deals", "id": "${Deals.Deal Id}", "modified_time": "${Deals.Modified Time}"}
//! ```
//!
//! and attach the webhook to a workflow rule on the module ("on create or edit").
//!
//! # Books webhook
//!
//! Books' default payload (`{"invoice": {...}}`, `{"payment": {...}}`,
//! `{"contact": {...}}`, `{"item": {...}}`, …) or the `JSONString=` form. The event
//! is keyed by the entity's id and `last_modified_time`. In Books: Settings →
//! Automation → Webhooks, URL `https://bridge.example.com/hooks/books`, a custom header
//! `X-Zoho-Bridge-Secret` (or `?secret=` in the URL), "default payload", attached to
//! workflow rules on the entities you sync.

use std::sync::{Arc, OnceLock};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::{
    channels::ChannelTokens,
    clock::Clock,
    config::TriggerConfig,
    events::{BadBody, CrmCallback, books_event, crm_workflow_event},
    secret::SecretString,
};
use crate::store::{Inserted, NewEvent, NewJob, Store, StoreResult};

/// The header carrying the shared secret.
pub const SECRET_HEADER: &str = "x-zoho-bridge-secret";
/// The query parameter carrying the shared secret (when headers cannot be set).
pub const SECRET_PARAM: &str = "secret";

/// Most deliveries stored in one transaction.
const INTAKE_BATCH: usize = 256;

/// Deliveries waiting for the intake task before handlers wait to hand theirs over.
const INTAKE_QUEUE: usize = 1_024;

struct Receiver<S> {
    store: S,
    config: TriggerConfig,
    tokens: ChannelTokens,
    clock: Clock,
    /// The intake task's queue, started by the first delivery (handlers run inside the
    /// runtime; building the router need not).
    intake: OnceLock<mpsc::Sender<Delivery>>,
}

/// One delivery's events (each with its routed jobs), and where to say what storing them
/// did.
struct Delivery {
    events: Vec<(NewEvent, Vec<NewJob>)>,
    reply: oneshot::Sender<StoreResult<Vec<Inserted>>>,
}

impl<S: Store> Receiver<S> {
    /// Stores one delivery's events through the intake task: all or none, durable when
    /// this returns `Ok`.
    async fn store(&self, events: Vec<(NewEvent, Vec<NewJob>)>) -> StoreResult<Vec<Inserted>> {
        let intake = self.intake.get_or_init(|| {
            let (sender, queue) = mpsc::channel(INTAKE_QUEUE);
            tokio::spawn(intake(self.store.clone(), self.clock.clone(), queue));
            sender
        });
        let (reply, answer) = oneshot::channel();
        let gone = || crate::store::StoreError::Database("the webhook intake stopped".into());
        intake.send(Delivery { events, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The intake task: stores every delivery waiting in one transaction, then answers each;
/// ends when the router (every sender) is gone.
async fn intake<S: Store>(store: S, clock: Clock, mut queue: mpsc::Receiver<Delivery>) {
    let mut waiting = Vec::new();
    while queue.recv_many(&mut waiting, INTAKE_BATCH).await > 0 {
        store_deliveries(&store, &clock, std::mem::take(&mut waiting)).await;
    }
}

/// Stores `deliveries` in one transaction and answers each with its own events' fate;
/// when the transaction is refused, stores each delivery on its own instead.
async fn store_deliveries<S: Store>(store: &S, clock: &Clock, deliveries: Vec<Delivery>) {
    if deliveries.len() > 1 {
        let all: Vec<(NewEvent, Vec<NewJob>)> = deliveries.iter().flat_map(|d| d.events.iter().cloned()).collect();
        match store.add_events(&all, clock.now_ms()).await {
            Ok(inserted) if inserted.len() == all.len() => {
                let mut inserted = inserted.into_iter();
                for delivery in deliveries {
                    let own = inserted.by_ref().take(delivery.events.len()).collect();
                    // A handler whose caller hung up no longer waits: nothing to tell.
                    let _ = delivery.reply.send(Ok(own));
                }
                return;
            }
            Ok(inserted) => {
                tracing::error!(events = all.len(), answers = inserted.len(), "the store answered for the wrong number of events; storing each delivery alone")
            }
            Err(e) => tracing::warn!(error = %e, deliveries = deliveries.len(), "storing webhook deliveries together failed; storing each alone"),
        }
    }
    for delivery in deliveries {
        let answer = store.add_events(&delivery.events, clock.now_ms()).await;
        let _ = delivery.reply.send(answer);
    }
}

/// The receiver's routes, ready to be mounted by the binary. Channel tokens come from
/// `tokens` (filled by the [`ChannelKeeper`](super::ChannelKeeper)) and from the tokens
/// set in `config.channels.watch`.
pub fn router<S: Store>(store: S, config: TriggerConfig, tokens: ChannelTokens) -> Router {
    router_with_clock(store, config, tokens, Clock::system())
}

/// [`router`] with the clock that stamps stored events.
pub fn router_with_clock<S: Store>(store: S, config: TriggerConfig, tokens: ChannelTokens, clock: Clock) -> Router {
    for w in &config.channels.watch {
        if let Some(token) = w.token.as_ref().filter(|t| !t.is_empty())
            && tokens.get(&w.channel_id).is_none()
        {
            tokens.set(&w.channel_id, token.clone());
        }
    }
    let limit = config.webhooks.max_body_bytes;
    let receiver = Arc::new(Receiver { store, config, tokens, clock, intake: OnceLock::new() });
    Router::new()
        .route("/hooks/crm/notify", post(crm_notify::<S>))
        .route("/hooks/crm/workflow", post(crm_workflow::<S>))
        .route("/hooks/books", post(books::<S>))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(receiver)
}

fn refuse(status: StatusCode, route: &'static str, problem: &str) -> Response {
    tracing::warn!(route, status = status.as_u16(), problem, "webhook refused");
    (status, Json(json!({ "error": problem }))).into_response()
}

/// The JSON refusal of a body that could not be read: over the size limit
/// (`webhooks.max_body_bytes`, 413) or cut off.
fn unreadable(e: BytesRejection, route: &'static str, limit: usize) -> Response {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        refuse(status, route, &format!("the body is over the limit of {limit} bytes (webhooks.max_body_bytes)"))
    } else {
        refuse(status, route, &format!("the body could not be read: {}", e.body_text()))
    }
}

fn bad_body(route: &'static str, e: BadBody) -> Response {
    tracing::warn!(route, problem = %e.problem, at = %e.at, "webhook refused: malformed body");
    (StatusCode::BAD_REQUEST, Json(json!({ "error": e.problem, "at": e.at }))).into_response()
}

/// Checks the shared secret of a route: `Err` is the status and the reason to refuse.
fn check_secret(expected: Option<&SecretString>, headers: &HeaderMap, query: Option<&str>) -> Result<(), (StatusCode, &'static str)> {
    let presented: Option<String> = match headers.get(SECRET_HEADER) {
        Some(v) => Some(v.to_str().unwrap_or("").to_string()),
        None => query.and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == SECRET_PARAM).map(|(_, v)| v.into_owned())),
    };
    let Some(expected) = expected.filter(|s| !s.is_empty()) else {
        return Err((StatusCode::FORBIDDEN, "no secret is configured for this endpoint"));
    };
    match presented {
        None => Err((StatusCode::UNAUTHORIZED, "missing secret (X-Zoho-Bridge-Secret header or secret query parameter)")),
        Some(p) if expected.matches(&p) => Ok(()),
        Some(_) => Err((StatusCode::FORBIDDEN, "wrong secret")),
    }
}

/// Stores events (each with its routed jobs) in one transaction, possibly with other
/// deliveries' (all or none); answers 200 with the counts once they are durable.
async fn store_events<S: Store>(r: &Receiver<S>, route: &'static str, events: &[NewEvent]) -> Response {
    let batch: Vec<(NewEvent, Vec<NewJob>)> = events
        .iter()
        .map(|event| {
            let system = if event.system == "books" { super::System::Books } else { super::System::Crm };
            (event.clone(), r.config.routes.jobs(system, &event.module, &event.record_id))
        })
        .collect();
    match r.store(batch).await {
        Ok(inserted) => {
            let new = inserted.iter().filter(|i| matches!(i, Inserted::New(_))).count();
            let duplicates = inserted.len() - new;
            tracing::debug!(route, new, duplicates, "webhook accepted");
            (StatusCode::OK, Json(json!({ "stored": new, "duplicates": duplicates }))).into_response()
        }
        Err(e) => {
            let first = events.first().map(|e| format!("{} {}", e.module, e.record_id)).unwrap_or_default();
            tracing::error!(route, error = %e, events = events.len(), first = %first, "webhook events not stored");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "the event could not be stored" }))).into_response()
        }
    }
}

async fn crm_notify<S: Store>(State(r): State<Arc<Receiver<S>>>, body: Result<Bytes, BytesRejection>) -> Response {
    const ROUTE: &str = "/hooks/crm/notify";
    // The token is in the body: it is read first.
    let body = match body {
        Ok(body) => body,
        Err(e) => return unreadable(e, ROUTE, r.config.webhooks.max_body_bytes),
    };
    let callback = match CrmCallback::parse(&body) {
        Ok(c) => c,
        Err(e) => return bad_body(ROUTE, e),
    };
    let Some(presented) = callback.token.as_deref().filter(|t| !t.is_empty()) else {
        return refuse(StatusCode::UNAUTHORIZED, ROUTE, "the callback carries no token");
    };
    match r.tokens.get(&callback.channel_id) {
        Some(expected) if expected.matches(presented) => {}
        Some(_) => return refuse(StatusCode::FORBIDDEN, ROUTE, "wrong token for the channel"),
        None => {
            tracing::warn!(route = ROUTE, channel_id = %callback.channel_id, "callback for an unknown channel");
            return refuse(StatusCode::FORBIDDEN, ROUTE, "unknown channel");
        }
    }
    match callback.events(r.config.connection()) {
        Ok(events) => store_events(&r, ROUTE, &events).await,
        Err(e) => bad_body(ROUTE, e),
    }
}

async fn crm_workflow<S: Store>(
    State(r): State<Arc<Receiver<S>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    const ROUTE: &str = "/hooks/crm/workflow";
    if let Err((status, problem)) = check_secret(r.config.webhooks.crm_workflow_secret.as_ref(), &headers, query.as_deref()) {
        return refuse(status, ROUTE, problem);
    }
    let body = match body {
        Ok(body) => body,
        Err(e) => return unreadable(e, ROUTE, r.config.webhooks.max_body_bytes),
    };
    match crm_workflow_event(&body, r.config.connection()) {
        Ok(event) => store_events(&r, ROUTE, &[event]).await,
        Err(e) => bad_body(ROUTE, e),
    }
}

async fn books<S: Store>(State(r): State<Arc<Receiver<S>>>, RawQuery(query): RawQuery, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    const ROUTE: &str = "/hooks/books";
    if let Err((status, problem)) = check_secret(r.config.webhooks.books_secret.as_ref(), &headers, query.as_deref()) {
        return refuse(status, ROUTE, problem);
    }
    let body = match body {
        Ok(body) => body,
        Err(e) => return unreadable(e, ROUTE, r.config.webhooks.max_body_bytes),
    };
    match books_event(&body, r.config.connection()) {
        Ok(event) => store_events(&r, ROUTE, &[event]).await,
        Err(e) => bad_body(ROUTE, e),
    }
}
