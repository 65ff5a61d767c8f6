//! A table-driven runner for contract tests: scripted HTTP calls against a running emulator,
//! each one matched to the operation of Zoho's OpenAPI files and checked against it.
//!
//! Why it exists: `contract_crm.rs` and `contract_books.rs` check every operation the emulator
//! serves against Zoho's own API descriptions, the same way. This module holds what both share,
//! on top of the validator in [`super::openapi`] (it does not validate anything itself):
//!
//! - [`Call`]: one scripted request (method, path, query, headers, body) with what it should
//!   produce ([`Expect`]) and which values of the answer later calls need ([`Call::capture`]).
//!   Paths, query values, header values and body strings may name captured values as `{name}`.
//! - [`Runner::run`]: for one call, finds the spec operation, checks the request parameters we
//!   send against it (`check_query`, `check_headers`), sends it over HTTP and validates the
//!   answer (`validate_response`). Everything that does not conform becomes a [`Problem`].
//! - [`Runner::probe_refusals`]: derived from the spec, the requests the spec says must be
//!   refused (a required query parameter or header left out, an enum parameter given a value
//!   outside its enum) and, for GET calls, the minimal request the spec says must be accepted
//!   (every optional query parameter left out).
//! - [`Listed`] and [`assert_clean`]: the explicit lists of documented deviations and known
//!   emulator gaps; a problem on neither list fails the test, and so does a list entry that no
//!   longer matches anything (so the lists stay true).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::openapi::{self, Operation, Spec};

/// What a scripted call should produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// A 2xx answer whose body validates against the spec.
    Success,
    /// A 4xx answer in Zoho's error shape; `code` (when given) must equal the body's `code`
    /// (CRM: a string such as `"INVALID_MODULE"`, possibly inside `data[0]`; Books: a number).
    Refused { code: Option<Json> },
}

/// One scripted request.
#[derive(Clone, Debug)]
pub struct Call {
    /// The route family it exercises, e.g. `list`, `search.email`, `invoices.void`; the
    /// coverage tests count families.
    pub family: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// Path from the server root, e.g. `/crm/v8/Deals/{deal_1}`.
    pub path: String,
    /// Query pairs in order.
    pub query: Vec<(String, String)>,
    /// Extra request headers (the runner adds `Authorization: Zoho-oauthtoken …` unless one is
    /// given here).
    pub headers: Vec<(String, String)>,
    /// JSON request body.
    pub body: Option<Json>,
    /// What the answer should be.
    pub expect: Expect,
    /// Values to remember from a successful answer: (name, JSON pointer into the body).
    pub captures: Vec<(String, String)>,
    /// Whether [`Runner::probe_refusals`] may derive refusal probes from this call.
    pub probe: bool,
}

impl Call {
    /// A call expected to succeed.
    pub fn new(family: &'static str, method: &'static str, path: impl Into<String>) -> Call {
        Call {
            family,
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            expect: Expect::Success,
            captures: Vec::new(),
            probe: true,
        }
    }

    /// Adds a query pair.
    pub fn q(mut self, name: &str, value: impl Into<String>) -> Call {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Call {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets the JSON body.
    pub fn body(mut self, body: Json) -> Call {
        self.body = Some(body);
        self
    }

    /// Remembers the string (or number, as text) at `pointer` of the answer as `{name}`;
    /// `pointer` may list alternatives separated by `|` (the first that exists wins).
    pub fn capture(mut self, name: &str, pointer: &str) -> Call {
        self.captures.push((name.to_string(), pointer.to_string()));
        self
    }

    /// Expects a refusal, optionally with a given `code`.
    pub fn refused(mut self, code: Option<Json>) -> Call {
        self.expect = Expect::Refused { code };
        self.probe = false;
        self
    }

    /// Excludes the call from derived refusal probes (e.g. a write whose repetition would
    /// change what later calls see).
    pub fn no_probe(mut self) -> Call {
        self.probe = false;
        self
    }

    /// The module segment of a CRM record path (`/crm/v8/<module>/...`), if any.
    pub fn crm_module(&self) -> Option<&str> {
        let mut segments = self.path.trim_start_matches('/').split('/');
        match (segments.next(), segments.next(), segments.next()) {
            (Some("crm"), Some("v8"), Some(m)) if m.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => Some(m),
            _ => None,
        }
    }

    /// `family@Module` for CRM record calls, else `family`.
    pub fn coverage_key(&self) -> String {
        match self.crm_module() {
            Some(m) => format!("{}@{m}", self.family),
            None => self.family.to_string(),
        }
    }
}

/// One way a call did not conform.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `METHOD full-template` of the spec operation (or of the concrete path if there is none).
    pub op: String,
    /// The call that showed it: `family METHOD path?query` (with the variant for probes).
    pub call: String,
    /// What kind of check failed; see [`HARNESS_KINDS`].
    pub kind: &'static str,
    /// The message (for `response`/`refusal-body`, the validator's `$.path: message`).
    pub message: String,
}

/// The kinds of [`Problem`] (plus the `REFUSAL_KINDS` below):
/// - `no-operation`: the emulator serves the call but the spec has no such operation;
/// - `request`: a parameter or header we send is not accepted by the spec (script error or a
///   parameter the emulator needs that the spec does not define);
/// - `status`: a call expected to succeed did not answer 2xx (or a refusal did not answer 4xx);
/// - `shape`: the body is not JSON, not in Zoho's envelope, or an expected code differs;
/// - `response`: the body does not validate against the spec's schema for that status;
/// - `quirk`: the body validates only thanks to one of the toolkit's named leniencies;
/// - `refused-but-spec-accepts`: the minimal request (only required parameters) is refused;
/// - `accepted-but-spec-refuses`: a request the spec forbids (required parameter missing,
///   value out of enum) is answered 2xx;
/// - `refusal-status`: a refusal (scripted or derived) answered neither 2xx nor 4xx (e.g. 500);
/// - `refusal-shape`: a refusal body is not JSON in Zoho's error shape, or has the wrong code;
/// - `refusal-body`: a refusal body does not validate against the spec's documented schema;
/// - `probe-response`: the accepted minimal request's body does not validate.
///
/// [`HARNESS_KINDS`] are produced by plain scripted calls, [`REFUSAL_KINDS`] by refusals and
/// probes, so each test can tell which list entries it is responsible for.
pub const HARNESS_KINDS: [&str; 6] = ["no-operation", "request", "status", "shape", "response", "quirk"];

/// See [`HARNESS_KINDS`].
pub const REFUSAL_KINDS: [&str; 6] =
    ["refusal-status", "refusal-shape", "refusal-body", "accepted-but-spec-refuses", "refused-but-spec-accepts", "probe-response"];

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {} :: {} :: {}", self.kind, self.op, self.message, self.call)
    }
}

/// An entry of `DOCUMENTED_DEVIATIONS` or `KNOWN_EMULATOR_GAPS`: matches problems of `kind`
/// on operation `op` (`METHOD full-template`, or `*` for any) whose message contains `contains`.
#[derive(Clone, Copy, Debug)]
pub struct Listed {
    /// `METHOD full-template` as in [`Problem::op`], or `*`.
    pub op: &'static str,
    /// One of [`HARNESS_KINDS`] or [`REFUSAL_KINDS`].
    pub kind: &'static str,
    /// A substring of the problem message.
    pub contains: &'static str,
    /// Why it is accepted (deviation) or who must fix it (gap).
    pub reason: &'static str,
}

impl Listed {
    /// Whether this entry covers `problem`.
    pub fn matches(&self, problem: &Problem) -> bool {
        (self.op == "*" || self.op == problem.op) && self.kind == problem.kind && problem.message.contains(self.contains)
    }
}

/// What one sent request produced.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header (empty when absent).
    pub content_type: String,
    /// Raw body text.
    pub text: String,
    /// Parsed body (`None` when empty or not JSON).
    pub json: Option<Json>,
}

/// Which API's error shape to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"code":"STRING","message":…,"status":"error","details":…}`, possibly wrapped in
    /// `{"data":[…]}` (CRM writes) or `{"watch":[…]}` (notifications).
    Crm,
    /// `{"code":<non-zero int>,"message":"…"}`.
    Books,
}

/// Runs scripted calls against one emulator and one spec, collecting problems.
pub struct Runner<'s> {
    /// The loaded spec.
    pub spec: &'s Spec,
    /// The error shape of this API.
    pub shape: ErrorShape,
    /// HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Access token.
    pub token: String,
    /// Captured values (and fixed ones such as `org`).
    pub vars: BTreeMap<String, String>,
    /// Every problem seen so far.
    pub problems: Vec<Problem>,
    /// Every call sent, as (coverage key, `METHOD full-template`, status).
    pub exercised: Vec<(String, String, u16)>,
    /// Probe and refusal bodies whose status has no documented schema (Books documents only
    /// 200/201): `METHOD template status`. Informational.
    pub undocumented_error_statuses: Vec<String>,
}

impl<'s> Runner<'s> {
    /// A runner for `spec` talking to `base` with `token`.
    pub fn new(spec: &'s Spec, shape: ErrorShape, base: String, token: String) -> Runner<'s> {
        Runner {
            spec,
            shape,
            http: reqwest::Client::new(),
            base,
            token,
            vars: BTreeMap::new(),
            problems: Vec::new(),
            exercised: Vec::new(),
            undocumented_error_statuses: Vec::new(),
        }
    }

    /// Replaces every `{name}` naming a known variable in `text`.
    pub fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// [`Runner::fill`] applied to every string of a JSON value.
    pub fn fill_json(&self, value: &Json) -> Json {
        match value {
            Json::String(s) => Json::String(self.fill(s)),
            Json::Array(items) => Json::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), self.fill_json(v))).collect()),
            other => other.clone(),
        }
    }

    /// A call with every placeholder filled in.
    pub fn filled(&self, call: &Call) -> Call {
        let mut c = call.clone();
        c.path = self.fill(&call.path);
        c.query = call.query.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect();
        c.headers = call.headers.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect();
        c.body = call.body.as_ref().map(|b| self.fill_json(b));
        c
    }

    /// Sends a (filled) call and reads the answer. Transport failures panic: they mean the
    /// emulator is down, not that it disagrees with the spec.
    pub async fn send(&self, call: &Call) -> Answer {
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).expect("valid method");
        let mut url = format!("{}{}", self.base, call.path);
        if !call.query.is_empty() {
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&call.query).finish();
            url = format!("{url}?{query}");
        }
        let mut request = self.http.request(method, &url);
        // A call may bring its own Authorization header (e.g. the `Bearer` form).
        if !call.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("Authorization")) {
            request = request.header("Authorization", format!("Zoho-oauthtoken {}", self.token));
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &call.body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{} {url}: transport error {e}", call.method));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = response.text().await.unwrap_or_default();
        let json = if text.trim().is_empty() { None } else { serde_json::from_str(&text).ok() };
        Answer { status, content_type, text, json }
    }

    fn describe(call: &Call, variant: &str) -> String {
        let query = if call.query.is_empty() {
            String::new()
        } else {
            format!("?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&call.query).finish())
        };
        let variant = if variant.is_empty() { String::new() } else { format!(" ({variant})") };
        format!("{} {} {}{query}{variant}", call.family, call.method, call.path)
    }

    fn push(&mut self, op: &str, call: &str, kind: &'static str, message: impl Into<String>) {
        self.problems.push(Problem { op: op.to_string(), call: call.to_string(), kind, message: message.into() });
    }

    /// The spec operation of a (filled) call, or a `no-operation` problem.
    pub fn operation_of(&mut self, call: &Call, described: &str) -> Option<&'s Operation> {
        let spec = self.spec;
        match spec.find_operation(call.method, &call.path) {
            Some(op) => Some(op),
            None => {
                let op = format!("{} {}", call.method, call.path);
                self.push(&op, described, "no-operation", format!("the emulator serves {op} but the spec has no such operation"));
                None
            }
        }
    }

    /// Runs one scripted call: spec lookup, request checks, HTTP, answer checks, captures.
    /// Returns the answer (for callers that assert more).
    pub async fn run(&mut self, call: &Call) -> Answer {
        let call = self.filled(call);
        let described = Self::describe(&call, "");
        let op = self.operation_of(&call, &described);
        let op_key = op.map(|o| format!("{} {}", o.method, o.full_template)).unwrap_or_else(|| format!("{} {}", call.method, call.path));
        if let Some(op) = op {
            let pairs = openapi::as_pairs(&call.query);
            for e in self.spec.check_query(op, &pairs) {
                if call.expect == Expect::Success {
                    self.push(&op_key, &described, "request", e);
                }
            }
            let headers = openapi::as_pairs(&call.headers);
            for e in self.spec.check_headers(op, &headers) {
                if call.expect == Expect::Success {
                    self.push(&op_key, &described, "request", e);
                }
            }
        }
        let answer = self.send(&call).await;
        self.exercised.push((call.coverage_key(), op_key.clone(), answer.status));
        match &call.expect {
            Expect::Success => {
                if !(200..300).contains(&answer.status) {
                    self.push(&op_key, &described, "status", format!("expected 2xx, got {}: {}", answer.status, snippet(&answer.text)));
                }
                if let Some(op) = op {
                    self.check_body(op, &op_key, &described, &answer, "response");
                }
                for (name, pointer) in &call.captures {
                    let value = pointer.split('|').find_map(|p| {
                        answer.json.as_ref().and_then(|j| j.pointer(p)).and_then(|v| match v {
                            Json::String(s) => Some(s.clone()),
                            Json::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                    });
                    match value {
                        Some(v) => {
                            self.vars.insert(name.clone(), v);
                        }
                        None => self.push(&op_key, &described, "shape", format!("nothing to capture as {{{name}}} at {pointer}")),
                    }
                }
            }
            Expect::Refused { code } => {
                self.check_refusal(op, &op_key, &described, &answer, code.as_ref());
            }
        }
        answer
    }

    /// Checks the body of an answer: JSON content type, then the spec's schema for its status.
    /// Empty bodies are allowed only for 204/304 and only where the spec documents them.
    fn check_body(&mut self, op: &Operation, op_key: &str, described: &str, answer: &Answer, kind: &'static str) {
        let shape_kind = if kind == "response" { "shape" } else { kind };
        if answer.text.trim().is_empty() {
            if answer.status == 204 || answer.status == 304 {
                if let Err(e) = self.spec.response_schema(op, answer.status, "application/json") {
                    self.push(op_key, described, kind, e);
                }
            } else {
                self.push(op_key, described, shape_kind, format!("status {} with an empty body", answer.status));
            }
            return;
        }
        if !answer.content_type.to_ascii_lowercase().starts_with("application/json") {
            self.push(op_key, described, shape_kind, format!("content-type {:?}, not JSON: {}", answer.content_type, snippet(&answer.text)));
        }
        let Some(json) = &answer.json else {
            self.push(op_key, described, shape_kind, format!("body is not JSON: {}", snippet(&answer.text)));
            return;
        };
        for e in self.spec.validate_response(op, answer.status, &answer.content_type, json) {
            self.push(op_key, described, kind, e);
        }
        if kind == "response" {
            self.note_quirks(op, op_key, described, answer, json);
        }
    }

    /// Records, as `quirk` problems, where the toolkit's leniencies (see `openapi::Quirks`) let a
    /// body pass: a status the operation does not document, checked against the 200 schema
    /// (CRM), and a `page_context` object where the schema says array (Books). They must be
    /// listed in `DOCUMENTED_DEVIATIONS` like any other difference.
    fn note_quirks(&mut self, op: &Operation, op_key: &str, described: &str, answer: &Answer, json: &Json) {
        if let Err(e) = self.spec.response_schema(op, answer.status, &answer.content_type)
            && self.spec.quirks.undocumented_status_uses_200
        {
            self.push(op_key, described, "quirk", format!("{e}; validated against the 200 schema"));
        }
        if json.get("page_context").is_some_and(Json::is_object) {
            let array = self
                .spec
                .response_schema(op, answer.status, &answer.content_type)
                .ok()
                .flatten()
                .and_then(|schema| schema.child2("properties", "page_context"))
                .and_then(|node| self.spec.resolve(node).ok())
                .is_some_and(|node| node.type_name() == Some("array"));
            if array {
                self.push(op_key, described, "quirk", "page_context is an object where the schema types it array");
            }
        }
    }

    /// Checks a refusal: 4xx, JSON in the API's error shape, the expected code, and the body
    /// against the spec's schema when the spec documents that status (CRM: falls back to the
    /// 200 schema, which holds the error branch; Books documents no error statuses).
    fn check_refusal(&mut self, op: Option<&Operation>, op_key: &str, described: &str, answer: &Answer, code: Option<&Json>) {
        if !(400..500).contains(&answer.status) {
            self.push(op_key, described, "refusal-status", format!("expected a 4xx refusal, got {}: {}", answer.status, snippet(&answer.text)));
            return;
        }
        let Some(json) = &answer.json else {
            self.push(op_key, described, "refusal-shape", format!("refusal {} is not JSON: {}", answer.status, snippet(&answer.text)));
            return;
        };
        if !answer.content_type.to_ascii_lowercase().starts_with("application/json") {
            self.push(op_key, described, "refusal-shape", format!("refusal content-type {:?}", answer.content_type));
        }
        match error_code(self.shape, json) {
            Err(e) => {
                self.push(op_key, described, "refusal-shape", format!("refusal {} is not a Zoho error body: {e}: {}", answer.status, snippet(&answer.text)))
            }
            Ok(found) => {
                if let Some(wanted) = code
                    && &found != wanted
                {
                    self.push(op_key, described, "refusal-shape", format!("expected code {wanted}, got {found}: {}", snippet(&answer.text)));
                }
            }
        }
        let Some(op) = op else { return };
        match self.spec.response_schema_or_200(op, answer.status, "application/json") {
            Ok(Some(schema)) => {
                for e in self.spec.validate(&schema, json) {
                    self.push(op_key, described, "refusal-body", e);
                }
            }
            Ok(None) => self.push(op_key, described, "refusal-body", format!("status {} is documented without a body", answer.status)),
            Err(_) => self.undocumented_error_statuses.push(format!("{op_key} {}", answer.status)),
        }
    }

    /// Derives probes from the spec operation of `call` and sends them (before the call itself
    /// runs, so a wrongly accepted probe cannot remove what the call needs — at worst it adds a
    /// record): each required query parameter or header left out, each enum query parameter
    /// given a value outside its enum → must be refused; for GET, every optional query
    /// parameter left out → must be accepted.
    pub async fn probe_refusals(&mut self, call: &Call) {
        if !call.probe {
            return;
        }
        let filled = self.filled(call);
        let spec = self.spec;
        let Some(op) = spec.find_operation(filled.method, &filled.path) else { return };
        let op_key = format!("{} {}", op.method, op.full_template);
        let mut refusals: Vec<(String, Call)> = Vec::new();
        for param in spec.parameters_in(op, "query") {
            if param.required && filled.query.iter().any(|(k, _)| *k == param.name) {
                let mut probe = filled.clone();
                probe.query.retain(|(k, _)| *k != param.name);
                refusals.push((format!("without required query parameter {}", param.name), probe));
            }
            let enum_values = spec.parameter_schema(param).ok().flatten().and_then(|s| s.enum_values().cloned());
            if let Some(values) = enum_values {
                let bad = "zz_not_in_enum";
                if values.iter().any(|v| v.as_str() == Some(bad)) {
                    continue;
                }
                let mut probe = filled.clone();
                probe.query.retain(|(k, _)| *k != param.name);
                probe.query.push((param.name.clone(), bad.to_string()));
                refusals.push((format!("query parameter {} outside its enum", param.name), probe));
            }
        }
        for param in spec.parameters_in(op, "header") {
            if param.required && filled.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(&param.name)) {
                let mut probe = filled.clone();
                probe.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&param.name));
                refusals.push((format!("without required header {}", param.name), probe));
            }
        }
        for (variant, probe) in refusals {
            let described = Self::describe(&probe, &variant);
            let answer = self.send(&probe).await;
            self.exercised.push((format!("probe:{}", probe.coverage_key()), op_key.clone(), answer.status));
            if (200..300).contains(&answer.status) {
                self.push(&op_key, &described, "accepted-but-spec-refuses", format!("{variant}: answered {}", answer.status));
                continue;
            }
            self.check_refusal(Some(op), &op_key, &described, &answer, None);
        }
        if filled.method == "GET" {
            let optional: Vec<&str> = spec.parameters_in(op, "query").into_iter().filter(|p| !p.required).map(|p| p.name.as_str()).collect();
            if filled.query.iter().any(|(k, _)| optional.contains(&k.as_str())) {
                let mut probe = filled.clone();
                probe.query.retain(|(k, _)| !optional.contains(&k.as_str()));
                let dropped: Vec<String> = filled.query.iter().filter(|(k, _)| optional.contains(&k.as_str())).map(|(k, _)| k.clone()).collect();
                let variant = format!("only required parameters; dropped {}", dropped.join(","));
                let described = Self::describe(&probe, &variant);
                let answer = self.send(&probe).await;
                self.exercised.push((format!("probe:{}", probe.coverage_key()), op_key.clone(), answer.status));
                if !(200..300).contains(&answer.status) {
                    let code = answer.json.as_ref().and_then(|j| error_code(self.shape, j).ok());
                    self.push(
                        &op_key,
                        &described,
                        "refused-but-spec-accepts",
                        format!("{variant}: answered {} {}", answer.status, code.map(|c| c.to_string()).unwrap_or_default()),
                    );
                } else {
                    self.check_body(op, &op_key, &described, &answer, "probe-response");
                }
            }
        }
    }
}

/// The `code` of a Zoho error body, or why it is not one.
pub fn error_code(shape: ErrorShape, body: &Json) -> Result<Json, String> {
    match shape {
        ErrorShape::Crm => {
            let entry = ["data", "watch", "__emulator_none"].iter().find_map(|k| body.get(*k).and_then(Json::as_array).and_then(|a| a.first())).unwrap_or(body);
            let code = entry.get("code").and_then(Json::as_str).ok_or("no string `code`")?;
            if entry.get("status").and_then(Json::as_str) != Some("error") {
                return Err("`status` is not \"error\"".into());
            }
            if !entry.get("message").is_some_and(Json::is_string) {
                return Err("no string `message`".into());
            }
            Ok(Json::String(code.to_string()))
        }
        ErrorShape::Books => {
            let code = body.get("code").and_then(Json::as_i64).ok_or("no integer `code`")?;
            if code == 0 {
                return Err("`code` is 0 (success)".into());
            }
            if !body.get("message").is_some_and(Json::is_string) {
                return Err("no string `message`".into());
            }
            Ok(Json::from(code))
        }
    }
}

/// The first 300 characters of a body, for messages.
pub fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// Splits `problems` by the two lists, prints a full report to stderr, and panics when a
/// problem is on neither list or when an entry of either list (restricted to `kinds`, the kinds
/// this test can produce) matched nothing — a stale entry must be removed.
pub fn assert_clean(test: &str, problems: &[Problem], deviations: &[Listed], gaps: &[Listed], kinds: &[&str]) {
    let mut unexpected = Vec::new();
    let mut deviated = Vec::new();
    let mut gapped = Vec::new();
    for p in problems {
        if deviations.iter().any(|d| d.matches(p)) {
            deviated.push(p);
        } else if gaps.iter().any(|g| g.matches(p)) {
            gapped.push(p);
        } else {
            unexpected.push(p);
        }
    }
    let stale: Vec<String> = deviations
        .iter()
        .map(|d| ("DOCUMENTED_DEVIATIONS", d))
        .chain(gaps.iter().map(|g| ("KNOWN_EMULATOR_GAPS", g)))
        .filter(|(_, l)| kinds.contains(&l.kind) && !problems.iter().any(|p| l.matches(p)))
        .map(|(list, l)| format!("{list}: [{}] {} :: {:?} ({})", l.kind, l.op, l.contains, l.reason))
        .collect();
    let mut report = format!(
        "{test}: {} problems: {} documented deviations, {} known emulator gaps, {} unexpected; {} stale list entries\n",
        problems.len(),
        deviated.len(),
        gapped.len(),
        unexpected.len(),
        stale.len()
    );
    for (title, list) in [("documented deviation", &deviated), ("known emulator gap", &gapped), ("UNEXPECTED", &unexpected)] {
        for (line, count) in grouped(list) {
            let times = if count > 1 { format!(" (x{count})") } else { String::new() };
            report.push_str(&format!("  {title}{times}: {line}\n"));
        }
    }
    for s in &stale {
        report.push_str(&format!("  STALE: {s}\n"));
    }
    assert!(unexpected.is_empty() && stale.is_empty(), "{report}");
    // Passing: still show what was tolerated (visible with --nocapture).
    eprintln!("{report}");
}

/// Problems grouped by kind, operation and message with array indexes folded (`[3]` → `[*]`),
/// each with one example call and a count, in first-seen order.
fn grouped(problems: &[&Problem]) -> Vec<(String, usize)> {
    let mut order: Vec<String> = Vec::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for p in problems {
        let key = format!("[{}] {} :: {}", p.kind, p.op, fold_indexes(&p.message));
        let entry = seen.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            (format!("{key} :: e.g. {}", p.call), 0)
        });
        entry.1 += 1;
    }
    order.into_iter().filter_map(|k| seen.remove(&k)).collect()
}

/// `$.data[12].x` → `$.data[*].x`.
fn fold_indexes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('*');
        }
    }
    out
}
