//! Fixtures and wrappers around the command-line tools the tests read the output back with.

use std::path::{Path, PathBuf};
use std::process::Command;

use frontdesk_domain::Lang;
use frontdesk_print::{
    BookingStatus, Channel, NoticeData, Period, SheetBooking, SheetData, SheetDepartment, SheetProvider, SheetSession,
    SheetSlot, TicketData,
};

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

pub fn ticket(lang: Lang, confirmed: bool) -> TicketData {
    TicketData {
        site_name: "阳光社区卫生服务中心".into(),
        department_name: "儿科".into(),
        provider_name: "王建国".into(),
        provider_title: "主任医师".into(),
        date: "2025-03-14".into(),
        time_window: "08:30–09:00".into(),
        queue_number: 17,
        patient_name: FULL_NAME.into(),
        ticket_code: CODE.into(),
        channel: Channel::Desk,
        printed_at: "2025-03-14 08:12".into(),
        confirmed,
        lang,
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

const SURNAMES: &[&str] = &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "欧阳", "周", "吴", "徐"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳"];

/// A clinic's day holding exactly `bookings` bookings (every 23rd cancelled, every 17th
/// unconfirmed) over 4 departments, 2–3 providers each, morning and afternoon sessions of
/// six half-hour slots of capacity `capacity`.
pub fn sheet(lang: Lang, bookings: usize, capacity: usize) -> SheetData {
    let departments = [("内科", "NK"), ("儿科", "EK"), ("妇产科", "FCK"), ("中医康复科", "ZY")];
    let providers = [("王建国", "主任医师"), ("李秀兰", "副主任医师"), ("陈思远", "主治医师")];
    let mut left = bookings;
    let mut n = 0usize;
    let mut deps = Vec::new();
    let mut round = 0;
    // Spread the bookings evenly: keep filling slots round by round until all are placed.
    let total_slots: usize = (0..4).map(|di| (2 + di % 2) * 2 * 6).sum();
    let per_slot = bookings.div_ceil(total_slots).min(capacity);
    for (di, (dname, code)) in departments.iter().enumerate() {
        let mut provs = Vec::new();
        for (pi, (pname, title)) in providers.iter().enumerate().take(2 + di % 2) {
            let mut sessions = Vec::new();
            for (period, start) in [(Period::Morning, 8), (Period::Afternoon, 14)] {
                let mut slots = Vec::new();
                for k in 0..6 {
                    round += 1;
                    let take = per_slot.saturating_sub(round % 2).max(1).min(left);
                    let mut rows = Vec::new();
                    for q in 0..take {
                        n += 1;
                        rows.push(SheetBooking {
                            queue_number: (k * capacity + q + 1) as u32,
                            patient_name: format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN[n % GIVEN.len()]),
                            channel: [Channel::Desk, Channel::Online, Channel::Phone][n % 3],
                            status: if n.is_multiple_of(23) {
                                BookingStatus::Cancelled
                            } else {
                                [BookingStatus::Booked, BookingStatus::CheckedIn, BookingStatus::Done][n % 3]
                            },
                            confirmed: !n.is_multiple_of(17),
                        });
                    }
                    left -= take;
                    let free = (take..capacity).map(|q| (k * capacity + q + 1) as u32).collect();
                    let h = start + k / 2;
                    let window = if k % 2 == 0 {
                        format!("{h:02}:00–{h:02}:30")
                    } else {
                        format!("{h:02}:30–{:02}:00", h + 1)
                    };
                    slots.push(SheetSlot {
                        time_window: window,
                        capacity: capacity as u32,
                        bookings: rows,
                        free_numbers: free,
                    });
                }
                sessions.push(SheetSession {
                    period,
                    suspended: di == 3 && pi == 1 && period == Period::Afternoon,
                    slots,
                });
            }
            provs.push(SheetProvider { name: pname.to_string(), title: title.to_string(), sessions });
        }
        deps.push(SheetDepartment { name: dname.to_string(), code: Some(code.to_string()), providers: provs });
    }
    assert_eq!(left, 0, "fixture could not place all bookings (capacity too small)");
    SheetData {
        site_name: "阳光社区卫生服务中心".into(),
        date: "2025-03-14".into(),
        printed_by: "李护士".into(),
        printed_at: "2025-03-14 07:55".into(),
        lang,
        departments: deps,
    }
}
