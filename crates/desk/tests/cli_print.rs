//! Printing from the `frontdesk` CLI, checked with real tools: the PDF's barcode is decoded
//! with zbarimg and its text read back with pdftotext. Conflicts are made with the engine and
//! the platform's answers as data, then resolved from the command line.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{NOW, frontdesk, ok_json};

use frontdesk_desk::{BookTarget, BookingView, Desk, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::names::mask_name;
use frontdesk_domain::patient::PatientInput;
use frontdesk_protocol::sync::{Conflict, Effects, OpResult, Outcome, PushResponse};
use serde_json::Value;

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed for this test (apt-get install poppler-utils zbar-tools): {e}"));
    assert!(out.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every barcode zbarimg finds on the PDF's pages.
fn barcodes(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    tool("pdftoppm", &["-r", "300", "-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    let mut codes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let png = entry.unwrap().path();
        let out =
            Command::new("zbarimg").args(["-q", "--raw"]).arg(&png).output().expect("zbarimg (zbar-tools) is needed");
        codes.extend(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string));
    }
    codes
}

fn demo_with_booking(printer: &Path) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(frontdesk(d, &["init", "--demo", "--demo-staff"]).status.success());
    let spec = format!("pdf-dir:{}", printer.display());
    ok_json(d, &["settings", "--printer", &spec, "--ticket-width", "80"]);
    let patient = &ok_json(d, &["patients", "search", "欧阳娜娜"])[0];
    let doc = patient["document"]["number"].as_str().unwrap().to_string();
    let booked = ok_json(d, &["book", "--document", &doc, "--department", "EK", "--print", "--lang", "zh"]);
    (dir, booked)
}

fn pdfs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "pdf")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_walk_in_prints_a_ticket_whose_barcodes_decode_to_its_code() {
    let printer = tempfile::tempdir().unwrap();
    let (_dir, booked) = demo_with_booking(printer.path());
    let code = booked["booking"]["ticket_code"].as_str().unwrap();
    assert_eq!(booked["printed"]["reprint"], false);
    let files = pdfs(printer.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let found = barcodes(&files[0]);
    assert_eq!(found.iter().filter(|c| c.as_str() == code).count(), 2, "Code128 and QR both read back: {found:?}");
    let text = tool("pdftotext", &[files[0].to_str().unwrap(), "-"]);
    for want in ["城东社区卫生服务中心", "儿科", "欧阳*娜", "待平台确认"] {
        assert!(text.contains(want), "ticket lacks {want}: {text}");
    }
    assert!(!text.contains("欧阳娜娜"), "the full name must not be printed");
}

#[test]
fn reprints_are_logged_and_a_failed_print_loses_nothing() {
    let printer = tempfile::tempdir().unwrap();
    let (dir, booked) = demo_with_booking(printer.path());
    let d = dir.path();
    let id = booked["booking"]["id"].as_str().unwrap();
    let again = ok_json(d, &["print", "ticket", id]);
    assert_eq!(again["reprint"], true);
    assert_eq!(pdfs(printer.path()).len(), 2);
    // A printer that does not exist: a clear error, the booking is still there.
    let out = frontdesk(d, &["print", "ticket", id, "--printer", "escpos:127.0.0.1:9", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("printer_unreachable"), "{err}");
    let status = ok_json(d, &["status"]);
    assert_eq!(status["desk"]["bookings_today"], 1);
    let out = frontdesk(d, &["settings", "--printer", "laser-beam", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(2), "an unknown printer setting is refused");
}

#[test]
fn ticket_and_sheet_files_for_preview() {
    let printer = tempfile::tempdir().unwrap();
    let (dir, booked) = demo_with_booking(printer.path());
    let d = dir.path();
    let out_dir = tempfile::tempdir().unwrap();
    let ticket = out_dir.path().join("t58.pdf");
    let id = booked["booking"]["id"].as_str().unwrap();
    ok_json(d, &["ticket", id, "--out", ticket.to_str().unwrap(), "--width", "58"]);
    let size = std::fs::metadata(&ticket).unwrap().len();
    assert!(size < 60 * 1024, "ticket is {size} bytes");
    assert!(barcodes(&ticket).contains(&booked["booking"]["ticket_code"].as_str().unwrap().to_string()));
    let sheet = out_dir.path().join("sheet.pdf");
    ok_json(d, &["sheet", "--department", "EK", "--out", sheet.to_str().unwrap(), "--lang", "zh"]);
    let text = tool("pdftotext", &[sheet.to_str().unwrap(), "-"]);
    assert!(text.contains("儿科") && text.contains("欧阳*娜") && text.contains("孙丽"), "{text}");
    let out = frontdesk(d, &["sheet", "--department", "XX", "--out", sheet.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A demo desk whose platform refused each patient's booking (`slot_full`): one conflict per
/// patient, in order. Returns the data directory and the bookings as the desk had made them.
fn desk_with_conflicts(names: &[&str]) -> (tempfile::TempDir, Vec<BookingView>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock).unwrap();
    desk.initialize(None).unwrap();
    desk.seed_demo().unwrap();
    // The demo staff, as `init --demo-staff` adds them; the CLI signs in as their admin.
    desk.seed_demo_staff().unwrap();
    desk.sign_in("admin", "admin123", frontdesk_domain::Lang::En).unwrap();
    let mut booked = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let input = PatientInput {
            name: (*name).into(),
            document_number: common::doc(i as u16 + 1),
            ..PatientInput::default()
        };
        let p = desk.register_patient(&input, Lang::Zh).unwrap();
        booked.push(desk.book(&p.id, &BookTarget::Earliest { department: "EK".into(), provider: None }).unwrap());
    }
    let batch = desk.push_batch(500, 1 << 20).unwrap().unwrap();
    let results: Vec<OpResult> = batch
        .ops
        .iter()
        .map(|op| OpResult {
            op_id: op.op_id,
            seq: op.seq,
            outcome: if op.op.kind() == "book" {
                Outcome::Conflict(Conflict {
                    reason: "slot_full".into(),
                    message: "full".into(),
                    server_state: None,
                    suggestions: vec![],
                })
            } else {
                Outcome::Applied { effects: Effects::default() }
            },
        })
        .collect();
    let summary = desk.apply_push(&PushResponse { acked_seq: batch.ops.last().unwrap().seq, results }).unwrap();
    assert_eq!(summary.conflicts, names.len());
    (dir, booked)
}

/// (successful prints, failed attempts) of a document in the desk's print log.
fn print_count(dir: &Path, document: &str, subject: &str) -> (u32, u32) {
    let clock = std::sync::Arc::new(ManualClock::new(NOW.parse().unwrap()));
    Desk::open(&dir.join(REPLICA_FILE), clock).unwrap().print_count(document, subject).unwrap()
}

#[test]
fn giving_up_a_conflicted_booking_prints_the_notice_for_the_patient() {
    let printer = tempfile::tempdir().unwrap();
    let (dir, booked) = desk_with_conflicts(&["欧阳娜娜", "司马相如", "诸葛亮明"]);
    let d = dir.path();
    ok_json(d, &["settings", "--printer", &format!("pdf-dir:{}", printer.path().display()), "--ticket-width", "58"]);
    let inbox = ok_json(d, &["conflicts", "list"]);
    let ids: Vec<String> = inbox.as_array().unwrap().iter().map(|c| c["id"].to_string()).collect();
    assert_eq!(ids.len(), 3);

    // An open conflict has no notice to print yet.
    let out = frontdesk(d, &["conflicts", "notice", &ids[0], "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_str(&common::stderr(&out)).unwrap();
    assert_eq!(err["error"]["fields"][0]["code"], "notice_not_available", "{err}");
    assert!(pdfs(printer.path()).is_empty());

    // Cancel: the conflict is resolved, the text is shown and the notice lands in the printer folder.
    let done = ok_json(d, &["conflicts", "resolve", &ids[0], "--cancel", "--lang", "zh"]);
    let text = done["notice"].as_str().unwrap();
    assert!(text.contains("欧阳*娜") && !text.contains("欧阳娜娜"), "{text}");
    assert_eq!(done["printed"]["reprint"], false);
    let file = PathBuf::from(done["printed"]["file"].as_str().unwrap());
    assert_eq!(file.parent().unwrap(), printer.path());
    assert_eq!(pdfs(printer.path()), vec![file.clone()]);
    let pdf_text = tool("pdftotext", &[file.to_str().unwrap(), "-"]);
    let b = &booked[0];
    let window = format!("{}–{}", b.start.strftime("%H:%M"), b.end.strftime("%H:%M"));
    for want in [
        "城东社区卫生服务中心",
        "挂号未能确认通知",
        "欧阳*娜",
        "2026-11-23",
        &window,
        "儿科",
        "号源已满",
        "本次挂号已取消",
    ] {
        assert!(pdf_text.contains(want), "notice lacks {want}: {pdf_text}");
    }
    assert!(!pdf_text.contains("欧阳娜娜"), "the full name must not be printed");
    // The printed sentences are the text's.
    let flat: String = pdf_text.split_whitespace().collect();
    let first_sentence = text.split('：').nth(1).unwrap().split('。').next().unwrap();
    assert!(flat.contains(&first_sentence.split_whitespace().collect::<String>()), "{first_sentence} / {flat}");
    let info = tool("pdfinfo", &[file.to_str().unwrap()]);
    let width_pt: f32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .unwrap();
    assert!((width_pt - 58.0 * 72.0 / 25.4).abs() < 0.5, "the ticket roll's width: {width_pt} pt");
    assert_eq!(print_count(d, "notice", &ids[0]), (1, 0));

    // Printed again on request: a logged reprint.
    let again = ok_json(d, &["conflicts", "notice", &ids[0]]);
    assert_eq!(again["reprint"], true);
    assert_eq!(pdfs(printer.path()).len(), 2);
    assert_eq!(print_count(d, "notice", &ids[0]), (2, 0));

    // A printer that cannot be reached: exit 1 with the printer's code, the text still shown,
    // and the booking stays given up.
    let out =
        frontdesk(d, &["conflicts", "resolve", &ids[1], "--cancel", "--printer", "escpos:127.0.0.1:9", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(err.contains("printer_unreachable") && err.contains("is resolved"), "{err}");
    assert!(err.contains(&format!("frontdesk conflicts notice {}", ids[1])), "{err}");
    let shown = String::from_utf8_lossy(&out.stdout);
    let masked = mask_name("司马相如");
    assert!(shown.contains(&format!("Dear {masked}")) && !shown.contains("司马相如"), "{shown}");
    assert_eq!(print_count(d, "notice", &ids[1]), (0, 1));
    let all = ok_json(d, &["conflicts", "list", "--all"]);
    assert_eq!(all[1]["resolution"], "cancelled");
    assert_eq!(ok_json(d, &["status"])["sync"]["open_conflicts"], 1);
    assert_eq!(pdfs(printer.path()).len(), 2);

    // --no-print: only the text.
    let quiet = ok_json(d, &["conflicts", "resolve", &ids[2], "--cancel", "--no-print", "--lang", "en"]);
    let masked = mask_name("诸葛亮明");
    assert!(quiet["notice"].as_str().unwrap().contains(&masked), "{quiet}");
    assert!(quiet.get("printed").is_none(), "{quiet}");
    assert_eq!(pdfs(printer.path()).len(), 2);
    assert_eq!(print_count(d, "notice", &ids[2]), (0, 0));
    // …and its notice can still be printed later.
    let later = ok_json(d, &["conflicts", "notice", &ids[2], "--lang", "en"]);
    let file = PathBuf::from(later["file"].as_str().unwrap());
    let en = tool("pdftotext", &[file.to_str().unwrap(), "-"]);
    assert!(en.contains("Booking not confirmed") && en.contains(&masked) && !en.contains("诸葛亮明"), "{en}");
}
