//! Printing from the `frontdesk` CLI, checked with real tools: the PDF's barcode is decoded
//! with zbarimg and its text read back with pdftotext.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{frontdesk, ok_json};

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
    assert!(frontdesk(d, &["init", "--demo"]).status.success());
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
