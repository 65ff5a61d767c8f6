//! The dashboard: a few server-rendered pages where finance and ops see what the engine
//! did and act on it (replay or drop a dead letter, decide a review, approve or reject
//! an action), served by `serve` (and by `demo`).
//!
//! [`router`] builds it from the store, the Zoho client (for the rate budget) and the
//! `[dashboard]` settings. Every page but the login needs a session ([`auth`]); every
//! POST needs the session's CSRF token. Actions go through the same calls the admin
//! commands and the agent gateway use, so they are queued, run and audited like
//! everything else. No JavaScript; the stylesheet is embedded in the binary; pages fit
//! a phone.

mod auth;
mod pages;
mod stats;

use std::{collections::HashMap, sync::Arc};

use auth::{Login, Session};
use axum::{
    Router,
    extract::{Form, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use bridge::{
    actions::{self, ActionError},
    config::DashboardSettings,
    flows::{FlowsConfig, now_ms, relations},
    store::{Activity, AnyStore, ApprovalStatus, Approvals, BudgetShares, JobStatus, RecordRef, ReviewDecision, ReviewStatus, Reviews, Store, System},
};
use pages::{DeadLetter, EventJobs, FlowRow, JobWrites, Overview};
use stats::FlowStats;

/// Runs per flow the overview's figures are computed from.
const WINDOW: u32 = 200;

/// What the pages read and act on.
struct Inner {
    store: AnyStore,
    client: zoho::Client,
    login: Login,
}

/// The dashboard's shared state.
#[derive(Clone)]
struct Dashboard(Arc<Inner>);

/// The dashboard's routes, for the main listener or a listener of their own: `store`
/// is read and acted on, `client`'s rate budget is shown, `settings` say who may log
/// in.
pub fn router(store: AnyStore, client: zoho::Client, settings: &DashboardSettings) -> Router {
    let state = Dashboard(Arc::new(Inner { store, client, login: Login::new(settings) }));
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/flows/{flow}", get(flow))
        .route("/record", get(record))
        .route("/dead", get(dead))
        .route("/dead/{id}/replay", post(replay))
        .route("/dead/{id}/drop", post(drop_dead))
        .route("/jobs/{id}", get(job))
        .route("/reviews", get(reviews))
        .route("/reviews/{id}", get(review).post(decide_review))
        .route("/approvals", get(approvals))
        .route("/approvals/{id}", get(approval).post(decide_approval))
        .route("/totals", get(totals))
        .route("/budget", get(budget))
        .route("/static/dashboard.css", get(css))
        .layer(middleware::from_fn(safe_headers))
        .with_state(state)
}

/// The line `serve` prints at start about logging in.
pub fn login_hint(settings: &DashboardSettings) -> String {
    if settings.token_hashes.is_empty() {
        format!("the dashboard has no login token: set {} (or [dashboard] token_sha256) and restart to log in", bridge::config::DASHBOARD_TOKEN_ENV)
    } else {
        "log in with the configured token".into()
    }
}

/// Headers on every answer: no caching of pages, no framing, no referrer, no scripts.
async fn safe_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"));
    response
}

/// Why a request was not served, as a page.
struct Failed {
    status: StatusCode,
    session: Option<Session>,
    message: String,
}

impl Failed {
    fn new(status: StatusCode, session: &Session, message: impl Into<String>) -> Failed {
        Failed { status, session: Some(session.clone()), message: message.into() }
    }
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        (self.status, pages::error(self.session.as_ref(), &self.message)).into_response()
    }
}

impl From<bridge::store::StoreError> for Failed {
    fn from(e: bridge::store::StoreError) -> Failed {
        tracing::warn!(error = %e, "dashboard: the store failed");
        Failed { status: StatusCode::SERVICE_UNAVAILABLE, session: None, message: format!("The store failed: {e}") }
    }
}

impl From<ActionError> for Failed {
    fn from(e: ActionError) -> Failed {
        let status = match e {
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Refused(_) => StatusCode::CONFLICT,
            ActionError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Failed { status, session: None, message: e.to_string() }
    }
}

type Page = Result<Response, Failed>;

impl Dashboard {
    /// The session of a request, if its cookie is valid.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
        self.0.login.session(auth::cookie_value(cookies)?, now_ms())
    }

    /// The session of a page request, or the redirect to the login page.
    fn viewer(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        self.session(headers).ok_or_else(|| Box::new(Redirect::to("/login").into_response()))
    }

    /// The session of a form post whose CSRF token matches, or the refusal.
    fn actor(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Session, Box<Response>> {
        let Some(session) = self.session(headers) else {
            return Err(Box::new((StatusCode::UNAUTHORIZED, pages::error(None, "Your session has ended: log in again.")).into_response()));
        };
        let sent = form.get("csrf").map(String::as_bytes).unwrap_or_default();
        if !auth::constant_time_eq(sent, session.csrf.as_bytes()) {
            let message = "This form is stale or was not sent by this dashboard (CSRF check): reload the page and try again.";
            return Err(Box::new((StatusCode::FORBIDDEN, pages::error(Some(&session), message)).into_response()));
        }
        Ok(session)
    }
}

/// `dashboard:<name>`: who acted, in the store.
fn by(session: &Session) -> String {
    format!("dashboard:{}", session.name)
}

macro_rules! viewer {
    ($state:expr, $headers:expr) => {
        match $state.viewer(&$headers) {
            Ok(session) => session,
            Err(response) => return Ok(*response),
        }
    };
}

macro_rules! actor {
    ($state:expr, $headers:expr, $form:expr) => {
        match $state.actor(&$headers, &$form) {
            Ok(session) => session,
            Err(response) => return Ok(*response),
        }
    };
}

/// Adds the session to a failure's page.
fn with(session: &Session) -> impl Fn(Failed) -> Failed + '_ {
    move |mut f| {
        f.session = Some(session.clone());
        f
    }
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], pages::CSS).into_response()
}

async fn login_page(State(d): State<Dashboard>, headers: HeaderMap) -> Response {
    if d.session(&headers).is_some() {
        return Redirect::to("/").into_response();
    }
    pages::login(d.0.login.configured(), None).into_response()
}

async fn login(State(d): State<Dashboard>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    if !d.0.login.accepts(token) {
        let message = if d.0.login.configured() { "That token is not the dashboard's." } else { "No login token is configured (see above)." };
        tracing::info!("dashboard: a login was refused");
        return (StatusCode::UNAUTHORIZED, pages::login(d.0.login.configured(), Some(message))).into_response();
    }
    let (cookie, session) = d.0.login.start(form.get("name").map(String::as_str).unwrap_or_default(), now_ms());
    tracing::info!(name = %session.name, "dashboard: logged in");
    let https = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    ([(header::SET_COOKIE, d.0.login.set_cookie(&cookie, https))], Redirect::to("/")).into_response()
}

async fn logout(State(d): State<Dashboard>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Page {
    actor!(d, headers, form);
    Ok(([(header::SET_COOKIE, auth::clear_cookie())], Redirect::to("/login")).into_response())
}

async fn overview(State(d): State<Dashboard>, headers: HeaderMap) -> Page {
    let session = viewer!(d, headers);
    let store = &d.0.store;
    let mut flows = Vec::new();
    for name in FlowsConfig::NAMES {
        let runs = store.recent_runs(name, WINDOW).await.map_err(Failed::from).map_err(with(&session))?;
        flows.push(FlowRow { name, stats: FlowStats::of(&runs) });
    }
    let counts = store.job_counts().await.map_err(Failed::from).map_err(with(&session))?;
    let dead = counts.iter().find(|(s, _)| *s == JobStatus::Dead).map_or(0, |(_, n)| *n);
    let overview = Overview {
        counts: &counts,
        dead,
        reviews: store.count_reviews(Some(ReviewStatus::Open)).await.map_err(Failed::from)?,
        approvals: store.count_approvals(ApprovalStatus::Pending).await.map_err(Failed::from)?,
        totals: store.count_audit_action("totals_mismatch").await.map_err(Failed::from)?,
        flows,
        window: WINDOW,
    };
    Ok(pages::overview(&session, &overview).into_response())
}

async fn flow(State(d): State<Dashboard>, headers: HeaderMap, Path(name): Path<String>) -> Page {
    let session = viewer!(d, headers);
    if !FlowsConfig::NAMES.contains(&name.as_str()) {
        return Err(Failed::new(
            StatusCode::NOT_FOUND,
            &session,
            format!("There is no flow named “{name}” (this build has: {}).", FlowsConfig::NAMES.join(", ")),
        ));
    }
    let runs = d.0.store.recent_runs(&name, WINDOW).await.map_err(Failed::from).map_err(with(&session))?;
    let stats = FlowStats::of(&runs);
    Ok(pages::flow(&session, &name, &stats, &runs[..runs.len().min(100)]).into_response())
}

async fn record(State(d): State<Dashboard>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Page {
    let session = viewer!(d, headers);
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let (Some(system), Some(module), Some(id)) = (get("system").and_then(System::parse), get("module"), get("id")) else {
        return Err(Failed::new(StatusCode::BAD_REQUEST, &session, "A record needs system (crm or books), module and id."));
    };
    let record = RecordRef { system, module: module.into(), id: id.into() };
    let store = &d.0.store;
    let fail = |e| with(&session)(Failed::from(e));
    // Its links in every relation it can take part in (one connection per store here).
    let mut links = Vec::new();
    for relation in relations::ALL {
        for connection in connections(store, &record).await.map_err(fail)? {
            let link = match system {
                System::Crm if relation.crm_module == record.module => store.link_by_crm(&connection, relation.name, &record.id).await.map_err(fail)?,
                System::Books if relation.books_entity == record.module => store.link_by_books(&connection, relation.name, &record.id).await.map_err(fail)?,
                _ => None,
            };
            if let Some(link) = link {
                links.push((relation.name.to_string(), link));
            }
        }
    }
    let mut events = Vec::new();
    for event in store.events_for_record(system.as_str(), &record.module, &record.id, 20).await.map_err(fail)? {
        let mut jobs = Vec::new();
        for run in store.runs_for_event(event.id).await.map_err(fail)? {
            let audit = store.audit_for_job(run.job.id).await.map_err(fail)?;
            jobs.push(JobWrites { job: run.job, audit });
        }
        events.push(EventJobs { event, jobs });
    }
    let mut writes = store.audit_for_record(system.as_str(), &record.module, &record.id).await.map_err(fail)?;
    writes.truncate(50);
    Ok(pages::record(&session, &record, &links, &events, &writes).into_response())
}

/// The connections the record's events name (links are kept per connection), or
/// `default`.
async fn connections(store: &AnyStore, record: &RecordRef) -> Result<Vec<String>, bridge::store::StoreError> {
    let mut names: Vec<String> =
        store.events_for_record(record.system.as_str(), &record.module, &record.id, 20).await?.into_iter().map(|e| e.event.connection).collect();
    names.push("default".into());
    names.sort();
    names.dedup();
    Ok(names)
}

async fn dead(State(d): State<Dashboard>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Page {
    let session = viewer!(d, headers);
    let store = &d.0.store;
    let mut letters = Vec::new();
    for job in store.jobs_with_status(JobStatus::Dead, 200).await.map_err(Failed::from).map_err(with(&session))? {
        let audit = store.audit_for_job(job.id).await.map_err(Failed::from).map_err(with(&session))?;
        letters.push(DeadLetter { job, audit });
    }
    Ok(pages::dead(&session, q.get("notice").map(String::as_str), &letters).into_response())
}

/// The id in a path, or a page saying it is not one.
fn id_of(session: &Session, text: &str, what: &str) -> Result<i64, Failed> {
    text.parse().map_err(|_| Failed::new(StatusCode::BAD_REQUEST, session, format!("“{text}” is not a {what} id (a number).")))
}

async fn replay(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<HashMap<String, String>>) -> Page {
    let session = actor!(d, headers, form);
    let id = id_of(&session, &id, "job")?;
    actions::replay(&d.0.store, id, &by(&session), now_ms()).await.map_err(Failed::from).map_err(with(&session))?;
    tracing::info!(job = id, by = %by(&session), "dashboard: replayed a dead letter");
    Ok(Redirect::to(&format!("/jobs/{id}?notice=replayed")).into_response())
}

async fn drop_dead(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<HashMap<String, String>>) -> Page {
    let session = actor!(d, headers, form);
    let id = id_of(&session, &id, "job")?;
    let reason = form.get("reason").map(String::as_str).unwrap_or_default();
    actions::drop_dead(&d.0.store, id, &by(&session), reason, now_ms()).await.map_err(Failed::from).map_err(with(&session))?;
    tracing::info!(job = id, by = %by(&session), "dashboard: dropped a dead letter");
    Ok(Redirect::to(&format!("/jobs/{id}?notice=dropped")).into_response())
}

async fn job(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Page {
    let session = viewer!(d, headers);
    let id = id_of(&session, &id, "job")?;
    let store = &d.0.store;
    let job = store.job(id).await.map_err(Failed::from).map_err(with(&session))?;
    let job = job.ok_or_else(|| Failed::new(StatusCode::NOT_FOUND, &session, format!("There is no job {id}.")))?;
    let audit = store.audit_for_job(id).await.map_err(Failed::from).map_err(with(&session))?;
    let notice = match q.get("notice").map(String::as_str) {
        Some("replayed") => Some(format!("Job {id} was put back in the queue.")),
        Some("dropped") => Some(format!("Job {id} was dropped.")),
        _ => None,
    };
    Ok(pages::job(&session, notice.as_deref(), &job, &audit).into_response())
}

async fn reviews(State(d): State<Dashboard>, headers: HeaderMap) -> Page {
    let session = viewer!(d, headers);
    let store = &d.0.store;
    let open = store.reviews(Some(ReviewStatus::Open), 200).await.map_err(Failed::from).map_err(with(&session))?;
    let mut decided: Vec<_> = store.reviews(None, 1_000).await.map_err(Failed::from).map_err(with(&session))?;
    decided.retain(|r| r.status != ReviewStatus::Open);
    decided.sort_by_key(|r| std::cmp::Reverse(r.decided_ms));
    decided.truncate(20);
    Ok(pages::reviews(&session, &open, &decided).into_response())
}

async fn review(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Page {
    let session = viewer!(d, headers);
    let id = id_of(&session, &id, "review")?;
    let review = d.0.store.review(id).await.map_err(Failed::from).map_err(with(&session))?;
    let review = review.ok_or_else(|| Failed::new(StatusCode::NOT_FOUND, &session, format!("There is no review {id}.")))?;
    let notice = q.contains_key("decided").then(|| format!("Review {id} is decided: {}.", review.status.as_str()));
    Ok(pages::review(&session, notice.as_deref(), &review).into_response())
}

async fn decide_review(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<HashMap<String, String>>) -> Page {
    let session = actor!(d, headers, form);
    let id = id_of(&session, &id, "review")?;
    let decision = match (form.get("decision").map(String::as_str), form.get("chosen")) {
        (Some("link"), Some(chosen)) if !chosen.is_empty() => ReviewDecision::Link(chosen.clone()),
        (Some("create"), _) => ReviewDecision::Create,
        (Some("ignore"), _) => ReviewDecision::Ignore,
        _ => return Err(Failed::new(StatusCode::BAD_REQUEST, &session, "A decision is link (with the chosen candidate), create or ignore.")),
    };
    let note = form.get("note").map(|n| n.trim()).filter(|n| !n.is_empty());
    actions::decide_review(&d.0.store, id, &decision, &by(&session), note, now_ms()).await.map_err(Failed::from).map_err(with(&session))?;
    tracing::info!(review = id, by = %by(&session), "dashboard: decided a review");
    Ok(Redirect::to(&format!("/reviews/{id}?decided")).into_response())
}

async fn approvals(State(d): State<Dashboard>, headers: HeaderMap) -> Page {
    let session = viewer!(d, headers);
    let pending = actions::approvals(&d.0.store, ApprovalStatus::Pending).await.map_err(Failed::from).map_err(with(&session))?;
    Ok(pages::approvals(&session, &pending).into_response())
}

async fn approval(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Page {
    let session = viewer!(d, headers);
    let id = id_of(&session, &id, "approval")?;
    let state = actions::approval_state(&d.0.store, id).await.map_err(Failed::from).map_err(with(&session))?;
    let notice = q.contains_key("decided").then(|| format!("Approval {id} is {}.", state.stage()));
    Ok(pages::approval(&session, notice.as_deref(), &state).into_response())
}

async fn decide_approval(State(d): State<Dashboard>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<HashMap<String, String>>) -> Page {
    let session = actor!(d, headers, form);
    let id = id_of(&session, &id, "approval")?;
    let approve = match form.get("decision").map(String::as_str) {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err(Failed::new(StatusCode::BAD_REQUEST, &session, "A decision is approve or reject.")),
    };
    actions::decide_approval(&d.0.store, id, approve, &by(&session), now_ms()).await.map_err(Failed::from).map_err(with(&session))?;
    tracing::info!(approval = id, approve, by = %by(&session), "dashboard: decided an approval");
    Ok(Redirect::to(&format!("/approvals/{id}?decided")).into_response())
}

async fn totals(State(d): State<Dashboard>, headers: HeaderMap) -> Page {
    let session = viewer!(d, headers);
    let entries = d.0.store.audit_by_action("totals_mismatch", 100).await.map_err(Failed::from).map_err(with(&session))?;
    Ok(pages::totals(&session, &entries).into_response())
}

async fn budget(State(d): State<Dashboard>, headers: HeaderMap) -> Page {
    let session = viewer!(d, headers);
    let mut views = Vec::new();
    for usage in d.0.client.budget_usage() {
        let api = usage.api.as_str();
        let holders = d.0.store.budget_holders(&usage.organization).await.map_err(Failed::from).map_err(with(&session))?;
        views.push(pages::BudgetView { holders: holders.into_iter().filter(|h| h.api == api).collect(), usage });
    }
    Ok(pages::budget(&session, &views).into_response())
}
