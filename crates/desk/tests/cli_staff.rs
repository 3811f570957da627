//! Who may do what, through the `frontdesk` binary: it signs in with `--staff` (or
//! `FRONTDESK_STAFF`) and a password from `FRONTDESK_PASSWORD`, and the engine refuses what
//! the signed-in role may not do — with the code and message the desktop app shows
//! (`src-tauri/tests/shell.rs` asserts the same text).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{NOW, doc, stderr};
use serde_json::Value;

/// Runs `frontdesk` signed in as `who` (staff id, password), or signed out; stdin is not a
/// terminal, so nothing prompts.
fn run_as(dir: &Path, who: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("FRONTDESK_NOW", NOW)
        .env_remove("FRONTDESK_DATA_DIR")
        .env_remove("FRONTDESK_STAFF")
        .env_remove("FRONTDESK_PASSWORD")
        .env_remove("FRONTDESK_NEW_PASSWORD")
        .stdin(Stdio::null());
    if let Some((staff, password)) = who {
        cmd.env("FRONTDESK_STAFF", staff).env("FRONTDESK_PASSWORD", password);
    }
    cmd.output().unwrap()
}

/// The JSON error of a failed command, with its exit code.
fn refusal(out: &Output) -> (Option<i32>, String, String) {
    let v: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|_| panic!("not JSON: {}", stderr(out)));
    (out.status.code(), v["error"]["code"].as_str().unwrap().into(), v["error"]["message"].as_str().unwrap().into())
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

const ADMIN: Option<(&str, &str)> = Some(("admin", "admin123"));
const NURSE: Option<(&str, &str)> = Some(("nurse", "nurse123"));
const SLOT: &str = "demo-ek-1-20261123-am-01";
const SESSION: &str = "demo-ek-1-20261123-am";

fn outbox_len(d: &Path) -> usize {
    ok(&run_as(d, ADMIN, &["outbox", "--json"])).as_array().unwrap().len()
}

#[test]
fn signed_out_nurse_and_admin_get_what_the_app_gives_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run_as(d, None, &["init", "--demo", "--demo-staff", "--json"]));
    for i in 1..=3 {
        ok(&run_as(d, NURSE, &["patients", "add", "--name", &format!("病人{i}"), "--document", &doc(i), "--json"]));
    }
    let before = outbox_len(d);

    // Signed out: no change and no patient data, in either language.
    let book = ["book", "--document", &doc(1), "--slot", SLOT, "--json"];
    let zh = [&book[..], &["--lang", "zh"]].concat();
    assert_eq!(
        refusal(&run_as(d, None, &zh)),
        (Some(3), "not_signed_in".into(), "请先登录：此操作需要员工工号和密码".into())
    );
    let en = [&book[..], &["--lang", "en"]].concat();
    assert_eq!(
        refusal(&run_as(d, None, &en)),
        (Some(3), "not_signed_in".into(), "Sign in first: this needs a staff id and password".into())
    );
    let out = run_as(d, None, &["patients", "search", "病人", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("Sign in with --staff ID"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing about patients is shown");
    // The device's own state needs nobody.
    assert!(run_as(d, None, &["status"]).status.success());
    assert_eq!(outbox_len(d), before);

    // A wrong or missing password is a clear input error.
    let out = run_as(d, Some(("nurse", "wrong!")), &["board", "--json", "--lang", "en"]);
    assert_eq!(refusal(&out).0, Some(2));
    assert!(stderr(&out).contains("sign_in_failed"), "{}", stderr(&out));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
    let out = cmd
        .args(["--data-dir", d.to_str().unwrap(), "--staff", "nurse", "board", "--lang", "en"])
        .env("FRONTDESK_NOW", NOW)
        .env_remove("FRONTDESK_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("No password: set FRONTDESK_PASSWORD"), "{}", stderr(&out));

    // A nurse books — the op is recorded under her — and fills the slot, but may neither
    // overbook nor suspend.
    for i in 1..=2 {
        let booked = ok(&run_as(d, NURSE, &["book", "--document", &doc(i), "--slot", SLOT, "--json"]));
        assert_eq!(booked["booking"]["slot_id"], SLOT);
    }
    let ops = ok(&run_as(d, NURSE, &["outbox", "--json"]));
    assert_eq!(ops.as_array().unwrap().last().unwrap()["envelope"]["staff_id"], "nurse", "{ops}");
    let overbook = ["book", "--document", &doc(3), "--slot", SLOT, "--overbook", "--reason", "急诊", "--json"];
    assert_eq!(
        refusal(&run_as(d, NURSE, &[&overbook[..], &["--lang", "zh"]].concat())),
        (Some(3), "forbidden".into(), "只有管理员可以加号".into())
    );
    let suspend = ["sessions", "suspend", "--session", SESSION, "--reason", "会议", "--json"];
    assert_eq!(
        refusal(&run_as(d, NURSE, &[&suspend[..], &["--lang", "zh"]].concat())),
        (Some(3), "forbidden".into(), "只有管理员可以停诊".into())
    );
    assert_eq!(
        refusal(&run_as(d, NURSE, &[&suspend[..], &["--lang", "en"]].concat())),
        (Some(3), "forbidden".into(), "Only an admin may suspend a session".into())
    );
    assert_eq!(outbox_len(d), before + 2, "the two bookings, nothing refused");

    // An admin does both; an overbook without a reason is the rules' refusal.
    let no_reason = ["book", "--document", &doc(3), "--slot", SLOT, "--overbook", "--reason", " ", "--json"];
    assert_eq!(refusal(&run_as(d, ADMIN, &no_reason)).1, "overbook_reason_missing");
    let over = ok(&run_as(d, ADMIN, &overbook));
    assert_eq!(over["booking"]["overbook_reason"], "急诊");
    assert!(over["booking"]["queue_no"].as_u64().unwrap() > 2, "{over}");
    let suspended = ok(&run_as(d, ADMIN, &suspend));
    assert_eq!(suspended["status"], "suspended");
    let resumed = ok(&run_as(d, ADMIN, &["sessions", "resume", "--session", SESSION, "--json"]));
    assert_eq!(resumed["status"], "open");
    assert_eq!(outbox_len(d), before + 5);
}

#[test]
fn the_first_admin_needs_nobody_then_staff_is_an_admin_s() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run_as(d, None, &["init", "--demo", "--json"]));
    let add = |who: Option<(&str, &str)>, id: &str, role: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
        cmd.args(["--data-dir", d.to_str().unwrap(), "staff", "add", "--id", id, "--name", id, "--role", role])
            .args(["--json", "--lang", "en"])
            .env("FRONTDESK_NOW", NOW)
            .env("FRONTDESK_NEW_PASSWORD", "secret-1")
            .env_remove("FRONTDESK_STAFF")
            .env_remove("FRONTDESK_PASSWORD")
            .stdin(Stdio::null());
        if let Some((staff, password)) = who {
            cmd.env("FRONTDESK_STAFF", staff).env("FRONTDESK_PASSWORD", password);
        }
        cmd.output().unwrap()
    };
    // Whoever set the desk up adds its first admin; a nurse cannot come first.
    assert_eq!(refusal(&add(None, "n1", "nurse")).1, "not_signed_in");
    assert_eq!(ok(&add(None, "boss", "admin"))[0]["role"], "admin");
    // From then on only an admin adds staff.
    assert_eq!(refusal(&add(None, "boss2", "admin")).1, "not_signed_in");
    assert_eq!(ok(&add(Some(("boss", "secret-1")), "n1", "nurse"))[0]["role"], "nurse");
    assert_eq!(
        refusal(&add(Some(("n1", "secret-1")), "n2", "nurse")),
        (Some(3), "forbidden".into(), "Only an admin may manage staff accounts".into())
    );
    let staff = ok(&run_as(d, Some(("boss", "secret-1")), &["staff", "list", "--json"]));
    let ids: Vec<&str> = staff.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["boss", "n1"]);
    assert_eq!(refusal(&run_as(d, Some(("n1", "secret-1")), &["staff", "list", "--json"])).1, "forbidden");
}
