//! Small helpers for tests, scripts and benchmarks that talk to a running emulator over
//! real HTTP, the way a user would after registering a self-client.

use serde::Deserialize;
use serde_json::Value;

use crate::config::LimitsConfig;

/// What `GET /__emulator/credentials` returns.
#[derive(Debug, Clone, Deserialize)]
pub struct Credentials {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// A refresh token with every scope.
    pub refresh_token: String,
    /// The seeded Books organisation.
    pub organization_id: String,
    /// Where the token endpoint lives.
    pub accounts_url: String,
    /// Where CRM and Books live.
    pub api_domain: String,
}

/// Reads the seeded credentials.
pub async fn credentials(http: &reqwest::Client, base: &str) -> reqwest::Result<Credentials> {
    http.get(format!("{base}/__emulator/credentials")).send().await?.error_for_status()?.json().await
}

/// What `GET /__emulator/limits` answers, as far as [`limits`] reads it.
#[derive(Deserialize)]
struct LimitsAnswer {
    config: LimitsConfig,
}

/// The limits the emulator at `base` enforces now (`GET /__emulator/limits`, its
/// `config`; `None` = not enforced). They carry the names and numbers of the client's
/// `zoho::BudgetConfig`, which reads them itself with `BudgetConfig::from_emulator`
/// (use that to build a client); this is the emulator-side view, for tests and scripts
/// that drive the emulator over HTTP. Books concurrency is not enforced by the emulator
/// and so is not among them.
pub async fn limits(http: &reqwest::Client, base: &str) -> reqwest::Result<LimitsConfig> {
    let answer: LimitsAnswer = http.get(format!("{base}/__emulator/limits")).send().await?.error_for_status()?.json().await?;
    Ok(answer.config)
}

/// Exchanges the refresh token for an access token (refresh_token grant) and returns
/// the full token response.
pub async fn refresh(http: &reqwest::Client, creds: &Credentials) -> reqwest::Result<Value> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.as_str()),
        ("refresh_token", creds.refresh_token.as_str()),
    ];
    http.post(format!("{}/oauth/v2/token", creds.accounts_url))
        .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish())
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await?
        .json()
        .await
}

/// Credentials plus a fresh access token: `(credentials, access_token)`.
pub async fn login(http: &reqwest::Client, base: &str) -> reqwest::Result<(Credentials, String)> {
    let creds = credentials(http, base).await?;
    let token = refresh(http, &creds).await?;
    let access = token["access_token"].as_str().unwrap_or_default().to_string();
    Ok((creds, access))
}

/// The `Authorization` header value for an access token.
pub fn auth_header(access_token: &str) -> String {
    format!("Zoho-oauthtoken {access_token}")
}
