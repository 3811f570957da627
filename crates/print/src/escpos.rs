//! The ticket as a raw ESC/POS byte stream for a thermal receipt printer, with GB18030 text
//! (the encoding Chinese-market printers use in Chinese mode) and the printer's own Code128
//! and QR commands.

use encoding_rs::GB18030;

use crate::notice::{NoticeData, notice_labels};
use crate::ticket::{PaperWidth, TicketData, labels};

const ESC: u8 = 0x1B;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;
const LF: u8 = 0x0A;

/// Builds the ESC/POS job for a ticket: initialise, Chinese mode, text in GB18030, the queue
/// number at double size, the ticket code as Code128 (set B) and QR (model 2), feed and a
/// partial cut. Deterministic: the same ticket always gives the same bytes.
pub fn escpos_ticket(t: &TicketData, width: PaperWidth) -> Vec<u8> {
    let l = labels(t.lang);
    let cols = width.columns();
    let mut w = Writer { out: Vec::with_capacity(1024) };

    w.raw(&[ESC, b'@']); // initialise
    w.raw(&[FS, b'&']); // Chinese character mode: double-byte text is GB18030
    w.raw(&[ESC, b'3', 30]); // line spacing 30 dots

    // Site and title, centred, site in bold.
    w.align(1);
    w.raw(&[ESC, b'E', 1]);
    for line in wrap_columns(&t.site_name, cols) {
        w.line(&line);
    }
    w.raw(&[ESC, b'E', 0]);
    w.line(l.title);
    w.line(&"-".repeat(cols));

    // Label / value rows, left aligned; a wrapped value is indented under its first line.
    w.align(0);
    w.label_rows(
        &[
            (l.department, t.department_name.clone()),
            (l.provider, t.provider_line()),
            (l.date, t.date.clone()),
            (l.time, t.time_window.clone()),
        ],
        cols,
    );
    w.line(&"-".repeat(cols));

    // Queue number at double width and height, masked patient name.
    w.align(1);
    w.line(l.queue);
    w.raw(&[GS, b'!', 0x11]);
    w.line(&t.queue_number.to_string());
    w.raw(&[GS, b'!', 0x00]);
    w.raw(&[ESC, b'E', 1]);
    for line in wrap_columns(&format!("{}  {}", l.patient, t.masked_name()), cols) {
        w.line(&line);
    }
    w.raw(&[ESC, b'E', 0]);
    if !t.confirmed {
        // White on black.
        w.raw(&[GS, b'B', 1]);
        w.line(&format!(" {} ", l.unconfirmed));
        w.raw(&[GS, b'B', 0]);
        for line in wrap_columns(l.unconfirmed_note, cols) {
            w.line(&line);
        }
    }
    w.line(&"-".repeat(cols));

    // Code128 set B: GS h height, GS w module width, GS H HRI below, GS k 73 n {B data.
    let code = t.ticket_code.as_bytes();
    let module = match width {
        PaperWidth::Mm80 => 3,
        PaperWidth::Mm58 => 2,
    };
    w.raw(&[GS, b'h', 80]);
    w.raw(&[GS, b'w', module]);
    w.raw(&[GS, b'H', 2]);
    w.raw(&[GS, b'f', 0]);
    let mut data = b"{B".to_vec();
    data.extend_from_slice(code);
    let data = &data[..data.len().min(255)];
    w.raw(&[GS, b'k', 73, data.len() as u8]);
    w.raw(data);
    w.raw(&[LF]);

    // QR model 2: select model, module size, error correction M, store, print.
    let qr_size = match width {
        PaperWidth::Mm80 => 6,
        PaperWidth::Mm58 => 5,
    };
    w.raw(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
    w.raw(&[GS, b'(', b'k', 3, 0, 49, 67, qr_size]);
    w.raw(&[GS, b'(', b'k', 3, 0, 49, 69, 49]);
    let store_len = code.len() + 3;
    w.raw(&[GS, b'(', b'k', (store_len & 0xFF) as u8, (store_len >> 8) as u8, 49, 80, 48]);
    w.raw(code);
    w.raw(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
    w.raw(&[LF]);

    // Channel, printing time, footer.
    w.align(0);
    w.line(&format!("{} {}", l.channel, t.channel.label(t.lang)));
    w.line(&format!("{} {}", l.printed, t.printed_at));
    w.align(1);
    for line in wrap_columns(l.footer, cols) {
        w.line(&line);
    }
    w.align(0);

    // Feed past the cutter and cut, leaving a hinge (partial cut with feed).
    w.raw(&[ESC, b'd', 3]);
    w.raw(&[GS, b'V', 66, 0]);
    w.out
}

/// Builds the ESC/POS job for a notice: initialise, Chinese mode, site and heading, the
/// booking's details, "booking cancelled" reversed, the sentences wrapped to the roll's
/// columns (GB18030), reference and printing time, feed and a partial cut. Deterministic.
pub fn escpos_notice(n: &NoticeData, width: PaperWidth) -> Vec<u8> {
    let l = notice_labels(n.lang);
    let cols = width.columns();
    let mut w = Writer { out: Vec::with_capacity(1024) };

    w.raw(&[ESC, b'@']);
    w.raw(&[FS, b'&']);
    w.raw(&[ESC, b'3', 30]);

    // Site in bold, the heading in bold at double height, centred.
    w.align(1);
    w.raw(&[ESC, b'E', 1]);
    w.wrapped(&n.site_name, cols);
    w.raw(&[GS, b'!', 0x01]);
    w.wrapped(&n.title, cols);
    w.raw(&[GS, b'!', 0x00]);
    w.raw(&[ESC, b'E', 0]);
    w.line(&"-".repeat(cols));

    // The booking that was given up.
    w.align(0);
    w.label_rows(&n.rows(), cols);
    w.align(1);
    w.raw(&[GS, b'B', 1]);
    w.line(&format!(" {} ", l.cancelled));
    w.raw(&[GS, b'B', 0]);

    // What happened and why.
    w.align(0);
    w.raw(&[ESC, b'E', 1]);
    w.wrapped(&n.greeting(), cols);
    w.raw(&[ESC, b'E', 0]);
    w.wrapped(&n.statement(), cols);
    if !n.reason.trim().is_empty() {
        w.label_rows(&[(l.reason, n.reason.trim().to_string())], cols);
    }
    w.wrapped(&n.explanation, cols);
    w.line(&"-".repeat(cols));

    // What to do now.
    w.raw(&[ESC, b'E', 1]);
    w.line(l.next);
    w.raw(&[ESC, b'E', 0]);
    w.wrapped(&n.next_steps, cols);
    w.wrapped(l.apology, cols);
    w.line(&"-".repeat(cols));

    let small: Vec<(&str, String)> = [(l.reference, n.reference.trim()), (l.printed, n.printed_at.trim())]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(label, v)| (label, v.to_string()))
        .collect();
    w.label_rows(&small, cols);

    w.raw(&[ESC, b'd', 3]);
    w.raw(&[GS, b'V', 66, 0]);
    w.out
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn align(&mut self, a: u8) {
        self.raw(&[ESC, b'a', a]);
    }

    fn line(&mut self, text: &str) {
        let (bytes, _, _) = GB18030.encode(text);
        self.out.extend_from_slice(&bytes);
        self.out.push(LF);
    }

    /// Text wrapped to `cols` columns, one printed line each.
    fn wrapped(&mut self, text: &str, cols: usize) {
        if text.trim().is_empty() {
            return;
        }
        for line in wrap_columns(text, cols) {
            self.line(&line);
        }
    }

    /// Labels in a column as wide as the widest plus two, values wrapped in the rest and
    /// indented under their first line.
    fn label_rows(&mut self, rows: &[(&str, String)], cols: usize) {
        let label_w = rows.iter().map(|(label, _)| display_width(label)).max().unwrap_or(0) + 2;
        for (label, value) in rows {
            for (i, line) in wrap_columns(value, cols - label_w).into_iter().enumerate() {
                let head = if i == 0 { *label } else { "" };
                let pad = label_w - display_width(head);
                self.line(&format!("{head}{}{line}", " ".repeat(pad)));
            }
        }
    }
}

/// Printed width of a character in columns: one for single-byte (ASCII), two for the
/// double- and four-byte GB18030 characters (full-width in the printer's font).
fn char_width(c: char) -> usize {
    if c.is_ascii() { 1 } else { 2 }
}

fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Wraps text to `cols` printer columns: at spaces for Latin text, anywhere between CJK
/// characters, and inside a word only when the word alone is wider than a line.
fn wrap_columns(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = 0;
    let flush = |line: &mut String, width: &mut usize, lines: &mut Vec<String>| {
        let t = line.trim_end().to_string();
        if !t.is_empty() {
            lines.push(t);
        }
        line.clear();
        *width = 0;
    };
    for word in split_words(text.trim()) {
        let ww = display_width(&word);
        if width + ww > cols && width > 0 {
            flush(&mut line, &mut width, &mut lines);
        }
        let word = if width == 0 { word.trim_start().to_string() } else { word };
        for c in word.chars() {
            let cw = char_width(c);
            if width + cw > cols {
                flush(&mut line, &mut width, &mut lines);
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            width += cw;
        }
    }
    flush(&mut line, &mut width, &mut lines);
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// Words for wrapping: each CJK (non-ASCII) character alone, ASCII words with their leading
/// space.
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if !c.is_ascii() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c == ' ' {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_by_display_width() {
        let lines = wrap_columns("心血管内科与呼吸与危重症医学科联合门诊", 10);
        assert!(lines.iter().all(|l| display_width(l) <= 10));
        assert_eq!(lines.concat(), "心血管内科与呼吸与危重症医学科联合门诊");
        let lines = wrap_columns("Department of Internal Medicine", 12);
        assert_eq!(lines, vec!["Department", "of Internal", "Medicine"]);
    }
}
