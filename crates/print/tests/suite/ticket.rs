//! Tickets as PDF, read back with pdftotext, pdfinfo, pdftoppm and zbarimg.

use frontdesk_domain::Lang;
use frontdesk_print::{PaperWidth, render_ticket_pdf};

use super::support::{CODE, FULL_NAME, MASKED, decode, page_size, pdf_info, pdf_text, ticket, word_boxes};

const WIDTHS: [(PaperWidth, f32); 2] = [(PaperWidth::Mm80, 80.0), (PaperWidth::Mm58, 58.0)];
const MM_PT: f32 = 72.0 / 25.4;

#[test]
fn barcodes_decode_to_the_ticket_code_at_both_widths_and_languages() {
    for (width, mm) in WIDTHS {
        for lang in [Lang::Zh, Lang::En] {
            let pdf = render_ticket_pdf(&ticket(lang, lang == Lang::En), width).unwrap();
            let (w, h) = page_size(&pdf);
            assert!((w - mm * MM_PT).abs() < 0.5, "{width:?}: page is {w} pt wide");
            assert!(h > w, "{width:?}: a receipt is taller than wide ({w} x {h} pt)");
            assert_eq!(decode(&pdf, "code128"), vec![CODE.to_string()], "Code128 at {width:?} {lang:?}");
            assert_eq!(decode(&pdf, "qrcode"), vec![CODE.to_string()], "QR at {width:?} {lang:?}");
        }
    }
}

#[test]
fn text_is_extractable_chinese_with_the_name_masked() {
    for (width, _) in WIDTHS {
        let pdf = render_ticket_pdf(&ticket(Lang::Zh, true), width).unwrap();
        assert!(pdf.len() <= 60 * 1024, "{width:?}: ticket is {} bytes", pdf.len());
        let text = pdf_text(&pdf, None);
        for needle in ["阳光社区卫生服务中心", "儿科", "王建国", "主任医师", "17", MASKED, "就诊序号", CODE]
        {
            assert!(text.contains(needle), "{width:?}: {needle:?} missing from:\n{text}");
        }
        assert!(!text.contains(FULL_NAME), "full name printed:\n{text}");
        assert!(!text.contains('三'), "a hidden character of the name leaked:\n{text}");
        let info = pdf_info(&pdf);
        assert!(!info.contains(FULL_NAME) && !info.contains('三'), "name in metadata:\n{info}");
        // Nor anywhere in the file, in any encoding it could be written in.
        let utf16: Vec<u8> = FULL_NAME.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let (gb, _, _) = encoding_rs::GB18030.encode(FULL_NAME);
        for needle in [FULL_NAME.as_bytes(), &utf16, &gb] {
            assert!(!pdf.windows(needle.len()).any(|w| w == needle), "full name bytes in the PDF");
        }
    }
}

#[test]
fn english_labels_when_english() {
    let pdf = render_ticket_pdf(&ticket(Lang::En, true), PaperWidth::Mm80).unwrap();
    let text = pdf_text(&pdf, None);
    for needle in ["Queue No.", "Patient", "Doctor", "Registration Ticket", MASKED, "儿科"] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("就诊序号"));
}

#[test]
fn unconfirmed_mark_only_when_unconfirmed() {
    for (lang, mark) in [(Lang::Zh, "待平台确认"), (Lang::En, "NOT YET CONFIRMED")] {
        for (width, _) in WIDTHS {
            let unconfirmed = pdf_text(&render_ticket_pdf(&ticket(lang, false), width).unwrap(), None);
            assert!(unconfirmed.contains(mark), "{lang:?} {width:?}: no mark in:\n{unconfirmed}");
            let confirmed = pdf_text(&render_ticket_pdf(&ticket(lang, true), width).unwrap(), None);
            assert!(!confirmed.contains(mark), "{lang:?} {width:?}: mark on a confirmed ticket");
        }
    }
}

#[test]
fn long_names_wrap_and_nothing_leaves_the_paper() {
    let site = "北京市朝阳区望京街道社区卫生服务中心第二门诊部（东院区）";
    let department = "心血管内科与呼吸与危重症医学科联合门诊";
    let provider = "欧阳建国";
    let title = "主任医师（特需专家门诊）";
    for (width, mm) in WIDTHS {
        for lang in [Lang::Zh, Lang::En] {
            let mut t = ticket(lang, false);
            t.site_name = site.into();
            t.department_name = department.into();
            t.provider_name = provider.into();
            t.provider_title = title.into();
            let pdf = render_ticket_pdf(&t, width).unwrap();
            let flat: String = pdf_text(&pdf, None).split_whitespace().collect();
            for needle in [site, department, provider, title] {
                assert!(flat.contains(needle), "{width:?} {lang:?}: {needle:?} not whole in {flat}");
            }
            let page_w = mm * MM_PT;
            for (x0, _, x1, _, word) in word_boxes(&pdf) {
                assert!(
                    x0 >= 2.0 * MM_PT && x1 <= page_w - 2.0 * MM_PT,
                    "{width:?}: {word:?} at {x0}..{x1} of {page_w}"
                );
            }
            assert_eq!(decode(&pdf, "code128"), vec![CODE.to_string()]);
        }
    }
    // A long English department name breaks at spaces, not inside words.
    let mut t = ticket(Lang::En, true);
    t.department_name = "Department of Traditional Chinese Medicine and Rehabilitation".into();
    let pdf = render_ticket_pdf(&t, PaperWidth::Mm58).unwrap();
    let text = pdf_text(&pdf, None);
    let words: Vec<&str> = text.split_whitespace().collect();
    for word in ["Department", "Traditional", "Chinese", "Medicine", "Rehabilitation"] {
        assert!(words.contains(&word), "{word} broken or missing in:\n{text}");
    }
}

#[test]
fn ticket_code_that_cannot_be_a_barcode_is_a_clear_error() {
    let mut t = ticket(Lang::Zh, true);
    t.ticket_code = "挂号".into();
    let e = render_ticket_pdf(&t, PaperWidth::Mm80).unwrap_err();
    assert_eq!(e.code(), "barcode_invalid");
    assert!(e.message(Lang::Zh).contains("条码"));
    t.ticket_code = "X".repeat(40);
    let e = render_ticket_pdf(&t, PaperWidth::Mm58).unwrap_err();
    assert_eq!(e.code(), "barcode_invalid");
}
