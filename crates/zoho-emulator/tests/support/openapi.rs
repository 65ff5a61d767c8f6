//! A small OpenAPI 3.0 toolkit for contract-testing the emulator against Zoho's own API
//! descriptions.
//!
//! Why it exists: the emulator must accept what Zoho accepts, refuse what Zoho refuses, and answer
//! in Zoho's shapes. Zoho publishes OpenAPI files for CRM v8 (JSON, one file per area, with
//! cross-file `$ref`s) and Books v3 (YAML, one file per module). Those files are *not* part of
//! this repository (they are Zoho's; see `ZOHO_API.md` provenance notes); tests find them through
//! the `ZOHO_OAS_DIR` environment variable, which must point at the directory that holds
//! `crm-oas/` and `books-oas/`. Use [`spec_dir_or_skip!`] at the top of every contract test.
//!
//! What it offers:
//! - [`Spec::crm`] / [`Spec::books`]: load every file of one API, index its operations, resolve
//!   `$ref`s lazily (local `#/...` pointers, and CRM's cross-file
//!   `https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0/<file>.json#/...`
//!   references, mapped to the local `crm-oas/v8.0/` directory), guarding against cycles.
//! - [`Spec::find_operation`]: the operation for an HTTP method and a concrete request path such
//!   as `/crm/v8/Deals/5725767000000524157`, preferring literal segments over parameters.
//! - [`Spec::validate`]: a deliberately small JSON-schema (OpenAPI 3.0 dialect) validator that
//!   returns readable errors with JSON paths (`$.data[0].id: expected string, got number`).
//! - [`Spec::response_schema`], [`Spec::request_body_schema`], [`Spec::check_query`],
//!   [`Spec::check_headers`]: contract checks for requests and responses.
//! - [`Spec::operations`], [`Spec::routes_missing_from_spec`]: inventory helpers for coverage.
//!
//! Nothing here panics on a malformed spec: problems come back as `Err(String)` or as error
//! strings that name the file and the JSON pointer inside it.
//!
//! Known leniencies (each is named in [`Quirks`] and switched on only for the API it concerns):
//! - CRM: `oneOf` branches are told apart by their declared keys, because the files' success and
//!   error branches overlap completely; see [`Quirks::one_of_by_declared_keys`].
//! - CRM: an undocumented status is checked against the 200 schema by
//!   [`Spec::validate_response`], because the flat files document almost only 200; see
//!   [`Quirks::undocumented_status_uses_200`].
//! - `page_context` is typed `array` in the Books files but real responses (and the SDKs) carry an
//!   object; see [`Quirks::page_context_object`].
//! - Some Books request schemas list "required" names that are not properties of that object but
//!   of a nested one (for example `invoice_id` at the top of the create-payment request, which
//!   really belongs to `invoices[]`); see [`Quirks::ignore_required_not_in_properties`].
//!
//! Not supported (not used by Zoho's files or not needed yet): `pattern` (no regex crate),
//! `discriminator`, `minProperties`/`maxProperties`, parameter `content` (only `schema`),
//! operation-level `servers`, templated segments mixing text and parameters (`{id}.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Map, Value as Json};

/// Name of the environment variable that points at the directory holding `crm-oas/` and
/// `books-oas/`.
pub const SPEC_DIR_VAR: &str = "ZOHO_OAS_DIR";

/// The prefix that CRM's cross-file `$ref`s use; the part after it is a file in `crm-oas/v8.0/`.
pub const CRM_REMOTE_PREFIX: &str = "https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0/";

/// The HTTP methods an OpenAPI path item may hold, in the order they are indexed.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// How deep the validator follows nested schemas before it reports a (probable) cycle.
const MAX_SCHEMA_DEPTH: usize = 64;

/// How many `$ref` hops one resolution may take before it is reported as a cycle.
const MAX_REF_HOPS: usize = 32;

// ------------------------------------------------------------------------------------------------
// Finding the spec directory
// ------------------------------------------------------------------------------------------------

/// Reads `ZOHO_OAS_DIR`. `Ok(None)` when it is unset (the caller should skip loudly);
/// `Err` when it is set but does not point at a directory holding `crm-oas/v8.0/` and
/// `books-oas/openapi-all/` (the caller should fail).
pub fn spec_dir_from_env() -> Result<Option<PathBuf>, String> {
    let Some(raw) = std::env::var_os(SPEC_DIR_VAR) else {
        return Ok(None);
    };
    check_spec_dir(&PathBuf::from(raw)).map(Some)
}

/// Checks that `dir` holds `crm-oas/v8.0/` and `books-oas/openapi-all/`; the error explains
/// what to set `ZOHO_OAS_DIR` to.
pub fn check_spec_dir(dir: &Path) -> Result<PathBuf, String> {
    for sub in ["crm-oas/v8.0", "books-oas/openapi-all"] {
        let wanted = dir.join(sub);
        if !wanted.is_dir() {
            return Err(format!(
                "{SPEC_DIR_VAR}={} is set but {} is not a directory; point it at the directory \
                 holding crm-oas/ and books-oas/",
                dir.display(),
                wanted.display()
            ));
        }
    }
    Ok(dir.to_path_buf())
}

/// Prints the loud skip line used when `ZOHO_OAS_DIR` is unset. It writes to the process's
/// stderr directly rather than through `eprintln!`, which the test harness captures and hides
/// for passing tests: a skipped contract test must be visible in a plain `cargo test` run.
pub fn print_skip(test_name: &str) {
    use std::io::Write;
    let line = format!(
        "SKIPPED ({SPEC_DIR_VAR} not set): {test_name} did not load Zoho's OpenAPI files \
         (set {SPEC_DIR_VAR} to the directory holding crm-oas/ and books-oas/)\n"
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Returns the spec directory from `ZOHO_OAS_DIR`, or prints a loud `SKIPPED` line to stderr and
/// returns from the calling test when the variable is unset. When the variable is set but the
/// directory is wrong, the test fails (panics) instead of skipping.
///
/// Use `spec_dir_or_skip!()` (the test name is taken from the test thread) or
/// `spec_dir_or_skip!("name")`. The calling test crate must declare `mod support;`.
#[macro_export]
macro_rules! spec_dir_or_skip {
    () => {
        $crate::spec_dir_or_skip!(::std::thread::current().name().unwrap_or("<unnamed test>").to_string())
    };
    ($name:expr) => {
        match $crate::support::openapi::spec_dir_from_env() {
            Ok(Some(dir)) => dir,
            Ok(None) => {
                $crate::support::openapi::print_skip(&$name);
                return;
            }
            Err(message) => panic!("{}", message),
        }
    };
}

// ------------------------------------------------------------------------------------------------
// Spec, operations, parameters
// ------------------------------------------------------------------------------------------------

/// Which Zoho API a [`Spec`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Zoho CRM v8 (`crm-oas/v8.0/*.json`).
    Crm,
    /// Zoho Books v3 (`books-oas/openapi-all/*.yml`).
    Books,
}

/// Named leniencies for documented inconsistencies between a spec and Zoho's real behaviour.
/// Each flag names the spec it is meant for; [`Spec::load`] turns on the ones of that API.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quirks {
    /// Books types `page_context` as `array` (of objects), but real responses, Zoho's SDKs
    /// (`PageContext` model) and `books-oas/INDEX.md` agree it is one object. When this is on,
    /// a property named `page_context` whose schema is an array accepts an object, which is then
    /// checked against the array's `items` schema.
    pub page_context_object: bool,
    /// Books puts some sub-field names into an object's `required` list although they are not
    /// properties of that object (e.g. `invoice_id` and `amount_applied` at the top of
    /// `create-a-payment-request`; they belong to `invoices[]`). When this is on, a required name
    /// that is not declared in the same schema's `properties` is not enforced. Required names that
    /// *are* declared properties are always enforced.
    pub ignore_required_not_in_properties: bool,
    /// CRM only. The CRM files answer most operations with `oneOf: [<success wrapper>,
    /// API_Exception]`, and both branches are objects with no `required` list and open
    /// `additionalProperties`, so *every* object matches the error branch and a success body
    /// is never really checked. When this is on, an object matches a `oneOf`/`anyOf` branch
    /// only if, in addition, each of its keys is a declared property of that branch (branches
    /// that declare no properties, or explicitly allow additional ones, are not restricted).
    /// This acts like the discriminator the files lack.
    pub one_of_by_declared_keys: bool,
    /// CRM only. The flat v8.0 files document only status 200 for almost every operation
    /// (its schema already includes `API_Exception`), while the API really answers 201, 202,
    /// 207, 400, 401, 403, 404, 412, 429, 500 (see ZOHO_API.md and the upstream examples). When
    /// this is on, [`Spec::validate_response`] checks an undocumented status against the 200
    /// schema. [`Spec::response_schema`] stays strict so the gap can still be reported.
    pub undocumented_status_uses_200: bool,
}

/// One loaded API description: every file of one API, plus an index of its operations.
#[derive(Debug)]
pub struct Spec {
    /// Which API this is.
    pub api: Api,
    /// The directory the files were read from.
    pub dir: PathBuf,
    /// Leniencies applied by the validator (see [`Quirks`]).
    pub quirks: Quirks,
    /// Parsed documents keyed by file name (e.g. `record.json`, `invoices.yml`), as JSON.
    documents: BTreeMap<String, Json>,
    /// Every operation of every file, in file-name order, then path order within a file.
    operations: Vec<Operation>,
}

/// One operation (method + path template) of a spec.
#[derive(Clone, Debug)]
pub struct Operation {
    /// File that defines it, e.g. `record.json`.
    pub file: String,
    /// Upper-case HTTP method, e.g. `GET`.
    pub method: String,
    /// The path key exactly as written in the spec, e.g. `/invoices/{invoice_id}`.
    pub template: String,
    /// The template prefixed with the server's base path, i.e. the path a client really calls,
    /// e.g. `/books/v3/invoices/{invoice_id}` (CRM paths already start with `/crm/v8`).
    pub full_template: String,
    /// `operationId` if present (CRM uses titles like "Get Records", Books snake_case ids).
    pub operation_id: Option<String>,
    /// JSON pointer of the operation object inside `file`.
    pub pointer: String,
    /// Path-level and operation-level parameters merged (operation-level wins), `$ref`s resolved.
    pub parameters: Vec<Parameter>,
}

/// One parameter of an operation, with its `$ref` resolved.
#[derive(Clone, Debug)]
pub struct Parameter {
    /// Parameter name, e.g. `organization_id`.
    pub name: String,
    /// Where it goes: `query`, `header`, `path` or `cookie`.
    pub location: String,
    /// Whether the spec marks it required.
    pub required: bool,
    /// File holding the resolved parameter object.
    pub file: String,
    /// JSON pointer of the resolved parameter object inside `file`.
    pub pointer: String,
}

/// A schema node: the JSON value plus where it lives, so `$ref`s inside it resolve against the
/// right file and errors can name the spec location.
#[derive(Clone, Debug)]
pub struct Schema<'a> {
    /// File the node belongs to.
    pub file: &'a str,
    /// JSON pointer of the node inside the file.
    pub pointer: String,
    /// The node itself (may still be a `{"$ref": ...}` object).
    pub value: &'a Json,
}

impl<'a> Schema<'a> {
    /// `file#pointer`, for messages.
    pub fn location(&self) -> String {
        format!("{}#{}", self.file, self.pointer)
    }

    /// The `type` keyword, if present.
    pub fn type_name(&self) -> Option<&str> {
        self.value.get("type").and_then(Json::as_str)
    }

    /// The `format` keyword, if present.
    pub fn format(&self) -> Option<&str> {
        self.value.get("format").and_then(Json::as_str)
    }

    /// The `enum` values, if present.
    pub fn enum_values(&self) -> Option<&'a Vec<Json>> {
        self.value.get("enum").and_then(Json::as_array)
    }

    /// The `minimum` keyword, if present.
    pub fn minimum(&self) -> Option<f64> {
        self.value.get("minimum").and_then(Json::as_f64)
    }

    /// The `maximum` keyword, if present.
    pub fn maximum(&self) -> Option<f64> {
        self.value.get("maximum").and_then(Json::as_f64)
    }

    /// Whether `nullable: true` is set.
    pub fn nullable(&self) -> bool {
        self.value.get("nullable").and_then(Json::as_bool) == Some(true)
    }

    /// Names listed in `required` (empty when absent).
    pub fn required_names(&self) -> Vec<&str> {
        match self.value.get("required").and_then(Json::as_array) {
            Some(list) => list.iter().filter_map(Json::as_str).collect(),
            None => Vec::new(),
        }
    }

    /// Names declared in `properties` (empty when absent).
    pub fn property_names(&self) -> Vec<&str> {
        match self.value.get("properties").and_then(Json::as_object) {
            Some(map) => map.keys().map(String::as_str).collect(),
            None => Vec::new(),
        }
    }

    /// A child node at `key` (e.g. `items`, or `properties` then a name via [`Schema::child2`]).
    pub fn child(&self, key: &str) -> Option<Schema<'a>> {
        self.value.get(key).map(|value| Schema { file: self.file, pointer: format!("{}/{}", self.pointer, escape_pointer(key)), value })
    }

    /// A grandchild node at `key/name`, e.g. `child2("properties", "data")`.
    pub fn child2(&self, key: &str, name: &str) -> Option<Schema<'a>> {
        self.value.get(key).and_then(|m| m.get(name)).map(|value| Schema {
            file: self.file,
            pointer: format!("{}/{}/{}", self.pointer, escape_pointer(key), escape_pointer(name)),
            value,
        })
    }
}

impl Spec {
    /// Loads every `crm-oas/v8.0/*.json` file under `dir` (the `ZOHO_OAS_DIR` directory).
    pub fn crm(dir: &Path) -> Result<Spec, String> {
        Spec::load(Api::Crm, &dir.join("crm-oas").join("v8.0"))
    }

    /// Loads every `books-oas/openapi-all/*.yml` file under `dir` (the `ZOHO_OAS_DIR` directory).
    pub fn books(dir: &Path) -> Result<Spec, String> {
        Spec::load(Api::Books, &dir.join("books-oas").join("openapi-all"))
    }

    /// Loads one API from the directory holding its files (`*.json` for CRM, `*.yml`/`*.yaml`
    /// for Books) and indexes its operations. Fails if the directory is unreadable or empty, a
    /// file does not parse, or a path item / parameter `$ref` does not resolve.
    pub fn load(api: Api, files_dir: &Path) -> Result<Spec, String> {
        let entries = std::fs::read_dir(files_dir).map_err(|e| format!("cannot read directory {}: {e}", files_dir.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", files_dir.display()))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let wanted = match api {
                Api::Crm => name.ends_with(".json"),
                Api::Books => name.ends_with(".yml") || name.ends_with(".yaml"),
            };
            if wanted {
                names.push(name);
            }
        }
        names.sort();
        if names.is_empty() {
            return Err(format!("no spec files found in {}", files_dir.display()));
        }

        let mut documents = BTreeMap::new();
        for name in &names {
            let path = files_dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let doc = match api {
                Api::Crm => serde_json::from_str::<Json>(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?,
                Api::Books => yaml_to_json(&text).map_err(|e| format!("{}: {e}", path.display()))?,
            };
            if !doc.is_object() {
                return Err(format!("{}: top level is not an object", path.display()));
            }
            documents.insert(name.clone(), doc);
        }

        Spec::from_documents(api, files_dir, documents)
    }

    /// Builds a spec from already parsed documents keyed by file name (used by [`Spec::load`],
    /// and by tests that exercise the validator on small hand-written schemas). Quirks are set
    /// per `api` (see [`Quirks`]).
    pub fn from_documents(api: Api, dir: &Path, documents: BTreeMap<String, Json>) -> Result<Spec, String> {
        let quirks = match api {
            Api::Crm => Quirks { one_of_by_declared_keys: true, undocumented_status_uses_200: true, ..Quirks::default() },
            Api::Books => Quirks { page_context_object: true, ignore_required_not_in_properties: true, ..Quirks::default() },
        };
        let mut spec = Spec { api, dir: dir.to_path_buf(), quirks, documents, operations: Vec::new() };
        spec.operations = spec.index_operations()?;
        Ok(spec)
    }

    /// Names of the loaded files, sorted.
    pub fn file_names(&self) -> Vec<&str> {
        self.documents.keys().map(String::as_str).collect()
    }

    /// The parsed document of one file, if loaded.
    pub fn document(&self, file: &str) -> Option<&Json> {
        self.documents.get(file)
    }

    /// The schema node at `pointer` in `file` (not resolved), or an error naming both.
    pub fn node(&self, file: &str, pointer: &str) -> Result<Schema<'_>, String> {
        let (file_key, doc) = self.documents.get_key_value(file).ok_or_else(|| format!("{file}: no such spec file loaded"))?;
        let value = doc.pointer(pointer).ok_or_else(|| format!("{file}#{pointer}: no such node"))?;
        Ok(Schema { file: file_key.as_str(), pointer: pointer.to_string(), value })
    }

    /// A named schema from `#/components/schemas/<name>` of `file`, resolved.
    pub fn component_schema(&self, file: &str, name: &str) -> Result<Schema<'_>, String> {
        let node = self.node(file, &format!("/components/schemas/{}", escape_pointer(name)))?;
        self.resolve(node)
    }

    /// Follows `$ref` until a non-reference node is reached. Errors name the referring location
    /// and the reference; cycles (a ref chain revisiting a node) are reported, not followed.
    pub fn resolve<'a>(&'a self, mut node: Schema<'a>) -> Result<Schema<'a>, String> {
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = node.value.get("$ref") else {
                return Ok(node);
            };
            let Some(reference) = reference.as_str() else {
                return Err(format!("{}: $ref is not a string", node.location()));
            };
            if !seen.insert((node.file, node.pointer.clone())) {
                return Err(format!("{}: $ref cycle through {reference}", node.location()));
            }
            let (file, pointer) = self.split_ref(node.file, reference).map_err(|e| format!("{}: {e}", node.location()))?;
            node = self.node(&file, &pointer).map_err(|e| format!("{}: $ref {reference} does not resolve ({e})", node.location()))?;
        }
        Err(format!("{}: more than {MAX_REF_HOPS} $ref hops (cycle?)", node.location()))
    }

    /// Turns a `$ref` string found in `from_file` into (file, JSON pointer).
    fn split_ref(&self, from_file: &str, reference: &str) -> Result<(String, String), String> {
        let (target, fragment) = match reference.split_once('#') {
            Some((target, fragment)) => (target, fragment),
            None => (reference, ""),
        };
        let file = if target.is_empty() {
            from_file.to_string()
        } else if let Some(rest) = target.strip_prefix(CRM_REMOTE_PREFIX) {
            rest.to_string()
        } else if !target.contains("://") && !target.contains('/') {
            // A sibling file named relatively, e.g. `users.json#/...`.
            target.to_string()
        } else {
            return Err(format!("$ref {reference} points outside the local spec files"));
        };
        Ok((file, percent_decode(fragment)))
    }

    /// Every `$ref` in every file: (file, JSON pointer of the `$ref` holder, reference text).
    pub fn all_refs(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (file, doc) in &self.documents {
            collect_refs(doc, String::new(), &mut |pointer, reference| {
                out.push((file.clone(), pointer, reference.to_string()));
            });
        }
        out
    }

    /// Resolves every `$ref` of every file and returns one error per reference that does not
    /// resolve (empty when all resolve).
    pub fn check_all_refs(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (file, pointer, _) in self.all_refs() {
            match self.node(&file, &pointer) {
                Ok(node) => {
                    if let Err(e) = self.resolve(node) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    // --------------------------------------------------------------------------------------------
    // Operations
    // --------------------------------------------------------------------------------------------

    /// Builds the operation index; fails on unresolvable path items or parameters.
    fn index_operations(&self) -> Result<Vec<Operation>, String> {
        let mut operations = Vec::new();
        for (file, doc) in &self.documents {
            let base = server_base_path(doc);
            let Some(paths) = doc.get("paths") else { continue };
            let Some(paths) = paths.as_object() else {
                return Err(format!("{file}#/paths: not an object"));
            };
            for (template, _) in paths {
                let item_pointer = format!("/paths/{}", escape_pointer(template));
                let item = self.resolve(self.node(file, &item_pointer)?)?;
                let Some(item_map) = item.value.as_object() else {
                    return Err(format!("{}: path item is not an object", item.location()));
                };
                let shared = self.parameters_of(&item)?;
                for method in METHODS {
                    let Some(op_value) = item_map.get(method) else { continue };
                    let op = Schema { file: item.file, pointer: format!("{}/{method}", item.pointer), value: op_value };
                    if !op_value.is_object() {
                        return Err(format!("{}: operation is not an object", op.location()));
                    }
                    let mut parameters = shared.clone();
                    for own in self.parameters_of(&op)? {
                        parameters.retain(|p| !(p.name == own.name && p.location == own.location));
                        parameters.push(own);
                    }
                    operations.push(Operation {
                        file: op.file.to_string(),
                        method: method.to_uppercase(),
                        template: template.clone(),
                        full_template: format!("{base}{template}"),
                        operation_id: op_value.get("operationId").and_then(Json::as_str).map(String::from),
                        pointer: op.pointer.clone(),
                        parameters,
                    });
                }
            }
        }
        Ok(operations)
    }

    /// The resolved `parameters` list of a path item or operation node.
    fn parameters_of(&self, holder: &Schema<'_>) -> Result<Vec<Parameter>, String> {
        let Some(list) = holder.child("parameters") else {
            return Ok(Vec::new());
        };
        let Some(items) = list.value.as_array() else {
            return Err(format!("{}: parameters is not an array", list.location()));
        };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let raw = Schema { file: list.file, pointer: format!("{}/{index}", list.pointer), value: item };
            let param = self.resolve(raw)?;
            let name = param.value.get("name").and_then(Json::as_str);
            let location = param.value.get("in").and_then(Json::as_str);
            let (Some(name), Some(location)) = (name, location) else {
                return Err(format!("{}: parameter without name or in", param.location()));
            };
            out.push(Parameter {
                name: name.to_string(),
                location: location.to_string(),
                // Path parameters are always required, whatever the flag says.
                required: location == "path" || param.value.get("required").and_then(Json::as_bool) == Some(true),
                file: param.file.to_string(),
                pointer: param.pointer.clone(),
            });
        }
        Ok(out)
    }

    /// Every operation, in file-name order then path order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Every (method, full path template) pair, e.g. `("GET", "/books/v3/invoices")`.
    pub fn operation_keys(&self) -> Vec<(String, String)> {
        self.operations.iter().map(|op| (op.method.clone(), op.full_template.clone())).collect()
    }

    /// The operation object of `op` as a schema node (for reading any keyword directly).
    pub fn operation_node(&self, op: &Operation) -> Result<Schema<'_>, String> {
        self.node(&op.file, &op.pointer)
    }

    /// All operations whose template matches `method` and the concrete `path`, best first.
    /// `path` may be a full URL and may carry a query string; both are ignored for matching.
    /// "Best" compares segments left to right: a literal segment beats a `{parameter}`; equal
    /// shapes keep load order (file name, then order in the file).
    pub fn matching_operations(&self, method: &str, path: &str) -> Vec<&Operation> {
        let path = request_path(path);
        let mut found: Vec<(Vec<bool>, usize, &Operation)> = Vec::new();
        for (index, op) in self.operations.iter().enumerate() {
            if !op.method.eq_ignore_ascii_case(method) {
                continue;
            }
            if let Some(literals) = match_template(&op.full_template, path) {
                found.push((literals, index, op));
            }
        }
        // More literal segments earlier wins (true > false), then load order.
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        found.into_iter().map(|(_, _, op)| op).collect()
    }

    /// The best operation for `method` and the concrete `path` (see [`Spec::matching_operations`]).
    pub fn find_operation(&self, method: &str, path: &str) -> Option<&Operation> {
        self.matching_operations(method, path).into_iter().next()
    }

    /// Like [`Spec::find_operation`], but an error message listing nearby templates when absent.
    pub fn operation(&self, method: &str, path: &str) -> Result<&Operation, String> {
        self.find_operation(method, path).ok_or_else(|| format!("{:?} spec has no operation for {method} {}", self.api, request_path(path)))
    }

    /// The operation whose template has the same shape as `template` (parameter names ignored),
    /// e.g. an emulator route `/crm/v8/{module}/{id}` finds `/crm/v8/{module_api_name}/{id}`.
    pub fn find_by_template(&self, method: &str, template: &str) -> Option<&Operation> {
        let wanted = template_shape(request_path(template));
        self.operations.iter().find(|op| op.method.eq_ignore_ascii_case(method) && template_shape(&op.full_template) == wanted)
    }

    /// The routes (method, template) that have no operation of the same shape in the spec.
    /// Use it to assert "every operation the emulator routes is in the spec".
    pub fn routes_missing_from_spec(&self, routes: &[(&str, &str)]) -> Vec<String> {
        routes
            .iter()
            .filter(|(method, template)| self.find_by_template(method, template).is_none())
            .map(|(method, template)| format!("{method} {template}"))
            .collect()
    }

    // --------------------------------------------------------------------------------------------
    // Parameters, request and response bodies
    // --------------------------------------------------------------------------------------------

    /// The resolved schema of a parameter (`None` when it has no `schema`).
    pub fn parameter_schema(&self, param: &Parameter) -> Result<Option<Schema<'_>>, String> {
        let node = self.node(&param.file, &param.pointer)?;
        match node.child("schema") {
            Some(schema) => Ok(Some(self.resolve(schema)?)),
            None => Ok(None),
        }
    }

    /// The operation's parameters located `in` (`query`, `header`, `path`).
    pub fn parameters_in<'o>(&self, op: &'o Operation, location: &str) -> Vec<&'o Parameter> {
        op.parameters.iter().filter(|p| p.location == location).collect()
    }

    /// The request body schema for `content_type` (parameters after `;` ignored). Falls back to
    /// the only declared media type when there is exactly one. `Ok(None)` when the operation
    /// declares no request body.
    pub fn request_body_schema(&self, op: &Operation, content_type: &str) -> Result<Option<Schema<'_>>, String> {
        let op_node = self.operation_node(op)?;
        let Some(body) = op_node.child("requestBody") else {
            return Ok(None);
        };
        let body = self.resolve(body)?;
        self.media_schema(&body, content_type).map(Some)
    }

    /// The response schema for `status` and `content_type`. Looks for the exact status key,
    /// then a range key such as `2XX`, then `default`. `Ok(None)` means the response is
    /// documented without a body; `Err` means the status is not documented at all (or the
    /// content type is not offered).
    pub fn response_schema(&self, op: &Operation, status: u16, content_type: &str) -> Result<Option<Schema<'_>>, String> {
        let op_node = self.operation_node(op)?;
        let Some(responses) = op_node.child("responses") else {
            return Err(format!("{}: operation has no responses", op_node.location()));
        };
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let key = ["exact", "range", "default"]
            .into_iter()
            .find_map(|kind| {
                let map = responses.value.as_object()?;
                match kind {
                    "exact" => map.keys().find(|k| **k == exact),
                    "range" => map.keys().find(|k| k.eq_ignore_ascii_case(&range)),
                    _ => map.keys().find(|k| *k == "default"),
                }
            })
            .cloned();
        let Some(key) = key else {
            let documented: Vec<&str> = responses.value.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
            return Err(format!("{} {}: status {status} is not documented (documented: {})", op.method, op.full_template, documented.join(", ")));
        };
        let response = responses.child(&key).ok_or_else(|| format!("{}: lost key {key}", responses.location()))?;
        let response = self.resolve(response)?;
        if response.value.get("content").is_none() {
            return Ok(None);
        }
        self.media_schema(&response, content_type).map(Some)
    }

    /// Picks `content/<type>/schema` of a request body or response object.
    fn media_schema<'a>(&'a self, holder: &Schema<'a>, content_type: &str) -> Result<Schema<'a>, String> {
        let wanted = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let Some(content) = holder.child("content") else {
            return Err(format!("{}: no content", holder.location()));
        };
        let Some(map) = content.value.as_object() else {
            return Err(format!("{}: content is not an object", content.location()));
        };
        let key = map.keys().find(|k| k.to_ascii_lowercase() == wanted).or_else(|| if map.len() == 1 { map.keys().next() } else { None }).cloned();
        let Some(key) = key else {
            let offered: Vec<&str> = map.keys().map(String::as_str).collect();
            return Err(format!("{}: no {wanted} content (offered: {})", content.location(), offered.join(", ")));
        };
        let media = content.child(&key).ok_or_else(|| format!("{}: lost key {key}", content.location()))?;
        let Some(schema) = media.child("schema") else {
            return Err(format!("{}: media type without schema", media.location()));
        };
        self.resolve(schema)
    }

    /// Like [`Spec::response_schema`], but when the status is undocumented and
    /// [`Quirks::undocumented_status_uses_200`] is on, falls back to the 200 schema.
    pub fn response_schema_or_200(&self, op: &Operation, status: u16, content_type: &str) -> Result<Option<Schema<'_>>, String> {
        match self.response_schema(op, status, content_type) {
            Err(e) if self.quirks.undocumented_status_uses_200 && status != 200 => {
                self.response_schema(op, 200, content_type).map_err(|e200| format!("{e}; and {e200}"))
            }
            other => other,
        }
    }

    /// Validates a response body for `status` and `content_type` (empty result means the body
    /// conforms). An undocumented status is an error, except under
    /// [`Quirks::undocumented_status_uses_200`] (CRM), where the 200 schema is used.
    pub fn validate_response(&self, op: &Operation, status: u16, content_type: &str, body: &Json) -> Vec<String> {
        match self.response_schema_or_200(op, status, content_type) {
            Ok(Some(schema)) => self.validate(&schema, body),
            Ok(None) => vec![format!("{} {}: status {status} is documented without a body", op.method, op.full_template)],
            Err(e) => vec![e],
        }
    }

    /// Validates a request body for `content_type` (empty result means the body conforms).
    pub fn validate_request_body(&self, op: &Operation, content_type: &str, body: &Json) -> Vec<String> {
        match self.request_body_schema(op, content_type) {
            Ok(Some(schema)) => self.validate(&schema, body),
            Ok(None) => vec![format!("{} {}: operation takes no request body", op.method, op.full_template)],
            Err(e) => vec![e],
        }
    }

    /// Checks query parameters against the operation: unknown names, missing required ones,
    /// parameters given more than once (unless typed array), and values that do not fit the
    /// parameter schema (type after parsing the text, enum, minimum/maximum, maxLength, format).
    /// Array parameters accept repeated names and comma-separated values. Empty result = accepted.
    pub fn check_query(&self, op: &Operation, pairs: &[(&str, &str)]) -> Vec<String> {
        let mut errors = Vec::new();
        let known = self.parameters_in(op, "query");
        for (name, _) in pairs {
            if !known.iter().any(|p| p.name == *name) {
                errors.push(format!("query parameter {name:?} is not defined for {} {}", op.method, op.full_template));
            }
        }
        for param in known {
            let values: Vec<&str> = pairs.iter().filter(|(n, _)| *n == param.name).map(|(_, v)| *v).collect();
            if values.is_empty() {
                if param.required {
                    errors.push(format!("required query parameter {:?} is missing", param.name));
                }
                continue;
            }
            self.check_parameter_values(param, &values, &mut errors);
        }
        errors
    }

    /// Checks header parameters: missing required ones and values that do not fit the schema.
    /// Header names compare case-insensitively; headers the spec does not mention are ignored,
    /// because HTTP carries many headers no spec lists.
    pub fn check_headers(&self, op: &Operation, headers: &[(&str, &str)]) -> Vec<String> {
        let mut errors = Vec::new();
        for param in self.parameters_in(op, "header") {
            let values: Vec<&str> = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(&param.name)).map(|(_, v)| *v).collect();
            if values.is_empty() {
                if param.required {
                    errors.push(format!("required header {:?} is missing", param.name));
                }
                continue;
            }
            self.check_parameter_values(param, &values, &mut errors);
        }
        errors
    }

    /// Checks the textual values given for one parameter against its schema.
    fn check_parameter_values(&self, param: &Parameter, values: &[&str], errors: &mut Vec<String>) {
        let schema = match self.parameter_schema(param) {
            Ok(Some(schema)) => schema,
            Ok(None) => return,
            Err(e) => {
                errors.push(e);
                return;
            }
        };
        let label = format!("{} parameter {:?}", param.location, param.name);
        if schema.type_name() == Some("array") {
            let items = match schema.child("items").map(|i| self.resolve(i)) {
                Some(Ok(items)) => Some(items),
                Some(Err(e)) => {
                    errors.push(e);
                    None
                }
                None => None,
            };
            for value in values {
                for piece in value.split(',') {
                    if let Some(items) = &items {
                        self.check_parameter_text(items, piece, &label, errors);
                    }
                }
            }
            return;
        }
        if values.len() > 1 {
            errors.push(format!("{label} is given {} times but is not an array", values.len()));
        }
        for value in values {
            self.check_parameter_text(&schema, value, &label, errors);
        }
    }

    /// Parses one textual parameter value per its schema type, then validates it.
    fn check_parameter_text(&self, schema: &Schema<'_>, text: &str, label: &str, errors: &mut Vec<String>) {
        let parsed = match schema.type_name() {
            Some("integer") => match text.parse::<i64>() {
                Ok(n) => Json::from(n),
                Err(_) => {
                    errors.push(format!("{label}: {text:?} is not an integer"));
                    return;
                }
            },
            Some("number") => match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Json::from(n),
                _ => {
                    errors.push(format!("{label}: {text:?} is not a number"));
                    return;
                }
            },
            Some("boolean") => match text {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => {
                    errors.push(format!("{label}: {text:?} is not a boolean (true/false)"));
                    return;
                }
            },
            _ => Json::String(text.to_string()),
        };
        for e in self.validate(schema, &parsed) {
            errors.push(format!("{label}: {e}"));
        }
    }

    // --------------------------------------------------------------------------------------------
    // Validation
    // --------------------------------------------------------------------------------------------

    /// Validates `value` against `schema`; returns one message per problem, each starting with
    /// the JSON path of the offending value (`$` is the root). An empty list means valid.
    /// Problems in the spec itself (unresolvable `$ref`, unknown `type`) are reported the same
    /// way, naming `file#pointer`.
    ///
    /// Semantics (OpenAPI 3.0 flavour): `type` (string, integer, number, boolean, object,
    /// array); `null` only with `nullable: true` or when the schema has no `type`; `enum`;
    /// `properties`, `required`, `additionalProperties` (absent/true, false, or a schema);
    /// `items`, `minItems`, `maxItems`, `uniqueItems`; `minimum`, `maximum` (with the 3.0
    /// boolean `exclusiveMinimum`/`exclusiveMaximum`); `minLength`, `maxLength`; `format`
    /// `date-time` and `date` (loosely, see [`is_loose_date_time`]); `allOf`; `oneOf` and
    /// `anyOf` both mean "at least one branch" (Zoho's CRM files put a success wrapper and an
    /// error object, which overlap, under `oneOf`; exactly-one would reject every body); `not`.
    pub fn validate(&self, schema: &Schema<'_>, value: &Json) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema.clone(), value, "$", 0, &mut errors);
        errors
    }

    /// Recursive worker of [`Spec::validate`].
    fn check(&self, schema: Schema<'_>, value: &Json, path: &str, depth: usize, errors: &mut Vec<String>) {
        if depth > MAX_SCHEMA_DEPTH {
            errors.push(format!("{path}: schema nesting deeper than {MAX_SCHEMA_DEPTH} at {} (cycle?)", schema.location()));
            return;
        }
        let schema = match self.resolve(schema) {
            Ok(schema) => schema,
            Err(e) => {
                errors.push(format!("{path}: spec error: {e}"));
                return;
            }
        };
        let Some(keywords) = schema.value.as_object() else {
            // `true`/`false` schemas are not OpenAPI 3.0; anything else is a broken spec.
            if schema.value != &Json::Bool(true) {
                errors.push(format!("{path}: spec error: {} is not a schema object", schema.location()));
            }
            return;
        };

        if value.is_null() {
            if schema.nullable() || !keywords.contains_key("type") {
                // Composition keywords still apply to an untyped schema.
                if !schema.nullable() {
                    self.check_composition(&schema, value, path, depth, errors);
                }
                return;
            }
            errors.push(format!("{path}: expected {}, got null (schema {} is not nullable)", schema.type_name().unwrap_or("?"), schema.location()));
            return;
        }

        if let Some(type_name) = keywords.get("type") {
            let Some(type_name) = type_name.as_str() else {
                errors.push(format!("{path}: spec error: {} has a non-string type", schema.location()));
                return;
            };
            let fits = match type_name {
                "string" => value.is_string(),
                "integer" => is_integer(value),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                other => {
                    errors.push(format!("{path}: spec error: {} has unknown type {other:?}", schema.location()));
                    return;
                }
            };
            if !fits {
                errors.push(format!("{path}: expected {type_name}, got {}", kind_of(value)));
                return;
            }
        }

        if let Some(allowed) = keywords.get("enum").and_then(Json::as_array)
            && !allowed.iter().any(|a| json_equal(a, value))
        {
            let shown: Vec<String> = allowed.iter().take(12).map(|a| a.to_string()).collect();
            let more = if allowed.len() > 12 { ", ..." } else { "" };
            errors.push(format!("{path}: {value} is not one of [{}{more}]", shown.join(", ")));
        }

        match value {
            Json::String(text) => self.check_string(&schema, text, path, errors),
            Json::Number(_) => check_number(&schema, value, path, errors),
            Json::Array(items) => self.check_array(&schema, items, path, depth, errors),
            Json::Object(map) => self.check_object(&schema, map, path, depth, errors),
            _ => {}
        }

        self.check_composition(&schema, value, path, depth, errors);
    }

    /// `allOf`, `oneOf`, `anyOf`, `not`.
    fn check_composition(&self, schema: &Schema<'_>, value: &Json, path: &str, depth: usize, errors: &mut Vec<String>) {
        if let Some(all) = schema.child("allOf") {
            for branch in branches(&all) {
                self.check(branch, value, path, depth + 1, errors);
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(list) = schema.child(keyword) else { continue };
            // Closest branch: fewest undeclared keys first (the branch whose shape fits), then
            // fewest other errors.
            let mut best: Option<((usize, usize), Vec<String>, String)> = None;
            let mut count = 0;
            for branch in branches(&list) {
                count += 1;
                let location = match self.resolve(branch.clone()) {
                    Ok(resolved) => resolved.location(),
                    Err(_) => branch.location(),
                };
                let mut branch_errors = Vec::new();
                if self.quirks.one_of_by_declared_keys {
                    self.undeclared_keys(&branch, value, path, &mut branch_errors);
                }
                let undeclared = branch_errors.len();
                self.check(branch, value, path, depth + 1, &mut branch_errors);
                if branch_errors.is_empty() {
                    best = None;
                    count = 0;
                    break;
                }
                let score = (undeclared, branch_errors.len() - undeclared);
                if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                    best = Some((score, branch_errors, location));
                }
            }
            if let Some((_, branch_errors, location)) = best {
                errors.push(format!("{path}: matches none of the {count} {keyword} branches; closest is {location}:"));
                errors.extend(branch_errors.into_iter().map(|e| format!("  {e}")));
            }
        }
        if let Some(not) = schema.child("not") {
            let mut inner = Vec::new();
            self.check(not.clone(), value, path, depth + 1, &mut inner);
            if inner.is_empty() {
                errors.push(format!("{path}: must not match {}", not.location()));
            }
        }
    }

    /// For [`Quirks::one_of_by_declared_keys`]: one error per key of an object `value` that the
    /// (resolved) `branch` does not declare, when the branch declares properties and does not
    /// explicitly allow additional ones.
    fn undeclared_keys(&self, branch: &Schema<'_>, value: &Json, path: &str, errors: &mut Vec<String>) {
        let (Json::Object(map), Ok(branch)) = (value, self.resolve(branch.clone())) else { return };
        let Some(declared) = branch.value.get("properties").and_then(Json::as_object) else { return };
        if branch.value.get("additionalProperties").is_some_and(|a| a != &Json::Bool(false)) {
            return;
        }
        for key in map.keys() {
            if !declared.contains_key(key) {
                errors.push(format!("{}: not declared by {} (oneOf branch selection)", child_path(path, key), branch.location()));
            }
        }
    }

    /// String keywords: `minLength`, `maxLength`, `format`.
    fn check_string(&self, schema: &Schema<'_>, text: &str, path: &str, errors: &mut Vec<String>) {
        let length = text.chars().count() as u64;
        if let Some(max) = schema.value.get("maxLength").and_then(Json::as_u64)
            && length > max
        {
            errors.push(format!("{path}: string of {length} characters is longer than maxLength {max}"));
        }
        if let Some(min) = schema.value.get("minLength").and_then(Json::as_u64)
            && length < min
        {
            errors.push(format!("{path}: string of {length} characters is shorter than minLength {min}"));
        }
        match schema.format() {
            Some("date-time") if !is_loose_date_time(text) => {
                errors.push(format!("{path}: {text:?} is not a date-time"));
            }
            Some("date") if !is_date(text) => {
                errors.push(format!("{path}: {text:?} is not a date (yyyy-mm-dd)"));
            }
            _ => {}
        }
    }

    /// Array keywords: `items`, `minItems`, `maxItems`, `uniqueItems`.
    fn check_array(&self, schema: &Schema<'_>, items: &[Json], path: &str, depth: usize, errors: &mut Vec<String>) {
        let count = items.len() as u64;
        if let Some(max) = schema.value.get("maxItems").and_then(Json::as_u64)
            && count > max
        {
            errors.push(format!("{path}: {count} items is more than maxItems {max}"));
        }
        if let Some(min) = schema.value.get("minItems").and_then(Json::as_u64)
            && count < min
        {
            errors.push(format!("{path}: {count} items is fewer than minItems {min}"));
        }
        if schema.value.get("uniqueItems").and_then(Json::as_bool) == Some(true) {
            for i in 0..items.len() {
                if items[..i].iter().any(|earlier| json_equal(earlier, &items[i])) {
                    errors.push(format!("{path}[{i}]: duplicate item (uniqueItems)"));
                }
            }
        }
        if let Some(item_schema) = schema.child("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema.clone(), item, &format!("{path}[{i}]"), depth + 1, errors);
            }
        }
    }

    /// Object keywords: `required`, `properties`, `additionalProperties`.
    fn check_object(&self, schema: &Schema<'_>, map: &Map<String, Json>, path: &str, depth: usize, errors: &mut Vec<String>) {
        let declared = schema.property_names();
        for name in schema.required_names() {
            if map.contains_key(name) {
                continue;
            }
            // Quirk (Books only, see `Quirks::ignore_required_not_in_properties`).
            if self.quirks.ignore_required_not_in_properties && !declared.contains(&name) {
                continue;
            }
            errors.push(format!("{path}: missing required property {name:?}"));
        }
        for (name, value) in map {
            let child_path = child_path(path, name);
            if let Some(property) = schema.child2("properties", name) {
                if self.quirks.page_context_object && name == "page_context" && value.is_object() {
                    // Quirk (Books only, see `Quirks::page_context_object`).
                    if let Ok(resolved) = self.resolve(property.clone())
                        && resolved.type_name() == Some("array")
                    {
                        if let Some(items) = resolved.child("items") {
                            self.check(items, value, &child_path, depth + 1, errors);
                        }
                        continue;
                    }
                }
                self.check(property, value, &child_path, depth + 1, errors);
                continue;
            }
            match schema.child("additionalProperties") {
                None => {}
                Some(extra) => match extra.value {
                    Json::Bool(true) => {}
                    Json::Bool(false) => {
                        errors.push(format!("{child_path}: property not allowed by {} (additionalProperties: false)", schema.location()));
                    }
                    _ => self.check(extra, value, &child_path, depth + 1, errors),
                },
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Cached loading (each test binary parses the files once)
// ------------------------------------------------------------------------------------------------

/// The CRM spec, loaded once per test binary. All tests of a binary see the same `ZOHO_OAS_DIR`,
/// so the first `dir` wins.
pub fn cached_crm(dir: &Path) -> Result<&'static Spec, String> {
    static CRM: OnceLock<Result<Spec, String>> = OnceLock::new();
    CRM.get_or_init(|| Spec::crm(dir)).as_ref().map_err(Clone::clone)
}

/// The Books spec, loaded once per test binary (see [`cached_crm`]).
pub fn cached_books(dir: &Path) -> Result<&'static Spec, String> {
    static BOOKS: OnceLock<Result<Spec, String>> = OnceLock::new();
    BOOKS.get_or_init(|| Spec::books(dir)).as_ref().map_err(Clone::clone)
}

// ------------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------------

/// Splits a query string (`a=1&b=x%20y`, with or without a leading `?`) into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Borrows owned pairs as `(&str, &str)`, the form [`Spec::check_query`] takes.
pub fn as_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Every fenced code block of a markdown text, as (info string, body), in order.
pub fn markdown_code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some((info.trim().to_string(), String::new())),
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    blocks
}

/// Accepts the date-time forms Zoho uses: `yyyy-mm-ddThh:mm[:ss[.fff]]` followed by `Z`,
/// `±hh:mm` (CRM, e.g. `2023-05-10T01:10:47-07:00`), `±hhmm` (Books, e.g.
/// `2013-11-18T02:17:40-0800`) or nothing (local time, seen in Books filters). A space instead
/// of `T` is accepted too. This is loose on purpose: it checks shape and digit ranges, not the
/// calendar.
pub fn is_loose_date_time(text: &str) -> bool {
    if text.len() < 16 || !text.is_char_boundary(10) || !is_date(&text[..10]) {
        return false;
    }
    let rest = &text[10..];
    let Some(rest) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) else {
        return false;
    };
    let b = rest.as_bytes();
    if b.len() < 5 || !two_digits(&b[0..2], 23) || b[2] != b':' || !two_digits(&b[3..5], 59) {
        return false;
    }
    let mut i = 5;
    if b.len() >= i + 3 && b[i] == b':' {
        if !two_digits(&b[i + 1..i + 3], 60) {
            return false;
        }
        i += 3;
        if b.len() > i && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
    }
    let zone = &b[i..];
    match zone {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] | [b'+' | b'-', h1, h2, m1, m2] => two_digits(&[*h1, *h2], 23) && two_digits(&[*m1, *m2], 59),
        _ => false,
    }
}

/// Accepts `yyyy-mm-dd` with month 01–12 and day 01–31.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[0..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && two_digits(&b[5..7], 12)
        && b[5..7] != *b"00"
        && b[7] == b'-'
        && two_digits(&b[8..10], 31)
        && b[8..10] != *b"00"
}

/// Two ASCII digits forming a number ≤ `max`.
fn two_digits(b: &[u8], max: u8) -> bool {
    b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && (b[0] - b'0') * 10 + (b[1] - b'0') <= max
}

/// Number keywords: `minimum`, `maximum` and the 3.0 boolean exclusive flags.
fn check_number(schema: &Schema<'_>, value: &Json, path: &str, errors: &mut Vec<String>) {
    let Some(n) = value.as_f64() else { return };
    let exclusive_min = schema.value.get("exclusiveMinimum").and_then(Json::as_bool) == Some(true);
    let exclusive_max = schema.value.get("exclusiveMaximum").and_then(Json::as_bool) == Some(true);
    if let Some(min) = schema.minimum()
        && (n < min || (exclusive_min && n == min))
    {
        errors.push(format!("{path}: {value} is below the minimum {min}{}", if exclusive_min { " (exclusive)" } else { "" }));
    }
    if let Some(max) = schema.maximum()
        && (n > max || (exclusive_max && n == max))
    {
        errors.push(format!("{path}: {value} is above the maximum {max}{}", if exclusive_max { " (exclusive)" } else { "" }));
    }
}

/// The branches of an `allOf`/`oneOf`/`anyOf` node (empty if it is not an array).
fn branches<'a>(list: &Schema<'a>) -> Vec<Schema<'a>> {
    match list.value.as_array() {
        Some(items) => items.iter().enumerate().map(|(i, value)| Schema { file: list.file, pointer: format!("{}/{i}", list.pointer), value }).collect(),
        None => Vec::new(),
    }
}

/// JSON integers, including floats with no fractional part (`1.0`).
fn is_integer(value: &Json) -> bool {
    match value {
        Json::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// Equality that treats `1` and `1.0` as the same number.
fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A short name of a JSON value's kind, for messages.
fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// `$.a` or `$["odd key"]`.
fn child_path(path: &str, name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        format!("{path}.{name}")
    } else {
        format!("{path}[{name:?}]")
    }
}

/// Escapes one JSON-pointer token (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Decodes `%xx` escapes in a `$ref` fragment; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Calls `found(pointer, reference)` for every `$ref` string under `value`.
fn collect_refs(value: &Json, pointer: String, found: &mut dyn FnMut(String, &str)) {
    match value {
        Json::Object(map) => {
            if let Some(Json::String(reference)) = map.get("$ref") {
                found(pointer.clone(), reference);
            }
            for (key, child) in map {
                collect_refs(child, format!("{pointer}/{}", escape_pointer(key)), found);
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// The path part of the first `servers` URL (`https://www.zohoapis.com/books/v3` → `/books/v3`),
/// without a trailing slash; empty when absent.
fn server_base_path(doc: &Json) -> String {
    let url = doc.pointer("/servers/0/url").and_then(Json::as_str).unwrap_or("");
    let after_scheme = match url.split_once("://") {
        Some((_, rest)) => rest,
        None => url,
    };
    let path = match after_scheme.find('/') {
        Some(i) if url.contains("://") => &after_scheme[i..],
        Some(_) => after_scheme,
        None => "",
    };
    path.trim_end_matches('/').to_string()
}

/// Reduces a request target to its path: drops scheme/host, query string and fragment.
fn request_path(target: &str) -> &str {
    let mut path = target;
    if let Some((_, rest)) = path.split_once("://") {
        path = match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        };
    }
    if let Some(i) = path.find(['?', '#']) {
        path = &path[..i];
    }
    path
}

/// Per-segment match of a template against a concrete path: `Some(literal flags)` on a match.
fn match_template(template: &str, path: &str) -> Option<Vec<bool>> {
    let template: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if template.len() != path.len() {
        return None;
    }
    let mut literals = Vec::with_capacity(template.len());
    for (t, p) in template.iter().zip(&path) {
        if is_parameter_segment(t) {
            if p.is_empty() {
                return None;
            }
            literals.push(false);
        } else if t == p {
            literals.push(true);
        } else {
            return None;
        }
    }
    Some(literals)
}

/// `{name}` as a whole segment.
fn is_parameter_segment(segment: &str) -> bool {
    segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}')
}

/// A template with every `{parameter}` segment replaced by `{}`.
fn template_shape(template: &str) -> String {
    template.trim_end_matches('/').split('/').map(|s| if is_parameter_segment(s) { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// Parses YAML into JSON. Mapping keys that are numbers or booleans (e.g. response codes written
/// `200:`) become strings, as OpenAPI means them; other non-string keys and non-finite numbers
/// are errors.
fn yaml_to_json(text: &str) -> Result<Json, String> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    convert_yaml(yaml, "")
}

/// Recursive worker of [`yaml_to_json`]; `pointer` names the position for errors.
fn convert_yaml(value: serde_yaml::Value, pointer: &str) -> Result<Json, String> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Json::Null,
        Y::Bool(b) => Json::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f).map(Json::Number).ok_or_else(|| format!("#{pointer}: number {f} cannot be represented in JSON"))?
            }
        }
        Y::String(s) => Json::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(convert_yaml(item, &format!("{pointer}/{i}"))?);
            }
            Json::Array(out)
        }
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("#{pointer}: unsupported mapping key {other:?}")),
                };
                let child = convert_yaml(item, &format!("{pointer}/{}", escape_pointer(&key)))?;
                out.insert(key, child);
            }
            Json::Object(out)
        }
        Y::Tagged(tagged) => convert_yaml(tagged.value, pointer)?,
    })
}
