//! The `frontdesk` binary as a process on a temporary data directory, with a pinned clock.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{doc, frontdesk, ok_json, stderr};
use serde_json::Value;
use std::path::Path;

fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = frontdesk(dir.path(), &["init", "--demo", "--demo-staff", "--lang", "en"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Demo clinic ready"));
    dir
}

fn outbox_len(dir: &Path) -> usize {
    ok_json(dir, &["outbox"]).as_array().unwrap().len()
}

#[test]
fn filling_a_slot_makes_the_next_booking_exit_3_with_a_suggestion() {
    let dir = demo();
    let d = dir.path();
    let slot = "demo-ek-1-20261123-am-01";
    for i in 1..=3 {
        let n = i.to_string();
        ok_json(d, &["patients", "add", "--name", &format!("病人{n}"), "--document", &doc(i)]);
    }
    for i in 1..=2 {
        let booked = ok_json(d, &["book", "--document", &doc(i), "--slot", slot]);
        assert_eq!(booked["booking"]["slot_id"], slot);
        assert!(booked["booking"]["ticket_code"].as_str().unwrap().starts_with("FD"));
    }
    let out = frontdesk(d, &["book", "--document", &doc(3), "--slot", slot, "--lang", "en"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("slot_full"), "{err}");
    assert!(err.contains("Suggested instead") && err.contains("demo-ek-2-20261123-am-01"), "{err}");
    // The same in Chinese, and as JSON with the suggestion machine-readable.
    let out = frontdesk(d, &["--lang", "zh", "book", "--document", &doc(3), "--slot", slot]);
    assert!(stderr(&out).contains("建议改挂"));
    let out = frontdesk(d, &["book", "--document", &doc(3), "--slot", slot, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["error"]["code"], "slot_full");
    assert_eq!(v["error"]["suggestion"]["slot_id"], "demo-ek-2-20261123-am-01");
    assert_eq!(outbox_len(d), 3 + 2, "three registrations and two bookings");
}

#[test]
fn the_same_patient_twice_in_one_department_on_one_day_exits_3() {
    let dir = demo();
    let d = dir.path();
    let p = ok_json(d, &["patients", "add", "--name", "李四", "--document", &doc(7), "--phone", "13800138000"]);
    assert_eq!(p["sex"], "M", "sex derived from the ID number");
    assert_eq!(p["birth_date"], "1990-01-01", "birth date derived from the ID number");
    let first = ok_json(d, &["book", "--patient", p["id"].as_str().unwrap(), "--department", "NK"]);
    assert_eq!(first["department_code"], "NK");
    let out = frontdesk(d, &["book", "--patient", p["id"].as_str().unwrap(), "--department", "nk", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("patient_already_booked"), "{}", stderr(&out));
    // Another department is fine.
    ok_json(d, &["book", "--patient", p["id"].as_str().unwrap(), "--department", "WK"]);
    assert_eq!(outbox_len(d), 3);
}

#[test]
fn an_invalid_document_exits_2_names_the_field_and_writes_nothing() {
    let dir = demo();
    let d = dir.path();
    let before = ok_json(d, &["status"]);
    let mut bad = doc(9);
    bad.replace_range(17..18, if bad.ends_with('1') { "2" } else { "1" });
    for (document, expect) in [
        (bad.as_str(), "check character"),
        ("11010119901301001X", "birth date"),
        ("1101011990", "18"),
        ("", "document"),
    ] {
        let out = frontdesk(d, &["--lang", "en", "patients", "add", "--name", "王五", "--document", document]);
        assert_eq!(out.status.code(), Some(2), "{document}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("document_number"), "{document}: {err}");
        assert!(err.to_lowercase().contains(expect), "{document}: {err}");
    }
    let out =
        frontdesk(d, &["patients", "add", "--name", "王五", "--document", &bad, "--phone", "12345", "--lang", "zh"]);
    let err = stderr(&out);
    assert!(err.contains("证件号") && err.contains("手机号"), "every bad field is named: {err}");
    let after = ok_json(d, &["status"]);
    assert_eq!(before["patients"], after["patients"]);
    assert_eq!(outbox_len(d), 0);
}

#[test]
fn check_in_scan_and_cancel_from_the_command_line() {
    let dir = demo();
    let d = dir.path();
    let p = ok_json(d, &["patients", "add", "--name", "赵六", "--document", &doc(11), "--card", "MC778899"]);
    let b = ok_json(d, &["book", "--patient", p["id"].as_str().unwrap(), "--department", "KQ"]);
    let code = b["booking"]["ticket_code"].as_str().unwrap().to_string();
    let scanned = ok_json(d, &["scan", &format!("\u{2}{code}\r")]);
    assert_eq!(scanned["kind"], "ticket");
    assert_eq!(scanned["booking"]["booking"]["id"], b["booking"]["id"]);
    let card = ok_json(d, &["scan", "MC778899"]);
    assert_eq!(card["kind"], "medical_card");
    assert_eq!(card["patient"]["id"], p["id"]);
    let out = frontdesk(d, &["scan", "https://example.com/x", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scan_unknown"), "{}", stderr(&out));

    let checked = ok_json(d, &["checkin", &code]);
    assert_eq!(checked["booking"]["status"], "checked_in");
    let out = frontdesk(d, &["checkin", &code, "--lang", "en"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("ticket_already_used"));

    let b2 = ok_json(d, &["book", "--patient", p["id"].as_str().unwrap(), "--department", "FK"]);
    let cancelled = ok_json(d, &["cancel", b2["booking"]["id"].as_str().unwrap()]);
    assert_eq!(cancelled["booking"]["status"], "cancelled");
    let kinds: Vec<String> =
        ok_json(d, &["outbox"]).as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["register_patient", "book", "check_in", "book", "cancel"]);
    let status = ok_json(d, &["status"]);
    assert_eq!(status["desk"]["pending_ops"], 5);
    assert_eq!(status["sync"]["pending_ops"], 5);
    assert_eq!(status["sync"]["server"], Value::Null, "not enrolled");
}

#[test]
fn board_and_search_print_for_people() {
    let dir = demo();
    let d = dir.path();
    let out = frontdesk(d, &["board", "--lang", "zh"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for want in ["城东社区卫生服务中心", "内科 [NK]", "王建国 主任医师", "窗口余", "demo-nk-1-20261123-am-01"]
    {
        assert!(text.contains(want), "board lacks {want}:\n{text}");
    }
    let out = frontdesk(d, &["board", "--date", "2026-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    let found = ok_json(d, &["patients", "search", "zs"]);
    assert!(found.as_array().unwrap().iter().any(|p| p["name"] == "张三"));
}

#[test]
fn commands_before_init_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = frontdesk(dir.path(), &["board", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("frontdesk init"), "{}", stderr(&out));
}
