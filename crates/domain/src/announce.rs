//! What the waiting room hears when a patient is called: the sequence of recorded clips that
//! says "请 12 号 到 内科 3 诊室" (and, when a site wants it, "Number twelve, please go to
//! Internal Medicine, room three"). Announcements are assembled from short clips — a chime,
//! digits and number words, a few words, one clip per department — so they need no speech
//! synthesis on the machine; a site may replace any clip with its own recording of the same
//! name. Patients' names are shown on the display, never spoken.

use serde::{Deserialize, Serialize};

/// A clip, by name: the file `<name>.wav` in the clip folder (`zh/…`, `en/…`, or shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Clip(pub String);

impl Clip {
    fn zh(name: &str) -> Clip {
        Clip(format!("zh/{name}"))
    }

    fn en(name: &str) -> Clip {
        Clip(format!("en/{name}"))
    }
}

/// The languages an announcement is made in, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Voices {
    /// Mandarin only.
    Mandarin,
    /// Mandarin, then English.
    MandarinThenEnglish,
}

/// One call to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement<'a> {
    /// The queue number called.
    pub queue_no: u32,
    /// The department's code (`NK`): its clip is `zh/dept_NK` / `en/dept_NK`.
    pub department_code: &'a str,
    /// The consultation room's number, when the session has one.
    pub room: Option<u32>,
}

/// The clips that say `a`, a chime first.
pub fn clips(a: &Announcement<'_>, voices: Voices) -> Vec<Clip> {
    let mut out = vec![Clip("chime".into())];
    // 请 12 号 到 内科 3 诊室
    out.push(Clip::zh("qing"));
    out.extend(zh_number(a.queue_no).into_iter().map(Clip::zh));
    out.push(Clip::zh("hao"));
    out.push(Clip::zh("dao"));
    out.push(Clip::zh(&format!("dept_{}", a.department_code)));
    if let Some(room) = a.room {
        out.extend(zh_number(room).into_iter().map(Clip::zh));
        out.push(Clip::zh("zhenshi"));
    }
    if voices == Voices::MandarinThenEnglish {
        // Number twelve, please go to Internal Medicine, room three.
        out.push(Clip::en("number"));
        out.extend(en_number(a.queue_no).into_iter().map(|c| Clip::en(&c)));
        out.push(Clip::en("please_go_to"));
        out.push(Clip::en(&format!("dept_{}", a.department_code)));
        if let Some(room) = a.room {
            out.push(Clip::en("room"));
            out.extend(en_number(room).into_iter().map(|c| Clip::en(&c)));
        }
    }
    out
}

const ZH_DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// A number as Mandarin reads it, as clip names: digits `0`–`9` (零 … 九) and the units
/// `shi`, `bai`, `qian` (十 百 千): 12 → 十二, 105 → 一百零五, 110 → 一百一十, 2008 → 二千零八.
/// From 10,000 on, digit by digit.
pub fn zh_number(n: u32) -> Vec<&'static str> {
    if n >= 10_000 {
        return n.to_string().bytes().map(|b| ZH_DIGITS[usize::from(b - b'0')]).collect();
    }
    if n == 0 {
        return vec!["0"];
    }
    let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
    let units = [Some("qian"), Some("bai"), Some("shi"), None];
    let mut out = Vec::new();
    let mut zero_pending = false;
    for (i, (d, unit)) in digits.iter().zip(units).enumerate() {
        let started = !out.is_empty();
        if *d == 0 {
            zero_pending = started;
            continue;
        }
        if zero_pending {
            out.push("0");
            zero_pending = false;
        }
        // 十二, not 一十二, at the start of a number.
        if !(i == 2 && *d == 1 && !started) {
            out.push(ZH_DIGITS[*d as usize]);
        }
        if let Some(u) = unit {
            out.push(u);
        }
    }
    out
}

/// A number as English reads it, as clip names: `1`–`19`, `20`, `30` … `90`, `hundred`
/// (105 → one hundred five). From 1,000 on, digit by digit.
pub fn en_number(n: u32) -> Vec<String> {
    if n >= 1000 {
        return n.to_string().chars().map(|c| c.to_string()).collect();
    }
    if n == 0 {
        return vec!["0".into()];
    }
    let mut out = Vec::new();
    if n >= 100 {
        out.push((n / 100).to_string());
        out.push("hundred".into());
    }
    let rest = n % 100;
    if rest >= 20 {
        out.push((rest / 10 * 10).to_string());
        if !rest.is_multiple_of(10) {
            out.push((rest % 10).to_string());
        }
    } else if rest > 0 {
        out.push(rest.to_string());
    }
    out
}

/// Every clip a site's announcements may use for `departments` (codes): what a clip folder
/// must hold, for checking one before it is used.
pub fn clip_set<'a>(departments: impl IntoIterator<Item = &'a str>) -> Vec<Clip> {
    let mut v = vec![Clip("chime".into())];
    for w in ["qing", "hao", "dao", "zhenshi", "shi", "bai", "qian"] {
        v.push(Clip::zh(w));
    }
    v.extend(ZH_DIGITS.iter().map(|d| Clip::zh(d)));
    for w in ["number", "please_go_to", "room", "hundred"] {
        v.push(Clip::en(w));
    }
    v.extend((0..=19).chain((20..=90).step_by(10)).map(|n| Clip::en(&n.to_string())));
    for code in departments {
        v.push(Clip::zh(&format!("dept_{code}")));
        v.push(Clip::en(&format!("dept_{code}")));
    }
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandarin_numbers_read_as_people_say_them() {
        let cases: [(u32, &[&str]); 12] = [
            (0, &["0"]),
            (7, &["7"]),
            (10, &["shi"]),
            (12, &["shi", "2"]),
            (20, &["2", "shi"]),
            (35, &["3", "shi", "5"]),
            (100, &["1", "bai"]),
            (105, &["1", "bai", "0", "5"]),
            (110, &["1", "bai", "1", "shi"]),
            (1005, &["1", "qian", "0", "5"]),
            (2010, &["2", "qian", "0", "1", "shi"]),
            (12_345, &["1", "2", "3", "4", "5"]),
        ];
        for (n, want) in cases {
            assert_eq!(zh_number(n), want, "{n}");
        }
    }

    #[test]
    fn english_numbers_read_as_people_say_them() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(en_number(12), s(&["12"]));
        assert_eq!(en_number(40), s(&["40"]));
        assert_eq!(en_number(47), s(&["40", "7"]));
        assert_eq!(en_number(105), s(&["1", "hundred", "5"]));
        assert_eq!(en_number(320), s(&["3", "hundred", "20"]));
        assert_eq!(en_number(1200), s(&["1", "2", "0", "0"]));
    }

    #[test]
    fn a_call_is_a_chime_then_mandarin_then_english_all_from_the_clip_set() {
        let a = Announcement { queue_no: 12, department_code: "NK", room: Some(3) };
        let names: Vec<String> = clips(&a, Voices::Mandarin).into_iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            ["chime", "zh/qing", "zh/shi", "zh/2", "zh/hao", "zh/dao", "zh/dept_NK", "zh/3", "zh/zhenshi"]
        );
        let both = clips(&a, Voices::MandarinThenEnglish);
        let english: Vec<&str> = both.iter().skip(9).map(|c| c.0.as_str()).collect();
        assert_eq!(english, ["en/number", "en/12", "en/please_go_to", "en/dept_NK", "en/room", "en/3"]);
        // Any number a session hands out is said with clips the folder holds.
        let set = clip_set(["NK", "WK"]);
        for n in 0..2_000 {
            let a = Announcement { queue_no: n, department_code: "WK", room: Some(n % 40) };
            for c in clips(&a, Voices::MandarinThenEnglish) {
                assert!(set.binary_search(&c).is_ok(), "{c:?} for {n}");
            }
        }
    }
}
