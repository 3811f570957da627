//! Printer back-ends: CUPS (`lp`), the Windows spooler (PowerShell), and raw ESC/POS to a
//! thermal printer over TCP (port 9100) or a device file.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::PrintError;
use crate::escpos::{escpos_notice, escpos_ticket};
use crate::notice::{NoticeData, render_notice_pdf};
use crate::sheet::{SheetData, render_sheet_pdf};
use crate::ticket::{PaperWidth, TicketData, render_ticket_pdf};

/// How long to wait for a network printer to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one write to a network printer may block (a printer out of paper stops reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a document goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrinterTarget {
    /// A CUPS queue via `lp` (Linux, macOS).
    Cups {
        /// Queue name as in `lpstat -p`; `None` is the default destination.
        queue: Option<String>,
        /// A print server `host[:port]` (`lp -h`); `None` is the usual one (`CUPS_SERVER`,
        /// `~/.cups/client.conf`, else the local scheduler).
        #[serde(default)]
        server: Option<String>,
    },
    /// A printer of the Windows spooler by name; the PDF is printed with the registered PDF
    /// application's "PrintTo" verb (see docs/PRINTING.md).
    WindowsSpooler {
        /// The printer's name as in Settings → Printers.
        name: String,
    },
    /// A thermal printer speaking ESC/POS on a raw TCP port (usually 9100).
    EscPosTcp {
        /// Printer address and port.
        addr: SocketAddr,
    },
    /// A thermal printer as a device file (`/dev/usb/lp0`, a serial port, `\\.\COM3`).
    EscPosDevice {
        /// Path of the device.
        path: PathBuf,
    },
}

impl PrinterTarget {
    /// The target as shown in messages.
    pub fn describe(&self) -> String {
        match self {
            PrinterTarget::Cups { queue, server } => {
                let q = queue.as_deref().unwrap_or("(default)");
                match server {
                    Some(s) => format!("{q}@{s}"),
                    None => q.to_string(),
                }
            }
            PrinterTarget::WindowsSpooler { name } => name.clone(),
            PrinterTarget::EscPosTcp { addr } => addr.to_string(),
            PrinterTarget::EscPosDevice { path } => path.display().to_string(),
        }
    }
}

/// What was sent where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintReceipt {
    /// The target as in [`PrinterTarget::describe`].
    pub printer: String,
    /// The print system's job id (`QUEUE-42` for CUPS), when it has one.
    pub job_id: Option<String>,
    /// `application/pdf` or `application/vnd.escpos`.
    pub format: String,
    /// Size of the job in bytes.
    pub bytes: usize,
}

const PDF: &str = "application/pdf";
const ESCPOS: &str = "application/vnd.escpos";

/// Prints a ticket: PDF for CUPS and the Windows spooler, ESC/POS for thermal printers.
pub fn print_ticket(
    target: &PrinterTarget,
    ticket: &TicketData,
    width: PaperWidth,
) -> Result<PrintReceipt, PrintError> {
    match target {
        PrinterTarget::EscPosTcp { .. } | PrinterTarget::EscPosDevice { .. } => {
            send_raw(target, &escpos_ticket(ticket, width), ESCPOS)
        }
        PrinterTarget::Cups { .. } | PrinterTarget::WindowsSpooler { .. } => {
            let pdf = render_ticket_pdf(ticket, width)?;
            send_pdf(target, &pdf, &format!("ticket-{}", ticket.ticket_code))
        }
    }
}

/// Prints a notice for a patient on the ticket roll, by the same routes as a ticket: PDF for
/// CUPS and the Windows spooler (job `notice-<reference>`), ESC/POS for thermal printers.
pub fn print_notice(
    target: &PrinterTarget,
    notice: &NoticeData,
    width: PaperWidth,
) -> Result<PrintReceipt, PrintError> {
    match target {
        PrinterTarget::EscPosTcp { .. } | PrinterTarget::EscPosDevice { .. } => {
            send_raw(target, &escpos_notice(notice, width), ESCPOS)
        }
        PrinterTarget::Cups { .. } | PrinterTarget::WindowsSpooler { .. } => {
            let pdf = render_notice_pdf(notice, width)?;
            send_pdf(target, &pdf, &notice.job_name())
        }
    }
}

/// Prints an A4 slot sheet; only page printers (CUPS, Windows spooler) take it.
pub fn print_sheet(target: &PrinterTarget, sheet: &SheetData) -> Result<PrintReceipt, PrintError> {
    match target {
        PrinterTarget::EscPosTcp { .. } | PrinterTarget::EscPosDevice { .. } => {
            Err(PrintError::Unsupported("an A4 slot sheet cannot be printed on a receipt printer".to_string()))
        }
        PrinterTarget::Cups { .. } | PrinterTarget::WindowsSpooler { .. } => {
            let pdf = render_sheet_pdf(sheet)?;
            send_pdf(target, &pdf, &format!("slot-sheet-{}", sheet.date))
        }
    }
}

/// Sends an already rendered PDF to a page printer.
pub fn print_pdf(target: &PrinterTarget, pdf: &[u8], job_name: &str) -> Result<PrintReceipt, PrintError> {
    match target {
        PrinterTarget::EscPosTcp { .. } | PrinterTarget::EscPosDevice { .. } => {
            Err(PrintError::Unsupported("a receipt printer takes ESC/POS, not PDF".to_string()))
        }
        _ => send_pdf(target, pdf, job_name),
    }
}

fn send_pdf(target: &PrinterTarget, pdf: &[u8], job_name: &str) -> Result<PrintReceipt, PrintError> {
    match target {
        PrinterTarget::Cups { queue, server } => cups_print(queue.as_deref(), server.as_deref(), pdf, job_name),
        PrinterTarget::WindowsSpooler { name } => windows_print(name, pdf, job_name),
        PrinterTarget::EscPosTcp { .. } | PrinterTarget::EscPosDevice { .. } => send_raw(target, pdf, PDF),
    }
}

/// Sends raw bytes to a thermal printer.
fn send_raw(target: &PrinterTarget, bytes: &[u8], format: &str) -> Result<PrintReceipt, PrintError> {
    let printer = target.describe();
    match target {
        PrinterTarget::EscPosTcp { addr } => tcp_send(*addr, bytes)?,
        PrinterTarget::EscPosDevice { path } => device_send(path, bytes)?,
        _ => return Err(PrintError::Unsupported("raw bytes need an ESC/POS printer".to_string())),
    }
    Ok(PrintReceipt { printer, job_id: None, format: format.to_string(), bytes: bytes.len() })
}

fn tcp_send(addr: SocketAddr, bytes: &[u8]) -> Result<(), PrintError> {
    let unreachable =
        |e: std::io::Error| PrintError::PrinterUnreachable { printer: addr.to_string(), detail: e.to_string() };
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(unreachable)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(unreachable)?;
    let failed = |e: std::io::Error| {
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            PrintError::PrinterUnreachable {
                printer: addr.to_string(),
                detail: format!("the printer stopped accepting data: {e}"),
            }
        } else {
            PrintError::PrintFailed { printer: addr.to_string(), detail: e.to_string() }
        }
    };
    stream.write_all(bytes).map_err(failed)?;
    stream.flush().map_err(failed)?;
    // Closing our side tells the printer the job is complete.
    stream.shutdown(std::net::Shutdown::Write).map_err(failed)?;
    Ok(())
}

fn device_send(path: &Path, bytes: &[u8]) -> Result<(), PrintError> {
    let printer = path.display().to_string();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => PrintError::PrinterNotFound { printer: printer.clone(), detail: e.to_string() },
        _ => PrintError::PrinterUnreachable { printer: printer.clone(), detail: e.to_string() },
    })?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| PrintError::PrintFailed { printer, detail: e.to_string() })
}

/// `lp` with the document on stdin. The C locale makes `lp`'s messages parseable; the job
/// name never carries a patient's name.
fn cups_print(
    queue: Option<&str>,
    server: Option<&str>,
    pdf: &[u8],
    job_name: &str,
) -> Result<PrintReceipt, PrintError> {
    let printer = queue.unwrap_or("(default)").to_string();
    let mut cmd = Command::new("lp");
    cmd.env("LC_ALL", "C").env("LANG", "C");
    if let Some(s) = server {
        cmd.arg("-h").arg(s);
    }
    if let Some(q) = queue {
        cmd.arg("-d").arg(q);
    }
    cmd.arg("-t").arg(job_name);
    let output = run_with_stdin(cmd, pdf, "lp")?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if output.status.success() {
        // "request id is QUEUE-12 (1 file(s))"
        let job_id = stdout.split_whitespace().skip_while(|w| *w != "is").nth(1).map(str::to_string);
        return Ok(PrintReceipt { printer, job_id, format: PDF.to_string(), bytes: pdf.len() });
    }
    Err(classify_cups_error(&printer, &stderr, || cups_scheduler_running(server)))
}

fn classify_cups_error(printer: &str, stderr: &str, scheduler_running: impl FnOnce() -> bool) -> PrintError {
    let lower = stderr.to_ascii_lowercase();
    let detail = if stderr.is_empty() { "lp failed without a message".to_string() } else { stderr.to_string() };
    // lp reports "printer or class does not exist" also when it cannot reach the scheduler
    // at all, so ask the scheduler whether it is there before blaming the queue name.
    if lower.contains("does not exist") || lower.contains("no default destination") {
        if !scheduler_running() {
            return PrintError::PrinterUnreachable {
                printer: printer.to_string(),
                detail: format!("the CUPS scheduler is not running or not reachable ({detail})"),
            };
        }
        return PrintError::PrinterNotFound { printer: printer.to_string(), detail };
    }
    if lower.contains("unable to connect")
        || lower.contains("scheduler is not running")
        || lower.contains("bad file descriptor")
        || lower.contains("connection refused")
    {
        return PrintError::PrinterUnreachable { printer: printer.to_string(), detail };
    }
    PrintError::PrintFailed { printer: printer.to_string(), detail }
}

fn cups_scheduler_running(server: Option<&str>) -> bool {
    let mut cmd = Command::new("lpstat");
    if let Some(s) = server {
        cmd.arg("-h").arg(s);
    }
    cmd.arg("-r")
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
            s.contains("scheduler is running")
        })
        .unwrap_or(false)
}

fn run_with_stdin(mut cmd: Command, input: &[u8], name: &str) -> Result<std::process::Output, PrintError> {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| {
            match e.kind() {
                ErrorKind::NotFound => PrintError::PrintSystemMissing { command: name.to_string() },
                _ => PrintError::PrintFailed { printer: name.to_string(), detail: e.to_string() },
            }
        })?;
    // Write stdin from a thread so a child that fills its stdout/stderr pipes before reading
    // all its input cannot deadlock us.
    let stdin = child.stdin.take();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        if let Some(mut s) = stdin {
            s.write_all(&data)?;
        }
        Ok(())
    });
    let output = child
        .wait_with_output()
        .map_err(|e| PrintError::PrintFailed { printer: name.to_string(), detail: e.to_string() })?;
    // A child that exits early closes its stdin (broken pipe): its exit status and stderr
    // say why, so a write error is only reported when the child claims success.
    let wrote = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("stdin writer panicked")));
    if let Err(e) = wrote
        && output.status.success()
    {
        return Err(PrintError::PrintFailed {
            printer: name.to_string(),
            detail: format!("could not send the document: {e}"),
        });
    }
    Ok(output)
}

/// The PowerShell script that prints a PDF file on a named Windows printer. Compiled on every
/// OS (so it is type-checked here), run only on Windows.
pub(crate) fn windows_print_script(printer: &str, file: &Path) -> String {
    let q = |s: &str| s.replace('\'', "''");
    format!(
        "$ErrorActionPreference = 'Stop'\n\
         $p = Get-Printer -Name '{printer}' -ErrorAction SilentlyContinue\n\
         if (-not $p) {{ [Console]::Error.WriteLine('printer_not_found'); exit 3 }}\n\
         if ($p.PrinterStatus -eq 'Offline') {{ [Console]::Error.WriteLine('printer_offline'); exit 4 }}\n\
         Start-Process -FilePath '{file}' -Verb PrintTo -ArgumentList ('\"' + '{printer}' + '\"') -WindowStyle Hidden -Wait\n",
        printer = q(printer),
        file = q(&file.display().to_string()),
    )
}

fn windows_print(name: &str, pdf: &[u8], job_name: &str) -> Result<PrintReceipt, PrintError> {
    if !cfg!(windows) {
        return Err(PrintError::Unsupported("the Windows spooler is only available on Windows".to_string()));
    }
    let safe: String = job_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let path = std::env::temp_dir().join(format!("frontdesk-{safe}-{}.pdf", std::process::id()));
    std::fs::write(&path, pdf).map_err(|e| PrintError::PrintFailed {
        printer: name.to_string(),
        detail: format!("cannot write {}: {e}", path.display()),
    })?;
    let mut cmd = Command::new("powershell.exe");
    cmd.args(["-NoProfile", "-NonInteractive", "-Command", "-"]);
    let script = windows_print_script(name, &path);
    let result = run_with_stdin(cmd, script.as_bytes(), "powershell.exe");
    let _ = std::fs::remove_file(&path);
    let output = result?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match output.status.code() {
        Some(0) => {
            Ok(PrintReceipt { printer: name.to_string(), job_id: None, format: PDF.to_string(), bytes: pdf.len() })
        }
        Some(3) => Err(PrintError::PrinterNotFound { printer: name.to_string(), detail: stderr }),
        Some(4) => Err(PrintError::PrinterUnreachable { printer: name.to_string(), detail: stderr }),
        _ => Err(PrintError::PrintFailed { printer: name.to_string(), detail: stderr }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_script_quotes_names() {
        let s = windows_print_script("Front Desk's HP", Path::new(r"C:\Temp\t.pdf"));
        assert!(s.contains("-Name 'Front Desk''s HP'"));
        assert!(s.contains(r"-FilePath 'C:\Temp\t.pdf'"));
    }

    #[test]
    fn cups_messages_classified() {
        let e = classify_cups_error("q", "lp: Error - something else broke", || true);
        assert_eq!(e.code(), "print_failed");
        let e = classify_cups_error("q", "lp: Unable to connect to server", || true);
        assert_eq!(e.code(), "printer_unreachable");
        let missing = "lp: Error - The printer or class does not exist.";
        assert_eq!(classify_cups_error("q", missing, || true).code(), "printer_not_found");
        assert_eq!(classify_cups_error("q", missing, || false).code(), "printer_unreachable");
    }
}
