//! The daily slot sheet (号源表): every department, provider, session and slot of one day on
//! A4 portrait, with who holds which number, free numbers and totals.
//!
//! Pagination keeps a slot's block (its header, every booking row and its free numbers) on
//! one page; department/provider/session headings are never left alone at the foot of a
//! page, and a page that continues a session says so at its top.

use frontdesk_domain::Lang;
use frontdesk_domain::names::mask_name;
use serde::{Deserialize, Serialize};

use crate::PrintError;
use crate::pdf::{Align, Canvas, Ink, PageSpec, write_pdf};
pub use frontdesk_domain::booking::BookingStatus;
pub use frontdesk_domain::schedule::{Channel, Period};

/// One day's sheet for a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetData {
    /// Clinic or campus name.
    pub site_name: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Who printed the sheet (staff name).
    pub printed_by: String,
    /// When, as it should read.
    pub printed_at: String,
    /// Language of the labels.
    pub lang: Lang,
    /// Departments in print order.
    pub departments: Vec<SheetDepartment>,
}

/// A department and its providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetDepartment {
    /// Department name.
    pub name: String,
    /// Department code, printed after the name when present.
    #[serde(default)]
    pub code: Option<String>,
    /// Providers in print order.
    pub providers: Vec<SheetProvider>,
}

/// A provider's sessions of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetProvider {
    /// Doctor's name.
    pub name: String,
    /// Title, e.g. 主任医师 (may be empty).
    #[serde(default)]
    pub title: String,
    /// Sessions in print order.
    pub sessions: Vec<SheetSession>,
}

/// A provider's half-day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetSession {
    /// Morning, afternoon or evening.
    pub period: Period,
    /// Suspended (停诊): printed prominently.
    #[serde(default)]
    pub suspended: bool,
    /// Slots in time order.
    pub slots: Vec<SheetSlot>,
}

/// One bookable time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetSlot {
    /// e.g. `08:30–09:00`.
    pub time_window: String,
    /// How many bookings the slot takes.
    pub capacity: u32,
    /// Bookings holding a number in this slot (cancelled ones may be listed; they do not count).
    pub bookings: Vec<SheetBooking>,
    /// Queue numbers of the slot still free.
    #[serde(default)]
    pub free_numbers: Vec<u32>,
}

/// A booking row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetBooking {
    /// Queue number.
    pub queue_number: u32,
    /// The patient's full name; printed masked.
    pub patient_name: String,
    /// How it was booked.
    pub channel: Channel,
    /// Where the booking stands.
    pub status: BookingStatus,
    /// `false` for a desk booking the platform has not confirmed yet.
    #[serde(default = "yes")]
    pub confirmed: bool,
}

fn yes() -> bool {
    true
}

/// Capacity, active bookings and free places of a slot or of everything under a heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of slot capacities.
    pub capacity: u32,
    /// Active (not cancelled) bookings.
    pub booked: u32,
    /// Places left: capacity minus active bookings, per slot, never negative.
    pub free: u32,
}

impl std::ops::Add for Totals {
    type Output = Totals;
    fn add(self, o: Totals) -> Totals {
        Totals { capacity: self.capacity + o.capacity, booked: self.booked + o.booked, free: self.free + o.free }
    }
}

impl std::iter::Sum for Totals {
    fn sum<I: Iterator<Item = Totals>>(iter: I) -> Totals {
        iter.fold(Totals::default(), |a, b| a + b)
    }
}

impl Totals {
    fn text(self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!("容量 {} · 已约 {} · 空余 {}", self.capacity, self.booked, self.free),
            Lang::En => format!("Capacity {} · Booked {} · Free {}", self.capacity, self.booked, self.free),
        }
    }
}

impl SheetSlot {
    /// This slot's totals.
    pub fn totals(&self) -> Totals {
        let booked = self.bookings.iter().filter(|b| b.status.holds_number()).count() as u32;
        Totals { capacity: self.capacity, booked, free: self.capacity.saturating_sub(booked) }
    }
}

impl SheetSession {
    /// Totals over the session's slots.
    pub fn totals(&self) -> Totals {
        self.slots.iter().map(SheetSlot::totals).sum()
    }
}

impl SheetProvider {
    /// Totals over the provider's sessions.
    pub fn totals(&self) -> Totals {
        self.sessions.iter().map(SheetSession::totals).sum()
    }
}

impl SheetDepartment {
    /// Totals over the department's providers.
    pub fn totals(&self) -> Totals {
        self.providers.iter().map(SheetProvider::totals).sum()
    }

    fn heading(&self, lang: Lang) -> String {
        match self.code.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => match lang {
                Lang::Zh => format!("{}（{code}）", self.name.trim()),
                Lang::En => format!("{} ({code})", self.name.trim()),
            },
            _ => self.name.trim().to_string(),
        }
    }
}

impl SheetProvider {
    fn heading(&self) -> String {
        let title = self.title.trim();
        if title.is_empty() { self.name.trim().to_string() } else { format!("{}  {}", self.name.trim(), title) }
    }
}

impl SheetData {
    /// Totals of the whole day.
    pub fn totals(&self) -> Totals {
        self.departments.iter().map(SheetDepartment::totals).sum()
    }
}

struct Labels {
    title: &'static str,
    printed_by: &'static str,
    printed_at: &'static str,
    col_no: &'static str,
    col_patient: &'static str,
    col_channel: &'static str,
    col_status: &'static str,
    col_note: &'static str,
    col_arrived: &'static str,
    continued: &'static str,
    suspended: &'static str,
    no_bookings: &'static str,
    no_slots: &'static str,
    free_numbers: &'static str,
    unconfirmed: &'static str,
    day_total: &'static str,
    summary: &'static str,
    department: &'static str,
}

fn labels(lang: Lang) -> Labels {
    Labels {
        title: lang.pick("号源表", "Daily Slot Sheet"),
        printed_by: lang.pick("打印人", "Printed by"),
        printed_at: lang.pick("打印时间", "Printed at"),
        col_no: lang.pick("序号", "No."),
        col_patient: lang.pick("患者", "Patient"),
        col_channel: lang.pick("渠道", "Channel"),
        col_status: lang.pick("状态", "Status"),
        col_note: lang.pick("备注", "Note"),
        col_arrived: lang.pick("到诊", "Arrived"),
        continued: lang.pick("（续）", " (continued)"),
        suspended: lang.pick("停诊", "SUSPENDED"),
        no_bookings: lang.pick("暂无预约", "No bookings"),
        no_slots: lang.pick("无号源", "No slots"),
        free_numbers: lang.pick("空余号：", "Free numbers: "),
        unconfirmed: lang.pick("待平台确认", "Not yet confirmed"),
        day_total: lang.pick("全天合计", "Day total"),
        summary: lang.pick("科室汇总", "Summary by department"),
        department: lang.pick("科室", "Department"),
    }
}

fn page_label(lang: Lang, page: usize, pages: usize) -> String {
    match lang {
        Lang::Zh => format!("第 {page} 页 / 共 {pages} 页"),
        Lang::En => format!("Page {page} of {pages}"),
    }
}

// Page geometry, in mm.
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const X0: f32 = 14.0;
const CW: f32 = PAGE_W - 2.0 * X0;
const X1: f32 = X0 + CW;
const BODY_TOP: f32 = 36.0;
const BODY_BOTTOM: f32 = 281.0;

// Block heights, in mm.
const DEPT_H: f32 = 9.0;
const PROV_H: f32 = 7.5;
const SESSION_H: f32 = 6.0;
const SLOT_HEAD_H: f32 = 5.4;
const ROW_H: f32 = 4.6;
const FREE_LINE_H: f32 = 4.2;
const SLOT_GAP: f32 = 1.6;
const CONT_H: f32 = 5.5;

// Row columns.
const COL_NO_RIGHT: f32 = X0 + 17.0;
const COL_PATIENT: f32 = X0 + 23.0;
const COL_CHANNEL: f32 = X0 + 62.0;
const COL_STATUS: f32 = X0 + 90.0;
const COL_NOTE: f32 = X0 + 118.0;
const COL_BOX: f32 = X0 + 168.0;
const ROW_SIZE: f32 = 9.5;

/// Renders the day's sheet as A4 portrait pages.
pub fn render_sheet_pdf(s: &SheetData) -> Result<Vec<u8>, PrintError> {
    let pages = layout(s)?;
    let n = pages.len();
    let specs = pages
        .into_iter()
        .enumerate()
        .map(|(i, mut canvas)| {
            page_frame(&mut canvas, s, i + 1, n);
            PageSpec { width: PAGE_W, height: PAGE_H, canvas }
        })
        .collect();
    let title = format!("{} {} {}", s.site_name, labels(s.lang).title, s.date);
    write_pdf(&title, specs)
}

struct Pager<'a> {
    s: &'a SheetData,
    l: Labels,
    pages: Vec<Canvas>,
    y: f32,
}

impl Pager<'_> {
    fn canvas(&mut self) -> Result<&mut Canvas, PrintError> {
        if self.pages.is_empty() {
            self.pages.push(Canvas::new()?);
        }
        let last = self.pages.len() - 1;
        Ok(&mut self.pages[last])
    }

    fn new_page(&mut self) -> Result<(), PrintError> {
        self.pages.push(Canvas::new()?);
        self.y = BODY_TOP;
        Ok(())
    }

    /// Makes room for `h` mm, starting a new page if needed (unless this page is still empty,
    /// where nothing is gained by moving on). Returns whether a new page was started.
    fn room(&mut self, h: f32) -> Result<bool, PrintError> {
        if self.y + h > BODY_BOTTOM && self.y > BODY_TOP + 0.01 {
            self.new_page()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The grey line at the top of a page that continues a department/provider/session.
    fn continuation(&mut self, parts: &[String]) -> Result<(), PrintError> {
        if parts.is_empty() {
            return Ok(());
        }
        let text = format!("{}{}", parts.join(" · "), self.l.continued);
        let y = self.y;
        let c = self.canvas()?;
        let (size, lines) = c.fit(&text, 8.5, 6.5, CW, 1);
        c.lines(X0, y, size, 1.3, Align::Left, Ink::Regular, &lines[..1.min(lines.len())]);
        self.y += CONT_H;
        Ok(())
    }

    fn dept_head(&mut self, d: &SheetDepartment) -> Result<(), PrintError> {
        let lang = self.s.lang;
        let y = self.y;
        let totals = d.totals().text(lang);
        let c = self.canvas()?;
        c.rect(X0, y, CW, 7.2, 0.82);
        let tw = c.text_width(&totals, 9.0);
        c.text(X1 - 2.0, y + 4.9, 9.0, Align::Right, Ink::Bold, &totals);
        let (size, lines) = c.fit(&d.heading(lang), 12.0, 7.0, CW - tw - 8.0, 1);
        c.text(X0 + 2.0, y + 5.1, size, Align::Left, Ink::Bold, &lines.join(""));
        self.y += DEPT_H;
        Ok(())
    }

    fn provider_head(&mut self, p: &SheetProvider) -> Result<(), PrintError> {
        let lang = self.s.lang;
        let y = self.y;
        let totals = p.totals().text(lang);
        let c = self.canvas()?;
        let tw = c.text_width(&totals, 8.5);
        c.text(X1 - 1.0, y + 4.6, 8.5, Align::Right, Ink::Regular, &totals);
        let (size, lines) = c.fit(&p.heading(), 11.0, 7.0, CW - tw - 8.0, 1);
        c.text(X0 + 1.0, y + 4.8, size, Align::Left, Ink::Bold, &lines.join(""));
        c.hrule(X0, y + 6.3, CW, 0.3);
        self.y += PROV_H;
        Ok(())
    }

    fn session_head(&mut self, sess: &SheetSession) -> Result<(), PrintError> {
        let lang = self.s.lang;
        let y = self.y;
        let label = sess.period.label(lang);
        let totals = sess.totals().text(lang);
        let suspended = self.l.suspended;
        let c = self.canvas()?;
        c.text(X0 + 3.0, y + 4.2, 10.0, Align::Left, Ink::Bold, label);
        if sess.suspended {
            let x = X0 + 5.0 + c.text_width(label, 10.0);
            let w = c.text_width(suspended, 9.0) + 3.0;
            c.rect(x, y + 0.6, w, 4.8, 0.0);
            c.text(x + 1.5, y + 4.1, 9.0, Align::Left, Ink::Reverse, suspended);
        }
        c.text(X1 - 1.0, y + 4.2, 8.0, Align::Right, Ink::Regular, &totals);
        self.y += SESSION_H;
        Ok(())
    }

    fn slot_head(&mut self, slot: &SheetSlot, continued: bool) -> Result<(), PrintError> {
        let lang = self.s.lang;
        let y = self.y;
        let mut time = slot.time_window.clone();
        if continued {
            time.push_str(self.l.continued);
        }
        let totals = slot.totals().text(lang);
        let inline = if continued { None } else { self.free_inline(slot)? };
        let c = self.canvas()?;
        c.rect(X0 + 3.0, y, CW - 3.0, 4.8, 0.9);
        c.text(X0 + 5.0, y + 3.5, 9.5, Align::Left, Ink::Bold, &time);
        if let Some((x, free)) = inline {
            c.text(x, y + 3.4, 8.5, Align::Left, Ink::Regular, &free);
        }
        c.text(X1 - 1.5, y + 3.4, 8.5, Align::Right, Ink::Regular, &totals);
        self.y += SLOT_HEAD_H;
        Ok(())
    }

    fn booking_row(&mut self, b: &SheetBooking) -> Result<(), PrintError> {
        let lang = self.s.lang;
        let unconfirmed = self.l.unconfirmed;
        let y = self.y;
        let base = y + 3.4;
        let c = self.canvas()?;
        c.text(COL_NO_RIGHT, base, ROW_SIZE, Align::Right, Ink::Bold, &b.queue_number.to_string());
        let name = mask_name(&b.patient_name);
        let (size, _) = c.fit(&name, ROW_SIZE, 6.0, COL_CHANNEL - COL_PATIENT - 2.0, 1);
        c.text(COL_PATIENT, base, size, Align::Left, Ink::Regular, &name);
        c.text(COL_CHANNEL, base, 8.5, Align::Left, Ink::Regular, b.channel.label(lang));
        c.text(COL_STATUS, base, 8.5, Align::Left, Ink::Regular, b.status.label(lang));
        if b.status == BookingStatus::Cancelled {
            // Struck through: the row stays readable but clearly does not count.
            let w = c.text_width(&name, size);
            c.hrule(COL_PATIENT - 0.5, base - 1.1, w + 1.0, 0.25);
        }
        if !b.confirmed {
            c.text(COL_NOTE, base, 8.5, Align::Left, Ink::Bold, unconfirmed);
        }
        if b.status.holds_number() {
            c.frame(COL_BOX + 2.0, y + 0.8, 3.2, 3.2, 0.2);
        }
        c.rect(X0 + 3.0, y + ROW_H - 0.1, CW - 3.0, 0.1, 0.7);
        self.y += ROW_H;
        Ok(())
    }

    fn text_row(&mut self, text: &str) -> Result<(), PrintError> {
        let y = self.y;
        let c = self.canvas()?;
        c.text(COL_PATIENT, y + 3.4, 8.5, Align::Left, Ink::Regular, text);
        self.y += ROW_H;
        Ok(())
    }

    fn free_text(&self, slot: &SheetSlot) -> Option<String> {
        if slot.free_numbers.is_empty() {
            return None;
        }
        let sep = self.s.lang.pick("、", ", ");
        let list: Vec<String> = slot.free_numbers.iter().map(u32::to_string).collect();
        Some(format!("{}{}", self.l.free_numbers, list.join(sep)))
    }

    /// The free numbers when they fit in the slot header between the time and the totals
    /// (the usual case), which saves a line per slot.
    fn free_inline(&self, slot: &SheetSlot) -> Result<Option<(f32, String)>, PrintError> {
        let Some(text) = self.free_text(slot) else {
            return Ok(None);
        };
        let c = Canvas::new()?;
        let x = COL_PATIENT.max(X0 + 5.0 + c.text_width(&slot.time_window, 9.5) + 5.0);
        let totals_w = c.text_width(&slot.totals().text(self.s.lang), 8.5);
        let room = (X1 - 1.5 - totals_w - 5.0) - x;
        Ok((c.text_width(&text, 8.5) <= room).then_some((x, text)))
    }

    /// Free numbers on lines of their own, when they do not fit in the slot header.
    fn free_lines(&self, slot: &SheetSlot) -> Result<Vec<String>, PrintError> {
        match self.free_text(slot) {
            Some(text) if self.free_inline(slot)?.is_none() => Ok(Canvas::new()?.wrap(&text, 8.5, X1 - COL_PATIENT)),
            _ => Ok(Vec::new()),
        }
    }

    fn slot_height(&self, slot: &SheetSlot) -> Result<f32, PrintError> {
        let rows = slot.bookings.len().max(usize::from(slot.free_numbers.is_empty()));
        Ok(SLOT_HEAD_H + rows as f32 * ROW_H + self.free_lines(slot)?.len() as f32 * FREE_LINE_H + SLOT_GAP)
    }
}

fn layout(s: &SheetData) -> Result<Vec<Canvas>, PrintError> {
    let mut p = Pager { s, l: labels(s.lang), pages: vec![Canvas::new()?], y: BODY_TOP };
    for d in &s.departments {
        let mut dept_pending = true;
        if d.providers.is_empty() {
            p.room(DEPT_H + ROW_H)?;
            p.dept_head(d)?;
            let text = p.l.no_slots;
            p.text_row(text)?;
            continue;
        }
        for prov in &d.providers {
            let mut prov_pending = true;
            let sessions_or_none: Vec<Option<&SheetSession>> =
                if prov.sessions.is_empty() { vec![None] } else { prov.sessions.iter().map(Some).collect() };
            for sess in sessions_or_none {
                let mut sess_pending = sess.is_some();
                let slots: Vec<Option<&SheetSlot>> = match sess {
                    Some(se) if !se.slots.is_empty() => se.slots.iter().map(Some).collect(),
                    _ => vec![None],
                };
                for slot in slots {
                    let block = match slot {
                        Some(sl) => p.slot_height(sl)?,
                        None => ROW_H + SLOT_GAP,
                    };
                    let heads = f32::from(u8::from(dept_pending)) * DEPT_H
                        + f32::from(u8::from(prov_pending)) * PROV_H
                        + f32::from(u8::from(sess_pending)) * SESSION_H;
                    if p.room(heads + block.min(BODY_BOTTOM - BODY_TOP - heads - CONT_H))? {
                        let mut ctx = Vec::new();
                        if !dept_pending {
                            ctx.push(d.heading(s.lang));
                        }
                        if !prov_pending {
                            ctx.push(prov.heading());
                        }
                        if let (Some(se), false) = (sess, sess_pending) {
                            ctx.push(se.period.label(s.lang).to_string());
                        }
                        p.continuation(&ctx)?;
                    }
                    if dept_pending {
                        p.dept_head(d)?;
                        dept_pending = false;
                    }
                    if prov_pending {
                        p.provider_head(prov)?;
                        prov_pending = false;
                    }
                    if let (Some(se), true) = (sess, sess_pending) {
                        p.session_head(se)?;
                        sess_pending = false;
                    }
                    match slot {
                        Some(sl) => draw_slot(&mut p, d, prov, sess, sl)?,
                        None => {
                            let text = p.l.no_slots;
                            p.text_row(text)?;
                            p.y += SLOT_GAP;
                        }
                    }
                }
            }
            p.y += 1.5;
        }
        p.y += 2.0;
    }
    summary(&mut p)?;
    Ok(p.pages)
}

/// Draws one slot block. It fits on the page unless it is taller than a whole page; then the
/// rows go on over as many pages as needed, each starting with the slot header marked
/// "continued".
fn draw_slot(
    p: &mut Pager<'_>,
    d: &SheetDepartment,
    prov: &SheetProvider,
    sess: Option<&SheetSession>,
    slot: &SheetSlot,
) -> Result<(), PrintError> {
    p.slot_head(slot, false)?;
    let break_page = |p: &mut Pager<'_>| -> Result<(), PrintError> {
        p.new_page()?;
        let mut ctx = vec![d.heading(p.s.lang), prov.heading()];
        if let Some(se) = sess {
            ctx.push(se.period.label(p.s.lang).to_string());
        }
        p.continuation(&ctx)?;
        p.slot_head(slot, true)
    };
    for b in &slot.bookings {
        if p.y + ROW_H > BODY_BOTTOM {
            break_page(p)?;
        }
        p.booking_row(b)?;
    }
    if slot.bookings.is_empty() && slot.free_numbers.is_empty() {
        let text = p.l.no_bookings;
        p.text_row(text)?;
    }
    for line in p.free_lines(slot)? {
        if p.y + FREE_LINE_H > BODY_BOTTOM {
            break_page(p)?;
        }
        let y = p.y;
        let c = p.canvas()?;
        c.lines(COL_PATIENT, y + 0.2, 8.5, 1.3, Align::Left, Ink::Regular, &[line]);
        p.y += FREE_LINE_H;
    }
    p.y += SLOT_GAP;
    Ok(())
}

/// Day totals and a per-department summary, kept together.
fn summary(p: &mut Pager<'_>) -> Result<(), PrintError> {
    let s = p.s;
    let lang = s.lang;
    let row = 5.2;
    let h = 10.0 + 6.0 + (s.departments.len() as f32 + 1.0) * row;
    p.y += 2.0;
    if p.y + h > BODY_BOTTOM {
        p.new_page()?;
    }
    let y0 = p.y;
    let day = s.totals();
    let (summary, department, day_total) = (p.l.summary, p.l.department, p.l.day_total);
    let (cap, booked, free) = (lang.pick("容量", "Capacity"), lang.pick("已约", "Booked"), lang.pick("空余", "Free"));
    let c = p.canvas()?;
    c.hrule(X0, y0, CW, 0.4);
    c.text(X0, y0 + 6.5, 11.0, Align::Left, Ink::Bold, &format!("{day_total}  {}", day.text(lang)));
    let mut y = y0 + 10.0;
    c.text(X0, y + 4.0, 9.5, Align::Left, Ink::Bold, summary);
    y += 6.0;
    let cols = [X0 + 110.0, X0 + 140.0, X0 + 170.0];
    let head = [cap, booked, free];
    c.text(X0 + 2.0, y + 3.6, 8.5, Align::Left, Ink::Bold, department);
    for (x, t) in cols.iter().zip(head) {
        c.text(*x, y + 3.6, 8.5, Align::Right, Ink::Bold, t);
    }
    c.hrule(X0, y + row - 0.3, CW, 0.2);
    y += row;
    for d in &s.departments {
        let t = d.totals();
        let (size, _) = c.fit(&d.heading(lang), 9.0, 6.5, 100.0, 1);
        c.text(X0 + 2.0, y + 3.6, size, Align::Left, Ink::Regular, &d.heading(lang));
        for (x, v) in cols.iter().zip([t.capacity, t.booked, t.free]) {
            c.text(*x, y + 3.6, 9.0, Align::Right, Ink::Regular, &v.to_string());
        }
        y += row;
    }
    p.y = y;
    Ok(())
}

/// Header, column titles and footer of page `page` of `pages`.
fn page_frame(c: &mut Canvas, s: &SheetData, page: usize, pages: usize) {
    let l = labels(s.lang);
    // Header: site and date large, what this is and who printed it below.
    let date_w = c.text_width(&s.date, 14.0);
    let (size, lines) = c.fit(&s.site_name, 14.0, 8.0, CW - date_w - 10.0, 1);
    c.text(X0, 17.0, size, Align::Left, Ink::Bold, &lines.join(""));
    c.text(X1, 17.0, 14.0, Align::Right, Ink::Bold, &s.date);
    let day = format!("{}  ·  {}", l.title, s.totals().text(s.lang));
    c.text(X0, 23.5, 9.0, Align::Left, Ink::Regular, &day);
    let by = format!("{} {}   {} {}", l.printed_by, s.printed_by, l.printed_at, s.printed_at);
    c.text(X1, 23.5, 8.0, Align::Right, Ink::Regular, &by);
    c.hrule(X0, 26.0, CW, 0.5);
    // Column titles.
    let y = 30.5;
    let size = 8.0;
    c.text(COL_NO_RIGHT, y, size, Align::Right, Ink::Bold, l.col_no);
    c.text(COL_PATIENT, y, size, Align::Left, Ink::Bold, l.col_patient);
    c.text(COL_CHANNEL, y, size, Align::Left, Ink::Bold, l.col_channel);
    c.text(COL_STATUS, y, size, Align::Left, Ink::Bold, l.col_status);
    c.text(COL_NOTE, y, size, Align::Left, Ink::Bold, l.col_note);
    c.text(COL_BOX + 3.6, y, size, Align::Center, Ink::Bold, l.col_arrived);
    c.hrule(X0, 32.5, CW, 0.2);
    // Footer.
    c.hrule(X0, 285.0, CW, 0.2);
    let left = format!("{} · {}", s.site_name, s.date);
    let (fs, fl) = c.fit(&left, 7.5, 6.0, CW / 2.0 - 22.0, 1);
    c.text(X0, 289.5, fs, Align::Left, Ink::Regular, &fl.join(""));
    c.text(PAGE_W / 2.0, 289.5, 8.5, Align::Center, Ink::Regular, &page_label(s.lang, page, pages));
}
