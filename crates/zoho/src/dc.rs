//! Zoho data centres and the two hosts each one has.
//!
//! A Zoho account lives in exactly one data centre; its refresh token only works against
//! that centre's accounts server, and its data only on that centre's API domain. Getting
//! this wrong is the classic multi-DC mistake (`invalid_client`), so the hosts are spelled
//! out once here. [`Endpoints::custom`] covers the emulator (or a proxy), which serves
//! accounts and APIs on one base URL.

use std::fmt;

/// A Zoho data centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataCenter {
    /// United States (`zoho.com`).
    Us,
    /// Europe (`zoho.eu`).
    Eu,
    /// India (`zoho.in`).
    In,
    /// Australia (`zoho.com.au`).
    Au,
    /// Japan (`zoho.jp`).
    Jp,
    /// Canada: the accounts server is `zohocloud.ca`, the API domain `zohoapis.ca`.
    Ca,
    /// Saudi Arabia (`zoho.sa`).
    Sa,
    /// China (`zoho.com.cn`).
    Cn,
}

impl DataCenter {
    /// Every data centre, in a stable order.
    pub const ALL: [DataCenter; 8] =
        [DataCenter::Us, DataCenter::Eu, DataCenter::In, DataCenter::Au, DataCenter::Jp, DataCenter::Ca, DataCenter::Sa, DataCenter::Cn];

    /// The accounts server (OAuth token endpoint host), without a trailing slash.
    pub fn accounts_url(self) -> &'static str {
        match self {
            DataCenter::Us => "https://accounts.zoho.com",
            DataCenter::Eu => "https://accounts.zoho.eu",
            DataCenter::In => "https://accounts.zoho.in",
            DataCenter::Au => "https://accounts.zoho.com.au",
            DataCenter::Jp => "https://accounts.zoho.jp",
            DataCenter::Ca => "https://accounts.zohocloud.ca",
            DataCenter::Sa => "https://accounts.zoho.sa",
            DataCenter::Cn => "https://accounts.zoho.com.cn",
        }
    }

    /// The API domain serving CRM and Books, without a trailing slash.
    pub fn api_domain(self) -> &'static str {
        match self {
            DataCenter::Us => "https://www.zohoapis.com",
            DataCenter::Eu => "https://www.zohoapis.eu",
            DataCenter::In => "https://www.zohoapis.in",
            DataCenter::Au => "https://www.zohoapis.com.au",
            DataCenter::Jp => "https://www.zohoapis.jp",
            DataCenter::Ca => "https://www.zohoapis.ca",
            DataCenter::Sa => "https://www.zohoapis.sa",
            DataCenter::Cn => "https://www.zohoapis.com.cn",
        }
    }

    /// Zoho's short location code (`us`, `eu`, …), as in the `location` consent parameter.
    pub fn code(self) -> &'static str {
        match self {
            DataCenter::Us => "us",
            DataCenter::Eu => "eu",
            DataCenter::In => "in",
            DataCenter::Au => "au",
            DataCenter::Jp => "jp",
            DataCenter::Ca => "ca",
            DataCenter::Sa => "sa",
            DataCenter::Cn => "cn",
        }
    }

    /// Parses a location code (case-insensitive); `None` for an unknown one.
    pub fn from_code(code: &str) -> Option<DataCenter> {
        DataCenter::ALL.into_iter().find(|dc| dc.code().eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for DataCenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Where a connection sends its token requests and its API calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base URL of the accounts server (`…/oauth/v2/token` is appended).
    pub accounts_url: String,
    /// Base URL of the APIs before the token response names one (`/crm/v8`, `/books/v3`
    /// are appended). The `api_domain` returned with each token replaces it.
    pub api_domain: String,
}

impl Endpoints {
    /// The hosts of a data centre.
    pub fn data_center(dc: DataCenter) -> Endpoints {
        Endpoints { accounts_url: dc.accounts_url().to_string(), api_domain: dc.api_domain().to_string() }
    }

    /// Explicit base URLs, e.g. the emulator's `http://127.0.0.1:PORT` for both.
    pub fn custom(accounts_url: impl Into<String>, api_domain: impl Into<String>) -> Endpoints {
        Endpoints { accounts_url: accounts_url.into().trim_end_matches('/').to_string(), api_domain: api_domain.into().trim_end_matches('/').to_string() }
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/v2/token", self.accounts_url)
    }
}

impl From<DataCenter> for Endpoints {
    fn from(dc: DataCenter) -> Self {
        Endpoints::data_center(dc)
    }
}
