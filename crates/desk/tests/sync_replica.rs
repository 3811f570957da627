//! What sync does to the replica, driven with the platform's answers as data: settling pushed
//! ops, the conflict inbox and its resolutions, pulled snapshots and deltas, rebase of pending
//! ops, patient merges and renumbering. (The same paths against a real platform process are
//! covered by the end-to-end tests in `tests/`.)
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use frontdesk_desk::sync::Resolution;
use frontdesk_desk::{BookTarget, Desk, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, BookingStatus, Suggestion};
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::document::Sex;
use frontdesk_domain::patient::{Patient, PatientInput};
use frontdesk_domain::schedule::{BookingId, Channel, PatientId, SessionStatus, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{Change, Conflict, Effects, Op, OpResult, Outcome, PullResponse, PushResponse, Record};
use jiff::Timestamp;

fn doc(n: u16) -> String {
    frontdesk_desk::demo::resident_id("110101", jiff::civil::date(1990, 1, 1), n, Sex::Male).unwrap()
}

fn desk() -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-22T23:30:00Z".parse::<Timestamp>().unwrap()));
    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock).unwrap();
    desk.initialize(Some("nurse")).unwrap();
    // Signed in as an admin of this desk: every change asks who is signed in.
    desk.add_staff("nurse", "nurse", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
        .unwrap();
    desk.sign_in("nurse", "password", frontdesk_domain::Lang::En).unwrap();
    desk.seed_demo().unwrap();
    (dir, desk)
}

fn register(desk: &mut Desk, name: &str, n: u16) -> Patient {
    desk.register_patient(
        &PatientInput { name: name.into(), document_number: doc(n), ..PatientInput::default() },
        Lang::Zh,
    )
    .unwrap()
}

fn answer(desk: &Desk, outcomes: Vec<Outcome>) -> PushResponse {
    let batch = desk.push_batch(500, 1 << 20).unwrap().unwrap();
    assert_eq!(batch.ops.len(), outcomes.len());
    let results: Vec<OpResult> = batch
        .ops
        .iter()
        .zip(outcomes)
        .map(|(op, outcome)| OpResult { op_id: op.op_id, seq: op.seq, outcome })
        .collect();
    PushResponse { acked_seq: batch.ops.last().unwrap().seq, results }
}

fn page(changes: Vec<Record>, next: u64) -> PullResponse {
    PullResponse {
        protocol: 1,
        changes: changes
            .into_iter()
            .enumerate()
            .map(|(i, record)| Change { cursor: next - 10 + i as u64, record })
            .collect(),
        next_cursor: next,
        more: false,
        server_now: None,
    }
}

#[test]
fn applied_ops_leave_the_outbox_and_confirm_with_the_platforms_number() {
    let (_d, mut desk) = desk();
    let p = register(&mut desk, "甲", 1);
    let b = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-02"))).unwrap();
    assert!(!b.confirmed);
    let resp = answer(
        &desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(p.id.clone()), cursor: 11, ..Effects::default() } },
            Outcome::Applied {
                effects: Effects {
                    booking_id: Some(b.booking.id.clone()),
                    queue_no: Some(12),
                    cursor: 12,
                    ..Effects::default()
                },
            },
        ],
    );
    let summary = desk.apply_push(&resp).unwrap();
    assert_eq!((summary.applied, summary.conflicts), (2, 0));
    assert!(desk.outbox().unwrap().is_empty());
    let after = desk.booking(&b.booking.id).unwrap();
    assert!(after.confirmed);
    assert_eq!(after.booking.queue_no, 12, "the platform's number replaces the provisional one");
    // Answering the same push again (a lost response, retried) changes nothing.
    desk.apply_push(&resp).unwrap();
    assert_eq!(desk.booking(&b.booking.id).unwrap().booking.queue_no, 12);
}

#[test]
fn a_conflicted_booking_lands_in_the_inbox_and_can_be_rebooked_or_given_up() {
    let (_d, mut desk) = desk();
    let p = register(&mut desk, "乙", 2);
    let b = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-02"))).unwrap();
    let suggestion = Suggestion {
        slot_id: SlotId::from("demo-nk-2-20261123-am-02"),
        session_id: "demo-nk-2-20261123-am".into(),
        provider_id: "demo-nk-2".into(),
        date: jiff::civil::date(2026, 11, 23),
        start: jiff::civil::time(8, 30, 0, 0),
        end: jiff::civil::time(9, 0, 0, 0),
        remaining: 2,
    };
    let resp = answer(
        &desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(p.id.clone()), ..Effects::default() } },
            Outcome::Conflict(Conflict {
                reason: "slot_full".into(),
                message: "full".into(),
                server_state: None,
                suggestions: vec![suggestion.clone()],
            }),
        ],
    );
    let summary = desk.apply_push(&resp).unwrap();
    assert_eq!(summary.conflicts, 1);
    assert!(desk.booking(&b.booking.id).is_err(), "the platform never had it: it leaves the view");
    let inbox = desk.conflicts(false, Lang::Zh).unwrap();
    assert_eq!(inbox.len(), 1);
    let c = &inbox[0];
    assert_eq!((c.reason.as_str(), c.kind.as_str()), ("slot_full", "book"));
    assert_eq!(c.patient_name.as_deref(), Some("乙"));
    assert!(c.explanation.contains("占满") && c.explanation.contains("08:30"), "{}", c.explanation);
    assert_eq!(c.suggestions, vec![suggestion.clone()]);
    assert_eq!(desk.sync_status().unwrap().open_conflicts, 1);

    // Acknowledging a booking conflict is not enough to lose it; rebooking is a new op.
    let out = desk.resolve_conflict(c.id, &Resolution::Rebook(suggestion.slot_id.clone()), Lang::Zh).unwrap();
    let rebooked = out.booking.unwrap();
    assert_eq!(rebooked.booking.slot_id, suggestion.slot_id);
    assert_eq!(desk.outbox().unwrap().last().unwrap().kind, "book");
    assert_eq!(desk.sync_status().unwrap().open_conflicts, 0);
    assert_eq!(desk.resolve_conflict(c.id, &Resolution::Cancel, Lang::Zh).unwrap_err().code(), "invalid_input");
}

#[test]
fn giving_up_a_booking_gives_a_notice_and_rejections_are_listed_with_their_fields() {
    let (_d, mut desk) = desk();
    let p = register(&mut desk, "欧阳娜娜", 3);
    desk.book(&p.id, &BookTarget::Earliest { department: "EK".into(), provider: None }).unwrap();
    let resp = answer(
        &desk,
        vec![
            Outcome::Rejected {
                errors: vec![frontdesk_domain::patient::FieldError {
                    field: "phone".into(),
                    code: "phone_format".into(),
                    message: "bad phone".into(),
                }],
            },
            Outcome::Conflict(Conflict {
                reason: "depends_on_failed".into(),
                message: "depends".into(),
                server_state: None,
                suggestions: vec![],
            }),
        ],
    );
    desk.apply_push(&resp).unwrap();
    let inbox = desk.conflicts(false, Lang::En).unwrap();
    assert_eq!(inbox.len(), 2);
    assert_eq!(inbox[0].reason, "rejected");
    assert!(inbox[0].explanation.contains("phone"), "{}", inbox[0].explanation);
    assert_eq!(inbox[1].reason, "depends_on_failed");
    let out = desk.resolve_conflict(inbox[1].id, &Resolution::Cancel, Lang::Zh).unwrap();
    let notice = out.notice.unwrap();
    assert!(notice.contains("欧阳*娜") && !notice.contains("欧阳娜娜"), "{notice}");
    desk.resolve_conflict(inbox[0].id, &Resolution::Acknowledge, Lang::Zh).unwrap();
    assert_eq!(desk.conflicts(true, Lang::Zh).unwrap().iter().filter(|c| c.resolved_at.is_some()).count(), 2);
}

#[test]
fn the_notice_text_and_the_printed_notice_are_one_and_a_failed_print_keeps_the_resolution() {
    let (_d, mut desk) = desk();
    let printer = tempfile::tempdir().unwrap();
    let spec = format!("pdf-dir:{}", printer.path().display());
    let p = register(&mut desk, "欧阳娜娜", 5);
    let b = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-02"))).unwrap();
    let resp = answer(
        &desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(p.id.clone()), ..Effects::default() } },
            Outcome::Conflict(Conflict {
                reason: "slot_full".into(),
                message: "full".into(),
                server_state: None,
                suggestions: vec![],
            }),
        ],
    );
    desk.apply_push(&resp).unwrap();
    let id = desk.conflicts(false, Lang::Zh).unwrap()[0].id;
    // Not given up yet: there is no notice to hand out.
    let e = desk.print_notice(id, Some(&spec), Lang::Zh).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(e.message(Lang::Zh).contains("通知"), "{}", e.message(Lang::Zh));

    let data = desk.notice_data(id, Lang::Zh).unwrap();
    assert_eq!(data.patient_name, "欧阳娜娜", "the print crate masks it");
    assert_eq!(data.date, "2026-11-23");
    assert_eq!(data.time_window, format!("{}–{}", b.start.strftime("%H:%M"), b.end.strftime("%H:%M")));
    assert_eq!((data.department_name.as_str(), data.provider_name.as_str()), ("内科", b.provider_name.as_str()));
    assert_eq!((data.reason.as_str(), data.reference.clone()), ("号源已满", id.to_string()));
    assert!(data.explanation.contains("占满"), "{}", data.explanation);

    let out = desk.resolve_conflict(id, &Resolution::Cancel, Lang::Zh).unwrap();
    assert_eq!(out.notice.unwrap(), data.text(), "the text shown is the printed notice's");
    let printed = desk.print_notice(id, Some(&spec), Lang::Zh).unwrap();
    let file = printed.file.unwrap();
    assert!(std::fs::read(&file).unwrap().starts_with(b"%PDF"));
    assert_eq!(file.file_name().unwrap().to_str().unwrap(), format!("notice-{id}.pdf"));
    assert_eq!(desk.print_count("notice", &id.to_string()).unwrap(), (1, 0));

    // A printer that is not there: a coded error, logged; the booking stays given up.
    let e = desk.print_notice(id, Some("escpos-device:/nonexistent/lp0"), Lang::En).unwrap_err();
    assert_eq!(e.code(), "printer_not_found");
    assert!(e.message(Lang::En).contains("is resolved"), "{}", e.message(Lang::En));
    assert_eq!(desk.conflict(id, Lang::Zh).unwrap().resolution.as_deref(), Some("cancelled"));
    assert_eq!(desk.print_count("notice", &id.to_string()).unwrap(), (1, 1));
    assert_eq!(desk.sync_status().unwrap().open_conflicts, 0);
}

#[test]
fn a_deferred_push_keeps_the_ops() {
    let (_d, mut desk) = desk();
    register(&mut desk, "丙", 4);
    let resp = answer(&desk, vec![Outcome::Deferred { expected_seq: 1 }]);
    assert_eq!(desk.apply_push(&resp).unwrap().deferred, 1);
    assert_eq!(desk.outbox().unwrap().len(), 1);
}

fn server_booking(id: &str, patient: &PatientId, slot: &str, queue_no: u32, status: BookingStatus) -> Booking {
    let session = slot.rsplit_once('-').unwrap().0;
    Booking {
        id: BookingId::from(id),
        site_id: "demo".into(),
        patient_id: patient.clone(),
        slot_id: SlotId::from(slot),
        session_id: session.into(),
        department_id: "demo-nk".into(),
        date: jiff::civil::date(2026, 11, 23),
        queue_no,
        channel: Channel::Online,
        status,
        ticket_code: TicketCode::from_random(u64::from(queue_no) * 7919),
        overbook_reason: None,
    }
}

#[test]
fn pulled_changes_are_rebased_under_pending_ops() {
    let (_d, mut desk) = desk();
    let p = register(&mut desk, "丁", 5);
    // Settle the registration so the patient is the platform's.
    let resp = answer(
        &desk,
        vec![Outcome::Applied { effects: Effects { patient_id: Some(p.id.clone()), ..Effects::default() } }],
    );
    desk.apply_push(&resp).unwrap();
    // The desk books the desk numbers 5 of slot 01 (pending).
    let mine = desk.book(&p.id, &BookTarget::Slot(SlotId::from("demo-nk-1-20261123-am-01"))).unwrap();
    assert_eq!(mine.booking.queue_no, 5);
    let online_patient = Patient {
        id: PatientId::from("server-patient-1"),
        site_id: "demo".into(),
        name: "线上患者".into(),
        sex: Some(Sex::Female),
        birth_date: None,
        document: frontdesk_domain::document::Document {
            kind: frontdesk_domain::document::DocumentKind::ResidentId,
            number: doc(6),
        },
        phone: None,
        medical_card: None,
        ehealth_card: None,
    };
    // Meanwhile the platform gave number 5 to someone else (an overbook by another desk), and
    // a session was suspended; the desk also has a pending cancel of another booking.
    let theirs = server_booking("srv-b1", &online_patient.id, "demo-nk-1-20261123-am-01", 5, BookingStatus::Booked);
    let other = server_booking("srv-b2", &online_patient.id, "demo-nk-1-20261123-am-03", 13, BookingStatus::Booked);
    let mut suspended = desk.board(desk.today()).unwrap().departments[0].providers[0].sessions[0].session.clone();
    suspended.status = SessionStatus::Suspended;
    suspended.status_reason = Some("停电".into());
    desk.apply_pull(&page(
        vec![
            Record::Patient(online_patient.clone()),
            Record::Booking(other.clone()),
            Record::Session(suspended.clone()),
        ],
        20,
    ))
    .unwrap();
    desk.cancel(&other.id, None).unwrap();
    desk.apply_pull(&page(vec![Record::Booking(theirs.clone()), Record::Booking(other.clone())], 30)).unwrap();
    assert_eq!(desk.pull_cursor().unwrap(), 30);
    // The pending cancel stays on top of the platform's "booked".
    assert_eq!(desk.booking(&other.id).unwrap().booking.status, BookingStatus::Cancelled);
    // The pending booking moved to the next free desk number; its op carries the new number.
    let moved = desk.booking(&mine.booking.id).unwrap();
    assert_eq!(moved.booking.queue_no, 6);
    assert!(!moved.confirmed);
    let ops = desk.outbox().unwrap();
    let book = ops.iter().find(|o| o.kind == "book").unwrap();
    assert!(matches!(book.envelope.op, Op::Book { queue_no: 6, .. }));
    assert!(desk.booking(&theirs.id).unwrap().confirmed);
    let board = desk.board(desk.today()).unwrap();
    let s = board
        .departments
        .iter()
        .flat_map(|d| &d.providers)
        .flat_map(|p| &p.sessions)
        .find(|s| s.session.id == suspended.id)
        .unwrap();
    assert_eq!(s.session.status, SessionStatus::Suspended);
}

#[test]
fn the_same_person_registered_elsewhere_becomes_one_patient() {
    let (_d, mut desk) = desk();
    let mine = register(&mut desk, "戊", 8);
    let b = desk.book(&mine.id, &BookTarget::Earliest { department: "KQ".into(), provider: None }).unwrap();
    // Another desk registered the same document first: the pull brings that patient.
    let theirs = Patient { id: PatientId::from("other-desk-patient"), name: "戊".into(), ..mine.clone() };
    desk.apply_pull(&page(vec![Record::Patient(theirs.clone())], 40)).unwrap();
    let found = desk.search_patients(&doc(8), 10).unwrap();
    assert_eq!(found.len(), 1, "one patient, not two");
    assert_eq!(found[0].id, theirs.id);
    assert_eq!(desk.booking(&b.booking.id).unwrap().booking.patient_id, theirs.id, "references rewritten");
    // The platform then answers the pending registration with the surviving id.
    let resp = answer(
        &desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(theirs.id.clone()), ..Effects::default() } },
            Outcome::Applied {
                effects: Effects {
                    booking_id: Some(b.booking.id.clone()),
                    queue_no: Some(b.booking.queue_no),
                    ..Effects::default()
                },
            },
        ],
    );
    desk.apply_push(&resp).unwrap();
    assert_eq!(desk.search_patients(&doc(8), 10).unwrap().len(), 1);
    assert!(desk.booking(&b.booking.id).unwrap().confirmed);
}

#[test]
fn enrolling_a_fresh_desk_starts_from_the_platforms_snapshot() {
    let (_d, mut desk) = desk();
    let resp = frontdesk_protocol::enroll::EnrollResponse {
        device_id: "dev-1".into(),
        site: frontdesk_domain::schedule::Site {
            id: "demo".into(),
            name: "城东".into(),
            timezone: "Asia/Shanghai".into(),
        },
        token: "secret".into(),
        role: frontdesk_protocol::enroll::DeviceRole::Desk,
    };
    desk.record_enrollment("http://127.0.0.1:9/", &resp).unwrap();
    let creds = desk.credentials().unwrap().unwrap();
    assert_eq!(creds.server_url, "http://127.0.0.1:9");
    assert_eq!(desk.device().unwrap().device_id.as_str(), "dev-1");
    assert_eq!(desk.status().unwrap().patients, 0, "the local demo data gave way to the platform's");
    assert_eq!(desk.pull_cursor().unwrap(), 0);
    assert_eq!(desk.seed_demo().unwrap_err().code(), "invalid_input", "no local demo rows on an enrolled desk");
    // The first pull is the snapshot: the whole schedule, in dependency order.
    let clinic = frontdesk_domain::demo::demo_clinic("demo", jiff::civil::date(2026, 11, 23), 1).unwrap();
    let mut records = vec![Record::Site(clinic.site.clone())];
    records.extend(clinic.departments.into_iter().map(Record::Department));
    records.extend(clinic.providers.into_iter().map(Record::Provider));
    for (session, slots) in clinic.sessions {
        records.push(Record::Session(session));
        records.extend(slots.into_iter().map(Record::Slot));
    }
    let n = records.len();
    assert_eq!(desk.apply_pull(&page(records, 5_000)).unwrap(), n);
    let board = desk.board(desk.today()).unwrap();
    assert_eq!(board.departments.len(), 5);
    // Ops made after enrolling carry the platform's device id.
    let p = register(&mut desk, "己", 9);
    assert!(p.id.as_str().len() > 10);
    assert_eq!(desk.outbox().unwrap()[0].envelope.device_id.as_str(), "dev-1");
}
