//! The ESC/POS stream: a golden file, its structure, and delivery over TCP and to a device.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use frontdesk_domain::Lang;
use frontdesk_print::{
    PaperWidth, PrinterTarget, escpos_notice, escpos_ticket, print_notice, print_sheet, print_ticket,
};

use super::support::{CODE, FULL_NAME, MASKED, notice, sheet, ticket};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The printed text lines of a stream: commands stripped, barcode lines skipped.
fn text_lines(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for seg in b.split(|c| *c == b'\n') {
        if seg.windows(2).any(|w| w == [0x1D, b'k'] || w == [0x1D, b'(']) {
            continue;
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < seg.len() {
            match seg[i] {
                0x1C => i += 2,
                0x1B if seg.get(i + 1) == Some(&b'@') => i += 2,
                0x1B | 0x1D => i += 3,
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        let (line, _, _) = encoding_rs::GB18030.decode(&text);
        out.push(line.into_owned());
    }
    out
}

/// Compares with the committed golden file; `FRONTDESK_UPDATE_GOLDEN=1` rewrites it.
#[test]
fn escpos_stream_matches_golden_files() {
    let cases = [
        ("ticket-80mm-zh-unconfirmed.escpos", ticket(Lang::Zh, false), PaperWidth::Mm80),
        ("ticket-58mm-en.escpos", ticket(Lang::En, true), PaperWidth::Mm58),
    ];
    for (name, t, width) in cases {
        let bytes = escpos_ticket(&t, width);
        let path = golden_path(name);
        if std::env::var_os("FRONTDESK_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate with FRONTDESK_UPDATE_GOLDEN=1)", path.display()));
        assert!(golden == bytes, "{name} differs from the golden file; if intended, FRONTDESK_UPDATE_GOLDEN=1");
    }
}

#[test]
fn escpos_stream_is_well_formed() {
    let t = ticket(Lang::Zh, false);
    for (width, cols) in [(PaperWidth::Mm80, 48), (PaperWidth::Mm58, 32)] {
        let b = escpos_ticket(&t, width);
        assert!(b.starts_with(&[0x1B, b'@', 0x1C, b'&']), "init, then Chinese mode");
        assert!(b.ends_with(&[0x1D, b'V', 66, 0]), "ends with a partial cut");
        // Queue number at double size, then back to normal.
        let big = find(&b, &[0x1D, b'!', 0x11, b'1', b'7', b'\n']).expect("double-size queue number");
        assert!(find(&b[big..], &[0x1D, b'!', 0x00]).is_some());
        // CODE128 with the {B prefix and the exact length byte.
        let mut code128 = vec![0x1D, b'k', 73, (CODE.len() + 2) as u8, b'{', b'B'];
        code128.extend_from_slice(CODE.as_bytes());
        assert!(find(&b, &code128).is_some(), "GS k 73 {{B code");
        // QR: model 2, store the code, print.
        assert!(find(&b, &[0x1D, b'(', b'k', 4, 0, 49, 65, 50, 0]).is_some(), "QR model 2");
        let mut store = vec![0x1D, b'(', b'k', (CODE.len() + 3) as u8, 0, 49, 80, 48];
        store.extend_from_slice(CODE.as_bytes());
        assert!(find(&b, &store).is_some(), "QR store");
        assert!(find(&b, &[0x1D, b'(', b'k', 3, 0, 49, 81, 48]).is_some(), "QR print");
        // GB18030 text, masked name only.
        for text in ["儿科", "阳光社区卫生服务中心", MASKED, "待平台确认"] {
            let (gb, _, _) = encoding_rs::GB18030.encode(text);
            assert!(find(&b, &gb).is_some(), "{text} in GB18030");
        }
        let (full, _, _) = encoding_rs::GB18030.encode(FULL_NAME);
        assert!(find(&b, &full).is_none(), "full name sent to the printer");
        // The dashed rules are exactly one printer line wide.
        let rule = "-".repeat(cols);
        assert!(find(&b, format!("\n{rule}\n").as_bytes()).is_some());
        assert!(find(&b, "-".repeat(cols + 1).as_bytes()).is_none());
        // No text line is wider than the paper (a CJK character takes two columns).
        for line in text_lines(&b) {
            let w: usize = line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
            assert!(w <= cols, "line too wide for {cols} columns: {line:?}");
        }
    }
    let confirmed = escpos_ticket(&ticket(Lang::Zh, true), PaperWidth::Mm80);
    let (gb, _, _) = encoding_rs::GB18030.encode("待平台确认");
    assert!(find(&confirmed, &gb).is_none());
}

#[test]
fn tcp_printer_receives_the_job() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        got
    });
    let t = ticket(Lang::Zh, true);
    let receipt = print_ticket(&PrinterTarget::EscPosTcp { addr }, &t, PaperWidth::Mm58).unwrap();
    let got = server.join().unwrap();
    assert_eq!(got, escpos_ticket(&t, PaperWidth::Mm58));
    assert_eq!(receipt.bytes, got.len());
    assert_eq!(receipt.format, "application/vnd.escpos");
    assert_eq!(receipt.printer, addr.to_string());
}

#[test]
fn closed_port_is_printer_unreachable_quickly() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let start = Instant::now();
    let e = print_ticket(&PrinterTarget::EscPosTcp { addr }, &ticket(Lang::Zh, true), PaperWidth::Mm80).unwrap_err();
    assert_eq!(e.code(), "printer_unreachable", "{e}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(e.message(Lang::Zh).contains("无法连接"));
    assert!(e.message(Lang::En).contains("Cannot reach printer"));
}

#[test]
fn device_file_receives_the_job_and_missing_device_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").unwrap();
    let t = ticket(Lang::En, false);
    print_ticket(&PrinterTarget::EscPosDevice { path: path.clone() }, &t, PaperWidth::Mm80).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), escpos_ticket(&t, PaperWidth::Mm80));

    let missing = PrinterTarget::EscPosDevice { path: dir.path().join("no/such/device") };
    let e = print_ticket(&missing, &t, PaperWidth::Mm80).unwrap_err();
    assert_eq!(e.code(), "printer_not_found");

    let e = print_sheet(&PrinterTarget::EscPosDevice { path }, &sheet(Lang::Zh, 10)).unwrap_err();
    assert_eq!(e.code(), "not_supported");
}

#[test]
fn escpos_notice_decodes_back_from_gb18030_within_the_columns() {
    for (lang, width, cols) in
        [(Lang::Zh, PaperWidth::Mm80, 48), (Lang::Zh, PaperWidth::Mm58, 32), (Lang::En, PaperWidth::Mm58, 32)]
    {
        let n = notice(lang);
        let b = escpos_notice(&n, width);
        assert_eq!(b, escpos_notice(&n, width), "deterministic");
        assert!(b.starts_with(&[0x1B, b'@', 0x1C, b'&']), "init, then Chinese mode");
        assert!(b.ends_with(&[0x1D, b'V', 66, 0]), "ends with a partial cut");
        assert!(find(&b, &[0x1D, b'B', 1]).is_some(), "the cancelled line is reversed");
        let lines = text_lines(&b);
        let text = lines.join("\n");
        let all: String = text.split_whitespace().collect();
        let expected = [
            n.site_name.clone(),
            n.title.clone(),
            MASKED.to_string(),
            "08:30–09:00".to_string(),
            n.greeting(),
            n.statement(),
            n.explanation.clone(),
            n.next_steps.clone(),
            lang.pick("本次挂号已取消", "BOOKING CANCELLED").to_string(),
        ];
        for want in expected {
            let want: String = want.split_whitespace().collect();
            assert!(all.contains(&want), "{lang:?} {width:?}: {want:?} not in:\n{text}");
        }
        let (full, _, _) = encoding_rs::GB18030.encode(FULL_NAME);
        assert!(find(&b, &full).is_none(), "full name sent to the printer");
        assert!(!text.contains('三'));
        for line in &lines {
            let w: usize = line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
            assert!(w <= cols, "line too wide for {cols} columns: {line:?}");
        }
    }
}

#[test]
fn a_notice_goes_to_a_device_as_escpos() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").unwrap();
    let n = notice(Lang::Zh);
    let receipt = print_notice(&PrinterTarget::EscPosDevice { path: path.clone() }, &n, PaperWidth::Mm58).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), escpos_notice(&n, PaperWidth::Mm58));
    assert_eq!(receipt.format, "application/vnd.escpos");
    let missing = PrinterTarget::EscPosDevice { path: dir.path().join("no/such/device") };
    assert_eq!(print_notice(&missing, &n, PaperWidth::Mm58).unwrap_err().code(), "printer_not_found");
}
