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
];

/// Opens (creating if needed) the replica at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, DeskError> {
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
}
