//! Notices for patients as PDF, read back with pdftotext and pdfinfo.

use frontdesk_domain::Lang;
use frontdesk_print::{NoticeData, PaperWidth, render_notice_pdf};

use super::support::{FULL_NAME, MASKED, notice, page_size, pdf_info, pdf_text, word_boxes};

const WIDTHS: [(PaperWidth, f32); 2] = [(PaperWidth::Mm80, 80.0), (PaperWidth::Mm58, 58.0)];
const MM_PT: f32 = 72.0 / 25.4;

/// The extracted text with all white space removed, so wrapped sentences can be matched whole.
fn flat(text: &str) -> String {
    text.split_whitespace().collect()
}

#[test]
fn notice_text_reads_back_with_the_name_masked_at_both_widths() {
    for (width, mm) in WIDTHS {
        let n = notice(Lang::Zh);
        let pdf = render_notice_pdf(&n, width).unwrap();
        assert!(pdf.len() <= 60 * 1024, "{width:?}: notice is {} bytes", pdf.len());
        let (w, h) = page_size(&pdf);
        assert!((w - mm * MM_PT).abs() < 0.5, "{width:?}: page is {w} pt wide");
        assert!(h > w, "{width:?}: a receipt is taller than wide ({w} x {h} pt)");
        let text = pdf_text(&pdf, None);
        let all = flat(&text);
        for needle in [
            "阳光社区卫生服务中心",
            "挂号未能确认通知",
            MASKED,
            "2025-03-14",
            "08:30–09:00",
            "儿科",
            "王建国",
            "本次挂号已取消",
            "号源已满",
            "给您带来不便，敬请谅解。",
            "12",
            "2025-03-14 09:05",
        ] {
            assert!(text.contains(needle), "{width:?}: {needle:?} missing from:\n{text}");
        }
        // The sentences are the ones of the on-screen text, wrapped but whole.
        for sentence in [n.statement(), n.explanation.clone(), n.next_steps.clone()] {
            assert!(all.contains(&flat(&sentence)), "{width:?}: {sentence:?} not whole in:\n{text}");
        }
        assert!(!text.contains(FULL_NAME), "full name printed:\n{text}");
        assert!(!text.contains('三'), "a hidden character of the name leaked:\n{text}");
        let info = pdf_info(&pdf);
        assert!(info.contains("挂号未能确认通知"), "title in metadata:\n{info}");
        assert!(!info.contains(FULL_NAME) && !info.contains('三'), "name in metadata:\n{info}");
        let utf16: Vec<u8> = FULL_NAME.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let (gb, _, _) = encoding_rs::GB18030.encode(FULL_NAME);
        for needle in [FULL_NAME.as_bytes(), &utf16, &gb] {
            assert!(!pdf.windows(needle.len()).any(|w| w == needle), "full name bytes in the PDF");
        }
    }
}

#[test]
fn english_notice_wraps_at_spaces_and_stays_on_the_paper() {
    for (width, mm) in WIDTHS {
        let mut n = notice(Lang::En);
        n.site_name = "北京市朝阳区望京街道社区卫生服务中心第二门诊部（东院区）".into();
        n.department_name = "Department of Traditional Chinese Medicine and Rehabilitation".into();
        let pdf = render_notice_pdf(&n, width).unwrap();
        let text = pdf_text(&pdf, None);
        for needle in ["Booking not confirmed", "BOOKING CANCELLED", "What to do next", "Notice No.", MASKED] {
            assert!(text.contains(needle), "{width:?}: {needle:?} missing from:\n{text}");
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        for word in ["Traditional", "Rehabilitation", "confirmed", "inconvenience."] {
            assert!(words.contains(&word), "{width:?}: {word} broken or missing in:\n{text}");
        }
        assert!(flat(&text).contains(&flat(&n.site_name)), "{width:?}: site not whole in:\n{text}");
        assert!(!text.contains("挂号未能确认通知"), "Chinese title on an English notice");
        let page_w = mm * MM_PT;
        for (x0, _, x1, _, word) in word_boxes(&pdf) {
            assert!(x0 >= 2.0 * MM_PT && x1 <= page_w - 2.0 * MM_PT, "{width:?}: {word:?} at {x0}..{x1} of {page_w}");
        }
    }
}

#[test]
fn unknown_details_are_left_out_not_printed_empty() {
    let mut n = notice(Lang::Zh);
    n.department_name.clear();
    n.provider_name.clear();
    n.provider_title.clear();
    n.time_window.clear();
    let text = pdf_text(&render_notice_pdf(&n, PaperWidth::Mm58).unwrap(), None);
    for label in ["科室", "医生", "时段"] {
        assert!(!text.contains(label), "{label} printed without a value:\n{text}");
    }
    assert!(text.contains("您在 2025-03-14 的挂号"), "{text}");
    assert_eq!(NoticeData::default_title(Lang::En), "Booking not confirmed");
}
