//! Fixtures and wrappers around the command-line tools the tests read the output back with.

use std::path::{Path, PathBuf};
use std::process::Command;

use frontdesk_domain::Lang;
use frontdesk_print::{NoticeData, SheetData, TicketData};

/// The Debian package that provides each tool the tests run.
const PACKAGES: &[(&str, &str)] = &[
    ("pdftoppm", "poppler-utils"),
    ("pdftotext", "poppler-utils"),
    ("pdfinfo", "poppler-utils"),
    ("zbarimg", "zbar-tools"),
    ("cupsd", "cups"),
    ("lpadmin", "cups-client"),
    ("lpstat", "cups-client"),
    ("lp", "cups-client"),
];

/// Finds a tool on PATH (and in the sbin directories, where cupsd lives), or fails the test
/// saying which package to install.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    let package = PACKAGES.iter().find(|(t, _)| *t == name).map_or("?", |(_, p)| *p);
    panic!(
        "required tool `{name}` not found: install the Debian package `{package}` \
         (all test dependencies: scripts/apt-packages.txt)"
    );
}

/// Runs a tool, failing the test with its stderr when it fails.
pub fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(tool(name)).args(args).output().unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(out.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write temp file");
    p.to_str().expect("utf-8 temp path").to_string()
}

/// Text of a PDF (all pages, or one with `page`), via pdftotext -layout.
pub fn pdf_text(pdf: &[u8], page: Option<usize>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write_temp(dir.path(), "doc.pdf", pdf);
    let mut args = vec!["-layout".to_string(), "-enc".into(), "UTF-8".into()];
    if let Some(p) = page {
        args.extend(["-f".into(), p.to_string(), "-l".into(), p.to_string()]);
    }
    args.extend([f, "-".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("pdftotext", &args)
}

/// `pdfinfo` fields.
pub fn pdf_info(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write_temp(dir.path(), "doc.pdf", pdf);
    run("pdfinfo", &["-enc", "UTF-8", &f])
}

pub fn page_count(pdf: &[u8]) -> usize {
    pdf_info(pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("pdfinfo reports Pages")
}

/// Page size in points.
pub fn page_size(pdf: &[u8]) -> (f32, f32) {
    let info = pdf_info(pdf);
    let line = info.lines().find_map(|l| l.strip_prefix("Page size:")).expect("pdfinfo reports the page size");
    let nums: Vec<f32> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (nums[0], nums[1])
}

/// Word boxes `(xMin, yMin, xMax, yMax, word)` in points, via pdftotext -bbox.
pub fn word_boxes(pdf: &[u8]) -> Vec<(f32, f32, f32, f32, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write_temp(dir.path(), "doc.pdf", pdf);
    let html = run("pdftotext", &["-bbox", "-enc", "UTF-8", &f, "-"]);
    let attr = |line: &str, key: &str| -> f32 {
        let start = line.find(&format!("{key}=\"")).expect("bbox attribute") + key.len() + 2;
        let end = start + line[start..].find('"').expect("closing quote");
        line[start..end].parse().expect("number")
    };
    html.lines()
        .filter(|l| l.trim_start().starts_with("<word "))
        .map(|l| {
            let word = l[l.find('>').expect(">") + 1..l.rfind("</word>").expect("</word>")].to_string();
            (attr(l, "xMin"), attr(l, "yMin"), attr(l, "xMax"), attr(l, "yMax"), word)
        })
        .collect()
}

/// Rasterises every page at 300 dpi (pdftoppm) and decodes the barcodes of one symbology
/// (`code128` or `qrcode`) with zbarimg; returns the decoded values.
pub fn decode(pdf: &[u8], symbology: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write_temp(dir.path(), "doc.pdf", pdf);
    let prefix = dir.path().join("page");
    run("pdftoppm", &["-r", "300", "-png", &f, prefix.to_str().expect("utf-8")]);
    let mut pngs: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read tempdir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .map(|p| p.to_str().expect("utf-8").to_string())
        .collect();
    pngs.sort();
    assert!(!pngs.is_empty(), "pdftoppm produced no page");
    let enable = format!("-S{symbology}.enable");
    let mut args = vec!["-q", "--raw", "-Sdisable", enable.as_str()];
    args.extend(pngs.iter().map(String::as_str));
    let out = Command::new(tool("zbarimg")).args(&args).output().expect("run zbarimg");
    // zbarimg exits 4 when it finds nothing: that is an empty result, not a tool failure.
    assert!(
        out.status.success() || out.status.code() == Some(4),
        "zbarimg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

pub const CODE: &str = "FD7K2M9QX4RT8";
pub const FULL_NAME: &str = "张三丰";
pub const MASKED: &str = "张*丰";

/// The crate's sample ticket in 儿科, number 17.
pub fn ticket(lang: Lang, confirmed: bool) -> TicketData {
    TicketData {
        department_name: "儿科".into(),
        queue_number: 17,
        patient_name: FULL_NAME.into(),
        ticket_code: CODE.into(),
        ..frontdesk_print::samples::sample_ticket(lang, confirmed)
    }
}

/// A notice for 张三丰's booking given up after a `slot_full` conflict (the crate's sample,
/// in 儿科).
pub fn notice(lang: Lang) -> NoticeData {
    NoticeData {
        patient_name: FULL_NAME.into(),
        department_name: "儿科".into(),
        ..frontdesk_print::samples::sample_notice(lang)
    }
}

/// A clinic's day holding exactly `bookings` bookings: the crate's sample (4 departments,
/// 2–3 providers each, slots of capacity 6 or more, one session suspended, some bookings
/// cancelled or not yet confirmed).
pub fn sheet(lang: Lang, bookings: usize) -> SheetData {
    frontdesk_print::samples::sample_sheet(lang, bookings)
}
