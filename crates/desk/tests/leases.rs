//! Capacity leases on the desk: leased numbers arrive as pulled pages (hand-built here, as the
//! platform would send them), the desk spends its own first, counts its deadline from receipt
//! on its hybrid logical clock, and never hands out another desk's number. The same paths
//! against a real platform process are covered by the end-to-end tests in `tests/`.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{NOW, frontdesk, ok_json};
use frontdesk_desk::{BookTarget, BookingView, Desk, LeaseState, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, BookingStatus};
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::lease::{Lease, LeasePolicy};
use frontdesk_domain::patient::{Patient, PatientInput};
use frontdesk_domain::schedule::{BookingId, Channel, PatientId, SessionId, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::enroll::{DeviceRole, EnrollResponse};
use frontdesk_protocol::sync::{
    Change, Conflict, Effects, LeaseAnswer, Op, OpResult, Outcome, PullResponse, PushResponse, Record,
};
use jiff::{SignedDuration, Timestamp};

/// This desk's device id on the platform.
const ME: &str = "desk-a";
/// Another desk of the site.
const OTHER: &str = "desk-b";
/// 内科 王建国's morning session on Monday 2026-11-23: slots of 30 minutes from 08:00, six
/// numbers each, the last two of each slot the desk pool (5–6, 11–12, 17–18, …).
const S: &str = "demo-nk-1-20261123-am";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn slot(n: u8) -> SlotId {
    SlotId(format!("{S}-{n:02}"))
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// A lease record: number `n` of slot `slot_no` of session `S`, leased to `device`.
fn lease(slot_no: u8, n: u32, device: &str, expires_at: Timestamp) -> Record {
    Record::Lease(Lease {
        session_id: SessionId::from(S),
        slot_id: slot(slot_no),
        queue_no: n,
        device_id: device.into(),
        expires_at,
    })
}

fn tombstone(n: u32) -> Record {
    Record::Tombstone { entity: "lease".into(), id: Lease::key(&SessionId::from(S), n) }
}

/// An enrolled desk (device `desk-a`, site `demo`) whose replica holds the platform's snapshot
/// of two days of the demo clinic and the site's lease policy.
struct Fixture {
    dir: tempfile::TempDir,
    desk: Desk,
    clock: Arc<ManualClock>,
    cursor: u64,
    patients: u16,
}

impl Fixture {
    fn new(policy: Option<LeasePolicy>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now()));
        let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock.clone()).unwrap();
        desk.initialize(None).unwrap();
        // The demo staff, signed in as their admin (the CLI the tests run signs in so too).
        desk.seed_demo_staff().unwrap();
        desk.sign_in("admin", "admin123", frontdesk_domain::Lang::En).unwrap();
        let clinic = frontdesk_domain::demo::demo_clinic("demo", jiff::civil::date(2026, 11, 23), 2).unwrap();
        desk.record_enrollment(
            "http://127.0.0.1:9",
            &EnrollResponse {
                device_id: ME.into(),
                site: clinic.site.clone(),
                token: "secret".into(),
                role: DeviceRole::Desk,
            },
        )
        .unwrap();
        let mut records = vec![Record::Site(clinic.site.clone())];
        records.extend(clinic.departments.into_iter().map(Record::Department));
        records.extend(clinic.providers.into_iter().map(Record::Provider));
        for (session, slots) in clinic.sessions {
            records.push(Record::Session(session));
            records.extend(slots.into_iter().map(Record::Slot));
        }
        records.push(Record::LeasePolicy { site_id: "demo".into(), policy });
        let mut f = Fixture { dir, desk, clock, cursor: 0, patients: 0 };
        f.pull(records, Some(now()));
        f
    }

    /// Applies a page of the change log, as the platform answered at `server_now`.
    fn pull(&mut self, records: Vec<Record>, server_now: Option<Timestamp>) {
        let changes: Vec<Change> = records
            .into_iter()
            .map(|record| {
                self.cursor += 1;
                Change { cursor: self.cursor, record }
            })
            .collect();
        self.desk
            .apply_pull(&PullResponse { protocol: 2, changes, next_cursor: self.cursor, more: false, server_now })
            .unwrap();
    }

    fn patient(&mut self) -> Patient {
        self.patients += 1;
        let name = format!("患者{}", self.patients);
        let document_number = common::doc(self.patients);
        self.desk
            .register_patient(&PatientInput { name, document_number, ..PatientInput::default() }, Lang::Zh)
            .unwrap()
    }

    fn book_slot(&mut self, slot_no: u8) -> BookingView {
        let p = self.patient();
        self.desk.book(&p.id, &BookTarget::Slot(slot(slot_no))).unwrap()
    }

    fn book_earliest(&mut self) -> BookingView {
        let p = self.patient();
        let target = BookTarget::Earliest { department: "NK".into(), provider: Some("demo-nk-1".into()) };
        self.desk.book(&p.id, &target).unwrap()
    }

    fn refused_in(&mut self, slot_no: u8) -> String {
        let p = self.patient();
        self.desk.book(&p.id, &BookTarget::Slot(slot(slot_no))).unwrap_err().code().to_string()
    }

    /// The book op of a booking, as it waits in the outbox: (number, leased).
    fn op_of(&self, b: &BookingView) -> (u32, bool) {
        let ops = self.desk.outbox().unwrap();
        let op = ops.iter().find(|o| o.subject == b.booking.id.as_str()).unwrap();
        match &op.envelope.op {
            Op::Book { queue_no, leased, .. } => (*queue_no, *leased),
            other => panic!("not a book op: {other:?}"),
        }
    }

    fn lease_state(&self, n: u32) -> Option<LeaseState> {
        self.desk.leases().unwrap().into_iter().find(|l| l.queue_no == n).map(|l| l.state)
    }

    fn board_slot(&self, slot_no: u8) -> frontdesk_desk::BoardSlot {
        let board = self.desk.board(jiff::civil::date(2026, 11, 23)).unwrap();
        board
            .departments
            .into_iter()
            .flat_map(|d| d.providers)
            .flat_map(|p| p.sessions)
            .flat_map(|s| s.slots)
            .find(|s| s.slot.id == slot(slot_no))
            .unwrap()
    }
}

fn policy() -> Option<LeasePolicy> {
    Some(LeasePolicy::default())
}

#[test]
fn the_desk_spends_its_own_leased_number_first_and_the_op_says_leased() {
    let mut f = Fixture::new(policy());
    let expires = now() + mins(120);
    f.pull(vec![lease(1, 6, ME, expires), lease(2, 12, ME, expires), lease(1, 5, OTHER, expires)], Some(now()));

    let b = f.book_slot(1);
    assert_eq!(b.booking.queue_no, 6, "its own leased number, not the other desk's 5");
    assert!(b.leased && b.guaranteed && !b.confirmed);
    assert_eq!(f.op_of(&b), (6, true));
    assert_eq!(f.lease_state(6), Some(LeaseState::Spent));

    // Slot 1 has nothing left for this desk: 5 is the other desk's, 6 is spent.
    assert_eq!(f.refused_in(1), "slot_full");
    let s1 = f.board_slot(1);
    assert_eq!((s1.remaining_desk, s1.guaranteed, s1.leased_elsewhere), (0, 0, 1));

    // The earliest slot is slot 2, where the lease is spent before the free 11.
    let s2 = f.board_slot(2);
    assert_eq!((s2.remaining_desk, s2.guaranteed), (1, 1));
    let b2 = f.book_earliest();
    assert_eq!((b2.booking.slot_id.clone(), b2.booking.queue_no, b2.leased), (slot(2), 12, true));
    assert_eq!(f.op_of(&b2), (12, true));
    // Nothing leased left in slot 2: the next booking is tentative, as always.
    let b3 = f.book_earliest();
    assert_eq!((b3.booking.queue_no, b3.leased, b3.guaranteed), (11, false, false));
    assert_eq!(f.op_of(&b3), (11, false));
}

#[test]
fn tentative_bookings_never_take_another_desks_leased_number() {
    let mut f = Fixture::new(policy());
    let expires = now() + mins(120);
    f.pull(vec![lease(1, 5, OTHER, expires), lease(1, 6, OTHER, expires)], Some(now()));
    assert_eq!(f.refused_in(1), "slot_full");
    let b = f.book_earliest();
    assert_eq!((b.booking.slot_id.clone(), b.booking.queue_no, b.leased), (slot(2), 11, false));
    let options = f.desk.walk_in_options("NK").unwrap();
    let first = options.iter().find(|o| o.provider.id.as_str() == "demo-nk-1").unwrap();
    assert_eq!(first.state.slot.id, slot(2), "slot 1 is the other desk's");
    assert_eq!(first.guaranteed, 0);
}

#[test]
fn walk_in_options_count_a_slot_where_only_the_desks_own_lease_is_left() {
    let mut f = Fixture::new(policy());
    let expires = now() + mins(120);
    f.pull(vec![lease(1, 5, OTHER, expires), lease(1, 6, ME, expires)], Some(now()));
    let option = |f: &Fixture| {
        f.desk.walk_in_options("NK").unwrap().into_iter().find(|o| o.provider.id.as_str() == "demo-nk-1").unwrap()
    };
    let o = option(&f);
    assert_eq!((o.state.slot.id.clone(), o.remaining, o.guaranteed), (slot(1), 0, 1));
    let b = f.book_earliest();
    assert_eq!((b.booking.slot_id, b.booking.queue_no, b.leased), (slot(1), 6, true));
    let o = option(&f);
    assert_eq!((o.state.slot.id.clone(), o.remaining, o.guaranteed), (slot(2), 2, 0));
}

#[test]
fn the_deadline_counts_from_receipt_even_with_the_desks_clock_hours_off() {
    let mut f = Fixture::new(policy());
    // The platform's clock is five hours ahead of this desk's; an hour is left on the lease.
    let server_now = now() + mins(300);
    f.pull(vec![lease(1, 6, ME, server_now + mins(60)), lease(2, 12, ME, server_now + mins(60))], Some(server_now));
    let entry = f.desk.leases().unwrap().into_iter().find(|l| l.queue_no == 6).unwrap();
    // 60 minutes less a minute and 2% (72 s), from the moment of receipt on the desk's clock.
    assert_eq!(entry.usable_until, Some(now() + SignedDuration::from_secs(60 * 60 - 60 - 72)));
    assert_eq!(entry.expires_at, server_now + mins(60), "the platform's expiry is kept as it is");
    assert!(entry.expiring && entry.state == LeaseState::Usable);

    // 57 minutes later (08:27) the lease is still usable.
    f.clock.advance(mins(57));
    let b = f.book_slot(1);
    assert_eq!((b.booking.queue_no, b.leased), (6, true));
    // A minute later (08:28) it is past the deadline: bookings are tentative, and the lapsed
    // number is still not free (it is the platform's until it says otherwise).
    f.clock.advance(mins(1));
    assert_eq!(f.lease_state(12), Some(LeaseState::Lapsed));
    let b = f.book_slot(2);
    assert_eq!((b.booking.queue_no, b.leased, b.guaranteed), (11, false, false));
    assert_eq!(f.op_of(&b), (11, false));
    assert_eq!(f.refused_in(2), "slot_full");
    assert_eq!(f.board_slot(2).guaranteed, 0);
}

#[test]
fn a_clock_set_back_does_not_lengthen_a_lease() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(2, 12, ME, now() + mins(60))], Some(now()));
    // 58 minutes on, past the deadline; the sync loop records its attempt (and the clock).
    f.clock.advance(mins(58));
    f.desk.record_sync_attempt(Some("offline")).unwrap();
    assert_eq!(f.lease_state(12), Some(LeaseState::Lapsed));
    // The computer's clock is set back two hours: the lease does not come back.
    f.clock.advance(mins(-120));
    assert_eq!(f.lease_state(12), Some(LeaseState::Lapsed));
    let b = f.book_slot(2);
    assert_eq!((b.booking.queue_no, b.leased), (11, false));
    // A lease received now is counted from the hybrid logical clock, not the set-back clock.
    let platform_now = now() + mins(58);
    f.pull(vec![lease(3, 18, ME, platform_now + mins(60))], Some(platform_now));
    let entry = f.desk.leases().unwrap().into_iter().find(|l| l.queue_no == 18).unwrap();
    assert_eq!(entry.usable_until, Some(now() + mins(58) + SignedDuration::from_secs(60 * 60 - 60 - 72)));
}

#[test]
fn the_deadline_is_set_at_first_receipt_and_again_only_for_a_new_grant() {
    let mut f = Fixture::new(policy());
    let expires = now() + mins(60);
    f.pull(vec![lease(2, 12, ME, expires)], Some(now()));
    let first = f.desk.leases().unwrap()[0].usable_until.unwrap();
    // The same grant again, later (e.g. a snapshot): the deadline stays.
    f.clock.advance(mins(30));
    f.pull(vec![lease(2, 12, ME, expires)], Some(now() + mins(30)));
    assert_eq!(f.desk.leases().unwrap()[0].usable_until, Some(first));
    // A new grant of the number (a later expiry): counted from this receipt.
    f.pull(vec![lease(2, 12, ME, now() + mins(150))], Some(now() + mins(30)));
    let renewed = f.desk.leases().unwrap()[0].usable_until.unwrap();
    assert_eq!(renewed, now() + mins(30) + SignedDuration::from_secs(120 * 60 - 60 - 144));
}

#[test]
fn a_lease_without_the_platforms_time_is_never_usable() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], None);
    let entry = &f.desk.leases().unwrap()[0];
    assert_eq!((entry.state, entry.usable_until), (LeaseState::Lapsed, None));
    let b = f.book_slot(1);
    assert_eq!((b.booking.queue_no, b.leased), (5, false));
    assert_eq!(f.refused_in(1), "slot_full", "6 is still leased");
}

#[test]
fn a_tombstone_removes_a_lease() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 5, OTHER, now() + mins(120)), lease(1, 6, ME, now() + mins(120))], Some(now()));
    assert_eq!(f.board_slot(1).guaranteed, 1);
    f.pull(vec![tombstone(6), tombstone(5)], Some(now()));
    assert!(f.desk.leases().unwrap().is_empty());
    let s1 = f.board_slot(1);
    assert_eq!((s1.remaining_desk, s1.guaranteed, s1.leased_elsewhere), (2, 0, 0));
    let b = f.book_slot(1);
    assert_eq!((b.booking.queue_no, b.leased), (5, false));
    // A slot's or a session's tombstone takes its leases along.
    f.pull(vec![lease(2, 12, ME, now() + mins(120))], Some(now()));
    f.pull(vec![Record::Tombstone { entity: "slot".into(), id: slot(2).to_string() }], Some(now()));
    assert!(f.desk.leases().unwrap().is_empty());
}

#[test]
fn a_not_enrolled_desk_has_no_leases() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), Arc::new(ManualClock::new(now()))).unwrap();
    desk.initialize(None).unwrap();
    // Signed in as an admin of this desk: every change asks who is signed in.
    desk.add_staff("admin", "admin", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
        .unwrap();
    desk.sign_in("admin", "password", frontdesk_domain::Lang::En).unwrap();
    desk.seed_demo().unwrap();
    let device = desk.device().unwrap().device_id;
    // Even a lease naming its local id is not its own: only the platform's device id is.
    desk.apply_pull(&PullResponse {
        protocol: 2,
        changes: vec![Change { cursor: 1, record: lease(1, 6, device.as_str(), now() + mins(120)) }],
        next_cursor: 1,
        more: false,
        server_now: Some(now()),
    })
    .unwrap();
    assert!(desk.leases().unwrap().is_empty());
    let status = desk.lease_status().unwrap();
    assert_eq!((status.held, status.wants_top_up), (0, false));
    assert!(desk.lease_request(true).unwrap().is_none());
    assert_eq!(desk.give_back(&SessionId::from(S), &[], Lang::En).unwrap_err().code(), "invalid_input");
}

#[test]
fn a_guaranteed_booking_prints_without_the_not_yet_confirmed_mark() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let guaranteed = f.book_slot(1);
    let tentative = f.book_slot(1);
    assert!(guaranteed.leased && !tentative.leased);
    assert!(f.desk.ticket_data(&guaranteed.booking.id, Lang::Zh).unwrap().confirmed);
    assert!(!f.desk.ticket_data(&tentative.booking.id, Lang::Zh).unwrap().confirmed);
    let text = |id: &BookingId| {
        let pdf = f.desk.ticket_pdf(id, frontdesk_print::PaperWidth::Mm80, Lang::Zh).unwrap();
        let file = f.dir.path().join(format!("{id}.pdf"));
        std::fs::write(&file, pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .args([file.to_str().unwrap(), "-"])
            .output()
            .expect("pdftotext (poppler-utils) is needed for this test");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let g = text(&guaranteed.booking.id);
    assert!(g.contains("城东社区卫生服务中心"), "the text is read back: {g}");
    assert!(!g.contains("待平台确认"), "a guaranteed ticket carries no mark: {g}");
    let t = text(&tentative.booking.id);
    assert!(t.contains("待平台确认"), "a tentative ticket does: {t}");
    // The slot sheet marks only the tentative one.
    let sheet = f.desk.sheet_data(jiff::civil::date(2026, 11, 23), Some("NK"), Lang::Zh).unwrap();
    let rows: Vec<(u32, bool)> = sheet
        .departments
        .iter()
        .flat_map(|d| &d.providers)
        .flat_map(|p| &p.sessions)
        .flat_map(|s| &s.slots)
        .flat_map(|s| &s.bookings)
        .map(|b| (b.queue_number, b.confirmed))
        .collect();
    assert_eq!(rows, vec![(5, false), (6, true)]);
}

#[test]
fn the_sheet_does_not_offer_another_desks_leased_numbers() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 5, OTHER, now() + mins(120)), lease(1, 6, ME, now() + mins(120))], Some(now()));
    let sheet = f.desk.sheet_data(jiff::civil::date(2026, 11, 23), Some("NK"), Lang::Zh).unwrap();
    let first = &sheet.departments[0].providers[0].sessions[0].slots[0];
    assert_eq!(first.free_numbers, vec![1, 2, 3, 4, 6]);
}

#[test]
fn status_counts_held_spent_and_expiring_numbers() {
    let mut f = Fixture::new(policy());
    let tomorrow = "demo-nk-1-20261124-am";
    f.pull(
        vec![
            lease(1, 6, ME, now() + mins(120)),
            lease(2, 12, ME, now() + mins(50)),
            lease(3, 18, OTHER, now() + mins(120)),
            Record::Lease(Lease {
                session_id: SessionId::from(tomorrow),
                slot_id: SlotId(format!("{tomorrow}-01")),
                queue_no: 6,
                device_id: ME.into(),
                expires_at: now() + mins(24 * 60),
            }),
        ],
        Some(now()),
    );
    f.book_slot(1);
    let status = f.desk.status().unwrap().leases;
    assert_eq!((status.held, status.spent, status.expiring, status.unusable), (2, 1, 1, 0));
    assert_eq!(status.next_deadline, Some(now() + SignedDuration::from_secs(50 * 60 - 60 - 60)));
    let today = status.sessions.iter().find(|s| s.session_id.as_str() == S).unwrap();
    assert_eq!((today.held, today.spent, today.expiring), (1, 1, 1));
    assert_eq!(today.provider_name, "王建国");
    let next = status.sessions.iter().find(|s| s.session_id.as_str() == tomorrow).unwrap();
    assert_eq!((next.held, next.spent, next.expiring), (1, 0, 0));
    // Past the deadline of 12, it no longer counts as held.
    f.clock.advance(mins(49));
    let status = f.desk.lease_status().unwrap();
    assert_eq!((status.held, status.expiring, status.unusable), (1, 0, 1));
}

#[test]
fn below_low_water_the_desk_asks_for_a_top_up() {
    let mut f = Fixture::new(Some(LeasePolicy { low_water: 2, ..LeasePolicy::default() }));
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let status = f.desk.lease_status().unwrap();
    let session = status.sessions.iter().find(|s| s.session_id.as_str() == S).unwrap();
    assert!(session.wants_top_up && status.wants_top_up, "1 held, low water 2");
    assert!(f.desk.lease_top_up_due().unwrap());
    let request = f.desk.lease_request(true).unwrap().unwrap();
    assert!(request.top_up && request.give_back.is_empty());
    assert_eq!((request.protocol, request.device_id.as_str()), (frontdesk_protocol::PROTOCOL_VERSION, ME));
    assert!(f.desk.lease_request(false).unwrap().is_none(), "nothing to give back, no top-up asked");
    // Asked: the loop waits a minute before asking on its own again.
    let answer = LeaseAnswer { granted: 0, returned: 0, leases: vec![], server_now: now() };
    f.desk.apply_lease_answer(&request, &answer).unwrap();
    assert!(!f.desk.lease_top_up_due().unwrap());
    f.clock.advance(SignedDuration::from_secs(61));
    assert!(f.desk.lease_top_up_due().unwrap());
    // A second number in the session: at low water, that session wants no more.
    f.pull(vec![lease(2, 12, ME, now() + mins(120))], Some(now()));
    let status = f.desk.lease_status().unwrap();
    assert!(!status.sessions.iter().find(|s| s.session_id.as_str() == S).unwrap().wants_top_up);
}

#[test]
fn no_top_up_without_a_policy_or_without_anything_the_platform_could_lease() {
    let f = Fixture::new(None);
    assert!(!f.desk.lease_status().unwrap().wants_top_up);
    assert!(!f.desk.lease_top_up_due().unwrap());
    // Everything held back: the platform would lease nothing.
    let f = Fixture::new(Some(LeasePolicy { hold_back_percent: 100, ..LeasePolicy::default() }));
    let status = f.desk.lease_status().unwrap();
    assert!(status.policy.is_some() && !status.wants_top_up);
    // A policy cleared by the platform is forgotten.
    let mut f = Fixture::new(policy());
    assert!(f.desk.lease_status().unwrap().wants_top_up);
    f.pull(vec![Record::LeasePolicy { site_id: "demo".into(), policy: None }], Some(now()));
    assert_eq!(f.desk.lease_policy().unwrap(), None);
    assert!(!f.desk.lease_status().unwrap().wants_top_up);
}

#[test]
fn numbers_given_back_are_not_spent_and_leave_once_the_platform_took_them() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120)), lease(2, 12, ME, now() + mins(120))], Some(now()));
    let session = SessionId::from(S);
    assert_eq!(f.desk.give_back(&session, &[12], Lang::Zh).unwrap(), vec![12]);
    assert_eq!(f.lease_state(12), Some(LeaseState::Returning));
    assert_eq!(f.desk.lease_status().unwrap().held, 1);
    // Not spent, and not free either until the platform takes it back.
    let b = f.book_slot(2);
    assert_eq!((b.booking.queue_no, b.leased), (11, false));
    assert_eq!(f.refused_in(2), "slot_full");
    let request = f.desk.lease_request(false).unwrap().unwrap();
    assert!(!request.top_up);
    assert_eq!(request.give_back.len(), 1);
    assert_eq!((request.give_back[0].session_id.as_str(), request.give_back[0].queue_no), (S, 12));
    // Only numbers this desk holds unspent can be given back; nothing changes otherwise.
    assert_eq!(f.desk.give_back(&session, &[6, 18], Lang::En).unwrap_err().code(), "invalid_input");
    assert_eq!(f.lease_state(6), Some(LeaseState::Usable));
    // The platform's answer: 12 is no longer leased to this desk.
    let still = match lease(1, 6, ME, now() + mins(120)) {
        Record::Lease(l) => l,
        _ => unreachable!(),
    };
    let answer = LeaseAnswer { granted: 0, returned: 1, leases: vec![still], server_now: now() };
    f.desk.apply_lease_answer(&request, &answer).unwrap();
    assert_eq!(f.lease_state(12), None);
    assert!(f.desk.lease_request(false).unwrap().is_none());
    // Without numbers: every unspent one of the session.
    assert_eq!(f.desk.give_back(&session, &[], Lang::Zh).unwrap(), vec![6]);
    assert_eq!(f.desk.give_back(&SessionId::from("no-such-session"), &[], Lang::Zh).unwrap_err().code(), "not_found");
}

fn server_booking(id: &str, slot_no: u8, queue_no: u32) -> Booking {
    Booking {
        id: BookingId::from(id),
        site_id: "demo".into(),
        patient_id: PatientId::from("server-patient"),
        slot_id: slot(slot_no),
        session_id: S.into(),
        department_id: "demo-nk".into(),
        date: jiff::civil::date(2026, 11, 23),
        queue_no,
        channel: Channel::Online,
        status: BookingStatus::Booked,
        ticket_code: TicketCode::from_random(u64::from(queue_no) * 7919),
        overbook_reason: None,
    }
}

#[test]
fn a_pending_leased_booking_is_never_renumbered() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let mine = f.book_slot(1);
    let tentative = f.book_slot(2);
    assert_eq!((mine.booking.queue_no, tentative.booking.queue_no), (6, 11));
    // The platform's view has other bookings on both numbers (the lease ended while this desk
    // was away, say): the tentative booking moves, the leased one keeps its number — the
    // platform grants exactly it or answers `lease_lost`.
    f.pull(
        vec![Record::Booking(server_booking("srv-6", 1, 6)), Record::Booking(server_booking("srv-11", 2, 11))],
        Some(now()),
    );
    let after = f.desk.booking(&mine.booking.id).unwrap();
    assert_eq!((after.booking.queue_no, after.leased, after.guaranteed), (6, true, true));
    assert_eq!(f.op_of(&mine), (6, true));
    let moved = f.desk.booking(&tentative.booking.id).unwrap();
    assert_eq!(moved.booking.queue_no, 12);
    assert_eq!(f.op_of(&tentative), (12, false));
}

#[test]
fn a_pending_tentative_booking_leaves_a_number_leased_meanwhile() {
    let mut f = Fixture::new(policy());
    let tentative = f.book_slot(1);
    assert_eq!(tentative.booking.queue_no, 5);
    // The platform leased 5 to another desk before it heard of this booking: it would never
    // give 5 to it, so the desk moves it to the next number neither booked nor leased.
    f.pull(vec![lease(1, 5, OTHER, now() + mins(120))], Some(now()));
    let moved = f.desk.booking(&tentative.booking.id).unwrap();
    assert_eq!((moved.booking.queue_no, moved.leased), (6, false));
    assert_eq!(f.op_of(&tentative), (6, false));
    assert_eq!(f.board_slot(1).leased_elsewhere, 1);
}

/// The platform's answers to the outbox, one per op.
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

#[test]
fn a_confirmed_spend_ends_the_lease_and_stays_leased() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let b = f.book_slot(1);
    let p = b.booking.patient_id.clone();
    let resp = answer(
        &f.desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(p), ..Effects::default() } },
            Outcome::Applied {
                effects: Effects { booking_id: Some(b.booking.id.clone()), queue_no: Some(6), ..Effects::default() },
            },
        ],
    );
    f.desk.apply_push(&resp).unwrap();
    assert!(f.desk.leases().unwrap().is_empty(), "the spend ended the lease on the platform");
    // The platform's row of the booking does not carry the flag; the desk keeps it.
    let mut theirs = b.booking.clone();
    theirs.channel = Channel::Desk;
    f.pull(vec![Record::Booking(theirs), tombstone(6)], Some(now()));
    let after = f.desk.booking(&b.booking.id).unwrap();
    assert!(after.confirmed && after.leased && after.guaranteed);
    assert_eq!(f.desk.lease_status().unwrap().spent, 1);
    // Cancelled and confirmed: the number is free again.
    f.desk.cancel(&b.booking.id, None).unwrap();
    assert_eq!(f.desk.lease_status().unwrap().spent, 0);
    assert_eq!(f.board_slot(1).remaining_desk, 2);
}

#[test]
fn a_lost_lease_reaches_the_inbox_with_a_notice_for_the_patient() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let b = f.book_slot(1);
    let p = b.booking.patient_id.clone();
    let resp = answer(
        &f.desk,
        vec![
            Outcome::Applied { effects: Effects { patient_id: Some(p), ..Effects::default() } },
            Outcome::Conflict(Conflict {
                reason: "lease_lost".into(),
                message: "lost".into(),
                server_state: None,
                suggestions: vec![],
            }),
        ],
    );
    assert_eq!(f.desk.apply_push(&resp).unwrap().conflicts, 1);
    assert!(f.desk.booking(&b.booking.id).is_err(), "the booking leaves the view");
    let zh = &f.desk.conflicts(false, Lang::Zh).unwrap()[0];
    assert_eq!((zh.reason.as_str(), zh.title.as_str()), ("lease_lost", "保留号已失效"));
    assert!(zh.explanation.contains("保留号") && zh.explanation.contains("占用"), "{}", zh.explanation);
    let en = &f.desk.conflicts(false, Lang::En).unwrap()[0];
    assert_eq!(en.title, "Reserved number lost");
    assert!(en.explanation.contains("no longer reserved"), "{}", en.explanation);
    let notice = f.desk.notice_data(zh.id, Lang::Zh).unwrap();
    assert_eq!(notice.reason, "保留号已失效");
    assert!(notice.explanation.contains("保留号"), "{}", notice.explanation);
    let out = f.desk.resolve_conflict(zh.id, &frontdesk_desk::sync::Resolution::Cancel, Lang::Zh).unwrap();
    assert!(out.notice.unwrap().contains("保留号"));
}

#[test]
fn enrolling_again_forgets_the_old_identitys_leases() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120))], Some(now()));
    let site = f.desk.site().unwrap();
    f.desk
        .record_enrollment(
            "http://127.0.0.1:9",
            &EnrollResponse { device_id: "desk-c".into(), site, token: "t".into(), role: DeviceRole::Desk },
        )
        .unwrap();
    assert!(f.desk.leases().unwrap().is_empty());
    assert_eq!(f.desk.lease_policy().unwrap(), None);
}

#[test]
fn the_cli_lists_leases_and_says_which_bookings_are_guaranteed() {
    let mut f = Fixture::new(policy());
    f.pull(vec![lease(1, 6, ME, now() + mins(120)), lease(2, 12, ME, now() + mins(50))], Some(now()));
    let p = f.patient();
    let dir = f.dir.path().to_path_buf();
    drop(f.desk);
    let listed = ok_json(&dir, &["leases"]);
    assert_eq!(listed["status"]["held"], 2);
    assert_eq!(listed["status"]["expiring"], 1);
    assert_eq!(listed["leases"].as_array().unwrap().len(), 2);
    assert_eq!(listed["leases"][0]["state"], "usable");
    let booked = ok_json(&dir, &["book", "--patient", p.id.as_str(), "--slot", slot(1).as_str()]);
    assert_eq!((booked["booking"]["queue_no"].as_u64(), booked["guaranteed"].as_bool()), (Some(6), Some(true)));
    assert_eq!(booked["leased"], true);
    let text = frontdesk(&dir, &["leases", "--lang", "en"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("1 held (1 expiring within 1 h), 1 spent"), "{text}");
    let status = frontdesk(&dir, &["status", "--lang", "zh"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("保留号: 可用 1（1 小时内到期 1），已用 1"), "{status}");
    let json = ok_json(&dir, &["status"]);
    assert_eq!(json["desk"]["leases"]["spent"], 1);
    // Giving back while the platform cannot be reached: kept to send with the next sync.
    let out = ok_json(&dir, &["leases", "return", "--session", S, "--number", "12"]);
    assert_eq!(out["given_back"], serde_json::json!([12]));
    assert_eq!(out["sent"], false);
    assert!(out["error"].is_string());
    assert_eq!(out["leases"][1]["state"], "returning");
    let again = frontdesk(&dir, &["leases", "return", "--session", S, "--number", "12", "--lang", "en"]);
    assert_eq!(again.status.code(), Some(2), "12 is no longer this desk's to give");
}

#[test]
fn a_desk_that_cannot_reach_the_platform_books_its_own_lease_first() {
    let mut f = Fixture::new(policy());
    // This desk holds 18 (slot 3); slots 1 and 2 have free numbers.
    f.pull(vec![lease(3, 18, ME, now() + mins(240))], Some(now()));
    // Online (the last sync went through): the earliest slot, tentative for a moment.
    f.desk.record_sync_attempt(None).unwrap();
    let b = f.book_earliest();
    assert_eq!((b.booking.slot_id.clone(), b.leased), (slot(1), false));
    // The platform out of reach: the earliest slot where its lease is, guaranteed.
    f.desk.record_sync_attempt(Some("platform unreachable")).unwrap();
    let o = f.desk.walk_in_options("NK").unwrap().into_iter().find(|o| o.provider.id.as_str() == "demo-nk-1").unwrap();
    assert_eq!((o.state.slot.id.clone(), o.guaranteed), (slot(3), 1));
    let b = f.book_earliest();
    assert_eq!((b.booking.slot_id.clone(), b.booking.queue_no, b.leased, b.guaranteed), (slot(3), 18, true, true));
    // Its lease spent, the earliest bookable slot again.
    let b = f.book_earliest();
    assert_eq!((b.booking.slot_id, b.leased), (slot(1), false));
}
