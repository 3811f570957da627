//! Desk benchmarks (not timed tests): local walk-in booking latency including the outbox
//! write, and patient search over 1,000,000 patients. Run:
//!
//!     cargo bench -p frontdesk-desk --bench desk            # 1,000,000 patients
//!     FRONTDESK_BENCH_PATIENTS=100000 cargo bench -p frontdesk-desk --bench desk
//!
//! Baseline measured in the same run: a bare SQLite insert + commit on the same disk with the
//! same PRAGMAs (the fsync floor any durable booking pays).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk_desk::demo::resident_id;
use frontdesk_desk::{BookTarget, Desk, REPLICA_FILE};
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::document::{Document, DocumentKind, Sex};
use frontdesk_domain::patient::{Patient, PatientInput};
use frontdesk_domain::schedule::{PatientId, SiteId};
use jiff::civil::date;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

/// A tiny deterministic generator (xorshift), so every run indexes the same patients.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, xs: &[&'static str]) -> &'static str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "单", "解", "欧阳", "司马",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "建", "国", "文", "玉", "兰", "红", "志", "海", "小", "晓", "东", "宇", "浩", "思",
    "雨", "欣",
];
const REGIONS: &[&str] = &["110101", "310104", "440106", "330106", "510107", "420102", "320102", "370102"];

fn generated_patients(n: usize) -> Vec<Patient> {
    let site = SiteId::from("demo");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let given_len = 1 + (rng.next() % 2) as usize;
            let mut name = rng.pick(SURNAMES).to_string();
            for _ in 0..given_len {
                name.push_str(rng.pick(GIVEN));
            }
            let sex = if rng.next().is_multiple_of(2) { Sex::Female } else { Sex::Male };
            let birth = date(1930 + (rng.next() % 90) as i16, 1 + (rng.next() % 12) as i8, 1 + (rng.next() % 28) as i8);
            let number = resident_id(rng.pick(REGIONS), birth, (i % 500) as u16, sex).unwrap();
            Patient {
                id: PatientId(format!("bench-{i:07}")),
                site_id: site.clone(),
                name,
                sex: Some(sex),
                birth_date: Some(birth),
                document: Document { kind: DocumentKind::ResidentId, number },
                phone: Some(format!("1{}{:09}", [3, 5, 7, 8, 9][i % 5], rng.next() % 1_000_000_000)),
                medical_card: Some(format!("{:010}", 3_000_000_000u64 + i as u64)),
                ehealth_card: None,
            }
        })
        .collect()
}

fn main() {
    let patients: usize =
        std::env::var("FRONTDESK_BENCH_PATIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    // Monday 2026-11-23, 07:30 in Shanghai.
    let clock = Arc::new(ManualClock::new("2026-11-22T23:30:00Z".parse().unwrap()));
    println!("| what | n | p50 ms | p99 ms | max ms | mean ms |");
    println!("| --- | --- | --- | --- | --- | --- |");

    // Baseline: one row insert + commit, same PRAGMAs, same disk — plain, then encrypted as the
    // replica is (SQLCipher, a raw 256-bit key): what encryption alone costs a commit.
    for (label, key) in [
        ("baseline: bare SQLite insert + commit (WAL, synchronous=FULL)", None),
        (
            "baseline: the same, encrypted (SQLCipher raw key)",
            Some("x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'"),
        ),
    ] {
        let conn = rusqlite::Connection::open(dir.path().join(format!("baseline-{}.db", key.is_some()))).unwrap();
        if let Some(key) = key {
            conn.execute_batch(&format!("PRAGMA key = \"{key}\";")).unwrap();
        }
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT", []).unwrap();
        let mut samples = Vec::new();
        for i in 0..1000 {
            let t = Instant::now();
            conn.execute("INSERT INTO t (id, v) VALUES (?1, 'x')", [i]).unwrap();
            samples.push(t.elapsed());
        }
        report(label, samples);
    }

    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock).unwrap();
    desk.initialize(Some("bench")).unwrap();
    // Signed in as an admin of this desk: every change asks who is signed in.
    desk.add_staff("bench", "bench", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
        .unwrap();
    desk.sign_in("bench", "password", frontdesk_domain::Lang::En).unwrap();
    desk.seed_demo().unwrap();

    // Walk-in booking: register + book, each its own durable transaction with its outbox op.
    let departments = ["NK", "WK", "EK", "FK", "KQ"];
    let mut register = Vec::new();
    let mut book = Vec::new();
    for i in 0..1000u16 {
        let doc = resident_id("320102", date(1985, 1 + (i / 500) as i8, 5), i, Sex::Female).unwrap();
        let input = PatientInput { name: format!("走{i}"), document_number: doc, ..PatientInput::default() };
        let t = Instant::now();
        let p = desk.register_patient(&input, frontdesk_domain::Lang::Zh).unwrap();
        register.push(t.elapsed());
        let target =
            BookTarget::Earliest { department: departments[i as usize % departments.len()].into(), provider: None };
        let t = Instant::now();
        desk.book(&p.id, &target).unwrap();
        book.push(t.elapsed());
    }
    report("desk: register a walk-in patient (validate + row + search keys + outbox, durable)", register);
    report("desk: book a walk-in into the earliest slot (rules + booking + outbox, durable)", book);

    // Search over generated patients.
    let t = Instant::now();
    let all = generated_patients(patients);
    for chunk in all.chunks(50_000) {
        desk.import_patients(chunk).unwrap();
    }
    eprintln!("indexed {patients} patients in {:.1} s", t.elapsed().as_secs_f64());
    let mut rng = Rng(42);
    let mut samples = Vec::new();
    let mut hits = 0usize;
    for i in 0..2000 {
        let p = &all[(rng.next() % all.len() as u64) as usize];
        let q = match i % 6 {
            0 => p.name.clone(),
            1 => frontdesk_domain::names::search_keys(&p.name).split(' ').next_back().unwrap_or("zs").to_string(),
            2 => p.document.number[..10].to_string(),
            3 => p.phone.clone().unwrap_or_default(),
            4 => p.medical_card.clone().unwrap_or_default(),
            _ => ["zs", "wf", "liu", "chen", "wang"][i % 5].to_string(),
        };
        let t = Instant::now();
        let found = desk.search_patients(&q, 20).unwrap();
        samples.push(t.elapsed());
        hits += usize::from(!found.is_empty());
    }
    assert!(hits > 1900, "searches should find the patients they were made from ({hits}/2000)");
    report(&format!("desk: patient search over {patients} patients (name, initials, ID prefix, phone, card)"), samples);
}
