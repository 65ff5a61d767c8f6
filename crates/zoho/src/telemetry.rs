//! Counting the calls made to Zoho, through the `metrics` facade.
//!
//! Every HTTP exchange with Zoho (each attempt: retries and refused tokens count too)
//! adds one to [`CALLS`], labelled by API (`crm`, `books`, or `accounts` for the token
//! endpoint), operation (the method and the path with its record ids replaced by
//! `:id`, so the series stay few) and status (the HTTP status, or `network_error` when
//! no answer came). The facade does nothing until a program installs a recorder
//! (zoho-bridge's `serve` installs a Prometheus one), so the crate stays usable alone.

use reqwest::Method;

/// Counter of HTTP exchanges with Zoho, labelled `api`, `operation` and `status`.
pub const CALLS: &str = "zoho_bridge_zoho_calls_total";

/// The `status` label of an exchange that got no answer (timeout, connection refused or
/// dropped).
pub const NO_ANSWER: &str = "network_error";

/// Describes this crate's series to the installed recorder (their `# HELP` lines).
pub fn describe() {
    metrics::describe_counter!(CALLS, "HTTP exchanges with Zoho (each attempt), by API, operation and HTTP status");
}

/// Counts one exchange with `api` (`crm`, `books`, `accounts`).
pub(crate) fn count_call(api: &'static str, method: &Method, path: &str, status: Option<u16>) {
    let status = status.map_or_else(|| NO_ANSWER.to_string(), |s| s.to_string());
    metrics::counter!(CALLS, "api" => api, "operation" => operation(method, path), "status" => status).increment(1);
}

/// `GET /crm/v8/Deals/:id`: the method and the path with every record id (a segment of
/// digits, or the field named after `settings/fields/`) replaced by `:id`.
pub fn operation(method: &Method, path: &str) -> String {
    let mut out = format!("{method} ");
    let mut previous = ["", ""];
    for (i, segment) in path.trim_start_matches('/').split('/').enumerate() {
        if i > 0 || path.starts_with('/') {
            out.push('/');
        }
        let is_id = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
        if is_id || previous == ["settings", "fields"] {
            out.push_str(":id");
        } else {
            out.push_str(segment);
        }
        previous = [previous[1], segment];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_become_placeholders_and_names_stay() {
        assert_eq!(operation(&Method::GET, "/crm/v8/Deals/5725767000000412345"), "GET /crm/v8/Deals/:id");
        assert_eq!(operation(&Method::POST, "/crm/v8/Products/upsert"), "POST /crm/v8/Products/upsert");
        assert_eq!(operation(&Method::POST, "/books/v3/invoices/98200000001/status/sent"), "POST /books/v3/invoices/:id/status/sent");
        assert_eq!(operation(&Method::GET, "/crm/v8/settings/fields/Custom_Field"), "GET /crm/v8/settings/fields/:id");
        assert_eq!(operation(&Method::POST, "/oauth/v2/token"), "POST /oauth/v2/token");
    }
}
