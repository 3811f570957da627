//! Pieces of the platform's answers that do not depend on the storage back-end: how an op's
//! outcome, a conflict or a rejection is shaped, what a replay answers, how an applied op is
//! audited, and the site's wall-clock time. Both back-ends (`sqlite`, `postgres`) use them, so
//! a desk gets the same answer from either.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::BookingError;
use frontdesk_domain::patient::{FieldError, Patient, PatientInput};
use frontdesk_domain::schedule::{Site, StaffId};
use frontdesk_protocol::sync::{Conflict, Effects, Outcome, ServerState};
use jiff::Timestamp;
use jiff::civil::DateTime;

use crate::error::{StoreError, StoreResult};

/// (op kind, outcome status, reason) of every op answered, for metrics after the commit.
pub(crate) type OpCounts = Vec<(&'static str, &'static str, String)>;

/// A conflict without server state or suggestions.
pub(crate) fn conflict(reason: &str, message: impl Into<String>) -> Outcome {
    Outcome::Conflict(Conflict {
        reason: reason.into(),
        message: message.into(),
        server_state: None,
        suggestions: Vec::new(),
    })
}

/// A rejection naming one field.
pub(crate) fn rejected(field: &str, code: &str, message: &str) -> Outcome {
    Outcome::Rejected { errors: vec![FieldError { field: field.into(), code: code.into(), message: message.into() }] }
}

/// What to book into.
pub(crate) enum Target {
    /// This slot.
    Slot(frontdesk_domain::schedule::SlotId),
    /// The earliest bookable slot of a department on a day.
    Department(frontdesk_domain::schedule::DepartmentId, jiff::civil::Date),
}

/// A decision of the rules, with the state it was made on (owned: the caller writes next).
pub(crate) enum Decided {
    Granted {
        state: Box<frontdesk_domain::booking::SlotState>,
        grant: frontdesk_domain::booking::Grant,
    },
    Refused {
        error: BookingError,
        suggestions: Vec<frontdesk_domain::booking::Suggestion>,
        state: Option<Box<frontdesk_domain::booking::SlotState>>,
        existing: Option<Box<frontdesk_domain::booking::Booking>>,
    },
    /// The target does not exist in the site.
    NotFound,
}

impl Decided {
    /// An online booking's decision: the granted slot and number, or the refusal (409) or
    /// not-found (404) to answer with.
    pub(crate) fn granted_online(
        self,
        req: &frontdesk_protocol::online::OnlineBookingRequest,
    ) -> StoreResult<(Box<frontdesk_domain::booking::SlotState>, frontdesk_domain::booking::Grant)> {
        match self {
            Decided::Granted { state, grant } => Ok((state, grant)),
            Decided::NotFound => Err(StoreError::NotFound(format!(
                "slot {}",
                req.slot_id.as_ref().map(frontdesk_domain::schedule::SlotId::as_str).unwrap_or("")
            ))),
            Decided::Refused { error, suggestions, .. } => {
                Err(StoreError::Refused(frontdesk_protocol::online::OnlineRefusal {
                    reason: error.code().into(),
                    message: error.message(Lang::En),
                    suggestions,
                }))
            }
        }
    }

    /// The domain's answer, owned.
    pub(crate) fn of(d: frontdesk_domain::booking::DayDecision<'_>) -> Decided {
        use frontdesk_domain::booking::DayDecision;
        match d {
            DayDecision::Granted { state, grant } => Decided::Granted { state: Box::new(state.clone()), grant },
            DayDecision::Refused { error, suggestions, state, existing } => Decided::Refused {
                error,
                suggestions,
                state: state.cloned().map(Box::new),
                existing: existing.cloned().map(Box::new),
            },
            DayDecision::NotFound => Decided::NotFound,
        }
    }
}

/// A desk's booking op refused by the rules: the conflict with the slot, what is left of the
/// channel's pool, the session, the booking the patient already holds, and the suggestions.
pub(crate) fn booking_conflict(
    error: BookingError,
    suggestions: Vec<frontdesk_domain::booking::Suggestion>,
    state: Option<Box<frontdesk_domain::booking::SlotState>>,
    existing: Option<Box<frontdesk_domain::booking::Booking>>,
    channel: frontdesk_domain::schedule::Channel,
) -> Outcome {
    let remaining = state.as_ref().map(|s| s.remaining(channel.pool()));
    Outcome::Conflict(Conflict {
        reason: error.code().into(),
        message: error.message(Lang::En),
        server_state: Some(ServerState {
            slot: state.as_ref().map(|s| s.slot.clone()),
            remaining,
            session: state.map(|s| s.session),
            booking: existing.map(|b| *b),
            patient: None,
        }),
        suggestions,
    })
}

/// An applied op that wrote a booking: its effects.
pub(crate) fn booking_applied(b: &frontdesk_domain::booking::Booking, cursor: u64) -> Outcome {
    Outcome::Applied {
        effects: Effects {
            patient_id: Some(b.patient_id.clone()),
            booking_id: Some(b.id.clone()),
            queue_no: Some(b.queue_no),
            ticket_code: Some(b.ticket_code.clone()),
            cursor,
        },
    }
}

/// An online booking's audit detail (serialized straight from the booking) and its answer.
pub(crate) fn online_booked(
    booking: frontdesk_domain::booking::Booking,
    state: &frontdesk_domain::booking::SlotState,
) -> StoreResult<(String, frontdesk_protocol::online::OnlineBooking)> {
    #[derive(serde::Serialize)]
    struct Detail<'a> {
        booking_id: &'a frontdesk_domain::schedule::BookingId,
        queue_no: u32,
        slot_id: &'a frontdesk_domain::schedule::SlotId,
    }
    let detail = serde_json::to_string(&Detail {
        booking_id: &booking.id,
        queue_no: booking.queue_no,
        slot_id: &booking.slot_id,
    })?;
    Ok((
        detail,
        frontdesk_protocol::online::OnlineBooking {
            booking_id: booking.id,
            patient_id: booking.patient_id,
            slot_id: booking.slot_id,
            session_id: booking.session_id,
            date: booking.date,
            start: state.slot.start,
            end: state.slot.end,
            queue_no: booking.queue_no,
            ticket_code: booking.ticket_code,
        },
    ))
}

/// A rule's refusal of a cancel or check-in, with the booking as the platform has it.
pub(crate) fn rule_conflict(error: BookingError, booking: Option<frontdesk_domain::booking::Booking>) -> Outcome {
    Outcome::Conflict(Conflict {
        reason: error.code().into(),
        message: error.message(Lang::En),
        server_state: Some(ServerState { booking, ..ServerState::default() }),
        suggestions: Vec::new(),
    })
}

/// An outcome's status and reason, for metrics.
pub(crate) fn status_of(o: &Outcome) -> (&'static str, String) {
    match o {
        Outcome::Applied { .. } => ("applied", String::new()),
        Outcome::Duplicate { .. } => ("duplicate", String::new()),
        Outcome::Conflict(c) => ("conflict", c.reason.clone()),
        Outcome::Rejected { .. } => ("rejected", String::new()),
        Outcome::Deferred { .. } => ("deferred", String::new()),
    }
}

/// The answer to a replay: an applied op is a duplicate with its original effects; a conflict
/// or rejection is answered the same way again.
pub(crate) fn replay(stored: Outcome) -> Outcome {
    match stored {
        Outcome::Applied { effects } | Outcome::Duplicate { effects } => Outcome::Duplicate { effects },
        other => other,
    }
}

/// An applied op's audit detail, serialized straight from the op (no `serde_json::Value`).
#[derive(serde::Serialize)]
pub(crate) struct OpAudit<'a> {
    pub effects: &'a Effects,
    pub op_id: &'a str,
    pub seq: u64,
    pub staff: &'a StaffId,
}

/// The form a stored patient would have been typed as, so the platform re-runs rule 5.
pub(crate) fn input_of(p: &Patient) -> PatientInput {
    PatientInput {
        name: p.name.clone(),
        document_kind: Some(p.document.kind),
        document_number: p.document.number.clone(),
        sex: p.sex.map(|s| s.code().to_string()),
        birth_date: p.birth_date.map(|d| d.to_string()),
        phone: p.phone.clone(),
        medical_card: p.medical_card.clone(),
        ehealth_card: p.ehealth_card.clone(),
    }
}

/// Re-runs rule 5 on a patient a desk sent, in the site's today.
pub(crate) fn revalidate(now: Timestamp, site: &Site, p: &Patient) -> StoreResult<Result<Patient, Vec<FieldError>>> {
    if p.site_id != site.id {
        return Ok(Err(vec![FieldError {
            field: "site_id".into(),
            code: "site_mismatch".into(),
            message: "The patient belongs to another site".into(),
        }]));
    }
    let today = site_now(now, site)?.date();
    Ok(frontdesk_domain::patient::validate_patient(p.id.clone(), site.id.clone(), &input_of(p), today, Lang::En))
}

/// Fills what the surviving patient of a merge (rule 6) lacks from the second registration.
pub(crate) fn merged(survivor: &Patient, second: &Patient) -> Patient {
    let mut m = survivor.clone();
    m.sex = m.sex.or(second.sex);
    m.birth_date = m.birth_date.or(second.birth_date);
    m.phone = m.phone.clone().or(second.phone.clone());
    m.medical_card = m.medical_card.clone().or(second.medical_card.clone());
    m.ehealth_card = m.ehealth_card.clone().or(second.ehealth_card.clone());
    m
}

/// The patient an online booking request describes, validated (rule 5) with the site's today.
pub(crate) fn online_patient(
    id: frontdesk_domain::schedule::PatientId,
    site: &Site,
    req: &frontdesk_protocol::online::OnlineBookingRequest,
    today: jiff::civil::Date,
) -> StoreResult<Patient> {
    let input = PatientInput {
        name: req.patient.name.clone(),
        document_kind: req.patient.document_kind,
        document_number: req.patient.document_number.clone(),
        phone: req.patient.phone.clone(),
        ..PatientInput::default()
    };
    frontdesk_domain::patient::validate_patient(id, site.id.clone(), &input, today, Lang::En).map_err(|fields| {
        StoreError::Invalid {
            code: "patient_invalid".into(),
            message: "The patient's details are not valid".into(),
            fields,
        }
    })
}

/// A session's slots re-split between the pools (`desk_per_slot` desk numbers each), refused
/// when a slot is smaller than that (`template_desk_share`) or when a number a live booking
/// holds (`held`: slot, number, channel) would end up in the other channel's pool
/// (`pool_change_conflicts`).
pub(crate) fn resplit_pools(
    mut slots: Vec<frontdesk_domain::schedule::Slot>,
    held: &[(String, u32, String)],
    desk_per_slot: u32,
) -> StoreResult<Vec<frontdesk_domain::schedule::Slot>> {
    slots.sort_by_key(|s| s.first_queue_no);
    for slot in &mut slots {
        if desk_per_slot > slot.capacity() {
            return Err(StoreError::invalid(
                "template_desk_share",
                format!("slot {} has {} numbers, fewer than {desk_per_slot}", slot.id, slot.capacity()),
            ));
        }
        let total = slot.capacity();
        slot.online_capacity = total - desk_per_slot;
        slot.desk_capacity = desk_per_slot;
        for (slot_id, n, channel) in held.iter().filter(|(s, _, _)| s == slot.id.as_str()) {
            let wanted = frontdesk_domain::schedule::Channel::parse(channel).map(|c| c.pool());
            if slot.pool_of(*n) != wanted {
                return Err(StoreError::Refused(frontdesk_protocol::online::OnlineRefusal {
                    reason: "pool_change_conflicts".into(),
                    message: format!(
                        "number {n} of slot {slot_id} is held by a {channel} booking and would change pool"
                    ),
                    suggestions: vec![],
                }));
            }
        }
    }
    Ok(slots)
}

/// The site's wall-clock time at `now`.
pub(crate) fn site_now(now: Timestamp, site: &Site) -> StoreResult<DateTime> {
    let z = now
        .in_tz(&site.timezone)
        .map_err(|e| StoreError::Internal(format!("site {} time zone {}: {e}", site.id, site.timezone)))?;
    Ok(z.datetime())
}

/// The change-log text of a `Record::Patient` / `Record::Booking` (internally tagged by
/// `kind`) from the row's own JSON, so the row is serialized once, not cloned and serialized
/// twice.
pub(crate) fn tagged(kind: &str, row_json: &str) -> Option<String> {
    let fields = row_json.strip_prefix('{')?;
    (fields.len() > 1).then(|| format!("{{\"kind\":\"{kind}\",{fields}"))
}

/// The online view of a department's slots on a day (availability), ordered by provider and
/// start.
pub(crate) fn available_slots(
    dept: &frontdesk_domain::schedule::Department,
    mut states: Vec<frontdesk_domain::booking::SlotState>,
    local: DateTime,
) -> Vec<frontdesk_protocol::online::AvailableSlot> {
    use frontdesk_domain::schedule::Channel;
    states.sort_by(|a, b| (&a.session.provider_id, a.slot.start).cmp(&(&b.session.provider_id, b.slot.start)));
    states
        .into_iter()
        .map(|st| frontdesk_protocol::online::AvailableSlot {
            remaining: st.remaining(Channel::Online.pool()),
            bookable: st.bookable(Channel::Online, local),
            slot_id: st.slot.id,
            session_id: st.session.id,
            department_id: dept.id.clone(),
            department_code: dept.code.clone(),
            provider_id: st.session.provider_id,
            start: st.slot.start,
            end: st.slot.end,
        })
        .collect()
}

/// What happened to leased numbers, counted in `frontdesk_lease_numbers_total{what}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseEvent {
    /// Leased to a desk.
    Granted,
    /// Spent by its desk on a booking.
    Spent,
    /// A desk's leased booking of a number no longer leased to it, granted because the number
    /// was free (a late spend: the lease had expired, or an old copy of the desk spent it again).
    Late,
    /// Given back by its desk.
    Returned,
    /// Expired unspent.
    Expired,
    /// Taken back by the platform: the desk revoked, the site's policy cleared, the session's
    /// pools re-split or the session deleted.
    Revoked,
    /// A leased booking refused because its number was no longer leased to the desk and was
    /// taken (`lease_lost`).
    Lost,
}

impl LeaseEvent {
    const ALL: [LeaseEvent; 7] = [
        LeaseEvent::Granted,
        LeaseEvent::Spent,
        LeaseEvent::Late,
        LeaseEvent::Returned,
        LeaseEvent::Expired,
        LeaseEvent::Revoked,
        LeaseEvent::Lost,
    ];

    /// The metric's `what` label.
    pub(crate) fn code(self) -> &'static str {
        match self {
            LeaseEvent::Granted => "granted",
            LeaseEvent::Spent => "spent",
            LeaseEvent::Late => "late",
            LeaseEvent::Returned => "returned",
            LeaseEvent::Expired => "expired",
            LeaseEvent::Revoked => "revoked",
            LeaseEvent::Lost => "lost",
        }
    }
}

/// Lease events counted inside a transaction, recorded as metrics once it committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LeaseTally([u64; 7]);

impl LeaseTally {
    /// Counts `n` events.
    pub(crate) fn add(&mut self, event: LeaseEvent, n: u64) {
        self.0[event as usize] += n;
    }

    /// Records the counts (`frontdesk_lease_numbers_total{what}`).
    pub(crate) fn record(&self) {
        for event in LeaseEvent::ALL {
            let n = self.0[event as usize];
            if n > 0 {
                metrics::counter!("frontdesk_lease_numbers_total", "what" => event.code()).increment(n);
            }
        }
    }
}

/// When a leased number of `slot` (of a session on `date`) returns if unspent, on the
/// platform's clock: the policy's expiry before the slot starts, in the site's time zone.
pub(crate) fn lease_expires_at(
    site: &Site,
    policy: &frontdesk_domain::lease::LeasePolicy,
    date: jiff::civil::Date,
    slot: &frontdesk_domain::schedule::Slot,
) -> StoreResult<Timestamp> {
    let civil = policy.expires_at(slot.starts_at(date));
    civil
        .in_tz(&site.timezone)
        .map(|z| z.timestamp())
        .map_err(|e| StoreError::Internal(format!("site {} time zone {}: {e}", site.id, site.timezone)))
}

/// When a slot ends, on the platform's clock: after that nobody can book it, so a lease on
/// one of its numbers may return whatever its desk did.
pub(crate) fn slot_ends_at(
    site: &Site,
    date: jiff::civil::Date,
    slot: &frontdesk_domain::schedule::Slot,
) -> StoreResult<Timestamp> {
    slot.ends_at(date)
        .in_tz(&site.timezone)
        .map(|z| z.timestamp())
        .map_err(|e| StoreError::Internal(format!("site {} time zone {}: {e}", site.id, site.timezone)))
}

/// The dates whose sessions a site's policy leases at `now`: today and `horizon_days` after,
/// in the site's time zone.
pub(crate) fn lease_dates(
    now: Timestamp,
    site: &Site,
    policy: &frontdesk_domain::lease::LeasePolicy,
) -> StoreResult<(jiff::civil::Date, jiff::civil::Date)> {
    let today = site_now(now, site)?.date();
    let last = today
        .checked_add(jiff::Span::new().days(i64::from(policy.horizon_days)))
        .map_err(|e| StoreError::Internal(format!("lease horizon: {e}")))?;
    Ok((today, last))
}

/// The session and number a `lease` change-log id ([`frontdesk_domain::lease::Lease::key`]) names.
pub(crate) fn parse_lease_key(id: &str) -> Option<(frontdesk_domain::schedule::SessionId, u32)> {
    let (session, n) = id.rsplit_once('#')?;
    Some((frontdesk_domain::schedule::SessionId(session.to_string()), n.parse().ok()?))
}

/// What a new online booking needs that is random: minted on the request's thread before the
/// job is queued, so the writer does not spend its time on it.
pub(crate) struct Fresh {
    pub patient_id: frontdesk_domain::schedule::PatientId,
    pub booking_id: frontdesk_domain::schedule::BookingId,
    pub ticket: frontdesk_domain::ticket::TicketCode,
}

impl Fresh {
    pub(crate) fn mint() -> StoreResult<Fresh> {
        Ok(Fresh {
            patient_id: frontdesk_domain::schedule::PatientId(uuid::Uuid::now_v7().to_string()),
            booking_id: frontdesk_domain::schedule::BookingId(uuid::Uuid::now_v7().to_string()),
            ticket: frontdesk_domain::ticket::TicketCode::from_random(crate::secret::random_u64()?),
        })
    }
}

/// Counts an online booking's outcome (`frontdesk_bookings_total`, `frontdesk_online_refused_total`).
pub(crate) fn count_online<T>(r: &StoreResult<T>) {
    match r {
        Ok(_) => metrics::counter!("frontdesk_bookings_total", "channel" => "online").increment(1),
        Err(StoreError::Refused(refusal)) => {
            metrics::counter!("frontdesk_online_refused_total", "reason" => refusal.reason.clone()).increment(1)
        }
        Err(_) => {}
    }
}

/// The first hash of every audit chain.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit row's hash: the previous row's hash and every field of the row.
pub(crate) fn audit_hash(prev: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in std::iter::once(prev).chain(parts.iter().copied()) {
        h.update(part.as_bytes());
        // Unit separator: no two different rows hash the same concatenation.
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn audit_hash_separates_fields() {
        assert_ne!(audit_hash(GENESIS, &["ab", "c"]), audit_hash(GENESIS, &["a", "bc"]));
        assert_eq!(audit_hash(GENESIS, &["a"]), audit_hash(GENESIS, &["a"]));
    }

    #[test]
    fn a_lease_key_names_its_session_and_number() {
        let key = frontdesk_domain::lease::Lease::key(&"demo-nk-1-20261123-am".into(), 17);
        assert_eq!(parse_lease_key(&key), Some(("demo-nk-1-20261123-am".into(), 17)));
        assert_eq!(parse_lease_key("no-number"), None);
    }

    #[test]
    fn tagged_adds_the_kind() {
        assert_eq!(tagged("patient", "{\"id\":1}").unwrap(), "{\"kind\":\"patient\",\"id\":1}");
        assert_eq!(tagged("patient", "{}"), None);
    }
}
