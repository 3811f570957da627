//! Printing from the desk: tickets, slot sheets and conflict notices, to the printer chosen in
//! the settings, with every print (and reprint, and failure) logged.

use std::net::SocketAddr;
use std::path::PathBuf;

use frontdesk_domain::Lang;
use frontdesk_domain::booking::BookingStatus;
use frontdesk_domain::patient::FieldError;
use frontdesk_domain::schedule::{BookingId, SessionStatus};
use frontdesk_print::{
    PaperWidth, PrintError, PrinterTarget, SheetBooking, SheetData, SheetDepartment, SheetProvider, SheetSession,
    SheetSlot, TicketData,
};
use jiff::civil::Date;
use rusqlite::params;
use serde::Serialize;

use crate::engine::{meta, set_meta};
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

    /// What goes on a booking's ticket.
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
            confirmed: v.confirmed,
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
                                                confirmed: b.confirmed,
                                            })
                                            .collect();
                                        let held: Vec<u32> = rows.iter().map(|r| r.queue_number).collect();
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
