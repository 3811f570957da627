//! Opening the replica: its key (SQLCipher), per-connection PRAGMAs, then the numbered
//! migrations under `migrations/desk`. The schema is only ever created by these migrations.
//! A replica left plain by an earlier version is encrypted in place the first time it is
//! opened, with everything in it.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use rusqlite_migration::{M, Migrations};

use crate::DeskError;
use crate::keystore::{self, ReplicaKey};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/desk/0001_replica.sql")),
    M::up(include_str!("../../../migrations/desk/0002_sync_print.sql")),
    M::up(include_str!("../../../migrations/desk/0003_staff.sql")),
    M::up(include_str!("../../../migrations/desk/0004_leases.sql")),
    M::up(include_str!("../../../migrations/desk/0005_queue.sql")),
];

/// What the first bytes of a replica file say it is.
#[derive(Debug, PartialEq, Eq)]
enum FileKind {
    /// Nothing written yet.
    Empty,
    /// A plain SQLite database (an earlier version's replica).
    Plain,
    /// Anything else: an encrypted database (SQLCipher leaves no header in clear).
    Encrypted,
}

fn file_kind(path: &Path) -> Result<FileKind, DeskError> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match f.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(match read {
        0 => FileKind::Empty,
        16 if &head == b"SQLite format 3\0" => FileKind::Plain,
        _ => FileKind::Encrypted,
    })
}

/// Opens (creating if needed) the encrypted replica at `path` and brings its schema up to
/// date; returns the connection and the key (where it is kept, for `status`). A new replica
/// gets a new key; a plain one is encrypted first; an encrypted one without its key, or with
/// another key, is a clear refusal that changes nothing.
pub fn open(path: &Path) -> Result<(Connection, ReplicaKey), DeskError> {
    keep_private(path)?;
    let key = match (file_kind(path)?, keystore::find(path)?) {
        (FileKind::Encrypted, None) => {
            return Err(DeskError::ReplicaKeyMissing {
                replica: path.to_path_buf(),
                keychain_asked: keystore::keychain_wanted(),
            });
        }
        (FileKind::Encrypted, Some(key)) | (FileKind::Empty, Some(key)) => key,
        (FileKind::Empty, None) => keystore::create(path)?,
        (FileKind::Plain, found) => {
            let key = match found {
                Some(key) => key,
                None => keystore::create(path)?,
            };
            encrypt_in_place(path, &key)?;
            key
        }
    };
    let mut conn = Connection::open(path)?;
    // A wrong key is answered below in words; SQLCipher's own log lines would only add noise.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.sqlcipher()))?;
    // The key is only tried when the file is first read.
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        return Err(match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => DeskError::ReplicaKeyWrong { replica: path.to_path_buf() },
            _ => e.into(),
        });
    }
    configure(&conn)?;
    Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
    Ok((conn, key))
}

/// Encrypts a plain replica in place: every table, row and index — pending ops, leases,
/// staff — goes into an encrypted copy (`sqlcipher_export`, with the schema version), which
/// then replaces the plain file. Until the rename the plain file is untouched, so a desk
/// killed meanwhile simply does it again.
fn encrypt_in_place(path: &Path, key: &ReplicaKey) -> Result<(), DeskError> {
    let copy: PathBuf = {
        let mut p = path.as_os_str().to_owned();
        p.push(".encrypting");
        p.into()
    };
    match std::fs::remove_file(&copy) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let plain = Connection::open(path)?;
    plain.busy_timeout(std::time::Duration::from_secs(5))?;
    // Everything in the WAL goes into the file first.
    plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    plain.execute("ATTACH DATABASE ?1 AS encrypted KEY ?2", params![copy.to_string_lossy(), key.sqlcipher()])?;
    plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"))?;
    drop(plain);
    std::fs::File::open(&copy)?.sync_all()?;
    std::fs::rename(&copy, path)?;
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// An in-memory replica, for tests and benchmarks.
pub fn open_in_memory() -> Result<Connection, DeskError> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
    Ok(conn)
}

/// The replica holds patients' details and the device's token. On Unix its file is created
/// readable and writable by its owner only (SQLite gives the WAL and shared-memory files beside
/// it the same mode); a replica created more openly before is narrowed to that.
fn keep_private(path: &Path) -> Result<(), DeskError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                for file in ["", "-wal", "-shm"].map(|suffix| {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    std::path::PathBuf::from(p)
                }) {
                    let Ok(meta) = std::fs::metadata(&file) else { continue };
                    let mode = meta.permissions().mode();
                    if mode & 0o077 != 0 {
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))?;
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn configure(conn: &Connection) -> Result<(), DeskError> {
    // WAL: readers never block the writer; FULL: a booking the desk showed survives a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn file_replica_is_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = open(&dir.path().join("r.db")).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_replica_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let (conn, _) = open(&path).unwrap();
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')", []).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("r.db-wal")), 0o600);
        drop(conn);
        // A replica left world-readable by an earlier version is narrowed when opened.
        let old = dir.path().join("old.db");
        drop(open(&old).unwrap());
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&old).unwrap());
        assert_eq!(mode(&old), 0o600);
    }
}
