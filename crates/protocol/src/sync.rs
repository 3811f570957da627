//! `POST /v1/sync/push` and `GET /v1/sync/pull`: ops up, changes down. See docs/SYNC.md.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, Suggestion};
use frontdesk_domain::hlc::Hlc;
use frontdesk_domain::lease::{Lease, LeasePolicy};
use frontdesk_domain::patient::{FieldError, Patient};
use frontdesk_domain::queue::{QueueAction, QueueEntry};
use frontdesk_domain::schedule::{
    BookingId, Channel, Department, DeviceId, PatientId, Provider, Session, SessionId, Site, SiteId, Slot, SlotId,
    StaffId,
};
use frontdesk_domain::ticket::TicketCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One thing a desk did, as it travels to the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpEnvelope {
    /// UUIDv7, minted by the desk: the op's identity for idempotence.
    pub op_id: Uuid,
    /// The device that made it.
    pub device_id: DeviceId,
    /// Per-device sequence number, from 1, without gaps: the platform applies a device's ops
    /// in this order.
    pub seq: u64,
    /// The member of staff who did it.
    pub staff_id: StaffId,
    /// When, as a hybrid logical clock timestamp.
    pub hlc: Hlc,
    /// The site the device belongs to.
    pub site_id: SiteId,
    /// The change-log cursor the desk had pulled up to when it made the op ("what it was
    /// based on").
    pub base_cursor: u64,
    /// Earlier ops (of this device) this one builds on: if any of them conflicted or was
    /// rejected, this one is answered as a conflict too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Uuid>,
    /// What was done.
    pub op: Op,
}

/// What a desk can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Register a patient (merged with an existing one holding the same document).
    RegisterPatient {
        /// The validated patient, with the desk's provisional id.
        patient: Patient,
    },
    /// Change a patient's details.
    UpdatePatient {
        /// The patient as it should now be.
        patient: Patient,
    },
    /// Book a patient into a slot.
    Book {
        /// The booking's id (UUIDv7 minted by the desk; kept by the platform).
        booking_id: BookingId,
        /// Who.
        patient_id: PatientId,
        /// Which slot.
        slot_id: SlotId,
        /// The channel (always `desk` from a desk).
        channel: Channel,
        /// The number the desk showed and printed (provisional unless leased).
        queue_no: u32,
        /// True when `queue_no` came from a capacity lease the platform granted this device
        /// (protocol 2): the platform grants exactly that number whatever happened since,
        /// unless the session was suspended or cancelled (see docs/SYNC.md, "Capacity
        /// leases").
        #[serde(default)]
        leased: bool,
        /// The ticket code the desk printed.
        ticket_code: TicketCode,
        /// An admin's reason to book beyond capacity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overbook_reason: Option<String>,
    },
    /// Cancel a booking.
    Cancel {
        /// Which.
        booking_id: BookingId,
        /// Why, if said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Check a patient in by their ticket.
    CheckIn {
        /// Which booking.
        booking_id: BookingId,
        /// The code scanned.
        ticket_code: TicketCode,
    },
    /// Suspend a session (停诊), admins only.
    SuspendSession {
        /// Which.
        session_id: SessionId,
        /// Why.
        reason: String,
    },
    /// Resume a suspended session, admins only.
    ResumeSession {
        /// Which.
        session_id: SessionId,
    },
    /// A waiting-room action on a checked-in booking (protocol 3): call, recall, skip, seen,
    /// to the end. The desk names the booking its own view of the queue showed; the platform
    /// decides with the same queue rules and refuses (`not_waiting`, `not_called`, …) when
    /// the queue moved on.
    Queue {
        /// The booking acted on.
        booking_id: BookingId,
        /// What was done.
        action: QueueAction,
    },
}

impl Op {
    /// Stable name of the op's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::RegisterPatient { .. } => "register_patient",
            Op::UpdatePatient { .. } => "update_patient",
            Op::Book { .. } => "book",
            Op::Cancel { .. } => "cancel",
            Op::CheckIn { .. } => "check_in",
            Op::SuspendSession { .. } => "suspend_session",
            Op::ResumeSession { .. } => "resume_session",
            Op::Queue { .. } => "queue",
        }
    }
}

/// A batch of ops, in device order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The device pushing (must match the token's device).
    pub device_id: DeviceId,
    /// The ops, in ascending `seq`.
    pub ops: Vec<OpEnvelope>,
}

/// One answer per op, in the order of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The answers.
    pub results: Vec<OpResult>,
    /// The highest `seq` of this device the platform has settled (applied, conflicted or
    /// rejected). The desk may drop everything up to it from its outbox.
    pub acked_seq: u64,
}

/// The answer to one op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    /// The op.
    pub op_id: Uuid,
    /// Its sequence number.
    pub seq: u64,
    /// What happened.
    pub outcome: Outcome,
}

/// What the platform did with an op.
// Outcomes are short-lived wire values, built once and serialised: the size of the largest
// variant does not matter, boxing it would only complicate every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now.
    Applied {
        /// Its effects.
        effects: Effects,
    },
    /// Applied before (same op id, or same device and seq): the original result again.
    Duplicate {
        /// The original effects.
        effects: Effects,
    },
    /// Valid, but the platform's state does not allow it.
    Conflict(Conflict),
    /// Invalid in itself.
    Rejected {
        /// What is wrong.
        errors: Vec<FieldError>,
    },
    /// Not looked at: an earlier op of this device (`expected_seq`) has not reached the
    /// platform yet. Push again from `expected_seq`; nothing was applied.
    Deferred {
        /// The sequence number the platform expects next from this device.
        expected_seq: u64,
    },
}

/// What an applied op did, with the platform's ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// The patient's canonical id (after a merge, the surviving patient's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// The booking's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<BookingId>,
    /// The queue number the platform gave (may differ from the desk's provisional one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_no: Option<u32>,
    /// The ticket code the booking holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<TicketCode>,
    /// The change-log position of the op's last change.
    #[serde(default)]
    pub cursor: u64,
}

/// Why an op could not be applied, and what could be done instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Stable reason: `slot_full`, `patient_already_booked`, `session_suspended`,
    /// `session_cancelled`, `slot_ended`, `stale`, `ticket_code_taken`, `depends_on_failed`,
    /// `not_found`, `forbidden`, … (the booking rules' codes and a few of the platform's).
    pub reason: String,
    /// The reason in words (English; the desk localises by `reason`).
    pub message: String,
    /// The platform's current state of what the op touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_state: Option<ServerState>,
    /// What could be done instead (e.g. the next free slots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
}

/// The platform's state of the things an op touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    /// The slot, as the platform has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
    /// Free numbers left in the op's pool of that slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// The session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// The booking concerned (e.g. the one already held, or the one being cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<Booking>,
    /// The patient concerned (e.g. the platform's version when an update was `stale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Patient>,
}

/// `GET /v1/sync/pull?cursor=N&limit=M`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullQuery {
    /// Changes after this position; 0 asks for a snapshot.
    #[serde(default)]
    pub cursor: u64,
    /// At most this many changes (the platform caps it).
    #[serde(default)]
    pub limit: Option<u32>,
    /// How many ops the desk still has in its outbox (protocol 2). A pull with nothing
    /// pending tells the platform every lease spend of the desk has been pushed, so its
    /// expired leases may return (docs/SYNC.md, "Capacity leases").
    #[serde(default)]
    pub pending: Option<u64>,
}

/// A page of the site's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The changes, in change-log order; only the latest state of each row.
    pub changes: Vec<Change>,
    /// Where to continue from.
    pub next_cursor: u64,
    /// True when more changes are waiting after `next_cursor`.
    pub more: bool,
    /// The platform's clock when it answered (protocol 2): a desk counts a lease's time left
    /// as `expires_at − server_now` from when it received the page, never by its own clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_now: Option<jiff::Timestamp>,
}

/// One row's latest state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its change-log position.
    pub cursor: u64,
    /// The row.
    pub record: Record,
}

/// A row of the replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The site.
    Site(Site),
    /// A department.
    Department(Department),
    /// A provider.
    Provider(Provider),
    /// A session.
    Session(Session),
    /// A slot.
    Slot(Slot),
    /// A patient.
    Patient(Patient),
    /// A booking.
    Booking(Booking),
    /// A queue number leased to a desk of the site (protocol 2). It stops being leased when
    /// spent (a booking holds it), returned, expired or revoked: a `lease` tombstone whose id
    /// is [`Lease::key`].
    Lease(Lease),
    /// The site's lease policy (protocol 2); `None`: the site leases nothing.
    LeasePolicy {
        /// The site.
        site_id: SiteId,
        /// The policy.
        policy: Option<LeasePolicy>,
    },
    /// A checked-in booking's place in its session's waiting-room queue (protocol 3).
    QueueEntry(QueueItem),
    /// A patient registered twice became one: references to `from` now mean `into`.
    PatientMerged {
        /// The id that no longer exists.
        from: PatientId,
        /// The surviving patient.
        into: PatientId,
    },
    /// A row was deleted.
    Tombstone {
        /// `department`, `provider`, `session`, `slot`, `patient`, `booking`, `lease` or
        /// `queue_entry` (its id the booking's).
        entity: String,
        /// Its id.
        id: String,
    },
}

impl Record {
    /// The first protocol version that knows this record: a desk of an older version is
    /// served the change log without it.
    pub fn since(&self) -> u32 {
        match self {
            Record::Lease(_) | Record::LeasePolicy { .. } => 2,
            Record::QueueEntry(_) => 3,
            Record::Tombstone { entity, .. } => match entity.as_str() {
                "lease" => 2,
                "queue_entry" => 3,
                _ => 1,
            },
            _ => 1,
        }
    }
}

/// A queue entry as it travels: the entry, the session whose queue it is in, and when it
/// joined and was last called (for the display's order and the waiting-time figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    /// The site.
    pub site_id: SiteId,
    /// The session (a provider's half-day) whose queue it is.
    pub session_id: SessionId,
    /// The entry.
    pub entry: QueueEntry,
    /// When the booking checked in and joined the queue.
    pub joined_at: jiff::Timestamp,
    /// When it was last called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_at: Option<jiff::Timestamp>,
}

/// A leased number, named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeasedNumber {
    /// The session.
    pub session_id: SessionId,
    /// The number.
    pub queue_no: u32,
}

/// `POST /v1/sync/leases`: a desk asks for more numbers (`top_up`) and/or gives numbers back.
/// Idempotent: a top-up fills the desk up to its share, never beyond, so a request repeated
/// after a lost answer grants nothing twice; giving back a number no longer leased to the
/// desk does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// [`crate::PROTOCOL_VERSION`] (2 or later).
    pub protocol: u32,
    /// The device (must match the token's device).
    pub device_id: DeviceId,
    /// Fill this desk's leases up to its share in every session the policy leases.
    #[serde(default)]
    pub top_up: bool,
    /// Numbers the desk will not use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub give_back: Vec<LeasedNumber>,
}

/// The answer to a [`LeaseRequest`]: what the desk holds now. The same leases reach every
/// desk of the site through the change log; the desk pulls after this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAnswer {
    /// Numbers granted by this request.
    pub granted: u32,
    /// Numbers given back by this request.
    pub returned: u32,
    /// Every number leased to the desk now.
    pub leases: Vec<Lease>,
    /// The platform's clock when it answered.
    pub server_now: jiff::Timestamp,
}

/// Localised text for a conflict reason code, for the desk's conflict inbox.
pub fn conflict_title(reason: &str, lang: Lang) -> &'static str {
    match reason {
        "slot_full" => lang.pick("号源已满", "Slot full"),
        "patient_already_booked" => lang.pick("患者当天已挂本科室", "Patient already booked in this department"),
        "session_suspended" => lang.pick("医生停诊", "Session suspended"),
        "session_cancelled" => lang.pick("出诊已取消", "Session cancelled"),
        "slot_ended" => lang.pick("时段已结束", "Slot ended"),
        "slot_started" => lang.pick("时段已开始", "Slot already started"),
        "stale" => lang.pick("数据已被他人修改", "Changed elsewhere in the meantime"),
        "ticket_code_taken" => lang.pick("挂号单号重复", "Ticket code already in use"),
        "queue_number_taken" => lang.pick("序号已被占用", "Queue number taken"),
        "depends_on_failed" => lang.pick("前一操作未成功", "An earlier step did not go through"),
        "booking_cancelled" => lang.pick("挂号已取消", "Booking cancelled"),
        "ticket_already_used" => lang.pick("已签到", "Already checked in"),
        "not_found" => lang.pick("平台上找不到", "Not found on the platform"),
        "forbidden" => lang.pick("无权限", "Not allowed"),
        "lease_lost" => lang.pick("保留号已失效", "Reserved number lost"),
        _ => lang.pick("冲突", "Conflict"),
    }
}

/// `GET /v1/sync/wait?cursor=N&timeout_ms=T`: a long-poll for the live board. The platform
/// answers as soon as the site's change log holds a change after `cursor` that a pull would
/// serve, or when the timeout has passed (docs/SYNC.md, "Live board").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitQuery {
    /// The desk's pull cursor.
    #[serde(default)]
    pub cursor: u64,
    /// How long to wait at most, in milliseconds (the platform's default when absent; the
    /// platform caps it).
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

/// The answer to a [`WaitQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitAnswer {
    /// The newest change-log position of the site the platform knows (0 when it knows none).
    pub head: u64,
    /// True when there is something to pull after the cursor asked about; false after the
    /// timeout, or when the platform sheds the wait (then with `Retry-After`).
    pub changed: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn outcome_wire_form_is_tagged_by_status() {
        let c = Outcome::Conflict(Conflict {
            reason: "slot_full".into(),
            message: "full".into(),
            server_state: None,
            suggestions: vec![],
        });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["status"], "conflict");
        assert_eq!(v["reason"], "slot_full");
        let back: Outcome = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
        let a = serde_json::to_value(Outcome::Applied { effects: Effects { queue_no: Some(3), ..Effects::default() } })
            .unwrap();
        assert_eq!(a["status"], "applied");
        assert_eq!(a["effects"]["queue_no"], 3);
    }

    #[test]
    fn ops_are_tagged_by_type() {
        let op = Op::Cancel { booking_id: BookingId::from("b1"), reason: None };
        let v = serde_json::to_value(&op).unwrap();
        assert_eq!(v, serde_json::json!({"type": "cancel", "booking_id": "b1"}));
        assert_eq!(op.kind(), "cancel");
        let bad = serde_json::from_str::<Op>(r#"{"type":"explode"}"#);
        assert!(bad.is_err());
    }
}
