//! The notice for a patient whose booking could not be confirmed and was given up
//! (挂号未能确认通知), on the same receipt roll as the ticket.
//!
//! [`NoticeData`] holds the facts once; the plain-text notice ([`NoticeData::text`]), the PDF
//! ([`render_notice_pdf`]) and the ESC/POS stream ([`crate::escpos_notice`]) are all made of
//! the same sentences.

use frontdesk_domain::Lang;
use frontdesk_domain::names::mask_name;
use serde::{Deserialize, Serialize};

use crate::PrintError;
use crate::pdf::{Align, Canvas, Ink, PT_MM, PageSpec, write_pdf};
use crate::ticket::{Geometry, LEADING, MIN_TEXT, PaperWidth, label_row};

/// Everything printed on a notice. `patient_name` is the full name: the crate masks it
/// (张三 → 张*) and the full name never reaches the output. Empty fields (an unknown time,
/// department or doctor) are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeData {
    /// Clinic or campus name.
    pub site_name: String,
    /// The notice's heading, usually [`NoticeData::default_title`].
    pub title: String,
    /// The patient's full name; printed masked.
    pub patient_name: String,
    /// Date of the booking that was given up, `YYYY-MM-DD`.
    pub date: String,
    /// Its time window, e.g. `08:30–09:00`.
    pub time_window: String,
    /// Its department.
    pub department_name: String,
    /// Its doctor.
    pub provider_name: String,
    /// The doctor's title, e.g. 主任医师 (may be empty).
    pub provider_title: String,
    /// Why the booking could not be confirmed, as a short title (e.g. 号源已满).
    pub reason: String,
    /// A plain explanation of the reason.
    pub explanation: String,
    /// What the patient should do now, usually [`NoticeData::default_next_steps`].
    pub next_steps: String,
    /// A short reference printed at the foot and used as the print job's name (the desk uses
    /// the conflict's number); never the patient's name.
    pub reference: String,
    /// When the notice was printed, as it should read, e.g. `2025-03-14 08:12`.
    pub printed_at: String,
    /// Language of the labels and sentences.
    pub lang: Lang,
}

/// The fixed texts of a notice, in one language.
pub(crate) struct NoticeLabels {
    pub(crate) patient: &'static str,
    pub(crate) date: &'static str,
    pub(crate) time: &'static str,
    pub(crate) department: &'static str,
    pub(crate) provider: &'static str,
    pub(crate) cancelled: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) next: &'static str,
    pub(crate) apology: &'static str,
    pub(crate) reference: &'static str,
    pub(crate) printed: &'static str,
}

pub(crate) fn notice_labels(lang: Lang) -> NoticeLabels {
    NoticeLabels {
        patient: lang.pick("患者", "Patient"),
        date: lang.pick("日期", "Date"),
        time: lang.pick("时段", "Time"),
        department: lang.pick("科室", "Dept."),
        provider: lang.pick("医生", "Doctor"),
        cancelled: lang.pick("本次挂号已取消", "BOOKING CANCELLED"),
        reason: lang.pick("原因", "Reason"),
        next: lang.pick("接下来请您", "What to do next"),
        apology: lang.pick("给您带来不便，敬请谅解。", "We apologise for the inconvenience."),
        reference: lang.pick("通知编号", "Notice No."),
        printed: lang.pick("打印时间", "Printed"),
    }
}

impl NoticeData {
    /// The usual heading: 挂号未能确认通知 / Booking not confirmed.
    pub fn default_title(lang: Lang) -> &'static str {
        lang.pick("挂号未能确认通知", "Booking not confirmed")
    }

    /// The usual advice: book again at the front desk.
    pub fn default_next_steps(lang: Lang) -> &'static str {
        lang.pick(
            "请到挂号窗口重新挂号，工作人员会为您另行安排。",
            "Please see the front desk to book again; the staff will find you another time.",
        )
    }

    /// The patient's name as printed (masked).
    pub fn masked_name(&self) -> String {
        mask_name(&self.patient_name)
    }

    /// Date and time window of the booking, as one phrase (empty when neither is known).
    pub fn when(&self) -> String {
        [self.date.trim(), self.time_window.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
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

    /// The salutation, with the masked name: `张* 您好：` / `Dear 张*:`.
    pub fn greeting(&self) -> String {
        let name = self.masked_name();
        match (self.lang, name.is_empty()) {
            (Lang::Zh, true) => "您好：".to_string(),
            (Lang::Zh, false) => format!("{name} 您好："),
            (Lang::En, true) => "Dear patient:".to_string(),
            (Lang::En, false) => format!("Dear {name}:"),
        }
    }

    /// What happened, in one sentence: the booking (of `when`) was not confirmed (reason) and
    /// is cancelled.
    pub fn statement(&self) -> String {
        let when = self.when();
        let reason = self.reason.trim();
        match self.lang {
            Lang::Zh => {
                let subject =
                    if when.is_empty() { "您的挂号".to_string() } else { format!("您在 {when} 的挂号") };
                let why = if reason.is_empty() { String::new() } else { format!("（{reason}）") };
                format!("{subject}未能被挂号平台确认{why}，本次挂号已取消。")
            }
            Lang::En => {
                let subject =
                    if when.is_empty() { "Your booking".to_string() } else { format!("Your booking for {when}") };
                let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                format!("{subject} could not be confirmed by the booking platform{why} and has been cancelled.")
            }
        }
    }

    /// The notice as one paragraph of plain text (for the screen): greeting, what happened,
    /// what to do next and the apology. The printed notice is made of the same sentences.
    pub fn text(&self) -> String {
        let l = notice_labels(self.lang);
        let parts = [self.greeting(), self.statement(), self.next_steps.trim().to_string(), l.apology.to_string()];
        let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        match self.lang {
            Lang::Zh => parts.concat(),
            Lang::En => parts.join(" "),
        }
    }

    /// The print job's name: `notice-<reference>` in letters, digits and dashes.
    pub(crate) fn job_name(&self) -> String {
        let safe: String = self
            .reference
            .trim()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        if safe.is_empty() { "notice".to_string() } else { format!("notice-{safe}") }
    }

    /// The label/value rows of the booking that was given up, empty values left out.
    pub(crate) fn rows(&self) -> Vec<(&'static str, String)> {
        let l = notice_labels(self.lang);
        [
            (l.patient, self.masked_name()),
            (l.date, self.date.trim().to_string()),
            (l.time, self.time_window.trim().to_string()),
            (l.department, self.department_name.trim().to_string()),
            (l.provider, self.provider_line()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

/// Renders a notice as a one-page PDF as wide as the paper and as tall as its content, with
/// the ticket's layout: site and title, the booking's details, a black "cancelled" band, the
/// sentences wrapped to the printable width, the reference and printing time.
pub fn render_notice_pdf(n: &NoticeData, width: PaperWidth) -> Result<Vec<u8>, PrintError> {
    let (canvas, height) = draw_notice(n, width)?;
    let title = format!("{} {}", n.title.trim(), n.reference.trim()).trim().to_string();
    write_pdf(&title, vec![PageSpec { width: width.paper_mm(), height, canvas }])
}

fn draw_notice(n: &NoticeData, width: PaperWidth) -> Result<(Canvas, f32), PrintError> {
    let g = Geometry::of(width);
    let l = notice_labels(n.lang);
    let mut c = Canvas::new()?;
    let left = g.margin;
    let cw = g.content();
    let mid = g.paper / 2.0;
    let body = g.label + 1.0;
    let mut y = 4.0;

    // Site and the notice's heading.
    let (size, lines) = c.fit(&n.site_name, g.site, MIN_TEXT, cw, 2);
    y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Bold, &lines);
    y += 0.5;
    let (size, lines) = c.fit(&n.title, g.value + 1.0, MIN_TEXT, cw, 2);
    y = c.lines(mid, y, size, LEADING, Align::Center, Ink::Bold, &lines);
    y += 1.5;
    c.dashed_rule(left, y, cw);
    y += 2.0;

    // The booking that was given up.
    let rows = n.rows();
    let label_col = rows.iter().map(|(label, _)| c.text_width(label, g.label)).fold(0.0_f32, f32::max) + 2.5;
    for (label, value) in &rows {
        y = label_row(&mut c, left, y, label_col, cw, g.label, g.value, label, value, 2);
        y += 0.6;
    }
    y += 1.0;

    // White on black: the one thing to see at a glance.
    let (size, lines) = c.fit(l.cancelled, g.value + 1.0, MIN_TEXT, cw - 4.0, 2);
    let band = lines.len() as f32 * size * LEADING * PT_MM + 2.0;
    c.rect(left, y, cw, band, 0.0);
    c.lines(mid, y + 1.0, size, LEADING, Align::Center, Ink::Reverse, &lines);
    y += band + 2.0;

    // What happened and why.
    y = paragraph(&mut c, left, y, cw, body, Ink::Bold, &n.greeting());
    y = paragraph(&mut c, left, y, cw, body, Ink::Regular, &n.statement());
    y += 1.5;
    if !n.reason.trim().is_empty() {
        let reason_col = c.text_width(l.reason, g.label) + 2.5;
        y = label_row(&mut c, left, y, reason_col, cw, g.label, body, l.reason, n.reason.trim(), 3);
        y += 0.6;
    }
    y = paragraph(&mut c, left, y, cw, g.label, Ink::Regular, &n.explanation);
    y += 1.5;
    c.dashed_rule(left, y, cw);
    y += 2.0;

    // What to do now.
    y = paragraph(&mut c, left, y, cw, body, Ink::Bold, l.next);
    y = paragraph(&mut c, left, y, cw, body, Ink::Regular, &n.next_steps);
    y += 1.0;
    y = paragraph(&mut c, left, y, cw, body, Ink::Regular, l.apology);
    y += 1.5;
    c.dashed_rule(left, y, cw);
    y += 2.0;

    // Reference and printing time.
    let small: Vec<(&str, &str)> = [(l.reference, n.reference.trim()), (l.printed, n.printed_at.trim())]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let small_col = small.iter().map(|(label, _)| c.text_width(label, g.small)).fold(0.0_f32, f32::max) + 2.0;
    for (label, value) in small {
        y = label_row(&mut c, left, y, small_col, cw, g.small, g.small, label, value, 2);
    }
    y += 5.0;
    Ok((c, y))
}

/// Left-aligned text wrapped to `width` (as many lines as it needs: nothing is cut); returns
/// the y below it. Empty text takes no room.
fn paragraph(c: &mut Canvas, left: f32, top: f32, width: f32, size: f32, ink: Ink, text: &str) -> f32 {
    let text = text.trim();
    if text.is_empty() {
        return top;
    }
    let lines = c.wrap(text, size, width);
    c.lines(left, top, size, LEADING, Align::Left, ink, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::sample_notice;

    #[test]
    fn text_is_the_same_sentences_with_the_name_masked() {
        let n = sample_notice(Lang::Zh);
        let text = n.text();
        assert!(text.starts_with("张*丰 您好："), "{text}");
        assert!(text.contains(&n.statement()) && text.contains(&n.next_steps), "{text}");
        assert!(text.contains("2025-03-14 08:30–09:00") && text.contains("号源已满"), "{text}");
        assert!(!text.contains("张三丰"));
        let en = sample_notice(Lang::En).text();
        assert!(en.starts_with("Dear 张*丰: Your booking for 2025-03-14 08:30–09:00"), "{en}");
        assert!(en.ends_with("We apologise for the inconvenience."), "{en}");
    }

    #[test]
    fn unknown_parts_are_left_out() {
        let mut n = sample_notice(Lang::En);
        n.patient_name.clear();
        n.date.clear();
        n.time_window.clear();
        n.reason.clear();
        n.department_name.clear();
        n.provider_name.clear();
        n.provider_title.clear();
        assert_eq!(
            n.text(),
            format!(
                "Dear patient: Your booking could not be confirmed by the booking platform and has been cancelled. {} \
                 We apologise for the inconvenience.",
                NoticeData::default_next_steps(Lang::En)
            )
        );
        assert!(n.rows().is_empty());
        n.reference = "12 / b".into();
        assert_eq!(n.job_name(), "notice-12___b");
    }
}
