//! The replica at rest: encrypted with SQLCipher under a key kept outside it (here, with no
//! keychain on the machine, in the owner-only key file beside it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use frontdesk_desk::keystore::key_file;
use frontdesk_desk::staff::Role;
use frontdesk_desk::{BookTarget, Desk, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::patient::PatientInput;

const NAME: &str = "甄密文";
const DOCUMENT: &str = "11010519491231002X";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-11-22T23:30:00Z".parse().unwrap()))
}

/// A demo desk with one patient booked (a pending op or two), left open so its WAL is there.
fn desk_with_a_patient(dir: &Path) -> Desk {
    let mut desk = Desk::open(&dir.join(REPLICA_FILE), clock()).unwrap();
    desk.initialize(None).unwrap();
    desk.seed_demo().unwrap();
    desk.add_staff("admin", "Admin", Role::Admin, "password", Lang::En).unwrap();
    desk.sign_in("admin", "password", Lang::En).unwrap();
    let p = desk
        .register_patient(
            &PatientInput {
                name: NAME.into(),
                document_number: DOCUMENT.into(),
                phone: Some("13912345678".into()),
                ..PatientInput::default()
            },
            Lang::Zh,
        )
        .unwrap();
    desk.book(&p.id, &BookTarget::Earliest { department: "NK".into(), provider: None }).unwrap();
    desk
}

fn files(dir: &Path) -> Vec<PathBuf> {
    ["", "-wal"].iter().map(|s| dir.join(format!("{REPLICA_FILE}{s}"))).filter(|p| p.exists()).collect()
}

/// Whether the patient's name (UTF-8) or document number is anywhere in the bytes of `files`,
/// and whether `strings` finds the document number.
fn leaks(files: &[PathBuf]) -> (bool, bool) {
    let mut raw = false;
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        raw |= has(NAME.as_bytes()) || has(DOCUMENT.as_bytes());
    }
    let out = Command::new("strings").arg("-a").args(files).output().expect("strings (binutils)");
    (raw, String::from_utf8_lossy(&out.stdout).contains(DOCUMENT))
}

/// A plain copy of the replica, as an earlier version of the desk kept it: made through a
/// connection of its own with the key from the key file.
fn plain_copy(replica: &Path, to: &Path) {
    let conn = rusqlite::Connection::open(replica).unwrap();
    let key = std::fs::read_to_string(key_file(replica)).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.trim())).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS plain KEY ''", [to.to_string_lossy()]).unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(())).unwrap();
    conn.execute_batch(&format!("PRAGMA plain.user_version = {version}; DETACH DATABASE plain;")).unwrap();
}

#[test]
fn the_replica_and_its_wal_hold_no_patient_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_with_a_patient(dir.path());
    let on_disk = files(dir.path());
    assert_eq!(on_disk.len(), 2, "the replica and its WAL: {on_disk:?}");
    assert_eq!(leaks(&on_disk), (false, false));
    assert!(!std::fs::read(&on_disk[0]).unwrap().starts_with(b"SQLite format 3"));
    // The same check finds the patient in a plain copy: it can fail.
    let plain = dir.path().join("plain.db");
    plain_copy(&dir.path().join(REPLICA_FILE), &plain);
    assert_eq!(leaks(&[plain]), (true, true));
    // The desk says where the key is, once: here, in the owner-only file.
    assert_eq!(desk.status().unwrap().key_file, Some(key_file(&dir.path().join(REPLICA_FILE))));
}

#[test]
fn without_its_key_the_replica_does_not_open_and_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let replica = dir.path().join(REPLICA_FILE);
    drop(desk_with_a_patient(dir.path()));
    let before = std::fs::read(&replica).unwrap();
    let key = key_file(&replica);
    let aside = dir.path().join("key-aside");
    std::fs::rename(&key, &aside).unwrap();

    let err = Desk::open(&replica, clock()).err().expect("no key, no replica");
    assert_eq!(err.code(), "replica_key_missing");
    let en = err.message(Lang::En);
    assert!(en.contains("enroll the desk again") && en.contains("lost only if the file is deleted"), "{en}");
    assert!(err.message(Lang::Zh).contains("重新接入平台"));
    assert_eq!(std::fs::read(&replica).unwrap(), before, "nothing written, no new key made");
    assert!(!key.exists());

    // Another key does not open it either.
    std::fs::write(&key, "00".repeat(32)).unwrap();
    assert_eq!(Desk::open(&replica, clock()).err().expect("wrong key").code(), "replica_key_wrong");

    // The key found again: everything is there.
    std::fs::rename(&aside, &key).unwrap();
    let desk = Desk::open(&replica, clock()).unwrap();
    assert_eq!(desk.patient_by_document(DOCUMENT).unwrap().unwrap().name, NAME);
}

#[test]
fn a_plain_replica_is_encrypted_in_place_with_every_row_and_pending_op() {
    let dir = tempfile::tempdir().unwrap();
    let replica = dir.path().join(REPLICA_FILE);
    let plain = dir.path().join("old.db");
    let (outbox, status) = {
        let desk = desk_with_a_patient(dir.path());
        plain_copy(&dir.path().join(REPLICA_FILE), &plain);
        (desk.outbox().unwrap(), desk.status().unwrap())
    };
    // The desk as an earlier version left it: a plain file and no key.
    for f in files(dir.path()) {
        std::fs::remove_file(f).unwrap();
    }
    std::fs::remove_file(key_file(&replica)).unwrap();
    std::fs::rename(&plain, &replica).unwrap();
    assert!(std::fs::read(&replica).unwrap().starts_with(b"SQLite format 3\0"));

    let mut desk = Desk::open(&replica, clock()).unwrap();
    assert!(key_file(&replica).exists(), "a new key, kept");
    assert_eq!(leaks(&files(dir.path())), (false, false));
    let ops: Vec<_> = desk.outbox().unwrap().into_iter().map(|o| o.envelope.op_id).collect();
    assert_eq!(ops, outbox.iter().map(|o| o.envelope.op_id).collect::<Vec<_>>());
    let after = desk.status().unwrap();
    assert_eq!(
        (after.patients, after.bookings_today, after.pending_ops),
        (status.patients, status.bookings_today, status.pending_ops)
    );
    assert_eq!(desk.staff().unwrap().len(), 1);
    // The schema version came along: the desk works on, and its staff still sign in.
    desk.sign_in("admin", "password", Lang::En).unwrap();
    let p = desk.patient_by_document(DOCUMENT).unwrap().unwrap();
    desk.cancel(&desk.bookings_on(jiff::civil::date(2026, 11, 23)).unwrap()[0].booking.id, None).unwrap();
    assert_eq!(desk.outbox().unwrap().len(), outbox.len() + 1);
    assert_eq!(p.name, NAME);
    assert!(!dir.path().join(format!("{REPLICA_FILE}.encrypting")).exists());
}
