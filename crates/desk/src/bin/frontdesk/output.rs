//! What the CLI prints: text for people (zh-CN or en), or JSON with `--json`. Results go to
//! stdout, errors to stderr.

use std::cell::RefCell;

use frontdesk_desk::staff::{Role, Staff};
use frontdesk_desk::sync::{ConflictEntry, CycleReport, LeaseReport, ResolutionOutcome, SyncError, SyncStatus};
use frontdesk_desk::{
    Board, BookingView, DemoSeeded, DeskError, DeskStatus, DeviceInfo, LeaseEntry, LeaseState, LeaseStatus,
    OutboxEntry, QueueActOutcome, QueueEntryView, ScanOutcome, SessionQueueView, WaitingRoom,
};
use frontdesk_domain::Lang;
use frontdesk_domain::booking::Suggestion;
use frontdesk_domain::names::mask_name;
use frontdesk_domain::patient::Patient;
use frontdesk_domain::queue::{QueueAction, QueueState};
use frontdesk_domain::schedule::{Provider, Session, SessionStatus, Site};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Serialize;

/// `println!` that ends the program quietly when stdout is gone (e.g. piped into `head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

pub struct Out {
    pub json: bool,
    pub lang: Lang,
    /// A line that explains a refusal further (the suggested slot), printed with the error.
    pub hint: RefCell<Option<(String, serde_json::Value)>>,
}

fn hm(t: jiff::civil::Time) -> String {
    t.strftime("%H:%M").to_string()
}

/// An instant as the site's wall clock shows it (the system's zone without a site).
fn at(t: Timestamp, site: Option<&Site>) -> String {
    let tz = site.and_then(|s| TimeZone::get(&s.timezone).ok()).unwrap_or_else(TimeZone::system);
    t.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string()
}

impl Out {
    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => outln!("{s}"),
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
            if let Some((line, s)) = hint.as_ref() {
                if s.is_null() {
                    v["error"]["hint"] = serde_json::Value::String(line.clone());
                } else {
                    v["error"]["suggestion"] = s.clone();
                }
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

    /// A line printed under the error (what to do about it).
    pub fn set_hint(&self, line: &str) {
        *self.hint.borrow_mut() = Some((line.to_string(), serde_json::Value::Null));
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
        outln!("{}: {}", self.t("本机设备号", "Device"), device.device_id);
        if let Some(site) = &status.site {
            outln!("{}: {} ({})", self.t("院区", "Site"), site.name, site.id);
        }
        if let Some(s) = seeded {
            outln!(
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
        outln!("{}  {}", site.name, board.date);
        if board.departments.is_empty() {
            outln!("{}", self.t("当天没有出诊安排", "No sessions that day"));
        }
        for d in &board.departments {
            let name = if self.lang == Lang::Zh { &d.department.name } else { &d.department.name_en };
            outln!("\n{} [{}]", name, d.department.code);
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
                    let guaranteed = if s.guaranteed > 0 {
                        format!("  {} {}", self.t("本机保留", "reserved here"), s.guaranteed)
                    } else {
                        String::new()
                    };
                    outln!(
                        "  {} {}  {}  {} {}  {} {}  {} {}{}{}",
                        p.provider.name,
                        p.provider.title,
                        s.session.period.label(self.lang),
                        self.t("窗口余", "desk left"),
                        s.remaining_desk,
                        self.t("线上余", "online left"),
                        s.remaining_online,
                        self.t("已挂", "booked"),
                        s.booked,
                        guaranteed,
                        state
                    );
                    for slot in &s.slots {
                        if slot.ended && !all {
                            continue;
                        }
                        let past = if slot.ended { self.t(" 已结束", " ended") } else { "" };
                        let mut leases = String::new();
                        if slot.guaranteed > 0 {
                            leases.push_str(&format!("  {} {}", self.t("本机保留", "reserved here"), slot.guaranteed));
                        }
                        if slot.leased_elsewhere > 0 {
                            leases.push_str(&format!(
                                "  {} {}",
                                self.t("他机保留", "reserved elsewhere"),
                                slot.leased_elsewhere
                            ));
                        }
                        outln!(
                            "      {}–{}  {} {}/{}  {} {}/{}{}  {}{}",
                            hm(slot.slot.start),
                            hm(slot.slot.end),
                            self.t("窗口", "desk"),
                            slot.remaining_desk,
                            slot.slot.desk_capacity,
                            self.t("线上", "online"),
                            slot.remaining_online,
                            slot.slot.online_capacity,
                            leases,
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
        outln!("{}: {}  {}", self.t("已建档", "Registered"), p.name, p.id);
        self.patient_line(p);
    }

    fn patient_line(&self, p: &Patient) {
        let sex = p.sex.map(|s| s.label(self.lang)).unwrap_or("-");
        let birth = p.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        outln!(
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
            outln!("{}", self.t("没有找到患者", "No patient found"));
        }
        for p in found {
            self.patient_line(p);
        }
    }

    fn booking_lines(&self, v: &BookingView) {
        outln!("  {}: {}", self.t("挂号号", "Booking"), v.booking.id);
        outln!("  {}: {}", self.t("就诊序号", "Queue number"), v.booking.queue_no);
        outln!("  {}: {}", self.t("挂号单号", "Ticket code"), v.booking.ticket_code);
        outln!(
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
        outln!("  {}: {}", self.t("状态", "Status"), v.booking.status.label(self.lang));
        if !v.guaranteed {
            outln!("  {}", self.t("（待平台确认）", "(not yet confirmed by the platform)"));
        } else if !v.confirmed {
            outln!(
                "  {}",
                self.t("（本机保留号，已保证；平台确认待同步）", "(guaranteed: from this desk's reserved numbers)")
            );
        }
    }

    pub fn booked(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        outln!("{}", self.t("挂号成功", "Booked"));
        self.booking_lines(v);
    }

    pub fn booked_and_printed(&self, v: &BookingView, printed: Option<&frontdesk_desk::Printed>) {
        if self.json {
            let mut value = serde_json::to_value(v).unwrap_or_default();
            value["printed"] = serde_json::to_value(printed).unwrap_or_default();
            self.json(&value);
            return;
        }
        self.booked(v);
        if let Some(p) = printed {
            self.printed(p);
        }
    }

    pub fn cancelled(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        outln!("{}", self.t("已取消挂号", "Booking cancelled"));
        self.booking_lines(v);
    }

    pub fn session_changed(&self, s: &Session) {
        if self.json {
            self.json(s);
            return;
        }
        match (s.status, &s.status_reason) {
            (SessionStatus::Suspended, Some(reason)) => {
                outln!("{} {} {}: {reason}", self.t("已停诊", "Suspended"), s.date, s.id);
            }
            _ => outln!("{} {} {}", self.t("已恢复出诊", "Open again"), s.date, s.id),
        }
    }

    pub fn staff(&self, staff: &[Staff]) {
        if self.json {
            self.json(&staff);
            return;
        }
        for m in staff {
            let role = match m.role {
                Role::Admin => self.t("管理员", "admin"),
                Role::Nurse => self.t("护士", "nurse"),
            };
            outln!("{:<12} {:<10} {role}", m.id, m.display_name);
        }
    }

    pub fn checked_in(&self, v: &BookingView) {
        if self.json {
            self.json(v);
            return;
        }
        outln!("{}", self.t("签到成功", "Checked in"));
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
        outln!("{}: {}  {}", self.t("识别为", "Recognised as"), kind, s.value);
        match &s.patient {
            Some(p) => self.patient_line(p),
            None => outln!("  {}", self.t("本机没有该患者，可新建档案", "No patient with it here yet: register one")),
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
            outln!("{}", self.t("没有待上传的操作", "Nothing waiting to be sent"));
        }
        for e in entries {
            outln!("  #{:<5} {:<16} {}  {}  {}", e.seq, e.kind, e.subject, e.envelope.staff_id, e.created_at);
        }
    }

    pub fn status(&self, s: &DeskStatus, sync: &SyncStatus) {
        if self.json {
            self.json(&serde_json::json!({ "desk": s, "sync": sync }));
            return;
        }
        outln!("{}: {}", self.t("设备", "Device"), s.device.device_id);
        match &s.site {
            Some(site) => outln!("{}: {} ({})", self.t("院区", "Site"), site.name, site.id),
            None => outln!("{}: -", self.t("院区", "Site")),
        }
        outln!("{}: {}", self.t("值班人员", "Staff"), s.device.staff_id);
        match &s.key_file {
            // Said once, here: where there is no keychain the key sits beside the data.
            Some(f) => outln!(
                "{}: {}",
                self.t("数据加密", "Encryption"),
                match self.lang {
                    Lang::Zh => format!("已加密；没有系统钥匙串，密钥保存在仅本机所有者可读的文件 {}", f.display()),
                    Lang::En =>
                        format!("on; no keychain here, so the key is in {} (readable by its owner only)", f.display()),
                }
            ),
            None => outln!(
                "{}: {}",
                self.t("数据加密", "Encryption"),
                self.t("已加密，密钥在系统钥匙串中", "on, key in the keychain")
            ),
        }
        outln!("{}: {}", self.t("患者数", "Patients"), s.patients);
        outln!("{}: {}", self.t("今日挂号", "Bookings today"), s.bookings_today);
        outln!("{}: {}", self.t("待上传操作", "Ops waiting to be sent"), s.pending_ops);
        if let Some(t) = s.oldest_pending {
            outln!("{}: {}", self.t("最早待上传", "Oldest waiting since"), t);
        }
        match &s.server {
            Some(url) => outln!("{}: {}", self.t("平台", "Platform"), url),
            None => outln!(
                "{}: {}",
                self.t("平台", "Platform"),
                self.t("未接入（离线使用）", "not enrolled (working offline)")
            ),
        }
        match s.last_sync {
            Some(t) => outln!("{}: {}", self.t("上次同步", "Last sync"), t),
            None => outln!("{}: {}", self.t("上次同步", "Last sync"), self.t("从未", "never")),
        }
        let online = match sync.online {
            Some(true) => self.t("在线", "online"),
            Some(false) => self.t("离线", "offline"),
            None => self.t("未同步过", "not synced yet"),
        };
        outln!("{}: {}", self.t("连接", "Connection"), online);
        if let Some(e) = &sync.last_error {
            outln!("{}: {}", self.t("上次错误", "Last error"), e);
        }
        if let Some(age) = sync.oldest_pending_secs {
            outln!("{}: {} s", self.t("最早待上传已等待", "Oldest waiting op age"), age);
        }
        outln!("{}: {}", self.t("待处理冲突", "Open conflicts"), sync.open_conflicts);
        if sync.open_notices > 0 {
            outln!(
                "{}: {}",
                self.t("未读通知（叫号未生效等）", "Unread notices (calls not made, …)"),
                sync.open_notices
            );
        }
        self.lease_summary(&s.leases, s.site.as_ref());
    }

    /// The lease lines of `status` and `leases`: totals, then one line per session.
    fn lease_summary(&self, l: &LeaseStatus, site: Option<&Site>) {
        let label = self.t("保留号", "Reserved numbers");
        if l.policy.is_none() {
            outln!("{label}: {}", self.t("本院区未启用", "not used at this site"));
            return;
        }
        let next = l.next_deadline.map(|t| match self.lang {
            Lang::Zh => format!("；最近期限 {}", at(t, site)),
            Lang::En => format!("; next deadline {}", at(t, site)),
        });
        outln!(
            "{label}: {}{}",
            match self.lang {
                Lang::Zh =>
                    format!("可用 {}（1 小时内到期 {}），已用 {}，不可用 {}", l.held, l.expiring, l.spent, l.unusable),
                Lang::En => format!(
                    "{} held ({} expiring within 1 h), {} spent, {} unusable",
                    l.held, l.expiring, l.spent, l.unusable
                ),
            },
            next.unwrap_or_default()
        );
        // Sessions where this desk holds or spent numbers; the others only as a count.
        for s in l.sessions.iter().filter(|s| s.held + s.spent + s.unusable > 0) {
            let top_up = if s.wants_top_up { self.t("  【待补充】", "  [top-up due]") } else { "" };
            outln!(
                "  {} {} {}  {}{}  ({})",
                s.date,
                s.period.label(self.lang),
                s.provider_name,
                match self.lang {
                    Lang::Zh => format!(
                        "可用 {}（1 小时内到期 {}），已用 {}，不可用 {}",
                        s.held, s.expiring, s.spent, s.unusable
                    ),
                    Lang::En =>
                        format!("{} held ({} expiring), {} spent, {} unusable", s.held, s.expiring, s.spent, s.unusable),
                },
                top_up,
                s.session_id
            );
        }
        let wanting = l.sessions.iter().filter(|s| s.wants_top_up).count();
        if wanting > 0 {
            outln!(
                "  {}",
                match self.lang {
                    Lang::Zh => format!("{wanting} 个出诊时段低于补充线，联网时自动向平台申请"),
                    Lang::En => format!("{wanting} sessions below low water: more are asked for when online"),
                }
            );
        }
    }

    /// `frontdesk leases`: the totals and every number leased to this desk.
    pub fn leases(&self, status: &LeaseStatus, entries: &[LeaseEntry], site: Option<&Site>) {
        if self.json {
            self.json(&serde_json::json!({ "status": status, "leases": entries }));
            return;
        }
        self.lease_summary(status, site);
        if status.policy.is_some() && entries.is_empty() {
            outln!("{}", self.t("本机目前没有保留号", "This desk holds no reserved numbers now"));
        }
        for e in entries {
            // The deadline matters only while the number could still be spent.
            let until = match (e.state, e.usable_until) {
                (LeaseState::Usable | LeaseState::Closed, Some(t)) => {
                    format!("  {} {}", self.t("可用至", "usable until"), at(t, site))
                }
                _ => String::new(),
            };
            let expiring = if e.expiring { self.t("  【即将到期】", "  [expiring]") } else { "" };
            outln!(
                "  {} {}–{}  {} {}  {} {:>3}  {}{}{}",
                e.date,
                hm(e.start),
                hm(e.end),
                e.department_code,
                e.provider_name,
                self.t("号", "no."),
                e.queue_no,
                e.state.label(self.lang),
                until,
                expiring
            );
        }
    }

    /// `frontdesk leases top-up`.
    pub fn leases_requested(&self, r: &LeaseReport, status: &LeaseStatus, entries: &[LeaseEntry], site: Option<&Site>) {
        if self.json {
            self.json(&serde_json::json!({ "request": r, "status": status, "leases": entries }));
            return;
        }
        outln!(
            "{}",
            match self.lang {
                Lang::Zh => format!("平台新分配保留号 {} 个，收回 {} 个", r.granted, r.returned),
                Lang::En => format!("The platform leased {} more numbers and took {} back", r.granted, r.returned),
            }
        );
        self.leases(status, entries, site);
    }

    /// `frontdesk leases return`: what was given back, and whether the platform has heard.
    pub fn leases_returned(
        &self,
        given: &[u32],
        sent: &Result<LeaseReport, String>,
        status: &LeaseStatus,
        entries: &[LeaseEntry],
        site: Option<&Site>,
    ) {
        if self.json {
            let (report, error) = match sent {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e)),
            };
            self.json(&serde_json::json!({
                "given_back": given,
                "sent": report.is_some_and(|r| r.sent),
                "report": report,
                "error": error,
                "status": status,
                "leases": entries,
            }));
            return;
        }
        if given.is_empty() {
            outln!(
                "{}",
                self.t("该出诊时段没有可归还的保留号", "No unspent reserved numbers to give back in that session")
            );
        } else {
            let list: Vec<String> = given.iter().map(u32::to_string).collect();
            outln!("{}: {}", self.t("已归还保留号", "Reserved numbers given back"), list.join(", "));
            match sent {
                Ok(r) if r.sent => outln!(
                    "{}",
                    match self.lang {
                        Lang::Zh => format!("平台已收回 {} 个", r.returned),
                        Lang::En => format!("The platform took {} back", r.returned),
                    }
                ),
                Ok(_) => {}
                Err(e) => outln!(
                    "{}",
                    match self.lang {
                        Lang::Zh => format!("暂未通知平台，下次同步时发送（{e}）"),
                        Lang::En => format!("Not sent yet: it goes with the next sync ({e})"),
                    }
                ),
            }
        }
        self.leases(status, entries, site);
    }

    pub fn saved(&self, file: &std::path::Path, bytes: usize) {
        if self.json {
            self.json(&serde_json::json!({ "file": file, "bytes": bytes }));
            return;
        }
        outln!("{}: {} ({} KB)", self.t("已保存", "Saved"), file.display(), bytes.div_ceil(1024));
    }

    /// An announcement rendered to a WAV file.
    pub fn announced(&self, r: &frontdesk_desk::voice::Rendered, file: &std::path::Path) {
        if self.json {
            self.json(&serde_json::json!({ "file": file, "millis": r.millis, "clips": r.sources }));
            return;
        }
        let clips: Vec<&str> = r.sources.iter().map(|s| s.clip.as_str()).collect();
        outln!(
            "{}: {} ({:.1} s, {} {})",
            self.t("叫号语音", "Announcement"),
            file.display(),
            r.millis as f64 / 1000.0,
            clips.len(),
            self.t("段", "clips")
        );
        outln!("  {}", clips.join(" "));
        for s in r.sources.iter().filter(|s| s.file.is_some()) {
            if let Some(f) = &s.file {
                outln!("  {} {} ← {}", self.t("本院录音", "site recording"), s.clip, f.display());
            }
        }
    }

    pub fn printed(&self, p: &frontdesk_desk::Printed) {
        if self.json {
            self.json(p);
            return;
        }
        let what = if p.reprint { self.t("已补打", "Reprinted") } else { self.t("已打印", "Printed") };
        match &p.file {
            Some(f) => outln!("{what}: {} ({})", p.printer, f.display()),
            None => outln!("{what}: {}", p.printer),
        }
    }

    pub fn settings(&self, s: &frontdesk_desk::PrintSettings) {
        if self.json {
            self.json(s);
            return;
        }
        outln!(
            "{}: {}",
            self.t("打印机", "Printer"),
            s.printer.as_deref().unwrap_or(self.t("系统默认打印机 (cups)", "the system's default printer (cups)"))
        );
        outln!("{}: {} mm", self.t("小票宽度", "Ticket width"), s.ticket_width_mm);
    }

    pub fn enrolled(&self, s: &DeskStatus) {
        if self.json {
            self.json(s);
            return;
        }
        outln!(
            "{}: {} ({})",
            self.t("已接入平台", "Enrolled with"),
            s.server.as_deref().unwrap_or("-"),
            s.site.as_ref().map(|x| x.name.as_str()).unwrap_or("-")
        );
        outln!("{}: {}", self.t("设备", "Device"), s.device.device_id);
    }

    pub fn cycle(&self, r: &Result<CycleReport, SyncError>) {
        match r {
            Ok(r) if self.json => self.json(r),
            Ok(r) => {
                outln!(
                    "{}",
                    match self.lang {
                        Lang::Zh => format!(
                            "同步完成：上传 {} 次，平台接受 {} 个操作，冲突 {} 个；拉取 {} 页共 {} 条变更",
                            r.pushes, r.applied, r.conflicts, r.pages, r.changes
                        ),
                        Lang::En => format!(
                            "Synced: {} pushes, {} ops applied, {} conflicts; {} pages with {} changes pulled",
                            r.pushes, r.applied, r.conflicts, r.pages, r.changes
                        ),
                    }
                );
                if r.notices > 0 {
                    outln!(
                        "{}",
                        match self.lang {
                            Lang::Zh => format!(
                                "{} 个叫号等队列操作未生效（队列已变化），详见 frontdesk conflicts list",
                                r.notices
                            ),
                            Lang::En => format!(
                                "{} calls or other queue actions were not made (the queue changed): see frontdesk conflicts list",
                                r.notices
                            ),
                        }
                    );
                }
                if r.leases_granted + r.leases_returned > 0 {
                    outln!(
                        "{}",
                        match self.lang {
                            Lang::Zh =>
                                format!("保留号：新分配 {} 个，收回 {} 个", r.leases_granted, r.leases_returned),
                            Lang::En => format!(
                                "Reserved numbers: {} leased, {} taken back",
                                r.leases_granted, r.leases_returned
                            ),
                        }
                    );
                }
                if let Some(e) = &r.lease_error {
                    eprintln!(
                        "{}",
                        match self.lang {
                            Lang::Zh => format!("保留号请求未成功，下次同步再试：{e}"),
                            Lang::En => format!("The reserved-number request failed; retried next sync: {e}"),
                        }
                    );
                }
            }
            Err(e) => eprintln!("{}", e.message(self.lang)),
        }
    }

    fn queue_state(&self, s: QueueState) -> &'static str {
        match s {
            QueueState::Waiting => self.t("候诊", "waiting"),
            QueueState::Called => self.t("叫号中", "called"),
            QueueState::Seen => self.t("已就诊", "seen"),
            QueueState::NoShow => self.t("过号未到", "no-show"),
        }
    }

    fn unconfirmed(&self, e: &QueueEntryView) -> &'static str {
        if e.predicted { self.t("  （待平台确认）", "  (not yet confirmed)") } else { "" }
    }

    fn number(&self, n: u32) -> String {
        match self.lang {
            Lang::Zh => format!("{n} 号"),
            Lang::En => format!("No. {n}"),
        }
    }

    fn room(&self, room: Option<u32>) -> String {
        match (room, self.lang) {
            (Some(r), Lang::Zh) => format!("{r} 诊室"),
            (Some(r), Lang::En) => format!("room {r}"),
            (None, _) => String::new(),
        }
    }

    fn queue_text(&self, q: &SessionQueueView) {
        let dept = if self.lang == Lang::Zh { &q.department_name } else { &q.department_name_en };
        outln!(
            "{} [{}]  {} {}  {} {}  {}  ({})",
            dept,
            q.department_code,
            q.provider_name,
            q.provider_title,
            q.date,
            q.period.label(self.lang),
            self.room(q.room),
            q.session_id
        );
        match &q.called {
            Some(c) => outln!(
                "  {}: {}  {}  {}{}",
                self.t("叫号中", "Calling"),
                self.number(c.queue_no),
                c.patient_name_masked,
                match self.lang {
                    Lang::Zh => format!("第 {} 次", c.calls),
                    Lang::En => format!("call {}", c.calls),
                },
                self.unconfirmed(c)
            ),
            None => outln!("  {}: -", self.t("叫号中", "Calling")),
        }
        outln!("  {} ({}):", self.t("候诊", "Waiting"), q.waiting.len());
        for w in &q.waiting {
            let calls = if w.calls > 0 {
                match self.lang {
                    Lang::Zh => format!("  已叫 {} 次", w.calls),
                    Lang::En => format!("  called {}×", w.calls),
                }
            } else {
                String::new()
            };
            outln!(
                "    {:<8} {:<6} {}{}{}",
                self.number(w.queue_no),
                w.patient_name_masked,
                w.ticket_code.as_ref().map(|c| c.as_str()).unwrap_or("-"),
                calls,
                self.unconfirmed(w)
            );
        }
        if !q.done.is_empty() {
            let done: Vec<String> = q
                .done
                .iter()
                .map(|d| {
                    format!("{} {} ({})", self.number(d.queue_no), d.patient_name_masked, self.queue_state(d.state))
                })
                .collect();
            outln!("  {}: {}", self.t("已完成", "Done"), done.join(", "));
        }
        for n in &q.notices {
            outln!("  ! #{} {}: {}", n.conflict_id, n.title(self.lang), n.message(self.lang));
        }
    }

    /// `frontdesk queue --session S`.
    pub fn queue(&self, q: &SessionQueueView) {
        if self.json {
            self.json(q);
            return;
        }
        self.queue_text(q);
    }

    /// `frontdesk queue [--dept D]`.
    pub fn queues(&self, list: &[SessionQueueView], one_department: bool) {
        if self.json {
            self.json(&list);
            return;
        }
        if list.is_empty() {
            outln!(
                "{}",
                if one_department {
                    self.t("该科室当天没有出诊", "No sessions of this department that day")
                } else {
                    self.t("当天还没有患者签到候诊", "Nobody has checked in that day yet")
                }
            );
        }
        for (i, q) in list.iter().enumerate() {
            if i > 0 {
                outln!();
            }
            self.queue_text(q);
        }
    }

    /// `frontdesk queue call|recall|skip|seen|to-end|call-next`: what happened, then the queue.
    pub fn queue_acted(&self, o: &QueueActOutcome, q: &SessionQueueView) {
        if self.json {
            self.json(o);
            return;
        }
        let acted = o.changed.first();
        let who = acted.map(|e| format!("{} {}", self.number(e.queue_no), e.patient_name_masked)).unwrap_or_default();
        let what = match o.action {
            QueueAction::Call => self.t("已叫号", "Called"),
            QueueAction::Recall => self.t("已重呼", "Called again"),
            QueueAction::Skip => match acted.map(|e| e.state) {
                Some(QueueState::NoShow) => {
                    self.t("已过号（多次呼叫未到，记为未到）", "Skipped (no answer after the last call: no-show)")
                }
                _ => self.t("已过号，稍后再叫", "Skipped: waiting again a few places on"),
            },
            QueueAction::Seen => self.t("已就诊", "Seen"),
            QueueAction::ToEnd => self.t("已移到队尾", "Moved to the end"),
        };
        outln!("{what}: {who}{}", acted.map(|e| self.unconfirmed(e)).unwrap_or(""));
        if let Some(c) = &o.call {
            let dept = if self.lang == Lang::Zh { &q.department_name } else { &q.department_name_en };
            outln!(
                "  {}",
                match self.lang {
                    Lang::Zh => format!(
                        "广播（第 {} 次）：请 {} 号 到 {}{}",
                        c.call,
                        c.queue_no,
                        dept,
                        c.room.map(|r| format!(" {r} 诊室")).unwrap_or_default()
                    ),
                    Lang::En => format!(
                        "Announced (call {}): number {}, please go to {}{}",
                        c.call,
                        c.queue_no,
                        dept,
                        c.room.map(|r| format!(", room {r}")).unwrap_or_default()
                    ),
                }
            );
        }
        self.queue_text(q);
    }

    /// `frontdesk queue display`: the waiting-room screen as text.
    pub fn waiting_room(&self, w: &WaitingRoom) {
        if self.json {
            self.json(w);
            return;
        }
        outln!("{}  {}", self.t("候诊大屏", "Waiting room"), w.date);
        if w.rooms.is_empty() {
            outln!("{}", self.t("当天还没有患者签到候诊", "Nobody has checked in that day yet"));
        }
        for r in &w.rooms {
            let dept = if self.lang == Lang::Zh { &r.department_name } else { &r.department_name_en };
            let calling = r
                .calling
                .as_ref()
                .map(|c| format!("{} {}", self.number(c.queue_no), c.patient_name_masked))
                .unwrap_or_else(|| "-".into());
            let next: Vec<String> =
                r.next.iter().map(|n| format!("{} {}", self.number(n.queue_no), n.patient_name_masked)).collect();
            outln!(
                "{} {} {} {}  {}: {}  {}: {}  ({} {})",
                dept,
                self.room(r.room),
                r.provider_name,
                r.period.label(self.lang),
                self.t("请", "now"),
                calling,
                self.t("下一位", "next"),
                if next.is_empty() { "-".to_string() } else { next.join(", ") },
                self.t("候诊", "waiting"),
                r.waiting
            );
        }
    }

    pub fn conflicts(&self, list: &[ConflictEntry]) {
        if self.json {
            self.json(&list);
            return;
        }
        if list.is_empty() {
            outln!("{}", self.t("冲突收件箱为空", "The conflict inbox is empty"));
        }
        for c in list {
            let notice = if c.informational { self.t("【通知】", "[notice] ") } else { "" };
            outln!(
                "#{}  {notice}[{}] {}  {}",
                c.id,
                c.reason,
                c.title,
                c.patient_name.as_deref().map(mask_name).unwrap_or_default()
            );
            outln!("    {}", c.explanation);
            if c.informational && c.resolution.is_none() {
                outln!(
                    "    {}",
                    match self.lang {
                        Lang::Zh => format!("无需处理；知悉后可关闭：frontdesk conflicts resolve {} --ack", c.id),
                        Lang::En =>
                            format!("Nothing to resolve; dismiss it with: frontdesk conflicts resolve {} --ack", c.id),
                    }
                );
            }
            for s in &c.suggestions {
                outln!(
                    "    {} {} {} {}–{}  ({} {})",
                    self.t("可改约", "rebook into"),
                    s.slot_id,
                    s.date,
                    hm(s.start),
                    hm(s.end),
                    s.remaining,
                    self.t("个余号", "left")
                );
            }
            if let Some(r) = &c.resolution {
                outln!("    {}: {}", self.t("已处理", "resolved"), r);
            }
        }
    }

    pub fn resolved(&self, r: &ResolutionOutcome) {
        if self.json {
            self.json(r);
            return;
        }
        outln!("{}", self.t("冲突已处理", "Conflict resolved"));
        if let Some(b) = &r.booking {
            self.booking_lines(b);
        }
        if let Some(n) = &r.notice {
            outln!("{}\n  {n}", self.t("请交给患者的通知：", "Notice for the patient:"));
        }
    }

    /// A resolution and, when the notice was printed, where it went (a failed print is
    /// reported as the error).
    pub fn resolved_and_printed(&self, r: &ResolutionOutcome, printed: Option<&frontdesk_desk::Printed>) {
        if self.json {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            value["printed"] = serde_json::to_value(printed).unwrap_or_default();
            self.json(&value);
            return;
        }
        self.resolved(r);
        if let Some(p) = printed {
            self.printed(p);
        }
    }
}
