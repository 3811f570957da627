//! Printing from the desk: tickets, slot sheets and conflict notices, to the printer chosen in
//! the settings, with every print (and reprint, and failure) logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use frontdesk_domain::Lang;
use frontdesk_domain::booking::BookingStatus;
use frontdesk_domain::patient::FieldError;
use frontdesk_domain::schedule::{BookingId, SessionStatus};
use frontdesk_print::{
    NoticeData, PaperWidth, PrintError, PrinterTarget, SheetBooking, SheetData, SheetDepartment, SheetProvider,
    SheetSession, SheetSlot, TicketData,
};
use jiff::civil::Date;
use rusqlite::params;
use serde::Serialize;

use crate::engine::{SlotFilter, load_slot_states, meta, set_meta};
use crate::leases::lease_device;
use crate::sync::ConflictEntry;
use crate::sync::replica::explain_reason;
use crate::{Desk, DeskError};

/// Where documents go, as chosen in the settings.
///
/// Written as text: `cups` (the default CUPS/macOS printer), `cups:QUEUE`, `cups:QUEUE@HOST`,
/// `windows:NAME`, `escpos:HOST:PORT` (a thermal printer on the network),
/// `escpos-device:/dev/usb/lp0`, or `pdf-dir:/path` (save each document as a PDF file there,
/// for clinics without a printer driver and for tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Printer {
    /// An OS printer or a thermal printer.
    Device(PrinterTarget),
    /// A folder that receives each document as a PDF file.
    PdfDir(PathBuf),
}

impl Printer {
    /// Parses the settings text.
    pub fn parse(spec: &str) -> Result<Printer, DeskError> {
        let bad = |why: &str| {
            DeskError::Invalid(vec![FieldError {
                field: "printer".into(),
                code: "printer_spec_invalid".into(),
                message: format!(
                    "打印机设置无效（{why}）/ Invalid printer setting ({why}): cups, cups:QUEUE, cups:QUEUE@HOST, \
                     windows:NAME, escpos:HOST:PORT, escpos-device:PATH, pdf-dir:PATH"
                ),
            }])
        };
        let spec = spec.trim();
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        Ok(match kind {
            "cups" => {
                let (queue, server) = match rest.split_once('@') {
                    Some((q, s)) => (q, Some(s.to_string())),
                    None => (rest, None),
                };
                let queue = (!queue.is_empty()).then(|| queue.to_string());
                Printer::Device(PrinterTarget::Cups { queue, server })
            }
            "windows" if !rest.is_empty() => Printer::Device(PrinterTarget::WindowsSpooler { name: rest.to_string() }),
            "escpos" => {
                let addr: SocketAddr = rest.parse().map_err(|_| bad("地址应为 HOST:PORT / not HOST:PORT"))?;
                Printer::Device(PrinterTarget::EscPosTcp { addr })
            }
            "escpos-device" if !rest.is_empty() => Printer::Device(PrinterTarget::EscPosDevice { path: rest.into() }),
            "pdf-dir" if !rest.is_empty() => Printer::PdfDir(rest.into()),
            _ => return Err(bad("未知打印机类型 / unknown printer")),
        })
    }

    fn describe(&self) -> String {
        match self {
            Printer::Device(t) => t.describe(),
            Printer::PdfDir(d) => format!("pdf-dir:{}", d.display()),
        }
    }
}

/// The print settings of this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintSettings {
    /// The printer, as settings text (`None`: the OS default printer).
    pub printer: Option<String>,
    /// Ticket roll width in millimetres: 80 or 58.
    pub ticket_width_mm: u8,
}

impl PrintSettings {
    /// The roll width as the print crate knows it.
    pub fn paper(&self) -> PaperWidth {
        if self.ticket_width_mm == 58 { PaperWidth::Mm58 } else { PaperWidth::Mm80 }
    }
}

/// What a print did.
#[derive(Debug, Clone, Serialize)]
pub struct Printed {
    /// Where it went.
    pub printer: String,
    /// True when this document had been printed before.
    pub reprint: bool,
    /// The file written, for a `pdf-dir` printer.
    pub file: Option<PathBuf>,
}

fn print_failed(e: PrintError, lang: Lang) -> DeskError {
    DeskError::Print { code: e.code(), message: e.message(lang) }
}

/// A notice that did not print: the print's own code, and a message that says the conflict
/// stays resolved (the notice can be printed again).
fn notice_not_printed(e: DeskError, conflict: i64, lang: Lang) -> DeskError {
    let code = match &e {
        DeskError::Print { code, .. } => code,
        _ => "print_failed",
    };
    let detail = e.message(lang);
    let message = match lang {
        Lang::Zh => format!("冲突 #{conflict} 已处理（挂号已取消），但给患者的通知未能打印，可稍后重新打印。{detail}"),
        Lang::En => format!(
            "Conflict #{conflict} is resolved (the booking was given up), but the notice for the patient was not \
             printed; it can be printed again. {detail}"
        ),
    };
    DeskError::Print { code, message }
}

impl Desk {
    /// The print settings.
    pub fn print_settings(&self) -> Result<PrintSettings, DeskError> {
        Ok(PrintSettings {
            printer: meta(self.conn(), "printer")?,
            ticket_width_mm: meta(self.conn(), "ticket_width_mm")?.and_then(|w| w.parse().ok()).unwrap_or(80),
        })
    }

    /// Changes the print settings (validated first; nothing changes on an error).
    pub fn set_print_settings(
        &mut self,
        printer: Option<&str>,
        ticket_width_mm: Option<u8>,
    ) -> Result<PrintSettings, DeskError> {
        self.authorize(crate::Action::ChangeSettings)?;
        if let Some(p) = printer {
            Printer::parse(p)?;
        }
        if let Some(w) = ticket_width_mm
            && w != 80
            && w != 58
        {
            return Err(DeskError::Invalid(vec![FieldError {
                field: "ticket_width".into(),
                code: "ticket_width_invalid".into(),
                message: "小票宽度只能是 80 或 58 毫米 / The ticket width must be 80 or 58 mm".into(),
            }]));
        }
        let tx = self.conn_mut().transaction()?;
        if let Some(p) = printer {
            set_meta(&tx, "printer", p.trim())?;
        }
        if let Some(w) = ticket_width_mm {
            set_meta(&tx, "ticket_width_mm", &w.to_string())?;
        }
        tx.commit()?;
        self.print_settings()
    }

    /// What goes on a booking's ticket. A booking this desk made from its own capacity lease
    /// is guaranteed and prints as confirmed (no "not yet confirmed" mark).
    pub fn ticket_data(&self, id: &BookingId, lang: Lang) -> Result<TicketData, DeskError> {
        let v = self.booking(id)?;
        let site = self.site()?;
        let now = self.now_local();
        Ok(TicketData {
            site_name: site.name,
            department_name: if lang == Lang::Zh { v.department_name.clone() } else { v.department_code.clone() },
            provider_name: v.provider_name.clone(),
            provider_title: v.provider_title.clone(),
            date: v.booking.date.to_string(),
            time_window: format!("{}–{}", v.start.strftime("%H:%M"), v.end.strftime("%H:%M")),
            queue_number: v.booking.queue_no,
            patient_name: v.patient_name.clone(),
            ticket_code: v.booking.ticket_code.to_string(),
            channel: v.booking.channel,
            printed_at: now.strftime("%Y-%m-%d %H:%M").to_string(),
            confirmed: v.guaranteed,
            lang,
        })
    }

    /// What goes on the slot sheet of a day (one department, or all).
    pub fn sheet_data(&self, date: Date, department: Option<&str>, lang: Lang) -> Result<SheetData, DeskError> {
        let site = self.site()?;
        let board = self.board(date)?;
        let bookings = self.bookings_on(date)?;
        let wanted = department.map(|d| d.trim().to_uppercase());
        if let Some(w) = &wanted
            && !self.departments()?.iter().any(|d| &d.code.to_uppercase() == w)
        {
            return Err(DeskError::NotFound { entity: "department", id: w.clone() });
        }
        // Numbers leased to other desks are not this desk's to hand out, not even on paper.
        let own = lease_device(self.conn())?;
        let mut leased_elsewhere: HashMap<String, Vec<u32>> = HashMap::new();
        for st in
            load_slot_states(self.conn(), &SlotFilter { from: Some(date), to: Some(date), ..SlotFilter::default() })?
        {
            let others = st.leased.iter().filter(|(_, d)| Some(d) != own.as_ref()).map(|(n, _)| *n);
            leased_elsewhere.entry(st.slot.id.to_string()).or_default().extend(others);
        }
        let departments = board
            .departments
            .into_iter()
            .filter(|d| wanted.as_ref().is_none_or(|w| &d.department.code.to_uppercase() == w))
            .map(|d| SheetDepartment {
                name: if lang == Lang::Zh { d.department.name.clone() } else { d.department.name_en.clone() },
                code: Some(d.department.code.clone()),
                providers: d
                    .providers
                    .into_iter()
                    .map(|p| SheetProvider {
                        name: p.provider.name.clone(),
                        title: p.provider.title.clone(),
                        sessions: p
                            .sessions
                            .into_iter()
                            .map(|s| SheetSession {
                                period: s.session.period,
                                suspended: s.session.status != SessionStatus::Open,
                                slots: s
                                    .slots
                                    .into_iter()
                                    .map(|slot| {
                                        let rows: Vec<SheetBooking> = bookings
                                            .iter()
                                            .filter(|b| b.booking.slot_id == slot.slot.id)
                                            .filter(|b| b.booking.status != BookingStatus::Cancelled)
                                            .map(|b| SheetBooking {
                                                queue_number: b.booking.queue_no,
                                                patient_name: b.patient_name.clone(),
                                                channel: b.booking.channel,
                                                status: b.booking.status,
                                                confirmed: b.guaranteed,
                                            })
                                            .collect();
                                        let mut held: Vec<u32> = rows.iter().map(|r| r.queue_number).collect();
                                        if let Some(others) = leased_elsewhere.get(slot.slot.id.as_str()) {
                                            held.extend(others);
                                        }
                                        let s = &slot.slot;
                                        SheetSlot {
                                            time_window: format!(
                                                "{}–{}",
                                                s.start.strftime("%H:%M"),
                                                s.end.strftime("%H:%M")
                                            ),
                                            capacity: s.capacity(),
                                            free_numbers: (s.first_queue_no..s.first_queue_no + s.capacity())
                                                .filter(|n| !held.contains(n))
                                                .collect(),
                                            bookings: rows,
                                        }
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        Ok(SheetData {
            site_name: site.name,
            date: date.to_string(),
            printed_by: self.device()?.staff_id.to_string(),
            printed_at: self.now_local().strftime("%Y-%m-%d %H:%M").to_string(),
            lang,
            departments,
        })
    }

    /// What goes on the notice for the patient of a booking conflict (open or resolved): the
    /// booking's date, time, department and doctor as far as the replica still knows them, the
    /// reason and its explanation. Resolving with [`crate::sync::Resolution::Cancel`] returns
    /// this notice's [`NoticeData::text`].
    pub fn notice_data(&self, conflict: i64, lang: Lang) -> Result<NoticeData, DeskError> {
        self.notice_for(&self.conflict(conflict, lang)?, lang)
    }

    pub(crate) fn notice_for(&self, entry: &ConflictEntry, lang: Lang) -> Result<NoticeData, DeskError> {
        let Some(slot_id) = &entry.slot_id else {
            return Err(DeskError::Invalid(vec![FieldError {
                field: "conflict".into(),
                code: "notice_not_applicable".into(),
                message: lang
                    .pick("只有挂号冲突才有给患者的通知", "Only a booking conflict has a notice for the patient")
                    .into(),
            }]));
        };
        let slot = load_slot_states(self.conn(), &SlotFilter { slot: Some(slot_id), ..SlotFilter::default() })?
            .into_iter()
            .next();
        let (mut date, mut time_window, mut department_name, mut provider_name, mut provider_title) =
            Default::default();
        if let Some(s) = &slot {
            date = s.session.date.to_string();
            time_window = format!("{}–{}", s.slot.start.strftime("%H:%M"), s.slot.end.strftime("%H:%M"));
            if let Some(d) = self.departments()?.into_iter().find(|d| d.id == s.session.department_id) {
                department_name = match lang {
                    Lang::En if !d.name_en.trim().is_empty() => d.name_en,
                    _ => d.name,
                };
            }
            if let Ok(p) = self.provider(&s.session.provider_id) {
                provider_name = p.name;
                provider_title = p.title;
            }
        }
        Ok(NoticeData {
            site_name: self.site()?.name,
            title: NoticeData::default_title(lang).to_string(),
            patient_name: entry.patient_name.clone().unwrap_or_default(),
            date,
            time_window,
            department_name,
            provider_name,
            provider_title,
            reason: entry.title.clone(),
            explanation: explain_reason(&entry.reason, &entry.errors, lang),
            next_steps: NoticeData::default_next_steps(lang).to_string(),
            reference: entry.id.to_string(),
            printed_at: self.now_local().strftime("%Y-%m-%d %H:%M").to_string(),
            lang,
        })
    }

    /// Renders the notice of a booking conflict to PDF bytes (for a preview).
    pub fn notice_pdf(&self, conflict: i64, width: PaperWidth, lang: Lang) -> Result<Vec<u8>, DeskError> {
        frontdesk_print::render_notice_pdf(&self.notice_data(conflict, lang)?, width).map_err(|e| print_failed(e, lang))
    }

    /// Prints the notice for the patient of a booking given up (a conflict resolved with
    /// [`crate::sync::Resolution::Cancel`]) on the configured printer (or `printer`), on the
    /// ticket roll's width; logged as document `notice` with the conflict's number. Printing
    /// never changes the resolution: a failure is a [`DeskError::Print`] with the printer's
    /// code and a message saying the conflict stays resolved, and the notice can be printed
    /// again.
    pub fn print_notice(&mut self, conflict: i64, printer: Option<&str>, lang: Lang) -> Result<Printed, DeskError> {
        self.authorize(crate::Action::PrintForPatient)?;
        let entry = self.conflict(conflict, lang)?;
        if entry.resolution.as_deref() != Some("cancelled") {
            return Err(DeskError::Invalid(vec![FieldError {
                field: "conflict".into(),
                code: "notice_not_available".into(),
                message: lang
                    .pick(
                        "只有已放弃（取消）的挂号冲突才有给患者的通知，请先用“取消并打印通知”处理",
                        "Only a booking that was given up (resolved by cancelling) has a notice for the patient",
                    )
                    .into(),
            }]));
        }
        let settings = self.print_settings()?;
        let target = Printer::parse(printer.or(settings.printer.as_deref()).unwrap_or("cups"))?;
        let data = self.notice_for(&entry, lang)?;
        let result = match &target {
            Printer::Device(t) => frontdesk_print::print_notice(t, &data, settings.paper())
                .map(|_| None)
                .map_err(|e| print_failed(e, lang)),
            Printer::PdfDir(dir) => frontdesk_print::render_notice_pdf(&data, settings.paper())
                .map_err(|e| print_failed(e, lang))
                .and_then(|pdf| write_pdf(dir, &format!("notice-{conflict}"), &pdf).map(Some)),
        }
        .map_err(|e| notice_not_printed(e, conflict, lang));
        self.log_print("notice", &conflict.to_string(), &target, result)
    }

    /// Renders a ticket to PDF bytes.
    pub fn ticket_pdf(&self, id: &BookingId, width: PaperWidth, lang: Lang) -> Result<Vec<u8>, DeskError> {
        frontdesk_print::render_ticket_pdf(&self.ticket_data(id, lang)?, width).map_err(|e| print_failed(e, lang))
    }

    /// Renders a slot sheet to PDF bytes.
    pub fn sheet_pdf(&self, date: Date, department: Option<&str>, lang: Lang) -> Result<Vec<u8>, DeskError> {
        frontdesk_print::render_sheet_pdf(&self.sheet_data(date, department, lang)?).map_err(|e| print_failed(e, lang))
    }

    /// Prints a booking's ticket on the configured printer (or `printer`). A failure is a
    /// clear error and is logged; the ticket can be printed again.
    pub fn print_ticket(&mut self, id: &BookingId, printer: Option<&str>, lang: Lang) -> Result<Printed, DeskError> {
        self.authorize(crate::Action::PrintForPatient)?;
        let settings = self.print_settings()?;
        let target = Printer::parse(printer.or(settings.printer.as_deref()).unwrap_or("cups"))?;
        let data = self.ticket_data(id, lang)?;
        let result = match &target {
            Printer::Device(t) => frontdesk_print::print_ticket(t, &data, settings.paper())
                .map(|_| None)
                .map_err(|e| print_failed(e, lang)),
            Printer::PdfDir(dir) => frontdesk_print::render_ticket_pdf(&data, settings.paper())
                .map_err(|e| print_failed(e, lang))
                .and_then(|pdf| write_pdf(dir, &format!("ticket-{}", data.ticket_code), &pdf).map(Some)),
        };
        self.log_print("ticket", id.as_str(), &target, result)
    }

    /// Prints a day's slot sheet.
    pub fn print_sheet(
        &mut self,
        date: Date,
        department: Option<&str>,
        printer: Option<&str>,
        lang: Lang,
    ) -> Result<Printed, DeskError> {
        self.authorize(crate::Action::PrintSheet)?;
        let settings = self.print_settings()?;
        let target = Printer::parse(printer.or(settings.printer.as_deref()).unwrap_or("cups"))?;
        let data = self.sheet_data(date, department, lang)?;
        let subject = format!("{date}:{}", department.unwrap_or("*"));
        let result = match &target {
            Printer::Device(t) => {
                frontdesk_print::print_sheet(t, &data).map(|_| None).map_err(|e| print_failed(e, lang))
            }
            Printer::PdfDir(dir) => frontdesk_print::render_sheet_pdf(&data)
                .map_err(|e| print_failed(e, lang))
                .and_then(|pdf| write_pdf(dir, &format!("sheet-{}", subject.replace([':', '*'], "_")), &pdf).map(Some)),
        };
        self.log_print("sheet", &subject, &target, result)
    }

    fn log_print(
        &mut self,
        document: &str,
        subject: &str,
        target: &Printer,
        result: Result<Option<PathBuf>, DeskError>,
    ) -> Result<Printed, DeskError> {
        let staff = self.device()?.staff_id.to_string();
        let now = self.clock().now().to_string();
        let reprint: bool = self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM print_log WHERE document = ?1 AND subject = ?2 AND outcome = 'printed')",
            params![document, subject],
            |r| r.get(0),
        )?;
        let outcome = match &result {
            Ok(_) => "printed".to_string(),
            Err(e) => format!("failed: {}", e.code()),
        };
        self.conn().execute(
            "INSERT INTO print_log (document, subject, reprint, printer, staff_id, outcome, printed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![document, subject, reprint as i64, target.describe(), staff, outcome, now],
        )?;
        let file = result?;
        Ok(Printed { printer: target.describe(), reprint, file })
    }

    /// How often a document was printed: (successful prints, failed attempts).
    pub fn print_count(&self, document: &str, subject: &str) -> Result<(u32, u32), DeskError> {
        Ok(self.conn().query_row(
            "SELECT count(*) FILTER (WHERE outcome = 'printed'), count(*) FILTER (WHERE outcome <> 'printed')
             FROM print_log WHERE document = ?1 AND subject = ?2",
            params![document, subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

fn write_pdf(dir: &std::path::Path, stem: &str, pdf: &[u8]) -> Result<PathBuf, DeskError> {
    std::fs::create_dir_all(dir)?;
    let mut path = dir.join(format!("{stem}.pdf"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{stem}-{n}.pdf"));
    }
    // Write then rename, so a watcher never sees half a file.
    let tmp = dir.join(format!(".{stem}.tmp"));
    std::fs::write(&tmp, pdf)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
