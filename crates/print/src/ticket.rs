//! The queue ticket (挂号小票) as a receipt-roll PDF.

use frontdesk_domain::Lang;
use frontdesk_domain::names::mask_name;
use serde::{Deserialize, Serialize};

pub use frontdesk_domain::schedule::Channel;

use crate::PrintError;
use crate::barcode::{CODE128_QUIET, QR_QUIET, code128_modules, draw_code128, draw_qr, qr_matrix};
use crate::pdf::{Align, Canvas, Ink, PT_MM, PageSpec, write_pdf};

/// Receipt-roll width. The printable width is narrower than the paper (72 mm and 48 mm); the
/// ticket keeps its content inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaperWidth {
    /// 80 mm paper, 72 mm / 576 dots printable, 48 columns of text.
    #[default]
    Mm80,
    /// 58 mm paper, 48 mm / 384 dots printable, 32 columns of text.
    Mm58,
}

impl PaperWidth {
    /// Paper width in millimetres.
    pub fn paper_mm(self) -> f32 {
        match self {
            PaperWidth::Mm80 => 80.0,
            PaperWidth::Mm58 => 58.0,
        }
    }

    /// Printable width in millimetres.
    pub fn printable_mm(self) -> f32 {
        match self {
            PaperWidth::Mm80 => 72.0,
            PaperWidth::Mm58 => 48.0,
        }
    }

    /// Characters per line of the printer's 12×24 font (a CJK character takes two).
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm80 => 48,
            PaperWidth::Mm58 => 32,
        }
    }
}

/// Everything printed on a queue ticket. `patient_name` is the full name: the crate masks it
/// (张三 → 张*) and the full name never reaches the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketData {
    /// Clinic or campus name.
    pub site_name: String,
    /// Department name, e.g. 内科.
    pub department_name: String,
    /// Doctor's name.
    pub provider_name: String,
    /// Doctor's title, e.g. 主任医师 (may be empty).
    pub provider_title: String,
    /// Visit date, `YYYY-MM-DD`.
    pub date: String,
    /// Time window, e.g. `08:30–09:00`.
    pub time_window: String,
    /// Queue number within the session.
    pub queue_number: u32,
    /// The patient's full name; printed masked.
    pub patient_name: String,
    /// The ticket code, printed as Code128 and QR and in clear text.
    pub ticket_code: String,
    /// How the booking was made.
    pub channel: Channel,
    /// When the ticket was printed, as it should read, e.g. `2025-03-14 08:12`.
    pub printed_at: String,
    /// Whether the central platform has confirmed the booking; an unconfirmed (offline,
    /// outside a lease) booking carries a "not yet confirmed" mark.
    pub confirmed: bool,
    /// Language of the labels.
    pub lang: Lang,
}

/// The fixed texts of a ticket, in one language.
pub(crate) struct TicketLabels {
    pub(crate) title: &'static str,
    pub(crate) department: &'static str,
    pub(crate) provider: &'static str,
    pub(crate) date: &'static str,
    pub(crate) time: &'static str,
    pub(crate) queue: &'static str,
    pub(crate) patient: &'static str,
    pub(crate) channel: &'static str,
    pub(crate) printed: &'static str,
    pub(crate) unconfirmed: &'static str,
    pub(crate) unconfirmed_note: &'static str,
    pub(crate) footer: &'static str,
}

pub(crate) fn labels(lang: Lang) -> TicketLabels {
    TicketLabels {
        title: lang.pick("挂号凭条", "Registration Ticket"),
        department: lang.pick("科室", "Dept."),
        provider: lang.pick("医生", "Doctor"),
        date: lang.pick("日期", "Date"),
        time: lang.pick("时段", "Time"),
        queue: lang.pick("就诊序号", "Queue No."),
        patient: lang.pick("患者", "Patient"),
        channel: lang.pick("渠道", "Channel"),
        printed: lang.pick("打印时间", "Printed"),
        unconfirmed: lang.pick("待平台确认", "NOT YET CONFIRMED"),
        unconfirmed_note: lang.pick("离线挂号，序号以平台确认为准", "Booked offline; number subject to confirmation"),
        footer: lang.pick("请保管好本凭条，按序号候诊", "Keep this ticket and wait for your number"),
    }
}

impl TicketData {
    /// The patient's name as printed (masked).
    pub fn masked_name(&self) -> String {
        mask_name(&self.patient_name)
    }

    /// Doctor's name and title as one line.
    pub(crate) fn provider_line(&self) -> String {
        let title = self.provider_title.trim();
        if title.is_empty() {
            self.provider_name.trim().to_string()
        } else {
            format!("{}  {}", self.provider_name.trim(), title)
        }
    }
}

/// Sizes that differ between the two paper widths (lengths in mm, fonts in pt); the notice
/// uses the same ones.
pub(crate) struct Geometry {
    pub(crate) paper: f32,
    pub(crate) margin: f32,
    pub(crate) site: f32,
    pub(crate) label: f32,
    pub(crate) value: f32,
    number: f32,
    pub(crate) small: f32,
    bar_height: f32,
    max_module: f32,
    qr_module: f32,
}

impl Geometry {
    pub(crate) fn of(width: PaperWidth) -> Self {
        match width {
            PaperWidth::Mm80 => Geometry {
                paper: 80.0,
                margin: 4.0,
                site: 13.0,
                label: 9.0,
                value: 12.0,
                number: 56.0,
                small: 8.0,
                bar_height: 12.0,
                max_module: 0.375,
                qr_module: 1.0,
            },
            PaperWidth::Mm58 => Geometry {
                paper: 58.0,
                margin: 5.0,
                site: 11.0,
                label: 8.0,
                value: 10.5,
                number: 46.0,
                small: 7.0,
                bar_height: 10.0,
                max_module: 0.25,
                qr_module: 0.875,
            },
        }
    }

    pub(crate) fn content(&self) -> f32 {
        self.paper - 2.0 * self.margin
    }
}

/// One thermal-printer dot at 203 dpi, in mm: bar widths are whole dots so bars print crisply.
const DOT_MM: f32 = 0.125;
pub(crate) const LEADING: f32 = 1.3;
pub(crate) const MIN_TEXT: f32 = 7.0;

/// Renders a ticket as a one-page PDF as wide as the paper and as tall as its content.
pub fn render_ticket_pdf(t: &TicketData, width: PaperWidth) -> Result<Vec<u8>, PrintError> {
    let (canvas, height) = draw_ticket(t, width)?;
    let title = format!("{} {}", labels(t.lang).title, t.ticket_code);
    write_pdf(&title, vec![PageSpec { width: width.paper_mm(), height, canvas }])
}

fn draw_ticket(t: &TicketData, width: PaperWidth) -> Result<(Canvas, f32), PrintError> {
    let g = Geometry::of(width);
    let l = labels(t.lang);
    let mut c = Canvas::new()?;
    let left = g.margin;
    let cw = g.content();
    let mid = g.paper / 2.0;
    let mut y = 4.0;

    // Site and document title.
    let (size, lines) = c.fit(&t.site_name, g.site, MIN_TEXT, cw, 2);
    y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Bold, &lines);
    y = c.lines(mid, y, g.label, LEADING, Align::Center, Ink::Regular, &[l.title.to_string()]);
    y += 1.5;
    c.dashed_rule(left, y, cw);
    y += 2.0;

    // Label / value rows.
    let label_col =
        [l.department, l.provider, l.date, l.time].iter().map(|s| c.text_width(s, g.label)).fold(0.0_f32, f32::max)
            + 2.5;
    let rows = [
        (l.department, t.department_name.clone(), 2),
        (l.provider, t.provider_line(), 2),
        (l.date, t.date.clone(), 2),
        (l.time, t.time_window.clone(), 2),
    ];
    for (label, value, max_lines) in rows {
        y = label_row(&mut c, left, y, label_col, cw, g.label, g.value, label, &value, max_lines);
        y += 0.6;
    }
    y += 1.0;
    c.dashed_rule(left, y, cw);
    y += 2.0;

    // Queue number: the one thing a patient must read from across the waiting room.
    y = c.lines(mid, y, g.label + 1.0, LEADING, Align::Center, Ink::Regular, &[l.queue.to_string()]);
    let digits_h = 0.73 * g.number * PT_MM;
    y += 1.5;
    let number = t.queue_number.to_string();
    c.text(mid, y + digits_h, g.number, Align::Center, Ink::Bold, &number);
    y += digits_h + 3.0;
    let patient = format!("{}  {}", l.patient, t.masked_name());
    let (size, lines) = c.fit(&patient, g.value + 1.0, MIN_TEXT, cw, 2);
    y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Bold, &lines);

    if !t.confirmed {
        y += 1.5;
        let (size, lines) = c.fit(l.unconfirmed, g.value + 1.0, MIN_TEXT, cw - 4.0, 2);
        let band = lines.len() as f32 * size * LEADING * PT_MM + 2.0;
        c.rect(left, y, cw, band, 0.0);
        c.lines(mid, y + 1.0, size, LEADING, Align::Center, Ink::Reverse, &lines);
        y += band + 0.8;
        let (size, lines) = c.fit(l.unconfirmed_note, g.small + 0.5, MIN_TEXT - 1.0, cw, 3);
        y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Regular, &lines);
    }
    y += 1.5;
    c.dashed_rule(left, y, cw);
    y += 3.0;

    // Code128, with whole-dot modules that fit the printable width and leave the quiet zones
    // on the paper.
    let modules = code128_modules(&t.ticket_code)?;
    let n = modules.len() as f32;
    let fit = (cw / n).min(g.paper / (n + 2.0 * CODE128_QUIET as f32));
    let module = ((fit.min(g.max_module) / DOT_MM).floor() * DOT_MM).max(0.0);
    if module < DOT_MM {
        return Err(PrintError::Barcode(format!(
            "ticket code {:?} is too long for {} mm paper",
            t.ticket_code,
            width.paper_mm()
        )));
    }
    let bar_w = n * module;
    draw_code128(&mut c, &modules, mid - bar_w / 2.0, y, module, g.bar_height);
    y += g.bar_height + 0.8;
    y = c.lines(mid, y, g.value - 1.0, LEADING, Align::Center, Ink::Regular, std::slice::from_ref(&t.ticket_code));

    // QR code with its quiet zone.
    let (dark, qw) = qr_matrix(&t.ticket_code)?;
    y += QR_QUIET as f32 * g.qr_module - 1.0;
    let qr_w = qw as f32 * g.qr_module;
    draw_qr(&mut c, &dark, qw, mid - qr_w / 2.0, y, g.qr_module);
    y += qr_w + QR_QUIET as f32 * g.qr_module - 1.0;

    // Channel and printing time.
    let small_col = [l.channel, l.printed].iter().map(|s| c.text_width(s, g.small)).fold(0.0_f32, f32::max) + 2.0;
    y = label_row(&mut c, left, y, small_col, cw, g.small, g.small, l.channel, t.channel.label(t.lang), 2);
    y = label_row(&mut c, left, y, small_col, cw, g.small, g.small, l.printed, &t.printed_at, 2);
    y += 1.0;
    let (size, lines) = c.fit(l.footer, g.small, MIN_TEXT - 1.0, cw, 2);
    y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Regular, &lines);
    y += 5.0;
    Ok((c, y))
}

/// A label in a narrow left column with its value wrapped in the rest of the width, first
/// lines on a common baseline. Returns the y below the row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn label_row(
    c: &mut Canvas,
    left: f32,
    top: f32,
    label_col: f32,
    width: f32,
    label_size: f32,
    value_size: f32,
    label: &str,
    value: &str,
    max_lines: usize,
) -> f32 {
    let (size, lines) = c.fit(value, value_size, MIN_TEXT, width - label_col, max_lines);
    let step = size * LEADING * PT_MM;
    let baseline = top + (step - size * PT_MM) / 2.0 + c.ascent(size);
    c.text(left, baseline, label_size, Align::Left, Ink::Regular, label);
    c.lines(left + label_col, top, size, LEADING, Align::Left, Ink::Regular, &lines)
}
