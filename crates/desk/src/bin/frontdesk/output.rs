//! What the CLI prints: text for people (zh-CN or en), or JSON with `--json`. Results go to
//! stdout, errors to stderr.

use std::cell::RefCell;

use frontdesk_desk::{Board, BookingView, DemoSeeded, DeskError, DeskStatus, DeviceInfo, OutboxEntry, ScanOutcome};
use frontdesk_domain::Lang;
use frontdesk_domain::booking::Suggestion;
use frontdesk_domain::names::mask_name;
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{Provider, SessionStatus, Site};
use jiff::civil::DateTime;
use serde::Serialize;

pub struct Out {
    pub json: bool,
    pub lang: Lang,
    /// A line that explains a refusal further (the suggested slot), printed with the error.
    pub hint: RefCell<Option<(String, serde_json::Value)>>,
}

fn hm(t: jiff::civil::Time) -> String {
    t.strftime("%H:%M").to_string()
}

impl Out {
    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}"),
        }
    }

    pub fn error(&self, e: &DeskError) {
        let hint = self.hint.borrow();
        if self.json {
            let mut v = serde_json::json!({
                "error": { "code": e.code(), "message": e.message(self.lang) }
            });
            if let DeskError::Invalid(fields) = e {
                v["error"]["fields"] = serde_json::to_value(fields).unwrap_or_default();
            }
            if let DeskError::Refused(r) = e {
                v["error"]["rule"] = serde_json::Value::String(r.error.code().to_string());
            }
            if let Some((_, s)) = hint.as_ref() {
                v["error"]["suggestion"] = s.clone();
            }
            eprintln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            return;
        }
        let label = match e.class() {
            frontdesk_desk::ErrorClass::Invalid => self.t("输入有误", "Invalid input"),
            frontdesk_desk::ErrorClass::Refused => self.t("无法办理", "Refused"),
            frontdesk_desk::ErrorClass::Internal => self.t("出错了", "Error"),
        };
        match e {
            DeskError::Invalid(fields) => {
                eprintln!("{label}:");
                for f in fields {
                    eprintln!("  {} ({}): {}", frontdesk_desk::field_label(&f.field, self.lang), f.field, f.message);
                }
            }
            DeskError::Refused(r) => eprintln!("{label} [{}]: {}", r.error.code(), e.message(self.lang)),
            _ => eprintln!("{label} [{}]: {}", e.code(), e.message(self.lang)),
        }
        if let Some((line, _)) = hint.as_ref() {
            eprintln!("{line}");
        }
    }

    pub fn set_suggestion(&self, s: Option<&(Suggestion, Option<Provider>)>) {
        let Some((s, provider)) = s else { return };
        let who =
            provider.as_ref().map(|p| format!("{} {}", p.name, p.title)).unwrap_or_else(|| s.provider_id.to_string());
        let line = match self.lang {
            Lang::Zh => format!(
                "建议改挂：{} {}–{} {}（剩余 {} 个）  号源 {}",
                s.date,
                hm(s.start),
                hm(s.end),
                who,
                s.remaining,
                s.slot_id
            ),
            Lang::En => format!(
                "Suggested instead: {} {}–{} {} ({} left)  slot {}",
                s.date,
                hm(s.start),
                hm(s.end),
                who,
                s.remaining,
                s.slot_id
            ),
        };
        *self.hint.borrow_mut() = Some((line, serde_json::to_value(s).unwrap_or_default()));
    }

    pub fn init(&self, device: &DeviceInfo, seeded: Option<&DemoSeeded>, status: &DeskStatus) {
        if self.json {
            self.json(&serde_json::json!({ "device": device, "demo": seeded, "status": status }));
            return;
        }
        println!("{}: {}", self.t("本机设备号", "Device"), device.device_id);
        if let Some(site) = &status.site {
            println!("{}: {} ({})", self.t("院区", "Site"), site.name, site.id);
        }
        if let Some(s) = seeded {
            println!(
                "{}",
                match self.lang {
                    Lang::Zh => format!("演示诊所已就绪：新增 {} 个出诊时段，{} 位演示患者", s.sessions, s.patients),
                    Lang::En =>
                        format!("Demo clinic ready: {} sessions and {} demo patients added", s.sessions, s.patients),
                }
            );
        }
    }

    pub fn board(&self, board: &Board, site: &Site, now: DateTime, all: bool) {
        if self.json {
            self.json(board);
            return;
        }
        println!("{}  {}", site.name, board.date);
        if board.departments.is_empty() {
            println!("{}", self.t("当天没有出诊安排", "No sessions that day"));
        }
        for d in &board.departments {
            let name = if self.lang == Lang::Zh { &d.department.name } else { &d.department.name_en };
            println!("\n{} [{}]", name, d.department.code);
            for p in &d.providers {
                for s in &p.sessions {
                    let state = match s.session.status {
                        SessionStatus::Open => String::new(),
                        SessionStatus::Suspended => format!(
                            "  {}{}",
                            self.t("【停诊】", "[SUSPENDED]"),
                            s.session.status_reason.as_deref().unwrap_or("")
                        ),
                        SessionStatus::Cancelled => format!("  {}", self.t("【已取消】", "[CANCELLED]")),
                    };
                    println!(
                        "  {} {}  {}  {} {}  {} {}  {} {}{}",
                        p.provider.name,
                        p.provider.title,
                        s.session.period.label(self.lang),
                        self.t("窗口余", "desk left"),
                        s.remaining_desk,
                        self.t("线上余", "online left"),
                        s.remaining_online,
                        self.t("已挂", "booked"),
                        s.booked,
                        state
                    );
                    for slot in &s.slots {
                        if slot.ended && !all {
                            continue;
                        }
                        let past = if slot.ended { self.t(" 已结束", " ended") } else { "" };
                        println!(
                            "      {}–{}  {} {}/{}  {} {}/{}  {}{}",
                            hm(slot.slot.start),
                            hm(slot.slot.end),
                            self.t("窗口", "desk"),
                            slot.remaining_desk,
                            slot.slot.desk_capacity,
                            self.t("线上", "online"),
                            slot.remaining_online,
                            slot.slot.online_capacity,
                            slot.slot.id,
                            past
                        );
                    }
                }
            }
        }
        let _ = now;
    }

    pub fn patient_added(&self, p: &Patient) {
        if self.json {
            self.json(p);
            return;
        }
        println!("{}: {}  {}", self.t("已建档", "Registered"), p.name, p.id);
        self.patient_line(p);
    }

    fn patient_line(&self, p: &Patient) {
        let sex = p.sex.map(|s| s.label(self.lang)).unwrap_or("-");
        let birth = p.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "  {}  {}  {}  {} {}  {} {}  {} {}",
            p.id,
            p.name,
            sex,
            self.t("生日", "born"),
            birth,
            self.t("证件", "doc"),
            p.document.number,
            self.t("电话", "phone"),
            p.phone.as_deref().unwrap_or("-")
        );
    }

    pub fn patients(&self, found: &[Patient]) {
        if self.json {
            self.json(&found);
            return;
        }
        if found.is_empty() {
            println!("{}", self.t("没有找到患者", "No patient found"));
        }
        for p in found {
            self.patient_line(p);
        }
    }

    fn booking_lines(&self, v: &BookingView) {
        println!("  {}: {}", self.t("挂号号", "Booking"), v.booking.id);
        println!("  {}: {}", self.t("就诊序号", "Queue number"), v.booking.queue_no);
        println!("  {}: {}", self.t("挂号单号", "Ticket code"), v.booking.ticket_code);
        println!(
            "  {} {} {} {}  {} {} {}–{}",
            v.department_name,
            v.provider_name,
            v.provider_title,
            mask_name(&v.patient_name),
            v.booking.date,
            v.period.label(self.lang),
            hm(v.start),
            hm(v.end)
        );
        println!("  {}: {}", self.t("状态", "Status"), v.booking.status.label(self.lang));
        if !v.confirmed {
            println!("  {}", self.t("（待平台确认）", "(not yet confirmed by the platform)"));
        }
    }

    pub fn booked(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        println!("{}", self.t("挂号成功", "Booked"));
        self.booking_lines(v);
    }

    pub fn cancelled(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        println!("{}", self.t("已取消挂号", "Booking cancelled"));
        self.booking_lines(v);
    }

    pub fn checked_in(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        println!("{}", self.t("签到成功", "Checked in"));
        self.booking_lines(v);
    }

    pub fn scanned(&self, s: &ScanOutcome) {
        if self.json {
            self.json(s);
            return;
        }
        let kind = match s.kind {
            "ticket" => self.t("挂号单", "ticket"),
            "resident_id" => self.t("身份证号", "resident ID"),
            "medical_card" => self.t("就诊卡", "medical card"),
            "ehealth_card" => self.t("电子健康卡", "e-health card"),
            other => other,
        };
        println!("{}: {}  {}", self.t("识别为", "Recognised as"), kind, s.value);
        match &s.patient {
            Some(p) => self.patient_line(p),
            None => println!("  {}", self.t("本机没有该患者，可新建档案", "No patient with it here yet: register one")),
        }
        if let Some(b) = &s.booking {
            self.booking_lines(b);
        }
    }

    pub fn outbox(&self, entries: &[OutboxEntry]) {
        if self.json {
            self.json(&entries);
            return;
        }
        if entries.is_empty() {
            println!("{}", self.t("没有待上传的操作", "Nothing waiting to be sent"));
        }
        for e in entries {
            println!("  #{:<5} {:<16} {}  {}  {}", e.seq, e.kind, e.subject, e.envelope.staff_id, e.created_at);
        }
    }

    pub fn status(&self, s: &DeskStatus) {
        if self.json {
            self.json(s);
            return;
        }
        println!("{}: {}", self.t("设备", "Device"), s.device.device_id);
        match &s.site {
            Some(site) => println!("{}: {} ({})", self.t("院区", "Site"), site.name, site.id),
            None => println!("{}: -", self.t("院区", "Site")),
        }
        println!("{}: {}", self.t("值班人员", "Staff"), s.device.staff_id);
        println!("{}: {}", self.t("患者数", "Patients"), s.patients);
        println!("{}: {}", self.t("今日挂号", "Bookings today"), s.bookings_today);
        println!("{}: {}", self.t("待上传操作", "Ops waiting to be sent"), s.pending_ops);
        if let Some(t) = s.oldest_pending {
            println!("{}: {}", self.t("最早待上传", "Oldest waiting since"), t);
        }
        match &s.server {
            Some(url) => println!("{}: {}", self.t("平台", "Platform"), url),
            None => println!(
                "{}: {}",
                self.t("平台", "Platform"),
                self.t("未接入（离线使用）", "not enrolled (working offline)")
            ),
        }
        match s.last_sync {
            Some(t) => println!("{}: {}", self.t("上次同步", "Last sync"), t),
            None => println!("{}: {}", self.t("上次同步", "Last sync"), self.t("从未", "never")),
        }
    }
}
