//! Demo patients for the demo clinic: realistic names (polyphonic surnames included, so that
//! pinyin search shows what it can do) with valid resident ID numbers.

use frontdesk_domain::document::{Document, DocumentKind, Sex, check_character};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{PatientId, SiteId};
use jiff::civil::Date;

const NAMES: &[(&str, Sex)] = &[
    ("张三", Sex::Male),
    ("李娜", Sex::Female),
    ("王芳", Sex::Female),
    ("刘伟", Sex::Male),
    ("陈静", Sex::Female),
    ("杨洋", Sex::Male),
    ("赵丽", Sex::Female),
    ("黄磊", Sex::Male),
    ("周敏", Sex::Female),
    ("吴强", Sex::Male),
    ("徐婷", Sex::Female),
    ("孙浩", Sex::Male),
    ("马玉兰", Sex::Female),
    ("朱建华", Sex::Male),
    ("胡桂英", Sex::Female),
    ("郭志明", Sex::Male),
    ("何秀珍", Sex::Female),
    ("林小红", Sex::Female),
    ("罗国强", Sex::Male),
    ("高雪梅", Sex::Female),
    ("单雄信", Sex::Male),
    ("曾小贤", Sex::Male),
    ("解晓东", Sex::Male),
    ("欧阳娜娜", Sex::Female),
    ("司马光明", Sex::Male),
    ("区志坚", Sex::Male),
    ("仇晓梅", Sex::Female),
    ("朴美玲", Sex::Female),
    ("查良镛", Sex::Male),
    ("乐嘉怡", Sex::Female),
];

/// A valid 18-character resident ID number: region, birth date, sequence and check digit.
pub fn resident_id(region: &str, birth: Date, sequence: u16, sex: Sex) -> Option<String> {
    // The 17th digit is odd for men and even for women.
    let seq = (sequence % 500) * 2 + if sex == Sex::Male { 1 } else { 0 };
    let body = format!("{region}{}{seq:03}", birth.strftime("%Y%m%d"));
    let check = check_character(&body)?;
    Some(format!("{body}{check}"))
}

/// The demo patients, with ids stable across runs so desk and platform agree on them.
pub fn demo_patients(site: &SiteId, today: Date) -> Vec<Patient> {
    let regions = ["110101", "310104", "440106", "330106", "510107"];
    NAMES
        .iter()
        .enumerate()
        .filter_map(|(i, (name, sex))| {
            let years = 3 + (i as i16 * 7) % 80;
            let birth = Date::new(today.year() - years, (1 + i % 12) as i8, (1 + (i * 3) % 28) as i8).ok()?;
            let number = resident_id(regions[i % regions.len()], birth, i as u16 + 11, *sex)?;
            Some(Patient {
                id: PatientId(format!("{site}-patient-{:02}", i + 1)),
                site_id: site.clone(),
                name: (*name).to_string(),
                sex: Some(*sex),
                birth_date: Some(birth),
                document: Document { kind: DocumentKind::ResidentId, number },
                phone: Some(format!("1{}{:09}", [3, 5, 8, 9][i % 4], (123_456_789 + i * 7_919_311) % 1_000_000_000)),
                medical_card: Some(format!("{:010}", 2_026_000_000 + i)),
                ehealth_card: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use frontdesk_domain::document::validate_resident_id;
    use jiff::civil::date;

    #[test]
    fn demo_patients_have_valid_documents_and_phones() {
        let today = date(2026, 11, 21);
        let patients = demo_patients(&SiteId::from("demo"), today);
        assert_eq!(patients.len(), NAMES.len());
        for p in &patients {
            let id = validate_resident_id(&p.document.number, today).unwrap();
            assert_eq!(id.sex, p.sex, "{}", p.name);
            assert_eq!(Some(id.birth_date), p.birth_date);
            frontdesk_domain::document::validate_phone(p.phone.as_deref().unwrap()).unwrap();
        }
    }
}
