//! The A4 slot sheet, read back page by page with pdftotext and pdfinfo.

use frontdesk_domain::Lang;
use frontdesk_print::{BookingStatus, SheetData, render_sheet_pdf};

use super::support::{page_count, pdf_text, sheet};

/// Text with every run of whitespace made one space (pdftotext -layout pads columns).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A booking row in `pdftotext -layout` output: a queue number, then a masked name.
fn is_row(line: &str) -> bool {
    let mut words = line.split_whitespace();
    matches!((words.next(), words.next()),
        (Some(n), Some(name)) if n.chars().all(|c| c.is_ascii_digit()) && name.contains('*'))
}

/// A slot header: starts with a time window such as `08:30–09:00`.
fn is_slot_header(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|w| w.len() >= 11 && w.contains('–') && w.chars().filter(|c| *c == ':').count() == 2)
}

/// Expected booking rows per slot, in print order.
fn rows_per_slot(s: &SheetData) -> Vec<usize> {
    s.departments
        .iter()
        .flat_map(|d| &d.providers)
        .flat_map(|p| &p.sessions)
        .flat_map(|se| &se.slots)
        .map(|sl| sl.bookings.len())
        .collect()
}

#[test]
fn three_hundred_bookings_every_row_once_totals_right_no_slot_split() {
    for lang in [Lang::Zh, Lang::En] {
        let s = sheet(lang, 300);
        let pdf = render_sheet_pdf(&s).unwrap();
        let pages = page_count(&pdf);
        assert!(pages >= 2, "300 bookings cannot fit one page");

        // Independent totals from the fixture.
        let all: Vec<_> = s
            .departments
            .iter()
            .flat_map(|d| &d.providers)
            .flat_map(|p| &p.sessions)
            .flat_map(|se| &se.slots)
            .collect();
        let capacity: u32 = all.iter().map(|sl| sl.capacity).sum();
        let active =
            all.iter().flat_map(|sl| &sl.bookings).filter(|b| b.status != BookingStatus::Cancelled).count() as u32;
        let rows = all.iter().map(|sl| sl.bookings.len()).sum::<usize>();
        assert_eq!(rows, 300);
        assert!(active < 300, "the fixture has cancellations");

        let expected = rows_per_slot(&s);
        let mut seen_rows = 0;
        let mut slot_index = 0;
        for page in 1..=pages {
            let text = pdf_text(&pdf, Some(page));
            let footer = match lang {
                Lang::Zh => format!("第 {page} 页 / 共 {pages} 页"),
                Lang::En => format!("Page {page} of {pages}"),
            };
            let flat = |s: &str| s.split_whitespace().collect::<String>();
            assert!(flat(&text).contains(&flat(&footer)), "page {page}: no footer {footer:?}");
            assert!(text.contains("阳光社区卫生服务中心") && text.contains("2025-03-14"), "page {page}: header");
            assert!(text.contains("李护士") && text.contains("07:55"), "page {page}: printed by/at");
            // Walk the page: each row belongs to the slot header above it on the same page.
            let mut current: Option<usize> = None;
            let mut count = 0;
            let close = |current: Option<usize>, count: usize| {
                if let Some(i) = current {
                    assert_eq!(count, expected[i], "slot {i} shows {count} of {} rows on page {page}", expected[i]);
                }
            };
            for line in text.lines() {
                if is_slot_header(line) {
                    assert!(!line.contains("续") && !line.contains("continued"), "slot split: {line}");
                    close(current, count);
                    current = Some(slot_index);
                    slot_index += 1;
                    count = 0;
                } else if is_row(line) {
                    assert!(current.is_some(), "page {page} starts with rows of a slot from the page before");
                    count += 1;
                    seen_rows += 1;
                }
            }
            close(current, count);
            assert!(current.is_some() || page == pages, "page {page} has no slot");
        }
        assert_eq!(slot_index, expected.len(), "every slot printed once");
        assert_eq!(seen_rows, 300, "every booking row printed once");

        let text = squash(&pdf_text(&pdf, None));
        let day = match lang {
            Lang::Zh => format!("全天合计 容量 {capacity} · 已约 {active} · 空余 {}", capacity - active),
            Lang::En => format!("Day total Capacity {capacity} · Booked {active} · Free {}", capacity - active),
        };
        assert!(text.contains(&day), "no {day:?} in the sheet");
        for d in &s.departments {
            let cap: u32 =
                d.providers.iter().flat_map(|p| &p.sessions).flat_map(|x| &x.slots).map(|x| x.capacity).sum();
            let booked = d
                .providers
                .iter()
                .flat_map(|p| &p.sessions)
                .flat_map(|x| &x.slots)
                .flat_map(|x| &x.bookings)
                .filter(|b| b.status != BookingStatus::Cancelled)
                .count() as u32;
            let want = match lang {
                Lang::Zh => format!("容量 {cap} · 已约 {booked} · 空余 {}", cap - booked),
                Lang::En => format!("Capacity {cap} · Booked {booked} · Free {}", cap - booked),
            };
            assert!(text.contains(&want), "department {} totals {want:?} missing", d.name);
        }
        assert!(text.contains(lang.pick("停诊", "SUSPENDED")), "suspended session marked");
        assert!(!text.contains("张伟") && !text.contains("王芳"), "a full name was printed");
    }
}

#[test]
fn a_small_day_is_one_page() {
    let s = sheet(Lang::Zh, 40);
    let pdf = render_sheet_pdf(&s).unwrap();
    // 4 departments, 120 slots: one line per slot at least, so not one page; but a single
    // department with a few slots is.
    let mut one = s.clone();
    one.departments.truncate(1);
    one.departments[0].providers.truncate(1);
    one.departments[0].providers[0].sessions.truncate(1);
    let small = render_sheet_pdf(&one).unwrap();
    assert_eq!(page_count(&small), 1);
    let text = squash(&pdf_text(&small, None));
    assert!(text.replace(' ', "").contains("第1页/共1页"), "{text}");
    assert!(page_count(&pdf) > 1);
}
