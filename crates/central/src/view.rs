//! The 08:00 release without the writer: an in-memory view of every site's schedule and the
//! numbers held, kept by following the change log (both back-ends, every process on its own).
//!
//! At a slot release most requests are availability reads and bookings of what is already
//! gone. While the view has caught up with the change log within the last
//! [`FRESH_FOR`], this process answers
//! - availability from memory, and
//! - "sold out" — a slot with no free online number, or a department-day with no bookable slot
//!   left — with the refusal the rules themselves give on the view's state (suggestions
//!   included),
//!
//! without a database round trip. A refusal from a view at most a second old is the price: a
//! number freed by a cancellation in that second is offered a moment later. A booking is still
//! decided only by the store; the view never grants anything.
//!
//! The view follows capacity leases too, so its slot states are the store's (leased numbers
//! included: a lease holds its number until its tombstone, expired or not). Leases hold desk-pool numbers only, so
//! they never change an online answer.
//!
//! The same loop publishes, per site, the newest change-log position it has seen
//! ([`View::head`]): the live board's long-polls (`GET /v1/sync/wait`) wait on it. It follows the
//! change log under the pull's own visibility rule, so a wait never wakes for something a pull
//! cannot serve yet. It runs whether or not the view answers requests.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{
    BookingError, BookingRequest, DayDecision, DayTarget, MAX_SUGGESTIONS, QueueChoice, SlotState, decide_in_day,
};
use frontdesk_domain::schedule::{
    BookingId, Channel, Department, DepartmentId, DeviceId, PatientId, Session, SessionId, Site, SiteId, Slot, SlotId,
};
use frontdesk_protocol::online::{Availability, AvailabilityQuery, OnlineBookingRequest, OnlineRefusal};
use frontdesk_protocol::sync::Record;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::outcome::{available_slots, parse_lease_key, site_now};
use crate::store::Store;

/// How long after its last catch-up the view may still answer.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How often the view reads the change log.
pub const REFRESH_EVERY: Duration = Duration::from_millis(200);
/// Changes read per page.
const PAGE: u32 = 5000;

type DayKey = (SiteId, DepartmentId, Date);

#[derive(Default)]
struct State {
    cursor: u64,
    sites: HashMap<SiteId, Site>,
    departments: HashMap<DepartmentId, Department>,
    by_code: HashMap<(SiteId, String), DepartmentId>,
    sessions: HashMap<SessionId, Session>,
    days: HashMap<DayKey, BTreeSet<SessionId>>,
    slots: HashMap<SlotId, Slot>,
    session_slots: HashMap<SessionId, BTreeSet<SlotId>>,
    /// Live, regular (not overbooked) bookings: the number each holds.
    holds: HashMap<BookingId, (SlotId, u32)>,
    taken: HashMap<SlotId, Vec<u32>>,
    /// Capacity leases: the slot of each leased (session, number).
    lease_slots: HashMap<(SessionId, u32), SlotId>,
    /// Numbers leased in each slot, with the desk.
    leased: HashMap<SlotId, Vec<(u32, DeviceId)>>,
}

impl State {
    /// The site a change belongs to, as far as the view knows (before it is applied: a
    /// tombstone's row is still there). `None` for a row of something already forgotten.
    fn site_of(&self, record: &Record) -> Option<SiteId> {
        let of_session = |id: &SessionId| self.sessions.get(id).map(|s| s.site_id.clone());
        let of_slot = |id: &SlotId| self.slots.get(id).and_then(|s| of_session(&s.session_id));
        match record {
            Record::Site(s) => Some(s.id.clone()),
            Record::Department(d) => Some(d.site_id.clone()),
            Record::Provider(p) => Some(p.site_id.clone()),
            Record::Session(s) => Some(s.site_id.clone()),
            Record::Slot(s) => of_session(&s.session_id),
            Record::Booking(b) => Some(b.site_id.clone()),
            Record::Patient(p) => Some(p.site_id.clone()),
            Record::Lease(l) => of_session(&l.session_id),
            Record::LeasePolicy { site_id, .. } => Some(site_id.clone()),
            Record::QueueEntry(q) => Some(q.site_id.clone()),
            Record::PatientMerged { .. } => None,
            Record::Tombstone { entity, id } => match entity.as_str() {
                "session" => of_session(&SessionId(id.clone())),
                "slot" => of_slot(&SlotId(id.clone())),
                "booking" | "queue_entry" => self.holds.get(&BookingId(id.clone())).and_then(|(slot, _)| of_slot(slot)),
                "lease" => parse_lease_key(id).and_then(|(session, _)| of_session(&session)),
                _ => None,
            },
        }
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Site(s) => {
                self.sites.insert(s.id.clone(), s);
            }
            Record::Department(d) => {
                self.by_code.retain(|_, id| id != &d.id);
                self.by_code.insert((d.site_id.clone(), d.code.clone()), d.id.clone());
                self.departments.insert(d.id.clone(), d);
            }
            Record::Session(s) => {
                self.days.entry((s.site_id.clone(), s.department_id.clone(), s.date)).or_default().insert(s.id.clone());
                self.sessions.insert(s.id.clone(), s);
            }
            Record::Slot(s) => {
                self.session_slots.entry(s.session_id.clone()).or_default().insert(s.id.clone());
                self.slots.insert(s.id.clone(), s);
            }
            Record::Booking(b) => {
                self.release(&b.id);
                if b.status.holds_number() && b.overbook_reason.is_none() {
                    self.taken.entry(b.slot_id.clone()).or_default().push(b.queue_no);
                    self.holds.insert(b.id, (b.slot_id, b.queue_no));
                }
            }
            Record::Lease(l) => {
                self.end_lease(&l.session_id, l.queue_no);
                self.lease_slots.insert((l.session_id, l.queue_no), l.slot_id.clone());
                self.leased.entry(l.slot_id).or_default().push((l.queue_no, l.device_id));
            }
            Record::Tombstone { entity, id } => match entity.as_str() {
                "session" => {
                    if let Some(s) = self.sessions.remove(&SessionId(id.clone())) {
                        if let Some(set) = self.days.get_mut(&(s.site_id.clone(), s.department_id.clone(), s.date)) {
                            set.remove(&s.id);
                        }
                        self.session_slots.remove(&s.id);
                    }
                }
                "slot" => {
                    if let Some(s) = self.slots.remove(&SlotId(id.clone())) {
                        if let Some(set) = self.session_slots.get_mut(&s.session_id) {
                            set.remove(&s.id);
                        }
                        self.taken.remove(&s.id);
                        self.leased.remove(&s.id);
                    }
                }
                "booking" => self.release(&BookingId(id)),
                "lease" => {
                    if let Some((session, n)) = parse_lease_key(&id) {
                        self.end_lease(&session, n);
                    }
                }
                _ => {}
            },
            Record::Provider(_)
            | Record::Patient(_)
            | Record::PatientMerged { .. }
            | Record::LeasePolicy { .. }
            | Record::QueueEntry(_) => {}
        }
    }

    /// Number `n` of `session` is no longer leased.
    fn end_lease(&mut self, session: &SessionId, n: u32) {
        if let Some(slot) = self.lease_slots.remove(&(session.clone(), n))
            && let Some(v) = self.leased.get_mut(&slot)
        {
            v.retain(|(m, _)| *m != n);
        }
    }

    fn release(&mut self, booking: &BookingId) {
        if let Some((slot, n)) = self.holds.remove(booking)
            && let Some(t) = self.taken.get_mut(&slot)
            && let Some(i) = t.iter().position(|x| *x == n)
        {
            t.swap_remove(i);
        }
    }

    /// Free online numbers of a slot as the view knows them.
    fn free_online(&self, slot: &Slot) -> usize {
        let taken = self.taken.get(&slot.id);
        slot.pool_numbers(Channel::Online.pool()).filter(|n| taken.is_none_or(|t| !t.contains(n))).count()
    }

    /// Free online numbers of a department-day as the view knows them.
    fn day_free_online(&self, key: &DayKey) -> usize {
        let Some(sessions) = self.days.get(key) else { return 0 };
        sessions
            .iter()
            .filter_map(|sid| self.session_slots.get(sid))
            .flatten()
            .filter_map(|id| self.slots.get(id))
            .map(|slot| self.free_online(slot))
            .sum()
    }

    /// The slot states of a department-day (a lease holds its number until the store ends it,
    /// as the store counts it).
    fn day(&self, site: &SiteId, dept: &DepartmentId, date: Date) -> Vec<SlotState> {
        let mut out = Vec::new();
        let Some(sessions) = self.days.get(&(site.clone(), dept.clone(), date)) else { return out };
        for sid in sessions {
            let (Some(session), Some(slots)) = (self.sessions.get(sid), self.session_slots.get(sid)) else { continue };
            for slot_id in slots {
                if let Some(slot) = self.slots.get(slot_id) {
                    out.push(SlotState {
                        session: session.clone(),
                        slot: slot.clone(),
                        taken: self.taken.get(slot_id).cloned().unwrap_or_default(),
                        leased: self.leased.get(slot_id).cloned().unwrap_or_default(),
                    });
                }
            }
        }
        out
    }

    /// Forgets days more than one day before `before` (and the numbers held in them).
    fn prune(&mut self, before: Date) {
        let old: Vec<SessionId> = self.sessions.values().filter(|s| s.date < before).map(|s| s.id.clone()).collect();
        for sid in old {
            if let Some(s) = self.sessions.remove(&sid) {
                self.days.remove(&(s.site_id, s.department_id, s.date));
            }
            for slot in self.session_slots.remove(&sid).unwrap_or_default() {
                self.slots.remove(&slot);
                self.taken.remove(&slot);
                self.leased.remove(&slot);
            }
        }
        let slots = &self.slots;
        self.holds.retain(|_, (slot, _)| slots.contains_key(slot));
        self.lease_slots.retain(|_, slot| slots.contains_key(slot));
    }
}

/// Availability answers already rendered: (site, department code, date) → (view version, the
/// minute they were made for, the JSON).
type Rendered = HashMap<(SiteId, Option<String>, Date), (u64, i64, bytes::Bytes)>;

/// Sold-out refusals already decided: (site, slot id or department id, date) → (view version,
/// minute, the rules' refusal, or none when the rules would not refuse).
type SoldOut = HashMap<(SiteId, String, Date), (u64, i64, Option<OnlineRefusal>)>;

/// The view of one platform process. See the module docs.
pub struct View {
    state: RwLock<State>,
    caught_up: Mutex<Option<Instant>>,
    /// Bumped whenever a catch-up applied a change.
    version: std::sync::atomic::AtomicU64,
    rendered: Mutex<Rendered>,
    decided: Mutex<SoldOut>,
    /// Per site, the newest change-log position seen (0 until one is seen).
    heads: Mutex<HashMap<SiteId, tokio::sync::watch::Sender<u64>>>,
}

impl Default for View {
    fn default() -> Self {
        View {
            state: RwLock::new(State::default()),
            caught_up: Mutex::new(None),
            version: std::sync::atomic::AtomicU64::new(0),
            rendered: Mutex::new(HashMap::new()),
            decided: Mutex::new(HashMap::new()),
            heads: Mutex::new(HashMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl View {
    /// Follows the store's change log until the returned task is dropped or aborted.
    pub fn follow(self: &Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        let view = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pruned: Option<Date> = None;
            loop {
                tick.tick().await;
                let Some(view) = view.upgrade() else { return };
                let started = Instant::now();
                match view.catch_up(store.as_ref()).await {
                    Ok(()) => {
                        *lock(&view.caught_up) = Some(started);
                        tracing::trace!(took = ?started.elapsed(), "view caught up");
                        // Two days before today in UTC is in the past in every time zone.
                        let today = store.now().to_zoned(jiff::tz::TimeZone::UTC).date();
                        if pruned != Some(today)
                            && let Ok(before) = today.checked_sub(jiff::Span::new().days(2))
                        {
                            view.state.write().unwrap_or_else(|p| p.into_inner()).prune(before);
                            pruned = Some(today);
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "view: change log not read"),
                }
            }
        })
    }

    /// Reads the change log from where the view stands until it has everything.
    pub async fn catch_up(&self, store: &dyn Store) -> crate::error::StoreResult<()> {
        for _ in 0..100 {
            let cursor = self.state.read().unwrap_or_else(|p| p.into_inner()).cursor;
            let feed = store.feed(cursor, PAGE).await?;
            let mut newest: HashMap<SiteId, u64> = HashMap::new();
            {
                let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
                if !feed.changes.is_empty() {
                    self.version.fetch_add(1, std::sync::atomic::Ordering::Release);
                }
                for change in feed.changes {
                    if let Some(site) = st.site_of(&change.record) {
                        let head = newest.entry(site).or_default();
                        *head = (*head).max(change.cursor);
                    }
                    st.apply(change.record);
                }
                st.cursor = st.cursor.max(feed.next);
            }
            self.publish(newest);
            if !feed.more {
                return Ok(());
            }
        }
        Err(crate::error::StoreError::Unavailable("view: the change log is far ahead".into()))
    }

    /// Moves each site's published head forward (never back), waking the waits on it.
    fn publish(&self, newest: HashMap<SiteId, u64>) {
        if newest.is_empty() {
            return;
        }
        let mut heads = lock(&self.heads);
        for (site, cursor) in newest {
            heads.entry(site).or_insert_with(|| tokio::sync::watch::Sender::new(0)).send_if_modified(|head| {
                let moved = cursor > *head;
                if moved {
                    *head = cursor;
                }
                moved
            });
        }
    }

    /// The newest change-log position of `site` this process has seen, kept current: a
    /// receiver is told each time it moves (see the module docs).
    pub fn head(&self, site: &SiteId) -> tokio::sync::watch::Receiver<u64> {
        lock(&self.heads).entry(site.clone()).or_insert_with(|| tokio::sync::watch::Sender::new(0)).subscribe()
    }

    fn fresh(&self) -> bool {
        lock(&self.caught_up).is_some_and(|t| t.elapsed() <= FRESH_FOR)
    }

    /// Online availability from memory, when the view is fresh and knows the site (and the
    /// department asked for).
    pub fn availability(&self, site: &SiteId, q: &AvailabilityQuery, now: Timestamp) -> Option<Availability> {
        if !self.fresh() {
            return None;
        }
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let s = st.sites.get(site)?;
        let local = site_now(now, s).ok()?;
        let mut depts: Vec<&Department> = match &q.department {
            Some(code) => vec![st.departments.get(st.by_code.get(&(site.clone(), code.trim().to_ascii_uppercase()))?)?],
            None => st.departments.values().filter(|d| &d.site_id == site).collect(),
        };
        depts.sort_by(|a, b| a.code.cmp(&b.code));
        let mut slots = Vec::new();
        for d in depts {
            slots.extend(available_slots(d, st.day(site, &d.id, q.date), local));
        }
        metrics::counter!("frontdesk_view_answers_total", "what" => "availability", "site" => site.to_string())
            .increment(1);
        Some(Availability { site_id: site.clone(), date: q.date, slots })
    }

    /// [`View::availability`] as JSON, rendered once per change of the view and per minute
    /// (when slots start and stop being bookable) and then served as is: at a release many
    /// clients ask the same question many times a second.
    pub fn availability_json(&self, site: &SiteId, q: &AvailabilityQuery, now: Timestamp) -> Option<bytes::Bytes> {
        if !self.fresh() {
            return None;
        }
        let key = (site.clone(), q.department.as_ref().map(|c| c.trim().to_ascii_uppercase()), q.date);
        let version = self.version.load(std::sync::atomic::Ordering::Acquire);
        let minute = now.as_second().div_euclid(60);
        if let Some((v, m, body)) = lock(&self.rendered).get(&key)
            && *v == version
            && *m == minute
        {
            metrics::counter!("frontdesk_view_answers_total", "what" => "availability", "site" => site.to_string())
                .increment(1);
            return Some(body.clone());
        }
        let body = bytes::Bytes::from(serde_json::to_vec(&self.availability(site, q, now)?).ok()?);
        let mut rendered = lock(&self.rendered);
        if rendered.len() > 10_000 {
            rendered.clear();
        }
        rendered.insert(key, (version, minute, body.clone()));
        Some(body)
    }

    /// The rules' refusal when the view is fresh and what is asked for is sold out (a slot
    /// without a free online number, a department-day without a bookable slot); `None`
    /// otherwise — then the store decides. A request with invalid patient details is always
    /// left to the store, which names the fields.
    pub fn sold_out(&self, site: &SiteId, req: &OnlineBookingRequest, now: Timestamp) -> Option<OnlineRefusal> {
        if !self.fresh() {
            return None;
        }
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let s = st.sites.get(site)?;
        let local = site_now(now, s).ok()?;
        // The common case at a release costs a look-up: a number is still free somewhere in
        // what is asked for, so the store decides. Only a sold-out target goes on to the rules.
        let (dept, date, target) = match (&req.slot_id, &req.department) {
            (Some(slot_id), _) => {
                let slot = st.slots.get(slot_id)?;
                let session = st.sessions.get(&slot.session_id)?;
                if &session.site_id != site || st.free_online(slot) > 0 {
                    return None;
                }
                (session.department_id.clone(), session.date, DayTarget::Slot(slot_id))
            }
            (None, Some(code)) => {
                let dept = st.by_code.get(&(site.clone(), code.trim().to_ascii_uppercase()))?.clone();
                let date = req.date.unwrap_or(local.date());
                if st.day_free_online(&(site.clone(), dept.clone(), date)) > 0 {
                    return None;
                }
                (dept, date, DayTarget::Earliest)
            }
            (None, None) => return None,
        };
        let nobody = PatientId(String::new());
        crate::outcome::online_patient(nobody.clone(), s, req, local.date()).ok()?;
        // The rules' answer on this state for a patient without a booking that day (the view
        // holds no patients: one who has a booking hears `slot_full` rather than
        // `patient_already_booked` — refused either way), decided once per change of the view.
        let target_key = match target {
            DayTarget::Slot(id) => id.to_string(),
            DayTarget::Earliest => format!("dept:{dept}"),
        };
        let key = (site.clone(), target_key, date);
        let version = self.version.load(std::sync::atomic::Ordering::Acquire);
        let minute = now.as_second().div_euclid(60);
        let cached =
            lock(&self.decided).get(&key).filter(|(v, m, _)| *v == version && *m == minute).map(|c| c.2.clone());
        let refusal = match cached {
            Some(r) => r,
            None => {
                let day = st.day(site, &dept, date);
                let ask = BookingRequest {
                    patient_id: &nobody,
                    channel: Channel::Online,
                    now: local,
                    queue_no: QueueChoice::Lowest,
                    overbook_reason: None,
                    device: None,
                };
                let decision =
                    decide_in_day(&day, target, &ask, &[], |_| Ok::<u32, std::convert::Infallible>(0), MAX_SUGGESTIONS)
                        .ok()?;
                let refusal = match decision {
                    DayDecision::Refused {
                        error: error @ (BookingError::SlotFull { .. } | BookingError::NoSlotAvailable),
                        suggestions,
                        ..
                    } => Some(OnlineRefusal {
                        reason: error.code().into(),
                        message: error.message(Lang::En),
                        suggestions,
                    }),
                    _ => None,
                };
                let mut decided = lock(&self.decided);
                if decided.len() > 10_000 {
                    decided.clear();
                }
                decided.insert(key, (version, minute, refusal.clone()));
                refusal
            }
        };
        if refusal.is_some() {
            metrics::counter!("frontdesk_view_answers_total", "what" => "sold_out", "site" => site.to_string())
                .increment(1);
        }
        refusal
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use frontdesk_domain::lease::Lease;

    /// Each site's head moves with the changes of that site only (a slot's and a tombstone's
    /// site found through what the view holds), and never back.
    #[test]
    fn heads_follow_each_site_s_changes_and_never_go_back() {
        let today = jiff::civil::date(2026, 11, 23);
        let clinic = frontdesk_domain::demo::demo_clinic("demo", today, 1).unwrap();
        let view = View::default();
        let demo = clinic.site.id.clone();
        let other = SiteId::from("other");
        let (demo_head, other_head) = (view.head(&demo), view.head(&other));
        let (session, slots) = clinic.sessions[0].clone();
        let mut st = view.state.write().unwrap();
        let mut newest = HashMap::new();
        for (cursor, record) in [
            (1, Record::Site(clinic.site.clone())),
            (2, Record::Session(session.clone())),
            (3, Record::Slot(slots[0].clone())),
        ] {
            newest.insert(st.site_of(&record).unwrap(), cursor);
            st.apply(record);
        }
        let tombstone = Record::Tombstone { entity: "slot".into(), id: slots[0].id.to_string() };
        assert_eq!(st.site_of(&tombstone), Some(demo.clone()));
        drop(st);
        view.publish(newest);
        assert_eq!(*demo_head.borrow(), 3);
        assert_eq!(*other_head.borrow(), 0, "another site's head did not move");
        assert!(demo_head.has_changed().unwrap() && !other_head.has_changed().unwrap());
        view.publish(HashMap::from([(demo.clone(), 2)]));
        assert_eq!(*view.head(&demo).borrow(), 3, "never back");
    }

    /// The view's slot states hold the leases the change log tells of — past their expiry too,
    /// until a tombstone ends one.
    #[test]
    fn leases_in_the_change_log_are_in_the_view_s_slot_states() {
        let today = jiff::civil::date(2026, 11, 23);
        let clinic = frontdesk_domain::demo::demo_clinic("demo", today, 1).unwrap();
        let mut st = State::default();
        st.apply(Record::Site(clinic.site.clone()));
        let (session, slots) = clinic.sessions[0].clone();
        st.apply(Record::Session(session.clone()));
        for slot in &slots {
            st.apply(Record::Slot(slot.clone()));
        }
        let slot = &slots[0];
        let desk: Vec<u32> = slot.pool_numbers(frontdesk_domain::schedule::Pool::Desk).collect();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let lease = |n: u32, expires: &str| Lease {
            session_id: session.id.clone(),
            slot_id: slot.id.clone(),
            queue_no: n,
            device_id: DeviceId::from("desk-a"),
            expires_at: at(expires),
        };
        st.apply(Record::Lease(lease(desk[0], "2026-11-23T07:50:00+08:00")));
        st.apply(Record::Lease(lease(desk[1], "2026-11-23T09:50:00+08:00")));
        let leased = |st: &State| -> Vec<u32> {
            let day = st.day(&session.site_id, &session.department_id, session.date);
            let mut v: Vec<u32> =
                day.iter().find(|s| s.slot.id == slot.id).unwrap().leased.iter().map(|l| l.0).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(leased(&st), [desk[0], desk[1]]);
        st.apply(Record::Tombstone { entity: "lease".into(), id: Lease::key(&session.id, desk[1]) });
        assert_eq!(leased(&st), [desk[0]]);
        // A lease granted again replaces the old one (one holder per number).
        st.apply(Record::Lease(Lease {
            device_id: DeviceId::from("desk-b"),
            ..lease(desk[0], "2026-11-23T07:50:00+08:00")
        }));
        let day = st.day(&session.site_id, &session.department_id, session.date);
        let state = day.iter().find(|s| s.slot.id == slot.id).unwrap();
        assert_eq!(state.leased, [(desk[0], DeviceId::from("desk-b"))]);
        assert!(!state.free_numbers(frontdesk_domain::schedule::Pool::Desk).any(|n| n == desk[0]));
    }
}
