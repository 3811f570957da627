//! Made-up but realistic data for previews, demos and benchmarks: a ticket, a notice and a
//! clinic's day.

use frontdesk_domain::Lang;

use crate::notice::NoticeData;
use crate::sheet::{
    BookingStatus, Period, SheetBooking, SheetData, SheetDepartment, SheetProvider, SheetSession, SheetSlot,
};
use crate::ticket::{Channel, TicketData};

/// A sample ticket (patient 张三丰, printed as 张*丰).
pub fn sample_ticket(lang: Lang, confirmed: bool) -> TicketData {
    TicketData {
        site_name: "阳光社区卫生服务中心".into(),
        department_name: "内科".into(),
        provider_name: "王建国".into(),
        provider_title: "主任医师".into(),
        date: "2025-03-14".into(),
        time_window: "08:30–09:00".into(),
        queue_number: 12,
        patient_name: "张三丰".into(),
        ticket_code: "FD7K2M9QX4RT8".into(),
        channel: Channel::Desk,
        printed_at: "2025-03-14 08:12".into(),
        confirmed,
        lang,
    }
}

/// A sample notice for a booking given up after a sync conflict (patient 张三丰, printed as
/// 张*丰).
pub fn sample_notice(lang: Lang) -> NoticeData {
    NoticeData {
        site_name: "阳光社区卫生服务中心".into(),
        title: NoticeData::default_title(lang).into(),
        patient_name: "张三丰".into(),
        date: "2025-03-14".into(),
        time_window: "08:30–09:00".into(),
        department_name: lang.pick("内科", "Internal Medicine").into(),
        provider_name: "王建国".into(),
        provider_title: "主任医师".into(),
        reason: lang.pick("号源已满", "Slot full").into(),
        explanation: lang
            .pick(
                "本机离线时挂的这个号，平台上已被其他窗口或线上预约占满。",
                "While this desk was offline, the slot was filled by other desks or online bookings.",
            )
            .into(),
        next_steps: NoticeData::default_next_steps(lang).into(),
        reference: "12".into(),
        printed_at: "2025-03-14 09:05".into(),
        lang,
    }
}

const SURNAMES: &[&str] = &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "欧阳", "周", "吴", "徐"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"];

/// A day with exactly `bookings` bookings spread over 4 departments, 2–3 providers each,
/// morning and afternoon sessions of six half-hour slots (capacity 6, more if needed); one
/// session suspended, a few bookings cancelled or not yet confirmed.
pub fn sample_sheet(lang: Lang, bookings: usize) -> SheetData {
    let departments = [("内科", "NK"), ("儿科", "EK"), ("妇产科", "FCK"), ("中医康复科", "ZY")];
    let providers = [("王建国", "主任医师"), ("李秀兰", "副主任医师"), ("陈思远", "主治医师")];
    let slots_total: usize = (0..departments.len()).map(|di| (2 + di % 2) * 2 * 6).sum();
    let capacity = bookings.div_ceil(slots_total).max(6);
    let mut left = bookings;
    let mut n = 0usize;
    let mut slot_no = 0usize;
    let mut deps = Vec::new();
    for (di, (dname, code)) in departments.iter().enumerate() {
        let mut provs = Vec::new();
        for (pi, (pname, title)) in providers.iter().enumerate().take(2 + di % 2) {
            let mut sessions = Vec::new();
            for (period, start) in [(Period::Morning, 8), (Period::Afternoon, 14)] {
                let mut slots = Vec::new();
                for k in 0..6 {
                    // Spread what is left evenly over the slots still to come.
                    let take = left.div_ceil(slots_total - slot_no).min(capacity);
                    slot_no += 1;
                    let mut rows = Vec::new();
                    for q in 0..take {
                        n += 1;
                        rows.push(SheetBooking {
                            queue_number: (k * capacity + q + 1) as u32,
                            patient_name: format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN[n % GIVEN.len()]),
                            channel: [Channel::Desk, Channel::Online, Channel::Phone][n % 3],
                            status: if n.is_multiple_of(29) {
                                BookingStatus::Cancelled
                            } else {
                                [
                                    BookingStatus::Booked,
                                    BookingStatus::CheckedIn,
                                    BookingStatus::Done,
                                    BookingStatus::NoShow,
                                ][n % 4]
                            },
                            confirmed: !n.is_multiple_of(17),
                        });
                    }
                    left -= take;
                    // A cancellation frees its number again.
                    let mut free: Vec<u32> =
                        rows.iter().filter(|b| b.status == BookingStatus::Cancelled).map(|b| b.queue_number).collect();
                    free.extend((take..capacity).map(|q| (k * capacity + q + 1) as u32));
                    let h = start + k / 2;
                    let time_window = if k % 2 == 0 {
                        format!("{h:02}:00–{h:02}:30")
                    } else {
                        format!("{h:02}:30–{:02}:00", h + 1)
                    };
                    slots.push(SheetSlot {
                        time_window,
                        capacity: capacity as u32,
                        bookings: rows,
                        free_numbers: free,
                    });
                }
                sessions.push(SheetSession {
                    period,
                    suspended: di == 3 && pi == 1 && period == Period::Afternoon,
                    slots,
                });
            }
            provs.push(SheetProvider { name: pname.to_string(), title: title.to_string(), sessions });
        }
        deps.push(SheetDepartment { name: dname.to_string(), code: Some(code.to_string()), providers: provs });
    }
    SheetData {
        site_name: "阳光社区卫生服务中心".into(),
        date: "2025-03-14".into(),
        printed_by: "李护士".into(),
        printed_at: "2025-03-14 07:55".into(),
        lang,
        departments: deps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sheet_has_exactly_the_bookings_asked_for() {
        for n in [0, 1, 40, 300, 500, 1000] {
            let s = sample_sheet(Lang::Zh, n);
            let rows: usize = s
                .departments
                .iter()
                .flat_map(|d| &d.providers)
                .flat_map(|p| &p.sessions)
                .flat_map(|x| &x.slots)
                .map(|x| x.bookings.len())
                .sum();
            assert_eq!(rows, n);
        }
    }
}
