//! The public online-booking API (the 08:00 burst path): availability, book, cancel. No device
//! token; limited per client.

use frontdesk_domain::booking::Suggestion;
use frontdesk_domain::document::DocumentKind;
use frontdesk_domain::schedule::{BookingId, DepartmentId, PatientId, ProviderId, SessionId, SiteId, SlotId};
use frontdesk_domain::ticket::TicketCode;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

/// `GET /v1/public/sites/{site}/availability?date=YYYY-MM-DD&department=CODE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityQuery {
    /// The day.
    pub date: Date,
    /// A department code (e.g. `NK`); all departments when absent.
    #[serde(default)]
    pub department: Option<String>,
}

/// Online numbers left per slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// The site.
    pub site_id: SiteId,
    /// The day.
    pub date: Date,
    /// The slots of that day, by department, provider and start.
    pub slots: Vec<AvailableSlot>,
}

/// One slot as a patient sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableSlot {
    /// The slot.
    pub slot_id: SlotId,
    /// Its session.
    pub session_id: SessionId,
    /// Its department.
    pub department_id: DepartmentId,
    /// The department's code.
    pub department_code: String,
    /// The provider.
    pub provider_id: ProviderId,
    /// Start.
    pub start: Time,
    /// End.
    pub end: Time,
    /// Online numbers still free.
    pub remaining: u32,
    /// False when the session is suspended or cancelled, or the slot has started.
    pub bookable: bool,
}

/// Who is booking online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlinePatient {
    /// Full name.
    pub name: String,
    /// The document kind; a resident ID when absent.
    #[serde(default)]
    pub document_kind: Option<DocumentKind>,
    /// The document number.
    pub document_number: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// `POST /v1/public/sites/{site}/bookings`: a slot, or a department (and date) to take the
/// earliest bookable slot of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineBookingRequest {
    /// The patient.
    pub patient: OnlinePatient,
    /// A specific slot.
    #[serde(default)]
    pub slot_id: Option<SlotId>,
    /// Or a department code.
    #[serde(default)]
    pub department: Option<String>,
    /// With a department: the day (default: the site's today).
    #[serde(default)]
    pub date: Option<Date>,
}

/// A booking made online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineBooking {
    /// The booking.
    pub booking_id: BookingId,
    /// The patient (existing one when the document was known).
    pub patient_id: PatientId,
    /// The slot.
    pub slot_id: SlotId,
    /// The session.
    pub session_id: SessionId,
    /// The day.
    pub date: Date,
    /// Start.
    pub start: Time,
    /// End.
    pub end: Time,
    /// The queue number.
    pub queue_no: u32,
    /// The ticket code (proof for cancelling; scanned at check-in).
    pub ticket_code: TicketCode,
}

/// Why an online booking was not made (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineRefusal {
    /// The rule's stable code, e.g. `slot_full`, `patient_already_booked`, `no_slot_available`.
    pub reason: String,
    /// In words.
    pub message: String,
    /// Slots that could be booked instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
}

/// `POST /v1/public/bookings/{id}/cancel`: the ticket code proves the booking is yours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCancelRequest {
    /// The ticket code of the booking.
    pub ticket_code: String,
}

/// A cancelled booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCancelled {
    /// The booking.
    pub booking_id: BookingId,
    /// Always `cancelled`.
    pub status: String,
}
