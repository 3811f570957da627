//! Opening the replica: per-connection PRAGMAs, then the numbered migrations under
//! `migrations/desk`. The schema is only ever created by these migrations.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::DeskError;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/desk/0001_replica.sql")),
    M::up(include_str!("../../../migrations/desk/0002_sync_print.sql")),
    M::up(include_str!("../../../migrations/desk/0003_staff.sql")),
    M::up(include_str!("../../../migrations/desk/0004_leases.sql")),
    M::up(include_str!("../../../migrations/desk/0005_queue.sql")),
];

/// Opens (creating if needed) the replica at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, DeskError> {
    keep_private(path)?;
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
    Ok(conn)
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
        let conn = open(&dir.path().join("r.db")).unwrap();
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
        let conn = open(&path).unwrap();
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
