//! The dashboard's pages as HTML (maud: checked at compile time, escaped by default).
//!
//! Every function takes what its page shows, already read, and returns the markup: no
//! store or Zoho call happens here. Forms post to the routes in [`super`] and carry the
//! session's CSRF token. No page shows a secret: tokens, keys and cookies never reach
//! this module.

use bridge::actions::ApprovalState;
use bridge::store::{AuditEntry, BudgetHolder, Job, JobStatus, Link, RecordRef, Review, ReviewStatus, Run, StoredEvent};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::auth::Session;
use super::stats::{FlowStats, duration_text};

/// A time in epoch ms as people read it (UTC).
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|_| ms.to_string())
}

/// The URL of a record's page.
pub fn record_url(record: &RecordRef) -> String {
    format!("/record?system={}&module={}&id={}", record.system.as_str(), enc(&record.module), enc(&record.id))
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn status_class(status: JobStatus) -> &'static str {
    status.as_str()
}

/// The hidden CSRF field of every form.
fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// The frame of every page: title, navigation, the logged-in name and the log-out button.
pub fn layout(title: &str, session: Option<&Session>, notice: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · zoho-bridge" }
                link rel="stylesheet" href="/static/dashboard.css";
            }
            body {
                header {
                    a.brand href="/" { "zoho-bridge" }
                    @if let Some(session) = session {
                        nav {
                            a href="/" { "Overview" }
                            a href="/dead" { "Dead letters" }
                            a href="/reviews" { "Reviews" }
                            a href="/approvals" { "Approvals" }
                            a href="/totals" { "Totals" }
                            a href="/budget" { "Budget" }
                        }
                        form.logout method="post" action="/logout" {
                            (csrf(session))
                            span.who { (session.name) }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                    (body)
                }
            }
        }
    }
}

/// The login page; `configured` false says how to set a token.
pub fn login(configured: bool, error: Option<&str>) -> Markup {
    let body = html! {
        @if !configured {
            div.warning {
                p { strong { "No login token is configured: nobody can log in." } }
                p { "Set one and restart " code { "zoho-bridge serve" } ", either in the environment:" }
                pre { "export " (bridge::config::DASHBOARD_TOKEN_ENV) "=\"$(openssl rand -hex 24)\"" }
                p { "or as its SHA-256 in the config file:" }
                pre { "[dashboard]\ntoken_sha256 = \"<printf %s \"$TOKEN\" | sha256sum>\"" }
            }
        }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        form.login method="post" action="/login" {
            label { "Token" input type="password" name="token" autocomplete="current-password" required; }
            label { "Your name (kept with your decisions)" input type="text" name="name" maxlength="40" autocomplete="username"; }
            button type="submit" { "Log in" }
        }
    };
    layout("Log in", None, None, body)
}

/// An error page.
pub fn error(session: Option<&Session>, message: &str) -> Markup {
    layout("Not done", session, None, html! { p.error role="alert" { (message) } p { a href="/" { "Back to the overview" } } })
}

/// One row of the overview's flow table.
pub struct FlowRow<'a> {
    /// The flow's name.
    pub name: &'a str,
    /// Its recent runs' figures.
    pub stats: FlowStats,
}

/// What the overview shows.
pub struct Overview<'a> {
    /// Jobs by status, all of the store.
    pub counts: &'a [(JobStatus, i64)],
    /// Dead letters.
    pub dead: i64,
    /// Open reviews.
    pub reviews: i64,
    /// Approvals waiting.
    pub approvals: i64,
    /// Totals-check warnings.
    pub totals: i64,
    /// The flows.
    pub flows: Vec<FlowRow<'a>>,
    /// Runs per flow the figures are computed from.
    pub window: u32,
}

fn stats_cells(s: &FlowStats) -> Markup {
    let opt = |v: Option<i64>| v.map(duration_text).unwrap_or_else(|| "–".into());
    html! {
        td.num { (s.done) } td.num { (s.skipped) } td.num.dead[s.dead > 0] { (s.dead) } td.num { (s.waiting) }
        td.num { (s.per_minute.map(|r| format!("{r:.1}")).unwrap_or_else(|| "–".into())) }
        td.num { (opt(s.p50_ms)) } td.num { (opt(s.p95_ms)) } td.num { (opt(s.max_ms)) }
        td { (s.last_ms.map(time).unwrap_or_else(|| "never".into())) }
    }
}

fn stats_head() -> Markup {
    html! { th { "done" } th { "skipped" } th { "dead" } th { "waiting" } th { "per min" } th { "p50" } th { "p95" } th { "max" } th { "last run" } }
}

/// The overview: what needs a person, the flows' figures, a record look-up.
pub fn overview(session: &Session, o: &Overview<'_>) -> Markup {
    let body = html! {
        section.cards {
            a.card.alert[o.dead > 0] href="/dead" { span.n { (o.dead) } " dead letters" }
            a.card.alert[o.reviews > 0] href="/reviews" { span.n { (o.reviews) } " reviews open" }
            a.card.alert[o.approvals > 0] href="/approvals" { span.n { (o.approvals) } " approvals waiting" }
            a.card.alert[o.totals > 0] href="/totals" { span.n { (o.totals) } " totals warnings" }
        }
        p.counts { "Jobs in the store: " (bridge::store::job_counts_text(o.counts)) }
        h2 { "Flows" }
        p.hint { "From each flow's newest " (o.window) " runs; latency is from the event received to the job done." }
        div.scroll { table {
            thead { tr { th { "flow" } (stats_head()) } }
            tbody { @for f in &o.flows { tr { td { a href={"/flows/" (f.name)} { (f.name) } } (stats_cells(&f.stats)) } } }
        } }
        h2 { "A record's history" }
        form.lookup method="get" action="/record" {
            select name="system" { option value="crm" { "CRM" } option value="books" { "Books" } }
            input type="text" name="module" placeholder="Products, Accounts, invoices…" required;
            input type="text" name="id" placeholder="record id" required;
            button type="submit" { "Show" }
        }
    };
    layout("Overview", Some(session), None, body)
}

fn record_cell(job: &Job) -> Markup {
    match job.record() {
        Ok(record) => html! { a href=(record_url(&record)) { (record.to_string()) } },
        Err(_) => html! { (job.key) },
    }
}

fn job_result(job: &Job) -> Markup {
    html! {
        @if let Some(error) = &job.last_error { span.error { (error) } }
        @else if let Some(outcome) = &job.outcome { (outcome) }
    }
}

/// One flow: its figures and its newest runs.
pub fn flow(session: &Session, name: &str, stats: &FlowStats, runs: &[Run]) -> Markup {
    let body = html! {
        div.scroll { table { thead { tr { (stats_head()) } } tbody { tr { (stats_cells(stats)) } } } }
        h2 { "Newest runs" }
        @if runs.is_empty() { p { "No runs yet." } }
        div.scroll { table.runs {
            thead { tr { th { "job" } th { "record" } th { "status" } th { "received" } th { "latency" } th { "result" } } }
            tbody { @for run in runs {
                tr class=(status_class(run.job.status)) {
                    td.num { (run.job.id) } td { (record_cell(&run.job)) } td { (run.job.status.as_str()) }
                    td { (time(run.received_ms)) }
                    td.num { (run.latency_ms().map(duration_text).unwrap_or_else(|| "–".into())) }
                    td { (job_result(&run.job)) }
                }
            } }
        } }
    };
    layout(&format!("Flow {name}"), Some(session), None, body)
}

/// Zoho's message in an answer kept in the audit, if any.
pub fn zoho_message(response: &Value) -> Option<String> {
    let pick = |v: &Value| v.get("message").and_then(Value::as_str).map(str::to_string);
    pick(response).or_else(|| response.get("body").and_then(pick)).or_else(|| response.get("data").and_then(|d| d.get(0)).and_then(pick))
}

fn audit_table(entries: &[AuditEntry]) -> Markup {
    html! {
        @for e in entries {
            details.write.failed[!e.ok] {
                summary {
                    (time(e.at_ms)) " · " (e.action) " " (e.system) " " (e.module) " "
                    (e.record_id.as_deref().unwrap_or("(new)")) " · " @if e.ok { "accepted" } @else { strong { "refused" } }
                    @if let Some(job) = e.job_id { " · job " (job) }
                    " · by " (e.actor)
                }
                div.pair {
                    div { h4 { "Values sent" } pre { (json(&e.request)) } }
                    div { h4 { "Zoho's answer" } pre { (json(&e.response)) } }
                }
            }
        }
    }
}

/// A job with the writes it made, for the record page.
pub struct JobWrites {
    /// The job.
    pub job: Job,
    /// Its writes.
    pub audit: Vec<AuditEntry>,
}

/// An event with its jobs.
pub struct EventJobs {
    /// The event.
    pub event: StoredEvent,
    /// Its jobs.
    pub jobs: Vec<JobWrites>,
}

/// A record's links, events → jobs → writes, and the writes to it.
pub fn record(session: &Session, record: &RecordRef, links: &[(String, Link)], events: &[EventJobs], writes: &[AuditEntry]) -> Markup {
    let body = html! {
        h2 { "Links" }
        @if links.is_empty() { p { "Not linked to any record in the other system." } }
        ul.links { @for (relation, link) in links {
            li {
                (relation) ": CRM " a href=(record_url(&RecordRef::crm(other_module(relation, true), &link.crm_id))) { (link.crm_id) }
                " ⇄ Books " a href=(record_url(&RecordRef::books(other_module(relation, false), &link.books_id))) { (link.books_id) }
                " (updated " (time(link.updated_ms)) ")"
            }
        } }
        h2 { "Events" }
        @if events.is_empty() { p { "No event about this record is kept." } }
        @for e in events {
            section.event {
                h3 { "Event " (e.event.id) " · " (e.event.event.source.label()) " · received " (time(e.event.received_ms)) }
                @if e.jobs.is_empty() { p { "No job." } }
                @for j in &e.jobs {
                    div.job class=(status_class(j.job.status)) {
                        p { "Job " (j.job.id) " · " (j.job.flow) " · " strong { (j.job.status.as_str()) } " · attempts " (j.job.attempts) " · " (job_result(&j.job)) }
                        (audit_table(&j.audit))
                    }
                }
            }
        }
        h2 { "Writes to this record" }
        @if writes.is_empty() { p { "None." } }
        (audit_table(writes))
    };
    layout(&format!("{record}"), Some(session), None, body)
}

/// The module on one side of a relation by name.
fn other_module(relation: &str, crm: bool) -> &'static str {
    match bridge::flows::relations::by_name(relation) {
        Some(r) if crm => r.crm_module,
        Some(r) => r.books_entity,
        None => "",
    }
}

/// A dead letter with the writes of its job.
pub struct DeadLetter {
    /// The job.
    pub job: Job,
    /// Its writes (the refused ones carry Zoho's message).
    pub audit: Vec<AuditEntry>,
}

/// The dead letters, with replay and drop.
pub fn dead(session: &Session, notice: Option<&str>, letters: &[DeadLetter]) -> Markup {
    let body = html! {
        @if letters.is_empty() { p.empty { "No dead letters." } }
        @for d in letters {
            section.letter id={"job-" (d.job.id)} {
                h3 { "Job " (d.job.id) " · " (d.job.flow) " · " (record_cell(&d.job)) }
                p { "Dead since " (time(d.job.updated_ms)) " after " (d.job.attempts) " attempts." }
                p.error { (d.job.last_error.as_deref().unwrap_or("no error kept")) }
                @for e in d.audit.iter().filter(|e| !e.ok) {
                    @if let Some(message) = zoho_message(&e.response) { p { "Zoho said: " q.zoho { (message) } } }
                }
                (audit_table(&d.audit))
                div.actions {
                    form method="post" action={"/dead/" (d.job.id) "/replay"} {
                        (csrf(session)) button type="submit" { "Replay" }
                    }
                    form method="post" action={"/dead/" (d.job.id) "/drop"} {
                        (csrf(session))
                        input type="text" name="reason" placeholder="why drop it" required;
                        button.danger type="submit" { "Drop" }
                    }
                }
            }
        }
    };
    layout("Dead letters", Some(session), notice, body)
}

/// A job after an action on it (replayed, dropped): where it stands now.
pub fn job(session: &Session, notice: Option<&str>, job: &Job, audit: &[AuditEntry]) -> Markup {
    let body = html! {
        p { "Flow " (job.flow) " · " (record_cell(job)) }
        p.status { "Status: " strong id="status" { (job.status.as_str()) } " · attempts " (job.attempts) " · updated " (time(job.updated_ms)) }
        p { (job_result(job)) }
        (audit_table(audit))
        p { a href="/dead" { "Dead letters" } }
    };
    layout(&format!("Job {}", job.id), Some(session), notice, body)
}

fn review_status(r: &Review) -> String {
    let mut text = r.status.as_str().to_string();
    if let Some(chosen) = &r.chosen_id {
        text.push_str(&format!(" to {chosen}"));
    }
    if let Some(by) = &r.decided_by {
        text.push_str(&format!(" by {by}"));
    }
    if let Some(ms) = r.decided_ms {
        text.push_str(&format!(" at {}", time(ms)));
    }
    text
}

fn review_forms(session: &Session, r: &Review) -> Markup {
    let action = format!("/reviews/{}", r.id);
    html! {
        @for c in &r.candidates {
            form method="post" action=(action) {
                (csrf(session))
                input type="hidden" name="decision" value="link";
                input type="hidden" name="chosen" value=(c.id);
                button type="submit" { "Link to " (c.name) " (" (c.id) ")" }
                span.why { (c.why) }
            }
        }
        div.actions {
            form method="post" action=(action) {
                (csrf(session)) input type="hidden" name="decision" value="create";
                button type="submit" { "Create a new one" }
            }
            form method="post" action=(action) {
                (csrf(session)) input type="hidden" name="decision" value="ignore";
                button.danger type="submit" { "Ignore" }
            }
        }
    }
}

fn review_block(session: &Session, r: &Review) -> Markup {
    html! {
        section.review id={"review-" (r.id)} {
            h3 { a href={"/reviews/" (r.id)} { "Review " (r.id) } " · " (r.flow) " · " a href=(record_url(&r.record)) { (r.record.to_string()) } }
            p { (r.reason) " (" (r.kind.as_str()) ", opened " (time(r.created_ms)) ")" }
            @if r.status == ReviewStatus::Open { (review_forms(session, r)) }
            @else { p.status { "Decided: " strong.decided { (review_status(r)) } } @if let Some(note) = &r.note { p { "Note: " (note) } } }
        }
    }
}

/// The review list: open ones with their choices, then the recently decided.
pub fn reviews(session: &Session, open: &[Review], decided: &[Review]) -> Markup {
    let body = html! {
        @if open.is_empty() { p.empty { "No open reviews." } }
        @for r in open { (review_block(session, r)) }
        @if !decided.is_empty() {
            h2 { "Recently decided" }
            ul { @for r in decided { li { a href={"/reviews/" (r.id)} { "Review " (r.id) } " · " (r.record.to_string()) " · " (review_status(r)) } } }
        }
    };
    layout("Reviews", Some(session), None, body)
}

/// One review.
pub fn review(session: &Session, notice: Option<&str>, r: &Review) -> Markup {
    layout(&format!("Review {}", r.id), Some(session), notice, review_block(session, r))
}

fn approval_block(session: &Session, state: &ApprovalState) -> Markup {
    let a = &state.approval;
    let action = format!("/approvals/{}", a.id);
    html! {
        section.approval id={"approval-" (a.id)} {
            h3 { a href=(action) { "Approval " (a.id) } " · " (a.action) " · asked by " (a.requested_by) }
            p.summary { (state.request.summary) }
            p { "Runs " (state.request.flow) " for " a href=(record_url(&state.request.record)) { (state.request.record.to_string()) } " · asked " (time(a.created_ms)) }
            details { summary { "Arguments" } pre { (json(&state.request.args)) } }
            @if a.status == bridge::store::ApprovalStatus::Pending {
                div.actions {
                    form method="post" action=(action) { (csrf(session)) input type="hidden" name="decision" value="approve"; button type="submit" { "Approve" } }
                    form method="post" action=(action) { (csrf(session)) input type="hidden" name="decision" value="reject"; button.danger type="submit" { "Reject" } }
                }
            } @else {
                p.status { "Decided: " strong.decided { (if a.status == bridge::store::ApprovalStatus::Approved { "approved" } else { "rejected" }) }
                    @if let Some(by) = &a.decided_by { " by " (by) } @if let Some(ms) = a.decided_ms { " at " (time(ms)) } }
                p { "Stage: " strong id="stage" { (state.stage()) } }
                @if let Some(job) = &state.job {
                    p { "Its run: " a href={"/jobs/" (job.id)} { "job " (job.id) } " · " (job.flow) " · " strong { (job.status.as_str()) } " · " (job_result(job)) }
                }
            }
        }
    }
}

/// The approvals waiting.
pub fn approvals(session: &Session, pending: &[ApprovalState]) -> Markup {
    let body = html! {
        @if pending.is_empty() { p.empty { "No approvals waiting." } }
        @for a in pending { (approval_block(session, a)) }
    };
    layout("Approvals waiting", Some(session), None, body)
}

/// One approval, with the job it started once approved.
pub fn approval(session: &Session, notice: Option<&str>, state: &ApprovalState) -> Markup {
    layout(&format!("Approval {}", state.approval.id), Some(session), notice, approval_block(session, state))
}

/// The totals-check warnings.
pub fn totals(session: &Session, entries: &[AuditEntry]) -> Markup {
    let body = html! {
        p.hint { "Books documents whose totals differ from what CRM had (a revenue leak to look at)." }
        @if entries.is_empty() { p.empty { "No totals warnings." } }
        (audit_table(entries))
    };
    layout("Totals warnings", Some(session), None, body)
}

/// One API's budget in this process, with the processes sharing it.
pub struct BudgetView {
    /// This process's view.
    pub usage: zoho::BudgetUsage,
    /// The processes sharing the organisation's budget (from the store).
    pub holders: Vec<BudgetHolder>,
}

/// A Zoho API's name as people write it.
fn api_label(api: zoho::Api) -> &'static str {
    match api {
        zoho::Api::Crm => "CRM",
        zoho::Api::Books => "Books",
    }
}

/// The rate budget per API and organisation.
pub fn budget(session: &Session, views: &[BudgetView]) -> Markup {
    let body = html! {
        @if views.is_empty() { p.empty { "No budget in use yet." } }
        @for v in views {
            section.budget {
                h2 { (api_label(v.usage.api)) " · organisation " (v.usage.organization) }
                p { "Requests admitted " (v.usage.admitted) " · throttled (429) " (v.usage.throttled) " · waited " (duration_text(v.usage.waited.as_millis() as i64))
                    @if let Some(p) = v.usage.paused_for { " · paused for " (duration_text(p.as_millis() as i64)) } }
                @if let Some(s) = &v.usage.server { p { "Zoho says: " (s.remaining) " of " (s.limit) " left, reset in " (s.reset_secs) " s" } }
                div.scroll { table {
                    thead { tr { th { "limit" } th { "of" } th { "this process may use" } th { "used" } th { "in flight" } th { "left" } th { "use" } } }
                    tbody { @for w in &v.usage.windows {
                        @let cap = w.allotment.unwrap_or(w.limit);
                        @let share = (w.used * 100).checked_div(cap).unwrap_or(0).min(100);
                        tr { td { (w.name) } td.num { (w.limit) } td.num { (cap) } td.num { (w.used) } td.num { (w.in_flight) } td.num { (w.remaining) }
                             td { meter min="0" max="100" value=(share) { (share) "%" } } }
                    } }
                } }
                @if !v.holders.is_empty() {
                    h3 { "Processes sharing it" }
                    ul { @for h in &v.holders { li { (h.holder) " (" (h.connection) ", weight " (h.weight) "): admitted " (h.admitted) ", throttled " (h.throttled) ", alive until " (time(h.expires_ms)) } } }
                }
            }
        }
    };
    layout("Rate budget", Some(session), None, body)
}

/// The stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("dashboard.css");
