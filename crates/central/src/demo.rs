//! The demo: the clinic of `frontdesk_domain::demo` (seeded by the store), synthetic patients
//! with valid resident ID numbers, and a stream of online bookings so a desk sees a living
//! board.

use std::sync::Arc;
use std::time::Duration;

use frontdesk_domain::document::check_character;
use frontdesk_domain::schedule::SiteId;
use frontdesk_protocol::online::{OnlineBookingRequest, OnlinePatient};

use crate::error::StoreError;
use crate::store::Store;

const SURNAMES: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙"];
const GIVEN: [&str; 12] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军"];
const DEPARTMENTS: [&str; 5] = ["NK", "WK", "EK", "FK", "KQ"];

/// A valid mainland resident ID number for synthetic patient `n` (Beijing Dongcheng, born
/// 1950–1999, unique for n < 3,650,000 within a run).
pub fn resident_id(n: u64) -> String {
    let year = 1950 + (n % 50);
    let day_of_year = (n / 50) % 365;
    let month = day_of_year / 28 % 12 + 1;
    let day = day_of_year % 28 + 1;
    let seq = (n / (50 * 365)) % 1000;
    let body = format!("110101{year:04}{month:02}{day:02}{seq:03}");
    let check = check_character(&body).unwrap_or('X');
    format!("{body}{check}")
}

/// A synthetic online patient.
pub fn patient(n: u64) -> OnlinePatient {
    let name = format!("{}{}", SURNAMES[(n % 12) as usize], GIVEN[((n / 12) % 12) as usize]);
    OnlinePatient {
        name,
        document_kind: None,
        document_number: resident_id(n),
        phone: Some(format!("138{:08}", n % 100_000_000)),
    }
}

/// Books online into random departments of `site` at about `per_minute` bookings a minute
/// until `stop` resolves. Refusals (full, already booked) are part of a living board.
pub async fn simulate_online<F>(store: Arc<dyn Store>, site: SiteId, per_minute: f64, stop: F)
where
    F: std::future::Future<Output = ()> + Send,
{
    let period = Duration::from_secs_f64(60.0 / per_minute.max(0.1));
    let mut tick = tokio::time::interval(period);
    let seed = crate::secret::random_u64().unwrap_or(7);
    let mut n: u64 = seed % 1_000_000;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        n += 1;
        let dept = DEPARTMENTS[(n.wrapping_mul(2_654_435_761) % 5) as usize];
        let req =
            OnlineBookingRequest { patient: patient(n), slot_id: None, department: Some(dept.into()), date: None };
        match store.book_online(site.clone(), req).await {
            Ok(b) => {
                tracing::info!(booking = %b.booking_id, queue_no = b.queue_no, slot = %b.slot_id, "simulated online booking")
            }
            Err(StoreError::Refused(r)) => tracing::debug!(reason = %r.reason, "simulated online booking refused"),
            Err(e) => tracing::warn!(error = %e, "simulated online booking failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;

    #[test]
    fn synthetic_ids_are_valid_and_distinct() {
        let today = date(2026, 11, 23);
        let mut seen = std::collections::HashSet::new();
        for n in 0..2000 {
            let id = resident_id(n);
            frontdesk_domain::document::validate_resident_id(&id, today).unwrap();
            assert!(seen.insert(id));
        }
    }
}
