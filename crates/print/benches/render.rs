//! Rendering benchmark: ticket PDF time and size at both widths, a 500-booking slot sheet,
//! and the ESC/POS stream. A plain binary (no harness): run with
//! `cargo bench -p frontdesk-print --bench render`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use frontdesk_domain::Lang;
use frontdesk_print::samples::{sample_sheet, sample_ticket};
use frontdesk_print::{PaperWidth, PrintError, escpos_ticket, render_sheet_pdf, render_ticket_pdf};

/// Runs `f` `iters` times (at least once); returns p50, p95 and max in ms and the last output.
fn bench<T>(iters: usize, mut f: impl FnMut() -> Result<T, PrintError>) -> Result<(f64, f64, f64, T), PrintError> {
    let mut times: Vec<Duration> = Vec::with_capacity(iters);
    let t = Instant::now();
    let mut out = black_box(f()?);
    times.push(t.elapsed());
    for _ in 1..iters {
        let t = Instant::now();
        out = black_box(f()?);
        times.push(t.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    Ok((at(0.5), at(0.95), ms(times[times.len() - 1]), out))
}

fn main() -> Result<(), PrintError> {
    let ticket = sample_ticket(Lang::Zh, false);
    // The first render also parses the embedded font (once per process).
    let t = Instant::now();
    let first = render_ticket_pdf(&ticket, PaperWidth::Mm80)?;
    println!("first ticket incl. font parse: {:.2} ms ({} bytes)\n", t.elapsed().as_secs_f64() * 1e3, first.len());

    println!("{:<36} {:>8} {:>8} {:>8} {:>9}", "what", "p50 ms", "p95 ms", "max ms", "bytes");
    let en = sample_ticket(Lang::En, true);
    let cases = [
        ("ticket PDF 80 mm (zh, unconfirmed)", &ticket, PaperWidth::Mm80),
        ("ticket PDF 58 mm (zh, unconfirmed)", &ticket, PaperWidth::Mm58),
        ("ticket PDF 80 mm (en, confirmed)", &en, PaperWidth::Mm80),
    ];
    for (name, t, width) in cases {
        let (p50, p95, max, pdf) = bench(200, || render_ticket_pdf(t, width))?;
        println!("{name:<36} {p50:>8.2} {p95:>8.2} {max:>8.2} {:>9}", pdf.len());
    }
    let (p50, p95, max, bytes) = bench(2000, || Ok(escpos_ticket(&ticket, PaperWidth::Mm80)))?;
    println!("{:<36} {p50:>8.3} {p95:>8.3} {max:>8.3} {:>9}", "ticket ESC/POS 80 mm", bytes.len());
    for n in [300, 500] {
        let sheet = sample_sheet(Lang::Zh, n);
        let (p50, p95, max, pdf) = bench(10, || render_sheet_pdf(&sheet))?;
        let name = format!("slot sheet, {n} bookings (A4)");
        println!("{name:<36} {p50:>8.2} {p95:>8.2} {max:>8.2} {:>9}", pdf.len());
    }
    Ok(())
}
