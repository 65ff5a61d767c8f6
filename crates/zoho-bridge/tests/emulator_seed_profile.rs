//! `zoho-bridge emulator --seed-profile overlap` starts and serves the overlap seed: the
//! Books contacts and CRM accounts of `zoho_emulator::seed::overlap`'s truth for the
//! same seed, and nothing else.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use serde_json::Value;
use zoho_emulator::{
    EmulatorConfig,
    seed::{self, OverlapSpec},
    testkit,
};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

/// Kills the emulator process when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_overlap_profile_is_served_by_the_emulator_subcommand() {
    let mut child = Command::new(BIN)
        .args(["emulator", "--port", "0", "--seed", "5", "--no-limits", "--seed-profile", "overlap"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run zoho-bridge emulator");
    let stdout = child.stdout.take().expect("stdout");
    let _running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a first line").expect("readable");
    // Keep reading: a closed pipe would make the emulator's next line fail.
    std::thread::spawn(move || lines.for_each(drop));
    let url = first.strip_prefix("Zoho emulator listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}")).to_string();

    let mut world = zoho_emulator::build_world(&EmulatorConfig { seed: 5, seed_data: false, ..EmulatorConfig::unlimited() });
    let truth = seed::overlap(&mut world, &OverlapSpec::default(), 5).expect("default spec fits");

    zoho_emulator::install_crypto_provider();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &url).await.expect("login");
    let mut ids = Vec::new();
    for page in 1.. {
        let body: Value = http
            .get(format!("{url}/books/v3/contacts?organization_id={}&per_page=200&page={page}&sort_column=created_time", creds.organization_id))
            .header("Authorization", testkit::auth_header(&token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(body["contacts"].as_array().expect("contacts").iter().map(|c| c["contact_id"].as_str().unwrap().to_string()));
        if body["page_context"]["has_more_page"] != true {
            break;
        }
    }
    let expected: Vec<String> = truth.books_names.iter().map(|(id, _)| id.clone()).collect();
    let (mut got_sorted, mut want_sorted) = (ids.clone(), expected.clone());
    got_sorted.sort();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
    let account = &truth.accounts[truth.accounts.len() / 2];
    let body: Value = http
        .get(format!("{url}/crm/v8/Accounts/{}", account.account_id))
        .header("Authorization", testkit::auth_header(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["Account_Name"].as_str(), Some(account.account_name.as_str()));
}

#[test]
fn seed_profile_and_no_seed_data_conflict() {
    let out = Command::new(BIN).args(["emulator", "--no-seed-data", "--seed-profile", "overlap"]).output().expect("run zoho-bridge");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"), "{}", String::from_utf8_lossy(&out.stderr));
}
