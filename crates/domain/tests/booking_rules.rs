//! Table-driven tests of booking rules 1–4 and 7, of the decision over a department-day, and
//! property tests over random interleavings and random days.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{
    Booking, BookingError, BookingRequest, BookingStatus, DayDecision, DayTarget, Grant, MAX_SUGGESTIONS, QueueChoice,
    SlotState, bookable_in_order, decide_booking, decide_cancel, decide_check_in, decide_in_day, earliest_bookable,
    overbook_next,
};
use frontdesk_domain::schedule::{
    BookingId, Channel, DepartmentId, PatientId, Period, Pool, ProviderId, Session, SessionId, SessionStatus, SiteId,
    Slot, SlotId,
};
use frontdesk_domain::ticket::TicketCode;
use jiff::civil::{Date, DateTime, date, datetime, time};
use proptest::prelude::*;

const DAY: Date = date(2026, 11, 23);

fn session(id: &str, dept: &str, status: SessionStatus) -> Session {
    Session {
        id: SessionId::from(id),
        site_id: SiteId::from("s1"),
        department_id: DepartmentId::from(dept),
        provider_id: ProviderId::from(format!("{id}-p").as_str()),
        date: DAY,
        period: Period::Morning,
        status,
        status_reason: None,
        room: None,
    }
}

fn slot(session: &Session, index: u32, online: u32, desk: u32) -> Slot {
    let start = time(8, 0, 0, 0).checked_add(jiff::SignedDuration::from_mins(30 * i64::from(index))).unwrap();
    Slot {
        id: SlotId(format!("{}-{index}", session.id)),
        session_id: session.id.clone(),
        start,
        end: start.checked_add(jiff::SignedDuration::from_mins(30)).unwrap(),
        first_queue_no: 1 + index * (online + desk),
        online_capacity: online,
        desk_capacity: desk,
    }
}

fn state(session: &Session, slot: Slot, taken: &[u32]) -> SlotState {
    SlotState { session: session.clone(), slot, taken: taken.to_vec(), leased: vec![] }
}

fn booking(id: &str, patient: &str, st: &SlotState, queue_no: u32, status: BookingStatus) -> Booking {
    Booking {
        id: BookingId::from(id),
        site_id: SiteId::from("s1"),
        patient_id: PatientId::from(patient),
        slot_id: st.slot.id.clone(),
        session_id: st.session.id.clone(),
        department_id: st.session.department_id.clone(),
        date: st.session.date,
        queue_no,
        channel: Channel::Desk,
        status,
        ticket_code: TicketCode::from_random(queue_no as u64),
        overbook_reason: None,
    }
}

fn req<'a>(patient: &'a PatientId, channel: Channel, now: DateTime) -> BookingRequest<'a> {
    BookingRequest {
        patient_id: patient,
        channel,
        now,
        queue_no: QueueChoice::Lowest,
        overbook_reason: None,
        device: None,
    }
}

#[test]
fn table_of_booking_decisions() {
    let open = session("a", "nk", SessionStatus::Open);
    let suspended =
        Session { status_reason: Some("医生外出".into()), ..session("b", "nk", SessionStatus::Suspended) };
    let cancelled = session("c", "nk", SessionStatus::Cancelled);
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let during_first = datetime(2026, 11, 23, 8, 10, 0, 0);
    let after_first = datetime(2026, 11, 23, 8, 30, 0, 0);
    let p = PatientId::from("p1");

    // (name, target, channel, now, expected)
    let first_free = state(&open, slot(&open, 0, 2, 1), &[]);
    let desk_full = state(&open, slot(&open, 0, 2, 1), &[3]);
    let all_full = state(&open, slot(&open, 0, 2, 1), &[1, 2, 3]);
    let second = state(&open, slot(&open, 1, 2, 1), &[4]);
    type Case<'a> = (&'a str, SlotState, Channel, DateTime, Result<u32, &'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("desk takes the first desk number", first_free.clone(), Channel::Desk, early, Ok(3)),
        ("online takes the first online number", first_free.clone(), Channel::Online, early, Ok(1)),
        ("phone books from the online pool", first_free.clone(), Channel::Phone, early, Ok(1)),
        ("desk pool full while online has room", desk_full.clone(), Channel::Desk, early, Err("slot_full")),
        ("online still books when the desk pool is full", desk_full, Channel::Online, early, Ok(1)),
        ("everything taken", all_full, Channel::Online, early, Err("slot_full")),
        ("walk-in may take the current slot", first_free.clone(), Channel::Desk, during_first, Ok(3)),
        ("online may not take a started slot", first_free.clone(), Channel::Online, during_first, Err("slot_started")),
        ("nobody books an ended slot", first_free.clone(), Channel::Desk, after_first, Err("slot_ended")),
        (
            "the end instant is already ended",
            first_free,
            Channel::Desk,
            datetime(2026, 11, 23, 8, 30, 0, 0),
            Err("slot_ended"),
        ),
        ("lowest free number skips taken ones", second, Channel::Online, early, Ok(5)),
        (
            "suspended session",
            state(&suspended, slot(&suspended, 0, 2, 1), &[]),
            Channel::Desk,
            early,
            Err("session_suspended"),
        ),
        (
            "cancelled session",
            state(&cancelled, slot(&cancelled, 0, 2, 1), &[]),
            Channel::Desk,
            early,
            Err("session_cancelled"),
        ),
    ];
    for (name, target, channel, now, expected) in cases {
        let got = decide_booking(&req(&p, channel, now), &target, &[], 100, &[]);
        match (got, expected) {
            (Ok(g), Ok(n)) => assert_eq!(g, Grant { queue_no: n, overbooked: false }, "{name}"),
            (Err(r), Err(code)) => assert_eq!(r.error.code(), code, "{name}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn a_full_slot_suggests_the_next_bookable_one() {
    let s = session("a", "nk", SessionStatus::Open);
    let full = state(&s, slot(&s, 0, 1, 1), &[1, 2]);
    let ended = state(&s, slot(&s, 1, 1, 1), &[]);
    let also_full = state(&s, slot(&s, 2, 1, 1), &[6]);
    let free = state(&s, slot(&s, 3, 1, 1), &[]);
    let later = state(&s, slot(&s, 4, 1, 1), &[]);
    let alternatives = vec![later.clone(), full.clone(), free.clone(), also_full, ended];
    let now = datetime(2026, 11, 23, 9, 10, 0, 0);
    let p = PatientId::from("p1");
    let r = decide_booking(&req(&p, Channel::Desk, now), &full, &[], 100, &alternatives).unwrap_err();
    // Slots 0 and 1 have ended by 09:10; slot 2 is current but its desk number 6 is taken;
    // slot 3 is next.
    assert_eq!(r.error.code(), "slot_ended");
    let s2 = r.suggestion.unwrap();
    assert_eq!(s2.slot_id, free.slot.id);
    assert_eq!(s2.remaining, 1);
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let r = decide_booking(&req(&p, Channel::Desk, early), &full, &[], 100, &alternatives).unwrap_err();
    assert_eq!(r.error, BookingError::SlotFull { pool: Pool::Desk });
    assert_eq!(r.suggestion.unwrap().slot_id.as_str(), "a-1");
    // Nothing left at all: no suggestion, still a clear refusal.
    let r = decide_booking(&req(&p, Channel::Desk, early), &full, &[], 100, std::slice::from_ref(&full)).unwrap_err();
    assert_eq!(r.suggestion, None);
    assert!(r.error.message(Lang::Zh).contains("约满"));
    assert!(r.error.message(Lang::En).contains("no desk numbers left"));
}

#[test]
fn one_active_booking_per_patient_per_department_per_day() {
    let nk = session("a", "nk", SessionStatus::Open);
    let wk = session("w", "wk", SessionStatus::Open);
    let nk1 = state(&nk, slot(&nk, 0, 2, 2), &[]);
    let nk2 = state(&nk, slot(&nk, 1, 2, 2), &[]);
    let wk1 = state(&wk, slot(&wk, 0, 2, 2), &[]);
    let p = PatientId::from("p1");
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let held = booking("b1", "p1", &nk1, 3, BookingStatus::Booked);
    let r = decide_booking(&req(&p, Channel::Desk, early), &nk2, std::slice::from_ref(&held), 100, &[]).unwrap_err();
    assert_eq!(r.error, BookingError::PatientAlreadyBooked { existing: BookingId::from("b1") });
    // Another department the same day is fine.
    assert!(decide_booking(&req(&p, Channel::Desk, early), &wk1, std::slice::from_ref(&held), 100, &[]).is_ok());
    // A checked-in booking still counts; cancelled, done and no-show ones do not.
    for (status, allowed) in [
        (BookingStatus::CheckedIn, false),
        (BookingStatus::Cancelled, true),
        (BookingStatus::Done, true),
        (BookingStatus::NoShow, true),
    ] {
        let b = booking("b1", "p1", &nk1, 3, status);
        let got = decide_booking(&req(&p, Channel::Desk, early), &nk2, &[b], 100, &[]);
        assert_eq!(got.is_ok(), allowed, "{status:?}");
    }
    // Another day in the same department is fine.
    let mut other_day = held.clone();
    other_day.date = date(2026, 11, 24);
    assert!(decide_booking(&req(&p, Channel::Desk, early), &nk2, &[other_day], 100, &[]).is_ok());
}

#[test]
fn exact_numbers_and_overbooks() {
    let s = session("a", "nk", SessionStatus::Open);
    let st = state(&s, slot(&s, 0, 2, 2), &[3]);
    let p = PatientId::from("p1");
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let mut r = req(&p, Channel::Desk, early);
    r.queue_no = QueueChoice::Exactly(4);
    assert_eq!(decide_booking(&r, &st, &[], 100, &[]).unwrap().queue_no, 4);
    r.queue_no = QueueChoice::Exactly(3);
    assert_eq!(decide_booking(&r, &st, &[], 100, &[]).unwrap_err().error.code(), "queue_number_taken");
    r.queue_no = QueueChoice::Exactly(1);
    assert_eq!(decide_booking(&r, &st, &[], 100, &[]).unwrap_err().error.code(), "queue_number_out_of_pool");

    let full = state(&s, slot(&s, 0, 1, 1), &[1, 2]);
    let mut r = req(&p, Channel::Desk, early);
    r.overbook_reason = Some("  ");
    assert_eq!(decide_booking(&r, &full, &[], 9, &[]).unwrap_err().error.code(), "overbook_reason_missing");
    r.overbook_reason = Some("急诊转入");
    assert_eq!(decide_booking(&r, &full, &[], 9, &[]).unwrap(), Grant { queue_no: 9, overbooked: true });
    // Overbooking does not lift rule 3.
    let after = datetime(2026, 11, 23, 9, 0, 0, 0);
    r.now = after;
    assert_eq!(decide_booking(&r, &full, &[], 9, &[]).unwrap_err().error.code(), "slot_ended");

    let slots = vec![slot(&s, 0, 2, 2), slot(&s, 1, 2, 2)];
    assert_eq!(overbook_next(&slots, &[1, 2]), 9);
    assert_eq!(overbook_next(&slots, &[1, 9, 10]), 11);
}

#[test]
fn check_in_and_cancel() {
    let s = session("a", "nk", SessionStatus::Open);
    let st = state(&s, slot(&s, 0, 2, 2), &[]);
    let site = SiteId::from("s1");
    let b = booking("b1", "p1", &st, 3, BookingStatus::Booked);
    assert_eq!(decide_check_in(&b, &s, &site, DAY), Ok(()));
    let cases = [
        (BookingStatus::CheckedIn, DAY, "s1", "ticket_already_used"),
        (BookingStatus::Done, DAY, "s1", "ticket_already_used"),
        (BookingStatus::Cancelled, DAY, "s1", "booking_cancelled"),
        (BookingStatus::NoShow, DAY, "s1", "invalid_transition"),
        (BookingStatus::Booked, date(2026, 11, 24), "s1", "ticket_not_today"),
        (BookingStatus::Booked, DAY, "s2", "ticket_foreign_site"),
    ];
    for (status, today, at_site, code) in cases {
        let b = Booking { status, ..b.clone() };
        let e = decide_check_in(&b, &s, &SiteId::from(at_site), today).unwrap_err();
        assert_eq!(e.code(), code, "{status:?} {today} {at_site}");
        assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
    }
    let suspended = Session { status: SessionStatus::Suspended, ..s.clone() };
    assert_eq!(decide_check_in(&b, &suspended, &site, DAY).unwrap_err().code(), "session_suspended");

    assert_eq!(decide_cancel(&b), Ok(BookingStatus::Cancelled));
    let checked = Booking { status: BookingStatus::CheckedIn, ..b.clone() };
    assert_eq!(decide_cancel(&checked).unwrap_err().code(), "invalid_transition");
    let cancelled = Booking { status: BookingStatus::Cancelled, ..b };
    assert_eq!(decide_cancel(&cancelled).unwrap_err().code(), "booking_cancelled");
}

#[test]
fn earliest_bookable_orders_by_date_then_time() {
    let s = session("a", "nk", SessionStatus::Open);
    let mut tomorrow = session("t", "nk", SessionStatus::Open);
    tomorrow.date = date(2026, 11, 24);
    let a = state(&s, slot(&s, 3, 1, 1), &[]);
    let b = state(&tomorrow, slot(&tomorrow, 0, 1, 1), &[]);
    let c = state(&s, slot(&s, 2, 1, 1), &[6]); // desk number taken
    let now = datetime(2026, 11, 23, 7, 0, 0, 0);
    let all = [b.clone(), a.clone(), c.clone()];
    assert_eq!(earliest_bookable(&all, Channel::Desk, now).unwrap().slot.id, a.slot.id);
    assert_eq!(earliest_bookable(&all, Channel::Online, now).unwrap().slot.id, c.slot.id);
    assert!(earliest_bookable(&[c], Channel::Desk, now).is_none());
}

/// What the property tests do: a random walk of book / cancel / check-in over a few slots.
#[derive(Debug, Clone)]
enum Step {
    Book { patient: u8, slot: u8, channel: u8, exact: Option<u8>, overbook: bool },
    Cancel { which: u8 },
    CheckIn { which: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..6, 0u8..4, 0u8..3, proptest::option::of(0u8..12), proptest::bool::weighted(0.1))
            .prop_map(|(patient, slot, channel, exact, overbook)| Step::Book { patient, slot, channel, exact, overbook }),
        1 => any::<u8>().prop_map(|which| Step::Cancel { which }),
        1 => any::<u8>().prop_map(|which| Step::CheckIn { which }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_interleaving_breaks_the_invariants(steps in proptest::collection::vec(step(), 1..80)) {
        // Two departments; slots 0,1 in session a (dept nk), slots 2,3 in session b (dept wk).
        let a = session("a", "nk", SessionStatus::Open);
        let b = session("b", "wk", SessionStatus::Open);
        let mut slots = [slot(&a, 0, 2, 1), slot(&a, 1, 1, 2), slot(&b, 0, 2, 1), slot(&b, 1, 1, 1)];
        // Blocks follow each other within a session.
        slots[1].first_queue_no = slots[0].first_queue_no + slots[0].capacity();
        slots[3].first_queue_no = slots[2].first_queue_no + slots[2].capacity();
        let sessions = [&a, &a, &b, &b];
        let now = datetime(2026, 11, 23, 7, 0, 0, 0);
        let mut bookings: Vec<Booking> = Vec::new();
        for (i, st) in steps.iter().enumerate() {
            match st {
                Step::Book { patient, slot: si, channel, exact, overbook } => {
                    let si = *si as usize;
                    let sess = sessions[si];
                    let taken: Vec<u32> = bookings.iter()
                        .filter(|bk| bk.slot_id == slots[si].id && bk.status.holds_number() && bk.overbook_reason.is_none())
                        .map(|bk| bk.queue_no).collect();
                    let target = state(sess, slots[si].clone(), &taken);
                    let held: Vec<u32> = bookings.iter()
                        .filter(|bk| bk.session_id == sess.id && bk.status.holds_number()).map(|bk| bk.queue_no).collect();
                    let session_slots: Vec<Slot> = slots.iter().filter(|s| s.session_id == sess.id).cloned().collect();
                    let next = overbook_next(&session_slots, &held);
                    let pid = PatientId(format!("p{patient}"));
                    let channel = [Channel::Desk, Channel::Online, Channel::Phone][*channel as usize % 3];
                    let r = BookingRequest {
                        patient_id: &pid,
                        channel,
                        now,
                        queue_no: exact.map_or(QueueChoice::Lowest, |n| QueueChoice::Exactly(u32::from(n) + 1)),
                        overbook_reason: overbook.then_some("admin"),
                        device: None,
                    };
                    if let Ok(g) = decide_booking(&r, &target, &bookings, next, &[]) {
                        let mut bk = booking(&format!("b{i}"), &pid.0, &target, g.queue_no, BookingStatus::Booked);
                        bk.channel = channel;
                        bk.overbook_reason = g.overbooked.then(|| "admin".to_string());
                        bookings.push(bk);
                    }
                }
                Step::Cancel { which } => {
                    if !bookings.is_empty() {
                        let k = *which as usize % bookings.len();
                        if let Ok(s) = decide_cancel(&bookings[k]) { bookings[k].status = s; }
                    }
                }
                Step::CheckIn { which } => {
                    if !bookings.is_empty() {
                        let k = *which as usize % bookings.len();
                        let sess = if bookings[k].session_id == a.id { &a } else { &b };
                        if decide_check_in(&bookings[k], sess, &SiteId::from("s1"), DAY).is_ok() {
                            bookings[k].status = BookingStatus::CheckedIn;
                        }
                    }
                }
            }
            // Rule 1: per slot and pool, regular live bookings never exceed capacity.
            for s in &slots {
                for pool in [Pool::Desk, Pool::Online] {
                    let n = bookings.iter().filter(|bk| bk.slot_id == s.id && bk.status.holds_number()
                        && bk.overbook_reason.is_none() && s.pool_of(bk.queue_no) == Some(pool)).count() as u32;
                    prop_assert!(n <= s.pool_capacity(pool));
                    let wrong_pool = bookings.iter().filter(|bk| bk.slot_id == s.id && bk.overbook_reason.is_none()
                        && bk.status.holds_number() && s.pool_of(bk.queue_no) != Some(bk.channel.pool())).count();
                    prop_assert_eq!(wrong_pool, 0);
                }
            }
            // Rule 2: at most one active booking per patient, department and day.
            let mut seen = HashSet::new();
            for bk in bookings.iter().filter(|bk| bk.status.is_active()) {
                prop_assert!(seen.insert((bk.patient_id.clone(), bk.department_id.clone(), bk.date)));
            }
            // Rule 4: queue numbers unique per session among bookings holding one.
            let mut numbers: HashMap<(SessionId, u32), usize> = HashMap::new();
            for bk in bookings.iter().filter(|bk| bk.status.holds_number()) {
                *numbers.entry((bk.session_id.clone(), bk.queue_no)).or_default() += 1;
            }
            prop_assert!(numbers.values().all(|&c| c == 1), "duplicate queue number: {numbers:?}");
        }
    }
}

proptest! {
    /// `remaining` counts without walking the pool: it must agree with the free numbers
    /// themselves, whatever is held (numbers of either pool, of other slots, overbooks).
    #[test]
    fn remaining_is_the_count_of_free_numbers(
        index in 0u32..4,
        online in 0u32..7,
        desk in 0u32..7,
        taken in proptest::collection::hash_set(0u32..40, 0..30),
    ) {
        let s = session("a", "nk", SessionStatus::Open);
        let taken: Vec<u32> = taken.into_iter().collect();
        let st = state(&s, slot(&s, index, online, desk), &taken);
        for pool in [Pool::Online, Pool::Desk] {
            prop_assert_eq!(st.remaining(pool), st.free_numbers(pool).count() as u32);
        }
        let now = datetime(2026, 11, 23, 7, 0, 0, 0);
        prop_assert_eq!(st.bookable(Channel::Online, now), st.free_numbers(Pool::Online).next().is_some());
        prop_assert_eq!(st.bookable(Channel::Desk, now), st.free_numbers(Pool::Desk).next().is_some());
    }
}

/// What a [`decide_in_day`] case expects.
#[derive(Debug)]
enum Want<'a> {
    /// Granted in this slot, this number, overbooked or not.
    Granted(&'a str, u32, bool),
    /// Refused with this code, these suggestions in order, and this existing booking.
    Refused(&'a str, Vec<&'a str>, Option<&'a str>),
    /// The target is not in the day.
    NotFound,
}

/// A department-day: two providers' morning sessions, four numbers per slot (online 2, desk 2).
///
/// | slot | start | online | desk | taken          |
/// | a-0  | 08:00 | 1 2    | 3 4  | 3 4 (desk full) |
/// | a-1  | 08:30 | 5 6    | 7 8  | 7               |
/// | a-2  | 09:00 | 9 10   | 11 12| —               |
/// | a-3  | 09:30 | 13 14  | 15 16| —               |
/// | b-0  | 08:00 | 1 2    | 3 4  | 1 2 3 4 (full)  |
/// | b-1  | 08:30 | 5 6    | 7 8  | —               |
fn department_day() -> Vec<SlotState> {
    let a = session("a", "nk", SessionStatus::Open);
    let b = session("b", "nk", SessionStatus::Open);
    // Listed out of order: the rules rank, the order given does not matter.
    vec![
        state(&a, slot(&a, 3, 2, 2), &[]),
        state(&b, slot(&b, 1, 2, 2), &[]),
        state(&a, slot(&a, 0, 2, 2), &[3, 4]),
        state(&a, slot(&a, 2, 2, 2), &[]),
        state(&b, slot(&b, 0, 2, 2), &[1, 2, 3, 4]),
        state(&a, slot(&a, 1, 2, 2), &[7]),
    ]
}

#[test]
fn table_of_day_decisions() {
    let day = department_day();
    let p = PatientId::from("p1");
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let at_0840 = datetime(2026, 11, 23, 8, 40, 0, 0);
    let late = datetime(2026, 11, 23, 12, 0, 0, 0);
    let b1 = day.iter().find(|s| s.slot.id.as_str() == "b-1").unwrap();
    let held = booking("held", "p1", b1, 7, BookingStatus::Booked);
    let other_dept =
        Booking { department_id: DepartmentId::from("wk"), ..booking("wk", "p1", b1, 7, BookingStatus::Booked) };
    let slot_id = |s: &str| SlotId::from(s);
    let (a0, a1, a2, b0, zz) = (slot_id("a-0"), slot_id("a-1"), slot_id("a-2"), slot_id("b-0"), slot_id("zz"));
    use DayTarget::{Earliest, Slot as At};
    use QueueChoice::{Exactly, Lowest, Prefer};
    // (name, target, channel, now, number asked, bookings, overbook reason, max, expected)
    type Case<'a> =
        (&'a str, DayTarget<'a>, Channel, DateTime, QueueChoice, Vec<Booking>, Option<&'a str>, usize, Want<'a>);
    let cases: Vec<Case<'_>> = vec![
        ("a slot with room", At(&a1), Channel::Desk, early, Lowest, vec![], None, 3, Want::Granted("a-1", 8, false)),
        (
            "online into the same slot",
            At(&a1),
            Channel::Online,
            early,
            Lowest,
            vec![],
            None,
            3,
            Want::Granted("a-1", 5, false),
        ),
        (
            "earliest for the desk skips full slots",
            Earliest,
            Channel::Desk,
            early,
            Lowest,
            vec![],
            None,
            3,
            Want::Granted("a-1", 8, false),
        ),
        (
            "earliest online takes the first slot",
            Earliest,
            Channel::Online,
            early,
            Lowest,
            vec![],
            None,
            3,
            Want::Granted("a-0", 1, false),
        ),
        (
            "earliest walk-in takes the current slot",
            Earliest,
            Channel::Desk,
            at_0840,
            Lowest,
            vec![],
            None,
            3,
            Want::Granted("a-1", 8, false),
        ),
        (
            "earliest online once the 08:30 slots started",
            Earliest,
            Channel::Online,
            at_0840,
            Lowest,
            vec![],
            None,
            3,
            Want::Granted("a-2", 9, false),
        ),
        (
            "a full slot suggests the next three, earliest first, ties by id",
            At(&a0),
            Channel::Desk,
            early,
            Lowest,
            vec![],
            None,
            3,
            Want::Refused("slot_full", vec!["a-1", "b-1", "a-2"], None),
        ),
        (
            "as many suggestions as asked",
            At(&b0),
            Channel::Desk,
            early,
            Lowest,
            vec![],
            None,
            1,
            Want::Refused("slot_full", vec!["a-1"], None),
        ),
        (
            "a full online pool suggests online slots",
            At(&b0),
            Channel::Online,
            early,
            Lowest,
            vec![],
            None,
            3,
            Want::Refused("slot_full", vec!["a-0", "a-1", "b-1"], None),
        ),
        (
            "an ended slot suggests what is still open",
            At(&a0),
            Channel::Desk,
            at_0840,
            Lowest,
            vec![],
            None,
            3,
            Want::Refused("slot_ended", vec!["a-1", "b-1", "a-2"], None),
        ),
        (
            "the patient's booking that day is returned",
            At(&a2),
            Channel::Desk,
            early,
            Lowest,
            vec![held.clone()],
            None,
            3,
            Want::Refused("patient_already_booked", vec![], Some("held")),
        ),
        (
            "also when the earliest slot is chosen",
            Earliest,
            Channel::Online,
            early,
            Lowest,
            vec![other_dept.clone(), held.clone()],
            None,
            3,
            Want::Refused("patient_already_booked", vec![], Some("held")),
        ),
        (
            "another department's booking does not count",
            At(&a2),
            Channel::Desk,
            early,
            Lowest,
            vec![other_dept],
            None,
            3,
            Want::Granted("a-2", 11, false),
        ),
        (
            "a preferred free number",
            At(&a2),
            Channel::Desk,
            early,
            Prefer(12),
            vec![],
            None,
            3,
            Want::Granted("a-2", 12, false),
        ),
        (
            "a preferred taken number falls back to the lowest",
            At(&a1),
            Channel::Desk,
            early,
            Prefer(7),
            vec![],
            None,
            3,
            Want::Granted("a-1", 8, false),
        ),
        (
            "a preferred number of the other pool falls back",
            At(&a2),
            Channel::Desk,
            early,
            Prefer(9),
            vec![],
            None,
            3,
            Want::Granted("a-2", 11, false),
        ),
        (
            "a preferred number of another slot falls back",
            At(&a2),
            Channel::Desk,
            early,
            Prefer(3),
            vec![],
            None,
            3,
            Want::Granted("a-2", 11, false),
        ),
        (
            "a preferred number in a full slot is still a full slot",
            At(&a0),
            Channel::Desk,
            early,
            Prefer(4),
            vec![],
            None,
            2,
            Want::Refused("slot_full", vec!["a-1", "b-1"], None),
        ),
        (
            "an exact free number",
            At(&a1),
            Channel::Desk,
            early,
            Exactly(8),
            vec![],
            None,
            3,
            Want::Granted("a-1", 8, false),
        ),
        (
            "an exact taken number",
            At(&a1),
            Channel::Desk,
            early,
            Exactly(7),
            vec![],
            None,
            3,
            Want::Refused("queue_number_taken", vec!["b-1", "a-2", "a-3"], None),
        ),
        (
            "an overbook takes the session's next number",
            At(&a0),
            Channel::Desk,
            early,
            Lowest,
            vec![],
            Some("急诊"),
            3,
            Want::Granted("a-0", 17, true),
        ),
        (
            "an overbook without a reason",
            At(&a0),
            Channel::Desk,
            early,
            Lowest,
            vec![],
            Some(" "),
            3,
            Want::Refused("overbook_reason_missing", vec![], None),
        ),
        ("an unknown slot", At(&zz), Channel::Desk, early, Lowest, vec![], None, 3, Want::NotFound),
        (
            "nothing left in the day",
            Earliest,
            Channel::Desk,
            late,
            Lowest,
            vec![],
            None,
            3,
            Want::Refused("no_slot_available", vec![], None),
        ),
    ];
    for (name, target, channel, now, queue_no, bookings, overbook_reason, max, want) in cases {
        let req = BookingRequest { patient_id: &p, channel, now, queue_no, overbook_reason, device: None };
        let mut asked = None;
        let got = decide_in_day(
            &day,
            target,
            &req,
            &bookings,
            |st: &SlotState| {
                asked = Some(st.slot.id.clone());
                Ok::<u32, std::convert::Infallible>(17)
            },
            max,
        )
        .unwrap();
        match (got, &want) {
            (DayDecision::Granted { state, grant }, Want::Granted(slot, n, over)) => {
                assert_eq!((state.slot.id.as_str(), grant.queue_no, grant.overbooked), (*slot, *n, *over), "{name}");
                // The overbook number is asked for only when an overbook is granted, for its slot.
                assert_eq!(asked.as_ref().map(SlotId::as_str), over.then_some(*slot), "{name}");
            }
            (DayDecision::Refused { error, suggestions, state, existing }, Want::Refused(code, slots, held)) => {
                assert_eq!(error.code(), *code, "{name}");
                let got: Vec<&str> = suggestions.iter().map(|s| s.slot_id.as_str()).collect();
                assert_eq!(&got, slots, "{name}");
                assert_eq!(existing.map(|b| b.id.as_str()), *held, "{name}");
                match target {
                    DayTarget::Slot(id) => assert_eq!(state.map(|s| &s.slot.id), Some(id), "{name}"),
                    DayTarget::Earliest if *code == "no_slot_available" => assert!(state.is_none(), "{name}"),
                    DayTarget::Earliest => assert!(state.is_some(), "{name}"),
                }
                if let Some(st) = state {
                    assert!(
                        suggestions.iter().all(|s| s.slot_id != st.slot.id),
                        "{name}: the refused slot is never offered"
                    );
                }
                assert!(asked.is_none(), "{name}");
            }
            (DayDecision::NotFound, Want::NotFound) => {}
            (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
        }
    }
}

#[test]
fn suggestions_carry_what_is_left() {
    let day = department_day();
    let p = PatientId::from("p1");
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let a0 = SlotId::from("a-0");
    let req = BookingRequest {
        patient_id: &p,
        channel: Channel::Desk,
        now: early,
        queue_no: QueueChoice::Lowest,
        overbook_reason: None,
        device: None,
    };
    let got = decide_in_day(&day, DayTarget::Slot(&a0), &req, &[], |_| Ok::<u32, ()>(0), MAX_SUGGESTIONS).unwrap();
    let DayDecision::Refused { suggestions, .. } = got else { panic!("{got:?}") };
    let first = &suggestions[0];
    assert_eq!(
        (first.slot_id.as_str(), first.session_id.as_str(), first.provider_id.as_str(), first.remaining),
        ("a-1", "a", "a-p", 1)
    );
    assert_eq!((first.date, first.start, first.end), (DAY, time(8, 30, 0, 0), time(9, 0, 0, 0)));
}

#[test]
fn the_overbook_number_may_fail_to_load() {
    let day = department_day();
    let p = PatientId::from("p1");
    let early = datetime(2026, 11, 23, 7, 0, 0, 0);
    let (a0, a1) = (SlotId::from("a-0"), SlotId::from("a-1"));
    let req = BookingRequest {
        patient_id: &p,
        channel: Channel::Desk,
        now: early,
        queue_no: QueueChoice::Lowest,
        overbook_reason: Some("急诊"),
        device: None,
    };
    let failing = |_: &SlotState| Err::<u32, &str>("storage gone");
    assert_eq!(decide_in_day(&day, DayTarget::Slot(&a0), &req, &[], failing, 3), Err("storage gone"));
    // A slot with room never asks for it, reason or not.
    let got = decide_in_day(&day, DayTarget::Slot(&a1), &req, &[], failing, 3).unwrap();
    assert!(matches!(got, DayDecision::Granted { grant: Grant { queue_no: 8, overbooked: false }, .. }), "{got:?}");
}

#[test]
fn a_grant_makes_a_booking() {
    let day = department_day();
    let st = day.iter().find(|s| s.slot.id.as_str() == "a-1").unwrap();
    let code = TicketCode::from_random(42);
    let make = |grant: Grant, reason: Option<&str>| {
        Booking::granted(BookingId::from("bk"), PatientId::from("p1"), st, grant, Channel::Phone, code.clone(), reason)
    };
    let b = make(Grant { queue_no: 5, overbooked: false }, None);
    assert_eq!(
        b,
        Booking {
            id: BookingId::from("bk"),
            site_id: SiteId::from("s1"),
            patient_id: PatientId::from("p1"),
            slot_id: SlotId::from("a-1"),
            session_id: SessionId::from("a"),
            department_id: DepartmentId::from("nk"),
            date: DAY,
            queue_no: 5,
            channel: Channel::Phone,
            status: BookingStatus::Booked,
            ticket_code: code.clone(),
            overbook_reason: None,
        }
    );
    // The reason stays only with an overbook.
    for (overbooked, reason, kept) in
        [(false, Some("急诊"), None), (true, Some("急诊"), Some("急诊")), (true, None, None), (false, None, None)]
    {
        let b = make(Grant { queue_no: 17, overbooked }, reason);
        assert_eq!(b.overbook_reason.as_deref(), kept, "{overbooked} {reason:?}");
        assert_eq!((b.queue_no, b.status), (17, BookingStatus::Booked));
    }
}

#[test]
fn a_slot_is_open_to_a_channel_as_the_rules_say() {
    let s = session("a", "nk", SessionStatus::Open);
    let st = state(&s, slot(&s, 0, 2, 2), &[1]);
    let suspended = SlotState { session: Session { status: SessionStatus::Suspended, ..s.clone() }, ..st.clone() };
    // (name, state, now, desk open, online open, desk left, online left, ended)
    let cases = [
        ("before the start", &st, datetime(2026, 11, 23, 7, 0, 0, 0), Ok(()), Ok(()), 2, 1, false),
        ("started", &st, datetime(2026, 11, 23, 8, 0, 0, 0), Ok(()), Err("slot_started"), 2, 0, false),
        ("at the end", &st, datetime(2026, 11, 23, 8, 30, 0, 0), Err("slot_ended"), Err("slot_ended"), 0, 0, true),
        (
            "suspended",
            &suspended,
            datetime(2026, 11, 23, 7, 0, 0, 0),
            Err("session_suspended"),
            Err("session_suspended"),
            0,
            0,
            false,
        ),
    ];
    for (name, st, now, desk, online, desk_left, online_left, ended) in cases {
        assert_eq!(st.open_for(Channel::Desk, now).map_err(|e| e.code()), desk, "{name}");
        assert_eq!(st.open_for(Channel::Online, now).map_err(|e| e.code()), online, "{name}");
        assert_eq!(st.open_for(Channel::Phone, now).map_err(|e| e.code()), online, "{name}");
        assert_eq!(st.open_remaining(Channel::Desk, now), desk_left, "{name}");
        assert_eq!(st.open_remaining(Channel::Online, now), online_left, "{name}");
        assert_eq!(st.ended(now), ended, "{name}");
    }
}

/// A random department-day for the property below: up to six slots in two sessions.
fn random_day() -> impl Strategy<Value = (Vec<SlotState>, u8, u8, u8, Option<u8>)> {
    (
        proptest::collection::vec((0u8..2, 0u32..4, 0u32..3, 0u32..3, 0u16..64, proptest::bool::weighted(0.15)), 0..7),
        0u8..8,
        0u8..3,
        0u8..10,
        proptest::option::of(0u8..16),
    )
        .prop_map(|(slots, target, channel, hour, prefer)| {
            let mut seen = HashSet::new();
            let day = slots
                .into_iter()
                .filter(|(sess, index, ..)| seen.insert((*sess, *index)))
                .map(|(sess, index, online, desk, taken_bits, suspended)| {
                    let status = if suspended { SessionStatus::Suspended } else { SessionStatus::Open };
                    let s = session(["a", "b"][sess as usize], "nk", status);
                    let sl = slot(&s, index, online, desk);
                    let taken: Vec<u32> =
                        (0..16).filter(|i| taken_bits & (1 << i) != 0).map(|i| sl.first_queue_no + i).collect();
                    state(&s, sl, &taken)
                })
                .collect();
            (day, target, channel, hour, prefer)
        })
}

proptest! {
    /// The day's decision is the slot rule's decision, with the rule's suggestion first and
    /// more in rank order after it, never the refused slot.
    #[test]
    fn deciding_in_a_day_agrees_with_the_slot_rule((day, target, channel, hour, prefer) in random_day()) {
        let p = PatientId::from("p1");
        let channel = [Channel::Desk, Channel::Online, Channel::Phone][channel as usize];
        let now = datetime(2026, 11, 23, 6 + hour as i8, 15, 0, 0);
        let queue_no = prefer.map_or(QueueChoice::Lowest, |n| QueueChoice::Prefer(u32::from(n) + 1));
        let req = BookingRequest { patient_id: &p, channel, now, queue_no, overbook_reason: None, device: None };
        let target_id = day.get(target as usize).map(|s| s.slot.id.clone());
        let day_target = match &target_id { Some(id) => DayTarget::Slot(id), None => DayTarget::Earliest };
        let got = decide_in_day(&day, day_target, &req, &[], |_| Ok::<u32, ()>(99), MAX_SUGGESTIONS).unwrap();
        let chosen = match &target_id {
            Some(id) => day.iter().find(|s| &s.slot.id == id),
            None => earliest_bookable(&day, channel, now),
        };
        match (got, chosen) {
            (DayDecision::Granted { state, grant }, Some(chosen)) => {
                prop_assert_eq!(&state.slot.id, &chosen.slot.id);
                prop_assert_eq!(decide_booking(&req, chosen, &[], 99, &day), Ok(grant));
            }
            (DayDecision::Refused { error, suggestions, state: Some(state), existing: None }, Some(chosen)) => {
                prop_assert_eq!(&state.slot.id, &chosen.slot.id);
                let refusal = decide_booking(&req, chosen, &[], 99, &day).unwrap_err();
                prop_assert_eq!(&error, &refusal.error);
                prop_assert_eq!(suggestions.first(), refusal.suggestion.as_deref());
                prop_assert!(suggestions.len() <= MAX_SUGGESTIONS);
                let others = day.iter().filter(|s| s.slot.id != chosen.slot.id);
                let expected: Vec<&SlotId> = match refusal.suggestion {
                    Some(_) => bookable_in_order(others, channel, now, MAX_SUGGESTIONS).into_iter().map(|s| &s.slot.id).collect(),
                    None => Vec::new(),
                };
                prop_assert_eq!(suggestions.iter().map(|s| &s.slot_id).collect::<Vec<_>>(), expected);
                prop_assert!(suggestions.iter().all(|s| s.slot_id != chosen.slot.id));
            }
            (DayDecision::Refused { error: BookingError::NoSlotAvailable, suggestions, state: None, .. }, None) => {
                prop_assert!(target_id.is_none());
                prop_assert!(suggestions.is_empty());
            }
            (got, chosen) => prop_assert!(false, "got {:?} for {:?}", got, chosen.map(|s| &s.slot.id)),
        }
    }
}

#[test]
fn a_leased_number_is_granted_to_its_desk_whatever_happened_to_the_slot_and_to_nobody_else() {
    use frontdesk_domain::schedule::DeviceId;
    let s = session("a", "NK", SessionStatus::Open);
    // Slot 0: online 1–2, desk 3–4; number 4 leased to desk A, 3 booked.
    let mut st = state(&s, slot(&s, 0, 2, 2), &[3]);
    let (a, b) = (DeviceId::from("desk-a"), DeviceId::from("desk-b"));
    st.leased.push((4, a.clone()));
    let p = PatientId::from("p1");
    let ended = datetime(2026, 11, 23, 12, 0, 0, 0);
    let before = datetime(2026, 11, 23, 7, 0, 0, 0);
    let ask_in = |st: &SlotState, choice: QueueChoice, channel: Channel, device: Option<&DeviceId>, now: DateTime| {
        let r = BookingRequest { patient_id: &p, channel, now, queue_no: choice, overbook_reason: None, device };
        decide_booking(&r, st, &[], 99, &[]).map(|g| g.queue_no).map_err(|e| e.error.code())
    };
    let ask = |choice, channel, device, now| ask_in(&st, choice, channel, device, now);
    // The lessee: granted, even after the slot ended and with the pool otherwise full.
    assert_eq!(ask(QueueChoice::Leased(4), Channel::Desk, Some(&a), ended), Ok(4));
    assert_eq!(ask(QueueChoice::Leased(4), Channel::Desk, Some(&a), before), Ok(4));
    // Another desk spending it (an expired lease of its own, a restored replica): lost.
    assert_eq!(ask(QueueChoice::Leased(4), Channel::Desk, Some(&b), before), Err("lease_lost"));
    assert_eq!(ask(QueueChoice::Leased(4), Channel::Desk, None, before), Err("lease_lost"));
    // Outside a lease nobody takes it: the desk pool is full for them, and it is not free.
    assert_eq!(ask(QueueChoice::Lowest, Channel::Desk, Some(&b), before), Err("slot_full"));
    assert_eq!(ask(QueueChoice::Lowest, Channel::Desk, Some(&a), before), Err("slot_full"));
    assert_eq!(ask(QueueChoice::Exactly(4), Channel::Desk, None, before), Err("queue_number_taken"));
    assert_eq!(ask(QueueChoice::Prefer(4), Channel::Desk, None, before), Err("slot_full"));
    assert_eq!(st.remaining(Pool::Desk), 0, "a leased number is not free");
    // Never an online number, never through another channel.
    assert_eq!(ask(QueueChoice::Leased(1), Channel::Desk, Some(&a), before), Err("queue_number_out_of_pool"));
    assert_eq!(ask(QueueChoice::Leased(4), Channel::Online, Some(&a), before), Err("queue_number_out_of_pool"));
    // A leased spend of a number no longer leased to anyone but still free: granted.
    let mut returned = st.clone();
    returned.leased.clear();
    assert_eq!(ask_in(&returned, QueueChoice::Leased(4), Channel::Desk, Some(&b), ended), Ok(4));
}

#[test]
fn a_leased_number_is_refused_in_a_suspended_or_cancelled_session_and_to_a_patient_already_booked() {
    use frontdesk_domain::schedule::DeviceId;
    let a = DeviceId::from("desk-a");
    let p = PatientId::from("p1");
    let now = datetime(2026, 11, 23, 7, 0, 0, 0);
    for (status, code) in
        [(SessionStatus::Suspended, "session_suspended"), (SessionStatus::Cancelled, "session_cancelled")]
    {
        let s = session("a", "NK", status);
        let mut st = state(&s, slot(&s, 0, 2, 2), &[]);
        st.leased.push((4, a.clone()));
        let r = BookingRequest {
            patient_id: &p,
            channel: Channel::Desk,
            now,
            queue_no: QueueChoice::Leased(4),
            overbook_reason: None,
            device: Some(&a),
        };
        assert_eq!(decide_booking(&r, &st, &[], 99, &[]).map_err(|e| e.error.code()), Err(code));
    }
    let s = session("a", "NK", SessionStatus::Open);
    let mut st = state(&s, slot(&s, 0, 2, 2), &[]);
    st.leased.push((4, a.clone()));
    let held = booking("b0", "p1", &st, 3, BookingStatus::Booked);
    let r = BookingRequest {
        patient_id: &p,
        channel: Channel::Desk,
        now,
        queue_no: QueueChoice::Leased(4),
        overbook_reason: None,
        device: Some(&a),
    };
    assert_eq!(decide_booking(&r, &st, &[held], 99, &[]).map_err(|e| e.error.code()), Err("patient_already_booked"));
}
