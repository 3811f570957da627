//! The demo clinic: the same departments, providers and week of sessions on the desk
//! (`frontdesk init --demo`) and on the platform (`frontdesk-central serve --demo`), so a new
//! user sees a living board at once.

use jiff::civil::{Date, time};

use crate::schedule::{
    Department, DepartmentId, Period, Provider, ProviderId, Session, SessionTemplate, Site, SiteId, Slot,
    TemplateError, expand_templates,
};

/// A whole demo clinic.
#[derive(Debug, Clone)]
pub struct DemoClinic {
    /// The site.
    pub site: Site,
    /// Its departments.
    pub departments: Vec<Department>,
    /// Its providers.
    pub providers: Vec<Provider>,
    /// Sessions with their slots.
    pub sessions: Vec<(Session, Vec<Slot>)>,
}

const ALL_WEEK: [i8; 7] = [1, 2, 3, 4, 5, 6, 7];

fn template(period: Period, start: (i8, i8), end: (i8, i8), per_slot: u32, desk: u32) -> SessionTemplate {
    SessionTemplate {
        weekdays: ALL_WEEK.to_vec(),
        period,
        start: time(start.0, start.1, 0, 0),
        end: time(end.0, end.1, 0, 0),
        slot_minutes: 30,
        per_slot,
        desk_per_slot: desk,
        room: None,
    }
}

/// The demo clinic with id `site_id`, sessions for `from` and the `days - 1` days after it.
pub fn demo_clinic(site_id: &str, from: Date, days: u16) -> Result<DemoClinic, TemplateError> {
    let site =
        Site {
            id: SiteId::from(site_id), name: "城东社区卫生服务中心".into(), timezone: "Asia/Shanghai".into()
        };
    let depts: [(&str, &str, &str); 5] = [
        ("NK", "内科", "Internal Medicine"),
        ("WK", "外科", "Surgery"),
        ("EK", "儿科", "Paediatrics"),
        ("FK", "妇科", "Gynaecology"),
        ("KQ", "口腔科", "Dentistry"),
    ];
    let departments: Vec<Department> = depts
        .iter()
        .map(|(code, name, en)| Department {
            id: DepartmentId(format!("{site_id}-{}", code.to_lowercase())),
            site_id: site.id.clone(),
            code: (*code).into(),
            name: (*name).into(),
            name_en: (*en).into(),
        })
        .collect();
    let people: [(usize, &str, &str, i64); 11] = [
        (0, "王建国", "主任医师", 5000),
        (0, "李秀英", "副主任医师", 3000),
        (0, "陈志强", "主治医师", 1500),
        (1, "刘洋", "主任医师", 5000),
        (1, "赵敏", "主治医师", 1500),
        (2, "孙丽", "副主任医师", 3000),
        (2, "周杰", "主治医师", 1500),
        (3, "吴桂芳", "主任医师", 5000),
        (3, "郑雪", "主治医师", 1500),
        (4, "冯磊", "副主任医师", 3000),
        (4, "单晓东", "主治医师", 1500),
    ];
    let mut providers = Vec::new();
    let mut per_dept = [0usize; 5];
    for (dept, name, title, fee) in people {
        per_dept[dept] += 1;
        let d = &departments[dept];
        providers.push(Provider {
            id: ProviderId(format!("{}-{}", d.id, per_dept[dept])),
            site_id: site.id.clone(),
            department_id: d.id.clone(),
            name: name.into(),
            title: title.into(),
            fee_fen: fee,
        });
    }
    let mut sessions = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let mut templates = vec![
            template(Period::Morning, (8, 0), (12, 0), 6, 2),
            template(Period::Afternoon, (13, 30), (17, 0), 4, 2),
        ];
        // The first provider of 内科 and 儿科 also sees patients in the evening.
        if i == 0 || i == 5 {
            templates.push(template(Period::Evening, (18, 0), (21, 0), 4, 2));
        }
        // Each provider has a consultation room of their own, numbered across the clinic.
        let room = u32::try_from(i + 1).ok();
        for t in &mut templates {
            t.room = room;
        }
        sessions.extend(expand_templates(p, &templates, from, days)?);
    }
    Ok(DemoClinic { site, departments, providers, sessions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn demo_has_five_departments_and_a_week_of_sessions() {
        let c = demo_clinic("demo", date(2026, 11, 21), 8).unwrap();
        assert_eq!(c.departments.len(), 5);
        assert_eq!(c.departments[0].name, "内科");
        assert_eq!(c.providers.len(), 11);
        // 11 providers × 2 sessions × 8 days + 2 evening providers × 8 days
        assert_eq!(c.sessions.len(), 11 * 2 * 8 + 2 * 8);
        let (first, slots) = &c.sessions[0];
        assert_eq!(first.date, date(2026, 11, 21));
        assert_eq!(slots.len(), 8);
        assert_eq!(slots[0].desk_capacity, 2);
    }
}
