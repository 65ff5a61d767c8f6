//! Zoho Accounts over real HTTP: grants, HTTP-200 errors, throttling, expiry.

use serde_json::Value;
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

async fn post_form(http: &reqwest::Client, url: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let r = http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn refresh_grant_returns_zohos_fields_and_the_token_works() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    let token = testkit::refresh(&http, &creds).await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["api_domain"], emu.url());
    assert!(token["access_token"].as_str().unwrap().starts_with("1000."));
    assert!(token.get("refresh_token").is_none(), "refresh does not issue a new refresh token");
    emu.stop().await;
}

#[tokio::test]
async fn failures_come_back_as_http_200_with_an_error_field() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    let url = format!("{}/oauth/v2/token", emu.url());
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("grant_type", "refresh_token"), ("client_id", "1000.NOPE"), ("client_secret", "x"), ("refresh_token", "y")], "invalid_client"),
        (
            &[("grant_type", "refresh_token"), ("client_id", &creds.client_id), ("client_secret", "wrong"), ("refresh_token", &creds.refresh_token)],
            "invalid_client_secret",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", &creds.client_id), ("client_secret", &creds.client_secret), ("refresh_token", "1000.bad.bad")],
            "invalid_code",
        ),
        (
            &[("grant_type", "authorization_code"), ("client_id", &creds.client_id), ("client_secret", &creds.client_secret), ("code", "1000.used")],
            "invalid_code",
        ),
    ];
    for (pairs, expected) in cases {
        let (status, body) = post_form(&http, &url, pairs).await;
        assert_eq!(status, 200, "{expected}");
        assert_eq!(body["error"], expected);
    }
    emu.stop().await;
}

#[tokio::test]
async fn self_client_code_is_exchanged_once_for_a_refresh_token() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    let code: Value =
        http.post(format!("{}/__emulator/grant_codes", emu.url())).body(r#"{"scope":"ZohoCRM.modules.ALL"}"#).send().await.unwrap().json().await.unwrap();
    let code = code["code"].as_str().unwrap();
    let pairs = [
        ("grant_type", "authorization_code"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.as_str()),
        ("code", code),
        ("redirect_uri", "https://example.com/cb"),
    ];
    let url = format!("{}/oauth/v2/token", emu.url());
    let (_, first) = post_form(&http, &url, &pairs).await;
    assert!(first["refresh_token"].as_str().unwrap().starts_with("1000."));
    assert!(first["access_token"].is_string());
    let (status, second) = post_form(&http, &url, &pairs).await;
    assert_eq!((status, second["error"].as_str()), (200, Some("invalid_code")));
    emu.stop().await;
}

#[tokio::test]
async fn the_eleventh_refresh_in_ten_minutes_is_refused() {
    let emu = Emulator::start(EmulatorConfig { seed_data: false, ..EmulatorConfig::default() }, 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    for _ in 0..10 {
        assert!(testkit::refresh(&http, &creds).await.unwrap()["access_token"].is_string());
    }
    let refused = testkit::refresh(&http, &creds).await.unwrap();
    assert_eq!(refused["error"], "Access Denied");
    assert!(refused["error_description"].as_str().unwrap().contains("too many requests"));
    emu.state().clock.advance_ms(601_000);
    assert!(testkit::refresh(&http, &creds).await.unwrap()["access_token"].is_string());
    emu.stop().await;
}
