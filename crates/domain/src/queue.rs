//! The waiting room's queue rules: who is called next at a provider's session, and what happens
//! to a patient who does not answer or arrives late. One implementation for every front end
//! (desk, consultation-room view, display) and for the platform.
//!
//! A checked-in booking joins its session's queue at its queue number. Staff call the next
//! patient (the one called before is then done), call the same patient again, skip a patient
//! who does not answer (they wait again a few places further on; after [`QueuePolicy::max_calls`]
//! unanswered calls they are a no-show), move a waiting patient to the end, or mark the called
//! patient seen. A patient who checks in after later numbers were already called (过号) joins
//! a few places after the head of the queue, not at their old place.
//!
//! Each entry's place is a key of its own ([`Place`]), so every replica orders a queue the same
//! way from the entries alone.

use serde::{Deserialize, Serialize};

use crate::schedule::BookingId;

/// How a site runs its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePolicy {
    /// Calls without an answer before a skipped patient is a no-show.
    pub max_calls: u32,
    /// How many waiting patients go before a skipped patient or a late arrival (at least one).
    pub requeue_after: u32,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy { max_calls: 3, requeue_after: 3 }
    }
}

/// Where a queue entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// In the waiting room, waiting to be called.
    Waiting,
    /// Called to the consultation room (at most one entry of a queue at a time).
    Called,
    /// Seen by the provider: out of the queue.
    Seen,
    /// Called `max_calls` times without answering: out of the queue.
    NoShow,
}

/// A queue entry's ordering key: after number `after` (its own queue number when it joined at
/// its place), then by `seq` among entries placed after the same number. Entries order by
/// (`after`, `seq`); ties are impossible, since `seq` is unique per `after` in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    /// The queue number this entry stands after (or at, when `seq` is 0).
    pub after: u32,
    /// 0 at its own number; 1, 2, … when placed after another number.
    pub seq: u32,
}

/// One checked-in booking in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The booking.
    pub booking_id: BookingId,
    /// Its queue number (what is called out).
    pub queue_no: u32,
    /// Where it is.
    pub state: QueueState,
    /// How many times it was called.
    pub calls: u32,
    /// Its place in the waiting order.
    pub place: Place,
}

/// What staff do to one booking of a queue (a desk's op names the booking it acted on, as its
/// own view of the queue showed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueAction {
    /// Call this waiting patient (the patient called before is done).
    Call,
    /// Call the patient called now once more.
    Recall,
    /// The called patient does not answer.
    Skip,
    /// The called patient was seen.
    Seen,
    /// This waiting patient goes to the end.
    ToEnd,
}

impl QueueAction {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            QueueAction::Call => "call",
            QueueAction::Recall => "recall",
            QueueAction::Skip => "skip",
            QueueAction::Seen => "seen",
            QueueAction::ToEnd => "to_end",
        }
    }
}

/// What a call announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The booking called.
    pub booking_id: BookingId,
    /// Its queue number.
    pub queue_no: u32,
    /// The how-many-th call of this patient (1 for the first).
    pub call: u32,
}

/// Why a queue action is refused. Each has a stable machine code ([`QueueError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QueueError {
    /// Nobody is waiting.
    #[error("nobody is waiting")]
    NobodyWaiting,
    /// Nobody is called now.
    #[error("nobody is called now")]
    NobodyCalled,
    /// The booking is not in this queue.
    #[error("booking {booking_id} is not in this queue")]
    NotInQueue {
        /// The booking.
        booking_id: BookingId,
    },
    /// The booking is already in the queue.
    #[error("booking {booking_id} is already in the queue")]
    AlreadyInQueue {
        /// The booking.
        booking_id: BookingId,
    },
    /// Only a waiting patient can be called or moved.
    #[error("booking {booking_id} is not waiting")]
    NotWaiting {
        /// The booking.
        booking_id: BookingId,
    },
    /// The booking is not the one called now.
    #[error("booking {booking_id} is not the one called now")]
    NotCalled {
        /// The booking.
        booking_id: BookingId,
    },
}

impl QueueError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            QueueError::NobodyWaiting => "nobody_waiting",
            QueueError::NobodyCalled => "nobody_called",
            QueueError::NotInQueue { .. } => "not_in_queue",
            QueueError::AlreadyInQueue { .. } => "already_in_queue",
            QueueError::NotWaiting { .. } => "not_waiting",
            QueueError::NotCalled { .. } => "not_called",
        }
    }

    /// A message a nurse understands.
    pub fn message(&self, lang: crate::Lang) -> String {
        match self {
            QueueError::NobodyWaiting => lang.pick("没有候诊的患者", "Nobody is waiting").to_string(),
            QueueError::NobodyCalled => lang.pick("当前没有叫到的患者", "Nobody is being called").to_string(),
            QueueError::NotInQueue { .. } => {
                lang.pick("该患者不在这个候诊队列里", "The patient is not in this queue").to_string()
            }
            QueueError::AlreadyInQueue { .. } => {
                lang.pick("该患者已在候诊队列里", "The patient is already in the queue").to_string()
            }
            QueueError::NotWaiting { .. } => lang
                .pick("该患者不在候诊中（可能已被叫号或已就诊）", "The patient is not waiting (called or seen already)")
                .to_string(),
            QueueError::NotCalled { .. } => {
                lang.pick("该患者不是当前叫到的患者", "The patient is not the one being called").to_string()
            }
        }
    }
}

/// The queue of one provider's session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQueue {
    entries: Vec<QueueEntry>,
}

impl SessionQueue {
    /// A queue from its entries (as a replica stores them).
    pub fn from_entries(entries: Vec<QueueEntry>) -> SessionQueue {
        SessionQueue { entries }
    }

    /// Every entry, done ones included.
    pub fn entries(&self) -> &[QueueEntry] {
        &self.entries
    }

    /// The entry of a booking.
    pub fn entry(&self, booking: &BookingId) -> Option<&QueueEntry> {
        self.entries.iter().find(|e| &e.booking_id == booking)
    }

    /// The waiting patients, in the order they will be called.
    pub fn waiting(&self) -> Vec<&QueueEntry> {
        let mut v: Vec<&QueueEntry> = self.entries.iter().filter(|e| e.state == QueueState::Waiting).collect();
        v.sort_by_key(|e| e.place);
        v
    }

    /// The patient called now.
    pub fn called(&self) -> Option<&QueueEntry> {
        self.entries.iter().find(|e| e.state == QueueState::Called)
    }

    /// True once a number above `queue_no` has been called (the patient missed their turn).
    fn passed(&self, queue_no: u32) -> bool {
        self.entries.iter().any(|e| e.queue_no > queue_no && e.calls > 0)
    }

    /// The place after the `n`-th waiting patient (at least the first; at the end when fewer
    /// wait), and after anyone already placed there — the first skipped is the first back;
    /// `exclude` is left out of the count.
    fn place_after(&self, n: u32, exclude: Option<&BookingId>) -> Place {
        let waiting: Vec<&QueueEntry> = self.waiting().into_iter().filter(|e| Some(&e.booking_id) != exclude).collect();
        let anchor = waiting.get(n.max(1) as usize - 1).or(waiting.last()).map(|e| e.place.after);
        // Nobody waits: stand after the highest number seen, which is the head.
        let after = anchor.unwrap_or_else(|| self.entries.iter().map(|e| e.place.after).max().unwrap_or(0));
        self.next_seq(after)
    }

    /// A free place after number `after` that sorts after every entry placed there.
    fn next_seq(&self, after: u32) -> Place {
        let seq = self
            .entries
            .iter()
            .filter(|e| e.place.after == after)
            .map(|e| e.place.seq.saturating_add(1))
            .max()
            .unwrap_or(1)
            .max(1);
        Place { after, seq }
    }

    /// A booking checked in: it joins at its number, or — when later numbers were already
    /// called — `requeue_after` waiting patients after the head.
    pub fn check_in(&mut self, booking: BookingId, queue_no: u32, policy: &QueuePolicy) -> Result<Place, QueueError> {
        if self.entry(&booking).is_some() {
            return Err(QueueError::AlreadyInQueue { booking_id: booking });
        }
        let place = if self.passed(queue_no) {
            self.place_after(policy.requeue_after, None)
        } else {
            Place { after: queue_no, seq: 0 }
        };
        self.entries.push(QueueEntry { booking_id: booking, queue_no, state: QueueState::Waiting, calls: 0, place });
        Ok(place)
    }

    /// Does `action` to `booking`, as a desk's op asks (the desk chose the booking from its own
    /// view of the queue): calling a waiting patient (the one called before is then seen),
    /// recalling, skipping or seeing the called one, moving a waiting one to the end. The
    /// entries changed, the acted-on one first, and the call to announce, if any.
    pub fn act(
        &mut self,
        booking: &BookingId,
        action: QueueAction,
        policy: &QueuePolicy,
    ) -> Result<(Vec<QueueEntry>, Option<Call>), QueueError> {
        let state = self
            .entry(booking)
            .map(|e| e.state)
            .ok_or_else(|| QueueError::NotInQueue { booking_id: booking.clone() })?;
        let called_now = |q: &SessionQueue| q.called().map(|e| e.booking_id.clone());
        let is_called = called_now(self).as_ref() == Some(booking);
        let entry = |q: &SessionQueue, b: &BookingId| {
            q.entry(b).cloned().ok_or_else(|| QueueError::NotInQueue { booking_id: b.clone() })
        };
        match action {
            QueueAction::Call => {
                if state != QueueState::Waiting {
                    return Err(QueueError::NotWaiting { booking_id: booking.clone() });
                }
                let before = called_now(self);
                if let Some(current) = self.entries.iter_mut().find(|e| e.state == QueueState::Called) {
                    current.state = QueueState::Seen;
                }
                let call = self.call(booking)?;
                let mut changed = vec![entry(self, booking)?];
                if let Some(b) = before {
                    changed.push(entry(self, &b)?);
                }
                Ok((changed, Some(call)))
            }
            QueueAction::Recall if is_called => {
                let call = self.call(booking)?;
                Ok((vec![entry(self, booking)?], Some(call)))
            }
            QueueAction::Skip if is_called => Ok((vec![self.skip(policy)?], None)),
            QueueAction::Seen if is_called => Ok((vec![self.mark_seen()?], None)),
            QueueAction::Recall | QueueAction::Skip | QueueAction::Seen => {
                Err(QueueError::NotCalled { booking_id: booking.clone() })
            }
            QueueAction::ToEnd => {
                self.move_to_end(booking)?;
                Ok((vec![entry(self, booking)?], None))
            }
        }
    }

    /// Calls the next waiting patient; the patient called before is done (seen).
    pub fn call_next(&mut self) -> Result<Call, QueueError> {
        let next = self.waiting().first().map(|e| e.booking_id.clone()).ok_or(QueueError::NobodyWaiting)?;
        if let Some(current) = self.entries.iter_mut().find(|e| e.state == QueueState::Called) {
            current.state = QueueState::Seen;
        }
        self.call(&next)
    }

    fn call(&mut self, booking: &BookingId) -> Result<Call, QueueError> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| &e.booking_id == booking)
            .ok_or_else(|| QueueError::NotInQueue { booking_id: booking.clone() })?;
        e.state = QueueState::Called;
        e.calls += 1;
        Ok(Call { booking_id: e.booking_id.clone(), queue_no: e.queue_no, call: e.calls })
    }

    /// Calls the patient called now once more.
    pub fn recall(&mut self) -> Result<Call, QueueError> {
        let current = self.called().map(|e| e.booking_id.clone()).ok_or(QueueError::NobodyCalled)?;
        self.call(&current)
    }

    /// The called patient does not answer: after `max_calls` calls a no-show, otherwise
    /// waiting again `requeue_after` places after the head. The entry as it is now.
    pub fn skip(&mut self, policy: &QueuePolicy) -> Result<QueueEntry, QueueError> {
        let current = self.called().map(|e| e.booking_id.clone()).ok_or(QueueError::NobodyCalled)?;
        let place = self.place_after(policy.requeue_after, Some(&current));
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.booking_id == current)
            .ok_or_else(|| QueueError::NotInQueue { booking_id: current.clone() })?;
        if e.calls >= policy.max_calls {
            e.state = QueueState::NoShow;
        } else {
            e.state = QueueState::Waiting;
            e.place = place;
        }
        Ok(e.clone())
    }

    /// The called patient was seen.
    pub fn mark_seen(&mut self) -> Result<QueueEntry, QueueError> {
        let e = self.entries.iter_mut().find(|e| e.state == QueueState::Called).ok_or(QueueError::NobodyCalled)?;
        e.state = QueueState::Seen;
        Ok(e.clone())
    }

    /// A waiting patient goes to the end of the queue (e.g. stepped out for a test).
    pub fn move_to_end(&mut self, booking: &BookingId) -> Result<Place, QueueError> {
        match self.entry(booking).map(|e| e.state) {
            None => return Err(QueueError::NotInQueue { booking_id: booking.clone() }),
            Some(QueueState::Waiting) => {}
            Some(_) => return Err(QueueError::NotWaiting { booking_id: booking.clone() }),
        }
        let last = self.waiting().into_iter().filter(|e| &e.booking_id != booking).map(|e| e.place).max();
        let Some(last) = last else {
            // Nobody else waits: it is the end already.
            return self.entry(booking).map(|e| e.place).ok_or(QueueError::NotInQueue { booking_id: booking.clone() });
        };
        let place = self.next_seq(last.after);
        if let Some(e) = self.entries.iter_mut().find(|e| &e.booking_id == booking) {
            e.place = place;
        }
        Ok(place)
    }
}
