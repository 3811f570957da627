//! Writes sample tickets (both widths, both languages, short and long names), sample notices
//! and sample slot sheets as PDF into a directory, for looking at the layout:
//! `cargo run -p frontdesk-print --example render_samples -- /tmp/samples`.

use frontdesk_domain::Lang;
use frontdesk_print::samples::{sample_notice, sample_sheet, sample_ticket};
use frontdesk_print::{PaperWidth, render_notice_pdf, render_sheet_pdf, render_ticket_pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&dir)?;
    for (name, width) in [("80mm", PaperWidth::Mm80), ("58mm", PaperWidth::Mm58)] {
        for (lang, l) in [(Lang::Zh, "zh"), (Lang::En, "en")] {
            let pdf = render_ticket_pdf(&sample_ticket(lang, false), width)?;
            std::fs::write(format!("{dir}/ticket-{name}-{l}.pdf"), &pdf)?;
            let mut long = sample_ticket(lang, true);
            long.site_name = "北京市朝阳区望京街道社区卫生服务中心第二门诊部（东院区）".into();
            long.department_name = "心血管内科与呼吸与危重症医学科联合门诊".into();
            long.provider_name = "欧阳建国".into();
            std::fs::write(format!("{dir}/ticket-{name}-{l}-long.pdf"), render_ticket_pdf(&long, width)?)?;
            std::fs::write(format!("{dir}/notice-{name}-{l}.pdf"), render_notice_pdf(&sample_notice(lang), width)?)?;
        }
    }
    for (lang, l) in [(Lang::Zh, "zh"), (Lang::En, "en")] {
        std::fs::write(format!("{dir}/sheet-{l}.pdf"), render_sheet_pdf(&sample_sheet(lang, 300))?)?;
    }
    Ok(())
}
