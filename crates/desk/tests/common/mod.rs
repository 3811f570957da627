//! What the CLI tests share: the `frontdesk` binary on a temporary data directory, with a
//! pinned clock (Monday 2026-11-23, 07:30 in Shanghai).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The instant every test process believes it is.
pub const NOW: &str = "2026-11-22T23:30:00Z";

/// Who the CLI signs in as: the demo admin.
pub const STAFF: &str = "admin";
/// Their password.
pub const PASSWORD: &str = "admin123";

/// Runs `frontdesk --data-dir DIR ARGS…`, signed in as the demo admin.
pub fn frontdesk(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("FRONTDESK_NOW", NOW)
        .env_remove("FRONTDESK_DATA_DIR")
        // The demo admin (`init --demo-staff`); the tests of refusals take these away.
        .env("FRONTDESK_STAFF", STAFF)
        .env("FRONTDESK_PASSWORD", PASSWORD)
        .env_remove("FRONTDESK_NEW_PASSWORD")
        .output()
        .unwrap()
}

/// Runs a command with `--json` that must succeed; its parsed output.
pub fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = frontdesk(dir, &all);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A command's standard error.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `n`-th valid resident ID number of a test.
pub fn doc(n: u16) -> String {
    frontdesk_desk::demo::resident_id("110101", jiff::civil::date(1990, 1, 1), n, frontdesk_domain::document::Sex::Male)
        .unwrap()
}
