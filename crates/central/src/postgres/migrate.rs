//! The schema, from `migrations/central/postgres/NNNN_*.sql`, applied in order at start-up.
//!
//! Several platform processes may start at once: each takes an exclusive lock on the
//! `frontdesk_schema` table (an ordinary table lock, held until the migrating transaction
//! ends), so one applies what is missing while the others wait and then find nothing to do.
//! Policy as for SQLite: an applied migration is never edited, only new ones added.

use deadpool_postgres::Object;

use super::{Fail, R};
use crate::error::StoreError;

/// The migrations, in order (version = place in this list + 1).
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../../../migrations/central/postgres/0001_init.sql")),
    ("0002_leases", include_str!("../../../../migrations/central/postgres/0002_leases.sql")),
    ("0003_queue", include_str!("../../../../migrations/central/postgres/0003_queue.sql")),
];

/// Brings the schema up to date.
pub(crate) async fn to_latest(conn: &mut Object) -> R<()> {
    // Creating the version table races between processes starting at once; the loser of the
    // race sees a unique violation on the catalog and simply finds the table there next time.
    for attempt in 0.. {
        match conn
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS frontdesk_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
        {
            Ok(()) => break,
            Err(e) if attempt < 5 && e.code().is_some() => {
                tracing::debug!(error = %e, "schema table race; trying again");
            }
            Err(e) => return Err(Fail::Db(e)),
        }
    }
    let tx = conn.transaction().await?;
    tx.batch_execute("LOCK TABLE frontdesk_schema IN ACCESS EXCLUSIVE MODE").await?;
    let current: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM frontdesk_schema", &[]).await?.get(0);
    if current as usize > MIGRATIONS.len() {
        return Err(Fail::Store(StoreError::Internal(format!(
            "the database schema (version {current}) is newer than this platform knows ({}): upgrade the platform",
            MIGRATIONS.len()
        ))));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tracing::info!(migration = name, "applying");
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO frontdesk_schema (version, name) VALUES ($1, $2)", &[&(i as i32 + 1), name]).await?;
    }
    tx.commit().await?;
    Ok(())
}
