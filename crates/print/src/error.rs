//! Errors of rendering and printing, each with a stable machine code and a message in both
//! languages (the UI shows `message(lang)`; logs and tests match on `code()`).

use frontdesk_domain::Lang;

/// Why a ticket or sheet could not be rendered or printed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The embedded font could not be parsed (a broken build, never user input).
    #[error("font unavailable: {0}")]
    Font(String),
    /// The PDF could not be produced.
    #[error("rendering failed: {0}")]
    Render(String),
    /// The ticket code cannot be encoded as a barcode.
    #[error("cannot encode barcode: {0}")]
    Barcode(String),
    /// The operating system's print command (`lp`, PowerShell) is not installed.
    #[error("print system not available: `{command}` not found")]
    PrintSystemMissing {
        /// The command that was looked for.
        command: String,
    },
    /// The named printer, queue or device does not exist (or no default printer is set).
    #[error("printer not found: {printer}: {detail}")]
    PrinterNotFound {
        /// The queue, device path or address as configured.
        printer: String,
        /// What the print system said.
        detail: String,
    },
    /// The printer or print server did not answer (connection refused, timeout, scheduler
    /// not running, device busy).
    #[error("printer unreachable: {printer}: {detail}")]
    PrinterUnreachable {
        /// The queue, device path or address as configured.
        printer: String,
        /// What went wrong.
        detail: String,
    },
    /// The printer was reached but the job was refused or broke off.
    #[error("print failed: {printer}: {detail}")]
    PrintFailed {
        /// The queue, device path or address as configured.
        printer: String,
        /// What the print system said.
        detail: String,
    },
    /// This kind of document cannot go to this kind of printer, or not on this OS.
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl PrintError {
    /// A stable, machine-readable code: `font_unavailable`, `render_failed`,
    /// `barcode_invalid`, `print_system_missing`, `printer_not_found`, `printer_unreachable`,
    /// `print_failed`, `not_supported`.
    pub fn code(&self) -> &'static str {
        match self {
            PrintError::Font(_) => "font_unavailable",
            PrintError::Render(_) => "render_failed",
            PrintError::Barcode(_) => "barcode_invalid",
            PrintError::PrintSystemMissing { .. } => "print_system_missing",
            PrintError::PrinterNotFound { .. } => "printer_not_found",
            PrintError::PrinterUnreachable { .. } => "printer_unreachable",
            PrintError::PrintFailed { .. } => "print_failed",
            PrintError::Unsupported(_) => "not_supported",
        }
    }

    /// A message for the person at the desk, in `lang`, with the technical detail at the end.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            PrintError::Font(d) => match lang {
                Lang::Zh => format!("打印字体无法加载，请联系管理员。（{d}）"),
                Lang::En => format!("The print font could not be loaded; please contact your administrator. ({d})"),
            },
            PrintError::Render(d) => match lang {
                Lang::Zh => format!("无法生成打印文件。（{d}）"),
                Lang::En => format!("The document could not be produced. ({d})"),
            },
            PrintError::Barcode(d) => match lang {
                Lang::Zh => format!("凭条号无法生成条码。（{d}）"),
                Lang::En => format!("The ticket code cannot be printed as a barcode. ({d})"),
            },
            PrintError::PrintSystemMissing { command } => match lang {
                Lang::Zh => format!("本机未安装打印系统（找不到 {command}），请安装 CUPS 或改用热敏打印机直连。"),
                Lang::En => format!(
                    "No print system on this computer ({command} not found): install CUPS or connect the receipt printer directly."
                ),
            },
            PrintError::PrinterNotFound { printer, detail } => match lang {
                Lang::Zh => format!("找不到打印机“{printer}”，请在设备设置中检查打印机名称。（{detail}）"),
                Lang::En => format!(
                    "Printer \"{printer}\" was not found; check the printer name in device settings. ({detail})"
                ),
            },
            PrintError::PrinterUnreachable { printer, detail } => match lang {
                Lang::Zh => format!("打印机“{printer}”无法连接，请检查电源、网线或打印服务后重试。（{detail}）"),
                Lang::En => format!(
                    "Cannot reach printer \"{printer}\"; check its power, cable or print service and try again. ({detail})"
                ),
            },
            PrintError::PrintFailed { printer, detail } => match lang {
                Lang::Zh => format!("打印机“{printer}”打印失败，请检查纸张后重试。（{detail}）"),
                Lang::En => format!("Printing on \"{printer}\" failed; check the paper and try again. ({detail})"),
            },
            PrintError::Unsupported(d) => match lang {
                Lang::Zh => format!("此打印机不支持该操作。（{d}）"),
                Lang::En => format!("This printer does not support that. ({d})"),
            },
        }
    }
}
