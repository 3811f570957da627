//! The desk engine against a real SQLite replica (in a temp dir), with a pinned clock.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use frontdesk_desk::{BookTarget, Desk, DeskError, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::patient::PatientInput;
use frontdesk_domain::schedule::{BookingId, PatientId, SlotId};
use frontdesk_protocol::sync::Op;
use jiff::{SignedDuration, Timestamp};

/// Monday 2026-11-23, 07:30 in Shanghai: before the first slot.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-11-22T23:30:00Z".parse::<Timestamp>().unwrap()))
}

fn demo_desk(clock: Arc<ManualClock>) -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock).unwrap();
    desk.initialize(Some("nurse-li")).unwrap();
    // Signed in as an admin of this desk: every change asks who is signed in.
    desk.add_staff("nurse-li", "nurse-li", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
        .unwrap();
    desk.sign_in("nurse-li", "password", frontdesk_domain::Lang::En).unwrap();
    desk.seed_demo().unwrap();
    (dir, desk)
}

/// The `n`-th valid resident ID number of the test.
fn doc(n: u16) -> String {
    frontdesk_desk::demo::resident_id("110101", jiff::civil::date(1990, 1, 1), n, frontdesk_domain::document::Sex::Male)
        .unwrap()
}

fn input(name: &str, document: &str) -> PatientInput {
    PatientInput { name: name.into(), document_number: document.into(), ..PatientInput::default() }
}

/// Row counts of every table a mutation could touch.
fn counts(desk: &Desk) -> (usize, usize, u64) {
    let s = desk.status().unwrap();
    let bookings = desk.bookings_on(desk.today()).unwrap().len();
    (s.patients as usize, bookings, s.pending_ops)
}

#[test]
fn every_successful_mutation_writes_exactly_one_op_and_refusals_write_none() {
    let (_dir, mut desk) = demo_desk(clock());
    assert_eq!(desk.outbox().unwrap().len(), 0, "seeding the demo is not a desk op");

    let p = desk.register_patient(&input("测试甲", "11010519491231002X"), Lang::Zh).unwrap();
    assert_eq!(desk.outbox().unwrap().len(), 1);

    // Refusals: invalid document, duplicate document, unknown slot.
    let before = counts(&desk);
    let err = desk.register_patient(&input("测试乙", "110105194912310021"), Lang::Zh).unwrap_err();
    assert!(
        matches!(&err, DeskError::Invalid(f) if f[0].field == "document_number" && f[0].code == "document_checksum")
    );
    let err = desk.register_patient(&input("测试丙", "11010519491231002x"), Lang::En).unwrap_err();
    assert!(matches!(err, DeskError::PatientExists { ref id, .. } if *id == p.id.0));
    let err = desk.book(&p.id, &BookTarget::Slot(SlotId::from("no-such-slot"))).unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(counts(&desk), before);

    let b = desk.book(&p.id, &BookTarget::Earliest { department: "nk".into(), provider: None }).unwrap();
    assert!(!b.confirmed);
    let before = counts(&desk);
    let err = desk.book(&p.id, &BookTarget::Earliest { department: "NK".into(), provider: None }).unwrap_err();
    assert_eq!(err.code(), "patient_already_booked");
    assert_eq!(counts(&desk), before, "a refused booking writes nothing");

    desk.check_in(b.booking.ticket_code.as_str()).unwrap();
    let err = desk.check_in(b.booking.ticket_code.as_str()).unwrap_err();
    assert_eq!(err.code(), "ticket_already_used");
    let err = desk.cancel(&b.booking.id, None).unwrap_err();
    assert_eq!(err.code(), "invalid_transition");

    let b2 = desk.book(&p.id, &BookTarget::Earliest { department: "WK".into(), provider: None }).unwrap();
    desk.cancel(&b2.booking.id, Some("患者改期")).unwrap();
    assert_eq!(desk.cancel(&b2.booking.id, None).unwrap_err().code(), "booking_cancelled");

    let ops = desk.outbox().unwrap();
    let kinds: Vec<&str> = ops.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(kinds, ["register_patient", "book", "check_in", "book", "cancel"]);
    // Sequence numbers and clock timestamps strictly increase; op ids are unique.
    for w in ops.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert!(w[1].envelope.hlc > w[0].envelope.hlc);
        assert_ne!(w[1].envelope.op_id, w[0].envelope.op_id);
    }
    // The booking depends on the registration still waiting in the outbox.
    assert_eq!(ops[1].envelope.depends_on, vec![ops[0].envelope.op_id]);
    assert_eq!(ops[1].envelope.staff_id.as_str(), "nurse-li");
    match &ops[1].envelope.op {
        Op::Book { booking_id, queue_no, ticket_code, .. } => {
            assert_eq!(booking_id, &b.booking.id);
            assert_eq!(*queue_no, b.booking.queue_no);
            assert_eq!(ticket_code, &b.booking.ticket_code);
        }
        other => panic!("expected a book op, got {other:?}"),
    }
}

#[test]
fn a_full_slot_refuses_with_the_next_free_slot() {
    let (_dir, mut desk) = demo_desk(clock());
    let slot = SlotId::from("demo-nk-1-20261123-am-01");
    let patients: Vec<PatientId> =
        (1..=3).map(|i| desk.register_patient(&input(&format!("患者{i}"), &doc(i)), Lang::Zh).unwrap().id).collect();
    // The desk pool of a demo morning slot holds 2 numbers: 5 and 6 (after 4 online ones).
    let a = desk.book(&patients[0], &BookTarget::Slot(slot.clone())).unwrap();
    let b = desk.book(&patients[1], &BookTarget::Slot(slot.clone())).unwrap();
    assert_eq!((a.booking.queue_no, b.booking.queue_no), (5, 6));
    let err = desk.book(&patients[2], &BookTarget::Slot(slot.clone())).unwrap_err();
    let DeskError::Refused(r) = &err else { panic!("expected a refusal, got {err:?}") };
    assert_eq!(r.error.code(), "slot_full");
    let s = r.suggestion.as_deref().unwrap();
    assert_eq!(s.slot_id.as_str(), "demo-nk-2-20261123-am-01", "another 内科 provider's 08:00 slot");
    assert!(err.message(Lang::Zh).contains("约满"));
    // Cancelling frees the number at once.
    desk.cancel(&a.booking.id, None).unwrap();
    let c = desk.book(&patients[2], &BookTarget::Slot(slot)).unwrap();
    assert_eq!(c.booking.queue_no, 5);
}

#[test]
fn walk_ins_take_the_current_slot_but_not_an_ended_one() {
    let clock = clock();
    let (_dir, mut desk) = demo_desk(clock.clone());
    let p = desk.register_patient(&input("王五", &doc(1)), Lang::Zh).unwrap();
    clock.advance(SignedDuration::from_mins(60)); // 08:30
    let current = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-02"))).unwrap();
    assert_eq!(current.start.to_string(), "08:30:00");
    let p2 = desk.register_patient(&input("赵六", &doc(2)), Lang::Zh).unwrap();
    let err = desk.book(&p2.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-01"))).unwrap_err();
    assert_eq!(err.code(), "slot_ended");
    // The earliest a department can offer now is the current slot.
    let e = desk.book(&p2.id, &BookTarget::Earliest { department: "EK".into(), provider: None }).unwrap();
    assert_eq!(e.start.to_string(), "08:30:00");
}

#[test]
fn check_in_refuses_unknown_malformed_and_wrong_day_tickets() {
    let clock = clock();
    let (_dir, mut desk) = demo_desk(clock.clone());
    let p = desk.register_patient(&input("钱七", &doc(1)), Lang::Zh).unwrap();
    let tomorrow = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-kq-1-20261124-am-03"))).unwrap();
    assert_eq!(desk.check_in(tomorrow.booking.ticket_code.as_str()).unwrap_err().code(), "ticket_not_today");
    let unknown = frontdesk_domain::ticket::TicketCode::from_random(12345);
    assert_eq!(desk.check_in(unknown.as_str()).unwrap_err().code(), "ticket_unknown");
    let mut misread = tomorrow.booking.ticket_code.to_string();
    misread.replace_range(5..6, if &misread[5..6] == "7" { "8" } else { "7" });
    assert_eq!(desk.check_in(&misread).unwrap_err().code(), "scan_ticket_malformed");
    assert_eq!(desk.check_in("hello").unwrap_err().code(), "scan_unknown");
    clock.advance(SignedDuration::from_hours(24));
    let v = desk.check_in(&format!("\u{2}{}\r\n", tomorrow.booking.ticket_code.as_str().to_lowercase())).unwrap();
    assert_eq!(v.booking.status.code(), "checked_in");
    assert!(desk.booking(&BookingId::from("nope")).is_err());
}

#[test]
fn search_finds_by_name_pinyin_initials_polyphonic_surnames_document_phone_and_card() {
    let (_dir, mut desk) = demo_desk(clock());
    let p = desk
        .register_patient(
            &PatientInput {
                name: "曾小贤".into(),
                document_number: frontdesk_desk::demo::resident_id(
                    "440106",
                    jiff::civil::date(1988, 7, 7),
                    41,
                    frontdesk_domain::document::Sex::Male,
                )
                .unwrap(),
                phone: Some("139 1234 5678".into()),
                medical_card: Some("MC20260099".into()),
                ..PatientInput::default()
            },
            Lang::Zh,
        )
        .unwrap();
    let found = |q: &str| desk.search_patients(q, 20).unwrap().iter().any(|x| x.id == p.id);
    for q in [
        "曾小贤",
        "曾",
        "曾小",
        "zxx",
        "zengxiaoxian",
        "cengxiaoxian",
        "cxx",
        "zeng",
        "4401061988",
        "13912345678",
        "139123",
        "MC2026",
        "mc20260099",
    ] {
        assert!(found(q), "query {q:?} should find 曾小贤");
    }
    for q in ["李", "lxx", "44010619890"] {
        assert!(!found(q), "query {q:?} should not find 曾小贤");
    }
    // Demo patients with polyphonic surnames: 单 reads shan and dan.
    let names = |q: &str| desk.search_patients(q, 20).unwrap().into_iter().map(|x| x.name).collect::<Vec<_>>();
    assert!(names("shanxiongxin").contains(&"单雄信".to_string()));
    assert!(names("dxx").contains(&"单雄信".to_string()));
    // A name with a repeated character is found by its full name.
    assert_eq!(names("欧阳娜娜"), ["欧阳娜娜"]);
    assert!(names("oynn").contains(&"欧阳娜娜".to_string()));
    // Hostile input is no error.
    for q in ["\"", "*", "AND", "NEAR(", "a OR b", "-", ":", "(", "'; DROP TABLE patients; --", ""] {
        desk.search_patients(q, 20).unwrap();
    }
}

#[test]
fn the_board_counts_what_is_left_per_pool() {
    let (_dir, mut desk) = demo_desk(clock());
    let p = desk.register_patient(&input("孙八", &doc(1)), Lang::Zh).unwrap();
    desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-fk-1-20261123-am-01"))).unwrap();
    let board = desk.board(desk.today()).unwrap();
    assert_eq!(board.departments.len(), 5);
    let fk = board.departments.iter().find(|d| d.department.code == "FK").unwrap();
    let morning = &fk.providers[0].sessions[0];
    assert_eq!(morning.slots.len(), 8);
    assert_eq!(morning.slots[0].remaining_desk, 1);
    assert_eq!(morning.slots[0].remaining_online, 4);
    assert_eq!(morning.booked, 1);
    assert_eq!(morning.remaining_desk, 8 * 2 - 1);
}

#[test]
fn seeding_the_demo_again_keeps_what_is_there() {
    let (_dir, mut desk) = demo_desk(clock());
    let again = desk.seed_demo().unwrap();
    assert_eq!((again.sessions, again.patients), (0, 0));
    assert_eq!(desk.status().unwrap().patients, 30);
}

#[test]
fn suspending_a_session_refuses_bookings_and_writes_an_op() {
    let (_dir, mut desk) = demo_desk(clock());
    let p = desk.register_patient(&input("周九", &doc(3)), Lang::Zh).unwrap();
    let session = frontdesk_domain::schedule::SessionId::from("demo-wk-1-20261123-am");
    assert_eq!(desk.suspend_session(&session, " ").unwrap_err().code(), "invalid_input");
    desk.suspend_session(&session, "医生外出会诊").unwrap();
    let err = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-wk-1-20261123-am-03"))).unwrap_err();
    assert_eq!(err.code(), "session_suspended");
    assert!(err.message(Lang::Zh).contains("医生外出会诊"));
    desk.resume_session(&session).unwrap();
    desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-wk-1-20261123-am-03"))).unwrap();
    let kinds: Vec<String> = desk.outbox().unwrap().into_iter().map(|o| o.kind).collect();
    assert_eq!(kinds, ["register_patient", "suspend_session", "resume_session", "book"]);
}

#[test]
fn walk_in_options_are_each_providers_earliest_bookable_slot() {
    let clock = clock();
    let (_dir, mut desk) = demo_desk(clock.clone());
    let first = |desk: &Desk| -> Vec<(String, String, u32)> {
        desk.walk_in_options("nk")
            .unwrap()
            .into_iter()
            .map(|o| (o.provider.id.to_string(), o.state.slot.id.to_string(), o.remaining))
            .collect()
    };
    let before = first(&desk);
    assert!(before.len() >= 2, "内科 has several providers: {before:?}");
    assert!(before.iter().all(|(_, slot, n)| slot.ends_with("-am-01") && *n == 2), "{before:?}");
    // Taking both desk numbers of provider 1's first slot moves its option to the next slot.
    for i in 1..=2 {
        let p = desk.register_patient(&input(&format!("患者{i}"), &doc(i)), Lang::Zh).unwrap();
        desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-01"))).unwrap();
    }
    let after = first(&desk);
    let nk1 = after.iter().find(|(p, ..)| p == "demo-nk-1").unwrap();
    assert_eq!(nk1.1, "demo-nk-1-20261123-am-02");
    // A suspended session offers nothing; the provider's afternoon comes first instead.
    desk.suspend_session(&frontdesk_domain::schedule::SessionId::from("demo-nk-2-20261123-am"), "会诊").unwrap();
    let nk2 = first(&desk).into_iter().find(|(p, ..)| p == "demo-nk-2").map(|(_, s, _)| s);
    assert!(nk2.as_deref().is_none_or(|s| s.contains("-pm-")), "{nk2:?}");
    // At 08:30 the 08:00 slots have ended: the current one is offered.
    clock.advance(SignedDuration::from_mins(60));
    let later = first(&desk);
    assert!(later.iter().all(|(_, slot, _)| !slot.ends_with("-am-01")), "{later:?}");
    // Ordered by time, and an unknown department is an error.
    assert!(desk.walk_in_options("nope").is_err());
}
