//! Authentication of CRM and Books calls: the `Authorization: Zoho-oauthtoken …` (or
//! `Bearer …`) header, token expiry, the scope a call needs, and CRM's `INVALID_HOST`.
//!
//! Runs as axum middleware in front of `/crm/v8` and `/books/v3`, so the handlers behind
//! it never see an unauthenticated request.

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use serde_json::json;

use crate::{
    accounts::TokenProblem,
    errors::{books_error, crm_error},
    state::AppState,
};

/// The token in `Authorization: Zoho-oauthtoken <token>` or `Authorization: Bearer <token>`,
/// if the header has one of those forms. Zoho Accounts documents both schemes for every API
/// (ZOHO_API.md §1.4); the scheme name is matched without regard to case, as HTTP says.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("Zoho-oauthtoken") || scheme.eq_ignore_ascii_case("Bearer");
    (known && !token.is_empty()).then_some(token)
}

fn operation(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "READ",
        Method::POST => "CREATE",
        Method::PUT | Method::PATCH => "UPDATE",
        Method::DELETE => "DELETE",
        _ => "ALL",
    }
}

/// The scopes that allow a CRM call, any one of which suffices.
pub fn crm_scopes(method: &Method, path: &str) -> Vec<String> {
    let path = path.trim_start_matches("/crm/v8").trim_start_matches('/');
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or("");
    let op = operation(method);
    let group = |g: &str| vec![format!("ZohoCRM.{g}.ALL"), format!("ZohoCRM.{g}.{op}")];
    match first {
        "settings" => {
            let sub = parts.next().unwrap_or("");
            let mut s = group("settings");
            s.push(format!("ZohoCRM.settings.{sub}.ALL"));
            s.push(format!("ZohoCRM.settings.{sub}.{op}"));
            s
        }
        "users" => group("users"),
        "org" => group("org"),
        "coql" => vec!["ZohoCRM.coql.READ".into(), "ZohoCRM.coql.ALL".into(), "ZohoCRM.modules.ALL".into()],
        "actions" => group("notifications"),
        module => {
            let mut s = group("modules");
            s.push(format!("ZohoCRM.modules.{module}.ALL"));
            s.push(format!("ZohoCRM.modules.{module}.{op}"));
            s
        }
    }
}

/// The scopes that allow a Books call.
pub fn books_scopes(method: &Method, path: &str) -> Vec<String> {
    let path = path.trim_start_matches("/books/v3").trim_start_matches('/');
    let first = path.split('/').next().unwrap_or("");
    let area = match first {
        "contacts" | "invoices" | "estimates" | "customerpayments" | "creditnotes" | "salesorders" => first,
        "invoice" => "invoices",
        _ => "settings",
    };
    let op = operation(method);
    vec!["ZohoBooks.fullaccess.all".into(), format!("ZohoBooks.{area}.ALL"), format!("ZohoBooks.{area}.{op}")]
}

/// Middleware for `/crm/v8`.
pub async fn crm(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(host) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        let host = host.to_ascii_lowercase();
        if host.contains("zoho") && !host.contains("zohoapis") {
            return crm_error(StatusCode::BAD_REQUEST, "INVALID_HOST", "the host name is invalid; use the zohoapis domain", json!({}));
        }
    }
    let Some(token) = bearer(&req) else {
        return crm_error(StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE", "Authentication failed", json!({}));
    };
    let needs = crm_scopes(req.method(), req.uri().path());
    let now = state.clock.now_ms();
    let checked = state.world().accounts.check(token, now, &needs);
    match checked {
        Ok(()) => next.run(req).await,
        Err(TokenProblem::Invalid) => crm_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "invalid oauth token", json!({})),
        Err(TokenProblem::ScopeMismatch) => crm_error(StatusCode::UNAUTHORIZED, "OAUTH_SCOPE_MISMATCH", "Unauthorized", json!({})),
    }
}

/// Middleware for `/books/v3`. Books answers every token problem with code 57.
pub async fn books(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let unauthorized = || books_error(StatusCode::UNAUTHORIZED, 57, "You are not authorized to perform this operation");
    let Some(token) = bearer(&req) else {
        return unauthorized();
    };
    let needs = books_scopes(req.method(), req.uri().path());
    let now = state.clock.now_ms();
    let checked = state.world().accounts.check(token, now, &needs);
    match checked {
        Ok(()) => next.run(req).await,
        Err(_) => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_path() {
        let s = crm_scopes(&Method::GET, "/crm/v8/Deals/123");
        assert!(s.contains(&"ZohoCRM.modules.Deals.READ".to_string()));
        assert!(s.contains(&"ZohoCRM.modules.ALL".to_string()));
        let s = crm_scopes(&Method::GET, "/settings/fields");
        assert!(s.contains(&"ZohoCRM.settings.fields.READ".to_string()));
        let s = books_scopes(&Method::POST, "/books/v3/items");
        assert!(s.contains(&"ZohoBooks.settings.CREATE".to_string()));
        let s = books_scopes(&Method::PUT, "/invoices/1");
        assert!(s.contains(&"ZohoBooks.invoices.UPDATE".to_string()));
    }
}
