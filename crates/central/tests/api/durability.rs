//! The real binary killed with SIGKILL in the middle of a burst: every acknowledged booking
//! is there after the restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `--db` of a test's platform processes: a file in `dir`, or a fresh PostgreSQL database.
pub async fn db_for(b: Backend, dir: &std::path::Path) -> Db {
    match b {
        Backend::Sqlite => Db::Sqlite(dir.join("central.db")),
        Backend::Postgres => Db::Postgres(fresh_postgres_db().await),
    }
}

/// Starts `frontdesk-central serve --demo` on port 0; returns the child, its base URL and the
/// enrollment code it printed.
pub fn start(dir: &std::path::Path, db: &Db) -> (Killed, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk-central"))
        .args(["--db", &db.arg(), "serve", "--listen", "127.0.0.1:0", "--demo"])
        .args(["--public-rate", "0", "--admin-token-file", dir.join("admin-token").to_str().unwrap()])
        .env(frontdesk_central::NOW_ENV, NOW)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut code = None;
    let mut base = None;
    while base.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server printed its address");
        if let Some(rest) = line.split("enrollment code ").nth(1) {
            code = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.trim().to_string());
        }
    }
    (child, base.unwrap(), code.expect("an enrollment code"))
}

async fn sigkill_mid_burst_loses_no_acknowledged_booking(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = db_for(b, dir.path()).await;
    let (child, base, _) = start(dir.path(), &db);
    let client = crate::common::client_builder().timeout(Duration::from_secs(20)).build().unwrap();
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..400u64 {
        let (client, base, acked, count) = (client.clone(), base.clone(), acked.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let dept = ["NK", "WK", "EK", "FK", "KQ"][(i % 5) as usize];
            let body = json!({"patient": frontdesk_central::demo::patient(40_000 + i), "department": dept});
            let Ok(r) = client.post(format!("{base}/v1/public/sites/demo/bookings")).json(&body).send().await else {
                return;
            };
            if r.status() != 201 {
                return;
            }
            let Ok(v) = r.json::<Value>().await else { return };
            acked
                .lock()
                .unwrap()
                .push((v["booking_id"].as_str().unwrap().to_string(), v["queue_no"].as_u64().unwrap()));
            count.fetch_add(1, Ordering::SeqCst);
        }));
    }
    wait_until(|| count.load(Ordering::SeqCst) >= 40, "40 acknowledged bookings").await;
    drop(child); // SIGKILL, mid-burst
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 40);

    let (_child, base, code) = start(dir.path(), &db);
    let r = client.post(format!("{base}/v1/devices/enroll")).json(&json!({"code": code})).send().await.unwrap();
    let e: Value = r.json().await.unwrap();
    let token = e["token"].as_str().unwrap().to_string();
    let mut cursor = 0u64;
    let mut found = std::collections::HashMap::new();
    for _ in 0..1000 {
        let page: Value = client
            .get(format!("{base}/v1/sync/pull?cursor={cursor}&limit=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in page["changes"].as_array().unwrap() {
            if c["record"]["kind"] == "booking" {
                found
                    .insert(c["record"]["id"].as_str().unwrap().to_string(), c["record"]["queue_no"].as_u64().unwrap());
            }
        }
        cursor = page["next_cursor"].as_u64().unwrap();
        if page["more"] == false {
            break;
        }
    }
    for (id, q) in &acked {
        assert_eq!(found.get(id), Some(q), "acknowledged booking {id} lost");
    }
}

async fn graceful_shutdown_never_leaves_a_half_applied_batch(b: Backend) {
    use frontdesk_domain::schedule::{BookingId, Channel, SlotId};
    use frontdesk_protocol::sync::{Op, PushRequest};

    let s = TestServer::start(b, |_| {}).await;
    let mut tasks = Vec::new();
    let pushed = Arc::new(AtomicUsize::new(0));
    for w in 0..4u64 {
        let mut d = s.enroll("demo").await;
        let (client, url, pushed) = (s.client.clone(), s.url("/v1/sync/push"), pushed.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0..50u64 {
                let mut ops = Vec::new();
                for k in 0..50u64 {
                    let n = 70_000 + w * 10_000 + b * 100 + k;
                    let p = patient("demo", n);
                    ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
                    ops.push(d.op(Op::Book {
                        booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
                        patient_id: p.id.clone(),
                        slot_id: SlotId(format!(
                            "demo-{}-1-20261124-am-{:02}",
                            ["nk", "wk", "ek", "fk"][w as usize],
                            1 + k % 8
                        )),
                        channel: Channel::Desk,
                        queue_no: 0,
                        leased: false,
                        ticket_code: ticket(n),
                        overbook_reason: None,
                    }));
                }
                let req = PushRequest { protocol: 1, device_id: d.id.clone(), ops };
                match client.post(&url).bearer_auth(&d.token).json(&req).send().await {
                    Ok(r) if r.status() == 200 => {
                        pushed.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        }));
    }
    wait_until(|| pushed.load(Ordering::SeqCst) >= 4, "some batches applied").await;
    let db = s.db.clone();
    let _dir = s.stop_keeping_files().await;
    for t in tasks {
        t.await.unwrap();
    }
    let devices = db.sql_i64("SELECT COUNT(*) FROM devices").await;
    assert_eq!(devices, 4);
    let mismatched = db
        .sql_i64(
            "SELECT COUNT(*) FROM devices d WHERE \
             (SELECT COUNT(*) FROM op_results o WHERE o.device_id = d.id) <> d.settled_seq \
             OR (SELECT COALESCE(MAX(seq), 0) FROM op_results o WHERE o.device_id = d.id) <> d.settled_seq",
        )
        .await;
    assert_eq!(mismatched, 0, "settled ops are exactly the stored outcomes, device by device");
    let partial = db.sql_i64("SELECT COUNT(*) FROM devices WHERE settled_seq % 100 <> 0").await;
    assert_eq!(partial, 0, "whole batches of 100 ops only, never a part of one");
    let applied_books = db
        .sql_i64(
            "SELECT COUNT(*) FROM op_results WHERE outcome LIKE '%\"status\":\"applied\"%' AND outcome LIKE '%\"booking_id\"%'",
        )
        .await;
    let desk_bookings = db.sql_i64("SELECT COUNT(*) FROM bookings WHERE channel = 'desk'").await;
    assert_eq!(applied_books, desk_bookings);
    assert!(desk_bookings > 0);
}

crate::on_both!(sigkill_mid_burst_loses_no_acknowledged_booking, graceful_shutdown_never_leaves_a_half_applied_batch);
