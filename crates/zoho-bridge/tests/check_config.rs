//! `zoho-bridge serve --config FILE --check-config` as CI and users run it: exit 0 only
//! for a file `serve` can start with, and otherwise one line naming the file, line,
//! column and setting, without printing a secret.
//!
//! The checks themselves are unit-tested in the engine's `config` module; these tests
//! make sure the binary reports them and sets its exit status.

mod support;

use std::{
    path::Path,
    process::{Command, Output},
};

use support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

/// Runs `serve --config path --check-config` with `env` set and the Zoho secrets'
/// default variables otherwise unset.
fn check(path: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(["serve", "--config"]).arg(path).arg("--check-config");
    command.env_remove("ZOHO_CLIENT_SECRET").env_remove("ZOHO_REFRESH_TOKEN");
    command.envs(env.iter().copied());
    command.output().expect("run zoho-bridge")
}

/// Asserts the check failed with `want` in its error output, and returns that output.
#[track_caller]
fn fails_with(out: &Output, want: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "exit 0 for a bad file; stderr: {stderr}");
    assert!(stderr.contains(want), "want {want:?} in: {stderr}");
    stderr
}

const SECRETS: &[(&str, &str)] = &[("ZOHO_CLIENT_SECRET", "client-s3cret"), ("ZOHO_REFRESH_TOKEN", "refresh-s3cret")];

#[test]
fn the_examples_pass() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = check(&path, SECRETS);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {stderr}", path.display());
            assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"), "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "examples/*.toml: {checked} files");
}

#[test]
fn the_zoho_secrets_must_be_set_and_are_never_printed() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/zoho-bridge.toml");
    let out = check(&example, &[("ZOHO_REFRESH_TOKEN", "refresh-s3cret")]);
    let stderr = fails_with(
        &out,
        ":19:21: zoho.client_secret_env: the environment variable ZOHO_CLIENT_SECRET is not set (or is empty): it must hold the OAuth client secret",
    );
    assert!(!stderr.contains("refresh-s3cret"), "{stderr}");
    let out = check(&example, &[("ZOHO_CLIENT_SECRET", "client-s3cret"), ("ZOHO_REFRESH_TOKEN", "")]);
    let stderr = fails_with(&out, ":20:21: zoho.refresh_token_env: the environment variable ZOHO_REFRESH_TOKEN is not set (or is empty)");
    assert!(!stderr.contains("client-s3cret"), "{stderr}");
}

#[test]
fn settings_serve_would_fail_on_are_refused_with_line_column_and_field() {
    let dir = TempDir::new("bad");
    let route = "[zoho]\nemulator = \"http://127.0.0.1:8089\"\n\n[[routes]]\nsystem = \"crm\"\nmodule = \"Prodcuts\"\nflows = [\"catalog_sync\"]\n";
    let path = dir.file("module.toml", route);
    fails_with(&check(&path, &[]), &format!("{}:6:10: routes[0].module: \"Prodcuts\" is not a CRM module: did you mean Products?", path.display()));

    let path = dir.file("emulator.toml", "[zoho]\nemulator = \"127.0.0.1:8089\"\n");
    fails_with(&check(&path, &[]), &format!("{}:2:12: zoho.emulator: \"127.0.0.1:8089\" is not an http(s) URL", path.display()));

    let path = dir.file("interval.toml", "[zoho]\nemulator = \"http://127.0.0.1:8089\"\n[poller]\ninterval_secs = 0\n");
    fails_with(&check(&path, &[]), &format!("{}:4:17: poller.interval_secs: 0 is too short: at least 1 seconds", path.display()));

    let path = dir.file("z.toml", "");
    fails_with(&check(&path, &[]), &format!("{}: empty file: needs at least a [zoho] section (see examples/zoho-bridge.toml)", path.display()));

    let path = dir.file("nozoho.toml", "store = \"x.db\"\n");
    fails_with(&check(&path, &[]), &format!("{}:1:1: zoho: the [zoho] section is missing", path.display()));

    let path = dir.0.join("missing.toml");
    fails_with(
        &check(&path, &[]),
        &format!("cannot read the config file {}: No such file or directory: start from a copy of examples/zoho-bridge.toml", path.display()),
    );
}
