//! The hash-chained audit log: one chain per site. Each row's hash covers the previous row's
//! hash and every field of the row (its sequence number included), and `audit_heads` holds
//! each chain's last hash and length, so editing, deleting or re-ordering any row — the newest
//! included — breaks verification.

use frontdesk_domain::schedule::SiteId;
use frontdesk_protocol::admin::AuditReport;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::WriteCtx;
use crate::error::StoreResult;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn row_hash(prev: &str, seq: i64, site: &str, at: &str, actor: &str, action: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), site, at, actor, action, detail] {
        h.update(part.as_bytes());
        // Unit separator: no two different rows hash the same concatenation.
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// The heads of the chains a commit group has appended to, kept in memory for the group and
/// written to `audit_heads` once, before the commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heads {
    /// site → (last seq, last hash, rows), and whether it changed in this group.
    heads: std::collections::HashMap<String, (i64, String, i64, bool)>,
    next_seq: Option<i64>,
}

/// Appends an entry to a site's chain (inside the caller's transaction).
pub(crate) fn append(ctx: &mut WriteCtx<'_>, site: &str, actor: &str, action: &str, detail: &str) -> StoreResult<()> {
    let c = ctx.conn;
    let (prev, count) = match ctx.cache.audit.heads.get(site) {
        Some((_, hash, count, _)) => (hash.clone(), *count),
        None => c
            .prepare_cached("SELECT hash, count FROM audit_heads WHERE site_id = ?1")?
            .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_else(|| (GENESIS.to_string(), 0)),
    };
    let seq: i64 = match ctx.cache.audit.next_seq {
        Some(s) => s,
        None => c.prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log")?.query_row([], |r| r.get(0))?,
    };
    let at = ctx.now_text();
    let hash = row_hash(&prev, seq, site, at, actor, action, detail);
    c.prepare_cached(
        "INSERT INTO audit_log (seq, site_id, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![seq, site, at, actor, action, detail, prev, hash])?;
    ctx.cache.audit.heads.insert(site.to_string(), (seq, hash, count + 1, true));
    ctx.cache.audit.next_seq = Some(seq + 1);
    Ok(())
}

/// Writes the changed chain heads (before the group commits).
pub(crate) fn flush(ctx: &mut WriteCtx<'_>) -> StoreResult<()> {
    for (site, (seq, hash, count, dirty)) in ctx.cache.audit.heads.iter_mut() {
        if !*dirty {
            continue;
        }
        ctx.conn
            .prepare_cached(
                "INSERT INTO audit_heads (site_id, last_seq, hash, count) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (site_id) DO UPDATE SET last_seq = excluded.last_seq, hash = excluded.hash, count = excluded.count",
            )?
            .execute(params![site, *seq, hash.as_str(), *count])?;
        *dirty = false;
    }
    Ok(())
}

/// Checks every chain (or one site's).
pub fn verify_chains(c: &Connection, site: Option<&str>) -> StoreResult<Vec<AuditReport>> {
    let mut sites: Vec<String> = c
        .prepare("SELECT site_id FROM audit_log UNION SELECT site_id FROM audit_heads ORDER BY 1")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if let Some(s) = site {
        sites.retain(|x| x == s);
        if sites.is_empty() {
            sites.push(s.to_string());
        }
    }
    let mut reports = Vec::new();
    for s in sites {
        let mut problems = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut rows = 0u64;
        let mut last_seq = 0i64;
        let mut st = c.prepare(
            "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log WHERE site_id = ?1 ORDER BY seq",
        )?;
        let mut q = st.query([&s])?;
        while let Some(r) = q.next()? {
            let seq: i64 = r.get(0)?;
            let at: String = r.get(1)?;
            let actor: String = r.get(2)?;
            let action: String = r.get(3)?;
            let detail: String = r.get(4)?;
            let prev_hash: String = r.get(5)?;
            let hash: String = r.get(6)?;
            if prev_hash != prev {
                problems.push(format!(
                    "row {seq}: does not follow the previous row (a row before it was deleted or edited)"
                ));
            }
            if row_hash(&prev_hash, seq, &s, &at, &actor, &action, &detail) != hash {
                problems.push(format!("row {seq}: content does not match its hash (edited)"));
            }
            prev = hash;
            rows += 1;
            last_seq = seq;
        }
        let head: Option<(i64, String, i64)> = c
            .query_row("SELECT last_seq, hash, count FROM audit_heads WHERE site_id = ?1", [&s], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        match head {
            Some((hseq, hhash, hcount)) if hseq != last_seq || hhash != prev || hcount as u64 != rows => {
                problems.push(format!(
                    "chain head says {hcount} rows ending at row {hseq}, found {rows} ending at row {last_seq} (rows deleted)"
                ));
            }
            None if rows > 0 => problems.push("chain head missing".into()),
            _ => {}
        }
        reports.push(AuditReport { site_id: SiteId(s), rows, ok: problems.is_empty(), problems });
    }
    Ok(reports)
}
