//! Every data centre's accounts server and API domain, and custom base URLs.

use zoho::{DataCenter, Endpoints};

#[test]
fn each_data_centre_has_its_hosts() {
    let expected = [
        (DataCenter::Us, "https://accounts.zoho.com", "https://www.zohoapis.com"),
        (DataCenter::Eu, "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        (DataCenter::In, "https://accounts.zoho.in", "https://www.zohoapis.in"),
        (DataCenter::Au, "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        (DataCenter::Jp, "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        (DataCenter::Ca, "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        (DataCenter::Sa, "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        (DataCenter::Cn, "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    ];
    assert_eq!(expected.len(), DataCenter::ALL.len());
    for (dc, accounts, api) in expected {
        assert_eq!(dc.accounts_url(), accounts);
        assert_eq!(dc.api_domain(), api);
        let e = Endpoints::from(dc);
        assert_eq!(e.token_url(), format!("{accounts}/oauth/v2/token"));
        assert_eq!(DataCenter::from_code(dc.code()), Some(dc));
    }
}

#[test]
fn custom_urls_lose_trailing_slashes() {
    let e = Endpoints::custom("http://127.0.0.1:9/", "http://127.0.0.1:9/");
    assert_eq!(e.token_url(), "http://127.0.0.1:9/oauth/v2/token");
    assert_eq!(e.api_domain, "http://127.0.0.1:9");
}
