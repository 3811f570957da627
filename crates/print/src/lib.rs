//! Queue tickets, notices for patients and daily slot sheets for Frontdesk.
//!
//! The crate takes plain data ([`TicketData`], [`NoticeData`], [`SheetData`]) and renders
//!
//! - PDF with an embedded, subset CJK font (WenQuanYi Micro Hei) and vector barcodes:
//!   [`render_ticket_pdf`] and [`render_notice_pdf`] (80 mm / 58 mm receipt roll) and
//!   [`render_sheet_pdf`] (A4);
//! - an ESC/POS byte stream for thermal printers: [`escpos_ticket`], [`escpos_notice`];
//!
//! and sends them to a printer ([`print_ticket`], [`print_notice`], [`print_sheet`]): CUPS, the Windows
//! spooler, or a thermal printer on TCP port 9100 or a device file ([`PrinterTarget`]).
//!
//! Patient names are given in full and masked here (张三 → 张*): the full name never reaches
//! a PDF or a printer.
//!
//! ```
//! use frontdesk_domain::Lang;
//! use frontdesk_print::{Channel, PaperWidth, TicketData, render_ticket_pdf};
//!
//! let ticket = TicketData {
//!     site_name: "阳光社区卫生服务中心".into(),
//!     department_name: "内科".into(),
//!     provider_name: "王建国".into(),
//!     provider_title: "主任医师".into(),
//!     date: "2025-03-14".into(),
//!     time_window: "08:30–09:00".into(),
//!     queue_number: 12,
//!     patient_name: "张三".into(),
//!     ticket_code: "FD7K2M9QX4RT8".into(),
//!     channel: Channel::Desk,
//!     printed_at: "2025-03-14 08:12".into(),
//!     confirmed: true,
//!     lang: Lang::Zh,
//! };
//! let pdf = render_ticket_pdf(&ticket, PaperWidth::Mm80)?;
//! assert!(pdf.starts_with(b"%PDF"));
//! assert!(pdf.len() < 60 * 1024);
//! # Ok::<(), frontdesk_print::PrintError>(())
//! ```

mod barcode;
mod error;
mod escpos;
mod font;
mod notice;
mod pdf;
mod printer;
pub mod samples;
mod sheet;
mod ticket;

pub use error::PrintError;
pub use escpos::{escpos_notice, escpos_ticket};
pub use notice::{NoticeData, render_notice_pdf};
pub use printer::{
    CONNECT_TIMEOUT, PrintReceipt, PrinterTarget, WRITE_TIMEOUT, print_notice, print_pdf, print_sheet, print_ticket,
};
pub use sheet::{
    BookingStatus, Period, SheetBooking, SheetData, SheetDepartment, SheetProvider, SheetSession, SheetSlot, Totals,
    render_sheet_pdf,
};
pub use ticket::{Channel, PaperWidth, TicketData, render_ticket_pdf};
