//! Authentication of CRM and Books calls over real HTTP: the `Zoho-oauthtoken` and `Bearer`
//! headers,
//! token expiry (CRM `INVALID_TOKEN`, Books code 57), scopes (`OAUTH_SCOPE_MISMATCH`),
//! the oldest of 11 tokens being revoked, and CRM's `INVALID_HOST`.

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

async fn call(http: &reqwest::Client, url: &str, auth: Option<&str>, host: Option<&str>) -> (u16, Value) {
    let mut req = http.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if let Some(h) = host {
        req = req.header("Host", h);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn expired_tokens_get_each_apis_own_401() {
    let config = EmulatorConfig { token_ttl_secs: 60, ..EmulatorConfig::unlimited() };
    let emu = Emulator::start(config, 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let auth = testkit::auth_header(&token);
    let crm = format!("{}/crm/v8/org", emu.url());
    let books = format!("{}/books/v3/settings/taxes?organization_id={}", emu.url(), creds.organization_id);
    assert_eq!(call(&http, &crm, Some(&auth), None).await.0, 200);
    assert_eq!(call(&http, &books, Some(&auth), None).await.0, 200);

    emu.state().clock.advance_ms(61_000);
    let (status, body) = call(&http, &crm, Some(&auth), None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}));
    let (status, body) = call(&http, &books, Some(&auth), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], 57);
    emu.stop().await;
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_refused() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let crm = format!("{}/crm/v8/org", emu.url());
    let (status, body) = call(&http, &crm, None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("AUTHENTICATION_FAILURE")));
    // A scheme Zoho Accounts does not document, or no token at all, is refused.
    for bad in [format!("Basic {token}"), format!("Token {token}"), "Bearer ".to_string(), token.clone()] {
        let (status, body) = call(&http, &crm, Some(&bad), None).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("AUTHENTICATION_FAILURE")), "{bad}");
    }
    let (status, body) = call(&http, &crm, Some("Zoho-oauthtoken 1000.made.up"), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("INVALID_TOKEN")));
    let (status, body) = call(&http, &crm, Some("Bearer 1000.made.up"), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("INVALID_TOKEN")));
    emu.stop().await;
}

/// Zoho Accounts documents `Authorization: Bearer <access token>` next to `Zoho-oauthtoken`
/// (ZOHO_API.md §1.4); both APIs accept either scheme, whatever its case.
#[tokio::test]
async fn bearer_and_zoho_oauthtoken_are_both_accepted() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let crm = format!("{}/crm/v8/org", emu.url());
    let books = format!("{}/books/v3/settings/taxes?organization_id={}", emu.url(), creds.organization_id);
    for auth in [format!("Zoho-oauthtoken {token}"), format!("Bearer {token}"), format!("bearer {token}")] {
        let (status, body) = call(&http, &crm, Some(&auth), None).await;
        assert_eq!(status, 200, "CRM with {auth}: {body}");
        let (status, body) = call(&http, &books, Some(&auth), None).await;
        assert_eq!((status, body["code"].clone()), (200, json!(0)), "Books with {auth}");
    }
    let (status, body) = call(&http, &books, Some("Bearer 1000.made.up"), None).await;
    assert_eq!((status, body["code"].clone()), (401, json!(57)));
    emu.stop().await;
}

#[tokio::test]
async fn a_token_without_the_scope_gets_oauth_scope_mismatch() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    let code: Value = http
        .post(format!("{}/__emulator/grant_codes", emu.url()))
        .json(&json!({"scope": "ZohoCRM.modules.Deals.READ,ZohoCRM.org.READ"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.as_str()),
            ("code", code["code"].as_str().unwrap()),
        ])
        .finish();
    let token: Value = http
        .post(format!("{}/oauth/v2/token", emu.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth = testkit::auth_header(token["access_token"].as_str().unwrap());
    let deals = format!("{}/crm/v8/Deals?fields=Deal_Name", emu.url());
    assert!(matches!(call(&http, &deals, Some(&auth), None).await.0, 200 | 204));
    let (status, body) = call(&http, &format!("{}/crm/v8/Accounts?fields=Account_Name", emu.url()), Some(&auth), None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "Unauthorized", "status": "error"}));
    let books = format!("{}/books/v3/invoices?organization_id={}", emu.url(), creds.organization_id);
    assert_eq!(call(&http, &books, Some(&auth), None).await.0, 401);
    emu.stop().await;
}

#[tokio::test]
async fn the_eleventh_access_token_revokes_the_first() {
    let emu = Emulator::start(EmulatorConfig { max_live_tokens: 10, ..EmulatorConfig::unlimited() }, 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..11 {
        let t = testkit::refresh(&http, &creds).await.unwrap();
        tokens.push(testkit::auth_header(t["access_token"].as_str().unwrap()));
    }
    let org = format!("{}/crm/v8/org", emu.url());
    assert_eq!(call(&http, &org, Some(&tokens[0]), None).await.1["code"], "INVALID_TOKEN");
    assert_eq!(call(&http, &org, Some(&tokens[1]), None).await.0, 200);
    assert_eq!(call(&http, &org, Some(&tokens[10]), None).await.0, 200);
    emu.stop().await;
}

#[tokio::test]
async fn crm_on_a_non_zohoapis_host_is_invalid_host() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let auth = testkit::auth_header(&token);
    let org = format!("{}/crm/v8/org", emu.url());
    let (status, body) = call(&http, &org, Some(&auth), Some("crm.zoho.com")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_HOST")));
    assert_eq!(call(&http, &org, Some(&auth), Some("www.zohoapis.eu")).await.0, 200);
    emu.stop().await;
}
